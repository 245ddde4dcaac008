import pytest
import torch

from gcl.augment import (
    Compose,
    SequenceCrop,
    SequenceMask,
    SequenceRandomChoice,
    SequenceReorder,
    from_spec,
)
from gcl.augment.sequence import MASK, PAD

P = PAD
BATCH = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                      [11, 12, 13, 14, 15, P, P, P, P, P],
                      [16, 17, P, P, P, P, P, P, P, P],
                      [18, P, P, P, P, P, P, P, P, P],
                      [P, P, P, P, P, P, P, P, P, P]])
LENGTHS = [10, 5, 2, 1, 0]


def run(aug, seed=0):
    return aug(BATCH, torch.Generator().manual_seed(seed))


def lengths(out):
    return (out != PAD).sum(1).tolist()


def test_crop_for_a_fixed_seed():
    out = run(SequenceCrop(0.6))
    # floor(0.6 n) items, at least one: 6, 3, 1, 1; the empty row stays empty.
    assert lengths(out) == [6, 3, 1, 1, 0]
    starts = (torch.rand(5, generator=torch.Generator().manual_seed(0))
              * torch.tensor([5, 3, 2, 1, 1])).long().tolist()
    for row, n, start, full in zip(out.tolist(), [6, 3, 1, 1, 0], starts, BATCH.tolist()):
        assert row[:n] == full[start:start + n]  # a contiguous window, moved to the front
        assert row[n:] == [P] * (10 - n)
    assert torch.equal(out, run(SequenceCrop(0.6)))  # seeded
    assert not torch.equal(out, run(SequenceCrop(0.6), seed=3))


def test_crop_of_sequences_shorter_than_the_crop_keeps_one_item():
    out = run(SequenceCrop(0.2))  # floor(0.2 n) is 0 for n < 5
    assert lengths(out) == [2, 1, 1, 1, 0]
    assert out[2, 0].item() in (16, 17) and out[3, 0].item() == 18
    assert torch.equal(run(SequenceCrop(1.0)), BATCH)


def test_mask_for_a_fixed_seed():
    out = run(SequenceMask(0.3))
    assert lengths(out) == LENGTHS  # length and order kept
    assert (out == MASK).sum(1).tolist() == [3, 1, 0, 0, 0]  # floor(0.3 n)
    kept = out != MASK
    assert torch.equal(out[kept], BATCH[kept])  # the others are untouched
    assert (out[BATCH == PAD] == PAD).all()  # padding is never masked
    assert torch.equal(out, run(SequenceMask(0.3)))


def test_reorder_for_a_fixed_seed():
    out = run(SequenceReorder(0.6))
    assert lengths(out) == LENGTHS
    for row, full, n in zip(out.tolist(), BATCH.tolist(), LENGTHS):
        assert sorted(row[:n]) == full[:n]  # a permutation of the same items
        moved = [k for k in range(n) if row[k] != full[k]]
        if moved:  # inside one window of floor(0.6 n) items
            assert moved[-1] - moved[0] < int(0.6 * n)
    assert out[0].tolist() != BATCH[0].tolist()
    assert out[3].tolist() == BATCH[3].tolist()  # a one-item window changes nothing
    assert torch.equal(out, run(SequenceReorder(0.6)))


def test_random_choice_per_sequence_and_compose():
    aug = SequenceRandomChoice([SequenceCrop(0.5), SequenceMask(0.5)], weights=[1, 1])
    out = run(aug)
    for row, choice, full in zip(out.tolist(), aug.chosen.tolist(), BATCH.tolist()):
        n = sum(v != P for v in full)
        if choice == 1:
            assert sum(v != P for v in row) == n
    assert torch.equal(run(Compose([SequenceCrop(1.0), SequenceMask(1.0)]))[BATCH != PAD],
                       torch.full((18,), MASK))
    assert from_spec(aug.spec()).augmenters[1].ratio == 0.5


def test_eval_mode_and_bad_input():
    assert torch.equal(SequenceCrop(0.5).eval()(BATCH), BATCH)
    with pytest.raises(ValueError, match="padding"):
        SequenceCrop(0.5)(torch.tensor([[P, 1, 2]]))
    with pytest.raises(ValueError, match="integer"):
        SequenceMask(0.5)(torch.ones(2, 3))
    with pytest.raises(ValueError, match="ratio"):
        SequenceReorder(0.0)
