"""Checkpoints: the state at the end of every epoch, written atomically, and read back to
resume."""
from __future__ import annotations

import dataclasses
from os import PathLike
from pathlib import Path
from typing import Any

from gcl.checkpoint import (
    check_target,
    differences,
    load_checkpoint,
    rng_states,
    save_checkpoint,
    set_rng_states,
)
from gcl.train.hooks.base import Hook
from gcl.train.state import Fit


class Checkpoints(Hook):
    """Writes :obj:`<directory>/checkpoint.pt` at the end of every epoch (see
    :mod:`gcl.checkpoint`): the fingerprint of the run (:meth:`Trainer.fingerprint`), the
    progress (:class:`~gcl.train.state.FitState`), the weights, the best weights, the
    optimiser, every random generator and the history; :meth:`restore` reads it back.
    List it after every hook that changes the state or decides to stop.

    Args:
        directory (str or PathLike, optional): the checkpoint folder; :obj:`None` writes
            nothing. (default: :obj:`None`)
        resume (bool): whether the fit goes on from the checkpoint there, which must then
            exist; without it, a checkpoint there is an error rather than overwritten.
            (default: :obj:`False`)
        write (bool): whether this process writes (rank 0 alone does); it still reads to
            resume. (default: :obj:`True`)

    Raises:
        FileNotFoundError: :obj:`resume` and no checkpoint.
        FileExistsError: not :obj:`resume` and a checkpoint is there.
        ValueError: :obj:`resume` without :obj:`directory`.
    """

    def __init__(self, directory: str | PathLike | None = None, resume: bool = False,
                 write: bool = True) -> None:
        self.directory = None if directory is None else Path(directory)
        self.path = None
        if self.directory is not None:
            self.path = check_target(self.directory, resume)
        elif resume:
            raise ValueError("resume=True needs the checkpoint_dir to resume from")
        self.write = write and self.path is not None

    def on_epoch_end(self, fit: Fit, record: dict[str, Any]) -> None:
        s = fit.state
        s.epoch, s.finished = fit.epoch, fit.stop
        s.elapsed = fit.clock() - fit.start
        if self.write:
            self.save(fit)

    def save(self, fit: Fit) -> None:
        """Writes the checkpoint of :obj:`fit` as it is now."""
        trainer = fit.trainer
        save_checkpoint(self.path, {
            "fingerprint": trainer.fingerprint(),
            "progress": dataclasses.asdict(fit.state),
            "model": {k: v.detach().cpu() for k, v in trainer.method.state_dict().items()},
            "best_state": None if fit.best_state is None else {
                k: v.detach().cpu() for k, v in fit.best_state.items()},
            "optimizer": fit.optimizer.state_dict(),
            "rng": rng_states(fit.generator),
            "history": [dict(h) for h in trainer.history],
        })

    def restore(self, fit: Fit) -> None:
        """Puts the checkpoint's state into :obj:`fit`: weights (and the contrastive weight
        the schedule reached), optimiser, random generators, progress, history and best
        weights.

        Raises:
            ValueError: the checkpoint is of another run (its fingerprint differs), or
                unreadable.
        """
        trainer = fit.trainer
        state = load_checkpoint(self.path)
        diffs = differences(state.get("fingerprint", {}), trainer.fingerprint())
        if diffs:
            raise ValueError(
                f"the checkpoint in {self.directory} is of another run; resume it with "
                "the settings and data it was trained with:\n  " + "\n  ".join(diffs))
        trainer.method.load_state_dict(state["model"])
        fit.optimizer.load_state_dict(state["optimizer"])
        set_rng_states(fit.generator, state["rng"])
        for key, value in state["progress"].items():
            setattr(fit.state, key, value)
        if fit.state.cl_weight is not None:
            trainer.method.cl_weight = fit.state.cl_weight
        trainer.history = [dict(h) for h in state["history"]]
        trainer.best_epoch = fit.state.best_epoch
        best, device = state["best_state"], trainer.graph.device
        fit.best_state = None if best is None else {k: v.to(device) for k, v in best.items()}

    def kept(self, fit: Fit) -> str:
        """What an interrupted or failed fit leaves to resume from, as the end of a
        message."""
        if not self.write:
            return ""
        if fit.state.epoch == 0:
            return "; no epoch had finished, so there is no checkpoint to resume"
        return (f"; the checkpoint of epoch {fit.state.epoch}, the last good one, is kept in "
                f"{self.path}: resume with resume=True (gcl train --resume RUN)")
