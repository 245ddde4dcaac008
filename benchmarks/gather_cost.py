"""CPU cost of an XSimGCL training step, with the batch's rows read from the user and item
halves of the final embeddings apart (one gather per use, the paper code's form) and with
:meth:`gcl.methods.XSimGCL.cross_layer_loss` (one gather of the ranked rows and one of the
anchors' rows from all nodes; the same loss, gradients equal up to float rounding, see
tests/methods/test_xsimgcl.py), side by side in one process.

    python benchmarks/gather_cost.py --threads 1
    python benchmarks/gather_cost.py --threads 1 --reuse-memory

Cases: gowalla at the time-to-quality settings (2 layers, batch 32768, 2048 anchors, dim 64
and 128) and synthetic power-law logs at ``scale.py``'s fixed-steps settings (dim 64, 25
steps per epoch). For each case, ``--rounds`` rounds alternate between the two forms, each
``--steps`` steps (loss, backward, Adam) on the same batches. The clock is
``time.process_time()``. ``--reuse-memory`` calls :func:`gcl.runtime.reuse_memory` first;
the two settings keep records of their own. Writes ``benchmarks/results/gather_cost.{json,md}``.
"""
from __future__ import annotations

import argparse
import types

from common import (
    RESULTS,
    build_pipeline,
    command_line,
    environment,
    measure_cases,
    merge_result,
    step_batches,
    step_parser,
    timed_steps,
)

FORMS = ("halves", "one_gather")


def halves_loss(method, graph, users, pos, neg):
    """XSimGCL's loss read from the halves: :meth:`rec_loss` on the readout's user and item
    embeddings, then each half's anchors gathered for the cross-layer InfoNCE."""
    from gcl.losses import cross_layer

    layers = method.encoder.propagate(method.augment(graph, method.generator))
    user_emb, item_emb = method.encoder.readout(layers)
    out = method.rec_loss(user_emb, item_emb, users, pos, neg)
    lu, li = method.encoder.split(layers[method.cl_layer])
    u, i = method.anchors(users), method.anchors(pos)
    cl = (cross_layer(user_emb[u], lu[u], method.temperature)
          + cross_layer(item_emb[i], li[i], method.temperature))
    return method.add_cl(out, cl)


def measure(train, dim: int, batch: int, args: argparse.Namespace) -> dict:
    import torch

    method, graph = build_pipeline(train, "xsimgcl", dim=dim, layers=2, cl_anchors=2048)
    users, pos, neg = step_batches(train, batch, args.steps)
    opt = torch.optim.Adam(method.parameters(), lr=1e-3)
    seconds = {f: 0.0 for f in FORMS}
    for _ in range(args.rounds):
        for form in FORMS:
            if form == "halves":
                method.loss = types.MethodType(halves_loss, method)
            else:
                del method.loss  # the class's loss again
            method.new_epoch(graph, torch.Generator().manual_seed(1))
            seconds[form] += timed_steps(method, graph, opt, users, pos, neg, batch,
                                         args.steps)
    out = {"interactions": len(train), "nodes": graph.num_nodes, "dim": dim,
           "batch_size": batch}
    for form in FORMS:
        out[f"step_s_{form}"] = seconds[form] / (args.rounds * args.steps)
    out["ratio"] = out["step_s_one_gather"] / out["step_s_halves"]
    return out


def main() -> None:
    parser = step_parser(__doc__, rounds=3, steps=3, sizes=[1_000_000, 5_000_000])
    parser.add_argument("--reuse-memory", action="store_true")
    args = parser.parse_args()
    if args.reuse_memory:
        from gcl.runtime import reuse_memory

        if not reuse_memory():
            raise SystemExit("reuse_memory is not available here (glibc's mallopt)")
    command = command_line("gather_cost.py")
    rows = measure_cases(measure, [64, 128], args)
    malloc = "reuse_memory" if args.reuse_memory else "default"
    env = environment(args.threads, command)
    record = {"malloc": malloc, "rows": rows, "rounds": args.rounds, "steps": args.steps,
              "env": env}
    records = merge_result(RESULTS / "gather_cost.json", malloc, record)
    lines = [
        "# XSimGCL step cost: the rows of each half gathered apart, or of all nodes at once",
        "", "CPU seconds per step (`time.process_time()`; loss, backward, Adam; 2 layers, "
        "2048 anchors). `halves` reads the ranked and the anchors' rows from the readout's "
        "user and item halves, one gather per use; `one gather` is `XSimGCL."
        "cross_layer_loss`, one gather of the ranked rows and one of the anchors' rows from "
        "all nodes (the same loss). Within a record the forms alternate, round after round, "
        "in one process.", ""]
    for key in sorted(records):
        rec = records[key]
        e = rec["env"]
        lines += [f"## malloc: {rec['malloc']}", "",
                  f"Made by `{e['command']}` at commit {e['commit']}, {e['cpu']}, "
                  f"{e['threads']} torch thread(s), on {e['when']}; {rec['rounds']} rounds "
                  f"of {rec['steps']} steps per form.", "",
                  "| case | interactions | dim | batch | step s halves | one gather | ratio |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['case']} | {r['interactions']:,} | {r['dim']} | {r['batch_size']:,} "
                  f"| {r['step_s_halves']:.3f} | {r['step_s_one_gather']:.3f} | "
                  f"{r['ratio']:.2f} |" for r in rec["rows"]]
        lines.append("")
    (RESULTS / "gather_cost.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
