"""The parts the recommender delegates to: gcl.serving (scores, masks, top-k lists),
gcl.params (the settings dict) and gcl.fitting (fit's checks), and the recommender's public
names that other modules use."""
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from gcl import GraphCLRecommender, Interactions, serving
from gcl.fitting import check_logs
from gcl.params import changed_params, checked_params, method_kwargs_of, train_config_of


@pytest.fixture
def fitted(small_log):
    train, valid = small_log.split("random", ratios=(0.8, 0.2), seed=0)
    rec = GraphCLRecommender(dim=8, layers=2, epochs=2, metric="ndcg@10", device="cpu",
                             progress=False)
    return rec.fit(train, valid=valid), train, valid


def test_masks_of_seen_items():
    seen = sp.csr_matrix(np.array([[2.0, 0, 0], [0, 0, 1]]))
    valid = sp.csr_matrix(np.array([[0, 3.0, 0], [0, 0, 0]]))
    assert serving.binary(seen).toarray().tolist() == [[1, 0, 0], [0, 0, 1]]
    assert serving.excluded(seen, valid, with_valid=False) is seen
    assert serving.excluded(seen, None, with_valid=True) is seen
    assert serving.excluded(seen, valid, with_valid=True).toarray().tolist() == [
        [1, 1, 0], [0, 0, 1]]


def test_a_log_gets_the_columns_of_appended_items(small_log):
    mat = serving.over_items(small_log, small_log.num_items + 3)
    assert mat.shape == (small_log.num_users, small_log.num_items + 3)
    assert (mat[:, :small_log.num_items] != small_log.to_csr()).nnz == 0


def test_recommend_leaves_free_slots_empty():
    users, items = torch.eye(2), torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    score = serving.scorer(type("M", (), {"dot_scores": True})(), None, users, items)
    exclude = sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 0]]))
    got, scores = serving.recommend(score, _index(["a", "b"]), _index([10, 20, 30]),
                                    ["a", "b"], 2, exclude)
    assert got[0].tolist() == [30, None] and scores[0, 1] == -np.inf
    assert got[1].tolist() == [20, 30]
    with pytest.raises(TypeError, match="user_ids must be a list"):
        serving.recommend(score, _index(["a"]), _index([10]), "a", 1, None)


def test_recommender_delegates_to_serving(fitted):
    rec, train, valid = fitted
    users = list(rec.user_ids[:3])
    items, scores = rec.recommend(users, k=4)
    want = serving.recommend(serving.scorer(rec.method_, rec.seen_, rec.user_emb_,
                                            rec.item_emb_),
                             rec.user_ids_, rec.item_ids_, users, 4, rec.seen_)
    assert (items == want[0]).all() and np.allclose(scores, want[1])
    assert np.allclose(rec.user_embeddings(), rec.user_emb_.numpy())
    with pytest.raises(ValueError, match="does not share the id maps"):
        serving.check_maps(Interactions.from_pandas(pd.DataFrame({"user": ["x"],
                                                                  "item": ["y"]})),
                           rec.user_ids_, rec.item_ids_, "test")
    with pytest.raises(ValueError, match="no embeddings to export"):
        serving.check_embeddings(type("F", (), {"dot_scores": False})(), "gf-cf", "export")


def test_stored_params_are_what_an_export_records(fitted, tmp_path):
    rec = fitted[0]
    rec.export(tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    stored = rec.stored_params()
    assert stored["dim"] == 8 and stored["method"] == "lightgcn"
    assert meta["params"] == json.loads(json.dumps(stored))


def test_refresh_embeddings_follows_new_weights(fitted):
    rec = fitted[0]
    before = rec.item_embeddings().copy()
    with torch.no_grad():
        for w in rec.method_.parameters():
            w.mul_(2.0)
    assert np.allclose(rec.item_embeddings(), before)  # served vectors are kept ...
    rec.refresh_embeddings()  # ... until refreshed
    assert np.allclose(rec.item_embeddings(), 2.0 * before, atol=1e-5)


def test_params_are_checked_and_sorted():
    p = checked_params({**GraphCLRecommender(method="simgcl").get_params(), "eps": 0.2})
    assert p["method"] == "simgcl" and method_kwargs_of(p)["eps"] == 0.2
    assert "lr" not in method_kwargs_of(p) and train_config_of(p).lr == p["lr"]
    assert changed_params(p) == {"method": "simgcl", "eps": 0.2}
    with pytest.raises(ValueError, match="eps"):
        checked_params({"method": "lightgcn", "eps": 0.2})


def test_fit_checks_come_before_the_work(small_log, tmp_path):
    p = GraphCLRecommender(device="cpu").get_params()
    with pytest.raises(ValueError, match="needs the checkpoint_dir"):
        check_logs(small_log, None, None, lambda *a: None, p, None, None, resume=True)
    with pytest.raises(ValueError, match="valid log is empty"):
        empty = small_log.select(np.zeros(len(small_log), bool))
        check_logs(small_log, empty, None, lambda *a: None, p, None, None, False)


def _index(values):
    return pd.Index(values)
