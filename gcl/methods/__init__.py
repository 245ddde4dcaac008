"""Methods: one small file each, registered by name."""
from __future__ import annotations

from typing import Any

from gcl.methods.base import Method
from gcl.methods.contrastive import GraphCLMethod
from gcl.methods.lightgcl import LightGCL
from gcl.methods.lightgcn import LightGCNMethod
from gcl.methods.pop import Popularity
from gcl.methods.sgl import SGLEdge, SGLNode, SGLWalk
from gcl.methods.simgcl import SimGCL
from gcl.methods.xsimgcl import XSimGCL

METHODS: dict[str, type[Method]] = {m.name: m for m in (
    Popularity, LightGCNMethod, SGLEdge, SGLNode, SGLWalk, SimGCL, XSimGCL, LightGCL,
    GraphCLMethod)}


def build_method(name: str, num_users: int, num_items: int, **kwargs: Any) -> Method:
    """The method registered as :obj:`name`, built with :obj:`kwargs` (its hyperparameters)."""
    key = name.lower()
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {sorted(METHODS)}")
    return METHODS[key](num_users, num_items, **kwargs)


__all__ = ["METHODS", "Method", "GraphCLMethod", "LightGCNMethod", "Popularity", "SGLEdge",
           "SGLNode", "SGLWalk", "SimGCL", "XSimGCL", "LightGCL", "build_method"]
