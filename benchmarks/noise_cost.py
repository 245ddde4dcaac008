"""CPU cost of SimGCL/XSimGCL's embedding noise, written as the paper's code writes it
(``h + eps * F.normalize(r) * sign(h)``, three more [N, d] tensors per layer) and as
:class:`gcl.augment.EmbeddingNoise` computes it (in place, the same numbers bit for bit),
side by side in one process: the perturbation alone at the dataset's node count, and whole
XSimGCL steps (loss, backward, Adam) on the dataset.

    python benchmarks/noise_cost.py --dataset gowalla --threads 1

Blocks of ``--steps`` alternate between the two forms ``--rounds`` times; the clock is
``time.process_time()``. Writes ``benchmarks/results/noise_cost.{json,md}``.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="gowalla")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from common import build_pipeline

    from gcl.augment.noise import EmbeddingNoise
    from gcl.data.sampler import NegativeSampler

    train, _, _, _ = load_split(args.dataset)
    n = train.num_users + train.num_items
    h = torch.randn(n, 64, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    perturb = alternate({
        "paper": lambda: allocating(h, 0.2, gen),
        "gcl": lambda: EmbeddingNoise.noise(h, 0.2, gen).add_(h)}, 10, args.rounds)

    method, graph = build_pipeline(train, "xsimgcl", layers=2, cl_anchors=2048)
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
    command = command_line("noise_cost.py")
    env = environment(args.threads, command)
    row = {"dataset": args.dataset, "nodes": n, "batch_size": args.batch_size,
           "perturb_ms": {k: 1000 * v for k, v in perturb.items()},
           "step_ms": {k: 1000 * v for k, v in steps.items()},
           "step_ratio": steps["gcl"] / steps["paper"],
           **{k: env[k] for k in ("commit", "cpu", "threads")}, "command": command,
           "env": env}
    print(json.dumps(row), flush=True)
    rows = merge_result(RESULTS / "noise_cost.json", args.dataset, row)
    lines = ["# Embedding noise: the paper's form against gcl's in-place form", "",
             "CPU ms (`time.process_time()`), blocks alternating in one process. The "
             "perturbation of one [N, 64] layer; an XSimGCL step (2 layers, 2048 anchors, "
             "loss, backward, Adam). Both forms give the same numbers bit for bit "
             "(tests/augment/test_noise.py).", "",
             "| dataset | nodes | perturb paper | perturb gcl | batch | step paper | step gcl "
             "| step ratio | threads | commit | command |", "|---" * 11 + "|"]
    lines += [f"| {r['dataset']} | {r['nodes']} | {r['perturb_ms']['paper']:.1f} | "
              f"{r['perturb_ms']['gcl']:.1f} | {r['batch_size']} | {r['step_ms']['paper']:.0f} "
              f"| {r['step_ms']['gcl']:.0f} | {r['step_ratio']:.2f} | {r['threads']} | "
              f"{r['commit']} | `{r['command']}` |" for r in rows.values()]
    (RESULTS / "noise_cost.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
