"""salesnb.run.batch and salesnb.run.executors: batches of reports.

Fast tests replace the kernel with a fake execution (``_execute``) so the
runner's own logic (naming, index, manifest, failures, reruns) is checked
in milliseconds. Tests marked ``slow`` run the tiny fixture notebooks in
tests/fixtures/notebooks through papermill with the ``salesnb`` kernel.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import nbformat
import pytest
from batches import FIXTURE_NOTEBOOKS, HOSTILE_NAME, LONG_ID, REPS, by_key, files_under, read_manifest, run_cli, write_source
from batches import fake_execute as _fake_execute
from click.testing import CliRunner
from nbformat.v4 import new_code_cell

import salesnb.run.batch as report_module
import salesnb.run.execute as execute_module
from salesnb.cli import cli
from salesnb.errors import InputError
from salesnb.run.batch import plan_batch, run_batch, safe_name
from salesnb.run.executors import Executor, LocalExecutor

# -- naming --------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["R1", "../../etc/passwd", "a/b", "..", ".hidden", "a\\b", LONG_ID, HOSTILE_NAME, "con", "tab\there", "ü", "   ", "💼"]
)
def test_safe_name_cannot_escape_and_is_short(key):
    name = safe_name(key)
    assert len(name) <= 51
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789_-" for c in name)
    assert not name.startswith(("-", ".", "_"))
    assert safe_name(key) == name  # stable across runs


def test_safe_names_do_not_collide():
    keys = ["R1", "r1", "a/b", "a_b", "a-b", "a b", "Zoë", "Zoe", LONG_ID, LONG_ID + "y"]
    assert len({safe_name(k) for k in keys}) == len(keys)
    assert safe_name("Zoë").startswith("zoe-")
    with pytest.raises(ValueError):
        safe_name("")


# -- planning --------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from salesnb.io.loading import load

    return load(write_source(tmp_path_factory.mktemp("plan") / "src", REPS + [("R9", "Ida", "West", "Beta")]))


def plan(dataset, tmp_path, **kw):
    import datetime as dt

    from salesnb.analysis.periods import parse_period

    return plan_batch(
        dataset,
        source=tmp_path / "src",
        period=parse_period("2026-Q1"),
        as_of=dt.date(2026, 4, 2),
        out_dir=tmp_path / "out",
        notebooks_dir=FIXTURE_NOTEBOOKS,
        **kw,
    )


def test_plan_has_one_report_per_rep_and_team_plus_data_quality(dataset, tmp_path):
    jobs = plan(dataset, tmp_path)
    kinds = [j.kind for j in jobs]
    assert kinds == ["data_quality", "team_overview", "team_overview"] + ["rep_coaching"] * (len(REPS) + 1)
    assert [j.key for j in jobs if j.kind == "team_overview"] == ["Alpha", "Beta"]  # "alpha" is Alpha
    assert [j.key for j in jobs if j.kind == "rep_coaching"] == [r[0] for r in REPS] + ["R9"]
    assert len({j.id for j in jobs}) == len({j.html for j in jobs}) == len(jobs)
    rep = next(j for j in jobs if j.key == "a/b")
    assert rep.parameters == {
        "source": str((tmp_path / "src").resolve()),
        "mapping": None,
        "period": "2026-Q1",
        "as_of": "2026-04-02",
        "rep_id": "a/b",
    }
    assert rep.title == f"Coaching report: {HOSTILE_NAME} (a/b), 2026-Q1"
    assert rep.html.startswith("reps/a-b-") and rep.notebook == str(FIXTURE_NOTEBOOKS.resolve() / "rep_coaching.ipynb")
    assert next(j for j in jobs if j.key == "Beta").parameters["team"] == "Beta"
    assert jobs[0].html == "data_quality.html" and "rep_id" not in jobs[0].parameters


def test_plan_passes_expectations_to_every_report_only_when_given(dataset, tmp_path):
    targets = tmp_path / "targets.yml"
    given = plan(dataset, tmp_path, expectations=targets)
    assert {j.parameters["expectations"] for j in given} == {str(targets.resolve())}
    assert all("expectations" not in j.parameters for j in plan(dataset, tmp_path))  # earlier batches' input keys stand


def test_plan_subset_and_team_matching_is_case_insensitive(dataset, tmp_path):
    jobs = plan(dataset, tmp_path, reps=["a/b", "R1"], teams=["beta"])
    assert [(j.kind, j.key) for j in jobs] == [
        ("data_quality", None),
        ("team_overview", "Beta"),
        ("rep_coaching", "a/b"),
        ("rep_coaching", "R1"),
    ]


def test_unknown_rep_or_team_is_named(dataset, tmp_path):
    with pytest.raises(InputError, match="R99"):
        plan(dataset, tmp_path, reps=["R1", "R99"])
    with pytest.raises(InputError, match="Gamma"):
        plan(dataset, tmp_path, teams=["Gamma"])


# -- running, without a kernel ---------------------------------------------------------


@pytest.fixture
def no_kernel(monkeypatch):
    monkeypatch.setattr(execute_module, "_execute", _fake_execute)
    monkeypatch.setattr(report_module, "_require_kernel", lambda name: None)


def test_batch_writes_index_manifest_and_reports(no_kernel, tmp_path):
    source = write_source(tmp_path / "src")
    result = run_batch(source, period="2026-Q1", as_of="2026-04-02", out=tmp_path / "out", notebooks=FIXTURE_NOTEBOOKS)
    out = tmp_path / "out"
    assert result.exit_code == 1 and result.counts == {"ok": 6, "failed": 1, "skipped": 0}
    manifest = read_manifest(out)
    assert [r["id"] for r in manifest["reports"]] == [r["id"] for r in result.reports]
    failed = by_key(manifest)[("rep_coaching", "R3")]
    assert failed["status"] == "failed" and failed["html"] is None
    assert failed["error"] == "RuntimeError: fixture failure (cell 1)"
    assert failed["failed_notebook"].startswith("_failed/rep_coaching-r3-")
    assert nbformat.read(out / failed["failed_notebook"], as_version=4).cells  # a readable notebook
    for entry in manifest["reports"]:
        assert entry["data_fingerprint"] == manifest["data_fingerprint"] != ""
        assert set(entry) >= {"parameters", "notebook", "html", "started", "ended", "seconds", "status", "error"}
        if entry["status"] == "ok":
            assert (out / entry["html"]).read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert files_under(out) == {"index.html", "manifest.json", failed["failed_notebook"]} | {
        r["html"] for r in manifest["reports"] if r["html"]
    }
    assert not list(out.rglob("*.tmp"))


def test_the_datas_last_day_decides_whether_it_is_stale(dataset):
    """The fixture's latest record is a deal closed on 2026-02-20: stale only when the
    period ends more than ``after_days`` days after it."""
    from salesnb.analysis.periods import Period, last_date, stale_data

    assert last_date(dataset).date().isoformat() == "2026-02-20"
    assert stale_data(dataset, Period.between("2026-02-01", "2026-02-27")) is None  # 7 days: not more than 7
    late = stale_data(dataset, Period.between("2026-02-01", "2026-02-28"))
    assert {k: late[k] for k in ("last_date", "period_end", "days_before_end", "stale_after")} == {
        "last_date": "2026-02-20",
        "period_end": "2026-02-28",
        "days_before_end": 8,
        "stale_after": 7,
    }
    assert stale_data(dataset, Period.between("2026-02-01", "2026-02-28"), after_days=8) is None
    with pytest.raises(InputError, match="stale-after"):
        stale_data(dataset, Period.for_quarter(2026, 1), after_days=-1)


def test_old_data_is_stated_and_warned_on_every_page_and_the_index(no_kernel, tmp_path):
    source = write_source(tmp_path / "src")  # the latest record: deals closed 2026-02-20
    out = tmp_path / "out"
    run_batch(source, period="2026-Q1", as_of="2026-04-02", out=out, notebooks=FIXTURE_NOTEBOOKS)
    manifest = read_manifest(out)
    warning = (
        "Old data: the latest record is from 2026-02-20, 39 days before 2026-Q1 ends (2026-03-31). "
        "Those days are missing from these figures, not quiet: check that the export ran."
    )
    assert manifest["data_last_date"] == "2026-02-20"
    assert manifest["stale_data"] == {
        "last_date": "2026-02-20",
        "period_end": "2026-03-31",
        "days_before_end": 39,  # 8 days of February 2026, 31 of March
        "stale_after": 7,
        "text": warning,
    }
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f'<p class="data-warning" role="alert">{warning}</p>' in index and "; data to 2026-02-20." in index
    pages = [out / r["html"] for r in manifest["reports"] if r["html"]]
    assert len(pages) == 6
    for page in pages:
        text = page.read_text(encoding="utf-8")
        top = text.index("<h1>")
        assert text.index(f'<p class="data-warning" role="alert">{warning}</p>') > top  # under the title, above everything
        assert "as of 2026-04-02; data to 2026-02-20</p>" in text

    # --stale-after 39 accepts the 39 days: the date is still stated, no warning anywhere
    calm = tmp_path / "calm"
    argv = ["report", str(source), "--period", "2026-Q1", "--as-of", "2026-04-02", "--out", str(calm), "--stale-after", "39"]
    result = CliRunner().invoke(cli, argv + ["--notebooks", str(FIXTURE_NOTEBOOKS)])
    assert result.exit_code == 1 and "6 ok, 1 failed" in result.output  # the fixture's R3 fails by design
    manifest = read_manifest(calm)
    assert manifest["stale_data"] is None and manifest["data_last_date"] == "2026-02-20"
    for name in ["index.html"] + [r["html"] for r in manifest["reports"] if r["html"]]:
        text = (calm / name).read_text(encoding="utf-8")
        assert "data-warning" not in text.split("<style>")[0] + text.split("</style>")[-1]
        assert "data to 2026-02-20" in text


def test_validate_states_the_datas_last_date(tmp_path):
    result = CliRunner().invoke(cli, ["validate", str(write_source(tmp_path / "src"))])
    assert result.exit_code == 0, result.output
    assert "Data runs to 2026-02-20 (the latest opportunity, deal closed, activity or order)" in result.stdout


def test_full_rerun_replaces_and_partial_rerun_merges(no_kernel, tmp_path):
    source = write_source(tmp_path / "src")
    out = tmp_path / "out"
    first = run_batch(source, period="2026-Q1", as_of="2026-04-02", out=out, notebooks=FIXTURE_NOTEBOOKS)
    (out / "notes.txt").write_text("not ours")
    first_files = files_under(out)

    # --rep R1 --team Alpha for another period (one the data reaches): R1 is replaced, the other reps' reports stay
    second = run_batch(
        source, period="2026-02", as_of="2026-03-02", out=out, notebooks=FIXTURE_NOTEBOOKS, reps=["R1"], teams=["Alpha"]
    )
    assert second.exit_code == 0 and len(second.reports) == 3  # data quality, Alpha, R1
    r1 = by_key(second.manifest)[("rep_coaching", "R1")]
    assert r1["html"] == by_key(first.manifest)[("rep_coaching", "R1")]["html"]  # same place, new content
    assert "2026-02" in (out / r1["html"]).read_text(encoding="utf-8")
    assert files_under(out) == first_files  # nothing removed
    manifest = read_manifest(out)
    assert len(manifest["reports"]) == len(first.reports) and manifest["kept_from_earlier_runs"] == 4
    kept = [r for r in manifest["reports"] if r.get("earlier_run")]
    assert {r["key"] for r in kept} == {"a/b", "R3", "../../etc/passwd", LONG_ID}
    assert {r["parameters"]["period"] for r in kept} == {"2026-Q1"}
    assert by_key(manifest)[("rep_coaching", "R3")]["status"] == "failed"  # as it was
    assert (out / by_key(manifest)[("rep_coaching", "R3")]["failed_notebook"]).is_file()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count(' row-earlier"') == 4 and "from an earlier run (2026-Q1" in index
    assert "4 from earlier runs" in index and "kept from earlier runs" in second.summary()

    # a full batch owns the folder: a rep who left loses the report, earlier-run entries go
    source = write_source(tmp_path / "src", [r for r in REPS if r[0] != "a/b"])
    third = run_batch(source, period="2026-02", as_of="2026-03-02", out=out, notebooks=FIXTURE_NOTEBOOKS)
    manifest = read_manifest(out)
    assert not any(r.get("earlier_run") for r in manifest["reports"]) and manifest["kept_from_earlier_runs"] == 0
    assert ("rep_coaching", "a/b") not in by_key(manifest)
    assert files_under(out) == {"index.html", "manifest.json", "notes.txt"} | {
        p for r in third.reports for p in (r["html"], r["failed_notebook"]) if p
    }
    assert not (out / report_module.STATE_DIR).exists()  # the data cache went with the batch


def test_a_report_that_fails_now_loses_its_old_page(no_kernel, tmp_path, monkeypatch):
    source = write_source(tmp_path / "src")
    out = tmp_path / "out"
    run_batch(source, period="2026-Q1", as_of="2026-04-02", out=out, notebooks=FIXTURE_NOTEBOOKS, reps=["R1"], teams=["Alpha"])
    page = out / by_key(read_manifest(out))[("rep_coaching", "R1")]["html"]
    assert page.exists()

    def fail_everything(job, capture):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(execute_module, "_execute", fail_everything)
    result = run_batch(
        source,
        period="2026-Q1",
        as_of="2026-04-02",
        out=out,
        notebooks=FIXTURE_NOTEBOOKS,
        reps=["R1"],
        teams=["Alpha"],
        force=True,
    )
    assert result.counts["failed"] == 3 and not page.exists()
    assert "RuntimeError: kernel exploded" in (out / "index.html").read_text(encoding="utf-8")


def test_unchanged_reports_are_skipped_and_force_renders_them(no_kernel, tmp_path, monkeypatch):
    executed = []

    def counting(job, capture):
        executed.append(job.key)
        return _fake_execute(job, capture)

    monkeypatch.setattr(execute_module, "_execute", counting)
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURE_NOTEBOOKS, notebooks)
    source = write_source(tmp_path / "src")
    out = tmp_path / "out"

    def batch(**kw):
        executed.clear()
        return run_batch(source, **{"period": "2026-Q1", "as_of": "2026-04-02", "out": out, "notebooks": notebooks, **kw})

    first = batch()
    assert len(executed) == 7 and first.counts == {"ok": 6, "failed": 1, "skipped": 0}
    pages = {p: (out / p).read_bytes() for p in files_under(out) if p.endswith(".html") and p != "index.html"}

    second = batch()  # nothing changed: only the report that failed runs again
    assert executed == ["R3"] and second.counts == {"ok": 0, "failed": 1, "skipped": 6}
    for entry in second.reports:
        if entry["status"] == "skipped":
            first_entry = by_key(first.manifest)[(entry["kind"], entry["key"])]
            assert entry["reason"] == "unchanged" and entry["html"] == first_entry["html"]
            assert entry["rendered_at"] == first_entry["ended"] and entry["input_key"] == first_entry["input_key"]
    assert {p: (out / p).read_bytes() for p in pages} == pages  # the pages are still there, untouched
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count("unchanged: rendered") == 6 and "(6 unchanged)" in index
    assert all(f'href="{p}"' in index for p in pages)  # skipped reports still link to their page

    assert batch().counts["skipped"] == 6  # skipped twice in a row: still unchanged

    (out / by_key(first.manifest)[("rep_coaching", "R1")]["html"]).unlink()  # a page that went missing
    batch()
    assert executed == ["R1", "R3"]

    nb = nbformat.read(notebooks / "rep_coaching.ipynb", as_version=4)  # the rep notebook changed
    nb.cells.append(new_code_cell("print('new cell')"))
    nbformat.write(nb, notebooks / "rep_coaching.ipynb")
    batch()
    assert sorted(executed, key=str) == sorted([r[0] for r in REPS], key=str)

    assert batch(force=True).counts == {"ok": 6, "failed": 1, "skipped": 0} and len(executed) == 7

    (source / "opportunities.csv").open("a").write("O99,R1,C9,2026-01-11,,open,5\n")  # the data changed
    assert len({r["data_fingerprint"] for r in batch().reports}) == 1 and len(executed) == 7

    assert len(batch(as_of="2026-04-03").reports) == 7 and len(executed) == 7  # parameters changed


def test_input_key_covers_data_notebook_parameters_and_version():
    base = dict(data_fingerprint="d", notebook_hash="n", parameters={"rep_id": "R1"}, kind="rep_coaching", version="1")
    key = report_module.input_key(**base)
    assert key == report_module.input_key(**base)
    for change in ({"data_fingerprint": "d2"}, {"notebook_hash": "n2"}, {"parameters": {"rep_id": "R2"}}, {"version": "2"}):
        assert report_module.input_key(**{**base, **change}) != key


def test_a_second_batch_on_the_same_folder_is_refused(no_kernel, tmp_path):
    import subprocess
    import sys

    source = write_source(tmp_path / "src")
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; import salesnb.run.batch as r\n"
            "with r.batch_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        refused = CliRunner().invoke(
            cli,
            [
                "report",
                str(source),
                "--period",
                "2026-Q1",
                "--out",
                str(out),
                "--notebooks",
                str(FIXTURE_NOTEBOOKS),
                "--no-progress",
            ],
        )
        assert refused.exit_code == 1
        assert f"PID {holder.pid}" in refused.output and str(out) in refused.output
        assert "another salesnb report batch" in refused.output
        assert files_under(out) == set()  # the refused batch wrote nothing
    finally:
        holder.kill()
        holder.wait()
    # the lock died with its holder: the next batch runs
    result = run_batch(source, period="2026-Q1", out=out, notebooks=FIXTURE_NOTEBOOKS, reps=["R1"], teams=["Alpha"])
    assert result.counts["ok"] == 3 and (out / ".salesnb.lock").read_text() == ""


def test_a_plan_survives_a_round_trip_through_json(no_kernel, tmp_path):
    plan = report_module.prepare_batch(
        write_source(tmp_path / "src"), period="2026-Q1", as_of="2026-04-02", out=tmp_path / "out", notebooks=FIXTURE_NOTEBOOKS
    )
    plan.save()
    again = report_module.BatchPlan.load(tmp_path / "out")
    assert again.jobs == plan.jobs and [j.id for j in again.to_run] == [j.id for j in plan.to_run]
    assert json.loads(json.dumps(plan.jobs[0].to_dict())) == plan.jobs[0].to_dict()
    # each report is rendered on its own (an Airflow task), then the batch is finished
    results = [report_module.render_report(report_module.ReportJob.from_dict(j.to_dict())) for j in again.to_run[:-1]]
    finished = report_module.finish_batch(report_module.BatchPlan.load(tmp_path / "out"), results)
    lost = by_key(finished.manifest)[(plan.jobs[-1].kind, plan.jobs[-1].key)]
    assert lost["status"] == "failed" and "no result came back" in lost["error"]
    assert not (tmp_path / "out" / report_module.STATE_DIR).exists()


def test_missing_notebooks_are_skipped_not_failed(no_kernel, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(FIXTURE_NOTEBOOKS / "rep_coaching.ipynb", notebooks)
    result = run_batch(
        write_source(tmp_path / "src"), period="2026-Q1", out=tmp_path / "out", notebooks=notebooks, reps=["R1"], overviews=True
    )  # --rep R1 --all: the overviews too, whose notebooks are missing
    statuses = {(r["kind"], r["status"]) for r in result.reports}
    assert statuses == {("rep_coaching", "ok"), ("team_overview", "skipped"), ("data_quality", "skipped")}
    assert result.exit_code == 0 and "skipped" in result.summary()
    with pytest.raises(InputError, match="none of the report notebooks"):
        run_batch(tmp_path / "src", period="2026-Q1", out=tmp_path / "o2", notebooks=tmp_path)
    with pytest.raises(InputError, match="no notebooks folder"):
        run_batch(tmp_path / "src", period="2026-Q1", out=tmp_path / "o3", notebooks=tmp_path / "nope")


def test_relative_period_is_resolved_once_and_can_name_the_folder(no_kernel, tmp_path):
    result = run_batch(
        write_source(tmp_path / "src"),
        period="last-quarter",
        as_of="2026-04-02",
        out=tmp_path / "reports" / "{period}",
        notebooks=FIXTURE_NOTEBOOKS,
        reps=["R1"],
        teams=["Alpha"],
    )
    assert result.out_dir == (tmp_path / "reports" / "2026-Q1").resolve()
    assert result.manifest["period"] == {"label": "2026-Q1", "start": "2026-01-01", "end": "2026-03-31"}
    assert {r["parameters"]["period"] for r in result.reports} == {"2026-Q1"}
    assert {r["parameters"]["as_of"] for r in result.reports} == {"2026-04-02"}


class _DyingExecutor(Executor):
    """An executor whose workers die: every job comes back through on_error."""

    workers = 3

    def map_unordered(self, fn, jobs, *, on_error=None):
        for job in jobs:
            yield on_error(job, RuntimeError("worker lost"))


def test_any_executor_and_a_dead_worker_gives_failed_reports(no_kernel, tmp_path):
    result = run_batch(
        write_source(tmp_path / "src"),
        period="2026-Q1",
        out=tmp_path / "out",
        notebooks=FIXTURE_NOTEBOOKS,
        reps=["R1"],
        teams=["Alpha"],
        executor=_DyingExecutor(),
    )
    assert result.counts == {"ok": 0, "failed": 3, "skipped": 0}
    assert {r["error"] for r in result.reports} == {"RuntimeError: worker lost"}
    assert result.manifest["executor"] == "_DyingExecutor" and result.manifest["workers"] == 3


def test_cli_usage_and_input_errors(no_kernel, tmp_path):
    source = str(write_source(tmp_path / "src"))
    runner = CliRunner()
    assert runner.invoke(cli, ["report", source, "--out", str(tmp_path / "o")]).exit_code == 2  # no --period
    assert runner.invoke(cli, ["report", source, "--period", "2026", "--out", str(tmp_path / "o"), "--jobs", "0"]).exit_code == 2
    unknown = runner.invoke(
        cli,
        [
            "report",
            source,
            "--period",
            "2026",
            "--out",
            str(tmp_path / "o"),
            "--notebooks",
            str(FIXTURE_NOTEBOOKS),
            "--rep",
            "R99",
        ],
    )
    assert unknown.exit_code == 1 and "R99" in unknown.output
    bad_period = runner.invoke(
        cli, ["report", source, "--period", "someday", "--out", str(tmp_path / "o"), "--notebooks", str(FIXTURE_NOTEBOOKS)]
    )
    assert bad_period.exit_code == 1 and "someday" in bad_period.output


def test_missing_kernel_is_explained():
    with pytest.raises(InputError, match="ipykernel install"):
        report_module._require_kernel("no-such-kernel-salesnb-test")


def test_fingerprint_falls_back_to_the_source_files(tmp_path):
    from salesnb.io.dataset import Dataset

    source = write_source(tmp_path / "src")
    first = report_module._data_fingerprint(Dataset(tables={}), source, None)
    assert len(first) == 64 and first == report_module._data_fingerprint(Dataset(tables={}), source, None)
    (source / "reps.csv").write_text("rep_id,name,territory\nR9,Z,North\n")
    assert report_module._data_fingerprint(Dataset(tables={}), source, None) != first
    assert report_module._data_fingerprint(Dataset(tables={}, fingerprint="abc"), source, None) == "abc"


def test_passwords_never_reach_the_manifest():
    assert report_module.mask_text("postgresql://ann:s3cret@db/sales") == "postgresql://ann:***@db/sales"


# -- executors -------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", [1, 2])
def test_local_executor_yields_every_result_and_reports_errors(jobs):
    with LocalExecutor(jobs) as executor:
        results = list(executor.map_unordered(math.sqrt, [4, 9, -1, 16], on_error=lambda job, exc: ("error", job)))
    assert sorted(results, key=str) == sorted([2.0, 3.0, ("error", -1), 4.0], key=str)
    with pytest.raises(ValueError):
        LocalExecutor(0)


# -- end to end: real notebooks, real kernel ---------------------------------------------


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The whole fixture source rendered once, with two worker processes."""
    root = tmp_path_factory.mktemp("batch")
    source = write_source(root / "src")
    out = root / "out"
    result = run_cli(
        source, "--period", "2026-Q1", "--as-of", "2026-04-02", "--out", out, "--notebooks", FIXTURE_NOTEBOOKS, "--jobs", 2
    )
    return {"root": root, "source": source, "out": out, "cli": result, "manifest": read_manifest(out)}


def html_files(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


@pytest.mark.slow
def test_batch_lists_every_report_with_its_status(batch):
    manifest, out = batch["manifest"], batch["out"]
    assert batch["cli"].exit_code == 1
    assert "7 reports for 2026-Q1: 6 ok, 1 failed, 0 skipped" in batch["cli"].stdout
    assert str(out / "index.html") in batch["cli"].stdout
    expected = {("data_quality", None), ("team_overview", "Alpha")} | {("rep_coaching", r[0]) for r in REPS}
    assert set(by_key(manifest)) == expected
    assert {k: r["status"] for k, r in by_key(manifest).items()} == {
        k: "failed" if k == ("rep_coaching", "R3") else "ok" for k in expected
    }
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count('class="row-ok"') == 6 and index.count('class="row-failed"') == 1
    for entry in manifest["reports"]:
        if entry["html"]:
            assert f'href="{entry["html"]}"' in index
    assert "fixture failure for rep" in index


@pytest.mark.slow
def test_one_failing_notebook_fails_only_its_report(batch):
    out, reports = batch["out"], by_key(batch["manifest"])
    failed = reports[("rep_coaching", "R3")]
    assert failed["error"].startswith("RuntimeError: fixture failure for rep 'R3'")
    kept = nbformat.read(out / failed["failed_notebook"], as_version=4)
    assert any(o.get("output_type") == "error" for c in kept.cells for o in c.get("outputs", []))
    assert kept.metadata.papermill["parameters"]["rep_id"] == "R3"
    for (kind, _key), entry in reports.items():
        if entry["status"] == "ok":
            page = (out / entry["html"]).read_text(encoding="utf-8")
            assert page.rstrip().endswith("</html>")
            if kind == "rep_coaching":
                assert "opportunities: 1" in page  # the notebook ran to its last cell
    assert batch["cli"].stderr.count("failed: rep_coaching") == 1


@pytest.mark.slow
def test_reports_show_outputs_only_with_embedded_images_and_no_external_resources(batch):
    pages = html_files(batch["out"])
    assert len(pages) == 7  # 6 reports and the index
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "fixture-input-marker" not in text and "read_csv" not in text
        assert 'src="http' not in text and "<script" not in text.lower() and "<link" not in text.lower()
        assert "In&nbsp;[" not in text
    team = batch["out"] / by_key(batch["manifest"])[("team_overview", "Alpha")]["html"]
    assert 'src="data:image/png;base64,' in team.read_text(encoding="utf-8")


@pytest.mark.slow
def test_data_with_markup_is_escaped_everywhere(batch):
    out = batch["out"]
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    report = (out / by_key(batch["manifest"])[("rep_coaching", "a/b")]["html"]).read_text(encoding="utf-8")
    index = (out / "index.html").read_text(encoding="utf-8")
    for page in (report, index):
        assert escaped in page and HOSTILE_NAME not in page
    assert "<title>Coaching report: " + escaped in report
    assert f'<p class="rep-name">{escaped}</p>' in report  # IPython.display.HTML of an escaped string
    assert f"<td>{escaped}</td>" in report  # a DataFrame
    assert f"name: {escaped}" in report  # print()


@pytest.mark.slow
def test_hostile_rep_ids_land_inside_the_output_folder(batch):
    root, out = batch["root"], batch["out"]
    # nothing was written outside the output folder (the source is the only other thing here)
    assert files_under(root) == {"src/reps.csv", "src/opportunities.csv"} | {f"out/{p}" for p in files_under(out)}
    reports = by_key(batch["manifest"])
    for rep_id in ("../../etc/passwd", "a/b", LONG_ID):
        path = (out / reports[("rep_coaching", rep_id)]["html"]).resolve()
        assert path.parent == (out / "reps").resolve() and path.is_file()
        assert len(path.name) < 60


@pytest.mark.slow
def test_rerun_replaces_files_and_jobs_do_not_change_the_outputs(batch, tmp_path):
    # fix R3's data, then rerun a subset into (a copy of) the same folder with one
    # worker, and into a fresh folder with two: same reports, same files
    source = write_source(tmp_path / "src", [r if r[0] != "R3" else ("R3", "Carl", "East", "Alpha") for r in REPS])
    rerun, fresh = tmp_path / "rerun", tmp_path / "fresh"
    shutil.copytree(batch["out"], rerun)
    subset = ["--rep", "R3", "--team", "Alpha"]
    one = run_cli(
        source,
        "--period",
        "2026-Q1",
        "--as-of",
        "2026-04-02",
        "--out",
        rerun,
        "--notebooks",
        FIXTURE_NOTEBOOKS,
        "--jobs",
        1,
        *subset,
    )
    two = run_cli(
        source,
        "--period",
        "2026-Q1",
        "--as-of",
        "2026-04-02",
        "--out",
        fresh,
        "--notebooks",
        FIXTURE_NOTEBOOKS,
        "--jobs",
        2,
        *subset,
    )
    assert one.exit_code == two.exit_code == 0
    assert files_under(fresh) == {
        "index.html",
        "manifest.json",
        "data_quality.html",
        *(r["html"] for r in read_manifest(fresh)["reports"]),
    }
    assert len(files_under(fresh)) == 5 and not list(rerun.rglob("*.tmp"))
    # the partial rerun replaced its own reports and kept the others (R3 no longer failed)
    assert files_under(rerun) == (
        files_under(batch["out"]) - {by_key(batch["manifest"])[("rep_coaching", "R3")]["failed_notebook"]} | files_under(fresh)
    )

    def comparable(out):
        return sorted(
            (r["id"], r["status"], r["html"], json.dumps(r["parameters"], sort_keys=True), r["data_fingerprint"], r["input_key"])
            for r in read_manifest(out)["reports"]
            if not r.get("earlier_run")
        )

    assert comparable(rerun) == comparable(fresh)
    assert {r["key"] for r in read_manifest(rerun)["reports"] if r.get("earlier_run")} == {
        "R1",
        "a/b",
        "../../etc/passwd",
        LONG_ID,
    }
    assert read_manifest(fresh)["workers"] == 2 and read_manifest(rerun)["workers"] == 1
    for entry in read_manifest(fresh)["reports"]:
        assert (rerun / entry["html"]).read_bytes() == (fresh / entry["html"]).read_bytes()


@pytest.mark.slow
def test_a_hung_cell_times_out_and_its_notebook_is_kept(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.read(FIXTURE_NOTEBOOKS / "data_quality.ipynb", as_version=4)
    nb.cells.append(new_code_cell("import time\nprint('about to hang', flush=True)\ntime.sleep(60)"))
    nbformat.write(nb, notebooks / "data_quality.ipynb")
    result = run_batch(
        write_source(tmp_path / "src"),
        period="2026-Q1",
        out=tmp_path / "out",
        notebooks=notebooks,
        reps=["R1"],
        teams=["Alpha"],
        cell_timeout=3,
    )
    quality = by_key(result.manifest)[("data_quality", None)]
    assert quality["status"] == "failed" and "timed out" in quality["error"].lower()
    assert quality["seconds"] < 30
    kept = nbformat.read(tmp_path / "out" / quality["failed_notebook"], as_version=4)
    assert "reps rows: 5" in json.dumps(kept.cells[-2].outputs)  # the cells before the hang ran
    assert result.exit_code == 1 and result.counts["skipped"] == 2


def test_an_interrupted_rerun_keeps_the_pages_it_did_not_get_to(no_kernel, tmp_path, monkeypatch):
    source = write_source(tmp_path / "src")
    out = tmp_path / "out"
    run_batch(source, period="2026-Q1", as_of="2026-04-02", out=out, notebooks=FIXTURE_NOTEBOOKS)
    pages = {p for p in files_under(out) if p.endswith(".html") and p != "index.html"}

    def interrupted(job, capture):
        if job.kind == "rep_coaching":
            raise KeyboardInterrupt
        return _fake_execute(job, capture)

    monkeypatch.setattr(execute_module, "_execute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_batch(source, period="2026-Q1", as_of="2026-04-02", out=out, notebooks=FIXTURE_NOTEBOOKS, force=True)
    manifest = read_manifest(out)
    assert {p for p in files_under(out) if p.endswith(".html") and p != "index.html"} == pages
    reps = [r for r in manifest["reports"] if r["kind"] == "rep_coaching"]
    assert all(r.get("earlier_run") for r in reps if r["key"] != "R3") and manifest["counts"]["ok"] == 2
