"""LightGCL: contrast the graph's propagation with a low-rank SVD propagation."""
from __future__ import annotations

import torch

from gcl.augment.svd import SVDView
from gcl.graph import UIGraph
from gcl.methods.contrastive import GraphCLMethod


class LightGCL(GraphCLMethod):
    r"""LightGCL from `"LightGCL: Simple Yet Effective Graph Contrastive Learning for
    Recommendation" <https://arxiv.org/abs/2302.08191>`_ (Cai et al., ICLR 2023).

    The main view is LightGCN over the train graph. The SVD view propagates every layer of
    the main view through a rank-:obj:`rank` SVD of the normalised adjacency
    (:class:`SVDView`, computed once per fit):
    :math:`\mathbf{G}^{(l)} = \hat{\mathbf{A}}_{svd}\mathbf{E}^{(l-1)}`. InfoNCE contrasts
    the two views' layer sums as the paper's code does: for each of the batch's unique users
    (and positive items) :math:`u`, with raw (unnormalised) scores,

    .. math::
        \mathcal{L}_{cl} = \log \sum_{v} e^{\mathbf{g}_u^\top \mathbf{z}_v / \tau}
        - \mathrm{clamp}(\mathbf{g}_u^\top \mathbf{z}_u / \tau, -5, 5)

    where :math:`v` runs over *all* users (items), not only the batch's, and
    :math:`\mathbf{g}`, :math:`\mathbf{z}` are the SVD and main views. Defaults are the
    paper's: rank 5, :math:`\lambda_{cl}=0.2`, :math:`\tau=0.2`.

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        dim (int): embedding size. (default: :obj:`64`)
        layers (int): propagation layers. (default: :obj:`3`)
        reg (float): L2 weight. (default: :obj:`1e-4`)
        rank (int): SVD rank :math:`q`. (default: :obj:`5`)
        cl_weight (float): :math:`\lambda_{cl}`. (default: :obj:`0.2`)
        temperature (float): :math:`\tau`. (default: :obj:`0.2`)
        init_std (float or str): std of the normal initialisation of the ID table, or
            :obj:`"xavier"` (see :class:`~gcl.nn.LightGCN`). (default: :obj:`0.1`)
    """

    name = "lightgcl"
    tuning_hint = "lower cl_weight or raise temperature or the SVD rank"

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 3,
                 reg: float = 1e-4, rank: int = 5, cl_weight: float = 0.2,
                 temperature: float = 0.2, init_std: float | str = 0.1) -> None:
        super().__init__(num_users, num_items, dim, layers, reg, SVDView(rank), cl_weight,
                         temperature, init_std=init_std)
        self.rank = rank

    def add_momentum(self, moco) -> None:
        raise ValueError("lightgcl contrasts each node with all users or items already, so a "
                         "MoCo queue adds no negatives: use moco with sgl-*, simgcl, xsimgcl "
                         "or custom")

    def loss(self, graph: UIGraph, users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor) -> dict[str, torch.Tensor]:
        layers = self.encoder.propagate(graph)
        out = self.rec_loss(*self.encoder.readout(layers), users, pos, neg)
        svd = self.augment(graph, self.generator)
        svd_layers = [layers[0]] + [svd.propagate(h, k) for k, h in enumerate(layers[:-1])]
        main = self.encoder.split(sum(layers[1:], layers[0]))
        cl = self.contrast(main, self.encoder.split(sum(svd_layers[1:], svd_layers[0])), users,
                           pos)
        return self.add_cl(out, cl)

    def contrast(self, z: tuple[torch.Tensor, torch.Tensor], g: tuple[torch.Tensor, torch.Tensor],
                 users: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """The paper's contrastive loss between the main view :obj:`z` and the SVD view
        :obj:`g`, as (users, items) pairs of layer sums."""
        loss = torch.zeros((), device=z[0].device)
        for main, svd, idx in ((z[0], g[0], users.unique()), (z[1], g[1], pos.unique())):
            anchor, main = self.project(svd[idx]), self.project(main)
            # 1/tau on the [B, d] anchors, not on the [B, U] (or [B, I]) logits: the same
            # numbers, without two passes over the largest tensor of the step.
            anchor = anchor / self.temperature
            negatives = torch.logsumexp(anchor @ main.T, dim=1).mean()
            positives = (anchor * main[idx]).sum(1).clamp(-5, 5).mean()
            loss = loss + negatives - positives
        return loss
