"""SimCLR's projection head: an MLP that the contrastive loss sees and the ranking never does."""
from __future__ import annotations

import torch
from torch import nn


class ProjectionHead(nn.Module):
    r"""Projection head from `"A Simple Framework for Contrastive Learning of Visual
    Representations" <https://arxiv.org/abs/2002.05709>`_ (Chen et al., ICML 2020).

    .. math::
        g(\mathbf{z}) = \mathbf{W}_L\,\sigma(\cdots\sigma(\mathbf{W}_1 \mathbf{z} +
        \mathbf{b}_1)\cdots) + \mathbf{b}_L

    The contrastive loss compares :math:`g(\mathbf{z}^1)` with :math:`g(\mathbf{z}^2)`;
    the embeddings that rank, are exported and saved stay :math:`\mathbf{z}`, so the
    invariances the contrastive loss asks for are learned by :math:`g` and need not be
    paid for by the ranking space. A PyG :class:`~torch_geometric.nn.MLP` with ReLU, no
    normalisation, and a plain last layer.

    Args:
        dim (int): input and output size :math:`d`.
        layers (int): number of linear layers :math:`L`. (default: :obj:`2`)
        hidden (int, optional): hidden size. (default: :obj:`None`, :obj:`dim`)

    Shapes:
        input :obj:`[N, dim]`, output :obj:`[N, dim]`.
    """

    def __init__(self, dim: int, layers: int = 2, hidden: int | None = None) -> None:
        super().__init__()
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
            raise ValueError(f"projection_head must be a number of layers >= 1, got {layers!r}")
        from torch_geometric.nn import MLP  # PyG takes seconds to import: only when used

        hidden = dim if hidden is None else hidden
        self.layers = layers
        self.mlp = MLP([dim] + [hidden] * (layers - 1) + [dim], norm=None, act="relu",
                       plain_last=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mlp(z)
