"""Scheduled report batches: a crontab line, or a systemd service and timer.

Pure functions that return text; ``salesnb schedule`` prints it. Every
schedule runs ``salesnb report ... --as-of <date of the run>`` with a
relative period (``last-month`` by default), so the run names its dates
and a rerun of the same day's command renders the same period::

    >>> s = Schedule(cadence="weekly", source="/data/crm", out="/srv/reports/{period}",
    ...              executable="/opt/salesnb/.venv/bin/salesnb")
    >>> print(crontab_line(s))
    0 6 * * 1 /opt/salesnb/.venv/bin/salesnb report /data/crm --period last-month --out '/srv/reports/{period}' --as-of "$(date +\\%F)"
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from salesnb.errors import InputError
from salesnb.io.urls import mask_url

__all__ = [
    "CADENCES",
    "WEEKDAYS",
    "DEFAULT_PERIOD",
    "Schedule",
    "report_argv",
    "crontab_line",
    "systemd_service",
    "systemd_timer",
    "render_schedule",
]

CADENCES = ("daily", "weekly", "monthly")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_PERIOD = "last-month"  # a whole, closed month: the same numbers on every rerun
DEFAULT_AT = "06:00"
_CRON_WEEKDAY = {day: str((i + 1) % 7) for i, day in enumerate(WEEKDAYS)}  # cron: sun=0, mon=1
_SYSTEMD_WEEKDAY = {day: day.capitalize() for day in WEEKDAYS}
_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_UNIT_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class Schedule:
    """When and what to run. Paths should be absolute: cron and systemd do
    not start in your working folder.

    ``weekday`` is for weekly runs (default ``mon``), ``day`` the day of
    the month for monthly runs (1-28, default 1). ``extra`` holds further
    ``salesnb report`` arguments, already split (``["--jobs", "2"]``).
    """

    cadence: str
    source: str
    out: str
    period: str = DEFAULT_PERIOD
    at: str = DEFAULT_AT
    weekday: str | None = None
    day: int | None = None
    executable: str = "salesnb"
    mapping: str | None = None
    notebooks: str | None = None
    extra: tuple[str, ...] = field(default_factory=tuple)
    name: str = "salesnb-report"

    def __post_init__(self):
        if self.cadence not in CADENCES:
            raise InputError(f"cadence must be one of {', '.join(CADENCES)}, not {self.cadence!r}")
        if not _AT.match(self.at or ""):
            raise InputError(f"--at is a time of day as HH:MM (24-hour), such as 06:00, not {self.at!r}")
        if self.weekday is not None:
            if self.cadence != "weekly":
                raise InputError(f"--weekday only applies to a weekly schedule, not a {self.cadence} one")
            if self.weekday.lower()[:3] not in WEEKDAYS:
                raise InputError(f"--weekday is one of {', '.join(WEEKDAYS)}, not {self.weekday!r}")
        if self.day is not None:
            if self.cadence != "monthly":
                raise InputError(f"--day only applies to a monthly schedule, not a {self.cadence} one")
            if not isinstance(self.day, int) or not 1 <= self.day <= 28:
                raise InputError(f"--day is a day of the month from 1 to 28 (every month has it), not {self.day!r}")
        for label, value in (("source", self.source), ("out", self.out), ("period", self.period)):
            if not value or not str(value).strip():
                raise InputError(f"a schedule needs a {label}")
            if "\n" in str(value) or "\r" in str(value):
                raise InputError(f"{label} cannot contain a line break")
        if not _UNIT_NAME.match(self.name):
            raise InputError(f"the unit name may hold letters, digits, '_', '.' and '-', not {self.name!r}")

    @property
    def hour(self) -> int:
        return int(self.at.split(":")[0])

    @property
    def minute(self) -> int:
        return int(self.at.split(":")[1])

    @property
    def weekday_or_default(self) -> str:
        return (self.weekday or "mon").lower()[:3]

    @property
    def day_or_default(self) -> int:
        return self.day or 1


def report_argv(schedule: Schedule) -> list[str]:
    """The ``salesnb report`` command line, without ``--as-of``. A password in
    the source URL is printed as ``***`` (the schedule is shown, logged and
    pasted): the driver reads it from its own place (e.g. ``~/.pgpass``)."""
    argv = [schedule.executable, "report", mask_url(schedule.source), "--period", schedule.period, "--out", schedule.out]
    if schedule.mapping:
        argv += ["--mapping", schedule.mapping]
    if schedule.notebooks:
        argv += ["--notebooks", schedule.notebooks]
    argv += list(schedule.extra)
    return argv


def _shell_command(schedule: Schedule) -> str:
    """The command for /bin/sh, with the run's date as ``--as-of``."""
    return " ".join(shlex.quote(arg) for arg in report_argv(schedule)) + ' --as-of "$(date +%F)"'


def crontab_line(schedule: Schedule) -> str:
    """One crontab line (``crontab -e``). cron runs it with /bin/sh; ``%``
    is special to cron, so every one in the command is escaped."""
    if schedule.cadence == "daily":
        when = f"{schedule.minute} {schedule.hour} * * *"
    elif schedule.cadence == "weekly":
        when = f"{schedule.minute} {schedule.hour} * * {_CRON_WEEKDAY[schedule.weekday_or_default]}"
    else:
        when = f"{schedule.minute} {schedule.hour} {schedule.day_or_default} * *"
    return f"{when} {_shell_command(schedule).replace('%', chr(92) + '%')}"


def _describe(schedule: Schedule) -> str:
    at = f"{schedule.hour:02d}:{schedule.minute:02d}"
    if schedule.cadence == "weekly":
        return f"every {_SYSTEMD_WEEKDAY[schedule.weekday_or_default]} at {at}"
    if schedule.cadence == "monthly":
        return f"on day {schedule.day_or_default} of every month at {at}"
    return f"every day at {at}"


def _systemd_quote(text: str) -> str:
    """One ExecStart= word: double-quoted, with systemd's own escapes for
    backslash and quote, ``%`` specifiers and ``$`` variables disabled."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def systemd_service(schedule: Schedule) -> str:
    """``<name>.service``: one batch, run by the timer."""
    return (
        "[Unit]\n"
        f"Description=salesnb coaching reports, {schedule.period} ({schedule.cadence})\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart=/bin/sh -c {_systemd_quote('exec ' + _shell_command(schedule))}\n"
        "Nice=10\n"
    )


def systemd_timer(schedule: Schedule) -> str:
    """``<name>.timer``: when the service runs; a run missed while the
    machine was off happens at the next boot (``Persistent=true``)."""
    time_of_day = f"{schedule.hour:02d}:{schedule.minute:02d}:00"
    if schedule.cadence == "daily":
        calendar = f"*-*-* {time_of_day}"
    elif schedule.cadence == "weekly":
        calendar = f"{_SYSTEMD_WEEKDAY[schedule.weekday_or_default]} *-*-* {time_of_day}"
    else:
        calendar = f"*-*-{schedule.day_or_default:02d} {time_of_day}"
    return (
        "[Unit]\n"
        f"Description=Run {schedule.name}.service {_describe(schedule)}\n"
        "\n"
        "[Timer]\n"
        f"OnCalendar={calendar}\n"
        "Persistent=true\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


def render_schedule(schedule: Schedule) -> str:
    """Everything ``salesnb schedule`` prints: the crontab line, then the
    systemd pair, each with the one step that installs it."""
    name = schedule.name
    masked = mask_url(schedule.source) != schedule.source
    return (
        f"# salesnb report, {schedule.period}, {_describe(schedule)}.\n"
        + (
            "# The source URL's password is shown as ***: remove it from the URL and keep it where the\n"
            "# database driver reads it (for PostgreSQL: ~/.pgpass or PGPASSWORD in the unit's environment).\n"
            if masked
            else ""
        )
        + "#\n"
        "# Either cron: add this line with `crontab -e`\n"
        "# (cron mails the output; append `>> /path/to/salesnb.log 2>&1` to keep it in a file):\n"
        f"{crontab_line(schedule)}\n"
        "\n"
        f"# Or systemd (user units): save the next two files in ~/.config/systemd/user/, then run\n"
        f"#   systemctl --user daemon-reload && systemctl --user enable --now {name}.timer\n"
        f"#   (`loginctl enable-linger $USER` keeps it running while you are logged out;\n"
        f"#    `journalctl --user -u {name}` shows the runs)\n"
        f"# --- {name}.service ---\n"
        f"{systemd_service(schedule)}"
        f"# --- {name}.timer ---\n"
        f"{systemd_timer(schedule)}"
    )
