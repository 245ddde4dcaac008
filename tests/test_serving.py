"""Serving new users and similar items from an export (RecallIndex) and the command line."""
import json

import numpy as np
import pandas as pd
import pytest

from gcl import GraphCLRecommender, Interactions, RecallIndex
from gcl.cli import main
from gcl.foldin import item_foldin

pytest.importorskip("faiss")


def _log(n_users=30, n_items=25, seed=0) -> Interactions:
    gen = np.random.default_rng(seed)
    rows = [(f"u{u}", f"i{i}") for u in range(n_users)
            for i in gen.choice(n_items, size=int(gen.integers(3, 8)), replace=False)]
    return Interactions.from_pandas(pd.DataFrame(rows, columns=["user", "item"]))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    log = _log()
    rec = GraphCLRecommender(method="lightgcn", dim=8, epochs=2, batch_size=64, patience=None,
                             progress=False, device="cpu", lr=0.01).fit(log)
    out = tmp_path_factory.mktemp("serve")
    rec.export(out / "export", index="flat")
    rec.save(out / "model.pt")
    return rec, out


def test_export_writes_the_foldin_matrix(served):
    rec, out = served
    meta = json.loads((out / "export" / "meta.json").read_text())
    assert meta["files"]["item_foldin"]["name"] == "item_foldin.npy"
    index = RecallIndex.load(out / "export")
    np.testing.assert_array_equal(index.item_foldin, item_foldin(rec))


def test_foldin_from_the_export_equals_the_recommenders(served):
    rec, out = served
    index = RecallIndex.load(out / "export")
    given = [["i1", "i4", "i9"], ["i2"], ["i0", "i3"]]
    items, scores = index.recommend_for_items(given, k=6)
    want_items, want_scores = rec.recommend_for_items(given, k=6)
    np.testing.assert_array_equal(items, want_items)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-6)
    one, one_scores = index.recommend_for_items(given[0], k=6)
    assert one.shape == (6,) and not set(one) & set(given[0])
    np.testing.assert_array_equal(one, want_items[0])
    kept, _ = index.recommend_for_items(given[0], k=6, exclude_given=False)
    np.testing.assert_array_equal(kept, rec.recommend_for_items(given[0], k=6,
                                                                filter_seen=False)[0])


def test_index_foldin_unknown_items(served):
    _, out = served
    index = RecallIndex.load(out / "export")
    with pytest.raises(KeyError, match="nope"):
        index.recommend_for_items(["i1", "nope"])
    with pytest.warns(RuntimeWarning, match="nope"):
        items, _ = index.recommend_for_items(["i1", "nope"], k=3, missing="skip")
    np.testing.assert_array_equal(items, index.recommend_for_items(["i1"], k=3)[0])


def test_similar_items_by_inner_product_without_the_item(served):
    rec, out = served
    index = RecallIndex.load(out / "export")
    items, scores = index.similar_items(["i1", "i5"], k=4)
    emb = rec.item_embeddings()
    for query, got, got_scores in zip(["i1", "i5"], items, scores):
        row = rec.item_ids.get_loc(query)
        full = emb @ emb[row]
        full[row] = -np.inf
        top = np.argsort(-full, kind="stable")[:4]
        assert query not in got
        assert list(got) == list(rec.item_ids[top])
        np.testing.assert_allclose(got_scores, full[top], rtol=1e-5)
    with pytest.raises(KeyError, match="nope"):
        index.similar_items(["nope"])
    with pytest.raises(ValueError, match="num_items-1"):
        index.similar_items(["i1"], k=index.num_items)


def test_an_export_without_the_foldin_matrix_still_loads(served, tmp_path):
    rec, _ = served
    rec.export(tmp_path / "old", index="flat")
    meta_path = tmp_path / "old" / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["files"]["item_foldin"]
    (tmp_path / "old" / "item_foldin.npy").unlink()
    meta_path.write_text(json.dumps(meta))
    index = RecallIndex.load(tmp_path / "old")
    assert index.item_foldin is None
    assert index.search([rec.user_ids[0]], k=3)[0].shape == (1, 3)
    with pytest.raises(ValueError, match="no fold-in item matrix.*lightgcn"):
        index.recommend_for_items(["i1"])


def test_filters_export_no_foldin_matrix(tmp_path):
    rec = GraphCLRecommender(method="pop", progress=False, device="cpu").fit(_log())
    files = rec.export(tmp_path / "pop")
    assert "item_foldin" not in files


def test_cli_recommend_items_and_similar_from_export_and_model(served, capsys):
    rec, out = served
    assert main(["recommend", "--export", str(out / "export"), "--items", "i1,i4,i9", "i2",
                 "-k", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    want, _ = rec.recommend_for_items([["i1", "i4", "i9"], ["i2"]], k=3)
    assert [r["items"] for r in rows] == [list(w) for w in want]
    assert rows[0]["items"] and rows[0]["items"][0] not in ("i1", "i4", "i9")
    assert main(["recommend", "--run", str(out / "model.pt"), "--items", "i1,i4,i9",
                 "-k", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["items"] == list(want[0])
    assert main(["similar", "--export", str(out / "export"), "--item", "i1", "-k", "2",
                 "--json"]) == 0
    got = json.loads(capsys.readouterr().out)[0]["items"]
    assert got == list(RecallIndex.load(out / "export").similar_items(["i1"], k=2)[0][0])
    assert main(["recommend", "--export", str(out / "export"), "--items", "i1,nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["recommend", "--export", str(out / "export"), "--items", ","]) == 2
    assert "names no item" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["recommend", "--export", str(out / "export"), "--user", "u1", "--items", "i1"])
