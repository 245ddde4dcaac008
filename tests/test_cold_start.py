"""The text branch in GraphCLRecommender: cold items, new text, save/load."""
import numpy as np
import pandas as pd
import pytest
import torch

from gcl import GraphCLRecommender, Interactions
from gcl.export import load_export
from tests.test_recommender import clustered_log

pytest.importorskip("gensim")

ACTION = ["action thriller heist", "action war explosion", "thriller heist crime",
          "action crime chase"]
ROMANCE = ["romance drama love", "drama love wedding", "romance comedy love",
           "drama romance letters"]


def item_texts(n_items: int = 40) -> pd.Series:
    """Item i of the first half (the even users' taste) is an action film, of the second
    half a romance; plus two items that have text only."""
    text = {f"item-{i}": f"Film {i} ({1990 + i % 7}) | "
            + (ACTION if i < n_items // 2 else ROMANCE)[i % 4] for i in range(n_items)}
    text["new-action"] = "Film X (1999) | action heist thriller"
    text["new-romance"] = "Film Y (1999) | romance love drama"
    return pd.Series(text)


@pytest.fixture(scope="module")
def data():
    inter = Interactions.from_pandas(clustered_log())
    train, valid, test = inter.split("random", ratios=(0.8, 0.1, 0.1), seed=0)
    cold = inter.item_index(["item-3", "item-25"])  # in the map, no train interaction
    return train.select(~np.isin(train.items, cold)), valid, test


@pytest.fixture(scope="module")
def fitted(data):
    train, valid, _ = data
    rec = GraphCLRecommender(dim=16, layers=2, lr=0.05, batch_size=64, epochs=30,
                             patience=30, device="cpu", progress=False, word_dim=16)
    return rec.fit(train, valid=valid, item_text=item_texts())


COLD = ["item-3", "item-25", "new-action", "new-romance"]


def test_cold_items_get_finite_text_embeddings(fitted):
    assert list(fitted.item_ids[-2:]) == ["new-action", "new-romance"]  # appended
    emb = fitted.item_embeddings()
    rows = fitted.item_ids.get_indexer(COLD)
    assert (rows >= 0).all()
    assert np.isfinite(emb).all()
    assert (np.linalg.norm(emb[rows], axis=1) > 1e-3).all()
    # ... and they are the text branch's embeddings of their text
    again = fitted.embed_items(item_texts()[COLD].tolist())
    np.testing.assert_allclose(again, emb[rows], rtol=1e-5, atol=1e-6)


def test_cold_items_are_ranked_by_taste(fitted):
    users = [f"u{u}" for u in range(0, 60)]
    u = fitted.user_embeddings()[fitted.user_ids.get_indexer(users)]
    rows = fitted.item_ids.get_indexer(COLD)
    scores = u @ fitted.item_embeddings()[rows].T       # [60, 4]
    even, odd = scores[0::2], scores[1::2]
    action = scores[:, [0, 2]].mean(1) - scores[:, [1, 3]].mean(1)
    assert (action[0::2] > action[1::2].max()).mean() > 0.5
    assert action[0::2].mean() > 0 > action[1::2].mean(), (even.mean(0), odd.mean(0))


def test_cold_items_are_recommended_similar_and_exported(fitted, tmp_path):
    items, scores = fitted.recommend(["u0"], k=len(fitted.item_ids) - 10)
    assert "new-action" in set(items[0])
    sim, _ = fitted.similar_items(["new-action"], k=5)
    assert "new-action" not in set(sim[0])
    taste = [int(i.split("-")[1]) < 20 for i in sim[0] if i.startswith("item-")]
    assert np.mean(taste) >= 0.6
    fitted.export(tmp_path)
    exp = load_export(tmp_path)
    assert list(exp.item_ids[-2:]) == ["new-action", "new-romance"]
    np.testing.assert_array_equal(exp.item_emb, fitted.item_embeddings())


def test_evaluate_and_valid_keep_the_original_map(fitted, data):
    out = fitted.evaluate(data[2], k=[5])
    assert 0 <= out["recall@5"] <= 1


def test_save_load_keeps_the_text_branch(fitted, tmp_path):
    new = ["Film Z (2001) | action heist", "love letters", "words nobody knows"]
    before = fitted.embed_items(new)
    assert np.equal(before[2], 0).all()
    fitted.save(tmp_path / "m.pt")
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    assert state["text_words"] == fitted.text_words_
    loaded = GraphCLRecommender.load(tmp_path / "m.pt")
    np.testing.assert_array_equal(loaded.embed_items(new), before)
    np.testing.assert_array_equal(loaded.item_embeddings(), fitted.item_embeddings())
    a, _ = loaded.similar_items(["item-3"], k=3)
    b, _ = fitted.similar_items(["item-3"], k=3)
    assert (a == b).all()


@pytest.mark.parametrize("method", ["sgl-ed", "simgcl", "xsimgcl", "lightgcl", "gcn"])
def test_every_method_takes_the_branch(data, method):
    train, _, _ = data
    kwargs = dict(text_fuse="concat", text_view="cfm", text_loss="infonce") \
        if method == "simgcl" else {}
    if method == "gcn":  # a composition with a GNNEncoder
        from gcl.augment import EdgeDrop

        method, kwargs = "lightgcn", dict(encoder="gcn", augment=EdgeDrop(0.1))
    rec = GraphCLRecommender(method=method, dim=8, layers=2, batch_size=64, epochs=2,
                             device="cpu", progress=False, word_dim=8, word_epochs=2,
                             item_text=item_texts(), text_weight=0.5, **kwargs)
    rec.fit(train)
    assert {"text", "text_cl", "text_bpr", "cl"} <= set(rec.history_[-1])
    emb = rec.item_embeddings()
    assert np.isfinite(emb).all()
    assert np.linalg.norm(emb[rec.item_ids.get_indexer(COLD)], axis=1).min() > 0


def test_word_vector_file(data, tmp_path):
    gensim = pytest.importorskip("gensim")
    kv = gensim.models.KeyedVectors(4)
    words = sorted({w for t in item_texts() for w in t.lower().replace("|", " ").split()})
    rng = np.random.default_rng(0)
    kv.add_vectors(words, rng.normal(size=(len(words), 4)).astype(np.float32))
    kv.save_word2vec_format(str(tmp_path / "w.txt"))
    rec = GraphCLRecommender(dim=8, layers=1, epochs=1, device="cpu", progress=False,
                             word_vectors=str(tmp_path / "w.txt"))
    rec.fit(data[0], item_text=item_texts())
    assert rec.method_.text.word_vectors.shape == (len(words), 4)
    rec.save(tmp_path / "m.pt")  # a path is a plain setting
    assert GraphCLRecommender.load(tmp_path / "m.pt").text_words_ == words


def test_text_errors(data, fitted):
    train = data[0]
    with pytest.raises(TypeError, match="text setting"):
        GraphCLRecommender(text_wieght=0.1)
    with pytest.raises(ValueError, match="no text branch"):
        GraphCLRecommender(method="pop").fit(train, item_text=item_texts())
    with pytest.raises(TypeError, match="pd.Series"):
        GraphCLRecommender(epochs=1).fit(train, item_text=["a", "b"])
    plain = GraphCLRecommender(dim=8, epochs=1, device="cpu", progress=False).fit(train)
    with pytest.raises(RuntimeError, match="no text branch"):
        plain.embed_items(["action"])
    with pytest.raises(TypeError, match="list of strings"):
        fitted.embed_items("action")


def test_resume_with_text(data, tmp_path):
    train = data[0]
    kw = dict(dim=8, layers=1, epochs=2, device="cpu", progress=False, word_dim=8,
              word_epochs=2)
    whole = GraphCLRecommender(**kw).fit(train, item_text=item_texts())
    GraphCLRecommender(**{**kw, "epochs": 1}).fit(train, item_text=item_texts(),
                                                  checkpoint_dir=tmp_path)
    resumed = GraphCLRecommender(**kw).fit(train, item_text=item_texts(),
                                           checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(resumed.item_embeddings(), whole.item_embeddings())
    other = item_texts().str.upper()
    with pytest.raises(ValueError, match="text_sha256"):
        GraphCLRecommender(**kw).fit(train, item_text=other, checkpoint_dir=tmp_path,
                                     resume=True)


def test_fit_uses_the_text_the_train_log_carries(data):
    train = data[0].with_item_text(item_texts())
    kw = dict(dim=8, layers=1, epochs=1, device="cpu", progress=False, word_dim=8,
              word_epochs=2)
    rec = GraphCLRecommender(**kw).fit(train)
    assert rec.method_.text is not None
    assert list(rec.item_ids[-2:]) == ["new-action", "new-romance"]
    # an explicit item_text wins over the log's
    other = GraphCLRecommender(**kw).fit(train, item_text=item_texts()[:-1])
    assert other.item_ids[-1] == "new-action"
    with pytest.warns(RuntimeWarning, match="has no text branch: the text is not used"):
        GraphCLRecommender(method="pop", device="cpu", progress=False).fit(train)


def test_tower_cold_embedding_option(data):
    rec = GraphCLRecommender(dim=8, layers=1, epochs=1, device="cpu", progress=False,
                             word_dim=8, word_epochs=2, text_cold_embedding="tower")
    rec.fit(data[0], item_text=item_texts())
    branch = rec.method_.text
    assert not bool(branch.map_fitted)
    rows = rec.item_ids.get_indexer(COLD)
    with torch.no_grad():
        tower = branch.text_embedding()[torch.as_tensor(rows)].numpy()
    np.testing.assert_allclose(rec.item_embeddings()[rows], tower, rtol=1e-5, atol=1e-6)
