"""The contract every method meets: how its views are made and which losses it adds."""
from __future__ import annotations

import scipy.sparse as sp
import torch
from torch import nn

from gcl.data.interactions import Interactions
from gcl.graph import UIGraph


class Method(nn.Module):
    r"""Base class of a recommendation method trained by :class:`gcl.train.Trainer`.

    A method owns its encoder and says, per batch of (user, positive item, negative item)
    triples, which losses it adds. Methods that make new augmented views per epoch do so in
    :meth:`new_epoch`. The trainer owns the loop; a method never copies it.

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
    """

    name: str = "base"
    #: Whether the method has parameters to train with the loop.
    trainable: bool = True
    #: Whether a user's score of an item is the inner product of their :meth:`embeddings`.
    #: A method that scores a user from their whole train row instead (the graph filters of
    #: :mod:`gcl.methods.filters`) sets it to :obj:`False` and implements :meth:`scores`
    #: and :meth:`serve`; it cannot be exported as embeddings.
    dot_scores: bool = True

    def __init__(self, num_users: int, num_items: int) -> None:
        super().__init__()
        self.num_users, self.num_items = num_users, num_items

    def prepare(self, train: Interactions, graph: UIGraph) -> None:
        """Called once by :meth:`fit` before training, with the train log and its graph."""

    def new_epoch(self, graph: UIGraph, generator: torch.Generator) -> None:
        """Called at the start of every epoch; methods with per-epoch views build them here."""

    def epoch_rows(self, train: Interactions, generator: torch.Generator,
                   batch_size: int) -> torch.Tensor | None:
        """Which train rows (interactions) an epoch iterates over, in order, cut into batches
        of :obj:`batch_size`; methods that learn per user (e.g. from whole sequences) return
        one row per user. :obj:`None`, the default, is every row in a fresh random order."""
        return None

    def loss(self, graph: UIGraph, users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor) -> dict[str, torch.Tensor]:
        """Losses of one batch, each a scalar; :obj:`"loss"` is the total that is minimised.

        Args:
            graph (UIGraph): the train graph.
            users (torch.Tensor): user indices, shape :obj:`[B]`.
            pos (torch.Tensor): positive item indices, shape :obj:`[B]`.
            neg (torch.Tensor): negative item indices, shape :obj:`[B]` or :obj:`[B, N]`.
        """
        raise NotImplementedError

    def embeddings(self, graph: UIGraph) -> tuple[torch.Tensor, torch.Tensor]:
        """Final user and item embeddings for ranking, shapes :obj:`[U, d]`, :obj:`[I, d]`."""
        raise NotImplementedError

    def scores(self, rows: sp.csr_matrix) -> torch.Tensor:
        """Scores of every item, :obj:`[B, I]`, for users given by their train rows
        :obj:`rows` (a :obj:`[B, I]` matrix, any item set): methods with
        :obj:`dot_scores = False` only."""
        raise NotImplementedError(f"method {self.name!r} scores by its embeddings")

    def serve(self, seen: sp.csr_matrix) -> None:
        """Rebuilds what :meth:`scores` needs besides the saved weights from the train matrix
        :obj:`seen` (:obj:`[U, I]`) after a model file is loaded."""
