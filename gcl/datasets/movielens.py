r"""Loaders of the MovieLens datasets of GroupLens, in the formats they are published in.

* :obj:`ml-100k`: :obj:`u.data` (tab-separated :obj:`user item rating timestamp`),
  :obj:`u.item` (Latin-1, :obj:`|`-separated, 19 genre flags) and :obj:`u.genre`.
* :obj:`ml-1m`, :obj:`ml-10m`: :obj:`ratings.dat` (:obj:`UserID::MovieID::Rating::Timestamp`)
  and :obj:`movies.dat` (:obj:`MovieID::Title::Genres`, genres joined by :obj:`|`).
* :obj:`ml-20m`, :obj:`ml-25m`: :obj:`ratings.csv` (:obj:`userId,movieId,rating,timestamp`
  with a header) and :obj:`movies.csv` (:obj:`movieId,title,genres`, quoted CSV).

Every rating is an interaction and keeps its rating and timestamp; the ids are the files'
own integer ids. The item text is :obj:`"title | genre, genre"` (just the title for a movie
without genres, i.e. :obj:`unknown` or :obj:`(no genres listed)`). None of these datasets
publishes a split, so :obj:`splits` is empty.
"""
from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from gcl.data.interactions import Interactions
from gcl.datasets.base import Dataset, MalformedFileError, check_header, read_table

_RATING_COLS = ["user", "item", "rating", "timestamp"]
_RATING_TYPES = {"user": "int", "item": "int", "rating": "float", "timestamp": "int"}
_NO_GENRE = {"", "unknown", "(no genres listed)"}


def _interactions(df: pd.DataFrame) -> Interactions:
    return Interactions.from_pandas(df, rating="rating", timestamp="timestamp")


def _movie_text(ids: pd.Series, titles: pd.Series, genres: pd.Series) -> pd.Series:
    """:obj:`"title | genre, genre"` per movie, indexed by the movie id; :obj:`genres`
    holds :obj:`|`-joined names."""
    titles = titles.astype(str).str.strip().reset_index(drop=True)
    genres = genres.astype(str).str.strip().reset_index(drop=True)
    joined = genres.str.replace("|", ", ", regex=False)
    text = titles.where(genres.isin(_NO_GENRE), titles + " | " + joined)
    index = pd.Index(np.asarray(ids, dtype=np.int64), name="item")
    return pd.Series(text.to_numpy(dtype=object), index=index, name="text")


def _decode_guess(raw: bytes) -> str:
    """utf-8 when the bytes are valid utf-8, else Latin-1 (the older MovieLens files)."""
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "latin-1"


# ---------------------------------------------------------------------------- ml-100k
def read_ml_100k_text(item_path: str | PathLike, genre_path: str | PathLike) -> pd.Series:
    r"""The item texts of MovieLens 100K, :obj:`"title | genre, genre"`, indexed by movie id.

    Args:
        item_path (str or PathLike): :obj:`u.item`.
        genre_path (str or PathLike): :obj:`u.genre` (:obj:`name|index` per line).
    """
    g = read_table(genre_path, genre_path, "|", ["name", "index"], {"index": "int"},
                   encoding="latin-1", expected="name|index")
    g = g.sort_values("index")
    if not np.array_equal(g["index"].to_numpy(), np.arange(len(g))):
        raise MalformedFileError(genre_path, "the genre indices should be 0, 1, 2, ... once "
                                             f"each; found {g['index'].tolist()}")
    names = g["name"].to_numpy()
    flags = [f"g{k}" for k in range(len(names))]
    cols = ["item", "title", "release", "video_release", "url", *flags]
    types = {"item": "int", **dict.fromkeys(flags, "int")}
    df = read_table(item_path, item_path, "|", cols, types, encoding="latin-1",
                    expected=f"movie id|title|release date|video release date|IMDb URL|"
                             f"{len(names)} genre flags (0/1)")
    on = df[flags].to_numpy() != 0
    on[:, np.isin(names, list(_NO_GENRE))] = False  # the "unknown" genre is no genre
    genres = pd.Series(["|".join(names[row]) for row in on])
    return _movie_text(df["item"], df["title"], genres)


def load_ml_100k(folder: str | PathLike, name: str = "ml-100k") -> Dataset:
    r"""Loads MovieLens 100K from :obj:`u.data`, :obj:`u.item` and :obj:`u.genre`.

    Args:
        folder (str or PathLike): the folder holding the files.
        name (str): the dataset's name. (default: :obj:`"ml-100k"`)
    """
    folder = Path(folder)
    path = folder / "u.data"
    df = read_table(path, path, "\t", _RATING_COLS, _RATING_TYPES,
                    expected="user id<tab>item id<tab>rating<tab>timestamp")
    text = read_ml_100k_text(folder / "u.item", folder / "u.genre")
    return Dataset(name, _interactions(df), item_text=text, splits={}, path=folder)


# ---------------------------------------------------------------------------- ml-1m, ml-10m
def load_movielens_dat(folder: str | PathLike, name: str = "ml-1m") -> Dataset:
    r"""Loads MovieLens 1M or 10M from :obj:`ratings.dat` and :obj:`movies.dat`
    (:obj:`::`-separated; :obj:`movies.dat` in utf-8 or Latin-1).

    Args:
        folder (str or PathLike): the folder holding the files.
        name (str): the dataset's name. (default: :obj:`"ml-1m"`)
    """
    folder = Path(folder)
    path = folder / "ratings.dat"
    # "::" read as ":" gives empty fields in between: the wanted ones are 0, 2, 4, 6.
    df = read_table(path, path, ":", _RATING_COLS, _RATING_TYPES, usecols=[0, 2, 4, 6],
                    expected="UserID::MovieID::Rating::Timestamp")
    mpath = folder / "movies.dat"
    raw = mpath.read_bytes()
    movies = read_table(raw.replace(b"::", b"\t"), mpath, "\t", ["item", "title", "genres"],
                        {"item": "int"}, encoding=_decode_guess(raw),
                        expected="MovieID::Title::Genres")
    text = _movie_text(movies["item"], movies["title"], movies["genres"])
    return Dataset(name, _interactions(df), item_text=text, splits={}, path=folder)


# ---------------------------------------------------------------------------- ml-20m, ml-25m
def load_movielens_csv(folder: str | PathLike, name: str = "ml-25m") -> Dataset:
    r"""Loads MovieLens 20M or 25M from :obj:`ratings.csv` and :obj:`movies.csv`.

    Args:
        folder (str or PathLike): the folder holding the files.
        name (str): the dataset's name. (default: :obj:`"ml-25m"`)
    """
    folder = Path(folder)
    path = folder / "ratings.csv"
    check_header(path, ["userId", "movieId", "rating", "timestamp"])
    df = read_table(path, path, ",", _RATING_COLS, _RATING_TYPES, header=True,
                    expected="userId,movieId,rating,timestamp")
    mpath = folder / "movies.csv"
    check_header(mpath, ["movieId", "title", "genres"])
    try:
        movies = pd.read_csv(mpath, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise MalformedFileError(
            mpath, f"cannot be parsed as 'movieId,title,genres': {e}") from None
    ids = pd.to_numeric(movies["movieId"], errors="coerce")
    if ids.isna().any():
        line = int(np.flatnonzero(ids.isna().to_numpy())[0]) + 2
        raise MalformedFileError(mpath, "movieId is missing or not an integer; the file may "
                                        "be truncated", line)
    text = _movie_text(ids, movies["title"], movies["genres"])
    return Dataset(name, _interactions(df), item_text=text, splits={}, path=folder)
