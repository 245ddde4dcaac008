"""A warning when the valid metric falls well below its best."""
from __future__ import annotations

import warnings
from typing import Any

from gcl.train.hooks.base import WARN_STACKLEVEL, Hook
from gcl.train.state import Fit


class DeclineWarning(Hook):
    """Warns once (:class:`RuntimeWarning`) when the valid metric has been more than
    :obj:`drop` below its best (as :class:`EarlyStopping` keeps it, so list this hook after
    it) for :obj:`times` evaluations in a row: the model is training worse, not better.
    The warning names the method's :obj:`tuning_hint`.

    Args:
        metric (str): the watched valid metric, named in the warning.
        drop (float): the fraction below the best that counts as a decline.
            (default: :obj:`0.1`)
        times (int): evaluations in a row. (default: :obj:`3`)
        restore_best (bool): whether the best weights will be restored (said in the
            warning). (default: :obj:`True`)
    """

    def __init__(self, metric: str, drop: float = 0.1, times: int = 3,
                 restore_best: bool = True) -> None:
        self.metric, self.drop, self.times, self.restore_best = metric, drop, times, restore_best

    def on_epoch_end(self, fit: Fit, record: dict[str, Any]) -> None:
        if fit.metrics is None:
            return
        s = fit.state
        s.declined = s.declined + 1 if fit.metrics[self.metric] < (1 - self.drop) * s.best else 0
        if s.declined >= self.times and not s.warned:
            s.warned = True
            hint = fit.trainer.method.tuning_hint
            warnings.warn(
                f"valid {self.metric} has been more than {self.drop:.0%} below its best "
                f"({s.best:.4f} at epoch {s.best_epoch}) for {s.declined} evaluations: "
                f"the model is training worse, not better; {hint}"
                + (". The best weights will be restored." if self.restore_best else "."),
                RuntimeWarning, stacklevel=WARN_STACKLEVEL)
