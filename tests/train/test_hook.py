"""Hook: the interface, as a user's own hook sees the loop."""
from gcl.checkpoint import CHECKPOINT, load_checkpoint
from gcl.train import Hook, Trainer
from tests.train import ScriptedEval, config, lightgcn


class StopAtEpoch(Hook):
    def __init__(self, epoch):
        self.epoch, self.calls = epoch, []

    def on_fit_start(self, fit):
        self.calls.append(("start", fit.state.epoch))

    def on_epoch_end(self, fit, record):
        self.calls.append(("epoch", fit.epoch, fit.metrics is not None, record is
                           fit.history()[-1]))
        record["mine"] = fit.epoch * 10
        if fit.epoch == self.epoch:
            fit.stop = True

    def on_fit_end(self, fit):
        self.calls.append(("end", len(fit.history())))


def test_a_hook_sees_every_epoch_adds_to_its_record_and_its_stop_is_saved(data, tmp_path):
    train, _, graph = data
    method = lightgcn(train)
    hook = StopAtEpoch(2)
    history = Trainer(method, graph, train, config(epochs=5, eval_every=2),
                      evaluate=ScriptedEval(method, [0.1, 0.2]), checkpoint_dir=tmp_path,
                      hooks=[hook]).fit()
    assert hook.calls == [("start", 0), ("epoch", 1, False, True), ("epoch", 2, True, True),
                          ("end", 2)]
    assert [r["mine"] for r in history] == [10, 20]
    saved = load_checkpoint(tmp_path / CHECKPOINT)
    assert saved["progress"]["finished"] is True and saved["history"][-1]["mine"] == 20


def test_the_default_hooks_run_in_their_documented_order(data):
    train, _, graph = data
    names = [type(h).__name__ for h in Trainer(lightgcn(train), graph, train, config(),
                                               hooks=[StopAtEpoch(1)]).hooks()]
    assert names == ["Monitor", "EpochLog", "EarlyStopping", "DeclineWarning",
                     "CollapseWatch", "ClSchedule", "StopAtEpoch", "Checkpoints", "Callback",
                     "Broadcast"]
