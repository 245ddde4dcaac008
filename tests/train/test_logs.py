"""Where training talks: log lines on stderr through logging, bars only on a terminal."""
import io
import logging

import pytest

from gcl.train import Trainer, logs
from tests.train import ScriptedEval, config, lightgcn


@pytest.fixture
def gcl_logger():
    """The "gcl" logger, put back as it was after the test."""
    root = logging.getLogger("gcl")
    level, handlers = root.level, list(root.handlers)
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def fit_with_valid(data, epochs=4, **kw):
    train, _, graph = data
    method = lightgcn(train)
    scores = [0.1 * (i + 1) for i in range(epochs)]
    return Trainer(method, graph, train, config(epochs=epochs, **kw),
                   evaluate=ScriptedEval(method, scores)).fit()


def test_a_non_tty_run_at_info_writes_one_line_per_epoch_to_stderr_only(data, capsys,
                                                                         gcl_logger):
    logs.configure("INFO")
    fit_with_valid(data, epochs=4, progress=True)  # captured stderr is not a terminal
    out, err = capsys.readouterr()
    assert out == ""
    assert "\r" not in err  # no progress bar
    lines = err.splitlines()
    assert len(lines) == 4
    assert all(" INFO gcl.train: epoch " in line for line in lines)
    assert lines[3].endswith("| valid ndcg@20 0.4000 recall@20 0.0000")


def test_at_warning_level_a_healthy_run_writes_nothing(data, capsys, gcl_logger):
    logs.configure("warning")
    fit_with_valid(data, epochs=3, progress=True)
    assert capsys.readouterr() == ("", "")


def test_configure_replaces_its_own_handler_and_names_a_bad_level(gcl_logger):
    logs.configure("INFO")
    logs.configure("DEBUG")
    ours = [h for h in gcl_logger.handlers if isinstance(h, logs._Stderr)]
    assert len(ours) == 1 and gcl_logger.level == logging.DEBUG
    with pytest.raises(ValueError, match="log level must be one of DEBUG, INFO, WARNING"):
        logs.configure("verbose")


def test_without_any_logging_set_up_progress_shows_the_lines_on_stderr(data, capsys,
                                                                       monkeypatch, gcl_logger):
    gcl_logger.handlers[:] = []  # e.g. a `gcl train` run earlier in this process set one
    monkeypatch.setattr(logs.log, "hasHandlers", lambda: False)
    fit_with_valid(data, epochs=2, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 2 and err.startswith("epoch 1 | loss ")
    fit_with_valid(data, epochs=2, progress=False)
    assert capsys.readouterr() == ("", "")


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("tty, enabled, drawn", [(True, True, True), (False, True, False),
                                                 (True, False, False)])
def test_bars_are_drawn_on_a_terminal_only(monkeypatch, tty, enabled, drawn):
    stream = Terminal() if tty else io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    assert list(logs.bar(range(3), enabled, desc="epoch 1")) == [0, 1, 2]
    assert ("\r" in stream.getvalue()) is drawn
