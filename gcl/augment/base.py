"""Augmenters: each turns a view of the user–item graph into a new one."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from gcl.graph import UIGraph
from gcl.view import View

#: The augmenters :func:`from_spec` rebuilds, by class name: :class:`Augmenter` and its
#: public subclasses defined in :mod:`gcl.augment` (each added as its class is made). No
#: other class, and no code named by a stored spec, is ever looked up.
AUGMENTERS: dict[str, type[Augmenter]] = {}


class Augmenter:
    r"""Base class of augmenters: :obj:`aug(view, generator)` returns a new :class:`View`.

    Augmenters are seeded through the :class:`torch.Generator` they are given, keep the mask
    they used last in :attr:`mask` (a bool tensor, :obj:`True` = kept, or :obj:`None` when
    the augmentation has no mask), and return the view unchanged in eval mode.

    :attr:`per` says when a method should make a new view: :obj:`"epoch"` (SGL's graph
    views) or :obj:`"batch"` (SimGCL's noise).
    """

    per: str = "epoch"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("gcl.augment.") and not cls.__name__.startswith("_"):
            AUGMENTERS[cls.__name__] = cls

    def __new__(cls, *args: Any, **kwargs: Any) -> Augmenter:
        obj = super().__new__(cls)
        obj._init_args = (args, kwargs)  # kept so that spec() can rebuild it
        return obj

    def __init__(self) -> None:
        self.training = True
        self.mask: torch.Tensor | None = None

    def spec(self) -> dict[str, Any]:
        """A plain dict (names, numbers, lists) that :func:`from_spec` turns back into an
        equal augmenter: what :meth:`GraphCLRecommender.save` stores."""
        args, kwargs = getattr(self, "_init_args", ((), {}))
        return {"type": type(self).__name__, "args": [_to_spec(a) for a in args],
                "kwargs": {k: _to_spec(v) for k, v in kwargs.items()}}

    def train(self, mode: bool = True) -> Augmenter:
        self.training = mode
        return self

    def eval(self) -> Augmenter:
        return self.train(False)

    def __call__(self, view: UIGraph | View, generator: torch.Generator | None = None) -> View:
        if not isinstance(view, torch.Tensor):  # a batch of sequences passes through Compose
            view = View.of(view)
        if not self.training:
            return view
        return self.augment(view, generator)

    def augment(self, view: View, generator: torch.Generator | None) -> View:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                         if k not in ("training", "mask") and not k.startswith("_"))
        return f"{type(self).__name__}({args})"


AUGMENTERS["Augmenter"] = Augmenter


class Compose(Augmenter):
    """Applies augmenters one after the other. New views per batch if any part is per batch.

    Args:
        augmenters (sequence of Augmenter): applied in order.
    """

    def __init__(self, augmenters: Sequence[Augmenter]) -> None:
        super().__init__()
        self.augmenters = list(augmenters)
        self.per = "batch" if any(a.per == "batch" for a in self.augmenters) else "epoch"

    def train(self, mode: bool = True) -> Compose:
        super().train(mode)
        for a in self.augmenters:
            a.train(mode)
        return self

    def augment(self, view: View, generator: torch.Generator | None) -> View:
        for a in self.augmenters:
            view = a(view, generator)
        return view


def choice_weights(n: int, weights: Sequence[float] | None) -> torch.Tensor:
    """Probabilities :obj:`[n]` of choosing each of :obj:`n` augmenters: :obj:`weights`
    normalised to sum 1, or uniform when :obj:`None`."""
    w = torch.ones(n) if weights is None else torch.tensor(weights, dtype=torch.float)
    if w.shape != (n,) or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be one non-negative number per augmenter")
    return w / w.sum()


class RandomChoice(Augmenter):
    """Applies one augmenter drawn at random (uniformly, or by :obj:`weights`) per call.

    Args:
        augmenters (sequence of Augmenter): the choices.
        weights (sequence of float, optional): relative probabilities. (default: uniform)
    """

    def __init__(self, augmenters: Sequence[Augmenter],
                 weights: Sequence[float] | None = None) -> None:
        super().__init__()
        if not augmenters:
            raise ValueError("RandomChoice needs at least one augmenter")
        self.augmenters = list(augmenters)
        self.weights = choice_weights(len(self.augmenters), weights)
        self.per = "batch" if any(a.per == "batch" for a in self.augmenters) else "epoch"
        self.chosen: int | None = None

    def train(self, mode: bool = True) -> RandomChoice:
        super().train(mode)
        for a in self.augmenters:
            a.train(mode)
        return self

    def augment(self, view: View, generator: torch.Generator | None) -> View:
        self.chosen = int(torch.multinomial(self.weights, 1, generator=generator))
        aug = self.augmenters[self.chosen]
        out = aug(view, generator)
        self.mask = aug.mask
        return out


def _to_spec(value: Any) -> Any:
    if isinstance(value, Augmenter):
        return value.spec()
    if isinstance(value, (list, tuple)):
        return [_to_spec(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store an augmenter argument of type {type(value).__name__}")


def _from_spec(value: Any) -> Any:
    if isinstance(value, dict) and "type" in value:
        return from_spec(value)
    if isinstance(value, list):
        return [_from_spec(v) for v in value]
    return value


def from_spec(spec: dict[str, Any]) -> Augmenter:
    """Rebuilds an augmenter from :meth:`Augmenter.spec`. Only the augmenters of
    :mod:`gcl.augment` (:data:`AUGMENTERS`) are known: no code is imported from a stored
    name."""
    name = spec.get("type")
    cls = AUGMENTERS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown augmenter {name!r}: only gcl.augment's augmenters can be "
                         "rebuilt from a saved model")
    return cls(*[_from_spec(a) for a in spec.get("args", [])],
               **{k: _from_spec(v) for k, v in spec.get("kwargs", {}).items()})
