"""Issue #13: where salesnb writes (salesnb.run.outputs and its callers).

An output is never one of the inputs; an output folder is new, empty or
salesnb's own, never /, home or the data's folder; nothing is written
through a symlink inside it; only salesnb's own temporaries are removed;
--out placeholders are the documented two; --jobs never starts more
workers than reports; --rep renders only what was asked.

The report runs replace the kernel with test_report's fake execution, so
each test takes milliseconds to a second.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from batches import FIXTURE_NOTEBOOKS, REPS, by_key, read_manifest, write_source
from batches import fake_execute as _fake_execute
from click.testing import CliRunner

import salesnb.run.batch as report_module
import salesnb.run.execute as execute_module
import salesnb.run.executors as executors_module
from salesnb import atomic
from salesnb.cli import cli
from salesnb.errors import InputError, OutputError
from salesnb.run.batch import run_batch
from salesnb.run.executors import MAX_WORKERS, LocalExecutor, worker_count
from salesnb.run.outputs import check_output_folder, fill_placeholders

# The fake execution fails R3's report: these tests are about where files go, so R3 is left out.
CALM = [r for r in REPS if r[0] != "R3"]
COMMON = dict(period="2026-Q1", as_of="2026-04-02", notebooks=FIXTURE_NOTEBOOKS)


@pytest.fixture
def no_kernel(monkeypatch):
    monkeypatch.setattr(execute_module, "_execute", _fake_execute)
    monkeypatch.setattr(report_module, "_require_kernel", lambda name: None)


@pytest.fixture
def source(tmp_path) -> Path:
    return write_source(tmp_path / "src", CALM)


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# -- item 1: an input is never an output ----------------------------------------------------


@pytest.mark.parametrize("target", ["opportunities.csv", "reps.csv", "mapping.yml", "expectations.yml"])
def test_quarantine_out_onto_an_input_is_refused_and_the_input_kept(source, target):
    (source / "mapping.yml").write_text("tables: {}\n")
    (source / "expectations.yml").write_text("default: {win_rate: 0.5}\n")
    before = snapshot(source)
    result = run("validate", source, "--quarantine-out", source / target)
    assert result.exit_code == 1
    assert f"error: --quarantine-out {source / target} is an input of the data source" in result.stderr
    assert "never overwrites its input" in result.stderr
    assert snapshot(source) == before
    # a new name beside the data is not an input: written
    assert run("validate", source, "--quarantine-out", source / "set_aside.csv").exit_code == 0
    assert (source / "set_aside.csv").read_text().splitlines()[0] == "table,file,line,flags,problems,record"


def test_quarantine_out_through_a_symlink_or_hard_link_to_an_input_is_refused(source, tmp_path):
    (tmp_path / "soft.csv").symlink_to(source / "opportunities.csv")
    os.link(source / "reps.csv", tmp_path / "hard.csv")
    before = snapshot(source)
    for link, real in (("soft.csv", "opportunities.csv"), ("hard.csv", "reps.csv")):
        result = run("validate", source, "--quarantine-out", tmp_path / link)
        assert result.exit_code == 1 and f"({source / real})" in result.stderr, result.stderr
    assert snapshot(source) == before


def test_quarantine_out_onto_a_sqlite_source_is_refused(tmp_path):
    import sqlite3

    database = tmp_path / "crm.sqlite"
    with sqlite3.connect(database) as connection:
        connection.execute("create table reps (rep_id text, name text, territory text)")
        connection.execute("insert into reps values ('R1', 'Ann', 'North')")
        connection.execute(
            "create table opportunities (opportunity_id text, rep_id text, created_date text, status text, amount real)"
        )
    before = database.read_bytes()
    result = run("validate", database, "--quarantine-out", database)
    assert result.exit_code == 1 and "is an input of the data source" in result.stderr
    assert database.read_bytes() == before


def test_quarantine_out_into_a_missing_folder_names_the_folder(source, tmp_path):
    result = run("validate", source, "--quarantine-out", tmp_path / "nowhere" / "q.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: cannot write --quarantine-out {tmp_path / 'nowhere' / 'q.csv'}: the folder "
        f"{tmp_path / 'nowhere'} does not exist. Create the folder first, or choose a file in "
        f"an existing folder\n"
    )
    assert not (tmp_path / "nowhere").exists()


# -- item 4: an output folder is salesnb's -----------------------------------------------------


def test_report_into_the_source_folder_or_a_folder_holding_it_is_refused(source, tmp_path):
    before = snapshot(tmp_path)
    for out in (source, tmp_path):
        result = run("report", source, "--period", "2026-Q1", "--out", out, "--notebooks", FIXTURE_NOTEBOOKS)
        assert result.exit_code == 1, result.output
        assert f"error: --out {out}" in result.stderr and "salesnb never writes reports among its input" in result.stderr
    assert snapshot(tmp_path) == before and not (source / report_module.LOCK).exists()


def test_root_and_home_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(OutputError, match="is the root folder"):
        check_output_folder("/")
    with pytest.raises(OutputError, match="is your home folder"):
        check_output_folder("~")
    assert os.listdir(tmp_path) == []


def test_a_folder_of_the_users_own_files_is_refused_and_left_alone(no_kernel, source, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "index.html").write_text("<p>my own page</p>")
    (mine / "manifest.json").write_text('{"app": "my own"}')
    before = snapshot(mine)
    with pytest.raises(OutputError, match=r"already holds files salesnb did not write \(index.html, manifest.json\)"):
        run_batch(source, out=mine, **COMMON)
    assert snapshot(mine) == before and sorted(os.listdir(mine)) == ["index.html", "manifest.json"]
    # an empty folder is written, and then it is salesnb's: a rerun may write it again
    out = tmp_path / "out"
    out.mkdir()
    first = run_batch(source, out=out, **COMMON)
    assert first.exit_code == 0 and first.counts["ok"] == 1 + 1 + len(CALM)
    (out / "notes.txt").write_text("mine, beside the reports")  # a folder salesnb wrote may hold a note
    second = run_batch(source, out=out, force=True, **COMMON)
    assert second.exit_code == 0 and (out / "notes.txt").read_text() == "mine, beside the reports"


def test_only_salesnbs_own_temporaries_are_removed(no_kernel, source, tmp_path):
    out = tmp_path / "out"
    run_batch(source, out=out, **COMMON)
    users = [out / ".index.html.abcd1234.tmp", out / "reps" / ".notes.k9x2m4q1.tmp"]  # atomic.py's old pattern
    for path in users:
        path.write_text("the user's")
    ours = out / "reps" / ".r1.html.abcd1234.salesnb.tmp"
    ours.write_text("<!DOCTYPE html><html>half")
    assert [atomic.is_temporary(p.name) for p in (*users, ours)] == [False, False, True]
    run_batch(source, out=out, force=True, **COMMON)
    assert all(p.read_text() == "the user's" for p in users) and not ours.exists()


def test_atomic_temporaries_carry_the_salesnb_ending(tmp_path):
    seen = []
    with atomic.atomic_open(tmp_path / "page.html") as handle:
        seen = os.listdir(tmp_path)
        handle.write("x")
    assert len(seen) == 1 and seen[0].startswith(".page.html.") and seen[0].endswith(".salesnb.tmp")
    assert atomic.is_temporary(seen[0]) and os.listdir(tmp_path) == ["page.html"]


# -- item 3: nothing leaves --out --------------------------------------------------------


@pytest.mark.parametrize("name", ["reps", "teams", "_failed", ".salesnb", ".salesnb.lock", "index.html", "manifest.json"])
def test_a_symlink_planted_in_the_output_folder_is_refused(no_kernel, source, tmp_path, name):
    out = tmp_path / "out"
    run_batch(source, out=out, **COMMON)  # a folder salesnb wrote, so only the link stands in the way
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not the reports' place")
    target = out / name
    if target.is_dir():
        import shutil

        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)
    target.symlink_to(elsewhere if "." not in name or name == ".salesnb" else elsewhere / "keep.txt")
    with pytest.raises(OutputError, match=f"{target} is a symbolic link; salesnb never follows a link"):
        run_batch(source, out=out, force=True, **COMMON)
    assert sorted(os.listdir(elsewhere)) == ["keep.txt"] and (elsewhere / "keep.txt").read_text() == "not the reports' place"


def test_a_symlink_planted_during_the_batch_fails_that_report_only(no_kernel, source, tmp_path, monkeypatch):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()

    def plant_then_execute(job, capture):
        if not (out / "reps").exists():
            (out / "reps").symlink_to(elsewhere)
        return _fake_execute(job, capture)

    monkeypatch.setattr(execute_module, "_execute", plant_then_execute)
    result = run_batch(source, out=out, reps=["R1"], **COMMON)
    assert result.counts == {"ok": 0, "failed": 1, "skipped": 0}
    assert "is a symbolic link" in result.failed[0]["error"] and os.listdir(elsewhere) == []


# -- --out placeholders ------------------------------------------------------------------


@pytest.mark.parametrize(
    "template", ["{period.__class__.__name__}", "{period[0]}", "{as_of!r}", "{period:>40}", "{0}", "{}", "{rep}", "x}"]
)
def test_only_the_documented_placeholders_are_filled(template):
    with pytest.raises(InputError, match="is not a placeholder; only {period} and {as_of} are filled in"):
        fill_placeholders(template, {"period": "2026-Q1", "as_of": "2026-04-02"})


def test_placeholders_and_literal_braces():
    values = {"period": "2026-Q1", "as_of": "2026-04-02"}
    assert fill_placeholders("r/{period}/{as_of}/{{x}}", values) == "r/2026-Q1/2026-04-02/{x}"


def test_report_out_with_attribute_access_is_refused_before_anything_is_written(source, tmp_path):
    result = run("report", source, "--period", "2026-Q1", "--out", str(tmp_path / "{period.__class__.__name__}"))
    assert result.exit_code == 1
    assert "'{period.__class__.__name__}' is not a placeholder" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["src"]  # no folder "str"


def test_schedule_refuses_a_bad_placeholder_at_once(tmp_path):
    result = run("schedule", "--cadence", "daily", "--source", tmp_path, "--out", "/srv/{period.__class__}")
    assert result.exit_code == 1 and "'{period.__class__}' is not a placeholder" in result.stderr


# -- item 7: --jobs ------------------------------------------------------------------------


def test_worker_count_is_capped_by_reports_and_the_maximum():
    assert worker_count(24, 4) == 4
    assert worker_count(2, 100) == 2
    assert worker_count(500, 1000) == MAX_WORKERS == 32
    assert worker_count(8, 0) == 1


def test_a_batch_never_starts_more_workers_than_reports(no_kernel, source, tmp_path, monkeypatch):
    started = []

    class Recording(LocalExecutor):
        def __init__(self, jobs=1):
            started.append(jobs)
            super().__init__(1)
            self.workers = jobs

        def warm_up(self, fn):
            pass

        def map_unordered(self, fn, jobs, *, on_error=None):
            yield from self._run_inline(fn, list(jobs), on_error)  # the fake execution lives in this process

    monkeypatch.setattr(executors_module, "LocalExecutor", Recording)
    result = run_batch(source, out=tmp_path / "out", reps=["R1", "a/b"], jobs=24, **COMMON)
    assert started == [2] and result.manifest["workers"] == 2 and result.counts["ok"] == 2


def test_jobs_above_the_cores_warns_and_above_the_maximum_is_capped(source, tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(report_module, "run_batch", lambda *a, **kw: asked.append(kw["jobs"]) or _Done())
    monkeypatch.setattr(executors_module, "available_cores", lambda: 2)
    result = run("report", source, "--period", "2026-Q1", "--out", tmp_path / "out", "--jobs", 500)
    assert asked == [MAX_WORKERS] and result.exit_code == 0
    assert f"warning: --jobs 500 is capped at {MAX_WORKERS} workers" in result.stderr
    assert f"warning: --jobs {MAX_WORKERS} is more than the 2 cores here" in result.stderr
    quiet = run("report", source, "--period", "2026-Q1", "--out", tmp_path / "out", "--jobs", 2)
    assert asked[-1] == 2 and "warning" not in quiet.stderr
    help_text = " ".join(run("report", "--help").output.split())
    assert f"at most {MAX_WORKERS}" in help_text


class _Done:
    failed: list = []
    exit_code = 0

    def summary(self):
        return "done"


# -- --rep renders what was asked -------------------------------------------------------------


def test_rep_alone_renders_only_that_rep_and_a_full_run_afterwards_renders_everything(no_kernel, source, tmp_path):
    out = tmp_path / "out"
    one = run_batch(source, out=out, reps=["R1"], **COMMON)
    assert [(r["kind"], r["key"]) for r in one.reports] == [("rep_coaching", "R1")]
    manifest = read_manifest(out)
    assert manifest["partial"] is True and [r["key"] for r in manifest["reports"]] == ["R1"]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["index.html", "manifest.json", "reps"]
    assert "Ann Lee (R1)" in (out / "index.html").read_text(encoding="utf-8")

    full = run_batch(source, out=out, **COMMON)
    assert full.counts == {"ok": 1 + 1 + len(CALM) - 1, "failed": 0, "skipped": 1}  # R1 unchanged
    assert len(read_manifest(out)["reports"]) == 1 + 1 + len(CALM) and (out / "data_quality.html").is_file()

    again = run_batch(source, out=out, reps=["a/b"], force=True, **COMMON)
    assert [r["key"] for r in again.reports] == ["a/b"]
    kept = by_key(read_manifest(out))
    assert len(kept) == 1 + 1 + len(CALM) and kept[("data_quality", None)]["earlier_run"] is True


def test_rep_with_all_or_team_adds_the_overviews(no_kernel, source, tmp_path):
    with_all = run_batch(source, out=tmp_path / "all", reps=["R1"], overviews=True, **COMMON)
    assert [(r["kind"], r["key"]) for r in with_all.reports] == [
        ("data_quality", None),
        ("team_overview", "Alpha"),
        ("rep_coaching", "R1"),
    ]
    cli_run = run(
        "report",
        source,
        "--period",
        "2026-Q1",
        "--as-of",
        "2026-04-02",
        "--out",
        tmp_path / "cli",
        "--notebooks",
        FIXTURE_NOTEBOOKS,
        "--rep",
        "R1",
        "--no-progress",
    )
    assert cli_run.exit_code == 0 and cli_run.stdout.startswith("1 report for 2026-Q1: 1 ok")


def test_report_help_says_what_rep_renders():
    help_text = " ".join(run("report", "--help").output.split())
    assert (
        "Render only this rep's coaching report (repeatable); no team overview and no data quality page "
        "unless --team or --all asks for them." in help_text
    )
    assert "--all With --rep: also the data quality page and every team's overview." in help_text


# -- salesnb sample OUT never overwrites a user's data folder ----------------------


def test_sample_refuses_a_folder_holding_files_and_leaves_them_untouched(tmp_path):
    own = tmp_path / "my_data"
    own.mkdir()
    (own / "reps.csv").write_text("rep_id,name,territory\nME,Me,Home\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["sample", str(own), "--reps", "2", "--months", "1"])
    assert result.exit_code == 1, result.output
    assert "is not empty" in result.output and "--force" in result.output
    assert (own / "reps.csv").read_text(encoding="utf-8") == "rep_id,name,territory\nME,Me,Home\n"
    assert sorted(p.name for p in own.iterdir()) == ["reps.csv"]


def test_sample_writes_into_a_new_folder_and_regenerates_in_place_with_force(tmp_path):
    out = tmp_path / "sample"
    first = CliRunner().invoke(cli, ["sample", str(out), "--reps", "2", "--months", "1"])
    assert first.exit_code == 0, first.output
    reps = (out / "reps.csv").read_bytes()
    again = CliRunner().invoke(cli, ["sample", str(out), "--reps", "2", "--months", "1", "--force"])
    assert again.exit_code == 0, again.output
    assert (out / "reps.csv").read_bytes() == reps  # same seed, same files
