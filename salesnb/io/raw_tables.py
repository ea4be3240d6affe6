"""What a reader hands back: a raw table with the line or row of every
record, and the few helpers every reader shares (the unreadable-source
error, how column names are matched, blank header cells).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salesnb.errors import DataError, Problem

__all__ = [
    "PART_LINES",
    "RawTable",
    "RowNumbers",
    "column_letter",
    "normalise_column_name",
    "unnamed_columns",
    "unnamed_label",
    "unreadable",
]


class RowNumbers:
    """The line or row numbers ``first, first + 1, ...`` of ``count`` records:
    what ``np.arange(first, first + count)`` holds, without its 8 bytes a
    row (75 MiB for ten million activities, held through the whole load).
    Indexed like that array: a position gives an int, a boolean mask or an
    array of positions gives an array of those numbers only."""

    def __init__(self, first: int, count: int):
        self.first, self.count = int(first), int(count)

    def __len__(self) -> int:
        return self.count

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.arange(self.first, self.first + self.count, dtype=dtype or np.int64)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return range(self.first, self.first + self.count)[key]  # IndexError past the end, as an array
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != (self.count,):
                raise IndexError(f"boolean index of length {len(key)} for {self.count} rows")
            return np.flatnonzero(key) + self.first
        if key.dtype.kind in "iu":
            positions = key.astype(np.int64)
            positions[positions < 0] += self.count
            if len(positions) and (positions.min() < 0 or positions.max() >= self.count):
                raise IndexError(f"row position out of range for {self.count} rows")
            return positions + self.first
        return np.asarray(self)[key]

    def __repr__(self) -> str:
        return f"RowNumbers({self.first}, {self.count})"


@dataclass
class RawTable:
    """A table as the source holds it, with the line or row of every record."""

    name: str
    frame: pd.DataFrame
    file: str
    lines: np.ndarray | RowNumbers
    unit: str = "line"
    problems: list[Problem] = field(default_factory=list)  # warnings found while reading (e.g. a stray encoding)
    #: Several files read as one table (a mapping's ``file: [a.csv, b.csv]``):
    #: each file's name and unit, in order. The rows of the k-th file carry
    #: ``k * PART_LINES + line`` in ``lines`` until :meth:`place` takes it apart.
    parts: tuple[tuple[str, str], ...] = ()

    def place(self, line: int) -> tuple[str, int, str]:
        """The (file, line, unit) of the record whose ``lines`` entry is ``line``."""
        if not self.parts:
            return self.file, int(line), self.unit
        part, line = divmod(int(line), PART_LINES)
        file, unit = self.parts[part]
        return file, line, unit

    @property
    def files(self) -> tuple[str, ...]:
        """Every file the table was read from."""
        return tuple(file for file, _ in self.parts) or (self.file,)


PART_LINES = 1_000_000_000
"""The stride between the line numbers of two files read as one table (no export has a billion lines)."""


def unreadable(file: str, message: str, hint: str, *, table: str = "", line: int | None = None) -> DataError:
    """The error for a source that cannot be read as a table (flag ``unreadable``)."""
    return DataError(
        Problem(table=table, file=file, line=line, column=None, value=None, message=message, hint=hint, flag="unreadable")
    )


def normalise_column_name(name: object) -> str:
    """A column name as matched against the contract's: case- and
    punctuation-insensitive, so "Rep ID" matches ``rep_id``."""
    return "".join(ch if ch.isalnum() else "_" for ch in str(name).strip().casefold()).strip("_")


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: a column as Excel names it."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def unnamed_columns(
    table: str, file: str, frame: pd.DataFrame, positions: list[int], *, header_line: int, letters: list[int] | None = None
) -> list[Problem]:
    """A warning for each column at ``positions`` (0-based, in ``frame``)
    whose header cell is blank while the column holds values: the loader
    reads columns by name, so its values are not read. ``letters``: the
    columns' own positions in the sheet, where they differ (Excel)."""
    problems = []
    for k, position in enumerate(positions):
        cells = frame.iloc[:, position]
        filled = cells.notna() & cells.astype("str").str.strip().ne("")
        if not filled.any():
            continue  # a trailing delimiter: nothing is lost
        sheet_position = letters[k] if letters is not None else position
        count = int(filled.sum())
        problems.append(
            Problem(
                table,
                file,
                header_line,
                None,
                cells[filled].iloc[0],
                f"column {sheet_position + 1} ({column_letter(sheet_position)}) has no name in the header, "
                f"so its values ({count:,} {'row' if count == 1 else 'rows'}) are not read",
                "write the column's name in the header (a contract column's name, or map it in mapping.yml), "
                "or delete the column if it is not needed",
                "unnamed_column",
                "warning",
            )
        )
    return problems


def unnamed_label(position: int) -> str:
    """What a column with a blank header is called (0-based ``position``): no
    contract column or mapping matches it, and a set-aside row's record still
    shows its value."""
    return f"(no name, column {column_letter(position)})"
