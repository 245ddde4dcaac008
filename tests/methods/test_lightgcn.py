import numpy as np
import pytest
import torch

from gcl.graph import UIGraph
from gcl.methods import METHODS, LightGCNMethod, build_method
from tests.test_graph import dense_normalized


def softplus(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(x))


def hand_loss(method: LightGCNMethod, inter, users, pos, neg) -> dict:
    """BPR on the dense layer-mean embeddings + reg * L2 on the layer-0 rows, in float64."""
    nu = inter.num_users
    a = dense_normalized(nu, inter.num_items, inter.users, inter.items)
    w = method.encoder.embedding.weight.detach().double().numpy()
    hs = [w]
    for _ in range(method.encoder.layers):
        hs.append(a @ hs[-1])
    e = np.mean(hs, axis=0)
    ue, ie = e[:nu], e[nu:]
    neg = neg.reshape(len(users), -1)
    terms = []
    for b, (u, p) in enumerate(zip(users, pos)):
        s_pos = ue[u] @ ie[p]
        terms += [softplus(ue[u] @ ie[n] - s_pos) for n in neg[b]]
    rec = float(np.mean(terms))
    sq = sum(float(w[u] @ w[u]) for u in users) + sum(float(w[nu + p] @ w[nu + p]) for p in pos)
    sq += sum(float(w[nu + n] @ w[nu + n]) for n in neg.ravel())
    reg = sq / (2 * len(users))
    return {"bpr": rec, "reg": reg, "loss": rec + method.reg * reg}


@pytest.mark.parametrize("num_neg", [1, 3])
@pytest.mark.parametrize("layers", [0, 2])
def test_loss_is_bpr_plus_reg_times_l2_on_layer_zero(small_log, num_neg, layers):
    torch.manual_seed(0)
    method = LightGCNMethod(small_log.num_users, small_log.num_items, dim=6, layers=layers,
                            reg=0.5)
    graph = UIGraph.from_interactions(small_log)
    gen = np.random.default_rng(0)
    users = np.array([0, 3, 3, 7, 11])  # a repeated user counts twice
    pos = gen.integers(0, small_log.num_items, size=5)
    neg = gen.integers(0, small_log.num_items, size=(5, num_neg))
    neg_t = torch.from_numpy(neg if num_neg > 1 else neg[:, 0])
    got = method.loss(graph, torch.from_numpy(users), torch.from_numpy(pos), neg_t)
    want = hand_loss(method, small_log, users, pos, neg)
    assert set(got) == {"loss", "bpr", "reg"}
    for name, v in want.items():
        assert got[name].dim() == 0
        assert got[name].item() == pytest.approx(v, rel=1e-5), name


def test_loss_gradient_of_reg_only_touches_batch_rows(small_log):
    method = LightGCNMethod(small_log.num_users, small_log.num_items, dim=4, layers=1,
                            reg=1.0)
    graph = UIGraph.from_interactions(small_log)
    users, pos, neg = torch.tensor([1, 2]), torch.tensor([0, 5]), torch.tensor([3, 4])
    method.loss(graph, users, pos, neg)["reg"].backward()
    w = method.encoder.embedding.weight
    nu = small_log.num_users
    rows = [1, 2, nu + 0, nu + 5, nu + 3, nu + 4]
    expected = torch.zeros_like(w)
    expected[rows] = w.detach()[rows] / 2  # d/dw of |w|^2 / (2B), B = 2
    torch.testing.assert_close(w.grad, expected)


def test_embeddings_are_the_encoder_output(small_log):
    method = LightGCNMethod(small_log.num_users, small_log.num_items, dim=4, layers=2)
    graph = UIGraph.from_interactions(small_log)
    u, i = method.embeddings(graph)
    u2, i2 = method.encoder(graph)
    assert torch.equal(u, u2) and torch.equal(i, i2)
    assert u.shape == (small_log.num_users, 4) and i.shape == (small_log.num_items, 4)


def test_defaults_and_registry():
    method = build_method("LightGCN", 5, 7)
    assert isinstance(method, LightGCNMethod) and METHODS["lightgcn"] is LightGCNMethod
    assert method.trainable and method.reg == 1e-4
    assert method.encoder.layers == 3 and method.encoder.embedding.weight.shape == (12, 64)
    method = build_method("lightgcn", 5, 7, dim=8, layers=1, reg=0.1)
    assert method.encoder.embedding.weight.shape == (12, 8) and method.reg == 0.1
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        build_method("nope", 5, 7)


@pytest.mark.parametrize("layers", [1, 3])
def test_rows_only_last_layer_gives_the_full_propagations_loss_and_gradients(small_log, layers,
                                                                            monkeypatch):
    torch.manual_seed(0)
    graph = UIGraph.from_interactions(small_log)
    method = LightGCNMethod(small_log.num_users, small_log.num_items, dim=6, layers=layers)
    assert method.rows_only(graph)
    monkeypatch.setattr("gcl.methods.lightgcn.ROWS_ONLY_MAX", 2.0)  # a tiny graph: always
    calls = []
    readout_rows = method.encoder.readout_rows
    monkeypatch.setattr(method.encoder, "readout_rows",
                        lambda *a: calls.append(1) or readout_rows(*a))
    users = torch.tensor([0, 1, 1, 3])
    pos = torch.tensor([0, 2, 2, 1])
    neg = torch.tensor([[3, 1], [0, 0], [1, 3], [2, 0]])
    rows = method.loss(graph, users, pos, neg)
    rows["loss"].backward()
    assert calls == [1]
    grad_rows = method.encoder.embedding.weight.grad.clone()
    method.encoder.embedding.weight.grad = None
    full = method.rec_loss(*method.encoder(graph), users, pos, neg)
    full["loss"].backward()
    for key in ("loss", "bpr", "reg"):
        torch.testing.assert_close(rows[key], full[key], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(grad_rows, method.encoder.embedding.weight.grad,
                               rtol=1e-5, atol=1e-7)
