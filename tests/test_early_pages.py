"""A batch starts the pages that need none of its shared tables before computing them.

The runner computes the tables its team and rep pages share (every rep's metrics and
diagnoses, the manager's queue) before those pages run; the data-quality and training
pages read none of them (salesnb.run.prepare.EARLY_KINDS). The runner hands those out
first and computes the tables while they render, on the core the tables leave free, then
saves the tables; the report template loads them before the next page forks.
"""

from __future__ import annotations

import json
import os
import time

from batches import FIXTURE_NOTEBOOKS, write_source

from salesnb.run import memo, prepare, template
from salesnb.run.batch import prepare_batch, run_batch
from salesnb.run.executors import LocalExecutor
from salesnb.run.prepare import EARLY_KINDS, BatchPlan

REPS = [("R1", "Ann", "North", "Alpha"), ("R2", "Bo", "South", "Alpha"), ("R3", "Cy", "North", "Beta")]


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def touch(path: str) -> str:
    """A job: leaves ``path`` behind."""
    with open(path, "w"):
        pass
    return path


class _Batch:
    """Sized jobs whose second job is taken only once the first has run (or 30 s passed)."""

    def __init__(self, folder):
        self.first, self.second = str(folder / "first"), str(folder / "second")
        self.first_had_run: bool | None = None

    def __len__(self) -> int:
        return 2

    def __iter__(self):
        yield self.first
        self.first_had_run = _wait_for(lambda: os.path.exists(self.first), 30)
        yield self.second


def test_the_pool_takes_a_sized_batchs_jobs_one_at_a_time(tmp_path):
    jobs = _Batch(tmp_path)
    with LocalExecutor(2) as executor:
        done = sorted(executor.map_unordered(touch, jobs))
    assert done == [jobs.first, jobs.second]
    assert jobs.first_had_run is True  # the first job ran before the second was even asked for


def test_a_plans_dispatch_makes_the_shared_tables_after_handing_out_its_early_jobs(tmp_path):
    said = []
    plan = BatchPlan(
        out_dir=tmp_path, header={}, jobs=[], to_run=["quality", "training", "team", "R1"],
        decided={}, kept=[], previous_files=set(), early=2,
    )  # fmt: skip
    plan.shared_tables = lambda: said.append("tables")
    jobs = plan.dispatch()
    assert len(jobs) == 4 and said == []  # sized, and nothing computed yet
    for job in jobs:
        said.append(job)
    assert said == ["quality", "training", "tables", "team", "R1"]
    assert list(jobs) == ["quality", "training", "team", "R1"] and said.count("tables") == 1  # once
    plain = BatchPlan(out_dir=tmp_path, header={}, jobs=[], to_run=["a"], decided={}, kept=[], previous_files=set())
    assert plain.dispatch() is plain.to_run


def test_the_dispatch_waits_for_the_template_after_the_early_jobs_before_the_tables(tmp_path):
    said = []
    plan = BatchPlan(
        out_dir=tmp_path, header={}, jobs=[], to_run=["quality", "training", "team"],
        decided={}, kept=[], previous_files=set(), early=2,
    )  # fmt: skip
    plan.shared_tables = lambda: said.append("tables")
    plan.before_tables = lambda: said.append("template ready")
    for job in plan.dispatch():
        said.append(job)
    assert said == ["quality", "training", "template ready", "tables", "team"]


class _SlowTemplate:
    """A shared template that says it is ready after ``after`` seconds (or never)."""

    def __init__(self, after):
        self.after, self.asked = after, []

    def ready_within(self, timeout):
        self.asked.append(timeout)
        if self.after is None or self.after > timeout:
            time.sleep(timeout)
            return False
        time.sleep(self.after)
        return True


def test_the_runner_waits_for_its_template_at_most_the_head_start():
    from salesnb.run import batch

    ready = _SlowTemplate(after=0.05)
    started = time.monotonic()
    batch._template_ready(ready)
    assert ready.asked == [batch.TEMPLATE_HEAD_START] and time.monotonic() - started < 1.0

    never = _SlowTemplate(after=None)
    started = time.monotonic()
    batch._template_ready(never, timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 1.0  # then the tables are made all the same

    class Dead:
        def ready_within(self, timeout):
            raise RuntimeError("the report template ended unexpectedly")

    batch._template_ready(Dead())  # the workers find it dead and say so: no error here


def test_the_batchs_data_is_let_go_once_the_shared_tables_are_made(tmp_path):
    """The tables' maker holds the loaded data; the runner keeps neither while the
    later pages render (at 10,000 reps that is over a gigabyte)."""
    import gc
    import weakref

    class Data:
        pass

    data = Data()
    alive = weakref.ref(data)
    plan = BatchPlan(
        out_dir=tmp_path, header={}, jobs=[], to_run=["quality", "team", "R1"],
        decided={}, kept=[], previous_files=set(), early=1,
    )  # fmt: skip
    plan.shared_tables = lambda held=data: None
    del data
    jobs = iter(plan.dispatch())
    assert next(jobs) == "quality" and alive() is not None  # not made yet: still needed
    assert next(jobs) == "team"  # the tables made, the rest handed out
    gc.collect()
    assert alive() is None


def test_a_batch_renders_its_data_quality_page_before_computing_the_shared_tables(tmp_path, monkeypatch):
    trace = tmp_path / "trace.log"  # the runner's and the template's steps (this test process's workers may be older)
    monkeypatch.setenv("SALESNB_TRACE", str(trace))
    out = tmp_path / "out"
    seen = {}
    tables = prepare.batch_tables

    def tables_after_the_first_page(*args, **kwargs):
        seen["page written first"] = _wait_for(lambda: (out / "data_quality.html").is_file(), 60)
        return tables(*args, **kwargs)

    monkeypatch.setattr(prepare, "batch_tables", tables_after_the_first_page)
    source = write_source(tmp_path / "src", REPS)
    result = run_batch(source, period="2026-Q1", out=out, notebooks=FIXTURE_NOTEBOOKS, jobs=2)

    assert seen == {"page written first": True}
    kinds = [(e["kind"], e["status"]) for e in result.manifest["reports"]]
    assert sorted(kinds) == sorted(
        [("data_quality", "ok"), ("team_overview", "ok"), ("team_overview", "ok")] + [("rep_coaching", "ok")] * 3
    )
    events = [line.split(" ", 2)[2] for line in trace.read_text(encoding="utf-8").splitlines()]
    asked = [i for i, event in enumerate(events) if event == "run asked"]  # the template, once per page
    assert len(asked) == 6 and events.index("stored early") < asked[0] < events.index("queue") < events.index("stored")
    assert events.index("stored early") < events.index("tables start") < events.index("queue")  # after its wait for the template
    assert asked[1] > events.index("stored")  # every other page waited for the saved tables
    assert events.index("memo loaded") == asked[1] + 1  # and the template read them before forking it

    # the manifest's queue is the one an unstaged plan computes
    monkeypatch.setattr(prepare, "batch_tables", tables)
    planned = prepare_batch(source, period="2026-Q1", out=tmp_path / "plan", notebooks=FIXTURE_NOTEBOOKS)
    assert planned.early == 0 and planned.shared_tables is None
    assert [row["rep_id"] for row in planned.header["queue"]] != []
    assert json.dumps(result.manifest["queue"], sort_keys=True) == json.dumps(planned.header["queue"], sort_keys=True)


def test_the_early_pages_ask_for_no_shared_table_but_the_data_checks_made_before_them(tmp_path):
    """What makes them early: the data-quality and training pages ask the runner's memo
    for nothing but the data checks (and the metrics by rep they rest on), which the
    runner makes before starting them; a team page asks for every rep's diagnoses too."""
    import salesnb
    from salesnb.present import pages
    from salesnb.present.tables import use_memo

    asked = []

    def provider(function, ds, **kwargs):
        asked.append(function.__name__)
        return function(ds, **kwargs)

    ds = salesnb.load("data/sample")
    previous = use_memo(provider)
    try:
        pages.quality_report(ds, period="2025", as_of="2026-01-05")
        pages.training_report(ds, program="Consultative Selling", period="2025", as_of="2026-01-05")
        early = set(asked)
        asked.clear()
        pages.team_report(ds, "Alpha", period="2025", as_of="2026-01-05")
    finally:
        use_memo(previous)
    assert set(EARLY_KINDS) == {"data_quality", "training_effect"}
    assert early == {"data_checks", "metrics_table"} and "rep_diagnoses" in asked

    # and the runner's early tables are those, under the keys the page asks with
    from salesnb.run import prepare as preparing

    ds = salesnb.load("data/sample")
    ds.snapshot = True
    job = type("Job", (), {"kind": "data_quality", "parameters": {"period": "2025", "as_of": "2026-01-05"}})()
    memo.clear()
    try:
        preparing.early_tables(ds, [job])
        made = len(memo._MEMO)
        use_memo(memo.call)
        asked.clear()
        pages.quality_report(ds, period="2025", as_of="2026-01-05")
        assert made == 2 and len(memo._MEMO) == 2  # the page found both: nothing new was computed
    finally:
        use_memo(previous)
        memo.clear()


def test_the_template_reads_the_batchs_tables_again_once_they_are_saved(tmp_path, monkeypatch):
    loaded, reloaded = [], []
    monkeypatch.setattr(template, "preload_cache", lambda folder: loaded.append(folder))
    monkeypatch.setattr(template, "load_memo", lambda folder: reloaded.append(folder))
    monkeypatch.setattr(template, "_freeze", lambda: None)
    folder = str(tmp_path)
    serving = template._Template(shell=None)

    def ask():
        serving.prepare({"imports": [], "env": {"SALESNB_CACHE_DIR": folder}})

    ask()  # the data-quality page: the data, no tables yet
    ask()
    assert loaded == [folder] and reloaded == []
    (tmp_path / memo.FILE).write_bytes(b"tables")
    ask()  # the first page after the tables were saved
    ask()
    assert reloaded == [folder]
    os.utime(tmp_path / memo.FILE, ns=(0, 0))  # saved again (another stamp)
    ask()
    assert loaded == [folder] and reloaded == [folder, folder]


def test_the_runner_makes_the_metrics_by_team_once_for_all_team_pages(tmp_path):
    """A batch with two team pages has the runner make their one shared table (the
    metrics by team, salesnb.present.team_page.warm_tables) with the rest, so no
    team page makes it again; a batch without team pages does not make it."""

    def made_by_team(out, **kwargs) -> bool:
        plan = prepare_batch(
            write_source(tmp_path / "src", REPS), period="2026-Q1", out=out, notebooks=FIXTURE_NOTEBOOKS, **kwargs
        )
        memo.load(plan.cache_dir)
        try:
            return any(key[0].__name__ == "metrics_table" and ("by", ("str", "team")) in key[-1] for key in memo._MEMO)
        finally:
            memo.clear()

    assert made_by_team(tmp_path / "all") is True  # teams Alpha and Beta
    assert made_by_team(tmp_path / "reps", reps=["R1", "R2"]) is False


def test_the_batchs_template_starts_before_the_kernel_spec_is_read(monkeypatch):
    """Reading the spec (jupyter_client's import and search, ~0.15 s) no longer delays the
    template, whose imports are the first page's critical path: it starts with this Python."""
    import sys

    from salesnb.run import batch, forkserver

    read, started = [], []

    class Launched:
        def __init__(self, python, env=None, listen=False):
            started.append((python, env, listen))

        def launch(self):
            pass

    monkeypatch.setattr(forkserver, "ForkingKernel", Launched)
    monkeypatch.setattr(forkserver, "kernel_python", lambda name: read.append(name) or (sys.executable, None))
    assert isinstance(batch._shared_template("salesnb"), Launched)
    assert started == [(sys.executable, None, True)] and read == []


def test_a_kernel_spec_of_another_python_gets_a_template_of_its_own(monkeypatch):
    import sys

    from salesnb.run import batch, forkserver

    class Template:
        closed = False

        def close(self):
            self.closed = True

    same = Template()
    monkeypatch.setattr(forkserver, "kernel_python", lambda name: (sys.executable, None))
    assert batch._kernel_checked(same, "salesnb") is same and not same.closed  # the usual kernel: kept

    other = Template()
    monkeypatch.setattr(forkserver, "kernel_python", lambda name: ("/opt/other/bin/python", None))
    monkeypatch.setattr(forkserver, "shared_template", lambda name: ("as the spec says", name))
    assert batch._kernel_checked(other, "salesnb") == ("as the spec says", "salesnb") and other.closed

    with_env = Template()
    monkeypatch.setattr(forkserver, "kernel_python", lambda name: (sys.executable, {"EXTRA": "1"}))
    assert batch._kernel_checked(with_env, "salesnb") == ("as the spec says", "salesnb") and with_env.closed
    assert batch._kernel_checked(None, "salesnb") is None
