import json

import numpy as np
import pandas as pd
import pytest

from gcl import GraphCLRecommender, Interactions
from gcl.export import atomic_write, sha256_file


@pytest.fixture(scope="module")
def rec():
    df = pd.DataFrame({"user": ["a", "a", "b", "c", "c", "c"],
                       "item": [10, 11, 10, 11, 12, 13]})
    train = Interactions.from_pandas(df)
    return GraphCLRecommender(dim=4, layers=1, epochs=2, batch_size=4, device="cpu",
                              progress=False).fit(train)


def test_export_files(rec, tmp_path):
    files = rec.export(tmp_path / "out", metrics={"ndcg@20": 0.5}, dataset="toy")
    users = np.load(files["user_embeddings"])
    items = np.load(files["item_embeddings"])
    assert users.dtype == items.dtype == np.float32
    assert users.shape == (3, 4) and items.shape == (4, 4)
    np.testing.assert_array_equal(users, rec.user_embeddings())
    umap = pd.read_parquet(files["users"])
    imap = pd.read_parquet(files["items"])
    assert umap["user"].tolist() == ["a", "b", "c"] and umap["row"].tolist() == [0, 1, 2]
    assert imap["item"].tolist() == [10, 11, 12, 13]
    meta = json.loads(open(files["meta"]).read())
    assert meta["method"] == "lightgcn" and meta["dim"] == 4 and meta["dataset"] == "toy"
    assert meta["metrics"] == {"ndcg@20": 0.5}
    for role, entry in meta["files"].items():
        assert sha256_file(files[role]) == entry["sha256"]


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as f:
            f.write("half of the new")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    with atomic_write(target, "w") as f:
        f.write("new")
    assert target.read_text() == "new"
