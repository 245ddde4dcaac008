from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    readme = (ROOT / "README.md").read_text()
    assert ci in readme.splitlines()


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
    assert check.returncode == 0, "README results are stale: run python benchmarks/tables.py"


def test_readme_performance_tables_come_from_speed_json():
    import subprocess
    import sys

    check = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--check"])
    assert check.returncode == 0, "README Performance tables are stale: run " \
        "python benchmarks/speed.py --tables-only"


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
