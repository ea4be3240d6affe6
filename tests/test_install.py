"""What `make demo`, `make lab` and `make test` install, read from the Makefile and
pyproject.toml without installing anything (issue #16, "a quick first run").

`make -n` prints the commands a target would run; pointing VENV at a folder that does
not exist makes every install step show, whatever the clone's own .venv holds.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make on PATH")


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
    installs = _pip_installs(_make("-n", "demo", f"VENV={tmp_path / 'venv'}"))
    # salesnb's runtime with pip's progress (no --quiet), no extra, nothing byte-compiled at install
    product = [line for line in installs if "-e ." in line]
    assert [line.split(" -m ", 1)[1] for line in product] == ["pip install --no-compile -e ."]


def test_make_lab_adds_jupyterlab_on_top_of_the_runtime(tmp_path):
    installs = _pip_installs(_make("-n", "lab", f"VENV={tmp_path / 'venv'}"))
    assert installs[-1].split(" -m ", 1)[1] == 'pip install --no-compile -e ".[lab]"'


def test_make_test_installs_the_extras_its_tests_need(tmp_path):
    installs = _pip_installs(_make("-n", "test", f"VENV={tmp_path / 'venv'}"))
    # JupyterLab too: tests/browser/test_segment_explorer_lab.py starts it
    assert installs[-1].split(" -m ", 1)[1] == 'pip install --no-compile -e ".[test,dask,postgres,lab]"'
