"""The saved model of :class:`gcl.GraphCLRecommender`: its state (settings, id maps,
weights, embeddings, train matrix, history), written with :func:`torch.save` and read back
with :obj:`torch.load(weights_only=True)`, so that loading unpickles no object; and the
fingerprint of a fit's settings and data that a resumed fit must share."""
from __future__ import annotations

import hashlib
import os
from os import PathLike
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from gcl.augment.base import Augmenter
from gcl.checkpoint import array_digest
from gcl.data.interactions import Interactions, ids_to_list
from gcl.settings import all_settings

if TYPE_CHECKING:
    from gcl.recommender import GraphCLRecommender

FORMAT = "gcl.GraphCLRecommender"


def stored_params(params: dict[str, Any]) -> dict[str, Any]:
    """:obj:`params` (the recommender's :meth:`get_params`) as plain values: an augmenter
    as its spec. An encoder given as a module or callable cannot be stored
    (:class:`TypeError`)."""
    out = dict(params)
    if isinstance(out.get("augment"), Augmenter):
        out["augment"] = out["augment"].spec()
    enc = out.get("encoder")
    if enc is not None and not isinstance(enc, (str, dict)):
        raise TypeError("a model with an encoder given as a module or callable cannot be "
                        "saved by parameters: pass encoder as a name or dict of GNNEncoder "
                        "arguments, or save rec.method_.state_dict() yourself")
    return out


def run_fingerprint(params: dict[str, Any], user_ids: pd.Index, item_ids: pd.Index,
                    valid: Interactions | None, text: Any = None) -> dict[str, Any]:
    """What a resumed fit must share with the checkpoint's, besides the trainer's own
    fingerprint: every setting that changes the result (the declared settings not marked
    :obj:`free`, such as :obj:`epochs` or :obj:`device`), the id maps, the valid log and
    the item texts."""
    try:
        kept = stored_params(params)
    except TypeError:  # an encoder given as a module: recorded by its repr
        kept = {k: repr(v) for k, v in params.items()}
    declared = all_settings()
    kept = {k: v for k, v in kept.items() if k not in declared or not declared[k].free}
    ids = repr((ids_to_list(user_ids), ids_to_list(item_ids))).encode()
    info = {"params": kept, "ids_sha256": hashlib.sha256(ids).hexdigest(),
            "valid_sha256": None if valid is None else array_digest(valid.users, valid.items)}
    if text is not None:  # the item texts a text branch trains on
        pairs = repr(sorted(dict(text).items(), key=repr)).encode()
        info["text_sha256"] = hashlib.sha256(pairs).hexdigest()
    return info


def _pairs(mat: sp.spmatrix) -> torch.Tensor:
    coo = sp.coo_matrix(mat)
    return torch.from_numpy(np.stack([coo.row, coo.col]).astype(np.int64))


def state(rec: GraphCLRecommender) -> dict[str, Any]:
    """The saved state of a fitted recommender, plain tensors, lists and dicts only."""
    out = {
        "format": FORMAT, "gcl_version": _version(), "params": stored_params(rec.get_params()),
        "user_ids": ids_to_list(rec.user_ids_), "item_ids": ids_to_list(rec.item_ids_),
        "state_dict": {k: v.cpu() for k, v in rec.method_.state_dict().items()},
        "user_emb": None if rec.user_emb_ is None else rec.user_emb_.cpu(),
        "item_emb": None if rec.item_emb_ is None else rec.item_emb_.cpu(),
        "seen": _pairs(rec.seen_), "history": [dict(h) for h in rec.history_],
    }
    if getattr(rec, "text_words_", None) is not None:
        out["text_words"] = list(rec.text_words_)
    graph = getattr(rec, "graph_", None)
    if graph is not None and graph.weights is not None:  # fold-in needs the edge weights
        w = sp.csr_matrix((graph.weights, (graph.users, graph.items)), shape=rec.seen_.shape)
        w.sort_indices()
        out["seen_weights"] = torch.from_numpy(w.tocoo().data.astype(np.float64))
    elif graph is None and getattr(rec, "seen_weights_", None) is not None:
        out["seen_weights"] = torch.from_numpy(rec.seen_weights_)
    if rec.valid_seen_ is not None:
        out["valid_seen"] = _pairs(rec.valid_seen_)
    return out


def save(rec: GraphCLRecommender, path: str | PathLike) -> None:
    """Writes :func:`state` of :obj:`rec` to :obj:`path`, atomically."""
    from gcl._io import atomic_write

    with atomic_write(path) as f:
        torch.save(state(rec), f)


def read(path: str | PathLike) -> dict[str, Any]:
    """The state in a model file, read without unpickling arbitrary objects.

    Raises:
        ValueError: the file is not a readable gcl model file.
    """
    try:
        out = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for corrupt or unsafe files
        raise ValueError(f"{os.fspath(path)!r} is not a readable gcl model file: {e}") from e
    if not isinstance(out, dict) or out.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not a gcl model file")
    return out


def restore(rec: GraphCLRecommender, saved: dict[str, Any], device: torch.device) -> None:
    """Fills the fitted state of :obj:`rec` (built with the file's settings) from
    :obj:`saved`, a :func:`read` state, its weights and embeddings on :obj:`device`."""
    from gcl.methods import build_method
    from gcl.text_branch import text_skeleton

    rec.user_ids_, rec.item_ids_ = pd.Index(saved["user_ids"]), pd.Index(saved["item_ids"])
    n_u, n_i = len(rec.user_ids_), len(rec.item_ids_)
    if saved["user_emb"] is not None and (saved["user_emb"].shape[0] != n_u
                                          or saved["item_emb"].shape[0] != n_i):
        raise ValueError("the embeddings in the file do not match its id maps")
    params = rec.get_params()
    method = build_method(params["method"], n_u, n_i, **rec.method_kwargs())
    rec.text_words_ = saved.get("text_words")
    weights = saved["state_dict"]
    if rec.text_words_ is not None:
        method.attach_text(text_skeleton(weights, rec.text_words_, n_u, params["dim"], params))
    method.load_state_dict(weights)
    method.to(device).eval()
    if (saved["user_emb"] is None) == method.dot_scores:
        raise ValueError("the model file's embeddings do not fit its method")
    rec.user_emb_ = rec.item_emb_ = None
    if method.dot_scores:
        rec.user_emb_, rec.item_emb_ = saved["user_emb"].to(device), saved["item_emb"].to(device)

    def csr(pairs: torch.Tensor) -> sp.csr_matrix:
        r, c = pairs.numpy()
        return sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n_u, n_i))

    rec.method_, rec.graph_ = method, None
    rec.seen_ = csr(saved["seen"])
    rec.valid_seen_ = csr(saved["valid_seen"]) if "valid_seen" in saved else None
    if not method.dot_scores:
        method.serve(rec.seen_)
    rec.history_ = list(saved["history"])
    rec.seen_weights_ = saved["seen_weights"].numpy() if "seen_weights" in saved else None


def _version() -> str:
    from gcl._version import __version__

    return __version__
