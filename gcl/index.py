r"""Recall index: a Faiss inner-product index over item embeddings, served with the id maps
and the train matrix of an export, so that users go in and items come out in the user's own
ids.

.. code-block:: python

    rec.export("out/", index="hnsw")                  # writes out/items.faiss
    index = gcl.RecallIndex.load("out/")
    items, scores = index.search(["196", "186"], k=20)  # seen items left out

Three index types (:obj:`INDEX_TYPES`):

* :obj:`"flat"`: exact, brute-force inner product (:class:`faiss.IndexFlatIP`); its answers
  equal :meth:`GraphCLRecommender.recommend`'s.
* :obj:`"hnsw"`: a graph index (:class:`faiss.IndexHNSWFlat`);
* :obj:`"ivf"`: an inverted file over k-means cells (:class:`faiss.IndexIVFFlat`);
  :obj:`nprobe` cells are scanned per query.

LightGCN-style embeddings differ widely in norm (popular items are long), and both HNSW
and IVF lose much recall under raw inner product (not a metric; IVF's cells then gather
around the long items). So both are built over the standard MIPS-to-L2 transform (Bachrach
et al., RecSys 2014): an item :math:`\mathbf{x}` is stored as :math:`[\mathbf{x},
\sqrt{R^2 - \|\mathbf{x}\|^2}]` with :math:`R = \max \|\mathbf{x}\|`, a query
:math:`\mathbf{q}` as :math:`[\mathbf{q}, 0]`; then :math:`\|\mathbf{q}' -
\mathbf{x}'\|^2 = \|\mathbf{q}\|^2 + R^2 - 2\,\mathbf{q}^\top\mathbf{x}`, so the
nearest item in L2 is the best by inner product. ``benchmarks/recall_index.py`` measures
the gain.

Scores returned are always the exact inner products of the items found, in descending order.
Needs the :obj:`ann` extra: :obj:`pip install 'gcl[ann]'`. Loading and searching need numpy
and faiss alone (ids and seen items are looked up with :mod:`gcl.lookup`), not torch, pandas
or scipy.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from gcl.export_format import load_export
from gcl.lookup import CSR, IdMap

INDEX_TYPES = ("flat", "hnsw", "ivf")
INDEX_FILE = "items.faiss"


def _get_rows(id_map: Any, ids: list) -> np.ndarray:
    """Rows of :obj:`ids` in :obj:`id_map` (:obj:`-1` where unknown): a pandas Index by its
    own lookup (pandas is loaded already where one is given), anything else by
    :class:`IdMap`."""
    if isinstance(id_map, IdMap):
        return id_map.get_rows(ids)
    if hasattr(id_map, "get_indexer"):
        import pandas as pd

        return id_map.get_indexer(pd.Index(ids))
    return IdMap(id_map).get_rows(ids)


def item_rows(item_index: Any, item_ids: Any,
              missing: str = "raise") -> tuple[list[np.ndarray], bool]:
    """The item rows of new users given by their items: one user as a list of item ids, or
    several as a list of lists. Returns one sorted array of distinct rows per user and
    whether one user was given.

    Args:
        item_index (IdMap, pd.Index or np.ndarray): the items' own ids, in row order.
        item_ids (list or list of lists): the users' items, in their own ids.
        missing (str): what an id not in :obj:`item_index` does: :obj:`"raise"` a
            :class:`KeyError` naming them, or :obj:`"skip"` it with a warning naming them.
            (default: :obj:`"raise"`)
    """
    if missing not in ("raise", "skip"):
        raise ValueError(f"missing must be 'raise' or 'skip', got {missing!r}")

    def is_list(x: Any) -> bool:
        return not isinstance(x, (str, bytes)) and isinstance(x, Iterable)

    if not is_list(item_ids):
        raise TypeError("item_ids must be a list of item ids (one user) or a list of lists "
                        "(several users), e.g. ['242', '302']")
    given = list(item_ids)
    single = not (given and all(is_list(x) for x in given))
    lists = [given] if single else [list(x) for x in given]
    rows, unknown = [], []
    for n, items in enumerate(lists):
        if not items:
            raise ValueError(f"user {n} of item_ids has no items: a new user is folded in "
                             "from at least one item")
        pos = _get_rows(item_index, items)
        unknown += [i for i, p in zip(items, pos) if p < 0]
        rows.append(np.unique(pos[pos >= 0]).astype(np.int64))
    if unknown:
        shown = f"{unknown[:5]}" + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        if missing == "raise":
            raise KeyError(f"unknown item id(s): {shown}; pass missing='skip' to leave them "
                           "out")
        warnings.warn(f"item id(s) not in the model, left out: {shown}", RuntimeWarning,
                      stacklevel=3)
        empty = [n for n, r in enumerate(rows) if len(r) == 0]
        if empty:
            raise ValueError(f"user(s) {empty[:5]} of item_ids have no known item left: "
                             "there is nothing to fold in")
    return rows, single


def fold_in(item_foldin: np.ndarray, rows: Sequence[np.ndarray]) -> np.ndarray:
    r"""New users' vectors from their items, :obj:`[len(rows), d]` float32: for a user with
    items :math:`S`, :math:`|S|^{-1/2} \sum_{i \in S} \mathbf{F}_i` with
    :math:`\mathbf{F}` the fold-in item matrix (see :mod:`gcl.foldin`).

    Args:
        item_foldin (np.ndarray): :math:`\mathbf{F}`, :obj:`[I, d]`.
        rows (sequence of np.ndarray): each user's distinct item rows.
    """
    sizes = np.array([len(r) for r in rows], dtype=np.float64)
    sums = CSR.from_rows(rows, len(item_foldin)).sum_rows(item_foldin)
    return (sums / np.sqrt(sizes)[:, None]).astype(np.float32)


def import_faiss() -> Any:
    """Imports :mod:`faiss`, or raises an :class:`ImportError` that names the extra."""
    try:
        import faiss
    except ImportError as e:
        raise ImportError("the recall index needs faiss: pip install 'gcl[ann]' "
                          "(or pip install faiss-cpu)") from e
    return faiss


def default_nlist(num_items: int) -> int:
    """IVF cells for :obj:`num_items` items: :math:`4\\sqrt{n}`, at most :math:`n / 39` (the
    fewest training points per cell Faiss accepts without a warning), at least 1."""
    return int(max(1, min(round(4 * math.sqrt(num_items)), num_items // 39)))


def default_nprobe(nlist: int) -> int:
    r"""IVF cells scanned per query: :math:`\max(8, nlist / 32)`, at most :obj:`nlist`. On
    gowalla (810 cells) this finds 99.99% of the exact top-20 (see
    ``benchmarks/results/recall_index.md``)."""
    return int(min(nlist, max(8, nlist // 32)))


def _mips_to_l2(items: np.ndarray) -> tuple[np.ndarray, float]:
    norms2 = np.einsum("ij,ij->i", items, items, dtype=np.float64)
    r2 = float(norms2.max()) if len(norms2) else 0.0
    extra = np.sqrt(np.maximum(r2 - norms2, 0.0)).astype(np.float32)
    return np.ascontiguousarray(np.hstack([items, extra[:, None]])), math.sqrt(r2)


def _queries(vectors: np.ndarray, options: dict[str, Any]) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if options.get("transform") == "mips-l2":
        pad = np.zeros((len(vectors), 1), dtype=np.float32)
        vectors = np.ascontiguousarray(np.hstack([vectors, pad]))
    return vectors


def _whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


#: The least value of each integer setting that reaches Faiss (below it Faiss aborts the
#: process or builds a useless index).
_LEAST = {"m": 2, "ef_construction": 1, "ef_search": 1, "nlist": 1, "nprobe": 1}


def check_index_options(kind: str, num_items: int | None = None, **options: Any) -> None:
    """Checks the settings of :func:`build_index` before anything reaches Faiss, whose own
    checks abort the process. Raises :class:`ValueError` (a :class:`TypeError` for a wrong
    type) naming the setting.

    Args:
        kind (str): the index type.
        num_items (int, optional): items to index, the bound of :obj:`nlist`.
            (default: :obj:`None`)
        **options: :obj:`m`, :obj:`ef_construction`, :obj:`ef_search`, :obj:`nlist`,
            :obj:`nprobe`, :obj:`seed`, :obj:`progress`.
    """
    if kind not in INDEX_TYPES:
        raise ValueError(f"unknown index type {kind!r}; choose one of {list(INDEX_TYPES)}")
    known = {*_LEAST, "seed", "progress"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown index setting(s) {unknown}; choose from {sorted(known)}")
    applies = {"m": "hnsw", "ef_construction": "hnsw", "ef_search": "hnsw", "nlist": "ivf",
               "nprobe": "ivf"}
    for name, value in options.items():
        if value is None or name == "progress":
            continue
        if name in applies and applies[name] != kind:
            raise ValueError(f"{name} applies to an {applies[name]} index, not {kind!r}")
        least = _LEAST.get(name, 0)
        if not _whole(value) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
        if name == "seed" and value >= 2**31:
            raise ValueError(f"seed must be below 2**31, got {value}")
    nlist = options.get("nlist")
    if num_items is not None and nlist is not None and nlist > num_items:
        raise ValueError(f"nlist must be in 1..num_items={num_items}, got {nlist}")
    nprobe = options.get("nprobe")
    if nlist is not None and nprobe is not None and nprobe > nlist:
        raise ValueError(f"nprobe must be at most nlist={nlist}, got {nprobe}")


def build_index(item_emb: np.ndarray, kind: str = "flat", m: int = 32,
                ef_construction: int = 200, ef_search: int = 128, nlist: int | None = None,
                nprobe: int | None = None, seed: int = 1234,
                progress: bool = False) -> tuple[Any, dict[str, Any]]:
    r"""Builds a Faiss index over item embeddings for top-K inner-product search.

    Args:
        item_emb (np.ndarray): item embeddings, shape :obj:`[num_items, dim]`.
        kind (str): :obj:`"flat"`, :obj:`"hnsw"` or :obj:`"ivf"`. (default: :obj:`"flat"`)
        m (int): HNSW links per node. (default: :obj:`32`)
        ef_construction (int): HNSW candidate list while building. (default: :obj:`200`)
        ef_search (int): HNSW candidate list while searching (at least :obj:`k` is used).
            (default: :obj:`128`)
        nlist (int, optional): IVF cells. (default: :obj:`None`, see :func:`default_nlist`)
        nprobe (int, optional): IVF cells scanned per query.
            (default: :obj:`None`, see :func:`default_nprobe`)
        seed (int): seed of the IVF k-means. (default: :obj:`1234`)
        progress (bool): a progress bar while items are added. (default: :obj:`False`)

    Returns:
        (index, options): the :class:`faiss.Index` and the settings needed to query it
        again (recorded in an export's :obj:`meta.json`).
    """
    items = np.ascontiguousarray(item_emb, dtype=np.float32)
    if items.ndim != 2 or len(items) == 0 or items.shape[1] == 0:
        raise ValueError(f"item_emb must be a non-empty [num_items, dim] array, got shape "
                         f"{items.shape}")
    if not np.isfinite(items).all():
        raise ValueError("item_emb holds NaN or Inf values")
    n, dim = items.shape
    if kind not in INDEX_TYPES:
        raise ValueError(f"unknown index type {kind!r}; choose one of {list(INDEX_TYPES)}")
    check_index_options(kind, n, **{
        "flat": {}, "hnsw": dict(m=m, ef_construction=ef_construction, ef_search=ef_search),
        "ivf": dict(nlist=nlist, nprobe=nprobe, seed=seed)}[kind])
    faiss = import_faiss()
    options: dict[str, Any] = {"type": kind, "metric": "inner_product", "dim": dim}
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        items, radius = _mips_to_l2(items)
        index = faiss.IndexHNSWFlat(dim + 1, m)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
        options.update(transform="mips-l2", radius=radius, m=m,
                       ef_construction=ef_construction, ef_search=ef_search)
    else:
        nlist = default_nlist(n) if nlist is None else int(nlist)
        if not 1 <= nlist <= n:
            raise ValueError(f"nlist must be in 1..num_items={n}, got {nlist}")
        nprobe = default_nprobe(nlist) if nprobe is None else int(nprobe)
        items, radius = _mips_to_l2(items)
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim + 1), dim + 1, nlist)
        index.cp.seed = seed
        index.train(items)
        index.nprobe = nprobe
        options.update(transform="mips-l2", radius=radius, nlist=nlist, nprobe=nprobe,
                       seed=seed)
    _add(index, items, progress)
    return index, options


def _add(index: Any, items: np.ndarray, progress: bool) -> None:
    chunk = 16384
    starts = range(0, len(items), chunk)
    if progress and len(items) > chunk:
        from tqdm.auto import tqdm

        starts = tqdm(starts, disable=None, desc="index", unit="chunk", leave=False)
    for s in starts:
        index.add(items[s:s + chunk])


def set_search_params(index: Any, options: dict[str, Any], ef_search: int | None = None,
                      nprobe: int | None = None) -> None:
    """Changes the search-time knob of a built index: :obj:`ef_search` (HNSW) or
    :obj:`nprobe` (IVF); :obj:`options` is updated to match."""
    for name, value in (("ef_search", ef_search), ("nprobe", nprobe)):
        if value is not None and (not _whole(value) or value < 1):
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if ef_search is not None:
        if options["type"] != "hnsw":
            raise ValueError(f"ef_search applies to an hnsw index, this one is "
                             f"{options['type']!r}")
        index.hnsw.efSearch = int(ef_search)
        options["ef_search"] = int(ef_search)
    if nprobe is not None:
        if options["type"] != "ivf":
            raise ValueError(f"nprobe applies to an ivf index, this one is {options['type']!r}")
        index.nprobe = int(nprobe)
        options["nprobe"] = int(nprobe)


def serialize_index(index: Any) -> bytes:
    """The index as bytes (what :obj:`items.faiss` holds)."""
    return import_faiss().serialize_index(index).tobytes()


def deserialize_index(data: bytes) -> Any:
    """An index from :func:`serialize_index`'s bytes."""
    return import_faiss().deserialize_index(np.frombuffer(data, dtype=np.uint8))


class RecallIndex:
    r"""Top-K items for users (or any query vectors) from a Faiss index over item embeddings.

    Build one with :meth:`load` from a folder written by :meth:`GraphCLRecommender.export`
    with :obj:`index=`, or with :meth:`from_arrays`.

    Args:
        index (faiss.Index): the index over the items, in row order of :obj:`item_ids`.
        options (dict): settings from :func:`build_index`.
        user_emb (np.ndarray): user embeddings, shape :obj:`[num_users, dim]`.
        item_emb (np.ndarray): item embeddings, shape :obj:`[num_items, dim]` (for exact
            scores of the items found).
        user_ids (sequence): the users' own ids, in row order (a list, array or
            :class:`pandas.Index`); kept as an array (:attr:`user_ids`).
        item_ids (sequence): the items' own ids, in row order; kept as :attr:`item_ids`.
        seen (scipy.sparse matrix or CSR, optional): :obj:`[num_users, num_items]` train
            interactions, left out by :obj:`exclude_seen`; kept as :attr:`seen_rows`.
            (default: :obj:`None`)
        meta (dict, optional): the export's :obj:`meta.json`. (default: :obj:`None`)
        item_foldin (np.ndarray, optional): the fold-in item matrix :obj:`[num_items, dim]`
            that :meth:`recommend_for_items` serves new users with (an export's
            :obj:`item_foldin.npy`, see :mod:`gcl.foldin`). (default: :obj:`None`)
    """

    def __init__(self, index: Any, options: dict[str, Any], user_emb: np.ndarray,
                 item_emb: np.ndarray, user_ids: Sequence[Hashable],
                 item_ids: Sequence[Hashable], seen: Any = None,
                 meta: dict[str, Any] | None = None,
                 item_foldin: np.ndarray | None = None) -> None:
        self.index, self.options = index, dict(options)
        self.user_emb = np.ascontiguousarray(user_emb, dtype=np.float32)
        self.item_emb = np.ascontiguousarray(item_emb, dtype=np.float32)
        self._users, self._items = IdMap(user_ids), IdMap(item_ids)
        self.seen_rows = None if seen is None else CSR.of(seen)
        self.meta = meta or {}
        if len(self.user_emb) != len(self.user_ids) or len(self.item_emb) != len(self.item_ids):
            raise ValueError("the embeddings do not match the id maps")
        if index.ntotal != len(self.item_ids):
            raise ValueError(f"the index holds {index.ntotal} items, the id map "
                             f"{len(self.item_ids)}")
        if self.seen_rows is not None and \
                self.seen_rows.shape != (len(self.user_ids), len(self.item_ids)):
            raise ValueError("the seen matrix does not match the id maps")
        self.item_foldin = None if item_foldin is None else np.ascontiguousarray(
            item_foldin, dtype=np.float32)
        if self.item_foldin is not None and self.item_foldin.shape != self.item_emb.shape:
            raise ValueError(f"the fold-in item matrix has shape {self.item_foldin.shape}, the "
                             f"item embeddings {self.item_emb.shape}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, user_emb: np.ndarray, item_emb: np.ndarray,
                    user_ids: Sequence[Hashable], item_ids: Sequence[Hashable],
                    kind: str = "flat", seen: Any = None,
                    **options: Any) -> RecallIndex:
        """Builds the index (see :func:`build_index` for :obj:`options`) over
        :obj:`item_emb`."""
        index, opts = build_index(item_emb, kind, **options)
        return cls(index, opts, user_emb, item_emb, user_ids, item_ids, seen)

    @classmethod
    def load(cls, directory: str | PathLike, verify: bool = True) -> RecallIndex:
        """Loads the index of an export folder (written with :obj:`index=`).

        Args:
            directory (str or PathLike): the export folder.
            verify (bool): check every file against the sha256 in :obj:`meta.json`.
                (default: :obj:`True`)
        """
        exp = load_export(directory, verify=verify)
        entry = exp.meta.get("index")
        if not entry:
            raise FileNotFoundError(f"the export in {directory} has no recall index: export "
                                    "it with index='flat', 'hnsw' or 'ivf' (gcl export "
                                    "--index ...)")
        if "index" not in exp.meta["files"]:
            raise ValueError(f"{Path(directory) / 'meta.json'} records an index but lists no "
                             "index file")
        path = Path(directory) / exp.meta["files"]["index"]["name"]
        if not isinstance(entry, dict) or entry.get("type") not in INDEX_TYPES:
            raise ValueError(f"{Path(directory) / 'meta.json'}: its index entry is not one of "
                             f"{list(INDEX_TYPES)}")
        try:
            index = deserialize_index(path.read_bytes())
        except RuntimeError as e:  # Faiss' own error for bytes that are no index
            raise ValueError(f"{path} is not a readable Faiss index: "
                             f"{str(e).splitlines()[0]}") from e
        options = dict(entry)
        check_index_matches(index, options, exp.item_emb, path)
        set_search_params(index, options, options.get("ef_search"), options.get("nprobe"))
        foldin = None
        if "item_foldin" in exp.meta["files"]:  # exports before fold-in have none
            foldin_path = Path(directory) / exp.meta["files"]["item_foldin"]["name"]
            foldin = np.load(foldin_path, allow_pickle=False)
            if foldin.shape != exp.item_emb.shape or not np.isfinite(foldin).all():
                raise ValueError(f"{foldin_path} must be a finite [num_items, dim] matrix "
                                 f"{exp.item_emb.shape}, got shape {foldin.shape}")
        return cls(index, options, exp.user_emb, exp.item_emb, exp.user_ids, exp.item_ids,
                   exp.seen_rows, exp.meta, foldin)

    # ------------------------------------------------------------------ facts
    @property
    def user_ids(self) -> np.ndarray:
        """The users' own ids in row order, shape :obj:`[num_users]`: integer ids in their
        dtype, others (strings, bytes) as Python objects."""
        return self._users.ids

    @property
    def item_ids(self) -> np.ndarray:
        """The items' own ids in row order, shape :obj:`[num_items]`, as :attr:`user_ids`."""
        return self._items.ids

    @property
    def seen(self) -> Any:
        """The train matrix as a :class:`scipy.sparse.csr_matrix` of ones (imports scipy;
        the index itself serves from :attr:`seen_rows`), or :obj:`None` without one."""
        return None if self.seen_rows is None else self.seen_rows.to_scipy()

    @property
    def kind(self) -> str:
        """The index type: :obj:`"flat"`, :obj:`"hnsw"` or :obj:`"ivf"`."""
        return self.options["type"]

    @property
    def num_items(self) -> int:
        """Items in the index."""
        return len(self.item_ids)

    def set_search_params(self, ef_search: int | None = None,
                          nprobe: int | None = None) -> RecallIndex:
        """Sets HNSW's :obj:`ef_search` or IVF's :obj:`nprobe`; returns :obj:`self`."""
        set_search_params(self.index, self.options, ef_search, nprobe)
        return self

    def __repr__(self) -> str:
        return (f"RecallIndex({self.kind}, {self.num_items} items, {len(self.user_ids)} users,"
                f" dim {self.item_emb.shape[1]})")

    # ------------------------------------------------------------------ search
    def search(self, user_ids: Iterable[Hashable], k: int = 10, exclude_seen: bool = True,
               batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        r"""Top-:obj:`k` items for each user.

        Args:
            user_ids (iterable): the users' own ids.
            k (int): list length. (default: :obj:`10`)
            exclude_seen (bool): leave out each user's train items; the index is asked for
                :obj:`k` plus the user's train count, so for :obj:`"flat"` the lists equal
                :meth:`GraphCLRecommender.recommend`'s. (default: :obj:`True`)
            batch_size (int): queries searched at once. (default: :obj:`4096`)

        Returns:
            (items, scores): arrays of shape :obj:`[len(user_ids), k]`, items in their own
            ids, scores the exact inner products in descending order. Free slots (a user
            with fewer than :obj:`k` unseen items found) hold :obj:`None` and :obj:`-inf`.
        """
        if isinstance(user_ids, (str, bytes)) or not isinstance(user_ids, Iterable):
            raise TypeError("user_ids must be a list of ids, e.g. ['196', '186']")
        self._check_k(k)
        rows = self._users.rows(user_ids, "user")
        seen = self.seen_rows if exclude_seen else None
        if exclude_seen and seen is None:
            raise ValueError("this index has no train matrix to exclude seen items: pass "
                             "exclude_seen=False")
        idx, scores = self._search_rows(self.user_emb[rows], rows, k, seen, batch_size)
        return self._to_ids(idx, scores), scores

    def recommend_for_items(self, item_ids: Any, k: int = 10, exclude_given: bool = True,
                            missing: str = "raise", batch_size: int = 4096
                            ) -> tuple[np.ndarray, np.ndarray]:
        r"""Top-:obj:`k` items for new users, never trained on, given by their items: each
        is folded in with the export's fold-in item matrix, :math:`|S|^{-1/2}
        \sum_{i \in S} \mathbf{F}_i` (:func:`fold_in`), the same vector
        :meth:`GraphCLRecommender.recommend_for_items` ranks with, and searched in the
        index.

        Args:
            item_ids (list or list of lists): one user's items in their own ids, or one
                list per user.
            k (int): list length. (default: :obj:`10`)
            exclude_given (bool): leave out the items given. (default: :obj:`True`)
            missing (str): an unknown item: :obj:`"raise"` a :class:`KeyError` naming it,
                or :obj:`"skip"` it with a warning. (default: :obj:`"raise"`)
            batch_size (int): queries searched at once. (default: :obj:`4096`)

        Returns:
            (items, scores): shape :obj:`[k]` for one user, :obj:`[len(item_ids), k]` for
            a list of lists, as :meth:`search` gives them.

        Raises:
            ValueError: an export without :obj:`item_foldin.npy` (one written before
                fold-in, or of a method that folds in otherwise, e.g. a graph filter).
        """
        if self.item_foldin is None:
            raise ValueError(f"this index has no fold-in item matrix (item_foldin.npy), so it "
                             f"cannot serve new users by their items: method "
                             f"{self.meta.get('method', 'unknown')!r} does not fold in, or the "
                             "export is older; export the model again with this gcl")
        self._check_k(k)
        rows, single = item_rows(self._items, item_ids, missing)
        given = CSR.from_rows(rows, self.num_items) if exclude_given else None
        idx, scores = self._search_rows(fold_in(self.item_foldin, rows),
                                        np.arange(len(rows)), k, given, batch_size)
        items = self._to_ids(idx, scores)
        return (items[0], scores[0]) if single else (items, scores)

    def similar_items(self, item_ids: Iterable[Hashable], k: int = 10,
                      batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        r"""The :obj:`k` nearest items to each given item by the index's own similarity,
        the inner product of item embeddings (searched in the index), the item itself
        left out. (:meth:`GraphCLRecommender.similar_items` ranks by cosine instead.)

        Args:
            item_ids (iterable): the items' own ids.
            k (int): list length, at most :obj:`num_items - 1`. (default: :obj:`10`)
            batch_size (int): queries searched at once. (default: :obj:`4096`)

        Returns:
            (items, scores): arrays of shape :obj:`[len(item_ids), k]`, as :meth:`search`
            gives them.
        """
        if isinstance(item_ids, (str, bytes)) or not isinstance(item_ids, Iterable):
            raise TypeError("item_ids must be a list of ids, e.g. ['242', '302']")
        self._check_k(k)
        if k > self.num_items - 1:
            raise ValueError(f"k must be in 1..num_items-1={self.num_items - 1}, got {k}")
        rows = self._items.rows(item_ids, "item")
        itself = CSR.from_rows([r[None] for r in rows], self.num_items)
        idx, scores = self._search_rows(self.item_emb[rows], np.arange(len(rows)), k, itself,
                                        batch_size)
        return self._to_ids(idx, scores), scores

    def search_vectors(self, vectors: np.ndarray, k: int = 10,
                       batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Top-:obj:`k` items for arbitrary query vectors of shape :obj:`[B, dim]` (e.g. a
        new user's embedding); nothing is excluded. Returns :obj:`(items, scores)` as
        :meth:`search` does."""
        self._check_k(k)
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if vectors.shape[1] != self.item_emb.shape[1]:
            raise ValueError(f"query vectors have dim {vectors.shape[1]}, the index "
                             f"{self.item_emb.shape[1]}")
        idx, scores = self._search_rows(vectors, None, k, None, batch_size)
        return self._to_ids(idx, scores), scores

    def search_internal(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw index search: internal item rows (:obj:`-1` where none) and the index's own
        scores, shape :obj:`[B, k]`; what a benchmark of the index alone measures."""
        self._check_k(k)
        dist, labels = self.index.search(_queries(vectors, self.options), k)
        return labels, dist

    def _check_k(self, k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an int, got {type(k).__name__}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if k > self.num_items:
            raise ValueError(f"k={k} is larger than the number of items ({self.num_items})")

    def _search_rows(self, vectors: np.ndarray, rows: np.ndarray | None, k: int,
                     seen: CSR | None, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(vectors)
        out_idx = np.full((n, k), -1, dtype=np.int64)
        out_scores = np.full((n, k), -np.inf, dtype=np.float32)
        need = np.full(n, k, dtype=np.int64)
        if seen is not None:
            need += seen.row_lengths()[rows]
        need = np.minimum(need, self.num_items)
        # Queries that need about as many candidates are searched together, in batches of
        # at most ~4M candidates.
        bucket = np.ceil(np.log2(np.maximum(need, 1))).astype(np.int64)
        for b in np.unique(bucket):
            members = np.flatnonzero(bucket == b)
            step = max(1, min(batch_size, (1 << 22) // int(need[members].max())))
            for s in range(0, len(members), step):
                part = members[s:s + step]
                kk = int(need[part].max())
                labels, _ = self.search_internal(vectors[part], kk)  # best first
                valid = labels >= 0
                if seen is not None:
                    valid &= ~seen.contains(rows[part], labels)
                # The first k valid candidates in the index's order, then exact scores.
                take = np.argsort(~valid, axis=1, kind="stable")[:, :k]
                got = np.take_along_axis(valid, take, 1)
                top = np.where(got, np.take_along_axis(labels, take, 1), 0)
                scores = np.einsum("bd,bkd->bk", vectors[part], self.item_emb[top])
                scores = np.where(got, scores, -np.inf).astype(np.float32)
                order = np.argsort(-scores, axis=1, kind="stable")
                width = top.shape[1]
                out_idx[part, :width] = np.take_along_axis(np.where(got, top, -1), order, 1)
                out_scores[part, :width] = np.take_along_axis(scores, order, 1)
        return out_idx, out_scores

    def _to_ids(self, idx: np.ndarray, scores: np.ndarray) -> np.ndarray:
        found = idx >= 0
        if found.all() and self.item_ids.dtype != object:
            return np.asarray(self.item_ids)[idx]
        items = np.asarray(self.item_ids, dtype=object)[np.where(found, idx, 0)]
        items[~found] = None
        return items


def check_index_matches(index: Any, options: dict[str, Any], item_emb: np.ndarray,
                        path: str | PathLike = INDEX_FILE, probes: int = 8) -> None:
    """Checks that a Faiss index indexes :obj:`item_emb`: its type, size and dimension,
    and for :obj:`probes` items spread over the rows, the vector it stores for the item
    (or, where it cannot give one back, an exact search for it). Raises a
    :class:`ValueError` naming :obj:`path` otherwise."""
    faiss = import_faiss()
    kind = options["type"]
    n, dim = item_emb.shape
    wanted = {"flat": faiss.IndexFlatIP, "hnsw": faiss.IndexHNSWFlat,
              "ivf": faiss.IndexIVFFlat}[kind]
    stored = item_emb if options.get("transform") != "mips-l2" else _mips_to_l2(item_emb)[0]
    if not isinstance(index, wanted):
        raise ValueError(f"{path} is a {type(index).__name__}, but meta.json records a {kind} "
                         "index: the files are of different exports")
    if index.ntotal != n or index.d != stored.shape[1]:
        raise ValueError(f"{path} holds {index.ntotal} vectors of dim {index.d}; the item "
                         f"embeddings call for {n} of dim {stored.shape[1]}: the files are of "
                         "different exports")
    rows = np.unique(np.linspace(0, n - 1, min(probes, n)).round().astype(np.int64))
    if kind == "ivf":
        index.make_direct_map()
    for row in rows:
        try:
            got = index.reconstruct(int(row))
        except RuntimeError:
            got = None
        if got is not None:
            ok = np.allclose(got, stored[row], rtol=1e-5, atol=1e-6)
        else:  # an exact search for the stored vector must find it
            _, labels = index.search(stored[row:row + 1], 1)
            ok = int(labels[0, 0]) == row
        if not ok:
            raise ValueError(f"{path} does not index these item embeddings (item row {row} "
                             "differs): the index is of another export or model")
    if kind == "ivf":
        index.set_direct_map_type(faiss.DirectMap.NoMap)


def rows_matrix(rows: Sequence[np.ndarray], num_items: int) -> Any:
    """A :obj:`[len(rows), num_items]` 0/1 :class:`scipy.sparse.csr_matrix` with the items
    :obj:`rows[b]` in row b, for the recommender's scorers (imports scipy; the index serves
    from :meth:`CSR.from_rows`)."""
    return CSR.from_rows(rows, num_items).to_scipy()
