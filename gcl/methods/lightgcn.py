"""LightGCN trained with BPR: the base every contrastive method builds on."""
from __future__ import annotations

import torch

from gcl.graph import UIGraph
from gcl.losses import bpr, l2
from gcl.methods.base import Method
from gcl.nn.lightgcn import LightGCN

#: The largest share of the graph's edges a batch's rows may hold for :meth:`LightGCNMethod.loss`
#: to propagate its last layer for those rows only (more, and slicing them costs more than
#: the full product: see ``benchmarks/results/step_cost.md``).
ROWS_ONLY_MAX = 0.5


class LightGCNMethod(Method):
    r"""LightGCN (He et al., SIGIR 2020) with the BPR loss and L2 on the batch's layer-0
    embeddings:

    .. math::
        \mathcal{L} = \mathcal{L}_{BPR} + \lambda \frac{1}{2B}\left(\lVert \mathbf{e}_u^{(0)}
        \rVert^2 + \lVert \mathbf{e}_{i^+}^{(0)} \rVert^2 + \lVert \mathbf{e}_{i^-}^{(0)}
        \rVert^2\right)

    No augmented views: one propagation over the train graph per batch.

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        dim (int): embedding size. (default: :obj:`64`)
        layers (int): propagation layers. (default: :obj:`3`)
        reg (float): L2 weight :math:`\lambda`. (default: :obj:`1e-4`)
        init_std (float or str): std of the normal initialisation of the ID table, or
            :obj:`"xavier"` (see :class:`~gcl.nn.LightGCN`). (default: :obj:`0.1`)
    """

    name = "lightgcn"
    capabilities = frozenset({"text"})

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 3,
                 reg: float = 1e-4, init_std: float | str = 0.1) -> None:
        super().__init__(num_users, num_items)
        self.encoder = LightGCN(num_users, num_items, dim, layers, init_std=init_std)
        self.reg = reg

    def new_epoch(self, graph: UIGraph, generator: torch.Generator) -> None:
        self.generator = generator

    def rec_loss(self, user_emb: torch.Tensor, item_emb: torch.Tensor, users: torch.Tensor,
                 pos: torch.Tensor, neg: torch.Tensor) -> dict[str, torch.Tensor]:
        """BPR on the final embeddings plus L2 on the layer-0 rows of the batch, and the
        method's loss terms (:meth:`~gcl.methods.base.Method.add_terms`: e.g. a text
        branch's). Every method of the family ranks through it, or through
        :meth:`ranking_loss` and :meth:`add_terms` on rows it gathers itself (XSimGCL's
        :meth:`~gcl.methods.XSimGCL.cross_layer_loss`)."""
        out = self.ranking_loss(user_emb[users], item_emb[pos],
                                item_emb[neg.view(len(users), -1)], users, pos, neg)
        return self.add_terms(out, user_emb, item_emb, users, pos, neg)

    def ranking_loss(self, u: torch.Tensor, i_pos: torch.Tensor, i_neg: torch.Tensor,
                     users: torch.Tensor, pos: torch.Tensor,
                     neg: torch.Tensor) -> dict[str, torch.Tensor]:
        """BPR of the batch's final rows (:obj:`[B, d]`, :obj:`[B, d]`, :obj:`[B, N, d]`)
        plus :obj:`reg` times :meth:`reg_loss`."""
        rec = bpr((u * i_pos).sum(-1), (u.unsqueeze(1) * i_neg).sum(-1))
        reg = self.reg_loss(users, pos, neg)
        return {"loss": rec + self.reg * reg, "bpr": rec, "reg": reg}

    def reg_loss(self, users: torch.Tensor, pos: torch.Tensor,
                 neg: torch.Tensor) -> torch.Tensor:
        """The regulariser that :obj:`reg` weighs: LightGCN's L2 on the batch's layer-0
        rows (:func:`~gcl.losses.l2`)."""
        w = self.encoder.embedding.weight
        return l2(w[users], w[self.num_users + pos], w[self.num_users + neg.view(-1)],
                  batch_size=len(users))

    def loss(self, graph: UIGraph, users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.rows_only(graph):
            nodes = torch.cat([users, self.num_users + pos, self.num_users + neg.reshape(-1)])
            rows, at = torch.unique(nodes, return_inverse=True)
            if graph.row_edges(rows) < ROWS_ONLY_MAX * graph.num_edges:
                h = self.encoder.readout_rows(graph, rows)[at]
                b = len(users)
                return self.ranking_loss(h[:b], h[b:2 * b], h[2 * b:].view(b, -1, h.shape[1]),
                                         users, pos, neg)
        user_emb, item_emb = self.encoder(graph)
        return self.rec_loss(user_emb, item_emb, users, pos, neg)

    def rows_only(self, graph: UIGraph) -> bool:
        """Whether :meth:`loss` may propagate the last layer for the batch's rows only
        (:meth:`gcl.nn.LightGCN.readout_rows`; the same loss and gradients): plain LightGCN
        over a plain graph in float32, without loss terms (such as a text branch's). It
        does so when those rows hold fewer than :obj:`ROWS_ONLY_MAX` of the graph's edges,
        where it pays."""
        enc = self.encoder
        return (type(self).rec_loss is LightGCNMethod.rec_loss and isinstance(graph, UIGraph)
                and not self.terms and isinstance(enc, LightGCN) and enc.layers > 0
                and enc.compute_dtype is None)

    def embeddings(self, graph: UIGraph) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(graph)
