"""A generic encoder: a stack of PyTorch Geometric convolutions on the user–item graph."""
from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from gcl.graph import UIGraph
from gcl.nn.lightgcn import layer_mean
from gcl.view import View

ConvFactory = Callable[[int, int], nn.Module]

#: Names accepted by :obj:`GNNEncoder(conv=...)`.
CONV_NAMES = ("gat", "gcn", "lgconv", "lightgcn", "sage")
_LINEAR_CONVS = ("lgconv", "lightgcn")
READOUTS = ("concat", "last", "mean")

_EDGE_CACHE: weakref.WeakKeyDictionary[UIGraph, tuple[torch.Tensor, torch.Tensor]] = (
    weakref.WeakKeyDictionary())


def ui_edge_index(graph: UIGraph) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The PyG form of a :class:`~gcl.graph.UIGraph`: :obj:`edge_index` of shape
    :obj:`[2, E]` (sources in row 0, targets in row 1, both directions of each distinct
    user–item pair, sorted by target) and the symmetric normalised weights
    :math:`1/\sqrt{d_u d_i}` of :obj:`graph.adj`, shape :obj:`[E]`, both on
    :obj:`graph.device`.

    Built once per graph object and cached for as long as the graph lives (a weak
    reference), so augmented views made per epoch do not pay for it per batch."""
    hit = _EDGE_CACHE.get(graph)
    if hit is None:
        coo = graph.adj.tocoo()  # CSR order: rows (targets) ascending
        edge_index = torch.from_numpy(np.stack([coo.col, coo.row]).astype(np.int64))
        weight = torch.from_numpy(np.ascontiguousarray(coo.data, dtype=np.float32))
        hit = (edge_index.to(graph.device), weight.to(graph.device))
        _EDGE_CACHE[graph] = hit
    return hit


def _make_conv(conv: str, dim: int, kwargs: dict) -> nn.Module:
    # PyG is imported lazily, as everywhere in the package: `import gcl` stays light.
    from torch_geometric.nn import GATConv, GCNConv, LGConv, SAGEConv

    if conv == "gcn":
        return GCNConv(dim, dim, **{"normalize": False, **kwargs})
    if conv == "sage":
        return SAGEConv(dim, dim, **kwargs)
    if conv == "gat":
        if kwargs.get("concat", False):
            raise ValueError("GNNEncoder uses GATConv with concat=False so every layer keeps "
                             "width dim; average the heads instead")
        return GATConv(dim, dim, **{**kwargs, "concat": False})
    return LGConv(**{"normalize": False, **kwargs})


def _takes_edge_weight(conv: nn.Module) -> bool:
    """Whether :obj:`conv` gets the graph's normalised weights: its :obj:`forward` has an
    :obj:`edge_weight` argument and it does not normalise itself (:obj:`normalize=True`)."""
    try:
        params = inspect.signature(conv.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - exotic callables
        return False
    return "edge_weight" in params and not getattr(conv, "normalize", False)


class GNNEncoder(nn.Module):
    r"""A stack of PyTorch Geometric convolutions over the user–item graph, seen as one
    homogeneous undirected graph (users are nodes :obj:`0..U-1`, items :obj:`U..U+I-1`,
    each interaction an edge in both directions), with the interface of
    :class:`~gcl.nn.LightGCN`, so it can replace it in any method (e.g. through the
    :obj:`encoder` argument of the contrastive methods).

    .. math::
        \mathbf{H}^{(0)} &= \mathrm{input}\left(\mathbf{E} + \mathbf{X}\mathbf{W}_X\right)

        \mathbf{H}^{(k+1)} &= \mathrm{perturb}\left(\sigma\left(
        \mathrm{conv}_k(\mathbf{H}^{(k)}, \mathcal{E}_k)\right), k\right)

    with :math:`\mathbf{E}` the learned ID table, :math:`\mathbf{X}` optional node features,
    :math:`\sigma` the nonlinearity (between layers only, not after the last),
    :math:`\mathcal{E}_k` the edges of the view's graph for layer :math:`k`, and
    :obj:`input` / :obj:`perturb` the :class:`~gcl.view.View`'s transforms (identity for a
    plain :class:`~gcl.graph.UIGraph`). The output is a readout of
    :math:`[\mathbf{H}^{(0)}, \ldots, \mathbf{H}^{(K)}]`.

    Views are honoured as by :class:`~gcl.nn.LightGCN`: :obj:`view.input` on the layer-0
    input, :obj:`view.perturb(h, k)` after layer :math:`k` (SimGCL noise, node masks), and
    layer :math:`k` runs over :obj:`view.layer_graphs[k % len(layer_graphs)]` when set
    (SGL-RW), else :obj:`view.graph`. A view with :obj:`propagate_fn` (LightGCL's SVD view)
    replaces the convolution itself: its layer :math:`k` is :obj:`view.propagate(h, k)`
    (no conv weights), followed by the same nonlinearity and perturbation.

    Edges: :obj:`edge_index` and weights come from :obj:`graph.adj` (distinct pairs, both
    directions) and are cached per graph object, on the graph's device
    (:func:`ui_edge_index`). Convolutions whose :obj:`forward` takes :obj:`edge_weight`
    and that do not normalise themselves (:obj:`GCNConv`, :obj:`LGConv` as built here)
    receive the symmetric normalised weights :math:`1/\sqrt{d_u d_i}`, i.e. they propagate
    with the same :math:`\hat{\mathbf{A}}` as LightGCN, without self-loops. So
    :obj:`"gcn"` computes :math:`\hat{\mathbf{A}}\mathbf{H}\mathbf{W} + \mathbf{b}`; pass
    :obj:`normalize=True` to let :obj:`GCNConv` add self-loops and normalise
    :math:`\mathbf{A}+\mathbf{I}` itself (recomputed every call) instead. SAGE and GAT get
    :obj:`edge_index` only.

    Args:
        num_users (int): number of users :math:`U`.
        num_items (int): number of items :math:`I`.
        dim (int): width of the ID table and of every layer. (default: :obj:`64`)
        layers (int): number of convolutions :math:`K` (:obj:`0` returns the layer-0 input).
            (default: :obj:`2`)
        conv (str or callable): :obj:`"gcn"` (:class:`~torch_geometric.nn.conv.GCNConv`),
            :obj:`"sage"` (:class:`~torch_geometric.nn.conv.SAGEConv`), :obj:`"gat"`
            (:class:`~torch_geometric.nn.conv.GATConv` with :obj:`concat=False`, so heads
            are averaged and the width stays :obj:`dim`; set :obj:`heads` in
            :obj:`conv_kwargs`), :obj:`"lightgcn"` or :obj:`"lgconv"`
            (:class:`~torch_geometric.nn.conv.LGConv`, parameter-free), or a callable
            :obj:`(in_dim, out_dim) -> MessagePassing` called once per layer, whose module
            is called as :obj:`conv(h, edge_index)` (plus :obj:`edge_weight=` under the rule
            above). (default: :obj:`"gcn"`)
        node_features (torch.Tensor, optional): float features of all nodes,
            :obj:`[U+I, F]`, or of the items only, :obj:`[I, F]` (users then get no feature
            term). Projected by a :class:`~torch.nn.Linear` :obj:`(F, dim)` and added to the
            ID embeddings; kept as a buffer so it follows :obj:`.to(device)`.
            (default: :obj:`None`)
        dropout (float): dropout probability on the input of every layer after the first,
            in training mode only; the readout sees the undropped layer outputs.
            (default: :obj:`0.0`)
        readout (str): :obj:`"mean"` (mean of all :math:`K+1` layers, layer 0 included),
            :obj:`"last"` (:math:`\mathbf{H}^{(K)}`) or :obj:`"concat"` (all layers side by
            side: the output width is then :obj:`dim * (layers + 1)`, see
            :attr:`out_dim`). (default: :obj:`"mean"`)
        act (str or callable, optional): nonlinearity between layers, a name
            resolved by PyG (:obj:`"relu"`, :obj:`"elu"`, :obj:`"leaky_relu"`, ...) or a
            module/callable; :obj:`None` for none. Never applied with :obj:`"lightgcn"` /
            :obj:`"lgconv"`, which are linear by design: :obj:`GNNEncoder(U, I, dim, K,
            conv="lgconv")` computes exactly LightGCN with :math:`K` layers.
            (default: :obj:`"relu"`)
        include_input (bool): whether the :obj:`"mean"` and :obj:`"concat"` readouts
            include layer 0 (as :class:`~gcl.nn.LightGCN`'s; SimGCL-style methods set it to
            :obj:`False` to read out layers :math:`1..K` only). (default: :obj:`True`)
        **conv_kwargs (optional): passed to every named convolution (e.g. :obj:`heads=4`
            for GAT, :obj:`aggr="max"` for SAGE, :obj:`normalize=True` for GCN).

    Shapes:
        - **input:** a :class:`~gcl.graph.UIGraph` or :class:`~gcl.view.View` of
          :math:`U` users and :math:`I` items; optional :obj:`x` :obj:`[U+I, dim]`
          replacing the whole layer-0 input (ID embeddings plus features).
        - **output:** :obj:`forward` returns user embeddings :obj:`[U, out_dim]` and item
          embeddings :obj:`[I, out_dim]`; :obj:`propagate` returns :math:`K+1` tensors
          :obj:`[U+I, dim]`.
    """

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 2,
                 conv: str | ConvFactory = "gcn", node_features: torch.Tensor | None = None,
                 dropout: float = 0.0, readout: str = "mean",
                 act: str | Callable[[torch.Tensor], torch.Tensor] | None = "relu",
                 include_input: bool = True, **conv_kwargs) -> None:
        super().__init__()
        if dim < 1 or layers < 0:
            raise ValueError(f"dim must be >= 1 and layers >= 0, got dim={dim}, layers={layers}")
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; choose one of {list(READOUTS)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if isinstance(conv, str):
            if conv not in CONV_NAMES:
                raise ValueError(f"unknown conv {conv!r}; choose one of {list(CONV_NAMES)} "
                                 "or pass a callable (in_dim, out_dim) -> MessagePassing")
            convs = [_make_conv(conv, dim, conv_kwargs) for _ in range(layers)]
        elif callable(conv):
            if conv_kwargs:
                raise TypeError(f"conv_kwargs {sorted(conv_kwargs)} are only for named convs; "
                                "bind them in the callable instead")
            convs = [conv(dim, dim) for _ in range(layers)]
        else:
            raise TypeError(f"conv must be a name or a callable, got {type(conv).__name__}")

        self.num_users, self.num_items = num_users, num_items
        self.dim, self.layers, self.readout_mode = dim, layers, readout
        self.include_input = include_input
        self.conv_name = conv if isinstance(conv, str) else getattr(conv, "__name__", "custom")
        self.embedding = nn.Embedding(num_users + num_items, dim)
        self.convs = nn.ModuleList(convs)
        self._edge_weight = [_takes_edge_weight(c) for c in convs]
        linear = isinstance(conv, str) and conv in _LINEAR_CONVS
        if act is not None and not linear:
            from torch_geometric.nn.resolver import activation_resolver

            act = activation_resolver(act)
        self.act = None if linear else act
        self.dropout = nn.Dropout(dropout)

        if node_features is not None:
            feats = torch.as_tensor(node_features)
            if not feats.is_floating_point():
                raise TypeError(f"node_features must be a float tensor, got {feats.dtype}")
            if feats.dim() != 2 or feats.size(0) not in (num_users + num_items, num_items):
                raise ValueError(f"node_features must be [U+I, F] = [{num_users + num_items}, F]"
                                 f" or item-only [I, F] = [{num_items}, F], got "
                                 f"{list(feats.shape)}")
            self.register_buffer("node_features", feats.to(torch.get_default_dtype()))
            self.feature_proj: nn.Linear | None = nn.Linear(feats.size(1), dim)
        else:
            self.register_buffer("node_features", None)
            self.feature_proj = None
        self.reset_parameters()

    @property
    def out_dim(self) -> int:
        """Width of :obj:`forward`'s outputs: :obj:`dim * (layers + 1)` for the
        :obj:`"concat"` readout (:obj:`dim * layers` without layer 0), else :obj:`dim`."""
        if self.readout_mode != "concat":
            return self.dim
        return self.dim * len(self._read_layers(list(range(self.layers + 1))))

    def reset_parameters(self) -> None:
        """Normal(0, 0.1) ID table (as LightGCN); PyG's own init for the convs."""
        nn.init.normal_(self.embedding.weight, std=0.1)
        for conv in self.convs:
            if hasattr(conv, "reset_parameters"):
                conv.reset_parameters()
        if self.feature_proj is not None:
            self.feature_proj.reset_parameters()

    def layer0(self) -> torch.Tensor:
        """The layer-0 input before any view transform: ID embeddings plus projected node
        features, :obj:`[U+I, dim]`."""
        h = self.embedding.weight
        if self.feature_proj is None:
            return h
        f = self.feature_proj(self.node_features)
        if f.size(0) == self.num_items:  # item-only features: no feature term for users
            f = torch.cat([f.new_zeros(self.num_users, f.size(1)), f])
        return h + f

    def _conv(self, view: View, h: torch.Tensor, k: int) -> torch.Tensor:
        if view.propagate_fn is not None:
            return view.propagate(h, k)
        graph = (view.graph if view.layer_graphs is None
                 else view.layer_graphs[k % len(view.layer_graphs)])
        edge_index, weight = ui_edge_index(graph)
        if self._edge_weight[k]:
            return self.convs[k](h, edge_index, edge_weight=weight.to(h.dtype))
        return self.convs[k](h, edge_index)

    def propagate(self, graph: UIGraph | View,
                  x: torch.Tensor | None = None) -> list[torch.Tensor]:
        r"""All layers' node embeddings :math:`[\mathbf{H}^{(0)}, \ldots, \mathbf{H}^{(K)}]`,
        each :obj:`[U+I, dim]`, over a graph or an augmented :class:`~gcl.view.View`;
        :obj:`x` replaces the whole layer-0 input (ID table plus features)."""
        view = View.of(graph)
        h = view.input(self.layer0() if x is None else x)
        out = [h]
        for k in range(self.layers):
            if k > 0:
                h = self.dropout(h)
            h = self._conv(view, h, k)
            if self.act is not None and k < self.layers - 1:
                h = self.act(h)
            h = view.perturb(h, k)
            out.append(h)
        return out

    def split(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Splits node rows :obj:`[U+I, d]` into users :obj:`[U, d]` and items :obj:`[I, d]`."""
        return h[: self.num_users], h[self.num_users:]

    def forward(self, graph: UIGraph | View,
                x: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """User and item embeddings after the readout, shapes :obj:`[U, out_dim]` and
        :obj:`[I, out_dim]`."""
        return self.readout(self.propagate(graph, x))

    def _read_layers(self, layers: list) -> list:
        return layers if self.include_input or len(layers) == 1 else layers[1:]

    def readout(self, layers: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The readout of :meth:`propagate`'s output (mean, last or concat of the layers),
        split into users :obj:`[U, out_dim]` and items :obj:`[I, out_dim]`."""
        if self.readout_mode == "last":
            return self.split(layers[-1])
        layers = self._read_layers(layers)
        if self.readout_mode == "mean":
            return self.split(layer_mean(layers))
        return self.split(torch.cat(layers, dim=-1))

    def extra_repr(self) -> str:
        return (f"num_users={self.num_users}, num_items={self.num_items}, dim={self.dim}, "
                f"layers={self.layers}, conv={self.conv_name!r}, readout={self.readout_mode!r}")
