import time

import numpy as np
import pandas as pd
import pytest
import torch

from gcl.data import Interactions
from gcl.graph import UIGraph
from gcl.methods import LightGCNMethod
from gcl.methods.base import Method
from gcl.metrics import evaluate
from gcl.train import TrainConfig, Trainer, seed_everything

TIMING = {"seconds", "train_seconds", "eval_seconds", "elapsed"}


@pytest.fixture(scope="module")
def data():
    """Two tastes: even users click the first half of the items, odd users the rest."""
    gen = np.random.default_rng(0)
    rows = [(u, int(i) + (0 if u % 2 == 0 else 10)) for u in range(30)
            for i in gen.choice(10, size=6, replace=False)]
    inter = Interactions.from_pandas(pd.DataFrame(rows, columns=["user", "item"]))
    train, valid = inter.split("random", ratios=(0.8, 0.2), seed=0)
    return train, valid, UIGraph.from_interactions(train)


def lightgcn(train, seed=0):
    seed_everything(seed)
    return LightGCNMethod(train.num_users, train.num_items, dim=8, layers=2, reg=1e-4)


def config(**kw):
    base = dict(epochs=5, batch_size=32, lr=0.05, progress=False, patience=None)
    base.update(kw)
    return TrainConfig(**base)


def untimed(history):
    return [{k: v for k, v in rec.items() if k not in TIMING} for rec in history]


def state(method):
    return {k: v.clone() for k, v in method.state_dict().items()}


def same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class ScriptedEval:
    """Returns the given scores in turn and snapshots the weights at each call."""

    def __init__(self, method, scores):
        self.method, self.scores, self.snapshots, self.calls = method, list(scores), [], 0

    def __call__(self):
        self.snapshots.append(state(self.method))
        self.calls += 1
        return {"ndcg@20": self.scores[self.calls - 1], "recall@20": 0.0, "users": 3}


class Toy(Method):
    """A one-parameter method with a scripted loss."""

    name = "toy"

    def __init__(self, num_users, num_items, loss_at=None, sleep=0.0):
        super().__init__(num_users, num_items)
        self.w = torch.nn.Parameter(torch.ones(1))
        self.loss_at, self.sleep, self.calls = loss_at or {}, sleep, 0

    def loss(self, graph, users, pos, neg):
        self.calls += 1
        if self.sleep:
            time.sleep(self.sleep)
        value = self.w.pow(2).sum() * self.loss_at.get(self.calls, 1.0)
        return {"loss": value}


# ---------------------------------------------------------------------------- learning
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


# ---------------------------------------------------------------------------- early stopping
@pytest.mark.parametrize("restore_best", [True, False])
def test_early_stopping_after_patience_and_restore_best(data, restore_best):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [0.1, 0.3, 0.2, 0.25, 0.9, 0.9])
    trainer = Trainer(method, graph, train,
                      config(epochs=20, patience=2, restore_best=restore_best), evaluate=ev)
    history = trainer.fit()
    # best at epoch 2, then two evaluations without improvement: stop at epoch 4
    assert len(history) == 4 and ev.calls == 4
    assert trainer.best_epoch == 2
    assert [r["valid_ndcg@20"] for r in history] == [0.1, 0.3, 0.2, 0.25]
    assert all("valid_users" not in r and "eval_seconds" in r for r in history)
    final = state(method)
    if restore_best:
        assert same_state(final, ev.snapshots[1])
    else:
        assert same_state(final, ev.snapshots[3])
        assert not same_state(final, ev.snapshots[1])


def test_ties_do_not_count_as_improvement(data):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [0.5, 0.5, 0.5, 0.5])
    trainer = Trainer(method, graph, train, config(epochs=10, patience=3), evaluate=ev)
    assert len(trainer.fit()) == 4 and trainer.best_epoch == 1
    assert same_state(state(method), ev.snapshots[0])


def test_eval_every_and_last_epoch(data):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [0.1, 0.2, 0.3])
    history = Trainer(method, graph, train, config(epochs=7, eval_every=3),
                      evaluate=ev).fit()
    assert len(history) == 7
    assert [r["epoch"] for r in history if "valid_ndcg@20" in r] == [3, 6, 7]


def test_patience_none_never_stops_early(data):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [1.0] + [0.95] * 5)
    trainer = Trainer(method, graph, train, config(epochs=6, patience=None), evaluate=ev)
    assert len(trainer.fit()) == 6 and trainer.best_epoch == 1
    assert same_state(state(method), ev.snapshots[0])  # still restores the best


def test_unknown_metric_raises(data):
    train, _, graph = data
    method = lightgcn(train)
    trainer = Trainer(method, graph, train, config(metric="auc"),
                      evaluate=lambda: {"ndcg@20": 0.1, "users": 1})
    with pytest.raises(KeyError, match="'auc' is not among"):
        trainer.fit()


# ---------------------------------------------------------------------------- budget
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


# ---------------------------------------------------------------------------- failures
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


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"num_neg": 0}, "num_neg must be >= 1"),
    ({"eval_every": 0}, "eval_every must be >= 1"),
    ({"epochs": -3}, "epochs must be >= 1"),
    ({"lr": 0.0}, "lr must be a finite number > 0"),
    ({"lr": -1e-3}, "lr must be a finite number > 0"),
])
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("kwargs", [{"patience": 0}, {"patience": -1}, {"lr": float("nan")}])
def test_bad_config_raises_for_patience_and_nan_lr(kwargs):
    with pytest.raises(ValueError):
        TrainConfig(**kwargs)


def test_config_defaults():
    cfg = TrainConfig()
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.num_neg, cfg.eval_every) == (
        1000, 2048, 1e-3, 1, 1)
    assert (cfg.patience, cfg.metric, cfg.restore_best, cfg.budget_seconds, cfg.seed) == (
        10, "ndcg@20", True, None, 0)


# ---------------------------------------------------------------------------- collapse
def collapse_warnings(record):
    return [str(w.message) for w in record if "training has collapsed" in str(w.message)]


def test_bpr_stuck_near_ln2_warns_once_with_what_to_try(data):
    train, _, graph = data
    method = lightgcn(train)
    with pytest.warns(RuntimeWarning) as record:
        Trainer(method, graph, train, config(epochs=6, lr=1e-6, collapse_epochs=3)).fit()
    messages = collapse_warnings(record)
    assert len(messages) == 1
    assert "BPR loss has stayed within 0.01 of ln 2 = 0.6931" in messages[0]
    assert "for 3 epochs (epoch 3" in messages[0] and "raise the learning rate" in messages[0]


def test_bpr_stuck_under_a_contrastive_loss_names_its_knobs(data):
    from gcl.methods import SimGCL

    train, _, graph = data
    seed_everything(0)
    method = SimGCL(train.num_users, train.num_items, dim=8, layers=2, init_std=0.1)
    with pytest.warns(RuntimeWarning) as record:
        Trainer(method, graph, train, config(epochs=3, lr=1e-6, collapse_epochs=3,
                                             cl_decay=None)).fit()
    (message,) = collapse_warnings(record)
    assert "the ranking is not: lower cl_weight or eps" in message


class Constant(Toy):
    """Every user and every item gets the same vector: a complete collapse."""

    def embeddings(self, graph):
        return (self.w.expand(self.num_users, 4) * 1.0,
                self.w.expand(self.num_items, 4) * 1.0)


def test_collapsed_embeddings_warn(data):
    train, _, graph = data
    method = Constant(train.num_users, train.num_items)
    with pytest.warns(RuntimeWarning) as record:
        Trainer(method, graph, train, config(epochs=4, collapse_epochs=2)).fit()
    (message,) = collapse_warnings(record)
    assert "the user embeddings have been nearly identical for 2 epochs (epoch 2" in message
    assert "a lower learning rate" in message


def test_healthy_training_and_collapse_epochs_none_do_not_warn(data, recwarn):
    train, _, graph = data
    Trainer(lightgcn(train), graph, train, config(epochs=8, collapse_epochs=2)).fit()
    Trainer(lightgcn(train), graph, train, config(epochs=4, lr=1e-6,
                                                  collapse_epochs=None)).fit()
    assert collapse_warnings(recwarn.list) == []
    with pytest.raises(ValueError, match="collapse_epochs must be >= 1 or None"):
        TrainConfig(collapse_epochs=0)


def test_spread():
    from gcl.train import spread

    gen = torch.Generator().manual_seed(0)
    assert spread(torch.randn(500, 16, generator=gen)) > 0.95
    assert spread(torch.ones(50, 8) * 3) == pytest.approx(0.0, abs=1e-12)
    assert spread(torch.zeros(50, 8)) == 0.0
    assert spread(torch.ones(1, 8)) == 1.0  # one row cannot collapse


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


# ---------------------------------------------------------------------------- cl decay
def simgcl(train):
    from gcl.methods import SimGCL

    seed_everything(0)
    return SimGCL(train.num_users, train.num_items, dim=8, layers=2, cl_weight=0.5,
                  init_std=0.1)


def test_cl_weight_decays_when_valid_stalls_and_goes_on_from_the_best(data):
    train, _, graph = data
    method = simgcl(train)
    # Best at epoch 2, then no improvement: decays after evaluations 3-5, 6-8 and 9-11.
    scores = [0.1, 0.3] + [0.2] * 12
    evaluate = ScriptedEval(method, scores)
    at_end = []
    trainer = Trainer(method, graph, train, config(epochs=14, cl_decay=(0.1, 3)),
                      evaluate=evaluate, on_epoch_end=lambda h: at_end.append(state(method)))
    hist = trainer.fit()
    weights = [h["cl_weight"] for h in hist]
    assert weights == pytest.approx([0.5] * 5 + [0.05] * 3 + [0.005] * 3 + [0.0005] * 3)
    assert method.cl_weight == pytest.approx(0.0005)  # at most CL_DECAYS = 3 times
    best = evaluate.snapshots[1]  # the weights evaluated at epoch 2
    assert same_state(at_end[4], best)  # the decay at epoch 5 went back to them
    assert not same_state(at_end[3], best)


def test_cl_weight_decays_when_bpr_is_stuck_without_a_collapse_warning(data, recwarn):
    train, _, graph = data
    hist = Trainer(simgcl(train), graph, train,
                   config(epochs=5, lr=1e-6, collapse_epochs=2, cl_decay=(0.1, 3))).fit()
    assert [h["cl_weight"] for h in hist] == pytest.approx([0.5, 0.5, 0.05, 0.05, 0.005])
    assert collapse_warnings(recwarn.list) == []


def test_cl_decay_is_off_by_default_and_keeps_the_weight(data):
    from gcl import GraphCLRecommender

    assert TrainConfig().cl_decay is None
    assert GraphCLRecommender(method="simgcl")._train_config().cl_decay is None
    train, _, graph = data
    method = simgcl(train)
    hist = Trainer(method, graph, train, config(epochs=6),
                   evaluate=ScriptedEval(method, [0.1] * 6)).fit()
    assert {h["cl_weight"] for h in hist} == {0.5}
    plain_hist = Trainer(lightgcn(train), graph, train, config(epochs=2)).fit()
    assert "cl_weight" not in plain_hist[0]
    with pytest.raises(ValueError, match="cl_decay must be"):
        TrainConfig(cl_decay=(1.5, 3))


def test_resume_keeps_the_decayed_cl_weight(data, tmp_path):
    train, _, graph = data

    def run(epochs, resume):
        method = simgcl(train)
        ev = ScriptedEval(method, [0.1] * epochs)
        if resume:
            ev.calls = 4  # the scores of the epochs already run are not asked again
        Trainer(method, graph, train, config(epochs=epochs, cl_decay=(0.1, 3)), evaluate=ev,
                checkpoint_dir=tmp_path).fit(resume=resume)
        return method

    run(4, resume=False)  # decays once, after the evaluations of epochs 2-4
    assert run(6, resume=True).cl_weight == pytest.approx(0.05)
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


def test_on_epoch_end_returning_true_stops_after_that_epoch_and_keeps_the_best(data):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [0.5, 1.0, 0.9, 0.8, 0.7, 0.6])
    trainer = Trainer(method, graph, train, config(epochs=6, patience=None), evaluate=ev,
                      on_epoch_end=lambda history: len(history) == 3)
    history = trainer.fit()
    assert [r["epoch"] for r in history] == [1, 2, 3] and trainer.best_epoch == 2
    assert same_state(state(method), ev.snapshots[1])
