"""A peer library's own virtual environment, made once: torch's CPU wheel first (so nothing
pulls a CUDA build), then the peer's requirements."""
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
