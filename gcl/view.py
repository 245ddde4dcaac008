"""A view of the user–item graph: how one pass of an encoder runs."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from gcl.graph import UIGraph

Propagate = Callable[[torch.Tensor, int], torch.Tensor]


class View:
    r"""How one pass of an encoder runs: which graph each layer propagates over, what
    happens to the layer-0 input, and what is added to each propagated layer.

    An encoder runs :math:`\mathbf{H}^{(0)} = \mathrm{input}(\mathbf{X})` and, for each layer
    :math:`k`, :math:`\mathbf{H}^{(k+1)} = \mathrm{perturb}(\mathrm{propagate}(\mathbf{H}^{(k)},
    k), k)`. A plain :class:`~gcl.graph.UIGraph` is the view with no augmentation.

    Args:
        graph (UIGraph): the graph every layer propagates over.
        layer_graphs (sequence of UIGraph, optional): one graph per layer instead (SGL-RW).
            (default: :obj:`None`)
        input_fn (callable, optional): :obj:`x -> x'` on the layer-0 features or embeddings,
            shape :obj:`[U+I, d]`. (default: :obj:`None`)
        perturb_fn (callable, optional): :obj:`(h, layer) -> h'` after each propagation.
            (default: :obj:`None`)
        propagate_fn (callable, optional): :obj:`(h, layer) -> h'` replacing propagation over
            :obj:`graph` (e.g. LightGCL's SVD view). (default: :obj:`None`)
    """

    def __init__(self, graph: UIGraph, layer_graphs: Sequence[UIGraph] | None = None,
                 input_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 perturb_fn: Propagate | None = None,
                 propagate_fn: Propagate | None = None) -> None:
        self.graph = graph
        self.layer_graphs = None if layer_graphs is None else list(layer_graphs)
        self.input_fn, self.perturb_fn, self.propagate_fn = input_fn, perturb_fn, propagate_fn

    @staticmethod
    def of(graph: UIGraph | View) -> View:
        """:obj:`graph` itself if it is a view, else the plain view of it."""
        return graph if isinstance(graph, View) else View(graph)

    @property
    def num_users(self) -> int:
        return self.graph.num_users

    @property
    def num_items(self) -> int:
        return self.graph.num_items

    def input(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.input_fn is None else self.input_fn(x)

    def propagate(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        if self.propagate_fn is not None:
            return self.propagate_fn(h, layer)
        if self.layer_graphs is not None:
            return self.layer_graphs[layer % len(self.layer_graphs)].propagate(h)
        return self.graph.propagate(h)

    def perturb(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        return h if self.perturb_fn is None else self.perturb_fn(h, layer)

    def replace(self, **changes) -> View:
        """A copy with some fields changed."""
        fields = dict(graph=self.graph, layer_graphs=self.layer_graphs, input_fn=self.input_fn,
                      perturb_fn=self.perturb_fn, propagate_fn=self.propagate_fn)
        fields.update(changes)
        return View(**fields)

    def add_input(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> View:
        """A copy whose input transform runs :obj:`fn` after the current one."""
        old = self.input_fn
        return self.replace(input_fn=fn if old is None else (lambda x: fn(old(x))))

    def add_perturb(self, fn: Propagate) -> View:
        """A copy whose per-layer perturbation runs :obj:`fn` after the current one."""
        old = self.perturb_fn
        return self.replace(perturb_fn=fn if old is None else (lambda h, k: fn(old(h, k), k)))
