"""Faults with the real notebooks: a batch SIGKILLed mid-batch, then a
notebook that raises for one rep fails that report alone (the helpers:
``faults.py``; the fixture-notebook kill tests: test_faults.py)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import nbformat
import pytest
from faults import (
    REAL_NOTEBOOKS,
    SEED,
    assert_complete,
    check_folder,
    finish,
    kill_batch,
    start,
)
from nbformat.v4 import new_code_cell

# -- SIGKILL and a raising notebook, real notebooks ---------------------------------------------

POISON = "salesnb_poison_flag"


def poisoned_notebooks(folder: Path, rep_id: str, flag: Path) -> Path:
    """A copy of the real notebooks whose rep report raises for ``rep_id`` while ``flag`` exists."""
    shutil.copytree(REAL_NOTEBOOKS, folder)
    nb = nbformat.read(folder / "rep_coaching.ipynb", as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])) + 1
    nb.cells.insert(
        at,
        new_code_cell(
            f"import os\nif rep_id == {rep_id!r} and os.path.exists({str(flag)!r}):\n"
            f"    raise RuntimeError('poisoned report for ' + rep_id)"
        ),
    )
    nbformat.write(nb, folder / "rep_coaching.ipynb")
    return folder


@pytest.mark.slow
def test_real_notebooks_killed_then_a_raising_report_fails_alone(tmp_path, fault_log):
    """The real notebooks on a small generated source (two reps, one team):
    killed once mid-batch; the rerun completes, with the poisoned rep's
    report failed (exit 1, its notebook kept) and every other report whole.
    (That a failed report, and only it, runs again once its cause is gone:
    test_report.test_unchanged_reports_are_skipped_and_force_renders_them.)"""
    from salesnb.io.sample import generate

    rng = random.Random(SEED + 1)
    source = tmp_path / "src"
    generate(source, seed=3, reps=2, months=4, end="2025-12-31")
    team = (source / "reps.csv").read_text(encoding="utf-8").splitlines()[1].split(",")[3]
    flag = tmp_path / POISON
    flag.write_text("on")
    notebooks = poisoned_notebooks(tmp_path / "notebooks", "R02", flag)
    out = tmp_path / "out"
    args = (
        source,
        "--period",
        "2025-Q4",
        "--as-of",
        "2026-01-05",
        "--out",
        out,
        "--notebooks",
        notebooks,
        "--rep",
        "R01",
        "--rep",
        "R02",
        "--team",
        team,
        "--jobs",
        2,
    )

    batch = start(args, tmp_path / "logs" / "kill")
    fault = kill_batch(batch, out, "page", rng, max_pages=2)  # it writes 3 pages (one report fails)
    found = check_folder(out, after_kill=True)
    fault.update(
        run="real notebooks", pages=found["pages"], temporaries_left=found["temporaries"], cache_files_left=len(found["state"])
    )
    fault_log.append(fault)

    rerun = finish(start(args, tmp_path / "logs" / "rerun"))
    manifest = assert_complete(out, rerun, reports=5, exit_code=1)  # data quality, the team, the forecast review, two reps
    statuses = {(e["kind"], e["key"]): e["status"] for e in manifest["reports"]}
    assert statuses.pop(("rep_coaching", "R02")) == "failed"
    assert set(statuses.values()) <= {"ok", "skipped"} and ("rep_coaching", "R01") in statuses
    failed = next(e for e in manifest["reports"] if e["key"] == "R02")
    assert failed["error"].startswith("RuntimeError: poisoned report for R02") and failed["html"] is None
    kept = nbformat.read(out / failed["failed_notebook"], as_version=4)
    assert any(o.get("output_type") == "error" for c in kept.cells for o in c.get("outputs", []))
    assert rerun.stderr.count("failed: ") == 1 and "poisoned report for R02" in rerun.stderr
    assert "1 failed" in rerun.stdout
    fault["rerun"] = {"exit": rerun.proc.returncode, **manifest["counts"]}
