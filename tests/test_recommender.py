import numpy as np
import pandas as pd
import pytest
import torch

from gcl import GraphCLRecommender, Interactions


def clustered_log(n_users=60, n_items=40, per_user=8, seed=0) -> pd.DataFrame:
    """Two tastes: even users click mostly the first half of the items, odd users the rest."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        half = np.arange(n_items // 2) + (0 if u % 2 == 0 else n_items // 2)
        for i in rng.choice(half, per_user, replace=False):
            rows.append((f"u{u}", f"item-{i}"))
    return pd.DataFrame(rows, columns=["user", "item"])


@pytest.fixture(scope="module")
def splits():
    inter = Interactions.from_pandas(clustered_log())
    return inter.split("random", ratios=(0.7, 0.15, 0.15), seed=0)


@pytest.fixture(scope="module")
def fitted(splits):
    train, valid, _ = splits
    rec = GraphCLRecommender(dim=16, layers=2, lr=0.05, batch_size=64, epochs=30,
                             patience=30, device="cpu", progress=False)
    return rec.fit(train, valid=valid)


def test_learns_the_two_tastes(fitted, splits):
    _, _, test = splits
    lightgcn = fitted.evaluate(test, k=[5, 10])
    pop = GraphCLRecommender(method="pop", device="cpu").fit(splits[0], valid=splits[1])
    baseline = pop.evaluate(test, k=[5, 10])
    assert {"recall@10", "ndcg@10", "precision@5", "hit@5", "mrr@10", "users"} <= set(lightgcn)
    assert lightgcn["users"] == len(np.unique(test.users))
    assert lightgcn["recall@10"] > baseline["recall@10"] + 0.1
    # The recommended items of an even user are from the first half of the catalogue.
    items, _ = fitted.recommend(["u0", "u2", "u4"], k=5)
    first_half = {f"item-{i}" for i in range(20)}
    assert np.mean([it in first_half for it in items.ravel()]) > 0.8


def test_recommend_uses_own_ids_and_filters_seen(fitted, splits):
    train = splits[0]
    items, scores = fitted.recommend(["u1", "u0"], k=7)
    assert items.shape == scores.shape == (2, 7)
    assert np.all(np.diff(scores, axis=1) <= 0)
    seen = train.to_pandas().groupby("user")["item"].apply(set)
    for user, row in zip(["u1", "u0"], items):
        assert all(isinstance(i, str) and i.startswith("item-") for i in row)
        assert not set(row) & seen[user]
    # Without the filter, the best items include what the user already has.
    unfiltered, _ = fitted.recommend(["u0"], k=10, filter_seen=False)
    assert set(unfiltered[0]) & seen["u0"]


def test_recommend_matches_embeddings(fitted, splits):
    user = fitted.user_embeddings()[fitted.user_ids.get_loc("u3")]
    scores = fitted.item_embeddings() @ user
    seen = splits[0].to_csr()[fitted.user_ids.get_loc("u3")].indices
    scores[seen] = -np.inf
    best = fitted.item_ids[np.argsort(-scores)[:5]].tolist()
    items, got = fitted.recommend(["u3"], k=5)
    assert items[0].tolist() == best
    np.testing.assert_allclose(got[0], np.sort(scores)[::-1][:5], rtol=1e-5)


@pytest.mark.parametrize("bad, error, text", [
    (["nobody"], KeyError, "nobody"),
    ("u0", TypeError, "list of ids"),
])
def test_recommend_bad_users(fitted, bad, error, text):
    with pytest.raises(error, match=text):
        fitted.recommend(bad, k=3)


@pytest.mark.parametrize("k", [0, -1, 10_000])
def test_bad_k(fitted, splits, k):
    with pytest.raises(ValueError, match="k"):
        fitted.recommend(["u0"], k=k)
    with pytest.raises(ValueError, match="k"):
        fitted.evaluate(splits[2], k=[k])


def test_test_log_must_share_id_maps(fitted):
    other = Interactions.from_pandas(clustered_log(seed=1).head(50))
    with pytest.raises(ValueError, match="id maps"):
        fitted.evaluate(other)


def test_unfitted_and_bad_settings():
    with pytest.raises(RuntimeError, match="fit"):
        GraphCLRecommender().recommend(["u0"])
    with pytest.raises(ValueError, match="unknown method"):
        GraphCLRecommender(method="nope")
    with pytest.raises(ValueError, match="batch_size"):
        GraphCLRecommender(batch_size=0)


def test_early_stopping_keeps_best_epoch(splits):
    train, valid, _ = splits
    rec = GraphCLRecommender(dim=8, layers=1, lr=0.05, batch_size=64, epochs=200, patience=3,
                             device="cpu", progress=False).fit(train, valid=valid)
    scores = [h["valid_ndcg@20"] for h in rec.history_]
    assert len(rec.history_) < 200
    best = int(np.argmax(scores))
    assert rec.best_epoch_ == best + 1
    assert len(scores) - 1 - best == 3  # stopped after 3 evaluations without improvement
    # The weights kept are the best epoch's: evaluating on valid gives its score back.
    again = rec.evaluate(valid, k=[20], exclude_valid=False)["ndcg@20"]
    assert again == pytest.approx(scores[best], abs=1e-6)


def test_same_seed_same_model(splits):
    train = splits[0]
    kw = dict(dim=8, layers=2, lr=0.01, batch_size=32, epochs=3, device="cpu", progress=False)
    a = GraphCLRecommender(**kw).fit(train).user_embeddings()
    b = GraphCLRecommender(**kw).fit(train).user_embeddings()
    c = GraphCLRecommender(**kw, seed=1).fit(train).user_embeddings()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_count_does_not_change_results(splits, threads):
    train = splits[0]
    kw = dict(dim=8, layers=2, lr=0.01, batch_size=32, epochs=2, device="cpu", progress=False)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        ref = GraphCLRecommender(**kw).fit(train).user_embeddings()
        torch.set_num_threads(threads)
        got = GraphCLRecommender(**kw).fit(train).user_embeddings()
    finally:
        torch.set_num_threads(before)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_save_load_round_trip(fitted, splits, tmp_path):
    path = tmp_path / "model.pt"
    fitted.save(path)
    torch.load(path, weights_only=True)  # loadable without unpickling code
    loaded = GraphCLRecommender.load(path)
    np.testing.assert_array_equal(loaded.item_embeddings(), fitted.item_embeddings())
    a, sa = fitted.recommend(["u5", "u8"], k=5)
    b, sb = loaded.recommend(["u5", "u8"], k=5)
    assert a.tolist() == b.tolist()
    np.testing.assert_allclose(sa, sb)
    assert loaded.evaluate(splits[2]) == pytest.approx(fitted.evaluate(splits[2]))
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_load_rejects_foreign_and_malicious_files(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "gcl.GraphCLRecommender", "x": Evil()}, evil)
    with pytest.raises(ValueError, match="not a readable gcl model"):
        GraphCLRecommender.load(evil)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not a gcl model"):
        GraphCLRecommender.load(other)
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(b"PK\x03\x04 not a whole file")
    with pytest.raises(ValueError, match="not a readable gcl model"):
        GraphCLRecommender.load(truncated)


def test_int_ids_come_back_as_ints():
    df = clustered_log()
    df["user"] = df["user"].str[1:].astype(int)
    df["item"] = df["item"].str[5:].astype(int) + 1000
    train = Interactions.from_pandas(df)
    rec = GraphCLRecommender(dim=4, layers=1, epochs=1, device="cpu", progress=False).fit(train)
    items, _ = rec.recommend([0, 1], k=3)
    assert items.dtype.kind == "i" and items.min() >= 1000


# ---------------------------------------------------------------------------- similar items
def test_similar_items_are_the_exact_cosine_neighbours(fitted):
    queries = ["item-0", "item-25", "item-3"]
    items, scores = fitted.similar_items(queries, k=6)
    assert items.shape == scores.shape == (3, 6)
    emb = fitted.item_embeddings()
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    rows = fitted.item_ids.get_indexer(queries)
    cos = unit[rows] @ unit.T
    cos[np.arange(3), rows] = -np.inf  # never its own neighbour
    order = np.argsort(-cos, axis=1, kind="stable")[:, :6]
    np.testing.assert_allclose(scores, np.take_along_axis(cos, order, 1), rtol=1e-5, atol=1e-6)
    assert [set(r) for r in items] == [set(r) for r in np.asarray(fitted.item_ids)[order]]
    assert not any(q in row for q, row in zip(queries, items))
    # Items of one taste have neighbours of the same taste.
    first_half = {f"item-{i}" for i in range(20)}
    assert np.mean([i in first_half for i in items[0]]) > 0.8


def test_similar_items_errors(fitted):
    with pytest.raises(KeyError, match="no-such-item"):
        fitted.similar_items(["item-0", "no-such-item"])
    with pytest.raises(ValueError, match="k must be in 1..num_items-1"):
        fitted.similar_items(["item-0"], k=0)
    with pytest.raises(ValueError, match="k must be in 1..num_items-1"):
        fitted.similar_items(["item-0"], k=len(fitted.item_ids))
    with pytest.raises(TypeError, match="list of ids"):
        fitted.similar_items("item-0")


def test_num_threads_holds_during_fit_and_is_restored(splits, monkeypatch):
    from gcl import recommender

    train, _, _ = splits
    seen = []
    monkeypatch.setattr(recommender.Trainer, "fit", lambda self, resume=False: seen.append(
        torch.get_num_threads()) or [])
    before = torch.get_num_threads()
    GraphCLRecommender(dim=8, epochs=1, device="cpu", progress=False,
                       num_threads=before + 1).fit(train)
    assert seen == [before + 1] and torch.get_num_threads() == before


def test_auto_threads_is_one_on_two_cpus_unless_omp_is_set(monkeypatch):
    from gcl.runtime import resolve_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert resolve_threads("auto") == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert resolve_threads("auto") == torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert resolve_threads("auto") == torch.get_num_threads()
    assert resolve_threads(3) == 3


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "many"])
def test_bad_num_threads_fails_in_the_constructor(bad):
    with pytest.raises(ValueError, match="num_threads"):
        GraphCLRecommender(num_threads=bad)
