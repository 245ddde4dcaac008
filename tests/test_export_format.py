"""The export layout: id maps and the train matrix that numpy alone reads back exactly, and
format 1 exports (Parquet / CSV id maps, a scipy seen.npz) that still load."""
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gcl import GraphCLRecommender, Interactions
from gcl._io import sha256_file
from gcl.export_format import load_export, read_ids, read_seen, write_ids

STRING_IDS = ["007", "7", "42", "émile", "日本", "x y", ""]


@pytest.mark.parametrize("ids, suffix", [
    (pd.Index([3, 1, 2]), ".npy"),
    (pd.Index(np.array([-5, 2**40], dtype=np.int64)), ".npy"),
    (pd.Index(np.array([2**63 + 1, 4], dtype=np.uint64)), ".npy"),
    (pd.Index(STRING_IDS), ".npy"),
    (pd.Index(STRING_IDS, dtype=object), ".npy"),
    (pd.Index([b"a", b"\xff\x00b"], dtype=object), ".npy"),
    (pd.Index(["a\x00", "b"]), ".json"),  # a fixed width would drop the trailing NUL
    (pd.Index([b"a\x00", b"b"], dtype=object), ".json"),
    (pd.Index([f"a{i}" for i in range(20)] + ["x" * 200_000]), ".json"),  # mostly padding
    (pd.Index([2**70, 1], dtype=object), ".json"),  # beyond 64 bits
    (pd.Index([], dtype=object), ".npy"),
])
def test_id_maps_round_trip_exactly(tmp_path, ids, suffix):
    path = write_ids(ids, tmp_path / "users", "user")
    assert path.suffix == suffix
    back = read_ids(path, "user", "str")
    assert back.tolist() == ids.tolist()
    assert [type(v) for v in back.tolist()] == [type(v) for v in ids.tolist()]
    if ids.dtype.kind in "iu":
        assert back.dtype == ids.dtype
    else:
        assert back.dtype == object
    if suffix == ".npy":
        assert np.load(path, allow_pickle=False).tolist() == ids.tolist()


def test_mixed_ids_are_refused(tmp_path):
    with pytest.raises(TypeError, match="all integers, all strings or all bytes"):
        write_ids(np.array(["a", 1], dtype=object), tmp_path / "items", "item")


def fit(users, items):
    df = pd.DataFrame({"user": users, "item": items})
    return GraphCLRecommender(dim=8, layers=1, epochs=2, batch_size=8, device="cpu",
                              progress=False).fit(Interactions.from_pandas(df))


@pytest.fixture(scope="module")
def recs():
    """String users and integer items, and integer users and string items."""
    n = len(STRING_IDS)
    users = [STRING_IDS[u % n] for u in range(4 * n)]
    items = [10 * ((u * 3 + j) % 9) for u in range(n) for j in range(4)]
    first = fit(users, items)
    second = fit([int(10 * (i % 5)) for i in range(4 * n)],
                 [STRING_IDS[(i * 5) % n] for i in range(4 * n)])
    return first, second


@pytest.mark.parametrize("which", [0, 1])
def test_exported_ids_round_trip_for_users_and_items(recs, tmp_path, which):
    faiss = pytest.importorskip("faiss")  # noqa: F841
    from gcl import RecallIndex

    rec = recs[which]
    rec.export(tmp_path, index="flat")
    exp = load_export(tmp_path)
    for got, want in ((exp.user_ids, rec.user_ids), (exp.item_ids, rec.item_ids)):
        assert got.tolist() == want.tolist()
        assert {type(v) for v in got.tolist()} == {type(v) for v in want.tolist()}
    index = RecallIndex.load(tmp_path)
    users = list(rec.user_ids)
    items, scores = index.search(users, k=2)
    ref_items, ref_scores = rec.recommend(users, k=2)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-6)
    assert items.tolist() == ref_items.tolist()
    given = [rec.item_ids[0], rec.item_ids[1]]
    np.testing.assert_array_equal(index.recommend_for_items(given, k=2)[0],
                                  rec.recommend_for_items(given, k=2)[0])


def to_format_1(folder, table: str = "parquet") -> None:
    """Rewrites a format-2 export as gcl's format 1 wrote it: id maps as a table of columns
    row and user / item (Parquet, or CSV where pyarrow was missing), seen.npz by scipy."""
    meta = json.loads((folder / "meta.json").read_text())
    for role, column in (("users", "user"), ("items", "item")):
        old = folder / meta["files"][role]["name"]
        ids = np.load(old, allow_pickle=False)
        frame = pd.DataFrame({"row": np.arange(len(ids)),
                              column: ids if ids.dtype.kind in "iu" else ids.astype(object)})
        new = folder / f"{role}.{table}"
        if table == "parquet":
            frame.to_parquet(new, index=False)
        else:
            frame.to_csv(new, index=False)
        old.unlink()
        meta["files"][role] = {"name": new.name, "sha256": sha256_file(new)}
    seen = read_seen(folder / "seen.npz").to_scipy()
    sp.save_npz(folder / "seen.npz", seen)
    meta["files"]["seen"]["sha256"] = sha256_file(folder / "seen.npz")
    meta["format_version"] = 1
    (folder / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("table", ["parquet", "csv"])
def test_a_format_1_export_still_loads_and_serves_the_same(recs, tmp_path, table):
    pytest.importorskip("faiss")
    from gcl import RecallIndex

    rec = recs[0]
    rec.export(tmp_path / "new", index="flat")
    rec.export(tmp_path / "old", index="flat")
    to_format_1(tmp_path / "old", table)
    assert {p.suffix for p in (tmp_path / "old").iterdir()} >= {f".{table}"}
    with np.load(tmp_path / "old" / "seen.npz") as z:
        assert "format" in z.files  # scipy's own layout
    new, old = load_export(tmp_path / "new"), load_export(tmp_path / "old")
    assert old.user_ids.tolist() == new.user_ids.tolist() == rec.user_ids.tolist()
    assert old.item_ids.tolist() == new.item_ids.tolist() == rec.item_ids.tolist()
    assert (old.seen != rec.seen_).nnz == 0 and (new.seen != rec.seen_).nnz == 0
    users = list(rec.user_ids)
    results = []
    for folder in ("new", "old"):
        index = RecallIndex.load(tmp_path / folder)
        results.append((index.search(users, k=3), index.similar_items([rec.item_ids[0]], k=2),
                        index.recommend_for_items([rec.item_ids[1]], k=3)))
    for (a_items, a_scores), (b_items, b_scores) in zip(*results):
        assert a_items.tolist() == b_items.tolist()
        np.testing.assert_array_equal(a_scores, b_scores)


def test_a_seen_matrix_in_another_scipy_format_loads(tmp_path):
    m = sp.random(5, 6, density=0.4, format="csc", random_state=0)
    sp.save_npz(tmp_path / "seen.npz", m)
    assert (read_seen(tmp_path / "seen.npz").to_scipy() != (m > 0)).nnz == 0


def test_a_damaged_seen_matrix_or_newer_format_is_refused(recs, tmp_path):
    rec = recs[0]
    rec.export(tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    n_users, n_items = len(rec.user_ids), len(rec.item_ids)
    np.savez(tmp_path / "seen.npz", indptr=np.zeros(n_users + 1, np.int64),
             indices=np.zeros(0, np.int32), shape=np.array([n_users, n_items + 1]))
    with pytest.raises(ValueError, match=r"seen.npz has shape \(\d+, \d+\), the id maps"):
        load_export(tmp_path, verify=False)
    np.savez(tmp_path / "seen.npz", indptr=np.zeros(n_users + 1, np.int64))
    with pytest.raises(ValueError, match=r"seen.npz lacks the CSR array\(s\) \['indices', "
                                         r"'shape'\]"):
        load_export(tmp_path, verify=False)
    (tmp_path / "seen.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ValueError, match="seen.npz is not a readable .npz file"):
        load_export(tmp_path, verify=False)
    meta["format_version"] = 3
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="export format 3; this gcl reads formats 1 to 2"):
        load_export(tmp_path, verify=False)
