r"""Data-parallel training on :mod:`torch.distributed`: process-group set-up, the share of a
batch each rank trains on, and the few collectives :class:`gcl.train.Trainer` needs.

Every rank holds the whole graph and a full replica of the weights; each step, the global
batch of :math:`W \cdot B` triples (:math:`W` ranks, :obj:`batch_size` :math:`B` per rank)
is cut into :math:`W` parts, rank :math:`r` computes the loss of part :math:`r`, and
:class:`~torch.nn.parallel.DistributedDataParallel` averages the gradients (gloo on CPU,
NCCL on GPU) before every rank takes the same Adam step. All ranks draw the same
permutation, negatives and augmented views from the same seed, so the global batches are
those of a one-process run with batch size :math:`W \cdot B`.

Launch with torchrun, which sets :obj:`RANK`, :obj:`WORLD_SIZE`, :obj:`LOCAL_RANK` and the
rendezvous address::

    torchrun --standalone --nproc_per_node 2 -m gcl train --dataset ml-100k --out RUN
    gcl train --nproc 2 --dataset ml-100k --out RUN            # the same, launched for you
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from gcl.checkpoint import differences


def active() -> bool:
    """Whether a process group of more than one rank is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """Number of ranks (1 without a process group)."""
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Whether this process writes files and evaluates (rank 0, or no process group)."""
    return rank() == 0


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher that sets
    :obj:`WORLD_SIZE` and :obj:`RANK`) as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_from_env(backend: str | None = None) -> bool:
    r"""Joins the process group that torchrun's environment describes; does nothing when the
    process was not launched as one of several ranks or a group exists already.

    Args:
        backend (str, optional): :obj:`"gloo"` or :obj:`"nccl"`; by default NCCL when CUDA
            is available, else gloo. With NCCL, this rank's GPU (:obj:`LOCAL_RANK`) becomes
            the current CUDA device, so :obj:`device="auto"` or :obj:`"cuda"` picks it.
            (default: :obj:`None`)

    Returns:
        bool: whether a process group of more than one rank is active.
    """
    if not launched() or dist.is_initialized():
        return active()
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return active()


def shutdown() -> None:
    """Leaves the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def check_same(fingerprint: dict[str, Any], what: str = "the run") -> None:
    """Raises on every rank when the ranks disagree on :obj:`fingerprint` (settings, sizes
    and a digest of the train data): one all-gather of a small dict.

    Raises:
        ValueError: naming the first rank that differs from rank 0 and where.
    """
    if not active():
        return
    gathered: list[Any] = [None] * world_size()
    dist.all_gather_object(gathered, fingerprint)
    for r, other in enumerate(gathered[1:], 1):
        diffs = differences(gathered[0], other)
        if diffs:
            lines = [d.replace("in the checkpoint", "on rank 0").replace(" now", f" on rank {r}")
                     .replace("differ from the checkpoint's", f"differ between ranks 0 and {r}")
                     for d in diffs]
            raise ValueError(f"the ranks disagree on {what}; every rank must load the same "
                             "data with the same settings:\n  " + "\n  ".join(lines))


def part(n: int) -> slice:
    """This rank's share of a global batch of :obj:`n` rows: contiguous, the first
    :obj:`n % W` ranks one row longer (empty when :obj:`n < W` and the rank is past it)."""
    w, r = world_size(), rank()
    size, extra = divmod(n, w)
    start = r * size + min(r, extra)
    return slice(start, start + size + (r < extra))


class _Loss(nn.Module):
    """The method's loss as :meth:`forward`, which is what DDP hooks into."""

    def __init__(self, method: nn.Module) -> None:
        super().__init__()
        self.method = method

    def forward(self, graph: Any, users: torch.Tensor, pos: torch.Tensor,
                neg: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.method.loss(graph, users, pos, neg)


def wrap(method: nn.Module) -> nn.Module:
    """:obj:`method`'s loss wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`:
    call it like :obj:`method.loss`; backward averages the gradients over the ranks.
    Construction broadcasts rank 0's weights, so every replica starts equal. Buffers are
    not re-broadcast per step (each rank derives them from the same data and seed), and
    parameters a method leaves out of a loss (e.g. a text branch) are allowed."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    # Newer torch renames broadcast_buffers (and warns about the old name).
    newer = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
    sync = {"forward_sync_buffers" if newer else "broadcast_buffers": False}
    return DistributedDataParallel(_Loss(method), find_unused_parameters=_has_idle_params(method),
                                   **sync)


def _has_idle_params(method: nn.Module) -> bool:
    # Only the methods with parts beside the encoder's table pay DDP's extra graph walk.
    return sum(1 for p in method.parameters() if p.requires_grad) > 1


def all_sum(values: Sequence[float], device: torch.device) -> list[float]:
    """Element-wise sum over the ranks of a few numbers (float64)."""
    if not active():
        return list(values)
    t = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def from_main(flag: bool, device: torch.device) -> bool:
    """Rank 0's :obj:`flag` on every rank (e.g. stop early: only rank 0 evaluates)."""
    if not active():
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.broadcast(t, 0)
    return bool(t.item())


def sync_from_main(module: nn.Module) -> None:
    """Overwrites every rank's parameters and buffers with rank 0's (e.g. the best weights,
    which only rank 0 knows, at the end of a fit). Also a meeting point: no rank returns
    before rank 0 got here, so its files are written."""
    if not active():
        return
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, 0)


def launch(argv: Sequence[str], nproc: int) -> int:
    """Runs :obj:`python -m gcl *argv` on :obj:`nproc` local ranks through
    :mod:`torch.distributed.run` (torchrun's :obj:`--standalone` rendezvous); returns 0, or
    raises :class:`ValueError` when a rank failed (torchrun has printed its error)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    if nproc < 1:
        raise ValueError(f"--nproc must be >= 1, got {nproc}")
    try:
        torchrun(["--standalone", "--nproc_per_node", str(nproc), "-m", "gcl", *argv])
    except ChildFailedError as e:
        raise ValueError(f"a rank of the {nproc}-process run failed:\n{e}") from None
    return 0
