"""Issue #16, session 11: the team-sized batch (13 reps, two teams, the data-quality,
forecast-review and training pages, ``--jobs 2``) keeps both cores busy.

The order the workers take the pages in (:func:`salesnb.run.plan.dispatch_order`): the
forecast review renders with the early pages, while the runner makes the shared tables;
then the first rep page comes second, so the template's warm-up of the rep pages (which
its request starts, and during which the template forks nothing) runs beside a team page.
"""

from __future__ import annotations

import time
from dataclasses import replace

from salesnb.run import prepare
from salesnb.run.batch import run_batch
from salesnb.run.plan import ReportJob, dispatch_order

SAMPLE = "data/sample"


def _no_warm_up() -> None:
    """A worker's warm-up that does nothing (picklable: a module-level function)."""


def _job(kind: str, key: str | None = None) -> ReportJob:
    name = key or kind
    return ReportJob(
        id=f"{kind}/{name}", kind=kind, key=key, label=name, title=name, subtitle="", notebook="nb.ipynb",
        parameters={}, out_dir="/tmp/out", html=f"{name}.html", failed_notebook=f"_failed/{name}.ipynb",
    )  # fmt: skip


def _ids(jobs) -> list[str]:
    return [job.id for job in jobs]


def test_the_forecast_review_joins_the_early_pages_and_the_first_rep_page_comes_second():
    early = [_job("data_quality"), _job("training_effect", "T")]
    rest = [_job("team_overview", "A"), _job("team_overview", "B"), _job("forecast_review")]
    reps = [_job("rep_coaching", r) for r in ("R1", "R2", "R3")]
    ordered, count = dispatch_order(early + rest + reps, 2)
    assert _ids(ordered) == [
        "data_quality/data_quality", "training_effect/T", "forecast_review/forecast_review",  # early: 3 now
        "team_overview/A", "rep_coaching/R1", "team_overview/B", "rep_coaching/R2", "rep_coaching/R3",
    ]  # fmt: skip
    assert count == 3


def test_the_order_is_left_alone_where_it_gains_nothing():
    quality, forecast, team = _job("data_quality"), _job("forecast_review"), _job("team_overview", "A")
    reps = [_job("rep_coaching", r) for r in ("R1", "R2")]
    # no early pages (the shared tables are made first): the forecast review stays where it is
    ordered, count = dispatch_order([quality, team, forecast, *reps], 0)
    assert _ids(ordered) == [
        "data_quality/data_quality",
        "rep_coaching/R1",
        "team_overview/A",
        "forecast_review/forecast_review",
        "rep_coaching/R2",
    ]
    assert count == 0
    # early pages without the data-quality page: the metrics by rep are not made before them
    training = _job("training_effect", "T")
    ordered, count = dispatch_order([training, forecast, *reps], 1)
    assert _ids(ordered)[:2] == ["training_effect/T", "forecast_review/forecast_review"] and count == 1
    # reps only, or a lone rep page the template does not warm up for: as planned
    assert _ids(dispatch_order(reps, 0)[0]) == ["rep_coaching/R1", "rep_coaching/R2"]
    lone = replace(reps[0], warm_up=False)
    assert _ids(dispatch_order([team, _job("team_overview", "B"), lone], 0)[0]) == [
        "team_overview/A",
        "team_overview/B",
        "rep_coaching/R1",
    ]


class _Recorder:
    """An executor that renders nothing: it lists the jobs in the order it is handed them."""

    workers = 2

    def __init__(self, said: list):
        self.said = said

    def warm_up(self, fn):
        pass

    def map_unordered(self, fn, jobs, *, on_error=None):
        for job in jobs:
            self.said.append(job.id)
            yield on_error(job, RuntimeError("not rendered in this test"))


def test_a_batch_hands_out_the_forecast_review_before_making_the_shared_tables(tmp_path, monkeypatch):
    said: list[str] = []
    tables = prepare.batch_tables

    def recorded_tables(*args, **kwargs):
        said.append("tables")
        return tables(*args, **kwargs)

    monkeypatch.setattr(prepare, "batch_tables", recorded_tables)
    result = run_batch(SAMPLE, period="2025", as_of="2026-01-05", out=tmp_path / "out", executor=_Recorder(said))
    kinds = [entry.split("/")[0] if entry != "tables" else entry for entry in said]
    assert kinds[:4] == ["data_quality", "training_effect", "forecast_review", "tables"]
    assert kinds[4:8] == ["team_overview", "rep_coaching", "team_overview", "rep_coaching"]
    assert kinds.count("rep_coaching") == 12 and len(kinds) == 4 + 2 + 12
    # the manifest lists the pages in the plan's order, as before
    listed = [entry["kind"] for entry in result.manifest["reports"]]
    assert listed[:5] == ["data_quality", "team_overview", "team_overview", "forecast_review", "training_effect"]
    assert result.manifest["queue"]  # the tables were made: the index has its queue


def test_the_forecast_review_asks_the_runner_for_nothing_the_early_tables_do_not_hold():
    """What lets it render early: the forecast page asks the runner's memo for the metrics
    by rep only, which the runner makes (for the data checks) before the early pages."""
    import salesnb
    from salesnb.present import pages
    from salesnb.present.tables import use_memo
    from salesnb.run import memo

    ds = salesnb.load(SAMPLE)
    ds.snapshot = True
    quality = type("Job", (), {"kind": "data_quality", "parameters": {"period": "2025", "as_of": "2026-01-05"}})()
    memo.clear()
    previous = use_memo(memo.call)
    try:
        prepare.early_tables(ds, [quality])
        made = dict(memo._MEMO)
        pages.forecast_report(ds, period="2025", as_of="2026-01-05")
        assert len(made) == 2 and dict(memo._MEMO).keys() == made.keys()  # nothing new was computed
    finally:
        use_memo(previous)
        memo.clear()


def test_the_batchs_process_waits_for_its_template_without_importing_nbclient():
    """The runner waits for its template's "ready" (:meth:`ForkingKernel.ready_within`)
    right before it makes the shared tables, on the first pages' critical path: reading
    that answer imported nbclient, nbformat and jsonschema (~0.2 s of CPU), needed only
    when a cell times out."""
    import subprocess
    import sys

    code = """
import sys
from multiprocessing import Pipe
from salesnb.run.forkserver import ForkingKernel
ours, theirs = Pipe()
kernel = ForkingKernel(address="/nowhere")
kernel.conn, kernel._starting = ours, True
theirs.send(("ready", ["pandas"]))
assert kernel.ready_within(5) is True and kernel._imported == {"pandas"}
print(sorted(name for name in ("nbclient", "nbformat", "jsonschema", "papermill") if name in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_kernel_spec_is_read_as_jupyter_client_reads_it_without_importing_it(tmp_path, monkeypatch):
    """The batch's process checks its kernel spec and reads its Python before and after
    loading the data, while its template imports: jupyter_client's import and search
    cost ~0.17 s of CPU there. The spec is found as jupyter_client finds it (a folder of
    that name in any case, first on Jupyter's path); a name it cannot find this way still
    gets jupyter_client's answer, and a missing kernel the batch's error."""
    import json
    import subprocess
    import sys

    import pytest

    from salesnb.errors import InputError
    from salesnb.run import batch
    from salesnb.run.forkserver import kernel_python

    folder = tmp_path / "kernels" / "SalesNB"  # another case than asked for
    folder.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (folder / "kernel.json").write_text(json.dumps({"argv": argv, "env": {"SALESNB_X": "1"}, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    code = """
import sys
from salesnb.run import batch
from salesnb.run.forkserver import kernel_python
batch._require_kernel("salesnb")
python, env = kernel_python("salesnb")
print(python == sys.executable, env and env["SALESNB_X"], "jupyter_client" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "1", "False"]

    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("salesnb")  # jupyter_client's own answer: the same spec
    assert spec.argv == argv and spec.env == {"SALESNB_X": "1"}
    python, env = kernel_python("salesnb")
    assert python == sys.executable and env["SALESNB_X"] == "1"
    with pytest.raises(InputError, match="no Jupyter kernel named 'no-such-kernel-here'"):
        batch._require_kernel("no-such-kernel-here")


class _NeverReady:
    """A shared template still importing."""

    def __init__(self):
        self.asked: list[float] = []

    def ready_within(self, timeout):
        self.asked.append(timeout)
        time.sleep(timeout)
        return False


def test_the_runner_makes_the_tables_once_its_workers_are_up_even_before_its_template():
    """Waiting for the template only paid while the workers' fork server imported (it
    took a core then); once a worker is up, the workers wait for the template and the
    runner's tables take the core left idle (~0.2 s sooner on the team-sized batch)."""
    from salesnb.run import batch

    template, since = _NeverReady(), time.monotonic()
    batch._template_ready(template, timeout=5, workers_up=lambda: time.monotonic() - since > 0.1)
    waited = time.monotonic() - since
    assert 0.1 <= waited < 1.0 and template.asked and max(template.asked) <= batch.WAIT_SLICE

    template, since = _NeverReady(), time.monotonic()
    batch._template_ready(template, timeout=0.2, workers_up=lambda: False)  # at most the head start, as before
    assert 0.2 <= time.monotonic() - since < 1.0


def test_a_pool_says_when_its_first_worker_is_up():
    from salesnb.run.executors import LocalExecutor

    executor = LocalExecutor(2)
    try:
        assert executor.started() is False  # no worker asked for yet
        executor.warm_up(_no_warm_up)
        deadline = time.monotonic() + 60
        while not executor.started() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert executor.started() is True
    finally:
        executor.close()
