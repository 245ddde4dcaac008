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


def table(dataset: str, results: dict) -> str:
    first = next(iter(results.values()))
    cmd = f"python benchmarks/run.py --dataset {dataset} --methods {','.join(results)}"
    if first["settings"].get("budget_minutes"):
        cmd += f" --budget-minutes {first['settings']['budget_minutes']:g}"
    lines = [f"**{dataset}** ({first['split']}), made by `{cmd}`:", "",
             "| method | Recall@20 | NDCG@20 | epochs | s/epoch | total s |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        m = r["metrics"]
        lines.append(f"| {name} | {m['recall@20']:.4f} | {m['ndcg@20']:.4f} | {r['epochs']} | "
                     f"{r['seconds_per_epoch']:.2f} | {r['fit_seconds']:.0f} |")
    return "\n".join(lines)


def section() -> str:
    # speed.json and gpu.json are the speed benchmark's (its tables: benchmarks/speed.py).
    files = sorted((p for p in RESULTS.glob("*.json") if p.stem not in ("speed", "gpu")),
                   key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else 99, p.stem))
    parts = [table(p.stem, json.loads(p.read_text())) for p in files]
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
