"""LightGCL: contrast the graph's propagation with a low-rank SVD propagation."""
from __future__ import annotations

import torch

from gcl.augment.svd import SVDView
from gcl.graph import UIGraph
from gcl.methods.contrastive import GraphCLMethod


class LightGCL(GraphCLMethod):
    r"""LightGCL from `"LightGCL: Simple Yet Effective Graph Contrastive Learning for
    Recommendation" <https://arxiv.org/abs/2302.08191>`_ (Cai et al., ICLR 2023), following
    the authors' code (HKUDS/LightGCL, :obj:`model.py`, :obj:`parser.py`).

    The main view is LightGCN over the train graph, read out as the layer *sum*
    :math:`\mathbf{E} = \sum_{l=0}^{L} \mathbf{E}^{(l)}`, which BPR and ranking use. The
    SVD view propagates every layer of the main view through a rank-:obj:`rank` SVD of the
    normalised adjacency (:class:`SVDView`, computed once per fit):
    :math:`\mathbf{G}^{(l)} = \hat{\mathbf{A}}_{svd}\mathbf{E}^{(l-1)}`, summed likewise.
    The contrastive loss takes each row of the batch as an anchor: its user, and its
    positive and negative items, with raw (unnormalised) scores,

    .. math::
        \mathcal{L}_{cl} = \operatorname{mean}_{u} \Big(\log \sum_{v \in \mathcal{U}}
        e^{\mathbf{g}_u^\top \mathbf{e}_v / \tau}
        - \mathrm{clamp}(\mathbf{g}_u^\top \mathbf{e}_u / \tau, -5, 5)\Big)
        + (\text{the same over the items } i^+ \cup i^- \text{ and all items})

    and the regulariser is :math:`\lambda \lVert \mathbf{E}^{(0)} \rVert^2` over the whole
    ID table, every step:
    :math:`\mathcal{L} = \mathcal{L}_{BPR} + \lambda_{cl}\mathcal{L}_{cl} + \lambda
    \lVert \mathbf{E}^{(0)} \rVert^2`. Defaults are the reference's: 2 layers,
    Xavier-uniform start, rank 5, :math:`\lambda_{cl}=0.2`, :math:`\tau=0.2`,
    :math:`\lambda=10^{-7}` (its edge dropout defaults to 0 and is left out).

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        dim (int): embedding size. (default: :obj:`64`)
        layers (int): propagation layers. (default: :obj:`2`)
        reg (float): :math:`\lambda`, on the squared norm of the whole ID table.
            (default: :obj:`1e-7`)
        rank (int): SVD rank :math:`q`. (default: :obj:`5`)
        cl_weight (float): :math:`\lambda_{cl}`. (default: :obj:`0.2`)
        temperature (float): :math:`\tau`. (default: :obj:`0.2`)
        init_std (float or str): std of the normal initialisation of the ID table, or
            :obj:`"xavier"` (see :class:`~gcl.nn.LightGCN`). (default: :obj:`"xavier"`)
        readout (str): :obj:`"sum"` of the layers (the reference) or :obj:`"mean"` (a
            variant, LightGCN's: BPR scores :math:`(L+1)^2` smaller). (default:
            :obj:`"sum"`)
        item_anchors (str): the items contrasted per batch: :obj:`"pos+neg"`, each row's
            positive and negatives (the reference), or :obj:`"pos"`, positives only (as
            RecBole-GNN's :obj:`lightgcl.py`). (default: :obj:`"pos+neg"`)
    """

    name = "lightgcl"
    capabilities = frozenset({"text", "projection_head", "cl_weight"})
    missing = {"momentum": "lightgcl contrasts each node with all users or items already, so "
               "a MoCo queue adds no negatives"}
    tuning_hint = "lower cl_weight or raise temperature or the SVD rank"

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 2,
                 reg: float = 1e-7, rank: int = 5, cl_weight: float = 0.2,
                 temperature: float = 0.2, init_std: float | str = "xavier",
                 readout: str = "sum", item_anchors: str = "pos+neg") -> None:
        if readout not in ("sum", "mean"):
            raise ValueError(f"readout must be 'sum' or 'mean', got {readout!r}")
        if item_anchors not in ("pos+neg", "pos"):
            raise ValueError(f"item_anchors must be 'pos+neg' or 'pos', got {item_anchors!r}")
        super().__init__(num_users, num_items, dim, layers, reg, SVDView(rank), cl_weight,
                         temperature, init_std=init_std)
        self.rank, self.readout, self.item_anchors = rank, readout, item_anchors

    def reg_loss(self, users: torch.Tensor, pos: torch.Tensor,
                 neg: torch.Tensor) -> torch.Tensor:
        return self.encoder.embedding.weight.pow(2).sum()

    def read(self, layers: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """User and item embeddings from all layers, by :obj:`readout`."""
        users, items = self.encoder.readout(layers)  # the mean (a text branch's cold items)
        if self.readout == "sum":
            return users * len(layers), items * len(layers)
        return users, items

    def loss(self, graph: UIGraph, users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor) -> dict[str, torch.Tensor]:
        layers = self.encoder.propagate(graph)
        out = self.rec_loss(*self.read(layers), users, pos, neg)
        svd = self.augment(graph, self.generator)
        svd_layers = [layers[0]] + [svd.propagate(h, k) for k, h in enumerate(layers[:-1])]
        main = self.encoder.split(sum(layers[1:], layers[0]))
        items = pos if self.item_anchors == "pos" else torch.cat([pos, neg.reshape(-1)])
        cl = self.contrast(main, self.encoder.split(sum(svd_layers[1:], svd_layers[0])), users,
                           items)
        return self.add_cl(out, cl)

    def embeddings(self, graph: UIGraph) -> tuple[torch.Tensor, torch.Tensor]:
        return self.read(self.encoder.propagate(graph))

    def contrast(self, z: tuple[torch.Tensor, torch.Tensor], g: tuple[torch.Tensor, torch.Tensor],
                 users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """The reference's contrastive loss between the main view :obj:`z` and the SVD view
        :obj:`g`, as (users, items) pairs of layer sums, over the anchor rows :obj:`users`
        and :obj:`items` (repeats counted, as the reference does)."""
        loss = torch.zeros((), device=z[0].device)
        for main, svd, idx in ((z[0], g[0], users), (z[1], g[1], items)):
            anchor, main = self.project(svd[idx]), self.project(main)
            # 1/tau on the [B, d] anchors, not on the [B, U] (or [B, I]) logits: the same
            # numbers, without two passes over the largest tensor of the step.
            anchor = anchor / self.temperature
            negatives = torch.logsumexp(anchor @ main.T, dim=1).mean()
            positives = (anchor * main[idx]).sum(1).clamp(-5, 5).mean()
            loss = loss + negatives - positives
        return loss
