import numpy as np
import pytest
import torch

from gcl.augment.feature import FeatureMask, NodeMask, _num_masked
from tests.augment import gen, random_graph


@pytest.fixture(scope="module")
def graph():
    return random_graph(200, 300, 2000)


# -- NodeMask -------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.1, 0.4])
def test_node_mask_zeroes_masked_rows_only(graph, p):
    aug = NodeMask(p)
    view = aug(graph, gen(1))
    n = graph.num_nodes
    assert aug.mask.shape == (n,) and aug.mask.dtype == torch.bool
    assert abs((~aug.mask).float().mean().item() - p) < 0.05
    assert view.graph is graph  # edges untouched
    x = torch.randn(n, 8) + 5
    out = view.input(x)
    assert (out[~aug.mask] == 0).all()
    assert torch.equal(out[aug.mask], x[aug.mask])
    assert torch.equal(view.input(x), out)  # the same view masks the same nodes


def test_node_mask_seeding_eval_and_shape_check(graph):
    a, b, c = NodeMask(0.3), NodeMask(0.3), NodeMask(0.3)
    a(graph, gen(5))
    b(graph, gen(5))
    c(graph, gen(6))
    assert torch.equal(a.mask, b.mask) and not torch.equal(a.mask, c.mask)
    assert NodeMask(0.3).eval()(graph, gen()).input_fn is None
    with pytest.raises(ValueError, match=r"shape \[500, d\]"):
        a(graph, gen()).input(torch.ones(10, 3))


# -- FeatureMask: random --------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.2, 0.5])
def test_random_feature_mask_masks_whole_columns(p):
    g = random_graph(50, 50, 300)
    aug = FeatureMask(p)
    view = aug(g, gen(2))
    assert aug.mask is None  # d is only known when the view runs
    x = torch.randn(g.num_nodes, 2000) + 3
    out = view.input(x)
    m = aug.mask
    assert m.shape == (2000,) and m.dtype == torch.bool
    assert abs((~m).float().mean().item() - p) < 0.04
    assert (out[:, ~m] == 0).all() and torch.equal(out[:, m], x[:, m])
    torch.testing.assert_close(view.input(x), out, rtol=0, atol=0)  # fixed per view


def test_random_feature_mask_per_node():
    g = random_graph(50, 50, 300)
    aug = FeatureMask(0.3, per_node=True)
    x = torch.randn(g.num_nodes, 64) + 3
    out = aug(g, gen(3)).input(x)
    m = aug.mask
    assert m.shape == (g.num_nodes, 64)
    assert (out[~m] == 0).all() and torch.equal(out[m], x[m])
    assert not torch.equal(m[0], m[1])  # independent rows
    assert abs((~m).float().mean().item() - 0.3) < 0.02


def test_feature_mask_seeding():
    g = random_graph(20, 20, 100)
    x = torch.randn(g.num_nodes, 256)
    masks = []
    for seed in (0, 0, 1):
        aug = FeatureMask(0.5)
        aug(g, gen(seed)).input(x)
        masks.append(aug.mask)
    assert torch.equal(masks[0], masks[1]) and not torch.equal(masks[0], masks[2])
    g0 = gen(0)  # two views from one generator differ
    aug = FeatureMask(0.5)
    v1, v2 = aug(g, g0), aug(g, g0)
    assert not torch.equal(v1.input(x), v2.input(x))


# -- FeatureMask: correlated ----------------------------------------------------------------

def two_block_data(n=400, d=20, seed=0) -> torch.Tensor:
    """Columns 0..d/2-1 are noisy copies of one latent factor, the rest of another."""
    g = gen(seed)
    z = torch.randn(n, 2, generator=g)
    scale = torch.rand(d, generator=g) * 2 + 0.5  # different scales: Pearson, not covariance
    sign = torch.where(torch.arange(d) % 3 == 0, -1.0, 1.0)  # anti-correlation counts too
    latent = z[:, (torch.arange(d) >= d // 2).long()]
    return (latent + 0.2 * torch.randn(n, d, generator=g)) * scale * sign + 7


def test_correlated_mask_masks_the_seed_block():
    x = two_block_data()
    a, b = set(range(10)), set(range(10, 20))
    seen = set()
    for seed in range(12):
        aug = FeatureMask(0.5, mode="correlated")
        out = aug(random_graph(200, 200, 500), gen(seed)).input(x)
        masked = set(torch.nonzero(~aug.mask).ravel().tolist())
        assert masked in (a, b)
        seen.add(min(masked))
        assert (out[:, sorted(masked)] == 0).all()
        kept = sorted(set(range(20)) - masked)
        assert torch.equal(out[:, kept], x[:, kept])
    assert seen == {0, 10}  # random seeds hit both blocks


def test_correlated_mask_picks_top_correlated_subset():
    """With p*d smaller than a block, the masked columns are the seed plus the columns most
    correlated with it (checked against numpy's corrcoef)."""
    x = two_block_data(d=20, seed=3)
    aug = FeatureMask(0.3, mode="correlated")
    aug(random_graph(200, 200, 500), gen(4)).input(x)
    masked = torch.nonzero(~aug.mask).ravel().numpy()
    assert len(masked) == 6
    corr = np.abs(np.corrcoef(x.double().numpy(), rowvar=False))
    # the seed is the masked column whose top-6 correlation set equals the masked set
    hits = [s for s in masked if set(np.argsort(-corr[s])[:6]) == set(masked)]
    assert hits


def test_correlated_mask_handles_constant_columns_and_grad():
    x = two_block_data(d=8)
    x[:, 3] = 1.0  # constant: zero correlation, never NaN
    x.requires_grad_()
    aug = FeatureMask(0.25, mode="correlated")
    out = aug(random_graph(200, 200, 500), gen(0)).input(x)
    assert torch.isfinite(out).all() and (~aug.mask).sum() == 2
    out.sum().backward()
    torch.testing.assert_close(x.grad, aug.mask.float().expand_as(x))


def test_num_masked_rounding():
    assert _num_masked(0.3, 10) == 3
    assert _num_masked(0.25, 10) == 3
    assert _num_masked(0.0, 10) == 0
    assert _num_masked(0.99, 10) == 10


def test_feature_mask_validation_and_eval():
    with pytest.raises(ValueError, match="mode must be one of"):
        FeatureMask(0.5, mode="mutual")
    with pytest.raises(ValueError, match="per_node"):
        FeatureMask(0.5, mode="correlated", per_node=True)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        FeatureMask(1.0)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        NodeMask(-0.5)
    g = random_graph(5, 5, 10)
    with pytest.raises(ValueError, match="2-D input"):
        FeatureMask(0.5)(g, gen()).input(torch.ones(10))
    assert FeatureMask(0.5).eval()(g, gen()).input_fn is None
    assert FeatureMask.per == "batch" and NodeMask.per == "epoch"
    assert repr(FeatureMask(0.5, "correlated")) == \
        "FeatureMask(p=0.5, mode='correlated', per_node=False)"
