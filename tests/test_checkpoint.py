"""Checkpoints and resume: a fit that is interrupted (an exception, Ctrl-C, SIGKILL) and
resumed ends exactly as an uninterrupted one, on CPU with the same seed."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gcl import GraphCLRecommender, Interactions
from gcl.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from gcl.cli import main
from gcl.graph import UIGraph
from gcl.methods.base import Method
from gcl.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]
TIMING = {"seconds", "train_seconds", "eval_seconds", "elapsed"}


def two_tastes(n_users=40, per_user=6, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(f"u{u}", f"i{int(i) + (0 if u % 2 == 0 else 15)}", t) for u in range(n_users)
            for t, i in enumerate(rng.choice(15, per_user, replace=False))]
    return pd.DataFrame(rows, columns=["user", "item", "ts"])


@pytest.fixture(scope="module")
def splits():
    inter = Interactions.from_pandas(two_tastes())
    return inter.split("random", ratios=(0.7, 0.15, 0.15), seed=0)


def untimed(history):
    return [{k: v for k, v in h.items() if k not in TIMING} for h in history]


class Crash(Exception):
    pass


def crash_after(epoch):
    def callback(history):
        if len(history) == epoch:
            raise Crash

    return callback


def settings(method="lightgcn", **kw):
    return {**dict(method=method, dim=8, layers=2, lr=0.05, batch_size=32, epochs=6,
                   patience=None, device="cpu", progress=False), **kw}


def assert_same_fit(a, b):
    np.testing.assert_array_equal(a.user_embeddings(), b.user_embeddings())
    np.testing.assert_array_equal(a.item_embeddings(), b.item_embeddings())
    assert untimed(a.history_) == untimed(b.history_)
    assert a.best_epoch_ == b.best_epoch_


# ---------------------------------------------------------------------------- exact resume
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("method, kw", [
    ("lightgcn", {}),
    ("sgl-ed", {}),      # views made per epoch from the generator
    ("simgcl", {}),      # noise drawn per batch from the generator
    ("xsimgcl", {}),
    ("lightgcn", {"encoder": "gat"}),
    pytest.param("lightgcl", {"rank": 3}),
    ("ncl", {"warm_up": 2, "num_clusters": 4}),  # k-means per epoch from the generator
    ("directau", {}),
])
def test_resume_after_a_crash_equals_an_uninterrupted_fit(splits, tmp_path, method, kw):
    train, valid, _ = splits
    reference = GraphCLRecommender(**settings(method, **kw)).fit(train, valid=valid)
    with pytest.raises(Crash):
        GraphCLRecommender(**settings(method, **kw)).fit(
            train, valid=valid, checkpoint_dir=tmp_path, on_epoch_end=crash_after(3))
    assert load_checkpoint(tmp_path / CHECKPOINT)["progress"]["epoch"] == 3
    seen = []
    resumed = GraphCLRecommender(**settings(method, **kw)).fit(
        train, valid=valid, checkpoint_dir=tmp_path, resume=True,
        on_epoch_end=lambda h: seen.append(len(h)))
    assert seen == [4, 5, 6]  # only the epochs after the checkpoint are trained
    assert_same_fit(resumed, reference)


def test_checkpoint_holds_the_whole_state(splits, tmp_path):
    train, valid, _ = splits
    rec = GraphCLRecommender(**settings()).fit(train, valid=valid, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)  # no pickled code
    assert state["format"] == "gcl.checkpoint" and state["progress"]["epoch"] == 6
    assert {"model", "optimizer", "best_state", "rng", "history", "fingerprint"} <= set(state)
    assert {"generator", "torch", "numpy", "python", "cuda"} <= set(state["rng"])
    assert state["progress"]["best_epoch"] == rec.best_epoch_
    assert untimed(state["history"]) == untimed(rec.history_)
    assert state["fingerprint"]["run"]["params"]["method"] == "lightgcn"
    assert not list(tmp_path.glob(".*tmp"))  # written atomically: no temporary file left


def test_more_epochs_on_resume_continue_training(splits, tmp_path):
    train, valid, _ = splits
    straight = GraphCLRecommender(**settings()).fit(train, valid=valid)
    short = dict(settings(), epochs=3)
    GraphCLRecommender(**short).fit(train, valid=valid, checkpoint_dir=tmp_path)
    longer = GraphCLRecommender(**settings()).fit(train, valid=valid, checkpoint_dir=tmp_path,
                                                  resume=True)
    assert_same_fit(longer, straight)


def test_resuming_a_finished_fit_trains_nothing(splits, tmp_path):
    train, valid, _ = splits
    kw = settings(epochs=40, patience=2)
    done = GraphCLRecommender(**kw).fit(train, valid=valid, checkpoint_dir=tmp_path)
    assert len(done.history_) < 40  # stopped early: finished
    calls = []
    again = GraphCLRecommender(**kw).fit(train, valid=valid, checkpoint_dir=tmp_path,
                                         resume=True, on_epoch_end=calls.append)
    assert calls == []
    assert_same_fit(again, done)


# ---------------------------------------------------------------------------- refusals
def test_existing_checkpoint_is_not_overwritten_and_resume_needs_one(splits, tmp_path):
    train, valid, _ = splits
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume"):
        GraphCLRecommender(**settings()).fit(train, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="needs the checkpoint_dir"):
        GraphCLRecommender(**settings()).fit(train, resume=True)
    GraphCLRecommender(**settings(epochs=1)).fit(train, checkpoint_dir=tmp_path)
    before = (tmp_path / CHECKPOINT).read_bytes()
    with pytest.raises(FileExistsError, match="already holds a checkpoint.*resume=True"):
        GraphCLRecommender(**settings()).fit(train, checkpoint_dir=tmp_path)
    assert (tmp_path / CHECKPOINT).read_bytes() == before


@pytest.mark.parametrize("change, message", [
    ({"lr": 0.01}, "lr: 0.05 in the checkpoint, 0.01 now"),
    ({"dim": 16}, "dim: 8 in the checkpoint, 16 now"),
    ({"seed": 3}, "seed: 0 in the checkpoint, 3 now"),
    ({"batch_size": 16}, "batch_size: 32 in the checkpoint, 16 now"),
])
def test_resume_with_other_settings_is_refused(splits, tmp_path, change, message):
    train, valid, _ = splits
    GraphCLRecommender(**settings(epochs=2)).fit(train, valid=valid, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=f"of another run(.|\n)*{message}"):
        GraphCLRecommender(**{**settings(), **change}).fit(
            train, valid=valid, checkpoint_dir=tmp_path, resume=True)


def test_resume_on_other_data_is_refused(splits, tmp_path):
    train, valid, test = splits
    GraphCLRecommender(**settings(epochs=2)).fit(train, valid=valid, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="train_sha256: the data differ"):
        GraphCLRecommender(**settings()).fit(train.concat(test), valid=valid,
                                             checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="valid_sha256: the data differ"):
        GraphCLRecommender(**settings()).fit(train, valid=test, checkpoint_dir=tmp_path,
                                             resume=True)


# ---------------------------------------------------------------------------- untrusted files
class Evil:
    """Unpickling this would run code that writes a file."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (Path.write_text, (Path(self.target), "pwned"))


def test_crafted_truncated_and_foreign_checkpoints_are_refused(splits, tmp_path):
    train, valid, _ = splits
    path = tmp_path / CHECKPOINT
    marker = tmp_path / "pwned.txt"
    torch.save({"format": "gcl.checkpoint", "format_version": 1, "x": Evil(marker)}, path)
    with pytest.raises(ValueError, match="not a readable gcl checkpoint"):
        GraphCLRecommender(**settings()).fit(train, checkpoint_dir=tmp_path, resume=True)
    assert not marker.exists()  # the pickled code never ran

    GraphCLRecommender(**settings(epochs=1)).fit(train, checkpoint_dir=tmp_path / "ok")
    whole = (tmp_path / "ok" / CHECKPOINT).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="not a readable gcl checkpoint"):
        load_checkpoint(path)
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="is not a gcl checkpoint"):
        load_checkpoint(path)
    save_checkpoint(path, {})
    state = torch.load(path, weights_only=True)
    state["format_version"] = 99
    torch.save(state, path)
    with pytest.raises(ValueError, match="format version 99"):
        load_checkpoint(path)


# ---------------------------------------------------------------------------- failures
class Scripted(Method):
    """One weight; its loss is scripted per call: a number, NaN, or Ctrl-C."""

    name = "scripted"

    def __init__(self, num_users, num_items, script):
        super().__init__(num_users, num_items)
        self.w = torch.nn.Parameter(torch.ones(1))
        self.script, self.calls = script, 0

    def loss(self, graph, users, pos, neg):
        self.calls += 1
        what = self.script.get(self.calls, 1.0)
        if what == "interrupt":
            raise KeyboardInterrupt
        return {"loss": self.w.pow(2).sum() * what}


def scripted_fit(train, tmp_path, script, resume=False):
    method = Scripted(train.num_users, train.num_items, script)
    cfg = TrainConfig(epochs=5, batch_size=len(train), progress=False, patience=None)
    trainer = Trainer(method, UIGraph.from_interactions(train), train, cfg,
                      checkpoint_dir=tmp_path)
    return trainer, method, (lambda: trainer.fit(resume=resume))


def test_nan_loss_names_epoch_and_batch_and_keeps_the_last_good_checkpoint(splits, tmp_path):
    train = splits[0]
    _, _, run = scripted_fit(train, tmp_path, {3: float("nan")})  # one batch per epoch
    with pytest.raises(FloatingPointError, match=r"epoch 3, batch 1(.|\n)*checkpoint of "
                                                 r"epoch 2, the last good one, is kept"):
        run()
    state = load_checkpoint(tmp_path / CHECKPOINT)
    assert state["progress"]["epoch"] == 2 and torch.isfinite(state["model"]["w"]).all()


def test_ctrl_c_keeps_the_last_finished_epoch_and_resumes(splits, tmp_path, caplog):
    train = splits[0]
    _, _, run = scripted_fit(train, tmp_path, {4: "interrupt"})
    with pytest.raises(KeyboardInterrupt):
        run()
    assert "interrupted during epoch 4" in caplog.text
    assert load_checkpoint(tmp_path / CHECKPOINT)["progress"]["epoch"] == 3
    trainer, method, run = scripted_fit(train, tmp_path, {}, resume=True)
    history = run()
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5] and method.calls == 2
    _, ref, run_ref = scripted_fit(train, tmp_path / "ref", {})
    run_ref()
    assert torch.equal(method.w, ref.w)


def test_a_failed_checkpoint_write_keeps_the_previous_one(splits, tmp_path, monkeypatch):
    train = splits[0]
    GraphCLRecommender(**settings(epochs=2)).fit(train, checkpoint_dir=tmp_path)
    before = (tmp_path / CHECKPOINT).read_bytes()
    real_save = torch.save

    def dies_midway(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(OSError, match="disk full"):
        GraphCLRecommender(**settings(epochs=3)).fit(train, checkpoint_dir=tmp_path,
                                                     resume=True)
    monkeypatch.setattr(torch, "save", real_save)
    assert (tmp_path / CHECKPOINT).read_bytes() == before
    assert not list(tmp_path.glob(".*tmp"))


# ---------------------------------------------------------------------------- SIGKILL, CLI
CHILD = textwrap.dedent("""
    # Runs `gcl train`, and stops in epoch 3, batch 2 (after epoch 2's checkpoint and one
    # optimiser step of epoch 3): writes the marker, then waits to be killed.
    import sys, time
    from pathlib import Path

    from gcl.cli import main
    from gcl.train.hooks import Checkpoints
    from gcl.methods.lightgcn import LightGCNMethod

    marker, argv = Path(sys.argv[1]), sys.argv[2:]
    saved, calls = [0], [0]
    real_save, real_loss = Checkpoints.save, LightGCNMethod.loss

    def save(self, fit):
        real_save(self, fit)
        saved[0] = fit.state.epoch

    def loss(self, *args):
        if saved[0] >= 2:
            calls[0] += 1
            if calls[0] == 2:
                marker.write_text("in epoch 3, batch 2")
                time.sleep(300)
        return real_loss(self, *args)

    Checkpoints.save, LightGCNMethod.loss = save, loss
    sys.exit(main(argv))
""")


@pytest.fixture
def clicks(tmp_path):
    path = tmp_path / "clicks.csv"
    two_tastes(n_users=30).to_csv(path, index=False)
    return path


def train_args(clicks, out):
    return ["train", "--data", str(clicks), "--timestamp-col", "ts", "--split",
            "leave_one_out", "--dim", "8", "--layers", "1", "--epochs", "5", "--batch-size",
            "32", "--lr", "0.05", "--device", "cpu", "--threads", "1", "--quiet", "--out",
            str(out)]


def read_log(run):
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_sigkill_mid_epoch_then_gcl_train_resume_equals_an_uninterrupted_run(clicks, tmp_path):
    run, marker = tmp_path / "run", tmp_path / "marker"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, str(script), str(marker),
                              *train_args(clicks, run)], env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never reached epoch 3"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    # What the killed run left: the checkpoint and the log of its two finished epochs.
    assert load_checkpoint(run / CHECKPOINT)["progress"]["epoch"] == 2
    assert [x["epoch"] for x in read_log(run)] == [1, 2]
    assert not (run / "model.pt").exists()

    threads = torch.get_num_threads()
    try:
        assert main(["train", "--resume", str(run), "--quiet"]) == 0
        assert main(train_args(clicks, tmp_path / "ref")) == 0
    finally:
        torch.set_num_threads(threads)
    ref = tmp_path / "ref"
    assert untimed(read_log(run)) == untimed(read_log(ref))
    log = read_log(run)
    assert [x["epoch"] for x in log[:-1]] == [1, 2, 3, 4, 5] and log[-1]["final"] is True
    got, want = (json.loads((r / "metrics.json").read_text()) for r in (run, ref))
    assert got == want
    a, b = (GraphCLRecommender.load(r / "model.pt") for r in (run, ref))
    np.testing.assert_array_equal(a.user_embeddings(), b.user_embeddings())
    assert not (run / CHECKPOINT).exists()  # removed once the run is complete


def test_cli_refuses_to_overwrite_an_unfinished_run_and_to_resume_a_finished_one(
        clicks, tmp_path, capsys):
    run = tmp_path / "run"
    threads = torch.get_num_threads()
    try:
        args = train_args(clicks, run)
        args[args.index("--epochs") + 1] = "1"
        assert main(args) == 0
        capsys.readouterr()
        assert main(["train", "--resume", str(run)]) == 2
        assert "finished run" in capsys.readouterr().err
        (run / CHECKPOINT).write_bytes(b"unfinished")
        assert main(args) == 2
        assert f"gcl train --resume {run}" in capsys.readouterr().err
        assert (run / CHECKPOINT).read_bytes() == b"unfinished"
        assert main(["train", "--resume", str(run)]) == 2
        assert "not a readable gcl checkpoint" in capsys.readouterr().err
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("extra, message", [
    (["--epochs", "3"], "drop --epochs"),
    (["--config", "x.yaml"], "drop --config"),
])
def test_cli_resume_takes_no_other_settings(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as e:
        main(["train", "--resume", str(tmp_path), *extra])
    assert e.value.code == 2 and message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--resume", str(tmp_path / "nowhere")])
    assert "holds no config.yaml" in capsys.readouterr().err
