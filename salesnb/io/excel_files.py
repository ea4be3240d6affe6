"""Reading the first sheet of an Excel workbook (.xlsx, .xlsm): the header
row found below any title rows, blank rows past the table skipped from the
sheet's XML, and formulas whose value was never calculated refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from salesnb.errors import DataError, Problem
from salesnb.io.raw_tables import RawTable, column_letter, normalise_column_name, unnamed_columns, unnamed_label, unreadable

__all__ = ["read_excel_table"]

_EXCEL_HEADER_SEARCH_ROWS = 30


def read_excel_table(table: str, path: Path, expected: set[str]) -> RawTable:
    """The first sheet; the header is the row (among the first 30) naming the
    most expected columns, so title rows above the table are skipped."""
    try:
        last_row, has_formulas = _last_row_with_data(path)
        grid = pd.read_excel(path, sheet_name=0, header=None, dtype=str, nrows=last_row)
        unsaved = _formulas_without_values(path, grid) if has_formulas else {}
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise unreadable(
            str(path), f"cannot read the file as Excel: {exc}", "re-save it as .xlsx, or export the sheet as CSV", table=table
        ) from None
    grid = grid.dropna(how="all", axis=1)
    if grid.dropna(how="all").empty:
        raise unreadable(
            str(path), "the sheet is empty", f"put a header row with the {table} columns on the first sheet", table=table
        )
    wanted = {normalise_column_name(c) for c in expected}
    best, best_hits = int(grid.notna().any(axis=1).to_numpy().argmax()), 0
    for i in range(min(_EXCEL_HEADER_SEARCH_ROWS, len(grid))):
        hits = sum(normalise_column_name(v) in wanted for v in grid.iloc[i].dropna())
        if hits > best_hits:
            best, best_hits = i, hits
    header = [str(v).strip() if v == v else f"column_{j + 1}" for j, v in enumerate(grid.iloc[best])]
    _check_formulas(table, path, unsaved, header, grid.columns, first_row=best + 2, wanted=wanted)
    body = grid.iloc[best + 1 :].copy()
    body.columns = header
    lines = np.arange(best + 2, best + 2 + len(body))
    keep = ~body.isna().all(axis=1).to_numpy()
    body = body[keep].reset_index(drop=True)
    unnamed = [k for k, v in enumerate(grid.iloc[best]) if v != v]  # a blank header cell
    problems = []
    if unnamed:
        problems = unnamed_columns(
            table, str(path), body, unnamed, header_line=best + 1, letters=[int(grid.columns[k]) for k in unnamed]
        )
        body.columns = [unnamed_label(int(grid.columns[k])) if k in unnamed else name for k, name in enumerate(body.columns)]
    return RawTable(table, body, f"{path}", lines[keep], problems=problems)


def _last_row_with_data(path: Path) -> tuple[int | None, bool]:
    """The Excel row number of the first sheet's last row holding a value
    or a formula, and whether the sheet has formulas, from a scan of its XML
    (a million formatted but blank rows below the table cost a second, not
    minutes of reading them cell by cell). ``None`` for the row when the
    file does not say (rows without numbers): then every row is read."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        part = _first_sheet_part(archive)
        if part is None:
            return None, True
        last_row, current_row, formulas = 0, None, False
        prefix, carried = None, b""
        with archive.open(part) as stream:
            for chunk in iter(lambda: stream.read(1 << 22), b""):
                text = carried + chunk
                cut = text.rfind(b"<")  # tags before the last '<' are whole
                segment, carried = (text[:cut], text[cut:]) if cut > 0 else (b"", text)
                if prefix is None:
                    found = re.search(rb"<(\w+:)?sheetData[\s>/]", segment)
                    if found is None:
                        carried = text
                        continue
                    prefix = found.group(1) or b""
                value_tags = [b"<" + prefix + tag for tag in (b"v>", b"v ", b"is>", b"is ", b"f>", b"f ", b"f/")]
                formulas = formulas or any(tag in segment for tag in value_tags[4:])
                last_value = max(segment.rfind(tag) for tag in value_tags)
                row_tags = (b"<" + prefix + b"row ", b"<" + prefix + b"row>")
                if last_value >= 0:
                    row_start = max(segment.rfind(tag, 0, last_value) for tag in row_tags)
                    row = _row_number(segment[row_start:]) if row_start >= 0 else current_row
                    if row is None:
                        return None, True
                    last_row = max(last_row, row)
                row_start = max(segment.rfind(tag) for tag in row_tags)
                if row_start >= 0:
                    current_row = _row_number(segment[row_start:])
        return last_row, formulas


def _row_number(tag: bytes) -> int | None:
    found = re.match(rb"<(?:\w+:)?row\b[^>]*?\sr=[\"'](\d+)[\"']", tag)
    return int(found.group(1)) if found else None


def _first_sheet_part(archive) -> str | None:
    """The path inside an .xlsx of its first sheet (as pandas' ``sheet_name=0``)."""
    import posixpath
    import xml.etree.ElementTree as ET

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    relations = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    try:
        workbook = ET.fromstring(archive.read("xl/workbook.xml"))
        rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError):
        return None
    sheet = workbook.find(f"{main}sheets/{main}sheet")
    if sheet is None:
        return None
    target = next((r.get("Target") for r in rels if r.get("Id") == sheet.get(f"{relations}id")), None)
    if not target:
        return None
    part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    return part if part in archive.namelist() else None


def _formulas_without_values(path: Path, grid: pd.DataFrame) -> dict[tuple[int, int], str]:
    """(row, column) positions in ``grid`` of formula cells with no saved
    value (a file written by a program, never calculated by Excel), with
    their formula. openpyxl reads such a cell's value as empty."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        sheet = book.worksheets[0]
        found = {}
        for i, row in enumerate(sheet.iter_rows(max_row=len(grid), values_only=True)):
            for j, value in enumerate(row):
                formula = getattr(value, "text", value)  # an ArrayFormula holds its text
                if (
                    isinstance(formula, str)
                    and formula.startswith("=")
                    and j < grid.shape[1]
                    and grid.iat[i, j] != grid.iat[i, j]
                ):
                    found[(i, j)] = formula
        return found
    finally:
        book.close()


def _check_formulas(
    table: str, path: Path, unsaved: dict, header: list[str], columns, *, first_row: int, wanted: set[str]
) -> None:
    """Stop on a formula in a column the loader reads whose value was never
    calculated: its value is unknown, and reading it as blank would lose it."""
    problems = []
    for (i, j), formula in sorted(unsaved.items()):
        column = next((header[k] for k, c in enumerate(columns) if c == j), None)
        if i + 1 < first_row or column is None or (wanted and normalise_column_name(column) not in wanted):
            continue
        cell = f"{column_letter(j)}{i + 1}"
        problems.append(
            Problem(
                table,
                str(path),
                i + 1,
                column,
                formula,
                f"cell {cell} holds a formula whose value was never calculated (the file was written by a program, "
                "not saved by Excel), so its value is unknown",
                "open the file in Excel (or LibreOffice) and save it, so each formula's value is stored; "
                "or export the sheet as CSV",
                "unreadable",
            )
        )
    if problems:
        raise DataError(problems)
