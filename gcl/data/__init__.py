"""Click logs, splits and negative sampling.

:class:`NegativeSampler` draws with torch and loads on first use, so that the log and its
splits (numpy, pandas, scipy) serve without torch."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gcl.data.interactions import Interactions
from gcl.data.split import leave_one_out, random_split, temporal_split

if TYPE_CHECKING:
    from gcl.data.sampler import NegativeSampler

__all__ = ["Interactions", "NegativeSampler", "random_split", "leave_one_out", "temporal_split"]


def __getattr__(name: str) -> Any:
    if name == "NegativeSampler":
        from gcl.data.sampler import NegativeSampler

        return NegativeSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
