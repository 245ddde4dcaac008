import json

import numpy as np
import pandas as pd
import pytest

from gcl.cli import main


@pytest.fixture
def log_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = [(f"user{u}", f"item{i}", int(t)) for u in range(30)
            for t, i in enumerate(rng.choice(25, 6, replace=False))]
    path = tmp_path / "clicks.csv"
    pd.DataFrame(rows, columns=["uid", "iid", "ts"]).to_csv(path, index=False)
    return path


def test_train_writes_run_folder(log_csv, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--interactions", str(log_csv), "--user-col", "uid",
                 "--item-col", "iid", "--timestamp-col", "ts", "--split", "leave_one_out",
                 "--dim", "8", "--layers", "1", "--epochs", "3", "--batch-size", "32",
                 "--out", str(out), "--quiet", "--device", "cpu"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "recall@20" in printed and "ndcg@10" in printed
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3]
    test = json.loads((out / "metrics.json").read_text())["test"]
    assert test["users"] == 30 and 0 <= test["ndcg@20"] <= 1
    assert np.load(out / "embeddings" / "item_embeddings.npy").shape == (25, 8)

    code = main(["export", str(out / "model.pt"), str(tmp_path / "again")])
    assert code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "again" / "user_embeddings.npy"),
                                  np.load(out / "embeddings" / "user_embeddings.npy"))


def test_bad_column_is_a_clear_error(log_csv, tmp_path, capsys):
    code = main(["train", "--interactions", str(log_csv), "--user-col", "nope",
                 "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2
    assert "'nope' not found" in capsys.readouterr().err
