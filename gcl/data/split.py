r"""Train / valid / test splits of an :class:`~gcl.data.Interactions` log.

Every split keeps the parent's id maps, is seeded, and is vectorised in numpy.

What happens to users with few interactions:

* :func:`random_split` gives each user :math:`\lfloor r_k n \rfloor` interactions for every
  part after the first, then moves one more to each empty later part while the user still
  has at least two in train (test first, then valid); the rest stays in train. So a user
  with :math:`n \ge 3` interactions and ratios (0.8, 0.1, 0.1) always has one valid and one
  test item, a user with 2 has one train and one test item, and a user with 1 stays in train.
* :func:`leave_one_out` holds out the last interaction (by time) for test, and the one before
  it for valid; users with fewer than :obj:`min_train + parts` interactions stay wholly in
  train, so they are trained on but never evaluated.
* :func:`temporal_split` cuts the whole log at global time quantiles; users or items that
  first appear after the cut have no train interactions (a cold-start test).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the log calls these functions: importing it here would be a cycle
    from gcl.data.interactions import Interactions


def _check_ratios(ratios: Sequence[float]) -> np.ndarray:
    r = np.asarray(ratios, dtype=np.float64)
    if (r.ndim != 1 or len(r) not in (2, 3) or not np.isfinite(r).all() or (r < 0).any()
            or r[0] <= 0):
        raise ValueError(f"ratios must be 2 or 3 non-negative numbers, train > 0; got {ratios}")
    return r / r.sum()


def _rank_within_user(users: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each row among its user's rows ordered by :obj:`key`, and the count."""
    order = np.lexsort((key, users))
    counts = np.bincount(users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - starts[users[order]]
    return rank, counts[users]


def random_split(inter: Interactions, ratios: Sequence[float] = (0.8, 0.1, 0.1),
                 seed: int = 0) -> tuple[Interactions, ...]:
    r"""Splits each user's interactions at random by :obj:`ratios`.

    Args:
        inter (Interactions): the log.
        ratios (sequence of float): shares of train, (valid,) test. (default: :obj:`(0.8, 0.1,
            0.1)`)
        seed (int): seed of the shuffle. (default: :obj:`0`)
    """
    r = _check_ratios(ratios)
    rng = np.random.default_rng(seed)
    rank, n = _rank_within_user(inter.users, rng.random(len(inter)))
    counts = np.floor(np.outer(n, r[1:]) + 1e-9).astype(np.int64)  # [E, parts-1]
    for k in range(counts.shape[1] - 1, -1, -1):  # top up empty later parts, last first
        give = (counts[:, k] == 0) & (r[k + 1] > 0) & (n - counts.sum(1) >= 2)
        counts[give, k] = 1
    bounds = n[:, None] - np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]  # start of later parts
    part = (rank[:, None] >= bounds).sum(1)
    return tuple(inter.select(part == k) for k in range(len(r)))


def leave_one_out(inter: Interactions, valid: bool = True,
                  min_train: int = 1) -> tuple[Interactions, ...]:
    r"""Holds out each user's last interaction for test (and the one before for valid).

    Ties in time keep the log's order. Needs timestamps.

    Args:
        inter (Interactions): the log, with :obj:`timestamp`.
        valid (bool): also hold out a valid item. (default: :obj:`True`)
        min_train (int): users left with fewer train items stay wholly in train.
            (default: :obj:`1`)
    """
    if inter.timestamp is None:
        raise ValueError("leave_one_out needs timestamps; this log has none")
    parts = 2 if valid else 1
    rank, n = _rank_within_user(inter.users, np.argsort(np.argsort(inter.timestamp,
                                                                   kind="stable")))
    back = n - 1 - rank  # 0 for the last interaction
    eligible = n >= min_train + parts
    test = eligible & (back == 0)
    out = [eligible & (back >= parts) | ~eligible]
    if valid:
        out.append(eligible & (back == 1))
    out.append(test)
    return tuple(inter.select(m) for m in out)


def temporal_split(inter: Interactions,
                   ratios: Sequence[float] = (0.8, 0.1, 0.1)) -> tuple[Interactions, ...]:
    r"""Cuts the whole log at global time quantiles: the earliest share is train.

    Args:
        inter (Interactions): the log, with :obj:`timestamp`.
        ratios (sequence of float): shares of train, (valid,) test. (default: :obj:`(0.8, 0.1,
            0.1)`)
    """
    if inter.timestamp is None:
        raise ValueError("temporal_split needs timestamps; this log has none")
    r = _check_ratios(ratios)
    order = np.argsort(inter.timestamp, kind="stable")
    cuts = np.round(np.cumsum(r)[:-1] * len(inter)).astype(np.int64)
    pos = np.empty(len(inter), dtype=np.int64)
    pos[order] = np.arange(len(inter))
    part = np.searchsorted(cuts, pos, side="right")
    return tuple(inter.select(part == k) for k in range(len(r)))


_SPLITS = {"random": random_split, "leave_one_out": leave_one_out, "temporal": temporal_split}


def split(inter: Interactions, method: str = "random", **kwargs) -> tuple[Interactions, ...]:
    """Dispatches to :func:`random_split`, :func:`leave_one_out` or :func:`temporal_split`."""
    if method not in _SPLITS:
        raise ValueError(f"unknown split method {method!r}; choose one of {sorted(_SPLITS)}")
    return _SPLITS[method](inter, **kwargs)
