"""CPU cost of one LightGCN training step, with the last layer propagated for the whole
graph or for the batch's rows only (``LightGCNMethod.rows_only``; the same loss and
gradients, see tests/methods/test_lightgcn.py), side by side in one process.

    python benchmarks/step_cost.py --dataset gowalla --threads 1

For each depth and batch size, blocks of ``--batches`` steps (loss, backward, Adam) alternate
between the two forms, ``--rounds`` times, on the same batches; the clock is
``time.process_time()``. Writes ``benchmarks/results/step_cost.{json,md}``.
"""
from __future__ import annotations

import argparse
import json

from common import RESULTS, environment, merge_result, timed_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="gowalla")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from gcl import load_dataset
    from gcl.data.sampler import NegativeSampler
    from gcl.graph import UIGraph
    from gcl.methods import LightGCNMethod

    ds = load_dataset(args.dataset)
    train = ds.splits["train"] if ds.splits else ds.interactions
    graph = UIGraph.from_interactions(train)
    gen = torch.Generator().manual_seed(0)
    sampler = NegativeSampler(train, generator=gen)
    rows = []
    for layers in (2, 3):
        for batch in (2048, 8192):
            torch.manual_seed(0)
            method = LightGCNMethod(train.num_users, train.num_items, dim=64, layers=layers)
            opt = torch.optim.Adam(method.parameters(), lr=1e-3)
            perm = torch.randperm(len(train), generator=gen)[: batch * args.batches]
            users = torch.from_numpy(train.users)[perm]
            pos = torch.from_numpy(train.items)[perm]
            neg = sampler.sample(users, 1)
            spent = {"full": 0.0, "rows": 0.0}
            for _ in range(args.rounds):
                for form in ("full", "rows"):
                    method.rows_only = (lambda g: False) if form == "full" else (
                        lambda g, m=method: LightGCNMethod.rows_only(m, g))
                    spent[form] += timed_steps(method, graph, opt, users, pos, neg, batch,
                                               args.batches)
            steps = args.batches * args.rounds
            full, part = spent["full"] / steps, spent["rows"] / steps
            rows.append({"layers": layers, "batch_size": batch, "full_ms": 1000 * full,
                         "rows_ms": 1000 * part, "ratio": part / full,
                         "epoch_s_full": full * len(train) / batch,
                         "epoch_s_rows": part * len(train) / batch})
            print(json.dumps(rows[-1]), flush=True)
    command = (f"python benchmarks/step_cost.py --dataset {args.dataset} --threads "
               f"{args.threads} --batches {args.batches} --rounds {args.rounds}")
    env = environment(args.threads, command)
    commit, cpu = env["commit"], env["cpu"]
    record = {"dataset": args.dataset, "threads": args.threads, "commit": commit, "cpu": cpu,
              "command": command, "env": env, "rows": rows}
    merge_result(RESULTS / "step_cost.json", args.dataset, record)
    lines = ["# Step cost: the last layer for the whole graph or for the batch's rows", "",
             f"Made by `{record['command']}` at commit {commit}, {cpu}, {args.threads} "
             "thread(s). CPU seconds (`time.process_time()`) of one step (loss, backward, "
             "Adam) of LightGCN, dim 64, averaged over "
             f"{args.batches * args.rounds} steps per form; an epoch is "
             f"{len(train)} interactions.", "",
             "| layers | batch | full ms/step | rows-only ms/step | ratio | full s/epoch | "
             "rows-only s/epoch |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['layers']} | {r['batch_size']} | {r['full_ms']:.0f} | {r['rows_ms']:.0f} "
              f"| {r['ratio']:.2f} | {r['epoch_s_full']:.0f} | {r['epoch_s_rows']:.0f} |"
              for r in rows]
    (RESULTS / "step_cost.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
