"""Projection head / MoCo ablation: one contrastive method trained with and without each part,
under the same time budget, on each dataset; one table.

    python benchmarks/ablation.py --datasets amazon-beauty --budget-minutes 4
    python benchmarks/ablation.py --datasets gowalla --budget-minutes 6

Writes ``benchmarks/results/ablation.json`` (records merged by dataset and variant, so the
datasets can run apart) and ``ablation.md``. Each run is its own process, one after the other,
on ``--threads`` torch threads. Settings are ``benchmarks/run.py``'s (dim 64, 3 layers, lr
1e-3, batch 2048, L2 1e-4, seed 0) and its protocols: amazon-beauty holds out each user's
last train item as valid, early-stops on valid NDCG@20 (patience 10) and reports test at the
best epoch; gowalla has no valid part, so test is evaluated once, after the last epoch. The
budget (CPU minutes of the process, ``budget_clock="cpu"``; every time here is CPU seconds)
stops training after the epoch that passes it, so a run can go past it by up to one epoch.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common import (
    RESULTS,
    SETTINGS,
    command_line,
    environment,
    load_split,
    merge_result,
    spawn,
    write_json,
)
from run import fmt

VARIANTS = {"base": {}, "projection head": {"projection_head": 2},
            "moco": {"moco": {"size": 4096, "momentum": 0.99}}}
SHOWN = ("recall@20", "ndcg@20", "hit@10", "ndcg@10")


def run_one(args: argparse.Namespace, dataset: str, variant: str) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from gcl import GraphCLRecommender

    train, valid, test, _ = load_split(dataset)
    rec = GraphCLRecommender(method=args.method, **SETTINGS, epochs=args.epochs,
                             patience=args.patience if valid is not None else None,
                             eval_every=1, device="cpu", seed=args.seed, progress=False,
                             budget_clock="cpu",
                             **VARIANTS[variant])
    t0 = time.process_time()
    rec.fit(train, valid=valid, budget_seconds=args.budget_minutes * 60)
    fit_s = time.process_time() - t0
    metrics = rec.evaluate(test, k=[10, 20])
    hist = rec.history_
    return {"dataset": dataset, "variant": variant, "method": args.method,
            "extra": VARIANTS[variant], "metrics": {k: metrics[k] for k in SHOWN},
            "epochs": len(hist), "best_epoch": getattr(rec, "best_epoch_", None),
            "cl_weight_end": hist[-1].get("cl_weight") if hist else None,
            "seconds_per_epoch": sum(h["seconds"] for h in hist) / max(1, len(hist)),
            "fit_seconds": fit_s,
            "selection": "best valid NDCG@20" if valid is not None else "last epoch",
            "settings": {**SETTINGS, "budget_minutes": args.budget_minutes,
                         "seed": args.seed, "threads": torch.get_num_threads()},
            "env": environment(torch.get_num_threads(), command_line("ablation.py", args.argv))}


def rows(results: dict) -> list[dict]:
    """The records of :obj:`results` by dataset, method, then variant as listed in
    :obj:`VARIANTS`."""
    order = list(VARIANTS)
    return sorted(results.values(), key=lambda r: (
        r["dataset"], r["method"], order.index(r["variant"]) if r["variant"] in order else 99))


def fmt_weight(w: float | None) -> str:
    return "-" if w is None else f"{w:.3g}"


def write_markdown(results: dict) -> str:
    lines = ["# Projection head and MoCo ablation", "",
             "Each row trains the same method with one part added, under the same time budget "
             "(the epoch that passes the budget is finished). Test metrics, full ranking over "
             "all items, seen items masked; the change is against the dataset's base row.", "",
             "| dataset | method | variant | Recall@20 | NDCG@20 | HitRate@10 | NDCG@10 "
             "| NDCG@20 change | epochs | s/epoch | cl_weight at end | budget min | threads |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows(results):
        m = r["metrics"]
        base = results.get(f"{r['dataset']}/{r['method']}/base")
        change = "-" if base is None or r["variant"] == "base" else \
            f"{100 * (m['ndcg@20'] / base['metrics']['ndcg@20'] - 1):+.1f}%"
        s = r["settings"]
        lines.append(f"| {r['dataset']} | {r['method']} | {r['variant']} | "
                     f"{fmt(m['recall@20'])} | {fmt(m['ndcg@20'])} | {fmt(m['hit@10'])} | "
                     f"{fmt(m['ndcg@10'])} | {change} | {r['epochs']} | "
                     f"{fmt(r['seconds_per_epoch'], 1)} | "
                     f"{fmt_weight(r.get('cl_weight_end'))} | "
                     f"{s['budget_minutes']:g} | "
                     f"{s['threads']} |")
    lines += ["", "Variants: projection head = `projection_head=2` (a 2-layer MLP inside the "
              "contrastive loss only); moco = `moco={'size': 4096, 'momentum': 0.99}` (keys from "
              "an EMA key encoder, 4096 past keys per node type as extra negatives). "
              "cl_weight at end: the contrastive weight after the loop's `cl_decay`, which, "
              "when a run turns it on (it is off by default), lowers it when valid stalls or "
              "BPR stays near ln 2. Settings of every row: "
              + ", ".join(f"{k} {v:g}" for k, v in SETTINGS.items())
              + " (`common.SETTINGS`), the method's other defaults; each row's commit, CPU and "
              "thread count are in `ablation.json`.", "",
              "Commands:", ""]
    lines += sorted({f"- `{r['command']}`" for r in results.values()})
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="amazon-beauty,gowalla")
    p.add_argument("--method", default="xsimgcl")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--budget-minutes", type=float, required=True)
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--single", help=argparse.SUPPRESS)
    p.add_argument("--single-json", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if "--single" in args.argv:  # the child's own flags are not part of the command
        args.argv = args.argv[:args.argv.index("--single")]
    if args.single:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        dataset, variant = args.single.split("/")
        write_json(Path(args.single_json), run_one(args, dataset, variant))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "ablation.json"
    for dataset in args.datasets.split(","):
        for variant in args.variants.split(","):
            if variant not in VARIANTS:
                raise SystemExit(f"unknown variant {variant!r}; choose from {list(VARIANTS)}")
            print(f"== {dataset} / {args.method} / {variant}", flush=True)
            record = spawn(Path(__file__), [*args.argv, "--single", f"{dataset}/{variant}"],
                           args.threads, "--single-json")
            record["command"] = record["env"]["command"]
            results = merge_result(json_path, f"{dataset}/{args.method}/{variant}", record)
            m = record["metrics"]
            print(f"{variant}: recall@20 {m['recall@20']:.4f} ndcg@20 {m['ndcg@20']:.4f} "
                  f"epochs {record['epochs']}", flush=True)
            (args.out / "ablation.md").write_text(write_markdown(results))


if __name__ == "__main__":
    main()
