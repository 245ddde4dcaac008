"""Early stopping on the valid metric, and the best weights kept."""
from __future__ import annotations

import copy
from typing import Any

from gcl.train.hooks.base import Hook
from gcl.train.state import Fit


class EarlyStopping(Hook):
    """Watches :obj:`metric` at every evaluation: a score above the best so far (a tie is
    not) becomes the best, and with :obj:`restore_best` its weights are kept
    (:obj:`fit.best_state`) and restored when the fit ends; after :obj:`patience`
    evaluations in a row without improvement, training stops.

    Its state (:obj:`best`, :obj:`best_epoch`, :obj:`bad_evals` of
    :class:`~gcl.train.state.FitState`) goes into checkpoints, and the trainer's
    :obj:`best_epoch` follows it.

    Args:
        metric (str): the key of the valid metrics to watch, e.g. :obj:`"ndcg@20"`.
        patience (int, optional): evaluations without improvement before stopping;
            :obj:`None` never stops. (default: :obj:`10`)
        restore_best (bool): end with the weights of the best evaluation.
            (default: :obj:`True`)
    """

    def __init__(self, metric: str, patience: int | None = 10,
                 restore_best: bool = True) -> None:
        self.metric, self.patience, self.restore_best = metric, patience, restore_best

    def on_epoch_end(self, fit: Fit, record: dict[str, Any]) -> None:
        if fit.metrics is None:
            return
        s, score = fit.state, fit.metrics[self.metric]
        if score > s.best:
            s.best, s.bad_evals, s.best_epoch = score, 0, fit.epoch
            fit.trainer.best_epoch = fit.epoch
            if self.restore_best:
                fit.best_state = copy.deepcopy(fit.trainer.method.state_dict())
        else:
            s.bad_evals += 1
        if self.patience is not None and s.bad_evals >= self.patience:
            fit.stop = True
            fit.report(f"early stop at epoch {fit.epoch}: best {self.metric} {s.best:.4f} "
                       f"at epoch {s.best_epoch}")

    def on_fit_end(self, fit: Fit) -> None:
        if fit.best_state is not None:
            fit.trainer.method.load_state_dict(fit.best_state)
