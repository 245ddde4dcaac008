import pytest
import torch

from gcl import GraphCLRecommender
from gcl.graph import UIGraph
from gcl.methods import SeqCL, SeqGraphCL

from .mixin import MethodContract, clustered_splits


class TestSeqCL(MethodContract):
    method = "seq-cl"
    # The reference's dropout 0.5 does not beat popularity on 80 users in 8 epochs.
    kwargs = {"dropout": 0.2}

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


def test_one_row_per_user_per_epoch_on_a_log_not_grouped_by_user():
    import numpy as np
    import pandas as pd

    from gcl import Interactions

    df = pd.DataFrame({"user": [0, 1, 0, 2, 1, 0, 2, 1], "item": [0, 1, 2, 3, 4, 5, 6, 7],
                       "ts": [1, 1, 2, 1, 2, 3, 2, 3]})
    log = Interactions.from_pandas(df, timestamp="ts")
    train, valid = log.split("leave_one_out", valid=False)
    for ungrouped in (log.select(np.random.default_rng(0).permutation(len(log))),
                      train.concat(valid)):  # each user in two runs of rows
        assert (np.diff(ungrouped.users) != 0).sum() > 2
        graph = UIGraph.from_interactions(ungrouped)
        m = SeqCL(ungrouped.num_users, ungrouped.num_items, dim=8, layers=1)
        m.prepare(ungrouped, graph)
        rows = m.epoch_rows(ungrouped, torch.Generator().manual_seed(0), 2)
        assert sorted(ungrouped.users[rows.numpy()].tolist()) == [0, 1, 2]


def test_cl_loss_is_nt_xent_by_default_and_info_nce_as_a_variant():
    from gcl.losses import info_nce, nt_xent

    m = SeqCL(10, 10, dim=8, layers=1)
    assert (m.cl_loss, m.temperature, m.cl_weight) == ("nt-xent", 1.0, 0.1)
    seqs = torch.tensor([[0, 1, 2, -1], [3, 4, 5, 6], [7, 8, -1, -1]])
    for form, fn in (("nt-xent", nt_xent), ("info-nce", info_nce)):
        m = SeqCL(10, 10, dim=8, layers=1, cl_loss=form).eval()
        m.generator = torch.Generator().manual_seed(0)
        got = m.contrast(seqs, m.items.weight, None)
        m.generator = torch.Generator().manual_seed(0)
        z1 = m.encode(m.augment(seqs, m.generator), m.items.weight)
        z2 = m.encode(m.augment(seqs, m.generator), m.items.weight)
        torch.testing.assert_close(got, fn(z1, z2, 1.0))
    with pytest.raises(ValueError, match="cl_loss"):
        SeqCL(10, 10, cl_loss="cosine")


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
