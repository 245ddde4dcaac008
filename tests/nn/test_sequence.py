import pytest
import torch

from gcl.augment.sequence import MASK, PAD
from gcl.nn import SequenceEncoder


@pytest.fixture
def setup():
    torch.manual_seed(0)
    enc = SequenceEncoder(dim=8, layers=2, heads=2, max_len=6, dropout=0.0).eval()
    return enc, torch.randn(10, 8)


def test_user_vector_is_the_output_at_the_last_item(setup):
    enc, items = setup
    seqs = torch.tensor([[1, 2, 3, PAD, PAD], [4, PAD, PAD, PAD, PAD]])
    full = enc(seqs, items, all_positions=True)
    assert full.shape == (2, 5, 8)
    torch.testing.assert_close(enc(seqs, items), torch.stack([full[0, 2], full[1, 0]]))


def test_causal_attention_and_padding(setup):
    enc, items = setup
    a = enc(torch.tensor([[1, 2, 3, 4]]), items, all_positions=True)
    b = enc(torch.tensor([[1, 2, 7, 8]]), items, all_positions=True)
    torch.testing.assert_close(a[:, :2], b[:, :2])  # position t sees items 1..t only
    assert not torch.allclose(a[:, 2:], b[:, 2:])
    # Padding changes nothing, however much of it there is.
    short = enc(torch.tensor([[5, 6]]), items)
    torch.testing.assert_close(short, enc(torch.tensor([[5, 6, PAD, PAD, PAD, PAD]]), items))
    # Bidirectional: an early position sees later items.
    enc.causal = False
    c = enc(torch.tensor([[1, 2, 3, 4]]), items, all_positions=True)
    d = enc(torch.tensor([[1, 2, 7, 8]]), items, all_positions=True)
    assert not torch.allclose(c[:, 0], d[:, 0])


def test_masked_and_empty_sequences(setup):
    enc, items = setup
    out = enc(torch.tensor([[1, MASK, 3], [PAD, PAD, PAD]]), items)
    assert torch.isfinite(out).all()
    masked = enc(torch.tensor([[1, MASK, 3]]), items)
    assert not torch.allclose(masked, enc(torch.tensor([[1, 0, 3]]), items))
    with pytest.raises(ValueError, match="max_len"):
        enc(torch.zeros(1, 7, dtype=torch.long), items)
    with pytest.raises(ValueError, match="heads"):
        SequenceEncoder(dim=8, heads=3)
