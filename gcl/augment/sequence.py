"""Augmenters of behaviour sequences (CL4SRec's crop, mask and reorder), over padded batches."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from gcl.augment.base import Augmenter, choice_weights

#: Padding id of a sequence batch: sequences are left-aligned, padded on the right.
PAD = -1
#: Id of a masked item (:class:`SequenceMask`); :class:`~gcl.nn.SequenceEncoder` gives it
#: a learned embedding.
MASK = -2


def _check_batch(seqs: torch.Tensor) -> torch.Tensor:
    """Lengths of a padded batch, after checking its layout."""
    if seqs.dim() != 2 or seqs.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"a sequence batch must be an integer tensor [B, L], got "
                         f"{seqs.dtype} of shape {tuple(seqs.shape)}")
    present = seqs != PAD
    lengths = present.sum(1)
    if (present != (torch.arange(seqs.shape[1], device=seqs.device) < lengths[:, None])).any():
        raise ValueError(f"sequences must be left-aligned with padding {PAD} on the right only")
    return lengths


def _uniform(shape: tuple[int, ...], generator: torch.Generator | None,
             device: torch.device) -> torch.Tensor:
    return torch.rand(shape, generator=generator).to(device)


def _ratio(name: str, value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value}")
    return float(value)


class SequenceAugmenter(Augmenter):
    r"""Base class of sequence augmenters: :obj:`aug(seqs, generator)` takes a batch of
    item-id sequences :obj:`[B, L]` (left-aligned, padded with :obj:`PAD` = -1 on the
    right) and returns a new batch of the same shape and layout. Every sequence is
    augmented at once (no Python loop per user); in eval mode the batch is returned
    unchanged. Compose them with :class:`~gcl.augment.Compose` or
    :class:`SequenceRandomChoice`."""

    per = "batch"

    def __call__(self, seqs: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        lengths = _check_batch(seqs)
        if not self.training:
            return seqs
        return self.augment_batch(seqs, lengths, generator)

    def augment(self, view, generator):  # views of graphs are not sequences
        raise TypeError(f"{type(self).__name__} augments sequence batches, not graph views")

    def augment_batch(self, seqs: torch.Tensor, lengths: torch.Tensor,
                      generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError


class SequenceCrop(SequenceAugmenter):
    r"""Item crop of CL4SRec, `"Contrastive Learning for Sequential Recommendation"
    <https://arxiv.org/abs/2010.14395>`_ (Xie et al., ICDE 2022): a random contiguous
    sub-sequence :math:`[s_c, \dots, s_{c+L_c-1}]` of length
    :math:`L_c = \max(1, \lfloor \eta n \rfloor)`, its start :math:`c` uniform, moved to
    the front. A sequence too short for :math:`\lfloor \eta n \rfloor \ge 1` keeps one
    item; an empty one stays empty.

    Args:
        ratio (float): :math:`\eta \in (0, 1]`. (default: :obj:`0.6`)
    """

    def __init__(self, ratio: float = 0.6) -> None:
        super().__init__()
        self.ratio = _ratio("ratio", ratio)

    def augment_batch(self, seqs, lengths, generator):
        b, width = seqs.shape
        keep = torch.clamp(torch.floor(lengths * self.ratio), min=1).long().minimum(lengths)
        start = (_uniform((b,), generator, seqs.device) * (lengths - keep + 1)).long()
        pos = torch.arange(width, device=seqs.device)
        src = (start[:, None] + pos).clamp(max=width - 1)
        self.mask = pos < keep[:, None]
        return torch.where(self.mask, seqs.gather(1, src), torch.full_like(seqs, PAD))


class SequenceMask(SequenceAugmenter):
    r"""Item mask of CL4SRec (Xie et al., ICDE 2022): :math:`\lfloor \gamma n \rfloor`
    positions of each sequence, drawn uniformly without replacement, get the :obj:`MASK`
    id; length and order are kept. Sequences with :math:`\lfloor \gamma n \rfloor = 0` are
    unchanged.

    Args:
        ratio (float): :math:`\gamma \in (0, 1]`. (default: :obj:`0.3`)
    """

    def __init__(self, ratio: float = 0.3) -> None:
        super().__init__()
        self.ratio = _ratio("ratio", ratio)

    def augment_batch(self, seqs, lengths, generator):
        count = torch.floor(lengths * self.ratio).long()
        keys = _uniform(tuple(seqs.shape), generator, seqs.device)
        keys = keys.masked_fill(seqs == PAD, 2.0)  # padding sorts last, never masked
        rank = keys.argsort(1).argsort(1)
        masked = rank < count[:, None]
        self.mask = ~masked & (seqs != PAD)
        return seqs.masked_fill(masked, MASK)


class SequenceReorder(SequenceAugmenter):
    r"""Item reorder of CL4SRec (Xie et al., ICDE 2022): a random contiguous window of
    :math:`\lfloor \beta n \rfloor` items, its start uniform, is shuffled; the items
    outside it keep their places. Windows shorter than two items change nothing.

    Args:
        ratio (float): :math:`\beta \in (0, 1]`. (default: :obj:`0.6`)
    """

    def __init__(self, ratio: float = 0.6) -> None:
        super().__init__()
        self.ratio = _ratio("ratio", ratio)

    def augment_batch(self, seqs, lengths, generator):
        b, width = seqs.shape
        size = torch.floor(lengths * self.ratio).long()
        start = (_uniform((b,), generator, seqs.device) * (lengths - size + 1)).long()
        pos = torch.arange(width, device=seqs.device).expand(b, width)
        inside = (pos >= start[:, None]) & (pos < (start + size)[:, None])
        # Sort keys: a position outside the window keeps its own index; inside, a random key
        # in [start, start + size) so the window's items permute among its own places.
        rand = _uniform((b, width), generator, seqs.device)
        keys = torch.where(inside, start[:, None] + rand * size[:, None], pos.to(rand.dtype))
        self.mask = None
        return seqs.gather(1, keys.argsort(1))


class SequenceRandomChoice(SequenceAugmenter):
    r"""One augmenter per *sequence*, drawn at random (uniformly, or by :obj:`weights`), as
    CL4SRec draws one of crop, mask and reorder for each view of each sequence. Every
    augmenter runs on the whole batch and each row takes its chosen one's output.

    Args:
        augmenters (sequence of SequenceAugmenter): the choices.
        weights (sequence of float, optional): relative probabilities. (default: uniform)
    """

    def __init__(self, augmenters: Sequence[SequenceAugmenter],
                 weights: Sequence[float] | None = None) -> None:
        super().__init__()
        if not augmenters or not all(isinstance(a, SequenceAugmenter) for a in augmenters):
            raise ValueError("SequenceRandomChoice needs one or more sequence augmenters")
        self.augmenters = list(augmenters)
        self.weights = choice_weights(len(self.augmenters), weights)
        self.chosen: torch.Tensor | None = None

    def train(self, mode: bool = True) -> SequenceRandomChoice:
        super().train(mode)
        for a in self.augmenters:
            a.train(mode)
        return self

    def augment_batch(self, seqs, lengths, generator):
        self.chosen = torch.multinomial(self.weights, len(seqs), replacement=True,
                                        generator=generator).to(seqs.device)
        outs = torch.stack([a(seqs, generator) for a in self.augmenters])  # [A, B, L]
        return outs[self.chosen, torch.arange(len(seqs), device=seqs.device)]
