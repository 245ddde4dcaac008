"""Rank 0's decisions and weights, sent to every rank of a distributed fit."""
from __future__ import annotations

from typing import Any

from gcl import distributed
from gcl.train.hooks.base import Hook
from gcl.train.state import Fit


class Broadcast(Hook):
    """In a :mod:`torch.distributed` fit, only rank 0 evaluates, so only it knows when to
    stop and which weights are best: after every epoch its :obj:`fit.stop` replaces every
    rank's (list this hook last, after every hook that may stop), and at the end every
    rank gets its weights. Without a process group it does nothing.
    """

    def on_epoch_end(self, fit: Fit, record: dict[str, Any]) -> None:
        fit.stop = distributed.from_main(fit.stop, fit.device)

    def on_fit_end(self, fit: Fit) -> None:
        distributed.sync_from_main(fit.trainer.method)  # the best weights are rank 0's
