"""A MkDocs hook: every Sphinx-style reference to a ``gcl`` name in a rendered docstring
(``:class:`~gcl.graph.UIGraph```, ``:func:``, ``:meth:``, ``:obj:``, ...) must name an object
that exists, else the build warns, and ``mkdocs build --strict`` fails.

mkdocstrings renders such roles as text; this check is what catches a reference left behind
by a rename or a move.
"""
from __future__ import annotations

import importlib
import logging
import re
from typing import Any

# A logger under "mkdocs": strict mode counts its warnings.
log = logging.getLogger("mkdocs.hooks.gcl_refs")
ROLE = re.compile(r":(?:class|func|meth|obj|mod|attr|data|exc):<code>~?(gcl(?:\.\w+)+)</code>")


def resolves(path: str) -> bool:
    """Whether the dotted :obj:`path` names a module, or an attribute reached from one."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            fields = getattr(obj, "__dataclass_fields__", {}) if isinstance(obj, type) else {}
            if name in fields:
                return name == parts[-1]
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    for target in sorted(set(ROLE.findall(html))):
        if not resolves(target):
            log.warning(f"{page.file.src_uri}: the docstring reference {target!r} names "
                        "nothing in gcl")
    return html
