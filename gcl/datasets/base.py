"""The :class:`Dataset` record, the registry of named datasets, the errors of this package
and the strict table reader that the loaders share."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gcl.data.interactions import Interactions

REGISTRY_PATH = Path(__file__).with_name("registry.json")


# ---------------------------------------------------------------------------- errors
class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset are neither on disk nor could they be downloaded."""


class ChecksumError(ValueError):
    """A file's sha256 differs from the one recorded in the registry."""


class MalformedFileError(ValueError):
    """A data file is truncated or does not follow its format."""

    def __init__(self, path: str | PathLike, message: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        where = f"{self.path}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {message}")


class UnsafeArchiveError(ValueError):
    """An archive holds a member that would land outside its target folder, or a link."""


# ---------------------------------------------------------------------------- the record
@dataclass
class Dataset:
    r"""A named recommendation dataset: the whole log, item texts and the published split.

    Args:
        name (str): the dataset's name, e.g. :obj:`"ml-100k"`, or its folder's name.
        interactions (Interactions): the whole log (for a published split: all its parts).
        item_text (pd.Series, optional): one string per item, indexed by the item's own id
            (the ids of :obj:`interactions.item_ids`); may hold items that have no
            interaction. (default: :obj:`None`)
        splits (dict[str, Interactions]): the published split, e.g. :obj:`{"train": ...,
            "test": ...}`, each sharing the id maps of :obj:`interactions`; empty when the
            dataset publishes none. (default: :obj:`{}`)
        path (Path, optional): the folder the files were read from. (default: :obj:`None`)
    """

    name: str
    interactions: Interactions
    item_text: pd.Series | None = None
    splits: dict[str, Interactions] = field(default_factory=dict)
    path: Path | None = None

    @property
    def num_users(self) -> int:
        """Number of users in the id map."""
        return self.interactions.num_users

    @property
    def num_items(self) -> int:
        """Number of items in the id map."""
        return self.interactions.num_items

    def __repr__(self) -> str:
        inter = self.interactions
        parts = [f"{len(inter)} interactions", f"{inter.num_users} users",
                 f"{inter.num_items} items"]
        if self.item_text is not None:
            parts.append("item_text")
        if self.splits:
            parts.append("splits=" + "/".join(f"{k}:{len(v)}" for k, v in self.splits.items()))
        return f"Dataset({self.name!r}, {', '.join(parts)})"


# ---------------------------------------------------------------------------- registry
@lru_cache(maxsize=1)
def _registry() -> dict[str, dict[str, Any]]:
    with open(REGISTRY_PATH, encoding="utf-8") as f:
        return json.load(f)["datasets"]


def load_registry() -> dict[str, dict[str, Any]]:
    r"""The registry of named datasets (a copy of :obj:`gcl/datasets/registry.json`): per
    name its :obj:`format`, the :obj:`files` it needs with their :obj:`sha256` (or
    :obj:`None` when unknown) and where to download them (per file :obj:`url`, or one
    :obj:`archive` with its :obj:`url` and the :obj:`folder` the files lie in)."""
    return json.loads(json.dumps(_registry()))


def list_datasets() -> list[str]:
    """The names :func:`~gcl.datasets.load_dataset` knows, sorted."""
    return sorted(_registry())


# ---------------------------------------------------------------------------- parsing
def line_text(path: str | PathLike, line: int, encoding: str = "utf-8") -> str:
    """The text of line :obj:`line` (from 1) of a file, shortened to 80 characters; for
    error messages only."""
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        for n, text in enumerate(f, 1):
            if n == line:
                text = text.rstrip("\r\n")
                return text if len(text) <= 80 else text[:77] + "..."
    return ""


def read_table(
    source: str | PathLike | bytes,
    path: str | PathLike,
    sep: str,
    columns: Sequence[str],
    numeric: dict[str, str],
    header: bool = False,
    usecols: Sequence[int] | None = None,
    encoding: str = "utf-8",
    expected: str | None = None,
) -> pd.DataFrame:
    r"""Reads a delimited file strictly: every row must have all :obj:`columns` and every
    column in :obj:`numeric` a number, or a :class:`MalformedFileError` names the file and
    the line. Blank lines are skipped.

    Args:
        source (str or PathLike or bytes): the file, or its bytes (already rewritten, e.g.
            :obj:`::` turned into tabs).
        path (str or PathLike): the file's path, for error messages.
        sep (str): the one-character field separator.
        columns (Sequence[str]): names of the columns kept.
        numeric (dict[str, str]): column name to :obj:`"int"` or :obj:`"float"`; the other
            columns stay strings.
        header (bool): whether the first line is a header, which is skipped.
            (default: :obj:`False`)
        usecols (Sequence[int], optional): positions of :obj:`columns` among the fields
            (ascending); every line must have :obj:`max(usecols) + 1` fields, and further
            fields are ignored.
            (default: :obj:`None`, the fields are exactly :obj:`columns`)
        encoding (str): text encoding. (default: :obj:`"utf-8"`)
        expected (str, optional): how a line should look, for error messages.
            (default: :obj:`None`, the columns joined by :obj:`sep`)
    """
    expected = expected or sep.join(columns).replace("\t", "<tab>")
    n_fields = len(columns) if usecols is None else max(usecols) + 1
    kwargs: dict[str, Any] = {
        "sep": sep, "header": None, "skiprows": 1 if header else 0,
        "names": list(range(n_fields)), "quoting": csv.QUOTE_NONE, "encoding": encoding,
        "engine": "c",
    }
    # Without usecols, a line with too many fields is an error; with it, extra fields
    # are ignored.
    if usecols is not None:
        kwargs["usecols"] = list(usecols)
    positions = list(usecols) if usecols is not None else list(range(n_fields))

    def src() -> Any:
        return io.BytesIO(source) if isinstance(source, bytes) else source

    try:
        # Fast path: let pandas infer the types, then check them; only a file that fails
        # the check is read a second time, as strings, to find the faulty line.
        df = pd.read_csv(src(), dtype={i: str for i, c in zip(positions, columns)
                                       if c not in numeric}, keep_default_na=False,
                         na_values={i: [""] for i, c in zip(positions, columns)
                                    if c in numeric}, **kwargs)
    except pd.errors.EmptyDataError:
        raise MalformedFileError(path, f"holds no rows (empty or truncated); expected lines "
                                       f"'{expected}'") from None
    except pd.errors.ParserError as e:
        raise MalformedFileError(path, f"cannot be parsed as '{expected}': {e}") from None
    except UnicodeDecodeError as e:
        raise MalformedFileError(path, f"is not valid {encoding} text: {e}") from None
    df.columns = list(columns)
    if len(df) == 0:
        raise MalformedFileError(path, f"holds no rows (empty or truncated); expected lines "
                                       f"'{expected}'")
    ok = True
    for col, kind in numeric.items():
        values = df[col]
        if not pd.api.types.is_numeric_dtype(values) or values.isna().any():
            ok = False
            break
        if kind == "int" and pd.api.types.is_float_dtype(values):
            arr = values.to_numpy()
            if (arr != np.round(arr)).any():
                ok = False
                break
    if not ok:
        _diagnose(src(), path, columns, numeric, kwargs, expected)
        raise MalformedFileError(path, f"holds values that are not numbers where "
                                       f"'{expected}' expects them")  # pragma: no cover
    for col, kind in numeric.items():
        df[col] = df[col].astype(np.int64 if kind == "int" else np.float64)
    return df


def _diagnose(src: Any, path: str | PathLike, columns: Sequence[str], numeric: dict[str, str],
              kwargs: dict[str, Any], expected: str) -> None:
    """Reads the file as strings and raises :class:`MalformedFileError` at its first line
    with a missing or non-numeric field."""
    header = kwargs["skiprows"]
    df = pd.read_csv(src, dtype=str, skip_blank_lines=False, keep_default_na=False,
                     na_filter=False, **kwargs)
    df.columns = list(columns)
    blank = np.logical_and.reduce([df[c].to_numpy() == "" for c in columns])
    for col, kind in numeric.items():
        conv = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64,
                                                                 na_value=np.nan)
        bad = ~np.isfinite(conv)
        if kind == "int":
            bad |= np.isfinite(conv) & (conv != np.round(conv))
        bad &= ~blank
        if bad.any():
            line = int(np.flatnonzero(bad)[0]) + 1 + header
            try:
                got = line_text(path, line, kwargs["encoding"])
            except OSError:
                got = ""
            shown = f"; the line reads {got!r}" if got else ""
            what = "an integer" if kind == "int" else "a number"
            raise MalformedFileError(
                path, f"field {col!r} is missing or not {what} (expected '{expected}')"
                      f"{shown}; the file may be truncated", line)


def check_header(path: str | PathLike, wanted: Sequence[str], encoding: str = "utf-8") -> None:
    """Raises :class:`MalformedFileError` unless the first line of a CSV file starts with
    the columns :obj:`wanted`."""
    with open(path, encoding=encoding, errors="replace") as f:
        first = f.readline().strip()
    got = [c.strip() for c in first.split(",")]
    if got[: len(wanted)] != list(wanted):
        raise MalformedFileError(
            path, f"the header should start with '{','.join(wanted)}', found {first!r}", 1)


def read_utf8(path: Path, expected: str) -> str:
    """The text of :obj:`path`; a file that is not UTF-8 text is a :class:`MalformedFileError`
    that quotes the :obj:`expected` form."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise MalformedFileError(path, f"is not text in the form '{expected}': {e}") from None


def read_parts(folder: Path, reader: Any, fmt: str,
               parts: Sequence[str] = ("train", "test")) -> dict[str, tuple[np.ndarray,
                                                                        np.ndarray]]:
    """Reads :obj:`<part>.txt` of each part with :obj:`reader`, with a clear error naming
    the missing file and the format :obj:`fmt` that needs it."""
    out = {}
    for part in parts:
        path = folder / f"{part}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{folder} holds no {part}.txt; a folder in {fmt} needs "
                                    + " and ".join(f"{p}.txt" for p in parts))
        out[part] = reader(path)
    return out


def split_masks(whole: Interactions, parts: dict[str, tuple[np.ndarray, np.ndarray]]
                ) -> dict[str, Interactions]:
    r"""Splits of :obj:`whole` made with :meth:`~gcl.data.interactions.Interactions.select`,
    so they share its id maps: each part is given as the users' and items' own ids of its
    rows, and holds the rows of :obj:`whole` with those (user, item) pairs."""
    keys = whole.users * whole.num_items + whole.items
    order = None if (np.diff(keys) > 0).all() else np.argsort(keys, kind="stable")
    sorted_keys = keys if order is None else keys[order]
    out = {}
    for name, (uid, iid) in parts.items():
        pk = whole.user_index(uid) * whole.num_items + whole.item_index(iid)
        # Every pair of a part is in the whole log: a binary search finds its row.
        pos = np.searchsorted(sorted_keys, pk)
        mask = np.zeros(len(keys), dtype=bool)
        mask[pos if order is None else order[pos]] = True
        out[name] = whole.select(mask)
    return out
