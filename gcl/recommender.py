"""GraphCLRecommender: the one object most users touch, a facade over the settings
(:mod:`gcl.settings`), the run (:mod:`gcl.runtime`), the methods, the training loop, the
text branch (:mod:`gcl.text_branch`) and the model file (:mod:`gcl.model_file`)."""
from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gcl import fitting, model_file, serving
from gcl.checks import warn_untrained_users
from gcl.data.interactions import Interactions
from gcl.metrics import Scorer, evaluate_scores
from gcl.params import changed_params, checked_params, method_kwargs_of, train_config_of
from gcl.runtime import resolve_device, resolve_threads, reuse_memory, with_threads
from gcl.settings import (
    docstring,
)
from gcl.train import Trainer

__all__ = ["GraphCLRecommender", "resolve_threads"]


class GraphCLRecommender:
    r"""Trains user and item embeddings with a graph (contrastive) method and serves them.

    The constructor takes settings only; data enters through :meth:`fit`. Ids in and out
    are the user's own. Every setting is declared once in :mod:`gcl.settings` (below, with
    its default): the shared ones are named keywords, and a method's own settings
    (e.g. :obj:`eps` of :obj:`"simgcl"`), :obj:`projection_head` and :obj:`moco` (with a
    contrastive method) and the text branch's :obj:`text_*` and :obj:`word_*` (used with
    item text) come as further keywords, each checked against its declaration. Unset, a
    method's setting (and :obj:`layers`, :obj:`reg`) takes the method's own default.
    :meth:`get_params` and :meth:`set_params` read and change them, sklearn-style.
    :obj:`"lightgcn"` with an :obj:`augment` or :obj:`encoder` of your own is the method
    :obj:`"custom"`.

    :meth:`user_embeddings` and :meth:`item_embeddings` are methods, since they copy the
    embeddings out (to numpy on the CPU); :attr:`user_ids` and :attr:`item_ids` are
    properties, since they hand over the id maps as they are. After :meth:`fit`,
    :attr:`method_` is the trained method, :attr:`user_emb_` and :attr:`item_emb_` the served
    embeddings as tensors on the device (:obj:`None` for a graph filter), and :attr:`seen_`
    the train matrix :obj:`[U, I]`.

    Args:
        item_text (pd.Series, optional): item texts indexed by item id, for the text branch;
            data, so also accepted by :meth:`fit`, and never saved or returned by
            :meth:`get_params`. (default: :obj:`None`)
{settings}
    """

    def __init__(self, method: str = "lightgcn", dim: int = 64, layers: int | None = None,
                 reg: float | None = None, lr: float = 1e-3, batch_size: int = 2048,
                 epochs: int = 1000, patience: int | None = 10, eval_every: int = 1,
                 metric: str = "ndcg@20", restore_best: bool = True,
                 backend: str = "torch", device: str = "auto",
                 seed: int = 0, num_threads: int | str = "auto", progress: bool = True,
                 budget_clock: str = "wall", precision: str = "fp32", reuse_memory: bool = False,
                 init: str = "random", init_scale: float = 1.0,
                 item_text: pd.Series | None = None, cl_decay: tuple[float, int] | None = None,
                 **method_kwargs: Any) -> None:
        named = {k: v for k, v in locals().items()
                 if k not in ("self", "item_text", "method_kwargs", "__class__")}
        self._params: dict[str, Any] = {}
        self._configure({**named, **method_kwargs})
        self._item_text = item_text
        self.method_: Any = None
        self.history_: list[dict[str, float]] = []

    # ------------------------------------------------------------------ settings
    def get_params(self, deep: bool = False) -> dict[str, Any]:
        """The settings, sklearn-style: every shared one, and the method's own and extras
        that were given (the rest take their defaults), by constructor keyword.
        :obj:`GraphCLRecommender(**rec.get_params())` makes the same unfitted model.

        Args:
            deep (bool): unused; there are no nested estimators. (default: :obj:`False`)
        """
        return dict(self._params)

    def set_params(self, **params: Any) -> GraphCLRecommender:
        """Changes settings by keyword, checked as the constructor checks them (an unknown
        name, or a bad value, is an error naming it, and changes nothing). A fitted model
        keeps its weights until the next :meth:`fit`. Returns :obj:`self`."""
        self._configure({**self._params, **params})
        return self

    @property
    def params(self) -> dict[str, Any]:
        """The settings, as :meth:`get_params` gives them (a copy: change them with
        :meth:`set_params`)."""
        return self.get_params()

    def _configure(self, values: dict[str, Any]) -> None:
        self._params = checked_params(values)

    def method_kwargs(self) -> dict[str, Any]:
        """The keywords of :func:`gcl.methods.build_method` of these settings."""
        return method_kwargs_of(self._params)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in changed_params(self._params).items())
        return f"GraphCLRecommender({shown})"

    # ------------------------------------------------------------------ training
    @with_threads
    def fit(self, train: Interactions, valid: Interactions | None = None,
            budget_seconds: float | None = None, monitor: Interactions | None = None,
            checkpoint_dir: str | PathLike | None = None, resume: bool = False,
            on_epoch_end: Callable[[list[dict[str, Any]]], bool | None] | None = None,
            item_text: pd.Series | None = None) -> GraphCLRecommender:
        r"""Trains on :obj:`train`; with :obj:`valid`, evaluates every :obj:`eval_every`
        epochs, stops early on :obj:`metric` and keeps the best weights.

        Args:
            train (Interactions): the train log.
            valid (Interactions, optional): a valid log split from the same log. Sequence
                methods rank, after training, with each user's train items followed by their
                valid items. (default: :obj:`None`)
            budget_seconds (float, optional): stop after the epoch that passes this much
                time since training began. (default: :obj:`None`)
            monitor (Interactions, optional): a log (e.g. test) evaluated at the same epochs
                as :obj:`valid` only to record a curve in :attr:`history_` (keys
                :obj:`"test_<metric>"`); never used to choose anything, and its time is not
                counted in the budget. (default: :obj:`None`)
            checkpoint_dir (str or PathLike, optional): a folder where the state at the end
                of every epoch is written, atomically, as :obj:`checkpoint.pt` (see
                :class:`gcl.train.Trainer`). A checkpoint already there is an error unless
                :obj:`resume`. (default: :obj:`None`)
            resume (bool): go on from the checkpoint in :obj:`checkpoint_dir`, which must
                have been written by a fit with the same settings (the free ones, such as
                :obj:`epochs`, may differ) on the same train and valid logs. On CPU the
                result equals that of an uninterrupted fit. (default: :obj:`False`)
            on_epoch_end (callable, optional): called with :attr:`history_` so far after
                every epoch (after its checkpoint); returning :obj:`True` stops training.
                (default: :obj:`None`)
            item_text (pd.Series, optional): one text per item, indexed by the items' own
                ids; replaces the constructor's, which replaces :obj:`train.item_text`.
                With it the method gets a text branch (:class:`gcl.nn.text_tower.TextBranch`,
                built by :func:`gcl.text_branch.build_text_branch`), and items with text but
                no train interaction (cold items, also ids absent from :obj:`train`'s item
                map, appended to it) are embedded from their text alone and can be
                recommended, exported and queried. (default: :obj:`None`)

        Raises:
            FileNotFoundError: :obj:`resume` without a checkpoint in :obj:`checkpoint_dir`.
            FileExistsError: a checkpoint in :obj:`checkpoint_dir` and not :obj:`resume`.
            ValueError: an empty :obj:`train` or :obj:`valid`, logs that do not share id
                maps, a checkpoint of another run, or an unreadable checkpoint file.
            FloatingPointError: a NaN or Inf loss or weights (naming the epoch and batch).

        Warns:
            RuntimeWarning: users of the id map have no train interaction (their vectors
                are never trained); training collapsed (see :class:`gcl.train.Trainer`).
        """
        p = self._params
        if p["reuse_memory"]:
            reuse_memory()
        train, text = fitting.train_with_text(
            train, self._item_text if item_text is None else item_text, p["method"],
            stacklevel=3)
        self.user_ids_, self.item_ids_ = train.user_ids, train.item_ids
        fitting.check_logs(train, valid, monitor, self.check_maps, p, budget_seconds,
                           checkpoint_dir, resume)
        warn_untrained_users(train)
        method, graph, self.text_words_ = fitting.assemble(train, text, p,
                                                           self.method_kwargs())
        self.method_, self.graph_ = method, graph
        self.seen_ = serving.binary(train.to_csr())
        self.valid_seen_ = None if valid is None else self._csr(valid)
        self.history_ = []
        if method.trainable:
            evaluate = None if valid is None else serving.epoch_scorer(
                method, graph, self.valid_seen_, self.seen_, p["metric"])
            monitor_fn = None if monitor is None else serving.epoch_scorer(
                method, graph, self._csr(monitor), self._excluded(with_valid=True),
                p["metric"])
            run_info = model_file.run_fingerprint(p, self.user_ids_, self.item_ids_, valid,
                                                  text)
            trainer = Trainer(method, graph, train, train_config_of(
                p, budget_seconds=budget_seconds), evaluate, monitor_fn,
                checkpoint_dir=checkpoint_dir, on_epoch_end=on_epoch_end, run_info=run_info)
            self.history_ = trainer.fit(resume=resume)
            self.best_epoch_ = trainer.best_epoch
        if valid is not None and method.can("sequences"):
            # A sequence model reads the whole known history when it ranks: the valid items
            # came before the test items (leave-one-out feeds them to the model for test).
            method.set_history(train.concat(valid))
        method.eval()
        self.refresh_embeddings()
        return self

    def embed_items(self, texts: Sequence[Any] | pd.Series) -> np.ndarray:
        r"""Embeddings of (new) items from their text alone, as cold items get them, with
        the word vectors, tower and cold-item map of this fit: no retraining. Rows follow
        :obj:`texts`; a text without a known word gets the zero vector.

        Args:
            texts (sequence of str or pd.Series): one text per item.

        Returns:
            np.ndarray: :obj:`[len(texts), dim]` float32, in the space of
            :meth:`item_embeddings` (score with :meth:`user_embeddings` by dot product).
        """
        from gcl.text_branch import embed_texts

        self.check_fitted()
        if getattr(self, "text_words_", None) is None:
            raise RuntimeError("this model has no text branch: fit it with item_text=...")
        if isinstance(texts, (str, bytes)):
            raise TypeError("texts must be a list of strings, e.g. ['Heat (1995) | Action']")
        return embed_texts(self.method_.text, self.text_words_, list(texts))

    # ------------------------------------------------------------------ inference
    @with_threads
    def evaluate(self, test: Interactions, k: int | Sequence[int] = (10, 20),
                 exclude_valid: bool = True, batch_size: int = 1024) -> dict[str, float]:
        r"""Full-ranking Recall, NDCG, Precision, HitRate and MRR at each :obj:`k` on
        :obj:`test`, with train (and valid, when :obj:`exclude_valid`) items masked out.

        Returns a dict such as :obj:`{"recall@20": ..., "ndcg@20": ..., "users": n}`.
        """
        self.check_fitted()
        self.check_maps(test, "test")
        exclude = self._excluded(with_valid=exclude_valid)
        return evaluate_scores(self._score_fn(), self._csr(test), exclude, k, batch_size,
                               progress=bool(self._params["progress"]))

    def recommend(self, user_ids: Sequence[Hashable], k: int = 10,
                  filter_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        r"""Top-:obj:`k` items for each user.

        Args:
            user_ids (sequence): the users' own ids.
            k (int): list length. (default: :obj:`10`)
            filter_seen (bool): leave out the items each user has in train.
                (default: :obj:`True`)

        Returns:
            (items, scores): arrays of shape :obj:`[len(user_ids), k]`, items in the user's
            own ids. A user with fewer than :obj:`k` unseen items gets :obj:`None` items and
            :obj:`-inf` scores in the free slots.
        """
        self.check_fitted()
        return serving.recommend(self._score_fn(), self.user_ids_, self.item_ids_, user_ids, k,
                                 self.seen_ if filter_seen else None)

    def recommend_for_items(self, item_ids: Sequence[Hashable] | Sequence[Sequence[Hashable]],
                            k: int = 10, filter_seen: bool = True, missing: str = "raise"
                            ) -> tuple[np.ndarray, np.ndarray]:
        r"""Top-:obj:`k` items for new users, never trained on, given by their items
        (fold-in; no retraining).

        A LightGCN-based method (:obj:`"lightgcn"`, :obj:`"sgl-*"`, :obj:`"simgcl"`,
        :obj:`"xsimgcl"`, :obj:`"lightgcl"`, :obj:`"ncl"`, :obj:`"directau"`) defines a
        user's propagated layers by their items, so a new user with items :math:`S` gets
        :math:`|S|^{-1/2} \sum_{i \in S} \mathbf{F}_i`, with :math:`\mathbf{F}` the
        fold-in item matrix of :func:`gcl.foldin.foldin_matrix`. For a trained user with
        the same items this equals the model's own user vector less its layer-0 term
        :math:`\alpha_0 \mathbf{e}_u^{(0)}` (the whole vector for SimGCL and XSimGCL,
        which leave layer 0 out). The graph filters (:obj:`"gf-cf"`, :obj:`"bspm"`) score
        the new user's row of the interaction matrix, exactly as a trained user's;
        :obj:`"pop"` gives everyone the same list.

        Args:
            item_ids (list or list of lists): one user's items in their own ids, or one
                list per user; an item given twice counts once.
            k (int): list length. (default: :obj:`10`)
            filter_seen (bool): leave out the items given. (default: :obj:`True`)
            missing (str): an item the model does not know: :obj:`"raise"` a
                :class:`KeyError` naming it, or :obj:`"skip"` it with a warning.
                (default: :obj:`"raise"`)

        Returns:
            (items, scores): for one user arrays of shape :obj:`[k]`, for a list of lists
            :obj:`[len(item_ids), k]`; items in their own ids, free slots :obj:`None` and
            :obj:`-inf` as in :meth:`recommend`.

        Raises:
            ValueError: a method that cannot fold in a user (sequence methods, a
                GNNEncoder, :obj:`layers=0`), naming it.
        """
        self.check_fitted()
        from gcl.foldin import recommend_for_items

        return recommend_for_items(self, item_ids, k, filter_seen, missing)

    def similar_items(self, item_ids: Sequence[Hashable], k: int = 10
                      ) -> tuple[np.ndarray, np.ndarray]:
        r"""The :obj:`k` items most similar to each given item, by cosine similarity of the
        item embeddings (a graph filter: its scores for a user who has only that item); an
        item is never its own neighbour.

        Args:
            item_ids (sequence): the items' own ids (unknown ids raise a :class:`KeyError`
                naming them).
            k (int): list length, at most :obj:`num_items - 1`. (default: :obj:`10`)

        Returns:
            (items, scores): arrays of shape :obj:`[len(item_ids), k]`, items in their own
            ids, similarities in descending order.
        """
        self.check_fitted()
        return serving.similar_items(self.method_, self.item_emb_, self.item_ids_, item_ids, k)

    def user_embeddings(self) -> np.ndarray:
        """Final user embeddings, :obj:`[num_users, dim]` float32, row i = :obj:`user_ids[i]`."""
        self.check_fitted()
        self._check_embeddings("return")
        return self.user_emb_.float().cpu().numpy()

    def item_embeddings(self) -> np.ndarray:
        """Final item embeddings, :obj:`[num_items, dim]` float32, row i = :obj:`item_ids[i]`."""
        self.check_fitted()
        self._check_embeddings("return")
        return self.item_emb_.float().cpu().numpy()

    @property
    def user_ids(self) -> pd.Index:
        """The users' own ids, in embedding row order."""
        self.check_fitted()
        return self.user_ids_

    @property
    def item_ids(self) -> pd.Index:
        """The items' own ids, in embedding row order."""
        self.check_fitted()
        return self.item_ids_

    # ------------------------------------------------------------------ files
    def save(self, path: str | PathLike) -> None:
        """Saves the fitted model to one file, atomically (see :mod:`gcl.model_file`);
        :meth:`load` reads it back without unpickling."""
        self.check_fitted()
        model_file.save(self, path)

    @classmethod
    def load(cls, path: str | PathLike, device: str = "cpu") -> GraphCLRecommender:
        """Loads a model written by :meth:`save` (by this or an earlier version) onto
        :obj:`device`, without unpickling arbitrary objects."""
        saved = model_file.read(path)
        rec = cls(**{**saved["params"], "device": device})
        model_file.restore(rec, saved, resolve_device(device))
        return rec

    def stored_params(self) -> dict[str, Any]:
        """The settings as a saved model and an export's meta.json hold them."""
        return model_file.stored_params(self._params)

    def export(self, directory: str | PathLike, **kwargs: Any) -> dict[str, str]:
        """Writes embeddings, id maps and the train matrix for a serving system, and with
        :obj:`index="flat"`, :obj:`"hnsw"` or :obj:`"ivf"` a Faiss index that
        :meth:`gcl.RecallIndex.load` reads; see :func:`gcl.export.export` for every
        argument."""
        self.check_fitted()
        self._check_embeddings("export")
        from gcl.export import export
        from gcl.foldin import item_foldin

        return export(self, directory, item_foldin=item_foldin(self), **kwargs)

    # ------------------------------------------------------------------ helpers
    def check_fitted(self) -> None:
        """Raises a :class:`RuntimeError` unless :meth:`fit` (or :meth:`load`) has run."""
        if self.method_ is None:
            raise RuntimeError("this recommender is not fitted yet: call fit(train) first")

    def check_maps(self, inter: Interactions, what: str) -> None:
        """Raises unless :obj:`inter` (named :obj:`what` in the error) is an
        :class:`Interactions` that shares the train log's id maps."""
        serving.check_maps(inter, self.user_ids_, self.item_ids_, what)

    def _check_embeddings(self, what: str) -> None:
        serving.check_embeddings(self.method_, self._params["method"], what)

    def _csr(self, inter: Interactions) -> sp.csr_matrix:
        return serving.over_items(inter, len(self.item_ids_))

    def _excluded(self, with_valid: bool) -> sp.csr_matrix:
        return serving.excluded(self.seen_, self.valid_seen_, with_valid)

    def refresh_embeddings(self) -> None:
        """Recomputes the served :attr:`user_emb_` and :attr:`item_emb_` from
        :attr:`method_`, e.g. after loading other weights into it by hand."""
        self.user_emb_, self.item_emb_ = serving.served_embeddings(self.method_, self.graph_)

    def _score_fn(self) -> Scorer:
        return serving.scorer(self.method_, self.seen_, self.user_emb_, self.item_emb_)


GraphCLRecommender.__doc__ = GraphCLRecommender.__doc__.replace("{settings}", docstring())
