"""Click logs, splits and negative sampling."""
from gcl.data.interactions import Interactions
from gcl.data.sampler import NegativeSampler
from gcl.data.split import leave_one_out, random_split, temporal_split

__all__ = ["Interactions", "NegativeSampler", "random_split", "leave_one_out", "temporal_split"]
