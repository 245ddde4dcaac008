"""``benchmarks/reproduce.py``: its keys and tables name the peer of every run."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import reproduce  # noqa: E402


def _row(dataset: str, model: str, method: str, seed: int, recall: float,
         peer: str | None = None) -> dict:
    library = {"RecBole-GNN": "RecBole-GNN 632ef88 (RecBole 1.2.1)"}.get(peer, "SELFRec 5b02294")
    side = {"recall@20": recall, "ndcg@20": recall / 2, "cpu_seconds_per_epoch": 1.0}
    row = {"dataset": dataset, "epochs": 20, "seed": seed, "gcl": {**side, "method": method},
           "peer": {**side, "recall@20": 0.2, "ndcg@20": 0.1, "model": model,
                    "library": library},
           "ratio_recall@20": recall / 0.2, "ratio_ndcg@20": recall / 0.2,
           "commit": "abc1234", "cpu": "x86_64", "threads": 1, "command": "c"}
    return row if peer is None else {**row, "peer_name": peer}


def test_selfrec_keeps_its_keys_and_other_peers_are_named_in_theirs():
    assert reproduce.row_key("ml-100k", "selfrec", "NCL", 0) == "ml-100k/NCL/0"
    assert reproduce.row_key("ml-100k", "recbole-gnn", "LightGCL", 2) == \
        "ml-100k/recbole-gnn:LightGCL/2"
    assert set(reproduce.PEERS) == set(reproduce.PEER_NAMES)
    for pairs in reproduce.PEERS.values():
        assert len({model for model, *_ in pairs}) == len(pairs)


def test_tables_group_by_peer_and_name_it_on_every_row():
    old = _row("ml-100k", "NCL", "ncl", 0, 0.21)  # a row written before peer_name existed
    rows = [old, _row("ml-100k", "NCL", "ncl", 1, 0.19, "SELFRec"),
            _row("ml-100k", "NCL", "ncl", 0, 0.22, "RecBole-GNN")]
    page = reproduce.table(rows)
    assert reproduce.peer_name(old) == "SELFRec"
    means = [line for line in page.splitlines() if line.startswith("| ml-100k |")][:2]
    assert means[0].startswith("| ml-100k | SELFRec | ncl vs NCL | 2 | 0.2000 | 0.2000 | 1.000")
    assert means[1].startswith("| ml-100k | RecBole-GNN | ncl vs NCL | 1 | 0.2200 |")
    assert "| ml-100k | RecBole-GNN | ncl vs NCL | 0 | 20 | 0.2200 | 0.2000 | 1.100 |" in page


def test_the_ratio_of_means_carries_the_standard_error_of_both_sides_seed_spread():
    g, p = [0.22, 0.20, 0.24], [0.21, 0.19, 0.20]
    ratio, se = reproduce.ratio_of_means(g, p)
    # by hand: means 0.22 and 0.20, sample variances 4e-4 and 1e-4, three seeds each
    assert ratio == pytest.approx(1.1)
    assert se == pytest.approx(1.1 * (4e-4 / (3 * 0.22**2) + 1e-4 / (3 * 0.2**2)) ** 0.5)
    assert reproduce.ratio_of_means([0.3], [0.2]) == (pytest.approx(1.5), None)
    page = reproduce.table([_row("ml-100k", "SGL", "sgl-ed", s, r)
                            for s, r in enumerate((0.21, 0.23))])
    assert "| ml-100k | SELFRec | sgl-ed vs SGL | 2 | 0.2200 | 0.2000 | 1.100 ± 0.050 |" in page


def test_a_variant_pair_runs_the_peers_model_and_has_its_own_rows():
    assert reproduce.peer_model("NCL@recbole-values") == "NCL"
    assert reproduce.peer_model("NCL") == "NCL"
    assert {reproduce.peer_model(m) for m, *_ in reproduce.PAIRS} <= \
        {m for m, *_ in reproduce.PAIRS}
    variant = {**_row("ml-100k", "NCL", "ncl", 0, 0.24), "pair": "NCL@recbole-values"}
    means = [line for line in reproduce.table([_row("ml-100k", "NCL", "ncl", 0, 0.01),
                                               variant]).splitlines()
             if line.startswith("| ml-100k |")][:2]
    assert means[0].startswith("| ml-100k | SELFRec | ncl vs NCL | 1 | 0.0100 |")
    assert means[1].startswith("| ml-100k | SELFRec | ncl vs NCL@recbole-values | 1 | 0.2400 |")


def test_tables_only_rewrites_the_page_from_every_stored_row(tmp_path, monkeypatch):
    import json

    rows = {"ml-100k/LightGCN/0": _row("ml-100k", "LightGCN", "lightgcn", 0, 0.25),
            "ml-100k/recbole-gnn:LightGCL/0": _row("ml-100k", "LightGCL", "lightgcl", 0, 0.2,
                                                    "RecBole-GNN")}
    (tmp_path / "reproduce.json").write_text(json.dumps(rows))
    monkeypatch.setattr(reproduce, "RESULTS", tmp_path)
    reproduce.main(["--tables-only"])
    page = (tmp_path / "reproduce.md").read_text()
    assert "| SELFRec | lightgcn vs LightGCN | 0 |" in page
    assert "| RecBole-GNN | lightgcl vs LightGCL | 0 |" in page


def test_a_model_the_peer_does_not_pair_is_refused():
    with pytest.raises(SystemExit):
        reproduce.main(["--peer", "recbole-gnn", "--models", "LightGCL,Nope"])


def test_recbole_rows_map_back_to_gcl_indices_by_their_tokens():
    import numpy as np
    import pandas as pd

    from gcl.data.interactions import Interactions

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "peers"))
    from recbole import score

    users, items = pd.Index(range(3)), pd.Index(range(24))  # k=20 needs 20 items
    train = Interactions(np.array([0, 1, 2]), np.array([0, 1, 2]), users, items)
    test = Interactions(np.array([0, 1, 2]), np.array([1, 2, 0]), users, items)
    # Row 0 is RecBole's padding; row r holds the token in *_tokens[r]. Mapped by token,
    # user u gets one-hot (u + 1) % 3 and item i one-hot i, so each user's test item
    # ranks first (NDCG 1); rows taken in their order would rank another item first.
    e = np.eye(24, dtype=np.float32)
    pad = np.full((1, 24), 9.0, np.float32)
    user_rows, item_rows = [2, 0, 1], list(range(23, -1, -1))
    z = {"users": np.vstack([pad, e[[(u + 1) % 3 for u in user_rows]]]),
         "user_tokens": np.array(["[PAD]", *map(str, user_rows)]),
         "items": np.vstack([pad, e[item_rows]]),
         "item_tokens": np.array(["[PAD]", *map(str, item_rows)])}
    assert score(z, train, test, train.to_csr())["ndcg@20"] == pytest.approx(1.0)
    in_row_order = {**z, "user_tokens": np.array(["[PAD]", "0", "1", "2"]),
                    "item_tokens": np.array(["[PAD]", *map(str, range(24))])}
    assert score(in_row_order, train, test, train.to_csr())["ndcg@20"] < 0.9


def test_reuse_peer_takes_only_a_record_of_the_same_run(tmp_path):
    import json

    row = _row("ml-100k", "SGL", "sgl-ed", 0, 0.1)
    row["peer"]["settings"] = {"n_layer": 2, "lambda": 0.1}
    path = tmp_path / "reproduce.json"
    path.write_text(json.dumps({"ml-100k/SGL/0": row}))
    got = reproduce.stored_peer(path, "ml-100k/SGL/0", {"n_layer": 2, "lambda": 0.1}, 20)
    assert got["recall@20"] == 0.2 and got["reused_from_commit"] == "abc1234"
    assert reproduce.stored_peer(path, "ml-100k/SGL/0", {"n_layer": 3, "lambda": 0.1}, 20) is None
    assert reproduce.stored_peer(path, "ml-100k/SGL/0", {"n_layer": 2, "lambda": 0.1}, 30) is None
    assert reproduce.stored_peer(path, "ml-100k/SGL/1", {"n_layer": 2, "lambda": 0.1}, 20) is None
