"""The one training loop every method runs in."""
from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gcl import distributed
from gcl.checkpoint import (
    array_digest,
    check_target,
    differences,
    load_checkpoint,
    plain,
    rng_states,
    save_checkpoint,
    set_rng_states,
)
from gcl.data.interactions import Interactions, ids_to_list
from gcl.data.sampler import NegativeSampler
from gcl.graph import UIGraph
from gcl.methods.base import Method

log = logging.getLogger("gcl")

LN2 = math.log(2.0)
#: The BPR loss within this of :math:`\ln 2` counts as "not learning" (random scores).
BPR_STUCK_TOL = 0.01
#: The most times :obj:`TrainConfig.cl_decay` lowers a method's contrastive weight.
CL_DECAYS = 3
#: Embeddings whose :func:`spread` is below this count as collapsed.
SPREAD_MIN = 1e-3


@dataclass
class TrainConfig:
    r"""Settings of the training loop.

    Args:
        epochs (int): most epochs to run. (default: :obj:`1000`)
        batch_size (int): (user, positive, negative) triples per step (per rank, under
            :mod:`torch.distributed`). (default: :obj:`2048`)
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
        collapse_epochs (int, optional): warn once when training shows a sign of collapse
            (BPR loss near :math:`\ln 2`, or embeddings that no longer differ, see
            :class:`Trainer`) for this many epochs in a row; :obj:`None` never checks.
            (default: :obj:`5`)
        cl_decay (tuple of float and int, optional): :obj:`(factor, evaluations)`: for a
            method with a contrastive weight (:obj:`method.cl_weight > 0`), multiply that
            weight by :obj:`factor` when the valid metric has not improved for
            :obj:`evaluations` evaluations in a row, or when the BPR loss has stayed near
            :math:`\ln 2` for :obj:`collapse_epochs` epochs (the contrastive task is being
            learnt, the ranking is not), and go on from the best weights so far with
            early stopping's count and Adam's moments restarted; at most :obj:`CL_DECAYS`
            times. A variant of the loop, not part of any paper's method: the papers train
            with a fixed weight. It can rescue a contrastive weight too large for dense data
            (e.g. :obj:`(0.1, 3)`). :obj:`None` keeps the weight fixed. (default: :obj:`None`)
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
    collapse_epochs: int | None = 5
    cl_decay: tuple[float, int] | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "num_neg", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience}")
        if self.collapse_epochs is not None and self.collapse_epochs < 1:
            raise ValueError(f"collapse_epochs must be >= 1 or None, got {self.collapse_epochs}")
        if self.cl_decay is not None:
            factor, evals = self.cl_decay
            if not (0 < factor < 1) or int(evals) != evals or evals < 1:
                raise ValueError(f"cl_decay must be (factor in (0, 1), evaluations >= 1) or "
                                 f"None, got {self.cl_decay}")


@dataclass
class _Progress:
    """What the loop carries from epoch to epoch (and a checkpoint carries across runs)."""

    epoch: int = 0  # last finished epoch
    best: float = -math.inf
    best_epoch: int | None = None
    bad_evals: int = 0
    declined: int = 0
    warned: bool = False
    trained: float = 0.0  # seconds spent in training batches
    elapsed: float = 0.0  # seconds since the loop began, monitoring left out
    stuck: int = 0  # epochs in a row with the BPR loss near ln 2
    flat: int = 0  # epochs in a row with collapsed embeddings
    warned_stuck: bool = False
    warned_flat: bool = False
    finished: bool = False  # stopped early or on the budget
    cl_weight: float | None = None  # the method's contrastive weight now (see cl_decay)
    cl_decays: int = 0


class Trainer:
    r"""Trains a :class:`~gcl.methods.Method` on a train log: each epoch shuffles the train
    interactions, draws negatives for all of them at once, and steps Adam per batch; every
    :obj:`eval_every` epochs :obj:`evaluate` is called and early stopping watches its
    :obj:`config.metric`.

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
    epoch is kept); and it warns once (:class:`RuntimeWarning`) when training collapses: the
    BPR loss stays within :obj:`BPR_STUCK_TOL` of :math:`\ln 2` (the loss of random scores)
    for :obj:`config.collapse_epochs` epochs in a row, or the user or item embeddings stop
    differing from each other (their spread, :func:`spread`, below :obj:`SPREAD_MIN`) for as
    many epochs.

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
    """

    def __init__(self, method: Method, graph: UIGraph, train: Interactions, config: TrainConfig,
                 evaluate: Callable[[], dict[str, float]] | None = None,
                 monitor: Callable[[], dict[str, float]] | None = None,
                 checkpoint_dir: str | PathLike | None = None,
                 on_epoch_end: Callable[[list[dict[str, Any]]], bool | None] | None = None,
                 run_info: dict[str, Any] | None = None) -> None:
        self.method, self.graph, self.train, self.config = method, graph, train, config
        self.evaluate, self.monitor = evaluate, monitor
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.on_epoch_end, self.run_info = on_epoch_end, run_info or {}
        self.history: list[dict[str, Any]] = []
        self.best_epoch: int | None = None

    def _report(self, line: str) -> None:
        # One line per evaluation: to the "gcl" logger, and to the terminal above the
        # progress bar when the application has not set up logging.
        log.info(line)
        if self.config.progress and not log.hasHandlers():
            tqdm.write(line)

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
        path = None
        if self.checkpoint_dir is not None:
            path = check_target(self.checkpoint_dir, resume)
        elif resume:
            raise ValueError("resume=True needs the checkpoint_dir to resume from")
        distributed.check_same(self.fingerprint(), "the data or settings of the fit")
        load = path
        if not distributed.is_main():  # rank 0 alone evaluates and writes
            self.evaluate = self.monitor = self.on_epoch_end = None
            path = None
        gen = torch.Generator().manual_seed(cfg.seed)
        sampler = NegativeSampler(self.train, generator=gen)
        self._check_negatives(sampler)
        opt = adam(method.parameters(), cfg.lr)
        self._step = distributed.wrap(method) if distributed.active() else method.loss
        s, best_state = _Progress(cl_weight=getattr(method, "cl_weight", None)), None
        if resume:
            best_state = self._restore(load_checkpoint(load), opt, gen, s)
            if s.cl_weight is not None:
                method.cl_weight = s.cl_weight
        start = time.perf_counter() - s.elapsed
        epoch = s.epoch + 1
        try:
            for epoch in range(s.epoch + 1, cfg.epochs + 1):
                if s.finished:
                    break
                record = self._train_epoch(epoch, opt, gen, sampler, s)
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
                    if self.evaluate is None:  # else the valid line below says it all
                        self._report(
                            f"epoch {epoch} | loss {record['loss']:.4f} | "
                            f"{record['seconds']:.1f}s | monitor recall@20 "
                            f"{record.get('test_recall@20', float('nan')):.4f} ndcg@20 "
                            f"{record.get('test_ndcg@20', float('nan')):.4f}")
                if self.evaluate is not None and due:
                    stop, improved = self._evaluate(epoch, record, start, s, stop)
                    if improved and cfg.restore_best:
                        best_state = copy.deepcopy(method.state_dict())
                stop = distributed.from_main(stop, self.graph.device)
                if distributed.is_main():
                    self._watch_collapse(epoch, record, s)
                # Only rank 0 evaluates: its decision, and its best weights, go to all ranks.
                if distributed.from_main(not stop and self._cl_decay_due(s), self.graph.device):
                    self._decay_cl(epoch, s)
                    if best_state is not None:
                        method.load_state_dict(best_state)
                    distributed.sync_from_main(method)
                    # Adam's second moments hold the old loss's gradient scale: kept, they
                    # would shrink the ranking loss's steps for hundreds of steps.
                    opt.state.clear()
                self.history.append(record)
                s.epoch, s.finished = epoch, stop
                s.elapsed = time.perf_counter() - start
                if path is not None:
                    self._save(path, opt, gen, s, best_state)
                asked = bool(self.on_epoch_end is not None and self.on_epoch_end(self.history))
                if distributed.from_main(asked, self.graph.device) and not stop:
                    stop = s.finished = True
                    if path is not None:
                        self._save(path, opt, gen, s, best_state)
                if stop:
                    break
        except KeyboardInterrupt:
            log.warning(f"training interrupted during epoch {epoch}" + self._kept(path, s))
            raise
        except FloatingPointError as e:
            if path is None:
                raise
            raise FloatingPointError(f"{e}{self._kept(path, s)}") from None
        if best_state is not None:
            method.load_state_dict(best_state)
        distributed.sync_from_main(method)  # the best weights are rank 0's
        method.eval()
        return self.history

    @staticmethod
    def _kept(path: Path | None, s: _Progress) -> str:
        """What an interrupted or failed fit leaves to resume from, as the end of a message."""
        if path is None:
            return ""
        if s.epoch == 0:
            return "; no epoch had finished, so there is no checkpoint to resume"
        return (f"; the checkpoint of epoch {s.epoch}, the last good one, is kept in {path}: "
                "resume with resume=True (gcl train --resume RUN)")

    def _check_negatives(self, sampler: NegativeSampler) -> None:
        if sampler.full_users:
            full = sorted(sampler.full_users)
            raise ValueError(
                f"{len(full)} user(s) have interacted with every one of the "
                f"{self.train.num_items} items, e.g. {ids_to_list(self.train.user_ids[full[:5]])}"
                ": BPR needs a negative item for every train interaction; drop those users "
                "or add items")

    def _train_epoch(self, epoch: int, opt: torch.optim.Optimizer, gen: torch.Generator,
                     sampler: NegativeSampler, s: _Progress) -> dict[str, Any]:
        cfg, method, graph, device = self.config, self.method, self.graph, self.graph.device
        t0 = time.perf_counter()
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
        bar = tqdm(range(n_batches), desc=f"epoch {epoch}", leave=False, unit="batch",
                   disable=not cfg.progress)
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
        seconds = time.perf_counter() - t0
        s.trained += seconds
        record = {"epoch": epoch, "seconds": seconds, "train_seconds": s.trained,
                  **{k: v / n_batches for k, v in sums.items()}}
        if s.cl_weight is not None:
            record["cl_weight"] = s.cl_weight
        return record

    def _evaluate(self, epoch: int, record: dict[str, Any], start: float, s: _Progress,
                  stop: bool) -> tuple[bool, bool]:
        """Evaluates on valid, updates early stopping; returns (stop, improved)."""
        cfg, method = self.config, self.method
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
        self._report(f"epoch {epoch} | loss {record['loss']:.4f} | {record['seconds']:.1f}s | "
                     f"valid {shown}")
        improved = score > s.best
        if improved:
            s.best, s.bad_evals, s.best_epoch = score, 0, epoch
            self.best_epoch = epoch
        else:
            s.bad_evals += 1
        drop, times = cfg.decline_warning
        s.declined = s.declined + 1 if score < (1 - drop) * s.best else 0
        if s.declined >= times and not s.warned:
            s.warned = True
            hint = getattr(method, "tuning_hint", "lower the learning rate")
            warnings.warn(
                f"valid {cfg.metric} has been more than {drop:.0%} below its best "
                f"({s.best:.4f} at epoch {s.best_epoch}) for {s.declined} evaluations: "
                f"the model is training worse, not better; {hint}"
                + (". The best weights will be restored." if cfg.restore_best else "."),
                RuntimeWarning, stacklevel=3)
        if cfg.patience is not None and s.bad_evals >= cfg.patience:
            stop = True
            self._report(f"early stop at epoch {epoch}: best {cfg.metric} {s.best:.4f} "
                         f"at epoch {s.best_epoch}")
        return stop, improved

    # ------------------------------------------------------------------ cl decay
    def _cl_decay_due(self, s: _Progress) -> bool:
        """Whether :obj:`config.cl_decay` lowers the contrastive weight now."""
        return self._can_decay(s) and (self._stalled(s) or self._stuck(s))

    def _can_decay(self, s: _Progress) -> bool:
        """Whether :obj:`config.cl_decay` may still lower the contrastive weight."""
        return self.config.cl_decay is not None and bool(s.cl_weight) and s.cl_decays < CL_DECAYS

    def _stalled(self, s: _Progress) -> bool:
        return self.evaluate is not None and s.bad_evals >= self.config.cl_decay[1]

    def _stuck(self, s: _Progress) -> bool:
        return self.config.collapse_epochs is not None and s.stuck >= self.config.collapse_epochs

    def _decay_cl(self, epoch: int, s: _Progress) -> None:
        """Lowers the method's contrastive weight by :obj:`config.cl_decay`'s factor."""
        cfg = self.config
        why = (f"valid {cfg.metric} has not improved for {cfg.cl_decay[1]} evaluations"
               if self._stalled(s) else
               f"the BPR loss has stayed near ln 2 for {cfg.collapse_epochs} epochs")
        old, s.cl_weight = s.cl_weight, s.cl_weight * cfg.cl_decay[0]
        self.method.cl_weight = s.cl_weight
        s.cl_decays += 1
        s.bad_evals = s.stuck = s.declined = 0
        if distributed.is_main():
            self._report(f"epoch {epoch}: {why}; cl_weight {old:.3g} -> {s.cl_weight:.3g}"
                         + (f", going on from the best weights (epoch {s.best_epoch})"
                            if s.best_epoch is not None and cfg.restore_best else ""))

    # ------------------------------------------------------------------ collapse
    def _watch_collapse(self, epoch: int, record: dict[str, Any], s: _Progress) -> None:
        n = self.config.collapse_epochs
        if n is None:
            return
        hint = getattr(self.method, "tuning_hint", None)
        bpr = record.get("bpr")
        if bpr is not None:
            s.stuck = s.stuck + 1 if abs(bpr - LN2) < BPR_STUCK_TOL else 0
            # Where the contrastive weight can still be lowered, _decay_cl acts instead.
            if s.stuck >= n and not s.warned_stuck and not self._can_decay(s):
                s.warned_stuck = True
                cause = (f"the contrastive loss (cl {record['cl']:.3f}) is being trained, "
                         f"the ranking is not: {hint}" if "cl" in record and hint else
                         "raise the learning rate (lr), lower the L2 weight (reg)")
                warnings.warn(
                    f"training has collapsed: the BPR loss has stayed within {BPR_STUCK_TOL} "
                    f"of ln 2 = {LN2:.4f}, the loss of random scores, for {s.stuck} epochs "
                    f"(epoch {epoch}: {bpr:.4f}), so the model is not learning to rank. Try: "
                    f"{cause}; and check that the train log is not noise",
                    RuntimeWarning, stacklevel=3)
        try:
            self.method.eval()
            with torch.no_grad():
                user_emb, item_emb = self.method.embeddings(self.graph)
        except NotImplementedError:  # a method without ranking embeddings
            return
        spreads = {"user": spread(user_emb), "item": spread(item_emb)}
        side = min(spreads, key=spreads.get)
        s.flat = s.flat + 1 if spreads[side] < SPREAD_MIN else 0
        if s.flat >= n and not s.warned_flat:
            s.warned_flat = True
            warnings.warn(
                f"training has collapsed: the {side} embeddings have been nearly identical "
                f"for {s.flat} epochs (epoch {epoch}: spread {spreads[side]:.1e} < "
                f"{SPREAD_MIN}), so every {side} gets nearly the same scores. Try: a lower "
                "learning rate (lr), a lower L2 weight (reg), fewer layers"
                + (f"; {hint}" if hint else ""), RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------------ checkpoints
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

    def _save(self, path: Path, opt: torch.optim.Optimizer, gen: torch.Generator,
              s: _Progress, best_state: dict[str, torch.Tensor] | None) -> None:
        save_checkpoint(path, {
            "fingerprint": self.fingerprint(),
            "progress": dataclasses.asdict(s),
            "model": {k: v.detach().cpu() for k, v in self.method.state_dict().items()},
            "best_state": None if best_state is None else {
                k: v.detach().cpu() for k, v in best_state.items()},
            "optimizer": opt.state_dict(),
            "rng": rng_states(gen),
            "history": [dict(h) for h in self.history],
        })

    def _restore(self, state: dict[str, Any], opt: torch.optim.Optimizer,
                 gen: torch.Generator, s: _Progress) -> dict[str, torch.Tensor] | None:
        diffs = differences(state.get("fingerprint", {}), self.fingerprint())
        if diffs:
            raise ValueError(
                f"the checkpoint in {self.checkpoint_dir} is of another run; resume it with "
                "the settings and data it was trained with:\n  " + "\n  ".join(diffs))
        self.method.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        set_rng_states(gen, state["rng"])
        for key, value in state["progress"].items():
            setattr(s, key, value)
        self.history = [dict(h) for h in state["history"]]
        self.best_epoch = s.best_epoch
        best = state["best_state"]
        device = self.graph.device
        return None if best is None else {k: v.to(device) for k, v in best.items()}


def spread(emb: torch.Tensor) -> float:
    r"""How much the rows of an embedding matrix differ, in :math:`[0, 1]`: the total
    variance across rows over the mean squared row norm,
    :math:`\sum_d \mathrm{Var}(E_{:,d}) / \overline{\lVert E_r \rVert^2}`
    (:math:`1 - \lVert \bar{E} \rVert^2 / \overline{\lVert E_r \rVert^2}`). It is 0 when
    every row is the same vector, or all are zero (a collapse), and near 1 for random rows.
    """
    e = emb.detach().double()
    if e.shape[0] < 2:
        return 1.0
    sq = (e * e).sum(1).mean()
    if not sq > 1e-24:
        return 0.0
    return float(e.var(0, unbiased=False).sum() / sq)


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
