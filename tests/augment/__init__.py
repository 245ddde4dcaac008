"""Tests of the augmenters; shared graph builders."""
import numpy as np
import torch

from gcl.graph import UIGraph


def random_graph(num_users: int = 200, num_items: int = 300, num_edges: int = 4000,
                 seed: int = 0) -> UIGraph:
    """A random bipartite graph with about :obj:`num_edges` distinct interactions."""
    rng = np.random.default_rng(seed)
    pairs = np.unique(rng.integers(0, num_users * num_items, size=num_edges))
    return UIGraph(num_users, num_items, pairs // num_items, pairs % num_items)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
