"""Rebuild the corpus's binary sources (Excel workbooks, SQLite databases).

They are committed, so the tests do not need this script; run it after
changing one of them: ``.venv/bin/python tests/bad_inputs/make_binaries.py``.
Row by row, the comments give the line (Excel row) or row number each
problem is expected on in the case's expected.yml.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXED_TIME = dt.datetime(2025, 1, 1)


def _workbook(rows_from_row_1: list[list], path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.properties.created = book.properties.modified = FIXED_TIME
    sheet = book.active
    for i, row in enumerate(rows_from_row_1, start=1):
        for j, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(row=i, column=j, value=value)
    book.save(path)


def excel_empty_sheet() -> None:
    _workbook([], HERE / "37_excel_empty_sheet" / "opportunities.xlsx")


def excel_title_rows() -> None:
    _workbook(
        [
            ["Pipeline export"],  # row 1: title
            ["Generated 2025-06-30 by CRM"],  # row 2: title
            ["opportunity_id", "rep_id", "created_date", "closed_date", "status", "amount"],  # row 3: header
            ["O1", "R1", "2025-01-01", None, "open", 10],  # row 4: good
            ["O2", "R1", "not a date", None, "open", 10],  # row 5: bad created_date
            [None, None, None, None, None, None],  # row 6: blank, skipped
            ["O3", "R2", "2025-01-01", None, "open", -1],  # row 7: negative amount
            ["O4", "R2", "2025-01-02", None, "won", None],  # row 8: won, no close date, no amount
            ["O5", "R2", dt.datetime(2025, 1, 3), dt.datetime(2025, 2, 3), "won", 25.5],  # row 9: good (real Excel dates)
        ],
        HERE / "53_excel_title_rows" / "opportunities.xlsx",
    )


def excel_totals_row() -> None:
    _workbook(
        [
            ["Deals Q1 2025"],  # row 1: title
            ["opportunity_id", "rep_id", "created_date", "status", "amount"],  # row 2: header
            ["O1", "R1", "2025-01-01", "open", 100],  # row 3
            ["O2", "R2", "2025-01-02", "open", 50],  # row 4
            ["Total", None, None, None, 150],  # row 5: totals row
        ],
        HERE / "54_excel_totals_row" / "opportunities.xlsx",
    )


def _sqlite_with_reps(path: Path) -> sqlite3.Connection:
    """A new, small SQLite file at ``path`` holding the two reps R1 and R2."""
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA page_size = 512")
    connection.execute("CREATE TABLE reps (rep_id TEXT, name TEXT, territory TEXT)")
    connection.executemany("INSERT INTO reps VALUES (?, ?, ?)", [("R1", "Ann", "North"), ("R2", "Bob", "South")])
    return connection


def sqlite_wrong_types(path: Path = HERE / "13_sqlite_wrong_types" / "sales.sqlite") -> None:
    connection = _sqlite_with_reps(path)
    # SQLite lets a REAL column hold text and a date column hold anything.
    connection.execute(
        "CREATE TABLE opportunities (opportunity_id TEXT, rep_id TEXT, created_date TEXT, status TEXT, amount REAL)"
    )
    connection.executemany(
        "INSERT INTO opportunities VALUES (?, ?, ?, ?, ?)",
        [
            ("O1", "R1", "2025-01-01", "open", 10.0),  # row 1
            ("O2", "R1", "2025-01-01", "open", "abc"),  # row 2: amount is text
            ("O3", "R2", "soon", "open", 5.0),  # row 3: created_date is not a date
            ("O4", "R2", "2025-01-02", "open", None),  # row 4: open, amount unknown
        ],
    )
    connection.commit()
    connection.execute("VACUUM")
    connection.close()


def sqlite_integer_dates() -> None:
    connection = _sqlite_with_reps(HERE / "144_sqlite_integer_date_column" / "sales.sqlite")
    # created_date is an INTEGER column: 1704412 would read as 1704-04-12, 2025115 as 2025-11-05.
    connection.execute(
        "CREATE TABLE opportunities (opportunity_id TEXT, rep_id TEXT, created_date INTEGER, status TEXT, amount REAL)"
    )
    connection.executemany(
        "INSERT INTO opportunities VALUES (?, ?, ?, ?, ?)",
        [
            ("O1", "R1", 20250115, "open", 10.0),  # row 1: the column's first value, named in the message
            ("O2", "R1", 1704412, "open", 5.0),  # row 2
            ("O3", "R2", 2025115, "open", 7.0),  # row 3
        ],
    )
    connection.commit()
    connection.execute("VACUUM")
    connection.close()


def sqlite_named_duckdb() -> None:
    """A SQLite database under a DuckDB name (the name is the bad part; the rows are good)."""
    path = HERE / "180_duckdb_file_is_sqlite" / "sales.duckdb"
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA page_size = 512")
    connection.execute("CREATE TABLE reps (rep_id TEXT, name TEXT, territory TEXT)")
    connection.execute("INSERT INTO reps VALUES ('R1', 'Ann', 'North')")
    connection.execute(
        "CREATE TABLE opportunities (opportunity_id TEXT, rep_id TEXT, created_date TEXT, status TEXT, amount REAL)"
    )
    connection.execute("INSERT INTO opportunities VALUES ('O1', 'R1', '2025-01-01', 'open', 10.0)")
    connection.commit()
    connection.execute("VACUUM")
    connection.close()


def nul_inside_ids() -> None:
    """A CSV with NUL bytes inside two IDs (git shows it as binary)."""
    (HERE / "183_nul_inside_ids" / "opportunities.csv").write_bytes(
        b"opportunity_id,rep_id,created_date,status,amount\n"  # line 1: header
        b"O1,R1,2025-01-01,open,10\n"  # line 2: good
        b"O1\x00B,R1,2025-01-02,open,20\n"  # line 3: NUL in opportunity_id (would print as O1, a duplicate)
        b"O3,R2\x00,2025-01-03,open,30\n"  # line 4: NUL at the end of rep_id (would print as R2)
        b"O4,R2,2025-01-04,open,40\n"
    )  # line 5: good


if __name__ == "__main__":
    excel_empty_sheet()
    excel_title_rows()
    excel_totals_row()
    sqlite_wrong_types()
    sqlite_integer_dates()
    sqlite_wrong_types(HERE / "120_sqlite_url_password_in_query" / "sales.sqlite")  # the same rows, read by a URL
    sqlite_named_duckdb()
    nul_inside_ids()
    for path in sorted(HERE.glob("*/*.xlsx")) + sorted(HERE.glob("*/*.sqlite")) + sorted(HERE.glob("*/*.duckdb")):
        print(f"{path.relative_to(HERE)}: {path.stat().st_size} bytes")
