import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcl.data import Interactions
from gcl.data.interactions import ids_to_list, ids_to_rows

SETTINGS = settings(max_examples=30, deadline=None)


def pairs_of(inter: Interactions) -> set:
    df = inter.to_pandas()
    return set(zip(df["user"].tolist(), df["item"].tolist()))


def reference_k_core(pairs: set, k: int) -> set:
    """Iterative k-core in plain Python: drop users and items with < k pairs until stable."""
    pairs = set(pairs)
    while True:
        users, items = {}, {}
        for u, i in pairs:
            users[u] = users.get(u, 0) + 1
            items[i] = items.get(i, 0) + 1
        kept = {(u, i) for u, i in pairs if users[u] >= k and items[i] >= k}
        if kept == pairs:
            return kept
        pairs = kept


# ---------------------------------------------------------------------------- from_pandas
def test_from_pandas_numbers_ids_in_sorted_order():
    df = pd.DataFrame({"user": ["b", "a", "c", "a"], "item": [30, 10, 10, 20]})
    inter = Interactions.from_pandas(df)
    assert inter.user_ids.tolist() == ["a", "b", "c"]
    assert inter.item_ids.tolist() == [10, 20, 30]
    # rows come back ordered by (user, item)
    assert inter.users.tolist() == [0, 0, 1, 2]
    assert inter.items.tolist() == [0, 1, 2, 0]
    assert (len(inter), inter.num_users, inter.num_items) == (4, 3, 3)
    assert inter.rating is None and inter.timestamp is None
    assert inter.users.dtype == np.int64 and inter.items.dtype == np.int64
    assert pairs_of(inter) == {("b", 30), ("a", 10), ("c", 10), ("a", 20)}


def test_from_pandas_custom_columns_keep_rating_and_time_with_their_rows():
    df = pd.DataFrame({"uid": [2, 1, 1], "iid": ["y", "x", "y"], "r": [3.0, 5.0, 1.0],
                       "t": [30, 10, 20]})
    inter = Interactions.from_pandas(df, user="uid", item="iid", rating="r", timestamp="t")
    out = inter.to_pandas()
    got = {(u, i): (r, t) for u, i, r, t in out.itertuples(index=False)}
    assert got == {(2, "y"): (3.0, 30), (1, "x"): (5.0, 10), (1, "y"): (1.0, 20)}
    assert list(out.columns) == ["user", "item", "rating", "timestamp"]


def test_duplicates_keep_latest_by_timestamp_not_by_row_position():
    df = pd.DataFrame({"user": [1, 1, 1, 2], "item": [7, 7, 7, 7],
                       "rating": [1.0, 5.0, 3.0, 2.0], "t": [100, 300, 200, 50]})
    inter = Interactions.from_pandas(df, rating="rating", timestamp="t")
    assert len(inter) == 2
    out = inter.to_pandas().set_index("user")
    assert out.loc[1, "rating"] == 5.0 and out.loc[1, "timestamp"] == 300
    assert out.loc[2, "rating"] == 2.0


def test_duplicates_without_timestamp_keep_last_row():
    df = pd.DataFrame({"user": [1, 1, 2, 1], "item": [7, 8, 7, 7], "rating": [1.0, 2.0, 3.0, 4.0]})
    inter = Interactions.from_pandas(df, rating="rating")
    got = {(u, i): r for u, i, r in inter.to_pandas().itertuples(index=False)}
    assert got == {(1, 7): 4.0, (1, 8): 2.0, (2, 7): 3.0}


def test_duplicate_timestamp_ties_keep_last_in_log():
    df = pd.DataFrame({"user": [1, 1], "item": [7, 7], "rating": [1.0, 2.0], "t": [5, 5]})
    inter = Interactions.from_pandas(df, rating="rating", timestamp="t")
    assert inter.rating.tolist() == [2.0]


def test_min_rating_filters_before_building_maps():
    df = pd.DataFrame({"user": [1, 1, 2, 3], "item": [1, 2, 1, 3], "rating": [4, 2, 5, 1]})
    inter = Interactions.from_pandas(df, rating="rating", min_rating=4)
    assert pairs_of(inter) == {(1, 1), (2, 1)}
    assert inter.user_ids.tolist() == [1, 2] and inter.item_ids.tolist() == [1]
    assert inter.rating.tolist() == [4.0, 5.0]


def test_min_rating_errors():
    df = pd.DataFrame({"user": [1], "item": [1], "rating": [1.0]})
    with pytest.raises(ValueError, match="min_rating needs a rating"):
        Interactions.from_pandas(df, min_rating=3)
    with pytest.raises(ValueError, match="no interaction has a rating >= 3"):
        Interactions.from_pandas(df, rating="rating", min_rating=3)


def test_k_core_matches_plain_python_reference(rng):
    users = rng.integers(0, 25, size=300)
    items = rng.integers(0, 30, size=300)
    df = pd.DataFrame({"user": users, "item": items})
    all_pairs = set(zip(users.tolist(), items.tolist()))
    sizes = []
    for k in (1, 2, 3, 5, 8, 12):
        expected = reference_k_core(all_pairs, k)
        sizes.append(len(expected))
        if not expected:
            with pytest.raises(ValueError, match=f"{k}-core"):
                Interactions.from_pandas(df, k_core=k)
            continue
        inter = Interactions.from_pandas(df, k_core=k)
        assert pairs_of(inter) == expected, k
        assert inter.user_ids.tolist() == sorted({u for u, _ in expected})
        assert inter.item_ids.tolist() == sorted({i for _, i in expected})
        if k > 1:
            assert inter.user_counts().min() >= k and inter.item_counts().min() >= k
    # the reference cuts something at some k, and keeps a non-empty core at others
    assert sizes[0] == len(all_pairs) and 0 < sizes[3] < len(all_pairs)


def test_k_core_is_iterative():
    # item 30 has 2 users, but user 3 only has item 30 => dropping user 3 drops item 30 to 1
    # user, which then drops user 1 to one item ... until a 2-core of {1,2} x {10,20} is left
    df = pd.DataFrame({"user": [1, 1, 2, 2, 1, 3], "item": [10, 20, 10, 20, 30, 30]})
    inter = Interactions.from_pandas(df, k_core=2)
    assert pairs_of(inter) == {(1, 10), (1, 20), (2, 10), (2, 20)}


def test_k_core_that_leaves_nothing_raises():
    df = pd.DataFrame({"user": [1, 2], "item": [1, 2]})
    with pytest.raises(ValueError, match="3-core"):
        Interactions.from_pandas(df, k_core=3)


@pytest.mark.parametrize("df, kwargs, exc, match", [
    (pd.DataFrame({"u": [1]}), {"user": "u"}, KeyError, "item column 'item' not found"),
    (pd.DataFrame({"user": [1], "item": [1]}), {"rating": "r"}, KeyError, "rating column"),
    (pd.DataFrame({"user": [1], "item": [1]}), {"timestamp": "t"}, KeyError, "timestamp"),
    (pd.DataFrame({"user": [], "item": []}), {}, ValueError, "empty"),
    (pd.DataFrame({"user": [1.0, np.nan], "item": [1, 2]}), {}, ValueError, "1 missing id"),
    (pd.DataFrame({"user": [1, 2], "item": [None, "a"]}), {}, ValueError, "missing id"),
    (pd.DataFrame({"user": [1, "a"], "item": [1, 2]}), {}, TypeError, "one type"),
    (pd.DataFrame({"user": [1.5, 2.5], "item": [1, 2]}), {}, TypeError, "one type"),
    (pd.DataFrame({"user": [1, 2], "item": [1, 2], "r": ["x", 1]}), {"rating": "r"},
     ValueError, "non-numeric"),
    (pd.DataFrame({"user": [1, 2], "item": [1, 2], "r": [1.0, np.inf]}), {"rating": "r"},
     ValueError, "non-numeric"),
    (pd.DataFrame({"user": [1, 2], "item": [1, 2], "t": [1.0, None]}), {"timestamp": "t"},
     ValueError, "missing values"),
])
def test_from_pandas_rejects_bad_logs(df, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Interactions.from_pandas(df, **kwargs)


def test_from_pandas_rejects_non_dataframe():
    with pytest.raises(TypeError, match="DataFrame"):
        Interactions.from_pandas({"user": [1], "item": [1]})


def test_from_pandas_is_independent_of_row_order(click_df):
    a = Interactions.from_pandas(click_df, rating="rating", timestamp="ts")
    b = Interactions.from_pandas(click_df.iloc[::-1], rating="rating", timestamp="ts")
    np.testing.assert_array_equal(a.users, b.users)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_array_equal(a.rating, b.rating)
    np.testing.assert_array_equal(a.timestamp, b.timestamp)
    assert a.user_ids.equals(b.user_ids) and a.item_ids.equals(b.item_ids)


log_rows = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 8)), min_size=1, max_size=40)


@SETTINGS
@given(rows=log_rows, seed=st.integers(0, 2**31 - 1), string_ids=st.booleans())
def test_property_row_order_does_not_matter(rows, seed, string_ids):
    df = pd.DataFrame(rows, columns=["user", "item"])
    if string_ids:
        df = df.assign(user="u" + df["user"].astype(str), item="i" + df["item"].astype(str))
    a = Interactions.from_pandas(df)
    b = Interactions.from_pandas(df.sample(frac=1.0, random_state=seed % 2**32))
    np.testing.assert_array_equal(a.users, b.users)
    np.testing.assert_array_equal(a.items, b.items)
    assert a.user_ids.equals(b.user_ids) and a.item_ids.equals(b.item_ids)


@SETTINGS
@given(rows=log_rows, string_ids=st.booleans())
def test_property_id_maps_round_trip_via_to_pandas(rows, string_ids):
    df = pd.DataFrame(rows, columns=["user", "item"])
    if string_ids:
        df = df.assign(user="u" + df["user"].astype(str), item="i" + df["item"].astype(str))
    inter = Interactions.from_pandas(df)
    # every distinct pair once, in the user's own ids
    assert pairs_of(inter) == set(zip(df["user"].tolist(), df["item"].tolist()))
    assert len(inter) == len(set(map(tuple, rows)))
    assert inter.user_ids.is_monotonic_increasing and inter.user_ids.is_unique
    assert inter.item_ids.is_monotonic_increasing and inter.item_ids.is_unique
    again = Interactions.from_pandas(inter.to_pandas())
    np.testing.assert_array_equal(again.users, inter.users)
    np.testing.assert_array_equal(again.items, inter.items)
    assert again.user_ids.equals(inter.user_ids) and again.item_ids.equals(inter.item_ids)
    # and the lookups invert the maps
    np.testing.assert_array_equal(inter.user_index(inter.user_ids), np.arange(inter.num_users))
    np.testing.assert_array_equal(inter.item_index(inter.item_ids), np.arange(inter.num_items))


# ---------------------------------------------------------------------------- files
def test_from_csv_passes_read_csv_kwargs(tmp_path, click_df):
    path = tmp_path / "log.csv"
    click_df.to_csv(path, sep=";", index=False)
    inter = Interactions.from_csv(path, rating="rating", timestamp="ts", sep=";")
    ref = Interactions.from_pandas(click_df, rating="rating", timestamp="ts")
    np.testing.assert_array_equal(inter.users, ref.users)
    np.testing.assert_array_equal(inter.items, ref.items)
    np.testing.assert_array_equal(inter.rating, ref.rating)
    np.testing.assert_array_equal(inter.timestamp, ref.timestamp)
    assert inter.user_ids.tolist() == ref.user_ids.tolist()


def test_from_csv_applies_min_rating_and_k_core(tmp_path, click_df):
    path = tmp_path / "log.csv"
    click_df.to_csv(path, index=False)
    inter = Interactions.from_csv(path, rating="rating", min_rating=3, k_core=2)
    ref = Interactions.from_pandas(click_df, rating="rating", min_rating=3, k_core=2)
    assert pairs_of(inter) == pairs_of(ref)


def test_from_parquet(tmp_path, click_df):
    pytest.importorskip("pyarrow")
    path = tmp_path / "log.parquet"
    click_df.to_parquet(path)
    inter = Interactions.from_parquet(path, rating="rating", timestamp="ts", k_core=2)
    ref = Interactions.from_pandas(click_df, rating="rating", timestamp="ts", k_core=2)
    np.testing.assert_array_equal(inter.users, ref.users)
    np.testing.assert_array_equal(inter.items, ref.items)
    np.testing.assert_array_equal(inter.rating, ref.rating)


# ---------------------------------------------------------------------------- networkx
def test_networkx_round_trip_keeps_users_and_items_with_equal_ids_apart():
    df = pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 1], "rating": [5.0, 3.0, 4.0],
                       "t": [10, 20, 30]})
    inter = Interactions.from_pandas(df, rating="rating", timestamp="t")
    g = inter.to_networkx()
    assert g.number_of_nodes() == 4 and g.number_of_edges() == 3
    assert g.nodes[("user", 1)]["bipartite"] == 0 and g.nodes[("item", 1)]["bipartite"] == 1
    assert g.edges[("user", 2), ("item", 1)] == {"rating": 4.0, "timestamp": 30}
    back = Interactions.from_networkx(g)
    np.testing.assert_array_equal(back.users, inter.users)
    np.testing.assert_array_equal(back.items, inter.items)
    np.testing.assert_array_equal(back.rating, inter.rating)
    np.testing.assert_array_equal(back.timestamp, inter.timestamp)
    assert back.user_ids.equals(inter.user_ids) and back.item_ids.equals(inter.item_ids)


def test_networkx_round_trip_of_random_log(small_log):
    back = Interactions.from_networkx(small_log.to_networkx())
    assert pairs_of(back) == pairs_of(small_log)
    np.testing.assert_array_equal(back.rating, small_log.rating)
    np.testing.assert_array_equal(back.timestamp, small_log.timestamp)


def test_networkx_round_trip_of_datetime_timestamps_in_microseconds():
    t = pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]).astype("datetime64[us]")
    df = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"], "t": t})
    inter = Interactions.from_pandas(df, timestamp="t")
    back = Interactions.from_networkx(inter.to_networkx())
    assert back.timestamp.dtype == inter.timestamp.dtype
    np.testing.assert_array_equal(back.timestamp, inter.timestamp)


def test_networkx_round_trip_of_datetime_timestamps_in_nanoseconds():
    t = pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]).astype("datetime64[ns]")
    df = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"], "t": t})
    inter = Interactions.from_pandas(df, timestamp="t")
    back = Interactions.from_networkx(inter.to_networkx())
    assert np.issubdtype(back.timestamp.dtype, np.datetime64)
    np.testing.assert_array_equal(back.timestamp, inter.timestamp)


def test_from_networkx_with_plain_node_ids_and_no_attributes():
    g = nx.Graph()
    g.add_nodes_from(["alice", "bob"], bipartite=0)
    g.add_nodes_from(["book", "film"], bipartite=1)
    g.add_edges_from([("film", "alice"), ("alice", "book"), ("bob", "film")])
    inter = Interactions.from_networkx(g)
    assert pairs_of(inter) == {("alice", "film"), ("alice", "book"), ("bob", "film")}
    assert inter.rating is None and inter.timestamp is None


def test_from_networkx_rejects_bad_graphs():
    g = nx.Graph()
    g.add_node("a", bipartite=0)
    g.add_node("b")
    g.add_edge("a", "b")
    with pytest.raises(ValueError, match="1 node\\(s\\) lack a 'bipartite'"):
        Interactions.from_networkx(g)
    g = nx.Graph()
    g.add_nodes_from(["a", "b"], bipartite=0)
    g.add_edge("a", "b")
    with pytest.raises(ValueError, match="same side"):
        Interactions.from_networkx(g)


# ---------------------------------------------------------------------------- conversions
def test_to_csr_ones_and_ratings(small_log):
    dense = np.zeros((small_log.num_users, small_log.num_items))
    dense_r = np.zeros_like(dense)
    for u, i, r in zip(small_log.users, small_log.items, small_log.rating):
        dense[u, i] = 1.0
        dense_r[u, i] = r
    ones = small_log.to_csr()
    assert ones.shape == (small_log.num_users, small_log.num_items)
    assert ones.dtype == np.float32
    np.testing.assert_array_equal(ones.toarray(), dense)
    np.testing.assert_array_equal(small_log.to_csr("rating").toarray(), dense_r)


def test_to_csr_errors(small_log):
    with pytest.raises(ValueError, match="values must be"):
        small_log.to_csr("timestamp")
    no_rating = Interactions.from_pandas(pd.DataFrame({"user": [1], "item": [2]}))
    with pytest.raises(ValueError, match="no ratings"):
        no_rating.to_csr("rating")


def test_csr_round_trip(small_log):
    back = Interactions.from_csr(small_log.to_csr(), small_log.user_ids, small_log.item_ids)
    assert back.same_maps(small_log)
    np.testing.assert_array_equal(back.users, small_log.users)
    np.testing.assert_array_equal(back.items, small_log.items)
    assert back.rating is None and back.timestamp is None
    rated = Interactions.from_csr(small_log.to_csr("rating"), small_log.user_ids,
                                  small_log.item_ids, values="rating")
    np.testing.assert_array_equal(rated.rating, small_log.rating)
    assert (rated.to_csr("rating") != small_log.to_csr("rating")).nnz == 0


def test_from_csr_numbers_ids_from_zero_and_keeps_empty_rows():
    m = sp.csr_matrix(np.array([[0, 2, 0], [0, 0, 0], [1, 0, 3]]))
    inter = Interactions.from_csr(m)
    assert inter.user_ids.tolist() == [0, 1, 2] and inter.item_ids.tolist() == [0, 1, 2]
    assert list(zip(inter.users.tolist(), inter.items.tolist())) == [(0, 1), (2, 0), (2, 2)]
    assert inter.user_counts().tolist() == [1, 0, 2]
    np.testing.assert_array_equal(inter.to_csr().toarray(), (m.toarray() > 0))
    dense = Interactions.from_csr(m.toarray(), user_ids=["c", "a", "b"], item_ids=[7, 8, 9])
    assert dense.user_ids.tolist() == ["c", "a", "b"]  # in the matrix's order, as given
    assert dense.to_pandas().values.tolist() == [["c", 8], ["b", 7], ["b", 9]]


def test_from_csr_explicit_zeros_and_duplicates():
    coo = sp.coo_matrix((np.array([1.0, 2.0, 0.0]), (np.array([0, 0, 1]), np.array([1, 1, 0]))),
                        shape=(2, 2))
    ones = Interactions.from_csr(coo)  # the stored zero is no interaction
    assert len(ones) == 1
    rated = Interactions.from_csr(coo, values="rating")  # a rating of 0 is a rating
    assert rated.rating.tolist() == [3.0, 0.0]


@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((np.ones(3),), {}, ValueError, "num_users, num_items"),
    ((np.array([["a"]]),), {}, TypeError, "numbers"),
    ((np.ones((2, 2)),), {"user_ids": ["a"]}, ValueError, "1 user ids for a matrix with 2 rows"),
    ((np.ones((2, 2)),), {"item_ids": [1, 1]}, ValueError, "not unique"),
    ((np.ones((2, 2)),), {"user_ids": ["a", 1]}, TypeError, "one type"),
    ((np.ones((2, 2)),), {"user_ids": ["a", None]}, ValueError, "missing"),
    ((np.ones((1, 1)),), {"user_ids": "a"}, TypeError, "sequence of ids"),
    ((np.ones((2, 2)),), {"values": "timestamp"}, ValueError, "values must be"),
    ((np.array([[np.nan]]),), {"values": "rating"}, ValueError, "NaN"),
])
def test_from_csr_rejects_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Interactions.from_csr(*args, **kwargs)


def test_to_hetero_data(small_log):
    data = small_log.to_hetero_data()
    fwd, rev = ("user", "interacts", "item"), ("item", "rev_interacts", "user")
    assert data["user"].num_nodes == small_log.num_users
    assert data["item"].num_nodes == small_log.num_items
    ei = data[fwd].edge_index
    assert ei.dtype == torch.int64
    np.testing.assert_array_equal(ei.numpy(), np.stack([small_log.users, small_log.items]))
    assert torch.equal(data[rev].edge_index, ei.flip(0))
    np.testing.assert_allclose(data[fwd].edge_attr.numpy(), small_log.rating)
    np.testing.assert_array_equal(data[rev].time.numpy(), small_log.timestamp)


def test_to_hetero_data_without_extras():
    inter = Interactions.from_pandas(pd.DataFrame({"user": [1, 2], "item": [3, 3]}))
    data = inter.to_hetero_data()
    store = data["user", "interacts", "item"]
    assert "edge_attr" not in store and "time" not in store
    assert store.edge_index.tolist() == [[0, 1], [0, 0]]


# ---------------------------------------------------------------------------- subsets
def test_select_by_mask_and_positions_keeps_maps(small_log):
    mask = small_log.users % 2 == 0
    sub = small_log.select(mask)
    assert sub.same_maps(small_log)
    assert sub.user_ids is small_log.user_ids or sub.user_ids.equals(small_log.user_ids)
    np.testing.assert_array_equal(sub.users, small_log.users[mask])
    np.testing.assert_array_equal(sub.items, small_log.items[mask])
    np.testing.assert_array_equal(sub.rating, small_log.rating[mask])
    np.testing.assert_array_equal(sub.timestamp, small_log.timestamp[mask])
    pos = np.array([5, 0, 3])
    sub = small_log.select(pos)
    np.testing.assert_array_equal(sub.items, small_log.items[pos])
    assert sub.num_users == small_log.num_users and sub.num_items == small_log.num_items


def test_concat_joins_parts_and_keeps_duplicates_once(small_log):
    a = small_log.select(np.arange(0, 20))
    b = small_log.select(np.arange(10, len(small_log)))
    joined = a.concat(b)
    assert joined.same_maps(small_log)
    assert len(joined) == len(small_log)
    assert pairs_of(joined) == pairs_of(small_log)
    # the first occurrence's values win, and the order of first occurrences is kept
    np.testing.assert_array_equal(joined.users, small_log.users)
    np.testing.assert_array_equal(joined.rating, small_log.rating)


def test_concat_drops_rating_unless_every_part_has_it(small_log):
    a = small_log.select(np.arange(5))
    b = Interactions(small_log.users[5:9], small_log.items[5:9], small_log.user_ids,
                     small_log.item_ids, timestamp=small_log.timestamp[5:9])
    joined = a.concat(b)
    assert joined.rating is None
    np.testing.assert_array_equal(joined.timestamp, small_log.timestamp[:9])


def test_concat_rejects_other_maps(small_log):
    other = Interactions.from_pandas(pd.DataFrame({"user": ["zz"], "item": ["i00"]}))
    with pytest.raises(ValueError, match="share id maps"):
        small_log.concat(other)


# ---------------------------------------------------------------------------- lookups
def test_user_and_item_index():
    inter = Interactions.from_pandas(pd.DataFrame({"user": ["b", "a", "c"],
                                                   "item": [30, 10, 20]}))
    assert inter.user_index(["c", "a"]).tolist() == [2, 0]
    assert inter.user_index(iter(["b"])).tolist() == [1]
    assert inter.item_index(np.array([20, 30])).tolist() == [1, 2]
    assert inter.item_index(pd.Series([10])).tolist() == [0]
    empty = inter.user_index([])
    assert empty.dtype == np.int64 and empty.shape == (0,)
    with pytest.raises(KeyError, match=r"unknown user id\(s\): \['zz'\]"):
        inter.user_index(["a", "zz"])
    with pytest.raises(KeyError, match="and 2 more"):
        inter.item_index(list(range(100, 107)))


def test_ids_to_rows_on_any_id_map():
    index = pd.Index(["x", "y", "z"])
    assert ids_to_rows(index, ["z", "x"]).tolist() == [2, 0]
    with pytest.raises(KeyError, match=r"unknown item id\(s\): \['w'\]"):
        ids_to_rows(index, ["w"], "item")


# ---------------------------------------------------------------------------- misc
def test_counts_and_repr(small_log):
    users = small_log.to_pandas()["user"]
    expected = users.value_counts().reindex(small_log.user_ids).to_numpy()
    np.testing.assert_array_equal(small_log.user_counts(), expected)
    items = small_log.to_pandas()["item"]
    expected = items.value_counts().reindex(small_log.item_ids).to_numpy()
    np.testing.assert_array_equal(small_log.item_counts(), expected)
    sub = small_log.select(small_log.users == 0)
    assert sub.user_counts().shape == (small_log.num_users,)
    assert sub.user_counts()[1:].sum() == 0
    assert repr(small_log) == (f"Interactions({len(small_log)} interactions, 12 users, "
                               f"{small_log.num_items} items, rating, timestamp)")


@pytest.mark.parametrize("kwargs, match", [
    ({"users": [0, 1], "items": [0]}, "same length"),
    ({"users": [0], "items": [0], "rating": [1.0, 2.0]}, "rating must have one value"),
    ({"users": [0], "items": [0], "timestamp": [1, 2]}, "timestamp must have one value"),
    ({"users": [2], "items": [0]}, "user index lies outside"),
    ({"users": [-1], "items": [0]}, "user index lies outside"),
    ({"users": [0], "items": [3]}, "item index lies outside"),
])
def test_constructor_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Interactions(user_ids=pd.Index(["a", "b"]), item_ids=pd.Index([1, 2, 3]), **kwargs)


def test_ids_to_list_gives_plain_python():
    out = ids_to_list(pd.Index(np.array([3, 1], dtype=np.int64)))
    assert out == [3, 1] and all(type(x) is int for x in out)
    assert ids_to_list(["a", "b"]) == ["a", "b"]


# ---------------------------------------------------------------------------- from_hetero_data
def assert_same_log(a: Interactions, b: Interactions) -> None:
    assert a.user_ids.tolist() == b.user_ids.tolist()
    assert a.item_ids.tolist() == b.item_ids.tolist()
    np.testing.assert_array_equal(a.users, b.users)
    np.testing.assert_array_equal(a.items, b.items)
    for name in ("rating", "timestamp"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)


def test_hetero_data_round_trip(small_log):
    data = small_log.to_hetero_data()
    assert data["user"].user_ids == small_log.user_ids.tolist()
    assert data["item"].item_ids == small_log.item_ids.tolist()
    assert_same_log(Interactions.from_hetero_data(data), small_log)
    # The own ids do not get in the way of a homogeneous graph.
    assert data.to_homogeneous().num_nodes == small_log.num_users + small_log.num_items


def test_hetero_data_round_trip_keeps_nodes_without_edges(small_log):
    part = small_log.select(small_log.users < 3)
    back = Interactions.from_hetero_data(part.to_hetero_data())
    assert back.num_users == small_log.num_users and back.num_items == small_log.num_items
    assert_same_log(back, part)


def test_from_hetero_data_of_a_plain_pyg_graph():
    from torch_geometric.data import HeteroData

    data = HeteroData()
    data["user"].num_nodes, data["item"].num_nodes = 3, 4
    data["user", "rates", "item"].edge_index = torch.tensor([[2, 0, 2, 0], [1, 3, 1, 0]])
    data["user", "rates", "item"].edge_attr = torch.tensor([[4.0], [5.0], [2.0], [3.0]])
    data["user", "rates", "item"].time = torch.tensor([10, 20, 30, 40])
    inter = Interactions.from_hetero_data(data)
    assert inter.user_ids.tolist() == [0, 1, 2] and inter.item_ids.tolist() == [0, 1, 2, 3]
    # The duplicate (2, 1) pair is folded into its latest row; rows come in (user, item) order.
    assert list(zip(inter.users, inter.items)) == [(0, 0), (0, 3), (2, 1)]
    np.testing.assert_array_equal(inter.rating, [3.0, 5.0, 2.0])
    np.testing.assert_array_equal(inter.timestamp, [40, 20, 30])
    named = Interactions.from_hetero_data(data, user_ids=["a", "b", "c"],
                                          item_ids=[10, 11, 12, 13])
    assert named.to_pandas()[["user", "item"]].values.tolist() == [
        ["a", 10], ["a", 13], ["c", 11]]


def test_from_hetero_data_errors(small_log):
    data = small_log.to_hetero_data()
    with pytest.raises(ValueError, match="2 user ids for 12 user nodes"):
        Interactions.from_hetero_data(data, user_ids=["a", "b"])
    with pytest.raises(KeyError, match="node types 'customer'"):
        Interactions.from_hetero_data(data, user="customer")
    data["user", "views", "item"].edge_index = torch.tensor([[0], [0]])
    with pytest.raises(ValueError, match="one edge type"):
        Interactions.from_hetero_data(data)
    one = Interactions.from_hetero_data(data, edge_type=("user", "views", "item"))
    assert len(one) == 1


# ---------------------------------------------------------------------------- item text
def test_item_text_column_kept_through_splits():
    df = pd.DataFrame({"user": ["a", "a", "b", "b", "c", "c"],
                       "item": ["x", "y", "x", "z", "y", "z"],
                       "title": ["X old", "Y", None, "Z", "Y", None]})
    inter = Interactions.from_pandas(df, item_text="title")
    # the last non-missing text of each item
    assert inter.item_text.to_dict() == {"x": "X old", "y": "Y", "z": "Z"}
    assert "item_text" in repr(inter)
    for part in (*inter.split("random", ratios=(0.5, 0.5), seed=0), inter.select([0, 1]),
                 inter.concat(inter.select([2]))):
        assert part.item_text is inter.item_text
    assert len(inter.text_only_items()) == 0
    kept = Interactions.from_pandas(df, item_text="title", k_core=2)
    assert set(kept.item_text.index) <= set(kept.item_ids)
    with pytest.raises(KeyError, match="item text column 'name'"):
        Interactions.from_pandas(df, item_text="name")


def test_with_item_text_cold_items_and_errors():
    inter = Interactions.from_pandas(pd.DataFrame({"user": [1, 2], "item": [10, 11]}))
    assert inter.item_text is None and len(inter.text_only_items()) == 0
    texted = inter.with_item_text({10: "a film", 11: "another", 12: "a new film",
                                   13: None})
    assert texted.item_text.to_dict() == {10: "a film", 11: "another", 12: "a new film"}
    assert texted.text_only_items().tolist() == [12]          # the cold item
    assert inter.item_text is None                            # a copy, not in place
    assert texted.with_item_text(None).item_text is None
    with pytest.raises(TypeError, match=r"strings; item id\(s\) \[11\] have \['int'\]"):
        inter.with_item_text({10: "a", 11: 5})
    with pytest.raises(TypeError, match="keyed by string ids but the items' own ids are "
                       "integer"):
        inter.with_item_text({"10": "a"})
    with pytest.raises(ValueError, match="none of item_text's 2 ids is an item"):
        inter.with_item_text({98: "a", 99: "b"})
    with pytest.raises(ValueError, match=r"more than one text for item id\(s\) \[10\]"):
        inter.with_item_text(pd.Series(["a", "b"], index=[10, 10]))
    with pytest.raises(TypeError, match="pd.Series or dict"):
        inter.with_item_text(["a", "b"])
