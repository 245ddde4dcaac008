"""The one interface of the training loop's hooks."""
from __future__ import annotations

from typing import Any

from gcl.train.state import Fit

#: The :obj:`stacklevel` of a warning raised in a hook's :meth:`Hook.on_epoch_end`, so
#: that it points at the code that called :meth:`Trainer.fit`.
WARN_STACKLEVEL = 4


class Hook:
    """One concern of the training loop (early stopping, checkpoints, ...), called at fixed
    points of :meth:`gcl.train.Trainer.fit`. The loop trains the epoch's batches and
    evaluates on valid when due; everything else is a hook. Hooks run in the order the
    trainer lists them (see :meth:`Trainer.hooks`), on every rank of a distributed run.
    Override what you need; each method does nothing by default.
    """

    def on_fit_start(self, fit: Fit) -> None:
        """Before the first epoch; a resumed fit has its state back already."""

    def on_epoch_end(self, fit: Fit, record: dict[str, Any]) -> None:
        """After every epoch, once it is trained, evaluated when due (:obj:`fit.metrics`)
        and appended to the history. :obj:`record` is the epoch's history entry: a hook
        may add keys to it. Set :obj:`fit.stop = True` to stop after this epoch."""

    def on_fit_end(self, fit: Fit) -> None:
        """After the last epoch, when the fit did not fail."""
