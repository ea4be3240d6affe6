"""The ``salesnb`` command line.

The click group lives in :mod:`salesnb.cli.group`; each command lives in a
module of this package named for its concern and registers itself on the
group when imported. Only click is imported at start-up, so ``salesnb --help``
answers fast; pandas and friends are imported inside the commands that need
them.
"""

from __future__ import annotations

import sys

# Commands register themselves on `cli` when their module is imported.
from salesnb.cli import coaching, data, deliver, metrics, pipeline, reports  # noqa: F401
from salesnb.cli.group import cli

__all__ = ["cli", "main", "run", "exit_now"]


def main() -> None:
    """The command line as a function: runs ``sys.argv``'s command, then raises SystemExit."""
    from salesnb.run.trace import mark
    from salesnb.slow_imports import skip_slow_optional_imports

    mark("cli start")
    skip_slow_optional_imports()
    cli(prog_name="salesnb")


def run() -> None:
    """Entry point for the console script: :func:`main`, then :func:`exit_now`."""
    try:
        main()
    except SystemExit as done:
        exit_now(done.code)
        raise


def exit_now(code) -> None:
    """End the process with ``code`` at once, once nothing is left to do, without the
    interpreter's teardown: after a batch, freeing every object of pandas, Arrow,
    DuckDB and matplotlib one by one took 0.2-0.3 s of a 7 s batch (issue #16).

    The exit handlers run first (multiprocessing's, logging's, temporary folders'),
    and the output is flushed. Nothing happens (the interpreter exits as usual) for a
    message instead of a code, or while another thread (not a daemon) or a child
    process of multiprocessing still runs."""
    import atexit
    import os
    import threading

    if not (code is None or isinstance(code, int)) or not hasattr(atexit, "_run_exitfuncs"):
        return
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return
    processes = sys.modules.get("multiprocessing")
    if processes is not None and processes.active_children():
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (salesnb ... | head): nothing more to say
            pass
    os._exit(code or 0)
