import pytest
import torch

from gcl.augment.base import Augmenter, Compose, RandomChoice
from gcl.augment.edge import EdgeDrop, NodeDrop, RandomWalk
from gcl.augment.feature import FeatureMask, NodeMask
from gcl.augment.noise import EmbeddingNoise
from gcl.augment.svd import SVDView
from gcl.nn import LightGCN
from gcl.view import View
from tests.augment import gen, random_graph


class Tag(Augmenter):
    """Appends its name to a shared log when it runs, and its name to the input."""

    def __init__(self, name: str, log: list[str], per: str = "epoch") -> None:
        super().__init__()
        self.name, self.log, self.per = name, log, per

    def augment(self, view: View, generator: torch.Generator | None) -> View:
        self.log.append(self.name)
        self.mask = torch.tensor([len(self.log)])
        return view.add_input(lambda x: x * 10 + int(self.name))


@pytest.fixture(scope="module")
def graph():
    return random_graph(60, 80, 600)


def test_compose_applies_in_order(graph):
    log: list[str] = []
    aug = Compose([Tag("1", log), Tag("2", log), Tag("3", log)])
    view = aug(graph, gen())
    assert log == ["1", "2", "3"]
    assert view.input(torch.zeros(1)).item() == 123  # ((0*10+1)*10+2)*10+3
    assert aug.per == "epoch"
    assert Compose([Tag("1", log), Tag("2", log, per="batch")]).per == "batch"


def test_compose_real_augmenters(graph):
    aug = Compose([EdgeDrop(0.2), EmbeddingNoise(0.1)])
    view = aug(graph, gen())
    assert view.graph is not graph and view.perturb_fn is not None and aug.per == "batch"


def test_compose_train_eval_propagates(graph):
    log: list[str] = []
    parts = [Tag("1", log), EdgeDrop(0.2)]
    aug = Compose(parts).eval()
    assert not any(a.training for a in parts)
    v = View(graph)
    assert aug(v, gen()) is v and log == []
    aug.train()
    assert all(a.training for a in parts)
    assert aug(graph, gen()).graph is not graph and log == ["1"]


def test_random_choice_weights_zero_one_always_picks_second(graph):
    log: list[str] = []
    first, second = Tag("1", log), Tag("2", log)
    aug = RandomChoice([first, second], weights=[0, 1])
    g = gen()
    for _ in range(20):
        aug(graph, g)
        assert aug.chosen == 1 and aug.mask is second.mask
    assert log == ["2"] * 20


def test_random_choice_follows_weights_and_seed(graph):
    log: list[str] = []
    aug = RandomChoice([Tag("1", log), Tag("2", log)], weights=[1, 3])
    g = gen(0)
    picks = []
    for _ in range(400):
        aug(graph, g)
        picks.append(aug.chosen)
    assert abs(sum(picks) / 400 - 0.75) < 0.07
    g = gen(0)
    again = []
    for _ in range(50):
        aug(graph, g)
        again.append(aug.chosen)
    assert again == picks[:50]


def test_random_choice_train_eval_and_per(graph):
    parts = [EdgeDrop(0.1), EmbeddingNoise(0.1)]
    aug = RandomChoice(parts)
    assert aug.per == "batch"
    aug.eval()
    assert not any(a.training for a in parts)
    v = View(graph)
    assert aug(v, gen()) is v and aug.chosen is None
    aug.train()
    assert all(a.training for a in parts)
    with pytest.raises(ValueError):
        RandomChoice([])
    with pytest.raises(ValueError):
        RandomChoice(parts, weights=[1, -1])


AUGMENTERS = {
    "edge": lambda: EdgeDrop(0.2),
    "node": lambda: NodeDrop(0.2),
    "rw": lambda: RandomWalk(0.2, 2),
    "node_mask": lambda: NodeMask(0.2),
    "feature_random": lambda: FeatureMask(0.3),
    "feature_per_node": lambda: FeatureMask(0.3, per_node=True),
    "feature_correlated": lambda: FeatureMask(0.3, mode="correlated"),
    "noise": lambda: EmbeddingNoise(0.1),
    "svd": lambda: SVDView(rank=5),
    "compose": lambda: Compose([EdgeDrop(0.1), FeatureMask(0.2), EmbeddingNoise(0.1)]),
    "choice": lambda: RandomChoice([NodeDrop(0.1), SVDView(rank=4)]),
}


@pytest.mark.parametrize("name", sorted(AUGMENTERS))
def test_lightgcn_end_to_end_with_gradients(graph, name):
    torch.manual_seed(0)
    model = LightGCN(graph.num_users, graph.num_items, dim=16, layers=2)
    aug = AUGMENTERS[name]()
    v1, v2 = aug(graph, gen(1)), aug(graph, gen(2))
    z1 = torch.stack(model.propagate(v1)).mean(0)
    z2 = torch.stack(model.propagate(v2)).mean(0)
    assert z1.shape == z2.shape == (graph.num_nodes, 16)
    assert torch.isfinite(z1).all() and torch.isfinite(z2).all()
    assert not torch.allclose(z1, z2) or name == "svd"  # SVD view is fixed per graph
    clean = torch.stack(model.propagate(graph)).mean(0)
    assert not torch.allclose(z1, clean)
    loss = (z1 - z2).pow(2).sum() + z1.pow(2).sum()
    loss.backward()
    grad = model.embedding.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    # eval mode: the view is the plain graph again
    aug.eval()
    ev = aug(graph, gen(1))
    assert ev.graph is graph and ev.input_fn is None and ev.perturb_fn is None
    torch.testing.assert_close(torch.stack(model.propagate(ev)).mean(0), clean)


def test_from_spec_knows_exactly_the_packages_augmenters():
    import gcl.augment
    from gcl.augment.base import AUGMENTERS, from_spec

    public = {n for n in gcl.augment.__all__ if isinstance(getattr(gcl.augment, n), type)
              and issubclass(getattr(gcl.augment, n), gcl.augment.Augmenter)}
    assert set(AUGMENTERS) == public
    aug = gcl.augment.Compose([gcl.augment.EdgeDrop(0.2), gcl.augment.EmbeddingNoise(0.1)])
    again = from_spec(aug.spec())
    assert again.spec() == aug.spec() and isinstance(again.augmenters[0], gcl.augment.EdgeDrop)

    class Mine(gcl.augment.Augmenter):  # defined outside gcl.augment: never looked up
        pass

    with pytest.raises(ValueError, match="unknown augmenter 'Mine'"):
        from_spec(Mine().spec())
