import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from gcl.datasets import MalformedFileError, load_dataset
from gcl.datasets.sequential import read_sequence_file

DATA = Path(os.environ.get("GCL_DATA_DIR") or "/work/shared/datasets")
HAS_BEAUTY = (DATA / "amazon-beauty" / "train.txt").is_file()



def write(folder: Path, train: str, test: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text(train)
    (folder / "test.txt").write_text(test)
    return folder


@pytest.fixture(scope="module")
def beauty():
    if not HAS_BEAUTY:
        pytest.skip("no shared amazon-beauty")
    mp = pytest.MonkeyPatch()
    mp.setenv("GCL_DATA_DIR", str(DATA))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return load_dataset("amazon-beauty")
    finally:
        mp.undo()


def test_beauty_counts(beauty):
    inter, train, test = beauty.interactions, beauty.splits["train"], beauty.splits["test"]
    # The counts of the README of the shared copy: 22,363 users, 12,101 items, 198,502.
    assert (inter.num_users, inter.num_items, len(inter)) == (22_363, 12_101, 198_502)
    assert (len(train), len(test)) == (198_502 - 22_363, 22_363)
    assert train.same_maps(inter) and test.same_maps(inter)
    assert (test.user_counts() == 1).all()
    # The test item is each user's last: its position is the user's largest.
    last = np.zeros(inter.num_users, dtype=np.int64)
    np.maximum.at(last, inter.users, inter.timestamp)
    np.testing.assert_array_equal(test.timestamp, last[test.users])
    np.testing.assert_array_equal(last + 1, inter.user_counts())


def test_beauty_leave_one_out_reproduces_split(beauty):
    split = pytest.importorskip("gcl.data.split")
    _, test = split.leave_one_out(beauty.interactions, valid=False)
    np.testing.assert_array_equal(test.users, beauty.splits["test"].users)
    np.testing.assert_array_equal(test.items, beauty.splits["test"].items)


def test_small_sequences_positions(tmp_path):
    write(tmp_path / "seq", "1:5 3 7\n2:3\n\n4:\n", "1:9\n2:5\n")
    ds = load_dataset(tmp_path / "seq")  # sniffed as sequential from the ':' lines
    assert ds.name == "seq"
    df = ds.interactions.to_pandas().sort_values(["user", "timestamp"])
    assert df.values.tolist() == [[1, 5, 0], [1, 3, 1], [1, 7, 2], [1, 9, 3],
                                  [2, 3, 0], [2, 5, 1]]
    assert ds.interactions.user_ids.tolist() == [1, 2]  # user 4 has no item
    test = ds.splits["test"].to_pandas().sort_values("user")
    assert test.values.tolist() == [[1, 9, 3], [2, 5, 1]]
    assert len(ds.splits["train"]) == 4 and ds.interactions.rating is None


def test_amazon_beauty_name_with_root(tmp_path):
    write(tmp_path, "1:2 3\n", "1:4\n")
    with pytest.raises(ValueError, match=r"checksum mismatch.*train\.txt"):
        load_dataset("amazon-beauty", root=tmp_path)
    ds = load_dataset("amazon-beauty", root=tmp_path, verify=False)
    assert ds.name == "amazon-beauty" and ds.interactions.timestamp.tolist() == [0, 1, 2]


@pytest.mark.parametrize("bad", ["1:2 3\n2 5 6\n", "1:2 3\nx:5\n", "1:2 3\n2:5 -6\n"])
def test_malformed_line(tmp_path, bad):
    (tmp_path / "train.txt").write_text(bad)
    with pytest.raises(MalformedFileError, match=r"train\.txt, line 2"):
        read_sequence_file(tmp_path / "train.txt")


def test_empty_file(tmp_path):
    (tmp_path / "test.txt").write_text("")
    with pytest.raises(MalformedFileError, match="no interaction"):
        read_sequence_file(tmp_path / "test.txt")
