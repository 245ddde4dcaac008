import pytest
import torch

from gcl.augment.draws import check_prob, draw_seed, keep_mask


def test_check_prob_names_the_setting():
    assert check_prob(0.25) == 0.25
    with pytest.raises(ValueError, match="drop must be in"):
        check_prob(1.0, "drop")
    with pytest.raises(TypeError, match="p must be a number"):
        check_prob(True)


def test_draws_follow_the_generator():
    def draw(seed):
        gen = torch.Generator().manual_seed(seed)
        return keep_mask((1000,), 0.3, gen), draw_seed(gen)

    (mask, seed), (again, seed_again) = draw(0), draw(0)
    assert torch.equal(mask, again) and seed == seed_again
    assert mask.dtype == torch.bool and abs(mask.float().mean().item() - 0.7) < 0.06
    assert 0 <= seed < 2**63 - 1
