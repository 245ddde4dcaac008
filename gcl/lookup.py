"""What the recall index looks up, with numpy alone: the users' or items' own ids to rows
(:class:`IdMap`), and each user's set of items, a 0/1 sparse matrix as CSR arrays
(:class:`CSR`).

:class:`gcl.RecallIndex` serves with these so that it needs neither pandas nor scipy; a
scipy matrix is read from and given back on request (:meth:`CSR.of`, :meth:`CSR.to_scipy`).
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["IdMap", "CSR", "id_array"]


def id_array(ids: Iterable[Hashable]) -> np.ndarray:
    """Ids as a 1-D array: integer ids keep their integer dtype, all others (strings,
    bytes) are Python objects, as a :class:`pandas.Index` of them gives them back.

    Args:
        ids (iterable): the ids in row order, shape :obj:`[N]` (a list, array or
            :class:`pandas.Index`).
    """
    if hasattr(ids, "dtype") and not isinstance(ids, np.ndarray):
        ids = np.asarray(ids)  # a pandas Index: its values
    if isinstance(ids, np.ndarray):
        if ids.ndim != 1:
            raise ValueError(f"ids must be one-dimensional, got shape {ids.shape}")
        return ids if ids.dtype.kind in "iu" else ids.astype(object)
    values = list(ids)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    if values and all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                      for v in values):
        try:
            return np.asarray([int(v) for v in values])
        except OverflowError:  # beyond 64 bits: kept as Python ints
            pass
    return out


def _is_bool(x: Any) -> bool:
    return isinstance(x, (bool, np.bool_))


class IdMap:
    """The rows of ids in an id map, by a dict built on first use (an unknown id, or a
    boolean, is no row: as :meth:`pandas.Index.get_indexer` finds them).

    Args:
        ids (iterable): the own ids in row order, shape :obj:`[N]`, unique.
    """

    def __init__(self, ids: Iterable[Hashable]) -> None:
        self.ids = id_array(ids)
        self._rows: dict[Hashable, int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def _table(self) -> dict[Hashable, int]:
        if self._rows is None:
            rows = {v: n for n, v in enumerate(self.ids.tolist())}
            if len(rows) != len(self.ids):
                raise ValueError(f"the id map holds duplicate ids ({len(self.ids)} ids, "
                                 f"{len(rows)} distinct)")
            self._rows = rows
        return self._rows

    def get_rows(self, ids: Iterable[Hashable]) -> np.ndarray:
        """The int64 rows of :obj:`ids`, :obj:`-1` for an id not in the map, shape
        :obj:`[len(ids)]`."""
        table = self._table()
        out = []
        for x in ids:
            try:
                out.append(-1 if _is_bool(x) else table.get(x, -1))
            except TypeError:  # unhashable: no id
                out.append(-1)
        return np.asarray(out, dtype=np.int64)

    def rows(self, ids: Iterable[Hashable], what: str = "id") -> np.ndarray:
        """The int64 rows of :obj:`ids`, shape :obj:`[len(ids)]`.

        Raises:
            KeyError: naming the first unknown ids (at most five) as :obj:`"unknown {what}
                id(s): ..."`.
        """
        ids = list(ids)
        pos = self.get_rows(ids)
        if (pos < 0).any():
            unknown = [i for i, p in zip(ids, pos) if p < 0]
            raise KeyError(f"unknown {what} id(s): {unknown[:5]}"
                           + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
        return pos


class CSR:
    """A 0/1 sparse :obj:`[num_rows, num_cols]` matrix (e.g. the items each user has) as
    CSR arrays: row :obj:`r` holds the columns :obj:`indices[indptr[r]:indptr[r + 1]]`.
    Only where the entries are is kept, not their values.

    Args:
        indptr (np.ndarray): row starts, shape :obj:`[num_rows + 1]`, from 0 to
            :obj:`len(indices)`, non-decreasing.
        indices (np.ndarray): the columns of all rows, shape :obj:`[nnz]`, each in
            :obj:`0..num_cols-1`, distinct within a row.
        shape (tuple): :obj:`(num_rows, num_cols)`.

    Raises:
        ValueError: naming what of the arrays is malformed.
    """

    def __init__(self, indptr: np.ndarray, indices: np.ndarray,
                 shape: tuple[int, int]) -> None:
        indptr, indices = np.asarray(indptr), np.asarray(indices)
        if indptr.dtype.kind not in "iu" or indices.dtype.kind not in "iu":
            raise ValueError(f"CSR indptr and indices must be integer arrays, got "
                             f"{indptr.dtype} and {indices.dtype}")
        shape = tuple(int(s) for s in shape)
        if len(shape) != 2 or min(shape) < 0:
            raise ValueError(f"CSR shape must be two sizes >= 0, got {shape}")
        if indptr.ndim != 1 or indices.ndim != 1 or len(indptr) != shape[0] + 1:
            raise ValueError(f"CSR indptr must have num_rows + 1 = {shape[0] + 1} entries and "
                             f"indices one dimension, got shapes {indptr.shape} and "
                             f"{indices.shape}")
        if indptr[0] != 0 or indptr[-1] != len(indices) or (np.diff(indptr) < 0).any():
            raise ValueError("CSR indptr must rise from 0 to len(indices)")
        if len(indices) and (indices.min() < 0 or indices.max() >= shape[1]):
            raise ValueError(f"CSR indices must be in 0..{shape[1] - 1}")
        self.indptr = indptr.astype(np.int64, copy=False)
        self.indices = indices.astype(np.int64, copy=False)
        self.shape: tuple[int, int] = (shape[0], shape[1])

    @classmethod
    def of(cls, matrix: Any) -> CSR:
        """A :class:`CSR` of :obj:`matrix`: a :class:`CSR`, a scipy sparse matrix or array
        (its stored entries, explicit zeros included), or a dense 2-D array (its non-zero
        entries)."""
        if isinstance(matrix, CSR):
            return matrix
        if hasattr(matrix, "tocsr"):
            csr = matrix.tocsr()
            if not csr.has_canonical_format:  # a copy: the caller's matrix stays as given
                csr = csr.copy()
                csr.sum_duplicates()
            return cls(csr.indptr, csr.indices, csr.shape)
        dense = np.asarray(matrix)
        if dense.ndim != 2:
            raise ValueError(f"a seen matrix must be two-dimensional, got shape {dense.shape}")
        rows, cols = np.nonzero(dense)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=dense.shape[0]))])
        return cls(indptr, cols, dense.shape)

    @classmethod
    def from_rows(cls, rows: Sequence[np.ndarray], num_cols: int) -> CSR:
        """The :obj:`[len(rows), num_cols]` matrix with the columns :obj:`rows[b]` in row
        :obj:`b`."""
        sizes = [len(r) for r in rows]
        cols = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows]) if rows else \
            np.zeros(0, np.int64)
        return cls(np.cumsum([0, *sizes]), cols, (len(rows), num_cols))

    @property
    def nnz(self) -> int:
        """The number of entries."""
        return len(self.indices)

    def row_lengths(self) -> np.ndarray:
        """Entries per row, int64, shape :obj:`[num_rows]`."""
        return np.diff(self.indptr)

    def select_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The entries of :obj:`rows` (shape :obj:`[B]`): :obj:`(b, col)`, each shape
        :obj:`[nnz of those rows]`, :obj:`b` the position in :obj:`rows`."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, lengths = self.indptr[rows], self.row_lengths()[rows]
        b = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
        offset = np.arange(len(b), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths,
                                                                 lengths)
        return b, self.indices[np.repeat(starts, lengths) + offset]

    def contains(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Whether column :obj:`cols[b, j]` is an entry of row :obj:`rows[b]`: bool, the
        shape of :obj:`cols` :obj:`[B, K]`; a negative column (no candidate) is never one.

        Args:
            rows (np.ndarray): rows, shape :obj:`[B]`.
            cols (np.ndarray): columns to look up, shape :obj:`[B, K]`.
        """
        cols = np.asarray(cols, dtype=np.int64)
        b, found = self.select_rows(rows)
        if len(found) == 0:
            return np.zeros(cols.shape, dtype=bool)
        width = self.shape[1] + 1
        keys = np.sort(b * width + found)
        cand = np.arange(len(cols), dtype=np.int64)[:, None] * width + np.where(cols < 0,
                                                                                self.shape[1], cols)
        pos = np.minimum(np.searchsorted(keys, cand), len(keys) - 1)
        return keys[pos] == cand

    def sum_rows(self, values: np.ndarray) -> np.ndarray:
        """:obj:`self @ values`: per row, the sum of the rows of :obj:`values` at its
        columns, float64, shape :obj:`[num_rows, d]` for :obj:`values` :obj:`[num_cols,
        d]`."""
        values = np.asarray(values, dtype=np.float64)
        out = np.zeros((self.shape[0], values.shape[1]), dtype=np.float64)
        full = np.flatnonzero(self.row_lengths() > 0)
        if len(full):
            out[full] = np.add.reduceat(values[self.indices], self.indptr[full], axis=0)
        return out

    def to_scipy(self) -> Any:
        """The matrix as a :class:`scipy.sparse.csr_matrix` of float32 ones (imports
        scipy)."""
        import scipy.sparse as sp

        return sp.csr_matrix((np.ones(self.nnz, np.float32), self.indices, self.indptr),
                             shape=self.shape)

    def __repr__(self) -> str:
        return f"CSR(shape={self.shape}, nnz={self.nnz})"
