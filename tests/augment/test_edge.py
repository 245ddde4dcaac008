import numpy as np
import pytest
import scipy.sparse as sp
import torch

from gcl.augment.edge import EdgeDrop, NodeDrop, RandomWalk
from gcl.augment.noise import EmbeddingNoise
from gcl.augment.svd import SVDView
from gcl.graph import UIGraph, normalized_adjacency
from gcl.view import View
from tests.augment import gen, random_graph


@pytest.fixture(scope="module")
def graph() -> UIGraph:
    return random_graph()


def kept_pairs(g: UIGraph) -> set[tuple[int, int]]:
    """The (user, item) pairs with an edge in the graph's normalised adjacency."""
    coo = g.adj[: g.num_users, g.num_users:].tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist()))


def assert_is_renormalised_subgraph(sub: UIGraph, graph: UIGraph, keep: np.ndarray) -> None:
    adj = sub.adj
    assert abs(adj - adj.T).nnz == 0  # both directions kept or dropped together
    assert kept_pairs(sub) == set(zip(graph.users[keep].tolist(), graph.items[keep].tolist()))
    ref = normalized_adjacency(graph.num_users, graph.num_items, graph.users[keep],
                               graph.items[keep])
    assert abs(adj - ref).max() < 1e-7
    # rows of a node with degree d hold 1/sqrt(d d') entries: check against degrees
    deg = np.asarray((adj != 0).sum(1)).ravel()
    coo = sp.triu(adj).tocoo()
    np.testing.assert_allclose(coo.data, 1 / np.sqrt(deg[coo.row] * deg[coo.col]), rtol=1e-6)


@pytest.mark.parametrize("draw", ["exact", "bernoulli"])
@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_edge_drop_fraction_and_renormalised_symmetric_subgraph(graph, p, draw):
    aug = EdgeDrop(p, draw)
    view = aug(graph, gen(1))
    e = len(graph.users)
    assert isinstance(view, View)
    assert aug.mask.dtype == torch.bool and aug.mask.shape == (e,)
    if draw == "exact":  # SGL's code: keep_idx of size int(n_edges * (1 - ratio))
        assert int(aug.mask.sum()) == int(e * (1 - p))
    else:
        assert abs((~aug.mask).float().mean().item() - p) < 0.03
    assert view.graph is not graph
    assert view.graph.num_users == graph.num_users and view.graph.num_items == graph.num_items
    assert_is_renormalised_subgraph(view.graph, graph, aug.mask.numpy())


def test_edge_drop_p_zero_keeps_everything(graph):
    aug = EdgeDrop(0.0)
    view = aug(graph, gen())
    assert aug.mask.all() and view.graph is graph


@pytest.mark.parametrize("draw", ["exact", "bernoulli"])
@pytest.mark.parametrize("p", [0.1, 0.3])
def test_node_drop_removes_every_edge_of_dropped_nodes(graph, p, draw):
    aug = NodeDrop(p, draw)
    view = aug(graph, gen(2))
    n, u = graph.num_nodes, graph.num_users
    node = aug.mask.numpy()
    assert aug.mask.dtype == torch.bool and aug.mask.shape == (n,)
    if draw == "exact":  # SGL's code: int(n_users * ratio) users and int(n_items * ratio) items
        assert (~node[:u]).sum() == int(u * p)
        assert (~node[u:]).sum() == int(graph.num_items * p)
    else:
        assert abs((~node).mean() - p) < 0.05
    sub = view.graph
    deg = np.asarray((sub.adj != 0).sum(1)).ravel()
    assert (deg[~node] == 0).all()  # dropped nodes are isolated
    # an edge survives iff both its ends survive
    expected = node[graph.users] & node[u + graph.items]
    np.testing.assert_array_equal(aug.edge_mask.numpy(), expected)
    assert_is_renormalised_subgraph(sub, graph, expected)
    # kept nodes keep all edges to kept neighbours: degree counts agree
    full = np.bincount(np.concatenate([graph.users[expected], u + graph.items[expected]]),
                       minlength=n)
    np.testing.assert_array_equal(deg, full)


def test_random_walk_layers_differ_and_each_is_a_subgraph(graph):
    aug = RandomWalk(0.2, layers=3)
    view = aug(graph, gen(3))
    assert aug.mask.shape == (3, len(graph.users)) and aug.mask.dtype == torch.bool
    assert view.graph is graph and len(view.layer_graphs) == 3
    for k in range(3):
        assert_is_renormalised_subgraph(view.layer_graphs[k], graph, aug.mask[k].numpy())
        assert int(aug.mask[k].sum()) == int(len(graph.users) * 0.8)
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert not torch.equal(aug.mask[a], aug.mask[b])
    # each layer really propagates over its own graph
    h = torch.randn(graph.num_nodes, 4)
    for k in range(3):
        torch.testing.assert_close(view.propagate(h, k), view.layer_graphs[k].propagate(h))
    assert not torch.allclose(view.propagate(h, 0), view.propagate(h, 1))


@pytest.mark.parametrize("make", [lambda: EdgeDrop(0.2), lambda: NodeDrop(0.2),
                                  lambda: RandomWalk(0.2, 2)])
def test_seeding(graph, make):
    a, b, c = make(), make(), make()
    a(graph, gen(7))
    b(graph, gen(7))
    c(graph, gen(8))
    assert torch.equal(a.mask, b.mask)
    assert not torch.equal(a.mask, c.mask)
    # the same generator, used twice, gives two different views
    g = gen(7)
    a(graph, g)
    first = a.mask.clone()
    a(graph, g)
    assert not torch.equal(first, a.mask)


@pytest.mark.parametrize("make", [lambda: EdgeDrop(0.2), lambda: NodeDrop(0.2),
                                  lambda: RandomWalk(0.2, 2)])
def test_eval_mode_returns_the_view_unchanged(graph, make):
    aug = make().eval()
    view = aug(graph, gen())
    assert view.graph is graph and view.layer_graphs is None
    assert aug.mask is None
    v0 = View(graph)
    assert aug(v0, gen()) is v0
    out = aug.train()(graph, gen())
    assert out.graph is not graph or out.layer_graphs is not None


def test_applies_to_an_existing_view_and_keeps_its_functions(graph):
    noisy = EmbeddingNoise(0.1)(graph, gen())
    out = EdgeDrop(0.2)(noisy, gen())
    assert out.perturb_fn is noisy.perturb_fn and out.graph is not graph


@pytest.mark.parametrize("aug", [EdgeDrop(0.1), NodeDrop(0.1)])
def test_refuses_views_that_would_ignore_the_graph(graph, aug):
    rw = RandomWalk(0.1, 2)(graph, gen())
    with pytest.raises(ValueError, match="before RandomWalk or SVDView"):
        aug(rw, gen())
    svd = SVDView(rank=3)(graph, gen())
    with pytest.raises(ValueError, match="before RandomWalk or SVDView"):
        aug(svd, gen())


@pytest.mark.parametrize("cls", [EdgeDrop, NodeDrop, RandomWalk])
@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, float("nan")])
def test_rejects_bad_probability(cls, p):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        cls(p)


@pytest.mark.parametrize("p", ["0.1", None, True])
def test_rejects_non_numeric_probability(p):
    with pytest.raises(TypeError, match="p must be a number"):
        EdgeDrop(p)


@pytest.mark.parametrize("layers", [0, -1, 1.5, True])
def test_random_walk_rejects_bad_layers(layers):
    with pytest.raises(ValueError, match="layers must be a positive integer"):
        RandomWalk(0.1, layers)


def test_per_and_repr():
    assert EdgeDrop.per == NodeDrop.per == RandomWalk.per == "epoch"
    assert repr(RandomWalk(0.2, 4)) == "RandomWalk(p=0.2, layers=4, draw='exact')"
    assert repr(NodeDrop(0.3, "bernoulli")) == "NodeDrop(p=0.3, draw='bernoulli')"


@pytest.mark.parametrize("cls", [EdgeDrop, NodeDrop, RandomWalk])
def test_rejects_an_unknown_draw(cls):
    with pytest.raises(ValueError, match="draw must be one of 'exact', 'bernoulli'"):
        cls(0.1, draw="poisson")


def test_exact_draws_are_uniform_over_the_edges(graph):
    """Every interaction is dropped equally often over many exact draws (a fixed count
    chosen uniformly without replacement, not the first or last ones)."""
    aug, g = EdgeDrop(0.3), gen(5)
    dropped = torch.zeros(len(graph.users))
    for _ in range(400):
        aug(graph, g)
        dropped += ~aug.mask
    share = dropped / 400
    assert abs(share.mean().item() - 0.3) < 0.005
    assert share.min().item() > 0.15 and share.max().item() < 0.45
