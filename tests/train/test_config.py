"""TrainConfig: defaults and bad values."""
import pytest

from gcl.train import TrainConfig


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"num_neg": 0}, "num_neg must be >= 1"),
    ({"eval_every": 0}, "eval_every must be >= 1"),
    ({"epochs": -3}, "epochs must be >= 1"),
    ({"lr": 0.0}, "lr must be a finite number > 0"),
    ({"lr": -1e-3}, "lr must be a finite number > 0"),
])
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("kwargs", [{"patience": 0}, {"patience": -1}, {"lr": float("nan")}])
def test_bad_config_raises_for_patience_and_nan_lr(kwargs):
    with pytest.raises(ValueError):
        TrainConfig(**kwargs)


def test_config_defaults():
    cfg = TrainConfig()
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.num_neg, cfg.eval_every) == (
        1000, 2048, 1e-3, 1, 1)
    assert (cfg.patience, cfg.metric, cfg.restore_best, cfg.budget_seconds, cfg.seed) == (
        10, "ndcg@20", True, None, 0)
