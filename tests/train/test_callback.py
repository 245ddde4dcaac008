"""Callback: the user's on_epoch_end, which can stop training."""

from gcl.train import Trainer
from tests.train import ScriptedEval, config, lightgcn, same_state, state


def test_on_epoch_end_returning_true_stops_after_that_epoch_and_keeps_the_best(data):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [0.5, 1.0, 0.9, 0.8, 0.7, 0.6])
    trainer = Trainer(method, graph, train, config(epochs=6, patience=None), evaluate=ev,
                      on_epoch_end=lambda history: len(history) == 3)
    history = trainer.fit()
    assert [r["epoch"] for r in history] == [1, 2, 3] and trainer.best_epoch == 2
    assert same_state(state(method), ev.snapshots[1])


def test_a_stop_asked_by_the_callback_is_saved_so_a_resume_trains_no_more(data, tmp_path):
    from gcl.checkpoint import CHECKPOINT, load_checkpoint

    train, _, graph = data
    Trainer(lightgcn(train), graph, train, config(epochs=6), checkpoint_dir=tmp_path,
            on_epoch_end=lambda history: len(history) == 2).fit()
    assert load_checkpoint(tmp_path / CHECKPOINT)["progress"]["finished"] is True
    method = lightgcn(train)
    history = Trainer(method, graph, train, config(epochs=6),
                      checkpoint_dir=tmp_path).fit(resume=True)
    assert [r["epoch"] for r in history] == [1, 2]


def test_the_callback_sees_the_epoch_complete_after_its_checkpoint(data, tmp_path):
    from gcl.checkpoint import CHECKPOINT, load_checkpoint

    train, _, graph = data
    method = lightgcn(train)
    seen = []

    def on_epoch_end(history):
        saved = load_checkpoint(tmp_path / CHECKPOINT)
        seen.append((history[-1]["epoch"], "valid_ndcg@20" in history[-1],
                     saved["progress"]["epoch"]))

    Trainer(method, graph, train, config(epochs=3), evaluate=ScriptedEval(method, [0.1] * 3),
            checkpoint_dir=tmp_path, on_epoch_end=on_epoch_end).fit()
    assert seen == [(1, True, 1), (2, True, 2), (3, True, 3)]
