"""Writes ``results/speed.md`` from ``results/speed.json`` (used by ``speed.py``)."""
from __future__ import annotations


def write_markdown(results: dict) -> str:
    return "# Speed\n"
