"""Item text around any embedding method: the text branch feeds the encoder's layer-0 input,
and its losses join the method's as a loss term."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from gcl.nn.text_tower import TextBranch, TextInput

if TYPE_CHECKING:
    from gcl.methods.base import Method


def attach_text(method: Method, branch: TextBranch) -> None:
    r"""Wraps :obj:`method` in the text branch :obj:`branch`
    (:class:`~gcl.nn.text_tower.TextBranch`), whatever the method.

    Two things change, and nothing else of the method does:

    - its encoder is wrapped in :class:`~gcl.nn.text_tower.TextInput`, so the tower's output
      becomes the items' layer-0 features (and cold items are embedded from their text);
      the encoder's weights keep their names under :obj:`encoder.inner`, and the branch's
      sit under :obj:`encoder.branch`;
    - :func:`text_term` joins the method's loss terms (:meth:`Method.add_term`), which its
      ranking loss adds while training.

    Any method whose :obj:`encoder` takes a layer-0 input (:obj:`propagate(graph, x)`,
    :obj:`readout(layers)` and an :obj:`embedding` table, as :class:`~gcl.nn.LightGCN` and
    :class:`~gcl.nn.GNNEncoder` have) and whose loss runs its terms can declare the
    capability :obj:`"text"`.

    Args:
        method (Method): the method; it must declare :obj:`"text"`.
        branch (TextBranch): the text branch.
    """
    method.require("text", "item text")
    method.encoder = TextInput(method.encoder, branch)
    method.add_term(text_term)


def text_branch(method: Method) -> TextBranch | None:
    """The text branch :func:`attach_text` gave :obj:`method`, or :obj:`None`."""
    encoder = getattr(method, "encoder", None)
    return encoder.branch if isinstance(encoder, TextInput) else None


def text_term(method: Method, user_emb: torch.Tensor, item_emb: torch.Tensor,
              users: torch.Tensor, pos: torch.Tensor,
              neg: torch.Tensor) -> dict[str, torch.Tensor]:
    """The text branch's losses of one batch (:meth:`TextBranch.loss`), with the method's
    final user embeddings :obj:`user_emb` :obj:`[U, d]` and its generator; :obj:`"text"`
    is their weighted total."""
    branch = text_branch(method)
    assert branch is not None, "text_term is added by attach_text"
    out = branch.loss(user_emb, users, pos, neg, method.generator)
    out["loss"] = out["text"]
    return out
