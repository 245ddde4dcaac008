r"""Serving a fitted model: the scores of its users for every item, the masks of items a
user has seen, and the top-:obj:`k` lists behind
:meth:`~gcl.GraphCLRecommender.evaluate`, :meth:`~gcl.GraphCLRecommender.recommend` and
:meth:`~gcl.GraphCLRecommender.similar_items`.

The functions take the fitted parts (the method, the user and item embeddings, the train
matrix :obj:`seen`, the id maps) rather than the recommender, so that each of them says what
it reads. A method either scores by inner products of its :meth:`embeddings` (its
:obj:`dot_scores`), or scores each user's whole train row (a graph filter).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from gcl.checks import metric_cutoff
from gcl.data.interactions import Interactions, ids_to_rows
from gcl.graph import UIGraph
from gcl.metrics import Scorer, dot_scorer, evaluate, topk_scores

__all__ = ["check_maps", "check_embeddings", "binary", "over_items", "excluded",
           "served_embeddings", "scorer", "epoch_scorer", "recommend", "similar_items"]


def check_maps(inter: Interactions, user_map: pd.Index, item_map: pd.Index, what: str
               ) -> None:
    r"""Raises unless :obj:`inter` (named :obj:`what` in the error) is an
    :class:`Interactions` with the model's user map :obj:`user_map` and the head of its item
    map :obj:`item_map` (text-only items are appended to the train log's)."""
    if not isinstance(inter, Interactions):
        raise TypeError(f"{what} must be an Interactions, got {type(inter).__name__}")
    n = len(inter.item_ids)
    if not (inter.user_ids.equals(user_map) and inter.item_ids.equals(item_map[:n])):
        raise ValueError(f"{what} does not share the id maps of the train log: split it "
                         "from the same Interactions (or select() from it)")


def check_embeddings(method: Any, name: str, what: str) -> None:
    r"""Raises a :class:`ValueError` when :obj:`method` (named :obj:`name`) scores users
    from their train rows, so has no embeddings to :obj:`what` (e.g. :obj:`"export"`)."""
    if not method.dot_scores:
        raise ValueError(
            f"method {name!r} scores each user from their whole train row with a graph "
            f"filter, not by an inner product of a user and an item vector, so it has no "
            f"embeddings to {what}; serve it with recommend(), or train an embedding method "
            f"(e.g. 'lightgcn' with init='svd', which starts from the same spectrum)")


def binary(mat: sp.spmatrix) -> sp.csr_matrix:
    """A copy of :obj:`mat` as a CSR matrix with every stored value set to 1."""
    mat = sp.csr_matrix(mat, copy=True)
    mat.data[:] = 1
    return mat


def over_items(inter: Interactions, num_items: int) -> sp.csr_matrix:
    r""":obj:`inter` as a :obj:`[U, num_items]` matrix: a log split before text-only items
    were appended to the item map has fewer columns, and gets empty ones for them.

    Args:
        inter (Interactions): a log that shares the model's id maps.
        num_items (int): the number of items of the model's item map.
    """
    mat = inter.to_csr()
    if mat.shape[1] < num_items:
        mat = sp.csr_matrix((mat.data, mat.indices, mat.indptr),
                            shape=(mat.shape[0], num_items))
    return mat


def excluded(seen: sp.csr_matrix, valid_seen: sp.csr_matrix | None,
             with_valid: bool) -> sp.csr_matrix:
    r"""Items to mask out of a ranking, :obj:`[U, I]`: the train items :obj:`seen`, and the
    valid items :obj:`valid_seen` too when :obj:`with_valid` (and there are any)."""
    if not with_valid or valid_seen is None:
        return seen
    return binary(seen + valid_seen)


def served_embeddings(method: Any, graph: UIGraph
                      ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    r"""The user :obj:`[U, d]` and item :obj:`[I, d]` embeddings a fitted :obj:`method`
    serves (computed without gradients), or :obj:`(None, None)` for a method that scores
    users' rows rather than by inner products."""
    if not method.dot_scores:
        return None, None
    with torch.no_grad():
        u, i = method.embeddings(graph)
    return u.detach(), i.detach()


def scorer(method: Any, seen: sp.csr_matrix, user_emb: torch.Tensor | None,
           item_emb: torch.Tensor | None) -> Scorer:
    r"""Scores of every item, :obj:`[B, I]`, for internal user rows :obj:`[B]`: the inner
    products of :obj:`user_emb` and :obj:`item_emb`, or the graph filter's scores of the
    users' train rows in :obj:`seen` when the method has no :obj:`dot_scores`."""
    if method.dot_scores:
        return dot_scorer(user_emb, item_emb)
    return lambda rows: method.scores(seen[rows])


def epoch_scorer(method: Any, graph: UIGraph, target: sp.csr_matrix, exclude: sp.csr_matrix,
                 metric: str) -> Callable[[], dict[str, float]]:
    r"""What the training loop calls after an epoch: the metrics at 10, 20 and the cut-off
    of :obj:`metric` (those not above the number of items) of the method's current
    embeddings on :obj:`target` :obj:`[U, I]`, with :obj:`exclude` :obj:`[U, I]` masked."""
    n = target.shape[1]
    ks = sorted({k for k in (10, 20) if k <= n} | {metric_cutoff(metric, n)})
    return lambda: evaluate(*method.embeddings(graph), target, exclude, k=ks)


def recommend(score: Scorer, user_map: pd.Index, item_map: pd.Index,
              user_ids: Sequence[Hashable], k: int, exclude: sp.csr_matrix | None
              ) -> tuple[np.ndarray, np.ndarray]:
    r"""Top-:obj:`k` items of each user.

    Args:
        score (Scorer): scores of every item for internal user rows (see :func:`scorer`).
        user_map (pd.Index): the users' own ids, by row.
        item_map (pd.Index): the items' own ids, by row.
        user_ids (sequence): the users to serve, in their own ids.
        k (int): list length.
        exclude (sp.csr_matrix, optional): items to leave out, :obj:`[U, I]`.

    Returns:
        (items, scores): arrays :obj:`[len(user_ids), k]`, items in their own ids; slots
        without a candidate hold :obj:`None` and :obj:`-inf`.
    """
    if isinstance(user_ids, (str, bytes)) or not isinstance(user_ids, Iterable):
        raise TypeError("user_ids must be a list of ids, e.g. ['196', '186']")
    users = ids_to_rows(user_map, list(user_ids), "user")
    idx, scores = topk_scores(score, len(item_map), users, k, exclude)
    idx, scores = idx.cpu().numpy(), scores.cpu().numpy()
    items = np.asarray(item_map, dtype=object)[idx]
    items[~np.isfinite(scores)] = None
    if item_map.dtype != object and np.isfinite(scores).all():
        items = np.asarray(item_map)[idx]
    return items, scores


def similar_items(method: Any, item_emb: torch.Tensor | None, item_map: pd.Index,
                  item_ids: Sequence[Hashable], k: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The :obj:`k` items most similar to each of :obj:`item_ids`: by cosine similarity
    of :obj:`item_emb` :obj:`[I, d]`, or for a graph filter its scores of a user who has
    only that item. An item is never its own neighbour.

    Returns:
        (items, scores): arrays :obj:`[len(item_ids), k]`, items in their own ids.
    """
    if isinstance(item_ids, (str, bytes)) or not isinstance(item_ids, Iterable):
        raise TypeError("item_ids must be a list of ids, e.g. ['242', '302']")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if not 1 <= k <= len(item_map) - 1:
        raise ValueError(f"k must be in 1..num_items-1={len(item_map) - 1}, got {k}")
    rows = ids_to_rows(item_map, list(item_ids), "item")
    if method.dot_scores:
        items = torch.nn.functional.normalize(item_emb.float(), dim=1)
        scores = items[torch.as_tensor(rows, device=items.device)] @ items.T
    else:
        one_hot = sp.csr_matrix((np.ones(len(rows)), (np.arange(len(rows)), rows)),
                                shape=(len(rows), len(item_map)))
        scores = method.scores(one_hot)
    scores[torch.arange(len(rows)), torch.as_tensor(rows)] = -torch.inf
    top, idx = torch.topk(scores, k, dim=1)
    return np.asarray(item_map)[idx.cpu().numpy()], top.cpu().numpy()
