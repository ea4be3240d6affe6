"""Timestamps of a batch's steps, for measuring where a cold start goes.

With ``SALESNB_TRACE=FILE`` set, every process of a batch (the runner, its
workers, their report templates and reports) appends ``time pid event``
lines to FILE; ``benchmarks/reports.py`` reads them to print the cold
start's parts. Unset (the default), :func:`mark` costs one dictionary lookup.
"""

from __future__ import annotations

import os
import time

__all__ = ["ENV", "mark"]

ENV = "SALESNB_TRACE"


def mark(event: str) -> None:
    """Append ``event`` with this process's id and the wall-clock time to ``$SALESNB_TRACE``."""
    path = os.environ.get(ENV)
    if not path:
        return
    if not os.path.isabs(path):  # the first mark (the runner's) fixes it for every process it starts
        path = os.environ[ENV] = os.path.abspath(path)
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{time.time():.3f} {os.getpid()} {event}\n")
    except OSError:
        pass
