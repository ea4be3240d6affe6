"""Faults: an output folder that cannot be written.

"Full disk" is real where the container allows it: a tiny tmpfs (mount),
a read-only bind mount, RLIMIT_FSIZE, a file where the folder should be,
/proc and /sys; ENOSPC in the middle of one report's write is injected
in-process. Each must end with exit 1 and one clear paragraph naming the
folder and what to do, never a traceback, and leave no partial file.
(The helpers: ``faults.py``.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from batches import FIXTURE_NOTEBOOKS, write_source
from batches import fake_execute as _fake_execute
from click.testing import CliRunner
from faults import (
    CALM_REPS,
    FIXTURE_ARGS,
    N_FIXTURE_REPORTS,
    Batch,
    assert_complete,
    check_folder,
    finish,
    start,
)

import salesnb.run.batch as report_module
import salesnb.run.execute as execute_module
from salesnb.cli import cli
from salesnb.errors import OutputError

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
    """A 128 KiB tmpfs filled up but for ``free_kib``: full at the lock, at the
    data cache, after some pages (ENOSPC in one page: see the in-process tests).
    Emptied, it holds the whole batch: its data cache (about 53 KiB with the batch
    tables the rep pages read since issue #16's session 10) and its pages."""
    with mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=128k,mode=0755", "tmpfs") as disk:
        ballast = disk / "ballast"
        with open(ballast, "wb") as handle:
            with contextlib.suppress(OSError):
                handle.write(b"\0" * ((128 - free_kib) * 1024))
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
