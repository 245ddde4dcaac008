import sys

import numpy as np
import pandas as pd
import pytest

import gcl
from gcl import GraphCLRecommender, Interactions
from gcl.index import INDEX_TYPES, RecallIndex, build_index, default_nlist

pytest.importorskip("faiss")


def clicks(n_users=120, n_items=150, seed=0) -> pd.DataFrame:
    """Users with a taste for one of three item groups, plus some random clicks; a few
    users have many clicks, so seen items weigh on their lists."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        group = np.arange(n_items // 3) + (u % 3) * (n_items // 3)
        n = 40 if u % 17 == 0 else 8
        liked = rng.choice(group, min(n, len(group)), replace=False)
        for i in np.concatenate([liked, rng.choice(n_items, 2, replace=False)]):
            rows.append((f"user-{u}", int(i) * 10))
    return pd.DataFrame(rows, columns=["user", "item"])


@pytest.fixture(scope="module")
def rec():
    train = Interactions.from_pandas(clicks())
    return GraphCLRecommender(dim=16, layers=2, lr=0.05, epochs=8, batch_size=256,
                              device="cpu", progress=False).fit(train)


@pytest.fixture(scope="module")
def exported(rec, tmp_path_factory):
    folders = {}
    for kind in INDEX_TYPES:
        folders[kind] = tmp_path_factory.mktemp(kind)
        rec.export(folders[kind], index=kind)
    return folders


def exact_lists(rec, users, k, seen=True):
    """Top-k by a plain numpy inner product, train items set to -inf."""
    rows = rec.user_ids.get_indexer(users)
    scores = rec.user_embeddings()[rows] @ rec.item_embeddings().T
    if seen:
        scores[rec.seen_[rows].toarray() > 0] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.asarray(rec.item_ids)[order], np.take_along_axis(scores, order, 1)


def assert_same_lists(items, scores, ref_items, ref_scores):
    """Equal scores (float32 sums in another order), and equal items except where two
    neighbouring scores tie, whose order is free."""
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-6)
    for row_i, row_s, ref_i in zip(items, scores, ref_items):
        gaps = np.abs(np.diff(row_s))
        alone = np.ones(len(row_s), bool)
        alone[:-1] &= gaps > 1e-5
        alone[1:] &= gaps > 1e-5
        assert list(np.asarray(row_i)[alone]) == list(np.asarray(ref_i)[alone])
        if gaps[-1:].size == 0 or gaps[-1] > 1e-5:  # no tie at the cut: same sets
            assert set(row_i) == set(ref_i)


def recall(found, truth) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def test_flat_equals_exact_recommend(rec, exported):
    index = gcl.RecallIndex.load(exported["flat"])
    users = list(rec.user_ids)
    items, scores = index.search(users, k=10)
    assert items.shape == scores.shape == (len(users), 10)
    ref_items, ref_scores = rec.recommend(users, k=10)
    assert_same_lists(items, scores, ref_items, ref_scores)
    np_items, np_scores = exact_lists(rec, users, 10)
    assert_same_lists(items, scores, np_items, np_scores)
    # No train item comes back, also for the users with many clicks.
    seen = rec.seen_.toarray() > 0
    rows = rec.user_ids.get_indexer(users)
    cols = rec.item_ids.get_indexer(items.ravel()).reshape(items.shape)
    assert not seen[rows[:, None], cols].any()


def test_flat_without_exclusion_is_plain_top_k(rec, exported):
    index = RecallIndex.load(exported["flat"])
    users = ["user-0", "user-17", "user-5"]
    items, scores = index.search(users, k=7, exclude_seen=False)
    ref_items, ref_scores = rec.recommend(users, k=7, filter_seen=False)
    assert_same_lists(items, scores, ref_items, ref_scores)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_find_the_exact_lists(rec, exported, kind):
    index = RecallIndex.load(exported[kind])
    assert index.kind == kind and index.options["transform"] == "mips-l2"
    users = list(rec.user_ids)
    truth, _ = exact_lists(rec, users, 10)
    if kind == "ivf":  # every cell scanned: the search is exhaustive, so exact
        index.set_search_params(nprobe=index.options["nlist"])
        items, scores = index.search(users, k=10)
        assert_same_lists(items, scores, *exact_lists(rec, users, 10))
        index.set_search_params(nprobe=1)
        assert recall(index.search(users, k=10)[0], truth) < 1.0
    else:
        items, scores = index.search(users, k=10)
        assert recall(items, truth) > 0.98
        # Scores are the exact inner products of the items returned, best first.
        rows = rec.user_ids.get_indexer(users)
        cols = rec.item_ids.get_indexer(items.ravel()).reshape(items.shape)
        exact = np.einsum("bd,bkd->bk", rec.user_embeddings()[rows],
                          rec.item_embeddings()[cols])
        np.testing.assert_allclose(scores, exact, rtol=1e-5, atol=1e-6)
        assert (np.diff(scores, axis=1) <= 0).all()


def test_mips_transform_keeps_inner_product_order(rec):
    items = rec.item_embeddings()
    queries = rec.user_embeddings()[:20]
    index, options = build_index(items, "hnsw", ef_search=len(items))
    assert options["radius"] == pytest.approx(np.linalg.norm(items, axis=1).max(), rel=1e-5)
    r = RecallIndex(index, options, rec.user_embeddings(), items, rec.user_ids, rec.item_ids)
    labels, _ = r.search_internal(queries, 5)
    np.testing.assert_array_equal(np.sort(labels, 1),
                                  np.sort(np.argsort(-(queries @ items.T), 1)[:, :5], 1))


def test_user_with_fewer_unseen_items_than_k():
    df = pd.DataFrame({"user": ["a"] * 4 + ["b"] * 3, "item": [1, 2, 3, 4, 1, 2, 5]})
    rec = GraphCLRecommender(dim=4, layers=1, epochs=1, batch_size=4, device="cpu",
                             progress=False).fit(Interactions.from_pandas(df))
    index = RecallIndex.from_arrays(rec.user_embeddings(), rec.item_embeddings(),
                                    rec.user_ids, rec.item_ids, seen=rec.seen_)
    items, scores = index.search(["a", "b"], k=3)
    assert list(items[0]) == [5, None, None] and np.isneginf(scores[0, 1:]).all()
    assert set(items[1][:2]) == {3, 4} and items[1][2] is None and np.isneginf(scores[1, 2])
    ref_items, ref_scores = rec.recommend(["a", "b"], k=3)
    assert items.tolist() == ref_items.tolist()
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5)


def test_search_vectors_and_id_types(rec, exported):
    index = RecallIndex.load(exported["flat"])
    vec = rec.user_embeddings()[:2]
    items, scores = index.search_vectors(vec, k=5)
    ref, _ = rec.recommend(list(rec.user_ids[:2]), k=5, filter_seen=False)
    assert items.tolist() == ref.tolist() and items.dtype == np.int64
    with pytest.raises(ValueError, match="dim"):
        index.search_vectors(np.ones((1, 3)), k=5)


def test_errors_name_what_is_wrong(rec, exported):
    index = RecallIndex.load(exported["flat"])
    with pytest.raises(KeyError, match="nobody"):
        index.search(["user-1", "nobody"], k=5)
    with pytest.raises(ValueError, match="k must be >= 1"):
        index.search(["user-1"], k=0)
    with pytest.raises(TypeError, match="list of ids"):
        index.search("user-1", k=5)
    with pytest.raises(ValueError, match="nprobe applies to an ivf index"):
        index.set_search_params(nprobe=3)
    with pytest.raises(ValueError, match="unknown index type 'annoy'"):
        build_index(rec.item_embeddings(), "annoy")


def test_missing_faiss_names_the_extra(rec, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match=r"pip install 'gcl\[ann\]'"):
        rec.export(tmp_path / "out", index="flat")
    assert not (tmp_path / "out").exists()  # nothing was written
    with pytest.raises(ImportError, match=r"gcl\[ann\]"):
        build_index(rec.item_embeddings())


def test_load_needs_an_index(rec, tmp_path):
    rec.export(tmp_path)
    with pytest.raises(FileNotFoundError, match="no recall index"):
        RecallIndex.load(tmp_path)


def test_default_nlist():
    assert default_nlist(40981) == 810 and default_nlist(10) == 1 and default_nlist(390) == 10
