"""Embeddings and id maps written for a serving system, never half-written."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Iterator
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@contextlib.contextmanager
def atomic_write(path: str | PathLike, mode: str = "wb") -> Iterator[Any]:
    """Opens a temporary file next to :obj:`path`; on success it is flushed, fsynced and
    renamed onto :obj:`path`, on failure removed, so :obj:`path` is either the old file or
    the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sha256_file(path: str | PathLike) -> str:
    """Hex sha256 of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_ids(ids: pd.Index, path: Path, column: str) -> Path:
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


def _params(rec: Any) -> dict[str, Any]:
    try:
        return rec._stored_params()
    except TypeError:  # an encoder object: recorded by its repr
        return {k: repr(v) if not isinstance(v, (str, int, float, bool, type(None))) else v
                for k, v in rec.params.items()}


def export(rec: Any, directory: str | PathLike, metrics: dict[str, float] | None = None,
           dataset: str | None = None) -> dict[str, str]:
    r"""Writes a fitted :class:`~gcl.GraphCLRecommender`'s embeddings to :obj:`directory`:

    * :obj:`user_embeddings.npy`, :obj:`item_embeddings.npy`: float32, row :math:`i` belongs
      to the :math:`i`-th id of the map;
    * :obj:`users.parquet`, :obj:`items.parquet` (:obj:`.csv` without pyarrow): columns
      :obj:`row` and :obj:`user` / :obj:`item`, the user's own ids;
    * :obj:`meta.json`: method, hyperparameters, dataset, dim, metrics, versions, and the
      sha256 of every file. It is written last: an export without it is incomplete.

    Every file goes to a temporary name and is renamed into place.

    Args:
        rec (GraphCLRecommender): a fitted recommender.
        directory (str or PathLike): target folder, created if missing.
        metrics (dict, optional): metrics to record. (default: :obj:`None`)
        dataset (str, optional): name of the training data to record. (default: :obj:`None`)

    Returns:
        dict from file role to path.
    """
    import torch

    from gcl import __version__

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "meta.json"
    if meta_path.exists():  # the old export stops looking whole before any file changes
        meta_path.unlink()
    files: dict[str, Path] = {}
    for role, arr in (("user_embeddings", rec.user_embeddings()),
                      ("item_embeddings", rec.item_embeddings())):
        files[role] = out / f"{role}.npy"
        with atomic_write(files[role]) as f:
            np.save(f, np.ascontiguousarray(arr, dtype=np.float32))
    files["users"] = _write_ids(rec.user_ids, out / "users", "user")
    files["items"] = _write_ids(rec.item_ids, out / "items", "item")
    meta = {
        "method": rec.params["method"],
        "params": _params(rec),
        "dataset": dataset,
        "dim": int(rec.user_embeddings().shape[1]),
        "num_users": len(rec.user_ids),
        "num_items": len(rec.item_ids),
        "metrics": metrics or {},
        "versions": {"gcl": __version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "files": {role: {"name": p.name, "sha256": sha256_file(p)} for role, p in files.items()},
    }
    with atomic_write(meta_path, "w") as f:
        json.dump(meta, f, indent=2, default=str)
    files["meta"] = meta_path
    return {role: str(p) for role, p in files.items()}
