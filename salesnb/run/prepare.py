"""Preparing a batch: load the data once, plan its reports, compute what they share.

:func:`prepare` is the part of a batch before any report runs (``salesnb report``
through :func:`salesnb.run.batch.run_batch`, or a scheduler through
:func:`salesnb.run.batch.prepare_batch`): it loads and fingerprints the data,
plans one job per report, decides which are unchanged, computes the manager's
queue and with it every table the rep reports share (:func:`batch_tables`), and
stores the data and those tables in the batch's private cache for the reports
(:mod:`salesnb.run.cache`, :mod:`salesnb.run.memo`). Returns a :class:`BatchPlan`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from salesnb import atomic
from salesnb.errors import InputError
from salesnb.io.urls import mask_text, mask_url
from salesnb.run import memo, quick
from salesnb.run.entries import is_unchanged, skipped_entry, unchanged_entry
from salesnb.run.folder import STATE_DIR, cannot_write, outputs_of, previous_manifest, remove_state
from salesnb.run.plan import (
    KINDS,
    ReportJob,
    default_notebooks_dir,
    iso_day,
    parameter_path,
    plan_batch,
    resolve_engine,
    salesnb_version,
    utc_now,
)
from salesnb.run.trace import mark
from salesnb.run.warmup import warm_batch_tables

__all__ = [
    "BatchPlan",
    "EARLY_KINDS",
    "prepare",
    "batch_tables",
    "batch_queue",
    "load_dataset",
    "data_fingerprint",
    "store_aside",
]

#: The pages that read none of the tables the runner computes for the batch's other
#: pages (:func:`batch_tables`) but the data checks (:func:`early_tables`, a quarter of
#: them): with ``early_pages``, a batch computes those, starts these pages, and computes
#: the rest while they render (the training page compares windows of its own).
EARLY_KINDS = ("data_quality", "training_effect")


@dataclass
class BatchPlan:
    """A batch, planned: what to render, what was decided without rendering.

    ``jobs`` lists every planned report in order; ``to_run`` those to
    render now; ``decided`` the entries of the others (skipped: unchanged,
    or no notebook); ``kept`` the previous manifest's entries this (partial)
    batch keeps; ``previous_files`` the outputs the previous manifest listed.
    """

    out_dir: Path
    header: dict
    jobs: list[ReportJob]
    to_run: list[ReportJob]
    decided: dict[str, dict]
    kept: list[dict]
    previous_files: set[str]
    cache_dir: str = ""
    previous: dict[str, dict] = field(default_factory=dict, repr=False)  # last manifest's entries, by id (not saved)
    early: int = 0
    """How many of ``to_run`` (its first ones) need none of the shared tables (not saved)."""
    shared_tables: Callable[[], None] | None = field(default=None, repr=False)
    """Computes the shared tables and saves them for the later pages, once (not saved): see :meth:`dispatch`."""
    before_tables: Callable[[], None] | None = field(default=None, repr=False)
    """Called once the early jobs are taken, before :attr:`shared_tables` (not saved): the
    runner waits there for its report template to be ready, so the tables do not take the
    cores its imports (the first page's critical path) need."""

    def dispatch(self) -> Iterable[ReportJob]:
        """``to_run`` (sized) as an executor should take it, one job at a time: the first
        :attr:`early` jobs, then the shared tables computed (:attr:`shared_tables`,
        while those pages render), then the rest. Without early jobs, ``to_run``."""
        if self.shared_tables is None:
            return self.to_run
        return _Dispatch(self)

    def to_dict(self) -> dict:
        return {
            "out_dir": str(self.out_dir),
            "header": self.header,
            "jobs": [j.to_dict() for j in self.jobs],
            "to_run": [j.id for j in self.to_run],
            "decided": self.decided,
            "kept": self.kept,
            "previous_files": sorted(self.previous_files),
            "cache_dir": self.cache_dir,
        }

    @classmethod
    def from_dict(cls, data: dict) -> BatchPlan:
        jobs = [ReportJob.from_dict(j) for j in data["jobs"]]
        wanted = set(data["to_run"])
        return cls(
            out_dir=Path(data["out_dir"]),
            header=data["header"],
            jobs=jobs,
            to_run=[j for j in jobs if j.id in wanted],
            decided=data["decided"],
            kept=data["kept"],
            previous_files=set(data["previous_files"]),
            cache_dir=data.get("cache_dir", ""),
        )

    def save(self) -> Path:
        """Write the plan to DIR/.salesnb/plan.json (for a scheduler whose tasks
        run in different processes, e.g. Airflow)."""
        path = self.out_dir / STATE_DIR / "plan.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, out_dir) -> BatchPlan:
        path = Path(out_dir) / STATE_DIR / "plan.json"
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def prepare(
    source,
    *,
    resolved,
    as_of_day,
    out_dir: Path,
    reps,
    teams,
    mapping,
    notebooks,
    force,
    kernel_name,
    cell_timeout,
    engine,
    overviews=None,
    expectations=None,
    stale_after: int = 7,
    quick_state: dict | None = None,
    require_kernel=lambda name: None,
    early_pages: bool = False,
    after_load: Callable[[], None] | None = None,
) -> BatchPlan:
    """Load, plan and decide the batch; compute and store what its reports share.

    ``early_pages`` (the runner's own batches): when some pages to run need none
    of the shared tables (:data:`EARLY_KINDS`) and others do, the data is stored
    for the reports now and the plan's :meth:`BatchPlan.dispatch` computes the
    tables after handing out those pages, so they render meanwhile on the cores
    the tables leave free (the first page of a cold start comes sooner). Otherwise
    (a scheduler's plan) every table is computed and stored before this returns.
    ``after_load`` is called once the data is loaded (the runner starts its report
    template there for a batch whose pages all wait for the tables)."""
    started = utc_now()
    reps, teams = list(reps), list(teams)
    notebooks_dir = Path(notebooks).resolve() if notebooks is not None else default_notebooks_dir()
    if not notebooks_dir.is_dir():
        raise InputError(
            f"no notebooks folder at {notebooks_dir}; pass --notebooks DIR (a folder holding {', '.join(k + '.ipynb' for k in KINDS)})"
        )
    if not any((notebooks_dir / f"{kind}.ipynb").is_file() for kind in KINDS):
        raise InputError(f"{notebooks_dir} holds none of the report notebooks {', '.join(k + '.ipynb' for k in KINDS)}")
    require_kernel(kernel_name)

    mark("prepare")
    dataset = load_dataset(source, mapping, expectations)
    mark("loaded")
    if after_load is not None:
        after_load()
    if quick_state is not None:  # any other file the loader read (a mapping's file: outside the folder)
        quick.add_files(quick_state, [p for p in getattr(dataset, "inputs", []) if Path(p).is_file()])
    from salesnb.analysis.periods import last_date, require_data_in, stale_data

    require_data_in(dataset, resolved)  # a period the data does not reach: say so, render no pages of zeros
    latest = last_date(dataset)
    data_last_date = latest.date().isoformat() if latest is not None else None
    stale = stale_data(dataset, resolved, after_days=stale_after)  # an old export: every page and the index say so
    fingerprint = data_fingerprint(dataset, source, mapping)
    cache_dir = out_dir / STATE_DIR / "cache" / (fingerprint[:16] or "data")
    planned = plan_batch(
        dataset,
        source=source,
        period=resolved,
        as_of=as_of_day,
        out_dir=out_dir,
        reps=reps,
        teams=teams,
        mapping=mapping,
        expectations=expectations,
        notebooks_dir=notebooks_dir,
        data_fingerprint=fingerprint,
        kernel_name=kernel_name,
        cell_timeout=cell_timeout,
        engine=engine,
        cache_dir=cache_dir,
        overviews=overviews,
        data_last_date=data_last_date,
        warning=stale["text"] if stale else "",
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot_write(exc, out_dir) from None
    previous = previous_manifest(out_dir)
    previous_entries = {e["id"]: e for e in previous.get("reports", []) if isinstance(e, dict) and "id" in e}

    decided: dict[str, dict] = {}
    to_run: list[ReportJob] = []
    for job in planned:
        if not Path(job.notebook).is_file():
            decided[job.id] = skipped_entry(job, f"no notebook {Path(job.notebook).name} in {notebooks_dir}")
        elif not force and is_unchanged(job, previous_entries.get(job.id)):
            decided[job.id] = unchanged_entry(job, previous_entries[job.id])
        else:
            to_run.append(job)

    to_run = _warm_up_only_for_more(to_run)
    running = {job.id: job for job in to_run}
    planned = [running.get(job.id, job) for job in planned]  # the plan lists the jobs as they run
    kept: list[dict] = []
    if reps or teams:  # a partial batch: what it did not plan stays
        planned_ids = {job.id for job in planned}
        for entry in previous_entries.values():
            if entry["id"] not in planned_ids:
                kept.append(dict(entry, earlier_run=True))

    mark("planned")
    few = bool(reps) and not teams and not overviews  # --rep only: diagnose those reps, not every rep
    store = functools.partial(_store, dataset, cache_dir, out_dir, source, mapping, expectations, fingerprint)
    early = [job for job in to_run if job.kind in EARLY_KINDS] if early_pages else []
    if early and len(early) < len(to_run):
        to_run = early + [job for job in to_run if job.kind not in EARLY_KINDS]
        _mark_snapshot(dataset)
        early_tables(dataset, early)
        store(with_memo=True)
        mark("stored early")
        queue = {"queue": [], "team_findings": []}  # until the tables are made (an interrupted batch keeps these)
    else:
        early = []
        _mark_snapshot(dataset)  # before a child stores it: as the tables leave it
        aside = merge = None
        if to_run:
            reps_only = [job for job in to_run if job.kind == "rep_coaching"] if few else []
            work = functools.partial(_store_data, store)
            if reps_only:  # a --rep batch: the child makes the peers' tables too, while this process diagnoses
                _shared_first(dataset, reps_only[0])
                work = functools.partial(_data_and_peer_tables, work, dataset, cache_dir, fingerprint, reps_only[0])
            aside = store_aside(work)
            if aside is not None and reps_only:
                merge = _merger(aside, cache_dir)
                memo.made_aside(_peer_tables(), merge)
        try:
            queue = batch_tables(dataset, resolved, as_of_day, planned, to_run, everyone=not few)
        except BaseException:
            if aside is not None:
                aside.stop()  # the child ended and reaped, not left behind
            raise
        mark("queue")
        if merge is not None:  # the peers' tables the child made, for the template (if no page asked yet)
            with memo.installed():
                merge()
        if to_run:  # the reports' own salesnb.load(source, mapping) reads this
            # a --rep batch's pages read the peers' tables, not what they were made of
            leave = _ingredients() if reps_only else ()
            store(with_memo=True, data=not (aside is not None and aside()), leave=leave)
        memo.clear()
        mark("stored")
    header = {
        "salesnb_version": salesnb_version(),
        "period": {"label": resolved.label, "start": iso_day(resolved.start), "end": iso_day(resolved.end)},
        "as_of": as_of_day.isoformat(),
        "source": mask_url(parameter_path(source)),
        "mapping": parameter_path(mapping) if mapping is not None else None,
        **({"expectations": parameter_path(expectations)} if expectations is not None else {}),
        "notebooks": str(notebooks_dir),
        "data_fingerprint": fingerprint,
        "data_last_date": data_last_date,
        "stale_data": stale,
        "engine": resolve_engine(engine),
        "force": bool(force),
        "partial": bool(reps or teams),
        "executor": None,
        "workers": None,
        "started": started,
        **queue,
        **({quick.FIELD: quick_state} if quick_state is not None else {}),
    }
    plan = BatchPlan(
        out_dir=out_dir,
        header=header,
        jobs=planned,
        to_run=to_run,
        decided=decided,
        kept=kept,
        previous_files=outputs_of(previous_entries.values()),
        cache_dir=str(cache_dir),
        previous=previous_entries,
        early=len(early),
    )
    if early:

        def shared_tables() -> None:
            made = batch_tables(dataset, resolved, as_of_day, planned, to_run, everyone=not few)
            mark("queue")
            store(with_memo=True, data=False)
            memo.clear()
            mark("stored")
            plan.header.update(made)

        plan.shared_tables = shared_tables
    return plan


class _Dispatch:
    """A plan's jobs to run, the shared tables computed after its early ones are taken."""

    def __init__(self, plan: BatchPlan):
        self.plan = plan

    def __len__(self) -> int:
        return len(self.plan.to_run)

    def __iter__(self):
        plan = self.plan
        yield from plan.to_run[: plan.early]
        make, plan.shared_tables = plan.shared_tables, None
        if make is not None:
            if plan.before_tables is not None:
                plan.before_tables()
                mark("tables start")
            make()
            del make  # it holds the batch's data: released while the other pages render
        yield from plan.to_run[plan.early :]


def early_tables(dataset, early: list[ReportJob]) -> None:
    """Into the memo: the one shared table the early pages read, the data checks (and
    the period's metrics by rep they rest on), as the data-quality page declares it
    (:func:`salesnb.present.analysis_pages.warm_tables`)."""
    for job in early:
        if job.kind == "data_quality":
            with memo.installed():
                warm_batch_tables(dataset, period=job.parameters.get("period"), as_of=job.parameters.get("as_of"),
                                  modules=("salesnb.present.analysis_pages",))  # fmt: skip


def _mark_snapshot(dataset) -> None:
    """Mark ``dataset`` as the batch's snapshot (what the reports load): the memo may keep its tables."""
    try:
        dataset.snapshot = True
    except AttributeError:  # not a Dataset (a test's stand-in)
        pass


def store_aside(store: Callable[[], None]) -> Callable[[], bool] | None:
    """``store()`` (the batch's data into its cache) in a forked child while this process
    goes on (the runner's tables: the template, idle until they are done, leaves a core
    free; pickling and writing the data of a 10,000-rep source cost ~1.9 s after them).
    Returns what waits for the child and says whether it stored everything; None where
    this process cannot fork (the caller stores the data itself, as it does when the child
    did not: a folder that cannot take it is then said the usual way)."""
    import os
    import signal

    if not hasattr(os, "fork"):
        return None
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: store, then leave at once (no atexit, no buffers of the parent flushed)
        code = 1
        try:
            store()
            code = 0
        except BaseException:  # noqa: BLE001 - the parent stores again and says what is wrong
            pass
        finally:
            os._exit(code)
    status: list[bool] = []

    def done() -> bool:
        if not status:  # waited for once; then the answer kept
            try:
                _, code = os.waitpid(pid, 0)
                status.append(os.waitstatus_to_exitcode(code) == 0)
            except ChildProcessError:
                status.append(False)
        return status[0]

    def stop() -> None:
        """The child ended at once (the batch stops: its tables are not wanted), then reaped."""
        if not status:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            done()

    done.stop = stop  # type: ignore[attr-defined]
    return done


#: The peers' tables a --rep batch's child made (:func:`_data_and_peer_tables`), in the cache folder until merged.
ASIDE_FILE = "memo.aside.pickle"


def _ingredients() -> tuple:
    from salesnb.present.rep_page_tables import made_of

    return made_of()


def _shared_first(dataset, job: ReportJob) -> None:
    """Before a --rep batch forks its child: the period's metrics by rep (the diagnosis's, into
    the memo), and with them what the child's quarterly metrics rest on too (the deals labelled,
    the customer book, the close-date pushes: :mod:`salesnb.analysis.derived`), made once for both."""
    from salesnb.analysis.metrics import metrics_table
    from salesnb.analysis.periods import parse_period
    from salesnb.present.tables import batch_table

    as_of = job.parameters.get("as_of") or None
    with memo.installed():
        try:
            span = parse_period(job.parameters.get("period"), as_of=as_of)
            batch_table(metrics_table, dataset, by="rep", period=span, as_of=as_of)
        except Exception:  # noqa: BLE001 - only a head start: the tables say what is wrong
            pass
    mark("shared tables")


def _store_data(store) -> None:
    store(with_memo=False)
    mark("stored aside")


def _peer_tables() -> tuple:
    """What a --rep batch's child makes: the trend grid (the quarterly metrics: 2 s of CPU on
    10,000 reps). Value against cost and the stage figures are made in the runner, which
    would otherwise wait for the child (it also stores the data: ~1.2 s)."""
    from salesnb.present.rep_trends import trend_grid

    return (trend_grid,)


def _data_and_peer_tables(store_data, dataset, cache_dir, fingerprint, job: ReportJob) -> None:
    """In a --rep batch's forked child: the data stored, then the every-rep tables its pages read
    their peers' figures off (:func:`salesnb.present.rep_page_tables.warm_peer_tables`: no
    diagnosis needed) made and saved beside it for the runner (:data:`ASIDE_FILE`)."""
    from salesnb.present.rep_page_tables import warm_peer_tables

    store_data()
    with memo.installed():
        warm_peer_tables(dataset, period=job.parameters.get("period"), as_of=job.parameters.get("as_of"), tables=_peer_tables())
    memo.save(cache_dir, fingerprint, file=ASIDE_FILE, functions=_peer_tables())
    mark("peer tables aside")


def _merger(aside: Callable[[], bool], cache_dir: Path) -> Callable[[], None]:
    """What puts the child's peer tables into this process's memo (once): waits for the child;
    a child that failed leaves them to be made here, as any table the memo misses."""
    merged: list[bool] = []

    def merge() -> None:
        if merged:
            return
        merged.append(True)
        mark("waiting for the peer tables")
        if aside():
            memo.load(cache_dir, file=ASIDE_FILE, keep=True)
        mark("peer tables merged")
        (Path(cache_dir) / ASIDE_FILE).unlink(missing_ok=True)

    return merge


def _store(
    dataset, cache_dir, out_dir, source, mapping, expectations, fingerprint, *, with_memo: bool, data: bool = True, leave=()
) -> None:
    """Store the batch's data (``data``) and the tables computed so far (``with_memo``)
    in its private cache, for the reports; a folder that cannot take them: exit 1."""
    try:
        if data:
            from salesnb.run import cache

            cache.store(
                dataset,
                cache_dir,
                source=parameter_path(source),
                mapping=parameter_path(mapping) if mapping is not None else None,
                expectations=parameter_path(expectations) if expectations is not None else None,
            )
        if with_memo:
            memo.save(cache_dir, fingerprint, leave=leave)  # the tables just computed: the report template starts with them
    except OSError as exc:
        remove_state(out_dir, str(cache_dir))
        raise cannot_write(exc, out_dir, cache_dir.relative_to(out_dir).as_posix()) from None


def _warm_up_only_for_more(to_run: list[ReportJob]) -> list[ReportJob]:
    """The jobs, the batch's only rep report (say ``--rep R05``) marked ``warm_up=False``:
    the template's warm-up draws a rep report's charts for the forks that follow
    it, and none follows (on 10,000 reps it cost that page about 20 s)."""
    from dataclasses import replace

    reps = [job for job in to_run if job.kind == "rep_coaching"]
    if len(reps) != 1:
        return to_run
    return [replace(job, warm_up=False) if job is reps[0] else job for job in to_run]


def batch_tables(dataset, period, as_of_day, planned: list[ReportJob], to_run: list[ReportJob], *, everyone: bool = True) -> dict:
    """The manager's queue (:func:`batch_queue`), and with it every table the
    batch's rep reports share, computed here once into the memo
    (:mod:`salesnb.run.memo`) while the report template imports; the caller
    saves them beside the data for the template. Keys as the reports ask:
    ``period`` and ``as_of`` as their parameters say. ``everyone=False`` (a
    batch of named reps only) diagnoses those reps, not every rep."""

    _mark_snapshot(dataset)
    reps = [job for job in to_run if job.kind == "rep_coaching"]
    as_of = reps[0].parameters.get("as_of") if reps else as_of_day.isoformat()
    with memo.installed():
        if not everyone and all(job.kind == "rep_coaching" for job in planned):
            # a --rep batch: the tables its pages read in part are made for its reps alone
            from salesnb.present.tables import only_reps

            only_reps(dataset, [job.key for job in planned if job.kind == "rep_coaching"])
        queue = batch_queue(dataset, period, as_of, planned, everyone=everyone)
        if reps:
            job = reps[0]
            warm_batch_tables(dataset, period=job.parameters.get("period"), as_of=as_of, rep_id=job.key,
                              modules=("salesnb.present.pages",))  # fmt: skip
        teams = [job for job in to_run if job.kind == "team_overview"]
        if len(teams) > 1:  # what every team page shares and no rep page reads (the metrics by team)
            job = teams[0]
            warm_batch_tables(dataset, period=job.parameters.get("period"), as_of=job.parameters.get("as_of"),
                              modules=("salesnb.present.team_page",))  # fmt: skip
    return queue


def batch_queue(dataset, period, as_of, planned: list[ReportJob], *, everyone: bool = True) -> dict:
    """The manager's queue for the batch's reps, computed once here (the index
    shows it): ``queue`` (rows of :func:`salesnb.present.queue.manager_queue`,
    sorted by stake) and ``team_findings``. A queue that cannot be computed
    leaves the reports alone: ``queue_note`` says why."""
    from salesnb.present.queue import queue_for, queue_rows

    reps = {job.key: job.label for job in planned if job.kind == "rep_coaching"}
    if not reps:
        return {"queue": [], "team_findings": []}
    try:
        frame, findings = queue_for(dataset, period=period, as_of=as_of, rep_ids=list(reps), labels=reps, everyone=everyone)
    except Exception as exc:  # noqa: BLE001 - the queue is a summary: the reports still render and say what is wrong
        return {"queue": [], "team_findings": [], "queue_note": mask_text(f"{type(exc).__name__}: {exc}")}
    return {"queue": queue_rows(frame), "team_findings": findings}


def load_dataset(source, mapping, expectations=None):
    """Load the source once, in the parent, to list reps and teams."""
    from salesnb.io.loading import load

    return load(source, mapping=mapping, expectations=expectations)


def data_fingerprint(dataset, source, mapping) -> str:
    """The loader's fingerprint, else a sha256 over the source's files (and
    the mapping file), else over the loaded tables."""
    if getattr(dataset, "fingerprint", ""):
        return dataset.fingerprint
    digest = hashlib.sha256()
    text = str(source)
    path = Path(text).expanduser() if "://" not in text else None
    files = []
    if path is not None and path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
    elif path is not None and path.is_file():
        files = [path]
    if mapping is not None and Path(mapping).is_file():
        files.append(Path(mapping))
    if files:
        for file in files:
            digest.update(file.name.encode())
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()
    import pandas as pd

    for name in sorted(dataset.tables):
        digest.update(name.encode())
        digest.update(pd.util.hash_pandas_object(dataset.tables[name], index=False).to_numpy().tobytes())
    return digest.hexdigest()
