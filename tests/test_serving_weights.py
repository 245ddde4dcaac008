"""Click counts as edge weights: the weighted adjacency, training and fold-in on it."""
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from gcl import GraphCLRecommender, Interactions
from gcl.cli import main
from gcl.foldin import foldin_matrix, readout_weights
from gcl.graph import UIGraph, normalized_adjacency


def _clicks(seed=0, n=500) -> pd.DataFrame:
    gen = np.random.default_rng(seed)
    return pd.DataFrame({"user": gen.integers(0, 25, n).astype(str),
                         "item": gen.integers(0, 20, n).astype(str),
                         "ts": np.arange(n)})


def test_weighted_adjacency_is_w_over_sqrt_of_weighted_degrees():
    users, items = np.array([0, 0, 1, 1, 0]), np.array([0, 1, 1, 1, 0])
    w = np.array([1.0, 3.0, 2.0, 2.0, 1.0])  # (0,0) twice and (1,1) twice: summed
    adj = normalized_adjacency(2, 2, users, items, w).toarray()
    a = np.array([[2.0, 3.0], [0.0, 4.0]])  # summed weights per pair
    du, di = a.sum(1), a.sum(0)
    want = a / np.sqrt(du[:, None] * di[None, :])
    np.testing.assert_allclose(adj[:2, 2:], want, rtol=1e-6)
    np.testing.assert_allclose(adj[2:, :2], want.T, rtol=1e-6)
    # without weights every distinct pair weighs 1, as before
    binary = normalized_adjacency(2, 2, users, items).toarray()
    a = (a > 0).astype(float)
    np.testing.assert_allclose(binary[:2, 2:], a / np.sqrt(a.sum(1)[:, None] * a.sum(0)),
                               rtol=1e-6)
    g = UIGraph(2, 2, users, items, weights=w)
    np.testing.assert_allclose(g.degrees, [5.0, 4.0, 2.0, 7.0])
    np.testing.assert_allclose(g.subgraph(np.array([True, True, False, False, True])).degrees,
                               [5.0, 0.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="weights must be finite numbers > 0"):
        UIGraph(2, 2, users, items, weights=-w)


def test_count_weights_reach_the_training_graph_and_foldin(tmp_path):
    inter = Interactions.from_pandas(_clicks(), timestamp="ts", weights="count")
    assert inter.weights.max() > 1
    rec = GraphCLRecommender(method="lightgcn", dim=8, epochs=2, batch_size=64,
                             patience=None, progress=False, device="cpu").fit(inter)
    assert rec.graph_.weights is not None
    np.testing.assert_allclose(rec.graph_.degrees[: inter.num_users],
                               np.bincount(inter.users, inter.weights, inter.num_users))
    # a trained user's vector less layer 0 is d_u^-1/2 sum_i w_ui F_i
    f = foldin_matrix(rec.method_, rec.graph_)
    w = sp.csr_matrix((inter.weights, (inter.users, inter.items)),
                      shape=(inter.num_users, inter.num_items))
    deg = np.asarray(w.sum(1)).ravel()
    folded = torch.from_numpy((w @ f.numpy().astype(np.float64)) / np.sqrt(deg)[:, None])
    layer0 = rec.method_.encoder.embedding.weight[: inter.num_users].detach()
    expected = rec.user_emb_ - readout_weights(rec.method_)[0] * layer0
    torch.testing.assert_close(folded.float(), expected, rtol=1e-4, atol=1e-5)
    # the weights travel with the saved model, so fold-in after loading is the same
    before = rec.recommend_for_items(["1", "2", "3"], k=5)
    rec.save(tmp_path / "m.pt")
    loaded = GraphCLRecommender.load(tmp_path / "m.pt")
    loaded.save(tmp_path / "again.pt")  # a loaded model keeps the weights when saved again
    for model in (loaded, GraphCLRecommender.load(tmp_path / "again.pt")):
        after = model.recommend_for_items(["1", "2", "3"], k=5)
        np.testing.assert_array_equal(before[0], after[0])
        np.testing.assert_allclose(before[1], after[1], rtol=1e-5)


def test_count_weights_change_the_model():
    binary = Interactions.from_pandas(_clicks())
    counted = Interactions.from_pandas(_clicks(), weights="count")
    kw = dict(method="lightgcn", dim=8, epochs=1, batch_size=64, patience=None,
              progress=False, device="cpu")
    a = GraphCLRecommender(**kw).fit(binary).user_embeddings()
    b = GraphCLRecommender(**kw).fit(counted).user_embeddings()
    assert not np.allclose(a, b)


def test_cli_train_reads_iso_times_and_counts(tmp_path, capsys):
    df = _clicks(n=600)
    df["ts"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(df["ts"], unit="min")
    df["ts"] = df["ts"].dt.strftime("%d/%m/%Y %H:%M")
    path = tmp_path / "clicks.csv"
    df.to_csv(path, index=False)
    args = ["train", "--data", str(path), "--timestamp-col", "ts", "--split", "temporal",
            "--epochs", "1", "--dim", "8", "--quiet", "--out", str(tmp_path / "run")]
    assert main(args) == 2
    assert "'ts'" in capsys.readouterr().err  # day-first text is not ISO 8601
    loud = [a for a in args if a != "--quiet"]
    assert main(loud + ["--time-format", "%d/%m/%Y %H:%M", "--weights", "count"]) == 0
    assert "repeated clicks folded" in capsys.readouterr().err
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert "weights: count" in config and "time_format: '%d/%m/%Y %H:%M'" in config
