"""Two savings in an XSimGCL step that change no result, each measured against its absence
side by side, one process at a time:

- the embedding noise written as the paper's code writes it (``h + eps * F.normalize(r) *
  sign(h)``, three more [N, d] tensors per layer) against :class:`gcl.augment.EmbeddingNoise`,
  which computes it in place (the same numbers bit for bit): the perturbation alone, and
  whole steps, blocks alternating in one process;
- glibc's default malloc against :func:`gcl.runtime.reuse_memory` (freed memory kept for
  reuse): whole steps in fresh child processes, alternating (the setting is process-wide),
  with the minor page faults per step.

    python benchmarks/step_savings.py --dataset gowalla --threads 1

A step is loss, backward and Adam at ``--batch-size`` and ``--dim`` (2 layers, 2048
anchors). The clock is ``time.process_time()``. Writes
``benchmarks/results/step_savings.{json,md}``; a run at other than the default batch size
and dim keeps its own row.
"""
from __future__ import annotations

import argparse
import json
import time

from common import RESULTS, command_line, environment, load_split, merge_result


def allocating(h, eps: float, generator):
    """The perturbation as SELFRec's SimGCL/XSimGCL write it."""
    import torch
    import torch.nn.functional as F

    r = torch.rand(h.shape, generator=generator, dtype=h.dtype)
    return h + eps * F.normalize(r, dim=-1) * torch.sign(h.detach())


def alternate(forms: dict, steps: int, rounds: int) -> dict[str, float]:
    """Mean CPU seconds per call of each of :obj:`forms` (name -> callable)."""
    spent = dict.fromkeys(forms, 0.0)
    for _ in range(rounds):
        for name, fn in forms.items():
            t = time.process_time()
            for _ in range(steps):
                fn()
            spent[name] += time.process_time() - t
    return {name: s / (steps * rounds) for name, s in spent.items()}


def xsimgcl_step(args: argparse.Namespace):
    """One XSimGCL training step on :obj:`args.dataset` as a function (loss, backward,
    Adam), from fixed seeds."""
    import torch
    from common import build_pipeline

    from gcl.data.sampler import NegativeSampler

    train, _, _, _ = load_split(args.dataset)
    method, graph = build_pipeline(train, "xsimgcl", dim=args.dim, layers=2, cl_anchors=2048)
    opt = torch.optim.Adam(method.parameters(), lr=8e-3)
    method.train()
    method.new_epoch(graph, torch.Generator().manual_seed(2))
    sampler = NegativeSampler(train, generator=torch.Generator().manual_seed(3))
    users, items = torch.from_numpy(train.users), torch.from_numpy(train.items)
    pick = torch.Generator().manual_seed(4)

    def step() -> None:
        idx = torch.randint(len(train), (args.batch_size,), generator=pick)
        loss = method.loss(graph, users[idx], items[idx], sampler.sample(users[idx], 1))
        opt.zero_grad(set_to_none=True)
        loss["loss"].backward()
        opt.step()
    return step


def child(args: argparse.Namespace) -> None:
    """Times :obj:`args.steps` XSimGCL steps in this process, with or without
    :func:`gcl.runtime.reuse_memory`; prints CPU s and minor page faults per step."""
    import resource

    import torch

    from gcl.runtime import reuse_memory

    if args.child == "reuse":
        reuse_memory()
    torch.set_num_threads(args.threads)
    step = xsimgcl_step(args)
    step()
    faults, t = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time()
    for _ in range(args.steps):
        step()
    print(json.dumps({"step_s": (time.process_time() - t) / args.steps,
                      "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
                      / args.steps}))


def memory(args: argparse.Namespace) -> dict:
    """Steps with glibc's default malloc and with reuse_memory, in alternating children."""
    import subprocess
    import sys

    runs: dict[str, list[dict]] = {"default": [], "reuse": []}
    for _ in range(args.rounds):
        for mode in runs:
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--dataset",
                                  args.dataset, "--threads", str(args.threads), "--steps",
                                  str(args.steps), "--batch-size", str(args.batch_size),
                                  "--dim", str(args.dim)],
                                 check=True, capture_output=True, text=True).stdout
            runs[mode].append(json.loads(out.strip().splitlines()[-1]))
    return {mode: {"step_ms": 1000 * sum(r["step_s"] for r in rs) / len(rs),
                   "faults_per_step": sum(r["faults"] for r in rs) / len(rs)}
            for mode, rs in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="gowalla")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=["default", "reuse"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    import torch

    torch.set_num_threads(args.threads)
    from gcl.augment.noise import EmbeddingNoise

    train, _, _, _ = load_split(args.dataset)
    n = train.num_users + train.num_items
    h = torch.randn(n, args.dim, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    perturb = alternate({
        "paper": lambda: allocating(h, 0.2, gen),
        "gcl": lambda: EmbeddingNoise.noise(h, 0.2, gen).add_(h)}, 10, args.rounds)
    step = xsimgcl_step(args)
    original = EmbeddingNoise.noise

    def paper_step() -> None:
        EmbeddingNoise.noise = staticmethod(  # type: ignore[method-assign]
            lambda x, eps, g=None: allocating(x, eps, g) - x.detach())
        try:
            step()
        finally:
            EmbeddingNoise.noise = original  # type: ignore[method-assign]

    step()
    steps = alternate({"paper": paper_step, "gcl": step}, args.steps, args.rounds)
    mem = memory(args)
    command = command_line("step_savings.py")
    env = environment(args.threads, command)
    row = {"dataset": args.dataset, "nodes": n, "batch_size": args.batch_size, "dim": args.dim,
           "perturb_ms": {k: 1000 * v for k, v in perturb.items()},
           "step_ms": {k: 1000 * v for k, v in steps.items()},
           "step_ratio": steps["gcl"] / steps["paper"], "memory": mem,
           "memory_ratio": mem["reuse"]["step_ms"] / mem["default"]["step_ms"],
           **{k: env[k] for k in ("commit", "cpu", "threads")}, "command": command,
           "env": env}
    print(json.dumps(row), flush=True)
    defaults = (parser.get_default("batch_size"), parser.get_default("dim"))
    key = args.dataset if (args.batch_size, args.dim) == defaults else \
        f"{args.dataset}/b{args.batch_size}/d{args.dim}"
    rows = merge_result(RESULTS / "step_savings.json", key, row)
    lines = ["# Two savings in an XSimGCL step that change no result", "",
             "CPU ms (`time.process_time()`) of one XSimGCL step (2 layers, 2048 anchors, "
             "loss, backward, Adam). Noise: the paper's form against gcl's in-place form "
             "(the same numbers bit for bit, tests/augment/test_noise.py), blocks "
             "alternating in one process; the perturbation of one [N, dim] layer, and whole "
             "steps. Memory: glibc's default malloc against `reuse_memory` (on in `fit`), "
             "whole steps in alternating child processes, with minor page faults per step.",
             "", "| dataset | nodes | batch | dim | perturb paper | perturb gcl | "
             "step, paper noise | step, gcl noise | ratio | step, default malloc | "
             "step, reuse_memory | ratio "
             "| faults/step default | faults/step reuse | CPU | threads | commit | command |",
             "|---" * 18 + "|"]
    for r in rows.values():
        m = r["memory"]
        lines.append(
            f"| {r['dataset']} | {r['nodes']} | {r['batch_size']} | {r.get('dim', 64)} | "
            f"{r['perturb_ms']['paper']:.1f} | {r['perturb_ms']['gcl']:.1f} | "
            f"{r['step_ms']['paper']:.0f} | {r['step_ms']['gcl']:.0f} | {r['step_ratio']:.2f} "
            f"| {m['default']['step_ms']:.0f} | {m['reuse']['step_ms']:.0f} | "
            f"{r['memory_ratio']:.2f} | {m['default']['faults_per_step']:.0f} | "
            f"{m['reuse']['faults_per_step']:.0f} | {r['cpu']} | {r['threads']} | {r['commit']} | "
            f"`{r['command']}` |")
    (RESULTS / "step_savings.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
