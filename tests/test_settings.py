"""Settings declared once (gcl.settings): every interface that is generated from them
agrees with them, and with the code they describe."""
import inspect
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from gcl import GraphCLRecommender
from gcl.cli import _build
from gcl.cli.config import load_config
from gcl.graph import BACKENDS
from gcl.methods import METHODS
from gcl.methods.filters import SOLVERS
from gcl.metrics import METRICS
from gcl.nn.text_tower import TextBranch
from gcl.settings import (
    BACKEND_NAMES,
    METHOD_NAMES,
    METHOD_SETTINGS,
    METRIC_NAMES,
    SOLVER_NAMES,
    TextSettings,
    TrainSettings,
    all_settings,
    declared,
    shared_settings,
)
from gcl.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_has_a_flag_a_yaml_key_and_a_constructor_keyword(tmp_path):
    parser = _build()[1]
    flags = {s for a in parser._actions for s in a.option_strings}
    dests = {a.dest for a in parser._actions}
    named = inspect.signature(GraphCLRecommender.__init__).parameters
    for name, d in all_settings().items():
        assert f"--{d.flag}" in flags, name
        assert d.key in dests, name
        assert d.help and not d.help.endswith("."), name
        # a keyword of the constructor, by name or checked through **method_kwargs
        assert name in named or "method_kwargs" in named
    for name, p in named.items():
        if name in ("self", "item_text", "method_kwargs"):
            continue
        assert name in shared_settings(), name
        assert p.default == shared_settings()[name].default, name
    # every YAML key is read back as the flag would set it
    (tmp_path / "run.yaml").write_text("".join(
        f"{d.key}: {_yaml(d)}\n" for d in all_settings().values()))
    assert set(load_config(tmp_path / "run.yaml", parser)) == {
        d.key for d in all_settings().values()}


def _yaml(d):
    if d.name == "cl_decay":
        return "[0.5, 2]"
    if d.name in ("augment", "encoder"):
        return "gcn"
    if d.name == "moco":
        return "true"
    if isinstance(d.default, bool):
        return "true"
    return "null" if d.default is None or d.default == "auto" else repr(d.default)


def test_method_help_lists_every_method():
    help_text = " ".join(_build()[1].format_help().split())
    for name in METHODS:
        assert name in help_text.replace("seq- cl", "seq-cl"), name


def test_each_method_declares_its_constructor():
    assert set(METHOD_SETTINGS) == set(METHODS) == set(METHOD_NAMES)
    for name, cls in METHODS.items():
        params = {p.name: p for p in inspect.signature(cls.__init__).parameters.values()
                  if p.name not in ("self", "num_users", "num_items")
                  and p.kind is p.POSITIONAL_OR_KEYWORD}
        own = declared(METHOD_SETTINGS[name])
        for key, p in params.items():
            if p.default is not p.empty:
                assert key in own and own[key].default == p.default, (name, key)
        # the declaration may hold what a method passes on through **kwargs, nothing else
        extra = set(own) - set(params)
        takes_more = any(p.kind is p.VAR_KEYWORD
                         for p in inspect.signature(cls.__init__).parameters.values())
        assert not extra or takes_more, (name, extra)


def test_the_names_the_light_module_keeps_match_the_package():
    assert set(METRIC_NAMES) == set(METRICS)
    assert set(BACKEND_NAMES) == {*BACKENDS, "auto"}
    assert set(SOLVER_NAMES) == set(SOLVERS)


def test_trainer_and_text_branch_take_the_declared_settings():
    config = {f.name for f in fields(TrainConfig)}
    assert set(declared(TrainSettings)) <= config
    branch = inspect.signature(TextBranch.__init__).parameters
    for name, d in declared(TextSettings).items():
        if name.startswith("text_"):
            assert branch[name[len("text_"):]].default == d.default, name


def test_get_and_set_params_round_trip():
    rec = GraphCLRecommender(method="simgcl", dim=32, eps=0.2, projection_head=1)
    params = rec.get_params()
    assert params["eps"] == 0.2 and params["dim"] == 32 and params["method"] == "simgcl"
    assert GraphCLRecommender(**params).get_params() == params
    assert rec.set_params(lr=0.01, temperature=0.3) is rec
    assert rec.get_params()["lr"] == 0.01 and rec.get_params()["temperature"] == 0.3
    with pytest.raises(TypeError, match="unknown setting 'batchsize'; did you mean 'batch_size'"):
        rec.set_params(batchsize=64)
    with pytest.raises(TypeError, match="unknown setting 'nonsense'"):
        rec.set_params(nonsense=0.1)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        rec.set_params(lr=-1.0)
    assert rec.get_params()["lr"] == 0.01  # a refused change leaves the settings as they were
    with pytest.raises(ValueError, match="method 'lightgcn' takes no eps"):
        rec.set_params(method="lightgcn")


def test_repr_shows_what_differs_from_the_defaults():
    assert repr(GraphCLRecommender()) == "GraphCLRecommender()"
    rec = GraphCLRecommender(method="simgcl", dim=32, eps=0.1, cl_weight=0.2)
    assert repr(rec) == "GraphCLRecommender(method='simgcl', dim=32, cl_weight=0.2)"


def test_settings_import_no_torch():
    # read without the package root, which may import more
    done = subprocess.run([sys.executable, "-c", "import importlib.util, sys;"
                           "spec = importlib.util.spec_from_file_location('s', "
                           f"r'{ROOT / 'gcl' / 'settings.py'}'); m = "
                           "importlib.util.module_from_spec(spec); sys.modules['s'] = m; "
                           "spec.loader.exec_module(m); print(sorted({'torch', 'numpy', "
                           "'pandas'} & set(sys.modules)))"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
