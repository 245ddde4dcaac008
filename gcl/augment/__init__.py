"""Augmenters that make views of the user–item graph, and of behaviour sequences."""
from gcl.augment.base import Augmenter, Compose, RandomChoice, from_spec
from gcl.augment.edge import EdgeDrop, NodeDrop, RandomWalk
from gcl.augment.feature import FeatureMask, NodeMask
from gcl.augment.noise import EmbeddingNoise
from gcl.augment.sequence import (
    SequenceAugmenter,
    SequenceCrop,
    SequenceMask,
    SequenceRandomChoice,
    SequenceReorder,
)
from gcl.augment.svd import SVDView
from gcl.view import View

__all__ = ["Augmenter", "Compose", "EdgeDrop", "EmbeddingNoise", "FeatureMask", "NodeDrop",
           "NodeMask", "RandomChoice", "RandomWalk", "SVDView", "SequenceAugmenter",
           "SequenceCrop", "SequenceMask", "SequenceRandomChoice", "SequenceReorder", "View",
           "from_spec"]
