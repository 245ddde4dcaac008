r"""Evaluation with OGB's link-prediction :class:`~ogb.linkproppred.Evaluator`, so that
user-item results can be reported in the Open Graph Benchmark's terms.

Two protocols, both on the inner-product scores of the embeddings:

* **Hits@K** (as :obj:`ogbl-collab`): every held-out (user, item) pair is ranked against one
  shared pool of :obj:`num_global_neg` random non-interacting pairs; Hits@K is the share of
  held-out pairs that score above the K-th best negative.
* **MRR** (as :obj:`ogbl-citation2`): every held-out pair is ranked against
  :obj:`num_neg` random items its user has not interacted with; MRR is the mean reciprocal
  rank (ties counted half), next to Hits@1/3/10 of that ranking.

Negatives are never pairs that appear in the train, valid or test logs given. Needs the
:obj:`ogb` extra: :obj:`pip install 'gcl[ogb]'`; the scores and negatives
(:func:`ogb_inputs`) do not.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch


def import_evaluator() -> Any:
    """OGB's link-prediction :class:`Evaluator` class, or an :class:`ImportError` naming the
    extra to install."""
    import os

    os.environ.setdefault("OUTDATED_IGNORE", "1")  # no version check over the network
    try:
        from ogb.linkproppred import Evaluator
    except ImportError as e:
        raise ImportError("OGB evaluation needs ogb: pip install 'gcl[ogb]' "
                          "(or pip install ogb)") from e
    return Evaluator


def _known_keys(known: sp.csr_matrix) -> np.ndarray:
    coo = sp.coo_matrix(known)
    return np.unique(coo.row.astype(np.int64) * known.shape[1] + coo.col)


def _sample_unknown(users: np.ndarray, num_items: int, keys: np.ndarray,
                    rng: np.random.Generator, max_rounds: int = 100) -> np.ndarray:
    """A random item per entry of :obj:`users` that the user has not interacted with."""
    items = rng.integers(0, num_items, size=users.shape)
    for _ in range(max_rounds):
        bad = np.isin(users * num_items + items, keys)
        if not bad.any():
            return items
        items[bad] = rng.integers(0, num_items, size=int(bad.sum()))
    raise ValueError("could not sample negatives: some users have interacted with almost "
                     "every item")


def ogb_inputs(user_emb: torch.Tensor | np.ndarray, item_emb: torch.Tensor | np.ndarray,
               test: sp.csr_matrix, known: sp.csr_matrix, num_neg: int = 1000,
               num_global_neg: int = 100_000, seed: int = 0) -> dict[str, torch.Tensor]:
    r"""Scores of held-out pairs and of sampled negatives, in the shapes OGB's evaluators
    take.

    Args:
        user_emb (torch.Tensor or np.ndarray): shape :obj:`[U, d]`.
        item_emb (torch.Tensor or np.ndarray): shape :obj:`[I, d]`.
        test (scipy.sparse.csr_matrix): held-out pairs, shape :obj:`[U, I]`.
        known (scipy.sparse.csr_matrix): every pair that is not a negative (train, valid
            and test), shape :obj:`[U, I]`.
        num_neg (int): negatives per held-out pair, for MRR. (default: :obj:`1000`)
        num_global_neg (int): shared negative pairs, for Hits@K. (default: :obj:`100000`)
        seed (int): seed of the sampling. (default: :obj:`0`)

    Returns:
        dict with :obj:`"pos"` :obj:`[P]`, :obj:`"neg"` :obj:`[P, num_neg]` (same user as
        each held-out pair) and :obj:`"global_neg"` :obj:`[num_global_neg]`, and the
        sampled indices :obj:`"neg_items"`, :obj:`"global_users"`, :obj:`"global_items"`.
    """
    u = torch.as_tensor(np.asarray(user_emb) if not torch.is_tensor(user_emb) else user_emb)
    i = torch.as_tensor(np.asarray(item_emb) if not torch.is_tensor(item_emb) else item_emb)
    u, i = u.detach().float().cpu(), i.detach().float().cpu()
    if num_neg < 1 or num_global_neg < 1:
        raise ValueError(f"num_neg and num_global_neg must be >= 1, got {num_neg}, "
                         f"{num_global_neg}")
    test = sp.coo_matrix(test)
    if test.nnz == 0:
        raise ValueError("no held-out pair to evaluate")
    rng = np.random.default_rng(seed)
    keys = _known_keys(known + test)
    users, items = test.row.astype(np.int64), test.col.astype(np.int64)
    num_items = i.shape[0]
    pos = (u[users] * i[items]).sum(-1)
    neg_items = _sample_unknown(np.repeat(users, num_neg).reshape(-1, num_neg), num_items,
                                keys, rng)
    neg = torch.empty(len(users), num_neg)
    for s in range(0, len(users), 4096):  # [B, num_neg, d] at a time
        rows = slice(s, s + 4096)
        neg[rows] = torch.einsum("bd,bnd->bn", u[users[rows]],
                                 i[torch.from_numpy(neg_items[rows])])
    g_users = rng.integers(0, u.shape[0], size=num_global_neg)
    g_items = _sample_unknown(g_users, num_items, keys, rng)
    global_neg = (u[g_users] * i[g_items]).sum(-1)
    return {"pos": pos, "neg": neg, "global_neg": global_neg, "neg_items": neg_items,
            "global_users": g_users, "global_items": g_items}


def evaluate_ogb(rec: Any, test: Any, k: int | Iterable[int] = (20, 50, 100),
                 exclude: Sequence[Any] = (), num_neg: int = 1000,
                 num_global_neg: int = 100_000, seed: int = 0) -> dict[str, float]:
    r"""OGB link-prediction metrics of a fitted recommender on a held-out log.

    Args:
        rec (GraphCLRecommender): a fitted recommender.
        test (Interactions): the held-out log, split from the train log.
        k (int or iterable of int): cut-offs of Hits@K. (default: :obj:`(20, 50, 100)`)
        exclude (sequence of Interactions): further logs whose pairs are never negatives
            (e.g. valid); train and test never are. (default: :obj:`()`)
        num_neg (int): negatives per held-out pair, for MRR. (default: :obj:`1000`)
        num_global_neg (int): shared negatives, for Hits@K. (default: :obj:`100000`)
        seed (int): seed of the sampling. (default: :obj:`0`)

    Returns:
        dict such as :obj:`{"hits@20": ..., "hits@50": ..., "mrr": ..., "mrr_hits@10": ...}`.
    """
    Evaluator = import_evaluator()
    rec.check_fitted()
    rec.check_maps(test, "test")
    known = sp.csr_matrix(rec.seen_, dtype=np.float32)
    for other in exclude:
        rec.check_maps(other, "exclude")
        known = known + other.to_csr()
    if rec.valid_seen_ is not None:
        known = known + rec.valid_seen_
    inputs = ogb_inputs(rec.user_embeddings(), rec.item_embeddings(), test.to_csr(),
                        sp.csr_matrix(known), num_neg, num_global_neg, seed)
    out: dict[str, float] = {}
    hits = Evaluator(name="ogbl-collab")
    for kk in sorted({int(k)} if isinstance(k, int) else {int(x) for x in k}):
        if kk < 1:
            raise ValueError(f"k must be >= 1, got {kk}")
        hits.K = kk
        out[f"hits@{kk}"] = float(hits.eval({"y_pred_pos": inputs["pos"],
                                             "y_pred_neg": inputs["global_neg"]})[f"hits@{kk}"])
    ranked = Evaluator(name="ogbl-citation2").eval({"y_pred_pos": inputs["pos"],
                                                    "y_pred_neg": inputs["neg"]})
    out["mrr"] = float(ranked["mrr_list"].mean())
    for n in (1, 3, 10):
        out[f"mrr_hits@{n}"] = float(ranked[f"hits@{n}_list"].mean())
    return out
