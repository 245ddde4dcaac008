"""GraphCLRecommender: the one object most users touch."""
from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import warnings
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from gcl import __version__
from gcl.augment.base import Augmenter, from_spec
from gcl.checkpoint import array_digest, check_target
from gcl.checks import check_hyperparameters, check_method_arguments
from gcl.data.interactions import Interactions, ids_to_list
from gcl.graph import UIGraph
from gcl.methods import METHODS, build_method
from gcl.metrics import METRICS, Scorer, dot_scorer, evaluate_scores, topk_scores
from gcl.metrics import evaluate as _evaluate
from gcl.nn.lightgcn import PRECISIONS, set_precision, set_spectral_start
from gcl.train import TrainConfig, Trainer, seed_everything

log = logging.getLogger("gcl")

_FORMAT = "gcl.GraphCLRecommender"

#: Settings of the text branch: constructor keyword -> TextBranch argument (None: used to
#: make the word vectors).
_TEXT_ARGS = {"text_weight": "weight", "text_rec_weight": "rec_weight", "text_fuse": "fuse",
              "text_view": "view", "text_loss": "loss", "text_temperature": "temperature",
              "text_num_neg": "num_neg", "text_batch": "batch", "text_hidden": "hidden",
              "text_mask": "mask", "text_dropout": "dropout",
              "text_cold_embedding": "cold_embedding", "text_map_reg": "map_reg",
              "text_map_max_words": "map_max_words",
              "word_vectors": None, "word_allow_pickle": None,
              "word_dim": None, "word_epochs": None, "word_min_count": None}
_TEXT_PREFIXES = ("text_", "word_")


def resolve_threads(num_threads: int | str) -> int:
    """The number of torch threads that :obj:`num_threads` (an int >= 1 or :obj:`"auto"`,
    see :class:`GraphCLRecommender`) asks for on this machine."""
    if num_threads == "auto":
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cpus = os.cpu_count() or 1
        if os.environ.get("OMP_NUM_THREADS") or cpus > 2:
            return torch.get_num_threads()
        return 1
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be an integer >= 1 or 'auto', got {num_threads!r}")
    return num_threads


@contextlib.contextmanager
def _threads(num_threads: int | str) -> Iterator[None]:
    """torch's CPU thread count set for a block, restored after it."""
    before, wanted = torch.get_num_threads(), resolve_threads(num_threads)
    if wanted != before:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _with_threads(fn: Callable) -> Callable:
    """Runs a method of :class:`GraphCLRecommender` with its :obj:`num_threads`."""
    @functools.wraps(fn)
    def wrapper(self: GraphCLRecommender, *args: Any, **kwargs: Any) -> Any:
        with _threads(self.params.get("num_threads", "auto")):
            return fn(self, *args, **kwargs)
    return wrapper


def _resolve_device(device: str | torch.device) -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class GraphCLRecommender:
    r"""Trains user and item embeddings with a graph (contrastive) method and serves them.

    The constructor takes hyperparameters only; data enters through :meth:`fit`. Ids in and
    out are the user's own.

    Args:
        method (str): a name in :obj:`gcl.methods.METHODS`, e.g. :obj:`"lightgcn"`,
            :obj:`"pop"`. (default: :obj:`"lightgcn"`)
        dim (int): embedding size. (default: :obj:`64`)
        layers (int, optional): propagation layers; :obj:`None` takes the method's own
            default (e.g. 3 for :obj:`"lightgcn"` and :obj:`"sgl-ed"`, 2 for
            :obj:`"simgcl"`, :obj:`"xsimgcl"` and :obj:`"lightgcl"`, as their reference
            code). (default: :obj:`None`)
        reg (float, optional): the method's L2 weight (on the batch's layer-0 embeddings
            for most methods); :obj:`None` takes the method's own default (e.g.
            :obj:`1e-4`, or :obj:`1e-7` on the whole table for :obj:`"lightgcl"`).
            (default: :obj:`None`)
        lr (float): Adam learning rate. (default: :obj:`1e-3`)
        batch_size (int): triples per step (per rank when trained under torchrun, see
            :mod:`gcl.distributed`). (default: :obj:`2048`)
        epochs (int): most epochs. (default: :obj:`1000`)
        patience (int, optional): evaluations on valid without improvement before stopping.
            (default: :obj:`10`)
        eval_every (int): epochs between valid evaluations. (default: :obj:`1`)
        metric (str): valid metric for early stopping. (default: :obj:`"ndcg@20"`)
        restore_best (bool): end :meth:`fit` with the weights of the best valid evaluation.
            (default: :obj:`True`)
        backend (str): propagation backend, see :class:`gcl.graph.UIGraph`.
            (default: :obj:`"torch"`)
        device (str): :obj:`"auto"` (CUDA when present), :obj:`"cpu"`, :obj:`"cuda:0"`, ...
            (default: :obj:`"auto"`)
        seed (int): seed of everything random in :meth:`fit`. (default: :obj:`0`)
        precision (str): propagation precision, :obj:`"fp32"`, :obj:`"bf16"` or
            :obj:`"fp16"` (propagated layers in 2 bytes; see
            :func:`gcl.nn.lightgcn.set_precision`). (default: :obj:`"fp32"`)
        num_threads (int or str): torch CPU threads while :meth:`fit` and :meth:`evaluate`
            run (the previous setting is restored after). :obj:`"auto"` keeps torch's
            setting when :obj:`OMP_NUM_THREADS` is set or the process may use more than two
            CPUs, and takes 1 thread on one or two CPUs: there torch's OpenMP threads
            spin-wait for each other whenever another process holds the other core, which
            makes an epoch many times slower, while one thread loses little (sparse
            propagation is bound by memory). (default: :obj:`"auto"`)
        progress (bool): progress bar per epoch. (default: :obj:`True`)
        init (str): the start of a LightGCN-based method's ID table: :obj:`"random"` (its
            :obj:`init_std`) or :obj:`"svd"`, the spectral start of
            :func:`gcl.nn.lightgcn.set_spectral_start` (the top-:obj:`dim` singular vectors
            of the normalised train matrix, the SVD the graph filters use), so that
            training starts from a low-pass filter's ranking. (default: :obj:`"random"`)
        init_scale (float): with :obj:`init="svd"`, the standard deviation of the start's
            entries; against Adam's step size (:obj:`lr`) it decides whether the start
            survives the first epochs. (default: :obj:`1.0`)
        cl_decay (tuple, optional): :obj:`(factor, evaluations)`: how :meth:`fit` lowers a
            contrastive method's :obj:`cl_weight` when the valid metric stalls (a variant;
            the papers keep the weight fixed); :obj:`None` keeps it fixed (see
            :class:`gcl.train.TrainConfig`). (default: :obj:`None`)
        item_text (pd.Series, optional): item texts indexed by item id, for the text branch;
            data, so also accepted by :meth:`fit`, and never saved. (default: :obj:`None`)
        **method_kwargs: further hyperparameters of the method, and of the text branch
            (used only with item text): :obj:`text_weight` (text contrastive loss,
            :obj:`0.1`), :obj:`text_rec_weight` (cold-start alignment BPR, :obj:`1.0`),
            :obj:`text_fuse` (:obj:`"sum"` or :obj:`"concat"`), :obj:`text_view`
            (:obj:`"autoencoder"` or :obj:`"cfm"`), :obj:`text_loss` (:obj:`"bce"` or
            :obj:`"infonce"`), :obj:`text_temperature`, :obj:`text_num_neg`,
            :obj:`text_batch`, :obj:`text_hidden`, :obj:`text_mask`,
            :obj:`text_cold_embedding` (how cold items are embedded: :obj:`"map"`, a ridge
            map from their words to the graph embeddings, the default, or :obj:`"tower"`),
            :obj:`text_map_reg` (the map's ridge weight, :obj:`10.0`),
            :obj:`text_map_max_words` (:obj:`4096`) (see
            :class:`gcl.nn.text_tower.TextBranch`); :obj:`word_vectors` (a word-vector file,
            see :func:`gcl.text.load_word_vectors`; by default word2vec is trained on the
            item texts), :obj:`word_allow_pickle` (:obj:`False`: a word-vector file in
            gensim's native format, a pickle that may run code, is refused),
            :obj:`word_dim` (:obj:`64`) and :obj:`word_epochs` (:obj:`20`).
    """

    def __init__(self, method: str = "lightgcn", dim: int = 64, layers: int | None = None,
                 reg: float | None = None, lr: float = 1e-3, batch_size: int = 2048,
                 epochs: int = 1000, patience: int | None = 10, eval_every: int = 1,
                 metric: str = "ndcg@20", restore_best: bool = True,
                 backend: str = "torch", device: str = "auto",
                 seed: int = 0, num_threads: int | str = "auto", progress: bool = True,
                 precision: str = "fp32", init: str = "random", init_scale: float = 1.0,
                 item_text: pd.Series | None = None,
                 **method_kwargs: Any) -> None:
        if method.lower() == "lightgcn" and ("augment" in method_kwargs
                                             or "encoder" in method_kwargs):
            method = "custom"  # a composition of the user's parts
        if method.lower() not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {sorted(METHODS)}")
        augment = method_kwargs.get("augment")
        if isinstance(augment, dict):
            method_kwargs["augment"] = from_spec(augment)
        elif augment is not None and not isinstance(augment, Augmenter):
            raise TypeError(f"augment must be a gcl.augment Augmenter, got "
                            f"{type(augment).__name__}")
        self.params = dict(method=method.lower(), dim=dim, layers=layers, reg=reg, lr=lr,
                           batch_size=batch_size, epochs=epochs, patience=patience,
                           eval_every=eval_every, metric=metric, restore_best=restore_best,
                           backend=backend,
                           device=str(device), seed=seed, num_threads=num_threads,
                           progress=progress,
                           **({} if precision == "fp32" else {"precision": precision}),
                           **({} if init == "random" else {"init": init,
                                                           "init_scale": init_scale}),
                           **method_kwargs)
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of "
                             f"{list(PRECISIONS)}")
        check_hyperparameters(self.params)
        check_method_arguments(self.params["method"], METHODS[self.params["method"]],
                               self._method_kwargs())
        resolve_threads(num_threads)  # fails now on a bad value
        if init not in ("random", "svd"):
            raise ValueError(f"init must be 'random' or 'svd', got {init!r}")
        if init == "svd":
            if not METHODS[method.lower()].trainable:
                raise ValueError(f"init='svd' starts a trained embedding method; "
                                 f"{method.lower()!r} is not trained")
            if isinstance(init_scale, bool) or not isinstance(init_scale, (int, float)) \
                    or not 0 < init_scale < float("inf"):
                raise ValueError(f"init_scale must be a finite number > 0, got {init_scale!r}")
        # Fails now, not after loading data, on a bad setting.
        self._train_config()
        self._item_text = item_text
        unknown = set(self._text_params()) - set(_TEXT_ARGS)
        if unknown:
            raise TypeError(f"unknown text setting(s) {sorted(unknown)}; choose from "
                            f"{sorted(_TEXT_ARGS)}")
        self.method_: Any = None
        self.history_: list[dict[str, float]] = []

    # ------------------------------------------------------------------ helpers
    def _train_config(self, **overrides: Any) -> TrainConfig:
        p = {**self.params, **overrides}
        return TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"],
                           eval_every=p["eval_every"], patience=p["patience"],
                           metric=p["metric"], restore_best=p["restore_best"],
                           seed=p["seed"], progress=p["progress"],
                           budget_seconds=p.get("budget_seconds"),
                           **({"cl_decay": p["cl_decay"]} if "cl_decay" in p else {}))

    def _method_kwargs(self) -> dict[str, Any]:
        skip = {"method", "lr", "batch_size", "epochs", "patience", "eval_every", "metric",
                "restore_best", "backend", "device", "seed", "progress", "budget_seconds",
                "cl_decay", "precision", "num_threads", "init", "init_scale"}
        # layers and reg left None: the method's own defaults
        return {k: v for k, v in self.params.items()
                if k not in skip and not k.startswith(_TEXT_PREFIXES)
                and not (k in ("layers", "reg") and v is None)}

    def _text_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if k.startswith(_TEXT_PREFIXES)}

    def _check_fitted(self) -> None:
        if self.method_ is None:
            raise RuntimeError("this recommender is not fitted yet: call fit(train) first")

    def _check_maps(self, inter: Interactions, what: str) -> None:
        if not isinstance(inter, Interactions):
            raise TypeError(f"{what} must be an Interactions, got {type(inter).__name__}")
        n = len(inter.item_ids)  # text-only items are appended to the train item map
        if not (inter.user_ids.equals(self.user_ids_)
                and inter.item_ids.equals(self.item_ids_[:n])):
            raise ValueError(f"{what} does not share the id maps of the train log: split it "
                             "from the same Interactions (or select() from it)")

    def _csr(self, inter: Interactions) -> sp.csr_matrix:
        """:obj:`inter` as a :obj:`[U, I]` matrix over this model's item map."""
        mat = inter.to_csr()
        if mat.shape[1] < len(self.item_ids_):
            mat = sp.csr_matrix((mat.data, mat.indices, mat.indptr),
                                shape=(mat.shape[0], len(self.item_ids_)))
        return mat

    # ------------------------------------------------------------------ training
    @_with_threads
    def fit(self, train: Interactions, valid: Interactions | None = None,
            budget_seconds: float | None = None,
            monitor: Interactions | None = None,
            checkpoint_dir: str | PathLike | None = None, resume: bool = False,
            on_epoch_end: Callable[[list[dict[str, Any]]], bool | None] | None = None,
            item_text: pd.Series | None = None) -> GraphCLRecommender:
        r"""Trains on :obj:`train`; with :obj:`valid`, evaluates every :obj:`eval_every`
        epochs, stops early on :obj:`metric` and keeps the best weights.

        Args:
            train (Interactions): the train log.
            valid (Interactions, optional): a valid log split from the same log. Sequence
                methods (:obj:`"seq-cl"`, :obj:`"seq-cl+graph"`) rank, after training, with
                each user's train items followed by their valid items. (default: :obj:`None`)
            budget_seconds (float, optional): stop after the epoch that passes this much
                time since training began. (default: :obj:`None`)
            monitor (Interactions, optional): a log (e.g. test) evaluated at the same epochs
                as :obj:`valid` only to record a curve in :attr:`history_` (keys
                :obj:`"test_<metric>"`); never used to choose anything, and its time is not
                counted in the budget. (default: :obj:`None`)
            checkpoint_dir (str or PathLike, optional): a folder where the state at the end
                of every epoch is written, atomically, as :obj:`checkpoint.pt` (weights,
                optimiser, random generators, epoch, early stopping, history; see
                :class:`gcl.train.Trainer`). A checkpoint already there is an error unless
                :obj:`resume`. (default: :obj:`None`)
            resume (bool): go on from the checkpoint in :obj:`checkpoint_dir`, which must
                have been written by a fit with the same hyperparameters (:obj:`epochs` may
                differ) on the same train and valid logs. The interrupted epoch is run again
                from its start; on CPU the result equals that of an uninterrupted fit. A
                checkpoint of a finished fit gives its result without training.
                (default: :obj:`False`)
            on_epoch_end (callable, optional): called with :attr:`history_` so far after
                every epoch (after its checkpoint), e.g. to stream a log; returning
                :obj:`True` stops training after that epoch.
                (default: :obj:`None`)
            item_text (pd.Series, optional): one text per item, indexed by the items' own
                ids; replaces the constructor's, which replaces :obj:`train.item_text`
                (:class:`~gcl.data.interactions.Interactions` can carry one). With it the
                method gets a text branch (:class:`gcl.nn.text_tower.TextBranch`): word2vec
                vectors of the texts, mean-pooled per item, go through a twin tower into
                the items' layer-0 features, and a text contrastive loss joins the
                method's. Items with text but no train interaction (cold items), also ids
                absent from :obj:`train`'s item map (appended to it), are embedded from
                their text alone (by default a ridge map from their words to the warm
                items' embeddings) and can be recommended, exported and queried.
                (default: :obj:`None`)

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
        if not isinstance(train, Interactions):
            raise TypeError(f"train must be an Interactions, got {type(train).__name__}")
        check_hyperparameters({"budget_seconds": budget_seconds})
        if len(train) == 0:
            raise ValueError("the train log is empty")
        text = self._item_text if item_text is None else item_text
        if text is None and train.item_text is not None:
            if getattr(METHODS[self.params["method"]], "attach_text", None):
                text = train.item_text
            else:
                warnings.warn(f"the train log carries item text, but method "
                              f"{self.params['method']!r} has no text branch: the text is not "
                              "used", RuntimeWarning, stacklevel=2)
        if text is not None:
            train = self._with_text_items(train, text)
        self.user_ids_, self.item_ids_ = train.user_ids, train.item_ids
        if valid is not None:
            self._check_maps(valid, "valid")
            if len(valid) == 0:
                raise ValueError("the valid log is empty: pass valid=None to train without "
                                 "early stopping")
        if monitor is not None:
            self._check_maps(monitor, "monitor")
        if train.num_items < 2 and METHODS[self.params["method"]].trainable:
            raise ValueError(f"the train log has {train.num_items} item(s): there is nothing "
                             "to rank")
        if valid is not None:
            self._metric_k(train.num_items)
        if checkpoint_dir is not None:  # fail before the work, not after it
            check_target(checkpoint_dir, resume)
        elif resume:
            raise ValueError("resume=True needs the checkpoint_dir to resume from")
        self._warn_untrained_users(train)
        device = _resolve_device(self.params["device"])
        seed_everything(self.params["seed"])
        graph = UIGraph.from_interactions(train, self.params["backend"], device)
        method = build_method(self.params["method"], train.num_users, train.num_items,
                              **self._method_kwargs())
        self.text_words_: list[str] | None = None
        if text is not None:
            method.attach_text(self._text_branch(train, text))
        method = method.to(device)
        set_precision(method, self.params.get("precision", "fp32"), device)
        method.prepare(train, graph)
        if self.params.get("init") == "svd":
            set_spectral_start(method, graph, self.params["init_scale"])
        self.method_, self.graph_ = method, graph
        self.seen_ = self._seen_from(train)
        self.valid_seen_ = None if valid is None else self._csr(valid)
        self.history_ = []
        if method.trainable:
            evaluate = None if valid is None else self._scorer(self.valid_seen_, self.seen_)
            monitor_fn = None
            if monitor is not None:
                monitor_fn = self._scorer(self._csr(monitor), self._excluded(with_valid=True))
            cfg = self._train_config(budget_seconds=budget_seconds)
            trainer = Trainer(method, graph, train, cfg, evaluate, monitor_fn,
                              checkpoint_dir=checkpoint_dir, on_epoch_end=on_epoch_end,
                              run_info=self._run_info(valid, text))
            self.history_ = trainer.fit(resume=resume)
            self.best_epoch_ = trainer.best_epoch
        if valid is not None and hasattr(method, "set_history"):
            # A sequence model reads the whole known history when it ranks: the valid items
            # came before the test items (leave-one-out feeds them to the model for test).
            method.set_history(train.concat(valid))
        method.eval()
        self._refresh_embeddings()
        return self

    def _metric_k(self, num_items: int) -> int:
        """The cut-off of the early-stopping metric, checked before any training: a name of
        :obj:`gcl.metrics.METRICS`, :obj:`@`, and a cut-off the catalogue can fill."""
        metric = self.params["metric"]
        name, _, k = str(metric).partition("@")
        if name not in METRICS or not k.isdigit() or int(k) < 1:
            raise ValueError(f"metric must be one of {list(METRICS)}, '@' and a cut-off >= 1, "
                             f"e.g. 'ndcg@20'; got {metric!r}")
        if int(k) > num_items:
            raise ValueError(f"the early-stopping metric {metric} ranks {k} items, but the "
                             f"catalogue has {num_items}: choose a smaller cut-off, e.g. "
                             f"metric='{name}@{min(10, num_items)}'")
        return int(k)

    def _with_text_items(self, train: Interactions, text: Any) -> Interactions:
        """:obj:`train` with the ids of :obj:`text` missing from its item map appended."""
        from gcl.text import align_text

        if not getattr(METHODS[self.params["method"]], "attach_text", None):
            raise ValueError(f"method {self.params['method']!r} has no text branch: use a "
                             "trainable graph method, e.g. 'lightgcn' or 'simgcl'")
        align_text(text, train.item_ids)  # checks the type and ids
        index = text.index if isinstance(text, pd.Series) else pd.Index(list(text))
        new = index[~index.isin(train.item_ids)]
        if len(new) == 0:
            return train
        return Interactions(train.users, train.items, train.user_ids,
                            train.item_ids.append(pd.Index(new)), train.rating,
                            train.timestamp, train.item_text, train.weights)

    def _text_branch(self, train: Interactions, text: Any) -> Any:
        """The text branch of a fit: word vectors (a file's, or word2vec trained on the
        texts), pooled per item, and a :class:`~gcl.nn.text_tower.TextBranch` over them."""
        from gcl.nn.text_tower import TextBranch
        from gcl.text import align_text, load_word_vectors, train_word2vec

        p = self._text_params()
        texts = align_text(text, train.item_ids)
        if p.get("word_vectors") is not None:
            wv = load_word_vectors(p["word_vectors"],
                                   allow_pickle=bool(p.get("word_allow_pickle", False)))
        else:
            wv = train_word2vec(texts.dropna(), dim=p.get("word_dim", 64),
                                epochs=p.get("word_epochs", 20),
                                min_count=p.get("word_min_count", 1), seed=self.params["seed"])
        pooled, counts = wv.pool(texts)
        cold = torch.from_numpy(train.item_counts() == 0)
        blind = int((cold & (counts == 0)).sum())
        if blind:
            warnings.warn(f"{blind} items have neither train interactions nor a text with a "
                          "known word: their embeddings are zero", RuntimeWarning,
                          stacklevel=3)
        self.text_words_ = wv.words
        kwargs = {_TEXT_ARGS[k]: v for k, v in p.items() if _TEXT_ARGS[k] is not None}
        return TextBranch(pooled, counts > 0, cold, wv.vectors, train.num_users,
                          self.params["dim"], bags=wv.bags(texts), **kwargs)

    def embed_items(self, texts: Sequence[Any] | pd.Series) -> np.ndarray:
        r"""Embeddings of (new) items from their text alone, as cold items get them, with
        the word vectors, tower and cold-item map of this fit (see
        :class:`gcl.nn.text_tower.TextBranch`): no retraining. Rows follow :obj:`texts`; a
        text without a known word gets the zero vector.

        Args:
            texts (sequence of str or pd.Series): one text per item.

        Returns:
            np.ndarray: :obj:`[len(texts), dim]` float32, in the space of
            :meth:`item_embeddings` (score with :meth:`user_embeddings` by dot product).
        """
        self._check_fitted()
        branch = getattr(self.method_, "text", None)
        if branch is None:
            raise RuntimeError("this model has no text branch: fit it with item_text=...")
        if isinstance(texts, (str, bytes)):
            raise TypeError("texts must be a list of strings, e.g. ['Heat (1995) | Action']")
        from gcl.text import WordVectors

        wv = WordVectors(self.text_words_, branch.word_vectors.cpu())
        pooled, counts = wv.pool(list(texts))
        dev = branch.pooled.device
        with torch.no_grad():
            emb = branch.embed_text(pooled.to(dev), (counts > 0).to(dev), wv.bags(list(texts)))
        return emb.float().cpu().numpy()

    @staticmethod
    def _warn_untrained_users(train: Interactions) -> None:
        cold = np.flatnonzero(train.user_counts() == 0)
        if len(cold):
            warnings.warn(
                f"{len(cold)} of {train.num_users} users have no train interaction (e.g. "
                f"{ids_to_list(train.user_ids[cold[:3]])}): their vectors are never trained, "
                "so recommend() and evaluate() rank items for them from random initial "
                "vectors. A temporal split does this to users who first appear after the "
                "cut; leave them out of the log, or use leave_one_out or a random split",
                RuntimeWarning, stacklevel=3)

    def _run_info(self, valid: Interactions | None, text: Any = None) -> dict[str, Any]:
        """What a resumed fit must share with the checkpoint's, besides the trainer's own
        fingerprint: the hyperparameters, the id maps, the valid log and item texts."""
        try:
            params = self._stored_params()
        except TypeError:  # an encoder given as a module: recorded by its repr
            params = {k: repr(v) for k, v in self.params.items()}
        for free in ("epochs", "progress", "device", "budget_seconds", "num_threads"):
            params.pop(free, None)
        ids = repr((ids_to_list(self.user_ids_), ids_to_list(self.item_ids_))).encode()
        info = {"params": params, "ids_sha256": hashlib.sha256(ids).hexdigest(),
                "valid_sha256": None if valid is None else array_digest(valid.users,
                                                                        valid.items)}
        if text is not None:  # the item texts a text branch trains on
            pairs = repr(sorted(dict(text).items(), key=repr)).encode()
            info["text_sha256"] = hashlib.sha256(pairs).hexdigest()
        return info

    def _scorer(self, target: sp.csr_matrix, exclude: sp.csr_matrix):
        method, graph = self.method_, self.graph_
        num_items = target.shape[1]
        ks = sorted({k for k in (10, 20) if k <= num_items} | {self._metric_k(num_items)})

        def score() -> dict[str, float]:
            u, i = method.embeddings(graph)
            return _evaluate(u, i, target, exclude, k=ks)

        return score

    def _excluded(self, with_valid: bool) -> sp.csr_matrix:
        """Items to mask out of a ranking: train, and valid too when :obj:`with_valid`."""
        if not with_valid or self.valid_seen_ is None:
            return self.seen_
        mat = sp.csr_matrix(self.seen_ + self.valid_seen_)
        mat.data[:] = 1
        return mat

    @staticmethod
    def _seen_from(train: Interactions) -> sp.csr_matrix:
        mat = train.to_csr()
        mat.data[:] = 1
        return mat

    def _refresh_embeddings(self) -> None:
        if not self.method_.dot_scores:
            self._user_emb = self._item_emb = None
            return
        with torch.no_grad():
            u, i = self.method_.embeddings(self.graph_)
        self._user_emb, self._item_emb = u.detach(), i.detach()

    def _score_fn(self) -> Scorer:
        """Scores of every item for internal user rows: the embeddings' inner products, or
        a graph filter's scores of the users' train rows."""
        if self.method_.dot_scores:
            return dot_scorer(self._user_emb, self._item_emb)
        method, seen = self.method_, self.seen_
        return lambda rows: method.scores(seen[rows])

    def _check_embeddings(self, what: str) -> None:
        if not self.method_.dot_scores:
            raise ValueError(
                f"method {self.params['method']!r} scores each user from their whole train row "
                f"with a graph filter, not by an inner product of a user and an item vector, "
                f"so it has no embeddings to {what}; serve it with recommend(), or train an "
                f"embedding method (e.g. 'lightgcn' with init='svd', which starts from the "
                f"same spectrum)")

    # ------------------------------------------------------------------ inference
    @_with_threads
    def evaluate(self, test: Interactions, k: int | Sequence[int] = (10, 20),
                 exclude_valid: bool = True, batch_size: int = 1024) -> dict[str, float]:
        r"""Full-ranking Recall, NDCG, Precision, HitRate and MRR at each :obj:`k` on
        :obj:`test`, with train (and valid, when :obj:`exclude_valid`) items masked out.

        Returns a dict such as :obj:`{"recall@20": ..., "ndcg@20": ..., "users": n}`.
        """
        self._check_fitted()
        self._check_maps(test, "test")
        exclude = self._excluded(with_valid=exclude_valid)
        return evaluate_scores(self._score_fn(), self._csr(test), exclude, k, batch_size,
                               progress=bool(self.params.get("progress")))

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
        self._check_fitted()
        if isinstance(user_ids, (str, bytes)) or not isinstance(user_ids, Iterable):
            raise TypeError("user_ids must be a list of ids, e.g. ['196', '186']")
        users = Interactions._lookup(self.user_ids_, list(user_ids), "user")
        idx, scores = topk_scores(self._score_fn(), len(self.item_ids_), users, k,
                                  self.seen_ if filter_seen else None)
        idx, scores = idx.cpu().numpy(), scores.cpu().numpy()
        items = np.asarray(self.item_ids_, dtype=object)[idx]
        items[~np.isfinite(scores)] = None
        if self.item_ids_.dtype != object and np.isfinite(scores).all():
            items = np.asarray(self.item_ids_)[idx]
        return items, scores

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
        self._check_fitted()
        from gcl.foldin import recommend_for_items

        return recommend_for_items(self, item_ids, k, filter_seen, missing)

    def similar_items(self, item_ids: Sequence[Hashable], k: int = 10
                      ) -> tuple[np.ndarray, np.ndarray]:
        r"""The :obj:`k` items most similar to each given item, by cosine similarity of the
        item embeddings; an item is never its own neighbour.

        Args:
            item_ids (sequence): the items' own ids.
            k (int): list length, at most :obj:`num_items - 1`. (default: :obj:`10`)

        Returns:
            (items, scores): arrays of shape :obj:`[len(item_ids), k]`, items in their own
            ids, cosine similarities in descending order.
        """
        self._check_fitted()
        if isinstance(item_ids, (str, bytes)) or not isinstance(item_ids, Iterable):
            raise TypeError("item_ids must be a list of ids, e.g. ['242', '302']")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an int, got {type(k).__name__}")
        if not 1 <= k <= len(self.item_ids_) - 1:
            raise ValueError(f"k must be in 1..num_items-1={len(self.item_ids_) - 1}, got {k}")
        if self.method_.dot_scores:
            queries, rows = self._item_query_vectors(list(item_ids))
            items = torch.nn.functional.normalize(self._item_emb.float(), dim=1)
            queries = torch.nn.functional.normalize(queries.float(), dim=1)
            scores = queries @ items.T
        else:  # the filter's scores for a user who has only this item
            rows = Interactions._lookup(self.item_ids_, list(item_ids), "item")
            n = len(self.item_ids_)
            one_hot = sp.csr_matrix((np.ones(len(rows)), (np.arange(len(rows)), rows)),
                                    shape=(len(rows), n))
            scores = self.method_.scores(one_hot)
        known = np.flatnonzero(rows >= 0)
        scores[torch.as_tensor(known), torch.as_tensor(rows[known])] = -torch.inf
        top, idx = torch.topk(scores, k, dim=1)
        return np.asarray(self.item_ids_)[idx.cpu().numpy()], top.cpu().numpy()

    def _item_query_vectors(self, item_ids: list) -> tuple[torch.Tensor, np.ndarray]:
        """Query vectors of :meth:`similar_items`, :obj:`[B, dim]`, and each item's row
        (:obj:`-1` for an item outside the train catalogue, which is not excluded from its
        own list). Known items only, for now: unknown ids raise a :class:`KeyError` naming
        them. This is the hook for cold-start items, whose vectors a text branch would make
        from their text."""
        rows = Interactions._lookup(self.item_ids_, item_ids, "item")
        return self._item_emb[torch.as_tensor(rows, device=self._item_emb.device)], rows

    def user_embeddings(self) -> np.ndarray:
        """Final user embeddings, :obj:`[num_users, dim]` float32, row i = :obj:`user_ids_[i]`."""
        self._check_fitted()
        self._check_embeddings("return")
        return self._user_emb.float().cpu().numpy()

    def item_embeddings(self) -> np.ndarray:
        """Final item embeddings, :obj:`[num_items, dim]` float32, row i = :obj:`item_ids_[i]`."""
        self._check_fitted()
        self._check_embeddings("return")
        return self._item_emb.float().cpu().numpy()

    @property
    def user_ids(self) -> pd.Index:
        """The users' own ids, in embedding row order."""
        self._check_fitted()
        return self.user_ids_

    @property
    def item_ids(self) -> pd.Index:
        """The items' own ids, in embedding row order."""
        self._check_fitted()
        return self.item_ids_

    # ------------------------------------------------------------------ persistence
    def _stored_params(self) -> dict[str, Any]:
        params = dict(self.params)
        if isinstance(params.get("augment"), Augmenter):
            params["augment"] = params["augment"].spec()
        enc = params.get("encoder")
        if enc is not None and not isinstance(enc, (str, dict)):
            raise TypeError("a model with an encoder given as a module or callable cannot be "
                            "saved by parameters: pass encoder as a name or dict of GNNEncoder "
                            "arguments, or save rec.method_.state_dict() yourself")
        return params

    def _state(self) -> dict[str, Any]:
        seen = sp.coo_matrix(self.seen_)
        state = {
            "format": _FORMAT, "gcl_version": __version__, "params": self._stored_params(),
            "user_ids": ids_to_list(self.user_ids_), "item_ids": ids_to_list(self.item_ids_),
            "state_dict": {k: v.cpu() for k, v in self.method_.state_dict().items()},
            "user_emb": None if self._user_emb is None else self._user_emb.cpu(),
            "item_emb": None if self._item_emb is None else self._item_emb.cpu(),
            "seen": torch.from_numpy(np.stack([seen.row, seen.col]).astype(np.int64)),
            "history": [dict(h) for h in self.history_],
        }
        if getattr(self, "text_words_", None) is not None:
            state["text_words"] = list(self.text_words_)
        graph = getattr(self, "graph_", None)
        if graph is not None and graph.weights is not None:  # fold-in needs the edge weights
            w = sp.csr_matrix((graph.weights, (graph.users, graph.items)), shape=seen.shape)
            w.sort_indices()
            state["seen_weights"] = torch.from_numpy(w.tocoo().data.astype(np.float64))
        elif graph is None and getattr(self, "seen_weights_", None) is not None:
            state["seen_weights"] = torch.from_numpy(self.seen_weights_)
        if self.valid_seen_ is not None:
            v = sp.coo_matrix(self.valid_seen_)
            state["valid_seen"] = torch.from_numpy(np.stack([v.row, v.col]).astype(np.int64))
        return state

    def save(self, path: str | PathLike) -> None:
        """Saves the fitted model to one file, atomically (a crash never leaves a half-written
        file under :obj:`path`). Loading needs no pickle: :meth:`load` uses
        :obj:`torch.load(weights_only=True)`."""
        self._check_fitted()
        from gcl.export import atomic_write

        with atomic_write(path) as f:
            torch.save(self._state(), f)

    @classmethod
    def load(cls, path: str | PathLike, device: str = "cpu") -> GraphCLRecommender:
        """Loads a model written by :meth:`save` without unpickling arbitrary objects."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises several types for corrupt or unsafe files
            raise ValueError(f"{os.fspath(path)!r} is not a readable gcl model file: {e}") from e
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{os.fspath(path)!r} is not a gcl model file")
        params = dict(state["params"])
        params["device"] = device
        rec = cls(**params)
        rec.user_ids_, rec.item_ids_ = pd.Index(state["user_ids"]), pd.Index(state["item_ids"])
        n_u, n_i = len(rec.user_ids_), len(rec.item_ids_)
        if state["user_emb"] is not None and (state["user_emb"].shape[0] != n_u
                                              or state["item_emb"].shape[0] != n_i):
            raise ValueError("the embeddings in the file do not match its id maps")
        dev = _resolve_device(device)
        rec.method_ = build_method(params["method"], n_u, n_i, **rec._method_kwargs())
        rec.text_words_ = state.get("text_words")
        if rec.text_words_ is not None:
            rec.method_.attach_text(rec._text_skeleton(state["state_dict"], n_u))
        rec.method_.load_state_dict(state["state_dict"])
        rec.method_.to(dev).eval()
        if (state["user_emb"] is None) == rec.method_.dot_scores:
            raise ValueError("the model file's embeddings do not fit its method")
        rec._user_emb = rec._item_emb = None
        if rec.method_.dot_scores:
            rec._user_emb, rec._item_emb = state["user_emb"].to(dev), state["item_emb"].to(dev)

        def csr(pairs: torch.Tensor) -> sp.csr_matrix:
            r, c = pairs.numpy()
            return sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n_u, n_i))

        rec.seen_ = csr(state["seen"])
        rec.valid_seen_ = csr(state["valid_seen"]) if "valid_seen" in state else None
        if not rec.method_.dot_scores:
            rec.method_.serve(rec.seen_)
        rec.history_ = list(state["history"])
        rec.seen_weights_ = state["seen_weights"].numpy() if "seen_weights" in state else None
        rec.graph_ = None
        return rec

    def _text_skeleton(self, weights: dict[str, torch.Tensor], num_users: int) -> Any:
        """A text branch shaped like the one in :obj:`weights`, to load them into."""
        from gcl.nn.text_tower import TextBranch

        key = "encoder.branch."
        if key + "pooled" not in weights:
            raise ValueError("the model file names text words but holds no text branch")
        pooled, vectors = weights[key + "pooled"], weights[key + "word_vectors"]
        if vectors.shape[0] != len(self.text_words_):
            raise ValueError("the model file's text words do not match its word vectors")
        for name, value in (("map_weight", torch.zeros(vectors.shape[0], self.params["dim"])),
                            ("map_bias", torch.zeros(self.params["dim"])),
                            ("map_fitted", torch.tensor(False))):
            weights.setdefault(key + name, value)  # files from before the cold-item map
        kwargs = {_TEXT_ARGS[k]: v for k, v in self._text_params().items()
                  if _TEXT_ARGS[k] is not None}
        n = pooled.shape[0]
        return TextBranch(torch.zeros_like(pooled), torch.zeros(n, dtype=torch.bool),
                          torch.zeros(n, dtype=torch.bool), torch.zeros_like(vectors),
                          num_users, self.params["dim"], **kwargs)

    def export(self, directory: str | PathLike, **kwargs: Any) -> dict[str, str]:
        """Writes embeddings, id maps and the train matrix for a serving system, and with
        :obj:`index="flat"`, :obj:`"hnsw"` or :obj:`"ivf"` a Faiss index that
        :meth:`gcl.RecallIndex.load` reads; see :func:`gcl.export.export` for every
        argument (:obj:`metrics`, :obj:`dataset`, :obj:`index`, :obj:`index_options`,
        :obj:`hetero`)."""
        self._check_fitted()
        self._check_embeddings("export")
        from gcl.export import export
        from gcl.foldin import item_foldin

        return export(self, directory, item_foldin=item_foldin(self), **kwargs)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params.items()
                          if k in ("method", "dim", "layers", "lr", "batch_size"))
        return f"GraphCLRecommender({shown})"
