"""A peer library's own virtual environment, made once: torch's CPU wheel first (so nothing
pulls a CUDA build), then the peer's requirements; and the CPU patch of Faiss that the
harnesses apply inside it."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any


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


def peer_arguments(description: str, model: str,
                   hidden: dict[str, dict[str, Any]]) -> argparse.ArgumentParser:
    """A peer harness's command line: the dataset, model, epochs, threads and seed a user
    gives, and the hidden arguments (:obj:`--inside`, :obj:`--out` and :obj:`hidden`, name
    to :meth:`~argparse.ArgumentParser.add_argument` keywords) with which the harness
    calls itself inside the peer's environment."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--model", default=model)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    for name, kwargs in hidden.items():
        p.add_argument(name, help=argparse.SUPPRESS, **kwargs)
    return p


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
