import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from gcl.datasets import ChecksumError, MalformedFileError, load_dataset, load_registry

DATA = Path(os.environ.get("GCL_DATA_DIR") or "/work/shared/datasets")
GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western"]



def flags(*names):
    return "|".join("1" if g in names else "0" for g in GENRES)


def write_ml100k(folder: Path, data: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text(data if data is not None else (
        "1\t10\t5\t881250949\n"
        "1\t20\t3\t881250950\n"
        "2\t10\t4\t881250951\n"
        "3\t30\t1\t881250952\n"
        "3\t30\t2\t881250999\n"  # the same pair again, later: folded into this one
    ))
    (folder / "u.genre").write_text("".join(f"{g}|{k}\n" for k, g in enumerate(GENRES)) + "\n")
    lines = [
        f"10|Toy Story (1995)|01-Jan-1995||http://x|{flags('Animation', 'Comedy')}",
        f"20|Café Society (1995)|01-Jan-1995||http://x|{flags('Drama')}",
        f"30|unknown||||{flags('unknown')}",
        f"40|Never Rated (1990)|01-Jan-1990||http://x|{flags('unknown', 'War')}",
    ]
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return folder


# ---------------------------------------------------------------------------- ml-100k
@pytest.mark.skipif(not (DATA / "ml-100k" / "u.data").is_file(), reason="no shared ml-100k")
def test_ml100k_shared_files(monkeypatch):
    monkeypatch.setenv("GCL_DATA_DIR", str(DATA))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_dataset("ml-100k")
    inter = ds.interactions
    assert (len(inter), inter.num_users, inter.num_items) == (100_000, 943, 1682)
    assert ds.splits == {}
    assert ds.name == "ml-100k" and ds.path == DATA / "ml-100k"
    np.testing.assert_array_equal(np.unique(inter.rating), [1, 2, 3, 4, 5])
    assert np.bincount(inter.rating.astype(int))[1:].tolist() == [6110, 11370, 27145, 34174,
                                                                21201]
    assert inter.timestamp.min() == 874724710 and inter.timestamp.max() == 893286638
    assert ds.item_text.index.dtype == inter.item_ids.dtype == np.int64
    assert ds.item_text.loc[1] == "Toy Story (1995) | Animation, Children's, Comedy"
    assert ds.item_text.loc[2] == "GoldenEye (1995) | Action, Adventure, Thriller"
    # The shared u.item is GroupLens' original file, whose digest the registry records.
    digest = hashlib.sha256((DATA / "ml-100k" / "u.item").read_bytes()).hexdigest()
    assert digest == load_registry()["ml-100k"]["files"]["u.item"]["sha256"]
    assert not [w for w in caught if "u.item" in str(w.message)]
    assert ds.item_text.loc[1]  # any text
    assert set(ds.item_text.index) <= set(range(1, 1683)) and len(ds.item_text) >= 1681


@pytest.mark.skipif(not (DATA / "ml-100k" / "u.item").is_file(), reason="no shared ml-100k")
def test_ml100k_known_modified_u_item_warns_and_another_is_refused(tmp_path, monkeypatch):
    import shutil

    for name in ("u.data", "u.genre"):
        shutil.copy(DATA / "ml-100k" / name, tmp_path / name)
    text = (DATA / "ml-100k" / "u.item").read_bytes()
    (tmp_path / "u.item").write_bytes(text.replace(b"Oct", b"10"))  # as the modified copy
    digest = hashlib.sha256((tmp_path / "u.item").read_bytes()).hexdigest()
    with pytest.raises(ChecksumError, match="u.item"):
        load_dataset("ml-100k", root=tmp_path)
    from gcl.datasets.base import _registry

    entry = _registry()["ml-100k"]["files"]["u.item"]
    monkeypatch.setitem(entry, "known_bad", {digest: "months replaced by numbers"})
    with pytest.warns(UserWarning, match="known faulty copy.*months replaced by numbers"):
        ds = load_dataset("ml-100k", root=tmp_path)
    assert len(ds.interactions) == 100_000


def test_ml100k_small_files(tmp_path):
    write_ml100k(tmp_path)
    ds = load_dataset("ml-100k", root=tmp_path, verify=False)
    inter = ds.interactions
    assert (len(inter), inter.num_users, inter.num_items) == (4, 3, 3)
    df = inter.to_pandas()
    assert df.values.tolist() == [
        [1, 10, 5.0, 881250949], [1, 20, 3.0, 881250950], [2, 10, 4.0, 881250951],
        [3, 30, 2.0, 881250999],
    ]
    assert inter.user_ids.tolist() == [1, 2, 3] and inter.item_ids.tolist() == [10, 20, 30]
    text = ds.item_text
    assert text.index.dtype == inter.item_ids.dtype
    assert text.to_dict() == {
        10: "Toy Story (1995) | Animation, Comedy",
        20: "Café Society (1995) | Drama",
        30: "unknown",
        40: "Never Rated (1990) | War",
    }
    assert repr(ds) == "Dataset('ml-100k', 4 interactions, 3 users, 3 items, item_text)"


def test_ml100k_checksum_mismatch(tmp_path):
    write_ml100k(tmp_path)
    actual = hashlib.sha256((tmp_path / "u.data").read_bytes()).hexdigest()
    expected = load_registry()["ml-100k"]["files"]["u.data"]["sha256"]
    with pytest.raises(ChecksumError) as err:
        load_dataset("ml-100k", root=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "u.data") in msg
    assert expected in msg and actual in msg and "verify=False" in msg


def test_ml100k_truncated_line(tmp_path):
    write_ml100k(tmp_path, "1\t10\t5\t881250949\n2\t10\t4\t881250951\n3\t30\n")
    with pytest.raises(MalformedFileError, match=r"u\.data, line 3") as err:
        load_dataset("ml-100k", root=tmp_path, verify=False)
    assert isinstance(err.value, ValueError)
    assert "'3\\t30'" in str(err.value) and "truncated" in str(err.value)


def test_ml100k_non_numeric_and_extra_fields(tmp_path):
    write_ml100k(tmp_path, "1\t10\t5\t881250949\n\n2\tten\t4\t881250951\n")
    with pytest.raises(MalformedFileError, match=r"u\.data, line 3.*'item'"):
        load_dataset("ml-100k", root=tmp_path, verify=False)
    write_ml100k(tmp_path, "1\t10\t5\t881250949\n2\t10\t4\t881250951\t7\n")
    with pytest.raises(MalformedFileError, match=r"u\.data.*line 2"):
        load_dataset("ml-100k", root=tmp_path, verify=False)
    write_ml100k(tmp_path, "")
    with pytest.raises(MalformedFileError, match="no rows"):
        load_dataset("ml-100k", root=tmp_path, verify=False)


# ---------------------------------------------------------------------------- ml-1m, ml-10m
def write_dat(folder: Path, ratings: str, movies: str, encoding: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.dat").write_text(ratings)
    (folder / "movies.dat").write_bytes(movies.encode(encoding))
    return folder


def test_ml1m_dat_latin1(tmp_path):
    write_dat(
        tmp_path,
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n",
        "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "2000::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi\n"
        "3000::Crépuscule (1999)::Drama\n",
        "latin-1",
    )
    with pytest.warns(UserWarning, match="could not be checked against a recorded checksum"):
        ds = load_dataset("ml-1m", root=tmp_path)
    inter = ds.interactions
    assert (len(inter), inter.num_users, inter.num_items) == (3, 2, 2)
    assert inter.to_pandas().values.tolist() == [
        [1, 661, 3.0, 978302109], [1, 1193, 5.0, 978300760], [2, 1193, 4.0, 978298413]]
    assert ds.item_text[661] == "James and the Giant Peach (1996) | Animation, Children's, Musical"
    assert ds.item_text[2000] == "Star Wars: Episode IV - A New Hope (1977) | Action, Sci-Fi"
    assert ds.item_text[3000] == "Crépuscule (1999) | Drama"
    assert ds.splits == {}


def test_ml10m_dat_in_archive_folder(tmp_path):
    # As left by unzipping ml-10m.zip into root: root/ml-10M100K/ratings.dat.
    write_dat(
        tmp_path / "ml-10M100K",
        "1::122::5::838985046\n1::185::4.5::838983525\n7::122::0.5::1049764000\n",
        "122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action|Crime|Thriller\n"
        "190::Café au lait (1993)::(no genres listed)\n",
        "utf-8",
    )
    with pytest.warns(UserWarning, match="checksum"):
        ds = load_dataset("ml-10m", root=tmp_path)
    assert ds.path == tmp_path / "ml-10M100K"
    np.testing.assert_array_equal(ds.interactions.rating, [5.0, 4.5, 0.5])
    assert ds.item_text[190] == "Café au lait (1993)"
    assert ds.item_text[185] == "Net, The (1995) | Action, Crime, Thriller"


def test_ml1m_truncated(tmp_path):
    write_dat(tmp_path, "1::1193::5::978300760\n2::1193::", "1193::A (1975)::Drama\n", "utf-8")
    with pytest.raises(MalformedFileError, match=r"ratings\.dat, line 2.*truncated"):
        load_dataset("ml-1m", root=tmp_path, verify=False)


# ---------------------------------------------------------------------------- ml-20m, ml-25m
def write_csv(folder: Path, ratings: str, movies: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.csv").write_text(ratings)
    (folder / "movies.csv").write_text(movies, encoding="utf-8")
    return folder


@pytest.mark.parametrize("name", ["ml-20m", "ml-25m"])
def test_ml_csv(tmp_path, name):
    write_csv(
        tmp_path,
        "userId,movieId,rating,timestamp\n1,296,5.0,1147880044\n1,306,3.5,1147868817\n"
        "3,296,4.0,1439474476\n",
        "movieId,title,genres\n296,Pulp Fiction (1994),Comedy|Crime|Drama|Thriller\n"
        '306,"American President, The (1995)",Comedy|Drama|Romance\n'
        "209171,Women of Devil's Island (1962),(no genres listed)\n",
    )
    with pytest.warns(UserWarning, match="checksum"):
        ds = load_dataset(name.upper(), root=tmp_path)
    assert ds.name == name
    assert ds.interactions.to_pandas().values.tolist() == [
        [1, 296, 5.0, 1147880044], [1, 306, 3.5, 1147868817], [3, 296, 4.0, 1439474476]]
    assert ds.item_text.to_dict() == {
        296: "Pulp Fiction (1994) | Comedy, Crime, Drama, Thriller",
        306: "American President, The (1995) | Comedy, Drama, Romance",
        209171: "Women of Devil's Island (1962)",
    }


def test_ml_csv_bad_header_and_truncation(tmp_path):
    write_csv(tmp_path, "user,item\n1,2\n", "movieId,title,genres\n1,A (1990),Drama\n")
    with pytest.raises(MalformedFileError, match=r"ratings\.csv, line 1.*userId,movieId"):
        load_dataset("ml-25m", root=tmp_path, verify=False)
    write_csv(tmp_path, "userId,movieId,rating,timestamp\n1,2,4.0,1\n1,3,",
              "movieId,title,genres\n1,A (1990),Drama\n")
    with pytest.raises(MalformedFileError, match=r"ratings\.csv, line 3"):
        load_dataset("ml-25m", root=tmp_path, verify=False)
    write_csv(tmp_path, "userId,movieId,rating,timestamp\n1,2,4.0,1\n",
              'movieId,title,genres\n1,A (1990),Drama\n2,"B, The (19')
    with pytest.raises(MalformedFileError, match=r"movies\.csv"):
        load_dataset("ml-25m", root=tmp_path, verify=False)
