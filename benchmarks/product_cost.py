"""CPU cost of the sparse product, and of a training step, with torch's plain CSR product
(``mat @ x`` with 64-bit indices) and with :func:`gcl.graph.csr_mm` (32-bit indices, the
output written unfilled; the same values bit for bit), side by side in one process.

    python benchmarks/product_cost.py --threads 1

Cases: gowalla at the time-to-quality settings (XSimGCL, 2 layers, batch 32768, 2048
anchors, dim 64 and 128) and synthetic power-law logs at ``scale.py``'s fixed-steps settings
(dim 64, 25 steps per epoch, 2 layers, 2048 anchors). For each case, ``--rounds`` rounds
alternate between the two forms: the product of the whole normalised graph with a
``[U+I, d]`` table (``--products`` of them), then ``--steps`` XSimGCL steps (loss, backward,
Adam) on the same batches. The clock is ``time.process_time()``. Writes
``benchmarks/results/product_cost.{json,md}``.
"""
from __future__ import annotations

import argparse
import time

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

FORMS = ("plain", "csr_mm")


class PlainCSR:
    """The propagation as it was before :func:`gcl.graph.csr_mm`: ``mat @ x`` with 64-bit
    indices, forward and backward."""

    def __init__(self, adj) -> None:
        import numpy as np
        import torch

        self.mat = torch.sparse_csr_tensor(torch.from_numpy(adj.indptr.astype(np.int64)),
                                           torch.from_numpy(adj.indices.astype(np.int64)),
                                           torch.from_numpy(adj.data), size=adj.shape,
                                           check_invariants=False)

    def __call__(self, x):
        from gcl.graph import _SymmetricSpMM

        return _SymmetricSpMM.apply(lambda y: self.mat @ y, x)


def measure(train, dim: int, batch: int, args: argparse.Namespace) -> dict:
    import torch

    method, graph = build_pipeline(train, "xsimgcl", dim=dim, layers=2, cl_anchors=2048)
    props = {"plain": PlainCSR(graph.adj), "csr_mm": graph._prop}
    x = torch.randn(graph.num_nodes, dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        same = torch.equal(props["plain"](x), props["csr_mm"](x))
    users, pos, neg = step_batches(train, batch, args.steps)
    opt = torch.optim.Adam(method.parameters(), lr=1e-3)
    product = {f: 0.0 for f in FORMS}
    step = {f: 0.0 for f in FORMS}
    for _ in range(args.rounds):
        for form in FORMS:
            graph._prop = props[form]
            t = time.process_time()
            with torch.no_grad():
                for _ in range(args.products):
                    graph.propagate(x)
            product[form] += time.process_time() - t
            method.new_epoch(graph, torch.Generator().manual_seed(1))
            step[form] += timed_steps(method, graph, opt, users, pos, neg, batch, args.steps)
    graph._prop = props["csr_mm"]
    edges = graph.num_edges
    out = {"interactions": len(train), "nodes": graph.num_nodes, "directed_edges": edges,
           "dim": dim, "batch_size": batch, "same_values": same}
    for form in FORMS:
        out[f"product_ns_per_edge_{form}"] = 1e9 * product[form] / (
            args.rounds * args.products * edges)
        out[f"step_s_{form}"] = step[form] / (args.rounds * args.steps)
    out["product_ratio"] = out["product_ns_per_edge_csr_mm"] / out["product_ns_per_edge_plain"]
    out["step_ratio"] = out["step_s_csr_mm"] / out["step_s_plain"]
    return out


def main() -> None:
    parser = step_parser(__doc__, rounds=2, steps=2,
                         sizes=[1_000_000, 5_000_000, 20_000_000])
    parser.add_argument("--products", type=int, default=3)
    parser.add_argument("--no-gowalla", action="store_true")
    args = parser.parse_args()
    command = command_line("product_cost.py")
    rows = measure_cases(measure, [] if args.no_gowalla else [64, 128], args)
    env = environment(args.threads, command)
    record = {"rows": rows, "rounds": args.rounds, "products": args.products,
              "steps": args.steps, "env": env}
    merge_result(RESULTS / "product_cost.json", "cpu", record)
    lines = [
        "# Sparse product cost: torch's plain CSR product against `csr_mm`", "",
        f"Made by `{command}` at commit {env['commit']}, {env['cpu']}, {args.threads} "
        f"torch thread(s), on {env['when']}. CPU seconds (`time.process_time()`); "
        f"{args.rounds} rounds alternate between the two forms, each round "
        f"{args.products} products of the whole normalised graph with a `[U+I, dim]` table "
        f"and {args.steps} XSimGCL steps (loss, backward, Adam; 2 layers, 2048 anchors). "
        "`plain` is `mat @ x` with 64-bit indices; `csr_mm` (`gcl.graph.csr_mm`) uses "
        "32-bit indices and writes the product into an unfilled output. `same values`: the "
        "two products of one table are equal bit for bit.", "",
        "| case | interactions | dim | batch | product ns/edge plain | csr_mm | ratio | "
        "step s plain | csr_mm | ratio | same values |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    lines += [f"| {r['case']} | {r['interactions']:,} | {r['dim']} | {r['batch_size']:,} | "
              f"{r['product_ns_per_edge_plain']:.1f} | {r['product_ns_per_edge_csr_mm']:.1f} "
              f"| {r['product_ratio']:.2f} | {r['step_s_plain']:.3f} | "
              f"{r['step_s_csr_mm']:.3f} | {r['step_ratio']:.2f} | {r['same_values']} |"
              for r in rows]
    (RESULTS / "product_cost.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
