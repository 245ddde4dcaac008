"""File helpers at the bottom of the package: atomic writes, sha256 digests, folder locks and
folders swapped into place whole. Imports nothing of :mod:`gcl`."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from os import PathLike
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_write(path: str | PathLike, mode: str = "wb") -> Iterator[Any]:
    """Opens a temporary file next to :obj:`path`; on success it is flushed, fsynced and
    renamed onto :obj:`path`, on failure removed, so :obj:`path` is either the old file or
    the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def current_umask() -> int:
    """The process's umask (read by setting it and back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sha256_file(path: str | PathLike) -> str:
    """Hex sha256 of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class FolderBusyError(RuntimeError):
    """Another process holds the lock of a folder that this one would write."""


@contextlib.contextmanager
def folder_lock(lock_path: str | PathLike, what: str) -> Iterator[None]:
    """Holds an exclusive :class:`filelock.FileLock` on :obj:`lock_path` (an empty file,
    left in place), or raises :class:`FolderBusyError` at once when another process holds
    it.

    Args:
        lock_path (str or PathLike): the lock file; its folder is created if missing.
        what (str): what the lock guards, for the message, e.g. :obj:`"the run folder
            runs/a"`.
    """
    from filelock import FileLock, Timeout

    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise FolderBusyError(
            f"another process is writing {what} (it holds the lock {lock_path}): wait for it "
            "to finish, or choose another folder") from None
    try:
        yield
    finally:
        lock.release()


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swaps two paths in one step with Linux's :obj:`renameat2(RENAME_EXCHANGE)`; returns
    :obj:`False` where the system has no such call."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError, TypeError):
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: not here; fall back
        return False
    raise OSError(err, os.strerror(err), str(a))


def swap_folder(new: str | PathLike, target: str | PathLike) -> Path | None:
    """Puts the complete folder :obj:`new` at :obj:`target` (a sibling), in one rename where
    the system allows it. Returns the old folder, now under a hidden sibling name, for the
    caller to empty, or :obj:`None` when there was none.

    Where the exchange is not available, :obj:`target` is renamed away and :obj:`new` into
    its place: a reader may then find no folder for an instant, never a mixed one."""
    new, target = Path(new), Path(target)
    if not target.exists():
        os.rename(new, target)
        return None
    if _exchange(new, target):
        return new  # which now holds the old folder
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rmdir(old)
    os.rename(target, old)
    os.rename(new, target)
    return old


def remove_tree(path: str | PathLike) -> None:
    """Removes a folder this package wrote (a temporary or replaced one); errors ignored."""
    shutil.rmtree(path, ignore_errors=True)
