"""Faults: a report batch killed at any moment, two batches on one folder, an
output folder that cannot be written, a notebook that raises.

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

"Full disk" is real where the container allows it: a tiny tmpfs (mount),
a read-only bind mount, RLIMIT_FSIZE, a file where the folder should be,
/proc and /sys; ENOSPC in the middle of one report's write is injected
in-process. Each must end with exit 1 and one clear paragraph naming the
folder and what to do, never a traceback, and leave no partial file.
"""

from __future__ import annotations

import contextlib
import errno
import html.parser
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from batches import FIXTURE_NOTEBOOKS, REPS, write_source
from batches import fake_execute as _fake_execute
from click.testing import CliRunner
from nbformat.v4 import new_code_cell

import salesnb.run.batch as report_module
import salesnb.run.execute as execute_module
from salesnb import atomic
from salesnb.cli import cli
from salesnb.errors import OutputError

SEED = int(os.environ.get("SALESNB_FAULT_SEED", "20260105"))
REAL_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SALESNB = Path(sys.executable).parent / "salesnb"
# The fixture source without the rep whose notebook raises: a complete rerun exits 0.
CALM_REPS = [r if r[0] != "R3" else ("R3", "Carl", "East", "Alpha") for r in REPS]
FIXTURE_ARGS = ("--period", "2026-Q1", "--as-of", "2026-04-02", "--notebooks", FIXTURE_NOTEBOOKS)
N_FIXTURE_REPORTS = 1 + 1 + len(CALM_REPS)  # data quality, team Alpha, one per rep
STATE = report_module.STATE_DIR


def salesnb_report(*args) -> list[str]:
    program = [str(SALESNB)] if SALESNB.is_file() else [sys.executable, "-c", "from salesnb.cli import main; main()"]
    return [*program, "report", *map(str, args), "--no-progress"]


# -- running and killing a batch ----------------------------------------------------------


@dataclass
class Batch:
    """A ``salesnb report`` subprocess, leader of its own process group."""

    proc: subprocess.Popen
    started: float
    started_ns: int
    logs: Path

    @property
    def stdout(self) -> str:
        return (self.logs / "stdout").read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return (self.logs / "stderr").read_text(encoding="utf-8", errors="replace")


def start(args, logs: Path, **popen) -> Batch:
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stdout", "wb") as out, open(logs / "stderr", "wb") as err:
        started_ns = time.time_ns()
        proc = subprocess.Popen(
            salesnb_report(*args), stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True, **popen
        )
    return Batch(proc, time.monotonic(), started_ns, logs)


def finish(batch: Batch, timeout: float = 300) -> Batch:
    try:
        batch.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(batch.proc.pid, signal.SIGKILL)
        batch.proc.wait()
        pytest.fail(f"salesnb report did not finish in {timeout} s; stderr:\n{batch.stderr}")
    return batch


def _proc_stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, start time) of a live process, else None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0], int(fields[19])


def descendants(pid: int) -> dict[int, int]:
    """Every live descendant of ``pid``: {pid: start time} (start time guards against PID reuse)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None and stat[1] not in "ZX":
                children.setdefault(stat[0], []).append(int(entry))
                starts[int(entry)] = stat[2]
    found, stack = {}, [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found[child] = starts[child]
            stack.append(child)
    return found


def survivors(processes: dict[int, int], timeout: float = 10.0) -> list[int]:
    """The processes still alive (not zombies) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [
            pid
            for pid, started in processes.items()
            if (stat := _proc_stat(pid)) is not None and stat[1] not in "ZX" and stat[2] == started
        ]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _pages_written_since(out: Path, since_ns: int) -> int:
    """Pages written since ``since_ns``, while the batch writes and removes
    folders (its data cache) under ``out``: a folder gone mid-walk is skipped."""
    count = 0
    for folder, _, files in os.walk(out):  # os.walk ignores a folder that vanishes; Path.rglob raises
        for name in files:
            if name.endswith(".html") and name != report_module.INDEX:
                with contextlib.suppress(OSError):
                    if os.stat(os.path.join(folder, name)).st_mtime_ns >= since_ns:
                        count += 1
    return count


def _temporaries_now(out: Path) -> bool:
    for folder in (out, out / "reps", out / "teams", out / report_module.FAILED_DIR):
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            if any(atomic.is_temporary(e.name) for e in entries):
                return True
    return False


def kill_batch(batch: Batch, out: Path, mode: str, rng: random.Random, *, expected: float = 8.0, max_pages: int = 4) -> dict:
    """SIGKILL the batch's whole process group at a moment chosen by ``mode``:

    - ``time``: a random delay after the start, up to ``expected`` (how long a whole batch took last);
    - ``page``: just after the k-th page of this run was written (k from 1 to ``max_pages``), plus up to 0.3 s;
    - ``write``: the moment a temporary file of an atomic write is seen.
    """
    plan = {"mode": mode}
    if mode == "time":
        plan["delay"] = round(rng.uniform(0.05, 1.0) * expected, 3)
        ready = lambda: time.monotonic() - batch.started >= plan["delay"]  # noqa: E731
    elif mode == "page":
        plan["after_pages"], plan["jitter"] = rng.randint(1, max_pages), round(rng.uniform(0.0, 0.3), 3)
        ready = lambda: _pages_written_since(out, batch.started_ns) >= plan["after_pages"]  # noqa: E731
    elif mode == "write":  # (if polling never sees one, the kill comes at 1.5 x expected)
        ready = lambda: _temporaries_now(out) or time.monotonic() - batch.started > 1.5 * expected  # noqa: E731
    else:
        raise ValueError(mode)
    deadline = batch.started + 120
    while not ready() and batch.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002 if mode == "write" else 0.01)
    if mode == "page" and batch.proc.poll() is None:
        time.sleep(plan["jitter"])
    processes = descendants(batch.proc.pid)
    finished_first = batch.proc.poll() is not None
    at = time.monotonic() - batch.started
    with contextlib.suppress(ProcessLookupError):
        os.killpg(batch.proc.pid, signal.SIGKILL)
    batch.proc.wait()
    left = survivors(processes)
    assert not left, f"processes of the killed batch live on: {left}"
    return dict(
        plan,
        at=round(at, 3),
        pid=batch.proc.pid,
        processes=len(processes),
        outcome="finished before the kill" if finished_first else "killed",
        returncode=batch.proc.returncode,
    )


# -- what a folder may hold ------------------------------------------------------------------


class _Strict(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.saw_html = False

    def handle_starttag(self, tag, attrs):
        self.saw_html |= tag == "html"


def assert_whole_page(path: Path) -> None:
    text = path.read_text(encoding="utf-8")  # a cut multi-byte character would raise here
    assert text.lstrip().lower().startswith("<!doctype html"), f"{path} does not start like a page"
    assert text.rstrip().endswith("</html>"), f"{path} is cut short"
    parser = _Strict()
    parser.feed(text)
    parser.close()
    assert parser.saw_html and text.count("</html>") == 1, path


def check_folder(out: Path, *, after_kill: bool) -> dict:
    """Every file in ``out`` whole. Returns what was found: pages, temporaries, cache files.

    After a kill, hidden temporaries (atomic.py's naming) and the batch's data
    cache may be left; anything else must be a whole page, manifest, index,
    failed notebook or the (empty or PID-holding) lock file.
    """
    found = {"pages": 0, "temporaries": [], "state": [], "manifest": None}
    if not out.exists():
        return found
    for path in sorted(out.rglob("*")):
        relative = path.relative_to(out).as_posix()
        assert not path.is_symlink(), relative
        if path.is_dir():
            continue
        if atomic.is_temporary(path.name):
            found["temporaries"].append(relative)
        elif relative.startswith(f"{STATE}/"):
            found["state"].append(relative)
            if path.name.endswith(".dataset.pickle"):  # written atomically: whole, or absent
                import pickle

                with open(path, "rb") as handle:
                    pickle.load(handle)
        elif relative == report_module.LOCK:
            assert path.read_text().strip().isdigit() or path.read_text() == "", "the lock file holds a PID or nothing"
        elif relative == report_module.MANIFEST:
            found["manifest"] = json.loads(path.read_text(encoding="utf-8"))
            assert isinstance(found["manifest"]["reports"], list)
        elif path.suffix == ".html":
            assert_whole_page(path)
            found["pages"] += relative != report_module.INDEX
        elif relative.startswith(f"{report_module.FAILED_DIR}/") and path.suffix == ".ipynb":
            nbformat.read(path, as_version=4)
        else:
            pytest.fail(f"unexpected file in the output folder: {relative}")
    if found["manifest"] is not None:  # what the manifest (and so the index) links to is there
        for entry in found["manifest"]["reports"]:
            if entry["status"] in ("ok", "skipped") and entry.get("html"):
                assert (out / entry["html"]).is_file(), f"the manifest lists {entry['html']}, which is gone"
    if not after_kill:
        assert not found["temporaries"] and not found["state"], found
    return found


def assert_complete(out: Path, batch: Batch, *, reports: int, exit_code: int = 0) -> dict:
    """The batch ran to its end: its exit code, every report listed, present and whole."""
    assert batch.proc.returncode == exit_code, batch.stderr
    assert "Traceback" not in batch.stderr and "another salesnb report batch" not in batch.stderr, batch.stderr
    found = check_folder(out, after_kill=False)
    manifest = found["manifest"]
    assert manifest is not None and len(manifest["reports"]) == reports
    index = (out / report_module.INDEX).read_text(encoding="utf-8")
    for entry in manifest["reports"]:
        if entry["status"] != "failed":
            assert (out / entry["html"]).is_file() and f'href="{entry["html"]}"' in index, entry["id"]
    assert not (out / STATE).exists()
    pages = {p.relative_to(out).as_posix() for p in out.rglob("*.html")} - {report_module.INDEX}
    assert pages == {e["html"] for e in manifest["reports"] if e.get("html")}, "a page the manifest does not list"
    return manifest


@pytest.fixture
def fault_log(record_property):
    """Every injected fault, printed at the end of the test and recorded for the junit report."""
    log: list[dict] = []
    yield log
    record_property("faults", json.dumps(log))
    print(f"\n{len(log)} faults injected (seed {SEED}):")
    for number, fault in enumerate(log, 1):
        print(f"  {number}. {json.dumps(fault, sort_keys=True)}")


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
                assert lock.read_text().strip() == str(batch.proc.pid)  # a stale lock, naming the dead batch
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


def read_manifest(out: Path) -> dict:
    return json.loads((out / report_module.MANIFEST).read_text(encoding="utf-8"))


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


# -- SIGKILL and a raising notebook, real notebooks ---------------------------------------------

POISON = "salesnb_poison_flag"


def poisoned_notebooks(folder: Path, rep_id: str, flag: Path) -> Path:
    """A copy of the real notebooks whose rep report raises for ``rep_id`` while ``flag`` exists."""
    shutil.copytree(REAL_NOTEBOOKS, folder)
    nb = nbformat.read(folder / "rep_coaching.ipynb", as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])) + 1
    nb.cells.insert(
        at,
        new_code_cell(
            f"import os\nif rep_id == {rep_id!r} and os.path.exists({str(flag)!r}):\n"
            f"    raise RuntimeError('poisoned report for ' + rep_id)"
        ),
    )
    nbformat.write(nb, folder / "rep_coaching.ipynb")
    return folder


@pytest.mark.slow
def test_real_notebooks_killed_then_a_raising_report_fails_alone(tmp_path, fault_log):
    """The real notebooks on a small generated source (two reps, one team):
    killed once mid-batch; the rerun completes, with the poisoned rep's
    report failed (exit 1, its notebook kept) and every other report whole.
    (That a failed report, and only it, runs again once its cause is gone:
    test_report.test_unchanged_reports_are_skipped_and_force_renders_them.)"""
    from salesnb.io.sample import generate

    rng = random.Random(SEED + 1)
    source = tmp_path / "src"
    generate(source, seed=3, reps=2, months=4, end="2025-12-31")
    team = (source / "reps.csv").read_text(encoding="utf-8").splitlines()[1].split(",")[3]
    flag = tmp_path / POISON
    flag.write_text("on")
    notebooks = poisoned_notebooks(tmp_path / "notebooks", "R02", flag)
    out = tmp_path / "out"
    args = (
        source,
        "--period",
        "2025-Q4",
        "--as-of",
        "2026-01-05",
        "--out",
        out,
        "--notebooks",
        notebooks,
        "--rep",
        "R01",
        "--rep",
        "R02",
        "--team",
        team,
        "--jobs",
        2,
    )

    batch = start(args, tmp_path / "logs" / "kill")
    fault = kill_batch(batch, out, "page", rng, max_pages=2)  # it writes 3 pages (one report fails)
    found = check_folder(out, after_kill=True)
    fault.update(
        run="real notebooks", pages=found["pages"], temporaries_left=found["temporaries"], cache_files_left=len(found["state"])
    )
    fault_log.append(fault)

    rerun = finish(start(args, tmp_path / "logs" / "rerun"))
    manifest = assert_complete(out, rerun, reports=5, exit_code=1)  # data quality, the team, the forecast review, two reps
    statuses = {(e["kind"], e["key"]): e["status"] for e in manifest["reports"]}
    assert statuses.pop(("rep_coaching", "R02")) == "failed"
    assert set(statuses.values()) <= {"ok", "skipped"} and ("rep_coaching", "R01") in statuses
    failed = next(e for e in manifest["reports"] if e["key"] == "R02")
    assert failed["error"].startswith("RuntimeError: poisoned report for R02") and failed["html"] is None
    kept = nbformat.read(out / failed["failed_notebook"], as_version=4)
    assert any(o.get("output_type") == "error" for c in kept.cells for o in c.get("outputs", []))
    assert rerun.stderr.count("failed: ") == 1 and "poisoned report for R02" in rerun.stderr
    assert "1 failed" in rerun.stdout
    fault["rerun"] = {"exit": rerun.proc.returncode, **manifest["counts"]}


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


# -- folders that cannot be written ------------------------------------------------------------------


def assert_clear_error(batch: Batch, folder: Path, *phrases: str) -> str:
    """Exit 1 and one paragraph on stderr, naming ``folder`` and saying what to do; no traceback."""
    assert batch.proc.returncode == 1, (batch.stdout, batch.stderr)
    stderr = batch.stderr
    assert "Traceback" not in stderr and "[Errno" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write the reports to {folder}: "), stderr
    assert "--out" in lines[0] and "run the same command again" in lines[0], stderr
    for phrase in phrases:
        assert phrase in lines[0], stderr
    return lines[0]


def fixture_batch(tmp_path: Path, out: Path, name: str, **popen) -> Batch:
    source = tmp_path / "src"
    if not source.exists():
        write_source(source, CALM_REPS)
    return finish(
        start(
            (source, *FIXTURE_ARGS, "--out", out, "--rep", "R1", "--team", "Alpha", "--jobs", 1),
            tmp_path / "logs" / name,
            **popen,
        )
    )


def test_out_below_a_file_or_where_nothing_may_be_written(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    cases = [
        (tmp_path / "a-file" / "reports", f"{tmp_path / 'a-file'} is a file, not a folder"),  # NotADirectoryError
        (tmp_path / "a-file", f"{tmp_path / 'a-file'} is a file, not a folder"),  # FileExistsError
        (Path(f"/proc/salesnb-{uuid.uuid4().hex[:8]}"), ""),  # not writable, even by root
        (Path(f"/sys/salesnb-{uuid.uuid4().hex[:8]}"), ""),
        (Path("/proc/self/salesnb"), ""),
    ]
    for number, (out, phrase) in enumerate(cases):
        batch = fixture_batch(tmp_path, out, f"case-{number}")
        shown = out if not str(out).startswith("/proc/self/") else Path(f"/proc/{batch.proc.pid}/salesnb")
        assert_clear_error(batch, shown, phrase)
    assert (tmp_path / "a-file").read_text() == "not a folder"


@contextlib.contextmanager
def mounted(target: Path, *args: str):
    """``mount *args target``, unmounted afterwards; skips when mounting is not permitted."""
    target.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here (not permitted in this container?): {done.stderr.strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def test_read_only_bind_mount(tmp_path):
    writable = tmp_path / "writable"
    (writable / "existing").mkdir(parents=True)
    with mounted(tmp_path / "ro", "--bind", "-o", "ro", str(writable)) as ro:
        with pytest.raises(OSError):
            (ro / "probe").write_text("x")  # read-only even for root
        assert_clear_error(fixture_batch(tmp_path, ro / "reports", "ro-new"), ro / "reports", "read-only file system")
        assert_clear_error(
            fixture_batch(tmp_path, ro / "existing", "ro-existing"),
            ro / "existing",
            "read-only file system",
            "while writing .salesnb.lock",
        )
    assert sorted(p.name for p in writable.rglob("*")) == ["existing"]


@pytest.mark.slow
@pytest.mark.parametrize("free_kib", [0, 4, 16])
def test_a_full_disk_gives_a_clear_error_and_no_partial_file(tmp_path, free_kib):
    """A 64 KiB tmpfs filled up but for ``free_kib``: full at the lock, at the
    data cache, after some pages (ENOSPC in one page: see the in-process tests)."""
    with mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs") as disk:
        ballast = disk / "ballast"
        with open(ballast, "wb") as handle:
            with contextlib.suppress(OSError):
                handle.write(b"\0" * ((64 - free_kib) * 1024))
        out = disk / "reports"
        batch = fixture_batch(tmp_path, out, f"full-{free_kib}")
        line = assert_clear_error(
            batch, out, "the disk is full (no space left on device)", "Free some space there, or choose another --out folder"
        )
        found = check_folder(out, after_kill=False)
        assert found["manifest"] is None  # it could not be written, and there was none before
        assert not (out / report_module.INDEX).exists()
        print(f"free {free_kib} KiB: {found['pages']} pages written; {line}")
        if free_kib == 16:  # space again: the same command now completes
            ballast.unlink()
            assert_complete(out, fixture_batch(tmp_path, out, f"full-{free_kib}-rerun"), reports=3)


@pytest.mark.slow
def test_a_file_size_limit_gives_a_clear_error(tmp_path):
    """RLIMIT_FSIZE (``ulimit -f``) with SIGXFSZ ignored: writes past it fail with EFBIG."""

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))  # the lock file fits, the data cache does not

    out = tmp_path / "out"
    batch = fixture_batch(tmp_path, out, "fsize", preexec_fn=limit)
    assert_clear_error(batch, out, "larger than this process may write (see `ulimit -f`)")
    check_folder(out, after_kill=False)


# -- ENOSPC in the middle of one report, in-process --------------------------------------------------


def _calm_execute(job, capture):
    """test_report's stand-in for papermill, without its failure for R3."""
    import dataclasses

    return _fake_execute(dataclasses.replace(job, key=f"{job.key} (calm)") if job.key == "R3" else job, capture)


@pytest.fixture
def no_kernel(monkeypatch):
    monkeypatch.setattr(execute_module, "_execute", _calm_execute)
    monkeypatch.setattr(report_module, "_require_kernel", lambda name: None)


@contextlib.contextmanager
def disk_full_while_writing(monkeypatch, matches):
    """Files whose path ``matches`` get half their bytes written, then ENOSPC."""
    real_fdopen = os.fdopen
    hits: list[str] = []

    class HalfWritten:
        def __init__(self, handle, path):
            self._handle, self._path = handle, path

        def write(self, data):
            self._handle.write(data[: len(data) // 2])
            self._handle.flush()
            hits.append(self._path)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self._handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self._handle.__exit__(*exc)

    def fdopen(fd, *args, **kwargs):
        handle = real_fdopen(fd, *args, **kwargs)
        with contextlib.suppress(OSError):
            path = os.readlink(f"/proc/self/fd/{fd}")
            if matches(path):
                return HalfWritten(handle, path)
        return handle

    monkeypatch.setattr(os, "fdopen", fdopen)
    yield hits
    monkeypatch.setattr(os, "fdopen", real_fdopen)


def test_enospc_writing_one_report_fails_that_report_with_a_clear_error(no_kernel, tmp_path, monkeypatch):
    source = write_source(tmp_path / "src", CALM_REPS)
    out = tmp_path / "out"
    with disk_full_while_writing(monkeypatch, lambda path: "/reps/.r1-" in path) as hits:
        result = report_module.run_batch(source, period="2026-Q1", as_of="2026-04-02", out=out, notebooks=FIXTURE_NOTEBOOKS)
    assert hits and result.exit_code == 1
    assert result.counts == {"ok": N_FIXTURE_REPORTS - 1, "failed": 1, "skipped": 0}
    failed = result.failed[0]
    assert failed["key"] == "R1" and failed["html"] is None
    assert failed["error"].startswith(
        f"OutputError: cannot write the reports to {out.resolve()}: the disk is full "
        f"(no space left on device) while writing reps/r1-"
    )
    found = check_folder(out, after_kill=False)  # no temporary left, no half page
    assert found["pages"] == N_FIXTURE_REPORTS - 1
    assert not list((out / "reps").glob("r1-*"))
    assert "the disk is full" in (out / report_module.INDEX).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [report_module.MANIFEST, report_module.INDEX])
def test_enospc_writing_the_manifest_or_index_is_one_clear_error(no_kernel, tmp_path, monkeypatch, name):
    source = write_source(tmp_path / "src", CALM_REPS)
    out = tmp_path / "out"
    with disk_full_while_writing(monkeypatch, lambda path: f"/.{name}." in path):
        with pytest.raises(OutputError) as raised:
            report_module.run_batch(source, period="2026-Q1", as_of="2026-04-02", out=out, notebooks=FIXTURE_NOTEBOOKS)
        assert str(raised.value) == (
            f"cannot write the reports to {out.resolve()}: the disk is full (no space left on device) "
            f"while writing {name}. "
            "Free some space there, or choose another --out folder, then run the same command again; the reports "
            "written so far are kept, and the rerun renders only what is missing."
        )
        cli_run = CliRunner().invoke(
            cli,
            [
                "report",
                str(source),
                "--period",
                "2026-Q1",
                "--as-of",
                "2026-04-02",
                "--out",
                str(out),
                "--notebooks",
                str(FIXTURE_NOTEBOOKS),
                "--force",
                "--no-progress",
            ],
        )
    assert cli_run.exit_code == 1 and cli_run.output == f"error: {raised.value}\n"
    found = check_folder(out, after_kill=False)  # no temporary, no data cache left behind
    assert found["pages"] == N_FIXTURE_REPORTS
    assert (found["manifest"] is None) == (name == report_module.MANIFEST)
    # space again: the rerun keeps the pages and renders nothing
    rerun = report_module.run_batch(source, period="2026-Q1", as_of="2026-04-02", out=out, notebooks=FIXTURE_NOTEBOOKS)
    assert rerun.exit_code == 0
    expected_skipped = 0 if name == report_module.MANIFEST else N_FIXTURE_REPORTS
    assert rerun.counts["skipped"] == expected_skipped


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
    while _pages_written_since(out, batch.started_ns) < 1 and batch.proc.poll() is None and time.monotonic() < deadline:
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

# `salesnb report` with test_report's fake execution, a quarter second per report: the
# batch's own stop path (signal, manifest, message, exit code) in a real process, in seconds.
_SLOW_FAKE = """
import sys, time
sys.path.insert(0, {tests!r})
import salesnb.run.batch as report
import salesnb.run.execute as execute
from batches import fake_execute as _fake_execute
def slow(job, capture):
    time.sleep(0.25)
    return _fake_execute(job, capture)
execute._execute = slow
report._require_kernel = lambda name: None
from salesnb.cli import main
sys.argv = ["salesnb", *sys.argv[1:]]
main()
"""
# R3's fake report fails: left out, so a finished rerun exits 0. Five reps more: 11 reports.
STOPPABLE_REPS = [r for r in REPS if r[0] != "R3"] + [(f"S{i}", f"Sam {i}", "North", "Alpha") for i in range(5)]


def _fake_batch(source: Path, out: Path, logs: Path) -> Batch:
    logs.mkdir(parents=True, exist_ok=True)
    program = _SLOW_FAKE.format(tests=str(Path(__file__).resolve().parent))
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
    while _pages_written_since(out, batch.started_ns) < pages and batch.proc.poll() is None:
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

    rerun = finish(_fake_batch(source, out, tmp_path / "logs" / "rerun"), timeout=120)
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
