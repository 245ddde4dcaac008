"""The package's imports follow the design map (DESIGN.md, "Import direction").

Every module of :mod:`gcl` is parsed with :mod:`ast`; every import counts, at module level
and inside functions (only those under ``if TYPE_CHECKING:`` are left out: they never run).
The tests fail on a cycle, on an import of a higher layer, on an import of the package root
from inside, and on a private name (one leading underscore) used outside its module.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gcl"

#: The map's layers, lowest first. A module may import its own layer and those below it;
#: an entry names a module or a package (and so every module in it). Where the map places a
#: module, it stands here as the map says; the others are marked "(placed here)".
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("files", ("gcl._io", "gcl._version")),
    ("data", ("gcl.data", "gcl.datasets")),
    # "metrics, export and index take arrays and ids and import nothing above data"
    # lookup: the index's id maps and seen items on numpy (placed here)
    ("arrays and ids", ("gcl.metrics", "gcl.export", "gcl.export_format", "gcl.index",
                        "gcl.lookup", "gcl.ogb")),  # ogb: the metrics' OGB adapter (placed here)
    ("graph", ("gcl.graph",)),
    # settings, their checks and the run's threads / device / seeds: read by methods, the
    # loop, the recommender and the CLI, so below all of them (placed here)
    ("settings", ("gcl.settings", "gcl.checks", "gcl.runtime")),
    # text: word vectors for the text tower; text_branch: builds the tower (placed here)
    ("parts", ("gcl.view", "gcl.augment", "gcl.nn", "gcl.losses", "gcl.text",
               "gcl.text_branch")),
    ("methods", ("gcl.methods",)),
    # checkpoints and the distributed broadcast are hooks of the loop in the map
    ("train", ("gcl.train", "gcl.checkpoint", "gcl.distributed")),
    # foldin: new users from their items, for the recommender and exports; serving: scores,
    # seen-item masks and top-k lists of a fitted model; fitting: the checks and assembly
    # before the loop; params: the settings dict checked and sorted (placed here)
    ("recommender", ("gcl.recommender", "gcl.model_file", "gcl.foldin", "gcl.serving",
                     "gcl.fitting", "gcl.params")),
    ("cli", ("gcl.cli",)),
    ("entry points", ("gcl", "gcl.__main__")),
]

#: Imports that break the map today, in files owned elsewhere; each names the import and
#: why it is still there. Empty it as they are fixed (a stale entry fails the tests too).
KNOWN_EXCEPTIONS: list[tuple[str, str, str]] = []


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # the gcl module imported (or the package root "gcl")
    names: tuple[str, ...]  # the names taken from it (empty for "import gcl.x")
    line: int
    in_function: bool

    def __str__(self) -> str:
        where = "inside a function" if self.in_function else "at module level"
        return f"{self.importer} line {self.line} imports {self.target} ({where})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = all_modules()
TREES = {name: ast.parse(path.read_text(), filename=str(path)) for name, path in MODULES.items()}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def known_module(dotted: str) -> str | None:
    """The longest prefix of :obj:`dotted` that is a gcl module."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in MODULES:
            return name
    return None


def walk_imports(name: str) -> list[Import]:
    """Every import of a gcl module in module :obj:`name`, with where it stands."""
    tree = TREES[name]
    package = name if is_package(name) else name.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if is_type_checking(node):
            for child in getattr(node, "orelse", []):
                visit(child, in_function)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = known_module(alias.name)
                if target is not None:
                    found.append(Import(name, target, (), node.lineno, in_function))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if known_module(base) is None and not base.startswith("gcl"):
                return
            plain = [a.name for a in node.names if f"{base}.{a.name}" not in MODULES]
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in MODULES:
                    found.append(Import(name, sub, (), node.lineno, in_function))
            if plain:
                found.append(Import(name, known_module(base) or base, tuple(plain),
                                    node.lineno, in_function))
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"):
            target = known_module(node.args[0].value)  # importlib.import_module("gcl.x")
            if target is not None:
                found.append(Import(name, target, (), node.lineno, in_function))
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                 ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


IMPORTS = {name: walk_imports(name) for name in MODULES}


def layer_of(name: str) -> int:
    best, rank = -1, None
    for i, (_, members) in enumerate(LAYERS):
        for m in members:
            inside = name.startswith(m + ".") and m != "gcl"  # the root holds only itself
            if (name == m or inside) and len(m) > best:
                best, rank = len(m), i
    if rank is None:
        raise AssertionError(f"{name} is in no layer: place it in LAYERS as the map does")
    return rank


def excepted(importer: str, what: str) -> bool:
    return any(e[0] == importer and e[1] == what for e in KNOWN_EXCEPTIONS)


def edges() -> dict[str, set[str]]:
    """Module -> the gcl modules whose import it runs: those named, and the packages above
    them, whose ``__init__`` runs first (the root and the importer's own packages aside)."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, found in IMPORTS.items():
        for imp in found:
            if excepted(name, imp.target):
                continue
            parts = imp.target.split(".")
            for n in range(2, len(parts) + 1):
                target = ".".join(parts[:n])
                if target != name and not name.startswith(target + "."):
                    graph[name].add(target)
            if imp.target == "gcl" and name != "gcl":
                graph[name].add("gcl")
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def private_uses(name: str) -> list[tuple[str, int]]:
    """Private names (one leading underscore) of other gcl modules that :obj:`name` uses:
    imported by name, or read as an attribute of a name imported from gcl."""
    found: list[tuple[str, int]] = []
    bound: dict[str, str] = {}  # local name -> the gcl object it stands for
    for imp in IMPORTS[name]:
        if imp.importer == imp.target:
            continue
        for n in imp.names:
            if n.startswith("_") and not n.startswith("__"):
                found.append((f"{imp.target}.{n}", imp.line))
    tree = TREES[name]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gcl"):
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("gcl.") and alias.asname:
                    bound[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in bound and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            owner = bound[node.value.id]
            if known_module(owner) != name:
                found.append((f"{owner}.{node.attr}", node.lineno))
    return found


def file_helpers_elsewhere(name: str) -> list[tuple[str, int]]:
    """Names of :mod:`gcl._io` that :obj:`name` imports from another module."""
    helpers = {n.name for n in TREES["gcl._io"].body
               if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")}
    return [(f"{imp.target}.{n}", imp.line) for imp in IMPORTS[name]
            if imp.target != "gcl._io" for n in imp.names if n in helpers]


# ---------------------------------------------------------------------- the map's rules
def test_every_module_has_a_layer():
    for name in MODULES:
        layer_of(name)


def test_no_import_cycles():
    found = cycles(edges())
    assert not found, "import cycles (at module level or inside functions): " + "; ".join(
        " <-> ".join(c) for c in found)


def test_imports_go_down_the_layers():
    upward = []
    for name, found in IMPORTS.items():
        for imp in found:
            if imp.target == "gcl" or excepted(name, imp.target):
                continue
            if layer_of(imp.target) > layer_of(name):
                upward.append(f"{imp}: layer {LAYERS[layer_of(name)][0]!r} may not import "
                              f"layer {LAYERS[layer_of(imp.target)][0]!r}")
    assert not upward, "\n".join(upward)


def test_nothing_inside_imports_the_package_root():
    found = [str(imp) for name, imps in IMPORTS.items() if name != "gcl" for imp in imps
             if imp.target == "gcl" and not excepted(name, "gcl")]
    assert not found, "\n".join(found)


def test_nothing_imports_the_cli():
    found = [str(imp) for name, imps in IMPORTS.items() for imp in imps
             if (imp.target == "gcl.cli" or imp.target.startswith("gcl.cli."))
             and not (name == "gcl.__main__" or name.startswith("gcl.cli"))]
    assert not found, "\n".join(found)


def test_no_private_names_across_modules():
    found = [f"{name} line {line} uses {what}" for name in MODULES
             for what, line in private_uses(name) if not excepted(name, what)]
    assert not found, "\n".join(found)


def test_file_helpers_come_from_the_bottom_module():
    found = [f"{name} line {line} imports {what}: import it from gcl._io" for name in MODULES
             for what, line in file_helpers_elsewhere(name) if not excepted(name, what)]
    assert not found, "\n".join(found)


def test_known_exceptions_are_still_there():
    """An exception that the code no longer needs is removed from the list."""
    used = {(name, imp.target) for name, imps in IMPORTS.items() for imp in imps}
    used |= {(name, what) for name in MODULES for what, _ in private_uses(name)}
    used |= {(name, what) for name in MODULES for what, _ in file_helpers_elsewhere(name)}
    stale = [e[:2] for e in KNOWN_EXCEPTIONS if e[:2] not in used]
    assert not stale, f"no longer needed, remove from KNOWN_EXCEPTIONS: {stale}"


def test_the_checker_sees_imports_inside_functions():
    """The table is only as good as the walk: a lazy import is an import."""
    lazy = [imp for imp in IMPORTS["gcl"] if imp.in_function]
    assert {imp.target for imp in lazy} >= {"gcl.recommender", "gcl.index"}
    assert layer_of("gcl.nn.lightgcn") > layer_of("gcl.graph") > layer_of("gcl.data.split")
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("gcl.not_on_the_map")
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_version_and_type_marker_are_packaged():
    import configparser

    import gcl
    from gcl._version import __version__

    cfg = configparser.ConfigParser()
    cfg.read(PACKAGE.parent / "setup.cfg")
    assert cfg["metadata"]["version"] == "attr: gcl._version.__version__"
    assert gcl.__version__ == __version__
    assert (PACKAGE / "py.typed").is_file()
    assert "py.typed" in cfg["options.package_data"]["gcl"]


# ---------------------------------------------------------------------- import cost
def run_python(code: str) -> tuple[float, str]:
    """Runs :obj:`code` in a fresh interpreter; returns the seconds it reports and its
    output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE.parent), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    return float(last), out.stdout


HEAVY = ("torch", "torch_geometric", "scipy.linalg", "scipy.sparse.linalg", "gensim", "faiss",
         "networkx", "matplotlib", "ogb", "pyarrow", "yaml", "tqdm")


#: Modules that serve without torch: the click log, datasets, the recall index, checkpoint
#: names for the command line.
WITHOUT_TORCH = ("gcl.data", "gcl.datasets", "gcl.index", "gcl.export_format",
                 "gcl.lookup", "gcl.checkpoint", "gcl._io")


def test_import_gcl_loads_no_heavy_dependency():
    _, out = run_python(f"""
        import importlib
        import sys
        import gcl
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
        for name in {WITHOUT_TORCH!r}:
            importlib.import_module(name)
        print(sorted(m for m in ("torch", "torch_geometric") if m in sys.modules))
        print(0)
    """)
    root, lower = out.splitlines()[:2]
    assert root == "[]", f"import gcl loaded {root}"
    assert lower == "[]", f"importing {WITHOUT_TORCH} loaded {lower}"


def test_the_commands_help_loads_no_array_library():
    # `gcl --help` and `gcl train --help` are read before anything is computed: they load
    # no torch, numpy, pandas or scipy (the flags come from gcl.settings, which imports none).
    _, out = run_python("""
        import contextlib
        import io
        import sys
        import gcl.cli
        for argv in (["--help"], ["train", "--help"], ["export", "--help"]):
            with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
                gcl.cli.main(argv)
        print(sorted(m for m in ("torch", "numpy", "pandas", "scipy") if m in sys.modules))
        print(0)
    """)
    assert out.splitlines()[0] == "[]"


#: Loaded only by the code that uses them, never by the public names themselves.
LOADED_WHERE_USED = ("torch_geometric", "scipy.linalg", "scipy.sparse.linalg", "gensim",
                     "faiss", "networkx", "matplotlib", "ogb")


def test_public_names_load_at_little_more_than_torch():
    """What the public names (everything they need included) add to :obj:`import torch`, in
    one fresh interpreter, against the time torch itself took there. The bound is loose:
    this machine's cores are shared; torch_geometric alone would exceed it."""
    def measure() -> tuple[float, float, str]:
        _, out = run_python("""
            import sys
            import time
            t0 = time.perf_counter()
            import torch
            t1 = time.perf_counter()
            import gcl
            names = [gcl.GraphCLRecommender, gcl.Interactions, gcl.RecallIndex,
                     gcl.load_dataset]
            t2 = time.perf_counter()
            print(*(n.__name__ for n in names))
            print(sorted(set(gcl.__all__) - set(dir(gcl))))
            print(sorted(m for m in OPTIONAL if m in sys.modules))
            print(t1 - t0, t2 - t1)
            print(0)
        """.replace("OPTIONAL", repr(LOADED_WHERE_USED)))
        names, missing, optional, times = out.splitlines()[:4]
        assert optional == "[]", f"the public names loaded {optional}"
        assert names.split() == ["GraphCLRecommender", "Interactions", "RecallIndex",
                                 "load_dataset"]
        assert missing == "[]", f"dir(gcl) lacks {missing}"
        torch_s, extra_s = map(float, times.split())
        return torch_s, extra_s, out

    torch_s, extra_s, _ = measure()
    if extra_s > 0.5 * torch_s + 1.5:  # once more, in case another process took the core
        torch_s, extra_s, _ = measure()
    assert extra_s <= 0.5 * torch_s + 1.5, (
        f"gcl's public names took {extra_s:.2f} s on top of import torch ({torch_s:.2f} s)")


#: What a serving process lacks: importing any of them fails in the tests below.
SERVING_LACKS = ("torch", "torch_geometric", "pandas", "scipy")

#: Put first in a fresh interpreter: each of SERVING_LACKS fails to import from then on.
BLOCK = f"""
import sys
for name in {SERVING_LACKS!r}:
    sys.modules[name] = None
"""


def test_the_recall_index_modules_load_no_pandas_or_scipy():
    _, out = run_python("""
        import sys
        import gcl.export_format, gcl.index, gcl.lookup
        print(sorted(m for m in ("pandas", "scipy", "torch") if m in sys.modules))
        print(0)
    """)
    assert out.splitlines()[0] == "[]"


@pytest.fixture(scope="module")
def served_export(tmp_path_factory):
    """An export with a flat index and a fold-in matrix, string users and integer items."""
    pytest.importorskip("faiss")
    import pandas as pd

    from gcl import GraphCLRecommender, Interactions

    clicks = pd.DataFrame({"user": [f"u{u}" for u in range(8) for _ in range(3)],
                           "item": [(u + k) % 10 for u in range(8) for k in range(3)]})
    clicks.loc[0, "user"] = "007"
    rec = GraphCLRecommender(dim=8, layers=1, epochs=1, device="cpu", progress=False)
    folder = tmp_path_factory.mktemp("export")
    rec.fit(Interactions.from_pandas(clicks)).export(folder, index="flat")
    return folder


def test_recall_index_serves_with_numpy_and_faiss_alone(served_export):
    from gcl import RecallIndex

    index = RecallIndex.load(served_export)
    want = [index.search(["007", "u3"], k=4), index.recommend_for_items([[1, 2], [5]], k=3),
            index.similar_items([0, 9], k=3)]
    want = repr([(items.tolist(), scores.tolist()) for items, scores in want])
    for load in ("import gcl; index = gcl.RecallIndex.load(FOLDER)",
                 "from gcl.index import RecallIndex; index = RecallIndex.load(FOLDER)"):
        _, out = run_python(BLOCK + f"""
{load.replace("FOLDER", repr(str(served_export)))}
got = [index.search(["007", "u3"], k=4), index.recommend_for_items([[1, 2], [5]], k=3),
       index.similar_items([0, 9], k=3)]
print(repr([(items.tolist(), scores.tolist()) for items, scores in got]))
print(sorted(m for m in {SERVING_LACKS!r} if sys.modules.get(m) is not None))
print(0)
""")
        got, loaded = out.splitlines()[:2]
        assert got == want
        assert loaded == "[]", f"{load} and a search imported {loaded}"


def test_gcl_recommend_and_similar_from_an_export_need_no_pandas_or_scipy(served_export):
    import contextlib
    import io

    from gcl.cli import main

    calls = [["recommend", "--export", str(served_export), "--user", "007", "u3", "-k", "3",
              "--json"],
             ["recommend", "--export", str(served_export), "--items", "1,2", "5", "-k", "3"],
             ["similar", "--export", str(served_export), "--item", "0", "9", "-k", "2"]]
    want = []
    for argv in calls:
        with contextlib.redirect_stdout(io.StringIO()) as text:
            assert main(argv) == 0
        want.append(text.getvalue())
    _, out = run_python(BLOCK + f"""
import contextlib, io, json
from gcl.cli import main
outputs = []
for argv in {calls!r}:
    with contextlib.redirect_stdout(io.StringIO()) as text:
        code = main(argv)
    outputs.append((code, text.getvalue()))
print(json.dumps(outputs))
print(0)
""")
    got = json.loads(out.splitlines()[0])
    assert got == [[0, text] for text in want]


def test_recall_index_loads_and_searches_without_torch(tmp_path):
    pytest.importorskip("faiss")
    import pandas as pd

    from gcl import GraphCLRecommender, Interactions, RecallIndex

    clicks = pd.DataFrame({"user": [f"u{u}" for u in range(8) for _ in range(3)],
                           "item": [(u + k) % 10 for u in range(8) for k in range(3)]})
    rec = GraphCLRecommender(dim=8, layers=1, epochs=1, device="cpu", progress=False)
    rec.fit(Interactions.from_pandas(clicks)).export(tmp_path, index="flat")
    want = RecallIndex.load(tmp_path).search(["u0", "u3"], k=4)[0].tolist()
    for load in ("import gcl; index = gcl.RecallIndex.load(FOLDER)",
                 "from gcl.index import RecallIndex; index = RecallIndex.load(FOLDER)"):
        _, out = run_python(f"""
            import sys
            {load.replace("FOLDER", repr(str(tmp_path)))}
            items, scores = index.search(["u0", "u3"], k=4)
            print(items.tolist())
            print(sorted(m for m in ("torch", "torch_geometric") if m in sys.modules))
            print(0)
        """)
        got, loaded = out.splitlines()[:2]
        assert got == str(want)
        assert loaded == "[]", f"{load} and a search imported {loaded}"
