"""The API reference (mkdocs.yml, docs/): it builds in strict mode, every module it lists
exists, and a docstring reference to a name that does not exist fails the build."""
import importlib
import logging
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "hooks"))
import refs  # noqa: E402


def test_every_module_of_the_reference_imports():
    pages = sorted((ROOT / "docs" / "api").glob("*.md"))
    assert pages
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in pages:
        assert f"api/{page.name}" in nav, f"{page.name} is missing from mkdocs.yml's nav"
        for module in re.findall(r"^::: (\S+)$", page.read_text(), re.M):
            importlib.import_module(module)


def test_references_to_gcl_names_are_checked(caplog):
    assert refs.resolves("gcl.graph.UIGraph")
    assert refs.resolves("gcl.GraphCLRecommender.fit")
    assert refs.resolves("gcl.train.TrainConfig.patience")
    assert not refs.resolves("gcl.graph.NoSuchGraph")
    assert not refs.resolves("gcl.no_such_module.Thing")

    class Page:
        class file:
            src_uri = "api/graph.md"

    html = (":class:<code>~gcl.graph.UIGraph</code> and "
            ":func:<code>gcl.losses.no_such_loss</code>")
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.gcl_refs"):
        assert refs.on_page_content(html, Page) == html
    assert [r.getMessage() for r in caplog.records] == [
        "api/graph.md: the docstring reference 'gcl.losses.no_such_loss' names nothing in gcl"]


def test_the_reference_builds_in_strict_mode(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "recommender" / "index.html").is_file()


def test_a_broken_reference_fails_the_strict_build(tmp_path):
    docs = tmp_path / "docs"
    (docs / "api").mkdir(parents=True)
    (docs / "index.md").write_text("# gcl\n\nSee [the graph](api/nowhere.md).\n")
    (docs / "api" / "graph.md").write_text("# Graph\n\n::: gcl.graph.UIGraph\n")
    config = (ROOT / "mkdocs.yml").read_text()
    config = re.sub(r"(?ms)^nav:.*?(?=^\S)", "", config)
    config = config.replace("docs/hooks/refs.py", str(ROOT / "docs" / "hooks" / "refs.py"))
    config = config.replace("paths: [.]", f"paths: [{ROOT}]")
    (tmp_path / "mkdocs.yml").write_text(config)
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0
    assert "nowhere.md" in done.stderr
