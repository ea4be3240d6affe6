"""Ending a process at once when its work is done (issue #16).

The command line (:func:`salesnb.cli.run`) and the report template
(:mod:`salesnb.run.template`) end through :func:`exit_now`: Python's own exit frees
every object one by one (pandas, Arrow, DuckDB, matplotlib, a batch's data), a few
tenths of a second that nobody waits for on purpose.
"""

from __future__ import annotations

import sys

__all__ = ["exit_now"]


def exit_now(code) -> None:
    """End the process with ``code`` at once, once nothing is left to do, without the
    interpreter's teardown: after a batch, freeing every object of pandas, Arrow,
    DuckDB and matplotlib one by one took 0.2-0.3 s of a 7 s batch (issue #16), and the
    batch waits for its report template to end.

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
