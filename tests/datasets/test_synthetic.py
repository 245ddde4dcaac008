import numpy as np
import pytest

from gcl.datasets.synthetic import power_law_interactions


def test_exact_count_of_distinct_pairs_and_the_same_log_for_the_same_seed():
    a = power_law_interactions(20_000, seed=3)
    assert len(a) == 20_000
    keys = a.users * a.num_items + a.items
    assert len(np.unique(keys)) == 20_000
    assert a.num_users <= 800 and a.num_items <= 400  # E // 25 and E // 50
    # every id in the maps has a pair
    assert np.bincount(a.users).min() >= 1 and np.bincount(a.items).min() >= 1
    b = power_law_interactions(20_000, seed=3)
    np.testing.assert_array_equal(a.users, b.users)
    np.testing.assert_array_equal(a.items, b.items)
    c = power_law_interactions(20_000, seed=4)
    assert not np.array_equal(a.items, c.items)


def test_degrees_are_heavy_tailed():
    log = power_law_interactions(50_000, num_users=5_000, num_items=5_000, seed=0)
    deg = np.sort(np.bincount(log.items, minlength=log.num_items))[::-1]
    # Zipf(0.8) over 5000 items: the top item draws 1 / sum_r r^-0.8 = 1 / 23.0 = 4.3% of
    # the pairs (less after folding duplicates), the median item 2500^-0.8 / 23.0 = 0.008%;
    # a uniform log would give every item 0.02%.
    assert deg[0] > 0.025 * len(log)
    assert deg[0] > 100 * np.median(deg)


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="denser than half"):
        power_law_interactions(100, num_users=10, num_items=10)
    with pytest.raises(ValueError, match="must be >= 1"):
        power_law_interactions(0)
    with pytest.raises(ValueError, match="exponents"):
        power_law_interactions(100, user_exponent=-1)
