r"""The text twin tower: item text vectors into the embedding space, and the branch that
feeds them to a graph encoder as the items' layer-0 features."""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from gcl.augment.feature import FeatureMask
from gcl.losses import bpr
from gcl.view import View

FUSES = ("sum", "concat")
VIEWS = ("autoencoder", "cfm")
LOSSES = ("bce", "infonce")
COLD = ("map", "tower")


class TextTower(nn.Module):
    r"""Three fully connected layers, :math:`f(\mathbf{x}) = W_3\,\mathrm{ReLU}(W_2\,
    \mathrm{ReLU}(W_1 \mathbf{x} + b_1) + b_2) + b_3`, from pooled text vectors
    :obj:`[N, in_dim]` to :obj:`[N, dim]`.

    Args:
        in_dim (int): size of the pooled word vectors.
        dim (int): output (embedding) size.
        hidden (int): hidden width. (default: :obj:`128`)
        dropout (float): dropout on the input and hidden layers while training, against
            memorising the words unique to one item (its title). (default: :obj:`0.0`)
    """

    def __init__(self, in_dim: int, dim: int, hidden: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.ReLU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TwinTower(nn.Module):
    r"""The two-tower model of `"Self-supervised Learning for Large-scale Item
    Recommendations" <https://arxiv.org/abs/2007.12865>`_ (Yao et al., CIKM 2021) in its
    self-supervised form: both views of an item go through towers whose weights are
    shared, i.e. one :class:`TextTower` applied twice (:attr:`left` is :attr:`right`).

    Args:
        in_dim (int): size of the pooled word vectors.
        dim (int): output size.
        hidden (int): hidden width. (default: :obj:`128`)
        dropout (float): see :class:`TextTower`. (default: :obj:`0.0`)
    """

    def __init__(self, in_dim: int, dim: int, hidden: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.tower = TextTower(in_dim, dim, hidden, dropout)

    @property
    def left(self) -> TextTower:
        return self.tower

    @property
    def right(self) -> TextTower:
        return self.tower

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both views, :obj:`[B, in_dim]` each, to :obj:`[B, dim]` each."""
        return self.left(x1), self.right(x2)


class TextAutoEncoder(nn.Module):
    r"""A denoising auto-encoder over pooled text vectors that makes the augmented view:
    the input is corrupted (each feature masked with probability :math:`p`, Gaussian noise
    of std :obj:`noise` added) and reconstructed,
    :math:`\tilde{\mathbf{x}} = g(h(\mathbf{m} \odot \mathbf{x} + \boldsymbol{\epsilon}))`,
    trained with the reconstruction loss :math:`\lVert \tilde{\mathbf{x}} - \mathbf{x}
    \rVert^2` (`"Extracting and Composing Robust Features with Denoising Autoencoders"
    <https://doi.org/10.1145/1390156.1390294>`_, Vincent et al., ICML 2008).

    Args:
        in_dim (int): size of the pooled vectors.
        hidden (int): bottleneck width. (default: :obj:`32`)
        p (float): feature mask probability. (default: :obj:`0.3`)
        noise (float): noise std, relative to the input's std. (default: :obj:`0.1`)
    """

    def __init__(self, in_dim: int, hidden: int = 32, p: float = 0.3,
                 noise: float = 0.1) -> None:
        super().__init__()
        self.encode = nn.Sequential(nn.Linear(in_dim, hidden), nn.Tanh())
        self.decode = nn.Linear(hidden, in_dim)
        self.p, self.noise = p, noise

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        keep = torch.rand(x.shape, generator=generator) >= self.p
        eps = torch.randn(x.shape, generator=generator) * self.noise * x.detach().std()
        return x * keep.to(x.device) + eps.to(x.device)

    def forward(self, x: torch.Tensor,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The augmented view :obj:`[B, in_dim]` and the reconstruction loss."""
        rec = self.decode(self.encode(self.corrupt(x, generator)))
        return rec, F.mse_loss(rec, x)


class TextBranch(nn.Module):
    r"""The text branch of a graph model: a :class:`TwinTower` over pooled item text
    vectors, the items' layer-0 features (:meth:`x0`), the text-only embedding of cold items
    (:meth:`text_embedding`), and the text losses (:meth:`loss`).

    **Layer 0.** With :math:`\mathbf{t}_i = f(\mathbf{x}_i)` the tower's output for item
    :math:`i` (zero for an item without text) and :math:`\mathbf{e}_i` its ID embedding
    (zero for a cold item, one without train interactions, whose ID row is never trained),
    :obj:`fuse="sum"` gives :math:`\mathbf{h}^{(0)}_i = \mathbf{e}_i + \mathbf{t}_i` and
    :obj:`fuse="concat"` gives :math:`\mathbf{h}^{(0)}_i = W[\mathbf{e}_i \,\|\, \mathbf{t}_i]
    + \mathbf{b}`; user rows are unchanged. :obj:`"sum"` is the default: it adds no
    parameter, keeps layer 0 in the space and scale LightGCN propagates (the text vector
    is a residual on a learned ID vector, and a cold item gets exactly its text vector),
    and at the start of training warm items are the plain ID model's, whereas the random
    :math:`W` of :obj:`"concat"` scrambles the ID embeddings at first.

    **Text contrastive task** (Yao et al., CIKM 2021), over a batch of :obj:`batch` items
    drawn from all items with text (cold ones included): view 1 is the pooled vector, view 2
    an augmented one, made by a :class:`TextAutoEncoder` (:obj:`view="autoencoder"`, its
    reconstruction loss added) or by correlated feature masking of both views
    (:obj:`view="cfm"`, :class:`gcl.augment.FeatureMask` with :obj:`mode="correlated"`).
    Both go through the shared tower. The positive pair is an item's two views; the negatives
    of item :math:`i` are the :obj:`num_neg` in-batch items least co-clicked with it (cosine
    similarity of their train user columns, ties broken at random). :obj:`loss="bce"` is
    binary cross-entropy on whether a pair is similar, with logits
    :math:`\cos(\mathbf{z}^1_i, \mathbf{z}^2_j)/\tau`, positive and negative terms averaged
    separately; :obj:`loss="infonce"` is InfoNCE over the same pairs.

    **Cold-start alignment.** The recommendation loss is also computed with each batch
    item's text embedding in place of its embedding, against the (detached) user
    embeddings: BPR weighted by :obj:`rec_weight`, as in DropoutNet (`"DropoutNet:
    Addressing Cold Start in Recommender Systems" <https://papers.nips.cc/paper/7081>`_,
    Volkovs et al., NeurIPS 2017), which trains the branch, not the users.

    **Cold items' embeddings.** With :obj:`cold_embedding="tower"` a cold item's final
    embedding is its text embedding :meth:`text_embedding`. With :obj:`"map"` (default), it
    is a linear map of its binary bag of words :math:`\mathbf{b}_i \in \{0,1\}^V` fitted
    in closed form to the warm items' final (graph) embeddings, a ridge-regression form of
    the mapping / distillation loss of cold-start models such as `"Heater"
    <https://arxiv.org/abs/2005.09358>`_ (Zhu et al., SIGIR 2020):

    .. math::
        \mathbf{e}_c = \mathbf{b}_c^\top W + \boldsymbol{\mu}, \qquad
        W = \arg\min_W \sum_{i\,\mathrm{warm}} \lVert \mathbf{b}_i^\top W +
        \boldsymbol{\mu} - \mathbf{e}_i \rVert^2 + \lambda \lVert W \rVert_F^2,

    :math:`\boldsymbol{\mu}` the warm items' mean embedding, :math:`\lambda` =
    :obj:`map_reg`. It is refitted (:meth:`fit_map`) whenever the encoder embeds in eval
    mode, so that cold items always follow the current graph embeddings, and is kept in
    the buffers :obj:`map_weight` (:obj:`[V, dim]`) and :obj:`map_bias` for new text
    (:meth:`embed_text`). Why: mean-pooled word vectors of short texts blur which words an
    item has (a title's words are mostly unique to it, and its year and genres are what
    it shares), and that is what tells a cold item's audience; the bag keeps the words, and
    the closed form needs no tuning of a second training loop. On ml-100k's cold-item
    protocol it beats both the tower and a TF-IDF item k-NN (see
    :obj:`benchmarks/cold_start.py`).

    Args:
        pooled (torch.Tensor): pooled text vectors of every item, :obj:`[I, w]`.
        has_text (torch.Tensor): bool :obj:`[I]`, whether the item has a text.
        cold (torch.Tensor): bool :obj:`[I]`, whether the item has no train interaction.
        word_vectors (torch.Tensor): the word vectors :obj:`[V, w]` that made
            :obj:`pooled`, kept so that a saved model embeds new text (the words are kept
            by the owner, e.g. :class:`gcl.GraphCLRecommender`).
        num_users (int): number of users (rows before the items in layer 0).
        dim (int): embedding size.
        weight (float): weight of the text contrastive loss. (default: :obj:`0.1`)
        rec_weight (float): weight of the cold-start alignment BPR. (default: :obj:`1.0`)
        fuse (str): :obj:`"sum"` or :obj:`"concat"`. (default: :obj:`"sum"`)
        view (str): :obj:`"autoencoder"` or :obj:`"cfm"`. (default: :obj:`"autoencoder"`)
        loss (str): :obj:`"bce"` or :obj:`"infonce"`. (default: :obj:`"bce"`)
        temperature (float): :math:`\tau`. (default: :obj:`0.2`)
        num_neg (int): negatives per item. (default: :obj:`16`)
        batch (int): items per text batch. (default: :obj:`256`)
        hidden (int): tower width. (default: :obj:`128`)
        mask (float): masked fraction of the auto-encoder or of CFM. (default: :obj:`0.3`)
        dropout (float): the tower's dropout. (default: :obj:`0.0`)
        bags (scipy.sparse.csr_matrix, optional): binary bags of words of every item,
            :obj:`[I, V]` (:meth:`gcl.text.WordVectors.bags`), over the same words as
            :obj:`word_vectors`; needed to fit the :obj:`"map"`. (default: :obj:`None`)
        cold_embedding (str): :obj:`"map"` or :obj:`"tower"`, see above.
            (default: :obj:`"map"`)
        map_reg (float): the map's ridge weight :math:`\lambda`. (default: :obj:`10.0`)
        map_max_words (int): the map uses at most this many words, those in most warm
            texts, so that its Gram matrix (at most :obj:`map_max_words` squared) stays
            small on large catalogues. (default: :obj:`4096`)
    """

    def __init__(self, pooled: torch.Tensor, has_text: torch.Tensor, cold: torch.Tensor,
                 word_vectors: torch.Tensor, num_users: int, dim: int, weight: float = 0.1,
                 rec_weight: float = 1.0, fuse: str = "sum", view: str = "autoencoder",
                 loss: str = "bce", temperature: float = 0.2, num_neg: int = 16,
                 batch: int = 256, hidden: int = 128, mask: float = 0.3,
                 dropout: float = 0.0, bags: sp.spmatrix | None = None,
                 cold_embedding: str = "map", map_reg: float = 10.0,
                 map_max_words: int = 4096) -> None:
        super().__init__()
        for name, value, options in (("fuse", fuse, FUSES), ("view", view, VIEWS),
                                     ("loss", loss, LOSSES),
                                     ("cold_embedding", cold_embedding, COLD)):
            if value not in options:
                raise ValueError(f"text_{name} must be one of {options}, got {value!r}")
        if (weight < 0 or rec_weight < 0 or temperature <= 0 or num_neg < 1 or batch < 2
                or map_reg <= 0 or map_max_words < 1):
            raise ValueError("text weights must be >= 0, text_temperature > 0, text_num_neg "
                             ">= 1, text_batch >= 2, text_map_reg > 0 and "
                             "text_map_max_words >= 1")
        if bags is not None and bags.shape != (pooled.shape[0], word_vectors.shape[0]):
            raise ValueError(f"bags must have shape [items, words] = [{pooled.shape[0]}, "
                             f"{word_vectors.shape[0]}], got {bags.shape}")
        self.register_buffer("pooled", pooled.float())
        self.register_buffer("has_text", has_text.bool())
        self.register_buffer("cold", cold.bool())
        self.register_buffer("word_vectors", word_vectors.float())
        self.num_users, self.dim = num_users, dim
        self.weight, self.rec_weight, self.fuse = weight, rec_weight, fuse
        self.view, self.loss_kind, self.temperature = view, loss, temperature
        self.num_neg, self.batch = num_neg, batch
        w = pooled.shape[1]
        self.twin = TwinTower(w, dim, hidden, dropout)
        self.autoencoder = TextAutoEncoder(w, p=mask) if view == "autoencoder" else None
        self.cfm = FeatureMask(mask, mode="correlated") if view == "cfm" else None
        self.mix = nn.Linear(2 * dim, dim) if fuse == "concat" else None
        self.coclick: sp.csr_matrix | None = None
        self.cold_embedding, self.map_reg = cold_embedding, map_reg
        self.map_max_words = map_max_words
        self.bags = None if bags is None else sp.csr_matrix(bags, dtype=np.float32)
        self._solver: tuple | None = None
        self.register_buffer("map_weight", torch.zeros(word_vectors.shape[0], dim))
        self.register_buffer("map_bias", torch.zeros(dim))
        self.register_buffer("map_fitted", torch.tensor(False))

    @property
    def tower(self) -> TextTower:
        return self.twin.tower

    def prepare(self, item_user: sp.spmatrix) -> None:
        """Keeps the train matrix :obj:`[I, U]` with unit-norm rows, for co-click
        similarities."""
        m = sp.csr_matrix(item_user, dtype=np.float32)
        norms = np.sqrt(np.asarray(m.multiply(m).sum(1)).ravel())
        self.coclick = sp.csr_matrix(sp.diags(1 / np.maximum(norms, 1e-12)) @ m)

    # ------------------------------------------------------------------ embeddings
    def text_features(self, pooled: torch.Tensor | None = None,
                      has_text: torch.Tensor | None = None) -> torch.Tensor:
        """Tower output :math:`\\mathbf{t}`, :obj:`[N, dim]`, zero where there is no text."""
        pooled = self.pooled if pooled is None else pooled
        has_text = self.has_text if has_text is None else has_text
        return self.tower(pooled) * has_text.unsqueeze(1).to(pooled.dtype)

    def text_embedding(self, pooled: torch.Tensor | None = None,
                       has_text: torch.Tensor | None = None) -> torch.Tensor:
        """Layer 0 of an item from its text alone (its ID part zero), :obj:`[N, dim]`:
        the embedding of cold items and of new text."""
        t = self.text_features(pooled, has_text)
        if self.mix is None:
            return t
        return self.mix(torch.cat([torch.zeros_like(t), t], 1))

    def x0(self, table: torch.Tensor) -> torch.Tensor:
        """The layer-0 input :obj:`[U+I, dim]` from the ID table (or an encoder's layer 0)."""
        users, items = table[: self.num_users], table[self.num_users:]
        items = items.masked_fill(self.cold.unsqueeze(1), 0)
        t = self.text_features()
        fused = items + t if self.mix is None else self.mix(torch.cat([items, t], 1))
        return torch.cat([users, fused])

    # ------------------------------------------------------------------ the cold-item map
    @torch.no_grad()
    def fit_map(self, items: torch.Tensor) -> None:
        r"""Fits the map from bags of words to :obj:`items`, the final item embeddings
        :obj:`[I, dim]`, on the warm items with at least one known word (see the class
        description); a no-op without :obj:`bags` or such items. Solved in the smaller of
        the primal (words) and dual (items) forms, with the Cholesky factor of its Gram
        matrix kept: the bags and the warm items do not change during a fit, so a refit
        costs two triangular solves."""
        from scipy.linalg import cho_factor, cho_solve

        if self.bags is None:
            return
        if self._solver is None:
            warm = ~self.cold.cpu().numpy() & (np.diff(self.bags.indptr) > 0)
            if not warm.any():
                return
            warm = np.flatnonzero(warm)
            x = self.bags[warm]
            freq = np.diff(x.tocsc().indptr)  # warm texts per word
            rows = np.flatnonzero(freq > 0)
            if len(rows) > self.map_max_words:  # bounds the dense Gram matrix
                rows = np.sort(rows[np.argsort(-freq[rows], kind="stable")[:self.map_max_words]])
            x = x[:, rows].astype(np.float64)
            primal = x.shape[1] <= x.shape[0]
            gram = (x.T @ x if primal else x @ x.T).toarray()
            factor = cho_factor(gram + self.map_reg * np.eye(len(gram)))
            self._solver = (warm, rows, x, primal, factor)
        warm, rows, x, primal, factor = self._solver
        e = items.detach()[torch.as_tensor(warm, device=items.device)].double().cpu().numpy()
        mu = e.mean(0)
        w = cho_solve(factor, x.T @ (e - mu)) if primal else x.T @ cho_solve(factor, e - mu)
        dev = self.map_bias.device
        self.map_weight.zero_()
        self.map_weight[torch.as_tensor(rows, device=dev)] = torch.as_tensor(
            np.asarray(w), dtype=torch.float32, device=dev)
        self.map_bias.copy_(torch.as_tensor(mu, dtype=torch.float32))
        self.map_fitted.fill_(True)

    def embed_text(self, pooled: torch.Tensor, has_text: torch.Tensor,
                   bags: sp.spmatrix | None = None) -> torch.Tensor:
        """The embedding a cold item with this text gets, :obj:`[N, dim]` (zero without
        text): the fitted map of its bag of words with :obj:`cold_embedding="map"` (once
        :meth:`fit_map` has run), else :meth:`text_embedding`."""
        if self.cold_embedding == "tower" or bags is None or not bool(self.map_fitted):
            return self.text_embedding(pooled, has_text)
        x = sp.coo_matrix(bags, dtype=np.float32)
        dev = self.map_weight.device
        xt = torch.sparse_coo_tensor(np.stack([x.row, x.col]), x.data, x.shape, device=dev,
                                     dtype=torch.float32, check_invariants=True)
        emb = torch.sparse.mm(xt, self.map_weight) + self.map_bias
        return emb * has_text.to(dev).unsqueeze(1).to(emb.dtype)

    # ------------------------------------------------------------------ losses
    def _negatives(self, items: np.ndarray, generator: torch.Generator | None) -> torch.Tensor:
        b = len(items)
        sim = torch.zeros(b, b)
        if self.coclick is not None:
            rows = self.coclick[items]
            sim = torch.from_numpy((rows @ rows.T).toarray().astype(np.float32))
        sim = sim + 1e-3 * torch.rand(b, b, generator=generator)  # random among ties
        sim.fill_diagonal_(float("inf"))
        k = min(self.num_neg, b - 1)
        return torch.topk(sim, k, dim=1, largest=False).indices

    def contrastive(self, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """The text contrastive loss (plus the auto-encoder's reconstruction loss)."""
        pool = self.has_text.cpu().nonzero().squeeze(1)
        b = min(self.batch, len(pool))
        items = pool[torch.randperm(len(pool), generator=generator)[:b]]
        x = self.pooled[items.to(self.pooled.device)]
        out: dict[str, torch.Tensor] = {}
        if self.autoencoder is not None:
            aug, out["text_recon"] = self.autoencoder(x, generator)
            x1, x2 = x, aug.detach()
        else:
            v = View(None)  # type: ignore[arg-type]  # FeatureMask only uses the input
            x1 = self.cfm(v, generator).input(x)
            x2 = self.cfm(v, generator).input(x)
        z1, z2 = (F.normalize(z, dim=1) for z in self.twin(x1, x2))
        neg = self._negatives(items.numpy(), generator).to(x.device)
        s_pos = (z1 * z2).sum(1) / self.temperature
        s_neg = (z1.unsqueeze(1) * z2[neg]).sum(2) / self.temperature
        if self.loss_kind == "bce":
            cl = (F.binary_cross_entropy_with_logits(s_pos, torch.ones_like(s_pos))
                  + F.binary_cross_entropy_with_logits(s_neg, torch.zeros_like(s_neg)))
        else:
            logits = torch.cat([s_pos.unsqueeze(1), s_neg], 1)
            cl = F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long,
                                                     device=logits.device))
        out["text_cl"] = cl
        return out

    def loss(self, user_emb: torch.Tensor, users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        r"""The text terms of one batch; :obj:`"text"` is their weighted sum, to add to the
        method's loss."""
        out: dict[str, torch.Tensor] = {}
        total = user_emb.new_zeros(())
        if self.weight > 0:
            parts = self.contrastive(generator)
            out.update(parts)
            total = total + self.weight * sum(parts.values())
        if self.rec_weight > 0:
            u = user_emb[users].detach()
            neg = neg.view(len(users), -1)
            items = torch.cat([pos, neg.reshape(-1)])
            emb = self.text_embedding(self.pooled[items], self.has_text[items])
            e_pos, e_neg = emb[: len(pos)], emb[len(pos):].view(*neg.shape, -1)
            out["text_bpr"] = bpr((u * e_pos).sum(-1), (u.unsqueeze(1) * e_neg).sum(-1))
            total = total + self.rec_weight * out["text_bpr"]
        out["text"] = total
        return out


class TextInput(nn.Module):
    r"""Wraps a graph encoder (:class:`~gcl.nn.LightGCN`, :class:`~gcl.nn.GNNEncoder`) so
    that its layer-0 input is :meth:`TextBranch.x0` of its own, and cold items' final
    embeddings come from their text (an isolated node's propagated layers are zero): their
    text embeddings while training, and in eval mode, with :obj:`cold_embedding="map"`,
    the map of their bags of words refitted to the current warm embeddings.
    Every other attribute is the wrapped encoder's, so methods use it unchanged.

    Args:
        encoder (torch.nn.Module): the encoder, with :obj:`propagate(graph, x)`,
            :obj:`readout(layers)` and an :obj:`embedding` table.
        branch (TextBranch): the text branch.
    """

    def __init__(self, encoder: nn.Module, branch: TextBranch) -> None:
        super().__init__()
        self.inner, self.branch = encoder, branch

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["inner"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "include_input":
            setattr(self.inner, name, value)
        else:
            super().__setattr__(name, value)

    def layer0(self) -> torch.Tensor:
        inner = self.inner
        table = inner.layer0() if hasattr(inner, "layer0") else inner.embedding.weight
        return self.branch.x0(table)

    def propagate(self, graph: Any, x: torch.Tensor | None = None) -> list[torch.Tensor]:
        return self.inner.propagate(graph, self.layer0() if x is None else x)

    def readout(self, layers: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        users, items = self.inner.readout(layers)
        b = self.branch
        if items.shape[1] != b.dim:
            return users, items
        use_map = b.cold_embedding == "map" and not self.training and b.bags is not None
        if use_map:
            b.fit_map(items)
        cold = b.cold
        if cold.any():
            idx = cold.nonzero().squeeze(1)
            if use_map:
                text = b.embed_text(b.pooled[cold], b.has_text[cold], b.bags[idx.cpu().numpy()])
            else:
                text = b.text_embedding(b.pooled[cold], b.has_text[cold])
            items = items.index_put((idx,), text.to(items.dtype))
        return users, items

    def forward(self, graph: Any, x: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.readout(self.propagate(graph, x))
