"""SGL: self-supervised graph learning with edge drop, node drop or random walk views."""
from __future__ import annotations

from gcl.augment.edge import EdgeDrop, NodeDrop, RandomWalk
from gcl.methods.contrastive import GraphCLMethod


class _SGL(GraphCLMethod):
    r"""SGL from `"Self-supervised Graph Learning for Recommendation"
    <https://arxiv.org/abs/2010.10783>`_ (Wu et al., SIGIR 2021).

    Two views of the train graph are made at the start of every epoch with the variant's
    augmentation; the loss is BPR on the full graph plus :obj:`cl_weight` times InfoNCE
    between the views' embeddings of the batch's unique users and items (in-batch
    negatives), plus L2. Defaults are the paper's: drop ratio 0.1, :math:`\lambda_{cl}=0.1`,
    :math:`\tau=0.2`.

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
            :obj:`"xavier"` (see :class:`~gcl.nn.LightGCN`). (default: :obj:`0.1`)
    """

    tuning_hint = "lower cl_weight or the drop ratio p, or raise temperature"

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 3,
                 reg: float = 1e-4, p: float = 0.1, cl_weight: float = 0.1,
                 temperature: float = 0.2, init_std: float | str = 0.1) -> None:
        super().__init__(num_users, num_items, dim, layers, reg, self.make_augment(p, layers),
                         cl_weight, temperature, init_std=init_std)
        self.p = p

    @staticmethod
    def make_augment(p: float, layers: int):
        raise NotImplementedError


class SGLEdge(_SGL):
    """SGL-ED: each view drops a fraction :obj:`p` of the interactions (:class:`EdgeDrop`)."""

    name = "sgl-ed"

    @staticmethod
    def make_augment(p: float, layers: int) -> EdgeDrop:
        return EdgeDrop(p)


class SGLNode(_SGL):
    """SGL-ND: each view drops a fraction :obj:`p` of users and items with their edges
    (:class:`NodeDrop`)."""

    name = "sgl-nd"

    @staticmethod
    def make_augment(p: float, layers: int) -> NodeDrop:
        return NodeDrop(p)


class SGLWalk(_SGL):
    """SGL-RW: each view drops a fresh fraction :obj:`p` of interactions at every layer
    (:class:`RandomWalk`)."""

    name = "sgl-rw"

    @staticmethod
    def make_augment(p: float, layers: int) -> RandomWalk:
        return RandomWalk(p, layers)
