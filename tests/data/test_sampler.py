import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcl.data import Interactions, NegativeSampler


def positives_of(inter: Interactions) -> set:
    return set(zip(inter.users.tolist(), inter.items.tolist()))


def test_is_positive_matches_the_log(small_log):
    sampler = NegativeSampler(small_log)
    pos = positives_of(small_log)
    u, i = np.meshgrid(np.arange(small_log.num_users), np.arange(small_log.num_items),
                       indexing="ij")
    got = sampler.is_positive(torch.from_numpy(u.ravel()), torch.from_numpy(i.ravel()))
    want = [(a, b) in pos for a, b in zip(u.ravel().tolist(), i.ravel().tolist())]
    assert got.tolist() == want
    assert got.shape == (u.size,)


def test_samples_are_never_positive_and_cover_the_negatives(small_log):
    gen = torch.Generator().manual_seed(0)
    sampler = NegativeSampler(small_log, generator=gen)
    users = torch.arange(small_log.num_users).repeat(50)
    neg = sampler.sample(users, num_neg=4)
    assert neg.shape == (len(users), 4) and neg.dtype == torch.int64
    pos = positives_of(small_log)
    seen: dict = {}
    for u, row in zip(users.tolist(), neg.tolist()):
        for i in row:
            assert 0 <= i < small_log.num_items
            assert (u, i) not in pos
            seen.setdefault(u, set()).add(i)
    # 200 uniform draws per user hit every one of its (at most 11) negatives
    for u in range(small_log.num_users):
        allowed = {i for i in range(small_log.num_items) if (u, i) not in pos}
        assert seen[u] == allowed


def test_sampling_is_uniform_over_negatives():
    # user 0 has items 0..4 of 10: draws must be uniform over 5..9
    inter = Interactions(np.zeros(5, dtype=np.int64), np.arange(5), pd.Index([0]),
                         pd.Index(range(10)))
    sampler = NegativeSampler(inter, generator=torch.Generator().manual_seed(1))
    neg = sampler.sample(torch.zeros(20_000, dtype=torch.long)).view(-1)
    freq = torch.bincount(neg, minlength=10).double() / len(neg)
    assert freq[:5].sum() == 0
    np.testing.assert_allclose(freq[5:].numpy(), 0.2, atol=0.02)


def test_same_generator_seed_gives_same_samples(small_log):
    users = torch.arange(small_log.num_users).repeat(7)
    draws = []
    for _ in range(2):
        sampler = NegativeSampler(small_log, generator=torch.Generator().manual_seed(42))
        draws.append(torch.cat([sampler.sample(users, 3), sampler.sample(users, 1)], 1))
    assert torch.equal(draws[0], draws[1])
    other = NegativeSampler(small_log, generator=torch.Generator().manual_seed(43))
    assert not torch.equal(draws[0][:, :3], other.sample(users, 3))


def test_uses_the_given_generator_not_the_global_one(small_log):
    users = torch.arange(small_log.num_users)
    a = NegativeSampler(small_log, generator=torch.Generator().manual_seed(3))
    b = NegativeSampler(small_log, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    x = a.sample(users, 5)
    torch.manual_seed(999)
    y = b.sample(users, 5)
    assert torch.equal(x, y)


def test_user_with_every_item_raises():
    inter = Interactions(np.array([0, 0, 0, 1]), np.array([0, 1, 2, 0]), pd.Index(["a", "b"]),
                         pd.Index([0, 1, 2]))
    sampler = NegativeSampler(inter)
    assert set(sampler.sample(torch.tensor([1] * 30)).view(-1).tolist()) == {1, 2}
    with pytest.raises(ValueError, match="every item"):
        sampler.sample(torch.tensor([1, 0]))


def test_duplicate_rows_do_not_make_a_user_full():
    inter = Interactions(np.array([0, 0, 0]), np.array([0, 0, 1]), pd.Index(["a"]),
                         pd.Index([0, 1, 2]))
    neg = NegativeSampler(inter).sample(torch.tensor([0, 0]))
    assert neg.view(-1).tolist() == [2, 2]


def test_empty_positives_and_empty_batch():
    inter = Interactions(np.array([], dtype=np.int64), np.array([], dtype=np.int64),
                         pd.Index(["a"]), pd.Index([0, 1, 2]))
    sampler = NegativeSampler(inter)
    assert sampler.is_positive(torch.tensor([0, 0]), torch.tensor([1, 2])).tolist() == [False] * 2
    assert sampler.sample(torch.tensor([0] * 5), 2).shape == (5, 2)
    assert sampler.sample(torch.tensor([], dtype=torch.long), 3).shape == (0, 3)


def test_gives_up_when_draws_keep_hitting_positives():
    inter = Interactions(np.zeros(999, dtype=np.int64), np.arange(999), pd.Index([0]),
                         pd.Index(range(1000)))
    sampler = NegativeSampler(inter, generator=torch.Generator().manual_seed(0))
    with pytest.raises(RuntimeError, match="did not converge"):
        sampler.sample(torch.zeros(50, dtype=torch.long), max_rounds=1)


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 6)), min_size=1, max_size=35),
       seed=st.integers(0, 2**32 - 1), num_neg=st.integers(1, 4))
def test_property_negatives_are_never_positives(rows, seed, num_neg):
    inter = Interactions.from_pandas(pd.DataFrame(rows, columns=["user", "item"]))
    pos = positives_of(inter)
    sampler = NegativeSampler(inter, generator=torch.Generator().manual_seed(seed))
    counts = inter.user_counts()
    users = torch.arange(inter.num_users).repeat(3)
    if (counts >= inter.num_items).any():
        full = torch.from_numpy(np.flatnonzero(counts >= inter.num_items))
        with pytest.raises(ValueError, match="every item"):
            sampler.sample(full, num_neg)
        users = users[counts[users.numpy()] < inter.num_items]
    neg = sampler.sample(users, num_neg)
    assert neg.shape == (len(users), num_neg)
    for u, row in zip(users.tolist(), neg.tolist()):
        assert all((u, i) not in pos and 0 <= i < inter.num_items for i in row)
