"""Writes ``results/speed.md`` from ``results/speed.json`` (called by ``speed.py``)."""
from __future__ import annotations


def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _made(part: dict) -> str:
    env = part["env"]
    where = f"GPU {env['gpu']}, CUDA {env['cuda']}, " if env.get("gpu") else ""
    return (f"Made by `{part['command']}` ({part['when']}, {where}{env['threads']} torch "
            f"thread(s), torch {env['torch']}, {env['cpus']} CPUs).")


def micro(part: dict) -> list[str]:
    r = part["results"]
    lines = ["## Propagation", "", f"One product over gowalla's train graph ({r['nodes']:,} "
             f"nodes, {r['edges']:,} directed edges, X of shape [N, {r['dim']}]), median of "
             "repeated runs. " + _made(part), "",
             "| backend | forward s | forward+backward s | fwd+bwd / scipy forward |",
             "|---|---|---|---|"]
    for name, b in r["backends"].items():
        if "forward_s" not in b:
            lines.append(f"| {name} | {b['status']} | | |")
            continue
        lines.append(f"| {name} | {_f(b['forward_s'], 4)} | {_f(b['forward_backward_s'], 4)} "
                     f"| {_f(b.get('fb_over_scipy_forward'))} |")
    lines += ["", f"`backend=\"auto\"` picked `{r['auto_picks']}` here, in "
              f"{r['auto_seconds']:.2f} s.", ""]
    return lines


def methods(part: dict, peer: dict | None) -> list[str]:
    r = part["results"]
    names = list(dict.fromkeys(k.split("@")[0] for k in r))
    batches = sorted({int(k.split("@")[1]) for k in r})
    head = "| method | " + " | ".join(f"s/batch @{b} | s/epoch @{b} (derived)"
                                       for b in batches) + " | views s/epoch | peak RSS MB |"
    lines = ["## Seconds per epoch, gowalla", "",
             "Measured: seconds per batch of the real training loop over the full graph, "
             "timed over a fixed number of batches after a warm-up, and the per-epoch view "
             "building timed alone. Derived: s/epoch = views + batches per epoch x s/batch. "
             "The large batch runs with the learning rate scaled by the batch ratio. "
             + _made(part), "", head, "|---|" + "---|---|" * len(batches) + "---|---|"]
    for n in names:
        cells, rss = [], 0.0
        for b in batches:
            x = r.get(f"{n}@{b}")
            cells += ["-", "-"] if x is None else [_f(x["seconds_per_batch"], 3),
                                                   _f(x["seconds_per_epoch_derived"], 1)]
            rss = max(rss, 0.0 if x is None else x["peak_rss_mb"])
        views = r.get(f"{n}@{batches[0]}", {}).get("new_epoch_seconds")
        gpu = max((x.get("peak_gpu_mb") or 0.0 for k, x in r.items()
                   if k.startswith(f"{n}@")), default=0.0)
        rss_cell = f"{rss:.0f}" + (f" (GPU {gpu:.0f})" if gpu else "")
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {_f(views)} | {rss_cell} |")
    if peer is not None and "LightGCN" in peer["results"]:
        measured = peer["results"]["LightGCN"]["gcl"]["seconds_per_epoch"]
        derived = r.get(f"lightgcn@{batches[0]}", {}).get("seconds_per_epoch_derived")
        lines += ["", f"Check of the derivation: one full LightGCN epoch at batch "
                  f"{batches[0]} was *measured* at {measured:.1f} s in the peer run below "
                  f"(derived here: {_f(derived, 1)} s; the two ran at different moments of "
                  "a shared machine)."]
    return lines + [""]


def evaluation(part: dict) -> list[str]:
    r = part["results"]
    lines = ["## Full-ranking evaluation, gowalla", "",
             "All test users over all items, train items masked, top-20 "
             "(`gcl.metrics.evaluate`). " + _made(part), "",
             "| users per block | seconds | users |", "|---|---|---|"]
    lines += [f"| {b} | {_f(x['seconds'])} | {x['users']:,} |" for b, x in r.items()]
    return lines + [""]


def peer(key: str, part: dict) -> list[str]:
    r = part["results"]
    dataset = key.removeprefix("peer_")
    any_r = next(iter(r.values()))
    lines = [f"## Side by side with RecBole, {dataset}", "",
             f"RecBole {any_r['recbole']['peer'].split()[-1]} and gcl, one after the other, "
             f"{any_r['gcl']['epochs']} full epoch(s) each, same split, dim 64, 3 layers, "
             "lr 1e-3, batch 2048, L2 1e-4, seed 0; seconds per epoch *measured*; "
             "Recall@20 / NDCG@20 of both scored by gcl's evaluation. " + _made(part), "",
             "| model (gcl) | RecBole s/epoch | gcl s/epoch | speedup_vs_recbole | "
             "RecBole R@20 | gcl R@20 | R@20 ratio | RecBole N@20 | gcl N@20 | N@20 ratio "
             "| peak RSS MB RecBole / gcl |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for model, x in r.items():
        t, o = x["recbole"], x["gcl"]
        lines.append(f"| {model} ({o['method']}) | {_f(t['seconds_per_epoch'], 1)} | "
                     f"{_f(o['seconds_per_epoch'], 1)} | **{_f(x['speedup_vs_recbole'])}x** | "
                     f"{_f(t['recall@20'], 4)} | {_f(o['recall@20'], 4)} | "
                     f"{_f(x['recall@20_ratio'])} | {_f(t['ndcg@20'], 4)} | "
                     f"{_f(o['ndcg@20'], 4)} | {_f(x['ndcg@20_ratio'])} | "
                     f"{t['peak_rss_mb']:.0f} / {o['peak_rss_mb']:.0f} |")
    big = [(m, x["gcl_big_batch"]) for m, x in r.items() if "gcl_big_batch" in x]
    if big:
        lines += ["", "gcl at the large batch (learning rate scaled), same epochs:", "",
                  "| model (gcl) | batch | lr | s/epoch | speedup_vs_recbole | R@20 | N@20 |",
                  "|---|---|---|---|---|---|---|"]
        for m, b in big:
            sp = r[m]["recbole"]["seconds_per_epoch"] / b["seconds_per_epoch"]
            lines.append(f"| {m} ({b['method']}) | {b['batch_size']} | {b['lr']:g} | "
                         f"{_f(b['seconds_per_epoch'], 1)} | {_f(sp)}x | "
                         f"{_f(b['recall@20'], 4)} | {_f(b['ndcg@20'], 4)} |")
    return lines + [""]


def batch_quality(part: dict) -> list[str]:
    r = part["results"]
    any_r = next(iter(r.values()))
    b = any_r["batch_size"]
    lines = [f"## Does batch {b} keep quality? ml-100k", "",
             f"Each method at batch {b} with the learning rate scaled by {b // 2048} "
             f"(early stopping on valid NDCG@20, patience 10, at most "
             f"{any_r['budget_s']:.0f} s of training), against batch 2048 / lr 1e-3 from "
             "`results/ml-100k.json` (its command below). Test metrics of the best valid "
             "epoch. " + _made(part), "",
             f"| method | R@20 @2048 | N@20 @2048 | epochs | fit s | R@20 @{b} | N@20 @{b} | "
             "epochs | fit s |", "|---|---|---|---|---|---|---|---|---|"]
    cmd = None
    for m, x in r.items():
        a = x.get("batch_2048", {})
        cmd = a.get("command", cmd)
        lines.append(f"| {m} | {_f(a.get('recall@20'), 4)} | {_f(a.get('ndcg@20'), 4)} | "
                     f"{a.get('epochs', '-')} | {_f(a.get('fit_seconds'), 0)} | "
                     f"{_f(x['recall@20'], 4)} | {_f(x['ndcg@20'], 4)} | {x['epochs']} | "
                     f"{_f(x['fit_seconds'], 0)} |")
    if cmd:
        lines += ["", f"Batch 2048 rows made by `{cmd}`."]
    return lines + [""]


def time_to_recall(r: dict) -> list[str]:
    at = r["reached_at_s"]
    return ["## Time to Recall@20 on gowalla", "",
            f"The best method, {r['method']}, from the 60-minute run in `{r['source']}` "
            f"(made by `{r['command']}`, {r['threads']} thread, test evaluated every "
            f"{r['eval_every']} epochs, so a threshold counts at the first evaluation past "
            f"it; {r['seconds_per_epoch']:.0f} s/epoch in that run, before the speed-ups "
            "measured above):", "", "| Recall@20 | reached after (training s) |", "|---|---|",
            *[f"| {k} | {_f(v, 0)} |" for k, v in at.items()], ""]


def write_markdown(results: dict) -> str:
    lines = ["# Speed", "", "Written by `python benchmarks/speed.py` from `speed.json`; each "
             "section names the command that made it. CPU timings on a shared 2-core machine: "
             "compare speeds only within one section.", ""]
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
    if "time_to_recall" in results:
        lines += time_to_recall(results["time_to_recall"])
    return "\n".join(lines).rstrip() + "\n"
