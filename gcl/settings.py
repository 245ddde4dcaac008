r"""Every setting of :class:`gcl.GraphCLRecommender`, declared once.

Each setting is a field of a small dataclass: its type (the annotation), its default, its
check and a one-line help. The rest is generated from these declarations: the
recommender's constructor keywords, :meth:`~gcl.GraphCLRecommender.get_params` and
:meth:`~gcl.GraphCLRecommender.set_params`, the settings kept in a saved model, the
fingerprint that a resumed fit must share, and the flags and YAML keys of
``gcl train``. A new setting is one line here.

The groups:

- :class:`ModelSettings`, :class:`TrainSettings`, :class:`RuntimeSettings`: the settings
  every method has (the constructor's named keywords).
- One dataclass per method in :data:`METHOD_SETTINGS` (its constructor's arguments, the
  same names and defaults; :obj:`dim`, :obj:`layers` and :obj:`reg` are the shared ones).
- :class:`ContrastSettings`: parts that compose with every method that has a contrastive
  loss (:func:`gcl.methods.build_method`).
- :class:`TextSettings`: the text branch (:class:`gcl.nn.text_tower.TextBranch`) and its
  word vectors, used when the recommender is fitted with item text.

This module imports nothing heavy (no torch, numpy or pandas), so that ``gcl --help``
starts at once.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: A check: (test of a value, what a good value is, for the error message). The test
#: returns :obj:`True` for a good value, and :obj:`False` or a reason for a bad one.
Check = tuple[Callable[[Any], "bool | str"], str]


class HyperparameterError(ValueError):
    """A setting with a bad value; :attr:`name` is the setting's name.

    Args:
        name (str): the setting.
        message (str): what is wrong, starting with the name.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class UnknownSettingError(HyperparameterError, TypeError):
    """A setting name that nothing declares (a :class:`TypeError`, as Python's own for an
    unknown keyword, and a :class:`HyperparameterError`); the message names it and the
    closest known names.

    Args:
        name (str): the unknown name.
        known (iterable of str): the names that would be accepted.
    """

    def __init__(self, name: str, known: Any) -> None:
        import difflib

        what = "text setting" if name.startswith(("text_", "word_")) else "setting"
        close = difflib.get_close_matches(name, list(known), n=3)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else \
            "; see help(gcl.GraphCLRecommender) for every setting"
        super().__init__(name, f"unknown {what} {name!r}{hint}")


# ---------------------------------------------------------------------------- checks
def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not _is_bool(v)


def _is_bool(v: Any) -> bool:
    return type(v).__name__ in ("bool", "bool_")


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not _is_bool(v) and math.isfinite(v)


def integer(least: int, most: int | None = None) -> Check:
    """Integers in :obj:`least..most` (no upper bound for :obj:`None`)."""
    span = f"an integer >= {least}" if most is None else f"an integer in {least}..{most}"
    return (lambda v: _is_int(v) and v >= least and (most is None or v <= most)), span


def number(low: float, low_open: bool = False, high: float | None = None,
           high_open: bool = False) -> Check:
    """Finite numbers from :obj:`low` to :obj:`high`, each bound open or closed."""
    def ok(v: Any) -> bool:
        if not _is_number(v) or v < low or (low_open and v == low):
            return False
        return high is None or v < high or (not high_open and v == high)

    if high is None:
        span = f"a finite number {'>' if low_open else '>='} {low:g}"
    else:
        span = (f"a number in {'(' if low_open else '['}{low:g}, {high:g}"
                f"{')' if high_open else ']'}")
    return ok, span


def flag() -> Check:
    """:obj:`True` or :obj:`False`."""
    return _is_bool, "True or False"


def one_of(*options: Any) -> Check:
    """One of :obj:`options` (kept as the test's :obj:`options`, for the flags' choices)."""
    def ok(v: Any) -> bool:
        return isinstance(v, str) and v in options

    ok.options = options  # type: ignore[attr-defined]
    return ok, f"one of {list(options)}"


def text() -> Check:
    """A string."""
    return (lambda v: isinstance(v, str)), "a string"


def _init_std(v: Any) -> bool:
    return v == "xavier" or (_is_number(v) and v > 0)


def _cl_decay(v: Any) -> bool:
    return isinstance(v, (tuple, list)) and len(v) == 2 and _is_number(v[0]) \
        and 0 < v[0] < 1 and _is_int(v[1]) and v[1] >= 1


def _threads(v: Any) -> bool:
    return v == "auto" or (_is_int(v) and v >= 1)


def _metric(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    name, _, k = v.partition("@")
    return name in METRIC_NAMES and k.isdigit() and int(k) >= 1


def _moco(v: Any) -> bool | str:
    if v is None or _is_bool(v):
        return True
    if not isinstance(v, Mapping):
        return False
    unknown = sorted(set(map(str, v)) - {"size", "momentum"})
    if unknown:
        return f"unknown moco setting(s) {unknown}; choose from ['momentum', 'size']"
    size, momentum = v.get("size", 1), v.get("momentum", 0.0)
    return _is_int(size) and size >= 1 and _is_number(momentum) and 0 <= momentum < 1


RATE = number(0.0, high=1.0, high_open=True)
NONNEG = number(0.0)
POSITIVE = number(0.0, low_open=True)
#: The metric names of :data:`gcl.metrics.METRICS` (a test keeps them equal).
METRIC_NAMES = ("recall", "ndcg", "precision", "hit", "mrr")
#: The ODE solvers of :data:`gcl.methods.filters.SOLVERS` (a test keeps them equal).
SOLVER_NAMES = ("euler", "midpoint", "rk4")
#: The propagation backends of :data:`gcl.graph.BACKENDS`, and "auto" (a test keeps them
#: equal).
BACKEND_NAMES = ("torch", "scipy", "scatter", "pyg", "auto")


def setting(default: Any, help: str, check: Check | None = None, *, free: bool = False,
            flag: str | None = None) -> Any:
    """A declared setting: a dataclass field with its help and check.

    Args:
        default: the default value; :obj:`None` for an optional setting always passes its
            check.
        help (str): one line on what it does.
        check (tuple, optional): (test, what a good value is), e.g. :func:`integer`.
            (default: :obj:`None`, anything of its type)
        free (bool): whether a resumed fit may change it (it does not change the result of
            a fit, e.g. :obj:`progress`); free settings are left out of the fingerprint.
            (default: :obj:`False`)
        flag (str, optional): the ``gcl train`` flag (without :obj:`--`) and YAML key, when
            they are not the setting's own name. (default: :obj:`None`)
    """
    meta = {"help": help, "check": check, "free": free, "flag": flag}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


# ---------------------------------------------------------------------------- shared
@dataclass
class ModelSettings:
    """What model is trained: the method and the settings every method shares."""

    method: str = setting("lightgcn", "the method, a name in gcl.methods.METHODS")
    dim: int = setting(64, "embedding size", integer(1))
    layers: int | None = setting(None, "propagation layers (default: the method's own)",
                                 integer(0))
    reg: float | None = setting(None, "L2 weight (default: the method's own)", NONNEG)
    init: str = setting("random", "start of a LightGCN-based method's ID table: random, or "
                        "svd, the top singular vectors of the normalised train matrix",
                        one_of("random", "svd"))
    init_scale: float = setting(1.0, "with init svd, the standard deviation of the start's "
                                "entries", POSITIVE)


@dataclass
class TrainSettings:
    """The training loop (:class:`gcl.train.TrainConfig` takes each by its name)."""

    lr: float = setting(1e-3, "Adam learning rate", POSITIVE)
    batch_size: int = setting(2048, "triples per step (per process under torchrun)",
                              integer(1))
    epochs: int = setting(1000, "most epochs", integer(1), free=True)
    patience: int | None = setting(10, "evaluations on valid without improvement before "
                                   "stopping (None: never stop early)",
                                   (integer(1)[0], "an integer >= 1 or None"))
    eval_every: int = setting(1, "epochs between valid evaluations", integer(1))
    metric: str = setting("ndcg@20", "valid metric for early stopping, e.g. ndcg@20",
                          (_metric, f"one of {list(METRIC_NAMES)}, '@' and a cut-off >= 1, "
                           "e.g. 'ndcg@20'"))
    restore_best: bool = setting(True, "end with the weights of the best valid evaluation",
                                 flag())
    seed: int = setting(0, "seed of everything random in fit (and of the split)",
                        integer(0, 2**32 - 1))
    progress: bool = setting(True, "a progress bar per epoch", flag(), free=True)
    budget_clock: str = setting("wall", "the clock of fit's budget_seconds and of the "
                                "history's times: wall, or cpu (the process's CPU seconds, "
                                "all threads)",
                                one_of("wall", "cpu"), free=True)
    cl_decay: tuple[float, int] | None = setting(
        None, "(factor, evaluations): multiply a contrastive method's cl_weight by factor "
        "when valid has not improved for that many evaluations (a variant; the papers keep "
        "the weight fixed)", (_cl_decay, "(factor in (0, 1), evaluations >= 1) or None"))


@dataclass
class RuntimeSettings:
    """Where and how the work runs; none of these changes what a model learns, except
    :obj:`precision`."""

    backend: str = setting("torch", "sparse propagation backend (see gcl.graph.UIGraph)",
                           one_of(*BACKEND_NAMES))
    device: str = setting("auto", "auto (CUDA when present), cpu, cuda or cuda:N", text(),
                          free=True)
    num_threads: int | str = setting(
        "auto", "torch CPU threads while fit and evaluate run (auto: 1 on a machine with one "
        "or two CPUs and no OMP_NUM_THREADS, else torch's choice)",
        (_threads, "an integer >= 1 or 'auto'"), free=True, flag="threads")
    precision: str = setting("fp32", "propagation precision: fp32, or bf16 or fp16 (the "
                             "propagated layers in 2 bytes)", one_of("fp32", "bf16", "fp16"))
    reuse_memory: bool = setting(False, "from fit on, keep freed memory in the process for "
                                 "reuse (glibc's malloc): fewer page faults per step; "
                                 "see benchmarks/results/step_savings.md for what it saves",
                                 flag(), free=True)


#: The settings every method has, in the constructor's order of groups.
SHARED = (ModelSettings, TrainSettings, RuntimeSettings)


# ---------------------------------------------------------------------------- methods
def _dim() -> Any:
    return setting(64, "embedding size", integer(1))


def _layers(default: int, what: str = "propagation layers") -> Any:
    return setting(default, what, integer(0))


def _reg(default: float) -> Any:
    return setting(default, "L2 weight", NONNEG)


def _init_std_field(default: float | str) -> Any:
    return setting(default, "standard deviation of the ID table's start, or xavier",
                   (_init_std, "a finite number > 0 or 'xavier'"))


def _cl_weight(default: float) -> Any:
    return setting(default, "weight of the contrastive loss", NONNEG)


def _temperature(default: float) -> Any:
    return setting(default, "InfoNCE temperature", POSITIVE)


def _cl_anchors() -> Any:
    return setting(None, "contrast at most this many users (and items) of a batch per step, "
                   "a variant for large batches (None: all of them, as the papers)",
                   (integer(2)[0], "an integer >= 2 or None"))


@dataclass
class PopSettings:
    """:obj:`"pop"`: no setting."""


@dataclass
class GFCFSettings:
    """:obj:`"gf-cf"` (:class:`gcl.methods.GFCF`)."""

    alpha: float = setting(0.3, "weight of the ideal low-pass filter", NONNEG)
    rank: int = setting(256, "rank of the SVD (of the ideal filter)", integer(0))


@dataclass
class BSPMSettings:
    """:obj:`"bspm"` (:class:`gcl.methods.BSPM`)."""

    rank: int = setting(448, "rank of the SVD (of the ideal filter)", integer(0))
    idl_beta: float = setting(0.2, "weight of the ideal low-pass filter", NONNEG)
    idl_time: float = setting(1.0, "time of the ideal-filter ODE", NONNEG)
    idl_steps: int = setting(1, "steps of the ideal-filter ODE", integer(1))
    idl_solver: str = setting("euler", "solver of the ideal-filter ODE", one_of(*SOLVER_NAMES))
    blur_time: float = setting(1.0, "time of the blurring ODE", NONNEG)
    blur_steps: int = setting(1, "steps of the blurring ODE", integer(1))
    blur_solver: str = setting("euler", "solver of the blurring ODE", one_of(*SOLVER_NAMES))
    sharpen_time: float = setting(2.5, "time of the sharpening ODE", NONNEG)
    sharpen_steps: int = setting(1, "steps of the sharpening ODE", integer(1))
    sharpen_solver: str = setting("rk4", "solver of the sharpening ODE",
                                  one_of(*SOLVER_NAMES))
    final_sharpening: bool = setting(True, "sharpen the blurred scores at the end", flag())


@dataclass
class LightGCNSettings:
    """:obj:`"lightgcn"` (:class:`gcl.methods.LightGCNMethod`)."""

    dim: int = _dim()
    layers: int = _layers(3)
    reg: float = _reg(1e-4)
    init_std: float | str = _init_std_field(0.1)


@dataclass
class DirectAUSettings(LightGCNSettings):
    """:obj:`"directau"` (:class:`gcl.methods.DirectAU`)."""

    gamma: float = setting(2.0, "weight of the uniformity loss", NONNEG)
    init_std: float | str = _init_std_field("xavier")


@dataclass
class CustomSettings(LightGCNSettings):
    """:obj:`"custom"` (:class:`gcl.methods.GraphCLMethod`): LightGCN with your augmenter or
    encoder."""

    augment: dict | str | None = setting(
        None, 'an augmenter (a gcl.augment Augmenter, or its spec as JSON, e.g. '
        '\'{"type": "EdgeDrop", "kwargs": {"p": 0.1}}\')')
    cl_weight: float = _cl_weight(0.1)
    temperature: float = _temperature(0.2)
    encoder: dict | str | None = setting(
        None, "a GNN encoder name (gcn, sage, gat, lgconv) or JSON of its arguments")
    init_std: float | str = _init_std_field(0.1)
    cl_anchors: int | None = _cl_anchors()


@dataclass
class SGLSettings(LightGCNSettings):
    """:obj:`"sgl-ed"`, :obj:`"sgl-nd"`, :obj:`"sgl-rw"` (:class:`gcl.methods.SGLEdge`, ...)."""

    p: float = setting(0.1, "drop ratio of the augmentation", RATE)
    cl_weight: float = _cl_weight(0.1)
    temperature: float = _temperature(0.2)
    init_std: float | str = _init_std_field("xavier")
    negatives: str = setting("all", "all (the reference), in-batch or joint (SELFRec's form)",
                             one_of("all", "in-batch", "joint"))
    draw: str = setting("exact", "how the augmentation picks what it drops: exact (a fixed "
                        "count, the reference) or bernoulli (each edge or node on its own)",
                        one_of("exact", "bernoulli"))


@dataclass
class SimGCLSettings(LightGCNSettings):
    """:obj:`"simgcl"` (:class:`gcl.methods.SimGCL`)."""

    layers: int = _layers(2)
    eps: float = setting(0.1, "radius of the embedding noise", NONNEG)
    cl_weight: float = _cl_weight(0.5)
    temperature: float = _temperature(0.2)
    init_std: float | str = _init_std_field("xavier")
    cl_anchors: int | None = _cl_anchors()


@dataclass
class XSimGCLSettings(SimGCLSettings):
    """:obj:`"xsimgcl"` (:class:`gcl.methods.XSimGCL`)."""

    eps: float = setting(0.2, "radius of the embedding noise", NONNEG)
    cl_weight: float = _cl_weight(0.2)
    temperature: float = _temperature(0.15)
    cl_layer: int = setting(1, "layer whose embeddings are contrasted", integer(1))
    init_std: float | str = _init_std_field("xavier")


@dataclass
class LightGCLSettings(LightGCNSettings):
    """:obj:`"lightgcl"` (:class:`gcl.methods.LightGCL`)."""

    layers: int = _layers(2)
    reg: float = _reg(1e-7)
    rank: int = setting(5, "rank of the SVD view", integer(1))
    cl_weight: float = _cl_weight(0.2)
    temperature: float = _temperature(0.2)
    init_std: float | str = _init_std_field("xavier")
    readout: str = setting("sum", "sum (the reference) or mean of the layers",
                           one_of("sum", "mean"))
    item_anchors: str = setting("pos+neg", "pos+neg (the reference) or pos",
                                one_of("pos+neg", "pos"))


@dataclass
class NCLSettings(LightGCNSettings):
    """:obj:`"ncl"` (:class:`gcl.methods.NCL`)."""

    cl_weight: float = _cl_weight(1e-7)
    proto_weight: float = setting(8e-8, "weight of the prototype contrastive loss", NONNEG)
    temperature: float = _temperature(0.1)
    hyper_layers: int = setting(1, "layer pairs of the structural contrast", integer(1))
    alpha: float = setting(1.0, "weight of the item side of the structural loss", NONNEG)
    num_clusters: int = setting(1000, "k-means prototypes per node type", integer(1))
    warm_up: int = setting(20, "epochs before the prototype loss starts", integer(0))
    init_std: float | str = _init_std_field("xavier")


@dataclass
class SeqCLSettings:
    """:obj:`"seq-cl"` (:class:`gcl.methods.SeqCL`)."""

    dim: int = _dim()
    layers: int = _layers(2, "transformer layers")
    reg: float = _reg(0.0)
    heads: int = setting(2, "attention heads", integer(1))
    max_len: int = setting(50, "longest sequence read (the latest items)", integer(1))
    dropout: float = setting(0.5, "dropout of the sequence encoder", RATE)
    causal: bool = setting(True, "each position attends to the earlier ones only", flag())
    crop: float = setting(0.6, "kept share of a cropped sequence",
                          number(0.0, low_open=True, high=1.0))
    mask: float = setting(0.3, "masked share of a masked sequence", RATE)
    reorder: float = setting(0.6, "shuffled share of a reordered sequence",
                             number(0.0, high=1.0))
    cl_weight: float = _cl_weight(0.1)
    temperature: float = _temperature(1.0)
    cl_loss: str = setting("nt-xent", "nt-xent (the reference) or info-nce",
                           one_of("nt-xent", "info-nce"))


@dataclass
class SeqGraphCLSettings:
    """:obj:`"seq-cl+graph"` (:class:`gcl.methods.SeqGraphCL`)."""

    dim: int = _dim()
    layers: int = _layers(3)
    reg: float = _reg(0.0)
    seq_layers: int = setting(2, "transformer layers", integer(1))
    cl_weight: float = _cl_weight(0.1)
    temperature: float = _temperature(0.2)
    heads: int = setting(2, "attention heads", integer(1))
    max_len: int = setting(50, "longest sequence read (the latest items)", integer(1))
    dropout: float = setting(0.5, "dropout of the sequence encoder", RATE)
    causal: bool = setting(True, "each position attends to the earlier ones only", flag())


#: The methods' names (as :data:`gcl.methods.METHODS` registers them).
METHOD_NAMES: tuple[str, ...] = ()

#: Each method's settings, by its name in :data:`gcl.methods.METHODS` (a test keeps the
#: names, and each field's name and default, equal to the method's constructor).
METHOD_SETTINGS: dict[str, type] = {
    "pop": PopSettings, "gf-cf": GFCFSettings, "bspm": BSPMSettings,
    "lightgcn": LightGCNSettings, "sgl-ed": SGLSettings, "sgl-nd": SGLSettings,
    "sgl-rw": SGLSettings, "simgcl": SimGCLSettings, "xsimgcl": XSimGCLSettings,
    "lightgcl": LightGCLSettings, "custom": CustomSettings, "seq-cl": SeqCLSettings,
    "seq-cl+graph": SeqGraphCLSettings, "ncl": NCLSettings, "directau": DirectAUSettings,
}
METHOD_NAMES = tuple(METHOD_SETTINGS)


@dataclass
class ContrastSettings:
    """Parts that compose with every method that has a contrastive loss."""

    projection_head: int | None = setting(
        None, "layers of a SimCLR projection head on the contrasted embeddings (0 or None: "
        "none)", integer(0))
    moco: bool | dict | None = setting(
        None, 'a MoCo momentum encoder and queue of negatives: true, or JSON of size and '
        'momentum, e.g. \'{"size": 4096, "momentum": 0.99}\'',
        (_moco, "True, None or a dict of size (an integer >= 1) and momentum (in [0, 1))"))


@dataclass
class TextSettings:
    """The text branch (:class:`gcl.nn.text_tower.TextBranch`, each :obj:`text_X` its
    argument :obj:`X`) and its word vectors (:obj:`word_*`); used with item text only."""

    text_weight: float = setting(0.1, "weight of the text contrastive loss", NONNEG)
    text_rec_weight: float = setting(1.0, "weight of the cold-start alignment BPR", NONNEG)
    text_fuse: str = setting("sum", "how text joins the ID embedding: sum or concat",
                             one_of("sum", "concat"))
    text_view: str = setting("autoencoder", "the text's second view: autoencoder or cfm",
                             one_of("autoencoder", "cfm"))
    text_loss: str = setting("bce", "text contrastive loss: bce or infonce",
                             one_of("bce", "infonce"))
    text_temperature: float = setting(0.2, "temperature of the text loss", POSITIVE)
    text_num_neg: int = setting(16, "negatives per item of the text loss", integer(1))
    text_batch: int = setting(256, "items per text batch", integer(2))
    text_hidden: int = setting(128, "width of the text tower", integer(1))
    text_mask: float = setting(0.3, "masked share of the text's second view", RATE)
    text_dropout: float = setting(0.0, "dropout of the text tower", RATE)
    text_cold_embedding: str = setting(
        "map", "how cold items are embedded: map (a ridge map from their words to the graph "
        "embeddings) or tower", one_of("map", "tower"))
    text_map_reg: float = setting(10.0, "ridge weight of the cold-item map", POSITIVE)
    text_map_max_words: int = setting(4096, "most words the cold-item map uses", integer(1))
    word_vectors: str | None = setting(
        None, "a word-vector file in the word2vec format (default: word2vec trained on the "
        "item texts)", text())
    word_allow_pickle: bool = setting(False, "accept gensim's native format, a pickle that "
                                      "may run code", flag())
    word_dim: int = setting(64, "size of the word2vec vectors trained on the texts",
                            integer(1))
    word_epochs: int = setting(20, "epochs of word2vec", integer(1))
    word_min_count: int = setting(1, "least count of a word that word2vec keeps", integer(1))


#: Settings besides a method's own that the recommender takes as keywords.
EXTRAS = (ContrastSettings, TextSettings)


# ---------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Declared:
    """One declared setting, as the generated interfaces read it.

    Args:
        name (str): the setting (the constructor keyword).
        type (Any): its type, e.g. :obj:`int | None`.
        default (Any): its default.
        help (str): one line on what it does.
        check (tuple, optional): (test, what a good value is).
        free (bool): whether a resumed fit may change it.
        flag (str): the ``gcl train`` flag without :obj:`--`, with :obj:`-` for :obj:`_`;
            its YAML key is the same with :obj:`_`.
        group (type): the dataclass that declares it.
    """

    name: str
    type: Any
    default: Any
    help: str
    check: Check | None
    free: bool
    flag: str
    group: type

    @property
    def optional(self) -> bool:
        """Whether :obj:`None` is a value of this setting (its type includes it)."""
        return self.default is None or type(None) in typing.get_args(self.type)

    @property
    def choices(self) -> tuple | None:
        """The values allowed, where the check is :func:`one_of`."""
        return getattr(self.check[0], "options", None) if self.check else None

    @property
    def key(self) -> str:
        """Its YAML key (and the attribute of the parsed ``gcl train`` arguments)."""
        return self.flag.replace("-", "_")

    def validate(self, value: Any) -> None:
        """Raises a :class:`HyperparameterError` naming this setting unless :obj:`value`
        passes its check (:obj:`None` passes for an :attr:`optional` setting)."""
        if self.check is None or (value is None and self.optional):
            return
        ok, span = self.check
        verdict = ok(value)
        if verdict is not True:
            why = f": {verdict}" if isinstance(verdict, str) else ""
            raise HyperparameterError(self.name, f"{self.name} must be {span}, "
                                      f"got {value!r}{why}")


def declared(group: type) -> dict[str, Declared]:
    """The settings a dataclass declares, by name, in order."""
    hints = typing.get_type_hints(group)
    out = {}
    for f in dataclasses.fields(group):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        meta = f.metadata
        out[f.name] = Declared(f.name, hints[f.name], default, meta.get("help", ""),
                               meta.get("check"), meta.get("free", False),
                               (meta.get("flag") or f.name).replace("_", "-"), group)
    return out


def shared_settings() -> dict[str, Declared]:
    """The settings every method has, by name."""
    return {k: v for group in SHARED for k, v in declared(group).items()}


def extra_settings() -> dict[str, Declared]:
    """The settings of :data:`EXTRAS`, by name."""
    return {k: v for group in EXTRAS for k, v in declared(group).items()}


def method_settings(method: str) -> dict[str, Declared]:
    """The settings of :obj:`method` besides the shared :obj:`dim`, :obj:`layers` and
    :obj:`reg`, by name."""
    return {k: v for k, v in declared(METHOD_SETTINGS[method]).items()
            if k not in ("dim", "layers", "reg")}


def method_specific() -> dict[str, dict[str, Declared]]:
    """Each method-specific setting, with its declaration per method that takes it, e.g.
    :obj:`{"eps": {"simgcl": ..., "xsimgcl": ...}, ...}`."""
    out: dict[str, dict[str, Declared]] = {}
    for method in METHOD_SETTINGS:
        for name, d in method_settings(method).items():
            out.setdefault(name, {})[method] = d
    return out


def all_settings() -> dict[str, Declared]:
    """Every setting the recommender takes, by name: the shared ones, the extras, and
    each method-specific one (as its first method declares it)."""
    out = {**shared_settings(), **extra_settings()}
    for name, per_method in method_specific().items():
        out.setdefault(name, next(iter(per_method.values())))
    return out


def method_of(method: Any, given: Mapping[str, Any]) -> str:
    """The registered name of :obj:`method` (lower case), :obj:`"custom"` for
    :obj:`"lightgcn"` with an :obj:`augment` or :obj:`encoder` of the user's own."""
    if not isinstance(method, str):
        raise HyperparameterError("method", f"method must be a string, got {method!r}")
    key = method.lower()
    if key == "lightgcn" and (given.get("augment") is not None
                              or given.get("encoder") is not None):
        key = "custom"
    if key not in METHOD_SETTINGS:
        raise HyperparameterError("method", f"unknown method {method!r}; choose one of "
                                  f"{sorted(METHOD_SETTINGS)}")
    return key


def check_settings(method: str, values: Mapping[str, Any]) -> None:
    """Checks every setting in :obj:`values` (shared ones, :obj:`method`'s own and the
    extras) against its declaration, and refuses one that :obj:`method` does not take,
    with a :class:`HyperparameterError` naming it.

    Args:
        method (str): a name in :data:`METHOD_SETTINGS`.
        values (Mapping): setting name to value.
    """
    own = method_settings(method)
    known = {**shared_settings(), **extra_settings(), **own}
    for name, value in values.items():
        if name not in known:
            if name in method_specific():
                takes = sorted(declared(METHOD_SETTINGS[method]))
                raise HyperparameterError(name, f"method {method!r} takes no {name}; its "
                                          f"hyperparameters are {takes}")
            raise UnknownSettingError(name, known)
        known[name].validate(value)
    layers, cl_layer = values.get("layers"), values.get("cl_layer")
    if cl_layer is not None and _is_int(layers) and _is_int(cl_layer) and cl_layer > layers:
        raise HyperparameterError("cl_layer", f"cl_layer must be at most layers={layers}, "
                                  f"got {cl_layer!r}")


def check_budget(budget_seconds: float | None) -> None:
    """Checks :obj:`budget_seconds` of a fit: :obj:`None` or a finite number > 0."""
    ok, span = POSITIVE
    if budget_seconds is not None and not ok(budget_seconds):
        raise HyperparameterError("budget_seconds", f"budget_seconds must be {span}, got "
                                  f"{budget_seconds!r}")


def docstring() -> str:
    """The settings as PyG-style argument lines, for the recommender's docstring."""
    import textwrap

    def entry(name: str, d: Declared, default: str) -> str:
        return textwrap.fill(f"{name} ({_type_name(d.type)}): {d.help}. (default: {default})",
                             width=92, initial_indent=" " * 8, subsequent_indent=" " * 12)

    lines = [entry(d.name, d, f":obj:`{d.default!r}`")
             for d in {**shared_settings(), **extra_settings()}.values()]
    for name, per_method in sorted(method_specific().items()):
        d = next(iter(per_method.values()))
        lines.append(entry(name, d, ", ".join(f"{m} :obj:`{x.default!r}`"
                                              for m, x in per_method.items())))
    return "\n".join(lines)


def _type_name(kind: Any) -> str:
    name = getattr(kind, "__name__", None)
    return name if name and "|" not in str(kind) else str(kind).replace("typing.", "")
