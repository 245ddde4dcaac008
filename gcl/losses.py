"""Losses, functional."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    r"""Bayesian personalised ranking loss from `"BPR: Bayesian Personalized Ranking from
    Implicit Feedback" <https://arxiv.org/abs/1205.2618>`_ (Rendle et al., UAI 2009):
    :math:`-\frac{1}{B}\sum \log \sigma(s^+ - s^-)`.

    Args:
        pos_scores (torch.Tensor): scores of positive pairs, shape :obj:`[B]`.
        neg_scores (torch.Tensor): scores of negative pairs, shape :obj:`[B]` or
            :obj:`[B, N]` (averaged over the :obj:`N` negatives).
    """
    if neg_scores.dim() == pos_scores.dim() + 1:
        pos_scores = pos_scores.unsqueeze(-1)
    return F.softplus(neg_scores - pos_scores).mean()


def l2(*tensors: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    r"""LightGCN's regulariser :math:`\frac{1}{2B}\sum_t \lVert t \rVert_2^2` over the batch's
    layer-0 embeddings.

    Args:
        *tensors (torch.Tensor): the embeddings, first dimension the batch.
        batch_size (int, optional): :math:`B`. (default: the first tensor's length)
    """
    b = batch_size or tensors[0].shape[0]
    return sum(t.pow(2).sum() for t in tensors) / (2 * b)
