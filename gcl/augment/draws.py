r"""Helpers the augmenters share: a checked drop probability, and seeded draws (uniform
numbers, keep masks, seeds) made on the generator's device so that a seeded
:class:`torch.Generator` gives the same views wherever the graph lives."""
from __future__ import annotations

import numbers

import torch

__all__ = ["DRAWS", "check_draw", "check_prob", "count_mask", "draw_seed", "generator_device",
           "keep_mask", "uniform"]

# How a structural augmenter picks what it drops: a fixed count chosen uniformly without
# replacement (SGL's code), or each edge or node on its own.
DRAWS = ("exact", "bernoulli")


def check_prob(p: float, name: str = "p") -> float:
    """:obj:`p` as a float, checked to lie in :math:`[0, 1)`."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1), got {p!r}")
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p!r}")
    return float(p)


def check_draw(draw: str) -> str:
    """:obj:`draw`, checked to be one of :data:`DRAWS`."""
    if draw not in DRAWS:
        raise ValueError(f"draw must be one of {', '.join(map(repr, DRAWS))}, got {draw!r}")
    return draw


def generator_device(generator: torch.Generator | None,
                     device: torch.device | str | None = None) -> torch.device:
    """Where random numbers must be drawn: the generator's device if there is one."""
    if generator is not None:
        return generator.device
    return torch.device("cpu") if device is None else torch.device(device)


def uniform(shape: tuple[int, ...], generator: torch.Generator | None,
            device: torch.device | str | None = None,
            dtype: torch.dtype | None = None) -> torch.Tensor:
    """:math:`U(0, 1)` numbers drawn with :obj:`generator` (on its device), returned on
    :obj:`device` (default: CPU)."""
    out = torch.rand(shape, generator=generator, device=generator_device(generator, device),
                     dtype=dtype)
    return out if device is None else out.to(device)


def draw_seed(generator: torch.Generator | None) -> int:
    """A 63-bit seed drawn from :obj:`generator` (or torch's global RNG)."""
    return int(torch.randint(0, 2**63 - 1, (1,), generator=generator,
                             device=generator_device(generator)).item())


def keep_mask(shape: tuple[int, ...], p: float,
              generator: torch.Generator | None) -> torch.Tensor:
    """A CPU bool mask, each entry :obj:`True` (kept) with probability :math:`1 - p`."""
    return (uniform(shape, generator) >= p).cpu()


def count_mask(rows: int, n: int, keep: int, generator: torch.Generator | None) -> torch.Tensor:
    """A CPU bool mask :obj:`[rows, n]` with exactly :obj:`keep` entries :obj:`True` in each
    row, chosen uniformly without replacement (each row on its own)."""
    if not 0 <= keep <= n:
        raise ValueError(f"keep must be in [0, {n}], got {keep}")
    order = uniform((rows, n), generator).argsort(dim=1)
    mask = torch.zeros(rows, n, dtype=torch.bool)
    return mask.scatter_(1, order[:, :keep].cpu(), True)
