"""Training checkpoints: written atomically, read without unpickling code.

A checkpoint is one file, :obj:`<checkpoint_dir>/checkpoint.pt`, written by
:class:`gcl.train.Trainer` at the end of every epoch. It holds everything the loop needs
to go on exactly where it was: the weights, the optimiser state, the state of every random
number generator (the loop's :class:`torch.Generator`, torch's global CPU and CUDA
generators, numpy's and Python's global ones), the epoch, the early-stopping state, the
training history, and a fingerprint of the run (settings and data) that a resume must
match.

It is saved with :func:`torch.save` through :func:`gcl._io.atomic_write` (temporary
file, fsync, rename), so a crash, a Ctrl-C or a SIGKILL at any moment leaves either the
previous checkpoint or the new one, never half a file; it is read with
:obj:`torch.load(weights_only=True)`, which refuses pickled code.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcl._io import atomic_write
from gcl._version import __version__

if TYPE_CHECKING:
    import numpy as np
    import torch

# torch loads in the functions that use it: the command line reads the names of a run
# folder's files from here, and its --help must not wait for torch.

#: The file name of the checkpoint inside a checkpoint folder.
CHECKPOINT = "checkpoint.pt"
FORMAT = "gcl.checkpoint"
FORMAT_VERSION = 1


def checkpoint_path(directory: str | PathLike) -> Path:
    """The checkpoint file of a checkpoint folder."""
    return Path(directory) / CHECKPOINT


def check_target(directory: str | PathLike, resume: bool) -> Path:
    """Checks, before any work, that a fit may use :obj:`directory`: with :obj:`resume` it
    must hold a checkpoint; without, it must not (a new run would overwrite the work of the
    old one). Returns the checkpoint path.

    Raises:
        FileNotFoundError: :obj:`resume` and no checkpoint.
        FileExistsError: not :obj:`resume` and a checkpoint is there.
    """
    path = checkpoint_path(directory)
    if resume and not path.is_file():
        raise FileNotFoundError(f"no checkpoint to resume in {directory} ({path} is missing)")
    if not resume and path.exists():
        raise FileExistsError(
            f"{path} already holds a checkpoint: continue that run with resume=True "
            "(gcl train --resume RUN), or delete it or choose another folder to start anew")
    return path


def save_checkpoint(path: str | PathLike, state: dict[str, Any]) -> None:
    """Writes :obj:`state` (plain containers, numbers, strings and tensors only) to
    :obj:`path` atomically, tagged with the checkpoint format."""
    import torch

    with atomic_write(path) as f:
        torch.save({"format": FORMAT, "format_version": FORMAT_VERSION,
                    "gcl_version": __version__, **state}, f)


def load_checkpoint(path: str | PathLike) -> dict[str, Any]:
    """Reads a checkpoint written by :func:`save_checkpoint`, with
    :obj:`torch.load(weights_only=True)`.

    Raises:
        ValueError: the file is truncated, corrupt, holds pickled objects other than
            tensors and plain containers, or is not a gcl checkpoint.
    """
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for corrupt or unsafe files
        raise ValueError(f"{os.fspath(path)!r} is not a readable gcl checkpoint (truncated, "
                         f"damaged, or holding pickled objects that are refused): {e}") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not a gcl checkpoint")
    if state.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{os.fspath(path)!r} is a checkpoint of format version "
                         f"{state.get('format_version')}; this gcl reads version "
                         f"{FORMAT_VERSION}")
    return state


# ---------------------------------------------------------------------------- fingerprints
def plain(value: Any) -> Any:
    """:obj:`value` as JSON would give it back (tuples become lists, numpy scalars numbers),
    so that a fingerprint compares equal after a save and a load."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def array_digest(*arrays: np.ndarray) -> str:
    """A sha256 of arrays' shapes, dtypes and bytes: the fingerprint of a log."""
    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def differences(saved: dict[str, Any], now: dict[str, Any], prefix: str = "") -> list[str]:
    """Where two fingerprints differ, one line per key, e.g.
    :obj:`"config.lr: 0.05 in the checkpoint, 0.01 now"`; keys ending in :obj:`sha256`
    are digests of data, reported as such."""
    out = []
    for key in sorted(set(saved) | set(now), key=str):
        a, b = saved.get(key, "<missing>"), now.get(key, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(differences(a, b, f"{prefix}{key}."))
        elif a != b and str(key).endswith("sha256"):
            out.append(f"{prefix}{key}: the data differ from the checkpoint's")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} in the checkpoint, {b!r} now")
    return out


# ---------------------------------------------------------------------------- random states
def rng_states(generator: torch.Generator) -> dict[str, Any]:
    """The state of every random number generator a fit draws from."""
    import numpy as np
    import torch

    np_state = np.random.get_state(legacy=False)
    py_version, py_internal, py_gauss = random.getstate()
    return {
        "generator": generator.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]),
                  "has_gauss": int(np_state["has_gauss"]), "gauss": float(np_state["gauss"])},
        "python": [py_version, list(py_internal), py_gauss],
    }


def set_rng_states(generator: torch.Generator, states: dict[str, Any]) -> None:
    """Restores what :func:`rng_states` recorded. CUDA states are restored when this
    machine has as many devices as the one that wrote them."""
    import numpy as np
    import torch

    generator.set_state(states["generator"])
    torch.set_rng_state(states["torch"])
    cuda = states.get("cuda") or []
    if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(cuda)
    n = states["numpy"]
    np.random.set_state({"bit_generator": "MT19937",
                         "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
                         "has_gauss": n["has_gauss"], "gauss": n["gauss"]})
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
