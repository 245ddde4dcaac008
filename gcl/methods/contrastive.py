"""The shared shape of graph contrastive methods: recommendation loss plus InfoNCE between
two augmented views."""
from __future__ import annotations

from typing import Any

import torch

from gcl.augment.base import Augmenter
from gcl.graph import UIGraph
from gcl.losses import info_nce
from gcl.methods.lightgcn import LightGCNMethod
from gcl.nn import build_encoder
from gcl.view import View


class GraphCLMethod(LightGCNMethod):
    r"""Recommendation loss on the train graph plus a contrastive loss between two views
    made by :obj:`augment`:

    .. math::
        \mathcal{L} = \mathcal{L}_{BPR} + \lambda_{cl}\left(\mathcal{L}_{NCE}(\mathbf{Z}^1_U,
        \mathbf{Z}^2_U) + \mathcal{L}_{NCE}(\mathbf{Z}^1_I, \mathbf{Z}^2_I)\right)
        + \lambda \mathcal{L}_{L2}

    over the batch's unique users and positive items. Views are made anew per epoch or per
    batch, as :obj:`augment.per` says. This is the :obj:`"custom"` method; the published
    methods are subclasses with their papers' defaults.

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        dim (int): embedding size. (default: :obj:`64`)
        layers (int): propagation layers. (default: :obj:`3`)
        reg (float): L2 weight. (default: :obj:`1e-4`)
        augment (Augmenter, optional): makes each view. (default: :obj:`None`, no views)
        cl_weight (float): :math:`\lambda_{cl}`. (default: :obj:`0.1`)
        temperature (float): InfoNCE temperature. (default: :obj:`0.2`)
        encoder (str, dict, torch.nn.Module or callable, optional): replaces LightGCN, e.g.
            :obj:`"gcn"` or :obj:`{"conv": "gat", "heads": 2}` for a
            :class:`~gcl.nn.GNNEncoder`; see :func:`gcl.nn.build_encoder`.
            (default: :obj:`None`, LightGCN)
    """

    name = "custom"
    tuning_hint = "lower cl_weight, or make the augmentation milder"

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 3,
                 reg: float = 1e-4, augment: Augmenter | None = None, cl_weight: float = 0.1,
                 temperature: float = 0.2, encoder: Any = None) -> None:
        super().__init__(num_users, num_items, dim, layers, reg)
        if encoder is not None:
            self.encoder = build_encoder(encoder, num_users, num_items, dim, layers)
        if cl_weight < 0 or temperature <= 0:
            raise ValueError(f"cl_weight must be >= 0 and temperature > 0, got "
                             f"cl_weight={cl_weight}, temperature={temperature}")
        self.augment, self.cl_weight, self.temperature = augment, cl_weight, temperature
        self.generator: torch.Generator | None = None
        self._views: tuple[View, View] | None = None

    def train(self, mode: bool = True) -> GraphCLMethod:
        super().train(mode)
        if self.augment is not None:
            self.augment.train(mode)
        return self

    def make_views(self, graph: UIGraph) -> tuple[View, View]:
        """Two independent views of :obj:`graph`."""
        return self.augment(graph, self.generator), self.augment(graph, self.generator)

    def new_epoch(self, graph: UIGraph, generator: torch.Generator) -> None:
        super().new_epoch(graph, generator)
        if self.augment is not None and self.augment.per == "epoch":
            self._views = self.make_views(graph)

    def views(self, graph: UIGraph) -> tuple[View, View]:
        if self.augment.per == "batch" or self._views is None:
            return self.make_views(graph)
        return self._views

    def contrast(self, z1: tuple[torch.Tensor, torch.Tensor], z2: tuple[torch.Tensor, torch.Tensor],
                 users: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """InfoNCE between two views' (user, item) embeddings over the batch's unique users
        and positive items."""
        u, i = users.unique(), pos.unique()
        return (info_nce(z1[0][u], z2[0][u], self.temperature)
                + info_nce(z1[1][i], z2[1][i], self.temperature))

    def loss(self, graph: UIGraph, users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor) -> dict[str, torch.Tensor]:
        out = super().loss(graph, users, pos, neg)
        if self.augment is None or self.cl_weight == 0:
            return out
        v1, v2 = self.views(graph)
        cl = self.contrast(self.encoder(v1), self.encoder(v2), users, pos)
        return self.add_cl(out, cl)

    def add_cl(self, out: dict[str, torch.Tensor], cl: torch.Tensor) -> dict[str, torch.Tensor]:
        """:obj:`out` with the contrastive term :obj:`cl` recorded and added to the total
        with weight :obj:`cl_weight`."""
        out["cl"] = cl
        out["loss"] = out["loss"] + self.cl_weight * cl
        return out
