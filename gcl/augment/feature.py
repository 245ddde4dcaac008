r"""Augmenters on the layer-0 input: node masking and feature (dimension) masking."""
from __future__ import annotations

import math

import torch

from gcl.augment.base import Augmenter
from gcl.augment.draws import check_prob, draw_seed, keep_mask
from gcl.view import View


def _num_masked(p: float, d: int) -> int:
    r""":math:`\lceil p d \rceil`, robust to float error (:obj:`0.3 * 10` is 3, not 4)."""
    return min(d, math.ceil(round(p * d, 9)))


class NodeMask(Augmenter):
    r"""Node masking: zeroes the layer-0 input rows of a random fraction :math:`p` of the
    nodes, leaving the graph itself (and so every edge) intact.

    The input-level counterpart of SGL-ND (`"Self-supervised Graph Learning for
    Recommendation" <https://arxiv.org/abs/2010.10783>`_, Wu et al., SIGIR 2021), as in the
    node-feature masking of masked graph autoencoders (`"GraphMAE"
    <https://arxiv.org/abs/2205.10803>`_, Hou et al., KDD 2022), which use a zero/[MASK]
    input instead of removing the node:

    .. math::
        \mathbf{m} \sim \mathrm{Bernoulli}(1 - p)^{U+I}, \qquad
        \mathbf{H}^{(0)} = \mathrm{diag}(\mathbf{m})\, \mathbf{X}

    Masked nodes still receive messages from their neighbours in later layers. The mask is
    drawn when the view is made (:meth:`aug`), so a view masks the same nodes every time it
    runs. Like SGL-ND, new views **per epoch** (:obj:`per = "epoch"`).

    Args:
        p (float): mask probability per node, :math:`p \in [0, 1)`. (default: :obj:`0.1`)

    Shapes:
        - **input:** a graph or :class:`~gcl.view.View` with :math:`N = U + I` nodes; the
          view's input function then takes :math:`\mathbf{X}` of shape :obj:`[N, d]`
        - **output:** a :class:`~gcl.view.View`; :attr:`mask` is a CPU bool tensor :obj:`[N]`
          (:obj:`True` = kept)
    """

    per = "epoch"

    def __init__(self, p: float = 0.1) -> None:
        super().__init__()
        self.p = check_prob(p)

    def augment(self, view: View, generator: torch.Generator | None) -> View:
        n = view.graph.num_nodes
        mask = keep_mask((n,), self.p, generator)
        self.mask = mask
        cache: dict[torch.device, torch.Tensor] = {}

        def input_fn(x: torch.Tensor) -> torch.Tensor:
            if x.dim() != 2 or x.shape[0] != n:
                raise ValueError(f"NodeMask expects the layer-0 input of shape [{n}, d], "
                                 f"got {tuple(x.shape)}")
            if x.device not in cache:
                cache[x.device] = mask.to(x.device)
            return x.masked_fill(~cache[x.device].unsqueeze(-1), 0)

        return view.add_input(input_fn)


class FeatureMask(Augmenter):
    r"""Feature masking from `"Self-supervised Learning for Large-scale Item Recommendations"
    <https://arxiv.org/abs/2007.12865>`_ (Yao et al., CIKM 2021): zeroes some feature
    dimensions (columns) of the layer-0 input :math:`\mathbf{X} \in \mathbb{R}^{N \times d}`.

    * :obj:`mode="random"` (RFM): each dimension is masked independently with probability
      :math:`p`, :math:`\mathbf{m} \sim \mathrm{Bernoulli}(1 - p)^{d}`,
      :math:`\mathbf{H}^{(0)} = \mathbf{X}\,\mathrm{diag}(\mathbf{m})`. By default **one** mask
      over the :math:`d` columns is drawn per view and applied to all nodes; with
      :obj:`per_node=True` every node gets its own mask,
      :math:`\mathbf{M} \sim \mathrm{Bernoulli}(1 - p)^{N \times d}`,
      :math:`\mathbf{H}^{(0)} = \mathbf{M} \odot \mathbf{X}`.
    * :obj:`mode="correlated"` (CFM): draw a seed dimension :math:`s` uniformly, then mask the
      :math:`k = \lceil p d \rceil` dimensions most correlated with it (the seed included):

      .. math::
          \rho_j = \left| \frac{(\mathbf{x}_{:,j} - \bar{x}_j)^\top
          (\mathbf{x}_{:,s} - \bar{x}_s)}{\lVert \mathbf{x}_{:,j} - \bar{x}_j \rVert\,
          \lVert \mathbf{x}_{:,s} - \bar{x}_s \rVert} \right|, \qquad
          \mathbf{m}_j = 0 \iff j \in \operatorname{top-}k(\rho), \ \rho_s := \infty

      The paper ranks categorical features by mutual information over the data set; here
      the absolute Pearson correlation across the input's rows stands in for it, computed
      (without gradient) on the input every time the view runs, so it follows the
      embeddings as they train. Constant columns count as uncorrelated.

    The randomness (the random mask, or the seed dimension) comes from a seed drawn from the
    generator when the view is made, so a view applies the same random choice every time it
    runs and the same generator seed gives the same view. Since :math:`d` is only known then,
    :attr:`mask` is set when the view's input function runs (the last mask used). The paper
    masks the features of every training example anew, i.e. new views **per batch**
    (:obj:`per = "batch"`). (The paper also makes its two views' masks complementary; here
    each view draws its own.)

    Args:
        p (float): masked fraction :math:`p \in [0, 1)`. (default: :obj:`0.5`, the paper's
            half of the features)
        mode (str): :obj:`"random"` or :obj:`"correlated"`. (default: :obj:`"random"`)
        per_node (bool): in :obj:`"random"` mode, an independent mask per node.
            (default: :obj:`False`)

    Shapes:
        - **input:** a graph or :class:`~gcl.view.View`; the view's input function then takes
          :math:`\mathbf{X}` of shape :obj:`[N, d]`
        - **output:** a :class:`~gcl.view.View`; :attr:`mask` is a bool tensor :obj:`[d]`
          (or :obj:`[N, d]` with :obj:`per_node=True`) on the input's device
          (:obj:`True` = kept)
    """

    per = "batch"
    modes = ("random", "correlated")

    def __init__(self, p: float = 0.5, mode: str = "random", per_node: bool = False) -> None:
        super().__init__()
        self.p = check_prob(p)
        if mode not in self.modes:
            raise ValueError(f"mode must be one of {self.modes}, got {mode!r}")
        if per_node and mode != "random":
            raise ValueError("per_node=True only applies to mode='random'")
        self.mode, self.per_node = mode, bool(per_node)

    def _random_mask(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        shape = tuple(x.shape) if self.per_node else (x.shape[1],)
        return torch.rand(shape, generator=gen, device=x.device) >= self.p

    def _correlated_mask(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        d = x.shape[1]
        mask = torch.ones(d, dtype=torch.bool, device=x.device)
        k = _num_masked(self.p, d)
        if k == 0:
            return mask
        s = int(torch.randint(0, d, (1,), generator=gen, device=x.device).item())
        with torch.no_grad():
            xd = x.detach()
            xd = xd.to(torch.promote_types(xd.dtype, torch.float32))
            xc = xd - xd.mean(0, keepdim=True)
            norms = torch.linalg.vector_norm(xc, dim=0)
            denom = (norms * norms[s]).clamp_min(torch.finfo(xc.dtype).tiny)
            rho = (xc.T @ xc[:, s]).abs() / denom
            rho[s] = math.inf
            mask[torch.topk(rho, k).indices] = False
        return mask

    def augment(self, view: View, generator: torch.Generator | None) -> View:
        seed = draw_seed(generator)
        self.mask = None  # set when the view runs

        def input_fn(x: torch.Tensor) -> torch.Tensor:
            if x.dim() != 2:
                raise ValueError(f"FeatureMask expects a 2-D input [N, d], got {tuple(x.shape)}")
            gen = torch.Generator(device=x.device)
            gen.manual_seed(seed)
            make = self._random_mask if self.mode == "random" else self._correlated_mask
            mask = make(x, gen)
            self.mask = mask
            fill = ~mask if self.per_node else ~mask.unsqueeze(0)
            return x.masked_fill(fill, 0)

        return view.add_input(input_fn)
