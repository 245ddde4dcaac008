"""The files of a training run's folder, besides the model: the evaluation log, the training
curve and TensorBoard events, kept up to date while the run trains (:class:`LiveFiles`).
Optional tools (matplotlib, tensorboard) are imported here only, and a missing one skips
its file with a note."""
from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gcl._io import atomic_write, sha256_file

# checkpoint.pt: the state of the last finished epoch, while the run trains
from gcl.checkpoint import CHECKPOINT as CHECKPOINT

CONFIG = "config.yaml"
DATA = "data.json"
LOCK = ".gcl-run.lock"
METRICS_LOG = "metrics.jsonl"
METRICS = "metrics.json"
MODEL = "model.pt"
CURVE = "training_curve.png"
TENSORBOARD = "tensorboard"
EMBEDDINGS = "embeddings"

_SHOWN = ("recall@20", "ndcg@20")

#: What a finished run leaves in its folder; --overwrite removes these, and nothing else.
RUN_FILES = (CONFIG, DATA, METRICS_LOG, METRICS, MODEL, CURVE)


def data_files(cfg: dict[str, Any]) -> list[Path]:
    """The files a run's data is read from: :obj:`--data`, the files of a :obj:`--dataset`
    folder or of a named dataset as found here, :obj:`--item-text` and
    :obj:`--word-vectors`."""
    files: list[Path] = []
    if cfg.get("data"):
        files.append(Path(cfg["data"]))
    elif cfg.get("dataset"):
        folder = Path(cfg["dataset"])
        if folder.is_dir():
            files.extend(sorted(p for p in folder.iterdir() if p.is_file()))
        else:
            from gcl.datasets import load_registry
            from gcl.datasets.download import find_local, lookup_dirs

            key = str(cfg["dataset"]).strip().lower()
            entry = load_registry().get(key)
            found = find_local(entry, lookup_dirs(key)) if entry else None
            if found:
                files.extend(Path(found) / name for name in entry["files"])
    for key in ("item_text", "word_vectors"):
        if cfg.get(key) and Path(cfg[key]).is_file():
            files.append(Path(cfg[key]))
    return files


def fingerprint(cfg: dict[str, Any]) -> dict[str, str]:
    """The sha256 of each file of :func:`data_files`, by absolute path."""
    return {str(p.resolve()): sha256_file(p) for p in data_files(cfg)}


def write_fingerprint(folder: Path, cfg: dict[str, Any]) -> None:
    """:obj:`data.json`: the sha256 of every data file the run reads."""
    with atomic_write(folder / DATA, "w") as f:
        json.dump({"sha256": fingerprint(cfg)}, f, indent=1)


def check_fingerprint(folder: Path) -> None:
    """Refuses the run's data when a file differs from the one it was trained on (as
    :obj:`data.json` records); a run without :obj:`data.json` is not checked."""
    path = folder / DATA
    if not path.is_file():
        return
    try:
        recorded = json.loads(path.read_text())["sha256"]
        items = list(recorded.items())
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{path} is damaged ({type(e).__name__}): it should hold the sha256 "
                         "of the run's data files") from e
    for name, digest in items:
        file = Path(name)
        if not file.is_file():
            raise FileNotFoundError(f"{file}, a data file of the run {folder}, is missing: "
                                    "restore it (the run's split and metrics need it)")
        now = sha256_file(file)
        if now != digest:
            raise ValueError(f"{file} changed since the run {folder} was trained on it (sha256 "
                             f"{str(digest)[:12]}..., now {now[:12]}...): its split and metrics "
                             "would not be the run's; restore the file, or train a new run on "
                             "it")


def evaluations(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The epochs of a training history that were evaluated (they hold :obj:`valid_` or
    :obj:`test_` keys)."""
    return [h for h in history if any(k.startswith(("valid_", "test_")) for k in h)]


def write_metrics_log(path: Path, history: Sequence[dict[str, Any]],
                      test: dict[str, float] | None, best_epoch: int | None) -> None:
    """:obj:`metrics.jsonl`: one JSON line per evaluation during training (epoch, losses,
    :obj:`valid_<metric>`), then one line with the final :obj:`test_<metric>` values of the
    model kept (:obj:`"final": true`). Written atomically; :obj:`gcl train` rewrites it
    after every epoch (with :obj:`test=None` until the end), so that a killed run keeps the
    log of its finished epochs, the same epochs as its checkpoint."""
    with atomic_write(path, "w") as f:
        for record in evaluations(history):
            f.write(json.dumps(record) + "\n")
        if test is not None:
            last = history[-1]["epoch"] if history else 0
            line = {"epoch": best_epoch if best_epoch is not None else last, "final": True,
                    **{f"test_{k}": v for k, v in test.items()}}
            f.write(json.dumps(line) + "\n")


def plot_curve(path: Path, history: Sequence[dict[str, Any]], title: str) -> str | None:
    """Writes the training curve (loss per epoch; valid Recall@20 and NDCG@20 per
    evaluation) as a PNG. Returns a note instead when matplotlib is missing or there is no
    epoch to draw."""
    if not history:
        return "no training curve: the method has no training epochs"
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return "no training curve: matplotlib is not installed (pip install 'gcl[plot]')"
    fig = Figure(figsize=(9, 3.6))
    FigureCanvasAgg(fig)
    ax_loss, ax_metric = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    ax_loss.plot(epochs, [h["loss"] for h in history], color="tab:blue")
    ax_loss.set(xlabel="epoch", ylabel="train loss", title="loss")
    evals = evaluations(history)
    for split, style in (("valid", "-"), ("test", "--")):
        for metric in _SHOWN:
            key = f"{split}_{metric}"
            points = [(h["epoch"], h[key]) for h in evals if key in h]
            if points:
                ax_metric.plot(*zip(*points), style, marker="o", markersize=3,
                               label=f"{split} {metric}")
    if ax_metric.lines:
        ax_metric.legend(fontsize=8)
    else:
        ax_metric.text(0.5, 0.5, "no evaluation during training\n(no valid split)",
                       ha="center", va="center", transform=ax_metric.transAxes)
    ax_metric.set(xlabel="epoch", title="evaluation")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)
    return None


def write_tensorboard(folder: Path, history: Sequence[dict[str, Any]],
                      test: dict[str, float] | None) -> str | None:
    """Writes the history as TensorBoard scalars (:obj:`train/<loss>`,
    :obj:`valid/<metric>`, :obj:`test/<metric>`) to :obj:`folder`. Returns a note instead
    when the :obj:`tensorboard` extra is missing."""
    writer = _summary_writer(folder)
    if isinstance(writer, str):
        return writer
    with writer:
        for h in history:
            _add_epoch(writer, h)
        _add_final(writer, history, test)
    return None


_NO_TENSORBOARD = ("no TensorBoard events: tensorboard is not installed "
                   "(pip install 'gcl[tensorboard]')")
_UNTIMED = {"epoch", "seconds", "train_seconds", "elapsed", "eval_seconds"}


def _summary_writer(folder: Path) -> Any:
    """A :class:`SummaryWriter` on :obj:`folder`, or the note that tensorboard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return _NO_TENSORBOARD
    return SummaryWriter(log_dir=str(folder))


def _add_epoch(writer: Any, record: dict[str, Any]) -> None:
    for key, value in record.items():
        if key in _UNTIMED:
            continue
        tag = (key.replace("_", "/", 1) if key.startswith(("valid_", "test_"))
               else f"train/{key}")
        writer.add_scalar(tag, value, record["epoch"])


def _add_final(writer: Any, history: Sequence[dict[str, Any]],
               test: dict[str, float] | None) -> None:
    if test is not None:
        step = history[-1]["epoch"] if history else 0
        for key, value in test.items():
            if key != "users":
                writer.add_scalar(f"final_test/{key}", value, step)


class LiveFiles:
    """The run folder's monitor files, written while the run trains: pass it as the
    :obj:`on_epoch_end` of :meth:`GraphCLRecommender.fit`, and call :meth:`finish` with
    the test metrics at the end. After every epoch it rewrites :obj:`metrics.jsonl` (see
    :func:`write_metrics_log`) and adds the epoch's TensorBoard scalars; it redraws
    :obj:`training_curve.png` after the first epoch and then at most every
    :obj:`curve_every` seconds (a redraw takes about a tenth of a second). A resumed run
    starts its TensorBoard events afresh from the history it got back, so no epoch is
    drawn twice.

    Args:
        folder (Path): the run folder.
        title (str): the title of the curve, e.g. :obj:`"ml-100k: lightgcn"`.
        curve_every (float): least seconds between two redraws of the curve.
            (default: :obj:`10.0`)
    """

    def __init__(self, folder: str | Path, title: str, curve_every: float = 10.0) -> None:
        self.folder, self.title, self.curve_every = Path(folder), title, curve_every
        self.notes: dict[str, str] = {}
        self._writer: Any = None
        self._last_epoch = 0  # the last epoch whose scalars are written
        self._drawn = -math.inf

    def __call__(self, history: Sequence[dict[str, Any]]) -> None:
        write_metrics_log(self.folder / METRICS_LOG, history, None, None)
        self._tensorboard(history)
        if time.monotonic() - self._drawn >= self.curve_every:
            self._curve(history)

    def finish(self, history: Sequence[dict[str, Any]], test: dict[str, float] | None,
               best_epoch: int | None) -> list[str]:
        """Writes the final files: :obj:`metrics.jsonl` with the final test line, the
        curve, and the test metrics as TensorBoard scalars; closes the events file.
        Returns the notes of the files that could not be written (a missing extra)."""
        write_metrics_log(self.folder / METRICS_LOG, history, test, best_epoch)
        self._curve(history)
        self._tensorboard(history)
        if self._writer is not None:
            _add_final(self._writer, history, test)
            self._writer.close()
            self._writer = None
        return list(self.notes.values())

    def _curve(self, history: Sequence[dict[str, Any]]) -> None:
        note = plot_curve(self.folder / CURVE, history, self.title)
        if note:
            self.notes["curve"] = note
        self._drawn = time.monotonic()

    def _tensorboard(self, history: Sequence[dict[str, Any]]) -> None:
        if "tensorboard" in self.notes:
            return
        if self._writer is None:
            folder = self.folder / TENSORBOARD
            for old in folder.glob("events.out.tfevents.*"):  # of an interrupted run
                old.unlink()
            writer = _summary_writer(folder)
            if isinstance(writer, str):
                self.notes["tensorboard"] = writer
                return
            self._writer = writer
        for record in history:
            if record["epoch"] > self._last_epoch:
                _add_epoch(self._writer, record)
                self._last_epoch = record["epoch"]
        self._writer.flush()
