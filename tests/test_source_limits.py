"""Inputs that used to hang the loader end within seconds (issue #13, item 6).

Every huge input is generated in tmp_path here (never committed). The time
limits are generous (a loaded 2-core machine): each of these ran for minutes
before the caps.
"""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from click.testing import CliRunner
from sources import REPS, write_source

import salesnb
from salesnb.cli import cli
from salesnb.errors import DataError
from salesnb.io import csv_files

HEADER = "opportunity_id,rep_id,created_date,status,amount"
LIMIT_SECONDS = 20


def _timed_load(folder):
    started = time.perf_counter()
    try:
        return salesnb.load(folder), None
    except DataError as exc:
        return None, exc
    finally:
        assert time.perf_counter() - started < LIMIT_SECONDS


def test_a_50_mb_single_line_csv_is_refused_at_once(tmp_path):
    folder = write_source(tmp_path / "src", {"reps": REPS})
    (folder / "opportunities.csv").write_bytes((HEADER + ",x" * 25_000_000).encode())  # 50 MB, no line break
    _, error = _timed_load(folder)
    problem = error.problems[0]
    assert (problem.file, problem.line, problem.flag) == (str(folder / "opportunities.csv"), 1, "unreadable")
    assert "longer than 4,194,304 bytes" in problem.message
    result = CliRunner().invoke(cli, ["validate", str(folder)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {folder}/opportunities.csv, line 1: this line is longer than 4,194,304 bytes")
    assert "Fix: check that the file is a CSV export with one record per line" in result.stderr


def test_a_huge_value_is_located_on_its_line(tmp_path):
    folder = write_source(tmp_path / "src", {"reps": REPS})
    body = f"{HEADER}\r\nO1,R1,2025-01-01,open,10\r\nO2,R1,2025-01-01,open,{'9' * 5_000_000}\r\n"
    (folder / "opportunities.csv").write_bytes(body.encode())
    _, error = _timed_load(folder)
    assert error.problems[0].line == 3  # CRLF counts once


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_numbers_of_a_long_line_across_blocks(tmp_path, monkeypatch, newline):
    """With a small cap, the line that crosses it is named, whichever line break the file uses,
    also when a CRLF is split between two 1 MiB blocks."""
    monkeypatch.setattr(csv_files, "MAX_LINE_BYTES", 1_500_000)
    folder = write_source(tmp_path / "src", {"reps": REPS})
    first = f"{HEADER}{newline}O1,R1,2025-01-01,open,{'1' * ((1 << 20) - 1 - len(HEADER) - len(newline) - 22)}{newline}"
    assert len(first) == (1 << 20) - 1 + len(newline)  # line 2's line break starts on the last byte of the first block
    (folder / "opportunities.csv").write_bytes(
        (
            first + f"O2,R1,2025-01-01,open,{'2' * 1_400_000}{newline}" + f"O3,R1,2025-01-01,open,{'3' * 1_600_000}{newline}"
        ).encode()
    )
    _, error = _timed_load(folder)
    assert error.problems[0].line == 4


def test_100_000_columns_are_refused_at_once(tmp_path):
    folder = write_source(tmp_path / "src", {"reps": REPS})
    extra = [f"c{i}" for i in range(100_000)]
    (folder / "opportunities.csv").write_text(
        ",".join([HEADER, *extra]) + "\n" + ",".join(["O1,R1,2025-01-01,open,10", *["x"] * 100_000]) + "\n"
    )
    _, error = _timed_load(folder)
    problem = error.problems[0]
    assert (problem.line, problem.flag) == (1, "unreadable")
    assert problem.message == "the header names 100,005 columns, more than the 16,384 a table may have"
    # a wide file under the cap still loads, its blank line (nothing but delimiters) skipped as ever
    extra = [f"c{i}" for i in range(2_000)]
    rows = [",".join([HEADER, *extra])] + [",".join([f"O{r},R1,2025-01-01,open,10", *["x"] * 2_000]) for r in range(1, 21)]
    rows.insert(5, "," * 2_004)
    (folder / "opportunities.csv").write_text("\n".join(rows) + "\n")
    dataset, error = _timed_load(folder)
    assert error is None
    assert dataset.opportunities["opportunity_id"].tolist() == [f"O{r}" for r in range(1, 21)]


def _xlsx_with_blank_rows(path, blank_rows: int, *, data_after=None) -> None:
    """A workbook whose table (rows 1-3) is followed by ``blank_rows`` formatted
    but empty rows (as Excel writes a sheet whose whole column was coloured)."""
    import openpyxl
    from openpyxl.styles import PatternFill

    book = openpyxl.Workbook()
    sheet = book.active
    for row in ([*HEADER.split(",")], ["O1", "R1", "2025-01-01", "open", 10], ["O2", "R1", "2025-01-02", "open", 20]):
        sheet.append(row)
    sheet["A4"].fill = PatternFill("solid", fgColor="FFFF00")
    buffer = io.BytesIO()
    book.save(buffer)
    last = 3 + blank_rows
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                blank = "".join(f'<row r="{i}"><c r="A{i}" s="1"/></row>' for i in range(4, last + 1))
                if data_after:
                    last += 1
                    blank += (
                        f'<row r="{last}"><c r="A{last}" t="inlineStr"><is><t>{data_after[0]}</t></is></c>'
                        f'<c r="B{last}" t="inlineStr"><is><t>R1</t></is></c>'
                        f'<c r="C{last}" t="inlineStr"><is><t>2025-01-03</t></is></c>'
                        f'<c r="D{last}" t="inlineStr"><is><t>open</t></is></c><c r="E{last}"><v>5</v></c></row>'
                    )
                text = text[: text.index('<row r="4"')] + blank + text[text.index("</sheetData>") :]
                text = text.replace('<dimension ref="A1:E4" />', f'<dimension ref="A1:E{last}" />')
                data = text.encode()
            target.writestr(item, data)


def test_a_million_blank_spreadsheet_rows_are_skipped_quickly(tmp_path):
    folder = write_source(tmp_path / "src", {"reps": REPS})
    _xlsx_with_blank_rows(folder / "opportunities.xlsx", 1_000_000)
    assert (folder / "opportunities.xlsx").stat().st_size > 4_000_000
    dataset, error = _timed_load(folder)
    assert error is None
    assert dataset.opportunities["opportunity_id"].tolist() == ["O1", "O2"]
    assert dataset.problems == []
    # a row below blank ones is still read (the scan stops at the last row with data, not the first blank)
    _xlsx_with_blank_rows(folder / "opportunities.xlsx", 1_000, data_after=["O9"])
    dataset, error = _timed_load(folder)
    assert error is None
    assert dataset.opportunities["opportunity_id"].tolist() == ["O1", "O2", "O9"]


def test_a_formula_never_calculated_is_named_with_its_cell(tmp_path):
    import openpyxl

    folder = write_source(tmp_path / "src", {"reps": REPS})
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (
        [*HEADER.split(","), "note"],
        ["O1", "R1", "2025-01-01", "open", 10, "=1+1"],
        ["O2", "R1", "2025-01-02", "open", "=E2*2", None],
    ):
        sheet.append(row)  # openpyxl stores formulas without a value, as any program but Excel does
    book.save(folder / "opportunities.xlsx")
    _, error = _timed_load(folder)
    assert [(p.line, p.column, p.value) for p in error.problems] == [(3, "amount", "=E2*2")]  # 'note' is not read
    assert error.problems[0].message.startswith("cell E3 holds a formula whose value was never calculated")
    assert "open the file in Excel (or LibreOffice) and save it" in error.problems[0].hint
