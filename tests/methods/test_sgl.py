import pytest

from gcl.methods import SGLEdge

from .mixin import MethodContract


class TestSGLEdge(MethodContract):
    method = "sgl-ed"


class TestSGLNode(MethodContract):
    method = "sgl-nd"


class TestSGLWalk(MethodContract):
    method = "sgl-rw"


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


def test_paper_defaults_and_validation():
    m = SGLEdge(10, 10)
    assert (m.p, m.cl_weight, m.temperature) == (0.1, 0.1, 0.2)
    with pytest.raises(ValueError, match="temperature"):
        SGLEdge(10, 10, temperature=0)
