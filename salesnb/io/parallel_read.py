"""Work done by a forked child process while this one does the rest: the load on both cores.

Why: reading and checking a large source's tables is CPU work under the GIL (threads do
not help; docs/performance.md "Session 11: the load on both cores"). Each table is read,
mapped and checked on its own until the references between tables are checked, so
:func:`salesnb.io.loading.load` hands its largest tables to a child (:func:`start`) and
reads and checks the others meanwhile.

How: ``os.fork`` (the child shares what the parent had read and imported, copy on write),
the child's result pickled (protocol 5) into an anonymous memory file (``memfd``), its
large buffers (NumPy and Arrow arrays) each at its own place, and mapped by the parent
afterwards without another copy (:meth:`Child.result`). The child never runs the
parent's exit handlers nor flushes its buffers (``os._exit``).

Any failure (no fork or ``memfd`` on this platform, an exception in the child, a signal,
a result that does not pickle, a child that has not answered in time) makes
:meth:`Child.result` return :data:`FAILED`: the caller then does that work itself, so
errors are raised by the parent exactly as without a child. :meth:`Child.discard` kills
and reaps a child whose result is not wanted (no zombie is left behind).
"""

from __future__ import annotations

import io
import mmap
import os
import pickle
import select
import signal
import struct
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["FAILED", "MIN_BYTES", "Child", "start"]

#: A source smaller than this (its files' bytes in all) is loaded in one process: a fork
#: and the pickling cost more than they save below a few tens of MB.
MIN_BYTES = 32 * 2**20

#: What :meth:`Child.result` returns when the child did not deliver.
FAILED = object()

_HEAD = struct.Struct("<QQ")  # in-band pickle's length, number of out-of-band buffers
_LENGTH = struct.Struct("<Q")
_ALIGN = 64  # each buffer starts on a 64-byte boundary (Arrow's and NumPy's alignment)


def start(work: Callable[[], Any]) -> Child | None:
    """Run ``work()`` in a forked child; None where this platform cannot fork
    (the caller then does the work itself)."""
    if not hasattr(os, "fork") or not hasattr(os, "memfd_create"):
        return None
    try:
        memory = os.memfd_create("salesnb-load", os.MFD_CLOEXEC)
    except OSError:
        return None
    try:
        done_read, done_write = os.pipe()
    except OSError:
        os.close(memory)
        return None
    try:
        with warnings.catch_warnings():  # Python 3.12+ warns of a fork beside threads: the child uses none of theirs
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError:
        for fd in (memory, done_read, done_write):
            os.close(fd)
        return None
    if pid == 0:  # the child: do the work, write it, leave without the parent's exit handlers
        status = 1
        try:
            os.close(done_read)
            for signum in (signal.SIGINT, signal.SIGTERM):  # none of the parent's handlers (a batch's stop): just end
                if callable(signal.getsignal(signum)):
                    signal.signal(signum, signal.SIG_DFL)
            _write(memory, work())
            status = 0
        except BaseException:  # noqa: BLE001 - any failure: the parent does the work itself
            pass
        finally:
            try:
                os.write(done_write, bytes([status]))
            finally:
                os._exit(status)
    os.close(done_write)
    return Child(pid, memory, done_read)


class Child:
    """A forked child at work: :meth:`result` waits for its answer, :meth:`discard` ends it."""

    def __init__(self, pid: int, memory: int, done: int):
        self.pid = pid
        self._memory = memory
        self._done = done

    def result(self, timeout: float) -> Any:
        """The child's result, or :data:`FAILED` (it failed, died, or gave no answer within
        ``timeout`` seconds: it is then killed). The child is reaped either way."""
        if self.pid is None:
            return FAILED
        try:
            ready, _, _ = select.select([self._done], [], [], timeout)
            status = os.read(self._done, 1) if ready else b""
        except OSError:
            status = b""
        if status != b"\x00":
            self.discard()
            return FAILED
        self._reap(kill=False)
        try:
            return _read(self._memory)
        except Exception:  # noqa: BLE001 - a result that does not unpickle: the caller does the work
            return FAILED
        finally:
            self._close()

    def discard(self) -> None:
        """Kill the child if it still runs and reap it (idempotent)."""
        if self.pid is not None:
            self._reap(kill=True)
        self._close()

    def _reap(self, *, kill: bool) -> None:
        pid, self.pid = self.pid, None
        if kill:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while True:
            try:
                os.waitpid(pid, 0)
                return
            except InterruptedError:
                continue
            except ChildProcessError:
                return

    def _close(self) -> None:
        for name in ("_memory", "_done"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                os.close(fd)


def _write(fd: int, value: Any) -> None:
    """``value`` pickled into ``fd``: a head, the in-band pickle, then each buffer aligned."""
    buffers: list[pickle.PickleBuffer] = []
    out = io.BytesIO()
    _Pickler(out, protocol=5, buffer_callback=buffers.append).dump(value)
    data = out.getbuffer()
    views = [buffer.raw() for buffer in buffers]
    head = _HEAD.pack(len(data), len(views)) + b"".join(_LENGTH.pack(view.nbytes) for view in views)
    parts = [head, data]
    offset = len(head) + len(data)
    for view in views:
        pad = -offset % _ALIGN
        parts += [b"\0" * pad, view]
        offset += pad + view.nbytes
    with open(fd, "wb", buffering=0, closefd=False) as out:
        for part in parts:
            view = memoryview(part).cast("B")
            while view:
                view = view[out.write(view) :]


class _Pickler(pickle.Pickler):
    """Pickles pandas' Arrow-backed arrays (the ``str`` columns) chunk by chunk: pandas' own
    ``__getstate__`` first joins the chunks into one copy (0.3 s for a 2.7 M-row table)."""

    def reducer_override(self, obj):
        from pandas.arrays import ArrowExtensionArray

        if getattr(type(obj), "__getstate__", None) is ArrowExtensionArray.__getstate__:
            return (_blank, (type(obj),), dict(obj.__dict__, _cache={}))  # __setstate__ takes the chunks as they are
        return NotImplemented


def _blank(cls):
    return cls.__new__(cls)


def _read(fd: int) -> Any:
    """What :func:`_write` wrote, its buffers mapped from ``fd`` (copy on write: no copy until changed)."""
    size = os.fstat(fd).st_size
    whole = memoryview(mmap.mmap(fd, size, access=mmap.ACCESS_COPY))
    length, count = _HEAD.unpack_from(whole)
    lengths = [_LENGTH.unpack_from(whole, _HEAD.size + i * _LENGTH.size)[0] for i in range(count)]
    offset = _HEAD.size + count * _LENGTH.size
    data = whole[offset : offset + length]
    offset += length
    buffers = []
    for n in lengths:
        offset += -offset % _ALIGN
        buffers.append(whole[offset : offset + n])
        offset += n
    return pickle.loads(data, buffers=buffers)
