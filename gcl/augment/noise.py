r"""SimGCL's uniform embedding noise."""
from __future__ import annotations

import math
import numbers

import torch

from gcl.augment.base import Augmenter
from gcl.view import View


class EmbeddingNoise(Augmenter):
    r"""Directed random noise on every propagated layer, from `"Are Graph Augmentations
    Necessary? Simple Graph Contrastive Learning for Recommendation"
    <https://arxiv.org/abs/2112.08679>`_ (Yu et al., SIGIR 2022, SimGCL).

    After each propagation step :math:`k`, every row gets a random vector of length
    :math:`\epsilon` in the orthant of the embedding:

    .. math::
        \mathbf{h}_i^{(k)} \leftarrow \mathbf{h}_i^{(k)} + \boldsymbol{\Delta}_i^{(k)},
        \qquad \boldsymbol{\Delta}_i^{(k)} = \epsilon \,
        \frac{\mathbf{r}_i}{\lVert \mathbf{r}_i \rVert_2} \odot \mathrm{sign}(\mathbf{h}_i^{(k)}),
        \qquad \mathbf{r}_i \sim U(0, 1)^{d}

    so :math:`\lVert \boldsymbol{\Delta}_i \rVert_2 = \epsilon` wherever
    :math:`\mathbf{h}_i` has no zero entry (a zero entry gets no noise, as in the paper's
    code), and :math:`\mathrm{sign}(\mathbf{h} + \boldsymbol{\Delta}) = \mathrm{sign}(
    \mathbf{h})`. The layer-0 input is not perturbed (SimGCL also leaves
    :math:`\mathbf{E}^{(0)}` out of the layer mean; that choice belongs to the encoder).

    Noise is drawn afresh at **every call** of the view's perturbation, i.e. per batch /
    forward pass (:obj:`per = "batch"`), with the generator given to :meth:`aug` (which the
    view keeps and advances) or torch's global RNG if none, in :math:`\mathbf{h}`'s dtype and
    on its device. :attr:`mask` is :obj:`None`.

    Args:
        eps (float): noise magnitude :math:`\epsilon \ge 0`. (default: :obj:`0.1`, the
            paper's usual value)

    Shapes:
        - **input:** a graph or :class:`~gcl.view.View`; the view's perturbation then takes
          :math:`\mathbf{H}^{(k)}` of shape :obj:`[N, d]` (any leading shape, noise is
          normalised over the last dimension)
        - **output:** a :class:`~gcl.view.View` adding :math:`\boldsymbol{\Delta}` of the same
          shape
    """

    per = "batch"

    def __init__(self, eps: float = 0.1) -> None:
        super().__init__()
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
            raise TypeError(f"eps must be a non-negative number, got {eps!r}")
        if not (math.isfinite(float(eps)) and float(eps) >= 0.0):
            raise ValueError(f"eps must be finite and >= 0, got {eps!r}")
        self.eps = float(eps)

    @staticmethod
    def noise(h: torch.Tensor, eps: float,
              generator: torch.Generator | None = None) -> torch.Tensor:
        r""":math:`\boldsymbol{\Delta}` for :obj:`h` (no gradient flows through it)."""
        if not h.is_floating_point():
            raise TypeError(f"EmbeddingNoise needs floating-point embeddings, got {h.dtype}")
        device = h.device if generator is None else generator.device
        r = torch.rand(h.shape, generator=generator, device=device, dtype=h.dtype)
        if r.device != h.device:
            r = r.to(h.device)
        # F.normalize(r) * eps * sign(h), computed in place: the same numbers, bit for bit,
        # without three more [N, d] tensors per layer.
        r.div_(torch.linalg.vector_norm(r, dim=-1, keepdim=True).clamp_min_(1e-12))
        return r.mul_(eps).mul_(torch.sign(h.detach()))

    def augment(self, view: View, generator: torch.Generator | None) -> View:
        self.mask = None
        eps = self.eps

        def perturb_fn(h: torch.Tensor, layer: int) -> torch.Tensor:
            return EmbeddingNoise.noise(h, eps, generator).add_(h)

        return view.add_perturb(perturb_fn)
