"""Encoders."""
from gcl.nn.gnn import GNNEncoder
from gcl.nn.lightgcn import LightGCN

__all__ = ["GNNEncoder", "LightGCN"]
