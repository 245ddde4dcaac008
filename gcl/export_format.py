"""The files of an export folder, as both sides read them: the id maps, the arrays, and
:obj:`meta.json` with the sha256 of every file.

:func:`gcl.export.export` writes a folder; :func:`load_export` (also
:func:`gcl.export.load_export`) reads it back, and :class:`gcl.RecallIndex` serves it, with
numpy alone: this module imports neither torch, pandas, scipy nor the writer.

Format 2 (:obj:`FORMAT_VERSION`) keeps every file readable by :func:`numpy.load` with
:obj:`allow_pickle=False`: the id maps are :obj:`users.npy` / :obj:`items.npy` (integer ids
as they were, strings as fixed-width unicode, bytes as fixed-width bytes), or
:obj:`users.json` / :obj:`items.json` where a fixed width cannot hold the ids exactly; the
train matrix :obj:`seen.npz` holds the CSR arrays :obj:`indptr`, :obj:`indices` and
:obj:`shape`. Format 1 exports (Parquet or CSV id maps, a scipy :obj:`seen.npz`) still load,
their id maps through pandas, imported for them only.
"""
from __future__ import annotations

import json
import numbers
import zipfile
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from gcl._io import atomic_write, sha256_file
from gcl.lookup import CSR, id_array

__all__ = ["Export", "load_export", "id_type", "write_ids", "read_ids", "write_seen",
           "read_seen", "FORMAT_VERSION"]

#: The version of the export layout that :func:`gcl.export.export` writes; :func:`load_export`
#: reads it and every earlier one.
FORMAT_VERSION = 2


def id_type(ids: Any) -> str:
    """The type of an id map as :obj:`meta.json` records it: :obj:`"int"` or :obj:`"str"`
    (any ids that are not of an integer dtype)."""
    return "int" if getattr(ids.dtype, "kind", "O") in "iu" else "str"


def _fixed_width(ids: np.ndarray) -> np.ndarray | None:
    """:obj:`ids` as an array that :obj:`np.save` writes without pickling and that gives
    them back exactly, or :obj:`None` where none does: strings or bytes ending in a NUL
    (fixed-width arrays drop them), ids of mixed types, or padding that would take more
    than four times the ids' own length."""
    if ids.dtype.kind in "iu":
        return ids
    values = ids.tolist()
    for kind, dtype, nul in ((str, "U", "\0"), (bytes, "S", b"\0")):
        if all(isinstance(v, kind) for v in values):
            lengths = [len(v) for v in values]
            if any(v.endswith(nul) for v in values):
                return None
            if len(values) * max(lengths, default=0) > 4 * sum(lengths) + (1 << 20):
                return None
            return np.array(values, dtype=f"{dtype}{max(max(lengths, default=1), 1)}")
    return None


def write_ids(ids: Any, path: Path, column: str) -> Path:
    """Writes an id map at :obj:`path` with its suffix replaced: a :obj:`.npy` array
    (written with :obj:`allow_pickle=False`), or a :obj:`.json` file of the ids where no
    fixed-width array holds them exactly (see :func:`read_ids`).

    Args:
        ids (pd.Index or np.ndarray): the own ids in row order, shape :obj:`[N]`: integers,
            strings or bytes.
        path (Path): the file, its suffix replaced.
        column (str): what the ids are, :obj:`"user"` or :obj:`"item"`.

    Returns:
        Path: the file written.

    Raises:
        TypeError: ids that are not all integers, all strings or all bytes.
    """
    values = id_array(ids)
    array = _fixed_width(values)
    if array is not None:
        target = path.with_suffix(".npy")
        with atomic_write(target) as f:
            np.save(f, array, allow_pickle=False)
        return target
    listed = values.tolist()
    kinds = {kind for kind, cls in (("int", numbers.Integral), ("str", str), ("bytes", bytes))
             if all(isinstance(v, cls) and not isinstance(v, bool) for v in listed)}
    if len(kinds) != 1:
        raise TypeError(f"{column} ids must be all integers, all strings or all bytes, got "
                        f"{sorted({type(v).__name__ for v in listed})}")
    kind = kinds.pop()
    encode = {"int": int, "str": str, "bytes": bytes.hex}[kind]
    target = path.with_suffix(".json")
    with atomic_write(target, "w") as f:
        json.dump({"column": column, "kind": kind, "ids": [encode(v) for v in listed]}, f)
    return target


def read_ids(path: Path, column: str, kind: str) -> np.ndarray:
    """Reads an id map written by :func:`write_ids`, or by format 1's writer (a Parquet or
    CSV table of columns :obj:`row` and :obj:`column`, read with pandas).

    Args:
        path (Path): the file.
        column (str): :obj:`"user"` or :obj:`"item"`.
        kind (str): the ids' type as :obj:`meta.json` records it (:func:`id_type`); needed
            for a CSV only, which would turn :obj:`"007"` into 7.

    Returns:
        np.ndarray: the ids in row order, shape :obj:`[N]`: integers in their dtype, other
        ids as Python objects (see :func:`gcl.lookup.id_array`).
    """
    if path.suffix == ".npy":
        ids = np.load(path, allow_pickle=False)
        if ids.ndim != 1 or ids.dtype.kind not in "iuUS":
            raise ValueError(f"{path} must hold a one-dimensional array of integer, string "
                             f"or bytes ids, got {ids.dtype} of shape {ids.shape}")
        return id_array(ids)
    if path.suffix == ".json":
        return _read_json_ids(path)
    if path.suffix in (".parquet", ".csv"):
        return _read_table_ids(path, column, kind)
    raise ValueError(f"{path}: an id map is a .npy or .json file (.parquet or .csv in format 1)")


def _read_json_ids(path: Path) -> np.ndarray:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON (truncated or damaged?): {e}") from e
    decode = {"int": int, "str": str, "bytes": bytes.fromhex}
    if not isinstance(data, dict) or data.get("kind") not in decode \
            or not isinstance(data.get("ids"), list):
        raise ValueError(f"{path} is not an id map: a JSON object with 'kind' (int, str or "
                         "bytes) and 'ids' (a list)")
    want = {"int": int, "str": str, "bytes": str}[data["kind"]]
    if not all(isinstance(v, want) and not isinstance(v, bool) for v in data["ids"]):
        raise ValueError(f"{path} holds ids that are not all {data['kind']}")
    try:
        return id_array([decode[data["kind"]](v) for v in data["ids"]])
    except ValueError as e:  # bytes that are not hex
        raise ValueError(f"{path}: {e}") from e


def _read_table_ids(path: Path, column: str, kind: str) -> np.ndarray:
    import pandas as pd

    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:  # a CSV would turn "007" into 7 and "" or "NA" into NaN: read the ids as written
        frame = pd.read_csv(path, dtype={column: "int64" if kind == "int" else str},
                            keep_default_na=False)
    if not np.array_equal(frame["row"].to_numpy(), np.arange(len(frame))):
        raise ValueError(f"{path}: rows are not 0..n-1 in order")
    return id_array(pd.Index(frame[column].to_numpy() if kind == "int"
                             else frame[column].astype(object)))


def write_seen(seen: Any, path: Path) -> Path:
    """Writes a train matrix as the CSR arrays :obj:`indptr`, :obj:`indices` and
    :obj:`shape` in a plain :obj:`np.savez` at :obj:`path`.

    Args:
        seen (scipy.sparse matrix or CSR): the :obj:`[num_users, num_items]` matrix; its
            stored entries are the items each user has.
        path (Path): the file.
    """
    csr = CSR.of(seen)
    small = csr.shape[1] < 2**31
    with atomic_write(path) as f:
        np.savez(f, indptr=csr.indptr, indices=csr.indices.astype(np.int32 if small else np.int64),
                 shape=np.asarray(csr.shape, dtype=np.int64))
    return path


def read_seen(path: Path) -> CSR:
    """Reads a train matrix written by :func:`write_seen`, or format 1's
    :func:`scipy.sparse.save_npz` file (its CSR arrays read as they are; another sparse
    format through scipy)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path} is not a readable .npz file: {e}") from e
    if "format" in arrays and arrays["format"].tobytes().rstrip(b"\0") != b"csr":
        import scipy.sparse as sp  # a scipy matrix of another format: scipy converts it

        return CSR.of(sp.load_npz(path))
    missing = {"indptr", "indices", "shape"} - set(arrays)
    if missing:
        raise ValueError(f"{path} lacks the CSR array(s) {sorted(missing)}")
    try:
        return CSR(arrays["indptr"], arrays["indices"], tuple(arrays["shape"].tolist()))
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e


@dataclass
class Export:
    """An export folder read back by :func:`load_export`: the arrays, id maps, train matrix
    and :obj:`meta.json`.

    Attributes:
        user_emb (np.ndarray): :obj:`[num_users, dim]` float32.
        item_emb (np.ndarray): :obj:`[num_items, dim]` float32.
        user_ids (np.ndarray): the users' own ids in row order, :obj:`[num_users]`.
        item_ids (np.ndarray): the items' own ids in row order, :obj:`[num_items]`.
        seen_rows (CSR, optional): the train matrix, :obj:`[num_users, num_items]`.
        meta (dict): :obj:`meta.json`.
    """

    user_emb: np.ndarray
    item_emb: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    seen_rows: CSR | None
    meta: dict[str, Any]

    @property
    def seen(self) -> Any:
        """The train matrix as a :class:`scipy.sparse.csr_matrix` of ones (imports scipy),
        or :obj:`None` without one."""
        return None if self.seen_rows is None else self.seen_rows.to_scipy()


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
    version = meta.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise ValueError(f"{meta_path} is of export format {version!r}; this gcl reads "
                         f"formats 1 to {FORMAT_VERSION}: upgrade gcl to read it")
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
    seen = read_seen(files["seen"]) if "seen" in files else None
    exp = Export(
        user_emb=np.load(files["user_embeddings"]), item_emb=np.load(files["item_embeddings"]),
        user_ids=read_ids(files["users"], "user", kinds.get("user", "str")),
        item_ids=read_ids(files["items"], "item", kinds.get("item", "str")),
        seen_rows=seen, meta=meta)
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
    if exp.seen_rows is not None and \
            exp.seen_rows.shape != (len(exp.user_ids), len(exp.item_ids)):
        raise ValueError(f"{files['seen'].name} has shape {exp.seen_rows.shape}, the id maps "
                         f"{(len(exp.user_ids), len(exp.item_ids))}")
