"""Warm notebook kernels that fork: one clean namespace per report, no start-up cost.

Starting a Jupyter kernel and importing pandas, matplotlib and salesnb
costs a second or two; a coaching report's own cells often take less.
A :class:`ForkingKernel` pays that once per worker, or once per batch when
the batch's workers share one template (:func:`shared_template`):

- a *template* process (``python -m salesnb.run.template``, :mod:`salesnb.run.template`) starts, builds an
  IPython shell that behaves like a notebook kernel (rich display, inline
  matplotlib, tracebacks) and imports what the notebooks import, then
  waits;
- for each report it ``fork()``\\ s: the child runs the notebook's cells in
  its own copy of that warm process, streams each cell's outputs back as
  nbformat outputs, and exits. The template itself never runs a report's
  code.

So every report starts from the same pristine state: a global set, a
module-level object mutated, rcParams or a seaborn theme changed, the
working directory or an environment variable changed by one report cannot
reach the next, because the next report is a fresh fork of a process that
never saw them. A report that hangs is killed (its process group, so
anything it started goes too) and fails with a timeout; a report that
crashes its process fails as a dead kernel; neither touches the template.
A template that dies is started again for the next report.

Fidelity to a real kernel: outputs are the messages ipykernel would send
(``stream``, ``display_data`` with ``transient.display_id`` updates,
``execute_result``, ``error`` with the coloured traceback), images are
base64 text as jupyter_client encodes them, ``!cmd`` output is captured,
output written straight to file descriptors 1 and 2 (C libraries) is
kept, matplotlib uses ``matplotlib_inline`` exactly as under ipykernel,
and pandas sees a notebook front end (``shell.kernel`` exists), so tables
look as they do in JupyterLab. Widgets have no front end here, as in any
static report: they show their text form.

:class:`~salesnb.run.forkengine.ForkEngine` plugs this into papermill as the engine
``salesnb-fork``, so parameter injection, notebook metadata and error
handling are papermill's own.

Needs ``os.fork`` (Linux, macOS); elsewhere salesnb uses one fresh kernel
per report (papermill's default engine).
"""

from __future__ import annotations

import ast
import atexit
import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from salesnb.run.template import (
    DIE_WITH_PARENT_ENV,
    INLINE_BACKEND,
    PREWARM_ENV,
    REPORT_GC_THRESHOLD,  # noqa: F401 - part of this module's face (tests read it here)
    die_with_parent,
)
from salesnb.run.trace import mark
from salesnb.run.warmup import DEFAULT_IMPORTS

__all__ = [
    "ForkingKernel",
    "CellResult",
    "available",
    "get_kernel",
    "notebook_imports",
    "shutdown_all",
    "shared_template",
    "kernel_python",
    "kernel_spec",
    "use_shared",
    "dead_kernel_error",
    "die_with_parent",
]

PRELOAD_ENV = "SALESNB_PRELOAD"  # extra modules to import in the template, comma-separated


def available() -> bool:
    """Whether this platform can fork (POSIX)."""
    return hasattr(os, "fork") and sys.platform != "win32"


# -- worker side -------------------------------------------------------------------------


class CellResult(tuple):
    """``(index, execution_count, outputs, ok)`` for one executed code cell."""

    __slots__ = ()

    def __new__(cls, index: int, execution_count: int | None, outputs: list, ok: bool):
        return super().__new__(cls, (index, execution_count, outputs, ok))

    index = property(lambda self: self[0])
    execution_count = property(lambda self: self[1])
    outputs = property(lambda self: self[2])
    ok = property(lambda self: self[3])


class ForkingKernel:
    """A warm template process that forks one child per notebook run.

    ``python`` is the interpreter to run (default: this one; the
    ``salesnb`` kernel spec's own Python when :func:`get_kernel` is used).
    Not thread-safe: one run at a time, as one Jupyter kernel would.
    """

    def __init__(self, python: str | None = None, *, env: dict | None = None, address: str | None = None,
                 listen: bool = False, kernel_name: str | None = None):  # fmt: skip
        self.python = python or sys.executable
        self.env = dict(env) if env else None
        # With kernel_name, python and env are the kernel spec's, read only when this
        # kernel starts a template of its own (a shared template's client never does).
        self._kernel_name = kernel_name
        self.address = address  # a shared template's socket: connect to it instead of starting one
        self.listen = listen  # start a template others may connect to (at self.address, made here)
        self._socket_dir: str | None = None
        self.process: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self.starts = 0  # how many templates were started (1 unless one died)
        self.runs = 0
        self._stderr = None
        self._imported: set[str] = set()
        self._starting = False

    # life cycle
    def start(self, *, timeout: float = 60.0) -> None:
        """Start the template and wait until it has imported :data:`DEFAULT_IMPORTS`."""
        if not self.alive:
            self.launch()
        self._wait_ready(timeout)

    def launch(self) -> None:
        """Start the template without waiting for it (it imports while the
        caller does something else, e.g. loads the batch's data); the first
        :meth:`run` waits until it is ready."""
        self.close()
        if self.address and not self.listen:
            try:
                self._connect()
                return
            except OSError:  # the shared template is gone: this worker starts its own
                self.address = None
        if self._kernel_name is not None:
            self.python, self.env = kernel_python(self._kernel_name)  # NoSuchKernel propagates
            self._kernel_name = None
        server = self._bind() if self.listen else None  # workers may connect at once; served once warm
        ours, theirs = socket.socketpair()
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("MPLBACKEND", INLINE_BACKEND)
        env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        env.pop("SALESNB_CACHE_DIR", None)  # a run says which batch cache it reads
        env.pop(PREWARM_ENV, None)
        # Linux ties a child's death to the *thread* that started it: only a template
        # started by the main thread may die with its parent (a Dask thread can end).
        env[DIE_WITH_PARENT_ENV] = "1" if threading.current_thread() is threading.main_thread() else ""
        try:
            self.process = subprocess.Popen(
                [self.python, "-m", "salesnb.run.template", str(theirs.fileno())]
                + ([str(server.fileno())] if server is not None else []),
                pass_fds=(theirs.fileno(),) + ((server.fileno(),) if server is not None else ()),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                env=env,
                cwd=str(Path(__file__).resolve().parents[2]),
                close_fds=True,
            )
        finally:
            theirs.close()
            if server is not None:
                server.close()
        self.conn = Connection(ours.detach())
        self.starts += 1
        self._imported = set()
        extra = [m.strip() for m in os.environ.get(PRELOAD_ENV, "").split(",") if m.strip()]
        self.conn.send(("warm", list(DEFAULT_IMPORTS) + extra))
        self._starting = True

    def _bind(self) -> socket.socket:
        """The listening socket of a shared template, in a new folder only this user can open."""
        self._socket_dir = tempfile.mkdtemp(prefix="salesnb-template-")
        self.address = os.path.join(self._socket_dir, "template.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(self.address)
        os.chmod(self.address, 0o600)
        server.listen(64)
        return server

    def _connect(self) -> None:
        """Become a client of the shared template at :attr:`address`; it answers ``ready`` once warm."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.address)
        except OSError:
            sock.close()
            raise
        self.conn = Connection(sock.detach())
        self._imported = set()
        self._starting = True

    def ready_within(self, timeout: float) -> bool:
        """Whether the template has said it is ready, waiting at most ``timeout`` seconds;
        unlike :meth:`start`, one still importing is left to go on."""
        if not self._starting:
            return self.alive
        try:
            if not self.conn.poll(timeout):
                return False
        except (OSError, EOFError):
            return False
        self._wait_ready(timeout)  # reads its "ready" (a dead template raises)
        return True

    def _wait_ready(self, timeout: float) -> None:
        if not self._starting:
            return
        message = self._receive(timeout, what="start")
        if message[0] != "ready":
            raise dead_kernel_error(f"the report template did not start: {message!r}{self._stderr_tail()}")
        self._starting = False
        self._imported.update(message[1])

    @property
    def alive(self) -> bool:
        if self.conn is None:
            return False
        if self.process is None:  # a client of a shared template: alive until the connection breaks
            return bool(self.address) and not self.conn.closed
        return self.process.poll() is None

    def close(self) -> None:
        """Stop the template (its children were reaped after each run)."""
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None
        if self.process is not None:
            try:
                self.process.wait(timeout=5)  # it exits when its connection closes
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._socket_dir is not None:
            import shutil

            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
        self._starting = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # running
    def run(
        self,
        cells: Iterable[tuple[int, str]],
        *,
        cwd: str | None = None,
        env: dict | None = None,
        allow_errors: Iterable[int] = (),
        cell_timeout: float | None = None,
        start_timeout: float = 60.0,
        imports: Iterable[str] = (),
    ) -> Iterator[CellResult]:
        """Run ``cells`` (``(index, source)`` pairs) in a fresh fork; yield one
        :class:`CellResult` per cell as it finishes.

        Stops after the first cell that raises, unless its index is in
        ``allow_errors`` (papermill's ``raises-exception`` tag). Raises
        nbclient's ``CellTimeoutError`` when a cell runs longer than
        ``cell_timeout`` seconds (the child is killed) and
        ``DeadKernelError`` when the child or the template dies.
        """
        cells = [(int(i), str(source)) for i, source in cells]
        self.start(timeout=start_timeout)
        self.runs += 1
        spec = {
            "cells": cells,
            "cwd": str(cwd) if cwd else None,
            "env": {str(k): str(v) for k, v in (env or {}).items()},
            "allow_errors": sorted(int(i) for i in allow_errors),
            "imports": sorted(set(imports) - self._imported),
        }
        self._imported.update(spec["imports"])
        mark("run sent")
        self.conn.send(("run", spec))
        pid = None
        finished = False
        try:
            # Before it forks, the template loads the batch's tables and computes
            # what every report shares (warmup.prewarm_batch): work that grows with the data,
            # so it has a cell's time, not a start's (10,000 reps took ~60 s).
            fork_timeout = None if cell_timeout is None else max(start_timeout, cell_timeout)
            message = self._receive(fork_timeout, what="fork")
            if message[0] != "forked":
                raise dead_kernel_error(f"unexpected message from the report template: {message[0]!r}")
            pid = message[1]
            for _ in cells:
                message = self._receive(cell_timeout, what="cell", pid=pid)
                if message[0] == "cell":
                    yield CellResult(*message[1:])
                    continue
                if message[0] == "finished":
                    finished = True
                    break
                if message[0] == "exited":
                    pid = None
                    raise dead_kernel_error(f"the report's process ended during a cell ({message[1]})")
                raise dead_kernel_error(f"unexpected message from the report: {message[0]!r}")
            if not finished:
                message = self._receive(cell_timeout, what="cell", pid=pid)
                if message[0] == "exited":
                    pid = None
                    raise dead_kernel_error(f"the report's process ended before it finished ({message[1]})")
            message = self._receive(30, what="exit", pid=pid)
            if message[0] != "exited":
                raise dead_kernel_error(f"unexpected message from the report template: {message[0]!r}")
            pid = None
        except BaseException:
            if pid is not None:  # a timeout, an interrupt, a consumer that stopped early
                _kill_group(pid)
                if self.conn is not None:
                    self._drain_until_exited()
            raise

    def _receive(self, timeout: float | None, *, what: str, pid: int | None = None):
        """The next message from the template or its child; a timeout kills the child.
        nbclient (which imports nbformat and jsonschema, ~0.2 s of CPU) only on a timeout:
        the batch's own process waits here for its template, on the first page's critical path."""
        conn = self.conn
        try:
            ready = conn.poll(timeout)
        except (OSError, EOFError):
            ready = True  # recv() says what happened
        if not ready:
            if what == "cell":  # run() kills the child and waits for the template to reap it
                from nbclient.exceptions import CellTimeoutError

                raise CellTimeoutError(f"A cell timed out while it was being executed, after {timeout:g} seconds.")
            self._abandon()
            raise dead_kernel_error(f"the report template did not answer within {timeout:g} s ({what}){self._stderr_tail()}")
        try:
            return conn.recv()
        except (EOFError, OSError) as exc:
            tail = self._stderr_tail()
            self._abandon()
            raise dead_kernel_error(f"the report template ended unexpectedly ({type(exc).__name__}){tail}") from None

    def _drain_until_exited(self, timeout: float = 10.0) -> None:
        """After killing a child: read what it had sent until the template reports it reaped."""
        deadline = time.monotonic() + timeout
        try:
            while self.conn is not None and time.monotonic() < deadline:
                if not self.conn.poll(max(0.0, deadline - time.monotonic())):
                    break
                if self.conn.recv()[0] == "exited":
                    return
        except (EOFError, OSError):
            pass
        self._abandon()

    def _abandon(self) -> None:
        """Give up on this template; the next run starts a new one."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        self.close()

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 2000))
            text = self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""
        return f"; its last words: {text}" if text else ""


def dead_kernel_error(message: str):
    from nbclient.exceptions import DeadKernelError

    return DeadKernelError(message)


def _kill_group(pid: int | None) -> None:
    if pid is None:
        return
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            return
        except (ProcessLookupError, PermissionError):
            continue
        except OSError:
            continue


# -- one warm template per worker process ------------------------------------------------

_KERNELS: dict[tuple[str, int], ForkingKernel] = {}
_LOCK = threading.Lock()


_SHARED: dict[str, str] = {}  # kernel name -> the socket of the batch's shared template


def get_kernel(kernel_name: str) -> ForkingKernel:
    """This thread's warm kernel for ``kernel_name`` (started on first use).

    One per thread, as a kernel runs one thing at a time: a Dask worker
    with several threads keeps one template per thread. In a worker of a
    local batch (:func:`use_shared`), it is a connection to the batch's
    shared template, and the kernel spec is read only if that template is
    gone (reading it cost each worker ~0.1 s of CPU at the batch's start)."""
    key = (kernel_name, threading.get_ident())
    with _LOCK:
        kernel = _KERNELS.get(key)
        if kernel is None:
            shared = _SHARED.get(kernel_name)
            if shared:
                kernel = ForkingKernel(address=shared, kernel_name=kernel_name)
            else:
                python, env = kernel_python(kernel_name)
                kernel = ForkingKernel(python, env=env)
            _KERNELS[key] = kernel
        return kernel


def shared_template(kernel_name: str, *, python: str | None = None) -> ForkingKernel:
    """Start a template for ``kernel_name`` that a batch's workers share
    (:func:`use_shared` in each); the caller closes it after the workers.
    ``python``: start it with that interpreter at once, without reading the kernel
    spec first (jupyter_client's import and the search, ~0.15 s before the template
    could start); the caller checks the spec (:func:`kernel_python`) later."""
    env = None
    if python is None:
        python, env = kernel_python(kernel_name)
    kernel = ForkingKernel(python, env=env, listen=True)
    kernel.launch()
    return kernel


def use_shared(kernel_name: str, address: str) -> None:
    """In this process, run ``kernel_name`` reports in the shared template at ``address``."""
    _SHARED[kernel_name] = address


def shutdown_all() -> None:
    """Stop every template this process started."""
    with _LOCK:
        kernels = list(_KERNELS.values())
        _KERNELS.clear()
    for kernel in kernels:
        kernel.close()


atexit.register(shutdown_all)


def kernel_spec(kernel_name: str) -> dict | None:
    """The named kernel spec's ``kernel.json`` (``argv``, ``env``...), found as
    jupyter_client finds it (the first folder of that name, in any case, with a
    ``kernel.json``, under the ``kernels`` folders of Jupyter's data path, in order),
    without importing jupyter_client: its import and search cost the batch's process
    ~0.17 s of CPU at its start, while its template imports. None when it is not
    there (or unreadable): jupyter_client then has the last word (its native
    ``python3`` kernel, its configured folders, its error)."""
    import json

    from jupyter_core.paths import jupyter_path

    wanted = kernel_name.lower()
    for folder in jupyter_path("kernels"):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name, "kernel.json")
            if name.lower() == wanted and os.path.isfile(path):
                try:
                    with open(path, encoding="utf-8") as handle:
                        spec = json.load(handle)
                except (OSError, ValueError):
                    return None
                return spec if isinstance(spec, dict) else None
    return None


def kernel_python(kernel_name: str) -> tuple[str, dict | None]:
    """The Python (and environment) the named kernel spec runs, when it is
    a Python kernel; else this interpreter."""
    found = kernel_spec(kernel_name)
    if found is not None:
        argv, spec_env = found.get("argv"), found.get("env")
        argv, spec_env = argv if isinstance(argv, list) else [], spec_env if isinstance(spec_env, dict) else {}
    else:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec(kernel_name)  # NoSuchKernel propagates
        argv, spec_env = spec.argv or [], spec.env or {}
    argv = list(argv)
    python = sys.executable
    if argv and "ipykernel" in " ".join(argv):
        candidate = argv[0]
        if candidate in ("python", "python3"):
            candidate = sys.executable
        if os.path.isabs(candidate) and os.access(candidate, os.X_OK):
            python = candidate
    env = None
    if spec_env:
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in spec_env.items()})
    return python, env


def notebook_imports(sources: Iterable[str]) -> list[str]:
    """Top-level modules (and their submodules) that cells import, so the
    template can import them before it forks: ``import pandas as pd`` ->
    ``pandas``; ``from salesnb.present import charts`` -> ``salesnb.present``,
    ``salesnb.present.charts``. Cells with magics are read as IPython would.
    Each cell's source is read once per process (:func:`_cell_imports`): a
    batch's reports run the same cells but for the parameters cell."""
    found: dict[str, None] = {}
    for source in sources:
        for name in _cell_imports(source):
            found.setdefault(name, None)
    return list(found)


@functools.lru_cache(maxsize=512)
def _cell_imports(source: str) -> tuple[str, ...]:
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        transform = TransformerManager().transform_cell
    except ImportError:  # pragma: no cover - IPython is a dependency
        transform = str
    try:
        tree = ast.parse(transform(source))
    except (SyntaxError, ValueError):
        return ()
    found: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name, None)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.setdefault(node.module, None)
            for alias in node.names:
                if alias.name != "*":
                    found.setdefault(f"{node.module}.{alias.name}", None)
    return tuple(found)
