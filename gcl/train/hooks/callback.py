"""The user's :obj:`on_epoch_end` callback."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gcl import distributed
from gcl.train.hooks.base import Hook
from gcl.train.hooks.checkpoints import Checkpoints
from gcl.train.state import Fit


class Callback(Hook):
    """Calls :obj:`fn` with the history after every epoch, once its checkpoint is written
    (list it after :class:`Checkpoints`); when it returns :obj:`True`, training stops
    after this epoch, as on the budget, and the checkpoint is written again to say so.
    Rank 0's answer counts on every rank.

    Args:
        fn (callable, optional): :obj:`history -> bool or None`; :obj:`None` on ranks
            other than 0. (default: :obj:`None`)
        checkpoints (Checkpoints, optional): the checkpoints to rewrite when :obj:`fn`
            stops the fit. (default: :obj:`None`)
    """

    def __init__(self, fn: Callable[[list[dict[str, Any]]], bool | None] | None = None,
                 checkpoints: Checkpoints | None = None) -> None:
        self.fn, self.checkpoints = fn, checkpoints

    def on_epoch_end(self, fit: Fit, record: dict[str, Any]) -> None:
        asked = bool(self.fn is not None and self.fn(fit.trainer.history))
        if distributed.from_main(asked, fit.device) and not fit.stop:
            fit.stop = fit.state.finished = True
            if self.checkpoints is not None and self.checkpoints.write:
                self.checkpoints.save(fit)
