"""The runner's memo of batch-wide tables, keyed by the data's fingerprint.

Every rep report of a batch computes the same tables (every rep's metrics,
the quarterly metrics, every rep's diagnosis and scorecard, the
data-quality flags, value vs cost) from an equal
:class:`~salesnb.io.dataset.Dataset`: a batch's reports load the same cached
snapshot, so their datasets share ``ds.fingerprint`` though each is a new
object. :func:`call` computes such a table once per (fingerprint, function,
arguments) and hands every caller its own copy, so no caller can change
what the next one gets. A warm report template (:mod:`salesnb.run.forkserver`) may
fill the memo before it forks, so each report starts with the tables made.

Only a batch's snapshot is memoised (``ds.snapshot``, set by
:mod:`salesnb.run.cache` for the data a report loads): a dataset an analyst
loaded in a notebook may be edited in place, and must never be answered
from tables computed before the edit.

Analysis knows nothing of it: the pages ask for their tables through
:func:`salesnb.present.tables.batch_table`, and where reports run the runner
:func:`install`\\ s this memo there (the fork template,
:mod:`salesnb.run.forkserver`, and a kernel's start-up lines,
:mod:`salesnb.run.execute`). A notebook run by hand never has it.
"""

from __future__ import annotations

import copy
import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from salesnb.present.tables import use_memo

__all__ = ["remember", "call", "clear", "install", "installed", "save", "load", "stamp", "made_aside", "MAX_ENTRIES", "FILE"]

MAX_ENTRIES = 64
"""At most this many tables are kept; the oldest used goes first."""
FILE = "memo.pickle"
"""The batch's tables as the runner computed them, beside the data in the batch's cache folder."""

_MEMO: OrderedDict = OrderedDict()
_ASIDE: dict = {}  # function -> what loads it into the memo (made in another process), see made_aside()


def call(function, ds, **kwargs):
    """``function(ds, **kwargs)``, from the memo when ``ds`` is a batch's
    snapshot with a fingerprint; the result is always a copy the caller may change."""
    key = _call_key(function, ds, kwargs)
    if key is None:
        return function(ds, **kwargs)
    if key not in _MEMO and function in _ASIDE:
        _fetch_aside()  # made in another process: waited for, not made again here
    try:
        result = _MEMO[key]
        _MEMO.move_to_end(key)
    except KeyError:
        result = function(ds, **kwargs)
        _keep(key, result)
    return _copy(result)


def made_aside(functions, fetch) -> None:
    """The tables of ``functions`` are being made in another process (a ``--rep`` batch's
    runner makes the peers' tables in a forked child, :func:`salesnb.run.prepare.prepare`):
    the first time :func:`call` misses one of them it calls ``fetch()`` (which waits for
    them and puts them in the memo, e.g. :func:`load` with ``keep=True``) instead of
    making it; whatever is still missing after that is made here. :func:`clear` forgets it."""
    for function in functions:
        _ASIDE[function] = fetch


def _fetch_aside() -> None:
    fetches = list(dict.fromkeys(_ASIDE.values()))
    _ASIDE.clear()
    for fetch in fetches:
        fetch()


def peek(function, ds, **kwargs):
    """What :func:`call` would answer from the memo (a copy), or None: nothing is computed.
    :func:`salesnb.present.tables.diagnoses_of` reads one rep's diagnosis off every rep's
    when a batch has made them."""
    key = _call_key(function, ds, kwargs)
    if key is None or key not in _MEMO:
        return None
    _MEMO.move_to_end(key)
    return _copy(_MEMO[key])


def remember(function, ds, value, **kwargs) -> None:
    """Keep ``value`` as what ``function(ds, **kwargs)`` answers, where the caller
    knows it without computing it: :func:`salesnb.present.tables.diagnoses_of`
    keeps each rep's diagnosis out of several reps' (a ``--rep`` batch's runner
    diagnoses its reps together, and each rep's page then finds its own)."""
    key = _call_key(function, ds, kwargs)
    if key is not None:
        _keep(key, value)


def _keep(key, value) -> None:
    """A copy of ``value`` under ``key``, the most recently used; the least recently used go past MAX_ENTRIES."""
    _MEMO[key] = _copy(value)
    _MEMO.move_to_end(key)
    while len(_MEMO) > MAX_ENTRIES:
        _MEMO.popitem(last=False)


call.peek = peek  # the pages find them on the provider they were given (present.tables)
call.remember = remember


def save(directory, fingerprint: str, *, file: str = FILE, functions=None, leave=()) -> int:
    """Write the tables of the data with ``fingerprint`` into ``directory`` (the
    batch's private cache folder, :mod:`salesnb.run.cache`): the runner computes
    them once (it needs them for the manager's queue) and every report
    template :func:`load`\\ s them instead of computing them again; ``functions``: only
    theirs, ``leave``: not these (what no page reads). Returns how many."""
    import pickle

    from salesnb.atomic import write_bytes

    entries = [
        (key, value)
        for key, value in _MEMO.items()
        if key[1] == fingerprint and (functions is None or key[0] in functions) and key[0] not in leave
    ]
    path = Path(directory) / file
    write_bytes(path, pickle.dumps(entries, protocol=pickle.HIGHEST_PROTOCOL))
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass
    return len(entries)


def stamp(directory):
    """What tells one saved memo in ``directory`` from another (its file's inode, size
    and modification time), or None when there is none: a report template reloads
    the memo when this changes (a batch saves it after its first pages started)."""
    try:
        info = os.stat(Path(directory) / FILE)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def load(directory, *, file: str = FILE, keep: bool = False) -> int:
    """Replace the memo with the tables :func:`save` wrote into ``directory``
    (none: the memo is only cleared), or with ``keep`` add them to it. Returns how many were read."""
    import pickle

    if not keep:
        clear()
    try:
        with open(Path(directory) / file, "rb") as handle:
            entries = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
        return 0  # unreadable or absent: the reports compute their tables
    for key, value in entries[-MAX_ENTRIES:]:
        _MEMO[key] = value
        _MEMO.move_to_end(key)
    while len(_MEMO) > MAX_ENTRIES:
        _MEMO.popitem(last=False)
    return len(entries[-MAX_ENTRIES:]) if keep else len(_MEMO)


def clear() -> None:
    """Forget every memoised table (and what :func:`made_aside` said)."""
    _MEMO.clear()
    _ASIDE.clear()


def install() -> None:
    """Answer the pages' batch-wide tables (:func:`salesnb.present.tables.batch_table`)
    from this memo in this process; in a report of a batch (``SALESNB_CACHE_DIR``
    set, e.g. a fresh kernel's), start from the tables the runner saved there."""
    use_memo(call)
    directory = os.environ.get("SALESNB_CACHE_DIR")
    if directory:
        load(directory)


@contextmanager
def installed() -> Iterator[None]:
    """This memo installed for the ``with`` block, whatever was installed restored after."""
    previous = use_memo(call)
    try:
        yield
    finally:
        use_memo(previous)


def _call_key(function, ds, kwargs: dict):
    """The memo's key for ``function(ds, **kwargs)``; None when ``ds`` is no batch's snapshot."""
    fingerprint = getattr(ds, "fingerprint", "")
    if not fingerprint or not getattr(ds, "snapshot", False):
        return None
    return (
        function,
        fingerprint,
        str(getattr(ds, "source", "")),
        repr(getattr(ds, "expectations", None)),
        tuple((name, len(frame)) for name, frame in sorted(ds.tables.items())),
        tuple(sorted((name, _key(value)) for name, value in kwargs.items())),
    )


def _key(value):
    """A hashable stand-in for an argument: a Period by its label and bounds."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return (type(value).__name__, value)
    if all(hasattr(value, a) for a in ("label", "start", "end")):
        return ("period", str(value.label), str(value.start), str(value.end))
    import pandas as pd  # imported here: a batch with nothing to do never imports pandas

    if isinstance(value, pd.Timestamp):
        return ("timestamp", value.isoformat())
    return (type(value).__name__, repr(value))


def _copy(value):
    import pandas as pd

    if isinstance(value, (pd.DataFrame, pd.Series)):
        out = value.copy(deep=True)
        out.attrs = copy.deepcopy(value.attrs)
        return out
    return copy.deepcopy(value)
