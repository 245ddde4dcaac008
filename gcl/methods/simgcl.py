"""SimGCL: contrast two noise-perturbed passes instead of graph augmentations."""
from __future__ import annotations

from gcl.augment.noise import EmbeddingNoise
from gcl.methods.contrastive import GraphCLMethod


class SimGCL(GraphCLMethod):
    r"""SimGCL from `"Are Graph Augmentations Necessary? Simple Graph Contrastive Learning
    for Recommendation" <https://arxiv.org/abs/2112.08679>`_ (Yu et al., SIGIR 2022).

    Each view is a LightGCN pass over the unchanged graph with uniform noise of norm
    :obj:`eps` added in the embedding's orthant at every layer (:class:`EmbeddingNoise`),
    drawn anew for every batch. BPR is computed on the clean pass. The readout averages
    layers :math:`1..K`, without the input layer, as in the paper's code. Defaults are the
    paper's and SELFRec's (:obj:`model/graph/SimGCL.py`, :obj:`conf/SimGCL.yaml`, the authors'
    code, which this follows): 2 layers, Xavier-uniform start, :math:`\epsilon=0.1`,
    :math:`\lambda_{cl}=0.5`, :math:`\tau=0.2`.

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        dim (int): embedding size. (default: :obj:`64`)
        layers (int): propagation layers. (default: :obj:`2`)
        reg (float): L2 weight. (default: :obj:`1e-4`)
        eps (float): noise norm :math:`\epsilon`. (default: :obj:`0.1`)
        cl_weight (float): :math:`\lambda_{cl}`. (default: :obj:`0.5`)
        temperature (float): :math:`\tau`. (default: :obj:`0.2`)
        init_std (float or str): std of the normal initialisation of the ID table, or
            :obj:`"xavier"` (see :class:`~gcl.nn.LightGCN`). (default: :obj:`"xavier"`)
        cl_anchors (int, optional): at most this many users (and items) of the batch
            contrasted per step, a variant for large batches (see
            :meth:`GraphCLMethod.anchors`); :obj:`None` contrasts all, as the paper.
            (default: :obj:`None`)
    """

    name = "simgcl"
    tuning_hint = "lower cl_weight or eps, or raise temperature"

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 2,
                 reg: float = 1e-4, eps: float = 0.1, cl_weight: float = 0.5,
                 temperature: float = 0.2, init_std: float | str = "xavier",
                 cl_anchors: int | None = None) -> None:
        super().__init__(num_users, num_items, dim, layers, reg, EmbeddingNoise(eps),
                         cl_weight, temperature, init_std=init_std, cl_anchors=cl_anchors)
        self.encoder.include_input = False
        self.eps = eps
