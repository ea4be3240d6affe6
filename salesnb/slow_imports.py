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
"""

from __future__ import annotations

import sys

__all__ = ["SKIPPED", "skip_slow_optional_imports"]

SKIPPED = ("rfc3987_syntax",)
"""Modules a salesnb process treats as not installed."""


def skip_slow_optional_imports() -> list[str]:
    """Make importing each of :data:`SKIPPED` raise ImportError in this process, as if it
    were not installed (unless it is imported already). Returns the names skipped."""
    skipped = []
    for name in SKIPPED:
        if name not in sys.modules:
            sys.modules[name] = None  # the import system's "not here": `import name` raises ModuleNotFoundError
            skipped.append(name)
    return skipped
