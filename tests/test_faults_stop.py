"""Faults: a batch stopped from outside. The out-of-memory killer ends the
batch process alone (its workers and templates must die with it); SIGTERM
and Ctrl-C stop it cleanly with one line, and a rerun finishes (issue #13).
(The helpers: ``faults.py``.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batches import REPS, write_source
from faults import (
    CALM_REPS,
    FIXTURE_ARGS,
    N_FIXTURE_REPORTS,
    Batch,
    assert_complete,
    check_folder,
    descendants,
    finish,
    pages_written_since,
    read_manifest,
    start,
    survivors,
)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="dying with the parent is a Linux feature (PR_SET_PDEATHSIG)")
@pytest.mark.parametrize("jobs", [2, 1])
def test_killing_only_the_batch_process_takes_its_workers_and_reports_with_it(tmp_path, jobs):
    """The out-of-memory killer ends one process, not a process group: when the
    batch's own process dies, its pool workers, their warm templates and the
    reports they fork must die too, not go on writing pages into a folder whose
    lock died with the batch."""
    source = write_source(tmp_path / "src", CALM_REPS)
    out = tmp_path / "out"
    args = (source, *FIXTURE_ARGS, "--out", out, "--jobs", jobs)
    batch = start(args, tmp_path / "logs" / "killed")
    deadline = time.monotonic() + 120
    # wait until reports are being rendered: a page written, with the templates running
    while pages_written_since(out, batch.started_ns) < 1 and batch.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    processes = descendants(batch.proc.pid)
    assert batch.proc.poll() is None, "the batch finished before it could be killed: make it slower"
    assert processes, "the batch has no child processes to check"
    os.kill(batch.proc.pid, signal.SIGKILL)  # the batch process alone, not its group
    batch.proc.wait()
    left = survivors(processes, timeout=10.0)
    for pid in left:  # do not leave them running on failure
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} of {len(processes)} processes of the killed batch live on: {left}"
    pages = {p: p.stat().st_mtime_ns for p in out.rglob("*.html")}
    time.sleep(1.0)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.html")} == pages, "pages were written after the batch died"
    rerun = finish(start(args, tmp_path / "logs" / "rerun"))
    assert assert_complete(out, rerun, reports=N_FIXTURE_REPORTS)["counts"]["failed"] == 0


# -- SIGTERM and Ctrl-C: a clean stop (issue #13) ----------------------------------------------------

# `salesnb report` with test_report's fake execution, a quarter second per report in the run to
# stop (none in its rerun): the batch's own stop path (signal, manifest, message, exit code) in a
# real process, in seconds.
_SLOW_FAKE = """
import sys, time
from salesnb.slow_imports import skip_slow_optional_imports
skip_slow_optional_imports()  # as the CLI does first thing; here before batches.py imports nbformat
sys.path.insert(0, {tests!r})
import salesnb.run.batch as report
import salesnb.run.execute as execute
from batches import fake_execute as _fake_execute
def slow(job, capture):
    time.sleep({seconds!r})
    return _fake_execute(job, capture)
execute._execute = slow
report._require_kernel = lambda name: None
from salesnb.cli import main
sys.argv = ["salesnb", *sys.argv[1:]]
main()
"""
# R3's fake report fails: left out, so a finished rerun exits 0. Five reps more: 11 reports.
STOPPABLE_REPS = [r for r in REPS if r[0] != "R3"] + [(f"S{i}", f"Sam {i}", "North", "Alpha") for i in range(5)]


def _fake_batch(source: Path, out: Path, logs: Path, seconds: float = 0.25) -> Batch:
    """The fake batch in a process of its own, ``seconds`` per report."""
    logs.mkdir(parents=True, exist_ok=True)
    program = _SLOW_FAKE.format(tests=str(Path(__file__).resolve().parent), seconds=seconds)
    with open(logs / "stdout", "wb") as stdout, open(logs / "stderr", "wb") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                program,
                "report",
                str(source),
                *map(str, FIXTURE_ARGS),
                "--out",
                str(out),
                "--engine",
                "kernel",
                "--jobs",
                "1",
                "--no-progress",
            ],
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Batch(proc, time.monotonic(), time.time_ns(), logs)


def _wait_for_pages(batch: Batch, out: Path, pages: int = 1) -> None:
    deadline = time.monotonic() + 60
    while pages_written_since(out, batch.started_ns) < pages and batch.proc.poll() is None:
        assert time.monotonic() < deadline, batch.stderr
        time.sleep(0.01)
    assert batch.proc.poll() is None, f"the batch ended before it could be stopped:\n{batch.stderr}"


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_or_ctrl_c_stops_with_one_line_and_a_rerun_finishes(tmp_path, signum, code):
    source, out = write_source(tmp_path / "src", STOPPABLE_REPS), tmp_path / "out"
    batch = _fake_batch(source, out, tmp_path / "logs" / "stopped")
    _wait_for_pages(batch, out, 2)  # one report at a time: the first is surely recorded once the second is written
    if signum == signal.SIGINT:
        os.killpg(batch.proc.pid, signum)  # Ctrl-C reaches the terminal's whole process group
    else:
        os.kill(batch.proc.pid, signum)  # systemd and kill send SIGTERM to the main process
    finish(batch, timeout=60)
    manifest = read_manifest(out)
    written = manifest["counts"]["ok"]
    assert batch.proc.returncode == code, batch.stderr
    assert batch.stderr == f"stopped: {written} report{'s' if written != 1 else ''} written, rerun to finish\n"
    assert 1 <= written < 1 + 1 + len(STOPPABLE_REPS) and batch.stdout == ""
    assert {r["status"] for r in manifest["reports"]} <= {"ok", "skipped"}
    assert check_folder(out, after_kill=False)["pages"] == written  # a page cut off by the stop is not left behind
    assert (
        sum(r["reason"] == "not run: the batch was interrupted" for r in manifest["reports"])
        == 1 + 1 + len(STOPPABLE_REPS) - written
    )

    rerun = finish(_fake_batch(source, out, tmp_path / "logs" / "rerun", seconds=0.0), timeout=120)
    assert rerun.proc.returncode == 0, rerun.stderr
    counts = read_manifest(out)["counts"]
    assert counts == {"ok": 1 + 1 + len(STOPPABLE_REPS) - written, "failed": 0, "skipped": written}


@pytest.mark.slow
def test_sigterm_to_a_pooled_batch_ends_its_workers_and_leaks_no_semaphore(tmp_path):
    """Real notebooks in two pool workers: SIGTERM once a page is written."""
    source, out = write_source(tmp_path / "src", STOPPABLE_REPS), tmp_path / "out"
    batch = start((source, *FIXTURE_ARGS, "--out", out, "--jobs", 2), tmp_path / "logs")
    _wait_for_pages(batch, out)
    processes = descendants(batch.proc.pid)
    os.kill(batch.proc.pid, signal.SIGTERM)
    finish(batch, timeout=120)
    written = read_manifest(out)["counts"]["ok"]
    assert batch.proc.returncode == 143, batch.stderr
    assert batch.stderr == f"stopped: {written} report{'s' if written != 1 else ''} written, rerun to finish\n"
    assert not survivors(processes), "workers or report templates of the stopped batch live on"
    check_folder(out, after_kill=False)
