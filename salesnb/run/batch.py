"""Batches of coaching reports: plan, run, index.

:func:`run_batch` is what ``salesnb report`` calls. It resolves the period
once, loads the data once (to list reps and teams, fingerprint the data
and share it with every report), plans one job per report, runs the jobs
through an :class:`~salesnb.run.executors.Executor` and writes the batch's
index and manifest::

    DIR/index.html            the manager's queue (every rep, sorted by stake,
                              linking the rep's report), failures with their
                              error, then the other pages with their status
    DIR/manifest.json         every report: parameters, notebook, output, data
                              fingerprint, input key, timestamps, seconds,
                              status, reason, error; the batch's ``queue``
                              rows and ``team_findings``
    DIR/reps/<safe>.html      one rep_coaching report per rep
    DIR/teams/<safe>.html     one team_overview report per team
    DIR/data_quality.html     one data_quality report per batch
    DIR/forecast_review.html  when the source has a forecasts table
    DIR/training/<safe>.html  one training_effect report per program, when
                              the source has a training table
    DIR/_failed/<name>.ipynb  the executed notebook of each FAILED report
    DIR/.salesnb.lock         held while a batch writes DIR (see below)

:func:`render_report` is the single place where one report is executed
(papermill, in-process API) and rendered (:mod:`salesnb.present.render`). It takes
one picklable :class:`ReportJob`, returns a plain dict and never raises: a
notebook error, a dead kernel or a timeout becomes ``status: "failed"``
with the error text, and the batch carries on. The same function runs
under the local executor, on a Dask cluster and in an Airflow task.

Speed (see benchmarks/reports.py): a job's ``engine`` is ``fork`` by
default: each worker keeps one warm template process with pandas,
matplotlib and salesnb imported (:mod:`salesnb.run.forkserver`) and every report
runs in a fresh fork of it, so a report pays neither kernel start-up nor
imports, and still starts from a namespace no other report has touched.
The batch's data is loaded once and handed to the notebooks' own
``salesnb.load`` call through :mod:`salesnb.run.cache`. ``engine="kernel"``
starts one fresh Jupyter kernel per report (slow, for notebooks that need
a real kernel). ``auto`` (the default) is ``fork`` on Linux, ``kernel``
elsewhere (``fork`` can be chosen on macOS; Windows has no ``os.fork``).

Reruns:

- **Unchanged reports are skipped.** A report whose input key (data
  fingerprint, notebook file hash, parameters and salesnb version) equals
  the key of its last good rendering, and whose page is still there, is
  not rendered again: it is listed as ``skipped`` with the reason
  ``unchanged``. ``force=True`` (``--force``) renders everything.
- **A full batch owns DIR**: a rerun replaces the index, the manifest and
  the reports, and removes the reports and failed notebooks the previous
  manifest listed that this batch did not produce (a rep who left).
- **A partial batch merges** (``--rep``/``--team``): the reports it did not
  plan stay, with their manifest entries, marked ``earlier_run``.
- Nothing else in DIR is touched.

Two batches never write one DIR at once: a batch holds an exclusive lock
on DIR/.salesnb.lock and a second one fails at once with
:class:`OutputFolderBusy`, naming the folder and the PID holding it.

Faults: every file is written atomically (:mod:`salesnb.atomic`), so a
batch killed at any point (even SIGKILL) leaves each page, the manifest
and the index either as they were or whole. The kernel drops the dead
batch's lock; the next batch removes the hidden temporary files and the
data cache the dead one left, and a rerun renders what is missing. A
folder that cannot be written (full disk, read-only, not a folder, no
permission) raises :class:`~salesnb.errors.OutputError` saying which
folder and what to do.
"""

from __future__ import annotations

import datetime as _dt
import functools
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from salesnb import atomic
from salesnb.errors import InputError
from salesnb.io.urls import mask_text, mask_url  # noqa: F401 - one masking for every output (issue #13)
from salesnb.run import quick
from salesnb.run.entries import UNCHANGED, crashed_entry, skipped_entry
from salesnb.run.execute import render_report

# The names below are this module's public face (the CLI, deploy/airflow and the tests import them
# from here), whichever room of salesnb.run holds them.
from salesnb.run.folder import (  # noqa: F401
    INDEX,
    LOCK,
    MANIFEST,
    STATE_DIR,
    OutputFolderBusy,
    batch_lock,
    cannot_write,
    check_out_dir,
    outputs_of,
    previous_manifest,
    remove_stale,
    remove_state,
)
from salesnb.run.plan import (  # noqa: F401
    CELL_TIMEOUT,
    ENGINES,
    FAILED_DIR,
    KERNEL_NAME,
    KINDS,
    START_TIMEOUT,
    ReportJob,
    default_notebooks_dir,
    dispatch_order,
    input_key,
    iso_day,
    parameter_path,
    plan_batch,
    resolve_engine,
    safe_name,
    salesnb_version,
    utc_now,
)
from salesnb.run.prepare import BatchPlan, data_fingerprint, prepare
from salesnb.run.trace import mark

__all__ = [
    "KINDS",
    "KERNEL_NAME",
    "ENGINES",
    "ReportJob",
    "BatchPlan",
    "BatchResult",
    "OutputFolderBusy",
    "BatchStopped",
    "batch_folder",
    "default_notebooks_dir",
    "safe_name",
    "input_key",
    "plan_batch",
    "prepare_batch",
    "render_report",
    "finish_batch",
    "run_batch",
]

STATUSES = ("ok", "failed", "skipped")


class BatchStopped(KeyboardInterrupt):
    """A batch stopped by Ctrl-C (SIGINT) or SIGTERM before it finished.

    ``signum`` is the signal; ``written`` the reports this batch rendered
    before it stopped (they are in the manifest and the index, the others
    keep their earlier page, if any); ``out_dir`` the folder. A rerun
    renders only what is missing."""

    def __init__(self, signum: int = 2, *, written: int = 0, out_dir: Path | None = None):
        super().__init__(signum)
        self.signum, self.written, self.out_dir = signum, written, out_dir


@dataclass
class BatchResult:
    """What a batch produced: one manifest entry per report planned, and where.

    ``reports`` are this batch's reports; the manifest also lists the
    reports a partial batch kept from earlier runs.
    """

    out_dir: Path
    reports: list[dict]
    manifest: dict

    @property
    def counts(self) -> dict[str, int]:
        return {status: sum(r["status"] == status for r in self.reports) for status in STATUSES}

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.reports if r["status"] == "failed"]

    @property
    def exit_code(self) -> int:
        """1 when any report failed, else 0."""
        return 1 if self.failed else 0

    @property
    def index_path(self) -> Path:
        return self.out_dir / INDEX

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / MANIFEST

    def summary(self) -> str:
        counts = self.counts
        total = len(self.reports)
        if self.manifest.get("nothing_changed"):
            when = str(self.manifest.get("ended", ""))[:16].replace("T", " ")
            return (
                f"{total} report{'s' if total != 1 else ''} for {self.manifest['period']['label']}: "
                f"nothing changed since the last run ({when} UTC)\n--force renders them again; index: {self.index_path}"
            )
        unchanged = sum(r.get("reason") == UNCHANGED for r in self.reports)
        kept = self.manifest.get("kept_from_earlier_runs", 0)
        return (
            f"{total} report{'s' if total != 1 else ''} for {self.manifest['period']['label']}: "
            f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped"
            + (f" ({unchanged} unchanged)" if unchanged else "")
            + (f", {kept} kept from earlier runs" if kept else "")
            + f" in {self.manifest['seconds']:.1f} s\nindex: {self.index_path}"  # its own line: a path can be long
        )


def run_batch(
    source,
    *,
    period: str,
    out,
    reps: Iterable[str] = (),
    teams: Iterable[str] = (),
    jobs: int = 1,
    as_of=None,
    mapping=None,
    expectations=None,
    notebooks=None,
    progress: bool | None = None,
    executor=None,
    cell_timeout: float | None = CELL_TIMEOUT,
    kernel_name: str = KERNEL_NAME,
    force: bool = False,
    engine: str = "auto",
    overviews: bool | None = None,
    stale_after: int = 7,
) -> BatchResult:
    """Render every report of one batch into ``out``; see the module docstring.

    ``period`` is any contract period; a relative one (``last-quarter``) is
    resolved once against ``as_of`` (default today). ``out`` may contain
    ``{period}`` and ``{as_of}``, filled with the resolved label and date
    (``reports/{period}``). ``jobs`` worker processes run the reports
    unless an ``executor`` is given (e.g. :class:`~salesnb.run.executors.DaskExecutor`).
    ``progress`` shows a progress bar on stderr (default: when stderr is a
    terminal). ``force`` renders reports whose inputs did not change.
    ``mapping`` and ``expectations``: as for :func:`salesnb.load` (default:
    the files beside the data); the reports load with the same.
    ``engine``: ``fork`` (warm template, a fresh fork per report),
    ``kernel`` (a fresh Jupyter kernel per report) or ``auto`` (fork on
    Linux). ``reps``, ``teams`` and ``overviews`` choose the reports: see
    :func:`plan_batch`. ``stale_after``: when the data's latest record lies
    more than this many days before the period's end, every page and the index
    warn (the manifest's ``stale_data``; :func:`salesnb.analysis.periods.stale_data`).

    Workers: never more than the reports to render, nor
    :data:`~salesnb.run.executors.MAX_WORKERS`; with ``jobs > 1`` the pool
    starts once the plan says how many reports there are.

    Raises :class:`~salesnb.errors.InputError` (bad period, unknown rep or
    team, no notebooks, :class:`OutputFolderBusy`) or
    :class:`~salesnb.errors.DataError` (unusable data) before any report
    runs; a report that fails does not raise: see :attr:`BatchResult.exit_code`.
    """
    from salesnb.run.executors import LocalExecutor

    as_of_day = _as_date(as_of)
    # The period is resolved (pandas is imported) here only when the folder's name needs it; else once
    # the quick check has found something to do: a bad period never wrote a manifest a rerun could match.
    resolved = _parse_period(period, as_of_day) if "{period}" in str(out) else None
    out_dir = _out_dir(out, resolved.label if resolved is not None else "", as_of_day)
    check_out_dir(out_dir, source, mapping, expectations)
    reps, teams = list(reps), list(teams)
    with batch_lock(out_dir):
        # Nothing changed since the last run into DIR: say so before loading a table or starting a worker.
        quick_state = _quick_state(source, period, as_of_day, out_dir, reps, teams, mapping, expectations, notebooks,
                                   kernel_name, cell_timeout, engine, overviews, stale_after)  # fmt: skip
        if not force and quick_state is not None and quick.nothing_changed(quick_state[1], quick_state[0], out_dir):
            return _nothing_changed(out_dir, quick_state[1], quick_state[0])
        own_executor = executor is None
        template = None  # with --jobs N: one warm template that every worker's reports fork from
        if own_executor:
            from salesnb.run.executors import worker_count

            # Workers start now, while the data loads; never more than the reports the request can mean.
            executor = LocalExecutor(worker_count(jobs, _most_reports(reps, teams, overviews, jobs)))
        started: list = []  # the shared template, once started (see start_processes)

        def start_processes() -> None:
            """The report template and the workers started: they import while the data loads."""
            if resolve_engine(engine) == "fork" and not started:
                from salesnb.run.forkengine import prestart

                started.append(_shared_template(kernel_name) if own_executor and executor.workers > 1 else None)
                executor.warm_up(functools.partial(prestart, kernel_name, started[0].address if started[0] else None))

        # A batch of named reps' pages on a large source starts them once the data is loaded: its pages wait
        # for the tables anyway, and their imports would take the core the load's second process reads on.
        later = bool(reps) and not teams and not overviews and _source_bytes(quick_state) >= LATE_START_BYTES
        try:
            if not later:
                start_processes()
            if resolved is None:  # pandas is imported here, while the template and the workers start
                resolved = _parse_period(period, as_of_day)
            plan = _prepare(
                source,
                resolved=resolved,
                as_of_day=as_of_day,
                out_dir=out_dir,
                reps=reps,
                teams=teams,
                mapping=mapping,
                expectations=expectations,
                notebooks=notebooks,
                force=force,
                kernel_name=kernel_name,
                cell_timeout=cell_timeout,
                engine=engine,
                overviews=overviews,
                stale_after=stale_after,
                quick_state=quick_state[0] if quick_state else None,
                early_pages=True,
                after_load=start_processes if later else None,
            )
            start_processes()  # if the load did not (a failed load: they were not needed)
            template = _kernel_checked(started[0] if started else None, kernel_name)
        except BaseException:
            if own_executor:
                executor.close()
            if started and started[0] is not None:
                started[0].close()
            raise
        plan.header.update(executor=type(executor).__name__, workers=getattr(executor, "workers", 1))
        plan.to_run, plan.early = dispatch_order(plan.to_run, plan.early)  # what the workers take first
        if template is not None:  # the early pages' template first: its imports are the first page's critical path
            plan.before_tables = functools.partial(_template_ready, template, workers_up=getattr(executor, "started", None))
        results: dict[str, dict] = {}
        bar = _progress_bar(len(plan.to_run), progress, executor)
        failures = 0
        try:
            for result in executor.map_unordered(render_report, plan.dispatch(), on_error=crashed_entry):
                results[result["id"]] = result
                bar.update(1)
                if result["status"] == "failed":
                    failures += 1
                    bar.set_postfix_str(f"{failures} failed")
        except KeyboardInterrupt as exc:
            plan.header.pop(quick.FIELD, None)  # pages kept from an earlier run: the next run looks again
            if own_executor:  # no worker may write once the manifest says what is there
                executor.stop()
            for job in plan.to_run:  # a report not rendered yet keeps its last page, if it has one
                if job.id not in results:
                    earlier = plan.previous.get(job.id)
                    results[job.id] = (
                        dict(earlier, earlier_run=True)
                        if earlier and earlier.get("html")
                        else skipped_entry(job, "not run: the batch was interrupted")
                    )
            finish_batch(plan, results)
            written = sum(r.get("status") == "ok" and not r.get("earlier_run") for r in results.values())
            raise BatchStopped(getattr(exc, "signum", 2), written=written, out_dir=out_dir) from None
        finally:
            bar.close()
            mark("pages done")
            if own_executor:
                executor.close()
            mark("workers closed")
            if template is not None:
                template.close()
            mark("template closed")
        done = finish_batch(plan, results)
        mark("finished")
        return done


TEMPLATE_HEAD_START = 1.5
"""At most this many seconds the runner waits for its report template before making the shared tables."""


LATE_START_BYTES = 32 << 20
"""A source from this size on (its files' bytes, as the quick check found them): a batch of
named reps' pages starts its template and workers once the data is loaded. The load reads on
both cores there (salesnb.io.parallel_read), and those pages wait for the tables anyway: on
10,000 reps the template's imports beside the load delayed "loaded" by ~0.5-1 s."""


def _source_bytes(quick_state) -> int:
    """The source's bytes as the quick check recorded them (0 when unknown: a URL)."""
    if not quick_state:
        return 0
    return sum(entry[0] for entry in quick_state[0].get("files", {}).values() if entry and entry[0] > 0)


def _most_reports(reps: list, teams: list, overviews: bool | None, jobs: int) -> int:
    """The most reports a request can mean, known before the data is read: ``--rep`` names them."""
    if reps and not teams and not overviews:
        return len(reps)
    return jobs


WAIT_SLICE = 0.01
"""Seconds between looks at the workers while the runner waits for its template."""


def _template_ready(template, timeout: float = TEMPLATE_HEAD_START, *, workers_up=None) -> None:
    """Wait until the batch's shared template has imported (at most ``timeout`` seconds):
    it, not the data, is what the first page waits for on two cores. A template that
    failed is the workers' to find out and report.

    With ``workers_up`` (the pool's :meth:`~salesnb.run.executors.LocalExecutor.started`),
    only until it says the workers have started: their fork server's imports are then
    over, the workers wait for the template, and the tables take the core it leaves idle
    (on the team-sized batch the runner was ready about 0.2 s before its template)."""
    try:
        if workers_up is None:
            template.ready_within(timeout)
            return
        deadline = time.monotonic() + timeout
        while not workers_up():
            left = deadline - time.monotonic()
            if left <= 0 or template.ready_within(min(left, WAIT_SLICE)):
                return
    except Exception:  # noqa: BLE001 - dead: the tables are made all the same
        pass


def _shared_template(kernel_name: str):
    """The batch's shared template, importing from now on; None when it cannot start.
    It starts at once with this interpreter, the kernel spec unread (the usual
    ``salesnb`` kernel runs it): the template's imports are the first page's critical
    path. :func:`_kernel_checked` then holds it to the spec."""
    from salesnb.run.forkserver import shared_template

    try:
        return shared_template(kernel_name, python=sys.executable)
    except Exception:  # noqa: BLE001 - each worker then starts its own, or the plan explains
        return None


def _kernel_checked(template, kernel_name: str):
    """``template`` if the kernel spec runs this interpreter with no environment of its
    own (read now: the plan has checked the kernel exists); else a template started as
    the spec says (the workers, pointed at the first one, then start their own)."""
    if template is None:
        return None
    from salesnb.run.forkserver import kernel_python, shared_template

    try:
        python, env = kernel_python(kernel_name)
    except Exception:  # noqa: BLE001 - no such kernel: the plan has said so
        return template
    if python == sys.executable and env is None:
        return template
    template.close()
    try:
        return shared_template(kernel_name)
    except Exception:  # noqa: BLE001 - each worker then starts its own
        return None


def batch_folder(out, *, period: str, as_of=None) -> Path:
    """The output folder a batch with these arguments writes: ``out`` with
    ``{period}`` and ``{as_of}`` filled in, absolute."""
    as_of_day = _as_date(as_of)
    return _out_dir(out, _parse_period(period, as_of_day).label, as_of_day)


def prepare_batch(
    source,
    *,
    period: str,
    out,
    reps: Iterable[str] = (),
    teams: Iterable[str] = (),
    as_of=None,
    mapping=None,
    expectations=None,
    notebooks=None,
    force: bool = False,
    cell_timeout: float | None = CELL_TIMEOUT,
    kernel_name: str = KERNEL_NAME,
    engine: str = "auto",
    overviews: bool | None = None,
    stale_after: int = 7,
) -> BatchPlan:
    """Plan a batch without running it: load the data once, store it for the
    reports, decide what to render. For schedulers that run each report as
    a task of their own (``deploy/airflow``): render ``plan.to_run`` with
    :func:`render_report`, then call :func:`finish_batch`. Takes no lock:
    the scheduler must not run two batches into one folder at once.
    """
    as_of_day = _as_date(as_of)
    resolved = _parse_period(period, as_of_day)
    out_dir = _out_dir(out, resolved.label, as_of_day)
    check_out_dir(out_dir, source, mapping, expectations)
    return _prepare(
        source,
        resolved=resolved,
        as_of_day=as_of_day,
        out_dir=out_dir,
        reps=reps,
        teams=teams,
        mapping=mapping,
        expectations=expectations,
        notebooks=notebooks,
        force=force,
        kernel_name=kernel_name,
        cell_timeout=cell_timeout,
        engine=engine,
        overviews=overviews,
        stale_after=stale_after,
    )


def _prepare(source, **kwargs) -> BatchPlan:
    """:func:`salesnb.run.prepare.prepare`, the kernel checked by this module's :func:`_require_kernel`."""
    return prepare(source, require_kernel=_require_kernel, **kwargs)


_data_fingerprint = data_fingerprint  # the name the tests and older callers use


def _quick_state(source, period, as_of_day, out_dir, reps, teams, mapping, expectations, notebooks,
                 kernel_name, cell_timeout, engine, overviews, stale_after):  # fmt: skip
    """(the inputs' state now, the previous manifest), or None when it cannot be known (a URL)."""
    notebooks_dir = Path(notebooks).resolve() if notebooks is not None else default_notebooks_dir()
    key = quick.parameters_key(
        source=parameter_path(source),
        mapping=parameter_path(mapping) if mapping is not None else None,
        expectations=parameter_path(expectations) if expectations is not None else None,
        notebooks=str(notebooks_dir),
        period=str(period),  # as written: with --as-of it resolves to one period (pandas is not imported to resolve it)
        as_of=as_of_day.isoformat(),
        reps=reps,
        teams=teams,
        overviews=overviews,
        stale_after=stale_after,
        kernel=kernel_name,
        cell_timeout=cell_timeout,
        engine=engine,
    )
    previous = previous_manifest(out_dir)
    state = quick.input_state(
        source,
        mapping=mapping,
        expectations=expectations,
        notebooks_dir=notebooks_dir,
        key=key,
        previous=previous.get(quick.FIELD),
    )
    return None if state is None else (state, previous)


def _nothing_changed(out_dir: Path, previous: dict, state: dict) -> BatchResult:
    """The last run's reports, listed as unchanged; the manifest keeps them as they
    are (only the files' new mtimes are recorded, so a touched file is hashed once)."""
    if quick.worth_recording(previous.get(quick.FIELD, {}), state):
        try:
            atomic.write_json(out_dir / MANIFEST, {**previous, quick.FIELD: state})
        except OSError:
            pass  # the next run hashes the touched files again
    reports = [quick.repeat_entry(e) for e in previous["reports"] if not e.get("earlier_run")]
    manifest = dict(previous, nothing_changed=True)
    return BatchResult(out_dir=out_dir, reports=reports, manifest=manifest)


def __getattr__(name: str):
    if name == "render_index":  # imported on use: it needs pandas, which an unchanged rerun never imports
        from salesnb.run.index import render_index

        return render_index
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def finish_batch(plan: BatchPlan, results) -> BatchResult:
    """Tidy the folder, then write the manifest and the index (in that order),
    and remove the batch's data cache. ``results`` maps job id to the entry
    :func:`render_report` returned (or is a list of such entries); a job to
    run with no result is listed as failed."""
    if not isinstance(results, dict):
        results = {r["id"]: r for r in results if isinstance(r, dict) and "id" in r}
    reports = []
    for job in plan.jobs:
        entry = plan.decided.get(job.id) or results.get(job.id)
        if entry is None:
            entry = crashed_entry(job, RuntimeError("no result came back for this report (its task or worker was lost)"))
        reports.append(entry)
    everything = reports + plan.kept
    remove_stale(plan.out_dir, plan.jobs, everything, plan.previous_files)
    ended = utc_now()
    manifest = {
        **plan.header,
        "ended": ended,
        "seconds": round(_seconds_between(plan.header["started"], ended), 3),
        "counts": {status: sum(r["status"] == status and not r.get("earlier_run") for r in reports) for status in STATUSES},
        "unchanged": sum(r.get("reason") == UNCHANGED for r in reports),
        "kept_from_earlier_runs": sum(bool(r.get("earlier_run")) for r in everything),
        "reports": everything,
    }
    from salesnb.run.outputs import check_no_symlinks

    remove_state(plan.out_dir, plan.cache_dir)  # every report has run: its space is the manifest's on a full disk
    writing = MANIFEST
    try:
        for name in (MANIFEST, INDEX):
            check_no_symlinks(plan.out_dir, name)
        atomic.write_json(plan.out_dir / MANIFEST, manifest)
        writing = INDEX
        from salesnb.run.index import render_index

        atomic.write_text(plan.out_dir / INDEX, render_index(manifest))
    except OSError as exc:
        raise cannot_write(
            exc, plan.out_dir, writing, note="; the reports written so far are kept, and the rerun renders only what is missing"
        ) from None
    finally:
        remove_state(plan.out_dir, plan.cache_dir)
    return BatchResult(out_dir=plan.out_dir, reports=reports, manifest=manifest)


def _progress_bar(total: int, progress: bool | None, executor):
    from tqdm import tqdm

    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    workers = getattr(executor, "workers", 1)
    return tqdm(
        total=total,
        unit="report",
        desc=f"reports ({workers} worker{'s' if workers != 1 else ''})",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )


# -- helpers -----------------------------------------------------------------------


def _parse_period(text: str, as_of: _dt.date):
    from salesnb.analysis.periods import parse_period

    return parse_period(text, as_of=as_of)


def _require_kernel(name: str) -> None:
    from salesnb.run.forkserver import kernel_spec

    if kernel_spec(name) is not None:  # found without importing jupyter_client (~0.17 s of CPU)
        return
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise InputError(
            f"no Jupyter kernel named {name!r}; register it with "
            f'`python -m ipykernel install --sys-prefix --name {name} --display-name "Python (salesnb)"` '
            "(or `make kernel`)"
        ) from None


def _out_dir(out, period_label: str, as_of: _dt.date) -> Path:
    from salesnb.run.outputs import fill_placeholders

    text = fill_placeholders(str(out), {"period": period_label.replace("..", "_"), "as_of": as_of.isoformat()})
    return Path(text).expanduser().resolve()


def _as_date(value) -> _dt.date:
    if value is None:
        return _dt.date.today()
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"--as-of must be a date such as 2026-03-31, not {value!r}") from None


def _seconds_between(start: str, end: str) -> float:
    try:
        return (_dt.datetime.fromisoformat(end) - _dt.datetime.fromisoformat(start)).total_seconds()
    except (TypeError, ValueError):
        return 0.0
