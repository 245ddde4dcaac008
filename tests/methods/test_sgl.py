import pytest

from gcl.methods import SGLEdge, SGLNode, SGLWalk

from .mixin import MethodContract


class TestSGLEdge(MethodContract):
    method = "sgl-ed"


class TestSGLNode(MethodContract):
    method = "sgl-nd"


class TestSGLWalk(MethodContract):
    method = "sgl-rw"


class TestSGLWithHead(MethodContract):
    method = "sgl-ed"
    kwargs = {"projection_head": 2}


class TestSGLInBatchWithMoCo(MethodContract):
    method = "sgl-ed"
    kwargs = {"negatives": "in-batch", "moco": {"size": 16}}


def test_views_are_made_per_epoch():
    import torch

    from gcl.graph import UIGraph
    from tests.methods.mixin import clustered_splits

    train = clustered_splits()[0]
    graph = UIGraph.from_interactions(train)
    m = SGLEdge(train.num_users, train.num_items, dim=8, layers=2)
    m.new_epoch(graph, torch.Generator().manual_seed(0))
    v1, v2 = m.views(graph)
    assert m.views(graph) == (v1, v2)  # the same two views for every batch of the epoch
    assert v1.graph.num_edges < graph.num_edges and v1.graph is not v2.graph
    m.new_epoch(graph, torch.Generator().manual_seed(1))
    assert m.views(graph)[0] is not v1


def test_reference_defaults_and_validation():
    m = SGLEdge(10, 10)
    assert (m.p, m.cl_weight, m.temperature, m.negatives) == (0.1, 0.1, 0.2, "all")
    assert m.draw == m.augment.draw == "exact"  # SGL's code drops a fixed count
    assert SGLNode(10, 10, draw="bernoulli").augment.draw == "bernoulli"
    assert SGLWalk(10, 10, layers=2).augment.draw == "exact"
    assert m.encoder.layers == 3 and m.reg == 1e-4
    w = m.encoder.embedding.weight
    assert w[:10].abs().max() <= (6 / (10 + 64)) ** 0.5  # Xavier-uniform, users apart
    with pytest.raises(ValueError, match="temperature"):
        SGLEdge(10, 10, temperature=0)
    with pytest.raises(ValueError, match="negatives"):
        SGLEdge(10, 10, negatives="batch")
    for negatives in ("all", "joint"):
        with pytest.raises(ValueError, match="negatives='in-batch'"):
            SGLEdge(10, 10, negatives=negatives).add_momentum(True)


def test_contrast_is_sgl_torchs_infonce_against_all_nodes_by_hand():
    import math

    import torch

    from gcl.losses import info_nce

    gen = torch.Generator().manual_seed(0)
    z1 = (torch.randn(5, 3, generator=gen, dtype=torch.float64),
          torch.randn(4, 3, generator=gen, dtype=torch.float64))
    z2 = (torch.randn(5, 3, generator=gen, dtype=torch.float64),
          torch.randn(4, 3, generator=gen, dtype=torch.float64))
    users, pos = torch.tensor([0, 2, 2]), torch.tensor([1, 1, 3])
    tau = 0.2

    def side(a, b, rows):  # SGL-Torch: one anchor per batch row, all nodes of view 2
        total = 0.0
        for r in rows.tolist():
            cos = [torch.nn.functional.cosine_similarity(a[r], b[j], dim=0).item()
                   for j in range(len(b))]
            total -= math.log(math.exp(cos[r] / tau) / sum(math.exp(c / tau) for c in cos))
        return total / len(rows)

    m = SGLEdge(5, 4, dim=3, temperature=tau)
    want = side(z1[0], z2[0], users) + side(z1[1], z2[1], pos)
    assert m.contrast(z1, z2, users, pos).item() == pytest.approx(want, rel=1e-9)
    # The variant: unique users and items of the batch, in-batch negatives.
    m = SGLEdge(5, 4, dim=3, temperature=tau, negatives="in-batch")
    batch = (info_nce(z1[0][users.unique()], z2[0][users.unique()], tau)
             + info_nce(z1[1][pos.unique()], z2[1][pos.unique()], tau))
    assert m.contrast(z1, z2, users, pos).item() == pytest.approx(batch.item(), rel=1e-9)
    # SELFRec's form: the unique users and items in one InfoNCE, users and items negatives
    # of each other, by hand.
    m = SGLEdge(5, 4, dim=3, temperature=tau, negatives="joint")
    a = torch.cat([z1[0][users.unique()], z1[1][pos.unique()]])
    b = torch.cat([z2[0][users.unique()], z2[1][pos.unique()]])
    total = 0.0
    for r in range(len(a)):
        cos = [torch.nn.functional.cosine_similarity(a[r], b[j], dim=0).item()
               for j in range(len(b))]
        total -= math.log(math.exp(cos[r] / tau) / sum(math.exp(c / tau) for c in cos))
    assert m.contrast(z1, z2, users, pos).item() == pytest.approx(total / len(a), rel=1e-9)
