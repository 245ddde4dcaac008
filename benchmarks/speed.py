"""Speed benchmark on gowalla, side by side with RecBole; writes ``results/speed.{json,md}``.

    python benchmarks/speed.py --parts micro,methods,eval        # gcl alone, ~10 min
    python benchmarks/speed.py --parts peer --peer-dataset gowalla --peer-epochs 1
    python benchmarks/speed.py --parts peer --peer-dataset ml-100k --peer-epochs 20
    python benchmarks/speed.py --parts batch                     # large batch vs quality
    python benchmarks/speed.py --tables-only                     # rewrite speed.md

Parts (each one merged into ``speed.json`` under its own key, with the command that made
it; ``speed.md`` is written from the JSON):

* ``micro``: one propagation :math:`\\hat{A}X` over gowalla's train graph (70,839 nodes,
  1,620,256 directed edges, :math:`X` of shape ``[N, 64]``), forward and forward+backward,
  for every backend of :mod:`gcl.graph`; median of repeated runs.
* ``methods``: seconds per batch of every method at batch 2048 and ``--big-batch``, timed
  over ``--batches`` batches of the real trainer (:class:`gcl.train.Trainer` over the full
  graph, on a random sample of the train interactions) after ``--warmup`` batches, plus the
  per-epoch view building (:meth:`Method.new_epoch`) timed alone; seconds per epoch are
  *derived* as ``new_epoch + ceil(E / batch) * per_batch``. Each method runs in its own
  process, so its peak RSS is its own.
* ``eval``: full-ranking evaluation (:func:`gcl.metrics.evaluate`) of all 29,858 gowalla
  test users over the 40,981 items with train items masked, top-20.
* ``peer``: RecBole 1.2.1's LightGCN and SGL (``benchmarks/peers/recbole.py``) and gcl's
  ``lightgcn`` and ``sgl-ed``, one after the other, each for ``--peer-epochs`` full epochs
  on the same split with the same settings and thread count (*measured* seconds per
  epoch), then Recall@20 / NDCG@20 of all by the same evaluation code.
* ``batch``: whether the large batch keeps quality: every method on ml-100k (random
  80/10/10, seed 0) at ``--big-batch`` with the learning rate scaled by the batch ratio,
  early stopping on valid NDCG@20, against the batch-2048 rows of
  ``results/ml-100k.json``.

Settings everywhere: dim 64, 3 layers, lr 1e-3, batch 2048, L2 1e-4, seed 0, CPU,
``--threads`` torch threads (default 1; recorded in every record).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

from common import (
    HERE,
    RESULTS,
    SETTINGS,
    build_pipeline,
    command_line,
    environment,
    peak_rss_mb,
    spawn,
    train_config,
    write_json,
)

METHODS = ["lightgcn", "sgl-ed", "sgl-nd", "sgl-rw", "simgcl", "xsimgcl", "lightgcl"]
PEERS = {"LightGCN": "lightgcn", "SGL": "sgl-ed"}


def _sync() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _timed(fn, repeats: int = 1) -> tuple[float, float]:
    """Median wall and process CPU seconds of :obj:`fn()`. On a shared machine the CPU
    seconds of a one-thread process are the steadier measure: they do not count the time
    other processes hold the core."""
    wall, cpu = [], []
    for _ in range(repeats):
        _sync()
        t, c = time.perf_counter(), time.process_time()
        fn()
        _sync()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def _median_time(fn, repeats: int) -> float:
    return _timed(fn, repeats)[0]


def _gowalla():
    from gcl import load_dataset

    ds = load_dataset("gowalla")
    return ds.splits["train"], ds.splits["test"]


def _env(threads: int, command: str, device: str = "cpu") -> dict:
    import torch

    import gcl  # noqa: F401 - its version goes into the record

    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else None
    return {**environment(torch.get_num_threads(), command, device), "gpu": gpu,
            "cuda": torch.version.cuda if gpu else None, "threads_asked": threads}


# ---------------------------------------------------------------------------- parts
def micro(args: argparse.Namespace) -> dict:
    """Forward and forward+backward propagation time of every backend."""
    import torch

    from gcl.graph import BACKENDS, UIGraph, pick_backend

    device = torch.device(args.device)
    train, _ = _gowalla()
    graph = UIGraph.from_interactions(train)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(graph.num_nodes, 64, generator=gen).to(device)
    grad = torch.randn(graph.num_nodes, 64, generator=gen).to(device)
    rows = {}
    for name, cls in BACKENDS.items():
        try:
            prop = cls(graph.adj, device)
        except ImportError as e:
            rows[name] = {"status": f"not installed ({e})"}
            continue
        except ValueError as e:  # scipy on a GPU
            rows[name] = {"status": str(e)}
            continue
        repeats = 3 if name == "pyg" and device.type == "cpu" else args.repeats
        prop(x)  # warm-up
        fwd, fwd_cpu = _timed(lambda p=prop: p(x), repeats)
        xr = x.clone().requires_grad_()
        both, both_cpu = _timed(lambda p=prop, xr=xr: p(xr).backward(grad), repeats)
        rows[name] = {"forward_s": fwd, "forward_backward_s": both, "forward_cpu_s": fwd_cpu,
                      "forward_backward_cpu_s": both_cpu, "repeats": repeats}
    ref = rows.get("scipy", {}).get("forward_s")
    ref_cpu = rows.get("scipy", {}).get("forward_cpu_s")
    for r in rows.values():
        if "forward_s" in r and ref is not None:
            r["fb_over_scipy_forward"] = r["forward_backward_s"] / ref
            r["fb_over_scipy_forward_cpu"] = r["forward_backward_cpu_s"] / ref_cpu
    t = time.perf_counter()
    auto = pick_backend(graph.adj, device)
    return {"backends": rows, "auto_picks": auto, "auto_seconds": time.perf_counter() - t,
            "nodes": graph.num_nodes, "edges": graph.num_edges, "dim": 64}


def method_worker(args: argparse.Namespace, method: str, batch: int) -> dict:
    """Per-batch and per-epoch-view seconds of one method at one batch size."""
    import numpy as np
    import torch

    from gcl.train import Trainer

    train, _ = _gowalla()
    m, graph = build_pipeline(train, method, device=args.device, **_model())
    rng = np.random.default_rng(0)
    lr = SETTINGS["lr"] * batch / SETTINGS["batch_size"]

    def batches(n: int) -> tuple[float, float]:
        sample = train.select(np.sort(rng.choice(len(train), n * batch, replace=False)))
        cfg = train_config(epochs=1, batch_size=batch, lr=lr)
        return _timed(Trainer(m, graph, sample, cfg).fit)

    batches(args.warmup)
    gen = torch.Generator().manual_seed(1)
    m.train()  # augmenters make views in training mode only
    views, views_cpu = _timed(lambda: m.new_epoch(graph, gen), 3)
    n = args.batches if batch <= SETTINGS["batch_size"] else max(5, args.batches // 3)
    wall, cpu = batches(n)
    per_batch, per_batch_cpu = (wall - views) / n, (cpu - views_cpu) / n
    n_epoch = math.ceil(len(train) / batch)
    return {"method": method, "batch_size": batch, "lr": lr, "timed_batches": n,
            "warmup_batches": args.warmup, "seconds_per_batch": per_batch,
            "cpu_seconds_per_batch": per_batch_cpu, "new_epoch_seconds": views,
            "new_epoch_cpu_seconds": views_cpu, "batches_per_epoch": n_epoch,
            "seconds_per_epoch_derived": views + n_epoch * per_batch,
            "cpu_seconds_per_epoch_derived": views_cpu + n_epoch * per_batch_cpu,
            "peak_rss_mb": peak_rss_mb(),
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20
            if graph.device.type == "cuda" else None}


def methods(args: argparse.Namespace) -> dict:
    out = {}
    for method in args.methods.split(","):
        for batch in (SETTINGS["batch_size"], args.big_batch):
            rec = _spawn(args, ["--worker", "method", "--method", method,
                                "--batch", str(batch)])
            out[f"{method}@{batch}"] = rec
            print(f"{method} batch {batch}: {rec['seconds_per_batch']:.3f} s/batch, "
                  f"{rec['seconds_per_epoch_derived']:.1f} s/epoch (derived)", flush=True)
    return out


def evaluation(args: argparse.Namespace) -> dict:
    """Full-ranking evaluation of every gowalla test user (random embeddings: the time does
    not depend on their values)."""
    import torch

    from gcl.metrics import evaluate

    train, test = _gowalla()
    gen = torch.Generator().manual_seed(0)
    users = torch.randn(train.num_users, 64, generator=gen).to(args.device)
    items = torch.randn(train.num_items, 64, generator=gen).to(args.device)
    seen, truth = train.to_csr(), test.to_csr()
    out = {}
    for bs in (1024, 4096):
        res = {}
        secs, cpu = _timed(lambda res=res, bs=bs: res.update(
            evaluate(users, items, truth, seen, k=[20], batch_size=bs)), 2)
        out[str(bs)] = {"seconds": secs, "cpu_seconds": cpu, "users": res["users"],
                        "repeats": 2}
    return out


def ours_epochs(args: argparse.Namespace, dataset: str, method: str, epochs: int,
                batch: int) -> dict:
    """gcl trained for whole epochs by its loop, as the peer is: wall and CPU seconds per
    epoch, and test metrics with the same masking as the peer's."""
    import torch
    from peers.recbole import splits

    from gcl.metrics import evaluate
    from gcl.train import Trainer

    train, valid, test = splits(dataset)
    lr = SETTINGS["lr"] * batch / SETTINGS["batch_size"]
    m, graph = build_pipeline(train, method, device=args.device, **_model())
    cfg = train_config(epochs=epochs, batch_size=batch, lr=lr)
    marks = [time.process_time()]
    hist = Trainer(m, graph, train, cfg,
                   on_epoch_end=lambda h: marks.append(time.process_time())).fit()
    cpu = [b - a for a, b in zip(marks, marks[1:])]
    with torch.no_grad():
        users, items = m.embeddings(graph)
    exclude = train.to_csr() if valid is None else train.to_csr() + valid.to_csr()
    res = evaluate(users, items, test.to_csr(), exclude, k=[20])
    seconds = [h["seconds"] for h in hist]
    return {"method": method, "dataset": dataset, "measured": f"{epochs} full epoch(s)",
            "epochs": epochs, "batch_size": batch, "lr": lr,
            "seconds_per_epoch": sum(seconds) / len(seconds), "epoch_seconds": seconds,
            "cpu_seconds_per_epoch": sum(cpu) / len(cpu),
            "recall@20": res["recall@20"], "ndcg@20": res["ndcg@20"],
            "peak_rss_mb": peak_rss_mb()}


def peer(args: argparse.Namespace) -> dict:
    """RecBole's models and gcl's, one after the other; speedups from CPU seconds."""
    sys.path.insert(0, str(HERE))
    from peers.recbole import run

    timed = [m for m in args.peer_timed_models.split(",") if m]
    if timed and args.peer_dataset != "gowalla":
        raise ValueError("--peer-timed-models is for gowalla (the methods part's data)")
    out = {}
    command = command_line("speed.py")
    for model in args.peer_models.split(","):
        method = PEERS[model]
        if model in timed:
            theirs = run(args.peer_dataset, model, 0, args.threads, args.batches, args.warmup)
            ours = _spawn(args, ["--worker", "method", "--method", method,
                                 "--batch", str(SETTINGS["batch_size"])])
            ours["measured"] = f"{ours['timed_batches']} batches, derived per epoch"
            ours["seconds_per_epoch"] = ours["seconds_per_epoch_derived"]
            ours["cpu_seconds_per_epoch"] = ours["cpu_seconds_per_epoch_derived"]
        else:
            theirs = run(args.peer_dataset, model, args.peer_epochs, args.threads)
            ours = _spawn(args, ["--worker", "ours", "--method", method,
                                 "--batch", str(SETTINGS["batch_size"])])
        rec = out[model] = {
            "recbole": theirs, "gcl": ours, "command": command,
            "speedup_vs_recbole": theirs["cpu_seconds_per_epoch"]
            / ours["cpu_seconds_per_epoch"],
            "speedup_vs_recbole_wall": theirs["seconds_per_epoch"] / ours["seconds_per_epoch"]}
        if "recall@20" in theirs:
            rec["recall@20_ratio"] = ours["recall@20"] / theirs["recall@20"]
            rec["ndcg@20_ratio"] = ours["ndcg@20"] / theirs["ndcg@20"]
        print(f"{model}: RecBole {theirs['cpu_seconds_per_epoch']:.1f} CPU s/epoch, gcl "
              f"{ours['cpu_seconds_per_epoch']:.1f}: {rec['speedup_vs_recbole']:.2f}x",
              flush=True)
        if args.peer_big_batch and model not in timed:
            big = _spawn(args, ["--worker", "ours", "--method", method, "--batch",
                                str(args.big_batch)])
            big["speedup_vs_recbole"] = (theirs["cpu_seconds_per_epoch"]
                                         / big["cpu_seconds_per_epoch"])
            rec["gcl_big_batch"] = big
    return out


def batch_quality(args: argparse.Namespace) -> dict:
    """Every method on ml-100k at the large batch (lr scaled), early-stopped within
    :obj:`args.quality_budget` CPU seconds, against its batch-2048 row of ``run.py``."""
    base = json.loads((RESULTS / "ml-100k.json").read_text())
    out = {}
    for method in args.methods.split(","):
        rec = _spawn(args, ["--worker", "quality", "--method", method,
                            "--batch", str(args.big_batch)])
        b = base.get(method)
        if b is not None:
            rec["batch_2048"] = {"recall@20": b["metrics"]["recall@20"],
                                 "ndcg@20": b["metrics"]["ndcg@20"], "epochs": b["epochs"],
                                 "seconds_per_epoch": b["seconds_per_epoch"],
                                 "fit_seconds": b["fit_seconds"], "command": b["command"],
                                 "cpu": b.get("env", {}).get("cpu")}
        out[method] = rec
        print(f"{method} batch {args.big_batch}: recall@20 {rec['recall@20']:.4f}", flush=True)
    return out


def quality_worker(args: argparse.Namespace, method: str, batch: int) -> dict:
    import torch

    from gcl import GraphCLRecommender, load_dataset

    train, valid, test = load_dataset("ml-100k").interactions.split(
        "random", ratios=(0.8, 0.1, 0.1), seed=0)
    lr = SETTINGS["lr"] * batch / SETTINGS["batch_size"]
    # run.py's protocol (dim 64; the method's own depth, L2 and start) at the larger batch.
    rec = GraphCLRecommender(method=method, dim=SETTINGS["dim"], batch_size=batch, lr=lr,
                             epochs=1000, patience=10, device="cpu", seed=0, progress=False,
                             num_threads=args.threads, budget_clock="cpu")
    t = time.process_time()
    rec.fit(train, valid=valid, budget_seconds=args.quality_budget)
    fit_s = time.process_time() - t
    m = rec.evaluate(test, k=[20])
    return {"method": method, "batch_size": batch, "lr": lr, "recall@20": m["recall@20"],
            "ndcg@20": m["ndcg@20"], "epochs": len(rec.history_),
            "seconds_per_epoch": sum(h["seconds"] for h in rec.history_) / len(rec.history_),
            "fit_seconds": fit_s, "budget_s": args.quality_budget,
            "threads": torch.get_num_threads()}


# ---------------------------------------------------------------------------- plumbing
def _model() -> dict:
    """The model settings of every gcl run here (the learning rate and batch go to the loop)."""
    return {k: SETTINGS[k] for k in ("dim", "layers", "reg")}


def _spawn(args: argparse.Namespace, extra: list[str]) -> dict:
    """Runs a worker of this script in its own process (its own peak memory)."""
    return spawn(Path(__file__), [
        "--device", args.device, "--threads", str(args.threads), "--batches", str(args.batches),
        "--warmup", str(args.warmup), "--peer-dataset", args.peer_dataset, "--peer-epochs",
        str(args.peer_epochs), "--quality-budget", str(args.quality_budget), *extra],
        args.threads, "--worker-json")


def worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    if args.worker == "method":
        rec = method_worker(args, args.method, args.batch)
    elif args.worker == "ours":
        rec = ours_epochs(args, args.peer_dataset, args.method, args.peer_epochs, args.batch)
    else:
        rec = quality_worker(args, args.method, args.batch)
    rec["threads"] = torch.get_num_threads()
    write_json(args.worker_json, rec)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parts", default="micro,methods,eval")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--big-batch", type=int, default=8192)
    p.add_argument("--peer-dataset", default="gowalla")
    p.add_argument("--peer-epochs", type=int, default=1)
    p.add_argument("--peer-models", default=",".join(PEERS),
                   help="RecBole models to run; others keep their earlier records")
    p.add_argument("--peer-timed-models", default="",
                   help="peer models timed over --batches batches instead of whole epochs "
                   "(gowalla only), e.g. SGL")
    p.add_argument("--peer-big-batch", action="store_true",
                   help="also train gcl's side at --big-batch for the peer's epochs")
    p.add_argument("--quality-budget", type=float, default=120.0)
    p.add_argument("--tables-only", action="store_true",
                   help="rewrite speed.md and the README's Performance tables from speed.json")
    p.add_argument("--check", action="store_true",
                   help="exit non-zero if the README's Performance tables are stale")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder of speed.json / .md")
    p.add_argument("--name", default="speed", help="basename of the .json / .md written")
    p.add_argument("--device", default="cpu", help="cpu, or cuda for micro/methods/eval")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--method", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-json", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return
    from speed_tables import write_markdown

    json_path = args.out / f"{args.name}.json"
    results = json.loads(json_path.read_text()) if json_path.exists() else {}
    if args.check:
        args.tables_only = True
    if not args.tables_only:
        import torch

        torch.set_num_threads(args.threads)
        command = command_line("speed.py", argv)
        parts = {"micro": micro, "methods": methods, "eval": evaluation, "peer": peer,
                 "batch": batch_quality}
        for part in args.parts.split(","):
            t = time.perf_counter()
            record = parts[part](args)
            key = f"peer_{args.peer_dataset}" if part == "peer" else part
            if part in ("peer", "batch"):  # models not run this time keep their records
                for r in record.values():
                    r["command"] = command
                earlier = results.get(key, {})
                for r in earlier.get("results", {}).values():
                    r.setdefault("command", earlier["command"])
                record = {**earlier.get("results", {}), **record}
            results[key] = {"results": record, "command": command,
                            "env": _env(args.threads, command, args.device),
                            "wall_seconds": time.perf_counter() - t,
                            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
            write_json(json_path, results)
    if not args.check:
        (args.out / f"{args.name}.md").write_text(write_markdown(results))
    if args.name == "speed" and args.out == RESULTS:
        import tables  # the READMEs' tables are drawn from speed.json too

        if args.check:
            if tables.stale():
                sys.exit("the README tables are stale: run python benchmarks/tables.py")
            return
        tables.update()


if __name__ == "__main__":
    main()
