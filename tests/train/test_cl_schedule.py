"""ClSchedule: the contrastive weight lowered when valid stalls or BPR is stuck."""
import pytest

from gcl.train import TrainConfig, Trainer
from tests.train import ScriptedEval, collapse_warnings, config, lightgcn, same_state, simgcl, state


def test_cl_weight_decays_when_valid_stalls_and_goes_on_from_the_best(data):
    train, _, graph = data
    method = simgcl(train)
    # Best at epoch 2, then no improvement: decays after evaluations 3-5, 6-8 and 9-11.
    scores = [0.1, 0.3] + [0.2] * 12
    evaluate = ScriptedEval(method, scores)
    at_end = []
    trainer = Trainer(method, graph, train, config(epochs=14, cl_decay=(0.1, 3)),
                      evaluate=evaluate, on_epoch_end=lambda h: at_end.append(state(method)))
    hist = trainer.fit()
    weights = [h["cl_weight"] for h in hist]
    assert weights == pytest.approx([0.5] * 5 + [0.05] * 3 + [0.005] * 3 + [0.0005] * 3)
    assert method.cl_weight == pytest.approx(0.0005)  # at most CL_DECAYS = 3 times
    best = evaluate.snapshots[1]  # the weights evaluated at epoch 2
    assert same_state(at_end[4], best)  # the decay at epoch 5 went back to them
    assert not same_state(at_end[3], best)


def test_cl_weight_decays_when_bpr_is_stuck_without_a_collapse_warning(data, recwarn):
    train, _, graph = data
    hist = Trainer(simgcl(train), graph, train,
                   config(epochs=5, lr=1e-6, collapse_epochs=2, cl_decay=(0.1, 3))).fit()
    assert [h["cl_weight"] for h in hist] == pytest.approx([0.5, 0.5, 0.05, 0.05, 0.005])
    assert collapse_warnings(recwarn.list) == []


def test_cl_decay_is_off_by_default_and_keeps_the_weight(data):
    from gcl import GraphCLRecommender
    from gcl.params import train_config_of

    assert TrainConfig().cl_decay is None
    assert train_config_of(GraphCLRecommender(method="simgcl").get_params()).cl_decay is None
    train, _, graph = data
    method = simgcl(train)
    hist = Trainer(method, graph, train, config(epochs=6),
                   evaluate=ScriptedEval(method, [0.1] * 6)).fit()
    assert {h["cl_weight"] for h in hist} == {0.5}
    plain_hist = Trainer(lightgcn(train), graph, train, config(epochs=2)).fit()
    assert "cl_weight" not in plain_hist[0]
    with pytest.raises(ValueError, match="cl_decay must be"):
        TrainConfig(cl_decay=(1.5, 3))


def test_resume_keeps_the_decayed_cl_weight(data, tmp_path):
    train, _, graph = data

    def run(epochs, resume):
        method = simgcl(train)
        ev = ScriptedEval(method, [0.1] * epochs)
        if resume:
            ev.calls = 4  # the scores of the epochs already run are not asked again
        Trainer(method, graph, train, config(epochs=epochs, cl_decay=(0.1, 3)), evaluate=ev,
                checkpoint_dir=tmp_path).fit(resume=resume)
        return method

    run(4, resume=False)  # decays once, after the evaluations of epochs 2-4
    assert run(6, resume=True).cl_weight == pytest.approx(0.05)
