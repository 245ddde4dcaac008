"""The monitor curve: a second evaluation, recorded only."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from gcl.train.hooks.base import Hook
from gcl.train.state import Fit


class Monitor(Hook):
    """Calls :obj:`monitor` at the epochs that are evaluated and records its metrics as
    :obj:`"test_<metric>"` keys: a curve (e.g. on test, for a benchmark) that never chooses
    anything. Its time is left out of :obj:`"elapsed"` and of the budget.

    Args:
        monitor (callable, optional): returns a metrics dict for the current weights;
            :obj:`None` does nothing. (default: :obj:`None`)
    """

    def __init__(self, monitor: Callable[[], dict[str, float]] | None = None) -> None:
        self.monitor = monitor

    def on_epoch_end(self, fit: Fit, record: dict[str, Any]) -> None:
        if self.monitor is None or not fit.due:
            return
        fit.trainer.method.eval()
        t1 = fit.clock()
        with torch.no_grad():
            record.update({f"test_{k}": v for k, v in self.monitor().items() if k != "users"})
        fit.start += fit.clock() - t1  # monitoring is not training time
        record["elapsed"] = fit.clock() - fit.start
