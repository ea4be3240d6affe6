"""The output folder a batch owns: its lock, its manifest, its clean-up.

Two batches never write one folder at once (:func:`batch_lock`); a batch
killed outright leaves temporary files and its data cache, which the next
one removes; a folder that cannot be written becomes an
:class:`~salesnb.errors.OutputError` that says which folder and what to do.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from salesnb import atomic
from salesnb.errors import InputError, OutputError
from salesnb.run.plan import FAILED_DIR, KINDS, ReportJob

__all__ = [
    "MANIFEST",
    "INDEX",
    "LOCK",
    "STATE_DIR",
    "OutputFolderBusy",
    "batch_lock",
    "check_out_dir",
    "previous_manifest",
    "outputs_of",
    "remove_stale",
    "remove_state",
    "cannot_write",
]

MANIFEST = "manifest.json"
INDEX = "index.html"
LOCK = ".salesnb.lock"
STATE_DIR = ".salesnb"  # DIR/.salesnb/: the batch's data cache and plan, removed when it ends


class OutputFolderBusy(InputError):
    """Another batch is writing the same output folder."""


def previous_manifest(out_dir: Path) -> dict:
    try:
        previous = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(previous, dict) or not isinstance(previous.get("reports"), list):
        return {}
    return previous


def outputs_of(entries: Iterable[dict]) -> set[str]:
    return {p for e in entries for p in (e.get("html"), e.get("failed_notebook")) if isinstance(p, str)}


def remove_stale(out_dir: Path, planned: list[ReportJob], reports: list[dict], previous: set[str]) -> None:
    """Remove what this batch did not produce or keep but an earlier one did:
    reports listed in the previous manifest, and the old HTML of a report
    that failed or was skipped now (a stale page must not pass for this
    batch's)."""
    produced = outputs_of(reports)
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


def remove_state(out_dir: Path, cache_dir: str) -> None:
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
_OWN_NAMES = (
    LOCK,
    STATE_DIR,
    MANIFEST,
    INDEX,
    FAILED_DIR,
    *(f"{kind}.html" for kind, (_, folder, _) in KINDS.items() if not folder),
    *(folder for _, folder, _ in KINDS.values() if folder),
)


def check_out_dir(out_dir: Path, source, mapping, expectations=None) -> None:
    """Refuse an output folder salesnb must not write (see :mod:`salesnb.run.outputs`):
    an input, ``/``, home, a folder of someone else's files, a planted symlink."""
    from salesnb.run.outputs import check_no_symlinks, check_output_folder, source_inputs

    check_output_folder(out_dir, inputs=source_inputs(source, mapping=mapping, expectations=expectations), manifest=MANIFEST)
    if out_dir.is_dir():
        for name in _OWN_NAMES:
            check_no_symlinks(out_dir, name)


@contextmanager
def batch_lock(out_dir: Path):
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
        raise cannot_write(exc, out_dir) from None
    try:
        import fcntl
    except ImportError:  # no flock (Windows): no protection against a second batch
        yield
        return
    path = out_dir / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        raise cannot_write(exc, out_dir, LOCK) from None
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
            raise cannot_write(exc, out_dir, LOCK) from None
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
        if caches:  # imported only then: importing it installs the cache in the loader (pandas)
            from salesnb.run import cache

            for folder in caches:
                cache.clear(folder)
        for folder in (state / "cache", state):
            folder.rmdir()
    except OSError:
        pass  # not there, not empty (plan.json of a scheduler's batch), or not ours to remove


_CANNOT_WRITE = {  # errno -> (what is wrong, what to do)
    getattr(errno, name): reason
    for name, reason in {
        "ENOSPC": ("the disk is full (no space left on device)", "free some space there, or choose another --out folder"),
        "EDQUOT": ("the disk quota is used up", "free some space there, or choose another --out folder"),
        "EFBIG": (
            "a file would be larger than this process may write (see `ulimit -f`)",
            "raise the file size limit, or choose another --out folder",
        ),
        "EROFS": ("it is on a read-only file system", "choose a folder on a writable disk as --out"),
        "EACCES": ("permission denied", "choose an --out folder you may write to, or get write permission for it"),
        "EPERM": ("the system does not allow writing there", "choose an --out folder you may write to"),
        "ENOENT": ("the folder cannot be created there", "choose an --out folder on a normal disk"),
    }.items()
    if hasattr(errno, name)
}


def cannot_write(exc: OSError, out_dir: Path, what: str | None = None, *, note: str = "") -> OutputError:
    """One paragraph for an OSError met writing into ``out_dir``: which folder,
    what is wrong, what to do. ``what`` is the file being written, relative to it."""
    code = getattr(exc, "errno", None)
    blocker = _file_in_the_way(out_dir) if code in (errno.ENOTDIR, errno.EEXIST) else None
    if blocker is not None:
        why, advice = f"{blocker} is a file, not a folder", "choose another --out folder, or move that file away"
    else:
        why, advice = _CANNOT_WRITE.get(code, (exc.strerror or str(exc), "check the folder, or choose another --out folder"))
    doing = f" while writing {what}" if what else ""
    return OutputError(
        f"cannot write the reports to {out_dir}: {why}{doing}. {advice[0].upper()}{advice[1:]}, "
        f"then run the same command again{note}."
    )


def _file_in_the_way(out_dir: Path) -> Path | None:
    for folder in (out_dir, *out_dir.parents):
        if folder.exists() and not folder.is_dir():
            return folder
    return None
