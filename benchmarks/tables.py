"""Writes the results tables of ``benchmarks/README.md`` (and the short summary of the top
README) from the results files in ``benchmarks/results/``.

    python benchmarks/tables.py          # rewrite every generated block
    python benchmarks/tables.py --check  # exit 1 if a README is out of date

A generated block sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; everything
outside the markers is written by hand and kept. Every table names the command that made its
rows and the commit, CPU and thread count its records hold (``commit not recorded`` for
records written before the results held one).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from common import BENCH_README, README, RESULTS, provenance, read_records

ORDER = ["ml-100k", "amazon-beauty", "gowalla"]
#: The JSON files directly in results/ that are not a dataset's ``run.py`` table.
OTHER = {"ablation", "speed", "gpu", "reproduce", "time_to_quality", "step_cost", "step_savings",
         "product_cost", "gather_cost"}


# ---------------------------------------------------------------------------- quality
def quality_table(dataset: str, results: dict) -> str:
    """One dataset's ``run.py`` table."""
    first = next(iter(results.values()))
    cmd = f"python benchmarks/run.py --dataset {dataset} --methods {','.join(results)}"
    if first["settings"].get("budget_minutes"):
        cmd += f" --budget-minutes {first['settings']['budget_minutes']:g}"
    # Leave-one-out data is read by HitRate@10 / NDCG@10, as the sequential papers report.
    loo = "leave-one-out" in first["split"]
    extra = " HitRate@10 | NDCG@10 |" if loo else ""
    lines = [f"**{dataset}** ({first['split']}), made by `{cmd}` "
             f"({provenance(list(results.values()))}):", "",
             f"| method | Recall@20 | NDCG@20 |{extra} epochs | s/epoch | total s | layers "
             "| commit |",
             "|---|---|---|" + ("---|---|" if loo else "") + "---|---|---|---|---|"]
    for name, r in results.items():
        m = r["metrics"]
        cols = f" {m['hit@10']:.4f} | {m['ndcg@10']:.4f} |" if loo else ""
        s = r["settings"]
        layers = s.get("layers", s.get("defaults", {}).get("layers", "-")) if r["epochs"] else "-"
        commit = r.get("env", {}).get("commit") or "not recorded"
        lines.append(f"| {name} | {m['recall@20']:.4f} | {m['ndcg@20']:.4f} |{cols} "
                     f"{r['epochs']} | {r['seconds_per_epoch']:.2f} | {r['fit_seconds']:.0f} | "
                     f"{layers} | {commit} |")
    own = [(name, r) for name, r in results.items() if r["settings"].get("method")]
    if own:
        lines += [""] + [
            f"{name} ran with " + ", ".join(f"`{k}={v!r}`" for k, v in
                                            r["settings"]["method"].items())
            + f": `{r['command']}`." for name, r in own]
    return "\n".join(lines)


def ablation_table(results: dict) -> str:
    from ablation import rows

    cmds = sorted({r["command"] for r in results.values()})
    lines = ["**Projection head and MoCo ablation**, made by "
             + " and ".join(f"`{c}`" for c in cmds)
             + f" ({provenance(list(results.values()))}):", "",
             "| dataset | method | variant | Recall@20 | NDCG@20 | HitRate@10 | epochs | "
             "budget min |", "|---|---|---|---|---|---|---|---|"]
    for r in rows(results):
        m = r["metrics"]
        lines.append(f"| {r['dataset']} | {r['method']} | {r['variant']} | "
                     f"{m['recall@20']:.4f} | {m['ndcg@20']:.4f} | {m['hit@10']:.4f} | "
                     f"{r['epochs']} | {r['settings']['budget_minutes']:g} |")
    return "\n".join(lines)


def quality_files() -> list[Path]:
    return sorted((p for p in RESULTS.glob("*.json") if p.stem not in OTHER),
                  key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else 99, p.stem))


def quality_block() -> str:
    parts = [quality_table(p.stem, read_records(p)) for p in quality_files()]
    if (RESULTS / "ablation.json").exists():
        parts.append(ablation_table(read_records(RESULTS / "ablation.json")))
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------- the others
def time_to_quality_block() -> str:
    from time_to_quality import markdown

    results = json.loads((RESULTS / "time_to_quality.json").read_text())
    return markdown(results).split("\n", 2)[2].strip()  # without the page's title


def speed_block() -> str:
    from speed_tables import readme_block

    return readme_block(json.loads((RESULTS / "speed.json").read_text())).strip()


def cold_start_block() -> str:
    r = next(iter(read_records(RESULTS / "cold_start" / "ml-100k.json").values()))
    lines = [f"Made by `{r['command']}` ({provenance([r])}); page: "
             "[results/cold_start.md](results/cold_start.md).", "",
             "| cold items | Recall@20 | NDCG@20 |", "|---|---|---|"]
    lines += [f"| {name} | {v['recall@20']:.4f} | {v['ndcg@20']:.4f} |"
              for name, v in r["cold"].items()]
    if r.get("warm"):
        lines += ["", "Warm items (random 80/10/10 split), the same method with and without "
                  "the text branch:", "", "| warm items | Recall@20 | NDCG@20 |", "|---|---|---|"]
        lines += [f"| {name} | {v['recall@20']:.4f} | {v['ndcg@20']:.4f} |"
                  for name, v in r["warm"].items()]
    return "\n".join(lines)


def summary_block() -> str:
    """The top README's short summary: per dataset, the best training-free contender of the
    time-to-quality runs by test NDCG@20, the best trained one at its last epoch, the
    highest point of any trained contender's test curve, and the first CPU second at which
    a trained contender's curve passes the training-free one's NDCG@20."""
    results = json.loads((RESULTS / "time_to_quality.json").read_text())
    lines = ["| dataset | CPU budget s | best without training (NDCG@20, CPU s) | best trained, "
             "last epoch (NDCG@20, CPU s) | highest trained point (NDCG@20, at CPU s) | "
             "first trained point above the best without training (CPU s) |",
             "|---|---|---|---|---|---|"]
    records = []
    for dataset, rows in results.items():
        trained = {n: r for n, r in rows.items() if r["epochs"] and not n.startswith("als")}
        free = {n: r for n, r in rows.items() if n not in trained}

        def best(group: dict) -> tuple[str, float]:
            if not group:
                return "-", float("inf")
            name, r = max(group.items(), key=lambda kv: kv[1]["final"]["ndcg@20"])
            return (f"`{name}` ({r['final']['ndcg@20']:.4f}, {r['final']['cpu_s']:.0f})",
                    r["final"]["ndcg@20"])

        points = [(p["ndcg@20"], p["cpu_s"], n) for n, r in trained.items()
                  for p in r["curve"]]
        top = max(points, default=None)
        free_cell, bar = best(free)
        first = min(((cpu, n) for v, cpu, n in points if v > bar), default=None)
        budget = max(r["budget_cpu_s"] for r in rows.values())
        lines.append(
            f"| {dataset} | {budget:g} | {free_cell} | {best(trained)[0]} | "
            + (f"`{top[2]}` ({top[0]:.4f}, {top[1]:.0f}) | " if top else "- | ")
            + (f"`{first[1]}` ({first[0]:.0f}) |" if first else "none |"))
        records += rows.values()
    records = [{**r, "env": r.get("env") or {}} for r in records]
    lines += ["", "One thread; test metrics with full ranking. From "
              "`benchmarks/results/time_to_quality.json`, made by "
              "`python benchmarks/time_to_quality.py` (each row's command is in the file; "
              f"{provenance(records)}). \"Without training\" are the graph filters and ALS. "
              "Every CPU s counts one test evaluation (ranking all items for every user), "
              "as each curve point does. "
              "A trained contender's last epoch is what it ends with (its best valid epoch "
              "where the split has a valid part; gowalla's has none); the highest point and "
              "the first point above are read off the test curve, one point per epoch, so "
              "they show what early stopping on a valid split could keep, not a result "
              "chosen without the test set. Every table is in "
              "[benchmarks/README.md](benchmarks/README.md)."]
    return "\n".join(lines)


#: Which blocks each README holds, by marker name.
BLOCKS: dict[Path, dict[str, Callable[[], str]]] = {
    README: {"summary": summary_block},
    BENCH_README: {"results": quality_block, "time-to-quality": time_to_quality_block,
                   "speed": speed_block, "cold-start": cold_start_block},
}


def render(text: str, blocks: dict[str, Callable[[], str]]) -> str:
    """:obj:`text` with every ``<!-- NAME:start -->`` ... ``<!-- NAME:end -->`` block of
    :obj:`blocks` rewritten; a block named there but missing from the text is an error."""
    for name, make in blocks.items():
        pattern = re.compile(rf"(<!-- {re.escape(name)}:start -->).*?(<!-- "
                             rf"{re.escape(name)}:end -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"no <!-- {name}:start --> ... <!-- {name}:end --> block")
        body = make()
        text = pattern.sub(lambda m, body=body: f"{m.group(1)}\n{body}\n{m.group(2)}", text,
                           count=1)
    return text


def stale() -> list[Path]:
    """The READMEs whose generated blocks differ from what the results files give."""
    return [path for path, blocks in BLOCKS.items()
            if path.exists() and render(path.read_text(), blocks) != path.read_text()]


def update() -> None:
    """Rewrites every generated block of every README."""
    for path, blocks in BLOCKS.items():
        if path.exists():
            old = path.read_text()
            new = render(old, blocks)
            if new != old:
                path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a README is out of date")
    args = p.parse_args(argv)
    if args.check:
        old = stale()
        for path in old:
            print(f"{path.name} is out of date: run python benchmarks/tables.py",
                  file=sys.stderr)
        return 1 if old else 0
    update()
    return 0


if __name__ == "__main__":
    sys.exit(main())
