import json
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gcl import GraphCLRecommender, distributed
from gcl.datasets.synthetic import power_law_interactions

BATCH = 128  # per rank; the one-process run uses 2 * BATCH, the same global batch
EPOCHS = 2


def _data():
    log = power_law_interactions(3_000, num_users=200, num_items=150, seed=0)
    return log.split("random", ratios=(0.8, 0.1, 0.1), seed=0)


def _fit(batch_size: int, **kw) -> GraphCLRecommender:
    train, valid, _ = _data()
    kw = {"method": "lightgcn", "epochs": EPOCHS, "patience": None, "lr": 0.01, **kw}
    return GraphCLRecommender(dim=16, layers=2, batch_size=batch_size, device="cpu",
                              progress=False, **kw).fit(train, valid=valid)


def _worker(rank: int, world: int, port: int, out: str, kw: dict | None = None) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        rec = _fit(BATCH, **(kw or {}))
        result = {"history": rec.history_, "items": rec.item_embeddings().tolist()}
        # Ranks that loaded different data must fail, all of them, with a clear message.
        try:
            distributed.check_same({"data": {"train_sha256": f"digest of rank {rank}"}})
        except ValueError as e:
            result["mismatch"] = str(e)
        with open(f"{out}/rank{rank}.json", "w") as f:
            json.dump(result, f)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_train_like_one_process_with_the_same_global_batch(tmp_path):
    # fork: the ranks start at once, without importing torch again; each sets one thread
    # (as DataLoader workers do), so no OpenMP pool crosses the fork.
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method="fork")
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    two = ranks[0]["history"]
    one = _fit(2 * BATCH).history_
    assert len(two) == len(one) == EPOCHS
    # Rank 0 alone evaluates: its history has the valid metrics, rank 1's has none.
    assert "valid_ndcg@20" in two[-1] and "valid_ndcg@20" not in ranks[1]["history"][-1]
    # Each rank's half of a global batch of 2 * BATCH rows, with DDP averaging the
    # gradients, is the gradient of the same mean loss as the one-process batch: the two
    # runs differ only in the order float32 sums are taken in (all-reduce), ~1e-7
    # relative per step. Over ~20 Adam steps that stays far below 1e-4 in the loss, and
    # it can swap only near-tied items in a top-20 list: one swap among the ~200
    # valid users moves recall@20 or ndcg@20 by well under 0.01.
    for a, b in zip(two, one):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
        assert a["bpr"] == pytest.approx(b["bpr"], rel=1e-4)
        for key in ("valid_recall@20", "valid_ndcg@20"):
            assert abs(a[key] - b[key]) < 0.01, (key, a[key], b[key])
    # and training did something: the BPR loss fell from ln 2
    assert two[-1]["bpr"] < two[0]["bpr"] < np.log(2)
    # every rank ends with rank 0's best weights
    np.testing.assert_array_equal(ranks[0]["items"], ranks[1]["items"])
    for r in (0, 1):
        assert "the ranks disagree" in ranks[r]["mismatch"]
        assert "data.train_sha256: the data differ between ranks 0 and 1" in ranks[r]["mismatch"]


def test_rank_0s_early_stop_and_contrastive_weight_schedule_are_followed_by_all(tmp_path):
    # Only rank 0 evaluates: its stop and its decays reach rank 1 (which would otherwise
    # train on, or wait forever at the next collective).
    kw = {"method": "simgcl", "epochs": 12, "patience": 2, "cl_decay": (0.5, 1), "lr": 0.05}
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path), kw), nprocs=2,
                       join=True, start_method="fork")
    first, second = (json.loads((tmp_path / f"rank{r}.json").read_text())["history"]
                     for r in (0, 1))
    assert len(first) == len(second) < 12
    assert [h["cl_weight"] for h in first] == [h["cl_weight"] for h in second]
    assert first[-1]["cl_weight"] < first[0]["cl_weight"]


def test_part_cuts_a_global_batch_into_contiguous_shares(monkeypatch):
    assert distributed.part(10) == slice(0, 10)  # no process group: everything
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    shares = []
    for r in range(3):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        shares.append(distributed.part(7))
    assert shares == [slice(0, 3), slice(3, 5), slice(5, 7)]
    monkeypatch.setattr(distributed, "rank", lambda: 2)
    assert distributed.part(2) == slice(2, 2)  # a short last batch leaves rank 2 nothing


def test_helpers_without_a_process_group():
    assert not distributed.active() and distributed.is_main()
    assert distributed.world_size() == 1 and distributed.rank() == 0
    assert distributed.all_sum([1.5, 2.0], torch.device("cpu")) == [1.5, 2.0]
    assert distributed.from_main(True, torch.device("cpu"))
    distributed.check_same({"anything": 1})  # nothing to compare against
