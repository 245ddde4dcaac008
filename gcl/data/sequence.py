"""Each user's train items in time order, as one padded batch."""
from __future__ import annotations

import numpy as np
import torch

from gcl.data.interactions import Interactions

PAD = -1


def user_sequences(inter: Interactions, max_len: int | None = None) -> torch.Tensor:
    r"""Each user's items ordered by :obj:`timestamp` (ties, and logs without times, in the
    log's row order), the most recent :obj:`max_len` kept, left-aligned and padded with
    :obj:`-1` on the right. Vectorised in numpy.

    Args:
        inter (Interactions): the log.
        max_len (int, optional): longest sequence kept. (default: :obj:`None`, no limit)

    Returns:
        torch.Tensor: :obj:`[num_users, L]` int64, :obj:`L` the longest kept sequence (at
        least 1); row :obj:`u` is user :obj:`u`'s sequence, oldest first.
    """
    if max_len is not None and max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    n = len(inter)
    time = np.arange(n) if inter.timestamp is None else inter.timestamp
    order = np.lexsort((np.arange(n), time, inter.users))
    users, items = inter.users[order], inter.items[order]
    counts = np.bincount(users, minlength=inter.num_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - starts[users]
    drop = np.zeros_like(counts) if max_len is None else np.maximum(counts - max_len, 0)
    keep = rank >= drop[users]
    width = max(1, int((counts - drop).max(initial=0)))
    out = np.full((inter.num_users, width), PAD, dtype=np.int64)
    out[users[keep], (rank - drop[users])[keep]] = items[keep]
    return torch.from_numpy(out)
