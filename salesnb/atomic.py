"""Atomic file writes: a reader sees the old file or the new one, never half.

Every file salesnb writes for others to read (reports, index, manifest)
goes through here: the content is written to a temporary file in the same
folder, flushed to disk (fsync), then moved over the target with
:func:`os.replace`, which is atomic on one file system. A failed write
leaves the old file as it was and no temporary file behind.

A process killed outright (SIGKILL, power loss) cannot remove its
temporary file: the target is still whole (old or new), and a hidden
``.<name>.<8 random characters>.salesnb.tmp`` may be left beside it.
:func:`remove_temporaries` removes those, and only those (the
``.salesnb.tmp`` ending is salesnb's own: a user's ``.notes.abcdefgh.tmp``
is never touched); the report runner calls it on its own folders when it
takes the output folder's lock.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["atomic_open", "write_bytes", "write_text", "write_json", "is_temporary", "remove_temporaries"]

TEMP_SUFFIX = ".salesnb.tmp"
# What atomic_open names its temporary files: "." + target name (cut at 60) + "." + mkstemp's 8 characters
# + ".salesnb.tmp" (an ending no other program uses, so a user's own file never matches)
_TEMPORARY = re.compile(r"\..{1,60}\.[a-z0-9_]{8}\.salesnb\.tmp", re.DOTALL)

# The process umask, read once: temporary files are created 0600, and a
# report must end up with the permissions any other new file would get.
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path``.

    ``mode`` is ``"w"`` (text, ``encoding``) or ``"wb"`` (bytes). The parent
    folder must exist. If the block raises, ``path`` is left untouched.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:60]}.", suffix=TEMP_SUFFIX)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode, encoding=None if mode == "wb" else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_open(path, "w", encoding=encoding) as handle:
        handle.write(text)
    return Path(path)


def write_json(path: str | os.PathLike, obj, *, indent: int = 2) -> Path:
    """Write ``obj`` as UTF-8 JSON to ``path`` atomically; returns the path."""
    return write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=str) + "\n")


def is_temporary(name: str) -> bool:
    """Whether a file name is one of :func:`atomic_open`'s temporary files."""
    return bool(_TEMPORARY.fullmatch(name))


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folder`` (not its
    subfolders); returns what was removed. Only call it while no other
    process writes there (e.g. holding the folder's lock)."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:  # not there (yet), or not a folder
        return removed
    for entry in entries:
        if is_temporary(entry.name) and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            removed.append(Path(entry.path))
    return removed


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; best effort (not every OS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
