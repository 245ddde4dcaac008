import pytest
import torch

from gcl import GraphCLRecommender
from gcl.augment import Compose, EdgeDrop, EmbeddingNoise, NodeMask, RandomChoice
from gcl.graph import UIGraph
from gcl.methods import GraphCLMethod
from gcl.nn import GNNEncoder

from .mixin import MethodContract, clustered_splits


class TestCustomComposition(MethodContract):
    method = "lightgcn"
    kwargs = {"augment": Compose([EdgeDrop(0.1), EmbeddingNoise(0.05)]), "cl_weight": 0.05,
              "temperature": 0.3}

    def test_became_the_custom_method(self, fitted):
        assert fitted.params["method"] == "custom"
        assert isinstance(fitted.method_, GraphCLMethod)
        assert fitted.method_.augment.per == "batch"  # noise is drawn per batch


class TestCustomGNNEncoder(MethodContract):
    method = "custom"
    kwargs = {"encoder": {"conv": "sage"},
              "augment": RandomChoice([EdgeDrop(0.2), NodeMask(0.1)])}

    def test_uses_the_gnn_encoder(self, fitted):
        assert isinstance(fitted.method_.encoder, GNNEncoder)


def test_cl_term_is_weighted_info_nce():
    train = clustered_splits()[0]
    graph = UIGraph.from_interactions(train)
    torch.manual_seed(0)
    m = GraphCLMethod(train.num_users, train.num_items, dim=8, layers=2,
                      augment=EdgeDrop(0.3), cl_weight=0.7, temperature=0.5)
    m.new_epoch(graph, torch.Generator().manual_seed(0))
    users, pos = torch.tensor([0, 1, 1, 2]), torch.tensor([3, 4, 4, 5])
    neg = torch.tensor([[6], [7], [8], [9]])
    out = m.loss(graph, users, pos, neg)
    v1, v2 = m.views(graph)
    (u1, i1), (u2, i2) = m.encoder(v1), m.encoder(v2)

    def nce(a, b):  # a direct transcription of the InfoNCE formula
        a, b = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
        sim = torch.exp(a @ b.T / 0.5)
        return -(torch.log(sim.diag() / sim.sum(1))).mean()

    u, i = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5])
    expected = nce(u1[u], u2[u]) + nce(i1[i], i2[i])
    assert out["cl"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx(
        (out["bpr"] + 1e-4 * out["reg"] + 0.7 * out["cl"]).item(), rel=1e-6)


def test_bad_augment_is_rejected():
    with pytest.raises(TypeError, match="Augmenter"):
        GraphCLRecommender(augment="edge-drop")


def test_module_encoder_cannot_be_saved(tmp_path):
    train = clustered_splits()[0]
    enc = GNNEncoder(train.num_users, train.num_items, 8, 1, conv="gcn")
    rec = GraphCLRecommender(encoder=enc, augment=EdgeDrop(0.1), dim=8, layers=1, epochs=1,
                             device="cpu", progress=False).fit(train)
    with pytest.raises(TypeError, match="cannot be saved"):
        rec.save(tmp_path / "m.pt")


class TestSimGCLWithHeadAndMoCo(MethodContract):
    method = "simgcl"
    kwargs = {"projection_head": 2, "moco": {"size": 32, "momentum": 0.9}}

    def test_queue_is_full_and_saved(self, fitted, tmp_path):
        mo = fitted.method_.momentum
        assert mo.head is not None and not any(p.requires_grad for p in mo.parameters())
        assert len(mo.queues["user"]) == 32 and len(mo.queues["item"]) == 32
        fitted.save(tmp_path / "m.pt")
        loaded = GraphCLRecommender.load(tmp_path / "m.pt").method_.momentum
        assert torch.equal(loaded.queues["item"].keys(), mo.queues["item"].keys())
        assert torch.equal(loaded.encoder.embedding.weight, mo.encoder.embedding.weight)


class TestXSimGCLWithMoCo(MethodContract):
    method = "xsimgcl"
    kwargs = {"moco": {"size": 16}}


def test_moco_keys_come_from_the_key_encoder_and_are_queued():
    train = clustered_splits()[0]
    graph = UIGraph.from_interactions(train)
    m = GraphCLMethod(train.num_users, train.num_items, dim=8, layers=1,
                      augment=EdgeDrop(0.2))
    m.add_momentum({"size": 8, "momentum": 0.5})
    key = m.momentum.encoder.embedding.weight
    with torch.no_grad():
        m.encoder.embedding.weight.add_(1.0)
    before = key.clone()
    m.new_epoch(graph, torch.Generator().manual_seed(0))
    users = torch.tensor([0, 1, 2, 2])
    out = m.loss(graph, users, torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5, 6, 7]))
    torch.testing.assert_close(key, 0.5 * before + 0.5 * m.encoder.embedding.weight)
    assert len(m.momentum.queues["user"]) == 3 and len(m.momentum.queues["item"]) == 4
    assert m.momentum.queues["user"].ids[:3].tolist() == [0, 1, 2]
    out["loss"].backward()
    assert key.grad is None and m.encoder.embedding.weight.grad is not None


def test_moco_is_refused_where_it_cannot_apply():
    with pytest.raises(ValueError, match="lightgcl"):
        GraphCLRecommender(method="lightgcl", device="cpu", progress=False,
                           moco=True).fit(clustered_splits()[0])
    with pytest.raises(ValueError, match="unknown moco"):
        GraphCLRecommender(method="simgcl", device="cpu", progress=False,
                           moco={"length": 8}).fit(clustered_splits()[0])


def test_head_and_moco_fit_a_gnn_encoder_of_another_output_size():
    train, valid, _ = clustered_splits()
    rec = GraphCLRecommender(method="custom", encoder={"conv": "sage", "readout": "concat"},
                             augment=EdgeDrop(0.1), dim=8, layers=1, epochs=1,
                             patience=None, device="cpu", progress=False,
                             projection_head=2, moco={"size": 16})
    rec.fit(train, valid=valid)
    assert rec.user_embeddings().shape[1] == 16  # dim * (layers + 1)
    assert rec.method_.momentum.queues["user"].keys().shape[1] == 16
