r"""Finding, downloading, checking and unpacking the files of a named dataset.

Files are looked up, in order, in

1. :obj:`root` when given, else :obj:`$GCL_DATA_DIR/<name>/` when :obj:`GCL_DATA_DIR` is
   set (that folder may be read-only: nothing is ever written there);
2. the cache, :obj:`$GCL_CACHE_DIR/raw/<name>/` (:obj:`GCL_CACHE_DIR` defaults to
   :obj:`~/.cache/gcl`).

In each folder the files may also lie in the archive's own folder (e.g.
:obj:`ml-1m/ml-1m/ratings.dat`, as left by unzipping there). Files found nowhere are
downloaded into the cache only, each to a temporary name that is renamed once complete, and
checked against the sha256 recorded in :obj:`registry.json`.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any

from gcl._io import atomic_write, sha256_file
from gcl.datasets.base import ChecksumError, DatasetNotFoundError, UnsafeArchiveError

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


# ---------------------------------------------------------------------------- places
def cache_dir() -> Path:
    """The cache folder: :obj:`$GCL_CACHE_DIR`, else :obj:`~/.cache/gcl`."""
    return Path(os.environ.get("GCL_CACHE_DIR") or Path.home() / ".cache" / "gcl").expanduser()


def raw_dir(name: str) -> Path:
    """The cache folder of one dataset's raw files, :obj:`<cache>/raw/<name>`."""
    return cache_dir() / "raw" / name


def lookup_dirs(name: str, root: str | PathLike | None = None) -> list[Path]:
    r"""The folders searched for the files of :obj:`name`, in order.

    Args:
        name (str): the dataset's name.
        root (str or PathLike, optional): a folder holding the files; replaces
            :obj:`$GCL_DATA_DIR/<name>`. (default: :obj:`None`)
    """
    dirs = []
    if root is not None:
        dirs.append(Path(root).expanduser())
    elif os.environ.get("GCL_DATA_DIR"):
        dirs.append(Path(os.environ["GCL_DATA_DIR"]).expanduser() / name)
    dirs.append(raw_dir(name))
    return dirs


# ---------------------------------------------------------------------------- checksums
def verify_file(path: str | PathLike, expected: str | None, dataset: str = "") -> None:
    r"""Raises :class:`~gcl.datasets.ChecksumError` when the sha256 of :obj:`path` is not
    :obj:`expected`; does nothing when :obj:`expected` is :obj:`None`.

    Args:
        path (str or PathLike): the file.
        expected (str, optional): the hex digest recorded in the registry.
        dataset (str): the dataset's name, for the message. (default: :obj:`""`)
    """
    if expected is None:
        return
    actual = sha256_file(path)
    if actual != expected.lower():
        of = f" of dataset {dataset!r}" if dataset else ""
        raise ChecksumError(
            f"checksum mismatch for {path}{of}: expected sha256 {expected}, got {actual}. "
            "The file may be truncated, corrupted or from another release: replace it (or "
            "delete it from the cache to download it again), or pass verify=False to "
            "load_dataset to load it unchecked."
        )


# ---------------------------------------------------------------------------- downloads
def download_url(url: str, dest: str | PathLike, sha256: str | None = None,
                 timeout: float = 60.0) -> Path:
    r"""Downloads :obj:`url` to :obj:`dest` through a temporary file in the same folder,
    renamed into place only when complete (and, where :obj:`sha256` is given, checked).

    Args:
        url (str): what to download.
        dest (str or PathLike): the file to write.
        sha256 (str, optional): the expected hex digest; a mismatch raises
            :class:`~gcl.datasets.ChecksumError` and leaves nothing behind.
            (default: :obj:`None`)
        timeout (float): seconds to wait on the connection. (default: :obj:`60.0`)
    """
    dest = Path(dest)
    digest = hashlib.sha256()
    log.info("downloading %s to %s", url, dest)
    with atomic_write(dest) as out, urllib.request.urlopen(url, timeout=timeout) as resp:
        while chunk := resp.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise ChecksumError(
                f"checksum mismatch for {url} (downloaded for {dest}): expected sha256 "
                f"{sha256}, got {digest.hexdigest()}. The download is corrupted or the file "
                "has changed upstream; nothing was saved."
            )
    return dest


# ---------------------------------------------------------------------------- archives
def _safe_name(archive: Path, name: str) -> PurePosixPath:
    """The member's path, checked to stay inside the target folder."""
    norm = name.replace("\\", "/")
    path = PurePosixPath(norm)
    if not norm or norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise UnsafeArchiveError(
            f"archive {archive} holds a member with an absolute path, {name!r}; "
            "refusing to extract it")
    if ".." in path.parts:
        raise UnsafeArchiveError(
            f"archive {archive} holds a member that climbs out of the target folder, "
            f"{name!r}; refusing to extract it")
    return path


def _members(archive: Path) -> Iterator[tuple[PurePosixPath, bool, Any]]:
    """Yields (path, is_dir, handle) for each member, after rejecting links and specials."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:
                _safe_name(archive, info.filename)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise UnsafeArchiveError(
                        f"archive {archive} holds a symbolic link, {info.filename!r}; "
                        "refusing to extract it")
            for info in infos:
                yield _safe_name(archive, info.filename), info.is_dir(), (zf, info)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            infos = tf.getmembers()
            for info in infos:
                _safe_name(archive, info.name)
                if info.issym() or info.islnk():
                    raise UnsafeArchiveError(
                        f"archive {archive} holds a link, {info.name!r} -> "
                        f"{info.linkname!r}; refusing to extract it")
                if not (info.isfile() or info.isdir()):
                    raise UnsafeArchiveError(
                        f"archive {archive} holds {info.name!r}, which is neither a file "
                        "nor a folder; refusing to extract it")
            for info in infos:
                yield _safe_name(archive, info.name), info.isdir(), (tf, info)
    else:
        raise ValueError(f"{archive} is neither a zip nor a tar archive")


def _open_member(handle: Any) -> Any:
    owner, info = handle
    return owner.open(info) if isinstance(owner, zipfile.ZipFile) else owner.extractfile(info)


def extract_archive(archive: str | PathLike, target: str | PathLike,
                    members: Mapping[str, str] | None = None) -> list[Path]:
    r"""Extracts a zip or tar archive inside :obj:`target`, safely: the whole archive is
    rejected with :class:`~gcl.datasets.UnsafeArchiveError` before anything is written if
    any member has an absolute path or a :obj:`..` part, or is a link or a special file.
    Each file is written to a temporary name and renamed into place.

    Args:
        archive (str or PathLike): a :obj:`.zip`, :obj:`.tar`, :obj:`.tar.gz`, ... file.
        target (str or PathLike): the folder to extract into (created if missing).
        members (Mapping[str, str], optional): which members to extract, as member path
            (e.g. :obj:`"ml-100k/u.data"`) to file name inside :obj:`target` (e.g.
            :obj:`"u.data"`); a member named here but missing from the archive raises
            :class:`KeyError`. (default: :obj:`None`, every member under its own path)

    Returns:
        The paths written.
    """
    archive, target = Path(archive), Path(target)
    # Consume the whole listing first: it validates every member before any write.
    listing = list(_members(archive))
    wanted = None
    if members is not None:
        wanted = {str(_safe_name(archive, k)): _safe_name(archive, v) for k, v in members.items()}
        missing = sorted(set(wanted) - {str(p) for p, _, _ in listing})
        if missing:
            raise KeyError(f"archive {archive} lacks the member(s) {missing}")
    target.mkdir(parents=True, exist_ok=True)
    base = target.resolve()
    written = []
    # The handles stay valid only inside _members' context: walk it a second time.
    for path, is_dir, handle in _members(archive):
        if wanted is not None:
            if str(path) not in wanted:
                continue
            rel = wanted[str(path)]
        else:
            rel = path
        dest = target.joinpath(*rel.parts)
        if not dest.resolve().is_relative_to(base):  # e.g. through a link already there
            raise UnsafeArchiveError(f"member {str(path)!r} of {archive} would be written "
                                     f"outside {target}; refusing to extract it")
        if is_dir:
            dest.mkdir(parents=True, exist_ok=True)
            continue
        with atomic_write(dest) as out, _open_member(handle) as src:
            shutil.copyfileobj(src, out, _CHUNK)
        written.append(dest)
    return written


# ---------------------------------------------------------------------------- the whole fetch
def _where_to_get(name: str, entry: Mapping[str, Any], files: list[str]) -> str:
    if "archive" in entry:
        arc = entry["archive"]
        return (f"download {arc['url']} and extract {', '.join(files)} (found in the folder "
                f"{arc['folder']}/ of the archive)")
    return "download " + "; ".join(f"{f} from {entry['files'][f]['url']}" for f in files)


def _source(entry: Mapping[str, Any], file: str) -> str:
    if "archive" in entry:
        return f"{entry['archive']['url']} (in its folder {entry['archive']['folder']}/)"
    return entry["files"][file]["url"]


def _not_found(name: str, entry: Mapping[str, Any], dirs: list[Path], missing: list[str],
               cause: BaseException | None) -> DatasetNotFoundError:
    why = (f"the download failed ({type(cause).__name__}: {cause})" if cause is not None
           else "download=False")
    return DatasetNotFoundError(
        f"the files of dataset {name!r} were not found and could not be downloaded: {why}.\n"
        f"Missing: {', '.join(missing)}.\n"
        f"Put {', '.join(entry['files'])} into one of these folders:\n"
        + "".join(f"  {d}\n" for d in dirs)
        + f"To get them, {_where_to_get(name, entry, missing)}.\n"
        f"Or set GCL_DATA_DIR to a folder whose subfolder {name}/ holds them, or pass "
        "root= (a folder holding them) to load_dataset."
    )


def find_local(entry: Mapping[str, Any], dirs: list[Path]) -> Path | None:
    """The first folder that holds every file of a registered dataset, or :obj:`None`;
    nothing is checked or downloaded.

    Args:
        entry (Mapping): the dataset's registry entry (its :obj:`files`, and the
            :obj:`archive` folder that may hold them inside each folder).
        dirs (list of Path): the folders to look in, in order (see :func:`lookup_dirs`).
    """
    files = list(entry["files"])
    inner = entry.get("archive", {}).get("folder")
    for d in dirs:
        for cand in (d, d / inner) if inner else (d,):
            if all((cand / f).is_file() for f in files):
                return cand
    return None


def fetch(name: str, entry: Mapping[str, Any], root: str | PathLike | None = None,
          download: bool = True, verify: bool = True) -> Path:
    r"""The folder holding every file of a registered dataset, downloading what is missing
    into the cache and checking the files' sha256.

    Args:
        name (str): the dataset's name.
        entry (Mapping): its registry entry.
        root (str or PathLike, optional): a folder to look in first, instead of
            :obj:`$GCL_DATA_DIR/<name>`. (default: :obj:`None`)
        download (bool): whether to download missing files. (default: :obj:`True`)
        verify (bool): whether to check the files' sha256 where the registry records one;
            where it records none, a :class:`UserWarning` says so. (default: :obj:`True`)
    """
    dirs = lookup_dirs(name, root)
    files = entry["files"]
    folder = find_local(entry, dirs)
    checked: set[str] = set()
    if folder is None:
        cache = raw_dir(name)
        missing = [f for f in files if not (cache / f).is_file()]
        if not download:
            raise _not_found(name, entry, dirs, missing, None)
        try:
            if "archive" in entry:
                arc = entry["archive"]
                tmp_dir = Path(tempfile.mkdtemp(dir=_mkdir(cache), prefix=".download-"))
                try:
                    zpath = download_url(arc["url"], tmp_dir / Path(arc["url"]).name,
                                         arc.get("sha256") if verify else None)
                    extract_archive(zpath, tmp_dir / "files",
                                    {f"{arc['folder']}/{f}": f for f in missing})
                    for f in missing:
                        if verify:
                            verify_file(tmp_dir / "files" / f, files[f]["sha256"], name)
                            checked.add(f)
                        os.replace(tmp_dir / "files" / f, cache / f)
                finally:
                    shutil.rmtree(tmp_dir, ignore_errors=True)
            else:
                for f in missing:
                    download_url(files[f]["url"], cache / f,
                                 files[f]["sha256"] if verify else None)
                    checked.add(f)
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            raise _not_found(name, entry, dirs, missing, e) from e
        folder = cache
    if verify:
        unknown = []
        for f, meta in files.items():
            known_bad = meta.get("known_bad") or {}
            digest = sha256_file(folder / f) if known_bad else None
            if meta.get("sha256") is not None and digest not in known_bad:
                if f not in checked:
                    verify_file(folder / f, meta["sha256"], name)
                continue
            if digest in known_bad:  # usable, but not the published file: say how it differs
                warnings.warn(
                    f"{folder / f} of dataset {name!r} is a known faulty copy (sha256 "
                    f"{digest}): {known_bad[digest]}. Replace it with the file from "
                    f"{_source(entry, f)}.", UserWarning, stacklevel=3)
            else:
                unknown.append(f)
        if unknown:
            warnings.warn(
                f"the files {', '.join(unknown)} of dataset {name!r} in {folder} could not be "
                "checked against a recorded checksum (gcl/datasets/registry.json records "
                "none); they are checked by parsing only",
                UserWarning, stacklevel=3,
            )
    return folder


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
