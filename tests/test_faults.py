"""Faults: a report batch SIGKILLed at any moment, a writer killed mid-write,
two batches on one folder, a raising notebook among the real ones.

The kill tests start ``salesnb report`` in a process group of its own and
SIGKILL the whole group (the CLI, its worker pool, the warm report
templates) at seeded random moments: after a random delay, just after the
k-th page was written, or the moment a temporary file shows up (the middle
of an atomic write). After every kill the folder must hold no partial file:
each page, manifest and index is whole, the only leftovers allowed are
atomic.py's hidden temporaries and the batch's data cache, and no process
of the batch lives on. The next run must not be blocked by the dead
batch's lock, must remove those leftovers and, run to the end, must leave
every report present and complete. ``SALESNB_FAULT_SEED=<n>`` replays
another sequence; every kill is printed and recorded (``record_property``).

The helpers are in ``faults.py``; the suite's fault tests are split over
test_faults.py (this file), test_faults_real.py (real notebooks),
test_faults_disk.py (folders that cannot be written) and test_faults_stop.py
(the batch process alone killed, SIGTERM, Ctrl-C), so that pytest-xdist's two
workers share them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from batches import write_source
from faults import (
    CALM_REPS,
    FIXTURE_ARGS,
    N_FIXTURE_REPORTS,
    SEED,
    STATE,
    assert_complete,
    check_folder,
    finish,
    kill_batch,
    read_manifest,
    start,
)

import salesnb.run.batch as report_module
from salesnb import atomic

# -- SIGKILL at random moments, fixture notebooks ------------------------------------------------


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_no_partial_file_and_a_rerun_completes(tmp_path, fault_log):
    """Six kills in two rounds, each ending with a rerun (no --force) that
    runs to the end: round 1 (two worker processes) kills a fresh batch,
    then the rerun after it; round 2 (reports in the CLI's own process)
    kills two --force rewrites of a complete folder, then a batch on
    changed data, then the rerun after that."""
    rng = random.Random(SEED)
    source = write_source(tmp_path / "src", CALM_REPS)
    out = tmp_path / "out"
    modes = ["time", "page", "write", "time", "page", "write"]
    rng.shuffle(modes)
    rounds = [[(), ()], [("--force",), ("--force",), ("new data",), ()]]
    fingerprints, expected = [], 8.0
    for number, runs in enumerate(rounds, 1):
        # round 1: a pool of two worker processes; round 2: reports run in the CLI's own process
        args = (source, *FIXTURE_ARGS, "--out", out, "--jobs", 3 - number)
        for extra in runs:
            if extra == ("new data",):  # every report must be rendered again
                with open(source / "opportunities.csv", "a", encoding="utf-8") as handle:
                    handle.write("O99,R1,C9,2026-01-11,,open,5\n")
                extra = ()
            batch = start((*args, *extra), tmp_path / "logs" / f"kill-{len(fault_log)}")
            fault = kill_batch(batch, out, modes[len(fault_log)], rng, expected=expected)
            found = check_folder(out, after_kill=True)
            fault.update(
                run=f"round {number}, --jobs {3 - number}" + (" --force" if extra else ""),
                pages=found["pages"],
                temporaries_left=found["temporaries"],
                cache_files_left=len(found["state"]),
            )
            fault_log.append(fault)
            lock = out / report_module.LOCK
            if lock.exists() and lock.read_text().strip():
                # a stale lock names a dead batch: this one, or, when the kill came before it took
                # the lock (a "time" kill in its first few milliseconds), the one killed before it
                named = int(lock.read_text().strip())
                assert named in {f["pid"] for f in fault_log} and not os.path.exists(f"/proc/{named}"), named
                if fault["outcome"] == "killed" and fault.get("at", 1.0) > 1.0:
                    assert named == batch.proc.pid  # killed well after its start: it held the lock
        rerun = finish(start(args, tmp_path / "logs" / f"rerun-{number}"))
        expected = time.monotonic() - rerun.started
        manifest = assert_complete(out, rerun, reports=N_FIXTURE_REPORTS)
        assert manifest["counts"]["failed"] == 0
        fault_log[-1]["rerun"] = {"exit": rerun.proc.returncode, **manifest["counts"]}
        fingerprints.append(manifest["data_fingerprint"])
    assert len(fault_log) == 6
    # the data changed before the last kills: every report now shows the new data
    assert fingerprints[0] != fingerprints[1]
    assert {e["data_fingerprint"] for e in read_manifest(out)["reports"]} == {fingerprints[1]}
    # the kills did land inside batches (the seed is fixed; a change of timing may move one, not all)
    assert sum(f["outcome"] == "killed" for f in fault_log) >= 4, fault_log


def test_a_writer_killed_mid_write_leaves_the_old_file_and_the_next_batch_tidies_up(tmp_path):
    """SIGKILL inside atomic_open: the target keeps its old content; the only
    trace is a hidden temporary (a dead process cannot remove it), which the
    next batch removes when it takes the lock, with the dead writer's stale lock."""
    out = tmp_path / "out"
    (out / "reps").mkdir(parents=True)
    page = out / "reps" / "r1.html"
    page.write_text("<!DOCTYPE html><html>old</html>\n")
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "from salesnb import atomic\n"
            "fd = os.open(sys.argv[2], os.O_RDWR | os.O_CREAT, 0o644)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, f'{os.getpid()}\\n'.encode())\n"
            "with atomic.atomic_open(sys.argv[1]) as handle:\n"
            "    handle.write('<!DOCTYPE html><html>new, half writ'); handle.flush()\n"
            "    print('inside', flush=True); time.sleep(60)\n",
            str(page),
            str(out / report_module.LOCK),
        ],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert writer.stdout.readline().strip() == "inside"
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait()
    assert page.read_text() == "<!DOCTYPE html><html>old</html>\n"
    left = [p.name for p in (out / "reps").iterdir() if p.name != "r1.html"]
    assert len(left) == 1 and atomic.is_temporary(left[0]) and left[0].startswith(".r1.html.")
    assert (out / report_module.LOCK).read_text().strip() == str(writer.pid)
    (out / STATE / "cache" / "0123456789abcdef").mkdir(parents=True)  # a killed batch's data cache
    (out / STATE / "cache" / "0123456789abcdef" / "x.dataset.pickle").write_bytes(b"\x80")
    (out / "reps" / ".notes.tmp").write_text("not atomic.py's: stays")

    with report_module.batch_lock(out):  # the dead writer's lock does not block
        assert (out / report_module.LOCK).read_text().strip() == str(os.getpid())
        assert sorted(p.name for p in (out / "reps").iterdir()) == [".notes.tmp", "r1.html"]
        assert not (out / STATE).exists()


# -- two batches at once ---------------------------------------------------------------------------


@pytest.mark.slow
def test_two_batches_started_at_once_one_runs_the_other_is_refused(tmp_path):
    source = write_source(tmp_path / "src", CALM_REPS)
    out = tmp_path / "out"
    args = (source, *FIXTURE_ARGS, "--out", out, "--rep", "R1", "--team", "Alpha", "--jobs", 1)
    first, second = (start(args, tmp_path / "logs" / name) for name in ("a", "b"))
    finish(first), finish(second)
    codes = sorted((first.proc.returncode, second.proc.returncode))
    assert codes == [0, 1], (first.stderr, second.stderr)
    winner, loser = (first, second) if first.proc.returncode == 0 else (second, first)
    message = loser.stderr.strip()
    assert message == (
        f"error: another salesnb report batch (PID {winner.proc.pid}) is writing to {out}; "
        f"wait for it to finish, or write to another --out folder (lock: {out / report_module.LOCK})"
    )
    assert loser.stdout == ""
    assert_complete(out, winner, reports=3)
