"""Loading: every source kind gives the same frames; a mapped CRM export loads."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import salesnb
from salesnb.errors import DataError
from salesnb.io.schema import DATE_DTYPE, TABLES

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def from_csv():
    return salesnb.load(SAMPLE)


def _write_parquet(ds, folder: Path) -> Path:
    folder.mkdir()
    for name, frame in ds.tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    shutil.copy(SAMPLE / "expectations.yml", folder)
    return folder


def _write_excel(ds, folder: Path) -> Path:
    folder.mkdir()
    for name, frame in ds.tables.items():
        frame.to_excel(folder / f"{name}.xlsx", index=False)
    shutil.copy(SAMPLE / "expectations.yml", folder)
    return folder


def _write_sqlite(ds, folder: Path) -> Path:
    folder.mkdir()
    path = folder / "sales.sqlite"
    with sqlite3.connect(path) as connection:
        for name, frame in ds.tables.items():
            frame.to_sql(name, connection, index=False)
    shutil.copy(SAMPLE / "expectations.yml", folder)
    return path


def _write_duckdb(ds, folder: Path) -> Path:
    folder.mkdir()
    path = folder / "sales.duckdb"
    connection = duckdb.connect(str(path))
    for name, frame in ds.tables.items():
        connection.register("frame_view", frame)
        connection.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame_view')
        connection.unregister("frame_view")
    connection.close()
    shutil.copy(SAMPLE / "expectations.yml", folder)
    return path


def test_sample_loads_clean(from_csv):
    assert from_csv.problems == []
    assert from_csv.quarantined_rows == 0
    assert set(from_csv.tables) == set(TABLES) - {"quotas"}  # the sample sets targets in expectations.yml
    assert from_csv.expectations is not None and "default" in from_csv.expectations
    opp = from_csv.opportunities
    assert opp["created_date"].dtype == DATE_DTYPE
    assert opp["amount"].dtype == "float64"
    assert pd.api.types.is_string_dtype(opp["opportunity_id"].dtype)
    assert opp["opportunity_id"].is_unique


@pytest.mark.parametrize(
    "writer", [_write_parquet, _write_excel, _write_sqlite, _write_duckdb], ids=["parquet", "excel", "sqlite", "duckdb"]
)
def test_every_source_kind_gives_identical_frames(from_csv, writer, tmp_path):
    source = writer(from_csv, tmp_path / "source")
    loaded = salesnb.load(source)
    assert loaded.problems == []
    assert set(loaded.tables) == set(from_csv.tables)
    for name, frame in from_csv.tables.items():
        pd.testing.assert_frame_equal(loaded.tables[name], frame, check_exact=False, rtol=1e-12, obj=name)
    assert loaded.expectations == from_csv.expectations


def test_sqlite_url_source_is_read_only(from_csv, tmp_path):
    path = _write_sqlite(from_csv, tmp_path / "db")
    loaded = salesnb.load(f"sqlite:///{path}")
    pd.testing.assert_frame_equal(loaded.reps, from_csv.reps)
    # the loader's own connection refuses writes
    from salesnb.io.sources import open_source

    src = open_source(f"sqlite:///{path}")
    connection = src._connect()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        connection.execute("DELETE FROM reps")
    src.close()


def test_fingerprint_changes_with_the_data(tmp_path):
    folder = tmp_path / "src"
    shutil.copytree(SAMPLE, folder)
    first = salesnb.load(folder).fingerprint
    assert first == salesnb.load(folder).fingerprint
    with (folder / "reps.csv").open("a", encoding="utf-8") as handle:
        handle.write("R99,New Rep,North,,,\n")
    assert salesnb.load(folder).fingerprint != first


# --- a CRM export mapped onto the contract --------------------------------

DEALS = """\
Deal ID,Owner,Amount,Create Date,Close Date,Stage,Company
D-1,Alice Smith,"$22,700.00","15 Apr, 2021 00:02:00","20 May, 2021 10:00:00",Closed Won,ACME
D-2,Alice Smith,"$1,000.50","16 Apr, 2021 09:00:00","21 May, 2021 10:00:00",Closed Lost,Beta
D-3,Bob Jones,,"17 Apr, 2021 09:00:00",,Appointment Scheduled,Gamma
D-4,Bob Jones,"$5,000.00","18 Apr, 2021 09:00:00","01 Jun, 2021 12:30:00",closed won,Delta
"""

MAPPING = """\
tables:
  opportunities:
    file: deals_export.csv
    columns: {opportunity_id: "Deal ID", rep_id: "Owner", amount: "Amount", customer_id: "Company",
              created_date: "Create Date", closed_date: "Close Date", status: "Stage", stage: "Stage"}
    values:
      status: {"Closed Won": won, "Closed Lost": lost, "*": open}
    formats: {created_date: "%d %b, %Y %H:%M:%S", closed_date: "%d %b, %Y %H:%M:%S"}
  reps:
    from: opportunities
    columns: {rep_id: "Owner", name: "Owner", territory: {const: "All"}}
"""


def test_mapped_crm_export(tmp_path):
    (tmp_path / "deals_export.csv").write_text(DEALS, encoding="utf-8")
    (tmp_path / "mapping.yml").write_text(MAPPING, encoding="utf-8")
    ds = salesnb.load(tmp_path)  # mapping.yml beside the data is found
    assert ds.problems == []
    assert ds.reps["rep_id"].tolist() == ["Alice Smith", "Bob Jones"]
    assert ds.reps["territory"].tolist() == ["All", "All"]
    opp = ds.opportunities.set_index("opportunity_id")
    assert opp["status"].tolist() == ["won", "lost", "open", "won"]  # "closed won" matched case-insensitively
    assert opp.loc["D-1", "amount"] == 22700.0
    assert opp.loc["D-2", "amount"] == 1000.5
    assert pd.isna(opp.loc["D-3", "amount"])  # blank on an open deal: unknown, not 0
    assert opp.loc["D-1", "created_date"] == pd.Timestamp("2021-04-15 00:02:00")
    assert opp.loc["D-4", "closed_date"] == pd.Timestamp("2021-06-01 12:30:00")
    assert opp.loc["D-3", "stage"] == "Appointment Scheduled"  # the CRM's stage kept for display
    assert opp.loc["D-1", "customer_id"] == "ACME"


def test_problems_name_the_column_as_the_users_file_does(tmp_path):
    """A problem in a renamed column names the file's header, and the contract's name beside it."""
    bad = DEALS.replace('D-4,Bob Jones,"$5,000.00","18 Apr, 2021 09:00:00"', 'D-4,Bob Jones,lots,"18 Apr, 2021 09:00:00"')
    (tmp_path / "deals_export.csv").write_text(bad, encoding="utf-8")
    (tmp_path / "mapping.yml").write_text(MAPPING, encoding="utf-8")
    ds = salesnb.load(tmp_path)
    [problem] = ds.problems
    assert (problem.line, problem.column, problem.source_column) == (5, "amount", "Amount")
    assert "deals_export.csv, line 5, column 'Amount' (read as amount): " in str(problem)
    assert problem.to_dict()["column"] == "amount" and problem.to_dict()["source_column"] == "Amount"
    assert ds.quarantine.iloc[0]["problems"].startswith("Amount: ")
    # without a mapping, an export-style header matched loosely is named as written too
    (tmp_path / "mapping.yml").unlink()
    (tmp_path / "deals_export.csv").unlink()
    (tmp_path / "reps.csv").write_text("Rep ID,Name,Territory\nR1,Ann,North\n", encoding="utf-8")
    (tmp_path / "opportunities.csv").write_text(
        "Opportunity ID,Rep ID,Created Date,Status,amount\nO1,R1,2025-01-01,maybe,5\n", encoding="utf-8"
    )
    [problem] = salesnb.load(tmp_path).problems
    assert "opportunities.csv, line 2, column 'Status' (read as status): " in str(problem)


def test_mapping_passed_explicitly_and_row_numbers(tmp_path):
    data = tmp_path / "export"
    data.mkdir()
    (data / "deals.csv").write_text("Owner,Created,Status\nAnn,2025-01-02,won\nAnn,2025-01-03,open\n", encoding="utf-8")
    mapping = tmp_path / "my-mapping.yml"
    mapping.write_text(
        "tables:\n"
        "  opportunities:\n"
        "    file: deals.csv\n"
        "    columns: {opportunity_id: '@row', rep_id: Owner, created_date: Created, status: Status, closed_date: Created}\n"
        "  reps: {from: opportunities, columns: {rep_id: Owner, name: Owner, territory: {const: North}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="deals.csv, line 2, column 'amount': amount is required for a won deal"):
        salesnb.load(data, mapping, strict=True)
    ds = salesnb.load(data, mapping=str(mapping))
    assert ds.opportunities["opportunity_id"].tolist() == ["2"]
    assert ds.quarantined_rows == 1
    assert ds.quarantine.iloc[0]["line"] == 2
    assert "amount is required for a won deal" in ds.quarantine.iloc[0]["problems"]


def test_unmapped_required_column_names_table_and_found_columns(tmp_path):
    (tmp_path / "reps.csv").write_text("id,name,territory\nR1,Ann,North\n", encoding="utf-8")
    (tmp_path / "opportunities.csv").write_text(
        "opportunity_id,rep_id,created_date,status\nO1,R1,2025-01-01,open\n", encoding="utf-8"
    )
    with pytest.raises(DataError) as caught:
        salesnb.load(tmp_path)
    text = str(caught.value)
    assert "reps.csv" in text
    assert "required column 'rep_id' of table reps is missing" in text
    assert "columns found: id, name, territory" in text


def test_parquet_typed_fast_path_locates_bad_rows_and_keeps_good_ones(tmp_path):
    """Typed Parquet columns skip per-cell parsing; bad rows are still found,
    located by row and quarantined, and every good row is kept."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"rep_id": ["R1", "R2"], "name": ["Ann", "Bob"], "territory": [" North", "South"]}), tmp_path / "reps.parquet"
    )
    pq.write_table(
        pa.table(
            {
                "opportunity_id": ["O1", "O2", "O2", "O4", "O5", "O6"],
                "rep_id": ["R1", "R2", "R1", "R9", "R1", "R2"],
                "created_date": pa.array([dt.date(2025, 1, 1)] * 4 + [dt.date(9999, 1, 1), dt.date(2025, 2, 1)], pa.date32()),
                "closed_date": pa.array([None] * 6, pa.date32()),
                "status": ["open", "Open ", "open", "open", "open", "open"],
                "amount": [1.0, 2.0, 3.0, 4.0, 5.0, -6.0],
            }
        ),
        tmp_path / "opportunities.parquet",
    )
    ds = salesnb.load(tmp_path)
    found = sorted((p.line, p.column, p.flag, p.unit) for p in ds.problems)
    assert found == [
        (3, "opportunity_id", "duplicate_id", "row"),
        (4, "rep_id", "orphan_rep", "row"),
        (5, "created_date", "bad_value", "row"),
        (6, "amount", "negative_amount", "row"),
    ]
    assert ds.opportunities["opportunity_id"].tolist() == ["O1", "O2"]
    assert ds.opportunities["status"].tolist() == ["open", "open"]
    assert ds.opportunities["created_date"].dtype == DATE_DTYPE
    assert ds.reps["territory"].tolist() == ["North", "South"]
    assert sorted(ds.quarantine["line"]) == [3, 4, 5, 6]


# --- reading CSV files: encodings, headers, quotes --------------------------------------------------

OPPORTUNITIES_CSV = "opportunity_id,rep_id,customer_id,created_date,closed_date,status,amount\nO1,R1,,2025-01-01,,open,10\n"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_unicode_text_is_read(tmp_path, encoding):
    """Excel's "Unicode Text": a BOM, UTF-16, tab-delimited."""
    text = "rep_id\tname\tterritory\r\nR1\tZoë\tNorth\r\nR2\tBob\tSouth\r\n"
    bom = b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff"
    (tmp_path / "reps.csv").write_bytes(bom + text.encode(encoding))
    (tmp_path / "opportunities.csv").write_text(OPPORTUNITIES_CSV, encoding="utf-8")
    ds = salesnb.load(tmp_path)
    assert ds.reps["name"].tolist() == ["Zoë", "Bob"] and ds.problems == []


def test_a_stray_cp1252_line_in_a_utf8_file_is_read_with_a_warning(tmp_path):
    data = "rep_id,name,territory\nR1,Müller,Köln\n".encode() + "R2,Björn,South\n".encode("cp1252") + "R3,Zoë,North\n".encode()
    (tmp_path / "reps.csv").write_bytes(data)
    (tmp_path / "opportunities.csv").write_text(OPPORTUNITIES_CSV, encoding="utf-8")
    ds = salesnb.load(tmp_path)
    assert ds.reps["name"].tolist() == ["Müller", "Björn", "Zoë"]
    assert [(p.line, p.flag, p.severity) for p in ds.problems] == [(3, "bad_value", "warning")]


def test_a_cp1252_file_is_read_as_cp1252_without_warnings(tmp_path):
    (tmp_path / "reps.csv").write_bytes("rep_id,name,territory\nR1,Müller,Köln\nR2,Björn,South\n".encode("cp1252"))
    (tmp_path / "opportunities.csv").write_text(OPPORTUNITIES_CSV, encoding="utf-8")
    ds = salesnb.load(tmp_path)
    assert ds.reps["name"].tolist() == ["Müller", "Björn"] and ds.problems == []


def test_a_repeated_column_the_loader_needs_stops_the_load(tmp_path):
    (tmp_path / "reps.csv").write_text("rep_id,name,territory\nR1,Ann,North\n", encoding="utf-8")
    (tmp_path / "opportunities.csv").write_text(
        OPPORTUNITIES_CSV.replace("amount\n", "amount, amount\n").replace("10\n", "10,20\n"), encoding="utf-8"
    )
    with pytest.raises(DataError) as caught:
        salesnb.load(tmp_path)
    assert "opportunities.csv, line 1" in str(caught.value) and "'amount' 2 times (columns 7, 8)" in str(caught.value)


def test_a_repeated_column_the_loader_does_not_use_is_kept_apart(tmp_path):
    (tmp_path / "reps.csv").write_text("rep_id,name,territory,note,note\nR1,Ann,North,a,b\n", encoding="utf-8")
    (tmp_path / "opportunities.csv").write_text(OPPORTUNITIES_CSV, encoding="utf-8")
    ds = salesnb.load(tmp_path)
    assert ds.reps["rep_id"].tolist() == ["R1"] and ds.problems == []


def test_an_unclosed_quote_is_located_on_the_line_it_opens(tmp_path):
    (tmp_path / "reps.csv").write_text("rep_id,name,territory\nR1,Ann,North\n", encoding="utf-8")
    (tmp_path / "opportunities.csv").write_text(
        OPPORTUNITIES_CSV
        + 'O2,R1,"two\nlines",2025-01-01,,open,10\nO3,R1,"Acme,2025-01-01,,open,10\nO4,R1,,2025-01-01,,open,10\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError) as caught:
        salesnb.load(tmp_path)
    assert "opportunities.csv, line 5: a quote opened on this line is never closed" in str(caught.value)


def test_an_expectations_file_that_is_not_utf8_is_located(tmp_path):
    from salesnb.io.loading import read_expectations

    (tmp_path / "expectations.yml").write_bytes("default:\n  quota: 100\n# Müller\n".encode("cp1252"))
    with pytest.raises(DataError) as caught:
        read_expectations(tmp_path / "expectations.yml")
    problem = caught.value.problems[0]
    assert (problem.line, problem.flag) == (3, "bad_expectations") and "UTF-8" in problem.message


def test_a_text_file_named_sqlite_is_not_a_database(tmp_path):
    (tmp_path / "sales.sqlite").write_text("rep_id,name\nR1,Ann\n", encoding="utf-8")
    with pytest.raises(DataError, match="not a SQLite database"):
        salesnb.load(tmp_path / "sales.sqlite")


def test_row_numbers_index_like_the_array_they_stand_for():
    import numpy as np

    from salesnb.io.raw_tables import RowNumbers

    rows, array = RowNumbers(2, 6), np.arange(2, 8)
    assert len(rows) == 6 and np.asarray(rows).tolist() == array.tolist()
    assert rows[0] == 2 and rows[-1] == 7 and isinstance(rows[np.int64(3)], int)
    mask = np.array([True, False, False, True, True, False])
    assert rows[mask].tolist() == array[mask].tolist()
    assert rows[np.array([5, 0, -1])].tolist() == array[np.array([5, 0, -1])].tolist()
    assert rows[np.array([], dtype=np.int64)].tolist() == []
    for bad in (6, -7, np.array([6]), np.zeros(5, dtype=bool)):
        with pytest.raises(IndexError):
            rows[bad]
