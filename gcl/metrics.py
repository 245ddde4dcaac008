r"""Full-ranking top-K evaluation.

Every item is scored for every evaluated user (no sampled negatives); items the user has in
the excluded interactions (train, and valid when testing) are masked out; users without
test items are skipped; users are scored in batches so memory stays at
:obj:`batch_size x num_items` scores.

For a user with test items :math:`T` and top-K list :math:`r_1..r_K`, with
:math:`h_j = [r_j \in T]`:

* Recall@K :math:`= \sum_j h_j / |T|`, Precision@K :math:`= \sum_j h_j / K`,
* HitRate@K :math:`= [\sum_j h_j > 0]`, MRR@K :math:`= 1/\min\{j : h_j\}` (0 if no hit),
* NDCG@K :math:`= \sum_j h_j / \log_2(j+1) \,/\, \sum_{j \le \min(|T|, K)} 1/\log_2(j+1)`.

Metrics are averaged over the evaluated users.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import scipy.sparse as sp
import torch

METRICS = ("recall", "ndcg", "precision", "hit", "mrr")

#: Scores of every item, :obj:`[B, I]`, for internal user indices :obj:`[B]`.
Scorer = Callable[[np.ndarray], torch.Tensor]


def dot_scorer(user_emb: torch.Tensor, item_emb: torch.Tensor) -> Scorer:
    """The :obj:`Scorer` of inner products of user rows :obj:`[U, d]` and items :obj:`[I, d]`."""
    def score(rows: np.ndarray) -> torch.Tensor:
        return user_emb[torch.as_tensor(rows, device=user_emb.device)] @ item_emb.T
    return score


def _check_k(k: int | Iterable[int], num_items: int) -> list[int]:
    values = [k] if isinstance(k, (int, np.integer, float)) else list(k)
    bad = [x for x in values if isinstance(x, bool) or not isinstance(x, (int, np.integer))]
    if bad:
        raise TypeError(f"k must be an int or a list of ints, got {bad[0]!r}")
    ks = sorted({int(x) for x in values})
    if not ks:
        raise ValueError("k must name at least one cut-off")
    if ks[0] < 1:
        raise ValueError(f"k must be >= 1, got {ks[0]}")
    if ks[-1] > num_items:
        raise ValueError(f"k={ks[-1]} is larger than the number of items ({num_items})")
    return ks


def _csr_rows(mat: sp.csr_matrix, rows: np.ndarray, device: torch.device):
    sub = mat[rows].tocoo()
    return (torch.from_numpy(sub.row.astype(np.int64)).to(device),
            torch.from_numpy(sub.col.astype(np.int64)).to(device))


def topk(user_emb: torch.Tensor, item_emb: torch.Tensor, users: np.ndarray, k: int,
         exclude: sp.csr_matrix | None = None,
         batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Top-:obj:`k` items by inner product for each of :obj:`users`, with the items in
    :obj:`exclude` (a :obj:`[U, I]` CSR matrix) masked out.

    Args:
        user_emb (torch.Tensor): shape :obj:`[U, d]`.
        item_emb (torch.Tensor): shape :obj:`[I, d]`.
        users (np.ndarray): internal user indices, shape :obj:`[B]`.
        k (int): list length.
        exclude (scipy.sparse.csr_matrix, optional): items to leave out. (default: :obj:`None`)
        batch_size (int): users scored at once. (default: :obj:`1024`)

    Returns:
        (items, scores), both of shape :obj:`[B, k]`; masked slots (a user with fewer than
        :obj:`k` candidates) hold score :obj:`-inf`.
    """
    return topk_scores(dot_scorer(user_emb, item_emb), item_emb.shape[0], users, k, exclude,
                       batch_size, item_emb.device)


def topk_scores(scorer: Scorer, num_items: int, users: np.ndarray, k: int,
                exclude: sp.csr_matrix | None = None, batch_size: int = 1024,
                device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    r""":func:`topk` for any :obj:`scorer` (:obj:`rows -> [B, num_items]` scores), such as
    a graph filter's; :obj:`device` is where an empty result is made."""
    _check_k(k, num_items)
    items, scores = [], []
    for start in range(0, len(users), batch_size):
        rows = users[start:start + batch_size]
        s = scorer(rows)
        if exclude is not None:
            r, c = _csr_rows(exclude, rows, s.device)
            s[r, c] = -torch.inf
        v, i = torch.topk(s, k, dim=1)
        items.append(i)
        scores.append(v)
    if not items:
        empty = torch.empty(0, k, device=device)
        return empty.long(), empty
    return torch.cat(items), torch.cat(scores)


def ranking_metrics(hits: torch.Tensor, num_pos: torch.Tensor,
                    k: Sequence[int]) -> dict[str, torch.Tensor]:
    r"""Per-user metrics from a hit matrix.

    Args:
        hits (torch.Tensor): :obj:`hits[u, j]` is whether the user's :math:`j`-th ranked item
            is a test item, shape :obj:`[B, max(k)]`.
        num_pos (torch.Tensor): number of test items per user, shape :obj:`[B]`.
        k (sequence of int): cut-offs.

    Returns:
        dict from :obj:`"<metric>@<k>"` to a :obj:`[B]` float64 tensor.
    """
    hits = hits.double()
    num_pos = num_pos.double()
    discount = 1.0 / torch.log2(torch.arange(2, hits.shape[1] + 2, device=hits.device,
                                             dtype=torch.float64))
    ideal = torch.cumsum(discount, 0)
    first = torch.where(hits.any(1), hits.argmax(1).double() + 1, torch.inf)
    out = {}
    for kk in k:
        h = hits[:, :kk].sum(1)
        out[f"recall@{kk}"] = h / num_pos
        out[f"precision@{kk}"] = h / kk
        out[f"hit@{kk}"] = (h > 0).double()
        out[f"ndcg@{kk}"] = (hits[:, :kk] * discount[:kk]).sum(1) / ideal[
            (num_pos.clamp(max=kk) - 1).long()]
        out[f"mrr@{kk}"] = torch.where(first <= kk, 1.0 / first, 0.0)
    return out


def evaluate(user_emb: torch.Tensor, item_emb: torch.Tensor, test: sp.csr_matrix,
             exclude: sp.csr_matrix | None = None, k: int | Iterable[int] = (10, 20),
             batch_size: int = 1024, progress: bool = False) -> dict[str, float]:
    r"""Full-ranking Recall, NDCG, Precision, HitRate and MRR at each cut-off.

    Args:
        user_emb (torch.Tensor): shape :obj:`[U, d]`.
        item_emb (torch.Tensor): shape :obj:`[I, d]`.
        test (scipy.sparse.csr_matrix): the held-out interactions, shape :obj:`[U, I]`.
        exclude (scipy.sparse.csr_matrix, optional): interactions to mask out of the
            ranking (train, and valid when testing). (default: :obj:`None`)
        k (int or iterable of int): cut-offs. (default: :obj:`(10, 20)`)
        batch_size (int): users scored at once. (default: :obj:`1024`)
        progress (bool): show a progress bar over the user batches. (default: :obj:`False`)

    Returns:
        dict such as :obj:`{"recall@20": 0.31, "ndcg@20": 0.27, ...}`, plus
        :obj:`"users"`, the number of users evaluated.
    """
    num_users, num_items = test.shape
    if user_emb.shape[0] != num_users or item_emb.shape[0] != num_items:
        raise ValueError(f"embeddings of {user_emb.shape[0]} users x {item_emb.shape[0]} items "
                         f"do not match the test matrix {test.shape}")
    return evaluate_scores(dot_scorer(user_emb, item_emb), test, exclude, k, batch_size,
                           progress)


def evaluate_scores(scorer: Scorer, test: sp.csr_matrix, exclude: sp.csr_matrix | None = None,
                    k: int | Iterable[int] = (10, 20), batch_size: int = 1024,
                    progress: bool = False) -> dict[str, float]:
    r""":func:`evaluate` for any :obj:`scorer` (:obj:`rows -> [B, I]` scores, with
    :obj:`I = test.shape[1]`), such as a graph filter's."""
    num_items = test.shape[1]
    ks = _check_k(k, num_items)
    test = sp.csr_matrix(test)
    num_pos = np.diff(test.indptr)
    users = np.flatnonzero(num_pos > 0)
    if len(users) == 0:
        raise ValueError("no user has a test interaction: nothing to evaluate")
    sums: dict[str, float] = {}
    starts = range(0, len(users), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="evaluate", unit="batch", leave=False, disable=None)  # TTY only
    for start in starts:
        rows = users[start:start + batch_size]
        top, top_scores = topk_scores(scorer, num_items, rows, ks[-1], exclude, batch_size)
        truth = torch.zeros(len(rows), num_items, dtype=torch.bool, device=top.device)
        r, c = _csr_rows(test, rows, top.device)
        truth[r, c] = True
        # A slot filled with a masked item (score -inf) is not a recommendation.
        hits = truth.gather(1, top) & torch.isfinite(top_scores)
        per_user = ranking_metrics(hits,
                                   torch.as_tensor(num_pos[rows], device=top.device), ks)
        for name, v in per_user.items():
            sums[name] = sums.get(name, 0.0) + float(v.sum())
    out = {name: sums[name] / len(users) for name in
           [f"{m}@{kk}" for m in METRICS for kk in ks]}
    out["users"] = int(len(users))
    return out
