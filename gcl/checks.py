"""The checks of every setting of :class:`~gcl.GraphCLRecommender`, run by its
constructor, so that a bad value fails at once with an error that names it, never in
:meth:`~gcl.GraphCLRecommender.fit` (or worse, trains). The checks themselves are declared
with each setting in :mod:`gcl.settings`; this module reads them."""
from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from gcl.settings import POSITIVE, HyperparameterError, all_settings, check_settings, method_of


def _rules() -> dict[str, tuple[Callable[[Any], bool], str]]:
    rules = {name: d.check for name, d in all_settings().items() if d.check is not None}
    rules["budget_seconds"] = POSITIVE
    return rules


#: Each checked setting: (test, what it must be), from the declarations.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = _rules()


def check_hyperparameters(params: Mapping[str, Any]) -> None:
    """Checks every setting in :obj:`params` (constructor keywords to values) for its
    method (:obj:`params["method"]`, default :obj:`"lightgcn"`), and raises a
    :class:`HyperparameterError` (a :class:`ValueError`) naming the first bad one, what it
    must be and the value given."""
    params = dict(params)
    check_settings(method_of(params.pop("method", "lightgcn"), params), params)


def metric_cutoff(metric: str, num_items: int) -> int:
    """The cut-off of the early-stopping :obj:`metric` (e.g. 20 of :obj:`"ndcg@20"`), checked
    against the catalogue, which must fill it."""
    from gcl.metrics import METRICS

    name, _, k = str(metric).partition("@")
    if name not in METRICS or not k.isdigit() or int(k) < 1:
        raise ValueError(f"metric must be one of {list(METRICS)}, '@' and a cut-off >= 1, "
                         f"e.g. 'ndcg@20'; got {metric!r}")
    if int(k) > num_items:
        raise ValueError(f"the early-stopping metric {metric} ranks {k} items, but the "
                         f"catalogue has {num_items}: choose a smaller cut-off, e.g. "
                         f"metric='{name}@{min(10, num_items)}'")
    return int(k)


def warn_untrained_users(train: Any) -> None:
    """Warns when users of :obj:`train`'s id map have no train interaction (their vectors
    are never trained)."""
    from gcl.data.interactions import ids_to_list

    cold = (train.user_counts() == 0).nonzero()[0]
    if len(cold):
        warnings.warn(
            f"{len(cold)} of {train.num_users} users have no train interaction (e.g. "
            f"{ids_to_list(train.user_ids[cold[:3]])}): their vectors are never trained, "
            "so recommend() and evaluate() rank items for them from random initial "
            "vectors. A temporal split does this to users who first appear after the "
            "cut; leave them out of the log, or use leave_one_out or a random split",
            RuntimeWarning, stacklevel=4)


__all__ = ["HyperparameterError", "RULES", "check_hyperparameters", "metric_cutoff",
           "warn_untrained_users"]
