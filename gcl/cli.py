"""The ``gcl`` command: train a model and export its embeddings without writing code.

    gcl train --dataset ml-100k --method lightgcn --out runs/ml-100k
    gcl export runs/ml-100k/model.pt out/
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

SPLITS = ("auto", "given", "random", "leave_one_out", "temporal")


def _load_interactions(args: argparse.Namespace):
    from gcl import Interactions, load_dataset

    if args.interactions:
        path = Path(args.interactions)
        reader = Interactions.from_parquet if path.suffix == ".parquet" else Interactions.from_csv
        inter = reader(path, user=args.user_col, item=args.item_col, rating=args.rating_col,
                       timestamp=args.timestamp_col, min_rating=args.min_rating,
                       k_core=args.k_core)
        return path.stem, inter, {}
    ds = load_dataset(args.dataset)
    return ds.name, ds.interactions, ds.splits


def _split(args: argparse.Namespace, inter, given: dict):
    method = args.split
    if method == "auto":
        method = "given" if given else "random"
    if method == "given":
        if not given:
            raise SystemExit("error: --split given, but this data has no published split")
        return given["train"], given.get("valid"), given["test"]
    if method == "leave_one_out":
        return inter.split("leave_one_out", valid=True)
    parts = inter.split(method, ratios=tuple(args.ratios), **(
        {"seed": args.seed} if method == "random" else {}))
    return parts if len(parts) == 3 else (parts[0], None, parts[1])


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from gcl import GraphCLRecommender
    from gcl.export import atomic_write

    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    name, inter, given = _load_interactions(args)
    train, valid, test = _split(args, inter, given)
    rec = GraphCLRecommender(
        method=args.method, dim=args.dim, layers=args.layers, reg=args.reg, lr=args.lr,
        batch_size=args.batch_size, epochs=args.epochs, patience=args.patience,
        eval_every=args.eval_every, backend=args.backend, device=args.device, seed=args.seed,
        progress=not args.quiet)
    budget = None if args.budget_minutes is None else 60 * args.budget_minutes
    rec.fit(train, valid=valid, budget_seconds=budget)
    metrics = rec.evaluate(test, k=args.k)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "metrics.jsonl", "w") as f:
        for record in rec.history_:
            f.write(json.dumps(record) + "\n")
    with atomic_write(out / "metrics.json", "w") as f:
        json.dump({"dataset": name, "test": metrics}, f, indent=2)
    rec.save(out / "model.pt")
    rec.export(out / "embeddings", metrics=metrics, dataset=name)
    width = max(len(k) for k in metrics)
    print(f"{name}: {rec.params['method']} after {len(rec.history_)} epochs, "
          f"test metrics ({metrics['users']} users)")
    for key, value in metrics.items():
        if key != "users":
            print(f"  {key:<{width}}  {value:.4f}")
    print(f"model: {out / 'model.pt'}  embeddings: {out / 'embeddings'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from gcl import GraphCLRecommender

    rec = GraphCLRecommender.load(args.model)
    files = rec.export(args.out)
    for role, path in files.items():
        print(f"{role}: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gcl", description="Graph contrastive learning for "
                                "recommendation: train, evaluate and export embeddings.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train on a dataset, print test metrics, save and export")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="a name (ml-100k, gowalla, ...) or a LightGCN folder")
    src.add_argument("--interactions", help="a CSV or Parquet click log")
    t.add_argument("--user-col", default="user")
    t.add_argument("--item-col", default="item")
    t.add_argument("--rating-col")
    t.add_argument("--timestamp-col")
    t.add_argument("--min-rating", type=float)
    t.add_argument("--k-core", type=int)
    t.add_argument("--split", choices=SPLITS, default="auto",
                   help="auto: the published split when there is one, else random")
    t.add_argument("--ratios", type=float, nargs="+", default=[0.8, 0.1, 0.1])
    t.add_argument("--method", default="lightgcn")
    t.add_argument("--dim", type=int, default=64)
    t.add_argument("--layers", type=int, default=3)
    t.add_argument("--reg", type=float, default=1e-4)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--batch-size", type=int, default=2048)
    t.add_argument("--epochs", type=int, default=1000)
    t.add_argument("--patience", type=int, default=10)
    t.add_argument("--eval-every", type=int, default=1)
    t.add_argument("--budget-minutes", type=float)
    t.add_argument("--k", type=int, nargs="+", default=[10, 20])
    t.add_argument("--backend", default="torch")
    t.add_argument("--device", default="auto")
    t.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, help="run folder: model.pt, metrics, embeddings/")
    t.add_argument("--quiet", action="store_true", help="no progress bar or evaluation log")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("export", help="export a saved model's embeddings and id maps")
    e.add_argument("model", help="a model.pt written by gcl train or GraphCLRecommender.save")
    e.add_argument("out", help="target folder")
    e.set_defaults(func=cmd_export)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
