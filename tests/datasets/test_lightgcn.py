import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from gcl.datasets import ChecksumError, MalformedFileError, load_dataset
from gcl.datasets.lightgcn import load_lightgcn, read_lightgcn_file

DATA = Path(os.environ.get("GCL_DATA_DIR") or "/work/shared/datasets")
HAS_GOWALLA = (DATA / "gowalla" / "train.txt").is_file()



def pairs(inter):
    df = inter.to_pandas()
    return sorted(zip(df["user"].tolist(), df["item"].tolist()))


def write(folder: Path, train: str, test: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text(train)
    (folder / "test.txt").write_text(test)
    return folder


@pytest.fixture(scope="module")
def gowalla():
    if not HAS_GOWALLA:
        pytest.skip("no shared gowalla")
    mp = pytest.MonkeyPatch()
    mp.setenv("GCL_DATA_DIR", str(DATA))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # checksums recorded: no warning expected
            return load_dataset("gowalla")
    finally:
        mp.undo()


def test_gowalla_counts(gowalla):
    inter, train, test = gowalla.interactions, gowalla.splits["train"], gowalla.splits["test"]
    assert (inter.num_users, inter.num_items) == (29_858, 40_981)
    assert (len(train), len(test)) == (810_128, 217_242)
    assert len(inter) == 810_128 + 217_242
    assert train.same_maps(inter) and test.same_maps(inter)
    # LightGCN's ids are already 0..n-1, so they equal the internal indices.
    np.testing.assert_array_equal(inter.user_ids, np.arange(29_858))
    np.testing.assert_array_equal(inter.item_ids, np.arange(40_981))
    assert inter.rating is None and inter.timestamp is None and gowalla.item_text is None
    keys = lambda x: set((x.users * x.num_items + x.items).tolist())  # noqa: E731
    assert not keys(train) & keys(test)
    assert (test.user_counts() > 0).all()


def test_gowalla_first_line_unchanged(gowalla):
    first = (DATA / "gowalla" / "test.txt").read_text().splitlines()[0].split()
    user, items = int(first[0]), sorted(map(int, first[1:]))
    test = gowalla.splits["test"]
    got = test.item_ids.take(test.items[test.users == test.user_index([user])[0]])
    assert sorted(got.tolist()) == items


def test_gowalla_by_path(gowalla):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_dataset(DATA / "gowalla")
    assert ds.name == "gowalla" and ds.path == DATA / "gowalla"
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 810_128, "test": 217_242}
    np.testing.assert_array_equal(ds.splits["test"].items, gowalla.splits["test"].items)


def test_small_folder(tmp_path):
    write(tmp_path / "toy", "0 1 2\n1 2\n5\n3 2 2\n", "0 3\n1 0\n4\n")
    ds = load_dataset(str(tmp_path / "toy"))
    assert ds.name == "toy"
    inter = ds.interactions
    # User 4's and 5's lines list no items: they have no interaction and are not mapped.
    assert inter.user_ids.tolist() == [0, 1, 3] and inter.item_ids.tolist() == [0, 1, 2, 3]
    assert pairs(inter) == [(0, 1), (0, 2), (0, 3), (1, 0), (1, 2), (3, 2)]
    assert pairs(ds.splits["train"]) == [(0, 1), (0, 2), (1, 2), (3, 2)]
    assert pairs(ds.splits["test"]) == [(0, 3), (1, 0)]
    assert all(s.same_maps(inter) for s in ds.splits.values())
    assert "splits=train:4/test:2" in repr(ds)


def test_string_and_pathlike_agree(tmp_path):
    write(tmp_path, "0 1\n", "0 2\n")
    a, b = load_dataset(tmp_path), load_lightgcn(str(tmp_path), name="x")
    assert pairs(a.interactions) == pairs(b.interactions) and b.name == "x"


def test_malformed_token_names_line(tmp_path):
    write(tmp_path, "0 1 2\n1 2 3x\n", "0 3\n")
    with pytest.raises(MalformedFileError, match=r"train\.txt, line 2.*'1 2 3x'"):
        load_dataset(tmp_path)


def test_negative_id_and_empty_file(tmp_path):
    (tmp_path / "a.txt").write_text("0 1\n\n2 -3\n")
    with pytest.raises(MalformedFileError, match=r"a\.txt, line 3.*negative"):
        read_lightgcn_file(tmp_path / "a.txt")
    (tmp_path / "b.txt").write_text("\n")
    with pytest.raises(ValueError, match=r"b\.txt.*no user line"):
        read_lightgcn_file(tmp_path / "b.txt")


def test_missing_test_file(tmp_path):
    (tmp_path / "train.txt").write_text("0 1\n")
    with pytest.raises(FileNotFoundError, match="test.txt"):
        load_lightgcn(tmp_path)


def test_registered_name_with_root(tmp_path):
    write(tmp_path, "0 1 2\n1 0\n", "0 3\n")
    with pytest.warns(UserWarning, match="could not be checked against a recorded checksum"):
        ds = load_dataset("yelp2018", root=tmp_path)
    assert ds.name == "yelp2018" and len(ds.interactions) == 4
    # gowalla records checksums: hand-written files fail them unless verify=False.
    with pytest.raises(ChecksumError, match=r"train\.txt.*verify=False"):
        load_dataset("gowalla", root=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_dataset("gowalla", root=tmp_path, verify=False).interactions) == 4


def test_root_with_a_path_is_an_error(tmp_path):
    write(tmp_path, "0 1\n", "0 2\n")
    with pytest.raises(ValueError, match="root="):
        load_dataset(tmp_path, root=tmp_path)
