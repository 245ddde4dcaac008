import pytest
import torch
import torch.nn.functional as F

from gcl.graph import UIGraph
from gcl.methods import NCL
from gcl.methods.ncl import kmeans

from .mixin import MethodContract, clustered_splits


class TestNCL(MethodContract):
    method = "ncl"


class TestNCLWithPrototypes(MethodContract):
    method = "ncl"
    kwargs = {"warm_up": 2, "num_clusters": 4, "cl_weight": 1e-3, "proto_weight": 1e-3}

    def test_prototypes_join_after_the_warm_up(self, fitted):
        parts = [("proto" in h) for h in fitted.history_]
        assert parts == [False, False] + [True] * (len(parts) - 2)


def test_kmeans_finds_separated_clusters():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = (centres.repeat_interleave(20, 0) + 0.1 * torch.randn(60, 2, generator=gen))
    found, assign = kmeans(x, 3, generator=torch.Generator().manual_seed(1))
    assert len(set(assign.tolist())) == 3
    for c in range(3):  # each true cluster is one found cluster, its centroid near the mean
        group = assign[c * 20:(c + 1) * 20]
        assert (group == group[0]).all()
        torch.testing.assert_close(found[group[0]], x[c * 20:(c + 1) * 20].mean(0))
    assert kmeans(x[:2], 5)[0].shape == (2, 2)  # at most one cluster per row


def _ref_nce(anchor, positive, everything, tau):
    """RecBole-GNN ncl.py's ssl_layer_loss / ProtoNCE_loss for one node type (a sum)."""
    a, p, allv = F.normalize(anchor), F.normalize(positive), F.normalize(everything)
    pos = torch.exp((a * p).sum(1) / tau)
    ttl = torch.exp(a @ allv.T / tau).sum(1)
    return -torch.log(pos / ttl).sum()


def test_loss_is_the_reference_formula():
    train = clustered_splits()[0]
    graph = UIGraph.from_interactions(train)
    torch.manual_seed(0)
    m = NCL(train.num_users, train.num_items, dim=8, layers=1, hyper_layers=1, warm_up=0,
            num_clusters=5, alpha=0.5, cl_weight=0.1, proto_weight=0.2)
    assert (NCL(3, 3).cl_weight, NCL(3, 3).proto_weight, NCL(3, 3).temperature,
            NCL(3, 3).encoder.layers, NCL(3, 3).num_clusters) == (1e-7, 8e-8, 0.1, 3, 1000)
    m.new_epoch(graph, torch.Generator().manual_seed(0))
    users, pos, neg = torch.tensor([0, 5, 5]), torch.tensor([2, 2, 7]), torch.tensor([1, 3, 4])
    out = m.loss(graph, users, pos, neg)
    # layer 2 although the readout has 1 layer: NCL propagates max(layers, 2k) times
    e0 = m.encoder.embedding.weight
    e2 = graph.propagate(graph.propagate(e0))
    n_u = train.num_users
    tau = 0.1
    ssl = _ref_nce(e2[:n_u][users], e0[:n_u][users], e0[:n_u], tau) \
        + 0.5 * _ref_nce(e2[n_u:][pos], e0[n_u:][pos], e0[n_u:], tau)
    (cu, au), (ci, ai) = m.prototypes
    cu, ci = F.normalize(cu), F.normalize(ci)  # RecBole normalises the centroids
    proto = _ref_nce(e0[:n_u][users], cu[au[users]], cu, tau) \
        + _ref_nce(e0[n_u:][pos], ci[ai[pos]], ci, tau)
    torch.testing.assert_close(out["cl"], ssl)
    torch.testing.assert_close(out["proto"], proto)
    torch.testing.assert_close(out["loss"], out["bpr"] + m.reg * out["reg"] + 0.1 * ssl
                               + 0.2 * proto)


def test_validation_and_what_it_refuses():
    with pytest.raises(ValueError, match="temperature"):
        NCL(3, 3, temperature=0)
    with pytest.raises(ValueError, match="hyper_layers"):
        NCL(3, 3, hyper_layers=0)
    with pytest.raises(ValueError, match="moco"):
        NCL(3, 3).add_momentum(True)
