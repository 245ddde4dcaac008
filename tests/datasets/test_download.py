import hashlib
import io
import os
import stat
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

import gcl.datasets as gd
from gcl.datasets import (
    ChecksumError,
    DatasetNotFoundError,
    UnsafeArchiveError,
    extract_archive,
    list_datasets,
    load_dataset,
    load_registry,
)
from gcl.datasets.base import REGISTRY_PATH
from gcl.datasets.download import find_local, lookup_dirs, verify_file

DATA = Path(os.environ.get("GCL_DATA_DIR") or "/work/shared/datasets")
GOWALLA_URL = load_registry()["gowalla"]["files"]["train.txt"]["url"]



@pytest.fixture
def serve(monkeypatch):
    """Serves the given {url: bytes} through urllib.request.urlopen; records the calls."""
    calls = []

    def install(files):
        def urlopen(url, timeout=None):
            calls.append(url)
            if url not in files:
                raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
            return io.BytesIO(files[url])

        monkeypatch.setattr(urllib.request, "urlopen", urlopen)
        return calls

    return install


def snapshot(folder: Path) -> dict:
    """Every path under folder with its size and mtime, and the folder's own mtime."""
    out = {".": folder.stat().st_mtime_ns}
    for p in sorted(folder.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return out


def cache_files(tmp_path: Path, name: str) -> list[str]:
    folder = tmp_path / "cache" / "raw" / name
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------- registry
def test_registry_entries_are_complete():
    reg = load_registry()
    assert REGISTRY_PATH.is_file() and REGISTRY_PATH.name == "registry.json"
    assert set(list_datasets()) == {"ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m",
                                    "gowalla", "yelp2018", "amazon-book", "amazon-beauty"}
    for name, entry in reg.items():
        assert entry["format"] in gd.LOADERS, name
        assert entry["files"], name
        for f, meta in entry["files"].items():
            assert "sha256" in meta, (name, f)
            assert meta["sha256"] is None or len(meta["sha256"]) == 64
            assert "archive" in entry or meta["url"].startswith("https://"), (name, f)
        if "archive" in entry:
            assert entry["archive"]["url"].startswith("https://files.grouplens.org/")
    assert reg["ml-10m"]["archive"]["folder"] == "ml-10M100K"
    assert reg["gowalla"]["files"]["train.txt"]["sha256"] is not None
    assert reg["ml-1m"]["files"]["ratings.dat"]["sha256"] is None


@pytest.mark.parametrize("name,files", [
    ("ml-100k", ["u.data", "u.genre"]),
    ("gowalla", ["train.txt", "test.txt"]),
    ("amazon-beauty", ["train.txt", "test.txt"]),
])
def test_registry_digests_match_shared_files(name, files):
    if not (DATA / name).is_dir():
        pytest.skip(f"no shared {name}")
    entry = load_registry()[name]["files"]
    for f in files:
        assert hashlib.sha256((DATA / name / f).read_bytes()).hexdigest() == entry[f]["sha256"]


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="unknown dataset 'no-such-set'") as err:
        load_dataset("no-such-set")
    for name in ("gowalla", "ml-100k", "amazon-beauty", "ml-25m"):
        assert name in str(err.value)
    with pytest.raises(FileNotFoundError, match="no folder at"):
        load_dataset(Path("gowalla"))  # a Path is a path, never a name


# ---------------------------------------------------------------------------- offline
def test_offline_error_names_folder_files_and_urls(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("gowalla")
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert str(tmp_path / "cache" / "raw" / "gowalla") in msg
    assert "train.txt" in msg and "test.txt" in msg and GOWALLA_URL in msg
    assert "GCL_DATA_DIR" in msg and "network disabled" in msg
    # Nothing half-written is left in the cache.
    assert cache_files(tmp_path, "gowalla") == []


def test_offline_error_for_an_archive_names_zip_and_root(tmp_path, monkeypatch):
    monkeypatch.setenv("GCL_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("ml-1m")
    msg = str(err.value)
    assert str(tmp_path / "data" / "ml-1m") in msg
    assert str(tmp_path / "cache" / "raw" / "ml-1m") in msg
    assert "https://files.grouplens.org/datasets/movielens/ml-1m.zip" in msg
    assert "ratings.dat" in msg and "movies.dat" in msg and "ml-1m/" in msg
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / "mine")):
        load_dataset("ml-1m", root=tmp_path / "mine")


def test_download_false_never_calls_the_network(serve):
    calls = serve({})
    with pytest.raises(DatasetNotFoundError, match="download=False"):
        load_dataset("amazon-beauty", download=False)
    assert calls == []


# ---------------------------------------------------------------------------- downloads
def lightgcn_urls(name, train=b"0 1 2\n1 2\n", test=b"0 3\n"):
    files = load_registry()[name]["files"]
    return {files["train.txt"]["url"]: train, files["test.txt"]["url"]: test}


def test_download_into_cache_then_reuse(tmp_path, serve):
    calls = serve(lightgcn_urls("yelp2018"))
    with pytest.warns(UserWarning, match="could not be checked against a recorded checksum"):
        ds = load_dataset("yelp2018")
    assert len(ds.interactions) == 4 and ds.path == tmp_path / "cache" / "raw" / "yelp2018"
    assert cache_files(tmp_path, "yelp2018") == ["test.txt", "train.txt"]  # no .part left
    assert len(calls) == 2
    with pytest.warns(UserWarning):
        load_dataset("yelp2018")
    assert len(calls) == 2  # the second load reads the cache


def test_downloaded_file_with_wrong_checksum_is_not_kept(tmp_path, serve):
    serve(lightgcn_urls("gowalla"))
    with pytest.raises(ChecksumError) as err:
        load_dataset("gowalla")
    msg = str(err.value)
    assert "train.txt" in msg and load_registry()["gowalla"]["files"]["train.txt"]["sha256"] in msg
    assert hashlib.sha256(b"0 1 2\n1 2\n").hexdigest() in msg
    assert cache_files(tmp_path, "gowalla") == []
    ds = load_dataset("gowalla", verify=False)
    assert len(ds.interactions) == 4


@pytest.mark.skipif(not (DATA / "gowalla" / "train.txt").is_file(), reason="no shared gowalla")
def test_download_of_the_real_files_verifies(tmp_path, serve):
    serve(lightgcn_urls("gowalla", (DATA / "gowalla" / "train.txt").read_bytes(),
                        (DATA / "gowalla" / "test.txt").read_bytes()))
    ds = load_dataset("gowalla")
    assert len(ds.splits["test"]) == 217_242
    assert cache_files(tmp_path, "gowalla") == ["test.txt", "train.txt"]


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_archive_download_extracts_only_the_needed_files(tmp_path, serve):
    url = load_registry()["ml-1m"]["archive"]["url"]
    serve({url: zip_bytes({
        "ml-1m/ratings.dat": b"1::10::5::978300760\n2::10::3::978300761\n",
        "ml-1m/movies.dat": b"10::GoldenEye (1995)::Action|Adventure|Thriller\n",
        "ml-1m/users.dat": b"1::F::1::10::48067\n",
        "ml-1m/README": b"readme\n",
    })})
    with pytest.warns(UserWarning, match="checksum"):
        ds = load_dataset("ml-1m")
    assert len(ds.interactions) == 2
    assert ds.item_text[10] == "GoldenEye (1995) | Action, Adventure, Thriller"
    assert cache_files(tmp_path, "ml-1m") == ["movies.dat", "ratings.dat"]


def test_archive_lacking_a_file_is_an_error(tmp_path, serve):
    url = load_registry()["ml-20m"]["archive"]["url"]
    serve({url: zip_bytes({"ml-20m/ratings.csv": b"userId,movieId,rating,timestamp\n"})})
    with pytest.raises(KeyError, match="ml-20m/movies.csv"):
        load_dataset("ml-20m")
    assert cache_files(tmp_path, "ml-20m") == []


# ---------------------------------------------------------------------------- lookup order
def test_lookup_order(tmp_path, monkeypatch):
    monkeypatch.setenv("GCL_DATA_DIR", str(tmp_path / "data"))
    assert lookup_dirs("gowalla") == [tmp_path / "data" / "gowalla",
                                      tmp_path / "cache" / "raw" / "gowalla"]
    assert lookup_dirs("gowalla", root=tmp_path / "r") == [tmp_path / "r",
                                                          tmp_path / "cache" / "raw" / "gowalla"]
    for folder, text in [(tmp_path / "data" / "yelp2018", b"0 1\n"),
                         (tmp_path / "cache" / "raw" / "yelp2018", b"0 1\n0 2\n"),
                         (tmp_path / "r", b"0 1\n0 2\n0 3\n")]:
        folder.mkdir(parents=True)
        (folder / "train.txt").write_bytes(text)
        (folder / "test.txt").write_bytes(b"0 9\n")
    with pytest.warns(UserWarning):
        assert load_dataset("yelp2018", root=tmp_path / "r").path == tmp_path / "r"
        assert load_dataset("yelp2018").path == tmp_path / "data" / "yelp2018"
        (tmp_path / "data" / "yelp2018" / "test.txt").unlink()  # incomplete: skipped
        assert load_dataset("yelp2018").path == tmp_path / "cache" / "raw" / "yelp2018"


def test_find_local_takes_the_first_complete_folder(tmp_path):
    entry = {"files": {"train.txt": {}, "test.txt": {}}, "archive": {"folder": "inner"}}
    first, second = tmp_path / "a", tmp_path / "b"
    (first / "train.txt").parent.mkdir()
    (first / "train.txt").write_text("0 1\n")  # no test.txt: incomplete
    (second / "inner").mkdir(parents=True)
    for f in entry["files"]:
        (second / "inner" / f).write_text("0 1\n")
    assert find_local(entry, [first, second]) == second / "inner"
    assert find_local(entry, [first]) is None


def test_read_only_data_dir_is_never_written(tmp_path, monkeypatch, serve):
    data = tmp_path / "data"
    (data / "gowalla").mkdir(parents=True)
    (data / "gowalla" / "train.txt").write_bytes(b"0 1 2\n1 2\n")
    (data / "gowalla" / "test.txt").write_bytes(b"0 3\n")
    (data / "yelp2018").mkdir()  # there, but empty: yelp2018 is downloaded to the cache
    for p in [*data.rglob("*"), data]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    monkeypatch.setenv("GCL_DATA_DIR", str(data))
    serve(lightgcn_urls("yelp2018"))
    before = snapshot(data)
    try:
        with pytest.raises(ChecksumError):
            load_dataset("gowalla")
        assert len(load_dataset("gowalla", verify=False).interactions) == 4
        with pytest.warns(UserWarning):
            ds = load_dataset("yelp2018")
        assert ds.path == tmp_path / "cache" / "raw" / "yelp2018"
        with pytest.raises(DatasetNotFoundError):
            load_dataset("amazon-book")
        assert snapshot(data) == before
    finally:
        for p in [data, *data.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


# ---------------------------------------------------------------------------- checksums
def test_verify_file_message(tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes(b"hello\n")
    actual = hashlib.sha256(b"hello\n").hexdigest()
    verify_file(f, actual)
    verify_file(f, None)
    with pytest.raises(ChecksumError) as err:
        verify_file(f, "0" * 64, "toy")
    msg = str(err.value)
    assert str(f) in msg and "0" * 64 in msg and actual in msg and "'toy'" in msg
    assert "verify=False" in msg


# ---------------------------------------------------------------------------- archives
def tar_bytes(members: list[tarfile.TarInfo], data: bytes = b"evil\n") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for info in members:
            if info.isfile():
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return buf.getvalue()


def tar_member(name, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def symlink_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("pkg/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


UNSAFE = {
    "zip-dotdot": ("a.zip", lambda: zip_bytes({"ok.txt": b"ok", "../evil.txt": b"x"}), "climbs"),
    "zip-nested-dotdot": ("a.zip", lambda: zip_bytes({"d/../../evil.txt": b"x"}), "climbs"),
    "zip-absolute": ("a.zip", lambda: zip_bytes({"ok.txt": b"ok", "/tmp/abs-evil.txt": b"x"}),
                     "absolute"),
    "zip-drive": ("a.zip", lambda: zip_bytes({"C:/evil.txt": b"x"}), "absolute"),
    "zip-symlink": ("a.zip", symlink_zip, "link"),
    "tar-dotdot": ("a.tar.gz", lambda: tar_bytes([tar_member("ok.txt"),
                                                  tar_member("../evil.txt")]), "climbs"),
    "tar-absolute": ("a.tar.gz", lambda: tar_bytes([tar_member("/tmp/abs-evil.txt")]),
                     "absolute"),
    "tar-symlink": ("a.tar.gz", lambda: tar_bytes([tar_member("l", tarfile.SYMTYPE, "/etc")]),
                    "link"),
    "tar-hardlink": ("a.tar.gz", lambda: tar_bytes([tar_member("h", tarfile.LNKTYPE,
                                                               "/etc/passwd")]), "link"),
    "tar-fifo": ("a.tar.gz", lambda: tar_bytes([tar_member("f", tarfile.FIFOTYPE)]),
                 "neither a file"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_archives_are_rejected(tmp_path, case):
    fname, make, why = UNSAFE[case]
    archive = tmp_path / "in" / fname
    archive.parent.mkdir()
    archive.write_bytes(make())
    target = tmp_path / "out" / "target"
    with pytest.raises(UnsafeArchiveError, match=why) as err:
        extract_archive(archive, target)
    assert str(archive) in str(err.value)
    assert not target.exists()  # rejected before anything was written
    assert not (tmp_path / "out" / "evil.txt").exists()
    assert not Path("/tmp/abs-evil.txt").exists()
    with pytest.raises(UnsafeArchiveError):  # also when only safe members are asked for
        extract_archive(archive, target, {"ok.txt": "ok.txt"})


def test_safe_archives_extract_inside_target(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(zip_bytes({"top/": b"", "top/a.txt": b"A", "top/sub/b.txt": b"B"}))
    written = extract_archive(archive, tmp_path / "all")
    assert sorted(p.relative_to(tmp_path / "all").as_posix() for p in written) == [
        "top/a.txt", "top/sub/b.txt"]
    assert (tmp_path / "all" / "top" / "sub" / "b.txt").read_bytes() == b"B"
    tgz = tmp_path / "a.tgz"
    tgz.write_bytes(tar_bytes([tar_member("top/x.txt")], b"X"))
    extract_archive(tgz, tmp_path / "one", {"top/x.txt": "x.txt"})
    assert sorted(os.listdir(tmp_path / "one")) == ["x.txt"]
    with pytest.raises(KeyError, match="top/missing"):
        extract_archive(tgz, tmp_path / "two", {"top/missing": "m"})
    (tmp_path / "plain.txt").write_text("not an archive")
    with pytest.raises(ValueError, match="neither a zip nor a tar"):
        extract_archive(tmp_path / "plain.txt", tmp_path / "three")
