"""Losses, functional."""
from __future__ import annotations

import math

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


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2,
             queue: torch.Tensor | None = None) -> torch.Tensor:
    r"""InfoNCE with in-batch negatives, as in SGL (Wu et al., SIGIR 2021) and SimGCL:

    .. math::
        \mathcal{L} = -\frac{1}{B}\sum_{i} \log \frac{\exp(s(z^1_i, z^2_i)/\tau)}
        {\sum_{j} \exp(s(z^1_i, z^2_j)/\tau) + \sum_{k} \exp(s(z^1_i, q_k)/\tau)}

    with :math:`s` the cosine similarity, computed with :func:`~torch.log_softmax` so it stays
    finite for any temperature. Row :math:`i` of both inputs is the same node in two views;
    pass each node once (the batch's unique users or items). The second sum runs over a
    :obj:`queue` of past keys :math:`q_k` (MoCo, He et al., CVPR 2020), extra negatives
    beyond the batch; it is empty without one.

    Args:
        z1 (torch.Tensor): first view (queries), shape :obj:`[B, d]`.
        z2 (torch.Tensor): second view (keys), shape :obj:`[B, d]`.
        temperature (float): :math:`\tau`. (default: :obj:`0.2`)
        queue (torch.Tensor, optional): further negatives, shape :obj:`[K, d]`, no gradient
            flows into them. (default: :obj:`None`)
    """
    if z1.shape != z2.shape:
        raise ValueError(f"the two views must have the same shape, got {tuple(z1.shape)} "
                         f"and {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    # float32 at least: a view from a half-precision propagation is upcast
    dtype = torch.promote_types(torch.promote_types(z1.dtype, z2.dtype), torch.float32)
    z1, z2 = F.normalize(z1.to(dtype), dim=-1), F.normalize(z2.to(dtype), dim=-1)
    logits = z1 @ z2.T / temperature
    if queue is not None and len(queue):
        if queue.dim() != 2 or queue.shape[1] != z1.shape[1]:
            raise ValueError(f"the queue must have shape [K, {z1.shape[1]}], got "
                             f"{tuple(queue.shape)}")
        negatives = F.normalize(queue.detach(), dim=-1)
        logits = torch.cat([logits, z1 @ negatives.T / temperature], dim=1)
    return -torch.diagonal(torch.log_softmax(logits, dim=1)).mean()


def info_nce_all(anchors: torch.Tensor, candidates: torch.Tensor, positive: torch.Tensor,
                 temperature: float = 0.2) -> torch.Tensor:
    r"""InfoNCE of each anchor against every row of :obj:`candidates`, as SGL's reference code
    (SGL-Torch, RecBole-GNN's :obj:`sgl.py`) and NCL's contrast a node with all users (or
    all items) of the other view:

    .. math::
        \mathcal{L} = -\frac{1}{B}\sum_{b} \log \frac{\exp(s(a_b, c_{p_b})/\tau)}
        {\sum_{j=1}^{N} \exp(s(a_b, c_j)/\tau)}

    with :math:`s` the cosine similarity. The positive :math:`c_{p_b}` is one of the
    candidates, so it is in the denominator too.

    Args:
        anchors (torch.Tensor): shape :obj:`[B, d]`.
        candidates (torch.Tensor): e.g. every user of the other view, shape :obj:`[N, d]`.
        positive (torch.Tensor): row of :obj:`candidates` that is each anchor's positive,
            shape :obj:`[B]`.
        temperature (float): :math:`\tau`. (default: :obj:`0.2`)
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    dtype = torch.promote_types(torch.promote_types(anchors.dtype, candidates.dtype),
                                torch.float32)
    a = F.normalize(anchors.to(dtype), dim=-1) / temperature
    c = F.normalize(candidates.to(dtype), dim=-1)
    logits = a @ c.T
    return (torch.logsumexp(logits, dim=1) - (a * c[positive]).sum(-1)).mean()


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 1.0,
            similarity: str = "dot") -> torch.Tensor:
    r"""NT-Xent of SimCLR (Chen et al., ICML 2020) as CL4SRec's code in DuoRec's RecBole
    (:obj:`cl4srec.py`, :obj:`info_nce`) computes it: the :math:`2B` rows of both views are
    anchors, each with the other view of its row as positive and the other :math:`2B-2`
    rows as negatives,

    .. math::
        \mathcal{L} = -\frac{1}{2B}\sum_{i=1}^{2B} \log \frac{\exp(s(z_i, z_{i'})/\tau)}
        {\sum_{j \ne i} \exp(s(z_i, z_j)/\tau)}

    with :math:`s` the dot product (:obj:`"dot"`, the reference's setting) or the cosine
    similarity (:obj:`"cos"`).

    Args:
        z1 (torch.Tensor): first view, shape :obj:`[B, d]`.
        z2 (torch.Tensor): second view, shape :obj:`[B, d]`.
        temperature (float): :math:`\tau`. (default: :obj:`1.0`)
        similarity (str): :obj:`"dot"` or :obj:`"cos"`. (default: :obj:`"dot"`)
    """
    if z1.shape != z2.shape:
        raise ValueError(f"the two views must have the same shape, got {tuple(z1.shape)} "
                         f"and {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if similarity not in ("dot", "cos"):
        raise ValueError(f"similarity must be 'dot' or 'cos', got {similarity!r}")
    z = torch.cat([z1, z2]).to(torch.promote_types(z1.dtype, torch.float32))
    if similarity == "cos":
        z = F.normalize(z, dim=-1)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(len(z), dtype=torch.bool, device=z.device), -math.inf)
    b = len(z1)
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
    return F.cross_entropy(logits, partner)


def cross_layer(z_final: torch.Tensor, z_layer: torch.Tensor,
                temperature: float = 0.2) -> torch.Tensor:
    r"""XSimGCL's cross-layer contrast (Yu et al., "XSimGCL: Towards Extremely Simple Graph
    Contrastive Learning for Recommendation", TKDE 2023): InfoNCE between the final
    embeddings and those of an intermediate layer :math:`l^*` of the same perturbed pass.

    Args:
        z_final (torch.Tensor): final (layer-mean) embeddings, shape :obj:`[B, d]`.
        z_layer (torch.Tensor): layer-:math:`l^*` embeddings, shape :obj:`[B, d]`.
        temperature (float): :math:`\tau`. (default: :obj:`0.2`)
    """
    return info_nce(z_final, z_layer, temperature)


def alignment(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    r"""Alignment of positive pairs (Wang & Isola, ICML 2020; DirectAU, Wang et al., KDD
    2022): :math:`\frac{1}{B}\sum_i \lVert \tilde z^1_i - \tilde z^2_i \rVert_2^{\alpha}` on
    L2-normalised rows.

    Args:
        z1 (torch.Tensor): shape :obj:`[B, d]`.
        z2 (torch.Tensor): shape :obj:`[B, d]`.
        alpha (float): exponent. (default: :obj:`2.0`)
    """
    z1, z2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    return (z1 - z2).norm(dim=1).pow(alpha).mean()


def uniformity(z1: torch.Tensor, z2: torch.Tensor | None = None, t: float = 2.0) -> torch.Tensor:
    r"""Uniformity on the hypersphere (Wang & Isola, ICML 2020):
    :math:`\log \frac{1}{B(B-1)}\sum_{i \ne j} e^{-t \lVert \tilde z_i - \tilde z_j
    \rVert^2}`, averaged over :obj:`z1` and :obj:`z2` when both are given (DirectAU's
    user and item terms).

    Args:
        z1 (torch.Tensor): shape :obj:`[B, d]`.
        z2 (torch.Tensor, optional): shape :obj:`[B', d]`. (default: :obj:`None`)
        t (float): temperature of the Gaussian potential. (default: :obj:`2.0`)
    """
    def one(z: torch.Tensor) -> torch.Tensor:
        z = F.normalize(z, dim=-1)
        return torch.pdist(z).pow(2).mul(-t).exp().mean().log()

    return one(z1) if z2 is None else (one(z1) + one(z2)) / 2
