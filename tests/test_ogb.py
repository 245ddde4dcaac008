import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from gcl import GraphCLRecommender, Interactions
from gcl.ogb import evaluate_ogb, ogb_inputs


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    rows = [(u, int(i)) for u in range(40) for i in rng.choice(60, 10, replace=False)]
    inter = Interactions.from_pandas(pd.DataFrame(rows, columns=["user", "item"]))
    train, test = inter.split("random", ratios=(0.8, 0.2), seed=0)
    rec = GraphCLRecommender(dim=8, layers=1, epochs=3, batch_size=64, device="cpu",
                             progress=False).fit(train)
    return rec, train, test


def test_inputs_score_pairs_and_never_sample_known_pairs(fitted):
    rec, train, test = fitted
    out = ogb_inputs(rec.user_embeddings(), rec.item_embeddings(), test.to_csr(),
                     train.to_csr(), num_neg=50, num_global_neg=500, seed=1)
    u, i = rec.user_embeddings(), rec.item_embeddings()
    t = sp.coo_matrix(test.to_csr())
    np.testing.assert_allclose(out["pos"].numpy(), (u[t.row] * i[t.col]).sum(1), rtol=1e-5)
    assert out["neg"].shape == (t.nnz, 50) and out["global_neg"].shape == (500,)
    known = (train.to_csr() + test.to_csr()).toarray() > 0
    assert not known[t.row[:, None], out["neg_items"]].any()
    assert not known[out["global_users"], out["global_items"]].any()
    np.testing.assert_allclose(out["neg"].numpy(),
                               np.einsum("pd,pnd->pn", u[t.row], i[out["neg_items"]]),
                               rtol=1e-5, atol=1e-6)
    again = ogb_inputs(u, i, test.to_csr(), train.to_csr(), 50, 500, seed=1)
    assert torch.equal(again["neg"], out["neg"])


def test_evaluate_matches_the_definitions(fitted):
    pytest.importorskip("ogb")
    rec, train, test = fitted
    got = evaluate_ogb(rec, test, k=(5, 20), num_neg=30, num_global_neg=400, seed=2)
    inp = ogb_inputs(rec.user_embeddings(), rec.item_embeddings(), test.to_csr(),
                     rec.seen_, 30, 400, seed=2)
    pos, neg, pool = inp["pos"].numpy(), inp["neg"].numpy(), inp["global_neg"].numpy()
    for k in (5, 20):
        kth = np.sort(pool)[-k]
        assert got[f"hits@{k}"] == pytest.approx(np.mean(pos > kth))
    rank = 1 + 0.5 * ((neg > pos[:, None]).sum(1) + (neg >= pos[:, None]).sum(1))
    assert got["mrr"] == pytest.approx(np.mean(1 / rank), rel=1e-5)
    assert got["mrr_hits@10"] == pytest.approx(np.mean(rank <= 10), rel=1e-5)


def test_missing_ogb_names_the_extra(fitted, monkeypatch):
    rec, _, test = fitted
    monkeypatch.setitem(sys.modules, "ogb", None)
    monkeypatch.setitem(sys.modules, "ogb.linkproppred", None)
    with pytest.raises(ImportError, match=r"pip install 'gcl\[ogb\]'"):
        evaluate_ogb(rec, test)
