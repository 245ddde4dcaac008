"""``benchmarks/run.py``'s ``--set`` pairs: which method they reach and how values parse."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from run import method_overrides  # noqa: E402


def test_set_pairs_reach_all_methods_or_the_named_one():
    pairs = ["cl_weight=0.2", "simgcl.eps=0.05", "sgl-ed.p=0.2", "moco={'size': 1024}",
             "init_std=xavier", "xsimgcl.cl_layer=2"]
    assert method_overrides(pairs, "simgcl") == {
        "cl_weight": 0.2, "eps": 0.05, "moco": {"size": 1024}, "init_std": "xavier"}
    assert method_overrides(pairs, "sgl-ed") == {
        "cl_weight": 0.2, "p": 0.2, "moco": {"size": 1024}, "init_std": "xavier"}
    assert method_overrides(["seq-cl+graph.lr=0.01"], "seq-cl+graph") == {"lr": 0.01}


@pytest.mark.parametrize("pair", ["cl_weight", "=0.2"])
def test_a_pair_without_key_and_value_is_refused(pair):
    with pytest.raises(SystemExit, match="--set takes key=value"):
        method_overrides([pair], "simgcl")


def test_merge_result_keeps_what_another_run_wrote_meanwhile(tmp_path):
    import json

    from run import merge_result

    path = tmp_path / "d.json"
    assert merge_result(path, "lightgcn", {"n": 1}) == {"lightgcn": {"n": 1}}
    path.write_text(json.dumps({**json.loads(path.read_text()), "sgl-ed": {"n": 2}}))
    merged = merge_result(path, "lightgcn", {"n": 3})
    assert merged == {"lightgcn": {"n": 3}, "sgl-ed": {"n": 2}}
    assert json.loads(path.read_text()) == merged
