"""Where and how the work runs: torch's CPU threads and the device."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import torch

from gcl.settings import HyperparameterError


def resolve_threads(num_threads: int | str) -> int:
    """The number of torch threads that :obj:`num_threads` (an int >= 1 or :obj:`"auto"`)
    asks for on this machine.

    :obj:`"auto"` keeps torch's setting when :obj:`OMP_NUM_THREADS` is set or the process
    may use more than two CPUs, and takes 1 thread on one or two CPUs: there torch's OpenMP
    threads spin-wait for each other whenever another process holds the other core, which
    makes an epoch many times slower, while one thread loses little (sparse propagation is
    bound by memory).
    """
    if num_threads == "auto":
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cpus = os.cpu_count() or 1
        if os.environ.get("OMP_NUM_THREADS") or cpus > 2:
            return torch.get_num_threads()
        return 1
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be an integer >= 1 or 'auto', got {num_threads!r}")
    return num_threads


@contextlib.contextmanager
def threads(num_threads: int | str) -> Iterator[None]:
    """torch's CPU thread count set to :obj:`num_threads` (see :func:`resolve_threads`) for
    a block, and restored after it."""
    before, wanted = torch.get_num_threads(), resolve_threads(num_threads)
    if wanted != before:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def with_threads(fn: Callable) -> Callable:
    """Runs a method of an object with a :obj:`num_threads` setting under :func:`threads`."""
    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with threads(self.get_params().get("num_threads", "auto")):
            return fn(self, *args, **kwargs)
    return wrapper


#: glibc's :obj:`mallopt` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


@functools.cache
def reuse_memory() -> bool:
    """Makes this process keep the memory it frees for reuse, where the C library is glibc
    (Linux): blocks of any size come from the heap (:obj:`M_MMAP_THRESHOLD` 1 GiB) and the
    heap is not trimmed back to the system (:obj:`M_TRIM_THRESHOLD` 2 GiB).

    A training step allocates and frees the same large tensors (each layer of the whole
    graph, its gradient), and by default glibc gives blocks that large back to the system,
    so each step faults their pages in again and the kernel zeroes them: tens of thousands
    of page faults per step. With this, the process's resident memory stays at its peak
    instead (as torch's CUDA allocator does on a GPU). It is process-wide and stays on; it
    changes no result. Called by :meth:`gcl.GraphCLRecommender.fit` with
    :obj:`reuse_memory=True`; off by default, as it is process-wide and what it saves
    depends on the machine and the sizes (see :obj:`benchmarks/results/step_savings.md`).

    Returns:
        bool: whether the settings were taken (:obj:`False` off glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    done = bool(mallopt(_M_MMAP_THRESHOLD, 1 << 30)) and bool(
        mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1))
    logging.getLogger("gcl.runtime").debug("reuse_memory: %s", done)
    return done


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device of :obj:`device`: :obj:`"auto"` is CUDA when present, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def check_device(device: str) -> None:
    """Raises a :class:`~gcl.settings.HyperparameterError` naming :obj:`device` unless
    torch knows it and it is here (:obj:`"auto"` always is)."""
    if device == "auto":
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise HyperparameterError("device", f"device must be 'auto', 'cpu', 'cuda', "
                                  f"'cuda:N', ..., got {device!r}") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            raise HyperparameterError("device", f"device {device!r} is not here (torch sees "
                                      f"{count} CUDA device(s)); use 'cpu' or 'auto'")
