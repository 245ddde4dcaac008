"""Checkpoints: the hook's file keeps the format resumes rely on (see also
tests/test_checkpoint.py for interrupted runs)."""
import dataclasses

import pytest

from gcl.checkpoint import CHECKPOINT, load_checkpoint
from gcl.train import FitState, Trainer
from tests.train import ScriptedEval, config, lightgcn, same_state, state


def test_the_checkpoint_holds_the_state_of_every_hook_under_its_old_keys(data, tmp_path):
    train, _, graph = data
    method = lightgcn(train)
    trainer = Trainer(method, graph, train, config(epochs=3, restore_best=True),
                      evaluate=ScriptedEval(method, [0.2, 0.1, 0.1]), checkpoint_dir=tmp_path)
    trainer.fit()
    saved = load_checkpoint(tmp_path / CHECKPOINT)
    assert {"fingerprint", "progress", "model", "best_state", "optimizer", "rng",
            "history"} <= set(saved)
    assert list(saved["progress"]) == [
        "epoch", "best", "best_epoch", "bad_evals", "declined", "warned", "trained", "elapsed",
        "stuck", "flat", "warned_stuck", "warned_flat", "finished", "cl_weight", "cl_decays"]
    assert [f.name for f in dataclasses.fields(FitState)] == list(saved["progress"])
    progress = saved["progress"]
    assert (progress["epoch"], progress["best_epoch"], progress["bad_evals"]) == (3, 1, 2)
    assert saved["fingerprint"] == trainer.fingerprint()
    assert [h["epoch"] for h in saved["history"]] == [1, 2, 3]


def test_resume_of_a_finished_fit_restores_its_best_weights_without_training(data, tmp_path):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [0.5, 0.1, 0.1])
    Trainer(method, graph, train, config(epochs=3, patience=2), evaluate=ev,
            checkpoint_dir=tmp_path).fit()
    again = lightgcn(train, seed=5)
    trainer = Trainer(again, graph, train, config(epochs=3, patience=2),
                      evaluate=ScriptedEval(again, []), checkpoint_dir=tmp_path)
    history = trainer.fit(resume=True)
    assert len(history) == 3 and trainer.best_epoch == 1
    assert same_state(state(again), ev.snapshots[0])


def test_without_a_folder_nothing_is_written_and_resume_is_refused(data, tmp_path):
    train, _, graph = data
    with pytest.raises(ValueError, match="resume=True needs the checkpoint_dir"):
        Trainer(lightgcn(train), graph, train, config()).fit(resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume"):
        Trainer(lightgcn(train), graph, train, config(), checkpoint_dir=tmp_path).fit(
            resume=True)


def test_a_checkpoint_of_other_settings_is_refused_naming_them(data, tmp_path):
    train, _, graph = data
    Trainer(lightgcn(train), graph, train, config(epochs=1), checkpoint_dir=tmp_path).fit()
    with pytest.raises(ValueError, match=r"is of another run(.|\n)*lr"):
        Trainer(lightgcn(train), graph, train, config(epochs=2, lr=0.01),
                checkpoint_dir=tmp_path).fit(resume=True)
