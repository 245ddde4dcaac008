"""EpochLog: one line per epoch, with the metrics when the epoch was evaluated."""
import logging

from gcl.train import Trainer
from tests.train import ScriptedEval, config, lightgcn


def test_one_line_per_epoch_with_valid_metrics_when_evaluated(data, caplog):
    train, _, graph = data
    method = lightgcn(train)
    with caplog.at_level(logging.INFO, logger="gcl.train"):
        Trainer(method, graph, train, config(epochs=4, eval_every=2, patience=1),
                evaluate=ScriptedEval(method, [0.5, 0.25])).fit()
    lines = [r.getMessage() for r in caplog.records if r.name == "gcl.train"]
    assert [line.split(" |")[0] for line in lines[:4]] == [
        "epoch 1", "epoch 2", "epoch 3", "epoch 4"]
    assert "valid" not in lines[0] and lines[1].endswith("valid ndcg@20 0.5000 recall@20 0.0000")
    assert lines[4] == "early stop at epoch 4: best ndcg@20 0.5000 at epoch 2"


def test_without_valid_the_monitor_is_shown(data, caplog):
    train, _, graph = data
    with caplog.at_level(logging.INFO, logger="gcl.train"):
        Trainer(lightgcn(train), graph, train, config(epochs=1),
                monitor=lambda: {"recall@20": 0.25, "ndcg@20": 0.125, "users": 3}).fit()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "gcl.train"]
    assert line.endswith("| monitor recall@20 0.2500 ndcg@20 0.1250")


def test_ranks_other_than_0_report_nothing(data, caplog, monkeypatch):
    from gcl import distributed

    train, _, graph = data
    monkeypatch.setattr(distributed, "is_main", lambda: False)
    with caplog.at_level(logging.INFO, logger="gcl.train"):
        Trainer(lightgcn(train), graph, train, config(epochs=2)).fit()
    assert [r for r in caplog.records if r.name == "gcl.train"] == []
