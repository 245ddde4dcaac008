"""The text twin tower and the text branch (gcl.nn.text_tower)."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from gcl.nn import LightGCN
from gcl.nn.text_tower import TextBranch, TextInput, TextTower, TwinTower


def make_branch(num_items=6, w=5, dim=4, num_users=3, word_vectors=7, **kwargs):
    torch.manual_seed(0)
    pooled = torch.randn(num_items, w)
    has_text = torch.ones(num_items, dtype=torch.bool)
    has_text[-1] = False
    cold = torch.zeros(num_items, dtype=torch.bool)
    cold[-2:] = True
    return TextBranch(pooled, has_text, cold, torch.randn(word_vectors, w), num_users, dim,
                      **kwargs)


def test_tower_has_three_fully_connected_layers():
    tower = TextTower(5, 4, hidden=8)
    linears = [m for m in tower.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(5, 8), (8, 8), (8, 4)]
    assert tower(torch.randn(2, 5)).shape == (2, 4)


def test_twin_tower_weights_are_shared():
    twin = TwinTower(5, 4, hidden=8).eval()
    assert twin.left is twin.right
    n_one = sum(p.numel() for p in TextTower(5, 4, hidden=8).parameters())
    assert sum(p.numel() for p in twin.parameters()) == n_one
    x1, x2 = torch.randn(3, 5), torch.randn(3, 5)
    z1, z2 = twin(x1, x2)
    assert torch.allclose(z2, twin.left(x2))
    # both views' gradients land on the same weights, and add up there
    w = twin.tower.net[1].weight
    g1 = torch.autograd.grad(twin(x1, x2)[0].sum(), w)[0]
    g2 = torch.autograd.grad(twin(x1, x2)[1].sum(), w)[0]
    z1, z2 = twin(x1, x2)
    assert torch.allclose(torch.autograd.grad(z1.sum() + z2.sum(), w)[0], g1 + g2)


def test_x0_sum_zeroes_cold_ids_and_adds_text():
    b = make_branch()
    table = torch.randn(3 + 6, 4)
    x0 = b.x0(table)
    t = b.text_features()
    assert torch.equal(x0[:3], table[:3])                      # users unchanged
    assert torch.allclose(x0[3:7], table[3:7] + t[:4])         # warm: ID + text
    assert torch.allclose(x0[7], t[4])                         # cold: text alone
    assert torch.equal(x0[8], torch.zeros(4))                  # cold, no text: zero
    assert torch.equal(t[5], torch.zeros(4))
    assert torch.allclose(b.text_embedding()[4], x0[7])


def test_x0_concat():
    b = make_branch(fuse="concat")
    table = torch.randn(9, 4)
    x0 = b.x0(table)
    assert x0.shape == (9, 4)
    t = b.text_features()
    assert torch.allclose(x0[7], b.mix(torch.cat([torch.zeros(4), t[4]])))
    assert torch.allclose(b.text_embedding()[4], x0[7], atol=1e-6)


def test_negatives_prefer_least_co_clicked():
    b = make_branch(num_neg=1)
    # items 0,1 clicked by the same users, item 2 by another user: 0's negative is never 1
    item_user = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1],
                                        [0, 0, 0], [0, 0, 0]], dtype=np.float32))
    b.prepare(item_user)
    neg = b._negatives(np.array([0, 1, 2]), torch.Generator().manual_seed(0))
    assert neg[:, 0].tolist() == [2, 2, 0] or neg[:, 0].tolist() == [2, 2, 1]
    assert neg[0, 0] == 2 and neg[1, 0] == 2


@pytest.mark.parametrize("view,loss", [("autoencoder", "bce"), ("cfm", "bce"),
                                       ("autoencoder", "infonce"), ("cfm", "infonce")])
def test_losses_are_finite_and_train_the_tower(view, loss):
    b = make_branch(view=view, loss=loss, num_neg=2, batch=4)
    b.prepare(sp.random(6, 3, density=0.5, random_state=0, format="csr"))
    gen = torch.Generator().manual_seed(0)
    user_emb = torch.randn(3, 4)
    out = b.loss(user_emb, torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2, 3]),
                 gen)
    assert {"text_cl", "text_bpr", "text"} <= set(out)
    assert ("text_recon" in out) == (view == "autoencoder")
    assert all(torch.isfinite(v) for v in out.values())
    out["text"].backward()
    assert b.tower.net[1].weight.grad.abs().sum() > 0


def test_bad_settings():
    with pytest.raises(ValueError, match="text_fuse"):
        make_branch(fuse="mean")
    with pytest.raises(ValueError, match="text_view"):
        make_branch(view="dropout")
    with pytest.raises(ValueError, match="text_loss"):
        make_branch(loss="mse")
    with pytest.raises(ValueError, match="temperature"):
        make_branch(temperature=0)


def test_text_input_wraps_an_encoder():
    b = make_branch()
    enc = TextInput(LightGCN(3, 6, dim=4, layers=2), b)
    enc.include_input = False
    assert enc.inner.include_input is False and enc.layers == 2
    assert enc.embedding is enc.inner.embedding

    class Empty:  # a graph with no edges: every node isolated
        num_users, num_items, num_nodes = 3, 6, 9

        @staticmethod
        def propagate(h):
            return torch.zeros_like(h)

    users, items = enc(Empty())
    assert users.shape == (3, 4) and items.shape == (6, 4)
    assert torch.allclose(items[4], b.text_embedding()[4])   # cold rows: text alone
    assert torch.equal(items[0], torch.zeros(4))              # warm, isolated here


def test_cold_map_is_the_ridge_solution():
    # items 0..3 warm with words, 4 cold, 5 cold without text; 3 words
    bags = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0],
                                   [1, 0, 1], [0, 0, 0]], dtype=np.float32))
    b = make_branch(num_items=6, w=5, dim=2, word_vectors=3, bags=bags, map_reg=0.5)
    items = torch.tensor([[1.0, 0.0], [2.0, 1.0], [0.0, 3.0], [9.0, 9.0], [5.0, 5.0],
                          [7.0, 7.0]])
    b.fit_map(items)
    # hand: warm items with a word are 0..2; words seen: 0 and 1; mu = mean of rows 0..2
    x = np.array([[1, 0], [1, 1], [0, 1]], float)
    e = items[:3].numpy().astype(float)
    mu = e.mean(0)
    w = np.linalg.solve(x.T @ x + 0.5 * np.eye(2), x.T @ (e - mu))
    np.testing.assert_allclose(b.map_weight[:2].numpy(), w, rtol=1e-5)
    assert torch.equal(b.map_weight[2], torch.zeros(2))       # a word no warm item has
    np.testing.assert_allclose(b.map_bias.numpy(), mu, rtol=1e-6)
    # a cold item gets b^T W + mu; the item without text gets zero
    emb = b.embed_text(b.pooled[4:], b.has_text[4:], bags[4:])
    np.testing.assert_allclose(emb[0].numpy(), w[0] + mu, rtol=1e-5)
    assert torch.equal(emb[1], torch.zeros(2))
    # the dual form (more words than warm items) gives the same map
    wide = sp.hstack([bags, sp.csr_matrix((6, 3))]).tocsr()
    wide[0, 3] = wide[1, 4] = wide[2, 5] = 1
    d = make_branch(num_items=6, w=5, dim=2, word_vectors=6, bags=wide, map_reg=0.5)
    d.fit_map(items)
    xw = wide[:3].toarray()
    wd = np.linalg.solve(xw.T @ xw + 0.5 * np.eye(6), xw.T @ (e - mu))
    np.testing.assert_allclose(d.map_weight.numpy(), wd, rtol=1e-4, atol=1e-6)


def test_eval_readout_uses_the_map_and_training_the_tower():
    bags = sp.csr_matrix(np.eye(6, 7, dtype=np.float32))
    bags[4, 0] = 1
    b = make_branch(bags=bags)
    enc = TextInput(LightGCN(3, 6, dim=4, layers=1), b)

    class Graph:
        num_users, num_items, num_nodes = 3, 6, 9

        @staticmethod
        def propagate(h):
            return h

    enc.train()
    _, items = enc(Graph())
    assert torch.allclose(items[4], b.text_embedding()[4]) and not bool(b.map_fitted)
    enc.eval()
    with torch.no_grad():
        _, items = enc(Graph())
    assert bool(b.map_fitted)
    assert torch.allclose(items[4], b.embed_text(b.pooled[4:5], b.has_text[4:5], bags[4:5])[0])
    tower = make_branch(bags=bags, cold_embedding="tower")
    enc = TextInput(LightGCN(3, 6, dim=4, layers=1), tower).eval()
    with torch.no_grad():
        _, items = enc(Graph())
    assert torch.allclose(items[4], tower.text_embedding()[4])
    with pytest.raises(ValueError, match="text_cold_embedding"):
        make_branch(cold_embedding="knn")
    with pytest.raises(ValueError, match="bags must have shape"):
        make_branch(bags=sp.csr_matrix((6, 3)))


def test_cold_map_keeps_the_most_frequent_words():
    bags = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1], [0, 1, 0],
                                   [1, 0, 1], [0, 0, 0]], dtype=np.float32))
    b = make_branch(dim=2, word_vectors=3, bags=bags, map_max_words=2)
    b.fit_map(torch.randn(6, 2))
    # word 0 is in 3 warm texts, words 1 and 2 in 2 and 1: word 2 is left out (ties: first)
    assert b.map_weight[0].abs().sum() > 0 and b.map_weight[1].abs().sum() > 0
    assert torch.equal(b.map_weight[2], torch.zeros(2))
