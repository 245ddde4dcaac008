"""Fold-in of new users from their items (gcl.foldin, GraphCLRecommender.recommend_for_items)."""
import numpy as np
import pandas as pd
import pytest
import torch

from gcl import GraphCLRecommender, Interactions
from gcl.foldin import foldin_matrix, readout_weights
from gcl.index import fold_in


def _log(n_users=30, n_items=25, seed=0) -> Interactions:
    gen = np.random.default_rng(seed)
    rows = [(f"u{u}", f"i{i}") for u in range(n_users)
            for i in gen.choice(n_items, size=int(gen.integers(3, 8)), replace=False)]
    return Interactions.from_pandas(pd.DataFrame(rows, columns=["user", "item"]))


def _fit(method, log, **kw):
    rec = GraphCLRecommender(method=method, dim=8, epochs=2, batch_size=64, patience=None,
                             progress=False, device="cpu", lr=0.01, **kw)
    return rec.fit(log)


@pytest.fixture(scope="module")
def log():
    return _log()


@pytest.mark.parametrize("method,kw", [
    ("lightgcn", {}), ("sgl-ed", {}), ("simgcl", {}), ("xsimgcl", {}), ("lightgcl", {}),
    ("lightgcl", {"readout": "mean"}), ("ncl", {"num_clusters": 4}), ("directau", {}),
    ("lightgcn", {"layers": 1}),
])
def test_foldin_of_a_trained_user_is_their_vector_less_layer0(log, method, kw):
    rec = _fit(method, log, **kw)
    f = foldin_matrix(rec.method_, rec.graph_)
    alphas = readout_weights(rec.method_)
    with torch.no_grad():
        layer0 = rec.method_.encoder.propagate(rec.graph_)[0][: log.num_users]
    seen = rec.seen_
    rows = [seen.indices[seen.indptr[u]:seen.indptr[u + 1]] for u in range(log.num_users)]
    folded = torch.from_numpy(fold_in(f.numpy(), rows))
    expected = rec.user_emb_ - alphas[0] * layer0
    torch.testing.assert_close(folded, expected, rtol=1e-4, atol=1e-5)
    if method in ("simgcl", "xsimgcl"):  # no layer-0 term: the user's own vector
        assert alphas[0] == 0.0
        torch.testing.assert_close(folded, rec.user_emb_, rtol=1e-4, atol=1e-5)


def test_foldin_with_a_text_branch(log):
    pytest.importorskip("gensim")
    text = pd.Series({i: f"word{n % 5} common" for n, i in enumerate(log.item_ids)})
    rec = _fit("lightgcn", log, item_text=text, word_epochs=1, word_dim=8)
    f = foldin_matrix(rec.method_, rec.graph_)
    seen = rec.seen_
    rows = [seen.indices[seen.indptr[u]:seen.indptr[u + 1]] for u in range(log.num_users)]
    with torch.no_grad():
        layer0 = rec.method_.encoder.propagate(rec.graph_)[0][: log.num_users]
    torch.testing.assert_close(torch.from_numpy(fold_in(f.numpy(), rows)),
                               rec.user_emb_ - readout_weights(rec.method_)[0] * layer0,
                               rtol=1e-4, atol=1e-5)


def test_sequence_methods_cannot_fold_in(log):
    rec = _fit("seq-cl", log)
    with pytest.raises(ValueError, match="'seq-cl' cannot fold in"):
        rec.recommend_for_items(["i1"])


def test_readout_weights_by_method(log):
    assert readout_weights(_fit("lightgcn", log).method_) == [0.25] * 4
    assert readout_weights(_fit("simgcl", log).method_) == [0.0, 0.5, 0.5]
    assert readout_weights(_fit("lightgcl", log).method_) == [1.0, 1.0, 1.0]


def test_recommend_for_items_ranks_by_the_folded_vector(log):
    rec = _fit("lightgcn", log)
    given = ["i1", "i3", "i3", "i7"]
    items, scores = rec.recommend_for_items(given, k=5)
    assert items.shape == scores.shape == (5,)
    assert not set(items) & set(given)
    f = foldin_matrix(rec.method_, rec.graph_).numpy()
    rows = [np.sort(log.item_index(["i1", "i3", "i7"]))]
    full = fold_in(f, rows)[0] @ rec.item_embeddings().T
    full[rows[0]] = -np.inf
    top = np.argsort(-full, kind="stable")[:5]
    np.testing.assert_allclose(scores, full[top], rtol=1e-5)
    assert list(items) == list(log.item_ids[top])
    many, many_scores = rec.recommend_for_items([given, ["i2"]], k=3)
    assert many.shape == (2, 3)
    np.testing.assert_allclose(many_scores[0], scores[:3], rtol=1e-6)
    kept, _ = rec.recommend_for_items(given, k=5, filter_seen=False)
    assert set(kept) & set(given) or len(kept) == 5


def test_new_user_like_a_trained_one_gets_close_lists(log):
    """A user's items, folded in, rank like the trained user where layer 0 weighs little
    (SimGCL: not at all, so the lists are the same)."""
    rec = _fit("simgcl", log)
    user = log.user_ids[0]
    own = log.item_ids[rec.seen_[0].indices]
    folded, f_scores = rec.recommend_for_items(list(own), k=5)
    trained, t_scores = rec.recommend([user], k=5)
    assert list(folded) == list(trained[0])
    np.testing.assert_allclose(f_scores, t_scores[0], rtol=1e-4)


@pytest.mark.parametrize("method", ["gf-cf", "bspm"])
def test_graph_filters_score_the_new_row_exactly(log, method):
    rec = GraphCLRecommender(method=method, rank=4, progress=False, device="cpu").fit(log)
    own = list(log.item_ids[rec.seen_[3].indices])
    items, scores = rec.recommend_for_items(own, k=4)
    trained_items, trained_scores = rec.recommend([log.user_ids[3]], k=4)
    assert list(items) == list(trained_items[0])
    np.testing.assert_allclose(scores, trained_scores[0], rtol=1e-5)


def test_pop_gives_the_popular_unseen_items(log):
    rec = GraphCLRecommender(method="pop", progress=False, device="cpu").fit(log)
    items, _ = rec.recommend_for_items(["i0"], k=3)
    counts = pd.Series(log.item_counts(), index=log.item_ids).drop("i0")
    assert set(items) <= set(counts.sort_values(ascending=False).index[:6])


def test_unknown_items_raise_or_are_skipped(log):
    rec = _fit("lightgcn", log)
    with pytest.raises(KeyError, match="nope"):
        rec.recommend_for_items(["i1", "nope"])
    with pytest.warns(RuntimeWarning, match="nope"):
        items, _ = rec.recommend_for_items(["i1", "nope"], k=3, missing="skip")
    np.testing.assert_array_equal(items, rec.recommend_for_items(["i1"], k=3)[0])
    with pytest.warns(RuntimeWarning), pytest.raises(ValueError, match="no known item"):
        rec.recommend_for_items(["nope"], missing="skip")
    with pytest.raises(ValueError, match="no items"):
        rec.recommend_for_items([["i1"], []])
    with pytest.raises(TypeError, match="list of item ids"):
        rec.recommend_for_items("i1")
    with pytest.raises(ValueError, match="missing"):
        rec.recommend_for_items(["i1"], missing="ignore")


def test_methods_that_cannot_fold_in_say_so(log):
    rec = _fit("directau", log, layers=0)
    with pytest.raises(ValueError, match="directau.*layers=0"):
        rec.recommend_for_items(["i1"])
    rec = _fit("custom", log, encoder="gcn")
    with pytest.raises(ValueError, match="'custom' cannot fold in"):
        rec.recommend_for_items(["i1"])


def test_foldin_after_save_and_load(log, tmp_path):
    rec = _fit("lightgcn", log)
    before = rec.recommend_for_items(["i1", "i4"], k=5)
    rec.save(tmp_path / "m.pt")
    loaded = GraphCLRecommender.load(tmp_path / "m.pt")
    after = loaded.recommend_for_items(["i1", "i4"], k=5)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_allclose(before[1], after[1], rtol=1e-5)
