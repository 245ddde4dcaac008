import pytest

from .mixin import MethodContract


class TestXSimGCL(MethodContract):
    method = "xsimgcl"


def test_paper_defaults_and_layer_check():
    from gcl.methods import XSimGCL

    m = XSimGCL(10, 10)
    assert (m.eps, m.cl_weight, m.temperature, m.cl_layer) == (0.2, 0.2, 0.15, 1)
    assert m.encoder.layers == 2  # SELFRec's conf/XSimGCL.yaml
    assert m.encoder.embedding.weight[:10].abs().max() <= (6 / (10 + 64)) ** 0.5  # Xavier
    with pytest.raises(ValueError, match="cl_layer"):
        XSimGCL(10, 10, layers=2, cl_layer=3)


def test_moco_queries_layer_l_star_and_keys_the_key_encoders_final_under_the_same_noise():
    import torch

    from gcl.graph import UIGraph
    from gcl.losses import info_nce
    from gcl.methods import XSimGCL
    from tests.methods.test_contrastive import clustered_splits

    train = clustered_splits()[0]
    graph = UIGraph.from_interactions(train)
    torch.manual_seed(0)
    m = XSimGCL(train.num_users, train.num_items, dim=8, layers=2, cl_layer=1)
    m.add_momentum({"size": 64, "momentum": 0.0})  # keys from a copy of the query encoder
    m.new_epoch(graph, torch.Generator().manual_seed(7))
    users, pos, neg = torch.tensor([0, 1, 1, 2]), torch.tensor([3, 4, 5, 4]), torch.tensor([0] * 4)
    out = m.loss(graph, users, pos, neg)
    # By hand: the same noise draws (generator seed 7), the query's layer 1 with gradient
    # against the final embeddings of the identical key pass, which takes none.
    layers = m.encoder.propagate(m.augment(graph, torch.Generator().manual_seed(7)))
    fu, fi = m.encoder.readout(layers)
    lu, li = m.encoder.split(layers[1])
    u, i = users.unique(), pos.unique()
    expected = (info_nce(lu[u], fu[u].detach(), m.temperature)
                + info_nce(li[i], fi[i].detach(), m.temperature))
    assert out["cl"].item() == pytest.approx(expected.item(), rel=1e-5)
    torch.testing.assert_close(m.momentum.queues["item"].keys(), fi[i].detach())
    out["cl"].backward()
    assert m.encoder.embedding.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in m.momentum.parameters())


def test_cl_anchors_caps_the_contrasted_nodes_and_changes_nothing_when_the_batch_is_smaller():
    import torch

    from gcl.graph import UIGraph
    from gcl.losses import cross_layer
    from gcl.methods import XSimGCL
    from tests.methods.test_contrastive import clustered_splits

    train = clustered_splits()[0]
    graph = UIGraph.from_interactions(train)
    users, pos = torch.tensor([0, 1, 1, 2, 5, 6]), torch.tensor([3, 4, 5, 4, 1, 2])
    neg = torch.zeros(6, dtype=torch.long)

    def loss(cap):
        torch.manual_seed(0)
        m = XSimGCL(train.num_users, train.num_items, dim=8, cl_anchors=cap)
        m.new_epoch(graph, torch.Generator().manual_seed(7))
        drawn = []
        anchors = m.anchors
        m.anchors = lambda ids: drawn.append(anchors(ids)) or drawn[-1]
        return m, m.loss(graph, users, pos, neg)["cl"], drawn

    _, full, _ = loss(None)
    _, same, _ = loss(6)
    assert same.item() == full.item()
    m, capped, (u, i) = loss(2)
    assert len(u) == len(i) == 2 and len(set(u.tolist())) == 2
    assert set(u.tolist()) <= {0, 1, 2, 5, 6} and set(i.tolist()) <= {1, 2, 3, 4, 5}
    # By hand on the drawn anchors, under the same noise draws.
    layers = m.encoder.propagate(m.augment(graph, torch.Generator().manual_seed(7)))
    fu, fi = m.encoder.readout(layers)
    lu, li = m.encoder.split(layers[1])
    expected = cross_layer(fu[u], lu[u], m.temperature) + cross_layer(fi[i], li[i], m.temperature)
    assert capped.item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ValueError, match="cl_anchors"):
        XSimGCL(10, 10, cl_anchors=1)
