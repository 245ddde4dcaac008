"""One log line per epoch."""
from __future__ import annotations

from typing import Any

from gcl import distributed
from gcl.train.hooks.base import Hook
from gcl.train.state import Fit

#: The metrics an epoch line shows, of valid (else of the monitor) when evaluated.
SHOWN = ("recall", "ndcg")


class EpochLog(Hook):
    """Reports one line per epoch (see :mod:`gcl.train.logs`): the epoch, its mean loss and
    seconds, and Recall@20 and NDCG@20 on valid when it was evaluated, or of the monitor
    when there is no valid, e.g.
    :obj:`"epoch 3 | loss 0.4121 | 1.2s | valid recall@20 0.2013 ndcg@20 0.1630"`.
    Rank 0 alone reports."""

    def on_epoch_end(self, fit: Fit, record: dict[str, Any]) -> None:
        if not distributed.is_main():
            return
        line = f"epoch {fit.epoch} | loss {record['loss']:.4f} | {record['seconds']:.1f}s"
        for split, name in (("valid", "valid"), ("test", "monitor")):
            shown = [f"{k.split('_', 1)[1]} {v:.4f}" for k, v in record.items()
                     if k.startswith(f"{split}_") and k.endswith("@20")
                     and k[len(split) + 1:].split("@")[0] in SHOWN]
            if shown:
                line += f" | {name} " + " ".join(shown)
                break
        fit.report(line)
