"""Methods: one small file each, registered by name."""
from __future__ import annotations

from typing import Any

from gcl.methods.base import Method
from gcl.methods.contrastive import GraphCLMethod
from gcl.methods.directau import DirectAU
from gcl.methods.filters import BSPM, GFCF
from gcl.methods.lightgcl import LightGCL
from gcl.methods.lightgcn import LightGCNMethod
from gcl.methods.ncl import NCL
from gcl.methods.pop import Popularity
from gcl.methods.sequence import SeqCL, SeqGraphCL
from gcl.methods.sgl import SGLEdge, SGLNode, SGLWalk
from gcl.methods.simgcl import SimGCL
from gcl.methods.xsimgcl import XSimGCL

METHODS: dict[str, type[Method]] = {m.name: m for m in (
    Popularity, GFCF, BSPM, LightGCNMethod, SGLEdge, SGLNode, SGLWalk, SimGCL, XSimGCL, LightGCL,
    GraphCLMethod, SeqCL, SeqGraphCL, NCL, DirectAU)}


#: The settings that compose with a method, and the capability each needs.
COMPOSED = {"projection_head": "projection_head", "moco": "momentum"}


def absent(value: Any) -> bool:
    """Whether a composed setting's value asks for nothing (:obj:`None`, :obj:`False`,
    :obj:`0`)."""
    return value is None or value is False or value == 0


def build_method(name: str, num_users: int, num_items: int, **kwargs: Any) -> Method:
    """The method registered as :obj:`name`, built with :obj:`kwargs` (its hyperparameters).

    Two settings compose with every method that has a contrastive loss: :obj:`projection_head`
    (number of layers of a SimCLR projection head, :obj:`0` or :obj:`None` for none) and
    :obj:`moco` (:obj:`True` or a dict of :obj:`size` and :obj:`momentum`: a MoCo momentum
    encoder and queue of negatives, :obj:`None` for none)."""
    key = name.lower()
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {sorted(METHODS)}")
    cls = METHODS[key]
    parts = {"projection_head": kwargs.pop("projection_head", None),
             "moco": kwargs.pop("moco", None)}
    for setting in parts:
        if not absent(parts[setting]):
            cls.require(COMPOSED[setting], setting)
    method = cls(num_users, num_items, **kwargs)
    if not absent(parts["projection_head"]):
        method.add_projection_head(parts["projection_head"])
    if not absent(parts["moco"]):
        method.add_momentum(parts["moco"])
    return method


__all__ = ["METHODS", "Method", "GraphCLMethod", "LightGCNMethod", "Popularity", "GFCF", "BSPM",
           "SGLEdge", "SGLNode", "SGLWalk", "SimGCL", "XSimGCL", "LightGCL", "SeqCL", "SeqGraphCL",
           "NCL", "DirectAU", "build_method", "COMPOSED", "absent"]
