"""An unchanged rerun of ``salesnb report`` (issue #16, item 2): decided from the
files, parameters and version before any table is loaded or any worker starts.

Reports run through the fake execution of tests/batches.py; the loader is
wrapped to count its calls (or made to raise: an unchanged rerun never loads).
"""

from __future__ import annotations

import os
import shutil

import nbformat
import pytest
from batches import FIXTURE_NOTEBOOKS, read_manifest, run_cli, write_source
from batches import fake_execute as _fake_execute
from nbformat.v4 import new_code_cell

import salesnb
import salesnb.io.loading as loading
import salesnb.run.batch as report_module
import salesnb.run.execute as execute_module

CALM = [("R1", "Ann Lee", "North", "Alpha"), ("R2", "Bo", "South", "Alpha"), ("R4", "Cy", "North", "Alpha")]
PAGES = 5  # data quality, team Alpha, three reps


@pytest.fixture
def batch(tmp_path, monkeypatch):
    """A source with a mapping and an expectations file, the fixture notebooks, and
    ``batch(*args)``: the CLI's report command, returning (output, loads, rendered)."""
    monkeypatch.setattr(report_module, "_require_kernel", lambda name: None)
    rendered: list[str] = []
    loads: list[str] = []

    def counting_execute(job, capture):
        rendered.append(job.id)
        return _fake_execute(job, capture)

    real_load = loading.load

    def counting_load(*args, **kwargs):
        loads.append(str(args[0]))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(execute_module, "_execute", counting_execute)
    monkeypatch.setattr(loading, "load", counting_load)
    source = write_source(tmp_path / "src", CALM)
    (tmp_path / "mapping.yml").write_text("# no renames\n", encoding="utf-8")
    (tmp_path / "expectations.yml").write_text("default:\n  win_rate: 0.5\n", encoding="utf-8")
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURE_NOTEBOOKS, notebooks)

    def run(*extra, period="2026-Q1", as_of="2026-04-02", source=source):
        rendered.clear()
        loads.clear()
        result = run_cli(
            source,
            *("--period", period, "--as-of", as_of, "--out", tmp_path / "out", "--notebooks", notebooks),
            *("--mapping", tmp_path / "mapping.yml", "--expectations", tmp_path / "expectations.yml"),
            *extra,
        )
        assert result.exit_code == 0, result.output
        return result.output, list(loads), list(rendered)

    run.source, run.out, run.notebooks, run.folder = source, tmp_path / "out", notebooks, tmp_path
    return run


def settled(run, *extra):
    """A first run, then a rerun that changes nothing: answered without loading."""
    run(*extra)
    output, loads, rendered = run(*extra)
    assert "nothing changed since the last run" in output and loads == [] and rendered == []


def test_unchanged_rerun_loads_no_table_and_says_so(batch, monkeypatch):
    output, loads, rendered = batch()
    assert len(loads) == 1 and len(rendered) == PAGES and f"{PAGES} ok" in output
    reports = read_manifest(batch.out)["reports"]

    def no_load(*args, **kwargs):
        raise AssertionError("an unchanged rerun loaded the data")

    monkeypatch.setattr(loading, "load", no_load)
    monkeypatch.setattr(execute_module, "_execute", no_load)
    output, _, _ = batch()
    assert output.startswith(f"{PAGES} reports for 2026-Q1: nothing changed since the last run (")
    assert "UTC)\n--force renders them again; index: " in output
    assert read_manifest(batch.out)["reports"] == reports  # the reports as the last run listed them
    # every input 10 s older (same bytes): recorded once, then trusted by size and mtime, nothing rewritten
    past = os.stat(batch.source / "reps.csv").st_mtime_ns - 10_000_000_000
    for path in [
        *batch.source.iterdir(),
        *batch.notebooks.iterdir(),
        batch.folder / "mapping.yml",
        batch.folder / "expectations.yml",
    ]:
        os.utime(path, ns=(past, past))
    assert "nothing changed" in batch()[0]
    manifest_bytes = (batch.out / "manifest.json").read_bytes()
    assert "nothing changed" in batch()[0] and (batch.out / "manifest.json").read_bytes() == manifest_bytes

    later = os.stat(batch.source / "reps.csv").st_mtime_ns + 5_000_000_000
    os.utime(batch.source / "reps.csv", ns=(later, later))  # touched, same bytes: still unchanged
    output, _, _ = batch()
    assert "nothing changed" in output
    recorded = read_manifest(batch.out)["quick_check"]["files"][str((batch.source / "reps.csv").resolve())]
    assert recorded[1] == later  # the new mtime is kept: the next rerun need not hash the file


def test_force_renders_everything_again(batch):
    settled(batch)
    output, loads, rendered = batch("--force")
    assert len(loads) == 1 and len(rendered) == PAGES and "nothing changed" not in output


def _edit_csv(run):
    with open(run.source / "opportunities.csv", "a", encoding="utf-8") as handle:
        handle.write("O99,R1,C9,2026-01-11,,open,5\n")


def _edit_mapping(run):
    (run.folder / "mapping.yml").write_text("# no renames, still\n", encoding="utf-8")


def _edit_expectations(run):
    (run.folder / "expectations.yml").write_text("default:\n  win_rate: 0.6\n", encoding="utf-8")


def _edit_notebook(run):
    nb = nbformat.read(run.notebooks / "rep_coaching.ipynb", as_version=4)
    nb.cells.append(new_code_cell("print('new cell')"))
    nbformat.write(nb, run.notebooks / "rep_coaching.ipynb")


def _add_file(run):
    (run.source / "notes.txt").write_text("a new file in the source folder\n", encoding="utf-8")


@pytest.mark.parametrize(
    "change, rerun, renders",
    [
        (_edit_csv, {}, PAGES),  # the data's fingerprint changed: every page
        (_edit_mapping, {}, PAGES),
        (_edit_expectations, {}, PAGES),
        (_edit_notebook, {}, 3),  # the rep notebook: the three rep pages
        (_add_file, {}, PAGES),  # the data's fingerprint covers every file of the folder
        (None, {"period": "2026-02"}, PAGES),
        (None, {"as_of": "2026-04-03"}, PAGES),
    ],
)
def test_a_change_is_caught_and_loads_the_data(batch, change, rerun, renders):
    settled(batch)
    if change is not None:
        change(batch)
    output, loads, rendered = batch(**rerun)
    assert "nothing changed" not in output and len(loads) == 1
    assert len(rendered) == renders, output


def test_a_new_salesnb_version_loads_the_data(batch, monkeypatch):
    settled(batch)
    monkeypatch.setattr(salesnb, "__version__", salesnb.__version__ + ".post1")
    output, loads, rendered = batch()
    assert "nothing changed" not in output and len(loads) == 1 and len(rendered) == PAGES


def test_a_missing_page_or_index_is_rendered_again(batch):
    settled(batch)
    manifest = read_manifest(batch.out)
    (batch.out / manifest["reports"][-1]["html"]).unlink()
    output, loads, rendered = batch()
    assert len(loads) == 1 and rendered == [manifest["reports"][-1]["id"]]
    (batch.out / "index.html").unlink()
    output, loads, rendered = batch()
    assert len(loads) == 1 and rendered == [] and (batch.out / "index.html").is_file()


def test_a_partial_rerun_keeps_the_earlier_reports_listed(batch):
    settled(batch)
    output, loads, rendered = batch("--rep", "R1")
    assert len(loads) == 1 and rendered == []  # its own page is unchanged; the quick check keys on --rep too
    output, loads, rendered = batch("--rep", "R1")
    assert "1 report for 2026-Q1: nothing changed" in output and loads == []
    manifest = read_manifest(batch.out)
    assert len(manifest["reports"]) == PAGES and sum(bool(r.get("earlier_run")) for r in manifest["reports"]) == PAGES - 1


def test_a_relative_period_resolving_differently_loads_the_data(batch):
    batch(period="last-quarter", as_of="2026-04-02")  # 2026-Q1
    output, loads, _ = batch(period="last-quarter", as_of="2026-04-02")
    assert "5 reports for 2026-Q1: nothing changed" in output and loads == []
    output, loads, rendered = batch(period="last-month", as_of="2026-03-02")  # 2026-02
    assert "5 reports for 2026-02:" in output and len(loads) == 1 and len(rendered) == PAGES


def test_a_database_file_and_the_mapping_beside_it_are_watched(batch, tmp_path):
    import sqlite3

    database = tmp_path / "db" / "crm.sqlite"
    database.parent.mkdir()
    with sqlite3.connect(database) as connection:
        connection.execute("create table reps (rep_id text, name text, territory text, team text)")
        connection.executemany("insert into reps values (?, ?, ?, ?)", CALM)
        connection.execute(
            "create table opportunities (opportunity_id text, rep_id text, customer_id text, created_date text,"
            " closed_date text, status text, amount real)"
        )
        connection.executemany(
            "insert into opportunities values (?, ?, ?, '2026-01-10', '2026-02-20', 'won', 1000)",
            [(f"O{i}", rep, f"C{i}") for i, (rep, *_rest) in enumerate(CALM)],
        )
    connection.close()

    def run(*extra):
        return batch(*extra, source=database)

    # a mapping.yml beside a database file is what load() reads without --mapping: watched, even
    # before it exists (here --mapping names another one, so the rerun loads and renders nothing new)
    settled(run)
    (database.parent / "mapping.yml").write_text("# beside the database\n", encoding="utf-8")
    output, loads, _ = run()
    assert "nothing changed" not in output and len(loads) == 1
    settled(run)
    with sqlite3.connect(database) as connection:
        connection.execute("update opportunities set amount = 2000 where opportunity_id = 'O0'")
    connection.close()
    output, loads, rendered = run()
    assert "nothing changed" not in output and len(loads) == 1 and len(rendered) == PAGES


def test_an_unchanged_rerun_imports_neither_pandas_nor_papermill(batch):
    """What makes it instant: the quick check runs before the runner imports its
    heavy libraries (the memo of shared tables included: it imports pandas on use)."""
    import subprocess
    import sys

    batch()
    code = (
        "import sys\nfrom salesnb.cli import cli\n"
        "try:\n    cli(prog_name='salesnb', args=sys.argv[1:])\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('imported:', sorted(m for m in ('pandas', 'papermill', 'matplotlib', 'IPython') if m in sys.modules))"
    )
    args = [
        *("report", batch.source, "--period", "2026-Q1", "--as-of", "2026-04-02", "--out", batch.out),
        *("--notebooks", batch.notebooks, "--no-progress"),
        *("--mapping", batch.folder / "mapping.yml", "--expectations", batch.folder / "expectations.yml"),
    ]
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "nothing changed since the last run" in result.stdout and "imported: []" in result.stdout
