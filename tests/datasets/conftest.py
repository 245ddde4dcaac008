import urllib.error
import urllib.request

import pytest


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No shared data dir, a private cache, and no network."""
    monkeypatch.delenv("GCL_DATA_DIR", raising=False)
    monkeypatch.setenv("GCL_CACHE_DIR", str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
