"""The settings of ``gcl train``: the method hyperparameters that become flags, and run
files in YAML whose keys are the flags' names."""
from __future__ import annotations

import argparse
import inspect
import json
from os import PathLike
from pathlib import Path
from typing import Any

#: Constructor arguments every method shares (they have flags of their own).
_COMMON = {"self", "num_users", "num_items", "dim", "layers", "reg"}
#: Flags that hold display or file options, not settings of the run: kept out of its
#: config.yaml.
NOT_SAVED = {"config", "quiet", "command", "func", "resume", "nproc", "overwrite", "debug"}


def method_hyperparameters() -> dict[str, dict[str, Any]]:
    """Each method-specific hyperparameter, with its default per method that takes it, e.g.
    :obj:`{"eps": {"simgcl": 0.1, "xsimgcl": 0.2}, ...}`, read from the methods'
    constructors so that the flags follow the code."""
    from gcl.methods import METHODS

    out: dict[str, dict[str, Any]] = {}
    for name, cls in METHODS.items():
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.name in _COMMON or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            out.setdefault(p.name, {})[name] = p.default
    return out


def parse_spec(text: str | dict) -> str | dict:
    """An :obj:`--augment` / :obj:`--encoder` value: a dict (from YAML), JSON text of an
    object, or a plain name such as :obj:`"gcn"`."""
    if isinstance(text, dict):
        return text
    text = str(text).strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise argparse.ArgumentTypeError(f"not valid JSON ({e.msg}): {text}") from e
        return value
    return text


def hyperparameter_type(defaults: dict[str, Any]) -> Any:
    """The flag type of a hyperparameter from its defaults: int, float or a spec."""
    kinds = {type(v) for v in defaults.values() if v is not None}
    if kinds == {int}:
        return int
    if kinds and kinds <= {int, float}:
        return float
    return parse_spec


#: What each method hyperparameter is, for the help text.
_MEANING = {
    "augment": 'an augmenter as JSON, e.g. \'{"type": "EdgeDrop", "kwargs": {"p": 0.1}}\'',
    "encoder": "a GNN encoder name (gcn, sage, gat, lgconv) or JSON of its arguments",
    "cl_weight": "weight of the contrastive loss",
    "cl_layer": "layer whose embeddings are contrasted",
    "eps": "radius of the embedding noise",
    "p": "drop ratio of the augmentation",
    "rank": "rank of the SVD view",
    "temperature": "InfoNCE temperature",
    "negatives": "all (the reference) or in-batch",
    "readout": "sum (the reference) or mean of the layers",
    "item_anchors": "pos+neg (the reference) or pos",
    "cl_loss": "nt-xent (the reference) or info-nce",
    "proto_weight": "weight of the prototype contrastive loss",
    "num_clusters": "k-means prototypes per node type",
    "gamma": "weight of the uniformity loss",
}


def add_hyperparameter_flags(parser: argparse.ArgumentParser) -> None:
    """Adds one flag per method-specific hyperparameter (default :obj:`None`: the method's
    own default), with the methods that take it and their defaults in the help."""
    group = parser.add_argument_group(
        "method hyperparameters", "each applies only to the methods named; unset, the "
        "method's own default (shown in brackets) is used")
    for name, defaults in sorted(method_hyperparameters().items()):
        kind = hyperparameter_type(defaults)
        shown = ", ".join(f"{m} [{d}]" if d is not None else m for m, d in defaults.items())
        if name in _MEANING:
            shown = f"{_MEANING[name]}; for {shown}"
        metavar = {int: "INT", float: "FLOAT"}.get(kind, "NAME|JSON")
        group.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind,
                           metavar=metavar, help=shown)


def method_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The method-specific hyperparameters set in :obj:`args`, checked against the method
    chosen: one that does not apply is an error naming the methods it applies to."""
    table = method_hyperparameters()
    given = {k: getattr(args, k) for k in table if getattr(args, k, None) is not None}
    method = args.method.lower()
    if method == "lightgcn" and ({"augment", "encoder"} & set(given)):
        method = "custom"  # as GraphCLRecommender does: a composition of the user's parts
    for key in given:
        if method not in table[key]:
            flag = "--" + key.replace("_", "-")
            raise ValueError(f"{flag} does not apply to --method {args.method}; it applies to "
                             f"{', '.join(sorted(table[key]))}")
    return given


# ---------------------------------------------------------------------------- YAML files
def load_config(path: str | PathLike, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Reads a run file (YAML, with :func:`yaml.safe_load`) whose keys are the names of
    :obj:`parser`'s flags (:obj:`batch_size` or :obj:`batch-size`), and returns its values
    checked and converted to the flags' types.

    Raises:
        ValueError: for an unknown key (naming it), a value of the wrong type, or a file
            that is not a mapping.
    """
    try:
        import yaml
    except ImportError as e:  # pyyaml is a dependency; a broken install still gets a hint
        raise ImportError("reading --config needs pyyaml: pip install pyyaml") from e
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        try:
            raw = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ValueError(f"{path} is not valid YAML: {e}") from e
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path} must hold a mapping of settings (key: value), got "
                         f"{type(raw).__name__}")
    actions = {a.dest: a for a in parser._actions
               if a.dest not in NOT_SAVED and a.dest != "help"}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        dest = str(key).replace("-", "_")
        if dest not in actions:
            raise ValueError(f"unknown key {key!r} in {path}; known keys: "
                             f"{', '.join(sorted(actions))}")
        out[dest] = _convert(actions[dest], value, f"{path}: key {key!r}")
    return out


def _convert(action: argparse.Action, value: Any, where: str) -> Any:
    if value is None:
        return None
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if action.nargs in ("+", "*") or isinstance(action.nargs, int):
        values = value if isinstance(value, list) else [value]
        if not values and action.nargs == "+":
            raise ValueError(f"{where} must hold at least one value")
        if isinstance(action.nargs, int) and len(values) != action.nargs:
            raise ValueError(f"{where} must hold {action.nargs} values, got {value!r}")
        return [_convert_one(action, v, where) for v in values]
    return _convert_one(action, value, where)


def _convert_one(action: argparse.Action, value: Any, where: str) -> Any:
    kind = action.type
    if isinstance(value, (list, dict)) and kind is not parse_spec:
        raise ValueError(f"{where} must be a single value, got {value!r}")
    try:
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            value = int(value)
        elif kind is float:
            if isinstance(value, bool):
                raise ValueError
            value = float(value)
        elif kind is parse_spec:
            value = parse_spec(value)
        elif kind is None or kind is str:
            if isinstance(value, bool):
                raise ValueError
            value = str(value)
        else:
            value = kind(value)
    except (ValueError, TypeError, argparse.ArgumentTypeError) as e:
        name = getattr(kind, "__name__", "text") if kind is not None else "text"
        raise ValueError(f"{where} must be {name}, got {value!r}") from e
    if action.choices is not None and value not in action.choices:
        raise ValueError(f"{where} must be one of {list(action.choices)}, got {value!r}")
    return value


def resolved_config(args: argparse.Namespace) -> dict[str, Any]:
    """The settings of a run as a dict for its :obj:`config.yaml`: every flag of
    :obj:`gcl train` after defaults, the run file and the command line were applied, so
    that :obj:`gcl train --config <run>/config.yaml` repeats the run."""
    return {k: v for k, v in vars(args).items() if k not in NOT_SAVED}


def dump_config(config: dict[str, Any]) -> str:
    """YAML text of a resolved config."""
    import yaml

    return yaml.safe_dump(config, sort_keys=False, default_flow_style=None)
