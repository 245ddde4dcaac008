r"""Seeded synthetic user–item logs with power-law activity and popularity, for scale tests.

.. code-block:: python

    from gcl.datasets.synthetic import power_law_interactions

    log = power_law_interactions(1_000_000, seed=0)   # 1M distinct (user, item) pairs
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from gcl.data.interactions import Interactions


def _zipf_cdf(n: int, exponent: float) -> np.ndarray:
    w = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(w)
    return cdf / cdf[-1]


def power_law_interactions(num_interactions: int, num_users: int | None = None,
                           num_items: int | None = None, user_exponent: float = 0.5,
                           item_exponent: float = 0.8, seed: int = 0) -> Interactions:
    r"""A log of exactly :obj:`num_interactions` distinct (user, item) pairs whose user
    activity and item popularity follow Zipf laws, as in real click logs (a few heavy
    users and blockbuster items, a long tail of both).

    Each pair is drawn independently: the user :math:`u` with probability
    :math:`\propto r_u^{-a}` and the item :math:`i` with probability :math:`\propto
    r_i^{-b}`, :math:`r` being a random rank (a seeded permutation, so that ids carry no
    order). Duplicates are folded and draws repeat until the count is reached, so the
    degree distributions are power laws cut off where a node would hold every pair. Memory
    and time are linear in :obj:`num_interactions` (vectorised: inverse-CDF draws with
    :func:`numpy.searchsorted`, one sort of 64-bit keys per round).

    Args:
        num_interactions (int): distinct pairs :math:`E` to return.
        num_users (int, optional): users :math:`U`; at most this many have a pair.
            (default: :obj:`E // 25`, about Gowalla's 27 pairs per user)
        num_items (int, optional): items :math:`I`. (default: :obj:`E // 50`)
        user_exponent (float): Zipf exponent :math:`a` of user activity. (default:
            :obj:`0.5`)
        item_exponent (float): Zipf exponent :math:`b` of item popularity. (default:
            :obj:`0.8`)
        seed (int): seed of every draw; the same arguments give the same log.
            (default: :obj:`0`)

    Returns:
        Interactions: :obj:`E` interactions over the users and items that have at least
        one pair (integer ids: the drawn index), no rating or time.

    Raises:
        ValueError: a count below 1, exponents below 0, or more pairs asked for than
            :math:`U \cdot I / 2` (a log that dense is not a power-law log).
    """
    e = int(num_interactions)
    n_users = max(2, e // 25) if num_users is None else int(num_users)
    n_items = max(2, e // 50) if num_items is None else int(num_items)
    if e < 1 or n_users < 1 or n_items < 1:
        raise ValueError(f"num_interactions, num_users and num_items must be >= 1, got "
                         f"{e}, {n_users}, {n_items}")
    if user_exponent < 0 or item_exponent < 0:
        raise ValueError(f"the exponents must be >= 0, got {user_exponent}, {item_exponent}")
    if e > n_users * n_items // 2:
        raise ValueError(f"{e} pairs among {n_users} users x {n_items} items is denser than "
                         "half of all pairs: give more users or items")
    rng = np.random.default_rng(seed)
    user_rank = rng.permutation(n_users)
    item_rank = rng.permutation(n_items)
    user_cdf, item_cdf = _zipf_cdf(n_users, user_exponent), _zipf_cdf(n_items, item_exponent)
    keys = np.empty(0, dtype=np.int64)
    rate = 0.9  # share of a round's draws that turn out new; the next round draws for it
    for _ in range(100):
        need = e - len(keys)
        if need <= 0:
            break
        draw = int(need / max(rate, 0.02)) + 16
        u = user_rank[np.searchsorted(user_cdf, rng.random(draw))]
        i = item_rank[np.searchsorted(item_cdf, rng.random(draw))]
        new = np.unique(u.astype(np.int64) * n_items + i)
        if len(keys):
            new = new[~np.isin(new, keys, assume_unique=True)]
        rate = len(new) / draw
        keys = np.concatenate([keys, rng.permutation(new)[:need]])
    else:
        raise ValueError(f"could not draw {e} distinct pairs: lower the exponents or give "
                         "more users or items")
    keys.sort()
    users, items = keys // n_items, keys % n_items
    # Only the users and items with a pair get an id, numbered 0..n-1.
    used_u, users = np.unique(users, return_inverse=True)
    used_i, items = np.unique(items, return_inverse=True)
    return Interactions(users, items, pd.Index(used_u), pd.Index(used_i))
