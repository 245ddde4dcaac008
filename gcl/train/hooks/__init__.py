"""The hooks of the training loop: each one concern of :meth:`gcl.train.Trainer.fit`,
behind the one small interface of :class:`Hook`."""
from gcl.train.hooks.base import Hook
from gcl.train.hooks.broadcast import Broadcast
from gcl.train.hooks.callback import Callback
from gcl.train.hooks.checkpoints import Checkpoints
from gcl.train.hooks.cl_schedule import CL_DECAYS, ClSchedule
from gcl.train.hooks.collapse import BPR_STUCK_TOL, LN2, SPREAD_MIN, CollapseWatch, spread
from gcl.train.hooks.decline import DeclineWarning
from gcl.train.hooks.early_stopping import EarlyStopping
from gcl.train.hooks.epoch_log import EpochLog
from gcl.train.hooks.monitor import Monitor

__all__ = ["Hook", "Monitor", "EpochLog", "EarlyStopping", "DeclineWarning", "CollapseWatch",
           "ClSchedule", "Checkpoints", "Callback", "Broadcast", "spread", "LN2",
           "BPR_STUCK_TOL", "SPREAD_MIN", "CL_DECAYS"]
