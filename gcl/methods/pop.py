"""Most-popular baseline."""
from __future__ import annotations

import torch

from gcl.data.interactions import Interactions
from gcl.graph import UIGraph
from gcl.methods.base import Method


class Popularity(Method):
    r"""Ranks every item by its number of train interactions, the same list for every user
    (seen items are still filtered). The floor any learned model must clear.

    Its "embeddings" are a constant 1 per user and the train count per item, so that the
    shared ranking code scores :math:`s_{ui} = \mathrm{count}(i)`.
    """

    name = "pop"
    trainable = False

    def __init__(self, num_users: int, num_items: int, **_: object) -> None:
        super().__init__(num_users, num_items)
        self.register_buffer("counts", torch.zeros(num_items))

    def prepare(self, train: Interactions, graph: UIGraph) -> None:
        self.counts = torch.from_numpy(train.item_counts()).float().to(self.counts.device)

    def embeddings(self, graph: UIGraph) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.ones(self.num_users, 1, device=self.counts.device), self.counts[:, None]
