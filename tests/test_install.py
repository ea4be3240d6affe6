"""What `make demo`, `make lab` and `make test` install, read from the Makefile and
pyproject.toml without installing anything (issue #16, "a quick first run").

`make -n` prints the commands a target would run; pointing VENV at a folder that does
not exist makes every install step show, whatever the clone's own .venv holds.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make on PATH")
tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def _make(*args: str) -> str:
    result = subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _pip_installs(dry_run: str) -> list[str]:
    return [line for line in dry_run.splitlines() if " -m pip install " in line]


def _project() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _name(requirement: str) -> str:
    for stop in "<>=[ ;":
        requirement = requirement.split(stop)[0]
    return requirement.lower()


def test_make_help_shows_the_value_of_out_not_the_variable():
    text = _make("help", "OUT=/srv/coaching")
    report = next(line for line in text.splitlines() if line.strip().startswith("\x1b[1mreport"))
    assert report.endswith("into /srv/coaching (open /srv/coaching/index.html)")
    assert "$(OUT)" not in text


def test_the_runtime_leaves_out_jupyterlab_and_the_test_tools():
    runtime = {_name(r) for r in _project()["dependencies"]}
    assert {"pandas", "papermill", "nbconvert", "ipykernel", "matplotlib"} <= runtime
    assert not runtime & {"jupyterlab", "pytest", "playwright", "dask", "ruff", "hypothesis"}
    assert [_name(r) for r in _project()["optional-dependencies"]["lab"]] == ["jupyterlab"]


def test_make_demo_installs_the_runtime_only_with_pips_progress(tmp_path):
    dry_run = _make("-n", "demo", f"VENV={tmp_path / 'venv'}")
    installs = _pip_installs(dry_run)
    # salesnb's runtime with pip's progress (no --quiet), no extra, byte-compiled after, on every core
    product = [line for line in installs if "-e ." in line]
    assert [line.split(" -m ", 1)[1] for line in product] == ["pip install --no-compile -e ."]
    lines = dry_run.splitlines()
    compiled = [i for i, line in enumerate(lines) if "-m compileall -q -j 0 salesnb" in line and str(tmp_path) in line]
    installed = next(i for i, line in enumerate(lines) if "pip install --no-compile -e ." in line)
    assert compiled and compiled[0] > installed  # with PYTHONDONTWRITEBYTECODE, nothing else ever writes it


def test_make_lab_adds_jupyterlab_on_top_of_the_runtime(tmp_path):
    installs = _pip_installs(_make("-n", "lab", f"VENV={tmp_path / 'venv'}"))
    assert installs[-1].split(" -m ", 1)[1] == 'pip install --no-compile -e ".[lab]"'


def test_make_test_installs_the_extras_its_tests_need(tmp_path):
    installs = _pip_installs(_make("-n", "test", f"VENV={tmp_path / 'venv'}"))
    # JupyterLab too: tests/browser/test_segment_explorer_lab.py starts it
    assert installs[-1].split(" -m ", 1)[1] == 'pip install --no-compile -e ".[test,dask,postgres,lab]"'


def test_what_the_demo_prints_fits_80_columns():
    """`salesnb validate` and `salesnb diagnose --format brief` on the sample, as `make demo` runs them."""
    from click.testing import CliRunner

    from salesnb.cli import cli

    sample = str(ROOT / "data" / "sample")
    validate = CliRunner().invoke(cli, ["validate", sample])
    brief = CliRunner().invoke(cli, ["diagnose", sample, "--period", "2025", "--as-of", "2026-01-05", "--format", "brief"])
    assert validate.exit_code == 0 and brief.exit_code == 0, validate.output + brief.output
    lines = validate.stdout.splitlines()
    assert lines[2].split() == ["table", "rows", "set", "aside", "date", "span"]  # the files on one line below
    assert lines[10] == "opportunity_history       5,801          0  2023-11-20 .. 2026-04-20"
    assert lines[11] == "quotas                        -          -  (not provided)"
    assert lines[12] == f"Files: {ROOT / 'data' / 'sample'}/<table>.csv"
    assert lines[-2:] == [
        "Data runs to 2025-12-31 (the latest opportunity, deal closed, activity or order)",
        "  a report warns when that is over 7 days before its period ends (--stale-after)",
    ]
    assert max(len(line) for line in validate.stdout.splitlines() + brief.stdout.splitlines()) <= 80


def test_validate_keeps_the_file_column_when_a_file_is_not_named_after_its_table(tmp_path):
    from click.testing import CliRunner

    from salesnb.cli import cli

    source = tmp_path / "src"
    source.mkdir()
    (source / "reps.csv").write_text("rep_id,name,territory,team\nR1,Ann,North,East\n", encoding="utf-8")
    (source / "deals.csv").write_text(
        "opportunity_id,rep_id,customer_id,created_date,closed_date,status,amount\nO1,R1,C1,2025-01-05,2025-02-01,won,10\n",
        encoding="utf-8",
    )
    (source / "mapping.yml").write_text("tables:\n  opportunities:\n    file: deals.csv\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(source)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[2].split()[-1] == "file" and not any(line.startswith("Files:") for line in lines)
    assert lines[5] == f"opportunities                 1          0  2025-01-05 .. 2025-02-01  {source / 'deals.csv'}"
