"""Quality cost of half-precision propagation: the same fit on ml-100k in fp32, bf16 and fp16.

    python benchmarks/precision.py

Writes ``benchmarks/results/precision.md`` and ``precision/precision.json``. Settings as
``benchmarks/run.py`` (dim 64, 3 layers, lr 1e-3, batch 2048, L2 1e-4, seed 0, random
80/10/10 split, early stopping on valid NDCG@20 with patience 10), one torch thread, at most
``--epochs`` epochs per method so that the comparison stays short: the numbers compare the
precisions with each other, not with the tuned results of ``ml-100k.md``. Times are CPU
seconds of the process (``time.process_time()``). Memory is measured at scale by
``benchmarks/scale.py`` (its bf16 rows).
"""
from __future__ import annotations

import argparse
import time

from common import (
    RESULTS,
    SETTINGS,
    beside_note,
    command_line,
    environment,
    load_split,
    merge_result,
    provenance,
    read_records,
)

SETTINGS = {**SETTINGS, "seed": 0}
PRECISIONS = ("fp32", "bf16", "fp16")
PATH = RESULTS / "precision" / "precision.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", nargs="+", default=["lightgcn", "xsimgcl"])
    p.add_argument("--epochs", type=int, nargs="+", default=[60, 30],
                   help="most epochs, one per method")
    p.add_argument("--beside", default=None,
                   help="what else ran on the machine meanwhile, recorded with each row")
    p.add_argument("--tables-only", action="store_true",
                   help="rewrite precision.md from precision/precision.json")
    args = p.parse_args()
    if args.tables_only:
        write_page(list(read_records(PATH).values()))
        return
    import torch

    torch.set_num_threads(1)
    from gcl import GraphCLRecommender

    train, valid, test, _ = load_split("ml-100k")
    command = command_line("precision.py")
    for method, epochs in zip(args.methods, args.epochs):
        for precision in PRECISIONS:
            rec = GraphCLRecommender(method=method, epochs=epochs, patience=10,
                                     precision=precision, device="cpu", progress=False,
                                     budget_clock="cpu", **SETTINGS)
            t0 = time.process_time()
            rec.fit(train, valid=valid)
            seconds = time.process_time() - t0
            metrics = rec.evaluate(test, k=[10, 20])
            train_s = rec.history_[-1]["train_seconds"]
            merge_result(PATH, f"{method}/{precision}", {
                "method": method, "precision": precision, "max_epochs": epochs,
                "epochs": len(rec.history_), "best_epoch": rec.best_epoch_,
                "train_seconds_per_epoch": train_s / len(rec.history_),
                "fit_seconds": seconds, "test": metrics, "settings": SETTINGS,
                "command": command, "env": environment(1, command),
                **({"beside": args.beside} if args.beside else {})})
            write_page(list(read_records(PATH).values()))
            print(f"{method} {precision}: recall@20 {metrics['recall@20']:.4f} ndcg@20 "
                  f"{metrics['ndcg@20']:.4f} ({len(rec.history_)} epochs, "
                  f"{seconds:.0f} s)", flush=True)
    print(f"wrote {RESULTS / 'precision.md'}")


def write_page(records: list[dict]) -> None:
    """``results/precision.md`` from the runs' records."""
    env = records[-1]["env"]
    commands = " then ".join(f"`{c}`" for c in dict.fromkeys(r["env"]["command"]
                                                             for r in records))
    lines = [
        "# Half-precision propagation: quality cost on ml-100k", "",
        f"Written by {commands} on {env.get('when')} ({env.get('cpu')}, torch "
        f"{env.get('torch')}, **1 torch thread**; {provenance(records).split(';')[0]}). Same "
        "split and settings as `ml-100k.md`, at "
        "most the epochs shown, early stopping on valid NDCG@20 (patience 10); test metrics "
        "of the best epoch. bf16 / fp16 hold each propagated layer in 2 bytes; the weights, "
        "Adam's state and the losses stay fp32 (see `docs/scaling.md`).", "",
        "| method | precision | epochs (max) | best epoch | Recall@20 | NDCG@20 | "
        "Recall@20 vs fp32 | CPU s/epoch |",
        "|---|---|---|---:|---:|---:|---:|---:|"]
    base = {r["method"]: r["test"]["recall@20"] for r in records if r["precision"] == "fp32"}
    for r in records:
        rel = r["test"]["recall@20"] / base[r["method"]] - 1
        lines.append(f"| {r['method']} | {r['precision']} | {r['epochs']} ({r['max_epochs']}) | "
                     f"{r['best_epoch']} | {r['test']['recall@20']:.4f} | "
                     f"{r['test']['ndcg@20']:.4f} | {rel:+.1%} | "
                     f"{r['train_seconds_per_epoch']:.2f} |")
    lines.append("")
    lines += beside_note({f"{r['method']}/{r['precision']}": r for r in records})
    (RESULTS / "precision.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
