"""The loop itself: batches, steps, evaluation, budget, failures."""
import numpy as np
import pandas as pd
import pytest
import torch

from gcl.data import Interactions
from gcl.graph import UIGraph
from gcl.metrics import evaluate
from gcl.train import Trainer
from tests.train import ScriptedEval, Toy, config, lightgcn, same_state, state, untimed


def test_loss_decreases_and_history_is_recorded(data):
    train, valid, graph = data
    method = lightgcn(train)
    history = Trainer(method, graph, train, config(epochs=12)).fit()
    assert [r["epoch"] for r in history] == list(range(1, 13))
    for r in history:
        assert {"loss", "bpr", "reg", "seconds", "train_seconds"} <= set(r)
        assert r["loss"] == pytest.approx(r["bpr"] + 1e-4 * r["reg"], rel=1e-5)
        assert not any(k.startswith("valid_") for k in r)
    assert history[-1]["loss"] < 0.6 * history[0]["loss"]
    assert history[0]["bpr"] < np.log(2) + 0.01  # starts near log 2 (small init), goes down
    assert not method.training  # left in eval mode


def test_training_improves_ranking(data):
    train, valid, graph = data
    method = lightgcn(train)

    def valid_metrics():
        ue, ie = method.embeddings(graph)
        return evaluate(ue, ie, valid.to_csr(), train.to_csr(), k=(5, 20))

    before = valid_metrics()["recall@5"]
    Trainer(method, graph, train, config(epochs=15), evaluate=valid_metrics).fit()
    assert valid_metrics()["recall@5"] > before + 0.1


def test_same_seed_gives_identical_history_and_weights(data):
    train, _, graph = data
    runs = []
    for _ in range(2):
        method = lightgcn(train)
        hist = Trainer(method, graph, train, config(epochs=3, num_neg=2, seed=7)).fit()
        runs.append((untimed(hist), state(method)))
    assert runs[0][0] == runs[1][0]
    assert same_state(runs[0][1], runs[1][1])
    method = lightgcn(train)
    other = Trainer(method, graph, train, config(epochs=3, num_neg=2, seed=8)).fit()
    assert untimed(other) != runs[0][0]
    assert not same_state(state(method), runs[0][1])


def test_eval_every_and_last_epoch(data):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [0.1, 0.2, 0.3])
    history = Trainer(method, graph, train, config(epochs=7, eval_every=3),
                      evaluate=ev).fit()
    assert len(history) == 7
    assert [r["epoch"] for r in history if "valid_ndcg@20" in r] == [3, 6, 7]


def test_unknown_metric_raises(data):
    train, _, graph = data
    method = lightgcn(train)
    trainer = Trainer(method, graph, train, config(metric="auc"),
                      evaluate=lambda: {"ndcg@20": 0.1, "users": 1})
    with pytest.raises(KeyError, match="'auc' is not among"):
        trainer.fit()


def test_budget_seconds_stops_early_and_evaluates_the_last_epoch(data):
    train, _, graph = data
    method = Toy(train.num_users, train.num_items, sleep=0.05)
    ev = ScriptedEval(method, [0.1] * 50)
    cfg = config(epochs=50, batch_size=len(train), budget_seconds=0.12, eval_every=100)
    history = Trainer(method, graph, train, cfg, evaluate=ev).fit()
    # each epoch sleeps >= 0.05 s, so the budget is spent after at most 3 epochs
    assert 1 <= len(history) <= 3
    assert "valid_ndcg@20" in history[-1] and ev.calls == 1
    assert history[-1]["elapsed"] >= 0.12


def test_zero_budget_runs_one_epoch(data):
    train, _, graph = data
    method = lightgcn(train)
    history = Trainer(method, graph, train, config(epochs=50, budget_seconds=0)).fit()
    assert len(history) == 1


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("call, where", [(2, "epoch 1, batch 2"), (4, "epoch 2, batch 1")])
def test_non_finite_loss_names_epoch_and_batch(data, bad, call, where):
    train, _, graph = data
    method = Toy(train.num_users, train.num_items, loss_at={call: bad})
    batch = -(-len(train) // 3)  # three batches per epoch
    trainer = Trainer(method, graph, train, config(epochs=5, batch_size=batch))
    with pytest.raises(FloatingPointError, match=where):
        trainer.fit()
    assert method.calls == call


class NanGrad(Toy):
    """A finite loss whose gradient is NaN at the given call: sqrt(w - w) at 0."""

    def __init__(self, num_users, num_items, nan_at):
        super().__init__(num_users, num_items)
        self.nan_at = nan_at

    def loss(self, graph, users, pos, neg):
        self.calls += 1
        if self.calls == self.nan_at:
            return {"loss": torch.sqrt(self.w - self.w).sum() + 1.0}
        return {"loss": self.w.pow(2).sum()}


def test_weights_that_become_nan_under_a_finite_loss_raise(data):
    train, _, graph = data
    method = NanGrad(train.num_users, train.num_items, nan_at=2)
    trainer = Trainer(method, graph, train, config(epochs=4, batch_size=len(train)))
    with pytest.raises(FloatingPointError, match=r"the weights \['w'\] became NaN or Inf at "
                                                 r"epoch 2, batch 1 \(its last\)"):
        trainer.fit()


def test_a_user_with_every_item_is_named_before_training(data):
    df = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"]})
    train = Interactions.from_pandas(df)
    method = Toy(train.num_users, train.num_items)
    trainer = Trainer(method, UIGraph.from_interactions(train), train, config())
    with pytest.raises(ValueError, match=r"1 user\(s\) have interacted with every one of the "
                                         r"2 items, e.g. \['a'\]"):
        trainer.fit()
    assert method.calls == 0


def test_adam_is_fused_where_torch_has_it_and_steps_like_plain_adam():
    from gcl.train import adam

    w1 = torch.nn.Parameter(torch.randn(6, 3, generator=torch.Generator().manual_seed(0)))
    w2 = torch.nn.Parameter(w1.detach().clone())
    fused, plain = adam([w1], 0.01), torch.optim.Adam([w2], lr=0.01)
    assert fused.defaults["fused"] and fused.defaults["lr"] == 0.01  # torch 2.4+ on CPU
    for step in range(3):
        for w, opt in ((w1, fused), (w2, plain)):
            opt.zero_grad()
            ((w - step) ** 2).sum().backward()
            opt.step()
    torch.testing.assert_close(w1, w2)


def test_budget_on_the_cpu_clock(data, monkeypatch):
    """budget_clock="cpu" spends the budget on the process's CPU seconds: sleeping, as a
    busy machine makes a process wait, does not count; the clock decides when to stop."""
    from gcl.train import config as train_config

    train, _, graph = data
    now = [0.0]
    monkeypatch.setitem(train_config.CLOCKS, "cpu", lambda: now[0])

    def tick(history):
        now[0] += 1.0

    method = Toy(train.num_users, train.num_items, sleep=0.05)
    ev = ScriptedEval(method, [0.1] * 50)
    cfg = config(epochs=50, batch_size=len(train), budget_seconds=2.5, budget_clock="cpu",
                 eval_every=100)
    history = Trainer(method, graph, train, cfg, evaluate=ev, on_epoch_end=tick).fit()
    assert len(history) == 4  # the clock reads 0, 1, 2, then 3 >= 2.5 after epoch 4
    assert ev.calls == 1 and history[-1]["elapsed"] == 3.0
    with pytest.raises(ValueError, match="budget_clock"):
        config(budget_clock="gpu")
