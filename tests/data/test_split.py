import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gcl.data import Interactions, leave_one_out, random_split, temporal_split
from gcl.data.split import split

SETTINGS = settings(max_examples=30, deadline=None)


def keyset(inter: Interactions) -> set:
    return set(zip(inter.users.tolist(), inter.items.tolist()))


def per_user(inter: Interactions) -> dict:
    out: dict = {}
    for u, i in zip(inter.users.tolist(), inter.items.tolist()):
        out.setdefault(u, set()).add(i)
    return out


def assert_partition(whole: Interactions, parts) -> None:
    for p in parts:
        assert p.same_maps(whole)
    assert sum(len(p) for p in parts) == len(whole)
    union = set().union(*(keyset(p) for p in parts))
    assert union == keyset(whole)


def log_with_user_sizes(sizes, num_items=None, seed=0) -> Interactions:
    """User u has sizes[u] distinct items and timestamps all distinct."""
    gen = np.random.default_rng(seed)
    num_items = num_items or max(sizes) + 3
    rows = [(u, int(i)) for u, n in enumerate(sizes)
            for i in gen.choice(num_items, size=n, replace=False)]
    df = pd.DataFrame(rows, columns=["user", "item"])
    df["t"] = gen.permutation(len(df))
    return Interactions.from_pandas(df, timestamp="t")


def expected_random_counts(n: int, ratios) -> list[int]:
    """The per-user sizes the module docstring promises for random_split."""
    r = [x / sum(ratios) for x in ratios]
    later = [math.floor(rk * n + 1e-9) for rk in r[1:]]
    for k in reversed(range(len(later))):  # test first, then valid
        if later[k] == 0 and r[k + 1] > 0 and n - sum(later) >= 2:
            later[k] = 1
    return [n - sum(later)] + later


# ---------------------------------------------------------------------------- random_split
def test_random_split_documented_few_interaction_cases():
    inter = log_with_user_sizes([1, 2, 3, 4, 9, 10, 20, 25])
    train, valid, test = random_split(inter, (0.8, 0.1, 0.1), seed=3)
    assert_partition(inter, (train, valid, test))
    counts = [p.user_counts() for p in (train, valid, test)]
    got = {u: [int(c[u]) for c in counts] for u in range(inter.num_users)}
    assert got[0] == [1, 0, 0]  # one interaction: stays in train
    assert got[1] == [1, 0, 1]  # two: one train, one test
    assert got[2] == [1, 1, 1]  # n >= 3: one valid and one test item
    assert got[3] == [2, 1, 1]
    assert got[4] == [7, 1, 1]
    assert got[5] == [8, 1, 1]
    assert got[6] == [16, 2, 2]
    assert got[7] == [21, 2, 2]


@pytest.mark.parametrize("ratios", [(0.8, 0.1, 0.1), (0.7, 0.2, 0.1), (0.5, 0.25, 0.25),
                                    (0.8, 0.2), (4, 1), (0.9, 0.0, 0.1), (0.6, 0.4, 0.0)])
def test_random_split_sizes_follow_the_documented_rule(ratios):
    sizes = [1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 17, 30]
    inter = log_with_user_sizes(sizes, seed=1)
    parts = random_split(inter, ratios, seed=0)
    assert len(parts) == len(ratios)
    assert_partition(inter, parts)
    counts = np.stack([p.user_counts() for p in parts], axis=1)
    for u, n in enumerate(sizes):
        assert counts[u].tolist() == expected_random_counts(n, ratios), (u, n)
    for k, r in enumerate(ratios):
        if r == 0:
            assert len(parts[k]) == 0


def test_random_split_is_seeded(small_log):
    a = random_split(small_log, seed=5)
    b = random_split(small_log, seed=5)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.users, y.users)
        np.testing.assert_array_equal(x.items, y.items)
        np.testing.assert_array_equal(x.rating, y.rating)
    others = [keyset(random_split(small_log, seed=s)[2]) for s in range(6, 10)]
    assert any(o != keyset(a[2]) for o in others)


@pytest.mark.parametrize("ratios", [(1.0,), (0.8, -0.1, 0.3), (0.0, 0.5, 0.5),
                                    ((0.8, 0.2), (0.1, 0.1)), ()])
def test_random_split_rejects_bad_ratios(small_log, ratios):
    with pytest.raises(ValueError, match="ratios"):
        random_split(small_log, ratios)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("ratios", [(0.8, float("nan"), 0.1), (0.7, 0.1, 0.1, 0.1)])
def test_random_split_rejects_nan_and_too_many_ratios(small_log, ratios):
    with pytest.raises(ValueError, match="ratios"):
        random_split(small_log, ratios)


rows_strategy = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 11)), min_size=1,
                         max_size=60)


@SETTINGS
@given(rows=rows_strategy, seed=st.integers(0, 10_000),
       ratios=st.sampled_from([(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (0.8, 0.2), (0.5, 0.5)]))
def test_property_random_split_never_leaks_train_into_test(rows, seed, ratios):
    inter = Interactions.from_pandas(pd.DataFrame(rows, columns=["user", "item"]))
    parts = random_split(inter, ratios, seed=seed)
    assert_partition(inter, parts)
    for a in range(len(parts)):
        for b in range(a + 1, len(parts)):
            assert not keyset(parts[a]) & keyset(parts[b])
    counts = np.stack([p.user_counts() for p in parts], axis=1)
    for u, n in enumerate(inter.user_counts()):
        assert counts[u].tolist() == expected_random_counts(int(n), ratios)


# ---------------------------------------------------------------------------- leave_one_out
def reference_leave_one_out(inter: Interactions, valid: bool, min_train: int):
    """Per user: rows ordered by (time, position in the log); last -> test, previous -> valid."""
    parts = 2 if valid else 1
    by_user: dict = {}
    for pos, (u, t) in enumerate(zip(inter.users.tolist(), inter.timestamp.tolist())):
        by_user.setdefault(u, []).append((t, pos))
    out = [set() for _ in range(parts + 1)]
    for rows in by_user.values():
        order = [p for _, p in sorted(rows)]
        if len(order) < min_train + parts:
            out[0].update(order)
            continue
        out[-1].add(order[-1])
        if valid:
            out[1].add(order[-2])
        out[0].update(order[:-parts])
    return [sorted(s) for s in out]


@pytest.mark.parametrize("valid", [True, False])
@pytest.mark.parametrize("min_train", [1, 2, 4])
def test_leave_one_out_matches_reference(valid, min_train):
    inter = log_with_user_sizes([1, 2, 3, 4, 5, 6, 9], seed=2)
    parts = leave_one_out(inter, valid=valid, min_train=min_train)
    assert len(parts) == (3 if valid else 2)
    assert_partition(inter, parts)
    expected = reference_leave_one_out(inter, valid, min_train)
    for p, rows in zip(parts, expected):
        np.testing.assert_array_equal(p.users, inter.users[rows])
        np.testing.assert_array_equal(p.items, inter.items[rows])
        np.testing.assert_array_equal(p.timestamp, inter.timestamp[rows])


def test_leave_one_out_holds_out_the_latest_and_keeps_small_users_in_train():
    df = pd.DataFrame({"user": ["a"] * 4 + ["b"] * 2,
                       "item": [1, 2, 3, 4, 1, 2],
                       "t": [40, 10, 30, 20, 5, 6]})
    inter = Interactions.from_pandas(df, timestamp="t")
    train, valid, test = leave_one_out(inter)
    as_ids = lambda p: set(zip(p.to_pandas()["user"], p.to_pandas()["item"]))  # noqa: E731
    assert as_ids(test) == {("a", 1)}
    assert as_ids(valid) == {("a", 3)}
    # b has 2 < min_train + 2 = 3 interactions: trained on, never evaluated
    assert as_ids(train) == {("a", 2), ("a", 4), ("b", 1), ("b", 2)}


def test_leave_one_out_ties_keep_log_order():
    # rows are stored in (user, item) order, so with equal times the larger item is "last"
    df = pd.DataFrame({"user": [0, 0, 0], "item": [9, 5, 7], "t": [1, 1, 1]})
    inter = Interactions.from_pandas(df, timestamp="t")
    train, valid, test = leave_one_out(inter)
    assert test.to_pandas()["item"].tolist() == [9]
    assert valid.to_pandas()["item"].tolist() == [7]
    assert train.to_pandas()["item"].tolist() == [5]


def test_leave_one_out_with_datetimes():
    df = pd.DataFrame({"user": [1, 1, 1], "item": [1, 2, 3],
                       "t": pd.to_datetime(["2021-03-01", "2020-01-01", "2022-05-05"])})
    train, valid, test = leave_one_out(Interactions.from_pandas(df, timestamp="t"))
    assert test.to_pandas()["item"].tolist() == [3]
    assert valid.to_pandas()["item"].tolist() == [1]


def test_leave_one_out_needs_timestamps():
    inter = Interactions.from_pandas(pd.DataFrame({"user": [1], "item": [1]}))
    with pytest.raises(ValueError, match="needs timestamps"):
        leave_one_out(inter)


# ---------------------------------------------------------------------------- temporal
@pytest.mark.parametrize("ratios", [(0.8, 0.1, 0.1), (0.5, 0.3, 0.2), (0.7, 0.3)])
def test_temporal_split_cuts_at_global_quantiles(small_log, ratios):
    parts = temporal_split(small_log, ratios)
    assert len(parts) == len(ratios)
    assert_partition(small_log, parts)
    e = len(small_log)
    cuts = [0] + [round(sum(ratios[: k + 1]) / sum(ratios) * e) for k in range(len(ratios) - 1)]
    cuts.append(e)
    times = np.sort(small_log.timestamp)  # distinct in the fixture
    for k, p in enumerate(parts):
        assert len(p) == cuts[k + 1] - cuts[k]
        np.testing.assert_array_equal(np.sort(p.timestamp), times[cuts[k]:cuts[k + 1]])


def test_temporal_split_allows_cold_start_users():
    df = pd.DataFrame({"user": [1, 1, 1, 1, 2], "item": [1, 2, 3, 4, 1],
                       "t": [1, 2, 3, 4, 5]})
    inter = Interactions.from_pandas(df, timestamp="t")
    train, test = temporal_split(inter, (0.8, 0.2))
    assert train.to_pandas()["user"].tolist() == [1, 1, 1, 1]
    assert test.to_pandas()["user"].tolist() == [2]
    assert train.user_counts()[inter.user_index([2])[0]] == 0


def test_temporal_split_errors(small_log):
    inter = Interactions.from_pandas(pd.DataFrame({"user": [1], "item": [1]}))
    with pytest.raises(ValueError, match="needs timestamps"):
        temporal_split(inter)
    with pytest.raises(ValueError, match="ratios"):
        temporal_split(small_log, (0.0, 1.0))


# ---------------------------------------------------------------------------- dispatcher
def test_split_dispatches(small_log):
    for method, fn, kwargs in [("random", random_split, {"seed": 4, "ratios": (0.6, 0.4)}),
                               ("leave_one_out", leave_one_out, {"valid": False}),
                               ("temporal", temporal_split, {"ratios": (0.5, 0.2, 0.3)})]:
        for got in (split(small_log, method, **kwargs), small_log.split(method, **kwargs)):
            want = fn(small_log, **kwargs)
            assert len(got) == len(want)
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g.users, w.users)
                np.testing.assert_array_equal(g.items, w.items)


def test_split_default_is_random(small_log):
    got, want = small_log.split(), random_split(small_log)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.items, w.items)


def test_split_rejects_unknown_method(small_log):
    with pytest.raises(ValueError, match="unknown split method 'kfold'"):
        split(small_log, "kfold")
