"""Batches of coaching reports: plan, run, index.

:func:`run_batch` is what ``salesnb report`` calls. It resolves the period
once, loads the data once (to list reps and teams, fingerprint the data
and share it with every report), plans one job per report, runs the jobs
through an :class:`~salesnb.run.executors.Executor` and writes the batch's
index and manifest::

    DIR/index.html            every report: kind, rep/team, status, note, link
    DIR/manifest.json         every report: parameters, notebook, output, data
                              fingerprint, input key, timestamps, seconds,
                              status, reason, error
    DIR/reps/<safe>.html      one rep_coaching report per rep
    DIR/teams/<safe>.html     one team_overview report per team
    DIR/data_quality.html     one data_quality report per batch
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
import errno
import functools
import hashlib
import json
import os
import re
import socket
import sys
import time
import traceback
import unicodedata
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from salesnb import atomic
from salesnb.errors import InputError, OutputError
from salesnb.io.urls import mask_text, mask_url  # one masking for every output (issue #13)

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

KERNEL_NAME = "salesnb"
CELL_TIMEOUT = 600  # seconds one notebook cell may run before the report fails
START_TIMEOUT = 60  # seconds a kernel may take to start
ENGINES = ("auto", "fork", "kernel")

# kind -> (what the index calls it, folder under DIR, the parameter naming its subject)
KINDS: dict[str, tuple[str, str | None, str | None]] = {
    "data_quality": ("Data quality", None, None),
    "team_overview": ("Team overview", "teams", "team"),
    "rep_coaching": ("Rep coaching", "reps", "rep_id"),
}
STATUSES = ("ok", "failed", "skipped")
MANIFEST = "manifest.json"
INDEX = "index.html"
FAILED_DIR = "_failed"
LOCK = ".salesnb.lock"
STATE_DIR = ".salesnb"  # DIR/.salesnb/: the batch's data cache and plan, removed when it ends
UNCHANGED = "unchanged"


class OutputFolderBusy(InputError):
    """Another batch is writing the same output folder."""


class BatchStopped(KeyboardInterrupt):
    """A batch stopped by Ctrl-C (SIGINT) or SIGTERM before it finished.

    ``signum`` is the signal; ``written`` the reports this batch rendered
    before it stopped (they are in the manifest and the index, the others
    keep their earlier page, if any); ``out_dir`` the folder. A rerun
    renders only what is missing."""

    def __init__(self, signum: int = 2, *, written: int = 0, out_dir: Path | None = None):
        super().__init__(signum)
        self.signum, self.written, self.out_dir = signum, written, out_dir


# -- jobs ----------------------------------------------------------------------

@dataclass(frozen=True)
class ReportJob:
    """Everything one worker needs to produce one report (picklable, plain data).

    Paths: ``notebook`` and ``out_dir`` are absolute; ``html`` and
    ``failed_notebook`` are relative to ``out_dir``, in POSIX form.
    ``cache_dir`` holds the batch's loaded data (:mod:`salesnb.run.cache`);
    ``input_key`` identifies everything the report is made from.
    """

    id: str  # unique in a batch and stable across runs: "rep_coaching/r01-3f2a9c1b0e"
    kind: str
    key: str | None  # the rep_id or team; None for data_quality
    label: str  # who it is about, as the index shows it: "Ann Lee (R01)", "North"
    title: str
    subtitle: str
    notebook: str
    parameters: dict
    out_dir: str
    html: str
    failed_notebook: str
    data_fingerprint: str = ""
    kernel_name: str = KERNEL_NAME
    cell_timeout: float | None = CELL_TIMEOUT
    start_timeout: float = START_TIMEOUT
    display_parameters: dict = field(default_factory=dict)  # parameters as the manifest shows them
    engine: str = "fork"
    cache_dir: str = ""
    input_key: str = ""

    def entry(self) -> dict:
        """The manifest fields that describe this report (not how it ran)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "key": self.key,
            "label": self.label,
            "title": self.title,
            "notebook": self.notebook,
            "parameters": dict(self.display_parameters or self.parameters),
            "html": self.html,
            "data_fingerprint": self.data_fingerprint,
            "input_key": self.input_key,
        }

    def to_dict(self) -> dict:
        """Plain JSON-able data (an Airflow XCom); :meth:`from_dict` reverses it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ReportJob":
        return cls(**data)


def input_key(*, data_fingerprint: str, notebook_hash: str, parameters: dict, kind: str, version: str | None = None) -> str:
    """What a report is made from, as one hash: the data's fingerprint, the
    notebook file's hash, the parameters and the salesnb version. Two runs
    with the same key render the same report."""
    fields = {
        "data": data_fingerprint,
        "notebook": notebook_hash,
        "parameters": parameters,
        "kind": kind,
        "salesnb": version if version is not None else _version(),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def safe_name(key: str) -> str:
    """A file-name stem for any rep_id or team: ``R/01`` -> ``r-01-`` + 10 hex digits.

    A readable ASCII slug (at most 40 characters of ``a-z0-9_-``) plus a
    short hash of the exact key, so the name cannot leave its folder (no
    ``/``, ``\\``, ``..``, leading dot or control character), is the same on
    every run, and two keys differing only in case, accents or punctuation
    never collide.
    """
    if not isinstance(key, str) or key == "":
        raise ValueError(f"a rep_id or team is non-empty text, not {key!r}")
    ascii_text = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9_]+", "-", ascii_text.lower()).strip("-_")[:40].strip("-_") or "x"
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug}-{digest}"


def default_notebooks_dir() -> Path:
    """The notebooks salesnb renders: ``salesnb/notebooks`` in an installed
    wheel (the build maps the repository's top-level ``notebooks/`` there),
    else the repository's own ``notebooks/`` (a clone, an editable install)."""
    from importlib import resources

    packaged = resources.files("salesnb") / "notebooks"
    if packaged.is_dir():
        return Path(str(packaged)).resolve()
    return Path(__file__).resolve().parents[2] / "notebooks"


def plan_batch(
    dataset,
    *,
    source,
    period,
    as_of: _dt.date,
    out_dir,
    reps: Iterable[str] = (),
    teams: Iterable[str] = (),
    mapping=None,
    notebooks_dir=None,
    data_fingerprint: str = "",
    kernel_name: str = KERNEL_NAME,
    cell_timeout: float | None = CELL_TIMEOUT,
    engine: str = "auto",
    cache_dir=None,
    overviews: bool | None = None,
) -> list[ReportJob]:
    """One job per report: data_quality, then one team_overview per team,
    then one rep_coaching per rep, for the reps/teams asked for (all in
    ``dataset.reps`` when none are).

    What is planned: nothing asked, every report; ``reps`` only, those reps'
    coaching reports and nothing else (a 10,000-rep source renders one page
    for ``--rep R01``); ``teams``, the data quality page and those teams'
    overviews (plus ``reps``, or every rep when none are named).
    ``overviews=True`` (``--all``) adds the data quality page and every
    team's overview to a ``reps`` batch.

    Each job carries its ``input_key`` (see :func:`input_key`), the
    ``engine`` that runs it (``fork``, ``kernel``; ``auto`` is ``fork``
    where the platform can fork) and the batch's data ``cache_dir``.
    Raises :class:`InputError` naming any rep or team not in the data.
    ``period`` is a resolved :class:`~salesnb.analysis.periods.Period`.
    """
    out_dir = Path(out_dir).resolve()
    notebooks = Path(notebooks_dir).resolve() if notebooks_dir is not None else default_notebooks_dir()
    roster = _roster(dataset)
    reps, teams = [str(r) for r in reps], [str(t) for t in teams]
    if overviews is None:
        overviews = bool(teams) or not reps
    chosen_reps = _choose_reps(roster, reps, dataset)
    chosen_teams = _choose_teams(roster, teams) if overviews else []

    common = {
        "source": _parameter_path(source),
        "mapping": _parameter_path(mapping) if mapping is not None else None,
        "period": period.label,
        "as_of": as_of.isoformat(),
    }
    shown = dict(common, source=mask_url(common["source"]))
    subtitle = f"{period.label} ({_day(period.start)} to {_day(period.end)}), as of {as_of.isoformat()}"
    engine = _engine(engine)
    notebook_hashes: dict[str, str] = {}

    def job(kind: str, key: str | None, label: str, title: str) -> ReportJob:
        _, folder, parameter = KINDS[kind]
        stem = safe_name(key) if key is not None else kind
        extra = {parameter: key} if parameter else {}
        notebook = notebooks / f"{kind}.ipynb"
        if kind not in notebook_hashes:
            notebook_hashes[kind] = _file_hash(notebook)
        return ReportJob(
            id=f"{kind}/{stem}",
            kind=kind,
            key=key,
            label=label,
            title=title,
            subtitle=subtitle,
            notebook=str(notebook),
            parameters={**common, **extra},
            display_parameters={**shown, **extra},
            out_dir=str(out_dir),
            html=f"{folder}/{stem}.html" if folder else f"{stem}.html",
            failed_notebook=f"{FAILED_DIR}/{kind}-{stem}.ipynb" if key is not None else f"{FAILED_DIR}/{kind}.ipynb",
            data_fingerprint=data_fingerprint,
            kernel_name=kernel_name,
            cell_timeout=cell_timeout,
            engine=engine,
            cache_dir=str(cache_dir) if cache_dir else "",
            input_key=input_key(data_fingerprint=data_fingerprint, notebook_hash=notebook_hashes[kind],
                                parameters={**common, **extra}, kind=kind),
        )

    jobs = [job("data_quality", None, "all reps", f"Data quality, {period.label}")] if overviews else []
    jobs += [job("team_overview", team, team, f"Team overview: {team}, {period.label}") for team in chosen_teams]
    for rep_id in chosen_reps:
        name = roster["names"].get(rep_id) or ""
        label = f"{name} ({rep_id})" if name and name != rep_id else rep_id
        jobs.append(job("rep_coaching", rep_id, label, f"Coaching report: {label}, {period.label}"))
    _check_unique_outputs(jobs)
    return jobs


def _roster(dataset) -> dict:
    reps = dataset.reps
    if reps is None or "rep_id" not in reps.columns:
        raise InputError("the data source has no reps table, so there is no rep to report on")
    rep_ids: list[str] = []
    names: dict[str, str] = {}
    teams: dict[str, str] = {}  # casefolded -> as first written (teams match case-insensitively)
    for row in reps.itertuples(index=False):
        rep_id = getattr(row, "rep_id", None)
        if not _text(rep_id) or str(rep_id) in names:  # IDs are kept exactly as the data has them
            continue
        rep_id = str(rep_id)
        rep_ids.append(rep_id)
        names[rep_id] = _text(getattr(row, "name", None))
        team = _text(getattr(row, "team", None))
        if team:
            teams.setdefault(team.casefold(), team)
    return {"rep_ids": rep_ids, "names": names, "teams": sorted(teams.values(), key=str.casefold)}


def _choose_reps(roster: dict, wanted: Iterable[str], dataset=None) -> list[str]:
    from salesnb.analysis.diagnosis import set_aside_rep

    wanted = [str(w).strip() for w in wanted]
    if not wanted:
        return list(roster["rep_ids"])
    known = set(roster["rep_ids"])
    unknown = [w for w in wanted if w not in known]
    for rep in unknown:
        aside = set_aside_rep(dataset, rep) if dataset is not None else None
        if aside is not None:
            raise InputError(aside)
    if unknown:
        raise InputError(
            f"no rep {_names(unknown)} in the reps table (rep_id is matched exactly); "
            f"known reps: {_names(roster['rep_ids'], limit=12)}"
        )
    return list(dict.fromkeys(wanted))


def _choose_teams(roster: dict, wanted: Iterable[str]) -> list[str]:
    wanted = [str(w).strip() for w in wanted]
    if not wanted:
        return list(roster["teams"])
    by_folded = {t.casefold(): t for t in roster["teams"]}
    unknown = [w for w in wanted if w.casefold() not in by_folded]
    if unknown:
        known = _names(roster["teams"], limit=12) if roster["teams"] else "none (the reps table has no team column values)"
        raise InputError(f"no team {_names(unknown)} in the reps table; known teams: {known}")
    return list(dict.fromkeys(by_folded[w.casefold()] for w in wanted))


def _check_unique_outputs(jobs: list[ReportJob]) -> None:
    seen: dict[str, ReportJob] = {}
    for job in jobs:
        clash = seen.get(job.html.casefold())
        if clash is not None:  # a 40-bit hash clash: astronomically unlikely, but never overwrite silently
            raise InputError(f"{job.kind} {job.key!r} and {clash.kind} {clash.key!r} map to the same file {job.html}")
        seen[job.html.casefold()] = job


# -- running one report --------------------------------------------------------

def render_report(job: ReportJob) -> dict:
    """Execute ``job``'s notebook with papermill and render it to HTML.

    Returns the report's manifest entry: the job's description plus
    ``status`` (``ok`` or ``failed``), ``error`` (None, or one line saying
    what went wrong), ``error_detail`` (the traceback, for debugging),
    ``failed_notebook`` (where the executed notebook of a failed report was
    kept, relative to the output folder), ``started``, ``ended`` (UTC, ISO
    8601), ``rendered_at`` (when the page was written), ``seconds``,
    ``engine`` and ``worker`` (host:pid). Never raises for a failing report.
    """
    started = _now()
    clock = time.perf_counter()
    out_dir = Path(job.out_dir)
    capture = f"{_MemoryNotebooks.SCHEME}{uuid.uuid4().hex}.ipynb"
    result = dict(job.entry(), status="ok", reason=None, error=None, error_detail=None, failed_notebook=None)
    try:
        nb = _execute(job, capture)
        from salesnb.present import render

        page = render.notebook_to_html(nb, title=job.title, subtitle=job.subtitle)
        del nb
        from salesnb.run.outputs import check_no_symlinks

        target = check_no_symlinks(out_dir, job.html)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            check_no_symlinks(out_dir, job.html)  # the folder just made (or found) is still no link
            atomic.write_text(target, page)
        except OSError as exc:
            raise _cannot_write(exc, out_dir, job.html) from exc
    except Exception as exc:
        result.update(status="failed", html=None, **_describe(exc))
        try:
            result["failed_notebook"] = _keep_failed(job, capture)
        except Exception as keep_exc:  # e.g. a full disk: say so, do not hide the first error
            result["error"] += f" (and the executed notebook could not be kept: {keep_exc})"
    finally:
        _memory_notebooks().saved.pop(capture, None)
    ended = _now()
    result.update(started=started, ended=ended, rendered_at=ended if result["status"] == "ok" else None,
                  seconds=round(time.perf_counter() - clock, 3), engine=job.engine, worker=_worker())
    return result


class _MemoryNotebooks:
    """A papermill I/O handler that keeps "written" notebooks in memory.

    Papermill saves the notebook (after every cell with the ``kernel``
    engine, and before raising on an error); saving to memory costs no disk
    write for the reports that succeed and leaves the partly executed
    notebook at hand when one fails, even when the kernel died or a cell
    timed out.
    """

    SCHEME = "salesnb-memory://"

    def __init__(self):
        self.saved: dict[str, str] = {}

    def read(self, path):
        return self.saved[path]

    def write(self, buf, path):
        self.saved[path] = buf

    def listdir(self, path):
        return []

    def pretty_path(self, path):
        return path


@functools.lru_cache(maxsize=1)
def _memory_notebooks() -> _MemoryNotebooks:
    from papermill.iorw import papermill_io

    handler = _MemoryNotebooks()
    papermill_io.register(_MemoryNotebooks.SCHEME, handler)
    return handler


def _execute(job: ReportJob, capture: str):
    """Run the notebook through papermill with the job's engine; the executed
    notebook (partly executed, on failure) is left in ``capture``."""
    import papermill

    from salesnb.run.cache import ENV as CACHE_ENV
    from salesnb.run.forkserver import PREWARM_ENV

    _memory_notebooks()
    notebook = Path(job.notebook)
    env = {CACHE_ENV: job.cache_dir} if job.cache_dir else {}
    if job.cache_dir:
        # the warm template computes the batch-wide tables once before it forks (kernels._prewarm),
        # whichever report of the batch comes first; a rep report names its rep
        import json

        env[PREWARM_ENV] = json.dumps({k: job.parameters.get(k) for k in ("source", "mapping", "period", "as_of")}
                                      | ({"rep_id": job.key} if job.kind == "rep_coaching" else {}), sort_keys=True)
    common = dict(parameters=dict(job.parameters), kernel_name=job.kernel_name, progress_bar=False,
                  start_timeout=job.start_timeout, execution_timeout=job.cell_timeout)
    if job.engine == "fork":
        from salesnb.run import forkserver as kernels

        kernels.register_engine()
        try:
            # No save after every cell (it costs more than a small cell): the
            # engine hands over the partly run notebook if the run breaks off.
            return papermill.execute_notebook(
                str(notebook), capture, engine_name=kernels.ENGINE_NAME, request_save_on_cell_execute=False,
                kernel_cwd=str(notebook.parent), kernel_env=env, **common)
        except Exception as exc:
            partial = getattr(exc, "notebook", None)
            if partial is not None and capture not in _memory_notebooks().saved:
                import nbformat

                _memory_notebooks().saved[capture] = nbformat.writes(partial)
            raise
    with _environment(env):  # a new kernel inherits this process's environment
        return papermill.execute_notebook(
            str(notebook), capture, request_save_on_cell_execute=True, cwd=str(notebook.parent),
            # The kernel's own start-up warnings would interleave with the progress
            # bar; the notebook's outputs are unaffected.
            extra_arguments=["--IPKernelApp.log_level=ERROR"], **common)


@contextmanager
def _environment(values: dict):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _keep_failed(job: ReportJob, capture: str) -> str | None:
    """Write the partly executed notebook to ``_failed/``, a database URL's
    password masked (papermill wrote the parameters into it)."""
    saved = _memory_notebooks().saved.get(capture)
    if saved is None:  # it failed before papermill saved anything (unreadable notebook, no kernel...)
        return None
    from salesnb.run.outputs import check_no_symlinks

    target = check_no_symlinks(Path(job.out_dir), job.failed_notebook)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(target, mask_text(saved))
    except OSError as exc:
        raise _cannot_write(exc, Path(job.out_dir), job.failed_notebook) from exc
    return job.failed_notebook


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _describe(exc: BaseException) -> dict:
    """``error``: one line a manager can read; ``error_detail``: the traceback."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        where = f" (cell {exc.exec_count})" if exc.exec_count is not None else ""
        error = f"{exc.ename}: {_ANSI.sub('', str(exc.evalue))}{where}"
        detail = _ANSI.sub("", "\n".join(exc.traceback or []))
    else:
        name = type(exc).__name__
        text = _ANSI.sub("", str(exc)).strip()
        if name == "DeadKernelError":
            text = f"the kernel died ({text or 'no message'}); out of memory, or a crash in native code?"
        elif name == "NoSuchKernel":
            text += f"; register it with `python -m ipykernel install --sys-prefix --name {KERNEL_NAME}` (make kernel)"
        error = f"{name}: {text}" if text else name
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    error, detail = mask_text(" ".join(error.split())), mask_text(detail)
    if len(error) > 500:
        error = error[:497] + "..."
    return {"error": error, "error_detail": detail[-20000:]}


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# -- running a batch -------------------------------------------------------------

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

    def to_dict(self) -> dict:
        return {
            "out_dir": str(self.out_dir), "header": self.header, "jobs": [j.to_dict() for j in self.jobs],
            "to_run": [j.id for j in self.to_run], "decided": self.decided, "kept": self.kept,
            "previous_files": sorted(self.previous_files), "cache_dir": self.cache_dir,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "BatchPlan":
        jobs = [ReportJob.from_dict(j) for j in data["jobs"]]
        wanted = set(data["to_run"])
        return cls(out_dir=Path(data["out_dir"]), header=data["header"], jobs=jobs,
                   to_run=[j for j in jobs if j.id in wanted], decided=data["decided"], kept=data["kept"],
                   previous_files=set(data["previous_files"]), cache_dir=data.get("cache_dir", ""))

    def save(self) -> Path:
        """Write the plan to DIR/.salesnb/plan.json (for a scheduler whose tasks
        run in different processes, e.g. Airflow)."""
        path = self.out_dir / STATE_DIR / "plan.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, out_dir) -> "BatchPlan":
        path = Path(out_dir) / STATE_DIR / "plan.json"
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


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
        unchanged = sum(r.get("reason") == UNCHANGED for r in self.reports)
        kept = self.manifest.get("kept_from_earlier_runs", 0)
        return (
            f"{total} report{'s' if total != 1 else ''} for {self.manifest['period']['label']}: "
            f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped"
            + (f" ({unchanged} unchanged)" if unchanged else "")
            + (f", {kept} kept from earlier runs" if kept else "")
            + f" in {self.manifest['seconds']:.1f} s; index: {self.index_path}"
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
    notebooks=None,
    progress: bool | None = None,
    executor=None,
    cell_timeout: float | None = CELL_TIMEOUT,
    kernel_name: str = KERNEL_NAME,
    force: bool = False,
    engine: str = "auto",
    overviews: bool | None = None,
) -> BatchResult:
    """Render every report of one batch into ``out``; see the module docstring.

    ``period`` is any contract period; a relative one (``last-quarter``) is
    resolved once against ``as_of`` (default today). ``out`` may contain
    ``{period}`` and ``{as_of}``, filled with the resolved label and date
    (``reports/{period}``). ``jobs`` worker processes run the reports
    unless an ``executor`` is given (e.g. :class:`~salesnb.run.executors.DaskExecutor`).
    ``progress`` shows a progress bar on stderr (default: when stderr is a
    terminal). ``force`` renders reports whose inputs did not change.
    ``engine``: ``fork`` (warm template, a fresh fork per report),
    ``kernel`` (a fresh Jupyter kernel per report) or ``auto`` (fork on
    Linux). ``reps``, ``teams`` and ``overviews`` choose the reports: see
    :func:`plan_batch`.

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
    resolved = _parse_period(period, as_of_day)
    out_dir = _out_dir(out, resolved.label, as_of_day)
    _check_out_dir(out_dir, source, mapping)
    with _batch_lock(out_dir):
        own_executor = executor is None
        # One worker: it is this process, warmed while the data loads. More: the pool waits for the
        # plan, so it never starts more workers than there are reports to render.
        early = executor if executor is not None else (LocalExecutor(1) if jobs == 1 else None)
        try:
            if early is not None and _engine(engine) == "fork":  # the report template imports while the data loads
                from salesnb.run.forkserver import prestart

                early.warm_up(functools.partial(prestart, kernel_name))
            plan = _prepare(source, resolved=resolved, as_of_day=as_of_day, out_dir=out_dir, reps=reps, teams=teams,
                            mapping=mapping, notebooks=notebooks, force=force, kernel_name=kernel_name,
                            cell_timeout=cell_timeout, engine=engine, overviews=overviews)
            if early is None:
                from salesnb.run.executors import worker_count

                executor = LocalExecutor(worker_count(jobs, len(plan.to_run)))
                if _engine(engine) == "fork" and executor.workers > 1:
                    from salesnb.run.forkserver import prestart

                    executor.warm_up(functools.partial(prestart, kernel_name))
            else:
                executor = early
        except BaseException:
            if own_executor and early is not None:
                early.close()
            raise
        plan.header.update(executor=type(executor).__name__, workers=getattr(executor, "workers", 1))
        results: dict[str, dict] = {}
        bar = _progress_bar(len(plan.to_run), progress, executor)
        failures = 0
        try:
            for result in executor.map_unordered(render_report, plan.to_run, on_error=_crashed):
                results[result["id"]] = result
                bar.update(1)
                if result["status"] == "failed":
                    failures += 1
                    bar.set_postfix_str(f"{failures} failed")
        except KeyboardInterrupt as exc:
            if own_executor:  # no worker may write once the manifest says what is there
                executor.stop()
            for job in plan.to_run:  # a report not rendered yet keeps its last page, if it has one
                if job.id not in results:
                    earlier = plan.previous.get(job.id)
                    results[job.id] = (dict(earlier, earlier_run=True) if earlier and earlier.get("html")
                                       else _skipped(job, "not run: the batch was interrupted"))
            finish_batch(plan, results)
            written = sum(r.get("status") == "ok" and not r.get("earlier_run") for r in results.values())
            raise BatchStopped(getattr(exc, "signum", 2), written=written, out_dir=out_dir) from None
        finally:
            bar.close()
            if own_executor:
                executor.close()
        return finish_batch(plan, results)


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
    notebooks=None,
    force: bool = False,
    cell_timeout: float | None = CELL_TIMEOUT,
    kernel_name: str = KERNEL_NAME,
    engine: str = "auto",
    overviews: bool | None = None,
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
    _check_out_dir(out_dir, source, mapping)
    return _prepare(source, resolved=resolved, as_of_day=as_of_day, out_dir=out_dir, reps=reps, teams=teams,
                    mapping=mapping, notebooks=notebooks, force=force, kernel_name=kernel_name,
                    cell_timeout=cell_timeout, engine=engine, overviews=overviews)


def _prepare(source, *, resolved, as_of_day, out_dir: Path, reps, teams, mapping, notebooks, force, kernel_name,
             cell_timeout, engine, overviews=None) -> BatchPlan:
    started = _now()
    reps, teams = list(reps), list(teams)
    notebooks_dir = Path(notebooks).resolve() if notebooks is not None else default_notebooks_dir()
    if not notebooks_dir.is_dir():
        raise InputError(f"no notebooks folder at {notebooks_dir}; pass --notebooks DIR (a folder holding {', '.join(k + '.ipynb' for k in KINDS)})")
    if not any((notebooks_dir / f"{kind}.ipynb").is_file() for kind in KINDS):
        raise InputError(f"{notebooks_dir} holds none of the report notebooks {', '.join(k + '.ipynb' for k in KINDS)}")
    _require_kernel(kernel_name)

    dataset = _load_dataset(source, mapping)
    from salesnb.analysis.periods import require_data_in

    require_data_in(dataset, resolved)  # a period the data does not reach: say so, render no pages of zeros
    fingerprint = _data_fingerprint(dataset, source, mapping)
    cache_dir = out_dir / STATE_DIR / "cache" / (fingerprint[:16] or "data")
    planned = plan_batch(
        dataset, source=source, period=resolved, as_of=as_of_day, out_dir=out_dir, reps=reps, teams=teams,
        mapping=mapping, notebooks_dir=notebooks_dir, data_fingerprint=fingerprint,
        kernel_name=kernel_name, cell_timeout=cell_timeout, engine=engine, cache_dir=cache_dir, overviews=overviews,
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_write(exc, out_dir) from None
    previous = _previous_manifest(out_dir)
    previous_entries = {e["id"]: e for e in previous.get("reports", []) if isinstance(e, dict) and "id" in e}

    decided: dict[str, dict] = {}
    to_run: list[ReportJob] = []
    for job in planned:
        if not Path(job.notebook).is_file():
            decided[job.id] = _skipped(job, f"no notebook {Path(job.notebook).name} in {notebooks_dir}")
        elif not force and _unchanged(job, previous_entries.get(job.id)):
            decided[job.id] = _unchanged_entry(job, previous_entries[job.id])
        else:
            to_run.append(job)

    kept: list[dict] = []
    if reps or teams:  # a partial batch: what it did not plan stays
        planned_ids = {job.id for job in planned}
        for entry in previous_entries.values():
            if entry["id"] not in planned_ids:
                kept.append(dict(entry, earlier_run=True))

    if to_run:  # the reports' own salesnb.load(source, mapping) reads this
        from salesnb.run import cache

        try:
            cache.store(dataset, cache_dir, source=_parameter_path(source),
                        mapping=_parameter_path(mapping) if mapping is not None else None)
        except OSError as exc:
            _remove_state(out_dir, str(cache_dir))
            raise _cannot_write(exc, out_dir, cache_dir.relative_to(out_dir).as_posix()) from None
    del dataset

    header = {
        "salesnb_version": _version(),
        "period": {"label": resolved.label, "start": _day(resolved.start), "end": _day(resolved.end)},
        "as_of": as_of_day.isoformat(),
        "source": mask_url(_parameter_path(source)),
        "mapping": _parameter_path(mapping) if mapping is not None else None,
        "notebooks": str(notebooks_dir),
        "data_fingerprint": fingerprint,
        "engine": _engine(engine),
        "force": bool(force),
        "partial": bool(reps or teams),
        "executor": None,
        "workers": None,
        "started": started,
    }
    return BatchPlan(out_dir=out_dir, header=header, jobs=planned, to_run=to_run, decided=decided, kept=kept,
                     previous_files=_outputs_of(previous_entries.values()), cache_dir=str(cache_dir),
                     previous=previous_entries)


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
            entry = _crashed(job, RuntimeError("no result came back for this report (its task or worker was lost)"))
        reports.append(entry)
    everything = reports + plan.kept
    _remove_stale(plan.out_dir, plan.jobs, everything, plan.previous_files)
    ended = _now()
    manifest = {
        **plan.header,
        "ended": ended,
        "seconds": round(_seconds_between(plan.header["started"], ended), 3),
        "counts": {status: sum(r["status"] == status and not r.get("earlier_run") for r in reports)
                   for status in STATUSES},
        "unchanged": sum(r.get("reason") == UNCHANGED for r in reports),
        "kept_from_earlier_runs": sum(bool(r.get("earlier_run")) for r in everything),
        "reports": everything,
    }
    from salesnb.run.outputs import check_no_symlinks

    writing = MANIFEST
    try:
        for name in (MANIFEST, INDEX):
            check_no_symlinks(plan.out_dir, name)
        atomic.write_json(plan.out_dir / MANIFEST, manifest)
        writing = INDEX
        atomic.write_text(plan.out_dir / INDEX, render_index(manifest))
    except OSError as exc:
        raise _cannot_write(exc, plan.out_dir, writing, note="; the reports written so far are kept, and "
                            "the rerun renders only what is missing") from None
    finally:
        _remove_state(plan.out_dir, plan.cache_dir)
    return BatchResult(out_dir=plan.out_dir, reports=reports, manifest=manifest)


def _unchanged(job: ReportJob, previous: dict | None) -> bool:
    """The last rendering of this report had the same inputs, and its page is there."""
    if not previous or not job.input_key or previous.get("input_key") != job.input_key:
        return False
    rendered = previous.get("status") == "ok" or (
        previous.get("status") == "skipped" and previous.get("reason") == UNCHANGED)
    html = previous.get("html")
    return rendered and isinstance(html, str) and html == job.html and (Path(job.out_dir) / html).is_file()


def _unchanged_entry(job: ReportJob, previous: dict) -> dict:
    now = _now()
    entry = {k: v for k, v in previous.items() if k != "earlier_run"}
    entry.update(job.entry(), status="skipped", reason=UNCHANGED, error=None, error_detail=None,
                 failed_notebook=None, started=now, ended=now, seconds=0.0,
                 rendered_at=previous.get("rendered_at") or previous.get("ended"))
    return entry


def _skipped(job: ReportJob, reason: str) -> dict:
    now = _now()
    return dict(job.entry(), html=None, status="skipped", reason=reason, error=None, error_detail=None,
                failed_notebook=None, started=now, ended=now, rendered_at=None, seconds=0.0)


def _crashed(job: ReportJob, exc: BaseException) -> dict:
    """The entry for a job whose worker died before it could answer."""
    now = _now()
    return dict(job.entry(), html=None, status="failed", reason=None, **_describe(exc), failed_notebook=None,
                started=now, ended=now, rendered_at=None, seconds=0.0, engine=job.engine, worker=None)


def _progress_bar(total: int, progress: bool | None, executor):
    from tqdm import tqdm

    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    workers = getattr(executor, "workers", 1)
    return tqdm(total=total, unit="report", desc=f"reports ({workers} worker{'s' if workers != 1 else ''})",
                file=sys.stderr, disable=not progress, dynamic_ncols=True)


def _previous_manifest(out_dir: Path) -> dict:
    try:
        previous = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(previous, dict) or not isinstance(previous.get("reports"), list):
        return {}
    return previous


def _outputs_of(entries: Iterable[dict]) -> set[str]:
    return {p for e in entries for p in (e.get("html"), e.get("failed_notebook")) if isinstance(p, str)}


def _remove_stale(out_dir: Path, planned: list[ReportJob], reports: list[dict], previous: set[str]) -> None:
    """Remove what this batch did not produce or keep but an earlier one did:
    reports listed in the previous manifest, and the old HTML of a report
    that failed or was skipped now (a stale page must not pass for this
    batch's)."""
    produced = _outputs_of(reports)
    candidates = set(previous) | {j.html for j in planned} | {j.failed_notebook for j in planned}
    root = out_dir.resolve()
    for relative in candidates - produced:
        path = (root / relative).resolve()
        if path.suffix not in (".html", ".ipynb") or root not in path.parents or path.name in (INDEX,):
            continue  # only our own outputs, only inside DIR
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
    failed_dir = root / FAILED_DIR
    if failed_dir.is_dir() and not any(failed_dir.iterdir()):
        failed_dir.rmdir()


def _remove_state(out_dir: Path, cache_dir: str) -> None:
    """The data cache and plan are for the batch's own reports: gone when it ends."""
    from salesnb.run import cache

    try:
        if cache_dir:
            cache.clear(cache_dir)
        state = out_dir / STATE_DIR
        (state / "plan.json").unlink(missing_ok=True)
        for folder in (state / "cache", state):
            folder.rmdir()
    except OSError:
        pass  # not empty, or cannot be removed now: the next batch removes what is left


# What a batch writes directly in DIR: none of these may be a symlink (it would carry writes out of DIR).
_OWN_NAMES = (LOCK, STATE_DIR, MANIFEST, INDEX, FAILED_DIR, "data_quality.html",
              *(folder for _, folder, _ in KINDS.values() if folder))


def _check_out_dir(out_dir: Path, source, mapping) -> None:
    """Refuse an output folder salesnb must not write (see :mod:`salesnb.run.outputs`):
    an input, ``/``, home, a folder of someone else's files, a planted symlink."""
    from salesnb.run.outputs import check_no_symlinks, check_output_folder, source_inputs

    check_output_folder(out_dir, inputs=source_inputs(source, mapping=mapping), manifest=MANIFEST)
    if out_dir.is_dir():
        for name in _OWN_NAMES:
            check_no_symlinks(out_dir, name)


@contextmanager
def _batch_lock(out_dir: Path):
    """Hold DIR/.salesnb.lock (flock, exclusive) for the batch, or fail at once.

    The kernel releases the lock of a process that dies, however it dies, so
    a killed batch never blocks the next one; the PID in the file only names
    the holder in the message. Taking the lock, a batch removes what a killed
    one may have left (:func:`_tidy_after_killed_batch`).
    """
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_write(exc, out_dir) from None
    try:
        import fcntl
    except ImportError:  # no flock (Windows): no protection against a second batch
        yield
        return
    path = out_dir / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        raise _cannot_write(exc, out_dir, LOCK) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = _lock_holder(fd)
        os.close(fd)
        raise OutputFolderBusy(
            f"another salesnb report batch (PID {holder}) is writing to {out_dir}; "
            f"wait for it to finish, or write to another --out folder (lock: {path})"
        ) from None
    try:
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        except OSError as exc:
            raise _cannot_write(exc, out_dir, LOCK) from None
        _tidy_after_killed_batch(out_dir)
        yield
    finally:
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        if created:  # a batch refused before writing anything leaves no folder behind
            _remove_if_only_lock(out_dir, path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _remove_if_only_lock(out_dir: Path, lock: Path) -> None:
    """Remove a folder this batch created when all it holds is the lock
    (the batch stopped on bad input before writing a report)."""
    try:
        if [entry.name for entry in out_dir.iterdir()] == [lock.name]:
            lock.unlink()
            out_dir.rmdir()
    except OSError:
        pass


def _lock_holder(fd: int) -> str:
    """The PID written in a held lock file; the holder writes it just after
    it locks, so an empty file is read again for a moment."""
    for _ in range(40):
        try:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        except OSError:
            break
        if holder:
            return holder
        time.sleep(0.025)
    return "unknown"


def _tidy_after_killed_batch(out_dir: Path) -> None:
    """Remove what a batch killed outright left in DIR: the temporary files of
    the writes it was making and its data cache. Only under the lock (no batch
    is writing); best effort, and nothing but salesnb's own files."""
    from salesnb.run import cache

    state = out_dir / STATE_DIR
    folders = [out_dir, out_dir / FAILED_DIR, state, state / "cache"]
    folders += [out_dir / folder for _, folder, _ in KINDS.values() if folder]
    try:
        caches = [entry for entry in (state / "cache").iterdir() if entry.is_dir()]
    except OSError:
        caches = []
    try:
        for folder in folders + caches:
            atomic.remove_temporaries(folder)
        for folder in caches:
            cache.clear(folder)
        for folder in (state / "cache", state):
            folder.rmdir()
    except OSError:
        pass  # not there, not empty (plan.json of a scheduler's batch), or not ours to remove


_CANNOT_WRITE = {  # errno -> (what is wrong, what to do)
    getattr(errno, name): reason for name, reason in {
        "ENOSPC": ("the disk is full (no space left on device)", "free some space there, or choose another --out folder"),
        "EDQUOT": ("the disk quota is used up", "free some space there, or choose another --out folder"),
        "EFBIG": ("a file would be larger than this process may write (see `ulimit -f`)",
                  "raise the file size limit, or choose another --out folder"),
        "EROFS": ("it is on a read-only file system", "choose a folder on a writable disk as --out"),
        "EACCES": ("permission denied", "choose an --out folder you may write to, or get write permission for it"),
        "EPERM": ("the system does not allow writing there", "choose an --out folder you may write to"),
        "ENOENT": ("the folder cannot be created there", "choose an --out folder on a normal disk"),
    }.items() if hasattr(errno, name)
}


def _cannot_write(exc: OSError, out_dir: Path, what: str | None = None, *, note: str = "") -> OutputError:
    """One paragraph for an OSError met writing into ``out_dir``: which folder,
    what is wrong, what to do. ``what`` is the file being written, relative to it."""
    code = getattr(exc, "errno", None)
    blocker = _file_in_the_way(out_dir) if code in (errno.ENOTDIR, errno.EEXIST) else None
    if blocker is not None:
        why, advice = f"{blocker} is a file, not a folder", "choose another --out folder, or move that file away"
    else:
        why, advice = _CANNOT_WRITE.get(code, (exc.strerror or str(exc), "check the folder, or choose another --out folder"))
    doing = f" while writing {what}" if what else ""
    return OutputError(f"cannot write the reports to {out_dir}: {why}{doing}. {advice[0].upper()}{advice[1:]}, "
                       f"then run the same command again{note}.")


def _file_in_the_way(out_dir: Path) -> Path | None:
    for folder in (out_dir, *out_dir.parents):
        if folder.exists() and not folder.is_dir():
            return folder
    return None


# -- index.html ------------------------------------------------------------------

def render_index(manifest: dict) -> str:
    """The batch's index page: every report with its status; every value escaped."""
    import jinja2

    from salesnb.present.render import TEMPLATES

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    order = {kind: i for i, kind in enumerate(KINDS)}
    rows = sorted(manifest["reports"], key=lambda r: (order.get(r["kind"], 99), (r["label"] or "").casefold()))
    return env.get_template("index.html.j2").render(
        manifest=manifest,
        rows=rows,
        kinds={kind: name for kind, (name, _, _) in KINDS.items()},
        css=(TEMPLATES / "salesnb_report" / "report.css").read_text(encoding="utf-8"),
    )


# -- helpers -----------------------------------------------------------------------

def _load_dataset(source, mapping):
    """Load the source once, in the parent, to list reps and teams."""
    from salesnb.io.loading import load

    return load(source, mapping=mapping)


def _parse_period(text: str, as_of: _dt.date):
    from salesnb.analysis.periods import parse_period

    return parse_period(text, as_of=as_of)


def _require_kernel(name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise InputError(
            f"no Jupyter kernel named {name!r}; register it with "
            f"`python -m ipykernel install --sys-prefix --name {name} --display-name \"Python (salesnb)\"` "
            "(or `make kernel`)"
        ) from None


def _data_fingerprint(dataset, source, mapping) -> str:
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


def _parameter_path(value) -> str:
    """A local path made absolute (kernels run elsewhere); URLs as they are."""
    text = str(value)
    if "://" in text:
        return text
    return str(Path(text).expanduser().resolve())


def _text(value) -> str:
    if value is None:
        return ""
    try:
        if value != value:  # NaN / NA
            return ""
    except (TypeError, ValueError):
        return ""
    return str(value).strip()


def _names(values, *, limit: int = 5) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _day(value) -> str:
    return value.date().isoformat() if hasattr(value, "date") else str(value)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _version() -> str:
    from salesnb import __version__

    return __version__


def _engine(engine: str) -> str:
    """``auto`` -> ``fork`` where the platform can fork, else ``kernel``."""
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "auto":  # fork is tested on Linux; elsewhere it is there to choose (--engine fork)
        from salesnb.run.forkserver import available

        return "fork" if available() and sys.platform.startswith("linux") else "kernel"
    return engine


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def _seconds_between(start: str, end: str) -> float:
    try:
        return (_dt.datetime.fromisoformat(end) - _dt.datetime.fromisoformat(start)).total_seconds()
    except (TypeError, ValueError):
        return 0.0
