"""EarlyStopping: patience, ties, the best weights restored."""
import pytest

from gcl.train import Trainer
from tests.train import ScriptedEval, config, lightgcn, same_state, state


@pytest.mark.parametrize("restore_best", [True, False])
def test_early_stopping_after_patience_and_restore_best(data, restore_best):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [0.1, 0.3, 0.2, 0.25, 0.9, 0.9])
    trainer = Trainer(method, graph, train,
                      config(epochs=20, patience=2, restore_best=restore_best), evaluate=ev)
    history = trainer.fit()
    # best at epoch 2, then two evaluations without improvement: stop at epoch 4
    assert len(history) == 4 and ev.calls == 4
    assert trainer.best_epoch == 2
    assert [r["valid_ndcg@20"] for r in history] == [0.1, 0.3, 0.2, 0.25]
    assert all("valid_users" not in r and "eval_seconds" in r for r in history)
    final = state(method)
    if restore_best:
        assert same_state(final, ev.snapshots[1])
    else:
        assert same_state(final, ev.snapshots[3])
        assert not same_state(final, ev.snapshots[1])


def test_ties_do_not_count_as_improvement(data):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [0.5, 0.5, 0.5, 0.5])
    trainer = Trainer(method, graph, train, config(epochs=10, patience=3), evaluate=ev)
    assert len(trainer.fit()) == 4 and trainer.best_epoch == 1
    assert same_state(state(method), ev.snapshots[0])


def test_patience_none_never_stops_early(data):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [1.0] + [0.95] * 5)
    trainer = Trainer(method, graph, train, config(epochs=6, patience=None), evaluate=ev)
    assert len(trainer.fit()) == 6 and trainer.best_epoch == 1
    assert same_state(state(method), ev.snapshots[0])  # still restores the best
