"""Shared fixtures: small random click logs, cheap enough to build per test."""
import numpy as np
import pandas as pd
import pytest

from gcl.data import Interactions


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def click_df() -> pd.DataFrame:
    """A random log of 12 users x 15 items with string ids, ratings and unique integer
    timestamps; every user has at least 4 distinct items and there are no duplicate pairs."""
    gen = np.random.default_rng(1234)
    rows = []
    for u in range(12):
        for i in gen.choice(15, size=int(gen.integers(4, 9)), replace=False):
            rows.append((f"u{u:02d}", f"i{i:02d}"))
    df = pd.DataFrame(rows, columns=["user", "item"])
    df["rating"] = gen.integers(1, 6, size=len(df)).astype(float)
    df["ts"] = gen.permutation(len(df)) * 10 + 1000
    return df.sample(frac=1.0, random_state=7).reset_index(drop=True)


@pytest.fixture
def small_log(click_df) -> Interactions:
    """:func:`click_df` as Interactions, with ratings and timestamps."""
    return Interactions.from_pandas(click_df, rating="rating", timestamp="ts")
