"""Running, killing and checking ``salesnb report`` batches: shared by the
fault tests (test_faults*.py; a helper module like ``batches.py``: no test
imports another test module).

A batch runs as a subprocess in a process group of its own (:func:`start`);
:func:`kill_batch` SIGKILLs the whole group at a moment chosen by a mode;
:func:`check_folder` asserts every file an output folder holds is whole, and
:func:`assert_complete` that a batch ran to its end. ``SALESNB_FAULT_SEED=<n>``
replays another sequence of random kills.
"""

from __future__ import annotations

import contextlib
import html.parser
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from batches import FIXTURE_NOTEBOOKS, REPS

import salesnb.run.batch as report_module
from salesnb import atomic

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


def pages_written_since(out: Path, since_ns: int) -> int:
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


def temporaries_now(out: Path) -> bool:
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
        ready = lambda: pages_written_since(out, batch.started_ns) >= plan["after_pages"]  # noqa: E731
    elif mode == "write":  # (if polling never sees one, the kill comes at 1.5 x expected)
        ready = lambda: temporaries_now(out) or time.monotonic() - batch.started > 1.5 * expected  # noqa: E731
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


def read_manifest(out: Path) -> dict:
    return json.loads((out / report_module.MANIFEST).read_text(encoding="utf-8"))
