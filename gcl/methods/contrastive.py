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
from gcl.nn.momentum import MomentumEncoder, moco_settings
from gcl.nn.projection import ProjectionHead
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

    Two parts compose with every subclass (:func:`gcl.methods.build_method` adds them from
    the :obj:`projection_head` and :obj:`moco` settings): a SimCLR projection head
    (:meth:`add_projection_head`), which the contrastive loss sees and the ranking
    embeddings never do, and a MoCo momentum encoder with a queue of negatives
    (:meth:`add_momentum`), which makes the second view's keys.

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
        init_std (float or str): std of the normal initialisation of the ID table, or
            :obj:`"xavier"` (see :class:`~gcl.nn.LightGCN`). (default: :obj:`0.1`)
        cl_anchors (int, optional): contrast at most this many of the batch's unique users
            (and as many items) per step, drawn at random without replacement, so that the
            in-batch InfoNCE costs at most :math:`O(\text{cl\_anchors}^2)` whatever the
            batch size; a variant for large batches, not part of any paper's method.
            :obj:`None` contrasts them all, as the papers do. (default: :obj:`None`)
    """

    name = "custom"
    capabilities = frozenset({"text", "projection_head", "momentum", "cl_weight"})
    tuning_hint = "lower cl_weight, or make the augmentation milder"

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 3,
                 reg: float = 1e-4, augment: Augmenter | None = None, cl_weight: float = 0.1,
                 temperature: float = 0.2, encoder: Any = None,
                 init_std: float | str = 0.1, cl_anchors: int | None = None) -> None:
        super().__init__(num_users, num_items, dim, layers, reg, init_std)
        if encoder is not None:
            self.encoder = build_encoder(encoder, num_users, num_items, dim, layers)
        if cl_weight < 0 or temperature <= 0:
            raise ValueError(f"cl_weight must be >= 0 and temperature > 0, got "
                             f"cl_weight={cl_weight}, temperature={temperature}")
        if cl_anchors is not None and (isinstance(cl_anchors, bool)
                                       or not isinstance(cl_anchors, int) or cl_anchors < 2):
            raise ValueError(f"cl_anchors must be an int >= 2 or None, got {cl_anchors!r}")
        self.augment, self.cl_weight, self.temperature = augment, cl_weight, temperature
        self.cl_anchors = cl_anchors
        self.generator: torch.Generator | None = None
        self._views: tuple[View, View] | None = None
        self.head: ProjectionHead | None = None
        self.momentum: MomentumEncoder | None = None

    def add_projection_head(self, layers: int) -> None:
        """Adds a :class:`~gcl.nn.projection.ProjectionHead` of :obj:`layers` linear layers
        that both views go through inside :meth:`contrast` only."""
        self.require("projection_head", "projection_head")
        if self.momentum is not None:
            raise ValueError("add the projection head before the momentum encoder")
        self.head = ProjectionHead(self._out_dim(), layers)

    def add_momentum(self, moco: bool | dict[str, Any]) -> None:
        """Adds a :class:`~gcl.nn.momentum.MomentumEncoder` (a key encoder, and a head when
        there is one, kept as an EMA of the query's; queues of past keys as extra negatives).
        :obj:`moco` is :obj:`True` or a dict of :obj:`size` (default :obj:`4096`) and
        :obj:`momentum` (default :obj:`0.99`); the temperature is the method's."""
        self.require("momentum", "moco")
        cfg = moco_settings(moco)
        self.momentum = MomentumEncoder(self.encoder, self._out_dim(), cfg["size"],
                                        cfg["momentum"], self.head)

    def _out_dim(self) -> int:
        """Size of the encoder's output embeddings (a GNNEncoder's may differ from dim)."""
        return getattr(self.encoder, "out_dim", self.encoder.embedding.weight.shape[1])

    def attach_text(self, branch) -> None:
        if self.momentum is not None:
            raise ValueError("moco does not compose with a text branch: fit without "
                             "item_text, or without moco")
        super().attach_text(branch)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """Embeddings :obj:`z` as the contrastive loss sees them: through the head, if any."""
        return z if self.head is None else self.head(z)

    def key_pass(self, fn: Any, *args: Any) -> Any:
        """With a momentum encoder: one EMA step, then :obj:`fn(key_encoder, *args)` without
        gradients. Without one: :obj:`fn(encoder, *args)`."""
        if self.momentum is None:
            return fn(self.encoder, *args)
        if self.training:
            self.momentum.update(self.encoder, self.head)
        with torch.no_grad():
            return fn(self.momentum.encoder, *args)

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

    def anchors(self, ids: torch.Tensor) -> torch.Tensor:
        """The unique ids of :obj:`ids` that the contrastive loss takes as anchors: all of
        them, or :obj:`cl_anchors` of them drawn with the method's generator."""
        idx = ids.unique()
        if self.cl_anchors is None or idx.numel() <= self.cl_anchors:
            return idx
        gen = self.generator if self.generator is not None else torch.default_generator
        pick = torch.randperm(idx.numel(), generator=gen, device=gen.device)
        return idx[pick[: self.cl_anchors].to(idx.device)]

    def contrast(self, z1: tuple[torch.Tensor, torch.Tensor], z2: tuple[torch.Tensor, torch.Tensor],
                 users: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """InfoNCE between two views' (user, item) embeddings over the batch's unique users
        and positive items (see :meth:`anchors`), through the projection head if any. With
        a momentum encoder, :obj:`z2` is its output (the keys), its queues add negatives
        (past keys of nodes not in this batch), and this batch's keys join the queues
        afterwards."""
        loss = torch.zeros((), device=z1[0].device)
        for side, a, b, idx in (("user", z1[0], z2[0], self.anchors(users)),
                                ("item", z1[1], z2[1], self.anchors(pos))):
            if self.momentum is None:
                loss = loss + info_nce(self.project(a[idx]), self.project(b[idx]),
                                       self.temperature)
                continue
            queue = self.momentum.queues[side]
            with torch.no_grad():
                keys = self.momentum.project(b[idx])
            loss = loss + info_nce(self.project(a[idx]), keys, self.temperature,
                                   queue.keys(exclude=idx))
            if self.training:
                queue.push(keys, idx)
        return loss

    def loss(self, graph: UIGraph, users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor) -> dict[str, torch.Tensor]:
        out = super().loss(graph, users, pos, neg)
        if self.augment is None or self.cl_weight == 0:
            return out
        v1, v2 = self.views(graph)
        z1 = self.encoder(v1)
        cl = self.contrast(z1, self.key_pass(lambda enc, v: enc(v), v2), users, pos)
        return self.add_cl(out, cl)

    def add_cl(self, out: dict[str, torch.Tensor], cl: torch.Tensor) -> dict[str, torch.Tensor]:
        """:obj:`out` with the contrastive term :obj:`cl` recorded and added to the total
        with weight :obj:`cl_weight`."""
        out["cl"] = cl
        out["loss"] = out["loss"] + self.cl_weight * cl
        return out
