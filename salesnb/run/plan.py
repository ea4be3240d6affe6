"""What a batch renders: one :class:`ReportJob` per report, planned from the data.

The jobs are plain, picklable data (a worker, a Dask task or an Airflow task
runs one); :func:`plan_batch` lists them for the reps and teams asked for,
each with its output file and its input key (what decides a rerun).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from salesnb.errors import InputError
from salesnb.io.urls import mask_url

__all__ = [
    "KERNEL_NAME",
    "CELL_TIMEOUT",
    "START_TIMEOUT",
    "ENGINES",
    "KINDS",
    "FAILED_DIR",
    "ReportJob",
    "input_key",
    "safe_name",
    "default_notebooks_dir",
    "plan_batch",
    "dispatch_order",
    "EARLY_TOO",
    "resolve_engine",
    "parameter_path",
    "iso_day",
    "utc_now",
    "salesnb_version",
]

KERNEL_NAME = "salesnb"
CELL_TIMEOUT = 600  # seconds one notebook cell may run before the report fails
START_TIMEOUT = 60  # seconds a kernel may take to start
ENGINES = ("auto", "fork", "kernel")

# kind -> (what the index calls it, folder under DIR, the parameter naming its subject)
KINDS: dict[str, tuple[str, str | None, str | None]] = {
    "data_quality": ("Data quality", None, None),
    "team_overview": ("Team overview", "teams", "team"),
    "forecast_review": ("Forecast review", None, None),
    "training_effect": ("Training effect", "training", "program"),
    "rep_coaching": ("Rep coaching", "reps", "rep_id"),
}
FAILED_DIR = "_failed"  # DIR/_failed/: the executed notebook of each failed report


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
    warning: str = ""  # shown at the top of the page: old data (salesnb.analysis.periods.stale_data)
    warm_up: bool = True  # a rep report: the template warms the rep pages up first (not for a batch's only one)

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
    def from_dict(cls, data: dict) -> ReportJob:
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
        "salesnb": version if version is not None else salesnb_version(),
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
    expectations=None,
    notebooks_dir=None,
    data_fingerprint: str = "",
    kernel_name: str = KERNEL_NAME,
    cell_timeout: float | None = CELL_TIMEOUT,
    engine: str = "auto",
    cache_dir=None,
    overviews: bool | None = None,
    data_last_date: str | None = None,
    warning: str = "",
) -> list[ReportJob]:
    """One job per report: data_quality, then one team_overview per team,
    forecast_review (when the source has a forecasts table), one
    training_effect per program (when it has a training table), then one
    rep_coaching per rep, for the reps/teams asked for (all in
    ``dataset.reps`` when none are). The forecast and training pages come
    with the overviews.

    What is planned: nothing asked, every report; ``reps`` only, those reps'
    coaching reports and nothing else (a 10,000-rep source renders one page
    for ``--rep R01``); ``teams``, the data quality page and those teams'
    overviews (plus ``reps``, or every rep when none are named).
    ``overviews=True`` (``--all``) adds the data quality page and every
    team's overview to a ``reps`` batch.

    Each job carries its ``input_key`` (see :func:`input_key`), the
    ``engine`` that runs it (``fork``, ``kernel``; ``auto`` is ``fork``
    where the platform can fork) and the batch's data ``cache_dir``.
    ``data_last_date`` (the day of the latest record) is stated under every
    page's title and ``warning`` (old data) shown above it.
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
        "source": parameter_path(source),
        "mapping": parameter_path(mapping) if mapping is not None else None,
        "period": period.label,
        "as_of": as_of.isoformat(),
    }
    if expectations is not None:  # only when given: a batch without it keeps its reports' input keys
        common["expectations"] = parameter_path(expectations)
    shown = dict(common, source=mask_url(common["source"]))
    subtitle = f"{period.label} ({iso_day(period.start)} to {iso_day(period.end)}), as of {as_of.isoformat()}"
    if data_last_date:
        subtitle += f"; data to {data_last_date}"
    engine = resolve_engine(engine)
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
            input_key=input_key(
                data_fingerprint=data_fingerprint,
                notebook_hash=notebook_hashes[kind],
                parameters={**common, **extra, **({"warning": warning} if warning else {})},  # a new warning re-renders
                kind=kind,
            ),
            warning=warning,
        )

    jobs = [job("data_quality", None, "all reps", f"Data quality, {period.label}")] if overviews else []
    jobs += [job("team_overview", team, team, f"Team overview: {team}, {period.label}") for team in chosen_teams]
    if overviews and _rows(getattr(dataset, "forecasts", None)):
        jobs.append(job("forecast_review", None, "all reps", f"Forecast review, {period.label}"))
    if overviews:
        jobs += [job("training_effect", p, p, f"Training effect: {p}, {period.label}") for p in _programs(dataset)]
    for rep_id in chosen_reps:
        name = roster["names"].get(rep_id) or ""
        label = f"{name} ({rep_id})" if name and name != rep_id else rep_id
        jobs.append(job("rep_coaching", rep_id, label, f"Coaching report: {label}, {period.label}"))
    _check_unique_outputs(jobs)
    return jobs


def _rows(frame) -> int:
    return 0 if frame is None else len(frame)


def _programs(dataset) -> list[str]:
    """The training programs of the source (as first written; matched case-insensitively), sorted."""
    training = getattr(dataset, "training", None)
    if not _rows(training) or "program" not in training.columns:
        return []
    programs: dict[str, str] = {}
    for value in training["program"]:
        text = _text(value)
        if text:
            programs.setdefault(text.casefold(), text)
    return sorted(programs.values(), key=str.casefold)


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


#: Pages that join a batch's early ones (:data:`salesnb.run.prepare.EARLY_KINDS`) when the
#: data-quality page is among them: the forecast review asks the runner's memo for nothing but
#: the metrics by rep, which the runner makes before the early pages for that page's data checks.
EARLY_TOO = ("forecast_review",)


def dispatch_order(to_run: list[ReportJob], early: int = 0) -> tuple[list[ReportJob], int]:
    """``to_run`` (a plan's jobs to render, its first ``early`` handed out before the runner
    makes the shared tables) in the order a batch's workers should take them, and how many
    are early now. Issue #16's team-sized batch: two workers share one report template.

    - The forecast review (:data:`EARLY_TOO`) joins the early pages when the data-quality
      page is one of them: it renders while the runner makes the shared tables, on the core
      they leave free (about 0.3 s there), not after them, when both cores are busy.
    - Of the rest, the first rep page comes second: its request makes the template warm
      the rep pages up first (:func:`salesnb.run.warmup.prewarm_batch`, about 0.6 s, during
      which it forks nothing), so the first other page (a team overview, the longest) renders
      on the other core meanwhile; two team pages first left one core idle for the warm-up.

    The manifest and the index list the pages in the plan's order whatever this one."""
    head, rest = list(to_run[:early]), list(to_run[early:])
    if early and any(job.kind == "data_quality" for job in head):
        head += [job for job in rest if job.kind in EARLY_TOO]
        rest = [job for job in rest if job.kind not in EARLY_TOO]
    reps = [job for job in rest if job.kind == "rep_coaching"]
    others = [job for job in rest if job.kind != "rep_coaching"]
    if others and reps and reps[0].warm_up:
        rest = [others[0], reps[0], *others[1:], *reps[1:]]
    return head + rest, len(head)


# -- small helpers the batch shares ----------------------------------------------------


def resolve_engine(engine: str) -> str:
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


def parameter_path(value) -> str:
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


def iso_day(value) -> str:
    return value.date().isoformat() if hasattr(value, "date") else str(value)


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def salesnb_version() -> str:
    from salesnb import __version__

    return __version__
