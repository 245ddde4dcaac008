"""Where and how the work runs (gcl.runtime): freed memory kept for reuse."""
import subprocess
import sys
import textwrap

import pytest

from gcl import GraphCLRecommender, runtime


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_reuse_memory_keeps_freed_blocks_without_page_faults():
    """A step's pattern, a large block allocated, touched and freed again and again: glibc
    gives it back to the system each time and faults its pages in again, unless
    reuse_memory() is on. Measured in fresh processes (the setting is process-wide)."""
    code = textwrap.dedent("""
        import resource, sys
        import numpy as np
        from gcl import runtime
        if sys.argv[1] == "on":
            assert runtime.reuse_memory()
        a = [np.ones(5_000_000) for _ in range(3)]  # 40 MB blocks, above any mmap threshold
        del a
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(5):
            a = [np.ones(5_000_000) for _ in range(2)]
            del a
        print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """)
    faults = {mode: int(subprocess.run([sys.executable, "-c", code, mode], check=True,
                                       capture_output=True, text=True).stdout)
              for mode in ("off", "on")}
    assert faults["on"] * 10 < faults["off"], faults


def test_fit_asks_for_reuse_when_told_to(small_log, monkeypatch):
    calls = []
    monkeypatch.setattr("gcl.recommender.reuse_memory", lambda: calls.append(1))
    GraphCLRecommender(method="pop", reuse_memory=True).fit(small_log)
    assert calls == [1]
    GraphCLRecommender(method="pop").fit(small_log)
    assert calls == [1]
    assert "reuse_memory=True" in repr(GraphCLRecommender(reuse_memory=True))
    assert runtime.reuse_memory() in (True, False)
