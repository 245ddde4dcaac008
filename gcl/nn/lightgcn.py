"""LightGCN encoder."""
from __future__ import annotations

import torch
from torch import nn

from gcl.graph import UIGraph
from gcl.view import View


class LightGCN(nn.Module):
    r"""LightGCN from `"LightGCN: Simplifying and Powering Graph Convolution Network for
    Recommendation" <https://arxiv.org/abs/2002.02126>`_ (He et al., SIGIR 2020).

    .. math::
        \mathbf{E}^{(k+1)} = \hat{\mathbf{A}} \mathbf{E}^{(k)}, \qquad
        \mathbf{E} = \frac{1}{K+1} \sum_{k=0}^{K} \mathbf{E}^{(k)}

    with :math:`\hat{\mathbf{A}}` the symmetric normalised user–item adjacency and
    :math:`\mathbf{E}^{(0)}` a learned ID embedding table.

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        dim (int): embedding size. (default: :obj:`64`)
        layers (int): propagation steps :math:`K`. (default: :obj:`3`)
        init_std (float): std of the normal initialisation, as in the paper's code.
            (default: :obj:`0.1`)
        include_input (bool): whether the readout mean includes layer 0; SimGCL and XSimGCL
            average layers :math:`1..K` only. (default: :obj:`True`)
    """

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 3,
                 init_std: float = 0.1, include_input: bool = True) -> None:
        super().__init__()
        if dim < 1 or layers < 0:
            raise ValueError(f"dim must be >= 1 and layers >= 0, got dim={dim}, layers={layers}")
        self.num_users, self.num_items, self.layers = num_users, num_items, layers
        self.include_input = include_input or layers == 0
        self.embedding = nn.Embedding(num_users + num_items, dim)
        nn.init.normal_(self.embedding.weight, std=init_std)

    def propagate(self, graph: UIGraph | View,
                  x: torch.Tensor | None = None) -> list[torch.Tensor]:
        r"""All layers' embeddings :math:`[\mathbf{E}^{(0)}, ..., \mathbf{E}^{(K)}]`, each
        :obj:`[U+I, dim]`, over a graph or an augmented :class:`~gcl.view.View`;
        :obj:`x` replaces the ID table as layer-0 input."""
        view = View.of(graph)
        h = view.input(self.embedding.weight if x is None else x)
        out = [h]
        for k in range(self.layers):
            h = view.perturb(view.propagate(h, k), k)
            out.append(h)
        return out

    def split(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Splits node rows :obj:`[U+I, d]` into users :obj:`[U, d]` and items :obj:`[I, d]`."""
        return h[: self.num_users], h[self.num_users:]

    def forward(self, graph: UIGraph | View,
                x: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """User and item embeddings (layer mean), shapes :obj:`[U, dim]` and :obj:`[I, dim]`."""
        return self.readout(self.propagate(graph, x))

    def readout(self, layers: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer mean of :meth:`propagate`'s output, split into users and items."""
        return self.split(layer_mean(layers if self.include_input else layers[1:]))


def layer_mean(layers: list[torch.Tensor]) -> torch.Tensor:
    """The mean of equally shaped tensors, as a running sum: unlike :obj:`torch.stack(...)
    .mean(0)` it copies no layer, forward or backward (a third of the time on gowalla)."""
    total = layers[0]
    for h in layers[1:]:
        total = total + h
    return total / len(layers)
