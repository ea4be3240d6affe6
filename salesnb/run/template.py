"""The warm report template: one process that imports once and forks a child per report.

Started as ``python -m salesnb.run.template FD [LISTENING_FD]`` by
:class:`~salesnb.run.forkserver.ForkingKernel`, which holds the other end
of FD (the *launcher*). The launcher's first message, ``("warm", modules)``,
makes the template import what the notebooks import, build an IPython
shell and pay the libraries' one-time costs; it answers ``("ready",
imported)``. Then it serves ``("run", spec)`` requests: it loads the
batch's data and warms the batch's pages once (:mod:`salesnb.run.warmup`),
forks, and the child runs the cells, streaming ``("forked", pid)``,
``("cell", ...)`` and ``("finished",)`` to whoever asked; the template
reaps it and sends ``("exited", how)``.

With LISTENING_FD (a Unix socket the launcher bound in a folder only this
user can open, so workers may connect before the template is warm), it is *shared*: every worker process of a batch connects to it
(:func:`salesnb.run.forkserver.get_kernel`) and the template runs their
reports side by side, one child per request. A batch of ``--jobs N`` then
imports the libraries and computes its batch-wide tables once, not N times,
and every report is a copy-on-write fork of the same memory. It ends when
the launcher's connection closes; its children die with it.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import sys
from collections.abc import Iterable
from multiprocessing.connection import Connection, wait

from salesnb.quick_exit import exit_now
from salesnb.run.capture import json_safe, make_shell, redirect_fds, remember_cells, warm_shell
from salesnb.run.trace import mark
from salesnb.run.warmup import (
    batch_part,
    install_memo,
    install_snapshots,
    load_memo,
    memo_stamp,
    names_a_rep,
    preload_cache,
    prewarm_batch,
    warm_libraries,
)
from salesnb.slow_imports import SEABORN_SKIPS, imported_without, skip_slow_optional_imports

__all__ = [
    "DIE_WITH_PARENT_ENV",
    "PREWARM_ENV",
    "REPORT_GC_THRESHOLD",
    "INLINE_BACKEND",
    "die_with_parent",
    "main",
]

PREWARM_ENV = "SALESNB_PREWARM"
"""Set by the batch runner for each report: JSON of its source, mapping, period,
as_of and (a rep report's) rep_id, from which the warm template pre-computes the
batch-wide tables and draws a rep report's charts once."""
DIE_WITH_PARENT_ENV = "SALESNB_DIE_WITH_PARENT"  # set for a template that must die with its parent
REPORT_GC_THRESHOLD = (50_000, 10, 10)
"""A report's process collects garbage after 50,000 new objects, not Python's
700: a chart makes tens of thousands of small objects, most of them alive
until it is drawn, and the default collected (and re-scanned) them about
ten times per report, ~8% of its time. A report lives for seconds, so
what waits to be collected stays small."""
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
REAP_EVERY = 0.01
"""Seconds between looks for finished children while some run, where a child's end
cannot be waited for (no ``os.pidfd_open``: not Linux 5.3+). With it the template
sleeps until a worker writes or a child ends: looking 100 times a second cost ~13 ms
of CPU per second of a batch's pages."""


class _Template:
    """The template's state: its shell, what it imported, which batch it has warmed."""

    def __init__(self, shell):
        self.shell = shell
        self.imported: list[str] = []
        self.cache_dir: str | None = None
        self.memo_saved = None  # memo.stamp of the batch's tables as last loaded
        self.prewarmed = None

    def warm(self, modules: Iterable[str]) -> None:
        with imported_without(SEABORN_SKIPS):  # the charts' seaborn, before anything imports it: not its widgets
            _import_all(["seaborn"])
        self.imported = _import_all(modules)
        install_snapshots()
        install_memo()
        warm_libraries()
        warm_shell(self.shell)
        _prctl()
        _freeze()
        mark("template ready")

    def prepare(self, spec: dict) -> None:
        """Import what this notebook needs, load its batch's data and warm its pages, once.

        The pages' warm-up (one rep report's charts drawn, for about 0.8 s) waits
        for the first report that names a rep: a team or data-quality page forks
        at once, and the warm-up then runs while it does, on the other core."""
        mark("run asked")
        if spec["imports"]:
            self.imported += _import_all(spec["imports"])
        cache_dir = spec["env"].get("SALESNB_CACHE_DIR")
        saved = memo_stamp(cache_dir) if cache_dir else None  # before reading it: a newer one is read next time
        if cache_dir and cache_dir != self.cache_dir:  # one batch's data at a time
            self.cache_dir = cache_dir
            self.prewarmed = None
            preload_cache(cache_dir)
            self.memo_saved = saved
            mark("preloaded")
        elif cache_dir and saved != self.memo_saved:  # the batch saved its shared tables after its first pages started
            self.prewarmed = None
            load_memo(cache_dir)
            self.memo_saved = saved
            mark("memo loaded")
        prewarm = spec["env"].get(PREWARM_ENV)
        if cache_dir and names_a_rep(prewarm) and (cache_dir, batch_part(prewarm)) != self.prewarmed:
            self.prewarmed = (cache_dir, batch_part(prewarm))
            prewarm_batch(cache_dir, prewarm, self.imported)
            mark("prewarmed")
        if spec.get("cells"):
            remember_cells(self.shell, [source for _, source in spec["cells"]])
        _freeze()


def main(fd: int, server_fd: int | None = None) -> None:
    """Warm up on the launcher's request, then serve run requests until the launcher goes."""
    launcher = Connection(fd)
    if os.environ.pop(DIE_WITH_PARENT_ENV, ""):
        die_with_parent()  # a killed batch or worker takes its template (and so its reports) with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the batch; it ends us by closing the connection
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    skip_slow_optional_imports()  # a notebook that imports nbformat (or papermill) would pay for it
    mark("template start")
    template = _Template(make_shell())  # the shell before pandas: pandas asks the shell what it runs in
    try:
        message = launcher.recv()
    except (EOFError, OSError):
        return
    if message[0] != "warm":
        return
    template.warm(message[1])
    server = socket.socket(fileno=server_fd) if server_fd is not None else None  # bound and listening
    try:
        launcher.send(("ready", template.imported))
        _serve(template, launcher, server)
    finally:
        if server is not None:
            server.close()


def _serve(template: _Template, launcher: Connection, server: socket.socket | None) -> None:
    clients: list[Connection] = [launcher]
    running: dict[int, Connection] = {}  # child pid -> the connection it reports to
    ends: dict[int, int] = {}  # child pid -> its pidfd (readable once the child has ended)
    while True:
        idle = [c for c in clients if c not in running.values()]
        polled = any(pid not in ends for pid in running)  # a child whose end we cannot wait for
        ready = wait(
            idle + ([server] if server is not None else []) + list(ends.values()), timeout=REAP_EVERY if polled else None
        )
        _reap(running, clients)
        for pid in [pid for pid in ends if pid not in running]:
            os.close(ends.pop(pid))
        for ready_one in ready:
            if isinstance(ready_one, int):  # a child's pidfd: reaped above
                continue
            if ready_one is server:
                client = _accept(server, template.imported)
                if client is not None:
                    clients.append(client)
                continue
            try:
                message = ready_one.recv()
            except (EOFError, OSError):
                message = ("stop",)
            if message[0] == "stop":
                if ready_one is launcher:
                    return
                clients.remove(ready_one)
                ready_one.close()
            elif message[0] == "run":
                template.prepare(message[1])
                others = [c for c in clients if c is not ready_one] + ([server] if server is not None else [])
                pid = _fork(ready_one, template.shell, message[1], others, list(ends.values()))
                running[pid] = ready_one
                end = _pidfd(pid)
                if end is not None:
                    ends[pid] = end


def _accept(server: socket.socket, imported: list[str]) -> Connection | None:
    """A worker of this batch connects: only a process of this user may (the socket is 0600)."""
    try:
        sock, _ = server.accept()
    except OSError:
        return None
    client = Connection(sock.detach())
    try:
        client.send(("ready", imported))
    except OSError:
        client.close()
        return None
    return client


def _pidfd(pid: int) -> int | None:
    """A file descriptor that turns readable when child ``pid`` ends (Linux 5.3+), else None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd_open here, or the child is already reaped
        return None


def _fork(conn: Connection, shell, spec: dict, others: list, fds: Iterable[int] = ()) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the report
        code = 0
        try:
            for other in others:  # a worker sees its template's end only when no report holds it open
                other.close()
            for fd in fds:  # the other reports' pidfds: the template's, not this report's
                os.close(fd)
            _child(conn, shell, spec)
        except BaseException:  # noqa: BLE001 - the child must never return into the template's loop
            code = 70
        finally:
            os._exit(code)
    return pid


def _reap(running: dict[int, Connection], clients: list[Connection]) -> None:
    """Tell each finished child's worker how it ended."""
    while running:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            running.clear()
            return
        if pid == 0:
            return
        conn = running.pop(pid, None)
        if conn is None:
            continue
        try:
            conn.send(("exited", _how_it_ended(status)))
        except OSError:  # that worker is gone
            if conn in clients:
                clients.remove(conn)
            conn.close()


def _how_it_ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        return f"killed by signal {name}" + (" (out of memory?)" if signum == signal.SIGKILL else "")
    return f"exit code {os.WEXITSTATUS(status)}"


def _child(conn: Connection, shell, spec: dict) -> None:
    os.setpgid(0, 0)  # a timeout kills the report and anything it started
    signal.signal(signal.SIGINT, signal.default_int_handler)
    die_with_parent()
    conn.send(("forked", os.getpid()))
    fd_out = redirect_fds()
    if spec["cwd"]:
        os.chdir(spec["cwd"])
    os.environ.update(spec["env"])
    if "numpy" in sys.modules:  # a fresh kernel would draw fresh entropy
        sys.modules["numpy"].random.seed()
    gc.set_threshold(*REPORT_GC_THRESHOLD)
    allowed = set(spec["allow_errors"])
    capture = shell.capture
    for index, source in spec["cells"]:
        outputs = capture.begin()
        result = shell.run_cell(source, store_history=True)
        capture.end()
        fd_out.collect(outputs)
        ok = result.success
        conn.send(("cell", index, result.execution_count, json_safe(outputs), ok))
        if not ok and index not in allowed:
            break
    mark("cells done")
    conn.send(("finished",))


def die_with_parent() -> None:
    """Linux: the report dies with the template (never an orphan that keeps running)."""
    prctl = _prctl()
    if prctl is None:
        return
    prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        os._exit(75)


_PRCTL: list = []


def _prctl():
    """libc's ``prctl`` (Linux), found once per template: every report calls it, and
    finding it (ctypes' ``CDLL``) cost each child ~0.3 ms."""
    if not _PRCTL:
        prctl = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                prctl = ctypes.CDLL(None, use_errno=True).prctl
            except (OSError, AttributeError):
                prctl = None
        _PRCTL.append(prctl)
    return _PRCTL[0]


def _import_all(names: Iterable[str]) -> list[str]:
    import importlib

    done = []
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - a module that fails here fails in the notebook, with its message
            parent = name.rpartition(".")[0]
            if parent:
                try:
                    importlib.import_module(parent)
                except BaseException:  # noqa: BLE001
                    pass
            continue
        done.append(name)
    return done


def _freeze() -> None:
    """Objects the template holds are never scanned by the children's
    garbage collector, so their pages stay shared (copy-on-write)."""
    gc.collect()
    if hasattr(gc, "freeze"):
        gc.freeze()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None)
    exit_now(0)  # the batch waits for this process to end: not for its data freed object by object
