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


def _reference_loss(m, graph, users, pos, neg, seed):
    """XSimGCL's loss composed from the halves, as the paper's code reads it: the ranking
    loss of :meth:`rec_loss` on the readout, and the cross-layer InfoNCE of the anchors."""
    import torch

    from gcl.losses import cross_layer

    m.new_epoch(graph, torch.Generator().manual_seed(seed))
    layers = m.encoder.propagate(m.augment(graph, m.generator))
    fu, fi = m.encoder.readout(layers)
    out = m.rec_loss(fu, fi, users, pos, neg)
    lu, li = m.encoder.split(layers[m.cl_layer])
    u, i = m.anchors(users), m.anchors(pos)
    cl = cross_layer(fu[u], lu[u], m.temperature) + cross_layer(fi[i], li[i], m.temperature)
    return m.add_cl(out, cl)


@pytest.mark.parametrize("cap,num_neg,text", [(None, 1, False), (2, 3, False), (3, 1, True)])
def test_loss_equals_the_halves_composition_and_its_gradient(small_log, cap, num_neg, text):
    import torch

    from gcl.graph import UIGraph
    from gcl.methods import XSimGCL
    from gcl.methods.text import attach_text
    from tests.nn.test_text_tower import make_branch

    graph = UIGraph.from_interactions(small_log)
    torch.manual_seed(0)
    m = XSimGCL(small_log.num_users, small_log.num_items, dim=8, reg=1e-2, cl_anchors=cap)
    if text:
        attach_text(m, make_branch(num_items=small_log.num_items,
                                   num_users=small_log.num_users, dim=8, rec_weight=0.5))
    m.train()
    users = torch.as_tensor(small_log.users[:8], dtype=torch.long)
    pos = torch.as_tensor(small_log.items[:8], dtype=torch.long)
    neg = (pos.unsqueeze(1) + torch.arange(1, num_neg + 1)) % small_log.num_items
    neg = neg.view(-1) if num_neg == 1 else neg
    weights = [p for p in m.parameters() if p.requires_grad]

    m.new_epoch(graph, torch.Generator().manual_seed(3))
    got = m.loss(graph, users, pos, neg)
    want = _reference_loss(m, graph, users, pos, neg, seed=3)
    assert set(got) == set(want)
    for key in want:  # the forward reads the same rows: equal bit for bit
        assert torch.equal(got[key], want[key]), key
    g_got = torch.autograd.grad(got["loss"], weights, allow_unused=True)
    g_want = torch.autograd.grad(want["loss"], weights, allow_unused=True)
    for a, b in zip(g_got, g_want):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    assert g_got[0].abs().sum() > 0
