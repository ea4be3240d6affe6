"""Optional imports that salesnb's own processes skip: they cost seconds and serve nothing here.

``jsonschema`` (under nbformat, so under papermill and nbconvert) imports
``rfc3987_syntax`` when it is installed (JupyterLab's jupyter-events asks
for it, through ``jsonschema[format-nongpl]``), and that package compiles
about 35 Lark grammars as it is imported: 1.3 s of CPU in every process
that imports nbformat, on this project's 2-core machine, to check the
"iri" string format, which no notebook schema uses
(python-jsonschema/jsonschema#1428). Without it jsonschema simply has no
"iri" checker. :func:`skip_slow_optional_imports` is called first thing by
the processes salesnb starts (the command line, the report template, the
report workers), never on import of the package: an analyst's own kernel
keeps every checker it has.

:func:`imported_without` is narrower: optional imports skipped only while one
library is imported. papermill's I/O module imports ``pyarrow.fs`` (and so
pyarrow and numpy, ~0.15 s of CPU) for its ``hdfs://`` handler; the fork
server that starts a batch's report workers imports papermill without it
(:data:`PAPERMILL_SKIPS`), and a later ``import pyarrow`` works as usual. The same
block leaves out the libraries behind jsonschema's optional string-format checkers
(:data:`FORMAT_CHECKER_SKIPS`: ``isoduration`` with ``arrow``, ``webcolors``, ...,
~0.05 s of the fork server's CPU), which nbformat never asks for (it validates
without a format checker). The report template imports seaborn without
``ipywidgets`` (:data:`SEABORN_SKIPS`, ~0.035 s): only seaborn's interactive palette
choosers use it, and a notebook's own ``import ipywidgets`` works as usual.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = [
    "SKIPPED",
    "FORMAT_CHECKER_SKIPS",
    "PAPERMILL_SKIPS",
    "SEABORN_SKIPS",
    "skip_slow_optional_imports",
    "imported_without",
]

SKIPPED = ("rfc3987_syntax",)
"""Modules a salesnb process treats as not installed."""

FORMAT_CHECKER_SKIPS = (
    "fqdn",
    "isoduration",
    "jsonpointer",
    "rfc3339_validator",
    "rfc3986_validator",
    "uri_template",
    "webcolors",
)
"""What ``jsonschema._format`` imports, when installed, for its optional string-format
checkers ("hostname", "duration", "color", "json-pointer", "date-time", "uri",
"uri-template"; JupyterLab's jupyter-events brings them): nbformat validates
notebooks with no format checker, so none of them is ever asked for under papermill."""

PAPERMILL_SKIPS = ("pyarrow", *FORMAT_CHECKER_SKIPS)
"""Modules papermill is imported without (:func:`imported_without`): only its
``hdfs://`` notebook handler needs pyarrow, and salesnb's notebooks are local files;
and the format checkers' libraries of the jsonschema it imports (through nbformat),
:data:`FORMAT_CHECKER_SKIPS`."""

SEABORN_SKIPS = ("ipywidgets",)
"""Modules seaborn is imported without (:func:`imported_without`): ``seaborn.widgets``
imports ipywidgets (~0.035 s of CPU) for its interactive palette choosers, which
no report uses; without it seaborn defines them to say ipywidgets is missing."""


def skip_slow_optional_imports() -> list[str]:
    """Make importing each of :data:`SKIPPED` raise ImportError in this process, as if it
    were not installed (unless it is imported already). Returns the names skipped."""
    skipped = []
    for name in SKIPPED:
        if name not in sys.modules:
            sys.modules[name] = None  # the import system's "not here": `import name` raises ModuleNotFoundError
            skipped.append(name)
    return skipped


@contextmanager
def imported_without(names: Iterable[str]) -> Iterator[list[str]]:
    """Inside the block, importing each of ``names`` raises ImportError, as if it were
    not installed (unless it is imported already); after it, each imports as usual.
    Yields the names skipped."""
    skipped = [name for name in names if name not in sys.modules]
    for name in skipped:
        sys.modules[name] = None
    try:
        yield skipped
    finally:
        for name in skipped:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
