import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcl.augment.noise import EmbeddingNoise
from gcl.view import View
from tests.augment import gen, random_graph


@pytest.fixture(scope="module")
def graph():
    return random_graph(30, 40, 300)


def nonzero(shape, seed=0, dtype=torch.float32) -> torch.Tensor:
    h = torch.randn(shape, generator=gen(seed), dtype=dtype)
    return torch.where(h == 0, torch.ones_like(h), h)


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.1, 1.0])
def test_noise_norm_is_eps_and_noise_stays_in_the_orthant(graph, eps):
    view = EmbeddingNoise(eps)(graph, gen(1))
    h = nonzero((graph.num_nodes, 16))
    out = view.perturb(h, 0)
    delta = out - h
    torch.testing.assert_close(delta.norm(dim=-1), torch.full((graph.num_nodes,), eps),
                               atol=1e-5, rtol=1e-5)
    assert torch.equal(torch.sign(out), torch.sign(h))
    assert (delta * torch.sign(h) >= 0).all()  # each component points away from zero


@settings(max_examples=30, deadline=None)
@given(eps=st.floats(1e-3, 10.0), d=st.integers(1, 32), seed=st.integers(0, 2**31))
def test_noise_property(eps, d, seed):
    h = nonzero((5, d), seed, torch.float64) * 3
    delta = EmbeddingNoise.noise(h, eps, gen(seed))
    torch.testing.assert_close(delta.norm(dim=-1), torch.full((5,), eps, dtype=torch.float64))
    assert torch.equal(torch.sign(h + delta), torch.sign(h))


def test_zero_entries_get_no_noise():
    h = torch.tensor([[0.0, 1.0, -2.0], [0.0, 0.0, 0.0]])
    delta = EmbeddingNoise.noise(h, 0.5, gen())
    assert (delta[:, 0] == 0).all() and (delta[1] == 0).all()
    assert (delta[0, 1:] * torch.tensor([1.0, -1.0]) > 0).all()


def test_fresh_noise_per_call_and_seeding(graph):
    h = nonzero((graph.num_nodes, 8))
    view = EmbeddingNoise(0.1)(graph, gen(3))
    a, b = view.perturb(h, 0), view.perturb(h, 0)
    assert not torch.equal(a, b)  # new noise at every call
    again = EmbeddingNoise(0.1)(graph, gen(3))
    torch.testing.assert_close(again.perturb(h, 0), a, rtol=0, atol=0)
    other = EmbeddingNoise(0.1)(graph, gen(4))
    assert not torch.equal(other.perturb(h, 0), a)


def test_dtype_device_and_global_rng():
    h = nonzero((6, 4), dtype=torch.float64)
    out = EmbeddingNoise(0.2)(random_graph(2, 4, 6), None).perturb(h, 1)
    assert out.dtype == torch.float64 and out.device == h.device
    with pytest.raises(TypeError, match="floating-point"):
        EmbeddingNoise.noise(torch.ones(2, 2, dtype=torch.long), 0.1)


def test_only_propagated_layers_are_perturbed(graph):
    view = EmbeddingNoise(0.1)(graph, gen())
    x = nonzero((graph.num_nodes, 4))
    assert view.input(x) is x
    torch.testing.assert_close(view.propagate(x, 0), graph.propagate(x))


def test_composes_with_an_existing_perturbation(graph):
    base = View(graph, perturb_fn=lambda h, k: h * 2)
    view = EmbeddingNoise(0.1)(base, gen())
    h = nonzero((graph.num_nodes, 4))
    torch.testing.assert_close((view.perturb(h, 0) - 2 * h).norm(dim=-1),
                               torch.full((graph.num_nodes,), 0.1))


def test_eval_mode_and_gradient(graph):
    aug = EmbeddingNoise(0.1).eval()
    assert aug(graph).perturb_fn is None and aug(graph).graph is graph
    h = nonzero((graph.num_nodes, 4)).requires_grad_()
    EmbeddingNoise(0.1)(graph, gen()).perturb(h, 0).sum().backward()
    torch.testing.assert_close(h.grad, torch.ones_like(h))  # noise is a constant shift


@pytest.mark.parametrize("eps", [-0.1, float("inf"), float("nan")])
def test_rejects_bad_eps(eps):
    with pytest.raises(ValueError, match="eps must be finite and >= 0"):
        EmbeddingNoise(eps)
    with pytest.raises(TypeError):
        EmbeddingNoise("0.1")


def test_per_batch():
    assert EmbeddingNoise.per == "batch"
    aug = EmbeddingNoise(0.2)
    aug(random_graph(3, 3, 5), gen())
    assert aug.mask is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_perturbation_is_the_papers_formula_bit_for_bit(graph, dtype):
    """h + eps * normalize(r) * sign(h), r ~ U(0, 1) from the view's generator, as SELFRec's
    SimGCL/XSimGCL compute it, with the gradient of the identity."""
    h = torch.randn(graph.num_nodes, 16, generator=gen(3), dtype=dtype).requires_grad_()
    out = EmbeddingNoise(0.2)(graph, gen(5)).perturb(h, 0)
    r = torch.rand(h.shape, generator=gen(5), dtype=dtype)
    expected = h + 0.2 * torch.nn.functional.normalize(r, dim=-1) * torch.sign(h.detach())
    assert torch.equal(out, expected)
    (grad,) = torch.autograd.grad((out * out).sum(), h)
    torch.testing.assert_close(grad, 2 * expected.detach())
