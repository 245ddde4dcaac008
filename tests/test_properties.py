"""Properties that hold end to end, over random interaction logs (hypothesis): splits
partition the log, id maps survive every file, metrics lie in [0, 1] and equal a
brute-force reference through the recommender, the negatives the trainer feeds a method
are never positives, and nothing depends on the order of the log's rows.

The single-module versions live next to their modules: tests/data/test_split.py (random
split), tests/data/test_interactions.py (row order, to_pandas round trip),
tests/data/test_sampler.py (the sampler alone), tests/test_metrics.py (the metrics alone).
"""
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gcl import GraphCLRecommender, Interactions
from gcl.export import load_export
from gcl.graph import UIGraph
from gcl.methods.base import Method
from gcl.train import TrainConfig, Trainer

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
FAST = dict(dim=4, layers=1, lr=0.05, batch_size=16, device="cpu", progress=False)


@st.composite
def logs(draw, users=8, items=12, min_size=4, max_size=60):
    """A click log: (user, item, ts) rows, duplicates allowed, ids all int or all text."""
    rows = draw(st.lists(st.tuples(st.integers(0, users - 1), st.integers(0, items - 1),
                                   st.integers(0, 30)), min_size=min_size, max_size=max_size))
    df = pd.DataFrame(rows, columns=["user", "item", "ts"])
    if draw(st.booleans()):
        df = df.assign(user="u" + df["user"].astype(str), item="i" + df["item"].astype(str))
    return df


def pairs(inter):
    return set(zip(inter.users.tolist(), inter.items.tolist()))


def trainable(inter):
    """Whether BPR can train on it: two items or more, and no user holding every item."""
    return inter.num_items >= 2 and (inter.user_counts() < inter.num_items).all()


def quiet_fit(rec, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # untrained users, collapse, decline
        return rec.fit(*args, **kwargs)


# ---------------------------------------------------------------------------- splits
@SETTINGS
@given(df=logs(), seed=st.integers(0, 1000), three=st.booleans())
def test_every_split_partitions_the_log(df, seed, three):
    inter = Interactions.from_pandas(df, timestamp="ts")
    ratios = (0.6, 0.2, 0.2) if three else (0.7, 0.3)
    for parts in (inter.split("random", ratios=ratios, seed=seed),
                  inter.split("temporal", ratios=ratios),
                  inter.split("leave_one_out", valid=three)):
        sets = [pairs(p) for p in parts]
        assert sum(len(p) for p in parts) == len(inter)  # nothing lost, nothing twice
        assert set().union(*sets) == pairs(inter)
        for i in range(len(sets)):
            for j in range(i + 1, len(sets)):
                assert not sets[i] & sets[j]  # e.g. no interaction in both train and test
        assert all(p.same_maps(inter) for p in parts)


# ---------------------------------------------------------------------------- id maps
@SETTINGS
@given(df=logs())
def test_id_maps_round_trip_through_fit_save_load_and_export(df):
    inter = Interactions.from_pandas(df)
    rec = GraphCLRecommender(method="pop", device="cpu").fit(inter)
    own = set(zip(df["user"].tolist(), df["item"].tolist()))
    text = isinstance(df["item"].iloc[0], str)
    # recommend speaks the user's own ids, of their own type
    items, _ = rec.recommend(list(rec.user_ids), k=inter.num_items, filter_seen=False)
    assert all(isinstance(i, str) == text for i in items.ravel().tolist())
    assert all(set(row) == set(rec.item_ids) for row in items.tolist())
    with tempfile.TemporaryDirectory() as tmp:
        rec.save(Path(tmp) / "model.pt")
        loaded = GraphCLRecommender.load(Path(tmp) / "model.pt")
        exp = load_export(Path(rec.export(Path(tmp) / "out")["meta"]).parent)
    for got in (loaded, exp):
        assert got.user_ids.tolist() == inter.user_ids.tolist()
        assert got.item_ids.tolist() == inter.item_ids.tolist()
        assert all(isinstance(i, str) == text for i in got.item_ids.tolist())
    seen = {(exp.user_ids[u], exp.item_ids[i]) for u, i in zip(*exp.seen.nonzero())}
    assert seen == own  # the train matrix of the export, back in own ids
    np.testing.assert_array_equal(exp.item_emb, rec.item_embeddings())


# ---------------------------------------------------------------------------- metrics
def reference_metrics(scores, test_rows, exclude_rows, k):
    """Brute force, one user at a time, from the definitions in gcl.metrics."""
    out = {f"{m}@{k}": [] for m in ("recall", "ndcg", "precision", "hit", "mrr")}
    for s, truth, excl in zip(scores, test_rows, exclude_rows):
        if not truth:
            continue
        s = s.astype(np.float64).copy()
        s[list(excl)] = -np.inf
        order = np.argsort(-s, kind="stable")[:k]
        hits = [int(i in truth and np.isfinite(s[i])) for i in order]
        dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / np.log2(r + 2) for r in range(min(len(truth), k)))
        first = next((r + 1 for r, h in enumerate(hits) if h), None)
        out[f"recall@{k}"].append(sum(hits) / len(truth))
        out[f"ndcg@{k}"].append(dcg / idcg)
        out[f"precision@{k}"].append(sum(hits) / k)
        out[f"hit@{k}"].append(float(any(hits)))
        out[f"mrr@{k}"].append(0.0 if first is None else 1 / first)
    return {name: float(np.mean(v)) for name, v in out.items()}


@settings(SETTINGS, max_examples=15)
@given(df=logs(users=10, items=12, min_size=20), seed=st.integers(0, 100),
       k=st.integers(1, 12))
def test_metrics_through_the_recommender_are_in_unit_interval_and_match_brute_force(
        df, seed, k):
    inter = Interactions.from_pandas(df)
    train, valid, test = inter.split("random", ratios=(0.6, 0.2, 0.2), seed=seed)
    assume(len(test) > 0 and len(valid) > 0 and trainable(train) and k <= inter.num_items)
    rec = quiet_fit(GraphCLRecommender(**FAST, epochs=1, metric="ndcg@1"), train, valid=valid)
    got = rec.evaluate(test, k=[k])
    scores = rec.user_embeddings().astype(np.float64) @ rec.item_embeddings().T.astype(
        np.float64)
    gaps = np.diff(np.sort(scores, axis=1), axis=1)
    assume((gaps > 1e-5).all())  # no near-ties, whose order float rounding may flip
    rows = lambda part: [set(part.items[part.users == u].tolist())  # noqa: E731
                         for u in range(inter.num_users)]
    excluded = [a | b for a, b in zip(rows(train), rows(valid))]
    want = reference_metrics(scores, rows(test), excluded, k)
    assert got["users"] == len(set(test.users.tolist()))
    for name, value in want.items():
        assert 0.0 <= got[name] <= 1.0
        assert got[name] == pytest.approx(value, abs=1e-9), name


# ---------------------------------------------------------------------------- negatives
class Recorder(Method):
    """Records the (users, pos, neg) batches the trainer feeds it."""

    name = "recorder"

    def __init__(self, num_users, num_items):
        super().__init__(num_users, num_items)
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.batches = []

    def loss(self, graph, users, pos, neg):
        self.batches.append((users.clone(), pos.clone(), neg.clone()))
        return {"loss": self.w.pow(2).sum()}


@SETTINGS
@given(df=logs(), num_neg=st.integers(1, 3), seed=st.integers(0, 100),
       batch_size=st.integers(1, 16))
def test_the_trainer_never_feeds_a_positive_as_a_negative(df, num_neg, seed, batch_size):
    inter = Interactions.from_pandas(df)
    assume(trainable(inter))
    method = Recorder(inter.num_users, inter.num_items)
    cfg = TrainConfig(epochs=2, batch_size=batch_size, num_neg=num_neg, seed=seed,
                      progress=False)
    Trainer(method, UIGraph.from_interactions(inter), inter, cfg).fit()
    positives = pairs(inter)
    fed = []
    for users, pos, neg in method.batches:
        assert neg.shape == (len(users), num_neg)
        assert all((u, i) in positives for u, i in zip(users.tolist(), pos.tolist()))
        assert not any((u, i) in positives
                       for u, row in zip(users.tolist(), neg.tolist()) for i in row)
        assert ((neg >= 0) & (neg < inter.num_items)).all()
        fed.extend(zip(users.tolist(), pos.tolist()))
    assert sorted(fed) == sorted(list(positives) * 2)  # every positive once per epoch


# ---------------------------------------------------------------------------- row order
@settings(SETTINGS, max_examples=8)
@given(df=logs(min_size=15), order_seed=st.integers(0, 2**31 - 1))
def test_recommendations_and_metrics_do_not_depend_on_row_order(df, order_seed):
    shuffled = df.sample(frac=1.0, random_state=order_seed)
    results = []
    for frame in (df, shuffled):
        inter = Interactions.from_pandas(frame, timestamp="ts")
        train, test = inter.split("leave_one_out", valid=False)
        assume(len(test) > 0 and trainable(train))
        rec = quiet_fit(GraphCLRecommender(**FAST, epochs=2), train)
        items, scores = rec.recommend(list(rec.user_ids), k=2)
        results.append((items.tolist(), scores, rec.evaluate(test, k=[1, 2]),
                        rec.item_embeddings()))
    (items_a, scores_a, metrics_a, emb_a), (items_b, scores_b, metrics_b, emb_b) = results
    assert items_a == items_b and metrics_a == metrics_b
    np.testing.assert_array_equal(scores_a, scores_b)
    np.testing.assert_array_equal(emb_a, emb_b)
