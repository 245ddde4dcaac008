"""DeclineWarning: a valid metric far below its best for several evaluations."""
import pytest

from gcl.train import Trainer
from tests.train import ScriptedEval, config, lightgcn


def decline_warnings(record):
    return [str(w.message) for w in record if "below its best" in str(w.message)]


def test_warns_once_after_the_given_evaluations_below_the_best(data):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [1.0, 0.85, 0.5, 0.5, 0.5, 0.5, 0.5])
    with pytest.warns(RuntimeWarning) as record:
        Trainer(method, graph, train, config(epochs=7, decline_warning=(0.1, 3)),
                evaluate=ev).fit()
    (message,) = decline_warnings(record)
    # 0.85 is more than 10% below 1.0: evaluations 2, 3 and 4 make three in a row
    assert ("valid ndcg@20 has been more than 10% below its best (1.0000 at epoch 1) for 3 "
            "evaluations") in message
    assert message.endswith("The best weights will be restored.")


def test_a_recovery_resets_the_count_and_small_dips_do_not_warn(data, recwarn):
    train, _, graph = data
    method = lightgcn(train)
    ev = ScriptedEval(method, [1.0, 0.5, 0.5, 0.95, 0.5, 0.5, 0.95, 0.92])
    Trainer(method, graph, train, config(epochs=8, decline_warning=(0.1, 3),
                                         restore_best=False), evaluate=ev).fit()
    assert decline_warnings(recwarn.list) == []
