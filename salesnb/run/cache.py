"""One load per batch: the loaded data source, shared by every report of a batch.

Each report notebook starts with ``ds = salesnb.load(source, mapping)``;
reading and validating the source again for each of hundreds of reports
would cost more than the report. The batch runner loads the source once
(it needs the reps and the fingerprint anyway), :func:`store`\\ s the
:class:`~salesnb.io.dataset.Dataset` in a private cache folder and sets
``SALESNB_CACHE_DIR`` for the notebooks. Where the reports run, the runner
calls :func:`install`, which hands :func:`lookup` to
:func:`salesnb.io.loading.use_snapshots` (the one seam between loading and
the runner): the notebook's own ``load`` call is then a cache hit that
returns the very same data, checked the same way, in milliseconds.

- The cache is only consulted in a process that installed it (importing
  this module installs it: the batch runner, its fork template
  (:mod:`salesnb.run.forkserver`) and the kernels it starts
  (:mod:`salesnb.run.execute`)) and only when ``SALESNB_CACHE_DIR`` is set
  (by the batch runner, for its notebooks); an analyst's notebook never
  sees it.
- An entry is keyed by the ``load`` arguments that change its result: the
  source (a local path made absolute), the mapping file and the
  expectations file. ``strict=True`` is answered from the same entry, as
  ``load`` would: the problems found raise :class:`~salesnb.errors.DataError`.
- A batch reads one snapshot: data changed on disk while the batch runs
  does not mix old and new reports (the manifest records the fingerprint
  of that snapshot).
- Files are written atomically (a reader never sees half an entry) into a
  folder only this user can read (0700). They are pickles: never point
  ``SALESNB_CACHE_DIR`` at a folder others can write to.
- A warm report template (:mod:`salesnb.run.forkserver`) may :func:`preload` the
  entries; each forked report then takes its private copy without reading
  a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

__all__ = ["ENV", "key", "store", "lookup", "install", "preload", "preloaded", "clear"]

ENV = "SALESNB_CACHE_DIR"
_SUFFIX = ".dataset.pickle"
_MEMORY: dict[tuple[str, str], object] = {}  # (folder, key) -> Dataset, filled by preload() in a template


def _normal(value) -> str | None:
    """A local path made absolute (as the runner passes it); URLs as they are."""
    if value is None:
        return None
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if "://" in text:
        return text
    return str(Path(text).expanduser().resolve())


def key(source, mapping=None, *, expectations=None) -> str:
    """The cache key of ``load(source, mapping, expectations=expectations)``."""
    fields = {"source": _normal(source), "mapping": _normal(mapping), "expectations": _normal(expectations)}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def store(dataset, directory, *, source, mapping=None, expectations=None) -> Path:
    """Write ``dataset`` (the non-strict load of these arguments) into ``directory``."""
    from salesnb.atomic import write_bytes

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(folder, 0o700)
    except OSError:
        pass
    path = folder / f"{key(source, mapping, expectations=expectations)}{_SUFFIX}"
    write_bytes(path, pickle.dumps(dataset, protocol=pickle.HIGHEST_PROTOCOL))
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass
    return path


def lookup(source, mapping=None, *, strict: bool = False, expectations=None):
    """The cached Dataset for these ``load`` arguments, or None (not a batch
    run, no entry). Every hit is an independent copy."""
    directory = os.environ.get(ENV)
    if not directory:
        return None
    name = key(source, mapping, expectations=expectations)
    dataset = _MEMORY.pop((str(directory), name), None)  # the template's copy: ours alone after the fork
    if dataset is None:
        try:
            with open(Path(directory) / f"{name}{_SUFFIX}", "rb") as handle:
                dataset = pickle.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None  # unreadable: load the source itself
    _mark_snapshot(dataset)
    if strict and getattr(dataset, "problems", None):
        from salesnb.errors import DataError

        raise DataError(dataset.problems)
    return dataset


def install() -> None:
    """Make :func:`salesnb.io.loading.load` answer from the batch's snapshot
    (:func:`lookup`) in this process."""
    from salesnb.io.loading import use_snapshots

    use_snapshots(lookup)


def preload(directory) -> int:
    """Read every entry of ``directory`` into memory (a report template does,
    before it forks), forgetting other folders' entries; returns how many."""
    _MEMORY.clear()
    count = 0
    for path in Path(directory).glob(f"*{_SUFFIX}"):
        try:
            with open(path, "rb") as handle:
                dataset = pickle.load(handle)
            _mark_snapshot(dataset)
            _MEMORY[(str(directory), path.name[: -len(_SUFFIX)])] = dataset
            count += 1
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            continue
    return count


def preloaded(directory, source, mapping=None, expectations=None):
    """The entry :func:`preload` read for ``load(source, mapping, expectations=...)``,
    left in place (a template looks at it before it forks), or None."""
    return _MEMORY.get((str(directory), key(source, mapping, expectations=expectations)))


def _mark_snapshot(dataset) -> None:
    """A batch's data: the memo may share tables computed from it (:mod:`salesnb.run.memo`)."""
    try:
        dataset.snapshot = True
    except AttributeError:  # not a Dataset (a test's stand-in)
        pass


def clear(directory) -> None:
    """Remove the cache folder's entries (and the tables the runner saved beside
    them, :func:`salesnb.run.memo.save`), then the folder if it is empty."""
    folder = Path(directory)
    if not folder.is_dir():
        return
    for path in folder.glob("*.pickle"):
        path.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass


install()  # a process that imports the batch cache (the runner's, a report's) loads through it
