from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    readme = (ROOT / "README.md").read_text().splitlines()
    tests = [line for line in ci if "pytest" in line]
    assert len(tests) == 1 and tests[0] in readme
    assert any("mkdocs build --strict" in line for line in ci)


def test_readme_has_exactly_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set up and run")[1].split("\n## ")[0]
    commands = [b for b in setup.split("```bash\n")[1:]]
    assert len(commands) == 2
    assert "gcl train --dataset ml-100k" in commands[0]
    assert "pytest" in commands[1]
    for c in commands:
        assert "pip install torch==2.13.0" in c and "GCL_DATA_DIR" in c


def test_readme_results_come_from_the_results_files():
    import subprocess
    import sys

    check = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tables.py"), "--check"])
    assert check.returncode == 0, "README tables are stale: run python benchmarks/tables.py"


def test_speed_check_covers_the_performance_tables():
    import subprocess
    import sys

    check = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--check"])
    assert check.returncode == 0, "the speed tables are stale: run " \
        "python benchmarks/speed.py --tables-only"


def test_results_live_in_the_benchmarks_readme_not_the_guide():
    readme = (ROOT / "README.md").read_text()
    bench = (ROOT / "benchmarks" / "README.md").read_text()
    for block in ("results", "time-to-quality", "speed", "cold-start"):
        assert f"<!-- {block}:start -->" in bench
        assert f"<!-- {block}:start -->" not in readme
    # the guide's only results are its generated summary
    tables = [line for line in readme.split("<!-- summary:start -->")[0].splitlines()
              + readme.split("<!-- summary:end -->")[1].splitlines() if "Recall@20 |" in line
              or "NDCG@20 |" in line]
    assert tables == []


def test_readme_counts_the_cases_of_test_bad_input():
    import re
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "--collect-only", "-p",
                           "no:cacheprovider", str(ROOT / "tests" / "test_bad_input.py")],
                          capture_output=True, text=True, cwd=ROOT)
    cases = sum(1 for line in done.stdout.splitlines() if "::" in line)
    readme = (ROOT / "README.md").read_text()
    table = readme.split("whole table is [tests/test_bad_input.py]")[1].split("\n\n")[1]
    rows = [line.split("|") for line in table.splitlines()[2:]]
    assert sum(int(r[2]) for r in rows) == cases
    assert re.search(rf"\b{cases} cases:", readme), f"the README should say {cases} cases"
