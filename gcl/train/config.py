"""The settings of the training loop."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

#: The clocks :obj:`TrainConfig.budget_clock` names.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


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
            time on :obj:`budget_clock` since the loop began, evaluations included.
            (default: :obj:`None`)
        budget_clock (str): the clock of :obj:`budget_seconds` and of the records' times
            (:obj:`"seconds"`, :obj:`"elapsed"`, ...): :obj:`"wall"`
            (:func:`time.perf_counter`) or :obj:`"cpu"` (:func:`time.process_time`, the
            process's CPU seconds over all threads, which a busy machine does not
            stretch). (default: :obj:`"wall"`)
        seed (int): seed of shuffling, negative sampling and augmentation (the weights are
            initialised before, see :func:`seed_everything`). (default: :obj:`0`)
        progress (bool): show a progress bar per epoch on a terminal, and the epoch lines
            on stderr when the application has not set up logging (see
            :mod:`gcl.train.logs`). (default: :obj:`True`)
        decline_warning (tuple of float and int): warn once when the valid metric has been
            more than this fraction below its best for this many evaluations in a row.
            (default: :obj:`(0.1, 3)`)
        collapse_epochs (int, optional): warn once when training shows a sign of collapse
            (BPR loss near :math:`\ln 2`, or embeddings that no longer differ, see
            :class:`~gcl.train.hooks.CollapseWatch`) for this many epochs in a row;
            :obj:`None` never checks. (default: :obj:`5`)
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
    budget_clock: str = "wall"
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
        if self.budget_clock not in CLOCKS:
            raise ValueError(f"budget_clock must be one of {sorted(CLOCKS)}, got "
                             f"{self.budget_clock!r}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience}")
        if self.collapse_epochs is not None and self.collapse_epochs < 1:
            raise ValueError(f"collapse_epochs must be >= 1 or None, got {self.collapse_epochs}")
        if self.cl_decay is not None:
            factor, evals = self.cl_decay
            if not (0 < factor < 1) or int(evals) != evals or evals < 1:
                raise ValueError(f"cl_decay must be (factor in (0, 1), evaluations >= 1) or "
                                 f"None, got {self.cl_decay}")
