"""The text branch of a fit: item texts aligned with the item map, word vectors (a file's,
or word2vec trained on the texts), and the :class:`~gcl.nn.text_tower.TextBranch` over
them, built from the :class:`~gcl.settings.TextSettings` of a recommender."""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from gcl.data.interactions import Interactions
from gcl.nn.text_tower import TextBranch
from gcl.settings import TextSettings, declared


def branch_kwargs(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`TextBranch` arguments among :obj:`settings`: each :obj:`text_X` given
    becomes :obj:`X` (the rest keep the branch's defaults)."""
    return {name[len("text_"):]: settings[name] for name in declared(TextSettings)
            if name.startswith("text_") and name in settings}


def with_text_items(train: Interactions, text: Any) -> Interactions:
    """:obj:`train` with the ids of :obj:`text` (a :class:`pd.Series` or mapping of item id
    to text) missing from its item map appended: items known by their text alone."""
    from gcl.text import align_text

    align_text(text, train.item_ids)  # checks the type and ids
    index = text.index if isinstance(text, pd.Series) else pd.Index(list(text))
    new = index[~index.isin(train.item_ids)]
    if len(new) == 0:
        return train
    return Interactions(train.users, train.items, train.user_ids,
                        train.item_ids.append(pd.Index(new)), train.rating,
                        train.timestamp, train.item_text, train.weights)


def build_text_branch(train: Interactions, text: Any, settings: Mapping[str, Any], dim: int,
                      seed: int) -> tuple[TextBranch, list[str]]:
    """The text branch of a fit on :obj:`train` (whose item map holds every item of
    :obj:`text`, see :func:`with_text_items`), prepared on it, and the words of its word
    vectors.

    Args:
        train (Interactions): the train log.
        text (pd.Series or Mapping): item id to text.
        settings (Mapping): the recommender's settings; the :obj:`text_*` and :obj:`word_*`
            ones given are used, the others keep their defaults.
        dim (int): embedding size.
        seed (int): seed of word2vec.
    """
    from gcl.text import align_text, load_word_vectors, train_word2vec

    word = {k: settings.get(k, d.default) for k, d in declared(TextSettings).items()
            if k.startswith("word_")}
    texts = align_text(text, train.item_ids)
    if word["word_vectors"] is not None:
        wv = load_word_vectors(word["word_vectors"], allow_pickle=bool(word["word_allow_pickle"]))
    else:
        wv = train_word2vec(texts.dropna(), dim=word["word_dim"], epochs=word["word_epochs"],
                            min_count=word["word_min_count"], seed=seed)
    pooled, counts = wv.pool(texts)
    cold = torch.from_numpy(train.item_counts() == 0)
    blind = int((cold & (counts == 0)).sum())
    if blind:
        warnings.warn(f"{blind} items have neither train interactions nor a text with a "
                      "known word: their embeddings are zero", RuntimeWarning, stacklevel=4)
    branch = TextBranch(pooled, counts > 0, cold, wv.vectors, train.num_users, dim,
                        bags=wv.bags(texts), **branch_kwargs(settings))
    branch.prepare(train.to_csr().T)
    return branch, list(wv.words)


def text_skeleton(weights: dict[str, torch.Tensor], words: Sequence[str], num_users: int,
                  dim: int, settings: Mapping[str, Any]) -> TextBranch:
    """A text branch shaped like the one in a saved model's :obj:`weights` (its state
    dict), to load them into; fills in the cold-item map of files from before it."""
    key = "encoder.branch."
    if key + "pooled" not in weights:
        raise ValueError("the model file names text words but holds no text branch")
    pooled, vectors = weights[key + "pooled"], weights[key + "word_vectors"]
    if vectors.shape[0] != len(words):
        raise ValueError("the model file's text words do not match its word vectors")
    for name, value in (("map_weight", torch.zeros(vectors.shape[0], dim)),
                        ("map_bias", torch.zeros(dim)), ("map_fitted", torch.tensor(False))):
        weights.setdefault(key + name, value)
    n = pooled.shape[0]
    return TextBranch(torch.zeros_like(pooled), torch.zeros(n, dtype=torch.bool),
                      torch.zeros(n, dtype=torch.bool), torch.zeros_like(vectors), num_users,
                      dim, **branch_kwargs(settings))


def embed_texts(branch: TextBranch, words: Sequence[str], texts: Sequence[Any]) -> np.ndarray:
    """Embeddings :obj:`[len(texts), dim]` (float32) of items from their text alone, with
    the word vectors, tower and cold-item map of :obj:`branch`."""
    from gcl.text import WordVectors

    wv = WordVectors(list(words), branch.word_vectors.cpu())
    pooled, counts = wv.pool(list(texts))
    dev = branch.pooled.device
    with torch.no_grad():
        emb = branch.embed_text(pooled.to(dev), (counts > 0).to(dev), wv.bags(list(texts)))
    return emb.float().cpu().numpy()
