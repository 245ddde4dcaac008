r"""Fold-in: serving a user who was never trained on, from the items they have.

A LightGCN-style model defines a user's layer-:math:`l` embedding (:math:`l \ge 1`) as one
propagation step of the items' layer-:math:`(l-1)` embeddings over the normalised
adjacency of :func:`gcl.graph.normalized_adjacency`,

.. math::
    \mathbf{e}_u^{(l)} = \sum_{i \in S_u} \frac{w_{ui}}{\sqrt{d_u d_i}}\, \mathbf{e}_i^{(l-1)},
    \qquad d_u = \sum_{i \in S_u} w_{ui}

(:math:`w_{ui} = 1` unless the graph is weighted), and its vector as the readout
:math:`\mathbf{e}_u = \sum_{l=0}^{K} \alpha_l \mathbf{e}_u^{(l)}`
(:func:`readout_weights`). Everything but layer 0 is therefore a fixed per-item matrix
summed over the user's items,

.. math::
    \mathbf{F}_i = \sum_{l=1}^{K} \alpha_l\, d_i^{-1/2}\, \mathbf{e}_i^{(l-1)}, \qquad
    \mathbf{e}_u - \alpha_0 \mathbf{e}_u^{(0)} = d_u^{-1/2} \sum_{i \in S_u} w_{ui}
    \mathbf{F}_i,

and a new user, who has no layer-0 row, gets the right-hand side over the items given,
each with weight 1 (:func:`gcl.index.fold_in`). The items' embeddings and degrees stay
those of the trained graph (the new user is not added to it).
"""
from __future__ import annotations

import weakref
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from gcl.graph import UIGraph
from gcl.index import fold_in, item_rows, rows_matrix
from gcl.methods.base import Method
from gcl.methods.lightgcl import LightGCL
from gcl.methods.lightgcn import LightGCNMethod
from gcl.methods.pop import Popularity
from gcl.metrics import topk_scores
from gcl.nn.lightgcn import LightGCN

#: Fold-in matrices computed so far, per method object, with the item embeddings they
#: were computed next to (a refit makes a new method; new embeddings recompute).
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _lightgcn(method: Method) -> LightGCN | None:
    """The LightGCN encoder of :obj:`method` (inside a text branch's wrapper), or None."""
    enc = getattr(method, "encoder", None)
    enc = getattr(enc, "inner", enc) if enc is not None and not isinstance(enc, LightGCN) \
        else enc
    return enc if isinstance(enc, LightGCN) else None


def check_foldin(method: Method) -> None:
    """Raises a :class:`ValueError` naming :obj:`method` when it cannot serve a new user
    from their items by :func:`foldin_matrix` (nor, as the graph filters and popularity,
    by its own scores)."""
    if not method.dot_scores or isinstance(method, Popularity):
        return
    enc = _lightgcn(method)
    if not isinstance(method, LightGCNMethod) or enc is None:
        raise ValueError(
            f"method {method.name!r} cannot fold in a new user from their items: only "
            "LightGCN-based methods (lightgcn, sgl-*, simgcl, xsimgcl, lightgcl, ncl, "
            "directau, custom without an encoder), the graph filters (gf-cf, bspm) and pop "
            "define a user by their items")
    if enc.layers == 0:
        raise ValueError(
            f"method {method.name!r} with layers=0 (matrix factorisation) has no propagated "
            "layer: a user's vector is their own trained row, so a new user cannot be folded "
            "in; train with layers >= 1")


def readout_weights(method: Method) -> list[float]:
    r"""The weights :math:`\alpha_0, ..., \alpha_K` of the layers in :obj:`method`'s user
    and item vectors, :math:`\mathbf{e} = \sum_l \alpha_l \mathbf{e}^{(l)}`: the mean over
    :math:`0..K` (LightGCN, SGL, NCL, DirectAU, LightGCL with :obj:`readout="mean"`), the
    mean over :math:`1..K` (:obj:`include_input=False`: SimGCL, XSimGCL) or the sum over
    :math:`0..K` (LightGCL's default).

    Raises:
        ValueError: a method without a LightGCN readout (see :func:`check_foldin`).
    """
    check_foldin(method)
    enc = _lightgcn(method)
    if enc is None:
        raise ValueError(f"method {method.name!r} has no LightGCN readout")
    used = enc.layers + 1 if enc.include_input else enc.layers
    weights = [1.0 / used] * (enc.layers + 1)
    if not enc.include_input:
        weights[0] = 0.0
    if isinstance(method, LightGCL) and method.readout == "sum":
        weights = [w * (enc.layers + 1) for w in weights]  # its read() scales the mean
    return weights


def foldin_matrix(method: Method, graph: UIGraph) -> torch.Tensor:
    r"""The fold-in item matrix :math:`\mathbf{F}`, :obj:`[I, d]` float32:
    :math:`\mathbf{F}_i = \sum_{l=1}^{K} \alpha_l\, d_i^{-1/2}\, \mathbf{e}_i^{(l-1)}` with
    :math:`\alpha_l` of :func:`readout_weights`, :math:`d_i` the item's (weighted) degree
    in :obj:`graph` and :math:`\mathbf{e}_i^{(l)}` its layer-:math:`l` embedding over the
    plain graph (a text branch's layer-0 input included). Items without a train
    interaction get a zero row.

    For a user :math:`u` of :obj:`graph` with items :math:`S_u`,
    :math:`d_u^{-1/2} \sum_{i \in S_u} w_{ui} \mathbf{F}_i` equals the model's own user
    vector less its layer-0 term, :math:`\mathbf{e}_u - \alpha_0 \mathbf{e}_u^{(0)}`; for
    SimGCL and XSimGCL (:math:`\alpha_0 = 0`) it is the user vector itself.

    Args:
        method (Method): a fitted LightGCN-based method (see :func:`check_foldin`).
        graph (UIGraph): its train graph.
    """
    alphas = readout_weights(method)
    enc = method.encoder
    with torch.no_grad():
        was = enc.training
        enc.eval()
        try:
            layers = enc.propagate(graph)
        finally:
            enc.train(was)
        deg = graph.degrees[graph.num_users:]
        inv = np.zeros_like(deg)
        inv[deg > 0] = deg[deg > 0] ** -0.5
        inv_t = torch.from_numpy(inv).to(layers[0].device, torch.float32)[:, None]
        out = torch.zeros(graph.num_items, layers[0].shape[1], device=layers[0].device)
        for alpha, h in zip(alphas[1:], layers[:-1]):
            out += alpha * h[graph.num_users:].float()
        return out * inv_t


def item_foldin(rec: Any) -> np.ndarray | None:
    """The fold-in item matrix of a fitted :class:`~gcl.GraphCLRecommender`, :obj:`[I, d]`
    float32 (see :func:`foldin_matrix`), or :obj:`None` for a method that folds in otherwise
    or not at all (graph filters, popularity, sequence methods, ...). Computed once per
    fitted model and kept. A model read by :meth:`~gcl.GraphCLRecommender.load` has no
    graph: it is rebuilt from the saved train matrix (and edge weights, if any)."""
    method = rec.method_
    if not method.dot_scores or isinstance(method, Popularity):
        return None
    try:
        check_foldin(method)
    except ValueError:
        return None
    hit = _CACHE.get(method)
    if hit is not None and hit[0]() is rec.item_emb_:
        return hit[1]
    graph = rec.graph_
    if graph is None:
        seen = sp.coo_matrix(rec.seen_)
        graph = UIGraph(seen.shape[0], seen.shape[1], seen.row, seen.col,
                        device=rec.item_emb_.device,
                        weights=getattr(rec, "seen_weights_", None))
    out = foldin_matrix(method, graph).cpu().numpy()
    _CACHE[method] = (weakref.ref(rec.item_emb_), out)
    return out


def recommend_for_items(rec: Any, item_ids: Sequence[Hashable] | Sequence[Sequence[Hashable]],
                        k: int = 10, filter_seen: bool = True,
                        missing: str = "raise") -> tuple[np.ndarray, np.ndarray]:
    """:meth:`gcl.GraphCLRecommender.recommend_for_items` of a fitted recommender."""
    method, n = rec.method_, len(rec.item_ids_)
    check_foldin(method)
    rows, single = item_rows(rec.item_ids_, item_ids, missing)
    given = rows_matrix(rows, n)
    if not method.dot_scores:  # a graph filter scores the user's row itself: exact
        def scorer(b: np.ndarray) -> torch.Tensor:
            return method.scores(given[b])
    else:
        item_emb = rec.item_emb_.float()
        if isinstance(method, Popularity):  # the same list for everyone
            users = torch.ones(len(rows), 1, device=item_emb.device)
        else:
            users = torch.from_numpy(fold_in(item_foldin(rec), rows)).to(item_emb.device)

        def scorer(b: np.ndarray) -> torch.Tensor:
            return users[torch.as_tensor(b, device=users.device)] @ item_emb.T

    idx, scores = topk_scores(scorer, n, np.arange(len(rows)), k,
                              given if filter_seen else None)
    idx, scores = idx.cpu().numpy(), scores.cpu().numpy()
    items = np.asarray(rec.item_ids_, dtype=object)[idx]
    items[~np.isfinite(scores)] = None
    if rec.item_ids_.dtype != object and np.isfinite(scores).all():
        items = np.asarray(rec.item_ids_)[idx]
    return (items[0], scores[0]) if single else (items, scores)
