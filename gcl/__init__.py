"""gcl: graph contrastive learning for user–item recommendation, on PyTorch Geometric.

The public names load on first use (PEP 562), so that :obj:`import gcl` is quick and
:class:`RecallIndex` serves without torch:

* :class:`GraphCLRecommender` (:mod:`gcl.recommender`): fit, evaluate, recommend, export;
* :class:`Interactions` (:mod:`gcl.data`): a click log with its id maps;
* :class:`RecallIndex` (:mod:`gcl.index`): a Faiss index over exported item embeddings;
* :func:`load_dataset` (:mod:`gcl.datasets`): a named dataset.

Subpackages and modules (:obj:`gcl.nn`, :obj:`gcl.metrics`, ...) load on first use too.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from gcl._version import __version__

if TYPE_CHECKING:
    from gcl.data.interactions import Interactions
    from gcl.datasets import load_dataset
    from gcl.index import RecallIndex
    from gcl.recommender import GraphCLRecommender

__all__ = ["GraphCLRecommender", "Interactions", "RecallIndex", "load_dataset", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "GraphCLRecommender":
        from gcl.recommender import GraphCLRecommender as value
    elif name == "Interactions":
        from gcl.data.interactions import Interactions as value
    elif name == "RecallIndex":
        from gcl.index import RecallIndex as value
    elif name == "load_dataset":
        from gcl.datasets import load_dataset as value
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}"):
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
