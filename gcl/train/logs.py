"""Where training talks: log records under the :obj:`"gcl"` logger, and progress bars.

The lines of a run (one per epoch: loss, seconds, valid metrics when evaluated; early stop;
changes of the contrastive weight) are :mod:`logging` records of :obj:`"gcl.train"` at
INFO; warnings of the loop that need no action are records at WARNING. An application
chooses where they go with the :mod:`logging` module, or with :func:`configure` (what the
``gcl`` command does): one plain line per record on stderr, so that results on stdout stay
clean. Progress bars are drawn on stderr, and only where someone watches: a terminal or a
notebook; in a log file they would be carriage returns.
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("gcl.train")

#: The logger every module of gcl logs under.
ROOT = "gcl"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Stderr(logging.StreamHandler):
    """A handler that writes to the :obj:`sys.stderr` of the moment it writes (one that
    was replaced after the handler was made, e.g. by a test's capture, included)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler assigns it; the getter rules
        pass


def configure(level: str | int = "INFO") -> logging.Logger:
    """Sends the records of the :obj:`"gcl"` loggers at :obj:`level` or above to stderr, one
    line each (time, level, logger, message). Calling it again replaces the handler it
    added before, so the level can be changed; handlers added by others are left alone.

    Args:
        level (str or int): :obj:`"DEBUG"`, :obj:`"INFO"` (one line per epoch),
            :obj:`"WARNING"` (problems only), :obj:`"ERROR"` or :obj:`"CRITICAL"`, or a
            :mod:`logging` level number. (default: :obj:`"INFO"`)

    Returns:
        logging.Logger: the :obj:`"gcl"` logger.

    Raises:
        ValueError: an unknown level name.
    """
    if isinstance(level, str):
        name = level.strip().upper()
        if name not in LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LEVELS)} (any case), "
                             f"got {level!r}")
        level = getattr(logging, name)
    root = logging.getLogger(ROOT)
    for handler in [h for h in root.handlers if isinstance(h, _Stderr)]:
        root.removeHandler(handler)
    handler = _Stderr()
    handler.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(level)
    return root


def report(line: str, progress: bool = True) -> None:
    """Logs one line of a run at INFO on :obj:`"gcl.train"`. When nothing handles gcl's
    records (no :func:`configure`, no :mod:`logging` set-up) and :obj:`progress` is on, the
    line goes to stderr itself, so that a user of the library who did not set up logging
    still sees the run."""
    log.info(line)
    if progress and not log.hasHandlers():
        from tqdm.auto import tqdm

        tqdm.write(line, file=sys.stderr)


def bar(iterable: Iterable[Any], enabled: bool = True, **kwargs: Any) -> Any:
    """A :mod:`tqdm` progress bar over :obj:`iterable` on stderr, drawn only when
    :obj:`enabled` and stderr is a terminal (or in a notebook); otherwise the iterable
    unchanged in a disabled bar (no output at all).

    Args:
        iterable (iterable): what to iterate over.
        enabled (bool): whether a bar is wanted at all. (default: :obj:`True`)
        **kwargs: passed to :class:`tqdm.tqdm` (e.g. :obj:`desc`, :obj:`unit`).
    """
    from tqdm.auto import tqdm

    # disable=None is tqdm's own "only on a TTY"; its notebook bar shows regardless.
    return tqdm(iterable, disable=None if enabled else True, file=sys.stderr, **kwargs)
