"""Source weak spots left over from issue #13: fix hints that fit a
``.duckdb`` file that is no DuckDB database (or is locked), nothing dropped
silently (a column without a name, NUL inside an ID, Excel's ``="007"``),
and a mapping ``file:`` outside the source folder.

The corpus (tests/bad_inputs/180-185) holds the cases a user's folder can
show; these need a generated file, a second process or an absolute path.
"""

from __future__ import annotations

import subprocess
import sys

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from sources import REPS, write_source

import salesnb
from salesnb.cli import cli
from salesnb.errors import DataError

OPPS = "opportunity_id,rep_id,created_date,status,amount\nO1,R1,2025-01-01,open,10\n"


def _duckdb_source(path):
    import duckdb

    connection = duckdb.connect(str(path))
    connection.execute("CREATE TABLE reps AS SELECT 'R1' AS rep_id, 'Ann' AS name, 'North' AS territory")
    connection.execute(
        "CREATE TABLE opportunities AS SELECT 'O1' AS opportunity_id, 'R1' AS rep_id, "
        "DATE '2025-01-01' AS created_date, 'open' AS status, 10.0 AS amount"
    )
    connection.close()
    return path


def _load_error(source) -> str:
    with pytest.raises(DataError) as caught:
        salesnb.load(source)
    return str(caught.value)


# -- DuckDB files -----------------------------------------------------------------


def test_a_duckdb_file_another_process_holds_open_says_so_and_what_to_do(tmp_path):
    path = _duckdb_source(tmp_path / "sales.duckdb")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True); sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"  # the other process holds the write lock now
        message = _load_error(path)
    finally:
        holder.stdin.close()  # the holder ends on end of input
        holder.wait(timeout=30)
    assert message.startswith(f"{path}: another program (")
    assert f"process {holder.pid}) has the database open for writing, so it cannot be read now" in message
    assert "Fix: close that program (or its connection to the file) and run again; or copy the file and pass the copy" in message
    assert "server is running" not in message
    assert salesnb.load(path).tables["reps"]["rep_id"].tolist() == ["R1"]  # released: read as usual


def test_an_empty_duckdb_file_says_it_is_empty(tmp_path):
    path = tmp_path / "sales.duckdb"
    path.write_bytes(b"")
    assert _load_error(path) == (
        f"{path}: the file is empty, not a DuckDB database. Fix: pass the DuckDB database file that holds "
        "the tables (the empty one may be a failed copy)"
    )


def test_a_duckdb_url_to_a_missing_file_says_the_file_does_not_exist(tmp_path):
    url = f"duckdb:///{tmp_path}/nope.duckdb"
    message = _load_error(url)
    assert message.startswith(f"{url}: the DuckDB database file does not exist. Fix: check the path")
    assert not (tmp_path / "nope.duckdb").exists()  # read-only: nothing created


def test_a_duckdb_database_named_sqlite_says_it_is_duckdb(tmp_path):
    path = _duckdb_source(tmp_path / "sales.sqlite")
    assert _load_error(path) == (
        f"{path}: the file is a DuckDB database, not a SQLite one. "
        f"Fix: give it the .duckdb name (sales.duckdb), or pass it as duckdb:///{path}"
    )


def test_a_sqlite_file_named_duckdb_loads_through_the_suggested_url(tmp_path):
    import sqlite3

    path = tmp_path / "sales.duckdb"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE reps (rep_id TEXT, name TEXT, territory TEXT)")
    connection.execute("INSERT INTO reps VALUES ('R1', 'Ann', 'North')")
    connection.execute(
        "CREATE TABLE opportunities (opportunity_id TEXT, rep_id TEXT, created_date TEXT, status TEXT, amount REAL)"
    )
    connection.execute("INSERT INTO opportunities VALUES ('O1', 'R1', '2025-01-01', 'open', 10.0)")
    connection.commit()
    connection.close()
    assert f"pass it as sqlite:///{path}" in _load_error(path)
    assert salesnb.load(f"sqlite:///{path}").tables["opportunities"]["opportunity_id"].tolist() == ["O1"]


# -- nothing dropped silently ------------------------------------------------------


def test_an_excel_column_without_a_name_is_a_warning_with_its_sheet_row_and_letter(tmp_path):
    folder = write_source(tmp_path / "src", {"opportunities": OPPS})
    book = openpyxl.Workbook()
    for row in [
        ["Reps export"],
        [],
        ["rep_id", "name", None, "territory"],  # header on row 3, column C blank
        ["R1", "Ann", "bonus 5%", "North"],
        ["R2", "Bob", None, "South"],
    ]:
        book.active.append(row)
    book.save(folder / "reps.xlsx")
    dataset = salesnb.load(folder)
    assert [str(p) for p in dataset.problems] == [
        f"{folder}/reps.xlsx, line 3: column 3 (C) has no name in the header, so its values (1 row) are not read "
        "(value: 'bonus 5%'). Fix: write the column's name in the header (a contract column's name, or map it in "
        "mapping.yml), or delete the column if it is not needed"
    ]
    assert dataset.problems[0].severity == "warning"
    assert dataset.tables["reps"]["territory"].tolist() == ["North", "South"]


def test_a_row_with_a_value_only_under_a_blank_header_is_set_aside_with_that_value(tmp_path):
    # column D holds R2 on line 3; column E (a trailing comma, spaces) holds nothing: no warning for it
    reps = "rep_id,name,territory,,\nR1,Ann,North,,\n,,,R2,  \n"
    folder = write_source(tmp_path / "src", {"reps": reps, "opportunities": OPPS})
    dataset = salesnb.load(folder)
    assert [(p.line, p.column, p.flag) for p in dataset.problems] == [
        (1, None, "unnamed_column"),
        (3, "rep_id", "missing_required"),
        (3, "name", "missing_required"),
        (3, "territory", "missing_required"),
    ]
    assert "column 4 (D) has no name" in dataset.problems[0].message
    assert dataset.quarantine["record"].tolist() == [
        '{"rep_id": null, "name": null, "territory": null, "(no name, column D)": "R2", "(no name, column E)": "  "}'
    ]


def test_a_nul_inside_a_parquet_id_sets_the_row_aside(tmp_path):
    folder = write_source(tmp_path / "src", {"reps": REPS})
    pd.DataFrame(
        {
            "opportunity_id": ["O1", "O2"],
            "rep_id": ["R1", "R2\x00R1"],
            "created_date": ["2025-01-01"] * 2,
            "status": ["open"] * 2,
            "amount": [10.0, 20.0],
        }
    ).to_parquet(folder / "opportunities.parquet")
    dataset = salesnb.load(folder)
    # R2\x00R1 is in no reps row either: the NUL is named, not a missing rep
    assert [(p.line, p.unit, p.column, p.value, p.flag) for p in dataset.problems] == [
        (2, "row", "rep_id", "R2\x00R1", "bad_value")
    ]
    assert (
        dataset.problems[0].message == "the ID holds a NUL character (\\x00): invisible, and many programs cut the ID short at it"
    )
    assert dataset.tables["opportunities"]["opportunity_id"].tolist() == ["O1"]


def test_only_the_exact_excel_text_form_is_unwrapped(tmp_path):
    reps = 'rep_id,name,territory\n="R1","=""Ann""",="North"\n="R2",="Bob" ,=" South"\n'
    folder = write_source(tmp_path / "src", {"reps": reps, "opportunities": OPPS})
    frame = salesnb.load(folder).tables["reps"]
    # "=""Ann""" is ="Ann" (Ann); '="Bob" ' has a space after the closing quote: not the form, kept as written
    assert frame[["rep_id", "name", "territory"]].values.tolist() == [["R1", "Ann", "North"], ["R2", '="Bob"', "South"]]


# -- a mapping's file: outside the source folder ------------------------------------


def _folder_with_outside_deals(tmp_path):
    folder = write_source(tmp_path / "src", {"reps": REPS})
    outside = tmp_path / "elsewhere" / "deals.csv"
    outside.parent.mkdir()
    outside.write_text(OPPS)
    return folder, outside


def test_a_mapping_file_reached_through_a_symlink_is_a_located_mapping_error(tmp_path):
    folder, outside = _folder_with_outside_deals(tmp_path)
    (folder / "deals.csv").symlink_to(outside)
    (folder / "mapping.yml").write_text("tables:\n  reps:\n    file: reps.csv\n  opportunities:\n    file: deals.csv\n")
    assert _load_error(folder) == (
        f"{folder}/mapping.yml, line 5, column 'tables.opportunities.file': file: 'deals.csv' leads outside the source folder "
        f"{folder} (to {outside}). Fix: put the file in {folder}, or if you mean that file, write its absolute path: file: {outside}"
    )


def test_an_absolute_mapping_file_outside_is_read_and_named_by_validate(tmp_path):
    folder, outside = _folder_with_outside_deals(tmp_path)
    (folder / "exports").mkdir()
    (folder / "reps.csv").rename(folder / "exports" / "reps.csv")
    # reps: a relative path through .. that stays in the folder is read as before, and not named
    (folder / "mapping.yml").write_text(
        f"tables:\n  reps:\n    file: exports/../exports/reps.csv\n  opportunities:\n    file: {outside}\n"
    )
    result = CliRunner().invoke(cli, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines() if "outside the source folder" in line] == [
        f"Read from outside the source folder: opportunities from {outside} (an absolute path in the mapping)"
    ]
