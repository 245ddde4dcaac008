"""The contract every method meets, as a mixin: subclass it and set ``method`` (and
``kwargs`` for small, fast settings)."""
import math

import numpy as np
import pandas as pd
import pytest

from gcl import GraphCLRecommender, Interactions


def clustered_splits(n_users=80, n_items=60, per_user=10, seed=0):
    """Two tastes: even users click the first half of the items, odd users the second."""
    rng = np.random.default_rng(seed)
    rows = [(u, int(i)) for u in range(n_users)
            for i in rng.choice(n_items // 2, per_user, replace=False) + (u % 2) * n_items // 2]
    inter = Interactions.from_pandas(pd.DataFrame(rows, columns=["user", "item"]))
    return inter.split("random", ratios=(0.8, 0.1, 0.1), seed=0)


class MethodContract:
    method: str = ""
    kwargs: dict = {}

    @pytest.fixture(scope="class")
    def splits(self):
        return clustered_splits()

    @pytest.fixture(scope="class")
    def fitted(self, splits):
        train, valid, _ = splits
        settings = dict(dim=16, layers=2, lr=0.01, batch_size=64, epochs=8, patience=None,
                        device="cpu", progress=False)
        rec = GraphCLRecommender(method=self.method, **{**settings, **self.kwargs})
        return rec.fit(train, valid=valid)

    def test_loss_decreases(self, fitted):
        losses = [h["loss"] for h in fitted.history_]
        assert all(math.isfinite(x) for x in losses)
        assert losses[-1] < losses[0]

    def test_embeddings_finite(self, fitted, splits):
        u, i = fitted.user_embeddings(), fitted.item_embeddings()
        assert u.shape[0] == splits[0].num_users and i.shape[0] == splits[0].num_items
        assert np.isfinite(u).all() and np.isfinite(i).all()

    def test_beats_popularity(self, fitted, splits):
        pop = GraphCLRecommender(method="pop", device="cpu").fit(splits[0], valid=splits[1])
        assert fitted.evaluate(splits[2])["recall@10"] > pop.evaluate(splits[2])["recall@10"]

    def test_recommend_excludes_seen(self, fitted, splits):
        train = splits[0]
        users = train.user_ids[:10].tolist()
        items, _ = fitted.recommend(users, k=10)
        seen = train.to_pandas().groupby("user")["item"].apply(set)
        for user, row in zip(users, items):
            assert not set(row.tolist()) & seen[user]

    def test_eval_is_deterministic(self, fitted):
        method = fitted.method_
        assert not method.training
        a = method.embeddings(fitted.graph_)[0]
        b = method.embeddings(fitted.graph_)[0]
        assert (a == b).all()

    def test_save_load_round_trip(self, fitted, splits, tmp_path):
        fitted.save(tmp_path / "m.pt")
        loaded = GraphCLRecommender.load(tmp_path / "m.pt")
        users = splits[0].user_ids[:5].tolist()
        a, sa = fitted.recommend(users, k=5)
        b, sb = loaded.recommend(users, k=5)
        assert a.tolist() == b.tolist()
        np.testing.assert_array_equal(sa, sb)
        assert loaded.evaluate(splits[2]) == fitted.evaluate(splits[2])
