"""The checks of every hyperparameter of :class:`~gcl.GraphCLRecommender`, run by its
constructor, so that a bad value fails at once with an error that names it, never in
:meth:`~gcl.GraphCLRecommender.fit` (or worse, trains)."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


class HyperparameterError(ValueError):
    """A hyperparameter with a bad value; :attr:`name` is the argument's name.

    Args:
        name (str): the argument.
        message (str): what is wrong, starting with the name.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
        and math.isfinite(v)


def _int(least: int, most: int | None = None) -> tuple[Callable[[Any], bool], str]:
    span = f"an integer >= {least}" if most is None else f"an integer in {least}..{most}"
    return (lambda v: _is_int(v) and v >= least and (most is None or v <= most)), span


def _number(low: float, low_open: bool = False, high: float | None = None,
            high_open: bool = False) -> tuple[Callable[[Any], bool], str]:
    def ok(v: Any) -> bool:
        if not _is_number(v):
            return False
        if v < low or (low_open and v == low):
            return False
        return high is None or v < high or (not high_open and v == high)

    if high is None:
        span = f"a finite number {'>' if low_open else '>='} {low:g}"
    else:
        span = (f"a number in {'(' if low_open else '['}{low:g}, {high:g}"
                f"{')' if high_open else ']'}")
    return ok, span


def _flag() -> tuple[Callable[[Any], bool], str]:
    return (lambda v: isinstance(v, (bool, np.bool_))), "True or False"


_RATE = _number(0.0, high=1.0, high_open=True)

#: Each checked hyperparameter: (test, what it must be). Names a method does not take are
#: refused by the method itself; values are checked here, for every method that takes them.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "dim": _int(1), "layers": _int(0), "reg": _number(0.0),
    "lr": _number(0.0, low_open=True), "batch_size": _int(1), "epochs": _int(1),
    "eval_every": _int(1), "seed": _int(0, 2**32 - 1),
    "restore_best": _flag(), "progress": _flag(),
    "budget_seconds": _number(0.0, low_open=True),
    # method hyperparameters
    "cl_weight": _number(0.0), "eps": _number(0.0), "temperature": _number(0.0, low_open=True),
    "p": _RATE, "rank": _int(1), "cl_layer": _int(1), "causal": _flag(),
    "crop": _number(0.0, low_open=True, high=1.0), "mask": _RATE, "reorder": _number(0.0, high=1.0),
    "dropout": _RATE, "heads": _int(1), "max_len": _int(1), "seq_layers": _int(1),
    # text branch
    "text_weight": _number(0.0), "text_rec_weight": _number(0.0),
    "text_temperature": _number(0.0, low_open=True), "text_num_neg": _int(1),
    "text_batch": _int(1), "text_hidden": _int(1), "text_mask": _RATE, "text_dropout": _RATE,
    "text_map_reg": _number(0.0), "text_map_max_words": _int(1), "word_dim": _int(1),
    "word_epochs": _int(1), "word_min_count": _int(1), "word_allow_pickle": _flag(),
}


def check_hyperparameters(params: Mapping[str, Any]) -> None:
    """Checks each known hyperparameter of :obj:`params` (the constructor's arguments) and
    raises a :class:`HyperparameterError` (a :class:`ValueError`) naming the first bad one,
    what it must be and the value given.

    Args:
        params (Mapping): argument name to value; :obj:`None` means "the default" for the
            optional ones (:obj:`patience`, :obj:`budget_seconds`, :obj:`cl_decay`, and
            :obj:`layers` and :obj:`reg`, whose default is the method's own).
    """
    for name, value in params.items():
        rule = RULES.get(name)
        if rule is None or (value is None and name in ("budget_seconds", "layers", "reg")):
            continue
        ok, span = rule
        if not ok(value):
            raise HyperparameterError(name, f"{name} must be {span}, got {value!r}")
    patience = params.get("patience")
    if patience is not None and not (_is_int(patience) and patience >= 1):
        raise HyperparameterError("patience", f"patience must be an integer >= 1 or None, "
                                  f"got {patience!r}")
    init_std = params.get("init_std")
    if init_std is not None and init_std != "xavier" and not (
            _is_number(init_std) and init_std > 0):
        raise HyperparameterError("init_std", f"init_std must be a finite number > 0 or "
                                  f"'xavier', got {init_std!r}")
    layers, cl_layer = params.get("layers"), params.get("cl_layer")
    if cl_layer is not None and _is_int(layers) and cl_layer > layers:
        raise HyperparameterError("cl_layer", f"cl_layer must be at most layers={layers}, "
                                  f"got {cl_layer!r}")
    cl_decay = params.get("cl_decay")
    if cl_decay is not None and not (
            isinstance(cl_decay, (tuple, list)) and len(cl_decay) == 2
            and _is_number(cl_decay[0]) and 0 < cl_decay[0] < 1
            and _is_int(cl_decay[1]) and cl_decay[1] >= 1):
        raise HyperparameterError("cl_decay", "cl_decay must be (factor in (0, 1), "
                                  f"evaluations >= 1) or None, got {cl_decay!r}")
    for name in ("metric", "backend", "device"):
        if name in params and not isinstance(params[name], str):
            raise HyperparameterError(name, f"{name} must be a string, got {params[name]!r}")
    metric = params.get("metric")
    if metric is not None:
        from gcl.metrics import METRICS

        name, _, k = metric.partition("@")
        if name not in METRICS or not k.isdigit() or int(k) < 1:
            raise HyperparameterError("metric", f"metric must be one of {list(METRICS)}, '@' "
                                      f"and a cut-off >= 1, e.g. 'ndcg@20'; got {metric!r}")
    if "backend" in params:
        from gcl.graph import BACKENDS

        if params["backend"] not in (*BACKENDS, "auto"):
            raise HyperparameterError("backend", f"backend must be one of "
                                      f"{[*BACKENDS, 'auto']}, got {params['backend']!r}")
    if params.get("device", "auto") != "auto":
        _check_device(params["device"])


def check_method_arguments(method: str, cls: type, kwargs: Mapping[str, Any]) -> None:
    """Refuses a hyperparameter that the method's class does not take, naming the ones it
    does, before any data is read."""
    import inspect

    params = inspect.signature(cls.__init__).parameters
    head, moco = kwargs.get("projection_head"), kwargs.get("moco")
    for setting, value, add in (("projection_head", head, "add_projection_head"),
                                ("moco", moco, "add_momentum")):
        if value is None or value is False or value == 0:
            continue
        if not hasattr(cls, add):
            raise HyperparameterError(setting, f"{setting} needs a method with a contrastive "
                                      f"loss, and {method!r} has none; choose e.g. 'simgcl', "
                                      "'xsimgcl', 'sgl-ed' or 'custom'")
    if head is not None and not (_is_int(head) and head >= 0):
        raise HyperparameterError("projection_head", "projection_head must be an integer >= 0 "
                                  f"(layers of the head) or None, got {head!r}")
    if isinstance(moco, Mapping):
        size, momentum = moco.get("size", 1), moco.get("momentum", 0.0)
        unknown = sorted(map(str, set(moco) - {"size", "momentum"}))
        if unknown:
            raise HyperparameterError("moco", f"unknown moco setting(s) {unknown}; choose from "
                                      "['momentum', 'size']")
        if not (_is_int(size) and size >= 1) or not (
                _is_number(momentum) and 0 <= momentum < 1):
            raise HyperparameterError("moco", "moco must be True, None or a dict of size (an "
                                      "integer >= 1) and momentum (in [0, 1)), got "
                                      f"{moco!r}")
    elif moco is not None and not isinstance(moco, bool):
        raise HyperparameterError("moco", f"moco must be True, None or a dict of size and "
                                  f"momentum, got {moco!r}")
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(kwargs) - set(params) - {"projection_head", "moco"})
    if unknown:
        takes = sorted(set(params) - {"self", "num_users", "num_items"})
        raise HyperparameterError(unknown[0], f"method {method!r} takes no {unknown[0]}; its "
                                  f"hyperparameters are {takes}")


def _check_device(device: str) -> None:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise HyperparameterError("device", f"device must be 'auto', 'cpu', 'cuda', "
                                  f"'cuda:N', ..., got {device!r}") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            raise HyperparameterError("device", f"device {device!r} is not here (torch sees "
                                      f"{count} CUDA device(s)); use 'cpu' or 'auto'")
