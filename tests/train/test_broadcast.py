"""Broadcast: rank 0's stop decision and weights go to every rank (a real two-rank run is
in tests/test_distributed.py)."""
from types import SimpleNamespace

import torch

from gcl import distributed
from gcl.train.hooks import Broadcast


def fit_of(stop):
    return SimpleNamespace(stop=stop, device=torch.device("cpu"),
                           trainer=SimpleNamespace(method=torch.nn.Linear(2, 2)))


def test_without_a_process_group_the_decision_stays():
    for stop in (False, True):
        fit = fit_of(stop)
        Broadcast().on_epoch_end(fit, {})
        assert fit.stop is stop
    Broadcast().on_fit_end(fit_of(False))  # nothing to sync


def test_rank_0s_decision_replaces_this_ranks_and_its_weights_are_synced(monkeypatch):
    sent, synced = [], []
    monkeypatch.setattr(distributed, "from_main",
                        lambda flag, device: sent.append(flag) or True)  # rank 0 stops
    monkeypatch.setattr(distributed, "sync_from_main", synced.append)
    fit = fit_of(False)
    hook = Broadcast()
    hook.on_epoch_end(fit, {})
    hook.on_fit_end(fit)
    assert sent == [False] and fit.stop is True
    assert synced == [fit.trainer.method]
