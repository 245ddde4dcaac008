"""The files of an export folder, as both sides read them: the id maps, the arrays, and
:obj:`meta.json` with the sha256 of every file.

:func:`gcl.export.export` writes a folder; :func:`load_export` (also
:func:`gcl.export.load_export`) reads it back, and :class:`gcl.RecallIndex` serves it, with
numpy, pandas and scipy alone: this module imports neither torch nor the writer.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gcl._io import atomic_write, sha256_file

__all__ = ["Export", "load_export", "id_type", "write_ids", "read_ids"]


def id_type(ids: pd.Index) -> str:
    """The type of an id map as :obj:`meta.json` records it: :obj:`"int"` or :obj:`"str"`."""
    return "int" if pd.api.types.is_integer_dtype(ids.dtype) else "str"


def write_ids(ids: pd.Index, path: Path, column: str) -> Path:
    """Writes an id map as a table of columns :obj:`row` and :obj:`column`: a Parquet file
    where pyarrow is installed, else a CSV, at :obj:`path` with that suffix.

    Args:
        ids (pd.Index): the own ids in row order, shape :obj:`[N]`.
        path (Path): the file, its suffix replaced.
        column (str): the id column's name, :obj:`"user"` or :obj:`"item"`.

    Returns:
        Path: the file written.
    """
    frame = pd.DataFrame({"row": np.arange(len(ids)), column: np.asarray(ids)})
    try:
        import pyarrow  # noqa: F401

        target = path.with_suffix(".parquet")
        with atomic_write(target) as f:
            frame.to_parquet(f, index=False)
    except ImportError:
        target = path.with_suffix(".csv")
        with atomic_write(target, "w") as f:
            frame.to_csv(f, index=False)
    return target


def read_ids(path: Path, column: str, kind: str) -> pd.Index:
    """Reads an id map written by :func:`write_ids`, its ids of type :obj:`kind`
    (:obj:`"int"` or :obj:`"str"`, see :func:`id_type`)."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:  # a CSV would turn "007" into 7: read the ids as the type recorded
        frame = pd.read_csv(path, dtype={column: "int64" if kind == "int" else str})
    if not np.array_equal(frame["row"].to_numpy(), np.arange(len(frame))):
        raise ValueError(f"{path}: rows are not 0..n-1 in order")
    return pd.Index(frame[column].to_numpy() if kind == "int" else frame[column].astype(object))


@dataclass
class Export:
    """An export folder read back by :func:`load_export`: the arrays, id maps, train matrix
    and :obj:`meta.json`."""

    user_emb: np.ndarray
    item_emb: np.ndarray
    user_ids: pd.Index
    item_ids: pd.Index
    seen: sp.csr_matrix | None
    meta: dict[str, Any]


def load_export(directory: str | PathLike, verify: bool = True) -> Export:
    """Reads an export folder written by :func:`gcl.export.export`.

    Args:
        directory (str or PathLike): the folder.
        verify (bool): check each file's sha256 against :obj:`meta.json`.
            (default: :obj:`True`)

    Raises:
        FileNotFoundError: without :obj:`meta.json` (not an export, or an incomplete one) or
            with a file it lists missing.
        ValueError: when a file's sha256 differs from :obj:`meta.json`'s, or the arrays do
            not fit the id maps (rows per id, one dim, the counts in :obj:`meta.json`), or
            hold NaN or Inf. Arrays are read with :obj:`allow_pickle=False`.
    """
    out = Path(directory)
    meta_path = out / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{out} holds no complete export: meta.json is missing "
                                "(written last; an interrupted export has none)")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{meta_path} is not valid JSON (truncated or damaged?): {e}") from e
    if (not isinstance(meta, dict) or meta.get("format") != "gcl.export"
            or not isinstance(meta.get("files"), dict)):
        raise ValueError(f"{meta_path} is not the meta.json of a gcl export")
    files = {}
    for role, entry in meta["files"].items():
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name or Path(name).name != name or name == "..":
            raise ValueError(f"{meta_path} lists {role} as {name!r}: an export's files are "
                             "plain names inside its folder")
        if verify and not isinstance(entry.get("sha256"), str):
            raise ValueError(f"{meta_path} records no sha256 for {name}: the file cannot be "
                             "checked (load_export(..., verify=False) reads it unchecked)")
        files[role] = out / name
    missing = {"user_embeddings", "item_embeddings", "users", "items"} - set(files)
    if missing:
        raise ValueError(f"{meta_path} lists no {', '.join(sorted(missing))}")
    for role, path in files.items():
        if not path.is_file():
            raise FileNotFoundError(f"{path} ({role}) is listed in meta.json but missing")
        if verify and sha256_file(path) != meta["files"][role]["sha256"]:
            raise ValueError(f"{path} ({role}) differs from the sha256 in meta.json: the "
                             "export was changed or damaged after it was written")
    kinds = meta.get("id_types", {})
    seen = sp.load_npz(files["seen"]).tocsr() if "seen" in files else None
    exp = Export(
        user_emb=np.load(files["user_embeddings"]), item_emb=np.load(files["item_embeddings"]),
        user_ids=read_ids(files["users"], "user", kinds.get("user", "str")),
        item_ids=read_ids(files["items"], "item", kinds.get("item", "str")),
        seen=seen, meta=meta)
    _check_shapes(exp, files)
    return exp


def _check_shapes(exp: Export, files: dict[str, Path]) -> None:
    """An export whose arrays do not fit its id maps (or each other, or meta.json) would
    give ids the wrong vectors: refused, naming the files."""
    for side, emb, ids in (("user", exp.user_emb, exp.user_ids),
                           ("item", exp.item_emb, exp.item_ids)):
        name = files[f"{side}_embeddings"].name
        if emb.ndim != 2:
            raise ValueError(f"{name} must be a [num_{side}s, dim] matrix, got shape "
                             f"{emb.shape}")
        if emb.shape[0] != len(ids):
            raise ValueError(f"{name} has {emb.shape[0]} rows but {files[side + 's'].name} "
                             f"maps {len(ids)} {side} ids: the files are of different exports")
        if not np.isfinite(emb).all():
            raise ValueError(f"{name} holds NaN or Inf values")
        recorded = exp.meta.get(f"num_{side}s")
        if recorded is not None and recorded != len(ids):
            raise ValueError(f"meta.json records {recorded} {side}s, the files hold {len(ids)}")
    if exp.user_emb.shape[1] != exp.item_emb.shape[1]:
        raise ValueError(f"user embeddings have dim {exp.user_emb.shape[1]}, item embeddings "
                         f"{exp.item_emb.shape[1]}")
    if exp.meta.get("dim") is not None and exp.meta["dim"] != exp.user_emb.shape[1]:
        raise ValueError(f"meta.json records dim {exp.meta['dim']}, the embeddings have "
                         f"{exp.user_emb.shape[1]}")
    if exp.seen is not None and exp.seen.shape != (len(exp.user_ids), len(exp.item_ids)):
        raise ValueError(f"seen.npz has shape {exp.seen.shape}, the id maps "
                         f"{(len(exp.user_ids), len(exp.item_ids))}")
