"""Embeddings and id maps written for a serving system, never half-written; read back by
:func:`load_export` (defined in :mod:`gcl.export_format`, which the recall index reads with).

An export folder holds :obj:`user_embeddings.npy`, :obj:`item_embeddings.npy`, the id maps
:obj:`users.npy` / :obj:`items.npy`, the train matrix :obj:`seen.npz`, optionally a Faiss
index :obj:`items.faiss` and a PyG :obj:`graph.pt`, and :obj:`meta.json` last: a folder
without :obj:`meta.json` is not a complete export. Everything but :obj:`graph.pt` reads with
numpy alone (format 2, see :mod:`gcl.export_format`).
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from gcl._io import atomic_write, current_umask, folder_lock, remove_tree, sha256_file, swap_folder
from gcl._version import __version__
from gcl.data.interactions import Interactions
from gcl.export_format import FORMAT_VERSION, Export, id_type, load_export, write_ids, write_seen
from gcl.index import (
    INDEX_FILE,
    INDEX_TYPES,
    build_index,
    check_index_options,
    import_faiss,
    serialize_index,
)

# atomic_write and sha256_file stay importable from here for scripts that did so; inside the
# package they come from gcl._io.
__all__ = ["atomic_write", "sha256_file", "export", "load_export", "Export", "hetero_data",
           "load_hetero_data", "best_valid_metrics"]


HETERO_FILE = "graph.pt"


def _params(rec: Any) -> dict[str, Any]:
    try:
        return rec.stored_params()
    except TypeError:  # an encoder object: recorded by its repr
        return {k: repr(v) if not isinstance(v, (str, int, float, bool, type(None))) else v
                for k, v in rec.params.items()}


def best_valid_metrics(history: list[dict[str, Any]], metric: str) -> dict[str, float]:
    """The valid metrics of the best evaluation in a training history (empty without)."""
    evals = [h for h in history if any(k.startswith("valid_") for k in h)]
    if not evals:
        return {}
    best = max(evals, key=lambda h: h.get(f"valid_{metric}", -np.inf))
    return {"epoch": best["epoch"], **{k: v for k, v in best.items() if k.startswith("valid_")}}


def export(rec: Any, directory: str | PathLike, metrics: dict[str, float] | None = None,
           dataset: str | None = None, index: str | None = None,
           index_options: dict[str, Any] | None = None, hetero: bool = False,
           progress: bool = False, item_foldin: np.ndarray | None = None) -> dict[str, str]:
    r"""Writes a fitted :class:`~gcl.GraphCLRecommender`'s embeddings to :obj:`directory`:

    * :obj:`user_embeddings.npy`, :obj:`item_embeddings.npy`: float32, row :math:`i` belongs
      to the :math:`i`-th id of the map;
    * :obj:`users.npy`, :obj:`items.npy`: the user's own ids, entry :math:`i` of row
      :math:`i` (integers as they are, strings as fixed-width unicode; a :obj:`.json` list
      where a fixed width cannot hold them exactly, see
      :func:`gcl.export_format.write_ids`);
    * :obj:`seen.npz`: the :obj:`[num_users, num_items]` train matrix as the CSR arrays
      :obj:`indptr`, :obj:`indices` and :obj:`shape`, so that a recall stage can leave out
      what each user already has;
    * with :obj:`index`, :obj:`items.faiss`: a Faiss index over the item embeddings (see
      :mod:`gcl.index`; load it with :meth:`gcl.RecallIndex.load`);
    * with :obj:`item_foldin`, :obj:`item_foldin.npy`: the fold-in item matrix
      :obj:`[num_items, dim]` float32 that serves new users from their items
      (:meth:`gcl.RecallIndex.recommend_for_items`; see :mod:`gcl.foldin`);
    * with :obj:`hetero`, :obj:`graph.pt`: the train graph as a PyG
      :class:`~torch_geometric.data.HeteroData` (see
      :meth:`~gcl.Interactions.to_hetero_data`) with the embeddings as :obj:`x` of each node
      type, stored as :meth:`~torch_geometric.data.HeteroData.to_dict` (no pickled
      classes); read it with :func:`load_hetero_data`;
    * :obj:`meta.json`: method, hyperparameters, dataset, dim, metrics, id types, versions,
      index settings, and the sha256 of every file. It is written last: an export without it
      is incomplete.

    The export is written into a hidden sibling folder and swapped in whole (in one rename
    on Linux), so a reader, a crash or a full disk meets the old complete export or the new
    one, never a mix. The folder's lock (a hidden :obj:`.NAME.lock` beside it) is held
    meanwhile: a second export into the same folder fails at once with a
    :class:`gcl._io.FolderBusyError`. Files in the folder that are not of an earlier export
    (those its :obj:`meta.json` lists) are the user's: they are kept, and a new export that
    would write one of their names, or into a folder that holds subfolders (a run folder, a
    home folder) or the current folder, is refused.

    Args:
        rec (GraphCLRecommender): a fitted recommender.
        directory (str or PathLike): target folder, created if missing.
        metrics (dict, optional): metrics to record. (default: :obj:`None`: the valid
            metrics of the best evaluation in :obj:`rec.history_`, if any)
        dataset (str, optional): name of the training data to record. (default: :obj:`None`)
        index (str, optional): :obj:`"flat"`, :obj:`"hnsw"` or :obj:`"ivf"`; needs the
            :obj:`ann` extra. (default: :obj:`None`, no index)
        index_options (dict, optional): settings for :func:`gcl.index.build_index`, e.g.
            :obj:`{"nlist": 256, "nprobe": 16}`. (default: :obj:`None`)
        hetero (bool): also write :obj:`graph.pt`. (default: :obj:`False`)
        progress (bool): progress bar while the index is built. (default: :obj:`False`)
        item_foldin (np.ndarray, optional): the fold-in item matrix to write
            (:meth:`GraphCLRecommender.export` passes it for the methods that fold in).
            (default: :obj:`None`)

    Returns:
        dict from file role to path.
    """
    if index is not None:  # fail on a bad type or a missing faiss before touching files
        if index not in INDEX_TYPES:
            raise ValueError(f"unknown index type {index!r}; choose one of {list(INDEX_TYPES)}")
        import_faiss()
    if index_options and index is None:
        raise ValueError("index_options need an index: 'flat', 'hnsw' or 'ivf'")
    if index is not None:
        check_index_options(index, len(rec.item_ids), **(index_options or {}))
    out = Path(directory)
    where = Path(os.path.realpath(out))  # a link to the folder stays a link
    cwd = Path(os.path.realpath(os.getcwd()))
    if where.parent == where or where == cwd or where in cwd.parents:
        raise ValueError(f"cannot export into {str(out) or '.'}, the current folder or one "
                         "above it: choose a folder of its own, e.g. export/")
    if where.exists() and not where.is_dir():
        raise FileExistsError(f"{out} is a file, not a folder: choose another export folder")
    where.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(where.parent / f".{where.name}.lock", f"the export folder {out}"):
        for leftover in where.parent.glob(f".{where.name}.tmp-*"):
            remove_tree(leftover)  # of an export that was killed (the lock is ours now)
        for leftover in where.parent.glob(f".{where.name}.old-*"):
            remove_tree(leftover)
        keep = _foreign_entries(where)
        tmp = Path(tempfile.mkdtemp(prefix=f".{where.name}.tmp-", dir=where.parent))
        # mkdtemp makes a private folder: give the old folder's mode, or the usual one
        os.chmod(tmp, where.stat().st_mode & 0o7777 if where.is_dir() else 0o777 & ~current_umask())
        try:
            names = _write_export(rec, tmp, metrics, dataset, index, index_options, hetero,
                                  progress, item_foldin)
            clash = sorted(set(names.values()) & set(keep))
            if clash:
                raise FileExistsError(
                    f"{out} holds {', '.join(clash)}, which no earlier gcl export wrote (its "
                    "meta.json does not list them): move them, or export into another folder")
            for name in keep:
                _carry(where / name, tmp / name)
            old = swap_folder(tmp, where)
        except BaseException:
            remove_tree(tmp)
            raise
        if old is not None:
            remove_tree(old)
    return {role: str(out / name) for role, name in names.items()}


#: Files of a run folder: an export is never swapped over one (its training may be writing).
_RUN_FILES = ("model.pt", "checkpoint.pt", "config.yaml")


def _foreign_entries(folder: Path) -> list[str]:
    """The entries of :obj:`folder` that no earlier gcl export wrote: every entry but
    :obj:`meta.json` and the files it lists (all of them without a readable
    :obj:`meta.json`)."""
    if not folder.is_dir():
        return []
    names = sorted(os.listdir(folder))
    if any(n in names for n in _RUN_FILES):
        raise FileExistsError(f"{folder} is a run folder of gcl train: export into a folder "
                              "of its own (gcl train writes RUN/embeddings itself)")
    subfolders = [n for n in names if (folder / n).is_dir() and not (folder / n).is_symlink()]
    if subfolders:
        raise FileExistsError(f"{folder} holds the folder {subfolders[0]}, which no gcl export "
                              "wrote: export into a folder of its own")
    ours: set[str] = set()
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if isinstance(meta, dict) and meta.get("format") == "gcl.export":
            ours = {"meta.json"} | {e["name"] for e in meta["files"].values()
                                    if isinstance(e, dict) and isinstance(e.get("name"), str)}
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        pass
    return [n for n in names if n not in ours]


def _carry(src: Path, dst: Path) -> None:
    """Moves the user's file into the new folder without copying data: a hard link (a copy
    where links are not allowed), a symbolic link as a link."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _write_export(rec: Any, out: Path, metrics: dict[str, float] | None, dataset: str | None,
                  index: str | None, index_options: dict[str, Any] | None, hetero: bool,
                  progress: bool, item_foldin: np.ndarray | None = None) -> dict[str, str]:
    """Writes every file of an export into the empty folder :obj:`out`, :obj:`meta.json`
    last; returns the file name of each role."""
    import torch

    meta_path = out / "meta.json"
    user_emb = np.ascontiguousarray(rec.user_embeddings(), dtype=np.float32)
    item_emb = np.ascontiguousarray(rec.item_embeddings(), dtype=np.float32)
    files: dict[str, Path] = {}
    for role, arr in (("user_embeddings", user_emb), ("item_embeddings", item_emb)):
        files[role] = out / f"{role}.npy"
        with atomic_write(files[role]) as f:
            np.save(f, arr)
    if item_foldin is not None:
        if np.shape(item_foldin) != item_emb.shape:
            raise ValueError(f"item_foldin has shape {np.shape(item_foldin)}, the item "
                             f"embeddings {item_emb.shape}")
        files["item_foldin"] = out / "item_foldin.npy"
        with atomic_write(files["item_foldin"]) as f:
            np.save(f, np.ascontiguousarray(item_foldin, dtype=np.float32))
    files["users"] = write_ids(rec.user_ids, out / "users", "user")
    files["items"] = write_ids(rec.item_ids, out / "items", "item")
    files["seen"] = write_seen(rec.seen_, out / "seen.npz")
    index_meta = None
    if index is not None:
        t0 = time.perf_counter()
        built, index_meta = build_index(item_emb, index, progress=progress,
                                        **(index_options or {}))
        index_meta["build_seconds"] = round(time.perf_counter() - t0, 3)
        files["index"] = out / INDEX_FILE
        with atomic_write(files["index"]) as f:
            f.write(serialize_index(built))
    if hetero:
        files["graph"] = out / HETERO_FILE
        with atomic_write(files["graph"]) as f:
            torch.save(hetero_data(rec).to_dict(), f)
    meta = {
        "format": "gcl.export", "format_version": FORMAT_VERSION,
        "method": rec.params["method"],
        "params": _params(rec),
        "dataset": dataset,
        "dim": int(user_emb.shape[1]),
        "num_users": len(rec.user_ids),
        "num_items": len(rec.item_ids),
        "id_types": {"user": id_type(rec.user_ids), "item": id_type(rec.item_ids)},
        "metrics": metrics if metrics is not None else best_valid_metrics(
            rec.history_, rec.params.get("metric", "ndcg@20")),
        "index": index_meta,
        "versions": {"gcl": __version__, "torch": torch.__version__,
                     "python": platform.python_version(), **_optional_versions(index)},
        "files": {role: {"name": p.name, "sha256": sha256_file(p)} for role, p in files.items()},
    }
    with atomic_write(meta_path, "w") as f:
        json.dump(meta, f, indent=2, default=str)
    files["meta"] = meta_path
    return {role: p.name for role, p in files.items()}


def _optional_versions(index: str | None) -> dict[str, str]:
    out = {}
    if index is not None:
        out["faiss"] = import_faiss().__version__
    return out


def hetero_data(rec: Any) -> Any:
    """The train graph of a fitted recommender as a PyG
    :class:`~torch_geometric.data.HeteroData` (see
    :meth:`~gcl.Interactions.to_hetero_data`), with :obj:`x` the user and item embeddings,
    shapes :obj:`[num_users, dim]` and :obj:`[num_items, dim]`."""
    import torch

    seen = sp.coo_matrix(rec.seen_)
    order = np.lexsort((seen.col, seen.row))
    inter = Interactions(seen.row[order], seen.col[order], rec.user_ids, rec.item_ids)
    data = inter.to_hetero_data()
    data["user"].x = torch.from_numpy(np.ascontiguousarray(rec.user_embeddings(), np.float32))
    data["item"].x = torch.from_numpy(np.ascontiguousarray(rec.item_embeddings(), np.float32))
    return data


def load_hetero_data(path: str | PathLike) -> Any:
    """Reads the :obj:`graph.pt` of an export back into a
    :class:`~torch_geometric.data.HeteroData`, with :obj:`torch.load(weights_only=True)`."""
    import torch
    from torch_geometric.data import HeteroData

    return HeteroData.from_dict(torch.load(path, map_location="cpu", weights_only=True))


