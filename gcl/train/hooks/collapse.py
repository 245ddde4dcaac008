"""Signs of a collapsed training, watched and warned about."""
from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from gcl import distributed
from gcl.methods.base import GENERIC_TUNING_HINT
from gcl.train.hooks.base import WARN_STACKLEVEL, Hook
from gcl.train.hooks.cl_schedule import can_decay
from gcl.train.state import Fit

LN2 = math.log(2.0)
#: The BPR loss within this of :math:`\ln 2` counts as "not learning" (random scores).
BPR_STUCK_TOL = 0.01
#: Embeddings whose :func:`spread` is below this count as collapsed.
SPREAD_MIN = 1e-3


def spread(emb: torch.Tensor) -> float:
    r"""How much the rows of an embedding matrix differ, in :math:`[0, 1]`: the total
    variance across rows over the mean squared row norm,
    :math:`\sum_d \mathrm{Var}(E_{:,d}) / \overline{\lVert E_r \rVert^2}`
    (:math:`1 - \lVert \bar{E} \rVert^2 / \overline{\lVert E_r \rVert^2}`). It is 0 when
    every row is the same vector, or all are zero (a collapse), and near 1 for random rows.

    Args:
        emb (torch.Tensor): the embeddings, :obj:`[N, d]`.
    """
    e = emb.detach().double()
    if e.shape[0] < 2:
        return 1.0
    sq = (e * e).sum(1).mean()
    if not sq > 1e-24:
        return 0.0
    return float(e.var(0, unbiased=False).sum() / sq)


class CollapseWatch(Hook):
    r"""Warns once each (:class:`RuntimeWarning`, naming what to try) when training
    collapses for :obj:`epochs` epochs in a row: the BPR loss stays within
    :obj:`BPR_STUCK_TOL` of :math:`\ln 2` (the loss of random scores), or the user or item
    embeddings stop differing (:func:`spread` below :obj:`SPREAD_MIN`). Where
    :class:`ClSchedule` can still lower the contrastive weight, a stuck BPR loss is left
    to it instead of warned about. Rank 0 alone watches.

    Args:
        epochs (int, optional): epochs in a row; :obj:`None` never checks.
            (default: :obj:`5`)
        cl_decay (tuple of float and int, optional): the schedule's setting
            (:obj:`TrainConfig.cl_decay`). (default: :obj:`None`)
    """

    def __init__(self, epochs: int | None = 5,
                 cl_decay: tuple[float, int] | None = None) -> None:
        self.epochs, self.cl_decay = epochs, cl_decay

    def on_epoch_end(self, fit: Fit, record: dict[str, Any]) -> None:
        if self.epochs is None or not distributed.is_main():
            return
        s, n, method = fit.state, self.epochs, fit.trainer.method
        # the method's own hint; the generic one repeats the advice given below
        hint = None if method.tuning_hint == GENERIC_TUNING_HINT else method.tuning_hint
        bpr = record.get("bpr")
        if bpr is not None:
            s.stuck = s.stuck + 1 if abs(bpr - LN2) < BPR_STUCK_TOL else 0
            if s.stuck >= n and not s.warned_stuck and not can_decay(self.cl_decay, s):
                s.warned_stuck = True
                cause = (f"the contrastive loss (cl {record['cl']:.3f}) is being trained, "
                         f"the ranking is not: {hint}" if "cl" in record and hint else
                         "raise the learning rate (lr), lower the L2 weight (reg)")
                warnings.warn(
                    f"training has collapsed: the BPR loss has stayed within {BPR_STUCK_TOL} "
                    f"of ln 2 = {LN2:.4f}, the loss of random scores, for {s.stuck} epochs "
                    f"(epoch {fit.epoch}: {bpr:.4f}), so the model is not learning to rank. "
                    f"Try: {cause}; and check that the train log is not noise",
                    RuntimeWarning, stacklevel=WARN_STACKLEVEL)
        try:
            method.eval()
            with torch.no_grad():
                user_emb, item_emb = method.embeddings(fit.trainer.graph)
        except NotImplementedError:  # a method without ranking embeddings
            return
        spreads = {"user": spread(user_emb), "item": spread(item_emb)}
        side = min(spreads, key=spreads.get)
        s.flat = s.flat + 1 if spreads[side] < SPREAD_MIN else 0
        if s.flat >= n and not s.warned_flat:
            s.warned_flat = True
            warnings.warn(
                f"training has collapsed: the {side} embeddings have been nearly identical "
                f"for {s.flat} epochs (epoch {fit.epoch}: spread {spreads[side]:.1e} < "
                f"{SPREAD_MIN}), so every {side} gets nearly the same scores. Try: a lower "
                "learning rate (lr), a lower L2 weight (reg), fewer layers"
                + (f"; {hint}" if hint else ""), RuntimeWarning, stacklevel=WARN_STACKLEVEL)
