"""Error and problem types shared by the loader, the analyses and the CLI.

A :class:`Problem` is one thing wrong with one cell, row or table of the
source, located the way a spreadsheet user would find it (file, line,
column, value) with a hint that says what would fix it. A
:class:`DataError` carries one or more problems that stop a run; the CLI
turns it into a message and exit code 1, never a traceback.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


class SalesnbError(Exception):
    """Base class for every error salesnb raises on purpose."""


class InputError(SalesnbError):
    """A parameter value makes no sense (a period, a rep that does not exist...)."""


class OutputError(SalesnbError):
    """An output cannot be written: the disk is full, the folder is read-only
    or not a folder, permission is denied... The message names the place and
    says what to do."""


@dataclass(frozen=True)
class Problem:
    """One contract breach, located and explained.

    ``flag`` is a stable name (``missing_required``, ``duplicate_id``,
    ``closed_before_created``, ``orphan_rep``, ``bad_value``, ...);
    ``severity`` is ``error`` (the row is set aside, or the run stops in
    strict mode) or ``warning`` (the row is kept, the problem reported).
    ``line`` counts as a spreadsheet user does: the header is line 1.
    """

    table: str
    file: str
    line: int | None
    column: str | None
    value: object
    message: str
    hint: str = ""
    flag: str = "bad_value"
    severity: str = "error"
    unit: str = "line"  # "line" in a text file or spreadsheet, "row" in Parquet or SQL
    #: The column's header in the user's file when it differs from ``column``
    #: (a mapping.yml rename such as ``status: Stage``, or "Opportunity ID").
    source_column: str | None = None

    def location(self) -> str:
        where = self.file or self.table
        if self.line is not None:
            where += f", {self.unit} {self.line}"
        if self.column:
            where += f", column {self.column_label()}"
        return where

    def column_label(self) -> str:
        """``'Stage' (read as status)`` for a renamed column, else ``'status'``."""
        if self.source_column and self.source_column != self.column:
            return f"'{self.source_column}' (read as {self.column})"
        return f"'{self.column}'"

    def __str__(self) -> str:
        text = f"{self.location()}: {self.message}"
        if self.value is not None and self.value == self.value:  # not NaN
            text += f" (value: {self.value!r})"
        if self.hint:
            text += f". Fix: {self.hint}"
        return text

    def to_dict(self) -> dict:
        out = asdict(self)
        value = out["value"]
        out["value"] = None if value is None or value != value else str(value)
        return out


class DataError(SalesnbError):
    """The source cannot be used as it is; carries the problems that say why."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(table="", file="", line=None, column=None, value=None, message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__(self._text())

    def _text(self) -> str:
        lines = [str(p) for p in self.problems[:50]]
        if len(self.problems) > 50:
            lines.append(f"... and {len(self.problems) - 50} more problems")
        return "\n".join(lines)
