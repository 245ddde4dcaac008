"""The checks of every setting of :class:`~gcl.GraphCLRecommender`, run by its
constructor, so that a bad value fails at once with an error that names it, never in
:meth:`~gcl.GraphCLRecommender.fit` (or worse, trains). The checks themselves are declared
with each setting in :mod:`gcl.settings`; this module reads them."""
from __future__ import annotations

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


__all__ = ["HyperparameterError", "RULES", "check_hyperparameters"]
