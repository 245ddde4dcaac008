r"""Loader of the LightGCN format: :obj:`gowalla`, :obj:`yelp2018`, :obj:`amazon-book`, or
any folder holding :obj:`train.txt` and :obj:`test.txt` in it.

Each file has one line per user, :obj:`user item item ...`, whitespace-separated integer
ids (a user's line may list no items). The whole log is :obj:`train.txt` together with
:obj:`test.txt`; the published split is kept as :obj:`splits["train"]` and
:obj:`splits["test"]`, which share the id maps of the whole log. The ids are the files' own
(for LightGCN's data already :obj:`0..n-1`, so they equal the internal indices); a user or
item with no interaction in either file is not in the id maps. There is no rating or time.
"""
from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from gcl.data.interactions import Interactions
from gcl.datasets.base import Dataset, MalformedFileError, read_parts, read_utf8, split_masks

_EXPECTED = "user item item ... (integers separated by spaces)"


def read_lightgcn_file(path: str | PathLike) -> tuple[np.ndarray, np.ndarray]:
    r"""Reads one file of the LightGCN format into the users' and items' own ids, one
    entry per (user, item) pair in file order.

    Args:
        path (str or PathLike): e.g. :obj:`train.txt`.

    Returns:
        :obj:`(users, items)`, two int64 arrays of equal length.
    """
    path = Path(path)
    text = read_utf8(path, _EXPECTED)
    users, counts, items, lines = [], [], [], []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            ids = list(map(int, line.split()))
        except ValueError:
            shown = line if len(line) <= 80 else line[:77] + "..."
            raise MalformedFileError(
                path, f"expected '{_EXPECTED}', the line reads {shown!r}", n) from None
        if not ids:
            continue
        users.append(ids[0])
        counts.append(len(ids) - 1)
        items.extend(ids[1:])
        lines.append(n)
    if not users:
        raise MalformedFileError(path, f"holds no user line; expected '{_EXPECTED}'")
    user_arr = np.asarray(users, dtype=np.int64)
    item_arr = np.asarray(items, dtype=np.int64)
    owner = np.repeat(np.arange(len(users)), counts)
    bad_user = np.flatnonzero(user_arr < 0)
    bad_item = owner[item_arr < 0]
    if len(bad_user) or len(bad_item):
        first = min([*bad_user[:1], *bad_item[:1]])
        raise MalformedFileError(path, "holds a negative id; ids must be integers >= 0",
                                 lines[first])
    return np.repeat(user_arr, counts), item_arr


def load_lightgcn(folder: str | PathLike, name: str | None = None) -> Dataset:
    r"""Loads a folder in LightGCN's format (:obj:`train.txt`, :obj:`test.txt`).

    Args:
        folder (str or PathLike): the folder holding the files.
        name (str, optional): the dataset's name. (default: :obj:`None`, the folder's name)
    """
    folder = Path(folder)
    parts = read_parts(folder, read_lightgcn_file, "LightGCN's format")
    df = pd.DataFrame({
        "user": np.concatenate([u for u, _ in parts.values()]),
        "item": np.concatenate([i for _, i in parts.values()]),
    })
    whole = Interactions.from_pandas(df)
    return Dataset(name or folder.name, whole, item_text=None,
                   splits=split_masks(whole, parts), path=folder)
