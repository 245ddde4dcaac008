import numpy as np
import pytest
import torch

from gcl.augment.edge import EdgeDrop
from gcl.augment.svd import SVDView
from gcl.graph import UIGraph
from tests.augment import gen, random_graph


def community_graph(num_users=60, num_items=90, communities=4, seed=0) -> UIGraph:
    """Dense blocks plus sparse noise: a clear gap after the top :obj:`communities` singular
    values, so randomised SVD converges to the truncated SVD."""
    rng = np.random.default_rng(seed)
    cu, ci = rng.integers(0, communities, num_users), rng.integers(0, communities, num_items)
    prob = np.where(cu[:, None] == ci[None, :], 0.6, 0.02)
    users, items = np.nonzero(rng.random((num_users, num_items)) < prob)
    return UIGraph(num_users, num_items, users, items)


def dense_block(g: UIGraph) -> np.ndarray:
    return g.adj.toarray().astype(np.float64)[: g.num_users, g.num_users:]


def test_full_rank_reproduces_exact_propagation():
    g = random_graph(6, 8, 25, seed=1)
    view = SVDView(rank=6)(g, gen())
    h = torch.randn(g.num_nodes, 5, generator=gen(1), dtype=torch.float64)
    ref = g.adj.toarray().astype(np.float64) @ h.numpy()
    np.testing.assert_allclose(view.propagate(h, 0).numpy(), ref, atol=1e-5)
    np.testing.assert_allclose(view.propagate(h, 2).numpy(), ref, atol=1e-5)


def test_low_rank_matches_dense_truncated_svd():
    g, q = community_graph(), 4
    aug = SVDView(rank=q, niter=10)
    view = aug(g, gen())
    u, s, vt = np.linalg.svd(dense_block(g))
    assert s[q - 1] / s[q] > 1.5  # the gap the test relies on
    bk = (u[:, :q] * s[:q]) @ vt[:q]
    h = torch.randn(g.num_nodes, 8, generator=gen(2))
    uu = g.num_users
    ref = np.concatenate([bk @ h[uu:].double().numpy(), bk.T @ h[:uu].double().numpy()])
    np.testing.assert_allclose(view.propagate(h, 0).double().numpy(), ref, atol=1e-4)
    fu, fs, fv = aug.factors
    assert fu.shape == (g.num_users, q) and fs.shape == (q,) and fv.shape == (g.num_items, q)
    np.testing.assert_allclose(fs.numpy(), s[:q], atol=1e-4)


def test_output_is_float64_when_input_is():
    g = random_graph(10, 12, 50)
    out = SVDView(rank=3)(g, gen()).propagate(torch.randn(22, 2, dtype=torch.float64), 0)
    assert out.dtype == torch.float64 and out.shape == (22, 2)


def test_cached_per_graph_and_deterministic():
    g = community_graph()
    aug = SVDView(rank=4)
    aug(g, gen(0))
    first = aug.factors
    aug(g, gen(99))
    assert aug.factors is first  # cached: computed once per graph
    other = EdgeDrop(0.2)(g, gen()).graph
    aug(other, gen(0))
    assert aug.factors is not first
    same, diff = SVDView(rank=4), SVDView(rank=4, seed=1)
    same(g, gen(5))  # the training generator does not matter, the seed does
    diff(g, gen(0))
    for a, b in zip(first, same.factors):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(first, diff.factors))


def test_leaves_global_rng_untouched():
    g = random_graph(30, 40, 300)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    SVDView(rank=5)(g, gen(5))
    torch.testing.assert_close(torch.rand(3), expected)


def test_gradient_flows_through_svd_propagation():
    g = random_graph(20, 30, 200)
    view = SVDView(rank=5)(g, gen())
    h = torch.randn(g.num_nodes, 4, requires_grad=True)
    view.propagate(h, 0).pow(2).sum().backward()
    assert h.grad is not None and h.grad.abs().sum() > 0


def test_eval_mode_and_validation():
    g = random_graph(5, 5, 10)
    aug = SVDView(rank=2).eval()
    view = aug(g, gen())
    assert view.graph is g and view.propagate_fn is None and aug.mask is None
    with pytest.raises(ValueError, match="exceeds min"):
        SVDView(rank=6)(g, gen())
    for bad in (dict(rank=0), dict(rank=2.5), dict(niter=-1)):
        with pytest.raises(ValueError, match="must be an integer"):
            SVDView(**bad)
    assert SVDView.per == "epoch"
    assert repr(SVDView(rank=3, niter=4)) == "SVDView(rank=3, niter=4, seed=0)"
