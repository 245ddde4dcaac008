import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gcl import GraphCLRecommender, Interactions
from gcl.graph import UIGraph
from gcl.methods import BSPM, GFCF, build_method
from tests.methods.mixin import clustered_splits


def random_log(n_users=30, n_items=20, per_user=5, seed=0) -> Interactions:
    rng = np.random.default_rng(seed)
    rows = [(u, int(i)) for u in range(n_users)
            for i in rng.choice(n_items, per_user, replace=False)]
    return Interactions.from_pandas(pd.DataFrame(rows, columns=["user", "item"]))


def dense_parts(train: Interactions, rank: int):
    """R, P = R~^T R~ and P_IDL = D^-1/2 V V^T D^1/2, densely, V from numpy's full SVD."""
    r = train.to_csr().toarray().astype(np.float64)
    r[r > 0] = 1
    du, di = r.sum(1), r.sum(0)
    norm = r / np.sqrt(du)[:, None] / np.sqrt(di)[None, :]
    _, _, vt = np.linalg.svd(norm)
    v = vt[:rank].T
    p = norm.T @ norm
    ideal = np.diag(di ** -0.5) @ v @ v.T @ np.diag(di ** 0.5)
    return r, p, ideal


def fitted_method(name: str, train: Interactions, **kwargs):
    method = build_method(name, train.num_users, train.num_items, **kwargs)
    method.prepare(train, UIGraph.from_interactions(train))
    return method


def test_gf_cf_equals_the_dense_filter():
    train = random_log()
    r, p, ideal = dense_parts(train, rank=4)
    method = fitted_method("gf-cf", train, rank=4, alpha=0.3)
    got = method.scores(sp.csr_matrix(r)).double().numpy()
    np.testing.assert_allclose(got, r @ p + 0.3 * r @ ideal, atol=1e-5)


def classic_rk4(f, y, h):
    k1 = f(y)
    k2 = f(y + h / 2 * k1)
    k3 = f(y + h / 2 * k2)
    k4 = f(y + h * k3)
    return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


@pytest.mark.parametrize("final_sharpening", [True, False])
def test_bspm_equals_the_ode_solved_step_by_step(final_sharpening):
    train = random_log(seed=1)
    r, p, ideal = dense_parts(train, rank=5)
    method = fitted_method("bspm", train, rank=5, idl_beta=0.2, sharpen_time=2.5,
                           sharpen_steps=2, blur_time=1.0, blur_steps=1,
                           final_sharpening=final_sharpening)
    euler = r + 1.0 * (r @ p - r)          # blur: dy/dt = y(P - I), one Euler step
    idl = 0.2 * (r + 1.0 * (r @ ideal - r))  # ideal low-pass, one Euler step
    y = euler + idl if final_sharpening else euler
    for _ in range(2):                       # sharpen: dy/dt = -yP, two RK4 steps of 1.25
        y = classic_rk4(lambda z: -z @ p, y, 1.25)
    want = y if final_sharpening else y + idl
    got = method.scores(sp.csr_matrix(r)).double().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_defaults_are_the_papers():
    train = random_log()
    gf = build_method("gf-cf", 30, 20)
    assert (gf.alpha, gf.rank) == (0.3, 256)
    bspm = build_method("bspm", 30, 20)
    assert bspm.rank == 448 and bspm.idl_beta == 0.2 and bspm.final_sharpening
    assert bspm.odes == {"idl": (1.0, 1, 1), "blur": (1.0, 1, 1), "sharpen": (2.5, 1, 4)}
    assert not gf.trainable and not gf.dot_scores
    assert train.num_items == 20


@pytest.mark.parametrize("kwargs, message", [
    ({"alpha": -1.0}, "alpha must be"), ({"rank": -2}, "rank must be"),
    ({"sharpen_solver": "dopri5"}, "sharpen_solver must be one of"),
    ({"blur_steps": 0}, "blur_steps must be"), ({"epsilon": 1}, "unknown setting")])
def test_bad_settings_are_named(kwargs, message):
    name = "gf-cf" if set(kwargs) <= {"alpha", "rank", "epsilon"} else "bspm"
    with pytest.raises((ValueError, TypeError), match=message):
        build_method(name, 30, 20, **kwargs)


def test_svd_rank_is_checked():
    train = random_log()
    with pytest.raises(ValueError, match="SVD rank"):
        fitted_method("gf-cf", train, rank=20)


@pytest.fixture(scope="module")
def splits():
    return clustered_splits()


@pytest.mark.parametrize("name", ["gf-cf", "bspm"])
def test_recommender_serves_a_filter(splits, name, tmp_path):
    train, valid, test = splits
    rec = GraphCLRecommender(method=name, rank=8, device="cpu", progress=False)
    rec.fit(train, valid=valid)
    pop = GraphCLRecommender(method="pop", device="cpu").fit(train, valid=valid)
    assert rec.evaluate(test)["ndcg@10"] > pop.evaluate(test)["ndcg@10"]
    users = train.user_ids[:6].tolist()
    items, scores = rec.recommend(users, k=5)
    seen = train.to_pandas().groupby("user")["item"].apply(set)
    for user, row in zip(users, items):
        assert not set(row.tolist()) & seen[user]
    # A user's scores are the filter of their train row, as the dense computation gives.
    r, p, ideal = dense_parts(train, rank=8)
    if name == "gf-cf":
        row = train.user_ids.get_loc(users[0])
        dense = r[row] @ p + 0.3 * r[row] @ ideal
        dense[r[row] > 0] = -np.inf
        np.testing.assert_allclose(scores[0], np.sort(dense)[::-1][:5], rtol=1e-4)
    sim, _ = rec.similar_items(train.item_ids[:3].tolist(), k=4)
    assert all(item not in row.tolist() for item, row in zip(train.item_ids[:3], sim))
    with pytest.raises(ValueError, match="not by an inner product"):
        rec.export(tmp_path / "out")
    with pytest.raises(ValueError, match="no embeddings"):
        rec.item_embeddings()
    rec.save(tmp_path / "m.pt")
    loaded = GraphCLRecommender.load(tmp_path / "m.pt")
    b, sb = loaded.recommend(users, k=5)
    assert b.tolist() == items.tolist()
    np.testing.assert_allclose(sb, scores, rtol=1e-6)
    assert loaded.evaluate(test) == pytest.approx(rec.evaluate(test))


def test_gf_cf_without_low_pass_needs_no_svd():
    method = build_method("gf-cf", 30, 20, alpha=0.0)
    assert method.rank == 0 and isinstance(method, GFCF)
    assert isinstance(build_method("bspm", 30, 20, idl_beta=0.0), BSPM)


def test_svd_start_through_the_recommender_beats_the_random_start_before_training(splits):
    train, valid, test = splits
    scores = {}
    for init in ("random", "svd"):
        rec = GraphCLRecommender(method="lightgcn", dim=8, layers=2, epochs=1, lr=1e-12,
                                 init=init, device="cpu", progress=False)
        scores[init] = rec.fit(train).evaluate(test)["ndcg@10"]
    assert scores["svd"] > scores["random"]
    with pytest.raises(ValueError, match="init must be"):
        GraphCLRecommender(init="spectral")
    with pytest.raises(ValueError, match="not trained"):
        GraphCLRecommender(method="gf-cf", init="svd")
    with pytest.raises(ValueError, match="init_scale"):
        GraphCLRecommender(init="svd", init_scale=0)
