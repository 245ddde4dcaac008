import pytest
import torch

from gcl.graph import UIGraph
from gcl.methods import LightGCL

from .mixin import MethodContract, clustered_splits


class TestLightGCL(MethodContract):
    method = "lightgcl"
    kwargs = {"rank": 4}


class TestLightGCLVariants(MethodContract):
    method = "lightgcl"
    kwargs = {"rank": 4, "readout": "mean", "item_anchors": "pos"}


def test_reference_defaults_and_validation():
    m = LightGCL(10, 10)
    assert (m.encoder.layers, m.reg, m.rank, m.cl_weight, m.temperature) == (2, 1e-7, 5, 0.2,
                                                                            0.2)
    assert (m.readout, m.item_anchors) == ("sum", "pos+neg")
    assert m.encoder.embedding.weight[:10].abs().max() <= (6 / (10 + 64)) ** 0.5  # Xavier
    with pytest.raises(ValueError, match="readout"):
        LightGCL(10, 10, readout="max")
    with pytest.raises(ValueError, match="item_anchors"):
        LightGCL(10, 10, item_anchors="neg")


def test_loss_is_the_reference_formula():
    """HKUDS/LightGCL model.py, line by line: BPR on the layer sums, the contrastive loss
    over the batch's users and its positive and negative items (repeats kept), and
    1e-7 times the squared norm of the whole table."""
    train = clustered_splits()[0]
    graph = UIGraph.from_interactions(train)
    torch.manual_seed(0)
    m = LightGCL(train.num_users, train.num_items, dim=8, rank=4)
    m.new_epoch(graph, torch.Generator().manual_seed(0))
    users, pos, neg = torch.tensor([0, 3, 3, 7]), torch.tensor([1, 2, 2, 5]), \
        torch.tensor([9, 8, 1, 0])
    out = m.loss(graph, users, pos, neg)

    layers = m.encoder.propagate(graph)
    svd = m.augment(graph, m.generator)
    g_layers = [layers[0]] + [svd.propagate(h, k) for k, h in enumerate(layers[:-1])]
    e_u, e_i = m.encoder.split(sum(layers))
    g_u, g_i = m.encoder.split(sum(g_layers))
    iids = torch.cat([pos, neg])
    t = m.temperature
    neg_score = torch.log(torch.exp(g_u[users] @ e_u.T / t).sum(1)).mean() \
        + torch.log(torch.exp(g_i[iids] @ e_i.T / t).sum(1)).mean()
    pos_score = torch.clamp((g_u[users] * e_u[users]).sum(1) / t, -5, 5).mean() \
        + torch.clamp((g_i[iids] * e_i[iids]).sum(1) / t, -5, 5).mean()
    loss_r = -((e_u[users] * e_i[pos]).sum(-1) - (e_u[users] * e_i[neg]).sum(-1)) \
        .sigmoid().log().mean()
    loss_reg = 1e-7 * m.encoder.embedding.weight.norm(2).square()
    torch.testing.assert_close(out["cl"], neg_score - pos_score)
    torch.testing.assert_close(out["bpr"], loss_r)
    torch.testing.assert_close(out["loss"], loss_r + 0.2 * (neg_score - pos_score) + loss_reg)
    m.eval()
    torch.testing.assert_close(m.embeddings(graph)[0], e_u)  # ranking on the sums too
