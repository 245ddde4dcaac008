import pytest
import torch

from gcl import GraphCLRecommender
from gcl.graph import UIGraph
from gcl.methods import SeqCL, SeqGraphCL

from .mixin import MethodContract, clustered_splits


class TestSeqCL(MethodContract):
    method = "seq-cl"

    def test_trains_on_one_sequence_per_user(self, fitted, splits):
        method = fitted.method_
        rows = method.epoch_rows(splits[0], torch.Generator().manual_seed(0), 16)
        users = splits[0].users[rows.numpy()]
        assert sorted(users.tolist()) == sorted(set(splits[0].users.tolist()))
        lengths = (method.seqs != -1).sum(1)[torch.from_numpy(users)]
        spans = [int(b.max() - b.min()) for b in lengths.split(16)]
        assert max(spans) <= 2  # batches of similar lengths pad little
        assert method.seqs.shape[0] == splits[0].num_users


class TestSeqCLBidirectionalWithHead(MethodContract):
    method = "seq-cl"
    kwargs = {"causal": False, "projection_head": 2}


class TestSeqGraphCL(MethodContract):
    method = "seq-cl+graph"

    def test_items_come_from_the_graph_encoder(self, fitted):
        u, i = fitted.method_.embeddings(fitted.graph_)
        _, graph_items = fitted.method_.items(fitted.graph_)
        assert torch.equal(i, graph_items)


def test_losses_and_settings():
    train = clustered_splits()[0]
    graph = UIGraph.from_interactions(train)
    m = SeqCL(train.num_users, train.num_items, dim=8, layers=1)
    m.prepare(train, graph)
    m.new_epoch(graph, torch.Generator().manual_seed(0))
    out = m.loss(graph, torch.arange(8), torch.zeros(8, dtype=torch.long), torch.zeros(8))
    assert {"loss", "ce", "cl", "reg"} <= set(out) and torch.isfinite(out["loss"])
    # Full softmax: the cross-entropy of untrained, near-equal scores is near ln(I).
    assert abs(out["ce"].item() - torch.log(torch.tensor(float(train.num_items)))) < 0.5
    with pytest.raises(ValueError, match="moco"):
        GraphCLRecommender(method="seq-cl", device="cpu", progress=False,
                           moco=True).fit(train)
    with pytest.raises(TypeError, match="crop"):
        SeqGraphCL(10, 10, crop=0.5)


def test_ranking_reads_train_then_valid_items():
    import pandas as pd

    from gcl import Interactions

    df = pd.DataFrame({"user": [0, 0, 0, 1, 1, 1], "item": [0, 1, 2, 3, 4, 5],
                       "ts": [1, 2, 3, 1, 2, 3]})
    inter = Interactions.from_pandas(df, timestamp="ts")
    train, valid = inter.split("leave_one_out", valid=False)
    rec = GraphCLRecommender(method="seq-cl", dim=8, layers=1, epochs=1, patience=None,
                             metric="ndcg@2", device="cpu", progress=False).fit(train, valid)
    assert rec.method_.seqs.tolist() == [[0, 1, 2], [3, 4, 5]]
