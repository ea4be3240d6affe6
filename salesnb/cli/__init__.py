"""The ``salesnb`` command line.

The click group lives in :mod:`salesnb.cli.group`; each command lives in a
module of this package named for its concern and registers itself on the
group when imported. Only click is imported at start-up, so ``salesnb --help``
answers fast; pandas and friends are imported inside the commands that need
them.
"""

from __future__ import annotations

# Commands register themselves on `cli` when their module is imported.
from salesnb.cli import coaching, data, deliver, metrics, pipeline, reports  # noqa: F401
from salesnb.cli.group import cli
from salesnb.quick_exit import exit_now

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
