"""Where and how the work runs: torch's CPU threads and the device."""
from __future__ import annotations

import contextlib
import functools
import os
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
