"""The built wheel renders reports on its own: notebooks and templates are
package data, found through importlib.resources, not through the clone.

The wheel is built from this checkout and installed (without dependencies)
into a fresh virtual environment outside the repository; that environment
borrows the test environment's dependencies through a ``.pth`` line (which,
unlike an install, does not run their ``.pth`` hooks, so this checkout's
editable install stays invisible). The sample's reports are then rendered
from a folder outside the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (built,) = out.glob("salesnb-*.whl")
    return built


def test_the_wheel_carries_the_notebooks_and_templates(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"salesnb/notebooks/{name}" for name in NOTEBOOKS} <= names
    assert "salesnb/present/templates/index.html.j2" in names
    assert "salesnb/present/templates/salesnb_report/index.html.j2" in names
    assert not any(name.startswith(("tests/", "data/", "benchmarks/")) for name in names)


def test_an_installed_wheel_renders_the_samples_reports_outside_the_repository(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    python = env_dir / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (purelib / "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # the kernel a pip user registers, as the error message and README say
    subprocess.run(
        [str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", "salesnb"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # nbconvert's own templates are data files of its install: borrow only those
    jupyter_path = tmp_path / "jupyter"
    jupyter_path.mkdir()
    (jupyter_path / "nbconvert").symlink_to(Path(sys.prefix) / "share" / "jupyter" / "nbconvert")
    work = tmp_path / "elsewhere"
    sample = shutil.copytree(ROOT / "data" / "sample", work / "sample")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SALESNB_CACHE_DIR", "JUPYTER_PATH")}
    env["JUPYTER_PATH"] = str(jupyter_path)

    where = subprocess.run(
        [str(python), "-c", "import salesnb.run.batch as r; print(r.__file__); print(r.default_notebooks_dir())"],
        check=True,
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    ).stdout.split()
    assert where[0].startswith(str(purelib)), where  # the wheel's code, not this checkout's
    assert where[1] == str(purelib / "salesnb" / "notebooks")

    ran = subprocess.run(
        [
            str(env_dir / "bin" / "salesnb"),
            "report",
            str(sample),
            "--period",
            "2025",
            "--as-of",
            "2026-01-05",
            "--out",
            str(work / "out"),
            "--rep",
            "R01",
            "--jobs",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    manifest = json.loads((work / "out" / "manifest.json").read_text())
    assert manifest["notebooks"] == str(purelib / "salesnb" / "notebooks")
    reports = list((work / "out" / "reps").glob("*.html"))
    assert len(reports) == 1
    page = reports[0].read_text(encoding="utf-8")
    assert "Ava Martin" in page and "Traceback" not in page
