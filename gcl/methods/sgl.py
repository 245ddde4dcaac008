"""SGL: self-supervised graph learning with edge drop, node drop or random walk views."""
from __future__ import annotations

import torch

from gcl.augment.edge import EdgeDrop, NodeDrop, RandomWalk
from gcl.losses import info_nce, info_nce_all
from gcl.methods.contrastive import GraphCLMethod


class _SGL(GraphCLMethod):
    r"""SGL from `"Self-supervised Graph Learning for Recommendation"
    <https://arxiv.org/abs/2010.10783>`_ (Wu et al., SIGIR 2021), following the authors'
    code (wujcan/SGL-Torch, :obj:`model/general_recommender/SGL.py`, :obj:`conf/SGL.ini`).

    Two views of the train graph are made at the start of every epoch with the variant's
    augmentation; the loss is BPR on the full graph plus :obj:`cl_weight` times InfoNCE
    between the views, plus L2 on the batch's layer-0 rows. Each user of the batch (and
    each positive item, one anchor per row) is contrasted with *all* users (items) of the
    other view, cosine similarity at temperature :math:`\tau`
    (:func:`~gcl.losses.info_nce_all`):

    .. math::
        \mathcal{L}_{cl} = -\frac{1}{B}\sum_{u \in \mathcal{B}} \log
        \frac{e^{s(\mathbf{z}'_u, \mathbf{z}''_u)/\tau}}
        {\sum_{v \in \mathcal{U}} e^{s(\mathbf{z}'_u, \mathbf{z}''_v)/\tau}}
        + (\text{the same over the batch's items and all items})

    (the reference sums BPR and InfoNCE over the batch; the means here keep their ratio).
    Defaults are the reference's: 3 layers, Xavier-uniform start, drop ratio 0.1,
    :math:`\lambda_{cl}=0.1`, :math:`\tau=0.2`, L2 1e-4. Two variants contrast within the
    batch only: :obj:`negatives="in-batch"` sums one InfoNCE over the batch's unique users
    and one over its unique items (:func:`~gcl.losses.info_nce`; the form that composes
    with :obj:`moco`), and :obj:`negatives="joint"` takes one InfoNCE over the unique users
    and items together, so that users are negatives of items and the other way round
    (SELFRec's :obj:`model/graph/SGL.py`).

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        dim (int): embedding size. (default: :obj:`64`)
        layers (int): propagation layers. (default: :obj:`3`)
        reg (float): L2 weight. (default: :obj:`1e-4`)
        p (float): drop ratio of the augmentation. (default: :obj:`0.1`)
        cl_weight (float): :math:`\lambda_{cl}`. (default: :obj:`0.1`)
        temperature (float): :math:`\tau`. (default: :obj:`0.2`)
        init_std (float or str): std of the normal initialisation of the ID table, or
            :obj:`"xavier"` (see :class:`~gcl.nn.LightGCN`). (default: :obj:`"xavier"`)
        negatives (str): :obj:`"all"` (all users / items of the other view),
            :obj:`"in-batch"` (the batch's unique users / items) or :obj:`"joint"` (the
            batch's unique users and items in one InfoNCE). (default: :obj:`"all"`)
        draw (str): how the augmentation picks what it drops: :obj:`"exact"` (a fixed
            count, the reference's) or :obj:`"bernoulli"` (each edge or node on its own; see
            :class:`~gcl.augment.EdgeDrop`). (default: :obj:`"exact"`)
    """

    tuning_hint = "lower cl_weight or the drop ratio p, or raise temperature"

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 3,
                 reg: float = 1e-4, p: float = 0.1, cl_weight: float = 0.1,
                 temperature: float = 0.2, init_std: float | str = "xavier",
                 negatives: str = "all", draw: str = "exact") -> None:
        if negatives not in ("all", "in-batch", "joint"):
            raise ValueError(f"negatives must be 'all', 'in-batch' or 'joint', got "
                             f"{negatives!r}")
        super().__init__(num_users, num_items, dim, layers, reg, self.make_augment(p, layers, draw),
                         cl_weight, temperature, init_std=init_std)
        self.p, self.negatives, self.draw = p, negatives, draw

    def add_momentum(self, moco) -> None:
        if self.negatives != "in-batch":
            raise ValueError(f"{self.name} with negatives={self.negatives!r} has no MoCo "
                             "queue form (with 'all' each node meets all users or items "
                             "already): pass negatives='in-batch' to use moco")
        super().add_momentum(moco)

    def contrast(self, z1: tuple[torch.Tensor, torch.Tensor], z2: tuple[torch.Tensor, torch.Tensor],
                 users: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """InfoNCE of the batch's users and positive items in view :obj:`z1` against all
        users and items of view :obj:`z2` (or, with :obj:`negatives="in-batch"`,
        :meth:`GraphCLMethod.contrast`; with :obj:`"joint"`, one InfoNCE over the batch's
        unique users and items stacked)."""
        if self.negatives == "in-batch":
            return super().contrast(z1, z2, users, pos)
        if self.negatives == "joint":
            u, i = users.unique(), pos.unique()
            return info_nce(self.project(torch.cat([z1[0][u], z1[1][i]])),
                            self.project(torch.cat([z2[0][u], z2[1][i]])), self.temperature)
        return sum(info_nce_all(self.project(a[idx]), self.project(b), idx, self.temperature)
                   for a, b, idx in ((z1[0], z2[0], users), (z1[1], z2[1], pos)))

    @staticmethod
    def make_augment(p: float, layers: int, draw: str):
        raise NotImplementedError


class SGLEdge(_SGL):
    """SGL-ED: each view drops a fraction :obj:`p` of the interactions (:class:`EdgeDrop`)."""

    name = "sgl-ed"

    @staticmethod
    def make_augment(p: float, layers: int, draw: str) -> EdgeDrop:
        return EdgeDrop(p, draw)


class SGLNode(_SGL):
    """SGL-ND: each view drops a fraction :obj:`p` of users and items with their edges
    (:class:`NodeDrop`)."""

    name = "sgl-nd"

    @staticmethod
    def make_augment(p: float, layers: int, draw: str) -> NodeDrop:
        return NodeDrop(p, draw)


class SGLWalk(_SGL):
    """SGL-RW: each view drops a fresh fraction :obj:`p` of interactions at every layer
    (:class:`RandomWalk`)."""

    name = "sgl-rw"

    @staticmethod
    def make_augment(p: float, layers: int, draw: str) -> RandomWalk:
        return RandomWalk(p, layers, draw)
