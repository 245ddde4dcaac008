"""CollapseWatch: a BPR loss stuck at ln 2, embeddings that no longer differ."""
import pytest
import torch

from gcl.train import TrainConfig, Trainer, seed_everything
from tests.train import Toy, collapse_warnings, config, lightgcn


def test_bpr_stuck_near_ln2_warns_once_with_what_to_try(data):
    train, _, graph = data
    method = lightgcn(train)
    with pytest.warns(RuntimeWarning) as record:
        Trainer(method, graph, train, config(epochs=6, lr=1e-6, collapse_epochs=3)).fit()
    messages = collapse_warnings(record)
    assert len(messages) == 1
    assert "BPR loss has stayed within 0.01 of ln 2 = 0.6931" in messages[0]
    assert "for 3 epochs (epoch 3" in messages[0] and "raise the learning rate" in messages[0]


def test_bpr_stuck_under_a_contrastive_loss_names_its_knobs(data):
    from gcl.methods import SimGCL

    train, _, graph = data
    seed_everything(0)
    method = SimGCL(train.num_users, train.num_items, dim=8, layers=2, init_std=0.1)
    with pytest.warns(RuntimeWarning) as record:
        Trainer(method, graph, train, config(epochs=3, lr=1e-6, collapse_epochs=3,
                                             cl_decay=None)).fit()
    (message,) = collapse_warnings(record)
    assert "the ranking is not: lower cl_weight or eps" in message


class Constant(Toy):
    """Every user and every item gets the same vector: a complete collapse."""

    def embeddings(self, graph):
        return (self.w.expand(self.num_users, 4) * 1.0,
                self.w.expand(self.num_items, 4) * 1.0)


def test_collapsed_embeddings_warn(data):
    train, _, graph = data
    method = Constant(train.num_users, train.num_items)
    with pytest.warns(RuntimeWarning) as record:
        Trainer(method, graph, train, config(epochs=4, collapse_epochs=2)).fit()
    (message,) = collapse_warnings(record)
    assert "the user embeddings have been nearly identical for 2 epochs (epoch 2" in message
    assert "a lower learning rate" in message


def test_healthy_training_and_collapse_epochs_none_do_not_warn(data, recwarn):
    train, _, graph = data
    Trainer(lightgcn(train), graph, train, config(epochs=8, collapse_epochs=2)).fit()
    Trainer(lightgcn(train), graph, train, config(epochs=4, lr=1e-6,
                                                  collapse_epochs=None)).fit()
    assert collapse_warnings(recwarn.list) == []
    with pytest.raises(ValueError, match="collapse_epochs must be >= 1 or None"):
        TrainConfig(collapse_epochs=0)


def test_spread():
    from gcl.train import spread

    gen = torch.Generator().manual_seed(0)
    assert spread(torch.randn(500, 16, generator=gen)) > 0.95
    assert spread(torch.ones(50, 8) * 3) == pytest.approx(0.0, abs=1e-12)
    assert spread(torch.zeros(50, 8)) == 0.0
    assert spread(torch.ones(1, 8)) == 1.0  # one row cannot collapse
