"""A click log with its id maps: the object every later stage of :mod:`gcl` takes."""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gcl.data.split import split as split_log

_ALLOWED_ID_KINDS = {"integer", "string", "unicode", "bytes"}
_TIME_KINDS = {"integer", "floating", "mixed-integer-float", "datetime64", "datetime", "date"}
#: What :meth:`Interactions.from_pandas` may keep as edge weights.
WEIGHTS = ("count",)

log = logging.getLogger("gcl.data")


def _parse_times(t: pd.Series, column: str, time_format: str | None) -> np.ndarray:
    """The times of column :obj:`column`: numbers and datetimes as they are; text as
    numbers when every value is one, else as ISO 8601 date-times (or by the strptime
    :obj:`time_format`), time-zone aware ones converted to UTC. Raises naming the column
    and the first value that is no time."""
    kind = pd.api.types.infer_dtype(t, skipna=False)
    if time_format is None and kind in _TIME_KINDS:
        return t.to_numpy()
    if time_format is None and kind not in ("string", "unicode"):
        raise TypeError(
            f"timestamp column {column!r} must hold numbers or datetimes (or their text), "
            f"found {kind!r}; convert it first, e.g. pd.to_datetime(df[{column!r}])")
    text = t.astype(str)
    if time_format is None:
        numbers = pd.to_numeric(text, errors="coerce")
        if numbers.notna().all():
            return numbers.to_numpy()
    try:
        parsed = pd.to_datetime(text, format=time_format or "ISO8601", errors="coerce",
                                utc=True)
    except ValueError as e:  # a format pandas cannot use at all
        raise ValueError(f"time_format {time_format!r} for timestamp column {column!r} is "
                         f"not a strptime format: {e}") from e
    bad = parsed.isna().to_numpy()
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        how = (f"does not match time_format {time_format!r}" if time_format else
               "is not an ISO 8601 date-time (e.g. 2024-05-01 or 2024-05-01T13:45:00Z); pass "
               "time_format= (gcl train: --time-format) with its strptime format, e.g. "
               "'%d/%m/%Y %H:%M'")
        raise ValueError(f"timestamp column {column!r}: {text.iloc[at]!r} (row {at}, "
                         f"{int(bad.sum())} such value(s)) {how}")
    return parsed.dt.tz_localize(None).to_numpy()


def _check_ids(values: pd.Series, column: str) -> None:
    n_missing = int(values.isna().sum())
    if n_missing:
        raise ValueError(
            f"column {column!r} holds {n_missing} missing id(s) (NaN/None); "
            "drop or fill those rows before building Interactions"
        )
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind not in _ALLOWED_ID_KINDS:
        raise TypeError(
            f"column {column!r} must hold ids of one type (all integers or all strings), "
            f"found {kind!r}; convert it first, e.g. df[{column!r}].astype(str)"
        )


def _check_filters(min_rating: Any, k_core: Any) -> None:
    if min_rating is not None and (isinstance(min_rating, bool)
                                   or not isinstance(min_rating, (int, float, np.number))
                                   or not np.isfinite(min_rating)):
        raise ValueError(f"min_rating must be a finite number, got {min_rating!r}")
    if k_core is not None and (isinstance(k_core, bool)
                               or not isinstance(k_core, (int, np.integer)) or k_core < 0):
        raise ValueError(f"k_core must be an integer >= 0, got {k_core!r}")


def text_series(text: pd.Series | Mapping[Hashable, Any]) -> pd.Series:
    """Item texts given as a pd.Series or a mapping, keyed by the items' own ids, as a
    Series; fails on any other type and on an id given twice."""
    if isinstance(text, Mapping):
        text = pd.Series(dict(text), dtype=object)
    if not isinstance(text, pd.Series):
        raise TypeError("item_text must be a pd.Series or dict of strings keyed by the items' "
                        f"own ids, got {type(text).__name__}")
    if not text.index.is_unique:
        dup = text.index[text.index.duplicated()].unique()
        raise ValueError(f"item_text has more than one text for item id(s) "
                         f"{ids_to_list(dup[:5])}")
    return text


def _check_item_text(text: Any, item_ids: pd.Index) -> pd.Series | None:
    """:obj:`text` (a pd.Series or mapping of item id -> str) as a Series of str indexed by
    item id, missing texts dropped; checks the ids' type against :obj:`item_ids`."""
    if text is None:
        return None
    text = text_series(text)
    text = text[text.notna()].astype(object)
    bad = text[[not isinstance(v, str) for v in text]]
    if len(bad):
        raise TypeError(f"item_text must hold strings; item id(s) {ids_to_list(bad.index[:5])} "
                        f"have {sorted({type(v).__name__ for v in bad})}")
    if len(text) and len(item_ids):
        kinds = {"integer": "integer", "string": "string", "unicode": "string",
                 "bytes": "bytes"}
        have = kinds.get(pd.api.types.infer_dtype(text.index, skipna=False), "mixed")
        want = kinds.get(pd.api.types.infer_dtype(item_ids, skipna=False), "mixed")
        if have != want:
            raise TypeError(f"item_text is keyed by {have} ids but the items' own ids are "
                            f"{want} (e.g. {ids_to_list(text.index[:1])} vs "
                            f"{ids_to_list(item_ids[:1])}): convert its index first")
        if not text.index.isin(item_ids).any():
            raise ValueError(f"none of item_text's {len(text)} ids is an item of the log (e.g. "
                             f"{ids_to_list(text.index[:3])} vs {ids_to_list(item_ids[:3])}): "
                             "it must be keyed by the items' own ids")
    return text


def ids_to_rows(index: pd.Index, ids: Iterable[Hashable], what: str = "id") -> np.ndarray:
    """The rows of :obj:`ids` in the id map :obj:`index` (e.g. a log's :attr:`user_ids`).

    Args:
        index (pd.Index): the id map, shape :obj:`[N]`.
        ids (iterable): the ids to find, in the user's own type.
        what (str): what the ids are, for the error. (default: :obj:`"id"`)

    Returns:
        np.ndarray: int64 rows, shape :obj:`[len(ids)]`.

    Raises:
        KeyError: naming the first unknown ids.
    """
    ids = list(ids) if not isinstance(ids, (list, np.ndarray, pd.Index, pd.Series)) else ids
    pos = index.get_indexer(pd.Index(ids, dtype=index.dtype if len(ids) == 0 else None))
    if (pos < 0).any():
        unknown = [i for i, p in zip(ids, pos) if p < 0]
        raise KeyError(f"unknown {what} id(s): {unknown[:5]}"
                       + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    return pos.astype(np.int64)


def _id_map(given: Sequence[Hashable] | None, n: int, what: str) -> pd.Index:
    """The id map of :meth:`Interactions.from_csr`: :obj:`given` checked, or 0..n-1."""
    if given is None:
        return pd.Index(np.arange(n, dtype=np.int64))
    if isinstance(given, (str, bytes)):
        raise TypeError(f"{what}_ids must be a sequence of ids, got a single {what} id")
    index = pd.Index(list(given))
    if len(index) != n:
        raise ValueError(f"{len(index)} {what} ids for a matrix with {n} "
                         f"{'rows' if what == 'user' else 'columns'}")
    if n and index.isna().any():
        raise ValueError(f"{what}_ids hold missing ids (NaN/None)")
    kind = pd.api.types.infer_dtype(index, skipna=False)
    if n and kind not in _ALLOWED_ID_KINDS:
        raise TypeError(f"{what}_ids must be ids of one type (all integers or all strings), "
                        f"found {kind!r}")
    if not index.is_unique:
        raise ValueError(f"{what}_ids are not unique, e.g. "
                         f"{ids_to_list(index[index.duplicated()][:3])}")
    return index


def _k_core(users: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the rows that survive iterative k-core filtering."""
    keep = np.ones(len(users), dtype=bool)
    while True:
        u_cnt = np.bincount(users[keep], minlength=users.max() + 1)
        i_cnt = np.bincount(items[keep], minlength=items.max() + 1)
        new = keep & (u_cnt[users] >= k) & (i_cnt[items] >= k)
        if new.sum() == keep.sum():
            return new
        keep = new


class Interactions:
    r"""A user–item interaction log with id maps in both directions.

    Users and items are numbered :obj:`0..n-1` in the sorted order of their own ids, so
    the numbering does not depend on the order of the log's rows. Every subset made by
    :meth:`select` or :meth:`split` keeps the id maps of its parent, so the train, valid
    and test parts of a log index the same users and items.

    Build one with :meth:`from_pandas`, :meth:`from_csv`, :meth:`from_parquet` or
    :meth:`from_networkx`; the constructor is for arrays already mapped.

    Args:
        users (np.ndarray): internal user index of each interaction, shape :obj:`[E]`.
        items (np.ndarray): internal item index of each interaction, shape :obj:`[E]`.
        user_ids (pd.Index): the user's own id of each internal user, shape :obj:`[U]`.
        item_ids (pd.Index): the user's own id of each internal item, shape :obj:`[I]`.
        rating (np.ndarray, optional): rating per interaction. (default: :obj:`None`)
        timestamp (np.ndarray, optional): time per interaction. (default: :obj:`None`)
        item_text (pd.Series or dict, optional): one string per item, keyed by the items'
            own ids (missing texts are dropped). Ids that are not in :obj:`item_ids` are
            items known only by their text: the cold items a text branch embeds (see
            :meth:`text_only_items`). Kept by :meth:`select`, :meth:`split` and
            :meth:`concat`. (default: :obj:`None`)
        weights (np.ndarray, optional): a weight > 0 per interaction, e.g. its click count
            (:meth:`from_pandas` with :obj:`weights="count"`); the train graph's adjacency
            holds them (:class:`gcl.graph.UIGraph`). :obj:`None` weighs each 1.
            (default: :obj:`None`)

    :attr:`duplicates_folded` is the number of duplicate (user, item) rows
    :meth:`from_pandas` folded (0 for a log built otherwise).
    """

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        user_ids: pd.Index,
        item_ids: pd.Index,
        rating: np.ndarray | None = None,
        timestamp: np.ndarray | None = None,
        item_text: pd.Series | Mapping[Hashable, str] | None = None,
        weights: np.ndarray | None = None,
    ) -> None:
        self.users = np.asarray(users, dtype=np.int64)
        self.items = np.asarray(items, dtype=np.int64)
        self.user_ids = pd.Index(user_ids)
        self.item_ids = pd.Index(item_ids)
        self.rating = None if rating is None else np.asarray(rating, dtype=np.float64)
        self.timestamp = None if timestamp is None else np.asarray(timestamp)
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        self.duplicates_folded = 0
        if self.users.shape != self.items.shape:
            raise ValueError("users and items must have the same length")
        if self.weights is not None and not (np.isfinite(self.weights).all()
                                             and (self.weights > 0).all()):
            raise ValueError("weights must be finite numbers > 0")
        for name, arr in (("rating", self.rating), ("timestamp", self.timestamp),
                          ("weights", self.weights)):
            if arr is not None and arr.shape != self.users.shape:
                raise ValueError(f"{name} must have one value per interaction")
        if len(self.users) and (self.users.max() >= len(self.user_ids) or self.users.min() < 0):
            raise ValueError("a user index lies outside the user id map")
        if len(self.items) and (self.items.max() >= len(self.item_ids) or self.items.min() < 0):
            raise ValueError("an item index lies outside the item id map")
        self.item_text = _check_item_text(item_text, self.item_ids)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pandas(
        cls,
        df: pd.DataFrame,
        user: str = "user",
        item: str = "item",
        rating: str | None = None,
        timestamp: str | None = None,
        min_rating: float | None = None,
        k_core: int | None = None,
        item_text: str | None = None,
        time_format: str | None = None,
        weights: str | None = None,
    ) -> Interactions:
        r"""Builds interactions from a DataFrame with one row per click.

        Duplicate (user, item) rows are folded into one that keeps the latest row (by
        :obj:`timestamp` where given, else the last in the log) and its rating; how many
        were folded is logged (an INFO line of the :obj:`"gcl.data"` logger) and kept as
        :attr:`duplicates_folded`. With :obj:`weights="count"` each kept row remembers its
        number of rows (clicks) as its weight (:attr:`weights`), which the train graph's
        normalised adjacency then holds (:func:`gcl.graph.normalized_adjacency`) for the
        methods that propagate over it; the graph filters, the samplers and the metrics
        still see each pair once.

        Args:
            df (pd.DataFrame): the click log.
            user (str): column of user ids, any hashable of one type. (default: :obj:`"user"`)
            item (str): column of item ids. (default: :obj:`"item"`)
            rating (str, optional): column of ratings. (default: :obj:`None`)
            timestamp (str, optional): column of times: numbers, datetimes, or text (ISO 8601
                date-times such as :obj:`"2024-05-01T13:45:00Z"`, or numbers), parsed with
                pandas; time-zone aware times are converted to UTC. (default: :obj:`None`)
            min_rating (float, optional): keeps only rows with rating at least this, to cut
                explicit ratings into implicit feedback; needs :obj:`rating`. Users and
                items left without a row are not in the id maps. (default: :obj:`None`)
            k_core (int, optional): keeps the k-core: repeatedly drops users and items with
                fewer than :obj:`k_core` interactions (0 and 1 keep everything); the id maps
                hold only what is kept. (default: :obj:`None`)
            item_text (str, optional): column of item texts (e.g. a title), kept as
                :attr:`item_text`: the last non-missing text of each kept item.
                (default: :obj:`None`)
            time_format (str, optional): the strptime format of a text :obj:`timestamp`
                column (e.g. :obj:`"%d/%m/%Y %H:%M"`) where ISO 8601 does not apply or is
                ambiguous. (default: :obj:`None`)
            weights (str, optional): :obj:`"count"` keeps each (user, item) pair's number
                of rows as its edge weight; :obj:`None` weighs every pair 1.
                (default: :obj:`None`)

        Ratings may be any finite number, negative ones included (e.g. -1 for a dislike):
        every row kept is a positive interaction, so a log with negative ratings and no
        :obj:`min_rating` warns. An empty log, a missing column, missing or mixed-type ids,
        missing or non-numeric ratings or times, and filters that leave nothing raise.
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
        wanted = {"user": user, "item": item, "rating": rating, "timestamp": timestamp,
                  "item text": item_text}
        for role, col in wanted.items():
            if col is not None and col not in df.columns:
                raise KeyError(
                    f"{role} column {col!r} not found in the log; "
                    f"its columns are {list(map(str, df.columns))}"
                )
        if user == item:
            raise ValueError(f"the user and item columns must differ, both are {user!r}")
        if weights is not None and weights not in WEIGHTS:
            raise ValueError(f"weights must be None or one of {list(WEIGHTS)}, got {weights!r}")
        if time_format is not None and (timestamp is None or not isinstance(time_format, str)):
            raise ValueError("time_format needs a timestamp column and must be a strptime "
                             f"format string, e.g. '%d/%m/%Y %H:%M'; got {time_format!r}")
        if len(df) == 0:
            raise ValueError("the click log is empty: it has no rows")
        _check_filters(min_rating, k_core)
        _check_ids(df[user], user)
        _check_ids(df[item], item)
        cols = {"user": df[user].to_numpy(), "item": df[item].to_numpy()}
        if rating is not None:
            r = pd.to_numeric(df[rating], errors="coerce").to_numpy(dtype=np.float64)
            if not np.isfinite(r).all():
                raise ValueError(f"rating column {rating!r} holds non-numeric or missing values")
            if min_rating is None and (r < 0).any():
                warnings.warn(
                    f"rating column {rating!r} holds {int((r < 0).sum())} negative rating(s); "
                    "they are kept, and every row counts as a positive interaction: pass "
                    "min_rating (e.g. 0) to drop dislikes", UserWarning, stacklevel=2)
            cols["rating"] = r
        if timestamp is not None:
            t = df[timestamp]
            if t.isna().any():
                raise ValueError(f"timestamp column {timestamp!r} holds missing values")
            cols["timestamp"] = _parse_times(t, timestamp, time_format)
        if item_text is not None:
            cols["text"] = df[item_text].to_numpy(dtype=object)
        frame = pd.DataFrame(cols)
        if min_rating is not None:
            if rating is None:
                raise ValueError("min_rating needs a rating column")
            frame = frame[frame["rating"] >= min_rating]
            if len(frame) == 0:
                raise ValueError(f"no interaction has a rating >= {min_rating}")
        if timestamp is not None:
            frame = frame.sort_values("timestamp", kind="stable")
        if weights == "count":
            frame["count"] = frame.groupby(["user", "item"], sort=False)["user"].transform(
                "size")
        rows = len(frame)
        frame = frame.drop_duplicates(["user", "item"], keep="last")
        folded = rows - len(frame)
        if folded:
            log.info("%d duplicate (user, item) rows folded: %d rows became %d interactions%s",
                     folded, rows, len(frame), "; their counts are kept as edge weights"
                     if weights == "count" else " (weights='count' keeps click counts)")
        uidx, user_ids = pd.factorize(frame["user"], sort=True)
        iidx, item_ids = pd.factorize(frame["item"], sort=True)
        if k_core is not None and k_core > 1:
            keep = _k_core(uidx, iidx, k_core)
            if not keep.any():
                raise ValueError(f"no user or item is left after {k_core}-core filtering")
            frame = frame[keep]
            uidx, user_ids = pd.factorize(frame["user"], sort=True)
            iidx, item_ids = pd.factorize(frame["item"], sort=True)
        text = None
        if item_text is not None:
            rows = frame[frame["text"].notna()]
            text = rows.drop_duplicates("item", keep="last").set_index("item")["text"]
            text = text[text.index.isin(item_ids)].rename(None).rename_axis(None)
        # Rows come back in (user, item) order: the result is the same for any row order.
        order = np.lexsort((iidx, uidx))
        out = cls(
            uidx[order],
            iidx[order],
            user_ids,
            item_ids,
            rating=frame["rating"].to_numpy()[order] if "rating" in frame else None,
            timestamp=frame["timestamp"].to_numpy()[order] if "timestamp" in frame else None,
            item_text=text,
            weights=frame["count"].to_numpy(np.float64)[order] if "count" in frame else None,
        )
        out.duplicates_folded = folded
        return out

    @classmethod
    def from_csv(cls, path: str | PathLike, user: str = "user", item: str = "item",
                 rating: str | None = None, timestamp: str | None = None,
                 min_rating: float | None = None, k_core: int | None = None,
                 item_text: str | None = None, time_format: str | None = None,
                 weights: str | None = None, **read_csv_kwargs: Any) -> Interactions:
        """Reads a CSV with :func:`pandas.read_csv` (extra keyword arguments go to it) and
        calls :meth:`from_pandas`.

        Ids in a file are text: the user and item columns are read as strings, so
        :obj:`"007"`, :obj:`"7"` and :obj:`"0007"` stay three ids, exactly as written. Pass
        :obj:`dtype={"user": "int64", ...}` to read them otherwise."""
        dtype = read_csv_kwargs.pop("dtype", None)
        if dtype is None or isinstance(dtype, Mapping):
            dtype = {user: str, item: str, **(dtype or {})}
        try:
            df = pd.read_csv(path, dtype=dtype, **read_csv_kwargs)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise ValueError(f"{os.fspath(path)} is not a readable CSV click log: "
                             f"{' '.join(str(e).split())}") from e
        if len(df.columns) == 1 and user not in df.columns:
            sep = next((c for c in ("\t", ";", "|", " ") if c in str(df.columns[0])), None)
            if sep is not None:
                raise ValueError(f"{os.fspath(path)} has one column {str(df.columns[0])!r}: it "
                                 f"looks separated by {sep!r}, not commas; pass sep={sep!r} "
                                 f"(gcl train: --sep)")
        return cls.from_pandas(df, user, item, rating, timestamp, min_rating, k_core, item_text,
                               time_format=time_format, weights=weights)

    @classmethod
    def from_parquet(cls, path: str | PathLike, user: str = "user", item: str = "item",
                     rating: str | None = None, timestamp: str | None = None,
                     min_rating: float | None = None, k_core: int | None = None,
                     item_text: str | None = None, time_format: str | None = None,
                     weights: str | None = None) -> Interactions:
        """Reads a Parquet file (needs pyarrow) and calls :meth:`from_pandas`; the id columns
        keep the file's own types."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no Parquet file at {os.fspath(path)}")
        try:
            df = pd.read_parquet(path)
        except ImportError:
            raise
        except Exception as e:  # pyarrow raises its own types for a file that is no Parquet
            raise ValueError(f"{os.fspath(path)} is not a readable Parquet file: "
                             f"{type(e).__name__}: {' '.join(str(e).split())}") from e
        return cls.from_pandas(df, user, item, rating, timestamp, min_rating, k_core, item_text,
                               time_format=time_format, weights=weights)

    @classmethod
    def from_networkx(cls, graph: Any) -> Interactions:
        """Builds interactions from a bipartite networkx graph whose nodes carry
        :obj:`bipartite=0` (users) or :obj:`bipartite=1` (items), as written by
        :meth:`to_networkx`. Edge attributes :obj:`rating` and :obj:`timestamp` are kept."""
        side = dict(graph.nodes(data="bipartite"))
        missing = [n for n, s in side.items() if s not in (0, 1)]
        if missing:
            raise ValueError(
                f"{len(missing)} node(s) lack a 'bipartite' attribute of 0 (user) or 1 (item), "
                f"e.g. {missing[:3]}"
            )
        rows = []
        for a, b, data in graph.edges(data=True):
            if side[a] == side[b]:
                raise ValueError(f"edge ({a!r}, {b!r}) joins two nodes of the same side")
            u, i = (a, b) if side[a] == 0 else (b, a)
            rows.append((u[1] if isinstance(u, tuple) else u,
                         i[1] if isinstance(i, tuple) else i,
                         data.get("rating"), data.get("timestamp")))
        df = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
        has_r = len(df) > 0 and df["rating"].notna().all()
        has_t = len(df) > 0 and df["timestamp"].notna().all()
        return cls.from_pandas(df, rating="rating" if has_r else None,
                               timestamp="timestamp" if has_t else None)

    # ------------------------------------------------------------------ basic facts
    @property
    def num_users(self) -> int:
        """Number of users in the id map (shared by every split of a log)."""
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        """Number of items in the id map (shared by every split of a log)."""
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    def __repr__(self) -> str:
        extra = "".join(f", {n}" for n in ("rating", "timestamp", "item_text", "weights")
                        if getattr(self, n) is not None)
        return (f"Interactions({len(self)} interactions, {self.num_users} users, "
                f"{self.num_items} items{extra})")

    def same_maps(self, other: Interactions) -> bool:
        """Whether :obj:`other` indexes users and items exactly as this log does."""
        return (self.user_ids is other.user_ids or self.user_ids.equals(other.user_ids)) and (
            self.item_ids is other.item_ids or self.item_ids.equals(other.item_ids))

    # ------------------------------------------------------------------ id lookups
    def user_index(self, ids: Iterable[Hashable]) -> np.ndarray:
        """Internal indices of the given user ids; raises :class:`KeyError` naming unknown ids."""
        return ids_to_rows(self.user_ids, ids, "user")

    def item_index(self, ids: Iterable[Hashable]) -> np.ndarray:
        """Internal indices of the given item ids; raises :class:`KeyError` naming unknown ids."""
        return ids_to_rows(self.item_ids, ids, "item")


    # ------------------------------------------------------------------ subsets and splits
    def select(self, rows: np.ndarray) -> Interactions:
        """The interactions at :obj:`rows` (a boolean mask or integer positions), with the
        same id maps."""
        rows = np.asarray(rows)
        return self._with_text_of_self(Interactions(
            self.users[rows], self.items[rows], self.user_ids, self.item_ids,
            None if self.rating is None else self.rating[rows],
            None if self.timestamp is None else self.timestamp[rows],
            weights=None if self.weights is None else self.weights[rows],
        ))

    def _with_text_of_self(self, other: Interactions) -> Interactions:
        other.item_text = self.item_text  # checked already: shared, not copied
        return other

    def with_item_text(self, item_text: pd.Series | Mapping[Hashable, str] | None
                       ) -> Interactions:
        """The same log carrying :obj:`item_text` (one string per item, keyed by the items'
        own ids; ids without interactions are cold items; :obj:`None` removes the text).

        Raises:
            TypeError: not a Series or dict, a non-string text, or ids of another type than
                the log's item ids.
            ValueError: duplicate ids, or no id that is an item of the log.
        """
        return Interactions(self.users, self.items, self.user_ids, self.item_ids, self.rating,
                            self.timestamp, item_text, self.weights)

    def text_only_items(self) -> pd.Index:
        """Ids of :attr:`item_text` that are not in the item map: items known only by
        their text (empty without text)."""
        if self.item_text is None:
            return pd.Index([], dtype=self.item_ids.dtype)
        return self.item_text.index[~self.item_text.index.isin(self.item_ids)]

    def split(self, method: str = "random", **kwargs: Any) -> tuple[Interactions, ...]:
        """Splits the log; see :mod:`gcl.data.split` for the methods
        (:obj:`"random"`, :obj:`"leave_one_out"`, :obj:`"temporal"`) and their arguments."""
        seed = kwargs.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        return split_log(self, method, **kwargs)

    def concat(self, *others: Interactions) -> Interactions:
        """Joins logs that share this log's id maps (duplicate pairs are kept once)."""
        for o in others:
            if not self.same_maps(o):
                raise ValueError("only logs that share id maps can be joined")
        parts = (self, *others)
        keep_r = all(p.rating is not None for p in parts)
        keep_t = all(p.timestamp is not None for p in parts)
        keep_w = all(p.weights is not None for p in parts)
        users = np.concatenate([p.users for p in parts])
        items = np.concatenate([p.items for p in parts])
        _, first = np.unique(users * self.num_items + items, return_index=True)
        first = np.sort(first)
        return self._with_text_of_self(Interactions(
            users[first], items[first], self.user_ids, self.item_ids,
            np.concatenate([p.rating for p in parts])[first] if keep_r else None,
            np.concatenate([p.timestamp for p in parts])[first] if keep_t else None,
            weights=np.concatenate([p.weights for p in parts])[first] if keep_w else None,
        ))

    # ------------------------------------------------------------------ conversions
    def to_pandas(self) -> pd.DataFrame:
        """The log in the user's own ids: columns :obj:`user`, :obj:`item` (and
        :obj:`rating`, :obj:`timestamp` where present)."""
        out = {"user": self.user_ids.take(self.users), "item": self.item_ids.take(self.items)}
        if self.rating is not None:
            out["rating"] = self.rating
        if self.timestamp is not None:
            out["timestamp"] = self.timestamp
        return pd.DataFrame({k: np.asarray(v) for k, v in out.items()})

    def to_csr(self, values: str | None = None) -> sp.csr_matrix:
        """A :obj:`[num_users, num_items]` scipy CSR matrix with ones (or :obj:`"rating"`)."""
        if values not in (None, "rating"):
            raise ValueError("values must be None or 'rating'")
        if values == "rating" and self.rating is None:
            raise ValueError("this log has no ratings")
        data = np.ones(len(self), dtype=np.float32) if values is None else self.rating
        mat = sp.csr_matrix((data, (self.users, self.items)),
                            shape=(self.num_users, self.num_items))
        mat.sum_duplicates()
        return mat

    @classmethod
    def from_csr(cls, matrix: Any, user_ids: Sequence[Hashable] | None = None,
                 item_ids: Sequence[Hashable] | None = None,
                 values: str | None = None) -> Interactions:
        """Builds interactions from a user-item matrix, such as :meth:`to_csr` writes: row
        :math:`u`, column :math:`i` is an interaction where the matrix stores a non-zero
        value. Users and items keep the matrix's order, also those without an interaction,
        so :obj:`Interactions.from_csr(m).to_csr()` equals :obj:`m` (as 0/1).

        Args:
            matrix (scipy.sparse matrix or array, or np.ndarray): shape
                :obj:`[num_users, num_items]`; duplicate entries are summed.
            user_ids (sequence, optional): the own id of each row, of one type, unique.
                (default: :obj:`None`, :obj:`0..num_users-1`)
            item_ids (sequence, optional): the own id of each column.
                (default: :obj:`None`, :obj:`0..num_items-1`)
            values (str, optional): :obj:`"rating"` keeps the stored values as ratings, and
                every stored entry as an interaction, explicit zeros included.
                (default: :obj:`None`: values are ignored)
        """
        if values not in (None, "rating"):
            raise ValueError(f"values must be None or 'rating', got {values!r}")
        if not sp.issparse(matrix):
            matrix = np.asarray(matrix)
            if matrix.ndim != 2:
                raise ValueError(f"expected a [num_users, num_items] matrix, got an array of "
                                 f"shape {matrix.shape}")
            if not np.issubdtype(matrix.dtype, np.number) and matrix.dtype != bool:
                raise TypeError(f"the matrix must hold numbers, got dtype {matrix.dtype}")
        mat = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
        mat.sum_duplicates()
        if values is None:
            mat.eliminate_zeros()
        elif not np.isfinite(mat.data).all():
            raise ValueError("the matrix holds NaN or Inf values, which cannot be ratings")
        maps = [_id_map(given, n, what) for given, n, what in
                ((user_ids, mat.shape[0], "user"), (item_ids, mat.shape[1], "item"))]
        coo = mat.tocoo()  # canonical CSR: rows in (user, item) order
        return cls(coo.row, coo.col, maps[0], maps[1],
                   rating=coo.data if values == "rating" else None)

    def to_hetero_data(self) -> Any:
        """A PyG :class:`~torch_geometric.data.HeteroData` with node types :obj:`user` and
        :obj:`item` and edge types :obj:`("user", "interacts", "item")` and its reverse
        :obj:`("item", "rev_interacts", "user")`; ratings and times become :obj:`edge_attr`
        and :obj:`time`. The own ids ride along as Python lists :obj:`data["user"].user_ids`
        and :obj:`data["item"].item_ids` (different names, so that
        :meth:`~torch_geometric.data.HeteroData.to_homogeneous` leaves them out), and
        :meth:`from_hetero_data` reads them back."""
        import torch
        from torch_geometric.data import HeteroData

        data = HeteroData()
        data["user"].num_nodes = self.num_users
        data["item"].num_nodes = self.num_items
        data["user"].user_ids = ids_to_list(self.user_ids)
        data["item"].item_ids = ids_to_list(self.item_ids)
        ei = torch.from_numpy(np.stack([self.users, self.items]))
        fwd, rev = ("user", "interacts", "item"), ("item", "rev_interacts", "user")
        data[fwd].edge_index = ei
        data[rev].edge_index = ei.flip(0)
        if self.rating is not None:
            data[fwd].edge_attr = data[rev].edge_attr = torch.from_numpy(self.rating).float()
        if self.timestamp is not None and np.issubdtype(self.timestamp.dtype, np.number):
            data[fwd].time = data[rev].time = torch.from_numpy(self.timestamp.astype(np.int64))
        return data

    @classmethod
    def from_hetero_data(cls, data: Any, user_ids: Sequence[Hashable] | None = None,
                         item_ids: Sequence[Hashable] | None = None,
                         edge_type: tuple[str, str, str] | None = None, user: str = "user",
                         item: str = "item") -> Interactions:
        r"""Builds interactions from a PyG :class:`~torch_geometric.data.HeteroData`, such
        as :meth:`to_hetero_data` writes: the :obj:`edge_index` of the user-to-item edge type
        gives the pairs, a one-column :obj:`edge_attr` the ratings and :obj:`time` the
        timestamps. Every node is kept, also those without an edge. Duplicate pairs are
        folded into the last one.

        Args:
            data (HeteroData): the graph.
            user_ids (sequence, optional): the own id of each user node, shape
                :obj:`[num_users]`. (default: :obj:`None`: :obj:`data[user].user_ids` when
                present, else :obj:`0..num_users-1`)
            item_ids (sequence, optional): the same for items. (default: :obj:`None`)
            edge_type (tuple, optional): the edge type to read. (default: :obj:`None`, the
                only edge type from :obj:`user` to :obj:`item`)
            user (str): the user node type. (default: :obj:`"user"`)
            item (str): the item node type. (default: :obj:`"item"`)
        """
        if user not in data.node_types or item not in data.node_types:
            raise KeyError(f"node types {user!r} and {item!r} are needed; the graph has "
                           f"{data.node_types}")
        if edge_type is None:
            found = [t for t in data.edge_types if t[0] == user and t[2] == item]
            if len(found) != 1:
                raise ValueError(f"expected one edge type from {user!r} to {item!r}, found "
                                 f"{found}; pass edge_type=")
            edge_type = found[0]
        elif edge_type not in data.edge_types:
            raise KeyError(f"edge type {edge_type} is not in the graph: {data.edge_types}")
        store = data[edge_type]
        ids = []
        for node, given, attr in ((user, user_ids, "user_ids"), (item, item_ids, "item_ids")):
            n = data[node].num_nodes
            if given is None:
                given = data[node][attr] if attr in data[node] else range(n)
            index = pd.Index(list(given))
            if len(index) != n:
                raise ValueError(f"{len(index)} {node} ids for {n} {node} nodes")
            if not index.is_unique:
                raise ValueError(f"the {node} ids are not unique")
            ids.append(index)
        ei = store.edge_index.detach().cpu().numpy().astype(np.int64)
        frame = pd.DataFrame({"user": ei[0], "item": ei[1]})
        if "edge_attr" in store:
            attr = store.edge_attr.detach().cpu().numpy()
            if attr.ndim > 1 and attr.shape[1] != 1:
                raise ValueError(f"edge_attr has {attr.shape[1]} columns; only a one-column "
                                 "edge_attr is read, as ratings")
            frame["rating"] = attr.reshape(-1).astype(np.float64)
        if "time" in store:
            frame["timestamp"] = store.time.detach().cpu().numpy()
            frame = frame.sort_values("timestamp", kind="stable")
        frame = frame.drop_duplicates(["user", "item"], keep="last")
        frame = frame.iloc[np.lexsort((frame["item"].to_numpy(), frame["user"].to_numpy()))]
        return cls(frame["user"].to_numpy(), frame["item"].to_numpy(), ids[0], ids[1],
                   rating=frame["rating"].to_numpy() if "rating" in frame else None,
                   timestamp=frame["timestamp"].to_numpy() if "timestamp" in frame else None)

    def to_networkx(self) -> Any:
        """A networkx :class:`~networkx.Graph` with nodes :obj:`("user", id)` carrying
        :obj:`bipartite=0` and :obj:`("item", id)` carrying :obj:`bipartite=1`, so users and
        items with equal ids stay apart. :meth:`from_networkx` reads it back."""
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from((("user", u) for u in self.user_ids.tolist()), bipartite=0)
        g.add_nodes_from((("item", i) for i in self.item_ids.tolist()), bipartite=1)
        uid, iid = self.user_ids.take(self.users).tolist(), self.item_ids.take(self.items).tolist()
        for n, (u, i) in enumerate(zip(uid, iid)):
            attrs = {}
            if self.rating is not None:
                attrs["rating"] = float(self.rating[n])
            if self.timestamp is not None:
                t = self.timestamp[n]
                attrs["timestamp"] = pd.Timestamp(t) if isinstance(t, np.datetime64) else (
                    t.item() if isinstance(t, np.generic) else t)
            g.add_edge(("user", u), ("item", i), **attrs)
        return g

    def user_counts(self) -> np.ndarray:
        """Interactions per user, shape :obj:`[num_users]`."""
        return np.bincount(self.users, minlength=self.num_users)

    def item_counts(self) -> np.ndarray:
        """Interactions per item, shape :obj:`[num_items]`."""
        return np.bincount(self.items, minlength=self.num_items)


def ids_to_list(index: pd.Index | Sequence[Hashable]) -> list:
    """Plain Python ids (ints or strings), for JSON and :func:`torch.save`."""
    return [x.item() if isinstance(x, np.generic) else x for x in list(index)]

