r"""Named recommendation datasets: find, download, check and load them by name.

.. code-block:: python

    from gcl.datasets import load_dataset

    ds = load_dataset("gowalla")          # LightGCN's split, as published
    train, test = ds.splits["train"], ds.splits["test"]
    ml = load_dataset("ml-100k")          # whole log with ratings, times and item texts

The registry of names, URLs and sha256 digests is :obj:`gcl/datasets/registry.json`; see
:mod:`gcl.datasets.download` for where files are looked up and cached.
"""
from __future__ import annotations

from collections.abc import Callable
from os import PathLike
from pathlib import Path

from gcl.datasets.base import (
    ChecksumError,
    Dataset,
    DatasetNotFoundError,
    MalformedFileError,
    UnsafeArchiveError,
    list_datasets,
    load_registry,
)
from gcl.datasets.download import cache_dir, extract_archive, fetch
from gcl.datasets.lightgcn import load_lightgcn
from gcl.datasets.movielens import load_ml_100k, load_movielens_csv, load_movielens_dat
from gcl.datasets.sequential import load_sequential

__all__ = [
    "ChecksumError",
    "Dataset",
    "DatasetNotFoundError",
    "MalformedFileError",
    "UnsafeArchiveError",
    "cache_dir",
    "extract_archive",
    "list_datasets",
    "load_dataset",
    "load_registry",
]

#: The loader of each format named in the registry: (folder, name) -> Dataset.
LOADERS: dict[str, Callable[[Path, str], Dataset]] = {
    "ml-100k": load_ml_100k,
    "movielens-dat": load_movielens_dat,
    "movielens-csv": load_movielens_csv,
    "lightgcn": load_lightgcn,
    "sequential": load_sequential,
}


def _sniff(folder: Path) -> str:
    """The format of a folder given by path, from the files it holds."""
    if (folder / "train.txt").is_file() and (folder / "test.txt").is_file():
        with open(folder / "train.txt", encoding="utf-8", errors="replace") as f:
            first = next((line for line in f if line.strip()), "")
        return "sequential" if ":" in first else "lightgcn"
    if (folder / "u.data").is_file():
        return "ml-100k"
    if (folder / "ratings.dat").is_file():
        return "movielens-dat"
    if (folder / "ratings.csv").is_file():
        return "movielens-csv"
    raise FileNotFoundError(
        f"the folder {folder} is in no format known here: expected train.txt and test.txt "
        "(LightGCN's 'user item item ...' or the sequential 'user:item item ...'), or the "
        "MovieLens files u.data, ratings.dat or ratings.csv"
    )


def load_dataset(
    name_or_path: str | PathLike,
    root: str | PathLike | None = None,
    download: bool = True,
    verify: bool = True,
) -> Dataset:
    r"""Loads a dataset by name (see :func:`list_datasets`) or from a folder.

    For a name, the files are looked up in :obj:`root` if given, else in
    :obj:`$GCL_DATA_DIR/<name>/` (never written to), then in the cache
    :obj:`$GCL_CACHE_DIR/raw/<name>/` (default :obj:`~/.cache/gcl/raw/<name>/`); missing
    files are downloaded into the cache and checked against the sha256 digests of
    :obj:`gcl/datasets/registry.json`. Where the registry records no digest (datasets whose
    files were not at hand when it was written), the files are checked by parsing only and
    a :class:`UserWarning` says so.

    A path to a folder is loaded as it is, in the format its files show: LightGCN's
    :obj:`train.txt`/:obj:`test.txt` (:obj:`user item item ...`), the sequential
    :obj:`user:item ...`, or MovieLens' own files.

    Args:
        name_or_path (str or PathLike): a registered name such as :obj:`"ml-100k"`,
            :obj:`"gowalla"` or :obj:`"amazon-beauty"` (any case), or a folder.
        root (str or PathLike, optional): a folder holding the named dataset's files,
            searched instead of :obj:`$GCL_DATA_DIR/<name>/`. (default: :obj:`None`)
        download (bool): whether to download missing files. (default: :obj:`True`)
        verify (bool): whether to check files against the registry's sha256; :obj:`False`
            loads files that differ (another release, a local edit). (default: :obj:`True`)

    Raises:
        ValueError: for an unknown name, listing the known ones.
        FileNotFoundError: for a :class:`~pathlib.Path` that is not a folder.
        DatasetNotFoundError: when files are missing and cannot be downloaded; it says which
            files to put in which folder, and where to get them.
        ChecksumError: when a file's sha256 differs from the registry's.
        MalformedFileError: when a file is truncated or malformed, naming it and the line.
    """
    if not isinstance(name_or_path, (str, PathLike)):
        raise TypeError(f"name_or_path must be a dataset name or a folder, got "
                        f"{name_or_path!r}; see gcl.datasets.list_datasets()")
    registry = load_registry()
    key = str(name_or_path).strip().lower() if isinstance(name_or_path, str) else None
    if key in registry:
        entry = registry[key]
        folder = fetch(key, entry, root=root, download=download, verify=verify)
        return LOADERS[entry["format"]](folder, key)
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if root is not None:
            raise ValueError("root= applies to a dataset given by name, not to a folder "
                             f"given by path ({path})")
        return LOADERS[_sniff(path)](path, path.name)
    if key is None:
        raise FileNotFoundError(f"no folder at {path}; a dataset given by path must be a "
                                "folder (e.g. one holding train.txt and test.txt)")
    raise ValueError(
        f"unknown dataset {str(name_or_path)!r}: it is neither a known name nor a folder. "
        f"Known datasets: {', '.join(sorted(registry))}. A folder in LightGCN's format "
        "(train.txt, test.txt) can be given by its path."
    )
