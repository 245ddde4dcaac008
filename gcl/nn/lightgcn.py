"""LightGCN encoder."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gcl.graph import UIGraph
from gcl.view import View


def init_embedding(weight: torch.Tensor, num_users: int, init_std: float | str) -> None:
    """Initialises a stacked user and item table :obj:`weight` in place: normal with std
    :obj:`init_std`, or :obj:`"xavier"` (uniform) over the user rows and the item rows
    apart."""
    with torch.no_grad():
        if init_std == "xavier":
            nn.init.xavier_uniform_(weight[:num_users])
            nn.init.xavier_uniform_(weight[num_users:])
        elif isinstance(init_std, (int, float)) and not isinstance(init_std, bool) \
                and init_std > 0:
            nn.init.normal_(weight, std=init_std)
        else:
            raise ValueError(f"init_std must be a positive float or 'xavier', got {init_std!r}")


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
        init_std (float or str): std of the normal initialisation, as in the paper's code,
            or :obj:`"xavier"`: Xavier-uniform over the user and the item table apart, as
            in SGL's, SimGCL's and LightGCL's code (a bound of
            :math:`\sqrt{6 / (N + d)}`, about 0.014 for 30,000 users). (default: :obj:`0.1`)
        include_input (bool): whether the readout mean includes layer 0; SimGCL and XSimGCL
            average layers :math:`1..K` only. (default: :obj:`True`)

    The attribute :obj:`compute_dtype` (:obj:`None`, or :obj:`torch.bfloat16` /
    :obj:`torch.float16`, see :func:`set_precision`) keeps the propagated layers in half
    precision; the table (the optimiser's master weights) and the readout stay float32.
    """

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 3,
                 init_std: float | str = 0.1, include_input: bool = True) -> None:
        super().__init__()
        if dim < 1 or layers < 0:
            raise ValueError(f"dim must be >= 1 and layers >= 0, got dim={dim}, layers={layers}")
        self.num_users, self.num_items, self.layers = num_users, num_items, layers
        self.include_input = include_input or layers == 0
        self.embedding = nn.Embedding(num_users + num_items, dim)
        init_embedding(self.embedding.weight, num_users, init_std)
        self.compute_dtype: torch.dtype | None = None

    def propagate(self, graph: UIGraph | View,
                  x: torch.Tensor | None = None) -> list[torch.Tensor]:
        r"""All layers' embeddings :math:`[\mathbf{E}^{(0)}, ..., \mathbf{E}^{(K)}]`, each
        :obj:`[U+I, dim]`, over a graph or an augmented :class:`~gcl.view.View`;
        :obj:`x` replaces the ID table as layer-0 input."""
        view = View.of(graph)
        h = view.input(self.embedding.weight if x is None else x)
        if self.compute_dtype is not None:
            h = h.to(self.compute_dtype)
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

    def readout_rows(self, graph: UIGraph, rows: torch.Tensor) -> torch.Tensor:
        r"""Rows :obj:`rows` (node indices, items after users) of the readout over a plain
        graph, :obj:`[len(rows), dim]`: the same values as :meth:`forward`'s rows, with the
        last layer propagated for those rows only (:meth:`UIGraph.propagate_rows`), forward
        and backward, which saves most of one of the :math:`K` sparse products each way
        when a batch touches a small part of the graph."""
        h = self.embedding.weight
        out = [h]
        for _ in range(self.layers - 1):
            out.append(graph.propagate(out[-1]))
        used = out if self.include_input else out[1:]
        total = used[0][rows] if used else None
        for x in used[1:]:
            total = total + x[rows]
        last = graph.propagate_rows(out[-1], rows)
        total = last if total is None else total + last
        return total / (len(used) + 1)

    def readout(self, layers: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer mean of :meth:`propagate`'s output, split into users and items."""
        return self.split(self.readout_nodes(layers))

    def readout_nodes(self, layers: list[torch.Tensor]) -> torch.Tensor:
        """Layer mean of :meth:`propagate`'s output, :obj:`[U+I, dim]` in the table's dtype,
        before :meth:`readout` splits it."""
        h = layer_mean(layers if self.include_input else layers[1:])
        return h.to(self.embedding.weight.dtype)


#: Names of :func:`set_precision`.
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def set_precision(module: nn.Module, precision: str, device: torch.device | str = "cpu") -> None:
    r"""Sets the propagation precision of every :class:`LightGCN` inside :obj:`module`.

    With :obj:`"bf16"` or :obj:`"fp16"`, each propagated layer :math:`\mathbf{E}^{(k)}`,
    :obj:`[U+I, dim]`, is held in 2 bytes per value instead of 4. With the default
    :obj:`"torch"` backend the adjacency stays float32, so each product casts its layer to
    float32 and back, one layer at a time (torch's CPU CSR product has no bfloat16 or
    float16 kernel); the :obj:`"scatter"` and :obj:`"pyg"` backends compute in half
    precision. The embedding table, its gradient and Adam's state stay float32 (master
    weights), and the readout is cast back to float32 before any loss. On CPU this did not
    lower the measured peak (see :obj:`benchmarks/results/scale.md`): the backward and
    Adam's step hold as much.

    Args:
        module (nn.Module): a method or encoder.
        precision (str): :obj:`"fp32"`, :obj:`"bf16"` or :obj:`"fp16"`.
        device (torch.device or str): where it will run; bfloat16 on a GPU needs one that
            supports it. (default: :obj:`"cpu"`)

    Raises:
        ValueError: an unknown precision, or bfloat16 on a GPU without it.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {list(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    device = torch.device(device)
    if (dtype is torch.bfloat16 and device.type == "cuda"
            and not torch.cuda.is_bf16_supported()):
        raise ValueError(f"{device} does not support bfloat16; use precision='fp16'")
    for m in module.modules():
        if isinstance(m, LightGCN):
            m.compute_dtype = dtype


def layer_mean(layers: list[torch.Tensor]) -> torch.Tensor:
    """The mean of equally shaped tensors, as a running sum: unlike :obj:`torch.stack(...)
    .mean(0)` it copies no layer, forward or backward (a third of the time on gowalla)."""
    total = layers[0]
    for h in layers[1:]:
        total = total + h
    return total / len(layers)


def set_spectral_start(module: nn.Module, graph: UIGraph, scale: float = 1.0) -> None:
    r"""Sets the ID table of every :class:`LightGCN` inside :obj:`module` to the spectral
    start: from the top-:math:`d` singular triplets of the normalised user–item block,
    :math:`\tilde{\mathbf{R}} \approx \mathbf{U}_d \mathbf{S}_d \mathbf{V}_d^\top`
    (:meth:`gcl.graph.UIGraph.svd`, shared with the graph filters),

    .. math::
        \mathbf{E}_U^{(0)} = c\, \mathbf{U}_d \mathbf{S}_d^{1/2}, \qquad
        \mathbf{E}_I^{(0)} = c\, \mathbf{V}_d \mathbf{S}_d^{1/2},

    with :math:`c` such that the table's entries have standard deviation :obj:`scale`. Each
    singular pair is an eigenvector of :math:`\hat{\mathbf{A}}` with eigenvalue
    :math:`s_j`, so before any step LightGCN scores with the rank-:math:`d` low-pass filter
    :math:`c^2 \sum_j s_j \bar{s}_j^2\, u_{uj} v_{ij}`, :math:`\bar{s}_j` the readout's mean
    of :math:`s_j^k` over its layers. The scale matters against the learning rate: a start
    much smaller than Adam's steps is soon lost (see the time-to-quality benchmark).

    Args:
        module (nn.Module): a method or encoder holding at least one :class:`LightGCN`.
        graph (UIGraph): the train graph.
        scale (float): standard deviation of the start's entries. (default: :obj:`1.0`)

    Raises:
        ValueError: no :class:`LightGCN` in :obj:`module`, or a bad :obj:`scale`.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0 \
            or scale == float("inf"):
        raise ValueError(f"init_scale must be a finite number > 0, got {scale!r}")
    encoders = [m for m in module.modules() if isinstance(m, LightGCN)]
    if not encoders:
        raise ValueError(f"init='svd' needs a method with a LightGCN encoder (e.g. 'lightgcn', "
                         f"'simgcl'); {type(module).__name__} has none")
    for enc in encoders:
        weight = enc.embedding.weight
        if weight.shape[0] != graph.num_nodes:
            raise ValueError(f"the encoder's table has {weight.shape[0]} rows and the graph "
                             f"{graph.num_nodes} nodes")
        u, s, v = graph.svd(weight.shape[1])
        table = np.concatenate([u, v]) * np.sqrt(s)
        table *= scale / table.std()
        with torch.no_grad():
            weight.copy_(torch.from_numpy(table).to(weight))
