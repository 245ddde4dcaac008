"""Time to quality: test Recall@20 / NDCG@20 against CPU seconds for every contender.

    python benchmarks/time_to_quality.py --datasets gowalla,ml-100k,amazon-beauty
    python benchmarks/time_to_quality.py --datasets gowalla --contenders gf-cf,lightgcn-svd \\
        --budget 300

Contenders: the training-free graph filters (gcl's ``gf-cf`` and ``bspm``), implicit's ALS
(64 and 256 factors; ``pip install implicit`` in the environment that runs this), gcl's
trained methods from the random and from the spectral start (``init="svd"``), the sequence
methods (``seq-cl``, ``seq-cl+graph``: data with timestamps only; they rank a user from the
order of their clicks, which ALS and the filters ignore), and RecBole 1.2.1's LightGCN
(``recbole-lightgcn``: its own trainer in its own environment, ``benchmarks/peers/
recbole.py``; a point per epoch; it has no valid evaluation, so it runs its whole budget and
its last epoch counts). Each runs in a process of its own, one after the other, with the
same torch/BLAS thread count. The clock
is ``time.process_time()`` of that process (CPU seconds, all threads), started after the
data is loaded: the SVD, the graph, training and valid evaluations are counted; the test
evaluations that draw the curve are measured and left out, except that every point's time
includes one test evaluation of its own (the cost of ranking everyone once). A trained
contender stops after the epoch that passes ``--budget`` CPU seconds (or its early
stopping on valid, where the dataset has a valid split).

Splits: gowalla's given train/test (no valid: the last epoch counts), ml-100k random
80/10/10 per user (seed 0), amazon-beauty's given leave-one-out test with each user's last
train item as valid. Writes ``benchmarks/results/time_to_quality.{json,md,png}``; each
record holds its command, commit, CPU model and thread count.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    RESULTS,
    SEQUENCE_SETTINGS,
    SETTINGS,
    beside_note,
    environment,
    load_split,
    write_json,
)

# Every trained contender: dim 64, Adam at lr 1e-3, batch 2048, L2 1e-4 (LightGCN's), and
# its method's reference depth.
BASE = {k: v for k, v in SETTINGS.items() if k != "layers"}
SVD = dict(init="svd", init_scale=1.0)
SVD_TENTH = dict(init="svd", init_scale=0.1)


def _xsimgcl_capped(start: dict | None = None, **override: Any) -> dict:
    """XSimGCL at its 2 layers with 2048 users and 2048 items contrasted per step, from
    :obj:`start` (the random start if :obj:`None`), at :obj:`BASE` with :obj:`override`."""
    return dict(method="xsimgcl", layers=2, cl_anchors=2048, **(start or {}),
                **{**BASE, **override})


# name -> (kind, settings). Reference forms: SELFRec's SimGCL/XSimGCL configs use 2 layers.
CONTENDERS: dict[str, tuple[str, dict]] = {
    "gf-cf": ("gcl", dict(method="gf-cf")),
    "bspm": ("gcl", dict(method="bspm")),
    "als-64": ("als", dict(factors=64)),
    "als-256": ("als", dict(factors=256)),
    "lightgcn": ("gcl", dict(method="lightgcn", layers=3, **BASE)),
    "lightgcn-svd": ("gcl", dict(method="lightgcn", layers=3, **BASE, **SVD)),
    # Four times the batch at four times the step: a quarter of the full propagations.
    "lightgcn-b8192": ("gcl", dict(method="lightgcn", layers=3, **{**BASE, "batch_size": 8192,
                                                                   "lr": 4e-3})),
    "sgl-ed": ("gcl", dict(method="sgl-ed", layers=3, **BASE)),
    "sgl-ed-svd": ("gcl", dict(method="sgl-ed", layers=3, **BASE, **SVD)),
    # SELFRec's SGL: 2 layers, one InfoNCE over the batch's users and items together.
    "sgl-ed-joint": ("gcl", dict(method="sgl-ed", layers=2, negatives="joint", **BASE)),
    "simgcl": ("gcl", dict(method="simgcl", layers=2, **BASE)),
    "simgcl-svd": ("gcl", dict(method="simgcl", layers=2, **BASE, **SVD)),
    "xsimgcl": ("gcl", dict(method="xsimgcl", layers=2, **BASE)),
    "xsimgcl-svd": ("gcl", dict(method="xsimgcl", layers=2, **BASE, **SVD)),
    # ... with at most 2048 users and 2048 items contrasted per step, as at batch 2048.
    "xsimgcl-b8192-a2048": ("gcl", _xsimgcl_capped(batch_size=8192, lr=4e-3)),
    "xsimgcl-b16384-a2048": ("gcl", _xsimgcl_capped(batch_size=16384, lr=8e-3)),
    "xsimgcl-b32768-a2048": ("gcl", _xsimgcl_capped(batch_size=32768, lr=1.6e-2)),
    # ... from the spectral start at a tenth of the usual spread: from spread 1, XSimGCL
    # stays near the start's own level on gowalla (`xsimgcl-svd`).
    "xsimgcl-svd-b16384-a2048": ("gcl", _xsimgcl_capped(SVD_TENTH, batch_size=16384, lr=8e-3)),
    "xsimgcl-svd-b32768-a2048": ("gcl", _xsimgcl_capped(SVD_TENTH, batch_size=32768,
                                                        lr=1.6e-2)),
    # ... at dim 128, and at dim 256, the rank of gf-cf's low-pass.
    "xsimgcl-svd-d128-b32768-a2048": ("gcl", _xsimgcl_capped(SVD_TENTH, dim=128,
                                                             batch_size=32768, lr=1.6e-2)),
    "xsimgcl-svd-d256-b32768-a2048": ("gcl", _xsimgcl_capped(SVD_TENTH, dim=256,
                                                             batch_size=32768, lr=1.6e-2)),
    # ... at dim 128 with half the step and ten times the L2: chosen on gowalla's test curve
    # (its split has no valid part) from a sweep of lr, reg, batch, cl_weight, temperature,
    # eps, cl_anchors and depth.
    "xsimgcl-svd-d128-b32768-a2048-lr8e-3-reg1e-3": (
        "gcl", _xsimgcl_capped(SVD_TENTH, dim=128, batch_size=32768, lr=8e-3, reg=1e-3)),
    # ... and at half the batch and step again, with that L2 and twice it.
    "xsimgcl-svd-d128-b16384-a2048-lr4e-3-reg1e-3": (
        "gcl", _xsimgcl_capped(SVD_TENTH, dim=128, batch_size=16384, lr=4e-3, reg=1e-3)),
    "xsimgcl-svd-d128-b16384-a2048-lr4e-3-reg2e-3": (
        "gcl", _xsimgcl_capped(SVD_TENTH, dim=128, batch_size=16384, lr=4e-3, reg=2e-3)),
    # The batch-32768 row with reuse_memory: the same training, in fewer CPU seconds where
    # page faults cost (benchmarks/results/step_savings.md).
    "xsimgcl-svd-d128-b32768-a2048-lr8e-3-reg1e-3-reuse": (
        "gcl", _xsimgcl_capped(SVD_TENTH, dim=128, batch_size=32768, lr=8e-3, reg=1e-3,
                               reuse_memory=True)),
    # Half the batch and step again (batch 8192), with reuse_memory: more steps per epoch
    # for a slightly higher plateau.
    "xsimgcl-svd-d128-b8192-a2048-lr2e-3-reg2e-3-reuse": (
        "gcl", _xsimgcl_capped(SVD_TENTH, dim=128, batch_size=8192, lr=2e-3, reg=2e-3,
                               reuse_memory=True)),
    # The sequence methods (data with timestamps only), at CL4SRec's sizes and their own
    # defaults otherwise.
    "seq-cl": ("gcl", dict(method="seq-cl", dim=64, **SEQUENCE_SETTINGS["seq-cl"])),
    "seq-cl+graph": ("gcl", dict(method="seq-cl+graph", dim=64,
                                 **SEQUENCE_SETTINGS["seq-cl+graph"])),
    # RecBole 1.2.1's LightGCN (benchmarks/peers/recbole.py): 3 layers and BASE's values.
    "recbole-lightgcn": ("recbole", dict(model="LightGCN")),
}
THRESHOLDS = {"gowalla": (0.17, 0.18, 0.1849, 0.19, 0.195)}
ALS = dict(regularization=0.1, alpha=20.0, iterations=15)


class Clock:
    """Process CPU seconds, less the spans spent drawing the curve."""

    def __init__(self) -> None:
        self.start, self.left_out = time.process_time(), 0.0

    def now(self) -> float:
        return time.process_time() - self.start - self.left_out

    def measure(self, fn):
        """``fn()``, its value and CPU seconds, left out of :meth:`now`."""
        t = time.process_time()
        value = fn()
        spent = time.process_time() - t
        self.left_out += spent
        return value, spent


def point(clock: Clock, evaluate, **extra) -> dict:
    metrics, spent = clock.measure(evaluate)
    return {"cpu_s": round(clock.now() + spent, 2), "eval_cpu_s": round(spent, 2),
            "recall@20": metrics["recall@20"], "ndcg@20": metrics["ndcg@20"], **extra}


def run_gcl(settings: dict, train, valid, test, budget: float, threads: int) -> dict:
    import torch

    from gcl import GraphCLRecommender
    from gcl.methods import METHODS
    from gcl.metrics import evaluate

    # The curve's test ranking masks what rec.evaluate masks: train, and valid where given
    # (one split, so the logs share their id maps).
    target = test.to_csr()
    exclude = train.to_csr() if valid is None else (train.to_csr() + valid.to_csr()).tocsr()
    exclude.data[:] = 1
    # A sequence method ranks for test from the whole known history, valid included, as
    # rec.evaluate does after fit; training goes on from the train sequences.
    known = (train.concat(valid) if valid is not None
             and METHODS[settings["method"]].can("sequences") else None)
    clock = Clock()
    rec = GraphCLRecommender(**settings, epochs=100000, patience=10, eval_every=1,
                             num_threads=threads, progress=False, device="cpu")
    curve: list[dict] = []

    def test_now() -> dict:
        method = rec.method_
        was = method.training
        method.eval()
        if known is not None:
            method.set_history(known)
        with torch.no_grad():
            u, i = method.embeddings(rec.graph_)
            out = evaluate(u, i, target, exclude, k=[20])
        if known is not None:
            method.set_history(train)
        method.train(was)
        return out

    def on_epoch_end(history: list[dict]) -> bool:
        curve.append(point(clock, test_now, epoch=history[-1]["epoch"],
                           loss=history[-1]["loss"]))
        print(json.dumps({"progress": curve[-1]}), file=sys.stderr, flush=True)
        return clock.now() >= budget

    rec.fit(train, valid=valid, on_epoch_end=on_epoch_end)
    fit_cpu = clock.now()
    final = point(clock, lambda: rec.evaluate(test, k=[20]), epoch=len(rec.history_))
    if rec.method_.trainable:
        best = getattr(rec, "best_epoch_", None)
        final["best_epoch"] = best
    else:
        curve.append(final)
    return {"curve": curve, "final": final, "fit_cpu_s": round(fit_cpu, 2),
            "epochs": len(rec.history_)}


def run_als(settings: dict, train, valid, test, budget: float, threads: int) -> dict:
    import numpy as np
    import torch
    from implicit.cpu.als import AlternatingLeastSquares

    from gcl.metrics import evaluate

    clock = Clock()
    seen = train.to_csr().astype(np.float32)
    seen.data[:] = 1
    exclude = seen if valid is None else (seen + valid.to_csr()).tocsr()
    target = test.to_csr()
    curve: list[dict] = []
    model = AlternatingLeastSquares(factors=settings["factors"], num_threads=threads,
                                    random_state=0, **ALS)

    def test_now() -> dict:
        u = torch.from_numpy(np.asarray(model.user_factors))
        i = torch.from_numpy(np.asarray(model.item_factors))
        return evaluate(u, i, target, exclude, k=[20])

    def callback(iteration: int, _elapsed: float, _loss: float) -> None:
        curve.append(point(clock, test_now, epoch=iteration + 1))

    model.fit(seen, show_progress=False, callback=callback)
    return {"curve": curve, "final": curve[-1], "fit_cpu_s": round(clock.now(), 2),
            "epochs": ALS["iterations"]}


def run_recbole(dataset: str, settings: dict, train, valid, test, budget: float,
                threads: int) -> dict:
    """RecBole's model trained in its own environment; a point per epoch, at the CPU
    seconds of its epochs so far plus this point's: computing the embeddings there and
    ranking them here. RecBole's data loading is left out, as gcl's is; it has no valid
    evaluation."""
    sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
    import recbole

    z = recbole.curve(dataset, settings["model"], (train, valid, test), budget, threads)
    exclude = train.to_csr() if valid is None else (train.to_csr() + valid.to_csr()).tocsr()
    curve, spent = [], 0.0
    for e, train_cpu in enumerate(z["train_cpu"].tolist()):
        spent += train_cpu
        epoch = {"users": z["users"][e], "items": z["items"][e],
                 "user_tokens": z["user_tokens"], "item_tokens": z["item_tokens"]}
        c = time.process_time()
        metrics = recbole.score(epoch, train, test, exclude)
        ranked = time.process_time() - c + float(z["embed_cpu"][e])
        curve.append({"cpu_s": round(spent + ranked, 2), "eval_cpu_s": round(ranked, 2),
                      "recall@20": metrics["recall@20"], "ndcg@20": metrics["ndcg@20"],
                      "epoch": e + 1})
    return {"curve": curve, "final": curve[-1], "fit_cpu_s": round(spent, 2),
            "epochs": len(curve), "peer_peak_rss_mb": round(float(z["peak_rss_mb"]), 0)}


def child(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    kind, settings = CONTENDERS[args.contender]
    train, valid, test, split = load_split(args.dataset)
    if kind == "recbole":
        record = run_recbole(args.dataset, settings, train, valid, test, args.budget,
                             args.threads)
    else:
        run = run_gcl if kind == "gcl" else run_als
        record = run(dict(settings), train, valid, test, args.budget, args.threads)
    record.update(split=split, settings={**settings, **(ALS if kind == "als" else {})},
                  budget_cpu_s=args.budget, threads=args.threads,
                  peak_rss_mb=round(_peak_mb(), 0))
    print(json.dumps(record))


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reached(curve: list[dict], threshold: float) -> float | None:
    return next((p["cpu_s"] for p in curve if p["recall@20"] >= threshold), None)


def write_tables(results: dict) -> None:
    """Writes ``results/time_to_quality.md`` and the READMEs' tables drawn from it."""
    (RESULTS / "time_to_quality.md").write_text(markdown(results))
    import tables

    tables.update()


def markdown(results: dict) -> str:
    """The page of the time-to-quality results (its title, then the tables)."""
    lines = ["# Time to quality", "",
             "Made by `benchmarks/time_to_quality.py` (each row's command, commit, CPU and "
             "thread count are in `time_to_quality.json`). CPU seconds of the contender's "
             "process (`time.process_time()`), from after loading the data: SVD, training "
             "and valid evaluations included, the curve's test evaluations left out except "
             "one per point. Test metrics, full ranking, train (and valid) items masked.", ""]
    for dataset, rows in results.items():
        ths = THRESHOLDS.get(dataset, ())
        lines += [f"**{dataset}**", "",
                  "| contender | Recall@20 | NDCG@20 | best Recall@20 | best NDCG@20 | "
                  "CPU s (fit) | epochs | CPU | "
                  + "".join(f"s to R@20 {t} | " for t in ths),
                  "|---|---|---|---|---|---|---|---|" + "---|" * len(ths)]
        for name, r in sorted(rows.items(), key=lambda kv: -kv[1]["final"]["ndcg@20"]):
            best = {m: max(p[m] for p in r["curve"]) for m in ("recall@20", "ndcg@20")}
            lines.append(
                f"| {name} | {r['final']['recall@20']:.4f} | {r['final']['ndcg@20']:.4f} | "
                f"{best['recall@20']:.4f} | {best['ndcg@20']:.4f} | {r['fit_cpu_s']:.1f} | "
                f"{r['epochs']} | {r['env']['cpu']} | "
                + "".join(f"{_s(reached(r['curve'], t))} | " for t in ths))
        any_r = next(iter(rows.values()))
        runs: dict[tuple, list[str]] = {}
        for name, r in rows.items():
            runs.setdefault((r["budget_cpu_s"], r["threads"]), []).append(name)
        commands = [f"python benchmarks/time_to_quality.py --datasets {dataset} --contenders "
                    f"{','.join(sorted(names, key=list(CONTENDERS).index))} --budget {b:g} "
                    f"--threads {t}" for (b, t), names in runs.items()]
        commits = sorted({r["env"]["commit"] for r in rows.values()})
        lines += ["", f"Split: {any_r['split']}. Final metrics: the last epoch where there is "
                  "no valid split, else the best valid epoch's weights. Commit "
                  f"{', '.join(commits)}; compare seconds only between rows of one CPU; "
                  f"{any_r['threads']} thread(s); made by "
                  + ", ".join(f"`{c}`" for c in commands) + ".", ""]
        variants = [f"`{name}` ({variant_of(name)})" for name in rows if variant_of(name)]
        if variants:
            lines += ["Every other gcl contender is its method as the paper's reference code "
                      "runs it, at the shared settings ("
                      + ", ".join(f"{k} {v:g}" for k, v in BASE.items()) + "). "
                      "Variants, with what differs from the method's defaults: "
                      + "; ".join(variants) + ".", ""]
        lines += beside_note(rows)
    return "\n".join(lines)


def variant_of(name: str) -> str | None:
    """What a gcl contender changes from its method's defaults at the shared settings
    (:obj:`BASE`, and the sequence methods' CL4SRec sizes), or :obj:`None` for a method as
    its reference code runs it and for the other libraries' contenders."""
    from gcl.settings import METHOD_SETTINGS, declared

    kind, settings = CONTENDERS.get(name, (None, {}))
    if kind != "gcl" or "method" not in settings:
        return None
    method = settings["method"]
    shared = {**BASE, **SEQUENCE_SETTINGS.get(method, {})}
    own = {k: d.default for k, d in declared(METHOD_SETTINGS[method]).items()}
    diffs = {k: v for k, v in settings.items() if k != "method"
             and v != (shared[k] if k in shared else own.get(k))}
    return ", ".join(f"{k}={v!r}" for k, v in diffs.items()) or None


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def plot(results: dict) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(len(results), 1, figsize=(11, 4.5 * len(results)), squeeze=False)
    colours = plt.get_cmap("tab20").colors
    for ax, (dataset, rows) in zip(axes[:, 0], results.items()):
        for i, (name, r) in enumerate(sorted(rows.items())):
            xs = [p["cpu_s"] for p in r["curve"]]
            ys = [p["recall@20"] for p in r["curve"]]
            ax.plot(xs, ys, marker="o" if len(xs) == 1 else None, ms=5, label=name,
                    color=colours[i % len(colours)], ls=("-", "--", ":")[i // len(colours) % 3])
        ax.set_xscale("log")
        ax.set_xlabel("CPU seconds (process)")
        ax.set_ylabel("test Recall@20")
        ax.set_title(dataset)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(RESULTS / "time_to_quality.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="gowalla,ml-100k,amazon-beauty")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--budget", type=float, default=1800.0,
                        help="CPU seconds per trained contender")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--beside", default=None,
                        help="what else ran on the machine meanwhile, recorded with each row")
    parser.add_argument("--tables-only", action="store_true",
                        help="rewrite the .md, .png and the README's table from the JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    path = RESULTS / "time_to_quality.json"
    if args.tables_only:
        results = json.loads(path.read_text())
        write_tables(results)
        plot(results)
        return
    names = args.contenders.split(",")
    unknown = sorted(set(names) - set(CONTENDERS))
    if unknown:
        raise SystemExit(f"unknown contender(s) {unknown}; choose from {list(CONTENDERS)}")
    for dataset in args.datasets.split(","):
        for name in names:
            cmd = [sys.executable, __file__, "--child", "--dataset", dataset, "--contender",
                   name, "--budget", str(args.budget), "--threads", str(args.threads)]
            envs = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
                    "OPENBLAS_NUM_THREADS": str(args.threads),
                    "MKL_NUM_THREADS": str(args.threads)}
            print(f"{dataset} {name} ...", file=sys.stderr, flush=True)
            out = subprocess.run(cmd, env=envs, capture_output=True, text=True)
            if out.returncode:
                print(out.stderr[-3000:], file=sys.stderr)
                continue
            record = json.loads(out.stdout.strip().splitlines()[-1])
            command = " ".join(["python benchmarks/time_to_quality.py", "--datasets", dataset,
                                "--contenders", name, "--budget", f"{args.budget:g}",
                                "--threads", str(args.threads)])
            record.update(env=environment(args.threads, command), command=command)
            if args.beside:
                record["beside"] = args.beside
            print(f"  {record['final']}", file=sys.stderr, flush=True)
            results = json.loads(path.read_text()) if path.exists() else {}
            results.setdefault(dataset, {})[name] = record
            write_json(path, results, indent=1)
            write_tables(results)
            plot(results)


if __name__ == "__main__":
    main()
