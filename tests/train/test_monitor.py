"""Monitor: a second evaluation, recorded as a curve and never used to choose."""
import time

from gcl.train import Trainer
from tests.train import ScriptedEval, config, lightgcn


class SlowMonitor:
    def __init__(self, seconds):
        self.seconds, self.calls = seconds, 0

    def __call__(self):
        self.calls += 1
        time.sleep(self.seconds)
        return {"recall@20": 0.1 * self.calls, "ndcg@20": 1.0 - 0.1 * self.calls, "users": 2}


def test_monitor_records_test_keys_at_evaluated_epochs_only(data):
    train, _, graph = data
    method = lightgcn(train)
    monitor = SlowMonitor(0.0)
    trainer = Trainer(method, graph, train, config(epochs=5, eval_every=2),
                      evaluate=ScriptedEval(method, [0.3, 0.2, 0.1]), monitor=monitor)
    history = trainer.fit()
    assert [r["epoch"] for r in history if "test_ndcg@20" in r] == [2, 4, 5]
    assert [r["epoch"] for r in history if "valid_ndcg@20" in r] == [2, 4, 5]
    assert all("test_users" not in r for r in history)
    # the monitor's best ndcg@20 is its first; selection follows valid alone
    assert trainer.best_epoch == 2 and history[-1]["test_ndcg@20"] < history[1]["test_ndcg@20"]


def test_monitor_time_is_left_out_of_elapsed_and_the_budget(data):
    train, _, graph = data
    monitor = SlowMonitor(0.5)
    history = Trainer(lightgcn(train), graph, train, config(epochs=3, budget_seconds=1.0),
                      monitor=monitor).fit()
    assert len(history) == 3 and monitor.calls == 3  # 1.5 s of monitoring, yet no stop
    assert history[-1]["elapsed"] < 1.0


def test_without_evaluate_the_monitor_alone_runs(data):
    train, _, graph = data
    monitor = SlowMonitor(0.0)
    history = Trainer(lightgcn(train), graph, train, config(epochs=2), monitor=monitor).fit()
    assert monitor.calls == 2 and all("valid_ndcg@20" not in r for r in history)
