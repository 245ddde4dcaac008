"""The table of bad inputs, everywhere in the package, and what each gets: a clear error
that names what is wrong, or a documented behaviour (a warning, a fold, a filter). None
gets a silent wrong result. The README's reliability section counts these cases by area
(tests/test_readme.py keeps the count current).

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
     {"timestamp": "t"}, ValueError, "column 't': '5/1/2020' .* is not an ISO 8601"),
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


def test_a_dataset_name_of_another_type():
    from gcl import load_dataset

    with pytest.raises(TypeError, match="name_or_path must be a dataset name or a folder, got "
                                        "123"):
        load_dataset(123)


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
    (lambda log: log.split("random", seed=-1), ValueError,
     "seed must be an integer >= 0, got -1"),
    (lambda log: log.split("random", seed=1.5), ValueError,
     "seed must be an integer >= 0, got 1.5"),
], ids=["unknown method", "zero train ratio", "NaN ratio", "empty log", "no timestamps",
        "negative seed", "float seed"])
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
    with pytest.raises(ValueError, match="item_embeddings.npy has 24 rows but items.npy "
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


# ---------------------------------------------------------------------------- second pass
# Ids, files, folders shared by two processes, faults in the middle of a write, settings
# that reach Faiss, and the command line's one-line errors.
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

from gcl._io import FolderBusyError  # noqa: E402
from gcl.checks import RULES  # noqa: E402
from gcl.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--dim", "4", "--layers", "1", "--epochs", "1", "--batch-size", "64", "--device",
         "cpu", "--quiet"]


def cli(capsys, *argv):
    """Runs ``gcl ARGV`` in this process: (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


@contextmanager
def lock_held_elsewhere(lock_path):
    """Another process holding the lock file, as a second gcl would."""
    code = ("import filelock, sys, time; l = filelock.FileLock(sys.argv[1]); l.acquire(); "
            "print('held', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(lock_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def clicks(tmp_path):
    """A click log whose user ids 007, 7 and 0007 are three users (31 in all)."""
    rng = np.random.default_rng(1)
    users = ["007", "7", "0007"] + [str(100 + i) for i in range(28)]  # all look like numbers
    rows = [(u, f"{int(i):02d}") for u in users for i in rng.choice(20, 5, replace=False)]
    path = tmp_path / "clicks.csv"
    pd.DataFrame(rows, columns=["user", "item"]).to_csv(path, index=False)
    return path


# 1. ids from a file are text
def test_ids_from_a_csv_are_never_merged(clicks):
    inter = Interactions.from_csv(clicks)
    assert inter.num_users == 31 and inter.num_items == 20
    assert {"007", "7", "0007"} <= set(inter.user_ids) and "05" in set(inter.item_ids)
    numbers = Interactions.from_csv(clicks, dtype={"user": "int64"})  # asked for: merged
    assert numbers.num_users == 29 and 7 in numbers.user_ids


def test_cli_trains_every_id_and_answers_only_the_id_asked(clicks, tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", "--data", clicks, "--out", run, *SMALL)
    assert code == 0, err
    rec = GraphCLRecommender.load(run / "model.pt")
    assert len(rec.user_ids) == 31
    code, _, err = cli(capsys, "recommend", "--run", run, "--user", "00007", "-k", "2")
    assert code == 2 and "unknown user id(s): ['00007']" in err
    code, out, _ = cli(capsys, "recommend", "--run", run, "--user", "0007", "--json")
    assert code == 0 and json.loads(out)[0]["user"] == "0007"


def test_cli_recommend_0001_is_not_user_1_of_an_integer_model(tmp_path, capsys):
    df = frame(user=[1, 1, 2, 2, 3], item=[10, 11, 10, 12, 11])
    rec = GraphCLRecommender(dim=4, layers=1, epochs=1, device="cpu", progress=False)
    rec.fit(Interactions.from_pandas(df)).save(tmp_path / "m.pt")
    code, _, err = cli(capsys, "recommend", "--run", tmp_path / "m.pt", "--user", "0001")
    assert code == 2 and "unknown user id(s): ['0001']" in err
    assert cli(capsys, "recommend", "--run", tmp_path / "m.pt", "--user", "1", "-k", "1")[0] == 0


# 2. an export removes only the files of an earlier export
def test_export_keeps_the_users_own_files(fitted, tmp_path):
    pytest.importorskip("faiss")
    out = tmp_path / "out"
    out.mkdir()
    mine = {"items.csv": b"my items", "users.csv": b"my users", "graph.pt": b"my graph",
            "notes.txt": b"notes"}
    for name, data in mine.items():
        (out / name).write_bytes(data)
    fitted[0].export(out, index="hnsw")
    assert (out / "items.faiss").is_file()
    fitted[0].export(out)  # the earlier export's index goes, the user's files stay
    assert not (out / "items.faiss").exists()
    assert {n: (out / n).read_bytes() for n in mine} == mine
    with pytest.raises(FileExistsError, match="holds graph.pt, which no earlier gcl export "
                                              "wrote"):
        fitted[0].export(out, hetero=True)
    assert (out / "graph.pt").read_bytes() == b"my graph"
    assert load_export(out).meta["index"] is None
    (out / "sub").mkdir()
    with pytest.raises(FileExistsError, match="holds the folder sub, which no gcl export"):
        fitted[0].export(out)
    assert (out / "sub").is_dir() and (out / "notes.txt").read_bytes() == b"notes"


def test_export_into_the_current_folder_is_refused(fitted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.txt").write_text("mine")
    for target in ("", ".", str(tmp_path.parent)):
        with pytest.raises(ValueError, match="the current folder or one above it"):
            fitted[0].export(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


# 3. no code from a word-vector file
class _Boom:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("name", ["vectors.kv", "vectors.txt", "vectors.bin"])
def test_a_pickled_word_vector_file_runs_nothing(tmp_path, name):
    pytest.importorskip("gensim")
    import pickle

    from gcl.text import load_word_vectors

    marker = tmp_path / "pwned"
    (tmp_path / name).write_bytes(pickle.dumps(_Boom(marker), protocol=4))
    with pytest.raises(ValueError, match="a pickle that can run code"):
        load_word_vectors(tmp_path / name)
    rec = GraphCLRecommender(dim=4, layers=1, epochs=1, device="cpu", progress=False,
                             word_vectors=str(tmp_path / name))
    inter = Interactions.from_pandas(frame(**GOOD), item_text=None).with_item_text(
        {"x": "red", "y": "blue", "z": "green"})
    with pytest.raises(ValueError, match="allow_pickle=True"):
        rec.fit(inter)
    assert not marker.exists()


# 4. two exports into one folder
def test_a_second_export_into_a_locked_folder_fails_at_once(fitted, tmp_path):
    out = tmp_path / "out"
    fitted[0].export(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with lock_held_elsewhere(tmp_path / ".out.lock"):
        with pytest.raises(FolderBusyError, match="another process is writing the export "
                                                  "folder .*out .*holds the lock"):
            fitted[0].export(out, hetero=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# 5. two trainings into one run folder; a finished run
def test_run_folder_locked_and_a_finished_run_not_overwritten(clicks, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    with lock_held_elsewhere(run / ".gcl-run.lock"):
        code, _, err = cli(capsys, "train", "--data", clicks, "--out", run, *SMALL)
    assert code == 1 and "another process is writing the run folder" in err
    assert err.count("\n") == 1 and not (run / "config.yaml").exists()
    assert cli(capsys, "train", "--data", clicks, "--out", run, *SMALL)[0] == 0
    model = (run / "model.pt").read_bytes()
    dim8 = [a if a != "4" else "8" for a in SMALL]
    code, _, err = cli(capsys, "train", "--data", clicks, "--out", run, *dim8)
    assert code == 2 and "holds a finished run (model.pt)" in err and "--overwrite" in err
    assert (run / "model.pt").read_bytes() == model
    code, _, err = cli(capsys, "train", "--data", clicks, "--out", run, "--overwrite", *dim8)
    assert code == 0, err
    assert "dim: 8" in (run / "config.yaml").read_text()
    assert GraphCLRecommender.load(run / "model.pt").user_embeddings().shape[1] == 8
    epochs = [json.loads(x)["epoch"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 1]  # the one epoch, and the final line: nothing of the old run


# 6. a changed data file
def test_evaluate_refuses_a_run_whose_data_changed(clicks, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli(capsys, "train", "--data", clicks, "--out", run, *SMALL)[0] == 0
    assert cli(capsys, "evaluate", "--run", run, "--quiet")[0] == 0
    original = clicks.read_bytes()
    clicks.write_bytes(original.replace(b"101,", b"102,"))
    code, out, err = cli(capsys, "evaluate", "--run", run, "--quiet")
    assert code == 2 and out == ""
    assert f"{clicks} changed since the run {run} was trained on it" in err
    clicks.unlink()
    assert "is missing" in cli(capsys, "evaluate", "--run", run)[2]
    clicks.write_bytes(original)
    assert cli(capsys, "evaluate", "--run", run, "--quiet")[0] == 0


# 7. an export killed in the middle
def test_sigkill_in_the_middle_of_a_re_export_keeps_the_old_one(fitted, tmp_path):
    out = tmp_path / "out"
    fitted[0].save(tmp_path / "m.pt")
    fitted[0].export(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    started = tmp_path / "started"
    script = (
        "import sys, time\n"
        "import gcl.export\n"
        "from gcl import GraphCLRecommender\n"
        "real = gcl.export.hetero_data\n"
        "def slow(rec):\n"
        f"    open({str(started)!r}, 'w').close()\n"
        "    time.sleep(120)\n"
        "gcl.export.hetero_data = slow\n"
        f"GraphCLRecommender.load({str(tmp_path / 'm.pt')!r}).export({str(out)!r}, "
        "hetero=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ,
                                                                 "OMP_NUM_THREADS": "1"})
    try:
        for _ in range(600):
            if started.exists() or proc.poll() is not None:
                break
            import time

            time.sleep(0.1)
        assert started.exists(), "the export did not start"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    load_export(out)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.tmp-")]
    fitted[0].export(out, hetero=True)  # the next export clears what the killed one left
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.tmp-")]
    assert "graph" in load_export(out).meta["files"]


# 8. an index that is not of the embeddings
def test_an_index_of_other_embeddings_is_refused(fitted, log, tmp_path):
    faiss = pytest.importorskip("faiss")
    from gcl import RecallIndex
    from gcl.index import build_index, serialize_index

    out = tmp_path / "out"
    fitted[0].export(out, index="flat")
    other = np.random.default_rng(0).normal(size=fitted[0].item_embeddings().shape)
    rewrite(out, "index",
            lambda p: p.write_bytes(serialize_index(build_index(other, "flat")[0])))
    with pytest.raises(ValueError, match="items.faiss does not index these item embeddings"):
        RecallIndex.load(out)
    rewrite(out, "index", lambda p: p.write_bytes(serialize_index(faiss.IndexFlatIP(4))))
    with pytest.raises(ValueError, match="holds 0 vectors of dim 4; the item embeddings "
                                         "call for 25"):
        RecallIndex.load(out)
    rewrite(out, "index", lambda p: p.write_bytes(b"not an index"))
    with pytest.raises(ValueError, match="items.faiss is not a readable Faiss index"):
        RecallIndex.load(out)


# 9. every hyperparameter checked in the constructor
BAD_SETTINGS = [
    ({"reg": -1.0}, "reg"), ({"reg": NAN}, "reg"), ({"dim": 0}, "dim"), ({"dim": 2.5}, "dim"),
    ({"layers": -1}, "layers"), ({"lr": 0.0}, "lr"), ({"lr": float("inf")}, "lr"),
    ({"batch_size": "64"}, "batch_size"), ({"epochs": 0}, "epochs"),
    ({"epochs": True}, "epochs"), ({"patience": 0}, "patience"), ({"eval_every": 0},
                                                                   "eval_every"),
    ({"seed": -1}, "seed"), ({"metric": "auc"}, "metric"), ({"metric": "ndcg@0"}, "metric"),
    ({"backend": "gpu"}, "backend"), ({"device": "gpu"}, "device"),
    ({"restore_best": "yes"}, "restore_best"), ({"cl_decay": (2.0, 1)}, "cl_decay"),
    ({"method": "simgcl", "eps": -0.1}, "eps"),
    ({"method": "simgcl", "cl_weight": -1.0}, "cl_weight"),
    ({"method": "simgcl", "temperature": 0.0}, "temperature"),
    ({"method": "sgl-ed", "p": 1.0}, "p"), ({"method": "sgl-nd", "p": -0.1}, "p"),
    ({"method": "lightgcl", "rank": 0}, "rank"),
    ({"method": "xsimgcl", "cl_layer": 4, "layers": 3}, "cl_layer"),
    ({"method": "xsimgcl", "cl_anchors": 1}, "cl_anchors"),
    ({"method": "lightgcn", "init_std": -1.0}, "init_std"),
    ({"method": "lightgcn", "eps": 0.1}, "eps"),
    ({"method": "simgcl", "projection_head": -1}, "projection_head"),
    ({"method": "simgcl", "moco": {"size": 0}}, "moco"),
    ({"method": "seq-cl", "dropout": 1.5}, "dropout"), ({"method": "seq-cl", "heads": 0},
                                                        "heads"),
    ({"text_weight": -1.0}, "text_weight"), ({"word_dim": 0}, "word_dim"),
]


@pytest.mark.parametrize("settings, name", BAD_SETTINGS,
                         ids=[f"{n}={s[n]!r}" for s, n in BAD_SETTINGS])
def test_a_bad_hyperparameter_fails_in_the_constructor_naming_it(settings, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b") as err:
        GraphCLRecommender(progress=False, **settings)
    assert err.value.name == name


def test_every_checked_hyperparameter_has_a_bad_case():
    covered = {name for _, name in BAD_SETTINGS}
    spans = {RULES[name][1] for name in covered if name in RULES}
    # A rule not covered shares its check with a covered one (the same test, another
    # name); flags, names from a list and strings are checked by the same code as those.
    shared = {name for name, (_, span) in RULES.items()
              if span in spans or span in ("True or False", "a string")
              or span.startswith("one of")}
    # bounds of their own, each a plain comparison (num_threads: tests/test_recommender.py)
    shared |= {"crop", "reorder", "text_batch", "num_threads"}
    assert set(RULES) - covered <= shared


def test_cli_names_the_flag_of_a_bad_hyperparameter(clicks, tmp_path, capsys):
    code, out, err = cli(capsys, "train", "--data", clicks, "--out", tmp_path / "r",
                         "--reg", "-1", *SMALL)
    assert code == 2 and err == "error: --reg must be a finite number >= 0, got -1.0\n"
    assert not (tmp_path / "r" / "config.yaml").exists()


# 10. settings that reach Faiss
@pytest.mark.parametrize("kind, options, match", [
    ("hnsw", {"m": 0}, "m must be an integer >= 2, got 0"),
    ("hnsw", {"m": 1}, "m must be an integer >= 2"),
    ("hnsw", {"ef_construction": 0}, "ef_construction must be an integer >= 1"),
    ("hnsw", {"ef_search": -5}, "ef_search must be an integer >= 1"),
    ("ivf", {"nlist": 0}, "nlist must be an integer >= 1"),
    ("ivf", {"nlist": 26}, "nlist must be in 1..num_items=25"),
    ("ivf", {"nlist": 4, "nprobe": 5}, "nprobe must be at most nlist=4"),
    ("ivf", {"seed": -1}, "seed must be an integer >= 0"),
    ("flat", {"m": 16}, "m applies to an hnsw index, not 'flat'"),
    ("hnsw", {"m": 2.5}, "m must be an integer"),
], ids=["m=0", "m=1", "ef_construction=0", "ef_search<0", "nlist=0", "nlist>items",
        "nprobe>nlist", "seed<0", "m for flat", "float m"])
def test_bad_index_settings_fail_before_faiss(fitted, tmp_path, kind, options, match):
    pytest.importorskip("faiss")
    with pytest.raises(ValueError, match=match):
        fitted[0].export(tmp_path / "out", index=kind, index_options=options)
    assert not (tmp_path / "out").exists()


def test_cli_export_hnsw_m_0_is_one_line_not_an_abort(fitted, tmp_path):
    pytest.importorskip("faiss")
    fitted[0].save(tmp_path / "m.pt")
    done = subprocess.run([sys.executable, "-m", "gcl", "export", "--run", tmp_path / "m.pt",
                           "--out", tmp_path / "out", "--index", "hnsw", "--m", "0"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2
    assert done.stderr == "error: m must be an integer >= 2, got 0\n"
    done = subprocess.run([sys.executable, "-m", "gcl", "recommend", "--export",
                           tmp_path / "out", "--user", "u0"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1


# the command line: one line per error, the traceback with --debug
@pytest.mark.parametrize("argv, match", [
    (["train", "--data", "{tmp}/nothing.csv", "--out", "{tmp}/r"], "nothing.csv"),
    (["train", "--data", "{clicks}", "--user-col", "uid", "--out", "{tmp}/r"],
     "user column 'uid' not found"),
    (["train", "--data", "{clicks}", "--out", "{tmp}/r", "--epochs", "many"],
     "argument --epochs: invalid int value: 'many'"),
    (["train", "--data", "{clicks}", "--out", "{tmp}/r", "--method", "magic"],
     "unknown method 'magic'"),
    (["evaluate", "--run", "{tmp}/nowhere"], "no run folder or model file at"),
    (["recommend", "--export", "{tmp}", "--user", "a"], "meta.json is missing"),
    (["export", "--run", "{clicks}", "--out", "{tmp}/o"], "is not a readable gcl model file"),
    (["datasets", "info", "nope"], "unknown dataset 'nope'"),
    (["train", "--data", "{tmp}/empty.csv", "--out", "{tmp}/r"],
     "empty.csv is not a readable CSV click log: No columns to parse"),
    (["train", "--data", "{tmp}/clicks.tsv", "--out", "{tmp}/r"],
     r"looks separated by '\t', not commas; pass sep='\t' (gcl train: --sep)"),
    (["train", "--data", "{tmp}/clicks.parquet", "--out", "{tmp}/r"],
     "--data: no file at"),
    (["train", "--data", "{clicks}", "--out", "{tmp}/r", "--k", "10", "0"],
     "--k takes cut-offs >= 1, got 0"),
    (["train", "--data", "{clicks}", "--out", "{tmp}/r", "--threads", "0"],
     "--threads must be an integer >= 1, got 0"),
    (["train", "--data", "{clicks}", "--out", "{tmp}/r", "--nproc", "0"],
     "--nproc must be an integer >= 1, got 0"),
    (["train", "--data", "{clicks}", "--out", "{tmp}/r", "--budget-minutes", "-1"],
     "--budget-minutes must be a number > 0, got -1.0"),
    (["train", "--data", "{clicks}", "--out", "{clicks}"], "clicks.csv is a file"),
], ids=["missing data file", "missing column", "text for an int", "unknown method",
        "no run", "no export", "a CSV as a model", "unknown dataset", "empty CSV",
        "tab-separated file", "missing parquet", "k=0", "threads=0", "nproc=0",
        "negative budget", "out is a file"])
def test_cli_errors_are_one_line(clicks, tmp_path, capsys, argv, match):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "clicks.tsv").write_text(clicks.read_text().replace(",", "\t"))
    argv = [a.format(tmp=tmp_path, clicks=clicks) for a in argv]
    code, out, err = cli(capsys, *argv, *(SMALL if argv[0] == "train" else []))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and match in err and "Traceback" not in err
    code, _, err = cli(capsys, *argv, "--debug", *(SMALL if argv[0] == "train" else []))
    assert code == 2 and match in err.splitlines()[-1]
    assert "Traceback" in err or argv[-1] == "many"  # argparse's errors have none


def test_cli_damaged_run_config_and_search_settings(clicks, tmp_path, capsys):
    pytest.importorskip("faiss")
    run, out = tmp_path / "run", tmp_path / "export"
    assert cli(capsys, "train", "--data", clicks, "--out", run, *SMALL)[0] == 0
    assert cli(capsys, "export", "--run", run, "--out", out, "--index", "hnsw")[0] == 0
    code, _, err = cli(capsys, "recommend", "--export", out, "--user", "101", "--ef-search", "0")
    assert code == 2 and "ef_search must be an integer >= 1, got 0" in err
    code, _, err = cli(capsys, "recommend", "--export", out, "--user", "101", "-k", "21")
    assert code == 2 and "k=21 is larger than the number of items (20)" in err
    (run / "config.yaml").write_text("dim: [\n")
    code, _, err = cli(capsys, "evaluate", "--run", run)
    assert code == 2 and "config.yaml is not valid YAML" in err and err.count("\n") == 1
