"""Bad inputs: every broken source is reported where a user would look for
it (file, line, column, flag, a fix) and no good row is lost.

Each case builds a tiny source in tmp_path and states its exact outcome:
the problems (file, line, column, flag, severity, a key phrase), the rows
kept, and the rows set aside. Line numbers count as a spreadsheet user does
(header = line 1); in Parquet and SQL the unit is "row", first data row = 1.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sources import REPS, opps, write_source

import salesnb
from salesnb.cli import cli
from salesnb.errors import DataError

VENV_BIN = Path(sys.executable).parent

# The column that names a row of each table in the `kept` lists below.
ROW_KEY = {
    "reps": "rep_id",
    "customers": "customer_id",
    "opportunities": "opportunity_id",
    "activities": "activity_id",
    "orders": "order_id",
    "training": "program",
    "forecasts": "period",
}


@dataclass(frozen=True)
class P:
    """One expected problem. ``file`` is relative to the source folder."""

    file: str
    line: int | None
    column: str | None
    flag: str
    phrase: str  # must occur in the message or the hint
    severity: str = "error"
    table: str | None = None  # default: the file's stem

    @property
    def table_name(self) -> str:
        return self.table or Path(self.file).stem


@dataclass
class Case:
    id: str
    tables: dict
    problems: list[P]
    kept: dict[str, list]  # table -> ROW_KEY values of the rows loaded, in file order
    mapping: str | None = None
    table_of: dict[str, str] = field(default_factory=dict)  # file name -> table, for mapped files
    check: Callable | None = None  # extra assertions: check(dataset)


def _data_rows(content) -> int:
    """Records in a CSV text, header and blank lines not counted (computed
    independently of the loader, with the csv module)."""
    if isinstance(content, list):
        return len(content)
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            content = content.decode("cp1252")
    first = content.lstrip("\ufeff").splitlines()[0]
    sep = ";" if first.count(";") > first.count(",") else ","
    records = list(csv.reader(io.StringIO(content), delimiter=sep))[1:]
    return sum(1 for record in records if any(cell.strip() for cell in record))


def _assert_problems(actual, expected: list[P], folder: Path, *, unit: str = "line") -> None:
    """The problems are exactly ``expected`` (same file, line, column, flag,
    severity, unit), each carrying its key phrase."""

    def key(file, line, column, flag, severity):
        return (file, line, column, flag, severity)

    got = sorted((key(p.file, p.line, p.column, p.flag, p.severity) for p in actual), key=repr)
    want = sorted((key(str(folder / e.file), e.line, e.column, e.flag, e.severity) for e in expected), key=repr)
    assert got == want, "\n".join(str(p) for p in actual)
    for e in expected:
        (match,) = [p for p in actual if (p.file, p.line, p.column, p.flag) == (str(folder / e.file), e.line, e.column, e.flag)]
        assert e.phrase in f"{match.message} {match.hint}", str(match)
        assert match.unit == unit
        assert match.table == e.table_name


O_OK = "O1,R1,,2025-01-01,,open,10"


def _won(oid, rep="R1", amount="10", created="2025-01-01", closed="2025-02-01", customer=""):
    return f"{oid},{rep},{customer},{created},{closed},won,{amount}"


def _open(oid, rep="R1", amount="10", created="2025-01-01", customer=""):
    return f"{oid},{rep},{customer},{created},,open,{amount}"


def _check_statuses(ds):
    assert ds.opportunities["status"].tolist() == ["won", "lost", "open"]
    assert np.isnan(ds.opportunities["amount"].iloc[1])  # a lost deal with no amount: unknown, not 0


def _check_amounts(expected):
    def check(ds):
        assert ds.opportunities["amount"].tolist() == expected

    return check


def _check_dates(expected, *, note_has=None):
    def check(ds):
        assert ds.opportunities["created_date"].tolist() == [pd.Timestamp(d) for d in expected]
        if note_has is None:
            assert ds.notes == []
        else:
            (note,) = ds.notes
            for phrase in note_has:
                assert phrase in note, note

    return check


DEALS_HEADER = "Deal ID,Owner,Create Date,Close Date,Stage,Amount"
DEALS_MAPPING = """\
tables:
  opportunities:
    file: deals_export.csv
    columns: {opportunity_id: "Deal ID", rep_id: Owner, amount: Amount,
              created_date: "Create Date", closed_date: "Close Date", status: Stage}
    values:
      status: {"Closed Won": won, "Closed Lost": lost%s}
"""

CASES = [
    Case(
        "unknown_status",
        {
            "reps": REPS,
            "opportunities": opps(O_OK, "O2,R1,,2025-01-01,2025-02-01,pending,10", "O3,R2,,2025-01-01,2025-02-01, Won ,5"),
        },
        [P("opportunities.csv", 3, "status", "bad_value", "not one of open, won, lost")],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O3"]},
        check=lambda ds: ds.opportunities["status"].tolist() == ["open", "won"] or pytest.fail("status not normalised"),
    ),
    Case(
        "status_mapped_with_catch_all",
        {
            "reps": REPS,
            "deals_export.csv": "\n".join(
                [
                    DEALS_HEADER,
                    "D1,R1,2025-01-01,2025-02-01,Closed Won,5",
                    "D2,R1,2025-01-01,2025-02-01,closed lost,",
                    "D3,R2,2025-01-01,,Negotiation,7",
                    "D4,R2,2025-01-01,,,7",
                ]
            )
            + "\n",
        },
        [P("deals_export.csv", 5, "status", "missing_required", "required value is missing", table="opportunities")],
        {"reps": ["R1", "R2"], "opportunities": ["D1", "D2", "D3"]},
        mapping=DEALS_MAPPING % ', "*": open',
        table_of={"deals_export.csv": "opportunities"},
        check=_check_statuses,
    ),
    Case(
        "status_unmapped_without_catch_all",
        {
            "reps": REPS,
            "deals_export.csv": "\n".join(
                [DEALS_HEADER, "D1,R1,2025-01-01,2025-02-01,Closed Won,5", "D2,R1,2025-01-01,,Negotiation,7"]
            )
            + "\n",
        },
        [P("deals_export.csv", 3, "status", "bad_value", 'values: {status: {"Your value": open}}', table="opportunities")],
        {"reps": ["R1", "R2"], "opportunities": ["D1"]},
        mapping=DEALS_MAPPING % "",
        table_of={"deals_export.csv": "opportunities"},
    ),
    Case(
        "unparseable_dates",
        {"reps": REPS, "opportunities": opps(O_OK, _open("O2", created="next week"), "O3,R1,,2025-01-01,2025-02-30,lost,4")},
        [
            P("opportunities.csv", 3, "created_date", "bad_value", "not a date"),
            P("opportunities.csv", 4, "closed_date", "bad_value", "write dates as YYYY-MM-DD"),
        ],
        {"reps": ["R1", "R2"], "opportunities": ["O1"]},
    ),
    Case(
        "negative_amount",
        {"reps": REPS, "opportunities": opps(O_OK, _open("O2", amount="-50"), _open("O3", amount="0"))},
        [P("opportunities.csv", 3, "amount", "negative_amount", "amounts are non-negative")],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O3"]},
        check=_check_amounts([10.0, 0.0]),
    ),
    Case(
        "text_amounts",
        {
            "reps": REPS,
            "opportunities": opps(
                _won("O1", amount='"$22,700.00"'),
                _won("O2", amount='"22.700,00 €"'),
                _open("O3", amount='"1 234,50"'),
                _open("O4", amount='"(1,000)"'),
            ),
        },
        [P("opportunities.csv", 5, "amount", "negative_amount", "negative amount")],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O2", "O3"]},
        check=_check_amounts([22700.0, 22700.0, 1234.5]),
    ),
    Case(
        "infinite_amount",
        {"reps": REPS, "opportunities": opps(O_OK, _open("O2", amount="inf"))},
        [P("opportunities.csv", 3, "amount", "bad_value", "not a number")],
        {"reps": ["R1", "R2"], "opportunities": ["O1"]},
    ),
    Case(
        "duplicate_opportunity_id",
        {"reps": REPS, "opportunities": opps(O_OK, _open("O2"), _open("O1", rep="R2", amount="99"))},
        [P("opportunities.csv", 4, "opportunity_id", "duplicate_id", "first used on line 2")],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O2"]},
        check=lambda ds: ds.opportunities.loc[0, ["rep_id", "amount"]].tolist() == ["R1", 10.0] or pytest.fail("second O1 kept"),
    ),
    Case(
        "duplicate_rep_id",
        {"reps": "rep_id,name,territory\nR1,Ann,North\nR2,Bob,South\nR1,Another Ann,East\n", "opportunities": opps(O_OK)},
        [P("reps.csv", 4, "rep_id", "duplicate_id", "first used on line 2")],
        {"reps": ["R1", "R2"], "opportunities": ["O1"]},
        check=lambda ds: ds.reps["name"].tolist() == ["Ann", "Bob"] or pytest.fail(ds.reps),
    ),
    Case(
        "duplicate_id_after_a_blank_id",
        {"reps": "rep_id,name,territory\nR1,Ann,North\n,Nobody,West\nR2,Bob,South\nR2,Bo,South\n", "opportunities": opps(O_OK)},
        [
            P("reps.csv", 3, "rep_id", "missing_required", "fill in rep_id on this row"),
            P("reps.csv", 5, "rep_id", "duplicate_id", "first used on line 4"),
        ],
        {"reps": ["R1", "R2"], "opportunities": ["O1"]},
        check=lambda ds: (
            [p.message for p in ds.problems if p.flag == "duplicate_id"] == ["duplicate rep_id: first used on line 4"]
            or pytest.fail(ds.problems)
        ),
    ),
    Case(
        "deals_of_a_set_aside_rep_say_why",
        {
            "reps": "rep_id,name,territory\nR1,Ann,North\nR2,Bob,\n",
            "opportunities": opps(O_OK, _open("O2", rep="R2"), _open("O3", rep="R3")),
        },
        [
            P("reps.csv", 3, "territory", "missing_required", "fill in territory"),
            P("opportunities.csv", 3, "rep_id", "orphan_rep", "reps.csv, line 3)"),
            P("opportunities.csv", 4, "rep_id", "orphan_rep", "not in the reps table"),
        ],
        {"reps": ["R1"], "opportunities": ["O1"]},
        check=lambda ds: "the rep's own row was set aside" in ds.problems[0].message or pytest.fail(ds.problems),
    ),
    Case(
        "orphan_rep",
        {"reps": REPS, "opportunities": opps(O_OK, _open("O2", rep="R9"), _open("O3", rep="r1"))},
        [
            P("opportunities.csv", 3, "rep_id", "orphan_rep", "not in the reps table"),
            P("opportunities.csv", 4, "rep_id", "orphan_rep", "add the rep to reps"),
        ],
        {"reps": ["R1", "R2"], "opportunities": ["O1"]},
    ),
    Case(
        "dangling_customer_is_a_warning",
        {
            "reps": REPS,
            "customers": "customer_id,name\nC1,Acme\n",
            "opportunities": opps(_open("O1", customer="C1"), _open("O2", customer="C9")),
        },
        [P("opportunities.csv", 3, "customer_id", "dangling_reference", "the row is kept", severity="warning")],
        {"reps": ["R1", "R2"], "customers": ["C1"], "opportunities": ["O1", "O2"]},
    ),
    Case(
        "closed_before_created",
        {"reps": REPS, "opportunities": opps(O_OK, "O2,R1,,2025-03-01,2025-02-01,lost,5", "O3,R1,,2025-03-01,2025-03-01,lost,5")},
        [P("opportunities.csv", 3, "closed_date", "closed_before_created", "closed_date is before created_date")],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O3"]},
    ),
    Case(
        "won_without_closed_date",
        {"reps": REPS, "opportunities": opps(O_OK, _won("O2", closed=""), "O3,R2,,2025-01-01,,lost,")},
        [
            P("opportunities.csv", 3, "closed_date", "missing_required", "required when status is won or lost"),
            P("opportunities.csv", 4, "closed_date", "missing_required", "fill in the date the deal was won or lost"),
        ],
        {"reps": ["R1", "R2"], "opportunities": ["O1"]},
    ),
    Case(
        "won_without_amount",
        {"reps": REPS, "opportunities": opps(_won("O1"), _won("O2", amount=""), _won("O3", amount="  "))},
        [
            P("opportunities.csv", 3, "amount", "missing_required", "amount is required for a won deal"),
            P("opportunities.csv", 4, "amount", "missing_required", "fill in the contract value"),
        ],
        {"reps": ["R1", "R2"], "opportunities": ["O1"]},
    ),
    Case(
        "blank_amount_on_open_and_lost_deals_is_unknown",
        {
            "reps": REPS,
            "opportunities": opps(_open("O1", amount=""), "O2,R1,,2025-01-01,2025-02-01,lost,", _won("O3", amount="5")),
        },
        [],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O2", "O3"]},
        check=lambda ds: (
            (ds.opportunities["amount"].isna().tolist() == [True, True, False] and ds.opportunities["amount"].iloc[2] == 5.0)
            or pytest.fail(ds.opportunities["amount"])
        ),
    ),
    Case(
        "missing_required_value",
        {"reps": REPS, "opportunities": opps(O_OK, _open("O2", rep=""), _open("O3", created=""))},
        [
            P("opportunities.csv", 3, "rep_id", "missing_required", "fill in rep_id on this row"),
            P("opportunities.csv", 4, "created_date", "missing_required", "required value is missing"),
        ],
        {"reps": ["R1", "R2"], "opportunities": ["O1"]},
    ),
    Case(
        "several_problems_on_one_row",
        {"reps": REPS, "opportunities": opps(O_OK, "O2,R1,,someday,,maybe,-1", _open("O3"))},
        [
            P("opportunities.csv", 3, "created_date", "bad_value", "not a date"),
            P("opportunities.csv", 3, "status", "bad_value", "not one of"),
            P("opportunities.csv", 3, "amount", "negative_amount", "negative amount"),
        ],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O3"]},
        check=lambda ds: (
            set(ds.quarantine.loc[0, "flags"].split(";")) == {"bad_value", "negative_amount"} or pytest.fail(ds.quarantine)
        ),
    ),
    Case(
        "header_only_file_is_empty_table",
        {"reps": REPS, "opportunities": opps()},
        [],
        {"reps": ["R1", "R2"], "opportunities": []},
        check=lambda ds: (
            list(ds.opportunities.columns[:7])
            == ["opportunity_id", "rep_id", "customer_id", "created_date", "closed_date", "status", "amount"]
            or pytest.fail("columns")
        ),
    ),
    Case(
        "cp1252_file",
        {
            "reps": "rep_id,name,territory\nR1,Müller,Köln\nR2,Zoë,\n".encode("cp1252"),
            "opportunities": opps(_won("O1", amount='"1.234,50 €"'), _won("O2", amount="€99")).encode("cp1252"),
        },
        [P("reps.csv", 3, "territory", "missing_required", "fill in territory")],
        {"reps": ["R1"], "opportunities": ["O1", "O2"]},
        check=lambda ds: (
            (
                ds.reps["name"].tolist() == ["Müller"]
                and ds.reps["territory"].tolist() == ["Köln"]
                and ds.opportunities["amount"].tolist() == [1234.5, 99.0]
            )
            or pytest.fail(ds.reps)
        ),
    ),
    Case(
        "latin1_file",
        {"reps": "rep_id,name,territory\nR1,Jürgen Müller,Düsseldorf\n".encode("latin-1"), "opportunities": opps(O_OK)},
        [],
        {"reps": ["R1"], "opportunities": ["O1"]},
        check=lambda ds: ds.reps["name"].tolist() == ["Jürgen Müller"] or pytest.fail(ds.reps["name"]),
    ),
    Case(
        "utf8_bom",
        {"reps": "\ufeffrep_id,name,territory\nR1,Ann,North\nR2,,South\n", "opportunities": "\ufeff" + opps(O_OK)},
        [P("reps.csv", 3, "name", "missing_required", "required value is missing")],
        {"reps": ["R1"], "opportunities": ["O1"]},
    ),
    Case(
        "semicolon_delimited",
        {
            "reps": "rep_id;name;territory\nR1;Ann;North\nR2;Bob;South\n",
            "opportunities": "opportunity_id;rep_id;created_date;closed_date;status;amount\n"
            "O1;R1;2025-01-01;2025-02-01;won;1.234,50\nO2;R2;2025-01-01;;maybe;3\nO3;R2;2025-01-01;;open;2,5\n",
        },
        [P("opportunities.csv", 3, "status", "bad_value", "not one of open, won, lost")],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O3"]},
        check=_check_amounts([1234.5, 2.5]),
    ),
    Case(
        "blank_lines_inside_csv",
        {"reps": REPS, "opportunities": opps(O_OK, "", _open("O2"), "", "", _open("O3", created="bad"), _open("O4"))},
        [P("opportunities.csv", 7, "created_date", "bad_value", "not a date")],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O2", "O4"]},
    ),
    Case(
        "lines_of_spaces_or_delimiters_are_blank",
        {"reps": REPS, "opportunities": opps(O_OK, "   ", ",,,,,,", _open("O2", amount="x"), _open("O3"))},
        [P("opportunities.csv", 5, "amount", "bad_value", "not a number")],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O3"]},
    ),
    Case(
        "trailing_delimiter_on_every_row",
        {"reps": REPS, "opportunities": opps(O_OK + ",", _open("O2", rep="R2") + ",", "O3,R1,,2025-01-01,,nope,1,")},
        [P("opportunities.csv", 4, "status", "bad_value", "not one of")],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O2"]},
        check=lambda ds: ds.opportunities["rep_id"].tolist() == ["R1", "R2"] or pytest.fail("columns shifted"),
    ),
    Case(
        "mixed_date_formats",
        {
            "reps": REPS,
            "opportunities": opps(
                _open("O1", created="2021-04-15"),
                _open("O2", created="04/16/2021"),
                _open("O3", created='"17 Apr, 2021 00:02:00"'),
                _open("O4", created="2021-04-18T10:30:00"),
                _open("O5", created='"Apr 19, 2021"'),
            ),
        },
        [],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O2", "O3", "O4", "O5"]},
        check=_check_dates(["2021-04-15", "2021-04-16", "2021-04-17 00:02:00", "2021-04-18 10:30", "2021-04-19"]),
    ),
    Case(
        "ambiguous_day_month_gives_a_note",
        {"reps": REPS, "opportunities": opps(_open("O1", created="03/04/2021"), _open("O2", created="05/06/2021"))},
        [],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O2"]},
        check=_check_dates(
            ["2021-03-04", "2021-05-06"],
            note_has=["opportunities.csv", "'03/04/2021'", "month-first", 'formats: {created_date: "%d/%m/%Y"}'],
        ),
    ),
    Case(
        "ambiguous_day_month_settled_by_formats",
        {
            "reps": REPS,
            "opportunities": opps(
                _open("O1", created="03/04/2021"), _open("O2", created="05/06/2021"), _open("O3", created="04/15/2021")
            ),
        },
        [P("opportunities.csv", 4, "created_date", "bad_value", "not a date")],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O2"]},
        mapping='tables:\n  opportunities:\n    formats: {created_date: "%d/%m/%Y"}\n',
        check=_check_dates(["2021-04-03", "2021-06-05"]),
    ),
    Case(
        "day_first_column_reads_all_day_first",
        {"reps": REPS, "opportunities": opps(_open("O1", created="03/04/2021"), _open("O2", created="15/04/2021"))},
        [],
        {"reps": ["R1", "R2"], "opportunities": ["O1", "O2"]},
        check=_check_dates(["2021-04-03", "2021-04-15"]),
    ),
    Case(
        "ids_keep_leading_zeros",
        {
            "reps": "rep_id,name,territory\n007,Bond,North\nR2,Bob,South\n",
            "opportunities": opps(_open("0001", rep="007"), _open("0002", rep="7")),
        },
        [P("opportunities.csv", 3, "rep_id", "orphan_rep", "not in the reps table")],
        {"reps": ["007", "R2"], "opportunities": ["0001"]},
        check=lambda ds: ds.opportunities["rep_id"].tolist() == ["007"] or pytest.fail(ds.opportunities),
    ),
    Case(
        "categories_trimmed_and_case_insensitive",
        {"reps": "rep_id,name,territory\nR1,Ann,north \nR2,Bob,North\nR3,Cy, NORTH\nR4,Di,South\n", "opportunities": opps(O_OK)},
        [],
        {"reps": ["R1", "R2", "R3", "R4"], "opportunities": ["O1"]},
        check=lambda ds: ds.reps["territory"].tolist() == ["north", "north", "north", "South"] or pytest.fail(ds.reps),
    ),
    Case(
        "forecast_periods",
        {
            "reps": REPS,
            "opportunities": opps(O_OK),
            "forecasts": "rep_id,period,forecast_amount\nR1,2025-q2,100\nR1,2025-13,100\nR2,2025,5\nR2,2025-06,\n",
        },
        [
            P("forecasts.csv", 3, "period", "bad_value", "YYYY, YYYY-Qn or YYYY-MM"),
            P("forecasts.csv", 5, "forecast_amount", "missing_required", "required value is missing"),
        ],
        {"reps": ["R1", "R2"], "opportunities": ["O1"], "forecasts": ["2025-Q2", "2025"]},
    ),
    Case(
        "training_end_before_start",
        {
            "reps": REPS,
            "opportunities": opps(O_OK),
            "training": "rep_id,program,start_date,end_date\nR1,Onboarding,2025-02-01,2025-01-01\n"
            "R2,Negotiation,2025-01-01,2025-02-01\nR1,Coaching,2025-03-01,\n",
        },
        [P("training.csv", 2, "end_date", "bad_value", "end_date is before start_date")],
        {"reps": ["R1", "R2"], "opportunities": ["O1"], "training": ["Negotiation", "Coaching"]},
    ),
    Case(
        "orders_and_activities",
        {
            "reps": REPS,
            "opportunities": opps(O_OK),
            "orders": "order_id,customer_id,date,amount\nX1,C1,2025-01-01,10\nX2,C1,2025-01-01,\n",
            "activities": "activity_id,rep_id,date,type\nA1,R1,2025-01-01 09:00,Call\nA2,R9,2025-01-02,call\nA3,R2,2025-01-03,call \n",
        },
        [
            P("orders.csv", 3, "amount", "missing_required", "required value is missing"),
            P("activities.csv", 3, "rep_id", "orphan_rep", "not in the reps table"),
        ],
        {"reps": ["R1", "R2"], "opportunities": ["O1"], "orders": ["X1"], "activities": ["A1", "A3"]},
        check=lambda ds: ds.activities["type"].tolist() == ["Call", "Call"] or pytest.fail(ds.activities),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_rows_are_located_and_set_aside(case: Case, tmp_path):
    folder = write_source(tmp_path / "src", case.tables)
    if case.mapping is not None:
        (folder / "mapping.yml").write_text(case.mapping, encoding="utf-8")
    ds = salesnb.load(folder)

    _assert_problems(ds.problems, case.problems, folder)
    # set aside: exactly the rows with an error, each once
    errors = {(e.table_name, e.line) for e in case.problems if e.severity == "error"}
    quarantined = list(zip(ds.quarantine["table"], ds.quarantine["line"]))
    assert sorted(quarantined) == sorted(errors)
    # kept: every other row, in order
    for table, keys in case.kept.items():
        assert ds.tables[table][ROW_KEY[table]].tolist() == keys, table
    # nothing lost: loaded + set aside == data rows in the file
    for name, content in case.tables.items():
        table = case.table_of.get(name, name)
        set_aside = sum(t == table for t, _ in quarantined)
        assert len(ds.tables[table]) + set_aside == _data_rows(content), table
    if case.check is not None:
        case.check(ds)


# --- sources that cannot be used at all: DataError, located -----------------


@dataclass
class Fatal:
    id: str
    tables: dict
    problems: list[P]  # file "" means the source folder itself
    mapping: str | None = None


FATAL = [
    Fatal(
        "missing_required_column",
        {"reps": "rep_id,name\nR1,Ann\n", "opportunities": opps(O_OK)},
        [P("reps.csv", None, "territory", "missing_required", "columns found: rep_id, name")],
    ),
    Fatal(
        "missing_reps_table",
        {"opportunities": opps(O_OK)},
        [P("", None, None, "missing_required", "the required table 'reps' is missing", table="reps")],
    ),
    Fatal(
        "missing_opportunities_table",
        {"reps": REPS, "customers": "customer_id\nC1\n"},
        [P("", None, None, "missing_required", "found: customers.csv, reps.csv", table="opportunities")],
    ),
    Fatal(
        "empty_file", {"reps": b"", "opportunities": opps(O_OK)}, [P("reps.csv", None, None, "unreadable", "the file is empty")]
    ),
    Fatal(
        "row_with_extra_values",
        {"reps": REPS, "opportunities": opps(O_OK, _open("O2") + ",surplus", _open("O3"))},
        [P("opportunities.csv", 3, None, "unreadable", "Expected 7 fields in line 3, saw 8")],
    ),
    Fatal(
        "mapping_names_absent_column",
        {"reps": REPS, "opportunities": opps(O_OK)},
        [P("opportunities.csv", None, "Deal Value", "bad_mapping", "columns found: opportunity_id, rep_id, customer_id")],
        mapping='tables:\n  opportunities:\n    columns: {amount: "Deal Value"}\n',
    ),
    Fatal(
        "mapping_unknown_table",
        {"reps": REPS, "opportunities": opps(O_OK)},
        [P("mapping.yml", 2, "tables.deals", "bad_mapping", "unknown table 'deals'", table="mapping")],
        mapping="tables:\n  deals:\n    file: deals.csv\n",
    ),
    Fatal(
        "mapping_unknown_column",
        {"reps": REPS, "opportunities": opps(O_OK)},
        [
            P(
                "mapping.yml",
                3,
                "tables.opportunities.columns.value",
                "bad_mapping",
                "'value' is not a column of opportunities",
                table="mapping",
            )
        ],
        mapping='tables:\n  opportunities:\n    columns: {value: "Amount"}\n',
    ),
    Fatal(
        "mapping_unknown_key",
        {"reps": REPS, "opportunities": opps(O_OK)},
        [P("mapping.yml", 3, "tables.opportunities.colums", "bad_mapping", "unknown key 'colums'", table="mapping")],
        mapping='tables:\n  opportunities:\n    colums: {amount: "Amount"}\n',
    ),
    Fatal(
        "mapping_columns_not_a_dict",
        {"reps": REPS, "opportunities": opps(O_OK)},
        [P("mapping.yml", 3, "tables.opportunities.columns", "bad_mapping", "columns: must be a mapping", table="mapping")],
        mapping="tables:\n  opportunities:\n    columns: [opportunity_id, amount]\n",
    ),
    Fatal(
        "mapping_invalid_yaml",
        {"reps": REPS, "opportunities": opps(O_OK)},
        [P("mapping.yml", 4, None, "bad_mapping", "not valid YAML", table="mapping")],
        mapping='tables:\n  opportunities:\n    columns: {amount: "Amount"\n    file: deals.csv\n',
    ),
    Fatal(
        "mapping_file_names_absent_export",
        {"reps": REPS, "opportunities": opps(O_OK)},
        [P("deals.csv", None, None, "unreadable", "files in", table="opportunities")],
        mapping="tables:\n  opportunities:\n    file: deals.csv\n",
    ),
]


@pytest.mark.parametrize("case", FATAL, ids=[c.id for c in FATAL])
def test_unusable_source_raises_located_error(case: Fatal, tmp_path):
    folder = write_source(tmp_path / "src", case.tables)
    if case.mapping is not None:
        (folder / "mapping.yml").write_text(case.mapping, encoding="utf-8")
    with pytest.raises(DataError) as info:
        salesnb.load(folder)
    _assert_problems(info.value.problems, case.problems, folder)  # folder / "" is the folder itself


def test_missing_both_required_tables_lists_both(tmp_path):
    folder = write_source(tmp_path / "src", {"customers": "customer_id\nC1\n"})
    with pytest.raises(DataError) as info:
        salesnb.load(folder)
    assert [(p.table, p.flag) for p in info.value.problems] == [
        ("reps", "missing_required"),
        ("opportunities", "missing_required"),
    ]
    assert "found: customers.csv" in info.value.problems[0].hint


def test_source_path_that_does_not_exist(tmp_path):
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DataError) as info:
        salesnb.load(missing)
    (problem,) = info.value.problems
    assert problem.file == str(missing)
    assert "does not exist" in problem.message
    assert "folder of CSV/Parquet/Excel files" in problem.hint


def test_sql_url_that_cannot_connect(tmp_path):
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'sales.sqlite'}"
    with pytest.raises(DataError) as info:
        salesnb.load(url)
    (problem,) = info.value.problems
    assert problem.file == url
    assert problem.message.startswith("cannot connect to the database")
    assert "check the URL" in problem.hint


def test_password_in_unreachable_url_is_hidden():
    with pytest.raises(DataError) as info:
        salesnb.load("postgresql://sales:s3cret@127.0.0.1:1/crm")
    text = str(info.value)
    assert "s3cret" not in text
    assert "postgresql://sales:***@127.0.0.1:1/crm" in text


# --- other source kinds: Excel, Parquet, SQLite, DuckDB ---------------------


def test_excel_title_rows_line_numbers_are_excel_rows(tmp_path):
    import openpyxl

    folder = write_source(tmp_path / "src", {"reps": REPS})
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A1"] = "Pipeline export"
    sheet["A2"] = "Generated 2025-06-30 by CRM"
    rows = [
        ["opportunity_id", "rep_id", "created_date", "status", "amount"],  # row 3
        ["O1", "R1", "2025-01-01", "open", 10],  # row 4
        ["O2", "R1", "not a date", "open", 10],  # row 5
        [None, None, None, None, None],  # row 6, blank
        ["O3", "R2", "2025-01-01", "open", -1],  # row 7
        ["O4", "R2", "2025-01-02", "won", None],
    ]  # row 8
    for i, row in enumerate(rows, start=3):
        for j, value in enumerate(row, start=1):
            sheet.cell(row=i, column=j, value=value)
    book.save(folder / "opportunities.xlsx")
    ds = salesnb.load(folder)
    xlsx = "opportunities.xlsx"
    _assert_problems(
        ds.problems,
        [
            P(xlsx, 5, "created_date", "bad_value", "not a date"),
            P(xlsx, 7, "amount", "negative_amount", "negative amount"),
            P(xlsx, 8, "closed_date", "missing_required", "required when status is won or lost"),
            P(xlsx, 8, "amount", "missing_required", "required for a won deal"),
        ],
        folder,
    )
    assert ds.opportunities["opportunity_id"].tolist() == ["O1"]
    assert sorted(ds.quarantine["line"]) == [5, 7, 8]


def test_parquet_bad_row_is_counted_in_rows(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    pd.DataFrame({"rep_id": [7.0, 8.0], "name": ["Ann", "Bob"], "territory": ["North", "South"]}).to_parquet(
        folder / "reps.parquet"
    )
    pd.DataFrame(
        {
            "opportunity_id": ["O1", "O2", "O3"],
            "rep_id": ["7", "8", "7"],
            "created_date": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"]),
            "status": ["open", "open", "open"],
            "amount": [1.0, -2.0, np.nan],
        }
    ).to_parquet(folder / "opportunities.parquet")
    ds = salesnb.load(folder)
    _assert_problems(
        ds.problems, [P("opportunities.parquet", 2, "amount", "negative_amount", "negative amount")], folder, unit="row"
    )
    assert ds.reps["rep_id"].tolist() == ["7", "8"]  # whole floats read back as IDs, not "7.0"
    assert ds.opportunities["opportunity_id"].tolist() == ["O1", "O3"]
    assert "row 2" in str(ds.problems[0])


def test_sqlite_bad_row_unit_is_row(tmp_path):
    path = tmp_path / "sales.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE reps (rep_id TEXT, name TEXT, territory TEXT)")
        connection.executemany("INSERT INTO reps VALUES (?, ?, ?)", [("R1", "Ann", "North"), ("R2", "Bob", "South")])
        connection.execute(
            "CREATE TABLE opportunities (opportunity_id TEXT, rep_id TEXT, created_date TEXT, status TEXT, amount REAL)"
        )
        connection.executemany(
            "INSERT INTO opportunities VALUES (?, ?, ?, ?, ?)",
            [
                ("O1", "R1", "2025-01-01", "open", 1.0),
                ("O2", "R1", "2025-01-01", "open", 2.0),
                ("O3", "R2", "2025-01-01", "closed?", 3.0),
                ("O4", "R2", "2025-01-01", "open", None),
            ],
        )
    connection.close()
    ds = salesnb.load(path)
    (problem,) = ds.problems
    assert (problem.file, problem.line, problem.unit, problem.column, problem.flag) == (
        f"{path} table opportunities",
        3,
        "row",
        "status",
        "bad_value",
    )
    assert str(problem).startswith(f"{path} table opportunities, row 3, column 'status'")
    assert ds.opportunities["opportunity_id"].tolist() == ["O1", "O2", "O4"]
    assert len(ds.opportunities) + ds.quarantined_rows == 4


def test_duckdb_orphan_rep_unit_is_row(tmp_path):
    import duckdb

    path = tmp_path / "sales.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute("CREATE TABLE reps AS SELECT * FROM (VALUES ('R1', 'Ann', 'North')) t(rep_id, name, territory)")
    connection.execute(
        "CREATE TABLE opportunities AS SELECT * FROM (VALUES ('O1', 'R1', DATE '2025-01-01', 'open', 5.0),"
        " ('O2', 'R7', DATE '2025-01-01', 'open', 6.0)) t(opportunity_id, rep_id, created_date, status, amount)"
    )
    connection.close()
    ds = salesnb.load(path)
    (problem,) = ds.problems
    assert (problem.file, problem.line, problem.unit, problem.column, problem.flag) == (
        f"{path} table opportunities",
        2,
        "row",
        "rep_id",
        "orphan_rep",
    )
    assert ds.opportunities["opportunity_id"].tolist() == ["O1"]


def test_utf8_file_over_64k_with_split_character_stays_utf8(tmp_path):
    """The encoding sniffer reads 64 KiB; a multi-byte character cut at that
    boundary must not make a UTF-8 file read as cp1252 ("MÃ¼ller")."""
    header = b"rep_id,name,territory\n"
    filler = b"".join(f"F{i},Ann,North\n".encode() for i in range(6000))
    filler = filler[: filler.rfind(b"\n", 0, 65000) + 1]
    line = b"RX,M" + b"x" * (65535 - len(header) - len(filler) - 4) + "üller,Nord\n".encode()
    data = header + filler + line
    assert data[65535:65537] == "ü".encode()  # the cut falls inside ü
    folder = write_source(tmp_path / "src", {"reps": data, "opportunities": opps()})
    ds = salesnb.load(folder)
    assert ds.problems == []
    assert ds.reps["name"].iloc[-1].endswith("xxüller")


# --- strict mode --------------------------------------------------------------

BAD_SOURCE = {
    "reps": 'rep_id,name,territory\nR1,Ann,North\nR2,"=HYPERLINK(""http://x"")",South\nR2,Dup,South\n',
    "customers": "customer_id,name\nC1,Acme\n",
    "opportunities": opps(
        _open("O1", customer="C1"), _open("O2", created="bad"), _open("O3", customer="C9"), _open("O4", rep="R2")
    ),
}


def test_strict_raises_listing_every_problem(tmp_path):
    folder = write_source(tmp_path / "src", BAD_SOURCE)
    with pytest.raises(DataError) as info:
        salesnb.load(folder, strict=True)
    located = sorted((Path(p.file).name, p.line, p.column, p.flag) for p in info.value.problems)
    assert located == [
        ("opportunities.csv", 3, "created_date", "bad_value"),
        ("opportunities.csv", 4, "customer_id", "dangling_reference"),
        ("reps.csv", 4, "rep_id", "duplicate_id"),
    ]
    text = str(info.value)
    assert "opportunities.csv, line 3, column 'created_date'" in text
    assert "reps.csv, line 4, column 'rep_id'" in text


def test_default_mode_quarantines_the_same_source(tmp_path):
    folder = write_source(tmp_path / "src", BAD_SOURCE)
    ds = salesnb.load(folder)
    assert len(ds.problems) == 3
    assert ds.quarantined_rows == 2
    assert sorted(zip(ds.quarantine["table"], ds.quarantine["line"])) == [("opportunities", 3), ("reps", 4)]
    assert ds.reps["rep_id"].tolist() == ["R1", "R2"]
    assert ds.opportunities["opportunity_id"].tolist() == ["O1", "O3", "O4"]
    record = json.loads(ds.quarantine.set_index("table").loc["opportunities", "record"])
    assert record["created_date"] == "bad" and record["opportunity_id"] == "O2"


# --- the command line -------------------------------------------------------


def _invoke(*args):
    result = CliRunner().invoke(cli, ["validate", *map(str, args)])
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_cli_fatal_error_names_file_and_column(tmp_path):
    folder = write_source(tmp_path / "src", {"reps": "rep_id,name\nR1,Ann\n", "opportunities": opps(O_OK)})
    result = _invoke(folder)
    assert result.exit_code == 1
    assert f"{folder / 'reps.csv'}, column 'territory': required column 'territory' of table reps is missing" in result.stderr
    assert "columns found: rep_id, name" in result.stderr
    assert result.stdout == ""


def test_cli_fatal_error_names_line(tmp_path):
    folder = write_source(tmp_path / "src", {"reps": REPS, "opportunities": opps(O_OK, _open("O2") + ",surplus")})
    result = _invoke(folder)
    assert result.exit_code == 1
    assert f"{folder / 'opportunities.csv'}, line 3: cannot read the file as CSV" in result.stderr


def test_cli_bad_mapping_file_given_by_option(tmp_path):
    folder = write_source(tmp_path / "src", {"reps": REPS, "opportunities": opps(O_OK)})
    mapping = tmp_path / "crm.yml"
    mapping.write_text("tables:\n  opportunities: {columns: {amount: Value}}\n  reps: [oops]\n")
    result = _invoke(folder, "--mapping", mapping)
    assert result.exit_code == 1
    assert f"{mapping}, line 3, column 'tables.reps': reps: must be a mapping with file/columns/values" in result.stderr
    missing = _invoke(folder, "--mapping", tmp_path / "nope.yml")
    assert missing.exit_code == 1
    assert "mapping file not found" in missing.stderr


def test_cli_default_mode_counts_set_aside_rows(tmp_path):
    folder = write_source(tmp_path / "src", BAD_SOURCE)
    result = _invoke(folder)
    assert result.exit_code == 0
    assert "Rows set aside (quarantined): 2; problems: 2 errors, 1 warnings" in result.stdout
    assert f"[error] {folder / 'opportunities.csv'}, line 3, column 'created_date': not a date" in result.stdout
    assert f"[warning] {folder / 'opportunities.csv'}, line 4, column 'customer_id'" in result.stdout
    assert f"[error] {folder / 'reps.csv'}, line 4, column 'rep_id': duplicate rep_id: first used on line 3" in result.stdout


def test_cli_strict_exits_1_with_every_problem(tmp_path):
    folder = write_source(tmp_path / "src", BAD_SOURCE)
    result = _invoke(folder, "--strict")
    assert result.exit_code == 1
    assert result.stdout == ""
    for where in (
        f"{folder / 'opportunities.csv'}, line 3, column 'created_date'",
        f"{folder / 'opportunities.csv'}, line 4, column 'customer_id'",
        f"{folder / 'reps.csv'}, line 4, column 'rep_id'",
    ):
        assert where in result.stderr


def test_cli_strict_on_clean_source_exits_0(tmp_path):
    folder = write_source(tmp_path / "src", {"reps": REPS, "opportunities": opps(O_OK)})
    result = _invoke(folder, "--strict")
    assert result.exit_code == 0
    assert "Rows set aside (quarantined): 0; problems: 0 errors, 0 warnings" in result.stdout


def test_cli_quarantine_out_writes_set_aside_rows(tmp_path):
    source = dict(BAD_SOURCE, reps='rep_id,name,territory\nR1,Ann,North\nR2,Bob,South\nR2,"=HYPERLINK(""http://x"")",South\n')
    folder = write_source(tmp_path / "src", source)
    out = tmp_path / "set-aside.csv"
    result = _invoke(folder, "--quarantine-out", out)
    assert result.exit_code == 0
    assert f"wrote 2 set-aside rows to {out}" in result.stdout
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert sorted((r["table"], r["line"], r["flags"]) for r in rows) == [
        ("opportunities", "3", "bad_value"),
        ("reps", "4", "duplicate_id"),
    ]
    assert {r["file"] for r in rows} == {str(folder / "reps.csv"), str(folder / "opportunities.csv")}
    rep = next(r for r in rows if r["table"] == "reps")
    # The hostile name travels inside the JSON record cell, intact; no cell of
    # the file may start a spreadsheet formula.
    assert json.loads(rep["record"].lstrip("'"))["name"] == '=HYPERLINK("http://x")'
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value


def test_cli_subprocess_unreachable_database_no_traceback(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}"
    result = subprocess.run([str(VENV_BIN / "salesnb"), "validate", url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {url}: cannot connect to the database")
    assert "Traceback" not in result.stderr


def test_cli_subprocess_malformed_mapping_no_traceback(tmp_path):
    folder = write_source(tmp_path / "src", {"reps": REPS, "opportunities": opps(O_OK)})
    (folder / "mapping.yml").write_text("tables:\n  opportunities:\n    values: [status]\n")
    result = subprocess.run([str(VENV_BIN / "salesnb"), "validate", str(folder)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "mapping.yml, line 3, column 'tables.opportunities.values': values: must be a mapping" in result.stderr
    assert "Traceback" not in result.stderr
