"""salesnb.run.schedule: crontab lines and systemd units that run `salesnb report`.

The commands are not only compared as text: they are run through /bin/sh
(after undoing cron's or systemd's own escaping, as those do) with a stub
in place of salesnb that prints its arguments, so quoting is proven, not
eyeballed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from salesnb.cli import cli
from salesnb.errors import InputError
from salesnb.run.schedule import (
    DEFAULT_PERIODS,
    Schedule,
    crontab_line,
    render_schedule,
    report_argv,
    systemd_service,
    systemd_timer,
)

HOSTILE_PATH = '/tmp/my data/it\'s "100%" $HOME `id`'


@pytest.fixture
def stub(tmp_path):
    """An executable that prints each argument on its own line."""
    path = tmp_path / "salesnb"
    path.write_text('#!/bin/sh\nfor arg in "$@"; do printf "%s\\n" "$arg"; done\n')
    path.chmod(0o755)
    return str(path)


def run_sh(command: str) -> list[str]:
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=True, timeout=10)
    return done.stdout.splitlines()


def cron_command(line: str) -> str:
    """What cron hands to /bin/sh: the sixth field on, with \\% back to %."""
    command = line.split(" ", 5)[5]
    assert not re.search(r"(?<!\\)%", command), "an unescaped % would end the command in cron"
    return command.replace("\\%", "%")


def systemd_exec(service: str) -> str:
    """The /bin/sh -c argument systemd would pass, undoing its escapes."""
    line = next(text for text in service.splitlines() if text.startswith("ExecStart="))
    prefix = 'ExecStart=/bin/sh -c "'
    assert line.startswith(prefix) and line.endswith('"')
    word = line[len(prefix) : -1]
    out, i = [], 0
    while i < len(word):
        pair = word[i : i + 2]
        if pair in ("\\\\", '\\"', "%%", "$$"):
            out.append(pair[1])
            i += 2
        else:
            assert word[i] not in '"%$' and word[i] != "\\", f"unescaped {word[i]!r} in ExecStart"
            out.append(word[i])
            i += 1
    return "".join(out)


def test_weekly_defaults():
    plan = Schedule(cadence="weekly", source="/data/crm", out="/srv/reports", executable="/opt/venv/bin/salesnb")
    line = crontab_line(plan)
    assert line.startswith("0 6 * * 1 /opt/venv/bin/salesnb report /data/crm --period last-week --out /srv/reports")
    assert line.endswith('--as-of "$(date +\\%F)"')
    assert "OnCalendar=Mon *-*-* 06:00:00" in systemd_timer(plan)


@pytest.mark.parametrize(
    "cadence, options, cron, calendar",
    [
        ("daily", {"at": "23:45"}, "45 23 * * *", "*-*-* 23:45:00"),
        ("weekly", {"weekday": "sun", "at": "7:05"}, "5 7 * * 0", "Sun *-*-* 07:05:00"),
        ("weekly", {"weekday": "fri"}, "0 6 * * 5", "Fri *-*-* 06:00:00"),
        ("monthly", {}, "0 6 1 * *", "*-*-01 06:00:00"),
        ("monthly", {"day": 15, "at": "00:30"}, "30 0 15 * *", "*-*-15 00:30:00"),
        ("quarterly", {}, "0 6 1 1,4,7,10 *", "*-01,04,07,10-01 06:00:00"),
        ("quarterly", {"day": 2}, "0 6 2 1,4,7,10 *", "*-01,04,07,10-02 06:00:00"),
    ],
)
def test_cadences(cadence, options, cron, calendar):
    plan = Schedule(cadence=cadence, source="/d", out="/o", **options)
    assert crontab_line(plan).startswith(cron + " ")
    timer = systemd_timer(plan)
    assert f"OnCalendar={calendar}\n" in timer and "Persistent=true" in timer and "WantedBy=timers.target" in timer


@pytest.mark.parametrize(
    "options, message",
    [
        ({"cadence": "hourly"}, "cadence"),
        ({"at": "25:00"}, "HH:MM"),
        ({"at": "6am"}, "HH:MM"),
        ({"weekday": "mon", "cadence": "daily"}, "weekly"),
        ({"weekday": "someday"}, "weekday"),
        ({"day": 15}, "monthly or quarterly"),
        ({"cadence": "monthly", "day": 31}, "1 to 28"),
        ({"out": ""}, "out"),
        ({"source": "/d\n0 * * * * rm -rf /"}, "line break"),
        ({"name": "../evil"}, "unit name"),
    ],
)
def test_bad_schedules_are_refused_with_a_reason(options, message):
    settings = {"cadence": "weekly", "source": "/d", "out": "/o", **options}
    with pytest.raises(InputError, match=message):
        Schedule(**settings)


def test_cron_line_runs_the_exact_command_with_the_run_date(stub):
    plan = Schedule(
        cadence="daily",
        source=HOSTILE_PATH,
        out=HOSTILE_PATH + "/{period}",
        period="last-quarter",
        executable=stub,
        mapping="/m/map%.yml",
        extra=("--jobs", "2"),
    )
    argv = run_sh(cron_command(crontab_line(plan)))
    assert argv == [*report_argv(plan)[1:], "--as-of", dt.date.today().isoformat()]
    assert argv[1] == HOSTILE_PATH and "--mapping" in argv and argv[argv.index("--jobs") + 1] == "2"


def test_systemd_service_runs_the_exact_command_with_the_run_date(stub):
    plan = Schedule(cadence="weekly", source=HOSTILE_PATH, out="/srv/out 50%", executable=stub)
    service = systemd_service(plan)
    assert "Type=oneshot" in service
    argv = run_sh(systemd_exec(service))
    assert argv == [*report_argv(plan)[1:], "--as-of", dt.date.today().isoformat()]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_the_units(tmp_path):
    plan = Schedule(cadence="monthly", day=3, source=HOSTILE_PATH, out="/srv/out", executable="/usr/bin/true")
    (tmp_path / "salesnb-report.service").write_text(systemd_service(plan))
    (tmp_path / "salesnb-report.timer").write_text(systemd_timer(plan))
    done = subprocess.run(
        ["systemd-analyze", "verify", "salesnb-report.service", "salesnb-report.timer"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )
    assert done.returncode == 0, done.stderr
    assert "salesnb-report" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    "cadence, period",
    [("daily", "ytd"), ("weekly", "last-week"), ("monthly", "last-month"), ("quarterly", "last-quarter")],
)
def test_the_default_period_follows_the_cadence(cadence, period):
    """A weekly run reports on last week, not the same month four Mondays running."""
    plan = Schedule(cadence=cadence, source="/d", out="/o")
    assert plan.period == period == DEFAULT_PERIODS[cadence]
    assert f" --period {period} " in crontab_line(plan)
    assert Schedule(cadence=cadence, source="/d", out="/o", period="last-year").period == "last-year"
    result = CliRunner().invoke(cli, ["schedule", "--cadence", cadence, "--source", "/d", "--out", "/o"])
    assert result.exit_code == 0 and f" --period {period} " in result.stdout and "fixed period" not in result.stderr


SECRET_URL = "postgresql://ann:pa$$ w'rd%@db.example:5432/crm?sslmode=require&token=t0ken"


def test_a_source_url_with_a_password_never_appears_and_the_run_reads_it_from_a_file(stub, tmp_path):
    secrets = tmp_path / "my secrets" / "coaching.env"
    plan = Schedule(
        cadence="weekly", source=SECRET_URL, out="/srv/o", executable=stub, name="coaching", secrets_file=str(secrets)
    )
    text = render_schedule(plan)
    for secret in ("pa$$", "w'rd", "t0ken"):
        assert secret not in text
    assert "# The source, postgresql://ann:***@db.example:5432/crm?sslmode=require&token=***, holds a secret" in text
    assert f"set by {secrets}" in text and "chmod 600" in text
    # what the user puts in the file, as the text says: the real URL in single quotes ('\'' for a quote)
    secrets.parent.mkdir()
    secrets.write_text("SALESNB_SOURCE='" + SECRET_URL.replace("'", "'\\''") + "'\n")
    today = dt.date.today().isoformat()
    expected = [*report_argv(plan)[1:], "--as-of", today]
    assert expected[1] == SECRET_URL
    assert run_sh(cron_command(crontab_line(plan))) == expected
    assert run_sh(systemd_exec(systemd_service(plan))) == expected


def test_cli_schedule_masks_the_source_url(tmp_path):
    result = CliRunner().invoke(
        cli, ["schedule", "--cadence", "monthly", "--source", "postgresql://ann:hunter2@db/crm", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert "postgresql://ann:***@db/crm" in result.stdout and '"$SALESNB_SOURCE"' in result.stdout
    assert "/.config/salesnb/salesnb-report.env" in result.stdout


def test_render_schedule_says_how_to_install_each():
    text = render_schedule(Schedule(cadence="weekly", source="/d", out="/o", name="coaching"))
    assert "crontab -e" in text and "systemctl --user enable --now coaching.timer" in text
    assert "# --- coaching.service ---\n[Unit]" in text and "# --- coaching.timer ---\n[Unit]" in text


def test_cli_prints_absolute_paths_and_checks_the_period(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "schedule",
            "--cadence",
            "weekly",
            "--weekday",
            "tue",
            "--at",
            "05:30",
            "--source",
            "data",
            "--out",
            "reports/{period}",
            "--jobs",
            "2",
            "--stale-after",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    line = next(text for text in result.stdout.splitlines() if text.startswith("30 5 * * 2 "))
    assert (
        f" report {tmp_path / 'data'} --period last-week --out '{tmp_path / 'reports'}/{{period}}' --jobs 2 --stale-after 3 "
        in line
    )
    assert "[Timer]" in result.stdout and "OnCalendar=Tue *-*-* 05:30:00" in result.stdout

    typo = runner.invoke(cli, ["schedule", "--cadence", "daily", "--source", "d", "--out", "o", "--period", "last-mnth"])
    assert typo.exit_code == 1 and "last-mnth" in typo.output
    fixed = runner.invoke(cli, ["schedule", "--cadence", "daily", "--source", "d", "--out", "o", "--period", "2025-Q1"])
    assert fixed.exit_code == 0 and "fixed period" in fixed.stderr
    assert runner.invoke(cli, ["schedule", "--cadence", "hourly", "--source", "d", "--out", "o"]).exit_code == 2
    url = runner.invoke(cli, ["schedule", "--cadence", "daily", "--source", "postgresql://host/db", "--out", "o"])
    assert " report postgresql://host/db " in url.stdout


def test_schedule_with_delivery_runs_report_deliver_and_never_prints_the_source_password(tmp_path):
    recipients = tmp_path / "recipients.yml"
    recipients.write_text("folders: /srv/readers\n", encoding="utf-8")
    source = "postgresql://ann:s3cret@db.example.com/crm"
    result = CliRunner().invoke(
        cli, ["schedule", "--cadence", "daily", "--source", source, "--out", str(tmp_path / "o"), "--deliver", str(recipients)]
    )
    assert result.exit_code == 0, result.output
    line = next(text for text in result.stdout.splitlines() if text.startswith("0 6 * * * "))
    # the source holds a secret: the run reads it from $SALESNB_SOURCE; daily runs cover the year to date
    assert f' report "$SALESNB_SOURCE" --period ytd --out {tmp_path / "o"} --deliver {recipients} ' in line
    assert "s3cret" not in result.output
    assert "postgresql://ann:***@db.example.com/crm" in result.stdout
    recipients.write_text("reps: {R01: ann@example.com}\n", encoding="utf-8")  # says neither smtp: nor folders:
    nowhere = CliRunner().invoke(
        cli, ["schedule", "--cadence", "daily", "--source", "d", "--out", "o", "--deliver", str(recipients)]
    )
    assert nowhere.exit_code == 2 and "must name one of smtp: URL and folders: OUT" in nowhere.output
