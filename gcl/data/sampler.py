"""Vectorised negative sampling that never returns an item the user has."""
from __future__ import annotations

import numpy as np
import torch

from gcl.data.interactions import Interactions


class NegativeSampler:
    r"""Draws items uniformly from those a user has not interacted with.

    All draws of a call are made at once; the few that hit a positive are redrawn together,
    round after round, so there is no Python loop per sample. Membership is a binary search
    over the sorted keys :math:`u \cdot I + i` of the positives.

    Args:
        positives (Interactions): the interactions that must never be returned (train).
        generator (torch.Generator, optional): source of randomness. (default: :obj:`None`)
    """

    def __init__(self, positives: Interactions, generator: torch.Generator | None = None) -> None:
        self.num_items = positives.num_items
        keys = np.unique(positives.users * self.num_items + positives.items)
        self.keys = torch.from_numpy(keys)
        counts = np.bincount(keys // self.num_items, minlength=positives.num_users)
        full = np.flatnonzero(counts >= self.num_items)
        self.full_users = set(full.tolist())
        self.generator = generator

    def is_positive(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Whether each (user, item) pair is a positive, shape like :obj:`users`."""
        if len(self.keys) == 0:
            return torch.zeros_like(users, dtype=torch.bool)
        q = users.long() * self.num_items + items.long()
        pos = torch.searchsorted(self.keys, q).clamp_(max=len(self.keys) - 1)
        return self.keys[pos] == q

    def sample(self, users: torch.Tensor, num_neg: int = 1, max_rounds: int = 100) -> torch.Tensor:
        """Negative items for each user, shape :obj:`[len(users), num_neg]`.

        Raises :class:`ValueError` if a user has interacted with every item.
        """
        users = users.long()
        if self.full_users and any(u in self.full_users for u in users.unique().tolist()):
            raise ValueError("a user in the batch has interacted with every item: "
                             "no negative item exists for it")
        u = users.repeat_interleave(num_neg)
        neg = torch.randint(self.num_items, u.shape, generator=self.generator)
        bad = self.is_positive(u, neg)
        rounds = 0
        while bad.any():
            rounds += 1
            if rounds > max_rounds:
                raise RuntimeError("negative sampling did not converge: users hold almost "
                                   "every item")
            idx = bad.nonzero().view(-1)
            neg[idx] = torch.randint(self.num_items, idx.shape, generator=self.generator)
            bad[idx] = self.is_positive(u[idx], neg[idx])
        return neg.view(-1, num_neg)
