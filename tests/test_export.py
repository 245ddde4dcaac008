import json
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gcl import GraphCLRecommender, Interactions
from gcl.export import atomic_write, sha256_file


@pytest.fixture(scope="module")
def rec():
    df = pd.DataFrame({"user": ["a", "a", "b", "c", "c", "c"],
                       "item": [10, 11, 10, 11, 12, 13]})
    train = Interactions.from_pandas(df)
    return GraphCLRecommender(dim=4, layers=1, epochs=2, batch_size=4, device="cpu",
                              progress=False).fit(train)


def test_export_files(rec, tmp_path):
    files = rec.export(tmp_path / "out", metrics={"ndcg@20": 0.5}, dataset="toy")
    users = np.load(files["user_embeddings"])
    items = np.load(files["item_embeddings"])
    assert users.dtype == items.dtype == np.float32
    assert users.shape == (3, 4) and items.shape == (4, 4)
    np.testing.assert_array_equal(users, rec.user_embeddings())
    # Every file but meta.json reads with numpy alone, nothing pickled.
    umap = np.load(files["users"], allow_pickle=False)
    imap = np.load(files["items"], allow_pickle=False)
    assert umap.tolist() == ["a", "b", "c"] and umap.dtype.kind == "U"
    assert imap.tolist() == [10, 11, 12, 13] and imap.dtype == np.int64
    with np.load(files["seen"], allow_pickle=False) as z:
        assert sorted(z.files) == ["indices", "indptr", "shape"]
        seen = sp.csr_matrix((np.ones(len(z["indices"])), z["indices"], z["indptr"]),
                             shape=tuple(z["shape"]))
    assert (seen != rec.seen_).nnz == 0
    meta = json.loads(open(files["meta"]).read())
    assert meta["format_version"] == 2
    assert meta["method"] == "lightgcn" and meta["dim"] == 4 and meta["dataset"] == "toy"
    assert meta["metrics"] == {"ndcg@20": 0.5}
    for role, entry in meta["files"].items():
        assert sha256_file(files[role]) == entry["sha256"]


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as f:
            f.write("half of the new")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    with atomic_write(target, "w") as f:
        f.write("new")
    assert target.read_text() == "new"


# ---------------------------------------------------------------------------- round trips
from gcl.export import load_export, load_hetero_data  # noqa: E402


@pytest.fixture(scope="module")
def rec_valid():
    """A recommender fitted with a valid log, so that its history has evaluations."""
    rows = [(f"u{u}", f"i{(3 * u + j) % 30}") for u in range(16) for j in range(5)]
    inter = Interactions.from_pandas(pd.DataFrame(rows, columns=["user", "item"]))
    train, valid = inter.split("random", ratios=(0.8, 0.2), seed=0)
    rec = GraphCLRecommender(dim=4, layers=1, epochs=3, batch_size=16, device="cpu",
                             progress=False).fit(train, valid=valid)
    return rec


def test_load_export_round_trip(rec, tmp_path):
    rec.export(tmp_path)
    exp = load_export(tmp_path)
    np.testing.assert_array_equal(exp.user_emb, rec.user_embeddings())
    np.testing.assert_array_equal(exp.item_emb, rec.item_embeddings())
    assert exp.user_ids.tolist() == ["a", "b", "c"] and exp.item_ids.tolist() == [10, 11, 12, 13]
    assert (exp.seen != rec.seen_).nnz == 0
    assert exp.meta["id_types"] == {"user": "str", "item": "int"}
    assert exp.meta["versions"]["torch"] and exp.meta["index"] is None


def test_export_with_index_and_hetero_data(rec, tmp_path):
    pytest.importorskip("faiss")
    files = rec.export(tmp_path, index="flat", hetero=True)
    meta = json.loads(open(files["meta"]).read())
    assert meta["index"]["type"] == "flat" and meta["index"]["dim"] == 4
    assert meta["files"]["index"]["name"] == "items.faiss" and "faiss" in meta["versions"]
    for role, entry in meta["files"].items():
        assert sha256_file(tmp_path / entry["name"]) == entry["sha256"], role
    data = load_hetero_data(files["graph"])
    np.testing.assert_array_equal(data["user"].x.numpy(), rec.user_embeddings())
    np.testing.assert_array_equal(data["item"].x.numpy(), rec.item_embeddings())
    assert data["user"].user_ids == ["a", "b", "c"]
    back = Interactions.from_hetero_data(data)
    assert (back.to_csr() != rec.seen_).nnz == 0 and back.item_ids.tolist() == [10, 11, 12, 13]


def test_id_maps_need_no_pyarrow_and_keep_id_types(tmp_path, monkeypatch):
    df = pd.DataFrame({"user": ["007", "007", "42", "x"], "item": [5, 6, 5, 7]})
    rec = GraphCLRecommender(dim=4, layers=1, epochs=1, batch_size=4, device="cpu",
                             progress=False).fit(Interactions.from_pandas(df))
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    files = rec.export(tmp_path)
    assert files["users"].endswith("users.npy") and files["items"].endswith("items.npy")
    exp = load_export(tmp_path)
    assert exp.user_ids.tolist() == ["007", "42", "x"]  # not 7 and 42
    assert exp.item_ids.tolist() == [5, 6, 7]


def test_crash_midway_keeps_the_old_complete_export(rec, tmp_path, monkeypatch):
    pytest.importorskip("faiss")
    out = tmp_path / "out"
    rec.export(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("gcl.export.build_index", crash)
    with pytest.raises(OSError, match="No space left"):
        rec.export(out, index="flat")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert load_export(out).meta["index"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out"]


def test_an_export_folder_keeps_its_mode_and_a_link_to_it_stays_a_link(rec, tmp_path):
    import os
    import stat

    rec.export(tmp_path / "new")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o777 & ~umask
    (tmp_path / "new").chmod(0o750)
    rec.export(tmp_path / "new")
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o750
    (tmp_path / "link").symlink_to(tmp_path / "new")
    rec.export(tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and load_export(tmp_path / "link")


def test_changed_file_fails_the_checksum(rec, tmp_path):
    rec.export(tmp_path)
    np.save(tmp_path / "item_embeddings.npy", np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="item_embeddings.npy.*sha256"):
        load_export(tmp_path)
    assert load_export(tmp_path, verify=False).item_emb.sum() == 0


def test_stale_files_of_an_earlier_export_are_removed(rec, tmp_path):
    pytest.importorskip("faiss")
    rec.export(tmp_path, index="hnsw", hetero=True)
    files = rec.export(tmp_path)
    assert "index" not in files and not (tmp_path / "items.faiss").exists()
    assert not (tmp_path / "graph.pt").exists()


def test_default_metrics_are_the_best_valid_evaluation(rec_valid, tmp_path):
    files = rec_valid.export(tmp_path)
    meta = json.loads(open(files["meta"]).read())
    evals = [h for h in rec_valid.history_ if "valid_ndcg@20" in h]
    best = max(evals, key=lambda h: h["valid_ndcg@20"])
    assert meta["metrics"]["epoch"] == best["epoch"]
    assert meta["metrics"]["valid_ndcg@20"] == pytest.approx(best["valid_ndcg@20"])


def test_bad_index_type_writes_nothing(rec, tmp_path):
    with pytest.raises(ValueError, match="unknown index type 'lsh'"):
        rec.export(tmp_path / "x", index="lsh")
    assert not (tmp_path / "x").exists()
