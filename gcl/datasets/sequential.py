r"""Loader of the sequential (leave-one-out) format of SELFRec: :obj:`amazon-beauty`, or any
folder whose :obj:`train.txt` reads :obj:`user:item item ...`.

:obj:`train.txt` has one line per user, :obj:`user:item item ...`, the items in the order
the user consumed them; :obj:`test.txt` has :obj:`user:item`, the user's next (last) item.
The whole log is both files together; :obj:`splits["train"]` and :obj:`splits["test"]`
share its id maps.

The files hold no times, only the order. So each interaction's :obj:`timestamp` is its
**ordinal position** in its user's sequence, :obj:`0, 1, 2, ...`, with the test item last:
an order, not a time (it orders a user's own interactions; comparing it across users means
nothing). A :func:`~gcl.data.split.leave_one_out` split by this timestamp reproduces the
published split.
"""
from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from gcl.data.interactions import Interactions
from gcl.datasets.base import Dataset, MalformedFileError, read_parts, read_utf8, split_masks

_EXPECTED = "user:item item ... (integers)"


def read_sequence_file(path: str | PathLike) -> tuple[np.ndarray, np.ndarray]:
    r"""Reads one file of the sequential format into the users' and items' own ids, one
    entry per (user, item) in file order (so each user's items stay in sequence order).

    Args:
        path (str or PathLike): e.g. :obj:`train.txt`.

    Returns:
        :obj:`(users, items)`, two int64 arrays of equal length.
    """
    path = Path(path)
    text = read_utf8(path, _EXPECTED)
    users, counts, items = [], [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        head, sep, rest = line.partition(":")
        try:
            if not sep:
                raise ValueError
            user = int(head)
            ids = list(map(int, rest.split()))
            if user < 0 or any(i < 0 for i in ids):
                raise ValueError
        except ValueError:
            shown = line if len(line) <= 80 else line[:77] + "..."
            raise MalformedFileError(
                path, f"expected '{_EXPECTED}' with ids >= 0, the line reads {shown!r}; "
                      "the file may be truncated", n) from None
        users.append(user)
        counts.append(len(ids))
        items.extend(ids)
    if not items:
        raise MalformedFileError(path, f"holds no interaction; expected '{_EXPECTED}'")
    return np.repeat(np.asarray(users, dtype=np.int64), counts), np.asarray(items, np.int64)


def load_sequential(folder: str | PathLike, name: str | None = None) -> Dataset:
    r"""Loads a folder in the sequential format (:obj:`train.txt`, :obj:`test.txt`).

    Args:
        folder (str or PathLike): the folder holding the files.
        name (str, optional): the dataset's name. (default: :obj:`None`, the folder's name)
    """
    folder = Path(folder)
    parts = read_parts(folder, read_sequence_file, "the sequential format")
    users = np.concatenate([u for u, _ in parts.values()])
    items = np.concatenate([i for _, i in parts.values()])
    # Train rows come before test rows, each in sequence order: the running count of a
    # user's rows is the position in the sequence, with the test item last.
    position = pd.Series(users).groupby(users, sort=False).cumcount().to_numpy(np.int64)
    df = pd.DataFrame({"user": users, "item": items, "timestamp": position})
    whole = Interactions.from_pandas(df, timestamp="timestamp")
    return Dataset(name or folder.name, whole, item_text=None,
                   splits=split_masks(whole, parts), path=folder)
