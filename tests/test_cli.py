import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gcl import GraphCLRecommender, Interactions
from gcl.cli import _build, _parse, build_parser, main
from gcl.cli.config import load_config, method_kwargs

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GCL_DATA_DIR") or ROOT.parent / "shared" / "datasets")
ML100K = DATA / "ml-100k" / "u.data"


def gcl_cmd(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs ``python -m gcl ARGS`` in a fresh process, as a user would run ``gcl``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "gcl", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def log_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = [(f"user{u}", f"item{i}", int(t)) for u in range(30)
            for t, i in enumerate(rng.choice(25, 6, replace=False))]
    path = tmp_path / "clicks.csv"
    pd.DataFrame(rows, columns=["uid", "iid", "ts"]).to_csv(path, index=False)
    return path


def test_train_writes_run_folder(log_csv, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--interactions", str(log_csv), "--user-col", "uid",
                 "--item-col", "iid", "--timestamp-col", "ts", "--split", "leave_one_out",
                 "--dim", "8", "--layers", "1", "--epochs", "3", "--batch-size", "32",
                 "--out", str(out), "--quiet", "--device", "cpu"])
    assert code == 0
    captured = capsys.readouterr()
    assert "recall@20" in captured.out and "ndcg@10" in captured.out
    assert captured.err == ""  # --quiet: no progress bars or notes
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines[:-1]] == [1, 2, 3]
    assert all("valid_ndcg@20" in x for x in lines[:-1])
    assert lines[-1]["final"] is True and "test_recall@20" in lines[-1]
    test = json.loads((out / "metrics.json").read_text())["test"]
    assert test["users"] == 30 and 0 <= test["ndcg@20"] <= 1
    assert lines[-1]["test_ndcg@20"] == pytest.approx(test["ndcg@20"])
    assert np.load(out / "embeddings" / "item_embeddings.npy").shape == (25, 8)

    code = main(["export", str(out / "model.pt"), str(tmp_path / "again")])  # the old form
    assert code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "again" / "user_embeddings.npy"),
                                  np.load(out / "embeddings" / "user_embeddings.npy"))


def test_bad_column_is_a_clear_error(log_csv, tmp_path, capsys):
    code = main(["train", "--data", str(log_csv), "--user-col", "nope",
                 "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2
    assert "'nope' not found" in capsys.readouterr().err


# ---------------------------------------------------------------------------- settings
def test_config_file_sets_flags_and_the_command_line_wins(log_csv, tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"data: {log_csv}\nuser_col: uid\nitem-col: iid\nmethod: simgcl\n"
                   "eps: 0.3\nepochs: 7\nratios: [0.7, 0.3]\nout: runs/x\n")
    args = _parse(["train", "--config", str(cfg), "--epochs", "2"])
    assert (args.data, args.user_col, args.item_col) == (str(log_csv), "uid", "iid")
    assert args.method == "simgcl" and args.eps == 0.3 and args.ratios == [0.7, 0.3]
    assert args.epochs == 2 and args.out == "runs/x"
    assert method_kwargs(args) == {"eps": 0.3}
    # A source on the command line replaces the file's.
    assert _parse(["train", "--config", str(cfg), "--dataset", "ml-100k"]).data is None


def test_cl_decay_is_off_by_default_and_set_by_flag_or_file(log_csv, tmp_path):
    assert _parse(["train", "--dataset", "ml-100k", "--out", "r"]).cl_decay is None
    args = _parse(["train", "--dataset", "ml-100k", "--out", "r", "--cl-decay", "0.1", "3"])
    assert args.cl_decay == [0.1, 3.0]
    cfg = tmp_path / "run.yaml"
    cfg.write_text("dataset: ml-100k\ncl_decay: [0.5, 2]\n")
    assert _parse(["train", "--config", str(cfg), "--out", "r"]).cl_decay == [0.5, 2.0]
    out = tmp_path / "run"
    code = main(["train", "--interactions", str(log_csv), "--user-col", "uid",
                 "--item-col", "iid", "--timestamp-col", "ts", "--split", "leave_one_out",
                 "--method", "simgcl", "--dim", "8", "--epochs", "1", "--batch-size", "64",
                 "--cl-decay", "0.1", "3", "--out", str(out), "--quiet", "--device", "cpu"])
    assert code == 0
    config = load_config(out / "config.yaml", _build()[1])
    assert config["cl_decay"] == [0.1, 3.0] and config["layers"] is None


@pytest.mark.parametrize("text, message", [
    ("dataset: ml-100k\nlearning_rate: 0.1\n", "unknown key 'learning_rate'"),
    ("dataset: ml-100k\nepochs: many\n", "key 'epochs' must be int, got 'many'"),
    ("dataset: ml-100k\nsplit: sideways\n", "key 'split' must be one of"),
    ("dataset: ml-100k\ncl_decay: [0.1]\n", "key 'cl_decay' must hold 2 values"),
    ("- dataset\n", "must hold a mapping"),
])
def test_config_file_errors_name_the_key(tmp_path, capsys, text, message):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(text)
    with pytest.raises(SystemExit) as e:
        _parse(["train", "--config", str(cfg), "--out", "r"])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_hyperparameter_flags_follow_the_methods(capsys):
    args = _parse(["train", "--dataset", "ml-100k", "--out", "r", "--eps", "0.2"])
    with pytest.raises(ValueError, match="--eps does not apply to --method lightgcn; it "
                                         "applies to simgcl, xsimgcl"):
        method_kwargs(args)
    args = _parse(["train", "--dataset", "x", "--out", "r", "--method", "sgl-ed", "--p", "0.2",
                   "--cl-weight", "0.05"])
    assert method_kwargs(args) == {"p": 0.2, "cl_weight": 0.05}
    args = _parse(["train", "--dataset", "x", "--out", "r", "--augment",
                   '{"type": "EdgeDrop", "kwargs": {"p": 0.2}}'])
    assert method_kwargs(args) == {"augment": {"type": "EdgeDrop", "kwargs": {"p": 0.2}}}
    with pytest.raises(SystemExit):
        _parse(["train", "--out", "r"])  # no data
    assert "one of --dataset NAME or --data FILE is required" in capsys.readouterr().err


def test_help_reads_well():
    text = build_parser().format_help()
    for command in ("train", "evaluate", "recommend", "similar", "export", "datasets"):
        assert command in text
    train = _build()[1].format_help()
    assert "--cl-weight FLOAT" in train and "simgcl [0.5]" in train
    assert "--data FILE, --interactions FILE" in train
    assert "(default: None)" not in train


def test_datasets_list_and_info(capsys):
    assert main(["datasets", "list"]) == 0
    listed = capsys.readouterr().out
    assert "ml-100k" in listed and "gowalla" in listed
    assert main(["datasets", "info", "gowalla"]) == 0
    info = capsys.readouterr().out
    assert "29,858 users" in info and "train.txt, test.txt" in info
    assert main(["datasets", "info", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err


# ---------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def ml_run(tmp_path_factory):
    """A run trained by the command, as a subprocess, on the first 100 users of ml-100k,
    with the user's own ids ("u196") and the items' ("50"), text as every id read from a
    file."""
    if not ML100K.is_file():
        pytest.skip("no shared ml-100k")
    tmp = tmp_path_factory.mktemp("cli")
    df = pd.read_csv(ML100K, sep="\t", names=["user", "item", "rating", "ts"])
    df = df[df["user"] <= 100].assign(user=lambda d: "u" + d["user"].astype(str))
    clicks = tmp / "clicks.csv"
    df.to_csv(clicks, index=False)
    run = tmp / "run"
    done = gcl_cmd("train", "--data", str(clicks), "--user-col", "user", "--item-col", "item",
                   "--timestamp-col", "ts", "--method", "lightgcn", "--dim", "16", "--layers",
                   "2", "--lr", "0.01", "--batch-size", "1024", "--epochs", "4", "--device",
                   "cpu", "--out", str(run))
    inter = Interactions.from_csv(clicks, user="user", item="item", timestamp="ts")
    train, valid, test = inter.split("random", ratios=(0.8, 0.1, 0.1), seed=0)
    return {"run": run, "stdout": done.stdout, "stderr": done.stderr, "tmp": tmp,
            "rec": GraphCLRecommender.load(run / "model.pt"), "test": test, "train": train}


def test_cli_train_run_folder(ml_run):
    run = ml_run["run"]
    assert "recall@20" in ml_run["stdout"] and "loading" in ml_run["stderr"]
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 5 and [x["epoch"] for x in lines[:4]] == [1, 2, 3, 4]
    assert {"model.pt", "config.yaml", "metrics.json", "embeddings"} <= {
        p.name for p in run.iterdir()}
    try:
        import matplotlib  # noqa: F401

        assert (run / "training_curve.png").read_bytes()[:4] == b"\x89PNG"
    except ImportError:
        assert "no training curve" in ml_run["stderr"]
    try:
        import tensorboard  # noqa: F401

        assert any((run / "tensorboard").iterdir())
    except ImportError:
        assert "tensorboard is not installed" in ml_run["stderr"]
    # The resolved config is a valid run file for the same command.
    config = load_config(run / "config.yaml", _build()[1])
    assert config["epochs"] == 4 and config["timestamp_col"] == "ts"
    assert ml_run["rec"].user_ids.equals(ml_run["train"].user_ids)


def test_cli_evaluate_recommend_similar_match_python(ml_run):
    rec, run = ml_run["rec"], str(ml_run["run"])
    got = json.loads(gcl_cmd("evaluate", "--run", run, "--json", "--quiet").stdout)
    expected = rec.evaluate(ml_run["test"], k=[10, 20])
    assert got["users"] == expected["users"]
    for key in ("recall@20", "ndcg@10", "mrr@20"):
        assert got[key] == pytest.approx(expected[key], rel=1e-9)

    users = ["u1", "u42", "u100"]
    rows = json.loads(gcl_cmd("recommend", "--run", run, "--user", *users, "-k", "5",
                              "--json").stdout)
    items, scores = rec.recommend(users, k=5)
    assert [r["user"] for r in rows] == users
    assert [r["items"] for r in rows] == items.tolist()
    np.testing.assert_allclose([r["scores"] for r in rows], scores, rtol=1e-6)

    rows = json.loads(gcl_cmd("similar", "--run", run, "--item", "50", "181", "-k", "4",
                              "--json").stdout)
    items, scores = rec.similar_items(["50", "181"], k=4)
    assert [r["items"] for r in rows] == items.tolist()
    np.testing.assert_allclose([r["scores"] for r in rows], scores, rtol=1e-6)

    done = gcl_cmd("recommend", "--run", run, "--user", "u1", "nobody", check=False)
    assert done.returncode == 2 and "unknown user id(s): ['nobody']" in done.stderr


def test_cli_export_and_index_match_python(ml_run):
    pytest.importorskip("faiss")
    import gcl
    from gcl.export import load_export

    rec, run, out = ml_run["rec"], str(ml_run["run"]), ml_run["tmp"] / "export"
    done = gcl_cmd("export", "--run", run, "--out", str(out), "--index", "flat", "--quiet")
    assert "index: " in done.stdout
    exp = load_export(out)
    np.testing.assert_array_equal(exp.item_emb, rec.item_embeddings())
    assert exp.user_ids.tolist() == rec.user_ids.tolist()
    assert exp.meta["dataset"] == "clicks" and "test_recall@20" in exp.meta["metrics"]

    users = list(rec.user_ids[:30])
    index = gcl.RecallIndex.load(out)
    items, scores = index.search(users, k=10)
    ref_items, ref_scores = rec.recommend(users, k=10)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-6)
    assert (items == ref_items).mean() > 0.99  # equal but for float ties

    rows = json.loads(gcl_cmd("recommend", "--export", str(out), "--user", *users[:3], "-k",
                              "10", "--json").stdout)
    assert [r["items"] for r in rows] == items[:3].tolist()


# ---------------------------------------------------------------------------- item text
def test_train_with_item_text_serves_cold_items(log_csv, tmp_path, capsys):
    pytest.importorskip("gensim")
    texts = pd.DataFrame({"iid": [f"item{i}" for i in range(25)] + ["item99"],
                          "title": [f"Film {i}" for i in range(25)] + ["Film new"],
                          "genre": ["action" if i % 2 else "drama" for i in range(25)]
                          + ["action"]})
    texts.to_csv(tmp_path / "items.csv", index=False)
    out = tmp_path / "run"
    common = ["--interactions", str(log_csv), "--user-col", "uid", "--item-col", "iid",
              "--dim", "8", "--layers", "1", "--epochs", "2", "--batch-size", "32",
              "--quiet", "--device", "cpu"]
    assert main(["train", *common, "--item-text", str(tmp_path / "items.csv"),
                 "--text-id-col", "iid", "--text-col", "title", "genre",
                 "--text-weight", "0.2", "--out", str(out)]) == 0
    rec = GraphCLRecommender.load(out / "model.pt")
    assert rec.item_ids[-1] == "item99" and rec.params["text_weight"] == 0.2
    # the cold item's text was "Film new | action"
    np.testing.assert_allclose(rec.embed_items(["Film new | action"])[0],
                               rec.item_embeddings()[-1], rtol=1e-5, atol=1e-6)
    capsys.readouterr()
    assert main(["recommend", "--run", str(out), "--user", "user0", "-k", "20",
                 "--json"]) == 0
    assert "item99" in json.loads(capsys.readouterr().out)[0]["items"]
    assert main(["similar", "--run", str(out), "--item", "item99", "-k", "3"]) == 0
    assert main(["export", "--run", str(out), "--out", str(tmp_path / "exp"),
                 "--quiet"]) == 0
    assert np.load(tmp_path / "exp" / "items.npy", allow_pickle=False)[-1] == "item99"
    assert main(["evaluate", "--run", str(out), "--quiet"]) == 0
    # errors name the problem
    assert main(["train", *common, "--item-text", str(tmp_path / "items.csv"),
                 "--out", str(tmp_path / "r2")]) == 2
    assert "column(s) ['item', 'text'] not found" in capsys.readouterr().err
    assert main(["train", *common, "--item-text", "dataset", "--out", str(tmp_path / "r3")]) == 2
    assert "needs a --dataset that has item text" in capsys.readouterr().err
    assert main(["train", *common, "--text-weight", "1", "--out", str(tmp_path / "r4")]) == 2
    assert "--text-weight needs --item-text" in capsys.readouterr().err


def test_item_text_of_a_named_dataset_and_integer_ids(tmp_path):
    from gcl.cli.commands import load_interactions

    if not ML100K.is_file():
        pytest.skip("no shared ml-100k")
    base = {"dataset": "ml-100k", "item_text": "dataset"}
    name, inter, _ = load_interactions(base)
    assert name == "ml-100k" and inter.item_text[1].startswith("Toy Story (1995)")
    # a file's ids are read as the log's (integer) ids
    pd.DataFrame({"movie": ["1", "2", "5000"], "title": ["a", "b", "c"]}).to_csv(
        tmp_path / "t.csv", index=False)
    cfg = {**base, "item_text": str(tmp_path / "t.csv"), "text_id_col": "movie",
           "text_col": ["title"]}
    _, inter, _ = load_interactions(cfg)
    assert inter.item_text.to_dict() == {1: "a", 2: "b", 5000: "c"}
    assert inter.text_only_items().tolist() == [5000]


def test_nproc_is_stripped_before_relaunching_through_torchrun_and_never_saved():
    from gcl.cli import _without_nproc
    from gcl.cli.config import NOT_SAVED

    argv = ["train", "--nproc", "2", "--dataset", "ml-100k", "--nproc=3", "--out", "RUN"]
    assert _without_nproc(argv) == ["train", "--dataset", "ml-100k", "--out", "RUN"]
    assert "nproc" in NOT_SAVED


def test_init_svd_is_a_flag_and_a_config_key(tmp_path):
    assert _parse(["train", "--dataset", "ml-100k", "--out", "r"]).init == "random"
    args = _parse(["train", "--dataset", "ml-100k", "--out", "r", "--init", "svd",
                   "--init-scale", "0.5"])
    assert (args.init, args.init_scale) == ("svd", 0.5)
    cfg = tmp_path / "run.yaml"
    cfg.write_text("dataset: ml-100k\ninit: svd\n")
    assert _parse(["train", "--config", str(cfg), "--out", "r"]).init == "svd"


def test_every_setting_reaches_the_recommender_from_its_flag():
    from gcl import GraphCLRecommender
    from gcl.cli.config import setting_kwargs

    args = _parse(["train", "--dataset", "x", "--out", "r", "--method", "simgcl", "--eps",
                   "0.2", "--projection-head", "1", "--moco", '{"size": 64}', "--cl-decay",
                   "0.5", "2", "--no-restore-best", "--threads", "2", "--init-std", "xavier"])
    kw = setting_kwargs(args)
    assert (kw["eps"], kw["projection_head"], kw["moco"]) == (0.2, 1, {"size": 64})
    assert kw["cl_decay"] == (0.5, 2) and kw["restore_best"] is False
    assert kw["num_threads"] == 2 and kw["init_std"] == "xavier"
    assert GraphCLRecommender(**kw).get_params()["moco"] == {"size": 64}
    plain = setting_kwargs(_parse(["train", "--dataset", "x", "--out", "r"]))
    assert GraphCLRecommender(**plain).get_params()["num_threads"] == "auto"
    seq = _parse(["train", "--dataset", "x", "--out", "r", "--method", "seq-cl", "--no-causal"])
    assert setting_kwargs(seq)["causal"] is False
    text = _parse(["train", "--dataset", "x", "--out", "r", "--text-rec-weight", "0.5"])
    with pytest.raises(ValueError, match="--text-rec-weight needs --item-text"):
        setting_kwargs(text)


def test_log_level_flag():
    assert _parse(["train", "--dataset", "x", "--out", "r"]).log_level == "info"
    assert _parse(["train", "--dataset", "x", "--out", "r", "--log-level", "debug"]
                  ).log_level == "debug"


def test_the_index_types_the_command_offers_are_the_index_modules():
    from gcl.cli import INDEX_TYPES
    from gcl.index import INDEX_TYPES as BUILT

    assert INDEX_TYPES == BUILT
