"""Scale benchmark: time per training step and peak memory against the number of
interactions, on seeded synthetic power-law logs, for LightGCN and XSimGCL, 1 and 2 ranks.

    nice -n 5 python benchmarks/scale.py                       # 1M, 5M, 20M interactions
    python benchmarks/scale.py --sizes 100000 300000 --steps 5  # a quick look

Writes ``benchmarks/results/scale.md``, ``scale.png`` and ``scale/scale.json``.

Each configuration runs in fresh processes (torchrun for 2 ranks, gloo, one torch thread per
rank). A rank builds :func:`gcl.datasets.synthetic.power_law_interactions` (E pairs, E/25
users, E/50 items), the full train graph, the method (dim 64, 3 layers, batch 2048 per rank),
and the state an epoch keeps (permutation, users, positives and negatives of all E pairs);
then :class:`gcl.train.Trainer` runs ``--warmup`` steps, and then ``--steps`` measured
steps (each a full propagation of the whole graph, forward and backward, and an Adam step).

Measured: seconds per step, the per-epoch set-up (permutation and negative sampling of all E
pairs), and each rank's peak resident memory (VmHWM, reset after the log is generated, so it
holds the graph, the weights, Adam's state, the epoch state and the steps' peak).
Derived, not measured: the epoch time, set-up + ceil(E / (ranks x batch)) x seconds per step.

With ``--steps-per-epoch N`` the batch grows with the log instead (ceil(E / (ranks x N))
triples per rank, so an epoch is N steps at every size; the learning rate is the user's to
scale), ``--layers`` sets the depth, and ``--cl-anchors`` caps the users and items XSimGCL
contrasts per step (``cl_anchors``); each run records its batch, depth and cap, and the
fits give the exponent of epoch seconds against interactions (a least-squares slope in
log-log). Step seconds are CPU seconds of the rank's process (``time.process_time()``).

    nice -n 5 python benchmarks/scale.py --name scale_fixed_steps --ranks 1 --half-sizes \
        --layers 2 --steps-per-epoch 25 --cl-anchors 2048 --steps 5 --warmup 2

``--reuse-memory`` makes every rank keep the memory it frees for reuse
(:func:`gcl.runtime.reuse_memory`; the same training, without the page faults of large
tensors allocated afresh every step); give such a run its own ``--name``.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    RESULTS,
    SETTINGS,
    build_pipeline,
    command_line,
    environment,
    provenance,
    read_records,
    train_config,
    write_json,
)

DIM, LAYERS = SETTINGS["dim"], SETTINGS["layers"]


# ---------------------------------------------------------------------------- one rank
def _status(key: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def worker(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from gcl import distributed
    from gcl.data.sampler import NegativeSampler
    from gcl.datasets.synthetic import power_law_interactions
    from gcl.train import Trainer

    if args.reuse_memory:
        from gcl.runtime import reuse_memory

        reuse_memory()
    torch.set_num_threads(1)
    distributed.init_from_env("gloo")
    world = distributed.world_size()
    t0 = time.process_time()
    log = power_law_interactions(args.interactions, seed=0)
    gen_s = time.process_time() - t0
    gc.collect()
    base = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # resets VmHWM to the current RSS
        f.write("5")

    batch = (args.batch_size if args.steps_per_epoch is None
             else math.ceil(len(log) / (world * args.steps_per_epoch)))
    extra = {} if args.cl_anchors is None else {"cl_anchors": args.cl_anchors}
    method, graph = build_pipeline(log, args.method, precision=args.precision, dim=DIM,
                                   layers=args.layers, **extra)
    # The state an epoch holds for all E pairs: sampler keys, permutation, users, items,
    # negatives (kept alive through the steps, as in a real epoch).
    gen = torch.Generator().manual_seed(0)
    t0 = time.process_time()
    sampler = NegativeSampler(log, generator=gen)
    sampler_s = time.process_time() - t0
    t0 = time.process_time()
    perm = torch.randperm(len(log), generator=gen)
    users = torch.from_numpy(log.users)[perm]
    pos = torch.from_numpy(log.items)[perm]
    neg = sampler.sample(users, 1)
    epoch_setup_s = time.process_time() - t0
    propagate_s = propagate_seconds(graph)

    def run(steps: int) -> float:
        """Seconds of one epoch of exactly :obj:`steps` global batches over the full graph."""
        rows = np.random.default_rng(steps).choice(len(log), steps * world * batch,
                                                   replace=False)
        cfg = train_config(epochs=1, batch_size=batch, seed=0)
        cpu = time.process_time()
        Trainer(method, graph, log.select(rows), cfg).fit()
        return time.process_time() - cpu

    run(args.warmup)
    seconds = run(args.steps)
    peak = _status("VmHWM")
    del perm, users, pos, neg
    step_s = seconds / args.steps
    record = {"rank": distributed.rank(), "peak_bytes": peak, "base_bytes": base,
              "train_bytes": peak - base, "step_seconds": step_s,
              "propagate_seconds": propagate_s}
    gathered = [record]
    if distributed.active():
        import torch.distributed as dist

        gathered = [None] * world
        dist.all_gather_object(gathered, record)
    if distributed.is_main():
        steps_per_epoch = math.ceil(len(log) / (world * batch))
        slowest = max(r["step_seconds"] for r in gathered)
        result = {
            "method": args.method, "interactions": len(log), "users": log.num_users,
            "items": log.num_items, "directed_edges": graph.num_edges, "ranks": world,
            "precision": args.precision, "batch_size_per_rank": batch,
            "torch_threads_per_rank": torch.get_num_threads(), "dim": DIM,
            "layers": args.layers, "cl_anchors": args.cl_anchors,
            "reuse_memory": bool(args.reuse_memory),
            "steps_per_epoch": args.steps_per_epoch,
            "step_clock": "process CPU seconds",
            "warmup_steps": args.warmup, "measured_steps": args.steps,
            "generate_seconds": gen_s, "sampler_build_seconds": sampler_s,
            "measured": {"step_seconds": slowest, "epoch_setup_seconds": epoch_setup_s,
                         "propagate_seconds": max(r["propagate_seconds"] for r in gathered),
                         "peak_bytes_per_rank": max(r["peak_bytes"] for r in gathered),
                         "train_bytes_per_rank": max(r["train_bytes"] for r in gathered),
                         "train_bytes_all_ranks": sum(r["train_bytes"] for r in gathered),
                         "ranks": gathered},
            "derived": {"steps_per_epoch": steps_per_epoch,
                        "epoch_seconds": epoch_setup_s + steps_per_epoch * slowest},
        }
        Path(args.result).write_text(json.dumps(result, indent=1))
    distributed.shutdown()


def propagate_seconds(graph, repeats: int = 3) -> float:
    r"""CPU seconds of one sparse product :math:`\hat{\mathbf{A}}\mathbf{X}` over the
    whole graph (:obj:`[U+I, DIM]`, float32), the mean of :obj:`repeats` after one warm-up."""
    import torch

    x = torch.randn(graph.num_nodes, DIM)
    graph.propagate(x)
    t0 = time.process_time()
    for _ in range(repeats):
        graph.propagate(x)
    return (time.process_time() - t0) / repeats


# ---------------------------------------------------------------------------- the table
def _available_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def run_config(args: argparse.Namespace, method: str, size: int, ranks: int,
               precision: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        cmd = [__file__, "--worker", "--method", method, "--interactions", str(size),
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--batch-size",
               str(args.batch_size), "--precision", precision, "--result", str(result),
               "--layers", str(args.layers)]
        if args.steps_per_epoch is not None:
            cmd += ["--steps-per-epoch", str(args.steps_per_epoch)]
        if args.cl_anchors is not None and method != "lightgcn":
            cmd += ["--cl-anchors", str(args.cl_anchors)]
        if args.reuse_memory:
            cmd += ["--reuse-memory"]
        if ranks > 1:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc_per_node", str(ranks), *cmd]
        else:
            cmd = [sys.executable, *cmd]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env)
        out = json.loads(result.read_text())
        out["wall_seconds"] = time.perf_counter() - t0
        return out


def fit_line(xs: list[float], ys: list[float]) -> dict:
    """Least-squares line y = slope x + intercept, its R^2, and the cost per interaction at
    the smallest and largest x (equal when the cost is linear without a fixed part)."""
    import numpy as np

    x, y = np.asarray(xs, float), np.asarray(ys, float)
    slope, intercept = np.polyfit(x, y, 1)
    pred = slope * x + intercept
    ss = ((y - y.mean()) ** 2).sum()
    r2 = 1.0 - ((y - pred) ** 2).sum() / ss if ss > 0 else 1.0
    exponent = float(np.polyfit(np.log(x), np.log(y), 1)[0]) if (y > 0).all() else None
    return {"slope": float(slope), "intercept": float(intercept), "r2": float(r2),
            "exponent": exponent, "per_interaction_smallest": float(y[0] / x[0]),
            "per_interaction_largest": float(y[-1] / x[-1])}


def _json_path(name: str) -> Path:
    # In a subfolder: the *.json files directly in results/ are the README's dataset tables.
    return RESULTS / name / f"{name}.json"


def _groups(runs: list[dict]) -> dict[tuple, list[dict]]:
    """Runs by (method, ranks, precision), each group by size."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["method"], r["ranks"], r["precision"]), []).append(r)
    for rs in groups.values():
        rs.sort(key=lambda r: r["interactions"])
    return groups


def _fits(groups: dict) -> dict:
    fits = {}
    for key, rs in groups.items():
        if len(rs) < 2:
            continue
        e = [r["interactions"] for r in rs]
        fits["/".join(map(str, key))] = {
            "step_seconds": fit_line(e, [r["measured"]["step_seconds"] for r in rs]),
            "epoch_seconds": fit_line(e, [r["derived"]["epoch_seconds"] for r in rs]),
            "train_bytes_per_rank": fit_line(
                e, [r["measured"]["train_bytes_per_rank"] for r in rs]),
        }
    return fits


def _key(r: dict) -> str:
    return f"{r['method']}/{r['precision']}/{r['ranks']}/{r['interactions']}"


def load_saved(name: str) -> tuple[list[dict], list[str]]:
    """(runs, skipped configurations) of the results file, in either layout: keyed records
    (a skipped configuration is a record with ``skipped``), or the older ``{"meta", "runs",
    "fits"}``, whose meta goes into each run's ``env``."""
    path = _json_path(name)
    raw = json.loads(path.read_text())
    records = list(read_records(path).values())
    skipped = raw["meta"].get("skipped", []) if "meta" in raw else [
        r["skipped"] for r in records if "skipped" in r]
    runs = [r for r in records if "skipped" not in r]
    for r in runs:
        r.setdefault("command", r["env"]["command"])
        if "meta" in raw:  # the older layout kept the batch rule in the meta only
            r.setdefault("steps_per_epoch", raw["meta"].get("steps_per_epoch"))
    return runs, skipped


def page_meta(runs: list[dict], skipped: list[str]) -> dict:
    """What the page says of all runs, from their records."""
    envs = [r["env"] for r in runs]
    first = runs[0] if runs else {}
    return {"commands": list(dict.fromkeys(r["command"] for r in runs)),
            "date": max((e.get("when") or "" for e in envs), default=""),
            "machine": ", ".join(dict.fromkeys(str(e.get("cpu")) for e in envs)),
            "cpus": next((e["cpus"] for e in envs if e.get("cpus")), os.cpu_count()),
            "dim": first.get("dim", DIM), "layers": first.get("layers", LAYERS),
            "batch_size_per_rank": first.get("batch_size_per_rank"),
            "steps_per_epoch": first.get("steps_per_epoch"),
            "cl_anchors": next((r["cl_anchors"] for r in runs if r.get("cl_anchors")), None),
            "reuse_memory": any(r.get("reuse_memory") for r in runs),
            "warmup_steps": first.get("warmup_steps"),
            "measured_steps": first.get("measured_steps"), "skipped": skipped,
            "commits": provenance(runs).split(";")[0]}


def write_results(args: argparse.Namespace, runs: list[dict], skipped: list[str],
                  save: bool = True) -> None:
    """The JSON (keyed records: the runs, and one per skipped configuration), the page and
    the plot."""
    if save:
        command = command_line("scale.py", args.argv, prefix="nice -n 5 python")
        records = {_key(r): r for r in runs}
        records.update({f"skipped/{n}": {"skipped": text, "command": command,
                                         "env": environment(1, command)}
                        for n, text in enumerate(skipped)})
        write_json(_json_path(args.name), records, indent=1)
    groups = _groups(runs)
    stem = RESULTS / args.name
    stem.with_suffix(".md").write_text(_markdown(page_meta(runs, skipped), runs,
                                                 _fits(groups), args.name))
    _plot(stem.with_suffix(".png"), groups)


def model_bytes(r: dict) -> float:
    """The memory model of ``docs/scaling.md`` for one run's training memory per rank
    (what ``train_bytes`` measures: everything but the log itself), in bytes."""
    e, n, d, layers = r["interactions"], r["users"] + r["items"], r["dim"], r["layers"]
    # per interaction: scipy CSR (2 nnz x int32 index + float32), torch CSR (2 x int64 +
    # float32), sampler keys (int64), epoch permutation, users, positives, negatives (int64)
    per_edge = 2 * (4 + 4) + 2 * (8 + 4) + 8 + 4 * 8
    # per node: table, gradient, Adam's two moments (float32); the forward peak holds
    # L propagated layers, their stack of L+1 and the mean: (2L+2) rows of d values
    half = r["precision"] != "fp32"
    act = (2 * layers + 2) * (2 if half else 4) * d + (8 * d if half else 0)
    per_node = 16 * d + act + 12  # + the two CSR row pointers
    if r["method"] == "xsimgcl":
        per_node += 4 * d  # the noise added to each layer
    if r["ranks"] > 1:
        per_node += 4 * d  # DDP's gradient bucket, a copy of the gradient
    return e * per_edge + n * per_node


def _ns_per_edge(r: dict) -> str:
    """One sparse product's CPU nanoseconds per directed edge, or "-" for runs before it was
    measured."""
    seconds = r["measured"].get("propagate_seconds")
    return "-" if seconds is None else f"{seconds / r['directed_edges'] * 1e9:.1f}"


def _mib(b: float) -> str:
    return f"{b / 2**20:,.0f}"


def _markdown(meta: dict, runs: list[dict], fits: dict, name: str = "scale") -> str:
    lines = [
        "# Scale: time and memory against interactions",
        "",
        "Written by " + " then ".join(f"`{c}`" for c in meta["commands"])
        + f" (each run's command is in {name}/{name}.json; {meta['commits']}), last on "
        f"{meta['date']} "
        f"({meta['machine']}, "
        f"{meta['cpus']} CPU(s) shared with other work, **1 torch thread per rank**, gloo "
        "for 2 ranks). Synthetic power-law logs from "
        "`gcl.datasets.synthetic.power_law_interactions(E, seed=0)` (E/25 users, E/50 "
        f"items); dim {meta['dim']}, {meta['layers']} layers, "
        + (f"batch {meta['batch_size_per_rank']} per rank (a step of 2 ranks trains "
           f"{2 * meta['batch_size_per_rank']} triples)."
           if not meta.get("steps_per_epoch") else
           f"the batch grown with the log: {meta['steps_per_epoch']} steps per epoch at every "
           "size (each run's batch is in the JSON)"
           + (f", at most {meta['cl_anchors']} users and items contrasted per step "
              "(`cl_anchors`)." if meta.get("cl_anchors") else "."))
        + (" Every rank keeps the memory it frees for reuse (`reuse_memory`, "
           "`gcl.runtime.reuse_memory`)." if meta.get("reuse_memory") else ""),
        "",
        "**Measured**: seconds per step (mean of "
        f"{meta['measured_steps']} steps after {meta['warmup_steps']} warm-up steps; with 2 "
        "ranks, the slower rank), the epoch set-up (permutation and negative sampling of all "
        "E pairs), and peak resident memory per rank (VmHWM reset after the log is generated; "
        "`train MiB` is the peak minus the process's memory before the graph was built). "
        "**Derived**: epoch time = set-up + steps per epoch x seconds per step (no full "
        "epoch was run).",
        "",
        "| method | precision | ranks | interactions | users | items | s/step (measured) "
        "| epoch set-up s (measured) | steps/epoch | epoch s (derived) | propagate ns/edge "
        "(measured) | peak MiB/rank (measured) | train MiB/rank (measured) | train MiB/rank "
        "(model) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(runs, key=lambda r: (r["method"], r["precision"], r["ranks"],
                                         r["interactions"])):
        m, d = r["measured"], r["derived"]
        lines.append(
            f"| {r['method']} | {r['precision']} | {r['ranks']} | {r['interactions']:,} | "
            f"{r['users']:,} | {r['items']:,} | {m['step_seconds']:.3f} | "
            f"{m['epoch_setup_seconds']:.2f} | {d['steps_per_epoch']:,} | "
            f"{d['epoch_seconds']:,.0f} | {_ns_per_edge(r)} | "
            f"{_mib(m['peak_bytes_per_rank'])} | "
            f"{_mib(m['train_bytes_per_rank'])} | {_mib(model_bytes(r))} |")
    lines += ["", "## Linear fits (least squares over the sizes above)", "",
              "| method / ranks / precision | s/step per 1M interactions | R^2 "
              "| epoch s per 1M interactions | R^2 | epoch s exponent (log-log) "
              "| train bytes per interaction (slope) | R^2 | intercept MiB |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key, f in fits.items():
        s, e, b = f["step_seconds"], f["epoch_seconds"], f["train_bytes_per_rank"]
        exponent = "-" if e.get("exponent") is None else f"{e['exponent']:.2f}"
        lines.append(f"| {key} | {s['slope'] * 1e6:.3f} | {s['r2']:.4f} | "
                     f"{e['slope'] * 1e6:,.1f} | {e['r2']:.4f} | {exponent} | "
                     f"{b['slope']:.0f} | {b['r2']:.4f} | {_mib(b['intercept'])} |")
    lines += ["", "Seconds per step and bytes grow linearly in the interactions when R^2 is "
              "near 1 and the per-interaction cost at the largest size is not above that at "
              "the smallest (a fixed part makes the small sizes dearer per interaction):", ""]
    for key, f in fits.items():
        for what in ("step_seconds", "train_bytes_per_rank"):
            g = f[what]
            verdict = ("linear" if g["r2"] > 0.99 and g["per_interaction_largest"]
                       <= 1.1 * g["per_interaction_smallest"] else "not clearly linear")
            lines.append(f"- {key}, {what}: per interaction {g['per_interaction_smallest']:.3g}"
                         f" at the smallest size, {g['per_interaction_largest']:.3g} at the "
                         f"largest, R^2 {g['r2']:.4f}: {verdict}.")
    lines += ["", "`propagate ns/edge` is the CPU time of one sparse product of the whole "
              "normalised graph with a float32 `[U+I, 64]` table, per directed edge (mean of 3 "
              "after a warm-up): the same work per edge at every size, so where it rises with "
              "the size, the memory hierarchy (the table outgrowing the caches) and not the "
              "number of operations makes a step dearer per interaction. From the smallest "
              "size to the largest:", ""]
    for (method, ranks, precision), rs in sorted(_groups(runs).items()):
        small, large = rs[0], rs[-1]
        ns = [r["measured"].get("propagate_seconds") for r in (small, large)]
        if len(rs) < 2 or None in ns:
            continue
        step = [r["measured"]["step_seconds"] / r["interactions"] for r in (small, large)]
        lines.append(f"- {method}/{ranks}/{precision}: seconds per step per interaction x"
                     f"{step[1] / step[0]:.2f}, propagation seconds per edge x"
                     f"{ns[1] / large['directed_edges'] / (ns[0] / small['directed_edges']):.2f}.")
    if meta.get("steps_per_epoch"):
        lines += ["", "An epoch here has the same number of steps at every size, so its time "
                  "grows as the seconds per step do. Derived epoch seconds per million "
                  "interactions:", ""]
        power = 1
    else:
        lines += ["", "The epoch time is not linear: an epoch has E / (ranks x batch) steps "
                  "and each step propagates the whole graph, so at a fixed batch size it "
                  "grows as E^2. Derived epoch seconds per (million interactions)^2:", ""]
        power = 2
    for r in sorted(runs, key=lambda r: (r["method"], r["precision"], r["ranks"],
                                         r["interactions"])):
        lines.append(f"- {r['method']} {r['precision']} {r['ranks']} rank(s), "
                     f"{r['interactions']:,}: "
                     f"{r['derived']['epoch_seconds'] / (r['interactions'] / 1e6) ** power:,.0f}")
    lines += ["", "## What fits in memory", "",
              "Interactions whose training fits in a machine's memory (per rank), from the "
              "linear fit of the measured peak (`peak = intercept + slope x E`, same shape of "
              "log: E/25 users, E/50 items, dim 64), leaving 10% free:", "",
              "| method / ranks / precision | bytes per interaction (slope) | 16 GiB | 64 GiB "
              "| 256 GiB |", "|---|---:|---:|---:|---:|"]
    for key, rs in sorted(_groups(runs).items()):
        if len(rs) < 2:
            continue
        g = fit_line([r["interactions"] for r in rs],
                     [r["measured"]["peak_bytes_per_rank"] for r in rs])
        cells = [f"{(0.9 * gib * 2**30 - g['intercept']) / g['slope'] / 1e6:,.0f}M"
                 for gib in (16, 64, 256)]
        lines.append(f"| {'/'.join(map(str, key))} | {g['slope']:.0f} | " + " | ".join(cells)
                     + " |")
    if meta["skipped"]:
        lines += ["", "Not run: " + "; ".join(meta["skipped"]) + "."]
    lines += ["", "`train MiB/rank (model)` is the memory model of `docs/scaling.md` "
              "(`model_bytes` in this script), computed from the sizes, not measured."]
    lines += ["", "![time and memory against interactions](scale.png)", ""]
    return "\n".join(lines)


def _plot(path: Path, groups: dict) -> None:
    try:
        import matplotlib
    except ImportError:
        print("no matplotlib (pip install 'gcl[plot]'): scale.png not written")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for (method, ranks, precision), rs in sorted(groups.items()):
        e = [r["interactions"] / 1e6 for r in rs]
        label = f"{method}, {ranks} rank{'s' if ranks > 1 else ''}, {precision}"
        ax1.plot(e, [r["measured"]["step_seconds"] for r in rs], "o-", label=label)
        ax2.plot(e, [r["measured"]["train_bytes_per_rank"] / 2**30 for r in rs], "o-",
                 label=label)
    ax1.set(xlabel="interactions (millions)", ylabel="seconds per step (measured)",
            title="time per training step, 1 thread per rank")
    ax2.set(xlabel="interactions (millions)", ylabel="GiB per rank (measured peak)",
            title="training memory per rank")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000, 20_000_000])
    p.add_argument("--methods", nargs="+", default=["lightgcn", "xsimgcl"])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--half-sizes", type=int, nargs="*", default=[1_000_000, 5_000_000],
                   help="sizes at which LightGCN also runs with bf16 propagation (1 rank)")
    p.add_argument("--steps", type=int, default=10, help="measured steps per configuration")
    p.add_argument("--warmup", type=int, default=2, help="steps before the measured ones")
    p.add_argument("--batch-size", type=int, default=2048, help="per rank")
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help="grow the batch with the log: this many steps per epoch at every size")
    p.add_argument("--layers", type=int, default=LAYERS, help="propagation layers")
    p.add_argument("--cl-anchors", type=int, default=None,
                   help="cl_anchors of the contrastive methods (users and items per step)")
    p.add_argument("--reuse-memory", action="store_true",
                   help="every rank keeps the memory it frees for reuse "
                   "(gcl.runtime.reuse_memory)")
    p.add_argument("--name", default="scale", help="results file stem")
    p.add_argument("--resume", action="store_true",
                   help="keep the runs already in the results file and run only the others")
    p.add_argument("--render", action="store_true",
                   help="only rewrite scale.md and scale.png from the runs in scale/scale.json")
    p.add_argument("--memory-share", type=float, default=0.6,
                   help="skip a configuration whose predicted peak exceeds this share of "
                   "the available memory")
    # worker mode (one rank of one configuration)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--method", help=argparse.SUPPRESS)
    p.add_argument("--interactions", type=int, help=argparse.SUPPRESS)
    p.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    args.argv = sys.argv[1:]
    if args.render:
        write_results(args, *load_saved(args.name), save=False)
        return
    configs = [(m, s, r, "fp32") for m in args.methods for r in args.ranks for s in args.sizes]
    configs += [("lightgcn", s, 1, "bf16") for s in args.half_sizes]
    runs, skipped, seen = [], [], {}
    command = command_line("scale.py", args.argv, prefix="nice -n 5 python")
    saved_path = _json_path(args.name)
    if args.resume and saved_path.is_file():
        runs, skipped = load_saved(args.name)
    done = {(r["method"], r["interactions"], r["ranks"], r["precision"]) for r in runs}
    for method, size, ranks, precision in configs:
        if (method, size, ranks, precision) in done:
            continue
        known = sorted(seen.get((method, precision, ranks), []))
        if known:  # predicted from the sizes already run: the last peak plus the slope
            (e0, p0), (e1, p1) = known[-2] if len(known) > 1 else (0, 0), known[-1]
            need = ranks * (p1 + (p1 - p0) / (e1 - e0) * (size - e1))
            if need > args.memory_share * _available_bytes():
                skipped.append(f"{method} {precision} {ranks} rank(s) at {size:,} "
                               f"(predicted {need / 2**30:.1f} GiB, more than "
                               f"{args.memory_share:.0%} of the memory available)")
                print("skipped:", skipped[-1], flush=True)
                continue
        print(f"{method} {precision} {ranks} rank(s), {size:,} interactions ...", flush=True)
        r = run_config(args, method, size, ranks, precision)
        r["command"] = command
        r["env"] = environment(1, command)  # one torch thread per rank
        m = r["measured"]
        seen.setdefault((method, precision, ranks), []).append((size, m["peak_bytes_per_rank"]))
        print(f"  {m['step_seconds']:.3f} s/step, epoch {r['derived']['epoch_seconds']:.0f} s "
              f"(derived), peak {_mib(m['peak_bytes_per_rank'])} MiB/rank, "
              f"wall {r['wall_seconds']:.0f} s", flush=True)
        runs.append(r)
        write_results(args, runs, skipped)  # a partial table survives an interrupted run
    print(f"wrote {RESULTS / args.name}.md, .json, .png")


if __name__ == "__main__":
    main()
