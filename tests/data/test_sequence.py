import pandas as pd
import torch

from gcl import Interactions
from gcl.data.sequence import user_sequences

P = -1


def test_sequences_follow_time_and_keep_the_most_recent():
    df = pd.DataFrame({"user": ["a", "a", "a", "b", "b", "c"],
                       "item": ["x", "y", "z", "z", "x", "y"],
                       "ts": [30, 10, 20, 5, 7, 1]})
    inter = Interactions.from_pandas(df, timestamp="ts")
    x, y, z = inter.item_index(["x", "y", "z"]).tolist()
    seqs = user_sequences(inter)
    assert seqs.tolist() == [[y, z, x], [z, x, P], [y, P, P]]
    assert user_sequences(inter, max_len=2).tolist() == [[z, x], [z, x], [y, P]]
    assert seqs.dtype == torch.int64


def test_without_timestamps_the_log_order_is_kept():
    inter = Interactions.from_pandas(pd.DataFrame({"user": [0, 0, 1], "item": [2, 0, 1]}))
    assert user_sequences(inter).tolist() == [[0, 2], [1, P]]
