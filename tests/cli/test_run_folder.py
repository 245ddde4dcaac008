"""The run folder's monitor files, written while the run trains."""
import json

import pytest

from gcl.cli import run_folder as rf
from gcl.train import Trainer
from tests.train import ScriptedEval, config, lightgcn, two_tastes


@pytest.fixture(scope="module")
def data():
    return two_tastes()


class FakeWriter:
    """Stands for TensorBoard's SummaryWriter (tensorboard may not be installed)."""

    def __init__(self, folder):
        folder.mkdir(parents=True, exist_ok=True)
        self.scalars, self.closed = [], False

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, step))

    def flush(self):
        pass

    def close(self):
        self.closed = True


def read_log(folder):
    return [json.loads(x) for x in (folder / rf.METRICS_LOG).read_text().splitlines()]


def fit(data, folder, epochs, on_epoch_end):
    train, _, graph = data
    method = lightgcn(train)
    trainer = Trainer(method, graph, train, config(epochs=epochs),
                      evaluate=ScriptedEval(method, [0.1 * (i + 1) for i in range(epochs)]),
                      on_epoch_end=on_epoch_end)
    return trainer, trainer.fit()


def test_curve_log_and_events_exist_after_the_first_epoch(data, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    writers = []
    monkeypatch.setattr(rf, "_summary_writer",
                        lambda folder: writers.append(FakeWriter(folder)) or writers[-1])
    files = rf.LiveFiles(tmp_path, "toy: lightgcn")
    seen = []

    def on_epoch_end(history):
        files(history)
        seen.append(((tmp_path / rf.CURVE).is_file(), len(read_log(tmp_path)),
                     {step for _, step in writers[0].scalars}))

    trainer, history = fit(data, tmp_path, 3, on_epoch_end)
    assert seen[0] == (True, 1, {1})  # mid-training, after epoch 1
    assert seen[2][1:] == (3, {1, 2, 3})
    notes = files.finish(history, {"recall@20": 0.5, "users": 3}, trainer.best_epoch)
    assert notes == []
    log = read_log(tmp_path)
    assert log[-1] == {"epoch": 3, "final": True, "test_recall@20": 0.5, "test_users": 3}
    assert ("final_test/recall@20", 3) in writers[0].scalars and writers[0].closed
    assert ("train/loss", 2) in writers[0].scalars and ("valid/ndcg@20", 2) in writers[0].scalars
    assert len(writers) == 1


def test_the_curve_is_redrawn_at_most_every_curve_every_seconds(data, tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(rf, "plot_curve", lambda path, history, title: drawn.append(
        len(history)))
    files = rf.LiveFiles(tmp_path, "toy", curve_every=3600)
    fit(data, tmp_path, 3, files)
    assert drawn == [1]
    files.finish([{"epoch": 1, "loss": 1.0}], None, None)
    assert drawn == [1, 1]


def test_a_resumed_run_starts_its_events_afresh(data, tmp_path, monkeypatch):
    writers = []
    monkeypatch.setattr(rf, "_summary_writer",
                        lambda folder: writers.append(FakeWriter(folder)) or writers[-1])
    (tmp_path / rf.TENSORBOARD).mkdir()
    stale = tmp_path / rf.TENSORBOARD / "events.out.tfevents.1.host.1.0"
    stale.write_bytes(b"of the killed run")
    history = [{"epoch": e, "loss": 1.0 / e} for e in (1, 2)]
    files = rf.LiveFiles(tmp_path, "toy", curve_every=3600)
    files(history)
    assert not stale.exists()
    assert sorted(step for _, step in writers[0].scalars) == [1, 2]
    files(history + [{"epoch": 3, "loss": 0.3}])
    assert sorted(step for _, step in writers[0].scalars) == [1, 2, 3]


def test_missing_extras_become_notes(tmp_path, monkeypatch):
    monkeypatch.setattr(rf, "_summary_writer", lambda folder: rf._NO_TENSORBOARD)
    monkeypatch.setattr(rf, "plot_curve", lambda *a: "no training curve: matplotlib is not "
                        "installed (pip install 'gcl[plot]')")
    files = rf.LiveFiles(tmp_path, "toy")
    files([{"epoch": 1, "loss": 1.0}])
    notes = files.finish([{"epoch": 1, "loss": 1.0}], {"ndcg@20": 0.1}, 1)
    assert any("gcl[tensorboard]" in n for n in notes) and any("gcl[plot]" in n for n in notes)
