r"""Item text to vectors: tokenisation, word2vec word vectors, mean pooling per item.

Word vectors come from word2vec (`"Efficient Estimation of Word Representations in Vector
Space" <https://arxiv.org/abs/1301.3781>`_, Mikolov et al., 2013), either trained with
gensim's :class:`~gensim.models.Word2Vec` on the catalogue's own texts
(:func:`train_word2vec`) or read from a file the user gives (:func:`load_word_vectors`).
gensim is the :obj:`text` extra (:obj:`pip install "gcl[text]"`); it is imported only here,
and only when word vectors are trained or read. Once read, word vectors are a plain
:class:`WordVectors` (a word list and a float tensor), which is what a saved model holds:
no gensim object is ever pickled.
"""
from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from os import PathLike, fspath
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from gcl.data.interactions import text_series

#: A token: a run of letters or digits (any script), apostrophes inside kept
#: (:obj:`"children's"`); punctuation, :obj:`_` and whitespace separate tokens.
TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")

_EXTRA = 'pip install "gcl[text]"'


def tokenize(text: Any) -> list[str]:
    r"""Lower-cased tokens of :obj:`text` (see :data:`TOKEN`); :obj:`None` or NaN give
    :obj:`[]`.

    Example: :obj:`"Toy Story (1995) | Animation, Children's"` gives
    :obj:`["toy", "story", "1995", "animation", "children's"]`.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    return TOKEN.findall(str(text).lower())


def _gensim() -> Any:
    try:
        import gensim
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("word vectors need gensim, the 'text' extra: " + _EXTRA) from e
    return gensim


class WordVectors:
    r"""A word-vector table: :obj:`words[i]` has the vector :obj:`vectors[i]`.

    Args:
        words (sequence of str): the vocabulary, unique.
        vectors (torch.Tensor or np.ndarray): shape :obj:`[V, w]`, stored as float32.
    """

    def __init__(self, words: Sequence[str], vectors: torch.Tensor | np.ndarray) -> None:
        self.words = [str(w) for w in words]
        self.vectors = torch.as_tensor(np.asarray(vectors, dtype=np.float32)
                                       if not isinstance(vectors, torch.Tensor)
                                       else vectors.detach().float().cpu())
        if self.vectors.dim() != 2 or self.vectors.shape[0] != len(self.words):
            raise ValueError(f"vectors must have shape [len(words), w] = [{len(self.words)}, w], "
                             f"got {tuple(self.vectors.shape)}")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("the words of a WordVectors must be unique")

    @property
    def dim(self) -> int:
        """The vector size :math:`w`."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} words, dim={self.dim})"

    @classmethod
    def from_keyed_vectors(cls, kv: Any) -> WordVectors:
        """From gensim's :class:`~gensim.models.KeyedVectors` (or a :class:`Word2Vec`'s
        :obj:`.wv`)."""
        kv = getattr(kv, "wv", kv)
        return cls(list(kv.index_to_key), np.asarray(kv.vectors, dtype=np.float32))

    def pool(self, texts: Iterable[Any]) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Mean-pooled word vectors of each text,

        .. math::
            \mathbf{x}_i = \frac{1}{|T_i|} \sum_{t \in T_i} \mathbf{v}_t

        over the tokens :math:`T_i` of text :math:`i` that have a vector (repeats count
        each time); a text without any such token gets the zero vector.

        Returns:
            (pooled, counts): :obj:`[N, w]` float32 and the number of tokens used per
            text, :obj:`[N]` int64.
        """
        rows, cols, n = self._token_ids(texts)
        r = torch.as_tensor(rows, dtype=torch.long)
        c = torch.as_tensor(cols, dtype=torch.long)
        counts = torch.bincount(r, minlength=n)
        pooled = torch.zeros(n, self.dim)
        pooled.index_add_(0, r, self.vectors[c])
        return pooled / counts.clamp_min(1).unsqueeze(1).float(), counts


    def bags(self, texts: Iterable[Any]) -> sp.csr_matrix:
        r"""Binary bags of words: :obj:`[N, V]` float32 CSR with a one where text :math:`i`
        has word :math:`j` of this table (however often), over the same tokens as
        :meth:`pool`. The input of the text branch's cold-item map, which needs what mean
        pooling loses: which words an item has, not only their average vector."""
        rows, cols, n = self._token_ids(texts)
        m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, len(self)))
        m.sum_duplicates()
        m.data[:] = 1
        return m

    def _token_ids(self, texts: Iterable[Any]) -> tuple[list[int], list[int], int]:
        """(text row, word index) of every token with a vector, and the number of texts."""
        rows, cols = [], []
        n = 0
        for n, text in enumerate(texts, 1):
            ids = [self.index[t] for t in tokenize(text) if t in self.index]
            rows.extend([n - 1] * len(ids))
            cols.extend(ids)
        return rows, cols, n


def train_word2vec(texts: Iterable[Any], dim: int = 64, window: int = 5, min_count: int = 1,
                   epochs: int = 20, seed: int = 0) -> WordVectors:
    r"""Word vectors trained with gensim's :class:`~gensim.models.Word2Vec` (skip-gram) on
    the tokenised :obj:`texts`, with one worker so that the same seed gives the same
    vectors.

    Args:
        texts (iterable of str): e.g. the catalogue's item texts.
        dim (int): vector size. (default: :obj:`64`)
        window (int): context window. (default: :obj:`5`)
        min_count (int): least number of occurrences of a kept word. (default: :obj:`1`)
        epochs (int): passes over the texts. (default: :obj:`20`)
        seed (int): random seed. (default: :obj:`0`)

    Raises:
        ImportError: without gensim (the :obj:`text` extra).
        ValueError: no text has a token.
    """
    sentences = [s for s in (tokenize(t) for t in texts) if s]
    if not sentences:
        raise ValueError("none of the texts has a word to train word vectors on")
    gensim = _gensim()
    model = gensim.models.Word2Vec(sentences, vector_size=dim, window=window,
                                   min_count=min_count, sg=1, workers=1, seed=seed,
                                   epochs=epochs)
    return WordVectors.from_keyed_vectors(model.wv)


#: The first bytes of a pickle (protocol 2 and later), which gensim's native format is.
_PICKLE_MAGIC = b"\x80"


def load_word_vectors(path: str | PathLike, binary: bool | None = None,
                      limit: int | None = None, allow_pickle: bool = False) -> WordVectors:
    r"""Word vectors from a file in the word2vec text or binary format
    (:meth:`KeyedVectors.load_word2vec_format`), which carries data only.

    gensim's own format (:obj:`KeyedVectors.save`, :obj:`.kv`, :obj:`.model`) is a Python
    pickle: reading it runs whatever code the file names, so it is refused unless
    :obj:`allow_pickle=True` says the file is trusted. Convert such a file once with
    :obj:`KeyedVectors.load(path).save_word2vec_format("vectors.bin", binary=True)`.

    Args:
        path (str or PathLike): the file.
        binary (bool, optional): word2vec binary format; by default binary when the name
            ends with :obj:`.bin`. (default: :obj:`None`)
        limit (int, optional): read only the first :obj:`limit` words (word2vec formats).
            (default: :obj:`None`)
        allow_pickle (bool): also read gensim's native (pickled) format, running any code
            in the file: only for a file you made or trust. (default: :obj:`False`)

    Raises:
        ImportError: without gensim (the :obj:`text` extra).
        FileNotFoundError: no file at :obj:`path`.
        ValueError: the file cannot be read as word vectors, or is a pickle and
            :obj:`allow_pickle` is :obj:`False`.
    """
    gensim = _gensim()
    name = fspath(path)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise ValueError(f"limit must be an integer >= 1, got {limit!r}")
    with open(name, "rb") as f:  # FileNotFoundError names the file
        head = f.read(1)
    native = name.endswith((".kv", ".model")) or head == _PICKLE_MAGIC
    if native and not allow_pickle:
        raise ValueError(
            f"{name!r} is in gensim's native format, a pickle that can run code when read: "
            "convert it to the word2vec format (KeyedVectors.load(path)."
            "save_word2vec_format('vectors.bin', binary=True)), or, for a file you trust, "
            "pass allow_pickle=True (word_allow_pickle=True to GraphCLRecommender)")
    kv_cls = gensim.models.KeyedVectors
    try:
        if native:
            kv = kv_cls.load(name)
        else:
            kv = kv_cls.load_word2vec_format(
                name, binary=name.endswith(".bin") if binary is None else binary, limit=limit)
    except FileNotFoundError:
        raise
    except Exception as e:
        raise ValueError(f"{name!r} is not a readable word-vector file (word2vec text, or "
                         f"binary for a .bin name): {type(e).__name__}: {e}") from e
    if not isinstance(kv, kv_cls) or len(kv.index_to_key) == 0:
        raise ValueError(f"{name!r} holds no word vectors")
    return WordVectors.from_keyed_vectors(kv)


def align_text(item_text: pd.Series | Mapping[Hashable, Any],
               item_ids: pd.Index) -> pd.Series:
    """The text of each item of :obj:`item_ids`, in that order (:obj:`None` where an item
    has no text); :obj:`item_text` is indexed by the items' own ids."""
    item_text = text_series(item_text)
    return item_text.reindex(item_ids).astype(object).where(lambda s: s.notna(), None)
