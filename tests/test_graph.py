import importlib.util

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from gcl.data import Interactions
from gcl.graph import BACKENDS, UIGraph, _SymmetricSpMM, csr_mm, csr_tensor, normalized_adjacency

AVAILABLE = ["torch", "scipy", "pyg"]
HAS_SCATTER = importlib.util.find_spec("torch_scatter") is not None
if HAS_SCATTER:  # pragma: no cover - depends on the extra
    AVAILABLE.append("scatter")


def dense_normalized(num_users, num_items, users, items) -> np.ndarray:
    """D^-1/2 A D^-1/2 of the bipartite graph, in float64, from the definition."""
    n = num_users + num_items
    a = np.zeros((n, n))
    for u, i in zip(users, items):
        a[u, num_users + i] = a[num_users + i, u] = 1.0
    deg = a.sum(1)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
    return inv[:, None] * a * inv[None, :]


@pytest.fixture
def edges(rng):
    """A random graph of 9 users x 11 items with duplicate edges, an isolated user (8) and
    an isolated item (10)."""
    users = rng.integers(0, 8, size=40)
    items = rng.integers(0, 10, size=40)
    users = np.concatenate([users, users[:5]])  # duplicates
    items = np.concatenate([items, items[:5]])
    return 9, 11, users, items


def test_normalized_adjacency_matches_dense_definition(edges):
    nu, ni, users, items = edges
    adj = normalized_adjacency(nu, ni, users, items)
    ref = dense_normalized(nu, ni, users, items)
    assert isinstance(adj, sp.csr_matrix) and adj.shape == (nu + ni, nu + ni)
    assert adj.dtype == np.float32 and adj.has_sorted_indices
    np.testing.assert_allclose(adj.toarray(), ref, rtol=1e-6, atol=1e-7)
    assert abs(adj - adj.T).max() == 0  # symmetric
    distinct = len(set(zip(users.tolist(), items.tolist())))
    assert adj.nnz == 2 * distinct  # duplicates counted once
    assert adj[8].nnz == 0 and adj[nu + 10].nnz == 0  # isolated nodes: empty rows
    assert adj[:nu, :nu].nnz == 0 and adj[nu:, nu:].nnz == 0  # bipartite


def test_uigraph_basics(edges):
    nu, ni, users, items = edges
    g = UIGraph(nu, ni, users, items)
    assert (g.num_users, g.num_items, g.num_nodes) == (nu, ni, nu + ni)
    assert g.num_edges == 2 * len(set(zip(users.tolist(), items.tolist())))
    assert g.backend == "torch" and g.device == torch.device("cpu")
    assert repr(g) == f"UIGraph(9 users, 11 items, {g.num_edges} directed edges, backend='torch')"


def test_from_interactions(small_log):
    g = UIGraph.from_interactions(small_log, backend="scipy")
    ref = dense_normalized(small_log.num_users, small_log.num_items, small_log.users,
                           small_log.items)
    np.testing.assert_allclose(g.adj.toarray(), ref, rtol=1e-6, atol=1e-7)
    assert g.backend == "scipy"


@pytest.mark.parametrize("backend", AVAILABLE)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_propagation_matches_dense_reference(edges, backend, dtype):
    nu, ni, users, items = edges
    g = UIGraph(nu, ni, users, items, backend=backend)
    x = torch.randn(nu + ni, 5, generator=torch.Generator().manual_seed(0), dtype=dtype)
    ref = dense_normalized(nu, ni, users, items) @ x.double().numpy()
    out = g.propagate(x)
    assert out.shape == x.shape and out.dtype == dtype
    np.testing.assert_allclose(out.double().numpy(), ref, rtol=1e-5, atol=1e-6)
    # a second step is A^2 x
    ref2 = dense_normalized(nu, ni, users, items) @ ref
    np.testing.assert_allclose(g.propagate(out).double().numpy(), ref2, rtol=1e-5, atol=1e-6)


def test_csr_mm_is_the_plain_product_bit_for_bit():
    adj = sp.random(300, 200, density=0.05, format="csr", dtype=np.float32,
                    random_state=np.random.default_rng(0))
    mat = csr_tensor(adj)
    assert mat.crow_indices().dtype == mat.col_indices().dtype == torch.int32
    plain = torch.sparse_csr_tensor(torch.from_numpy(adj.indptr.astype(np.int64)),
                                    torch.from_numpy(adj.indices.astype(np.int64)),
                                    torch.from_numpy(adj.data), size=adj.shape)
    gen = torch.Generator().manual_seed(0)
    for x in (torch.randn(200, 16, generator=gen), torch.randn(16, 200, generator=gen).T):
        # the output is allocated unfilled: memory just freed with NaN in it must not show
        del_me = torch.full((300, 16), float("nan"))
        del del_me
        out = csr_mm(mat, x)
        assert torch.equal(out, plain @ x)
        np.testing.assert_allclose(out.numpy(), adj @ x.numpy(), rtol=1e-5, atol=1e-6)


def test_csr_mm_keeps_the_gradient_outside_a_custom_backward():
    adj = sp.random(30, 20, density=0.2, format="csr", dtype=np.float32,
                    random_state=np.random.default_rng(1))
    x = torch.randn(20, 3, requires_grad=True)
    csr_mm(csr_tensor(adj), x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), adj.T @ np.ones((30, 3)), rtol=1e-5)


@pytest.mark.parametrize("backend", AVAILABLE)
def test_gradients_match_dense_reference(edges, backend):
    nu, ni, users, items = edges
    g = UIGraph(nu, ni, users, items, backend=backend)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(nu + ni, 4, generator=gen, requires_grad=True)
    w = torch.randn(nu + ni, 4, generator=gen)
    # two steps, so the backward also goes through the backend twice
    (g.propagate(g.propagate(x)) * w).sum().backward()
    a = dense_normalized(nu, ni, users, items)
    ref = a.T @ (a.T @ w.double().numpy())
    np.testing.assert_allclose(x.grad.double().numpy(), ref, rtol=1e-5, atol=1e-6)


def test_symmetric_spmm_passes_gradcheck_in_float64(edges):
    nu, ni, users, items = edges
    a = torch.from_numpy(dense_normalized(nu, ni, users, items)).to_sparse_csr()
    x = torch.randn(nu + ni, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: _SymmetricSpMM.apply(lambda y: a @ y, t), (x,))


@pytest.mark.parametrize("backend", AVAILABLE)
def test_backends_agree_on_values_and_gradients(edges, backend):
    nu, ni, users, items = edges
    x0 = torch.randn(nu + ni, 6, generator=torch.Generator().manual_seed(2))
    w = torch.randn(nu + ni, 6, generator=torch.Generator().manual_seed(3))
    outs = {}
    for name in ("torch", backend):
        x = x0.clone().requires_grad_(True)
        y = UIGraph(nu, ni, users, items, backend=name).propagate(x)
        (y * w).sum().backward()
        outs[name] = (y.detach(), x.grad)
    torch.testing.assert_close(outs[backend][0], outs["torch"][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(outs[backend][1], outs["torch"][1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", AVAILABLE)
def test_subgraph_renormalises(edges, backend):
    nu, ni, users, items = edges
    g = UIGraph(nu, ni, users, items, backend=backend)
    mask = np.arange(len(users)) % 3 != 0
    sub = g.subgraph(mask)
    assert sub.backend == backend and (sub.num_users, sub.num_items) == (nu, ni)
    ref = dense_normalized(nu, ni, users[mask], items[mask])
    np.testing.assert_allclose(sub.adj.toarray(), ref, rtol=1e-6, atol=1e-7)
    assert not np.allclose(sub.adj.toarray(), g.adj.toarray())  # degrees changed
    x = torch.randn(nu + ni, 3, generator=torch.Generator().manual_seed(4))
    np.testing.assert_allclose(sub.propagate(x).double().numpy(), ref @ x.double().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_edge_attributes_of_a_tiny_graph():
    # user 0 - item 0, user 0 - item 1, user 1 - item 1: d = [2, 1 | 1, 2]
    g = UIGraph(2, 2, np.array([0, 0, 1]), np.array([0, 1, 1]))
    a = g.adj.toarray()
    expected = np.zeros((4, 4))
    for u, i, v in [(0, 0, 1 / np.sqrt(2)), (0, 1, 1 / 2), (1, 1, 1 / np.sqrt(2))]:
        expected[u, 2 + i] = expected[2 + i, u] = v
    np.testing.assert_allclose(a, expected, rtol=1e-6)


def test_unknown_backend_raises():
    with pytest.raises(ValueError, match="unknown propagation backend 'cuda'"):
        UIGraph(1, 1, np.array([0]), np.array([0]), backend="cuda")
    assert set(BACKENDS) == {"torch", "scipy", "scatter", "pyg"}


def test_scipy_backend_is_cpu_only():
    with pytest.raises(ValueError, match="CPU only"):
        UIGraph(1, 1, np.array([0]), np.array([0]), backend="scipy", device="meta")


@pytest.mark.skipif(HAS_SCATTER, reason="torch-scatter is installed")
def test_scatter_backend_without_torch_scatter_names_the_extra():
    with pytest.raises(ImportError, match=r"gcl\[scatter\]"):
        UIGraph(1, 1, np.array([0]), np.array([0]), backend="scatter")


def test_graph_of_an_interactions_split_keeps_all_nodes(small_log):
    train = small_log.select(small_log.users < 6)
    g = UIGraph.from_interactions(train)
    assert g.num_nodes == small_log.num_users + small_log.num_items
    x = torch.ones(g.num_nodes, 1)
    out = g.propagate(x)
    assert torch.all(out[6:small_log.num_users] == 0)  # users without train edges


def test_duplicate_edges_do_not_change_the_graph():
    df = pd.DataFrame({"user": [0, 0, 1], "item": [0, 1, 1]})
    inter = Interactions.from_pandas(df)
    a = UIGraph.from_interactions(inter).adj
    b = UIGraph(2, 2, np.array([0, 0, 0, 1, 1]), np.array([0, 1, 0, 1, 1])).adj
    assert (a != b).nnz == 0


def test_auto_backend_picks_a_timed_candidate_and_propagates_the_same(edges):
    from gcl.graph import pick_backend

    nu, ni, users, items = edges
    g = UIGraph(nu, ni, users, items, backend="auto")
    assert g.backend in ("torch", "scipy", "scatter")  # pyg is never tried on CPU
    assert g.backend == pick_backend(g.adj, "cpu")  # one answer per graph and device
    assert g.subgraph(np.arange(len(users)) % 2 == 0).backend == g.backend
    x = torch.randn(nu + ni, 4)
    torch.testing.assert_close(g.propagate(x), UIGraph(nu, ni, users, items).propagate(x))


def test_auto_backend_leaves_the_global_generator_alone(edges):
    nu, ni, users, items = edges
    torch.manual_seed(3)
    UIGraph(nu + 1, ni, users, items, backend="auto")  # a new size: timed anew
    after = torch.rand(1)
    torch.manual_seed(3)
    assert torch.equal(after, torch.rand(1))


def test_unknown_backend_names_the_choices(edges):
    with pytest.raises(ValueError, match="'auto'"):
        UIGraph(*edges, backend="cusparse")
