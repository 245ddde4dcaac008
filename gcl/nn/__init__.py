"""Encoders."""
from gcl.nn.gnn import GNNEncoder
from gcl.nn.lightgcn import LightGCN
from gcl.nn.momentum import FeatureQueue, MomentumEncoder
from gcl.nn.projection import ProjectionHead
from gcl.nn.sequence import SequenceEncoder
from gcl.nn.text_tower import TextAutoEncoder, TextBranch, TextInput, TextTower, TwinTower

__all__ = ["FeatureQueue", "GNNEncoder", "LightGCN", "MomentumEncoder", "ProjectionHead",
           "SequenceEncoder", "TextAutoEncoder", "TextBranch", "TextInput", "TextTower",
           "TwinTower", "build_encoder"]


def build_encoder(spec, num_users: int, num_items: int, dim: int, layers: int):
    """An encoder from a user's choice: :obj:`None` or :obj:`"lightgcn"` (LightGCN), a conv
    name for :class:`GNNEncoder` (:obj:`"gcn"`, :obj:`"sage"`, :obj:`"gat"`,
    :obj:`"lgconv"`), a dict of GNNEncoder arguments with :obj:`"conv"`, a built module, or
    a callable :obj:`(num_users, num_items, dim, layers) -> module`."""
    import torch

    if spec is None or spec == "lightgcn":
        return LightGCN(num_users, num_items, dim, layers)
    if isinstance(spec, str):
        return GNNEncoder(num_users, num_items, dim, layers, conv=spec)
    if isinstance(spec, dict):
        kwargs = dict(spec)
        return GNNEncoder(num_users, num_items, kwargs.pop("dim", dim),
                          kwargs.pop("layers", layers), **kwargs)
    if isinstance(spec, torch.nn.Module):
        return spec
    if callable(spec):
        return spec(num_users, num_items, dim, layers)
    raise TypeError(f"encoder must be a name, a dict, a module or a callable, got "
                    f"{type(spec).__name__}")
