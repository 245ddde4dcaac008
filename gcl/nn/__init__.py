"""Encoders."""
from gcl.nn.lightgcn import LightGCN

__all__ = ["LightGCN"]
