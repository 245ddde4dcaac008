"""The one training loop every method runs in."""
from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gcl import distributed
from gcl.checkpoint import array_digest, plain
from gcl.data.interactions import Interactions, ids_to_list
from gcl.data.sampler import NegativeSampler
from gcl.graph import UIGraph
from gcl.methods.base import Method
from gcl.train import logs
from gcl.train.config import CLOCKS, TrainConfig
from gcl.train.hooks import (
    Broadcast,
    Callback,
    Checkpoints,
    ClSchedule,
    CollapseWatch,
    DeclineWarning,
    EarlyStopping,
    EpochLog,
    Hook,
    Monitor,
)
from gcl.train.state import Fit, FitState

log = logging.getLogger("gcl.train")


class Trainer:
    r"""Trains a :class:`~gcl.methods.Method` on a train log: each epoch shuffles the train
    interactions, draws negatives for all of them at once, and steps Adam per batch; every
    :obj:`eval_every` epochs :obj:`evaluate` is called. Everything else is a
    :class:`~gcl.train.hooks.Hook`, called after every epoch in this order (see
    :meth:`hooks`): :class:`~gcl.train.hooks.Monitor`, :class:`~gcl.train.hooks.EpochLog`
    (one log line per epoch, see :mod:`gcl.train.logs`),
    :class:`~gcl.train.hooks.EarlyStopping` on :obj:`config.metric`,
    :class:`~gcl.train.hooks.DeclineWarning`, :class:`~gcl.train.hooks.CollapseWatch`,
    :class:`~gcl.train.hooks.ClSchedule`, the extra :obj:`hooks`,
    :class:`~gcl.train.hooks.Checkpoints`, :class:`~gcl.train.hooks.Callback`
    (:obj:`on_epoch_end`) and :class:`~gcl.train.hooks.Broadcast`.

    With :obj:`checkpoint_dir`, the state at the end of every epoch (weights, optimiser,
    every random generator, epoch, early-stopping state, history) is written to
    :obj:`<checkpoint_dir>/checkpoint.pt`, atomically (see :mod:`gcl.checkpoint`), and
    :meth:`fit` with :obj:`resume=True` goes on from it: the interrupted epoch is run again
    from its start, with the same random draws, so on CPU a resumed run ends with the very
    weights and history of an uninterrupted one. Nothing is written in the middle of an
    epoch, nor on Ctrl-C: an interrupt can land inside an optimiser step, so the last
    consistent state is the end of the last finished epoch, which is on disk already.

    The loop fails loudly: a NaN or Inf loss, or weights that became NaN or Inf, raise a
    :class:`FloatingPointError` naming the epoch and batch (the checkpoint of the last good
    epoch is kept); and it warns once (:class:`RuntimeWarning`) when training collapses
    (see :class:`~gcl.train.hooks.CollapseWatch`).

    In a :mod:`torch.distributed` process group of :math:`W > 1` ranks (see
    :mod:`gcl.distributed`), each step trains on a global batch of :math:`W \cdot`
    :obj:`batch_size` triples, every rank on its part, with the gradients averaged by
    DistributedDataParallel; the ranks' settings and train data are compared first (an
    error if they differ), and rank 0 alone evaluates, calls :obj:`on_epoch_end` and
    writes checkpoints, its early-stopping decision being sent to all; every rank ends with
    rank 0's final (best) weights.

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
        checkpoint_dir (str or PathLike, optional): folder of the checkpoint; created if
            missing. (default: :obj:`None`, no checkpoints)
        on_epoch_end (callable, optional): called with the history (a list, one dict per
            epoch) after every epoch, once its checkpoint is written; e.g. to stream a log.
            When it returns :obj:`True`, training stops after this epoch, as on the budget
            (e.g. a budget of process CPU seconds, as the benchmarks keep).
            (default: :obj:`None`)
        run_info (dict, optional): further facts of the run (hyperparameters, a digest of
            the valid log) stored in the checkpoint; a resume with other values is refused.
            Plain values only (JSON-like). (default: :obj:`None`)
        hooks (sequence of Hook, optional): further hooks, run after the built-in ones that
            decide and before the checkpoint is written (so a stop they ask for is saved).
            (default: :obj:`()`)
    """

    def __init__(self, method: Method, graph: UIGraph, train: Interactions, config: TrainConfig,
                 evaluate: Callable[[], dict[str, float]] | None = None,
                 monitor: Callable[[], dict[str, float]] | None = None,
                 checkpoint_dir: str | PathLike | None = None,
                 on_epoch_end: Callable[[list[dict[str, Any]]], bool | None] | None = None,
                 run_info: dict[str, Any] | None = None, hooks: Sequence[Hook] = ()) -> None:
        self.method, self.graph, self.train, self.config = method, graph, train, config
        self.evaluate, self.monitor = evaluate, monitor
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.on_epoch_end, self.run_info = on_epoch_end, run_info or {}
        self.extra_hooks = list(hooks)
        self.history: list[dict[str, Any]] = []
        self.best_epoch: int | None = None

    def hooks(self, resume: bool = False) -> list[Hook]:
        """The hooks of a fit, in the order they run. On ranks other than 0 of a
        distributed fit, the monitor and :obj:`on_epoch_end` are left out (rank 0 alone
        evaluates and writes).

        Args:
            resume (bool): as in :meth:`fit`. (default: :obj:`False`)

        Raises:
            FileNotFoundError, FileExistsError, ValueError: :obj:`checkpoint_dir` does not
                suit :obj:`resume` (see :class:`~gcl.train.hooks.Checkpoints`).
        """
        cfg, main = self.config, distributed.is_main()
        checkpoints = Checkpoints(self.checkpoint_dir, resume, write=main)
        drop, times = cfg.decline_warning
        return [
            Monitor(self.monitor if main else None),
            EpochLog(),
            EarlyStopping(cfg.metric, cfg.patience, cfg.restore_best),
            DeclineWarning(cfg.metric, drop, times, cfg.restore_best),
            CollapseWatch(cfg.collapse_epochs, cfg.cl_decay),
            ClSchedule(cfg.cl_decay, cfg.collapse_epochs, cfg.metric, cfg.restore_best),
            *self.extra_hooks,
            checkpoints,
            Callback(self.on_epoch_end if main else None, checkpoints),
            Broadcast(),
        ]

    # ------------------------------------------------------------------ the loop
    def fit(self, resume: bool = False) -> list[dict[str, Any]]:
        """Runs the loop; returns the history, one dict per epoch (loss parts, seconds, and
        the metrics of epochs that were evaluated).

        Args:
            resume (bool): go on from the checkpoint in :obj:`checkpoint_dir` (which must
                exist and be of this run: same settings but :obj:`epochs`,
                :obj:`budget_seconds`, :obj:`progress` and :obj:`collapse_epochs`, same
                data, same :obj:`run_info`). Without it, a checkpoint already in
                :obj:`checkpoint_dir` is an error rather than overwritten.
                (default: :obj:`False`)
        """
        cfg, method = self.config, self.method
        hooks = self.hooks(resume)
        checkpoints = next(h for h in hooks if isinstance(h, Checkpoints))
        # Before anything that could fail on one rank alone, and leave the others waiting.
        distributed.check_same(self.fingerprint(), "the data or settings of the fit")
        evaluate = self.evaluate if distributed.is_main() else None
        gen = torch.Generator().manual_seed(cfg.seed)
        sampler = NegativeSampler(self.train, generator=gen)
        self._check_negatives(sampler)
        fit = Fit(self, FitState(cl_weight=method.cl_weight if method.can("cl_weight") else None),
                  adam(method.parameters(), cfg.lr), gen, start=0.0,
                  evaluating=evaluate is not None)
        self._step = distributed.wrap(method) if distributed.active() else method.loss
        if resume:
            checkpoints.restore(fit)
        fit.clock = CLOCKS[cfg.budget_clock]
        fit.start = fit.clock() - fit.state.elapsed
        for hook in hooks:
            hook.on_fit_start(fit)
        fit.epoch = fit.state.epoch + 1
        try:
            for epoch in range(fit.state.epoch + 1, cfg.epochs + 1):
                if fit.state.finished:
                    break
                fit.epoch = epoch
                self._epoch(fit, hooks, sampler, evaluate)
                if fit.stop:
                    break
        except KeyboardInterrupt:
            log.warning(f"training interrupted during epoch {fit.epoch}" + checkpoints.kept(fit))
            raise
        except FloatingPointError as e:
            if not checkpoints.write:
                raise
            raise FloatingPointError(f"{e}{checkpoints.kept(fit)}") from None
        for hook in hooks:
            hook.on_fit_end(fit)
        method.eval()
        return self.history

    def _epoch(self, fit: Fit, hooks: list[Hook], sampler: NegativeSampler,
               evaluate: Callable[[], dict[str, float]] | None) -> None:
        """Epoch :obj:`fit.epoch`: its batches, its evaluation when due, then the hooks."""
        cfg = self.config
        fit.metrics = None
        record = self._train_epoch(fit, sampler)
        fit.stop = (cfg.budget_seconds is not None
                    and fit.clock() - fit.start >= cfg.budget_seconds)
        fit.due = fit.epoch % cfg.eval_every == 0 or fit.stop or fit.epoch == cfg.epochs
        if evaluate is not None and fit.due:
            fit.metrics = self._evaluate(evaluate, fit, record)
        self.history.append(record)
        for hook in hooks:
            hook.on_epoch_end(fit, record)

    def _check_negatives(self, sampler: NegativeSampler) -> None:
        if sampler.full_users:
            full = sorted(sampler.full_users)
            raise ValueError(
                f"{len(full)} user(s) have interacted with every one of the "
                f"{self.train.num_items} items, e.g. {ids_to_list(self.train.user_ids[full[:5]])}"
                ": BPR needs a negative item for every train interaction; drop those users "
                "or add items")

    def _train_epoch(self, fit: Fit, sampler: NegativeSampler) -> dict[str, Any]:
        cfg, method, graph, device = self.config, self.method, self.graph, self.graph.device
        epoch, gen, opt, s = fit.epoch, fit.generator, fit.optimizer, fit.state
        t0 = fit.clock()
        world = distributed.world_size()
        size = cfg.batch_size * world  # a global batch; this rank trains on its part
        method.train()
        method.new_epoch(graph, gen)
        perm = method.epoch_rows(self.train, gen, cfg.batch_size)
        if perm is None:
            perm = torch.randperm(len(self.train), generator=gen)
        n_batches = math.ceil(len(perm) / size)
        users = torch.from_numpy(self.train.users)[perm]
        pos = torch.from_numpy(self.train.items)[perm]
        neg = sampler.sample(users, cfg.num_neg)
        sums: dict[str, float] = {}
        bar = logs.bar(range(n_batches), cfg.progress, desc=f"epoch {epoch}", leave=False,
                       unit="batch")
        for b in bar:
            lo = b * size
            n = min(size, len(perm) - lo)
            sl = distributed.part(n)
            share = (sl.stop - sl.start) / n  # of the global batch's mean loss
            if share == 0:  # a short last batch: a row with no weight keeps DDP in step
                sl = slice(0, 1)
            sl = slice(lo + sl.start, lo + sl.stop)
            parts = self._step(graph, users[sl].to(device), pos[sl].to(device),
                               neg[sl].to(device))
            loss = parts["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss.item()} at epoch {epoch}, batch {b + 1}; "
                    "try a lower learning rate or a stronger regularisation")
            opt.zero_grad(set_to_none=True)
            (loss * (share * world) if world > 1 else loss).backward()
            opt.step()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + share * float(v.detach())
            bar.set_postfix(loss=f"{sums['loss'] / (b + 1):.4f}", refresh=False)
        bar.close()
        sums = dict(zip(sums, distributed.all_sum(list(sums.values()), device)))
        bad = [name for name, p in method.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise FloatingPointError(
                f"the weights {bad[:3]} became NaN or Inf at epoch {epoch}, batch {n_batches} "
                "(its last), although the loss was finite; try a lower learning rate")
        seconds = fit.clock() - t0
        s.trained += seconds
        record = {"epoch": epoch, "seconds": seconds, "train_seconds": s.trained,
                  **{k: v / n_batches for k, v in sums.items()}}
        if s.cl_weight is not None:  # the contrastive weight this epoch trained with
            record["cl_weight"] = s.cl_weight
        return record

    def _evaluate(self, evaluate: Callable[[], dict[str, float]], fit: Fit,
                  record: dict[str, Any]) -> dict[str, float]:
        """Evaluates on valid into :obj:`record`; returns the metrics."""
        metric = self.config.metric
        self.method.eval()
        t1 = fit.clock()
        with torch.no_grad():
            metrics = evaluate()
        record["eval_seconds"] = fit.clock() - t1
        record["elapsed"] = fit.clock() - fit.start
        record.update({f"valid_{k}": v for k, v in metrics.items() if k != "users"})
        if metric not in metrics:
            raise KeyError(f"early-stopping metric {metric!r} is not among {sorted(metrics)}")
        return metrics

    def fingerprint(self) -> dict[str, Any]:
        """What a resume must match: the settings (but :obj:`epochs`,
        :obj:`budget_seconds`, :obj:`progress`, :obj:`collapse_epochs`), the train log, the
        shapes of the weights, and :obj:`run_info`."""
        cfg = dataclasses.asdict(self.config)
        for free in ("epochs", "budget_seconds", "progress", "collapse_epochs"):
            cfg.pop(free)
        data = {"users": self.train.num_users, "items": self.train.num_items,
                "interactions": len(self.train),
                "train_sha256": array_digest(self.train.users, self.train.items)}
        weights = {k: list(v.shape) for k, v in self.method.state_dict().items()}
        return plain({"config": cfg, "data": data, "weights": weights, "run": self.run_info})


def seed_everything(seed: int) -> None:
    """Seeds torch and numpy's global generators (initialisation of the weights)."""
    torch.manual_seed(seed)
    np.random.seed(seed)


def adam(params: Any, lr: float) -> torch.optim.Adam:
    """Adam, fused into one kernel where torch has one for the parameters' device (on CPU a
    step over gowalla's 4.5M-weight table takes a quarter of the time), else the plain one;
    both keep the same state, so checkpoints move between them."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)
