r"""Fitting a recommender, before its training loop: the checks of the logs that
:meth:`~gcl.GraphCLRecommender.fit` is given, which item text it uses, and the assembly of
the method (graph, method, text branch, precision, starting point) that the loop trains.

The functions take the settings (a dict of every setting by name, as
:meth:`~gcl.GraphCLRecommender.get_params` gives them) and the logs, never the recommender.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from os import PathLike
from typing import Any

import pandas as pd

from gcl.checkpoint import check_target
from gcl.checks import metric_cutoff
from gcl.data.interactions import Interactions
from gcl.graph import UIGraph
from gcl.methods import METHODS, build_method
from gcl.methods.base import Method
from gcl.nn.lightgcn import set_precision, set_spectral_start
from gcl.runtime import resolve_device
from gcl.settings import check_budget
from gcl.train import seed_everything

__all__ = ["train_with_text", "check_logs", "assemble"]


def train_with_text(train: Interactions, text: pd.Series | None, method: str,
                    stacklevel: int = 2) -> tuple[Interactions, pd.Series | None]:
    r"""The train log to fit on and the item text to use, after checking :obj:`train`.

    :obj:`text` (the fit's or the constructor's), else the train log's own item text when
    the method has a text branch (a warning, at :obj:`stacklevel`, says it is not used
    otherwise). Items with text but without a train interaction are appended to the item
    map (see :func:`gcl.text_branch.with_text_items`).

    Args:
        train (Interactions): the train log.
        text (pd.Series, optional): one text per item, indexed by the items' own ids.
        method (str): the method's key in :data:`gcl.methods.METHODS`.
        stacklevel (int): where the warning points, as :func:`warnings.warn` counts from
            the caller of this function. (default: :obj:`2`)

    Raises:
        TypeError: :obj:`train` is not an :class:`Interactions`.
        ValueError: an empty :obj:`train`; item text for a method without a text branch.
    """
    from gcl.text_branch import with_text_items

    if not isinstance(train, Interactions):
        raise TypeError(f"train must be an Interactions, got {type(train).__name__}")
    if len(train) == 0:
        raise ValueError("the train log is empty")
    cls = METHODS[method]
    if text is None and train.item_text is not None:
        if cls.can("text"):
            text = train.item_text
        else:
            warnings.warn(f"the train log carries item text, but method {method!r} has no "
                          "text branch: the text is not used", RuntimeWarning,
                          stacklevel=stacklevel + 1)
    if text is not None:
        cls.require("text", "item text")
        train = with_text_items(train, text)
    return train, text


def check_logs(train: Interactions, valid: Interactions | None, monitor: Interactions | None,
               check_maps: Callable[[Interactions, str], None], params: dict[str, Any],
               budget_seconds: float | None, checkpoint_dir: str | PathLike | None,
               resume: bool) -> None:
    r"""Checks what a fit is given before any work is done.

    Args:
        train (Interactions): the train log (with its text items, if any).
        valid (Interactions, optional): the valid log.
        monitor (Interactions, optional): the monitored log.
        check_maps (callable): :obj:`check_maps(log, name)` raises unless :obj:`log`
            shares the train log's id maps.
        params (dict): the settings.
        budget_seconds (float, optional): the time budget of the fit.
        checkpoint_dir (str or PathLike, optional): where checkpoints go.
        resume (bool): whether the fit resumes from :obj:`checkpoint_dir`.
    """
    check_budget(budget_seconds)
    if valid is not None:
        check_maps(valid, "valid")
        if len(valid) == 0:
            raise ValueError("the valid log is empty: pass valid=None to train without "
                             "early stopping")
    if monitor is not None:
        check_maps(monitor, "monitor")
    if train.num_items < 2 and METHODS[params["method"]].trainable:
        raise ValueError(f"the train log has {train.num_items} item(s): there is nothing "
                         "to rank")
    if valid is not None:
        metric_cutoff(params["metric"], train.num_items)
    if checkpoint_dir is not None:  # fail before the work, not after it
        check_target(checkpoint_dir, resume)
    elif resume:
        raise ValueError("resume=True needs the checkpoint_dir to resume from")


def assemble(train: Interactions, text: pd.Series | None, params: dict[str, Any],
             method_kwargs: dict[str, Any]) -> tuple[Method, UIGraph, list[str] | None]:
    r"""The method to train, on its device, and the train graph: seeds set, the method
    built from :obj:`method_kwargs` (see :func:`gcl.methods.build_method`), with a text
    branch when there is :obj:`text`, in the settings' precision, prepared on the train
    log, and with the spectral start of :obj:`init="svd"`.

    Returns:
        (method, graph, words): the method, the :class:`UIGraph` of :obj:`train`, and the
        text branch's vocabulary (:obj:`None` without text).
    """
    from gcl.text_branch import build_text_branch

    device = resolve_device(params["device"])
    seed_everything(params["seed"])
    graph = UIGraph.from_interactions(train, params["backend"], device)
    method = build_method(params["method"], train.num_users, train.num_items, **method_kwargs)
    words = None
    if text is not None:
        branch, words = build_text_branch(train, text, params, params["dim"], params["seed"])
        method.attach_text(branch)
    method = method.to(device)
    set_precision(method, params["precision"], device)
    method.prepare(train, graph)
    if params["init"] == "svd":
        set_spectral_start(method, graph, params["init_scale"])
    return method, graph, words
