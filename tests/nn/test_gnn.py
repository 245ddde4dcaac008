import gc

import numpy as np
import pytest
import torch
from torch_geometric.nn import GraphConv, LGConv

from gcl.augment.edge import EdgeDrop, NodeDrop, RandomWalk
from gcl.augment.feature import NodeMask
from gcl.augment.noise import EmbeddingNoise
from gcl.augment.svd import SVDView
from gcl.graph import UIGraph
from gcl.nn.gnn import _EDGE_CACHE, CONV_NAMES, GNNEncoder, ui_edge_index
from gcl.nn.lightgcn import LightGCN
from gcl.view import View
from tests.test_graph import dense_normalized

DIM = 8


@pytest.fixture
def graph(small_log):
    return UIGraph.from_interactions(small_log)


def make(log, **kwargs):
    torch.manual_seed(0)
    return GNNEncoder(log.num_users, log.num_items, **{"dim": DIM, **kwargs})


def lightgcn_like(log, enc, layers):
    ref = LightGCN(log.num_users, log.num_items, dim=DIM, layers=layers)
    with torch.no_grad():
        ref.embedding.weight.copy_(enc.embedding.weight)
    return ref


def close(a, b, tol=1e-5):
    torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("conv", CONV_NAMES)
def test_every_conv_has_shapes_finite_outputs_and_gradients(small_log, graph, conv):
    enc = make(small_log, conv=conv, layers=2)
    users, items = enc(graph)
    assert users.shape == (small_log.num_users, DIM)
    assert items.shape == (small_log.num_items, DIM)
    assert torch.isfinite(users).all() and torch.isfinite(items).all()
    hs = enc.propagate(graph)
    assert len(hs) == 3 and all(h.shape == (graph.num_nodes, DIM) for h in hs)
    (users.pow(2).sum() + items.pow(2).sum()).backward()
    g = enc.embedding.weight.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0
    conv_params = list(enc.convs.parameters())
    if conv in ("lgconv", "lightgcn"):
        assert conv_params == []
    else:
        assert conv_params
        for p in conv_params:
            assert p.grad is not None and torch.isfinite(p.grad).all()
        # every layer's weights get a signal
        for layer in enc.convs:
            assert sum(p.grad.abs().sum() for p in layer.parameters()) > 0


@pytest.mark.parametrize("conv", ["lgconv", "lightgcn"])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("act", ["relu", None])
def test_lgconv_equals_lightgcn(small_log, graph, conv, layers, act):
    enc = make(small_log, conv=conv, layers=layers, act=act)
    assert enc.act is None  # linear by design, whatever act says
    ref = lightgcn_like(small_log, enc, layers)
    for a, b in zip(enc(graph), ref(graph)):
        close(a, b)
    for a, b in zip(enc.propagate(graph), ref.propagate(graph)):
        close(a, b)


def test_lgconv_matches_dense_normalized_adjacency(small_log, graph):
    enc = make(small_log, conv="lgconv", layers=2)
    a = torch.from_numpy(dense_normalized(small_log.num_users, small_log.num_items,
                                          small_log.users, small_log.items)).float()
    e = enc.embedding.weight.detach()
    ref = torch.stack([e, a @ e, a @ a @ e]).mean(0)
    users, items = enc(graph)
    close(torch.cat([users, items]).detach(), ref)


def test_gcn_uses_the_normalized_adjacency_without_self_loops(small_log, graph):
    enc = make(small_log, conv="gcn", layers=1, readout="last")
    a = torch.from_numpy(dense_normalized(small_log.num_users, small_log.num_items,
                                          small_log.users, small_log.items)).float()
    conv = enc.convs[0]
    ref = a @ conv.lin(enc.embedding.weight) + conv.bias
    close(torch.cat(enc(graph)).detach(), ref.detach())
    # normalize=True lets GCNConv add self-loops and normalise itself: a different operator
    self_norm = make(small_log, conv="gcn", layers=1, readout="last", normalize=True)
    self_norm.load_state_dict(enc.state_dict())
    assert not torch.allclose(torch.cat(self_norm(graph)), torch.cat(enc(graph)))


def test_act_between_layers_not_after_the_last(small_log, graph):
    enc = make(small_log, conv="gcn", layers=2, act="relu")
    hs = enc.propagate(graph)
    assert (hs[1] >= 0).all()
    assert (hs[2] < 0).any()
    no_act = make(small_log, conv="gcn", layers=2, act=None)
    assert (no_act.propagate(graph)[1] < 0).any()


def test_readouts(small_log, graph):
    enc = make(small_log, conv="sage", layers=3, readout="concat")
    assert enc.out_dim == DIM * 4
    users, items = enc(graph)
    assert users.shape == (small_log.num_users, DIM * 4)
    assert items.shape == (small_log.num_items, DIM * 4)
    hs = enc.propagate(graph)
    close(torch.cat([users, items]), torch.cat(hs, dim=-1))
    enc.include_input = False
    assert enc.out_dim == DIM * 3 and enc(graph)[0].shape[1] == DIM * 3

    last = make(small_log, conv="sage", layers=3, readout="last")
    close(torch.cat(last(graph)), last.propagate(graph)[-1])
    mean = make(small_log, conv="sage", layers=3)
    hs = mean.propagate(graph)
    close(torch.cat(mean(graph)), torch.stack(hs).mean(0))
    mean.include_input = False
    close(torch.cat(mean(graph)), torch.stack(hs[1:]).mean(0))
    close(torch.cat(mean.readout(hs)), torch.stack(hs[1:]).mean(0))
    with pytest.raises(ValueError, match="readout"):
        make(small_log, readout="max")


def test_node_features_change_the_output(small_log, graph):
    n = small_log.num_users + small_log.num_items
    plain = make(small_log, conv="gcn")
    feats = make(small_log, conv="gcn", node_features=torch.randn(n, 5))
    feats.load_state_dict({**plain.state_dict(), **{k: v for k, v in feats.state_dict().items()
                                                    if k not in plain.state_dict()}})
    assert not torch.allclose(feats(graph)[0], plain(graph)[0])
    h0 = feats.propagate(graph)[0]
    close(h0, plain.embedding.weight + feats.feature_proj(feats.node_features))
    feats(graph)[1].sum().backward()
    assert feats.feature_proj.weight.grad is not None
    assert feats.feature_proj.weight.grad.abs().sum() > 0


def test_item_only_features_give_users_zeros(small_log, graph):
    u, i = small_log.num_users, small_log.num_items
    enc = make(small_log, conv="gcn", node_features=torch.randn(i, 3))
    h0 = enc.propagate(graph)[0]
    w = enc.embedding.weight
    assert torch.equal(h0[:u], w[:u])  # no feature term, not even the projection's bias
    assert not torch.allclose(h0[u:], w[u:])
    close(h0[u:], w[u:] + enc.feature_proj(enc.node_features))


def test_bad_node_features_raise(small_log):
    with pytest.raises(ValueError, match="node_features"):
        make(small_log, node_features=torch.randn(small_log.num_items + 1, 3))
    with pytest.raises(TypeError, match="float"):
        make(small_log, node_features=torch.ones(small_log.num_items, 3, dtype=torch.long))


def test_custom_callable_conv(small_log, graph):
    calls = []

    def factory(in_dim, out_dim):
        calls.append((in_dim, out_dim))
        return GraphConv(in_dim, out_dim)

    enc = make(small_log, conv=factory, layers=3)
    assert calls == [(DIM, DIM)] * 3
    users, items = enc(graph)
    assert users.shape == (small_log.num_users, DIM) and torch.isfinite(users).all()
    items.sum().backward()
    assert all(p.grad is not None for p in enc.convs.parameters())
    # a self-normalising LGConv() gets no weights and still computes LightGCN
    lg = make(small_log, conv=lambda i, o: LGConv(), layers=2, act=None)
    for a, b in zip(lg(graph), lightgcn_like(small_log, lg, 2)(graph)):
        close(a, b)
    with pytest.raises(TypeError, match="conv_kwargs"):
        make(small_log, conv=factory, heads=2)


def test_unknown_conv_raises(small_log):
    with pytest.raises(ValueError, match="unknown conv 'gin'") as e:
        make(small_log, conv="gin")
    for name in CONV_NAMES:
        assert name in str(e.value)
    with pytest.raises(TypeError):
        make(small_log, conv=3)


def test_gat_heads_keep_the_width(small_log, graph):
    enc = make(small_log, conv="gat", heads=3)
    assert enc.convs[0].heads == 3 and enc(graph)[0].shape == (small_log.num_users, DIM)
    with pytest.raises(ValueError, match="concat"):
        make(small_log, conv="gat", heads=2, concat=True)


def test_view_input_and_perturb_are_honoured(small_log, graph):
    enc = make(small_log, conv="lgconv", layers=2)
    zero = View(graph).add_input(torch.zeros_like)
    users, items = enc(zero)
    assert torch.equal(users, torch.zeros_like(users))
    assert torch.equal(items, torch.zeros_like(items))

    shift = View(graph).add_perturb(lambda h, k: h + (k + 1))
    ref = lightgcn_like(small_log, enc, 2)
    for a, b in zip(enc.propagate(shift), ref.propagate(shift)):
        close(a, b)
    assert not torch.allclose(enc(shift)[0], enc(graph)[0])
    # the perturbation comes after the nonlinearity: noise survives a ReLU
    gcn = make(small_log, conv="gcn", layers=2)
    assert (gcn.propagate(View(graph).add_perturb(lambda h, k: h - 10))[1] < 0).all()


def test_view_layer_graphs_are_honoured(small_log, graph):
    rng = np.random.default_rng(0)
    sub = [graph.subgraph(rng.random(len(graph.users)) < 0.6) for _ in range(2)]
    view = View(graph, layer_graphs=sub)
    enc = make(small_log, conv="lgconv", layers=3)
    ref = lightgcn_like(small_log, enc, 3)
    for a, b in zip(enc.propagate(view), ref.propagate(view)):
        close(a, b)
    assert not torch.allclose(enc(view)[0], enc(graph)[0])


def test_view_propagate_fn_replaces_the_conv(small_log, graph):
    enc = make(small_log, conv="gcn", layers=2, act=None)
    view = View(graph, propagate_fn=lambda h, k: 0.5 * h)
    hs = enc.propagate(view)
    w = enc.embedding.weight
    close(hs[1], 0.5 * w)
    close(hs[2], 0.25 * w)
    enc(view)[0].sum().backward()
    assert all(p.grad is None for p in enc.convs.parameters())


def test_edge_index_is_cached_per_graph(small_log, graph):
    ei, w = ui_edge_index(graph)
    again = ui_edge_index(graph)
    assert again[0] is ei and again[1] is w
    assert ei.device == graph.device and ei.dtype == torch.long
    assert ei.shape == (2, graph.num_edges) and w.shape == (graph.num_edges,)
    # both directions of each distinct pair, weights from graph.adj
    adj = graph.adj.toarray()
    assert np.allclose(adj[ei[1].numpy(), ei[0].numpy()], w.numpy())
    assert np.allclose(adj, adj.T) and (adj[ei[0].numpy(), ei[1].numpy()] > 0).all()
    enc = make(small_log, conv="gcn")
    enc(graph)
    enc(graph)
    assert _EDGE_CACHE[graph][0] is ei
    # a new graph object gets its own entry, dropped when the graph goes away
    sub = graph.subgraph(np.arange(len(graph.users)) % 2 == 0)
    enc(View(graph, layer_graphs=[sub]))
    assert sub in _EDGE_CACHE
    before = len(_EDGE_CACHE)
    del sub
    gc.collect()
    assert len(_EDGE_CACHE) == before - 1


def test_dropout_only_in_training(small_log, graph):
    enc = make(small_log, conv="gcn", layers=3, dropout=0.5)
    enc.train()
    torch.manual_seed(1)
    a = enc(graph)[0]
    torch.manual_seed(2)
    b = enc(graph)[0]
    assert not torch.allclose(a, b)
    enc.eval()
    close(enc(graph)[0], enc(graph)[0], tol=0)
    assert torch.equal(enc.propagate(graph)[0], enc.embedding.weight)


def test_x_replaces_layer_zero_and_layers_zero(small_log, graph):
    enc = make(small_log, conv="sage", layers=2, node_features=torch.randn(small_log.num_items, 2))
    x = torch.randn(graph.num_nodes, DIM)
    assert torch.equal(enc.propagate(graph, x)[0], x)
    flat = make(small_log, conv="gcn", layers=0)
    assert len(flat.convs) == 0
    users, _ = flat(graph)
    assert torch.equal(users, flat.embedding.weight[: small_log.num_users])
    with pytest.raises(ValueError):
        make(small_log, layers=-1)


def test_init_std():
    torch.manual_seed(0)
    enc = GNNEncoder(300, 200, dim=64)
    assert enc.embedding.weight.shape == (500, 64)
    assert enc.embedding.weight.std().item() == pytest.approx(0.1, rel=0.05)


def test_trains_in_a_contrastive_method(small_log, graph):
    from gcl.methods import GraphCLMethod

    class Noise:  # a minimal augmenter: SimGCL-style noise on each layer
        per = "batch"

        def __call__(self, g, generator=None):
            return View.of(g).add_perturb(lambda h, k: h + 0.1 * torch.randn_like(h))

        def train(self, mode=True):
            return self

    enc = GNNEncoder(small_log.num_users, small_log.num_items, dim=DIM, conv="gat", heads=2)
    m = GraphCLMethod(small_log.num_users, small_log.num_items, dim=DIM, augment=Noise(),
                      encoder=enc)
    users = torch.arange(4)
    pos = torch.from_numpy(small_log.items[:4])
    neg = torch.randint(small_log.num_items, (4,))
    out = m.loss(graph, users, pos, neg)
    assert torch.isfinite(out["loss"]) and "cl" in out
    out["loss"].backward()
    assert enc.convs[0].lin.weight.grad is not None


@pytest.mark.parametrize("make_aug", [
    lambda: EdgeDrop(0.2), lambda: NodeDrop(0.2), lambda: RandomWalk(0.2, layers=3),
    lambda: NodeMask(0.2), lambda: EmbeddingNoise(0.1), lambda: SVDView(3)])
def test_the_package_augmenters_match_lightgcn_with_lgconv(small_log, graph, make_aug):
    def view():  # the same view twice: views may carry and advance their generator
        return make_aug()(graph, torch.Generator().manual_seed(0))

    enc = make(small_log, conv="lgconv", layers=3)
    ref = lightgcn_like(small_log, enc, 3)
    for a, b in zip(enc.propagate(view()), ref.propagate(view())):
        close(a, b)
    gcn = make(small_log, conv="gcn", layers=3)
    users, items = gcn(view())
    assert torch.isfinite(users).all() and torch.isfinite(items).all()
