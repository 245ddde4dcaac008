"""MoCo's momentum (key) encoder and its FIFO queue of past keys."""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

#: Settings a :obj:`moco` dict may hold, with their defaults.
MOCO_DEFAULTS = {"size": 4096, "momentum": 0.99}


class FeatureQueue(nn.Module):
    r"""A fixed-size first-in first-out queue of vectors, kept as buffers (so it follows
    the module to its device and is saved in its :meth:`state_dict`).

    Each vector may carry the id of the node it belongs to, so that :meth:`keys` can leave
    out the nodes of the current batch: in recommendation the same users and items come back
    batch after batch, and a node's own past key is no negative of it (its fresh key is an
    in-batch negative for the others anyway).

    Loading a state dict whose queue has another shape (another embedding size or queue
    size) leaves this queue empty instead of failing: stale keys of another space are no
    negatives.

    Args:
        size (int): most vectors held :math:`K`.
        dim (int): vector size :math:`d`.

    Shapes:
        :meth:`push` takes :obj:`[N, dim]` (and ids :obj:`[N]`); :meth:`keys` returns
        :obj:`[min(pushed, K), dim]`, oldest first, less any excluded ids.
    """

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"queue size and dim must be >= 1, got size={size}, dim={dim}")
        self.size, self.dim = size, dim
        self.register_buffer("buffer", torch.zeros(size, dim))
        self.register_buffer("ids", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))  # next slot to write
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.count)

    @torch.no_grad()
    def push(self, keys: torch.Tensor, ids: torch.Tensor | None = None) -> None:
        """Appends :obj:`keys` (detached), with their node :obj:`ids` (default: :obj:`-1`,
        none), dropping the oldest beyond :obj:`size`."""
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"keys must have shape [N, {self.dim}], got {tuple(keys.shape)}")
        if ids is None:
            ids = torch.full((keys.shape[0],), -1, dtype=torch.long, device=keys.device)
        if ids.shape != keys.shape[:1]:
            raise ValueError(f"ids must have shape [{keys.shape[0]}], got {tuple(ids.shape)}")
        keys, ids = keys.detach()[-self.size:].to(self.buffer.dtype), ids[-self.size:]
        n = keys.shape[0]
        idx = (self.ptr + torch.arange(n, device=self.buffer.device)) % self.size
        self.buffer[idx] = keys
        self.ids[idx] = ids.to(self.ids)
        self.ptr.copy_((self.ptr + n) % self.size)
        self.count.clamp_(max=self.size - n).add_(n)

    def keys(self, exclude: torch.Tensor | None = None) -> torch.Tensor:
        """The queued vectors, oldest first (a copy), less those whose id is in
        :obj:`exclude`."""
        n = int(self.count)
        start = (self.ptr - n) % self.size
        order = (start + torch.arange(n, device=self.buffer.device)) % self.size
        if exclude is not None:
            order = order[~torch.isin(self.ids[order], exclude)]
        return self.buffer[order]

    def reset(self) -> None:
        """Empties the queue."""
        self.buffer.zero_()
        self.ids.fill_(-1)
        self.ptr.zero_()
        self.count.zero_()

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        stored = state_dict.get(prefix + "buffer")
        if stored is not None and stored.shape != self.buffer.shape:
            for name in ("buffer", "ids", "ptr", "count"):
                state_dict.pop(prefix + name, None)
            self.reset()
            return
        super()._load_from_state_dict(state_dict, prefix, *args)


class MomentumEncoder(nn.Module):
    r"""The key side of MoCo, `"Momentum Contrast for Unsupervised Visual Representation
    Learning" <https://arxiv.org/abs/1911.05722>`_ (He et al., CVPR 2020) and MoCo v2 (Chen
    et al., 2020, with a projection head): a copy of the query encoder (and head) updated as
    an exponential moving average,

    .. math::
        \theta_k \leftarrow m\,\theta_k + (1 - m)\,\theta_q,

    never by gradients, and one FIFO queue (:class:`FeatureQueue`) of past keys per node
    type (:obj:`"user"`, :obj:`"item"`), used by :func:`gcl.losses.info_nce` as negatives
    beyond the batch (less the past keys of the batch's own nodes).

    Args:
        encoder (torch.nn.Module): the query encoder; copied.
        dim (int): size of the keys (the head's output, or the embedding size).
        size (int): queue length :math:`K` per node type. (default: :obj:`4096`)
        momentum (float): :math:`m` in :math:`[0, 1)`. (default: :obj:`0.99`)
        head (torch.nn.Module, optional): the query projection head; copied.
            (default: :obj:`None`)
    """

    def __init__(self, encoder: nn.Module, dim: int, size: int = 4096, momentum: float = 0.99,
                 head: nn.Module | None = None) -> None:
        super().__init__()
        if not 0 <= momentum < 1:
            raise ValueError(f"moco momentum must be in [0, 1), got {momentum}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"moco size must be an int >= 1, got {size!r}")
        self.momentum, self.size = momentum, size
        self.encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.head = None if head is None else copy.deepcopy(head).requires_grad_(False)
        self.queues = nn.ModuleDict({k: FeatureQueue(size, dim) for k in ("user", "item")})

    @torch.no_grad()
    def update(self, encoder: nn.Module, head: nn.Module | None = None) -> None:
        """One EMA step of the key encoder (and head) towards the query's."""
        pairs = [(self.encoder, encoder)] + ([(self.head, head)] if self.head is not None else [])
        for key, query in pairs:
            for k, q in zip(key.parameters(), query.parameters(), strict=True):
                k.mul_(self.momentum).add_(q.detach(), alpha=1 - self.momentum)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """Keys of key-encoder embeddings :obj:`z`: through the key head, if any."""
        return z if self.head is None else self.head(z)


def moco_settings(moco: Any) -> dict[str, Any]:
    """The :obj:`moco` argument of a method as a full settings dict: :obj:`True` for the
    defaults, or a dict of :obj:`size` and :obj:`momentum`."""
    if moco is True:
        return dict(MOCO_DEFAULTS)
    if not isinstance(moco, dict):
        raise TypeError(f"moco must be True or a dict such as {MOCO_DEFAULTS}, got "
                        f"{type(moco).__name__}")
    unknown = set(moco) - set(MOCO_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown moco setting(s) {sorted(unknown)}; choose from "
                         f"{sorted(MOCO_DEFAULTS)} (the temperature is the method's "
                         "temperature=...)")
    return {**MOCO_DEFAULTS, **moco}
