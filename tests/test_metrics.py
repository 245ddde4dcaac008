import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcl.metrics import METRICS, evaluate, ranking_metrics, topk


def reference_metrics(scores: np.ndarray, test: list, exclude: list, ks) -> dict:
    """Brute force from the module docstring's definitions, in plain Python."""
    sums = {f"{m}@{k}": 0.0 for m in METRICS for k in ks}
    n_users = 0
    for u in range(scores.shape[0]):
        truth = test[u]
        if not truth:
            continue
        n_users += 1
        ranked = sorted(range(scores.shape[1]), key=lambda i: -scores[u, i])
        ranked = [i for i in ranked if i not in exclude[u]]
        for k in ks:
            h = [1 if i in truth else 0 for i in ranked[:k]]
            hits = sum(h)
            sums[f"recall@{k}"] += hits / len(truth)
            sums[f"precision@{k}"] += hits / k
            sums[f"hit@{k}"] += 1.0 if hits > 0 else 0.0
            sums[f"mrr@{k}"] += next((1.0 / (j + 1) for j, x in enumerate(h) if x), 0.0)
            dcg = sum(x / math.log2(j + 2) for j, x in enumerate(h))
            idcg = sum(1 / math.log2(j + 2) for j in range(min(len(truth), k)))
            sums[f"ndcg@{k}"] += dcg / idcg
    out = {name: v / n_users for name, v in sums.items()}
    out["users"] = n_users
    return out


def random_problem(seed: int, num_users: int, num_items: int, dim: int = 4,
                   p_test: float = 0.2, p_exclude: float = 0.3, empty_users: int = 2):
    """Continuous random embeddings (no ties), disjoint test / exclude sets, and a few users
    without test items."""
    gen = np.random.default_rng(seed)
    ue, ie = gen.normal(size=(num_users, dim)), gen.normal(size=(num_items, dim))
    r = gen.random((num_users, num_items))
    test_m = r < p_test
    excl_m = (r >= p_test) & (r < p_test + p_exclude)
    test_m[:empty_users] = False
    test = [set(np.flatnonzero(row).tolist()) for row in test_m]
    exclude = [set(np.flatnonzero(row).tolist()) for row in excl_m]
    return (torch.from_numpy(ue), torch.from_numpy(ie), sp.csr_matrix(test_m.astype(float)),
            sp.csr_matrix(excl_m.astype(float)), test, exclude)


def assert_matches_reference(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    assert got["users"] == want["users"]
    for name, v in want.items():
        assert got[name] == pytest.approx(v, abs=1e-12, rel=0), name


@pytest.mark.parametrize("batch_size", [1, 3, 7, 1024])
@pytest.mark.parametrize("seed", [0, 1])
def test_evaluate_matches_brute_force(batch_size, seed):
    ue, ie, test_m, excl_m, test, exclude = random_problem(seed, num_users=23, num_items=30)
    ks = (1, 3, 5, 10, 30)
    got = evaluate(ue, ie, test_m, excl_m, k=ks, batch_size=batch_size)
    scores = ue.numpy() @ ie.numpy().T
    assert_matches_reference(got, reference_metrics(scores, test, exclude, ks))
    assert list(got)[:5] == ["recall@1", "recall@3", "recall@5", "recall@10", "recall@30"]


def test_evaluate_without_exclude_and_with_int_k():
    ue, ie, test_m, _, test, _ = random_problem(5, num_users=10, num_items=12)
    got = evaluate(ue, ie, test_m, k=4)
    scores = ue.numpy() @ ie.numpy().T
    assert_matches_reference(got, reference_metrics(scores, test, [set()] * 10, [4]))


def test_evaluate_skips_users_without_test_items():
    ue, ie, test_m, excl_m, test, exclude = random_problem(2, 12, 15, empty_users=5)
    got = evaluate(ue, ie, test_m, excl_m, k=(5,))
    assert not any(test[:5])
    assert got["users"] == sum(1 for t in test if t) <= 7
    # skipping a user is the same as evaluating only the others
    keep = [u for u in range(12) if test[u]]
    sub = evaluate(ue[keep], ie, test_m[keep], excl_m[keep], k=(5,))
    for name in got:
        assert got[name] == pytest.approx(sub[name], abs=1e-12)


def test_evaluate_hand_example():
    # scores of the one user: items ranked 3 > 0 > 2 > 1; item 3 is excluded
    ue = torch.tensor([[1.0]], dtype=torch.float64)
    ie = torch.tensor([[0.9], [0.1], [0.5], [2.0]], dtype=torch.float64)
    test = sp.csr_matrix(np.array([[0, 1, 1, 0]], dtype=float))
    excl = sp.csr_matrix(np.array([[0, 0, 0, 1]], dtype=float))
    got = evaluate(ue, ie, test, excl, k=(1, 2, 3))
    # ranked list without item 3: [0, 2, 1], hits [0, 1, 1]
    assert got["recall@1"] == 0 and got["hit@1"] == 0 and got["mrr@1"] == 0
    assert got["recall@2"] == 0.5 and got["precision@2"] == 0.5 and got["mrr@2"] == 0.5
    assert got["ndcg@2"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert got["recall@3"] == 1.0 and got["precision@3"] == pytest.approx(2 / 3)
    assert got["ndcg@3"] == pytest.approx((1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3)))
    assert got["users"] == 1


def test_masked_items_never_count_as_hits():
    ue = torch.tensor([[1.0]])
    ie = torch.tensor([[3.0], [2.0], [1.0]])
    test = sp.csr_matrix(np.array([[0, 1, 1]], dtype=float))
    excl = sp.csr_matrix(np.array([[1, 1, 0]], dtype=float))
    got = evaluate(ue, ie, test, excl, k=3)
    # only item 2 can be ranked, and it is one of 2 test items
    assert got["recall@3"] == pytest.approx(0.5)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), num_users=st.integers(3, 12),
       num_items=st.integers(1, 15), batch_size=st.integers(1, 8),
       p_test=st.floats(0.05, 0.6), p_exclude=st.floats(0.0, 0.4),
       ks=st.lists(st.integers(1, 15), min_size=1, max_size=3))
def test_property_metrics_in_unit_interval_and_match_reference(
        seed, num_users, num_items, batch_size, p_test, p_exclude, ks):
    ks = [min(k, num_items) for k in ks]
    ue, ie, test_m, excl_m, test, exclude = random_problem(
        seed, num_users, num_items, p_test=p_test, p_exclude=p_exclude, empty_users=1)
    if not any(test):
        with pytest.raises(ValueError, match="no user has a test interaction"):
            evaluate(ue, ie, test_m, excl_m, k=ks, batch_size=batch_size)
        return
    got = evaluate(ue, ie, test_m, excl_m, k=ks, batch_size=batch_size)
    for name, v in got.items():
        if name != "users":
            assert 0.0 <= v <= 1.0, name
    scores = ue.numpy() @ ie.numpy().T
    assert_matches_reference(got, reference_metrics(scores, test, exclude, sorted(set(ks))))


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("k", [0, -1, (5, 0), 31, (10, 31), ()])
def test_bad_k_raises(k):
    ue, ie, test_m, excl_m, *_ = random_problem(0, 5, 30)
    with pytest.raises(ValueError, match="k"):
        evaluate(ue, ie, test_m, excl_m, k=k)
    if isinstance(k, int):
        with pytest.raises(ValueError, match="k"):
            topk(ue, ie, np.arange(5), k)


def test_k_equal_to_num_items_is_allowed():
    ue, ie, test_m, *_ = random_problem(0, 5, 7)
    got = evaluate(ue, ie, test_m, k=7)
    assert got["recall@7"] == pytest.approx(1.0)


def test_mismatched_shapes_raise():
    ue, ie, test_m, excl_m, *_ = random_problem(0, 6, 10)
    with pytest.raises(ValueError, match="do not match"):
        evaluate(ue[:5], ie, test_m, excl_m)
    with pytest.raises(ValueError, match="do not match"):
        evaluate(ue, ie[:9], test_m, excl_m, k=5)


def test_no_test_users_raises():
    ue, ie, *_ = random_problem(0, 4, 6)
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate(ue, ie, sp.csr_matrix((4, 6)), k=3)


# ---------------------------------------------------------------------------- topk
@pytest.mark.parametrize("batch_size", [1, 4, 100])
def test_topk_matches_sorting(batch_size):
    ue, ie, _, excl_m, _, exclude = random_problem(3, 9, 12, p_exclude=0.5)
    users = np.array([4, 0, 8, 4, 2])
    items, scores = topk(ue, ie, users, 6, excl_m, batch_size=batch_size)
    assert items.shape == scores.shape == (5, 6) and items.dtype == torch.int64
    s = ue.numpy() @ ie.numpy().T
    for row, u in enumerate(users):
        ranked = [i for i in np.argsort(-s[u]).tolist() if i not in exclude[u]]
        n = min(6, len(ranked))
        assert items[row, :n].tolist() == ranked[:n]
        np.testing.assert_allclose(scores[row, :n].numpy(), s[u, ranked[:n]], rtol=1e-12)
        # fewer candidates than k: the rest are masked slots
        assert torch.all(scores[row, n:] == -torch.inf)
        assert set(items[row, n:].tolist()) <= exclude[u]


def test_topk_of_no_users():
    ue, ie, *_ = random_problem(0, 3, 5)
    items, scores = topk(ue, ie, np.array([], dtype=np.int64), 2)
    assert items.shape == scores.shape == (0, 2) and items.dtype == torch.int64


# ---------------------------------------------------------------------------- ranking_metrics
def test_ranking_metrics_by_hand():
    hits = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=torch.bool)
    num_pos = torch.tensor([2, 3, 1])
    out = ranking_metrics(hits, num_pos, [2, 4])
    d = [1 / math.log2(j + 2) for j in range(4)]
    expected = {
        "recall@2": [1 / 2, 0, 0], "recall@4": [1, 1 / 3, 0],
        "precision@2": [1 / 2, 0, 0], "precision@4": [2 / 4, 1 / 4, 0],
        "hit@2": [1, 0, 0], "hit@4": [1, 1, 0],
        "mrr@2": [1, 0, 0], "mrr@4": [1, 1 / 4, 0],
        "ndcg@2": [d[0] / (d[0] + d[1]), 0, 0],
        "ndcg@4": [(d[0] + d[2]) / (d[0] + d[1]), d[3] / sum(d[:3]), 0],
    }
    assert set(out) == set(expected)
    for name, want in expected.items():
        assert out[name].dtype == torch.float64
        np.testing.assert_allclose(out[name].numpy(), want, rtol=0, atol=1e-15, err_msg=name)
