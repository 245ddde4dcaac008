"""Tokenisation, word vectors and pooling (gcl.text)."""
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from gcl.text import WordVectors, align_text, load_word_vectors, tokenize, train_word2vec


def test_tokenize():
    assert tokenize("Toy Story (1995) | Animation, Children's, Comedy") == [
        "toy", "story", "1995", "animation", "children's", "comedy"]
    assert tokenize("Sci-Fi_Thriller  Crépuscule") == ["sci", "fi", "thriller", "crépuscule"]
    assert tokenize(None) == [] and tokenize(float("nan")) == [] and tokenize("") == []
    assert tokenize(1995) == ["1995"]


def test_pool_against_hand_computed_means():
    wv = WordVectors(["toy", "story", "comedy"], [[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    pooled, counts = wv.pool(["Toy Story", "comedy comedy unknown toy", "nothing known", None])
    # "toy story": ([1,0]+[0,2])/2; "comedy comedy toy": ([3,3]*2+[1,0])/3; none: zeros
    expect = torch.tensor([[0.5, 1.0], [7 / 3, 2.0], [0.0, 0.0], [0.0, 0.0]])
    assert torch.allclose(pooled, expect)
    assert counts.tolist() == [2, 3, 0, 0]
    assert pooled.dtype == torch.float32


def test_word_vectors_checks():
    with pytest.raises(ValueError, match="shape"):
        WordVectors(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="unique"):
        WordVectors(["a", "a"], np.zeros((2, 2)))
    wv = WordVectors(["a"], np.ones((1, 4)))
    assert "a" in wv and len(wv) == 1 and wv.dim == 4


def test_align_text_orders_by_item_map():
    text = pd.Series({"i2": "b", "i1": "a", "zz": "x"})
    out = align_text(text, pd.Index(["i1", "i2", "i3"]))
    assert out.tolist() == ["a", "b", None]
    with pytest.raises(TypeError, match="pd.Series"):
        align_text(["a"], pd.Index(["i1"]))
    assert align_text({"i1": "a"}, pd.Index(["i1"])).tolist() == ["a"]


def test_train_word2vec_is_seeded():
    pytest.importorskip("gensim")
    texts = ["action comedy", "action thriller", "comedy romance", "drama romance"] * 5
    a = train_word2vec(texts, dim=8, epochs=5, seed=3)
    b = train_word2vec(texts, dim=8, epochs=5, seed=3)
    assert set(a.words) == {"action", "comedy", "thriller", "romance", "drama"}
    assert a.words == b.words and torch.equal(a.vectors, b.vectors)
    assert a.vectors.shape == (5, 8)
    with pytest.raises(ValueError, match="no"):
        train_word2vec(["", None], dim=8)


@pytest.mark.parametrize("binary", [False, True])
def test_load_word2vec_formats(tmp_path, binary):
    gensim = pytest.importorskip("gensim")
    kv = gensim.models.KeyedVectors(3)
    kv.add_vectors(["alpha", "beta"], np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))
    path = tmp_path / ("v.bin" if binary else "v.txt")
    kv.save_word2vec_format(str(path), binary=binary)
    wv = load_word_vectors(path)
    assert wv.words == ["alpha", "beta"]
    assert torch.equal(wv.vectors, torch.tensor([[1.0, 2, 3], [4, 5, 6]]))
    kv.save(str(tmp_path / "v.kv"))  # gensim's native format, a pickle: only on request
    with pytest.raises(ValueError, match="a pickle that can run code"):
        load_word_vectors(tmp_path / "v.kv")
    assert load_word_vectors(tmp_path / "v.kv", allow_pickle=True).words == ["alpha", "beta"]
    (tmp_path / "bad.txt").write_text("not a word vector file\n")
    with pytest.raises(ValueError, match="word-vector"):
        load_word_vectors(tmp_path / "bad.txt")


def test_missing_gensim_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gensim", None)
    with pytest.raises(ImportError, match=r"gcl\[text\]"):
        train_word2vec(["a b"])
    with pytest.raises(ImportError, match=r"gcl\[text\]"):
        load_word_vectors("x.txt")


def test_bags_against_hand_computed():
    wv = WordVectors(["toy", "story", "comedy"], np.zeros((3, 2)))
    bags = wv.bags(["Toy Story", "comedy comedy unknown toy", None])
    np.testing.assert_array_equal(bags.toarray(), [[1, 1, 0], [1, 0, 1], [0, 0, 0]])
    assert bags.dtype == np.float32 and bags.shape == (3, 3)
