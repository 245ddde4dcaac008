"""The contract every method meets: how its views are made, which losses it adds, and what
else it can do (its declared capabilities)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import scipy.sparse as sp
import torch
from torch import nn

from gcl.data.interactions import Interactions
from gcl.graph import UIGraph

#: A loss term (:meth:`Method.add_term`).
LossTerm = Callable[..., dict[str, torch.Tensor]]
#: The tuning hint of a method that names none of its own.
GENERIC_TUNING_HINT = "lower the learning rate (lr)"


class Method(nn.Module):
    r"""Base class of a recommendation method trained by :class:`gcl.train.Trainer`.

    A method owns its encoder and says, per batch of (user, positive item, negative item)
    triples, which losses it adds. Methods that make new augmented views per epoch do so in
    :meth:`new_epoch`. The trainer owns the loop; a method never copies it.

    **Capabilities.** What a method can do beyond that is declared in :attr:`capabilities`,
    a set of names from :data:`CAPABILITIES`, each with its hook:

    - :obj:`"text"`: the method's :obj:`encoder` takes a layer-0 input and its loss runs
      :meth:`add_terms`, so :meth:`attach_text` can wrap it in a text branch
      (:class:`~gcl.nn.text_tower.TextBranch`; see :func:`gcl.methods.text.attach_text`).
    - :obj:`"projection_head"`: :meth:`add_projection_head` adds a projection head to the
      contrastive loss.
    - :obj:`"momentum"`: :meth:`add_momentum` adds a MoCo momentum encoder and queue.
    - :obj:`"sequences"`: :meth:`set_history` sets the users' item sequences it ranks from.
    - :obj:`"cl_weight"`: the method has a contrastive loss weighted by its attribute
      :obj:`cl_weight`, which the training loop may lower (:obj:`cl_decay`).

    A subclass that declares a capability must implement its hook (checked when the class
    is made); callers ask :meth:`can` rather than probing attributes. Where a capability is
    missing for a reason worth telling, :attr:`missing` says it.

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
    #: What the method can do beyond the base contract, names from :data:`CAPABILITIES`.
    capabilities: frozenset[str] = frozenset()
    #: Why a capability is missing, by name, where the general message would mislead.
    missing: dict[str, str] = {}
    #: What to try, in this method's settings, when training collapses or the valid
    #: metric declines (named in the training loop's warnings).
    tuning_hint: str = GENERIC_TUNING_HINT
    #: The generator of the current epoch's draws, for methods that draw (set in
    #: :meth:`new_epoch`).
    generator: torch.Generator | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = set(cls.capabilities) - set(CAPABILITIES)
        if unknown:
            raise TypeError(f"{cls.__name__} declares unknown capabilities {sorted(unknown)}; "
                            f"choose from {sorted(CAPABILITIES)}")
        for cap in cls.capabilities:
            hook = CAPABILITIES[cap]
            if hook and getattr(cls, hook) is getattr(Method, hook):
                raise TypeError(f"{cls.__name__} declares {cap!r} but does not implement "
                                f"{hook}()")

    @classmethod
    def can(cls, capability: str) -> bool:
        """Whether the method has :obj:`capability` (a name in :data:`CAPABILITIES`)."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}; choose from "
                             f"{sorted(CAPABILITIES)}")
        return capability in cls.capabilities

    @classmethod
    def require(cls, capability: str, setting: str) -> None:
        """Raises a :class:`ValueError` naming :obj:`setting` (what asked for it) when the
        method lacks :obj:`capability`."""
        if cls.can(capability):
            return
        what, hint = _NEEDS[capability]
        reason = cls.missing.get(capability) or f"{cls.name!r} has no {what}"
        raise ValueError(f"{setting} needs a method with a {what}, and {reason}; {hint}")

    def __init__(self, num_users: int, num_items: int) -> None:
        super().__init__()
        self.num_users, self.num_items = num_users, num_items
        self.terms: list[LossTerm] = []

    def add_term(self, term: LossTerm) -> None:
        """Adds a loss term: a function :obj:`term(method, user_emb, item_emb, users, pos,
        neg)` of the method's final embeddings (:obj:`[U, d]`, :obj:`[I, d]`) and the batch,
        returning a dict whose :obj:`"loss"` joins the total and whose other entries are
        recorded (see :meth:`add_terms`)."""
        self.terms.append(term)

    def add_terms(self, out: dict[str, torch.Tensor], user_emb: torch.Tensor,
                  item_emb: torch.Tensor, users: torch.Tensor, pos: torch.Tensor,
                  neg: torch.Tensor) -> dict[str, torch.Tensor]:
        """:obj:`out` (a batch's losses) with each of :attr:`terms` added while training.
        A method's ranking loss calls it with the final embeddings it ranks with."""
        if not self.training:
            return out
        for term in self.terms:
            parts = term(self, user_emb, item_emb, users, pos, neg)
            total = parts.pop("loss")
            out.update(parts)
            out["loss"] = out["loss"] + total
        return out

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

    def attach_text(self, branch: nn.Module) -> None:
        """Adds a text branch (capability :obj:`"text"`; :func:`gcl.methods.text.attach_text`)."""
        from gcl.methods.text import attach_text

        attach_text(self, branch)

    @property
    def text(self) -> nn.Module | None:
        """The text branch (:class:`~gcl.nn.text_tower.TextBranch`), or :obj:`None`."""
        from gcl.methods.text import text_branch

        return text_branch(self)

    def add_projection_head(self, layers: int) -> None:
        """Adds a projection head of :obj:`layers` layers (capability
        :obj:`"projection_head"`)."""
        self.require("projection_head", "projection_head")

    def add_momentum(self, moco: bool | dict[str, Any]) -> None:
        """Adds a MoCo momentum encoder and queue (capability :obj:`"momentum"`)."""
        self.require("momentum", "moco")

    def set_history(self, log: Interactions) -> None:
        """Ranks from the users' sequences in :obj:`log` from now on (capability
        :obj:`"sequences"`)."""
        self.require("sequences", "set_history")


#: Each capability a method may declare, and the hook it implements (:obj:`None`: nothing
#: to implement, the base class's works).
CAPABILITIES: dict[str, str | None] = {
    "text": None, "projection_head": "add_projection_head",
    "momentum": "add_momentum", "sequences": "set_history", "cl_weight": None}
_CONTRAST = ("contrastive loss", "choose e.g. 'simgcl', 'xsimgcl', 'sgl-ed' or 'custom'")
#: What each capability is, and what to choose where it is missing, for the error message.
_NEEDS = {"text": ("text branch", "use a trainable graph method, e.g. 'lightgcn' or "
                   "'simgcl'"),
          "projection_head": _CONTRAST, "momentum": _CONTRAST, "cl_weight": _CONTRAST,
          "sequences": ("sequence encoder", "choose 'seq-cl' or 'seq-cl+graph'")}
