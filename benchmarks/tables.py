"""Writes the README's results section from the JSON files in benchmarks/results/.

    python benchmarks/tables.py          # rewrite README.md between the results markers
    python benchmarks/tables.py --check  # exit 1 if README.md is out of date
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
START, END = "<!-- results:start -->", "<!-- results:end -->"
ORDER = ["ml-100k", "amazon-beauty", "gowalla"]


#: Files of results/ that are not a dataset's run.py table.
OTHER = {"ablation", "speed", "gpu", "reproduce", "time_to_quality", "step_cost"}


def table(dataset: str, results: dict) -> str:
    first = next(iter(results.values()))
    cmd = f"python benchmarks/run.py --dataset {dataset} --methods {','.join(results)}"
    if first["settings"].get("budget_minutes"):
        cmd += f" --budget-minutes {first['settings']['budget_minutes']:g}"
    # Leave-one-out data is read by HitRate@10 / NDCG@10, as the sequential papers report.
    loo = "leave-one-out" in first["split"]
    extra = " HitRate@10 | NDCG@10 |" if loo else ""
    lines = [f"**{dataset}** ({first['split']}), made by `{cmd}`:", "",
             f"| method | Recall@20 | NDCG@20 |{extra} epochs | s/epoch | total s |",
             "|---|---|---|" + ("---|---|" if loo else "") + "---|---|---|"]
    for name, r in results.items():
        m = r["metrics"]
        cols = f" {m['hit@10']:.4f} | {m['ndcg@10']:.4f} |" if loo else ""
        lines.append(f"| {name} | {m['recall@20']:.4f} | {m['ndcg@20']:.4f} |{cols} "
                     f"{r['epochs']} | {r['seconds_per_epoch']:.2f} | {r['fit_seconds']:.0f} |")
    own = [(name, r) for name, r in results.items() if r["settings"].get("method")]
    if own:
        lines += [""] + [
            f"{name} ran with " + ", ".join(f"`{k}={v!r}`" for k, v in
                                            r["settings"]["method"].items())
            + f": `{r['command']}`." for name, r in own]
    return "\n".join(lines)


def ablation(results: dict) -> str:
    cmds = sorted({r["command"] for r in results.values()})
    lines = ["**Projection head and MoCo ablation**, made by "
             + " and ".join(f"`{c}`" for c in cmds) + ":", "",
             "| dataset | method | variant | Recall@20 | NDCG@20 | HitRate@10 | epochs | "
             "budget min |", "|---|---|---|---|---|---|---|---|"]
    from ablation import rows  # this folder is on sys.path when the script runs

    for r in rows(results):
        m = r["metrics"]
        lines.append(f"| {r['dataset']} | {r['method']} | {r['variant']} | "
                     f"{m['recall@20']:.4f} | {m['ndcg@20']:.4f} | {m['hit@10']:.4f} | "
                     f"{r['epochs']} | {r['settings']['budget_minutes']:g} |")
    return "\n".join(lines)


def section() -> str:
    # speed.json and gpu.json are the speed benchmark's (its tables: benchmarks/speed.py);
    # reproduce.json, time_to_quality.json and step_cost.json are their scripts' own.
    files = sorted((p for p in RESULTS.glob("*.json") if p.stem not in OTHER),
                   key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else 99, p.stem))
    parts = [table(p.stem, json.loads(p.read_text())) for p in files]
    if (RESULTS / "ablation.json").exists():
        parts.append(ablation(json.loads((RESULTS / "ablation.json").read_text())))
    return "\n\n".join([START, *parts, END])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    readme = (ROOT / "README.md").read_text()
    head, rest = readme.split(START)
    _, tail = rest.split(END)
    new = head + section() + tail
    if args.check:
        return 0 if new == readme else 1
    (ROOT / "README.md").write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
