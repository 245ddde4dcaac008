"""Methods: one small file each, registered by name."""
from __future__ import annotations

from typing import Any

from gcl.methods.base import Method
from gcl.methods.lightgcn import LightGCNMethod
from gcl.methods.pop import Popularity

METHODS: dict[str, type[Method]] = {m.name: m for m in (LightGCNMethod, Popularity)}


def build_method(name: str, num_users: int, num_items: int, **kwargs: Any) -> Method:
    """The method registered as :obj:`name`, built with :obj:`kwargs` (its hyperparameters)."""
    key = name.lower()
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {sorted(METHODS)}")
    return METHODS[key](num_users, num_items, **kwargs)


__all__ = ["METHODS", "Method", "LightGCNMethod", "Popularity", "build_method"]
