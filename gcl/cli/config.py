"""The settings of ``gcl train``: one flag per setting declared in :mod:`gcl.settings`, and
run files in YAML whose keys are the flags' names."""
from __future__ import annotations

import argparse
import json
import typing
from os import PathLike
from pathlib import Path
from typing import Any

from gcl.settings import (
    METHOD_SETTINGS,
    ContrastSettings,
    Declared,
    ModelSettings,
    RuntimeSettings,
    TextSettings,
    TrainSettings,
    all_settings,
    declared,
    method_of,
    method_specific,
)

#: Flags that hold display or file options, not settings of the run: kept out of its
#: config.yaml.
NOT_SAVED = {"config", "quiet", "command", "func", "resume", "nproc", "overwrite", "debug",
             "log_level"}


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


def parse_switch_or_spec(text: str | bool | dict) -> bool | dict:
    """A :obj:`--moco` value: :obj:`true` / :obj:`false`, or JSON of its settings."""
    if isinstance(text, (bool, dict)):
        return text
    word = str(text).strip().lower()
    if word in ("true", "false"):
        return word == "true"
    value = parse_spec(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected true, false or a JSON object, got {text}")
    return value


def parse_number_or_word(text: str) -> float | str:
    """A value that is a number or a word, e.g. :obj:`--init-std 0.1` or :obj:`xavier`."""
    try:
        return float(text)
    except ValueError:
        return str(text)


#: Flag types whose YAML value may be a mapping or a list.
STRUCTURED = (parse_spec, parse_switch_or_spec)


def _flag_type(d: Declared) -> dict[str, Any]:
    """The :meth:`argparse.ArgumentParser.add_argument` keywords of a setting's type."""
    kinds = set(typing.get_args(d.type) or (d.type,)) - {type(None)}
    if kinds == {bool}:
        return {"action": argparse.BooleanOptionalAction}
    if any(typing.get_origin(k) is tuple for k in kinds):
        return {"type": float, "nargs": 2, "metavar": ("FACTOR", "EVALS")}
    if kinds == {int} or kinds == {int, str}:  # the word is "auto": leave the flag unset
        return {"type": int, "metavar": "N"}
    if kinds == {float}:
        return {"type": float, "metavar": "X"}
    if kinds == {float, str}:
        return {"type": parse_number_or_word, "metavar": "X|NAME"}
    if kinds == {bool, dict}:
        return {"type": parse_switch_or_spec, "metavar": "true|JSON"}
    if dict in kinds:
        return {"type": parse_spec, "metavar": "NAME|JSON"}
    if d.choices:
        return {"choices": d.choices}
    return {"metavar": "FILE" if d.name.endswith("vectors") else "NAME"}


def _add(group: argparse._ArgumentGroup, d: Declared, default: Any, help: str,
         long_names: bool = False) -> None:
    kw = _flag_type(d)
    if long_names and kw.get("metavar") in ("N", "X"):
        kw["metavar"] = {"N": "INT", "X": "FLOAT"}[kw["metavar"]]
    if "nargs" not in kw and d.choices is None and isinstance(default, str) \
            and kw.get("type") is int:
        default = None  # e.g. num_threads "auto": unset
    group.add_argument(f"--{d.flag}", dest=d.key, default=default, help=help, **kw)


def add_setting_flags(groups: dict[type, argparse._ArgumentGroup],
                      methods: argparse._ArgumentGroup) -> None:
    """Adds one flag per declared setting: those of each group in :obj:`groups` (keyed by
    its settings dataclass) with their defaults, and every method-specific one to
    :obj:`methods`, unset by default (the method's own default), with the methods that take
    it and their defaults in the help."""
    for cls, group in groups.items():
        for d in declared(cls).values():
            if d.name == "method":
                help = ("one of " + ", ".join(m for m in METHOD_SETTINGS if m != "custom")
                        + ", or custom (lightgcn with --augment or --encoder)")
                group.add_argument("--method", default=d.default, metavar="NAME", help=help)
                continue
            shared = cls in (ModelSettings, TrainSettings, RuntimeSettings)
            help = d.help if shared or d.default is None else f"{d.help} [{d.default}]"
            _add(group, d, d.default if shared else None, help)
    for _, per_method in sorted(method_specific().items()):
        first = next(iter(per_method.values()))
        shown = ", ".join(f"{m} [{d.default}]" if d.default is not None else m
                          for m, d in per_method.items())
        _add(methods, first, None, f"{first.help}; for {shown}", long_names=True)


def method_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The method-specific settings set in :obj:`args`, checked against the method
    chosen: one that does not apply is an error naming the methods it applies to."""
    table = method_specific()
    given = {k: getattr(args, k) for k in table if getattr(args, k, None) is not None}
    method = method_of(args.method, given)
    for key in given:
        if method not in table[key]:
            flag = "--" + key.replace("_", "-")
            raise ValueError(f"{flag} does not apply to --method {args.method}; it applies to "
                             f"{', '.join(sorted(table[key]))}")
    return given


def setting_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords of :class:`gcl.GraphCLRecommender` that :obj:`args` (parsed ``gcl
    train`` flags) set: every shared setting, and the method's, the contrastive parts' and
    the text branch's that were given. The text branch's need :obj:`--item-text`."""
    out: dict[str, Any] = {}
    for cls in (ModelSettings, TrainSettings, RuntimeSettings):
        for d in declared(cls).values():
            value = getattr(args, d.key, None)
            if value is not None or d.optional:
                out[d.name] = value
    if out.get("cl_decay") is not None:
        factor, evals = out["cl_decay"]
        out["cl_decay"] = (factor, int(evals) if float(evals).is_integer() else evals)
    out["progress"] = bool(out.get("progress", True)) and not getattr(args, "quiet", False)
    out.update(method_kwargs(args))
    for cls in (ContrastSettings, TextSettings):
        for d in declared(cls).values():
            value = getattr(args, d.key, None)
            if value is None:
                continue
            if cls is TextSettings and not getattr(args, "item_text", None):
                raise ValueError(f"--{d.flag} needs --item-text")
            out[d.name] = str(Path(value).resolve()) if d.name == "word_vectors" else value
    return out


def flag_of(setting: str) -> str:
    """The ``gcl train`` flag of a setting, e.g. :obj:`"--threads"` for
    :obj:`num_threads`."""
    d = all_settings().get(setting)
    return "--" + (d.flag if d else setting.replace("_", "-"))


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
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction,
                           argparse.BooleanOptionalAction)):
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
    if isinstance(value, (list, dict)) and kind not in STRUCTURED:
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
        elif kind is parse_number_or_word:
            if isinstance(value, bool):
                raise ValueError
            value = value if isinstance(value, (int, float)) else parse_number_or_word(value)
        elif kind in STRUCTURED:
            value = kind(value)
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
