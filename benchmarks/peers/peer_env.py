"""A peer library's own virtual environment, made once: torch's CPU wheel first (so nothing
pulls a CUDA build), then the peer's requirements; and the CPU patch of Faiss that the
harnesses apply inside it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def peer_python(venv: Path, requirements: list[str]) -> Path:
    """The interpreter of :obj:`venv`, after creating and filling it if it is not complete."""
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "torch==2.13.0"], check=True)
        subprocess.run([*pip, *requirements], check=True)
        (venv / ".complete").write_text("ok\n")
    return python


def cpu_faiss() -> None:
    """Makes ``faiss.Kmeans`` run on CPU whatever its ``gpu`` argument, with at most one
    cluster per row (as gcl's k-means; Faiss refuses fewer rows than clusters). NCL's
    reference code (SELFRec, RecBole-GNN) asks for ``gpu=True``; their files stay as they
    are."""
    import faiss

    class Kmeans(faiss.Kmeans):
        def __init__(self, d: int, k: int, **kwargs) -> None:
            kwargs.pop("gpu", None)
            super().__init__(d, k, **kwargs)

        def train(self, x, *args, **kwargs):
            self.k = min(self.k, len(x))
            return super().train(x, *args, **kwargs)

    faiss.Kmeans = Kmeans
