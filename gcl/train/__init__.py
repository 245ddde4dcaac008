"""Training: :class:`Trainer`, the one loop every method runs in, with its settings
(:class:`TrainConfig`), its hooks (:mod:`gcl.train.hooks`) and its log lines
(:mod:`gcl.train.logs`)."""
from gcl.train.config import TrainConfig
from gcl.train.hooks import (
    BPR_STUCK_TOL,
    CL_DECAYS,
    LN2,
    SPREAD_MIN,
    Hook,
    spread,
)
from gcl.train.loop import Trainer, adam, seed_everything
from gcl.train.state import Fit, FitState

__all__ = ["Trainer", "TrainConfig", "Hook", "Fit", "FitState", "seed_everything", "adam",
           "spread", "LN2", "BPR_STUCK_TOL", "CL_DECAYS", "SPREAD_MIN"]
