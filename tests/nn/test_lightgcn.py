import numpy as np
import pytest
import torch

from gcl.graph import UIGraph
from gcl.nn import LightGCN
from tests.test_graph import dense_normalized


@pytest.fixture
def graph(small_log):
    return UIGraph.from_interactions(small_log)


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
def test_forward_is_the_layer_mean_of_dense_propagation(small_log, graph, layers):
    torch.manual_seed(0)
    model = LightGCN(small_log.num_users, small_log.num_items, dim=8, layers=layers)
    users, items = model(graph)
    assert users.shape == (small_log.num_users, 8)
    assert items.shape == (small_log.num_items, 8)
    a = dense_normalized(small_log.num_users, small_log.num_items, small_log.users,
                         small_log.items)
    e = model.embedding.weight.detach().double().numpy()
    layers_ref = [e]
    for _ in range(layers):
        layers_ref.append(a @ layers_ref[-1])
    ref = np.mean(layers_ref, axis=0)
    np.testing.assert_allclose(users.detach().double().numpy(), ref[:small_log.num_users],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(items.detach().double().numpy(), ref[small_log.num_users:],
                               rtol=1e-5, atol=1e-6)
    hs = model.propagate(graph)
    assert len(hs) == layers + 1 and torch.equal(hs[0], model.embedding.weight)
    for h, r in zip(hs, layers_ref):
        np.testing.assert_allclose(h.detach().double().numpy(), r, rtol=1e-5, atol=1e-6)


def test_zero_layers_returns_the_embedding_table(small_log, graph):
    model = LightGCN(small_log.num_users, small_log.num_items, dim=5, layers=0)
    users, items = model(graph)
    w = model.embedding.weight
    assert torch.equal(users, w[:small_log.num_users])
    assert torch.equal(items, w[small_log.num_users:])


def test_init_std_and_shapes():
    torch.manual_seed(0)
    model = LightGCN(300, 200, dim=64, init_std=0.1)
    w = model.embedding.weight
    assert w.shape == (500, 64)
    assert w.std().item() == pytest.approx(0.1, rel=0.05)
    assert abs(w.mean().item()) < 0.01


def test_xavier_init_bounds_users_and_items_apart():
    torch.manual_seed(0)
    w = LightGCN(3000, 1000, dim=64, init_std="xavier").embedding.weight
    users, items = w[:3000], w[3000:]
    for block, n in ((users, 3000), (items, 1000)):
        bound = (6 / (n + 64)) ** 0.5  # Xavier-uniform over each [n, dim] table
        assert block.abs().max().item() <= bound
        assert block.abs().max().item() > 0.99 * bound
        assert block.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.02)


@pytest.mark.parametrize("init_std", [0, -0.1, "normal", True])
def test_bad_init_std_raises(init_std):
    with pytest.raises(ValueError, match="init_std must be a positive float or 'xavier'"):
        LightGCN(10, 10, dim=4, init_std=init_std)


def test_x_replaces_the_table_as_layer_zero(small_log, graph):
    model = LightGCN(small_log.num_users, small_log.num_items, dim=4, layers=3)
    x = torch.randn(small_log.num_users + small_log.num_items, 4)
    hs = model.propagate(graph, x=x)
    assert len(hs) == 4 and torch.equal(hs[0], x)
    a = dense_normalized(small_log.num_users, small_log.num_items, small_log.users,
                         small_log.items)
    ref = [x.double().numpy()]
    for _ in range(3):
        ref.append(a @ ref[-1])
    for h, r in zip(hs, ref):
        np.testing.assert_allclose(h.double().numpy(), r, rtol=1e-5, atol=1e-6)
    users, items = model(graph, x=x)
    np.testing.assert_allclose(torch.cat([users, items]).double().numpy(),
                               np.mean(ref, axis=0), rtol=1e-5, atol=1e-6)


def test_gradients_reach_the_table(small_log, graph):
    model = LightGCN(small_log.num_users, small_log.num_items, dim=4, layers=2)
    users, items = model(graph)
    (users.sum() + 2 * items.sum()).backward()
    a = dense_normalized(small_log.num_users, small_log.num_items, small_log.users,
                         small_log.items)
    g_out = np.concatenate([np.ones(small_log.num_users), 2 * np.ones(small_log.num_items)])
    ref = (g_out + a @ g_out + a @ (a @ g_out)) / 3
    np.testing.assert_allclose(model.embedding.weight.grad[:, 0].double().numpy(), ref,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [{"dim": 0}, {"layers": -1}])
def test_bad_sizes_raise(kwargs):
    with pytest.raises(ValueError, match="dim must be >= 1 and layers >= 0"):
        LightGCN(3, 4, **kwargs)


@pytest.mark.parametrize("precision,dtype,tol", [("bf16", torch.bfloat16, 2e-2),
                                                  ("fp16", torch.float16, 2e-3)])
def test_half_precision_keeps_layers_half_and_readout_float32(small_log, graph, precision,
                                                              dtype, tol):
    from gcl.nn.lightgcn import set_precision

    torch.manual_seed(0)
    model = LightGCN(small_log.num_users, small_log.num_items, dim=8, layers=3)
    full_u, full_i = model(graph)
    set_precision(model, precision)
    layers = model.propagate(graph)
    assert all(h.dtype == dtype for h in layers)
    users, items = model(graph)
    assert users.dtype == items.dtype == torch.float32
    # bf16 keeps 8 significant bits (relative error 2^-8 per rounding), fp16 11 bits;
    # four roundings of values of size ~0.1 stay within these bounds.
    scale = full_u.abs().max().item()
    assert (users - full_u).abs().max().item() < tol * scale
    assert (items - full_i).abs().max().item() < tol * scale
    users.sum().backward()  # the float32 table gets a float32 gradient
    assert model.embedding.weight.grad.dtype == torch.float32
    set_precision(model, "fp32")
    assert model.propagate(graph)[1].dtype == torch.float32


def test_set_precision_rejects_an_unknown_name(small_log):
    from gcl.nn.lightgcn import set_precision

    model = LightGCN(small_log.num_users, small_log.num_items, dim=4)
    with pytest.raises(ValueError, match="unknown precision 'int8'"):
        set_precision(model, "int8")


def test_layer_mean_is_the_mean_with_equal_gradients():
    from gcl.nn.lightgcn import layer_mean

    layers = [torch.randn(5, 3, requires_grad=True) for _ in range(4)]
    out = layer_mean(layers)
    torch.testing.assert_close(out, torch.stack(layers).mean(0))
    out.sum().backward()
    for h in layers:
        torch.testing.assert_close(h.grad, torch.full((5, 3), 0.25))


def _block(graph):
    a = dense_normalized(graph.num_users, graph.num_items, graph.users, graph.items)
    return a[: graph.num_users, graph.num_users:]


def test_graph_svd_is_the_direct_svd_and_computed_once():
    from tests.methods.test_filters import random_log

    graph = UIGraph.from_interactions(random_log(n_users=40, n_items=25))
    u, s, v = graph.svd(6)
    du, ds, dvt = np.linalg.svd(_block(graph))
    np.testing.assert_allclose(s, ds[:6], rtol=1e-6)
    # singular vectors are defined up to sign: compare the rank-6 reconstructions
    np.testing.assert_allclose(u * s @ v.T, du[:, :6] * ds[:6] @ dvt[:6], atol=1e-6)
    stored = graph._svd
    graph.svd(4)
    assert graph._svd is stored  # a smaller rank is cut from the stored factors
    np.testing.assert_array_equal(graph.svd(4)[0], u[:, :4])
    with pytest.raises(ValueError, match="SVD rank"):
        graph.svd(25)


@pytest.mark.parametrize("scale", [0.1, 1.0])
def test_spectral_start_is_the_scaled_svd_and_scores_as_a_low_pass_filter(scale):
    from gcl.nn.lightgcn import set_spectral_start
    from tests.methods.test_filters import random_log

    log = random_log(n_users=40, n_items=25)
    graph = UIGraph.from_interactions(log)
    enc = LightGCN(log.num_users, log.num_items, dim=5, layers=2)
    set_spectral_start(enc, graph, scale)
    w = enc.embedding.weight.detach().double().numpy()
    assert w.std() == pytest.approx(scale, rel=1e-5)
    du, ds, dvt = np.linalg.svd(_block(graph))
    # the sign convention of UIGraph.svd: each v column's largest entry is positive
    flip = np.sign(dvt[np.arange(5), np.abs(dvt[:5]).argmax(1)])
    u5, v5, s5 = du[:, :5] * flip, dvt[:5].T * flip, ds[:5]
    table = np.concatenate([u5, v5]) * np.sqrt(s5)
    c = scale / table.std()
    np.testing.assert_allclose(w, c * table, atol=1e-5)
    # propagation scales each pair by its singular value: the readout's scores are a filter
    with torch.no_grad():
        users, items = enc(graph)
    mean = (1 + s5 + s5 ** 2) / 3
    want = c ** 2 * u5 * (s5 * mean ** 2) @ v5.T
    np.testing.assert_allclose((users @ items.T).double().numpy(), want, atol=1e-5)


def test_spectral_start_needs_a_lightgcn_and_a_good_scale(small_log, graph):
    from gcl.nn.lightgcn import set_spectral_start

    with pytest.raises(ValueError, match="LightGCN encoder"):
        set_spectral_start(torch.nn.Linear(2, 2), graph)
    with pytest.raises(ValueError, match="init_scale"):
        set_spectral_start(LightGCN(small_log.num_users, small_log.num_items), graph, -1.0)
