"""The table of bad inputs, everywhere in the package, and what each gets: a clear error
that names what is wrong, or a documented behaviour (a warning, a fold, a filter). None
gets a silent wrong result.

Untrusted files that are tested elsewhere, not here: crafted and truncated model files
(tests/test_recommender.py::test_load_rejects_foreign_and_malicious_files), crafted and
truncated checkpoints (tests/test_checkpoint.py), archives with ``..``, absolute, link and
special members and downloads with a wrong sha256 (tests/datasets/test_download.py), an
export whose file was changed after it was written (tests/test_export.py).
"""
import json

import numpy as np
import pandas as pd
import pytest

from gcl import GraphCLRecommender, Interactions
from gcl.export import load_export, sha256_file

NAN = float("nan")


def frame(**cols):
    return pd.DataFrame(cols)


GOOD = dict(user=["a", "a", "b", "c"], item=["x", "y", "x", "z"])

# ---------------------------------------------------------------------------- click logs
# (case, DataFrame, from_pandas keyword arguments, exception, message)
LOG_ERRORS = [
    ("empty log", frame(user=[], item=[]), {}, ValueError, "the click log is empty"),
    ("missing column", frame(user=["a"], item=["x"]), {"user": "uid"}, KeyError,
     r"user column 'uid' not found in the log; its columns are \['user', 'item'\]"),
    ("misnamed column (case)", frame(User=["a"], item=["x"]), {}, KeyError,
     r"user column 'user' not found in the log; its columns are \['User', 'item'\]"),
    ("rating column missing", frame(**GOOD), {"rating": "stars"}, KeyError,
     "rating column 'stars' not found"),
    ("user and item the same column", frame(**GOOD), {"item": "user"}, ValueError,
     "the user and item columns must differ"),
    ("NaN user id", frame(user=["a", NAN], item=["x", "y"]), {}, ValueError,
     r"column 'user' holds 1 missing id\(s\) \(NaN/None\)"),
    ("None item id", frame(user=["a", "b"], item=["x", None]), {}, ValueError,
     r"column 'item' holds 1 missing id\(s\)"),
    ("mixed-type ids", frame(user=[1, "a"], item=["x", "y"]), {}, TypeError,
     "must hold ids of one type"),
    ("float ids", frame(user=[1.0, 2.5], item=["x", "y"]), {}, TypeError,
     "found 'floating'"),
    ("boolean ids", frame(user=[True, False], item=["x", "y"]), {}, TypeError,
     "found 'boolean'"),
    ("NaN rating", frame(**GOOD, r=[1, NAN, 2, 3]), {"rating": "r"}, ValueError,
     "rating column 'r' holds non-numeric or missing values"),
    ("text rating", frame(**GOOD, r=["1", "five", "2", "3"]), {"rating": "r"}, ValueError,
     "non-numeric or missing"),
    ("infinite rating", frame(**GOOD, r=[1, np.inf, 2, 3]), {"rating": "r"}, ValueError,
     "non-numeric or missing"),
    ("missing timestamp", frame(**GOOD, t=[1, 2, None, 4]), {"timestamp": "t"}, ValueError,
     "timestamp column 't' holds missing values"),
    ("text timestamps", frame(**GOOD, t=["5/1/2020", "12/1/2019", "1/1/2021", "2/2/2020"]),
     {"timestamp": "t"}, TypeError, "must hold numbers or datetimes, found 'string'"),
    ("mixed timestamps", frame(**GOOD, t=[1, "x", 3, 4]), {"timestamp": "t"}, TypeError,
     "must hold numbers or datetimes"),
    ("min_rating without ratings", frame(**GOOD), {"min_rating": 3}, ValueError,
     "min_rating needs a rating column"),
    ("min_rating NaN", frame(**GOOD, r=[1, 2, 3, 4]), {"rating": "r", "min_rating": NAN},
     ValueError, "min_rating must be a finite number"),
    ("min_rating that drops every row", frame(**GOOD, r=[1, 2, 3, 4]),
     {"rating": "r", "min_rating": 5}, ValueError, "no interaction has a rating >= 5"),
    ("negative k_core", frame(**GOOD), {"k_core": -2}, ValueError,
     "k_core must be an integer >= 0"),
    ("fractional k_core", frame(**GOOD), {"k_core": 2.5}, ValueError,
     "k_core must be an integer >= 0"),
    ("k_core that leaves nothing", frame(**GOOD), {"k_core": 3}, ValueError,
     "no user or item is left after 3-core filtering"),
]


@pytest.mark.parametrize("case, df, kwargs, exc, match", LOG_ERRORS,
                         ids=[row[0] for row in LOG_ERRORS])
def test_bad_log_raises_a_clear_error(case, df, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Interactions.from_pandas(df, **kwargs)


def test_one_row_log_builds_but_cannot_be_trained():
    one = Interactions.from_pandas(frame(user=["a"], item=["x"]))
    assert (len(one), one.num_users, one.num_items) == (1, 1, 1)
    train, valid, test = one.split("random")  # documented: a user with one row stays in train
    assert (len(train), len(valid), len(test)) == (1, 0, 0)
    with pytest.raises(ValueError, match=r"the train log has 1 item\(s\): there is nothing "
                                         "to rank"):
        GraphCLRecommender(device="cpu", progress=False).fit(train)
    with pytest.raises(ValueError, match="the valid log is empty: pass valid=None"):
        GraphCLRecommender(device="cpu", progress=False).fit(
            Interactions.from_pandas(frame(**GOOD)), valid=Interactions.from_pandas(
                frame(**GOOD)).select(np.zeros(4, bool)))


def test_negative_ratings_are_kept_with_a_warning_and_min_rating_drops_them():
    df = frame(**GOOD, r=[-1.0, 4, 5, -2])
    with pytest.warns(UserWarning, match=r"holds 2 negative rating\(s\); they are kept, and "
                                         "every row counts as a positive interaction"):
        kept = Interactions.from_pandas(df, rating="r")
    assert len(kept) == 4 and sorted(kept.rating) == [-2, -1, 4, 5]
    liked = Interactions.from_pandas(df, rating="r", min_rating=0)
    assert len(liked) == 2 and (liked.rating > 0).all()


def test_duplicate_rows_fold_into_the_latest():
    df = frame(user=["a", "a", "a", "b"], item=["x", "x", "y", "x"], r=[1.0, 5, 3, 2],
               t=[20, 10, 5, 1])
    inter = Interactions.from_pandas(df, rating="r", timestamp="t")
    assert len(inter) == 3
    kept = inter.to_pandas().set_index(["user", "item"])
    assert kept.loc[("a", "x"), "rating"] == 1.0  # the row at t=20, not the last row


def test_users_and_items_that_vanish_after_filtering_are_unknown_ids():
    df = frame(user=["a", "a", "b", "c", "c", "d"], item=["x", "y", "x", "y", "z", "x"],
               r=[5, 5, 5, 5, 5, 1.0])
    inter = Interactions.from_pandas(df, rating="r", min_rating=3)
    assert "d" not in inter.user_ids  # its only row was filtered out
    rec = GraphCLRecommender(dim=4, layers=1, epochs=1, device="cpu", progress=False)
    rec.fit(inter)
    with pytest.raises(KeyError, match=r"unknown user id\(s\): \['d'\]"):
        rec.recommend(["a", "d"], k=1)
    cored = Interactions.from_pandas(frame(user=["a", "a", "b", "b", "c", "c", "d"],
                                           item=["x", "y", "x", "y", "x", "y", "z"]), k_core=2)
    assert cored.user_ids.tolist() == ["a", "b", "c"] and cored.item_ids.tolist() == ["x", "y"]


# ---------------------------------------------------------------------------- splits, fit
def test_a_split_that_leaves_users_without_train_items_warns_at_fit():
    df = frame(user=["a", "a", "b", "b", "c", "d"], item=["x", "y", "x", "z", "y", "z"],
               t=[1, 2, 3, 4, 5, 6])
    train, test = Interactions.from_pandas(df, timestamp="t").split("temporal",
                                                                    ratios=(0.6, 0.4))
    assert set(train.user_ids[train.users]) == {"a", "b"}  # c, d only after the cut
    with pytest.warns(RuntimeWarning, match=r"2 of 4 users have no train interaction \(e.g. "
                                            r"\['c', 'd'\]\): their vectors are never "
                                            "trained"):
        GraphCLRecommender(dim=4, layers=1, epochs=1, device="cpu", progress=False).fit(train)


@pytest.fixture(scope="module")
def log():
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{int(i)}", t) for u in range(20)
            for t, i in enumerate(rng.choice(25, 6, replace=False))]
    return Interactions.from_pandas(pd.DataFrame(rows, columns=["user", "item", "t"]),
                                    timestamp="t")


@pytest.fixture(scope="module")
def fitted(log):
    train, valid, test = log.split("random", seed=0)
    rec = GraphCLRecommender(dim=4, layers=1, epochs=2, device="cpu", progress=False)
    return rec.fit(train, valid=valid), test


@pytest.mark.parametrize("call, exc, match", [
    (lambda log: log.split("sideways"), ValueError, "unknown split method 'sideways'"),
    (lambda log: log.split("random", ratios=(0, 1)), ValueError, "train > 0"),
    (lambda log: log.split("random", ratios=(0.5, NAN)), ValueError, "ratios must be"),
    (lambda log: log.select(np.arange(len(log))[:0]).split("leave_one_out"), ValueError,
     None),
    (lambda log: Interactions(log.users, log.items, log.user_ids,
                              log.item_ids).split("leave_one_out"), ValueError,
     "leave_one_out needs timestamps"),
], ids=["unknown method", "zero train ratio", "NaN ratio", "empty log", "no timestamps"])
def test_bad_splits(log, call, exc, match):
    if match is None:  # an empty log splits into empty parts, which fit then refuses
        parts = call(log)
        assert all(len(p) == 0 for p in parts)
        with pytest.raises(ValueError, match="the train log is empty"):
            GraphCLRecommender(device="cpu").fit(parts[0])
        return
    with pytest.raises(exc, match=match):
        call(log)


def test_bad_fits(log):
    train, valid, _ = log.split("random", seed=0)
    rec = GraphCLRecommender(dim=4, device="cpu", progress=False)
    with pytest.raises(ValueError, match="ranks 20 items, but the catalogue has 4"):
        small = Interactions.from_pandas(frame(user=["a", "b", "c", "c"],
                                               item=["w", "x", "y", "z"]))
        rec.fit(small, valid=small)
    with pytest.raises(ValueError, match="metric must be one of"):
        GraphCLRecommender(metric="auc", device="cpu").fit(train, valid=valid)
    other = Interactions.from_pandas(frame(**GOOD))
    with pytest.raises(ValueError, match="valid does not share the id maps"):
        rec.fit(train, valid=other)
    with pytest.raises(TypeError, match="train must be an Interactions"):
        rec.fit(frame(**GOOD))
    full = Interactions.from_pandas(frame(user=["a", "a", "b"], item=["x", "y", "x"]))
    with pytest.raises(ValueError, match=r"have interacted with every one of the 2 items, "
                                         r"e.g. \['a'\]"):
        GraphCLRecommender(dim=4, epochs=1, device="cpu", progress=False).fit(full)


# ---------------------------------------------------------------------------- serving
@pytest.mark.parametrize("call, exc, match", [
    (lambda r, t: r.recommend(["u0"], k=0), ValueError, "k must be >= 1, got 0"),
    (lambda r, t: r.recommend(["u0"], k=26), ValueError,
     r"k=26 is larger than the number of items \(25\)"),
    (lambda r, t: r.recommend(["u0", "nobody", "ghost"], k=3), KeyError,
     r"unknown user id\(s\): \['nobody', 'ghost'\]"),
    (lambda r, t: r.recommend([0], k=3), KeyError, r"unknown user id\(s\): \[0\]"),
    (lambda r, t: r.recommend("u0", k=3), TypeError, "must be a list of ids"),
    (lambda r, t: r.similar_items(["i0", "nope"]), KeyError, r"unknown item id\(s\): "
                                                              r"\['nope'\]"),
    (lambda r, t: r.similar_items(["i0"], k=0), ValueError, "k must be in 1..num_items-1=24"),
    (lambda r, t: r.similar_items(["i0"], k=25), ValueError, "k must be in 1..num_items-1"),
    (lambda r, t: r.similar_items(["i0"], k=2.0), TypeError, "k must be an int"),
    (lambda r, t: r.evaluate(t, k=[0]), ValueError, "k must be >= 1"),
    (lambda r, t: r.evaluate(t, k=[10, 30]), ValueError, "k=30 is larger than the number"),
    (lambda r, t: r.evaluate(t.select(np.zeros(len(t), bool))), ValueError,
     "no user has a test interaction"),
    (lambda r, t: r.recommend(["u0"], k=2.5), TypeError, "k must be an int"),
    (lambda r, t: r.evaluate(t, k=[2.5]), TypeError, "k must be an int"),
], ids=["recommend k=0", "recommend k>items", "recommend unknown users",
        "recommend id of another type", "recommend one string", "similar unknown item",
        "similar k=0", "similar k=items", "similar float k", "evaluate k=0",
        "evaluate k>items", "evaluate empty test", "recommend float k", "evaluate float k"])
def test_bad_serving_calls(fitted, call, exc, match):
    rec, test = fitted
    with pytest.raises(exc, match=match):
        call(rec, test)


def test_a_user_with_fewer_unseen_items_than_k_gets_documented_empty_slots(fitted):
    rec, _ = fitted
    items, scores = rec.recommend(["u0"], k=25)  # u0 has train items: those slots are empty
    n_seen = int(rec.seen_[rec.user_ids.get_loc("u0")].sum())
    assert n_seen > 0
    assert (items[0, -n_seen:] == None).all()  # noqa: E711 (an object array)
    assert np.isneginf(scores[0, -n_seen:]).all() and np.isfinite(scores[0, :-n_seen]).all()


# ---------------------------------------------------------------------------- files
def rewrite(folder, role, write):
    """Replaces the file of :obj:`role` and records its new sha256, so that only the
    content checks (not the checksum) can catch it."""
    meta = json.loads((folder / "meta.json").read_text())
    path = folder / meta["files"][role]["name"]
    write(path)
    meta["files"][role]["sha256"] = sha256_file(path)
    (folder / "meta.json").write_text(json.dumps(meta))


@pytest.fixture
def exported(fitted, tmp_path):
    fitted[0].export(tmp_path / "out")
    return tmp_path / "out"


def test_embedding_file_whose_rows_do_not_match_its_id_map(exported):
    rewrite(exported, "item_embeddings",
            lambda p: np.save(p, np.zeros((24, 4), np.float32)))
    with pytest.raises(ValueError, match="item_embeddings.npy has 24 rows but items.parquet "
                                         "maps 25 item ids"):
        load_export(exported)


def test_embedding_files_of_different_dims(exported):
    rewrite(exported, "user_embeddings", lambda p: np.save(p, np.zeros((20, 3), np.float32)))
    with pytest.raises(ValueError, match="user embeddings have dim 3, item embeddings 4"):
        load_export(exported)


def test_embedding_file_with_nan(exported):
    def write(p):
        arr = np.load(p)
        arr[0, 0] = np.nan
        np.save(p, arr)

    rewrite(exported, "user_embeddings", write)
    with pytest.raises(ValueError, match="user_embeddings.npy holds NaN or Inf"):
        load_export(exported)


def test_embedding_file_holding_a_pickle_is_not_unpickled(exported):
    rewrite(exported, "user_embeddings",
            lambda p: np.save(p, np.array([{"evil": 1}], dtype=object), allow_pickle=True))
    with pytest.raises(ValueError, match="allow_pickle=False"):
        load_export(exported)


def test_meta_json_that_points_outside_the_folder_or_is_truncated(exported):
    meta = json.loads((exported / "meta.json").read_text())
    meta["files"]["users"]["name"] = "../../etc/passwd"
    (exported / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="plain names inside its folder"):
        load_export(exported)
    (exported / "meta.json").write_text(json.dumps(meta)[:40])
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_export(exported)


def test_yaml_config_with_python_tags_is_refused_without_running_them(tmp_path, capsys):
    from gcl.cli import _parse

    marker = tmp_path / "pwned"
    config = tmp_path / "run.yaml"
    config.write_text(f"dataset: ml-100k\nepochs: !!python/object/apply:os.system "
                      f"['touch {marker}']\n")
    with pytest.raises(SystemExit) as e:
        _parse(["train", "--config", str(config), "--out", str(tmp_path / "r")])
    assert e.value.code == 2 and "is not valid YAML" in capsys.readouterr().err
    assert not marker.exists()
