"""A small batch to run in tests: a fixture source with hostile rep IDs and
names, the fixture notebooks, a stand-in for papermill and readers of what a
batch wrote. Shared by the tests of salesnb.run (a helper module, like
``sources.py``: no test imports another test module)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_notebook, new_output

import salesnb.run.execute as execute_module
from salesnb.cli import cli
from salesnb.run.folder import LOCK

FIXTURE_NOTEBOOKS = Path(__file__).parent / "fixtures" / "notebooks"
HOSTILE_NAME = "<script>alert(1)</script>"
LONG_ID = "Zoë/" + "x" * 296  # unicode, a slash and 300 characters in one rep_id
REPS = [
    # rep_id, name, territory, team; territory "explode" makes the fixture notebook raise.
    # One team (spelled two ways) keeps the slow batch small: 5 reps + 1 team + data quality.
    ("R1", "Ann Lee", "North", "Alpha"),
    ("a/b", HOSTILE_NAME, "South", "Alpha"),
    ("R3", "Carl", "explode", "Alpha"),
    ("../../etc/passwd", "Dan", "North", ""),
    (LONG_ID, "Zoe", "North", "alpha"),
]


def write_source(folder: Path, reps=REPS) -> Path:
    """reps.csv and opportunities.csv (one opportunity per rep) with the contract columns."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "reps.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rep_id", "name", "territory", "team"])
        writer.writerows(reps)
    with open(folder / "opportunities.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["opportunity_id", "rep_id", "customer_id", "created_date", "closed_date", "status", "amount"])
        for i, (rep_id, *_rest) in enumerate(reps, start=1):
            writer.writerow([f"O{i}", rep_id, f"C{i}", "2026-01-10", "2026-02-20", "won", 1000 * i])
    return folder


def files_under(folder: Path) -> set[str]:
    """Every file under ``folder`` but a batch's lock file (it stays, empty, by design)."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != LOCK}


def read_manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def by_key(manifest: dict) -> dict:
    return {(r["kind"], r["key"]): r for r in manifest["reports"]}


def fake_execute(job, capture):
    """Stands in for papermill: an 'executed' notebook; fails like papermill for R3."""
    from papermill.exceptions import PapermillExecutionError

    nb = new_notebook(
        cells=[
            new_code_cell(
                "print('fixture-input-marker')",
                execution_count=1,
                outputs=[new_output("stream", name="stdout", text=f"{job.kind} {job.key} {job.parameters['period']}\n")],
            )
        ]
    )
    execute_module._memory_notebooks().saved[capture] = nbformat.writes(nb)
    if job.key == "R3":
        raise PapermillExecutionError(
            cell_index=0,
            exec_count=1,
            source="",
            ename="RuntimeError",
            evalue="fixture failure",
            traceback=["Traceback", "RuntimeError: fixture failure"],
        )
    return nb


def run_cli(*args):
    result = CliRunner().invoke(cli, ["report", *map(str, args), "--no-progress"])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result
