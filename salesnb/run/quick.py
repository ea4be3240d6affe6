"""Reruns with nothing to do, decided before any table is loaded or any worker starts.

A batch records in its manifest (``quick_check``) what it was made from:
a hash of its parameters (source, mapping and expectations paths, notebooks
folder, resolved period, ``--as-of``, reps, teams, options, salesnb version)
and, for every input file (the source folder's files, or the database file;
the mapping and expectations files; the report notebooks; any other file
the loader read), its size, mtime and sha256. The next batch into the same
folder answers "nothing changed" when the parameters hash is the same, the
folder lists the same files, each file has the same size and mtime (or, when
they moved, the same sha256: a ``touch`` changes nothing), every report of the
last run rendered (or was unchanged) and its page, the index and the
manifest are there. Anything else (a database URL, whose content cannot be
known without reading it; ``--force``; a failed report; no manifest) falls
back to loading the data and comparing each report's input key
(:mod:`salesnb.run.entries`).

A file whose mtime lies within a second of the recording is hashed again
next time (its mtime may not have moved for an edit made in the same tick).
Only the standard library is imported here: the check runs before pandas.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from salesnb.io.sources import remember_sha256
from salesnb.run.entries import UNCHANGED
from salesnb.run.plan import KINDS

__all__ = ["FIELD", "parameters_key", "input_state", "add_files", "nothing_changed", "worth_recording", "repeat_entry"]

FIELD = "quick_check"  # the manifest's field
_RACY_NS = 1_000_000_000  # an mtime this close to the recording is not trusted


def parameters_key(**parameters) -> str:
    """One hash over everything but the files that makes a batch what it is."""
    from salesnb.run.plan import salesnb_version

    fields = dict(parameters, salesnb=salesnb_version())
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _source_files(source) -> tuple[list[Path], str | None] | None:
    """The source's files and the folder whose listing matters; None for a URL."""
    text = os.fspath(source) if isinstance(source, os.PathLike) else str(source)
    if "://" in text:
        return None  # a database behind a URL: only reading it tells what changed
    path = Path(text).expanduser().resolve()
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file()), str(path)
    if path.is_file():  # a database file: its sidecars beside it, its write-ahead log (watched even while missing)
        beside = [path.parent / name for name in ("mapping.yml", "expectations.yml")]
        logs = [path.with_name(path.name + suffix) for suffix in ("-wal", ".wal")]
        return [path, *beside, *logs], None
    return None


def input_state(source, *, mapping, expectations, notebooks_dir, key: str, previous: dict | None = None) -> dict | None:
    """What the quick check records and compares: ``key`` (see :func:`parameters_key`),
    the source folder's listing and each input file's size, mtime and sha256.
    Hashes of files whose size and mtime match ``previous`` (an earlier state) are
    reused. None when the source is a URL (nothing to compare without loading)."""
    found = _source_files(source)
    if found is None:
        return None
    files, folder = found
    extra = [Path(p).expanduser().resolve() for p in (mapping, expectations) if p is not None]
    notebooks = [Path(notebooks_dir) / f"{kind}.ipynb" for kind in KINDS]
    state = {"key": key, "folder": folder, "listing": [p.name for p in files], "recorded_ns": time.time_ns(), "files": {}}
    add_files(state, [*files, *extra, *notebooks], previous)
    return state


def add_files(state: dict, paths, previous: dict | None = None) -> None:
    """Record ``paths`` in ``state`` (size, mtime_ns, sha256; a missing file as -1)."""
    known = (previous or {}).get("files", {}) if isinstance(previous, dict) else {}
    trusted_before = (previous or {}).get("recorded_ns", 0) - _RACY_NS if isinstance(previous, dict) else 0
    stats, to_hash = {}, []
    for path in paths:
        name = str(Path(path).resolve())
        if name in state["files"] or name in stats:
            continue
        try:
            stats[name] = stat = os.stat(name)
        except OSError:
            state["files"][name] = [-1, 0, ""]
            continue
        state["files"][name] = None  # its place in the listing; filled below
        old = known.get(name)
        if not (old and old[0] == stat.st_size and old[1] == stat.st_mtime_ns and stat.st_mtime_ns < trusted_before):
            to_hash.append(name)
    digests = _sha256_all(to_hash, stats)
    for name, stat in stats.items():
        digest = digests[name] if name in digests else known[name][2]
        state["files"][name] = [stat.st_size, stat.st_mtime_ns, digest]
        if digest and stat.st_mtime_ns < state["recorded_ns"] - _RACY_NS:  # the loader's fingerprint does not read it again
            remember_sha256(name, stat.st_size, stat.st_mtime_ns, digest)


_BOTH_CORES_BYTES = 64 << 20  # files to hash from which two threads share them (hashlib lets go of the GIL)


def _sha256_all(names: list[str], stats: dict) -> dict[str, str]:
    """The sha256 of each file of ``names``; on two threads, largest files first,
    when there is enough to hash (a large source's 387 MB: half the wall time)."""
    if len(names) < 2 or sum(stats[n].st_size for n in names) < _BOTH_CORES_BYTES:
        return {name: _sha256(name) for name in names}
    from concurrent.futures import ThreadPoolExecutor

    largest_first = sorted(names, key=lambda n: -stats[n].st_size)
    with ThreadPoolExecutor(2, thread_name_prefix="salesnb-quick-hash") as pool:
        return dict(zip(largest_first, pool.map(_sha256, largest_first)))


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def nothing_changed(previous_manifest: dict, state: dict | None, out_dir: Path) -> bool:
    """True when the batch that wrote ``previous_manifest`` had these very inputs,
    every report it planned rendered (or was unchanged) and every page is there."""
    recorded = previous_manifest.get(FIELD)
    if state is None or not isinstance(recorded, dict) or recorded.get("key") != state["key"]:
        return False
    if recorded.get("folder") != state["folder"] or recorded.get("listing") != state["listing"]:
        return False
    files = recorded.get("files")
    if not isinstance(files, dict) or any(
        (state["files"].get(name) or [None, None, None])[::2] != [size, digest] for name, (size, _mtime, digest) in files.items()
    ):
        return False
    if any(name not in files for name in state["files"]):
        return False
    if not ((out_dir / "index.html").is_file() and previous_manifest.get("reports")):
        return False
    for entry in previous_manifest["reports"]:
        if not isinstance(entry, dict):
            return False
        html = entry.get("html")
        if not isinstance(html, str) or not (out_dir / html).is_file():
            return False
        rendered = entry.get("status") == "ok" or (entry.get("status") == "skipped" and entry.get("reason") == UNCHANGED)
        if not rendered and not entry.get("earlier_run"):
            return False
    return True


def worth_recording(recorded: dict, state: dict) -> bool:
    """Whether an unchanged rerun should record ``state`` over ``recorded``: a file's
    mtime moved (touched), or lies too close to the recording to be trusted, so it
    would be hashed again on every rerun."""
    trusted_before = recorded.get("recorded_ns", 0) - _RACY_NS
    files = recorded.get("files", {})
    return any(files.get(name, [None, None])[1] != meta[1] or meta[1] >= trusted_before for name, meta in state["files"].items())


def repeat_entry(previous: dict) -> dict:
    """A report of the last run, listed again as skipped: unchanged."""
    entry = dict(previous, status="skipped", reason=UNCHANGED, error=None, error_detail=None, failed_notebook=None)
    entry["rendered_at"] = previous.get("rendered_at") or previous.get("ended")
    entry["seconds"] = 0.0
    return entry
