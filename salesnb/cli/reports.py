"""Commands that render reports: ``report`` (a batch now) and ``schedule``
(a batch every day, week or month)."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import click

from salesnb.cli.group import cli


@cli.command("report")
@click.argument("source")
@click.option(
    "--period",
    required=True,
    help="2025, 2025-Q2, 2025-06, 2025-01-15..2025-03-31, or last-week, last-month, last-quarter, last-year, ytd "
    "(resolved once against --as-of).",
)
@click.option(
    "--out", required=True, metavar="DIR", help="Output folder; may contain {period} and {as_of}, e.g. reports/{period}."
)
@click.option(
    "--rep",
    "reps",
    multiple=True,
    metavar="REP_ID",
    help="Render only this rep's coaching report (repeatable); no team overview and no data quality "
    "page unless --team or --all asks for them. Default: every report.",
)
@click.option(
    "--team",
    "teams",
    multiple=True,
    metavar="TEAM",
    help="Render this team's overview and the data quality page (repeatable), plus the --rep reports, "
    "or every rep's when no --rep is given.",
)
@click.option(
    "--all", "overviews", is_flag=True, default=None, help="With --rep: also the data quality page and every team's overview."
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Reports rendered at once, each in its own worker process; never more workers than "
    "reports, at most 32 (a warning above this machine's cores).",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="DATE",
    help="The day relative periods count back from (default: today).",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    metavar="M",
    help="mapping.yml for a CRM export (default: the one beside the data).",
)
@click.option(
    "--expectations",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    metavar="FILE",
    help="expectations.yml with the targets (default: the one beside the data); a database source needs it for quota.",
)
@click.option(
    "--notebooks",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    metavar="DIR",
    help="Folder holding rep_coaching.ipynb, team_overview.ipynb, data_quality.ipynb (default: the repository's notebooks/).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=600,
    show_default=True,
    metavar="SECONDS",
    help="Longest one notebook cell may run before its report fails.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when stderr is a terminal).")
@click.option("--force", is_flag=True, help="Render every report, even those whose data, notebook and parameters did not change.")
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help='Where reports run: this machine, or a Dask cluster (pip install "salesnb[dask]").',
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Dask scheduler, e.g. tcp://host:8786 (default: a local cluster of --jobs workers).",
)
@click.option(
    "--stale-after",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    metavar="DAYS",
    help="Warn at the top of every page and the index when the data's latest record is more than DAYS before the period's end.",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "fork", "kernel"]),
    default="auto",
    show_default=True,
    help="fork: a warm process per worker, a fresh fork of it per report (fast); "
    "kernel: a fresh Jupyter kernel per report (slow); auto: fork on Linux, else kernel.",
)
@click.option(
    "--deliver",
    "deliver",
    default=None,
    metavar="FILE",
    help="Then deliver the batch as `salesnb deliver DIR --recipients FILE` does, to the smtp: or folders: FILE names.",
)
@click.pass_context
def report(
    ctx,
    source,
    period,
    out,
    reps,
    teams,
    overviews,
    jobs,
    as_of,
    mapping,
    expectations,
    notebooks,
    timeout,
    progress,
    force,
    executor,
    scheduler,
    engine,
    stale_after,
    deliver,
):
    """Render coaching reports for SOURCE as self-contained HTML in DIR.

    One report per rep (rep_coaching), one per team (team_overview) and one
    data_quality report, listed in DIR/index.html and DIR/manifest.json.
    A rerun skips reports whose inputs did not change (--force renders
    them); --rep/--team render only the reports named (--rep alone: only
    those reps' pages) and keep the others from earlier runs. DIR must be
    new, empty or a folder salesnb wrote; it is never the data's folder.
    Exits 1 if any report failed; the others are still written. --deliver
    FILE then sends each reader their pages (a failed page is not sent).
    """
    from salesnb.run.batch import run_batch
    from salesnb.run.executors import make_executor

    if scheduler and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    if deliver is not None:  # a delivery that cannot happen is said before the batch runs
        from salesnb.cli.deliver import check_delivery_file

        check_delivery_file(deliver)
    jobs = _checked_jobs(jobs)
    runner = None
    try:
        with _stop_on_sigterm():
            runner = make_executor(executor, jobs=jobs, scheduler=scheduler) if executor != "local" else None
            result = run_batch(
                source,
                period=period,
                out=out,
                reps=reps,
                teams=teams,
                jobs=jobs,
                as_of=as_of.date() if as_of is not None else None,
                mapping=mapping,
                expectations=expectations,
                notebooks=notebooks,
                progress=progress,
                cell_timeout=timeout,
                force=force,
                engine=engine,
                executor=runner,
                overviews=overviews or None,
                stale_after=stale_after,
            )
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (BatchStopped): one line, exit 128 + signal
        signum = getattr(exc, "signum", signal.SIGINT)
        written = getattr(exc, "written", 0)
        click.echo(f"stopped: {written} report{'s' if written != 1 else ''} written, rerun to finish", err=True)
        ctx.exit(128 + int(signum))
    finally:
        if runner is not None:
            with _stop_on_sigterm():
                runner.close()
    for failed in result.failed:
        where = f"; notebook kept in {result.out_dir / failed['failed_notebook']}" if failed["failed_notebook"] else ""
        click.echo(f"failed: {failed['kind']} {_printable(failed['label'])}: {_printable(failed['error'])}{where}", err=True)
    click.echo(result.summary())
    if deliver is not None:
        from salesnb.cli.deliver import deliver_batch

        ctx.exit(max(result.exit_code, deliver_batch(result.out_dir, recipients=deliver)))
    ctx.exit(result.exit_code)


@cli.command("schedule")
@click.option("--cadence", required=True, type=click.Choice(["daily", "weekly", "monthly", "quarterly"]))
@click.option("--at", "at", default="06:00", show_default=True, metavar="HH:MM", help="Time of day (24-hour).")
@click.option(
    "--weekday",
    type=click.Choice(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
    default=None,
    help="Day of a weekly run (default: mon).",
)
@click.option(
    "--day", type=click.IntRange(1, 28), default=None, help="Day of the month of a monthly or quarterly run (default: 1)."
)
@click.option("--source", required=True, help="The data source, as for `salesnb report`.")
@click.option(
    "--out",
    required=True,
    metavar="DIR",
    help="Output folder; {period} and {as_of} keep one folder per run, e.g. reports/{period}.",
)
@click.option(
    "--period",
    default=None,
    help="A relative period. Default: the cadence's: ytd (daily), last-week (weekly), last-month (monthly), "
    "last-quarter (quarterly).",
)
@click.option("--mapping", default=None, metavar="M", help="mapping.yml, as for `salesnb report`.")
@click.option("--expectations", default=None, metavar="FILE", help="expectations.yml, as for `salesnb report`.")
@click.option("--notebooks", default=None, metavar="DIR", help="Notebooks folder, as for `salesnb report`.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--stale-after",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    metavar="DAYS",
    help="Passed to `salesnb report`: warn when the data ends more than DAYS before the period.",
)
@click.option("--name", default="salesnb-report", show_default=True, help="Name of the systemd units.")
@click.option("--deliver", default=None, metavar="FILE", help="Deliver each run's pages as `salesnb report --deliver FILE` does.")
def schedule(cadence, at, weekday, day, source, out, period, mapping, expectations, notebooks, jobs, stale_after, name, deliver):
    """Print a crontab line and a systemd service + timer that run
    `salesnb report` on a schedule, each run with --as-of the day it runs."""
    from salesnb.run.outputs import fill_placeholders
    from salesnb.run.schedule import DEFAULT_PERIODS, Schedule, render_schedule

    period = period or DEFAULT_PERIODS[cadence]
    _check_period(period)
    fill_placeholders(out, {"period": period, "as_of": "2000-01-01"})  # a bad placeholder fails now, not at 6 a.m.
    if deliver is not None:
        from salesnb.cli.deliver import check_delivery_file

        check_delivery_file(deliver)
    plan = Schedule(
        cadence=cadence,
        source=_absolute(source),
        out=_absolute(out),
        period=period,
        at=at,
        weekday=weekday,
        day=day,
        executable=_salesnb_executable(),
        mapping=_absolute(mapping) if mapping else None,
        notebooks=_absolute(notebooks) if notebooks else None,
        extra=(("--expectations", _absolute(expectations)) if expectations else ())
        + (("--jobs", str(jobs)) if jobs != 1 else ())
        + (("--stale-after", str(stale_after)) if stale_after != 7 else ())
        + (("--deliver", _absolute(deliver)) if deliver else ()),
        name=name,
    )
    click.echo(render_schedule(plan), nl=False)


@contextmanager
def _stop_on_sigterm():
    """SIGTERM (systemd, kill) stops the batch the way Ctrl-C does: the
    reports written so far stay listed, the workers end, nothing leaks. A
    second signal while it tidies up is ignored (SIGKILL still ends it)."""
    from salesnb.run.batch import BatchStopped

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise BatchStopped(signum)

    if threading.current_thread() is not threading.main_thread():  # signals only reach the main thread
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, stop)
    if previous[signal.SIGINT] is signal.default_int_handler:  # not when started with SIGINT ignored (nohup, &)
        signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _checked_jobs(jobs: int) -> int:
    """--jobs capped at MAX_WORKERS; a warning above the cores of this machine."""
    from salesnb.run.executors import MAX_WORKERS, available_cores

    cores = available_cores()
    if jobs > MAX_WORKERS:
        click.echo(f"warning: --jobs {jobs} is capped at {MAX_WORKERS} workers", err=True)
        jobs = MAX_WORKERS
    if jobs > cores:
        click.echo(
            f"warning: --jobs {jobs} is more than the {cores} core{'s' if cores != 1 else ''} here: each worker "
            f"holds its own report template in memory, and reports render no faster (try --jobs {cores})",
            err=True,
        )
    return jobs


def _check_period(period: str) -> None:
    """Catch a typo now rather than at 6 a.m.; warn when a fixed period would
    re-render the same dates on every run."""
    from salesnb.analysis.periods import RELATIVE, parse_period

    parse_period(period)
    if period.strip().lower() not in RELATIVE:
        click.echo(
            f"warning: {period!r} is a fixed period: every run will report the same dates (relative ones: {', '.join(RELATIVE)})",
            err=True,
        )


def _absolute(value: str) -> str:
    """Local paths made absolute (cron and systemd start elsewhere); URLs kept."""
    if "://" in value:
        return value
    return str(Path(value).expanduser().absolute())


def _salesnb_executable() -> str:
    """The ``salesnb`` script of this installation, by absolute path."""
    beside_python = Path(sys.executable).parent / "salesnb"
    if beside_python.is_file():
        return str(beside_python)
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "salesnb" and argv0.is_file():
        return str(argv0.absolute())
    return "salesnb"


def _printable(text) -> str:
    """Data shown on a terminal: control characters (escape sequences) as visible escapes."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))
