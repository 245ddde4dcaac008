"""gcl: graph contrastive learning for user–item recommendation, on PyTorch Geometric."""
from __future__ import annotations

__version__ = "0.1.0"

from gcl.data.interactions import Interactions  # noqa: E402
from gcl.recommender import GraphCLRecommender  # noqa: E402


def load_dataset(name: str, **kwargs):  # noqa: ANN201 - re-exported, documented there
    """Loads a named dataset; see :func:`gcl.datasets.load_dataset`."""
    from gcl.datasets import load_dataset as _load

    return _load(name, **kwargs)


def __getattr__(name: str):  # noqa: ANN202 - lazy, so that import gcl does not load faiss
    if name == "RecallIndex":
        from gcl.index import RecallIndex

        return RecallIndex
    raise AttributeError(f"module 'gcl' has no attribute {name!r}")


__all__ = ["GraphCLRecommender", "Interactions", "RecallIndex", "load_dataset", "__version__"]
