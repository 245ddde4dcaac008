"""Click logs as teams have them: ISO or formatted text times, repeated clicks, counts."""
import logging

import numpy as np
import pandas as pd
import pytest

from gcl import Interactions


def _clicks(times) -> pd.DataFrame:
    return pd.DataFrame({"user": ["a", "a", "b", "b", "a"], "item": ["x", "y", "x", "x", "x"],
                         "t": times})


def test_iso_text_times_are_parsed_and_ordered():
    df = _clicks(["2024-05-01T10:00:00Z", "2024-05-01T11:00:00+02:00", "2024-05-02",
                  "2024-05-03 10:00", "2024-04-01"])
    inter = Interactions.from_pandas(df, timestamp="t")
    assert np.issubdtype(inter.timestamp.dtype, np.datetime64)
    # (a, x) keeps its latest click; +02:00 is converted to UTC
    got = dict(zip(zip(inter.to_pandas()["user"], inter.to_pandas()["item"]), inter.timestamp))
    assert got[("a", "x")] == np.datetime64("2024-05-01T10:00:00")
    assert got[("a", "y")] == np.datetime64("2024-05-01T09:00:00")
    assert got[("b", "x")] == np.datetime64("2024-05-03T10:00:00")
    train, test = inter.split("temporal", ratios=(0.67, 0.33))
    assert test.timestamp.min() >= train.timestamp.max()


def test_numeric_text_times_become_numbers():
    inter = Interactions.from_pandas(_clicks(["5", "2", "4", "3", "1"]), timestamp="t")
    assert np.issubdtype(inter.timestamp.dtype, np.number)
    assert sorted(inter.timestamp.tolist()) == [2, 4, 5]


def test_time_format_reads_day_first_times():
    df = _clicks(["02/05/2020 10:00", "01/05/2020 10:00", "03/05/2020 10:00",
                  "04/05/2020 09:30", "01/01/2020 00:00"])
    inter = Interactions.from_pandas(df, timestamp="t", time_format="%d/%m/%Y %H:%M")
    assert np.datetime64("2020-05-04T09:30") in inter.timestamp
    assert np.datetime64("2020-05-02T10:00") in inter.timestamp  # day first, not May 2


def test_non_iso_text_names_the_column_and_first_bad_value():
    with pytest.raises(ValueError, match=r"timestamp column 't': '5/1/2020' \(row 0.*"
                                         r"time_format"):
        Interactions.from_pandas(_clicks(["5/1/2020"] * 5), timestamp="t")
    df = _clicks(["2024-05-01", "2024-05-02", "soon", "2024-05-03", "later"])
    with pytest.raises(ValueError, match=r"'soon' \(row 2, 2 such value"):
        Interactions.from_pandas(df, timestamp="t")
    with pytest.raises(ValueError, match=r"'x' \(row 4.*does not match time_format"):
        Interactions.from_pandas(_clicks(["01/05/2020"] * 4 + ["x"]), timestamp="t",
                                 time_format="%d/%m/%Y")
    with pytest.raises(ValueError, match="time_format needs a timestamp column"):
        Interactions.from_pandas(_clicks([1, 2, 3, 4, 5]), time_format="%Y")


def test_iso_times_from_csv(tmp_path):
    path = tmp_path / "clicks.csv"
    _clicks(["2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-02T00:00:00Z",
             "2024-05-03T00:00:00Z", "2024-04-01T00:00:00Z"]).to_csv(path, index=False)
    inter = Interactions.from_csv(path, timestamp="t", weights="count")
    assert np.issubdtype(inter.timestamp.dtype, np.datetime64)
    assert sorted(inter.weights.tolist()) == [1.0, 2.0, 2.0]


def test_duplicates_folded_are_counted_and_logged(caplog):
    with caplog.at_level(logging.INFO, logger="gcl.data"):
        inter = Interactions.from_pandas(_clicks([1, 2, 3, 4, 5]), timestamp="t")
    assert inter.duplicates_folded == 2 and len(inter) == 3
    assert inter.weights is None
    assert any("2 duplicate (user, item) rows folded: 5 rows became 3" in r.getMessage()
               and r.name == "gcl.data" for r in caplog.records)
    assert Interactions.from_pandas(_clicks([1, 2, 3, 4, 5]).iloc[:2]).duplicates_folded == 0


def test_count_weights_follow_the_log_through_splits():
    gen = np.random.default_rng(0)
    df = pd.DataFrame({"user": gen.integers(0, 20, 400).astype(str),
                       "item": gen.integers(0, 15, 400).astype(str)})
    inter = Interactions.from_pandas(df, weights="count")
    counts = df.groupby(["user", "item"]).size()
    pairs = list(zip(inter.user_ids[inter.users], inter.item_ids[inter.items]))
    np.testing.assert_array_equal(inter.weights, counts.loc[pairs].to_numpy())
    assert inter.duplicates_folded == len(df) - len(inter)
    train, test = inter.split("random", ratios=(0.8, 0.2), seed=0)
    for part in (train, test):
        sub = list(zip(part.user_ids[part.users], part.item_ids[part.items]))
        np.testing.assert_array_equal(part.weights, counts.loc[sub].to_numpy())
    assert len(train.concat(test).weights) == len(inter)
    assert "weights" in repr(inter)
    with pytest.raises(ValueError, match="weights must be None or one of"):
        Interactions.from_pandas(df, weights="sum")
