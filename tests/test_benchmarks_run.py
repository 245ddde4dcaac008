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


def test_a_method_at_a_peers_values_takes_that_peers_plain_pair():
    from reproduce import GNN_PAIRS, PAIRS
    from run import peer_settings

    assert peer_settings("sgl-ed") == ("sgl-ed", {})
    gnn_sgl = next(g for p, _, m, g in GNN_PAIRS if p == "SGL")
    assert peer_settings("sgl-ed@recbole-gnn") == ("sgl-ed", gnn_sgl)
    # SELFRec's plain SGL pair, not its SGL@recbole-values variant.
    assert peer_settings("sgl-ed@selfrec") == ("sgl-ed", PAIRS[1][3])
    assert peer_settings("sgl-ed@selfrec")[1]["layers"] == 2
    with pytest.raises(SystemExit, match="unknown peer 'recbole'"):
        peer_settings("sgl-ed@recbole")
    with pytest.raises(SystemExit, match="pairs no selfrec model with 'lightgcl'"):
        peer_settings("lightgcl@selfrec")


def test_a_labelled_row_runs_its_method_with_only_its_own_set_pairs():
    from reproduce import GNN_PAIRS
    from run import peer_settings

    assert peer_settings("simgcl~low-cl") == ("simgcl", {})
    gnn_sgl = next(g for p, _, m, g in GNN_PAIRS if p == "SGL")
    assert peer_settings("sgl-ed@recbole-gnn~t1") == ("sgl-ed", gnn_sgl)
    pairs = ["simgcl~low-cl.cl_weight=0.1", "simgcl.eps=0.2", "seed=3"]
    assert method_overrides(pairs, "simgcl~low-cl") == {"cl_weight": 0.1, "seed": 3}
    assert method_overrides(pairs, "simgcl") == {"eps": 0.2, "seed": 3}
    with pytest.raises(SystemExit, match="needs a label"):
        peer_settings("simgcl~")


def test_a_peer_row_runs_the_method_at_those_values_under_its_own_name(tmp_path):
    import json
    import os

    from run import main

    data = Path(os.environ.get("GCL_DATA_DIR") or Path(__file__).resolve().parents[2]
                / "shared" / "datasets")
    if not (data / "ml-100k" / "u.data").is_file():
        pytest.skip("no shared ml-100k")

    main(["--dataset", "ml-100k", "--methods", "lightgcn@recbole-gnn", "--epochs", "1",
          "--set", "dim=8", "--out", str(tmp_path)])
    row = json.loads((tmp_path / "ml-100k.json").read_text())["lightgcn@recbole-gnn"]
    assert row["method"] == "lightgcn@recbole-gnn" and row["epochs"] == 1
    assert row["settings"]["layers"] == 2 and row["settings"]["reg"] == 1e-5
    assert row["settings"]["method"] == {"init_std": "xavier"}
    assert "| lightgcn@recbole-gnn |" in (tmp_path / "ml-100k.md").read_text()


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


def test_every_layout_of_results_reads_as_keyed_records_with_their_environment(tmp_path):
    import json

    from common import read_records

    env = {"commit": "abc1234", "cpu": "AMD EPYC", "threads": 1, "command": "python x.py"}
    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"lightgcn": {"command": "python benchmarks/run.py",
                                              "env": {"threads": 1, "cpu": "x86_64"}}}))
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"gowalla": {"gf-cf": {"command": "c", "env": env}}}))
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([{"dataset": "ml-100k", "seed": 2, "peer": {"model": "SGL"},
                                 "commit": "abc1234", "cpu": "AMD EPYC", "threads": 1,
                                 "command": "c"}]))
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"meta": {"command": "c", "machine": "Linux",
                                         "torch_threads": 1},
                                "runs": [{"method": "lightgcn", "precision": "bf16"}]}))
    single = tmp_path / "step_cost.json"
    single.write_text(json.dumps({"dataset": "gowalla", "command": "c", "commit": "abc1234"}))

    k = read_records(keyed)["lightgcn"]["env"]
    assert (k["commit"], k["command"], k["threads"]) == (None, "python benchmarks/run.py", 1)
    assert read_records(nested)["gowalla/gf-cf"]["env"] == env
    assert read_records(rows)["ml-100k/SGL/2"]["env"] == env | {"command": "c"}
    assert read_records(meta)["lightgcn/bf16"]["env"] == {
        "commit": None, "cpu": "Linux", "threads": 1, "command": "c"}
    assert read_records(single)["gowalla"]["env"]["commit"] == "abc1234"


def test_environment_records_commit_cpu_threads_and_command():
    from common import command_line, environment

    cmd = command_line("ablation.py", ["--variants", "moco,projection head"])
    assert cmd == "python benchmarks/ablation.py --variants 'moco,projection head'"
    env = environment(1, cmd)
    assert env["command"] == cmd and env["threads"] == 1
    assert env["commit"] and env["cpu"]


def test_the_pipeline_builder_trains_through_the_public_loop():
    import torch
    from common import build_pipeline, train_config

    from gcl.datasets.synthetic import power_law_interactions
    from gcl.train import Trainer

    log = power_law_interactions(20000, seed=0)
    method, graph = build_pipeline(log, "lightgcn", dim=8, layers=2)
    first = [p.detach().clone() for p in method.parameters()]
    again, _ = build_pipeline(log, "lightgcn", dim=8, layers=2)
    assert all(torch.equal(a, b) for a, b in zip(first, again.parameters()))  # seeded
    history = Trainer(method, graph, log, train_config(epochs=1, batch_size=512)).fit()
    assert len(history) == 1 and history[0]["loss"] > 0
    assert not all(torch.equal(a, b) for a, b in zip(first, method.parameters()))


def test_merge_result_turns_a_file_of_an_older_layout_into_keyed_records(tmp_path):
    import json

    from common import merge_result

    path = tmp_path / "reproduce.json"
    old = {"dataset": "ml-100k", "seed": 0, "peer": {"model": "SGL"}, "command": "c"}
    path.write_text(json.dumps([old]))
    new = {**old, "seed": 1}
    assert merge_result(path, "ml-100k/SGL/1", new) == {"ml-100k/SGL/0": old,
                                                         "ml-100k/SGL/1": new}


def test_every_results_record_names_the_command_that_made_it():
    from common import RESULTS, read_records

    # speed.json's speedup_vs_recbole is an older summary of its peer records, no run's own
    summaries = {("speed", "speedup_vs_recbole")}
    files = sorted(RESULTS.rglob("*.json"))
    assert files
    for path in files:
        for key, record in read_records(path).items():
            if (path.stem, key) not in summaries:
                assert record["env"]["command"], f"{path.name}: {key} has no command"


def test_tables_rewrite_only_between_their_markers():
    from tables import render

    page = "intro 0.5\n<!-- t:start -->\nold 0.1\n<!-- t:end -->\nafter\n"
    assert render(page, {"t": lambda: "| new |"}) == \
        "intro 0.5\n<!-- t:start -->\n| new |\n<!-- t:end -->\nafter\n"
    with pytest.raises(ValueError, match="no <!-- missing:start -->"):
        render(page, {"missing": lambda: ""})


def test_provenance_says_when_no_commit_was_recorded():
    from common import provenance

    old = {"env": {"commit": None, "cpu": "x86_64", "threads": 1}}
    new = {"env": {"commit": "abc1234", "cpu": "AMD EPYC", "threads": 1}}
    assert provenance([old]) == "commit not recorded; x86_64; 1 thread(s)"
    assert provenance([old, new]) == \
        "commit abc1234 (not recorded for older rows); x86_64, AMD EPYC; 1 thread(s)"
