"""``benchmarks/time_to_quality.py``: its tables read the curves and say how each row ran."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import time_to_quality as t2q  # noqa: E402


def _row(curve: list[tuple[float, float]], **extra) -> dict:
    points = [{"cpu_s": s, "recall@20": r, "ndcg@20": r / 2, "epoch": i + 1}
              for i, (s, r) in enumerate(curve)]
    return {"curve": points, "final": points[-1], "fit_cpu_s": points[-1]["cpu_s"],
            "epochs": len(points), "split": "given", "budget_cpu_s": 300, "threads": 1,
            "env": {"commit": "abc1234", "cpu": "x86_64"}, **extra}


def test_seconds_to_a_recall_are_read_off_the_first_point_above_it():
    curve = _row([(100, 0.16), (200, 0.181), (300, 0.19)])["curve"]
    assert t2q.reached(curve, 0.18) == 200
    assert t2q.reached(curve, 0.19) == 300
    assert t2q.reached(curve, 0.195) is None


def test_rows_measured_beside_another_run_are_named_under_their_table():
    rows = {"gf-cf": _row([(82, 0.1849)]),
            "simgcl": _row([(477, 0.136)], beside="reproduce.py on the other core")}
    page = t2q.markdown({"gowalla": rows})
    assert "| simgcl | 0.1360 |" in page and "| gf-cf | 0.1849 |" in page
    note = next(line for line in page.splitlines() if line.startswith("Measured while"))
    assert "`simgcl`" in note and "`gf-cf`" not in note
    assert "reproduce.py on the other core" in note
    assert "Measured while" not in t2q.markdown({"gowalla": {"gf-cf": rows["gf-cf"]}})


def test_a_sequence_methods_curve_ranks_from_the_whole_history_as_evaluate_does():
    import numpy as np
    import pandas as pd

    from gcl import Interactions

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"user": np.repeat(np.arange(40), 8),
                       "item": rng.permuted(np.tile(np.arange(30), (40, 1)), axis=1)[:, :8]
                       .ravel(), "ts": np.tile(np.arange(8), 40)})
    log = Interactions.from_pandas(df, user="user", item="item", timestamp="ts")
    train, test = log.split("leave_one_out", valid=False)
    train, valid = train.split("leave_one_out", valid=False)
    settings = dict(method="seq-cl", dim=8, layers=1, batch_size=16, lr=5e-3)
    record = t2q.run_gcl(settings, train, valid, test, budget=0.0, threads=1)
    # One epoch, so its weights are the best valid epoch's that the final evaluation uses.
    assert record["epochs"] == 1
    point, final = record["curve"][-1], record["final"]
    assert point["recall@20"] == final["recall@20"] and point["ndcg@20"] == final["ndcg@20"]


def test_the_page_names_each_variant_by_what_differs_from_its_methods_defaults():
    assert t2q.variant_of("xsimgcl") is None  # the reference form at the shared settings
    assert t2q.variant_of("gf-cf") is None and t2q.variant_of("recbole-lightgcn") is None
    assert t2q.variant_of("seq-cl") is None  # CL4SRec's own sizes
    assert t2q.variant_of("lightgcn-svd") == "init='svd', init_scale=1.0"
    assert t2q.variant_of("sgl-ed-joint") == "layers=2, negatives='joint'"
    rows = {"xsimgcl": _row([(100, 0.18)]), "lightgcn-svd": _row([(50, 0.17)])}
    rows["xsimgcl"]["env"] = {"commit": "abc1234", "cpu": "AMD EPYC"}
    page = t2q.markdown({"gowalla": rows})
    line = next(x for x in page.splitlines() if x.startswith("Every other gcl contender"))
    assert "`lightgcn-svd` (init='svd', init_scale=1.0)" in line and "`xsimgcl`" not in line
    table = {x.split(" | ")[0]: x for x in page.splitlines() if x.startswith("| ")}
    assert " | AMD EPYC | " in table["| xsimgcl"]  # each row names its CPU
    assert " | x86_64 | " in table["| lightgcn-svd"]
    assert " | 0.0900 | " in table["| xsimgcl"]  # the curve's best NDCG@20
