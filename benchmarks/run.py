"""Quality benchmark: trains each method on a dataset and writes the results table.

    python benchmarks/run.py --dataset ml-100k --methods pop,lightgcn
    python benchmarks/run.py --dataset gowalla --methods pop,lightgcn --budget-minutes 60

Writes ``benchmarks/results/<dataset>.json`` and ``.md``. Each method runs in its own
process, one after the other, so peak memory is that method's alone. Settings: dim 64, lr
1e-3, batch 2048 for every method; its depth, L2 weight, start and loss settings are its
own defaults, which follow its reference code (each row records them). ml-100k: random
80/10/10 split per user (seed 0), every rating an interaction, early stopping on valid
NDCG@20 (patience 10 evaluations), test metrics of the best epoch. Datasets with a
published split (gowalla) train on its train part; with no valid part, they follow
LightGCN's protocol: test is evaluated every ``--eval-every`` epochs for the curve, without
early stopping, and the last evaluation is reported. Budgets (``--budget-minutes``) and
every time reported are CPU seconds of the process (``time.process_time()``, all threads;
``budget_clock="cpu"``), never wall-clock.

A method named ``method@peer`` (``sgl-ed@recbole-gnn``) runs at the values of that peer's
configuration file for it, as ``reproduce.py`` pairs them (``--peer`` names there); its row
sits beside the method's own. Where a paper's values fail on dense data, a peer's may
train: on ml-100k, RecBole-GNN's values of SGL and NCL do.

A row named ``method~label`` (``simgcl~low-cl``) is a variant of its own: it runs as
``method`` (or ``method@peer``) with the ``--set`` pairs given for that row name
(``--set simgcl~low-cl.cl_weight=0.1``), and leaves the plain method's row as it is.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import (
    LARGE,
    RESULTS,
    SEQUENCE_SETTINGS,
    SETTINGS,
    beside_note,
    command_line,
    environment,
    load_split,
    merge_result,
    peak_rss_mb,
    spawn,
    write_json,
)

# Every method trains at these shared values of SETTINGS; its depth, L2 weight, start and
# losses are its own defaults (its reference code's), recorded with each row.
PROTOCOL = ("dim", "lr", "batch_size")
# RecBole 1.2.1's LightGCN on its own random 80/10/10 split of ml-100k, same settings,
# early-stopped on valid NDCG@20, measured on this machine (see the foundation issue).
RECBOLE_ML100K = {"recall@20": 0.369, "ndcg@20": 0.314}
# Published full-ranking results on 5-core Beauty, leave-one-out (as reported in the DuoRec
# and FEARec papers): HitRate@10, NDCG@10.
SEQUENTIAL_REFERENCES = {"SASRec": (0.06, 0.03), "CL4SRec": (0.068, 0.03),
                         "DuoRec": (0.085, 0.044)}
CURVE_KEYS = ("recall@20", "ndcg@20", "recall@10", "ndcg@10", "hit@10")
THRESHOLDS = (0.17, 0.18)


def run_one(args: argparse.Namespace, name: str) -> dict:
    """Trains and evaluates one row, a method or ``method@peer`` (:func:`peer_settings`), in
    this process; returns its results record."""
    import torch

    torch.set_num_threads(args.threads)
    from gcl import GraphCLRecommender
    from gcl.settings import METHOD_SETTINGS as SETTINGS_OF
    from gcl.settings import declared

    t0 = time.process_time()
    train, valid, test, split = load_split(args.dataset)
    load_s = time.process_time() - t0
    early_stop = valid is not None
    method, peer_values = peer_settings(name)
    settings = {**{k: SETTINGS[k] for k in PROTOCOL}, **SEQUENCE_SETTINGS.get(method, {})}
    overrides = {**peer_values, **method_overrides(args.set, name)}
    settings.update({k: v for k, v in overrides.items() if k in SETTINGS})
    method_kwargs = {k: v for k, v in overrides.items() if k not in SETTINGS}
    own = {k: d.default for k, d in declared(SETTINGS_OF[method]).items()
           if k not in settings and k not in method_kwargs}
    rec = GraphCLRecommender(
        method=method, **settings, **method_kwargs, epochs=args.epochs, eval_every=args.eval_every,
        patience=args.patience if early_stop else None, device=args.device,
        seed=args.seed, progress=args.progress, budget_clock="cpu")
    t1 = time.process_time()
    budget = None if args.budget_minutes is None else args.budget_minutes * 60
    # Test is evaluated at every evaluation only to draw the curve (never to choose).
    rec.fit(train, valid=valid, budget_seconds=budget, monitor=test)
    fit_s = time.process_time() - t1
    t2 = time.process_time()
    metrics = rec.evaluate(test, k=[10, 20])
    eval_s = time.process_time() - t2
    hist = rec.history_
    epochs = len(hist)
    train_s = sum(h["seconds"] for h in hist)
    curve = [{"epoch": h["epoch"], "elapsed_s": round(h["elapsed"], 1),
              **{k: h[f"test_{k}"] for k in CURVE_KEYS}}
             for h in hist if "test_ndcg@20" in h]
    crossed = {f"{t:.2f}": next((c["elapsed_s"] for c in curve if c["recall@20"] >= t), None)
               for t in THRESHOLDS}
    return {
        "method": name, "dataset": args.dataset, "split": split,
        "interactions": {"train": len(train), "valid": len(valid) if valid else 0,
                         "test": len(test)},
        "users": train.num_users, "items": train.num_items,
        "metrics": {k: v for k, v in metrics.items() if k != "users"},
        "evaluated_users": metrics["users"],
        "epochs": epochs, "best_epoch": getattr(rec, "best_epoch_", None) if early_stop else None,
        "seconds_per_epoch": train_s / epochs if epochs else 0.0,
        "train_seconds": train_s, "fit_seconds": fit_s, "load_seconds": load_s,
        "test_eval_seconds": eval_s,
        "peak_rss_mb": peak_rss_mb(),
        "curve": curve, "recall@20_reached_at_s": crossed,
        "selection": f"best valid NDCG@20 (patience {args.patience})" if early_stop
        else "last epoch (no valid split)",
        "settings": {**settings, **({"method": method_kwargs} if method_kwargs else {}),
                     "defaults": own,
                     "epochs_max": args.epochs, "eval_every": args.eval_every,
                     "patience": args.patience if early_stop else None,
                     "budget_minutes": args.budget_minutes, "seed": args.seed,
                     "threads": args.threads, "device": args.device},
        "env": environment(torch.get_num_threads(), command_line("run.py", args.argv),
                           args.device),
    }


def peer_settings(name: str) -> tuple[str, dict]:
    """``(method, settings)`` of a row name: ``method`` alone runs at its own defaults (no
    settings); ``method@peer`` at the values ``reproduce.py`` gives it in that peer's pair
    of the same model (its plain pair, not a ``model@variant`` one). A ``~label`` ending
    names a variant row and changes neither (its ``--set`` pairs do)."""
    base, tilde, label = name.partition("~")
    if tilde and not label:
        raise SystemExit(f"{name}: a row name ending in '~' needs a label after it")
    method, at, peer = base.partition("@")
    if not at:
        return method, {}
    from reproduce import PEERS

    if peer not in PEERS:
        raise SystemExit(f"{name}: unknown peer {peer!r}; choose one of {sorted(PEERS)}")
    pairs = [gcl_settings for pair, _, gcl_method, gcl_settings in PEERS[peer]
             if gcl_method == method and "@" not in pair]
    if not pairs:
        raise SystemExit(f"{name}: reproduce.py pairs no {peer} model with {method!r}")
    return method, dict(pairs[0])


def method_overrides(pairs: list[str], method: str) -> dict:
    """The ``--set`` pairs that apply to :obj:`method`: ``key=value`` applies to every
    method, ``method.key=value`` to that one only. Values are Python literals (``0.2``,
    ``True``, ``{'size': 1024}``) or else strings."""
    import ast

    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set takes key=value or method.key=value, got {pair!r}")
        target, dot, name = key.rpartition(".")
        if dot and target != method:
            continue
        try:
            out[name] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[name] = raw
    return out


def fmt(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def write_markdown(dataset: str, results: dict) -> str:
    rows = [
        "| method | Recall@20 | NDCG@20 | Recall@10 | NDCG@10 | HitRate@10 | epochs | s/epoch "
        "| total s | peak RSS MB | layers | L2 | commit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        m, own = r["metrics"], {**r["settings"].get("defaults", {}), **r["settings"]}
        own = own if r["epochs"] else {}
        rows.append(f"| {name} | {fmt(m['recall@20'])} | {fmt(m['ndcg@20'])} | "
                    f"{fmt(m['recall@10'])} | {fmt(m['ndcg@10'])} | {fmt(m['hit@10'])} | "
                    f"{r['epochs']} | "
                    f"{fmt(r['seconds_per_epoch'], 2)} | {fmt(r['fit_seconds'], 1)} | "
                    f"{r['peak_rss_mb']:.0f} | {own.get('layers', '-')} | {own.get('reg', '-')} "
                    f"| {r['env'].get('commit') or 'not recorded'} |")
    any_r = next(iter(results.values()))
    s, n = any_r["settings"], any_r["interactions"]
    lines = [f"# {dataset}", "", "Made by `python benchmarks/run.py --dataset "
             f"{dataset} --methods {','.join(results)}"
             + (f" --budget-minutes {s['budget_minutes']:g}" if s["budget_minutes"] else "")
             + "` (each method's command is in the JSON file).", "",
             f"Split: {any_r['split']}; {any_r['users']} users, {any_r['items']} items, "
             f"{n['train']} train / {n['valid']} valid / {n['test']} test interactions. Test "
             f"metrics, full ranking over all items, train{' and valid' if n['valid'] else ''}"
             " items masked.", "", *rows, "",
             f"Settings: dim {s['dim']}, lr {s['lr']}, batch {s['batch_size']}, seed "
             f"{s['seed']}, {s['threads']} torch thread(s), device {s['device']}; torch "
             f"{any_r['env']['torch']}. Layers and L2: each method's own defaults (its "
             "reference code's)"
             + (", except in rows without a commit, which ran every method at 3 layers and "
                "L2 1e-4, with the defaults of their time (before cl_decay was off by "
                "default)." if any(not r["env"].get("commit") for r in results.values())
                else "."), ""]
    differs = []
    for name, r in results.items():
        own = {k: v for k, v in r["settings"].items()
               if k in PROTOCOL and k in s and v != s[k]}
        own.update(r["settings"].get("method", {}))
        if own:
            differs.append(f"{name} differs: " + ", ".join(f"{k} {v}" for k, v in own.items())
                           + ".")
    lines += differs + ([""] if differs else [])
    lines += beside_note(results)
    if "pop" in results and "lightgcn" in results:
        gain = results["lightgcn"]["metrics"]["ndcg@20"] / results["pop"]["metrics"]["ndcg@20"]
        lines.append(f"LightGCN's NDCG@20 is {100 * (gain - 1):.1f}% above the popularity "
                     "baseline's.")
    if dataset == "ml-100k" and "lightgcn" in results:
        m = results["lightgcn"]["metrics"]
        rel = {k: 100 * (m[k] / v - 1) for k, v in RECBOLE_ML100K.items()}
        lines.append(
            f"RecBole 1.2.1's LightGCN, same settings, its own random 80/10/10 split "
            f"(measured on this machine): Recall@20 {RECBOLE_ML100K['recall@20']}, NDCG@20 "
            f"{RECBOLE_ML100K['ndcg@20']}. gcl differs by {rel['recall@20']:+.1f}% (Recall@20) "
            f"and {rel['ndcg@20']:+.1f}% (NDCG@20); the splits are drawn by different code, "
            "so part of the gap is the split.")
    seq = [name for name in ("seq-cl", "seq-cl+graph") if name in results]
    if dataset == "amazon-beauty" and seq:
        lines += ["", "## Sequence methods against published results", "",
                  "| method | HitRate@10 | NDCG@10 | source |", "|---|---|---|---|"]
        lines += [f"| {name} | {fmt(results[name]['metrics']['hit@10'])} | "
                  f"{fmt(results[name]['metrics']['ndcg@10'])} | this table |" for name in seq]
        lines += [f"| {name} | {hr} | {ndcg} | published, trained to convergence |"
                  for name, (hr, ndcg) in SEQUENTIAL_REFERENCES.items()]
        if "lightgcn" in results:
            base = results["lightgcn"]["metrics"]["hit@10"]
            lines += ["", "HitRate@10 against LightGCN's (" + fmt(base) + ") in this table: "
                      + ", ".join(f"{n} {100 * (results[n]['metrics']['hit@10'] / base - 1):+.1f}%"
                                  for n in seq) + "."]
        best = max(seq, key=lambda n: results[n]["metrics"]["hit@10"])
        hr = results[best]["metrics"]["hit@10"]
        lines += ["", f"{best} reaches {100 * hr / SEQUENTIAL_REFERENCES['SASRec'][0]:.0f}% of "
                  f"SASRec's and {100 * hr / SEQUENTIAL_REFERENCES['CL4SRec'][0]:.0f}% of "
                  "CL4SRec's published HitRate@10, on the same split and leave-one-out "
                  "protocol (the valid item is held out for early stopping, then the test "
                  "item is ranked from the sequence up to it). Indicative only: here a user's "
                  "train and valid items are masked out of the ranking, as for every method "
                  "of this table, which the papers' full ranking may not do, and training "
                  "stops at the time budget, a few epochs on one CPU thread, where the papers "
                  "train to convergence. Their test curves below are "
                  "measured during training, from the train sequences without the valid "
                  "item, so they end below the table's row."]
    for name, r in results.items():
        if r["curve"]:
            lines += ["", f"## {name}: test curve", "",
                      "| epoch | elapsed s | Recall@20 | NDCG@20 |", "|---|---|---|---|"]
            step = max(1, len(r["curve"]) // 30)
            shown = r["curve"][::step] + ([r["curve"][-1]] if len(r["curve"]) % step != 1
                                          and step > 1 else [])
            lines += [f"| {c['epoch']} | {c['elapsed_s']} | {fmt(c['recall@20'])} | "
                      f"{fmt(c['ndcg@20'])} |" for c in shown]
    return "\n".join(lines) + "\n"


def plot(dataset: str, results: dict, out: Path) -> None:
    """Test NDCG@20 against wall seconds, one curve per method, to ``<dataset>.png``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing (pip install matplotlib): no plot written")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, r in results.items():
        if r["curve"]:
            ax.plot([c["elapsed_s"] for c in r["curve"]], [c["ndcg@20"] for c in r["curve"]],
                    label=name, marker=".", markersize=3)
        elif name == "pop":
            ax.axhline(r["metrics"]["ndcg@20"], color="grey", linestyle="--", label="pop")
    ax.set_xlabel("training seconds (1 thread, evaluation excluded)")
    ax.set_ylabel("test NDCG@20")
    ax.set_title(f"{dataset}: test NDCG@20 over training time")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / f"{dataset}.png", dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--methods", default="pop,lightgcn")
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--eval-every", type=int, default=None,
                   help="default: 1, or 5 on datasets without a valid split")
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--budget-minutes", type=float, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress", action="store_true")
    p.add_argument("--set", action="append", default=[], metavar="[METHOD.]KEY=VALUE",
                   help="a setting or method argument, e.g. simgcl.cl_weight=0.2; repeatable")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--beside", default=None,
                   help="what else ran on the machine meanwhile, recorded with each row")
    p.add_argument("--plot-only", action="store_true",
                   help="redraw the plot and the page from the JSON")
    p.add_argument("--single", help=argparse.SUPPRESS)
    p.add_argument("--single-json", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.argv = [a for a in (sys.argv[1:] if argv is None else argv)]
    if "--single" in args.argv:  # the child's own flags are not part of the command
        args.argv = args.argv[:args.argv.index("--single")]
    if args.eval_every is None:
        args.eval_every = 5 if args.dataset in LARGE else 1
    if args.plot_only:  # and the page: both are drawn from the JSON alone
        results = json.loads((args.out / f"{args.dataset}.json").read_text())
        (args.out / f"{args.dataset}.md").write_text(write_markdown(args.dataset, results))
        plot(args.dataset, results, args.out)
        return
    if args.single:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        write_json(Path(args.single_json), run_one(args, args.single))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"{args.dataset}.json"
    for method in args.methods.split(","):
        print(f"== {args.dataset} / {method}", flush=True)
        record = spawn(Path(__file__), [*args.argv, "--single", method], args.threads,
                       "--single-json")
        record["command"] = record["env"]["command"]
        if args.beside:
            record["beside"] = args.beside
        results = merge_result(json_path, method, record)
        m = record["metrics"]
        print(f"{method}: recall@20 {m['recall@20']:.4f} ndcg@20 {m['ndcg@20']:.4f} "
              f"epochs {record['epochs']} {record['seconds_per_epoch']:.2f} s/epoch", flush=True)
        (args.out / f"{args.dataset}.md").write_text(write_markdown(args.dataset, results))
        plot(args.dataset, results, args.out)


if __name__ == "__main__":
    main()
