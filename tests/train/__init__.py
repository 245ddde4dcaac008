"""Tests of the training loop and its hooks; shared helpers."""
import time

import numpy as np
import pandas as pd
import torch

from gcl.data import Interactions
from gcl.graph import UIGraph
from gcl.methods import LightGCNMethod
from gcl.methods.base import Method
from gcl.train import TrainConfig, seed_everything

TIMING = {"seconds", "train_seconds", "eval_seconds", "elapsed"}


def two_tastes():
    """A train log, valid log and train graph: even users click the first half of the
    items, odd users the rest."""
    gen = np.random.default_rng(0)
    rows = [(u, int(i) + (0 if u % 2 == 0 else 10)) for u in range(30)
            for i in gen.choice(10, size=6, replace=False)]
    inter = Interactions.from_pandas(pd.DataFrame(rows, columns=["user", "item"]))
    train, valid = inter.split("random", ratios=(0.8, 0.2), seed=0)
    return train, valid, UIGraph.from_interactions(train)


def lightgcn(train, seed=0):
    seed_everything(seed)
    return LightGCNMethod(train.num_users, train.num_items, dim=8, layers=2, reg=1e-4)


def simgcl(train):
    from gcl.methods import SimGCL

    seed_everything(0)
    return SimGCL(train.num_users, train.num_items, dim=8, layers=2, cl_weight=0.5,
                  init_std=0.1)


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


def collapse_warnings(record):
    return [str(w.message) for w in record if "training has collapsed" in str(w.message)]


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
