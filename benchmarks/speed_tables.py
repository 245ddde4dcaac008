"""Writes ``results/speed.md`` (or ``gpu.md``) from its JSON (called by ``speed.py``).

On CPU the tables lead with CPU seconds of the (one-thread) process, which do not count
the time other processes of a shared machine hold the core; wall seconds come next to them.
On a GPU they show wall seconds (with the device synchronised around each timing).
"""
from __future__ import annotations


def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _on_cpu(part: dict) -> bool:
    return part["env"].get("device", "cpu") == "cpu"


def _made(part: dict) -> str:
    env = part["env"]
    where = f"GPU {env['gpu']}, CUDA {env['cuda']}, " if env.get("gpu") else ""
    cpu = f"{env['cpu']}, " if env.get("cpu") else ""
    commit = f"commit {env['commit']}, " if env.get("commit") else ""
    return (f"Made by `{part['command']}` ({commit}{part['when']}, {where}{cpu}"
            f"{env['threads']} torch thread(s), torch {env['torch']}, {env['cpus']} CPUs).")


def micro(part: dict) -> list[str]:
    r, cpu = part["results"], _on_cpu(part)
    unit = "CPU s" if cpu else "s"
    lines = ["## Propagation", "", f"One product over gowalla's train graph ({r['nodes']:,} "
             f"nodes, {r['edges']:,} directed edges, X of shape [N, {r['dim']}]), median of "
             "repeated runs. " + _made(part), "",
             f"| backend | forward {unit} | forward+backward {unit} | fwd+bwd / scipy forward "
             "| forward s (wall) | forward+backward s (wall) |", "|---|---|---|---|---|---|"]
    for name, b in r["backends"].items():
        if "forward_s" not in b:
            lines.append(f"| {name} | {b['status']} | | | | |")
            continue
        ratio = b.get("fb_over_scipy_forward_cpu" if cpu else "fb_over_scipy_forward")
        lines.append(f"| {name} | {_f(b.get('forward_cpu_s' if cpu else 'forward_s'), 4)} | "
                     f"{_f(b.get('forward_backward_cpu_s' if cpu else 'forward_backward_s'), 4)}"
                     f" | {_f(ratio)} | {_f(b['forward_s'], 4)} | "
                     f"{_f(b['forward_backward_s'], 4)} |")
    lines += ["", f"`backend=\"auto\"` picked `{r['auto_picks']}` here, in "
              f"{r['auto_seconds']:.2f} s.", ""]
    return lines


def methods(part: dict, peer: dict | None) -> list[str]:
    r, cpu = part["results"], _on_cpu(part)
    pre = "cpu_" if cpu else ""
    names = list(dict.fromkeys(k.split("@")[0] for k in r))
    batches = sorted({int(k.split("@")[1]) for k in r})
    unit = "CPU s" if cpu else "s"
    head = "| method | " + " | ".join(f"{unit}/batch @{b} | {unit}/epoch @{b}"
                                       for b in batches) + " | views s/epoch | " + \
        " | ".join(f"wall s/epoch @{b}" for b in batches) + " | peak RSS MB |"
    lines = ["## Seconds per epoch, gowalla", "",
             "*Measured*: seconds per batch of the real training loop (`gcl.train.Trainer`) "
             "over the full graph, timed over a fixed number of batches after a warm-up, and "
             "the per-epoch view building (`Method.new_epoch`) timed alone. *Derived*: "
             "s/epoch = views + batches per epoch x s/batch (every s/epoch column here is "
             "derived). The large batch runs with the learning rate scaled by the batch "
             "ratio. " + _made(part), "", head,
             "|---|" + "---|---|" * len(batches) + "---|" + "---|" * len(batches) + "---|"]
    for n in names:
        cells, walls, rss = [], [], 0.0
        for b in batches:
            x = r.get(f"{n}@{b}")
            if x is None:
                cells += ["-", "-"]
                walls.append("-")
                continue
            cells += [_f(x[f"{pre}seconds_per_batch"], 3),
                      _f(x[f"{pre}seconds_per_epoch_derived"], 1)]
            walls.append(_f(x["seconds_per_epoch_derived"], 1))
            rss = max(rss, x["peak_rss_mb"])
        first = r.get(f"{n}@{batches[0]}", {})
        views = first.get(f"new_epoch_{pre}seconds", first.get("new_epoch_seconds"))
        gpu = max((x.get("peak_gpu_mb") or 0.0 for k, x in r.items()
                   if k.startswith(f"{n}@")), default=0.0)
        rss_cell = f"{rss:.0f}" + (f" (GPU {gpu:.0f})" if gpu else "")
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {_f(views)} | "
                     + " | ".join(walls) + f" | {rss_cell} |")
    if cpu and peer is not None and "LightGCN" in peer["results"]:
        g = peer["results"]["LightGCN"]["gcl"]
        derived = r.get(f"lightgcn@{batches[0]}", {}).get("cpu_seconds_per_epoch_derived")
        lines += ["", f"Check of the derivation: one full LightGCN epoch at batch "
                  f"{g['batch_size']} was *measured* at {g['cpu_seconds_per_epoch']:.1f} CPU s "
                  f"({g['seconds_per_epoch']:.1f} s wall) in the gowalla peer run below; "
                  f"derived here: {_f(derived, 1)} CPU s."]
    return lines + [""]


def evaluation(part: dict) -> list[str]:
    r = part["results"]
    lines = ["## Full-ranking evaluation, gowalla", "",
             "All test users over all items, train items masked, top-20 "
             "(`gcl.metrics.evaluate`, random embeddings: the time does not depend on their "
             "values), median of 2 runs. " + _made(part), "",
             "| users per block | CPU s | wall s | users |", "|---|---|---|---|"]
    lines += [f"| {b} | {_f(x.get('cpu_seconds'))} | {_f(x['seconds'])} | {x['users']:,} |"
              for b, x in r.items()]
    return lines + [""]


def _commands(part: dict) -> str:
    """The commands of a peer part's models, where they differ from the part's."""
    cmds = list(dict.fromkeys(x.get("command", part["command"])
                              for x in part["results"].values()))
    if cmds == [part["command"]]:
        return ""
    rows = []
    for c in cmds:
        models = [m for m, x in part["results"].items() if x.get("command", part["command"]) == c]
        rows.append(f"{', '.join(models)}: `{c}`")
    return " Rows made by " + "; ".join(rows) + "."


def peer(key: str, part: dict) -> list[str]:
    r = part["results"]
    dataset = key.removeprefix("peer_")
    any_r = next(iter(r.values()))
    lines = [f"## Side by side with RecBole, {dataset}", "",
             f"RecBole {any_r['recbole']['peer'].split()[-1]} and gcl, one after the other, "
             "same split, dim 64, 3 layers, lr 1e-3, batch 2048, L2 1e-4, one uniform "
             "negative, seed 0, one thread. `speedup_vs_recbole` = RecBole's CPU s/epoch / "
             "gcl's (the wall-clock ratio is next to it). Recall@20 / NDCG@20 of both are "
             "scored by gcl's evaluation after the same epochs. " + _made(part)
             + _commands(part), "",
             "| model (gcl) | how measured | RecBole CPU s/epoch | gcl CPU s/epoch | "
             "speedup_vs_recbole | wall ratio | RecBole R@20 | gcl R@20 | R@20 ratio | "
             "RecBole N@20 | gcl N@20 | N@20 ratio | peak RSS MB RecBole / gcl |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for model, x in r.items():
        t, o = x["recbole"], x["gcl"]
        lines.append(f"| {model} ({o['method']}) | {o['measured']} | "
                     f"{_f(t['cpu_seconds_per_epoch'], 1)} | {_f(o['cpu_seconds_per_epoch'], 1)} "
                     f"| **{_f(x['speedup_vs_recbole'])}x** | "
                     f"{_f(x['speedup_vs_recbole_wall'])}x | {_f(t.get('recall@20'), 4)} | "
                     f"{_f(o.get('recall@20'), 4)} | {_f(x.get('recall@20_ratio'))} | "
                     f"{_f(t.get('ndcg@20'), 4)} | {_f(o.get('ndcg@20'), 4)} | "
                     f"{_f(x.get('ndcg@20_ratio'))} | "
                     f"{t['peak_rss_mb']:.0f} / {o['peak_rss_mb']:.0f} |")
    big = [(m, x["gcl_big_batch"]) for m, x in r.items() if "gcl_big_batch" in x]
    if big:
        lines += ["", "gcl at the large batch (learning rate scaled by the batch ratio), the "
                  "same epochs, against the same RecBole runs:", "",
                  "| model (gcl) | batch | lr | CPU s/epoch | speedup_vs_recbole | R@20 | "
                  "R@20 ratio | N@20 | N@20 ratio |", "|---|---|---|---|---|---|---|---|---|"]
        for m, b in big:
            t = r[m]["recbole"]
            lines.append(f"| {m} ({b['method']}) | {b['batch_size']} | {b['lr']:g} | "
                         f"{_f(b['cpu_seconds_per_epoch'], 1)} | "
                         f"**{_f(b['speedup_vs_recbole'])}x** | {_f(b['recall@20'], 4)} | "
                         f"{_f(b['recall@20'] / t['recall@20'])} | {_f(b['ndcg@20'], 4)} | "
                         f"{_f(b['ndcg@20'] / t['ndcg@20'])} |")
    return lines + [""]


def batch_quality(part: dict) -> list[str]:
    r = part["results"]
    any_r = next(iter(r.values()))
    b = any_r["batch_size"]
    lines = [f"## Does batch {b} keep quality? ml-100k", "",
             f"Each method at batch {b} with the learning rate scaled by {b // 2048} "
             "(early stopping on valid NDCG@20, patience 10, within a budget of CPU "
             "seconds of the process: a run that used it all may not have converged), "
             "against batch 2048 / lr 1e-3 from `results/ml-100k.json` (its command below), "
             "each method at its own depth, L2 weight and start as in `run.py`. Test "
             "metrics of the best valid epoch. " + _made(part) + _commands(part), "",
             f"| method | R@20 @2048 | N@20 @2048 | epochs | fit CPU s | R@20 @{b} | "
             f"N@20 @{b} | epochs | fit CPU s | budget CPU s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    cmd = None
    for m, x in r.items():
        a = x.get("batch_2048", {})
        cmd = a.get("command", cmd)
        lines.append(f"| {m} | {_f(a.get('recall@20'), 4)} | {_f(a.get('ndcg@20'), 4)} | "
                     f"{a.get('epochs', '-')} | {_f(a.get('fit_seconds'), 0)} | "
                     f"{_f(x['recall@20'], 4)} | {_f(x['ndcg@20'], 4)} | {x['epochs']} | "
                     f"{_f(x['fit_seconds'], 0)} | {x['budget_s']:.0f} |")
    if cmd:
        cpus = sorted({x["batch_2048"]["cpu"] for x in r.values()
                       if x.get("batch_2048", {}).get("cpu")})
        lines += ["", f"Batch 2048 rows made by `{cmd}` (CPU seconds of the process"
                  + (f", on {', '.join(cpus)}" if cpus else "")
                  + "): compare CPU seconds only between rows of one machine."]
    return lines + [""]


def write_markdown(results: dict) -> str:
    lines = ["# Speed", "", "Written by `python benchmarks/speed.py` from its JSON file; "
             "each section names the command that made it."]
    if "micro" in results and not _on_cpu(results["micro"]):
        lines[0] = "# Speed on a GPU"
    else:
        lines[-1] += (" CPU timings on a shared 2-core machine: compare speeds only within "
                      "one section, and prefer the CPU seconds.")
    lines.append("")
    if "micro" in results:
        lines += micro(results["micro"])
    if "methods" in results:
        lines += methods(results["methods"], results.get("peer_gowalla"))
    if "eval" in results:
        lines += evaluation(results["eval"])
    for key in sorted(k for k in results if k.startswith("peer_")):
        lines += peer(key, results[key])
    if "batch" in results:
        lines += batch_quality(results["batch"])
    return "\n".join(lines).rstrip() + "\n"


README_START, README_END = "<!-- speed:start -->", "<!-- speed:end -->"


def _yes(ok: bool) -> str:
    return "**reached**" if ok else "**not reached**"


def _verdict(speedup: float, ratios: dict) -> str:
    fast = f"{speedup:.2f}x {_yes(speedup >= 3)}"
    if "recall@20_ratio" not in ratios:
        return f"{fast}; quality not measured here"
    r, n = ratios["recall@20_ratio"], ratios["ndcg@20_ratio"]
    return f"{fast}; quality {r:.2f} / {n:.2f} {_yes(r >= 1 and n >= 1)}"


def readme_block(results: dict) -> str:
    """The README's Performance tables and targets, from ``speed.json``."""
    lines = []
    peers = [(k.removeprefix("peer_"), results[k]) for k in sorted(results, reverse=True)
             if k.startswith("peer_")]
    if peers:
        lines += ["| data | model (gcl) | how measured | RecBole CPU s/epoch | gcl CPU s/epoch "
                  "| speedup_vs_recbole | R@20 / N@20 vs RecBole | gcl @8192: speedup | "
                  "R@20 / N@20 vs RecBole |", "|---|---|---|---|---|---|---|---|---|"]
        for data, part in peers:
            for model, x in part["results"].items():
                t, o, b = x["recbole"], x["gcl"], x.get("gcl_big_batch")
                q = (f"{_f(x['recall@20_ratio'])} / {_f(x['ndcg@20_ratio'])}"
                     if "recall@20_ratio" in x else "not measured")
                big = ("-", "-") if b is None else (
                    f"{_f(b['speedup_vs_recbole'])}x",
                    f"{_f(b['recall@20'] / t['recall@20'])} / {_f(b['ndcg@20'] / t['ndcg@20'])}")
                lines.append(f"| {data} | {model} ({o['method']}) | {o['measured']} | "
                             f"{_f(t['cpu_seconds_per_epoch'], 1)} | "
                             f"{_f(o['cpu_seconds_per_epoch'], 1)} | "
                             f"{_f(x['speedup_vs_recbole'])}x | {q} | {big[0]} | {big[1]} |")
        cmds = dict.fromkeys(x.get("command", p["command"]) for _, p in peers
                             for x in p["results"].values())
        lines += ["", "Made by " + ", ".join(f"`{c}`" for c in cmds) + "."]
    if "methods" in results:
        part = results["methods"]
        r = part["results"]
        batches = sorted({int(k.split("@")[1]) for k in r})
        lines += ["", "Every method on gowalla, CPU seconds per epoch derived from a fixed "
                  "number of timed batches (see speed.md), one thread:", "",
                  "| method | " + " | ".join(f"batch {b}" for b in batches) +
                  " | peak RSS MB |", "|---|" + "---|" * len(batches) + "---|"]
        for n in dict.fromkeys(k.split("@")[0] for k in r):
            cells = [_f(r[f"{n}@{b}"]["cpu_seconds_per_epoch_derived"], 1)
                     if f"{n}@{b}" in r else "-" for b in batches]
            rss = max(x["peak_rss_mb"] for k, x in r.items() if k.startswith(f"{n}@"))
            lines.append(f"| {n} | " + " | ".join(cells) + f" | {rss:.0f} |")
        lines += ["", f"Made by `{part['command']}`."]
    lines += ["", "Targets:", ""]
    speedups = [(f"{d}/{m}", x) for d, p in peers for m, x in p["results"].items()]
    if speedups:
        lines.append("- Every method at least 3x faster per epoch than RecBole's same model, "
                     "at equal or better Recall@20 and NDCG@20 after the same epochs (RecBole "
                     "has LightGCN and SGL; quality ratios are gcl / RecBole):")
        for name, x in speedups:
            lines.append(f"  - {name}, batch 2048: " + _verdict(x["speedup_vs_recbole"], x))
            if "gcl_big_batch" in x:
                b, t = x["gcl_big_batch"], x["recbole"]
                q = {"recall@20_ratio": b["recall@20"] / t["recall@20"],
                     "ndcg@20_ratio": b["ndcg@20"] / t["ndcg@20"]}
                lines.append(f"  - {name}, batch {b['batch_size']}: "
                             + _verdict(b["speedup_vs_recbole"], q))
    if "micro" in results:
        b = results["micro"]["results"]["backends"]["torch"]
        ratio = b.get("fb_over_scipy_forward_cpu", b.get("fb_over_scipy_forward"))
        lines.append(f"- Forward+backward propagation within 2.5x of one scipy CSR forward "
                     f"product: {_yes(ratio <= 2.5)} ({ratio:.2f}x with the default `torch` "
                     "backend).")
    if "eval" in results:
        e = results["eval"]["results"]["1024"]
        lines.append(f"- Full-ranking evaluation of all {e['users']:,} gowalla users under "
                     f"10 s: {_yes(e['cpu_seconds'] < 10)} ({e['cpu_seconds']:.1f} CPU s, "
                     f"{e['seconds']:.1f} s wall on the shared machine).")
    return "\n".join(lines) + "\n"


def replace_readme_block(readme: str, block: str) -> str:
    """:obj:`readme` with the text between the speed markers replaced by :obj:`block`."""
    if README_START not in readme or README_END not in readme:
        raise ValueError(f"the README has no {README_START} ... {README_END} block")
    head, rest = readme.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    return f"{head}{README_START}\n\n{block}\n{README_END}{tail}"
