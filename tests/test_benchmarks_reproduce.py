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
