"""The one training loop every method runs in."""
from __future__ import annotations

import copy
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from gcl.data.interactions import Interactions
from gcl.data.sampler import NegativeSampler
from gcl.graph import UIGraph
from gcl.methods.base import Method

log = logging.getLogger("gcl")


@dataclass
class TrainConfig:
    r"""Settings of the training loop.

    Args:
        epochs (int): most epochs to run. (default: :obj:`1000`)
        batch_size (int): (user, positive, negative) triples per step. (default: :obj:`2048`)
        lr (float): Adam learning rate. (default: :obj:`1e-3`)
        num_neg (int): negatives per positive. (default: :obj:`1`)
        eval_every (int): epochs between evaluations on valid. (default: :obj:`1`)
        patience (int, optional): evaluations without improvement of :obj:`metric` before
            stopping; :obj:`None` never stops early. (default: :obj:`10`)
        metric (str): valid metric that early stopping watches. (default: :obj:`"ndcg@20"`)
        restore_best (bool): end with the weights of the best evaluation. (default:
            :obj:`True`)
        budget_seconds (float, optional): stop after the epoch that passes this much
            wall time since the loop began, evaluations included. (default: :obj:`None`)
        seed (int): seed of shuffling, negative sampling and augmentation (the weights are
            initialised before, see :func:`seed_everything`). (default: :obj:`0`)
        progress (bool): show a progress bar per epoch. (default: :obj:`True`)
        decline_warning (tuple of float and int): warn once when the valid metric has been
            more than this fraction below its best for this many evaluations in a row.
            (default: :obj:`(0.1, 3)`)
    """

    epochs: int = 1000
    batch_size: int = 2048
    lr: float = 1e-3
    num_neg: int = 1
    eval_every: int = 1
    patience: int | None = 10
    metric: str = "ndcg@20"
    restore_best: bool = True
    budget_seconds: float | None = None
    seed: int = 0
    progress: bool = True
    decline_warning: tuple[float, int] = (0.1, 3)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "num_neg", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience}")


class Trainer:
    r"""Trains a :class:`~gcl.methods.Method` on a train log: each epoch shuffles the train
    interactions, draws negatives for all of them at once, and steps Adam per batch; every
    :obj:`eval_every` epochs :obj:`evaluate` is called and early stopping watches its
    :obj:`config.metric`.

    Args:
        method (Method): the method to train (already on :obj:`graph.device`).
        graph (UIGraph): the train graph.
        train (Interactions): the train log (positives, and what negatives avoid).
        config (TrainConfig): loop settings.
        evaluate (callable, optional): returns a metrics dict for the current weights; without
            it there is no early stopping. (default: :obj:`None`)
        monitor (callable, optional): like :obj:`evaluate`, called at the same epochs only to
            record a curve (e.g. on test, for a benchmark); never used for selection, and
            its time is left out of :obj:`budget_seconds` and of :obj:`"elapsed"`.
            (default: :obj:`None`)
    """

    def __init__(self, method: Method, graph: UIGraph, train: Interactions, config: TrainConfig,
                 evaluate: Callable[[], dict[str, float]] | None = None,
                 monitor: Callable[[], dict[str, float]] | None = None) -> None:
        self.method, self.graph, self.train, self.config = method, graph, train, config
        self.evaluate, self.monitor = evaluate, monitor
        self.history: list[dict[str, float]] = []
        self.best_epoch: int | None = None

    def _report(self, line: str) -> None:
        # One line per evaluation: to the "gcl" logger, and to the terminal above the
        # progress bar when the application has not set up logging.
        log.info(line)
        if self.config.progress and not log.hasHandlers():
            tqdm.write(line)

    def fit(self) -> list[dict[str, float]]:
        """Runs the loop; returns the history, one dict per epoch (loss parts, seconds, and
        the metrics of epochs that were evaluated)."""
        cfg, method, graph = self.config, self.method, self.graph
        device = graph.device
        gen = torch.Generator().manual_seed(cfg.seed)
        sampler = NegativeSampler(self.train, generator=gen)
        users_all = torch.from_numpy(self.train.users)
        items_all = torch.from_numpy(self.train.items)
        opt = torch.optim.Adam(method.parameters(), lr=cfg.lr)
        best, best_state, bad_evals, declined, warned = -math.inf, None, 0, 0, False
        n_batches = math.ceil(len(self.train) / cfg.batch_size)
        trained, start = 0.0, time.perf_counter()
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.perf_counter()
            method.train()
            method.new_epoch(graph, gen)
            perm = torch.randperm(len(self.train), generator=gen)
            users, pos = users_all[perm], items_all[perm]
            neg = sampler.sample(users, cfg.num_neg)
            sums: dict[str, float] = {}
            bar = tqdm(range(n_batches), desc=f"epoch {epoch}", leave=False, unit="batch",
                       disable=not cfg.progress)
            for b in bar:
                sl = slice(b * cfg.batch_size, (b + 1) * cfg.batch_size)
                parts = method.loss(graph, users[sl].to(device), pos[sl].to(device),
                                    neg[sl].to(device))
                loss = parts["loss"]
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"the loss became {loss.item()} at epoch {epoch}, batch {b + 1}; "
                        "try a lower learning rate or a stronger regularisation")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                bar.set_postfix(loss=f"{sums['loss'] / (b + 1):.4f}", refresh=False)
            bar.close()
            seconds = time.perf_counter() - t0
            trained += seconds
            record = {"epoch": epoch, "seconds": seconds, "train_seconds": trained,
                      **{k: v / n_batches for k, v in sums.items()}}
            stop = (cfg.budget_seconds is not None
                    and time.perf_counter() - start >= cfg.budget_seconds)
            due = epoch % cfg.eval_every == 0 or stop or epoch == cfg.epochs
            if self.monitor is not None and due:
                method.eval()
                t1 = time.perf_counter()
                with torch.no_grad():
                    record.update({f"test_{k}": v for k, v in self.monitor().items()
                                   if k != "users"})
                start += time.perf_counter() - t1  # monitoring is not training time
                record["elapsed"] = time.perf_counter() - start
            if self.evaluate is not None and due:
                method.eval()
                t1 = time.perf_counter()
                with torch.no_grad():
                    metrics = self.evaluate()
                record["eval_seconds"] = time.perf_counter() - t1
                record["elapsed"] = time.perf_counter() - start
                record.update({f"valid_{k}": v for k, v in metrics.items() if k != "users"})
                if cfg.metric not in metrics:
                    raise KeyError(f"early-stopping metric {cfg.metric!r} is not among "
                                   f"{sorted(metrics)}")
                score = metrics[cfg.metric]
                shown = " ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                 if k.endswith("@20") and k.split("@")[0] in ("recall", "ndcg"))
                self._report(f"epoch {epoch} | loss {record['loss']:.4f} | {seconds:.1f}s | "
                             f"valid {shown}")
                if score > best:
                    best, bad_evals, self.best_epoch = score, 0, epoch
                    if cfg.restore_best:
                        best_state = copy.deepcopy(method.state_dict())
                else:
                    bad_evals += 1
                drop, times = cfg.decline_warning
                declined = declined + 1 if score < (1 - drop) * best else 0
                if declined >= times and not warned:
                    warned = True
                    hint = getattr(method, "tuning_hint", "lower the learning rate")
                    warnings.warn(
                        f"valid {cfg.metric} has been more than {drop:.0%} below its best "
                        f"({best:.4f} at epoch {self.best_epoch}) for {declined} evaluations: "
                        f"the model is training worse, not better; {hint}"
                        + (". The best weights will be restored." if cfg.restore_best else "."),
                        RuntimeWarning, stacklevel=2)
                if cfg.patience is not None and bad_evals >= cfg.patience:
                    stop = True
                    self._report(f"early stop at epoch {epoch}: best {cfg.metric} {best:.4f} "
                                 f"at epoch {self.best_epoch}")
            self.history.append(record)
            if stop:
                break
        if best_state is not None:
            method.load_state_dict(best_state)
        method.eval()
        return self.history


def seed_everything(seed: int) -> None:
    """Seeds torch and numpy's global generators (initialisation of the weights)."""
    torch.manual_seed(seed)
    np.random.seed(seed)
