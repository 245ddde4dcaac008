"""The contrastive-weight schedule (:obj:`TrainConfig.cl_decay`)."""
from __future__ import annotations

from typing import Any

from gcl import distributed
from gcl.train.hooks.base import Hook
from gcl.train.state import Fit, FitState

#: The most times :obj:`TrainConfig.cl_decay` lowers a method's contrastive weight.
CL_DECAYS = 3


def can_decay(cl_decay: tuple[float, int] | None, state: FitState) -> bool:
    """Whether :obj:`cl_decay` may still lower the contrastive weight: it is set, the
    method has a weight above 0, and fewer than :obj:`CL_DECAYS` decays were made."""
    return cl_decay is not None and bool(state.cl_weight) and state.cl_decays < CL_DECAYS


class ClSchedule(Hook):
    r"""Multiplies the method's contrastive weight (:obj:`method.cl_weight`) by
    :obj:`factor` when the valid metric has not improved for :obj:`evaluations`
    evaluations in a row (:obj:`bad_evals` of :class:`EarlyStopping`), or when the BPR
    loss has stayed near :math:`\ln 2` for :obj:`collapse_epochs` epochs (:obj:`stuck` of
    :class:`CollapseWatch`), at most :obj:`CL_DECAYS` times; then goes on from the best
    weights so far, with those counts and Adam's moments restarted. List it after both.
    Rank 0 decides; every rank follows, with rank 0's weights.

    The weight the epoch trained with is in its record (:obj:`"cl_weight"`), and the
    weight now in the checkpoint (:obj:`cl_weight` of
    :class:`~gcl.train.state.FitState`).

    Args:
        cl_decay (tuple of float and int, optional): :obj:`(factor, evaluations)`;
            :obj:`None` keeps the weight fixed. (default: :obj:`None`)
        collapse_epochs (int, optional): epochs of a BPR loss near :math:`\ln 2` that
            also call for a decay; :obj:`None` never. (default: :obj:`5`)
        metric (str): the valid metric watched, named in the log line.
            (default: :obj:`"ndcg@20"`)
        restore_best (bool): whether best weights are kept, named in the log line.
            (default: :obj:`True`)
    """

    def __init__(self, cl_decay: tuple[float, int] | None = None,
                 collapse_epochs: int | None = 5, metric: str = "ndcg@20",
                 restore_best: bool = True) -> None:
        self.cl_decay, self.collapse_epochs = cl_decay, collapse_epochs
        self.metric, self.restore_best = metric, restore_best

    def _stalled(self, fit: Fit) -> bool:
        return fit.evaluating and fit.state.bad_evals >= self.cl_decay[1]

    def _stuck(self, fit: Fit) -> bool:
        return self.collapse_epochs is not None and fit.state.stuck >= self.collapse_epochs

    def due(self, fit: Fit) -> bool:
        """Whether the weight is lowered now."""
        return (can_decay(self.cl_decay, fit.state)
                and (self._stalled(fit) or self._stuck(fit)))

    def on_epoch_end(self, fit: Fit, record: dict[str, Any]) -> None:
        # Only rank 0 evaluates: its decision, and its best weights, go to all ranks.
        if not distributed.from_main(not fit.stop and self.due(fit), fit.device):
            return
        self._decay(fit)
        method = fit.trainer.method
        if fit.best_state is not None:
            method.load_state_dict(fit.best_state)
        distributed.sync_from_main(method)
        # Adam's second moments hold the old loss's gradient scale: kept, they would
        # shrink the ranking loss's steps for hundreds of steps.
        fit.optimizer.state.clear()

    def _decay(self, fit: Fit) -> None:
        s = fit.state
        why = (f"valid {self.metric} has not improved for {self.cl_decay[1]} evaluations"
               if self._stalled(fit) else
               f"the BPR loss has stayed near ln 2 for {self.collapse_epochs} epochs")
        old, s.cl_weight = s.cl_weight, s.cl_weight * self.cl_decay[0]
        fit.trainer.method.cl_weight = s.cl_weight
        s.cl_decays += 1
        s.bad_evals = s.stuck = s.declined = 0
        if distributed.is_main():
            fit.report(f"epoch {fit.epoch}: {why}; cl_weight {old:.3g} -> {s.cl_weight:.3g}"
                       + (f", going on from the best weights (epoch {s.best_epoch})"
                          if s.best_epoch is not None and self.restore_best else ""))
