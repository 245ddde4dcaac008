"""What a fit carries from epoch to epoch: :class:`FitState`, the part a checkpoint keeps,
and :class:`Fit`, the live run that every hook sees."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from gcl.train import logs

if TYPE_CHECKING:
    from gcl.train.loop import Trainer


@dataclass
class FitState:
    """The progress of a fit, saved in every checkpoint as one flat dict (the field names
    are the checkpoint's keys, so keep them). Each field belongs to one part of the loop:

    * the loop: :obj:`epoch` (last finished), :obj:`trained` (seconds in training
      batches), :obj:`elapsed` (seconds since the loop began, monitoring left out),
      :obj:`finished` (stopped early or on the budget);
    * :class:`~gcl.train.hooks.EarlyStopping`: :obj:`best`, :obj:`best_epoch`,
      :obj:`bad_evals`;
    * :class:`~gcl.train.hooks.DeclineWarning`: :obj:`declined`, :obj:`warned`;
    * :class:`~gcl.train.hooks.CollapseWatch`: :obj:`stuck` (epochs in a row with the BPR
      loss near ln 2), :obj:`flat` (epochs in a row with collapsed embeddings),
      :obj:`warned_stuck`, :obj:`warned_flat`;
    * :class:`~gcl.train.hooks.ClSchedule`: :obj:`cl_weight` (the method's contrastive
      weight now), :obj:`cl_decays`.
    """

    epoch: int = 0
    best: float = -math.inf
    best_epoch: int | None = None
    bad_evals: int = 0
    declined: int = 0
    warned: bool = False
    trained: float = 0.0
    elapsed: float = 0.0
    stuck: int = 0
    flat: int = 0
    warned_stuck: bool = False
    warned_flat: bool = False
    finished: bool = False
    cl_weight: float | None = None
    cl_decays: int = 0


@dataclass
class Fit:
    """The run in progress, as :meth:`Trainer.fit` hands it to its hooks.

    Args:
        trainer (Trainer): the trainer (method, graph, train log, config, history).
        state (FitState): the progress a checkpoint keeps.
        optimizer (torch.optim.Optimizer): the optimiser.
        generator (torch.Generator): the loop's random generator (shuffling, negatives,
            augmentation).
        start (float): the :obj:`clock` reading at which :obj:`"elapsed"` is 0; moved
            forward by the time spent monitoring.
        evaluating (bool): whether this rank evaluates on valid.
        epoch (int): the epoch now ending. (default: :obj:`0`)
        due (bool): whether this epoch is evaluated (and monitored). (default: :obj:`False`)
        metrics (dict, optional): this epoch's valid metrics, when it was evaluated.
            (default: :obj:`None`)
        stop (bool): whether training stops after this epoch; a hook sets it to stop.
            (default: :obj:`False`)
        best_state (dict, optional): the weights of the best evaluation, restored at the
            end (and by the contrastive-weight schedule). (default: :obj:`None`)
        clock (callable): the clock of :obj:`start`, the budget and :obj:`"elapsed"`
            (:obj:`TrainConfig.budget_clock`). (default: :func:`time.perf_counter`)
    """

    trainer: Trainer
    state: FitState
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    start: float
    evaluating: bool
    epoch: int = 0
    due: bool = False
    metrics: dict[str, float] | None = None
    stop: bool = False
    best_state: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    clock: Callable[[], float] = field(default=time.perf_counter, repr=False)

    def report(self, line: str) -> None:
        """Logs one line of the run (see :func:`gcl.train.logs.report`)."""
        logs.report(line, self.trainer.config.progress)

    @property
    def device(self) -> torch.device:
        return self.trainer.graph.device

    def history(self) -> list[dict[str, Any]]:
        """The history so far, this epoch's record last."""
        return self.trainer.history
