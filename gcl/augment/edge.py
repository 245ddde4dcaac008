r"""Structural augmenters from SGL: edge dropout, node dropout and random walk.

All three follow `"Self-supervised Graph Learning for Recommendation"
<https://arxiv.org/abs/2010.10783>`_ (Wu et al., SIGIR 2021), which makes two new views of
the train graph at the start of every epoch.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch

from gcl.augment.base import Augmenter
from gcl.augment.draws import check_draw, check_prob, count_mask, keep_mask
from gcl.graph import UIGraph
from gcl.view import View


def _edge_masks(graph: UIGraph, p: float, draw: str, rows: int,
                generator: torch.Generator | None) -> torch.Tensor:
    r""":obj:`rows` keep masks over the interactions, :obj:`[rows, E]`: exactly
    :math:`\lfloor (1-p) E \rfloor` kept in each (:obj:`draw="exact"`, SGL's code), or each
    kept with probability :math:`1-p` (:obj:`"bernoulli"`)."""
    e = len(graph.users)
    if draw == "exact":
        return count_mask(rows, e, int(e * (1 - p)), generator)
    return keep_mask((rows, e), p, generator)


def _check_structural(view: View, name: str) -> None:
    """Edge-level augmenters act on :obj:`view.graph`: refuse views where that graph would be
    ignored, rather than silently doing nothing."""
    if view.layer_graphs is not None or view.propagate_fn is not None:
        raise ValueError(f"{name} changes view.graph, but this view propagates over per-layer "
                         "graphs or a custom propagate_fn that would ignore it; apply "
                         f"{name} before RandomWalk or SVDView")


class EdgeDrop(Augmenter):
    r"""SGL-ED, edge dropout from `"Self-supervised Graph Learning for Recommendation"
    <https://arxiv.org/abs/2010.10783>`_ (Wu et al., SIGIR 2021).

    A share :math:`p` of the user–item interactions is dropped (both directions of the
    undirected edge together) and the kept graph is renormalised:

    .. math::
        s(\mathcal{G}) = (\mathcal{V}, \mathbf{m} \odot \mathcal{E}), \qquad
        \hat{\mathbf{A}}' = \mathbf{D}'^{-1/2}\mathbf{A}'\mathbf{D}'^{-1/2}

    where the mask :math:`\mathbf{m}` keeps exactly :math:`\lfloor (1-p) E \rfloor`
    interactions chosen uniformly without replacement, as SGL's code does (wujcan/SGL-Torch,
    :obj:`model/general_recommender/SGL.py`, :obj:`create_adj_mat`; RecBole-GNN's
    :obj:`SGL.random_graph_augment` alike), or with :obj:`draw="bernoulli"` keeps each
    interaction on its own with probability :math:`1 - p`. SGL makes new views **per
    epoch** (:obj:`per = "epoch"`).

    Args:
        p (float): drop ratio :math:`p \in [0, 1)`. (default: :obj:`0.1`)
        draw (str): :obj:`"exact"` (a fixed count, the reference) or :obj:`"bernoulli"`.
            (default: :obj:`"exact"`)

    Shapes:
        - **input:** a graph or :class:`~gcl.view.View` whose graph has :math:`E`
          interactions (:obj:`graph.users`, :obj:`graph.items`, each :obj:`[E]`)
        - **output:** a :class:`~gcl.view.View` over the renormalised subgraph; :attr:`mask`
          is a CPU bool tensor :obj:`[E]` over interactions (:obj:`True` = kept)
    """

    per = "epoch"

    def __init__(self, p: float = 0.1, draw: str = "exact") -> None:
        super().__init__()
        self.p, self.draw = check_prob(p), check_draw(draw)

    def augment(self, view: View, generator: torch.Generator | None) -> View:
        _check_structural(view, type(self).__name__)
        graph: UIGraph = view.graph
        self.mask = _edge_masks(graph, self.p, self.draw, 1, generator)[0]
        if self.p == 0.0:
            return view
        return view.replace(graph=graph.subgraph(self.mask.numpy()))


class NodeDrop(Augmenter):
    r"""SGL-ND, node dropout from `"Self-supervised Graph Learning for Recommendation"
    <https://arxiv.org/abs/2010.10783>`_ (Wu et al., SIGIR 2021).

    A share :math:`p` of the users and of the items is dropped; a dropped node loses all its
    edges and the rest of the graph is renormalised:

    .. math::
        s(\mathcal{G}) = (\mathbf{m} \odot \mathcal{V}, \mathcal{E}), \qquad
        (u, i) \text{ kept} \iff m_u m_{U+i} = 1

    where the mask :math:`\mathbf{m}` drops exactly :math:`\lfloor pU \rfloor` users and
    :math:`\lfloor pI \rfloor` items chosen uniformly without replacement, as SGL's code
    does (wujcan/SGL-Torch, :obj:`model/general_recommender/SGL.py`, :obj:`create_adj_mat`),
    or with :obj:`draw="bernoulli"` keeps each node on its own with probability
    :math:`1 - p`. Dropped nodes stay in the index as isolated nodes (their propagated
    layers are zero). SGL makes new views **per epoch** (:obj:`per = "epoch"`).

    Args:
        p (float): drop ratio :math:`p \in [0, 1)`. (default: :obj:`0.1`)
        draw (str): :obj:`"exact"` (fixed counts, the reference) or :obj:`"bernoulli"`.
            (default: :obj:`"exact"`)

    Shapes:
        - **input:** a graph or :class:`~gcl.view.View` with :math:`U + I` nodes and
          :math:`E` interactions
        - **output:** a :class:`~gcl.view.View` over the renormalised subgraph;
          :attr:`mask` is a CPU bool tensor :obj:`[U+I]` over nodes (:obj:`True` = kept,
          users first, then items) and :attr:`edge_mask` the implied :obj:`[E]` mask over
          interactions
    """

    per = "epoch"

    def __init__(self, p: float = 0.1, draw: str = "exact") -> None:
        super().__init__()
        self.p, self.draw = check_prob(p), check_draw(draw)
        self._edge_mask: torch.Tensor | None = None

    @property
    def edge_mask(self) -> torch.Tensor | None:
        """The interactions kept by the last call, bool :obj:`[E]`."""
        return self._edge_mask

    def augment(self, view: View, generator: torch.Generator | None) -> View:
        _check_structural(view, type(self).__name__)
        graph: UIGraph = view.graph
        if self.draw == "exact":
            self.mask = torch.cat([count_mask(1, n, n - int(n * self.p), generator)[0]
                                   for n in (graph.num_users, graph.num_items)])
        else:
            self.mask = keep_mask((graph.num_nodes,), self.p, generator)
        node = self.mask.numpy()
        edge = node[graph.users] & node[graph.num_users + graph.items]
        self._edge_mask = torch.from_numpy(edge)
        if edge.all():
            return view
        return view.replace(graph=graph.subgraph(edge))


class RandomWalk(Augmenter):
    r"""SGL-RW, layer-wise edge dropout ("random walk") from `"Self-supervised Graph
    Learning for Recommendation" <https://arxiv.org/abs/2010.10783>`_ (Wu et al., SIGIR 2021).

    An independent edge dropout per layer (drawn as :class:`EdgeDrop` draws, by
    :obj:`draw`), so layer :math:`k` propagates over its own renormalised subgraph:

    .. math::
        \mathbf{H}^{(k+1)} = \hat{\mathbf{A}}^{(k)} \mathbf{H}^{(k)}, \qquad
        k = 0, \dots, L - 1

    The view's :obj:`layer_graphs` are used cyclically if the encoder has more than
    :obj:`layers` layers, so set :obj:`layers` to the encoder's depth. SGL makes new views
    **per epoch** (:obj:`per = "epoch"`).

    Args:
        p (float): drop ratio per layer, :math:`p \in [0, 1)`. (default: :obj:`0.1`)
        layers (int): number of per-layer subgraphs :math:`L`. (default: :obj:`3`)
        draw (str): :obj:`"exact"` (a fixed count, the reference) or :obj:`"bernoulli"`.
            (default: :obj:`"exact"`)

    Shapes:
        - **input:** a graph or :class:`~gcl.view.View` whose graph has :math:`E`
          interactions
        - **output:** a :class:`~gcl.view.View` with :obj:`layer_graphs` of length :math:`L`;
          :attr:`mask` is a CPU bool tensor :obj:`[L, E]` (:obj:`True` = kept)
    """

    per = "epoch"

    def __init__(self, p: float = 0.1, layers: int = 3, draw: str = "exact") -> None:
        super().__init__()
        self.p = check_prob(p)
        if isinstance(layers, bool) or not isinstance(layers, numbers.Integral) or layers < 1:
            raise ValueError(f"layers must be a positive integer, got {layers!r}")
        self.layers, self.draw = int(layers), check_draw(draw)

    def augment(self, view: View, generator: torch.Generator | None) -> View:
        _check_structural(view, type(self).__name__)
        graph: UIGraph = view.graph
        self.mask = _edge_masks(graph, self.p, self.draw, self.layers, generator)
        masks: np.ndarray = self.mask.numpy()
        layer_graphs = [graph if self.p == 0.0 else graph.subgraph(m) for m in masks]
        return view.replace(layer_graphs=layer_graphs)
