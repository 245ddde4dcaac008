r"""A recommender's settings as one dict (every setting by its constructor keyword):
checked as the constructor and :meth:`~gcl.GraphCLRecommender.set_params` take them, and
sorted into what each part reads: the method's keywords, the training loop's config, and
the settings that differ from their defaults (the recommender's repr)."""
from __future__ import annotations

from typing import Any

from gcl.augment.base import Augmenter, from_spec
from gcl.methods import COMPOSED, METHODS, absent
from gcl.runtime import check_device
from gcl.settings import (
    METHOD_SETTINGS,
    HyperparameterError,
    TrainSettings,
    all_settings,
    check_settings,
    declared,
    method_of,
    method_settings,
)
from gcl.train import TrainConfig

__all__ = ["checked_params", "method_kwargs_of", "train_config_of", "changed_params"]


def checked_params(values: dict[str, Any]) -> dict[str, Any]:
    r""":obj:`values` checked, as a new dict: the method's key resolved (a
    :obj:`"lightgcn"` with parts of your own is :obj:`"custom"`), a stored augmenter spec
    rebuilt, every setting checked against its declaration, the composed parts against
    the method's capabilities, and the loop's config built once.

    Raises:
        HyperparameterError: a setting unknown to the method, or a bad value, naming it.
        TypeError: an :obj:`augment` that is not an :class:`~gcl.augment.Augmenter`.
        ValueError: a bad device; :obj:`init="svd"` for a method that is not trained.
    """
    values = dict(values)
    augment = values.get("augment")
    if isinstance(augment, dict):
        values["augment"] = from_spec(augment)
    elif augment is not None and not isinstance(augment, Augmenter):
        raise TypeError(f"augment must be a gcl.augment Augmenter, got "
                        f"{type(augment).__name__}")
    values["method"] = key = method_of(values.get("method", "lightgcn"), values)
    values["device"] = str(values.get("device", "auto"))
    check_settings(key, {k: v for k, v in values.items() if k not in ("augment", "encoder")})
    cls = METHODS[key]
    for setting, capability in COMPOSED.items():
        if not absent(values.get(setting)):
            try:
                cls.require(capability, setting)
            except ValueError as e:
                raise HyperparameterError(setting, str(e)) from None
    check_device(values["device"])
    if values.get("init") == "svd" and not cls.trainable:
        raise ValueError(f"init='svd' starts a trained embedding method; {key!r} is not "
                         "trained")
    train_config_of(values)  # the loop's own checks, now rather than in fit
    return values


def method_kwargs_of(params: dict[str, Any]) -> dict[str, Any]:
    r"""The keywords of :func:`gcl.methods.build_method`: the method's settings that are set
    (:obj:`layers` and :obj:`reg` left :obj:`None` take its defaults) and the composed
    parts."""
    key = params["method"]
    own = [*(k for k in ("dim", "layers", "reg") if k in declared(METHOD_SETTINGS[key])),
           *method_settings(key), *COMPOSED]
    return {k: params[k] for k in own
            if k in params and not (k in ("layers", "reg") and params[k] is None)}


def train_config_of(params: dict[str, Any], **overrides: Any) -> TrainConfig:
    r"""The training loop's config: the :class:`~gcl.settings.TrainSettings` of
    :obj:`params`, each by its name, and :obj:`overrides` (e.g. :obj:`budget_seconds`)."""
    return TrainConfig(**{k: params[k] for k in declared(TrainSettings)}, **overrides)


def changed_params(params: dict[str, Any]) -> dict[str, Any]:
    r"""The settings of :obj:`params` that differ from their defaults (the method's own
    defaults for its settings), in order."""
    own = method_settings(params["method"])
    defaults = {k: (own.get(k) or d).default for k, d in all_settings().items()}
    return {k: v for k, v in params.items() if k not in defaults or not _same(v, defaults[k])}


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b) or (a is None and b is None)
    except (TypeError, ValueError):
        return False
