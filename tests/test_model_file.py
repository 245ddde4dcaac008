"""Saved models (gcl.model_file): files written by earlier versions still load and serve
the same lists."""
import json
from pathlib import Path

import numpy as np
import pytest

from gcl import GraphCLRecommender

FIXTURES = Path(__file__).parent / "fixtures" / "models"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_files_of_earlier_versions_load_and_serve_the_same(name):
    rec = GraphCLRecommender.load(FIXTURES / f"{name}.pt")
    want = EXPECTED[name]
    items, scores = rec.recommend(want["users"], k=3)
    assert items.tolist() == want["items"]
    np.testing.assert_allclose(scores, want["scores"], rtol=1e-5, atol=1e-7)


def test_an_old_file_keeps_its_settings():
    rec = GraphCLRecommender.load(FIXTURES / "simgcl_head_moco.pt")
    assert rec.params["method"] == "simgcl" and rec.params["cl_weight"] == 0.2
    assert rec.params["moco"] == {"size": 64, "momentum": 0.9}
    svd = GraphCLRecommender.load(FIXTURES / "svd_bf16.pt")
    assert svd.params["init"] == "svd" and svd.params["precision"] == "bf16"


def test_save_and_load_round_trip(tmp_path):
    rec = GraphCLRecommender.load(FIXTURES / "text.pt")
    rec.save(tmp_path / "again.pt")
    again = GraphCLRecommender.load(tmp_path / "again.pt")
    np.testing.assert_array_equal(again.item_embeddings(), rec.item_embeddings())
    assert again.text_words_ == rec.text_words_


def test_not_a_model_file(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable gcl model file"):
        GraphCLRecommender.load(tmp_path / "x.pt")
