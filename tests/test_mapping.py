"""The mapping language (contract: "Mapping a CRM export") on small exports
shaped like Salesforce's, HubSpot's and Zoho's, and the errors a wrong
mapping gets. Each fixture is written into tmp_path; the mappings are the
ones docs/data-source.md shows."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import salesnb
from salesnb.cli import cli
from salesnb.errors import DataError
from salesnb.io.schema import TABLES

DOCS = Path(__file__).resolve().parents[1] / "docs" / "data-source.md"


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text.lstrip("\n"), encoding="utf-8")
    return folder


def documented_mapping(title: str) -> str:
    """The YAML block under the heading ``title`` in docs/data-source.md: the tests load what the docs show."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split(f"### {title}", 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


# -- Salesforce-style: two yearly exports, a pipeline filter, IsClosed + IsWon, quotas per quarter --------

SALESFORCE = {
    "opps_2024.csv": """
Id,Owner,AccountId,ContactId,IsClosed,IsWon,CreatedDate,CloseDate,Amount,Pipeline
006A1,Ann Lee,001X1,,true,true,2024-01-10,2024-02-01,1000,New Business
006A2,Ann Lee,,003C9,true,false,2024-03-01,2024-04-01,500,New Business
006A3,Bob Ray,001X2,,false,false,2024-05-01,,700,Renewals
""",
    "opps_2025.csv": """
Id,Owner,AccountId,ContactId,IsClosed,IsWon,CreatedDate,CloseDate,Amount,Pipeline
006B1,Bob Ray,001X3,,true,true,2025-01-05,2025-02-01,2000,Upsell
006B2,Bob Ray,001X3,,true,true,2025-01-06,not a date,300,Upsell
006B3,Ann Lee,001X1,003C1,false,false,2025-03-01,2025-06-30,4000,New Business
""",
    "quota_targets.csv": """
rep_name,region,quarter,quota_amount
Ann Lee,North,2025-Q1,10000
Ann Lee,North,2025-Q2,12000
Bob Ray,South,2025-Q1,8000
Bob Ray,South,2025-Q2,8000
""",
    "activities.csv": "Id,Subject\nT1,Call\n",
    "notes.md": "exported 2025-07-01\n",
}


@pytest.fixture
def salesforce(tmp_path):
    return write(tmp_path / "salesforce", {**SALESFORCE, "mapping.yml": documented_mapping("Salesforce")})


def test_salesforce_style_export_loads_as_documented(salesforce):
    ds = salesnb.load(salesforce)
    opps = ds.opportunities.set_index("opportunity_id")
    # 006A3 (Renewals) is left out by where:, 006B2 (a bad close date) set aside
    assert list(opps.index) == ["006A1", "006A2", "006B1", "006B3"]
    assert opps["status"].astype(str).to_dict() == {"006A1": "won", "006A2": "lost", "006B1": "won", "006B3": "open"}
    # the account, else the contact
    assert opps["customer_id"].astype(str).to_dict() == {"006A1": "001X1", "006A2": "003C9", "006B1": "001X3", "006B3": "001X1"}
    # reps from the quota file: four rows, two reps, no duplicate_id problem
    assert ds.reps[["rep_id", "territory"]].astype(str).values.tolist() == [["Ann Lee", "North"], ["Bob Ray", "South"]]
    assert [p.flag for p in ds.problems] == ["bad_value"]
    assert ds.left_out == {"opportunities": 1}
    assert ds.activities is None  # activities: false, though activities.csv is there
    assert len(ds.quotas) == 4


def test_salesforce_problem_is_located_in_the_second_file(salesforce):
    ds = salesnb.load(salesforce)
    (problem,) = ds.problems
    assert (Path(problem.file).name, problem.line, problem.column, problem.value) == (
        "opps_2025.csv",
        3,
        "closed_date",
        "not a date",
    )
    assert ds.quarantine[["file", "line"]].values.tolist() == [[str(salesforce / "opps_2025.csv"), 3]]


def test_salesforce_validate_counts_left_out_rows_and_lists_unread_files(salesforce):
    result = CliRunner().invoke(cli, ["validate", str(salesforce)])
    assert result.exit_code == 0, result.output
    assert "Rows left out by the mapping's where: opportunities 1 row (kept out on purpose, not problems)" in result.output
    assert "Files not read (2):" in result.output
    assert "  activities.csv: left out by the mapping (activities: false)" in result.output
    assert "  notes.md: not a file salesnb reads" in result.output
    assert "Reps: 2 in 0 teams and 2 territories" in result.output
    assert f"{salesforce / 'opps_2025.csv'}, line 3, column 'CloseDate' (read as closed_date)" in result.output


def test_salesforce_quotas_give_quota_attainment_and_coverage(salesforce):
    from salesnb.analysis.metrics import metrics_table

    ds = salesnb.load(salesforce)
    q1 = metrics_table(ds, period="2025-Q1", as_of="2025-04-15").set_index("rep_id")
    # Bob won 2,000 in Q1 against 8,000; Ann's 4,000 open at Q1's end against her Q2 quota of 12,000
    assert (q1.loc["Bob Ray", "quota"], q1.loc["Bob Ray", "attainment"]) == (8000, 0.25)
    assert q1.loc["Ann Lee", "pipeline_coverage"] == pytest.approx(4000 / 12000)
    assert set(q1["quota_source"]) == {"quotas"}


# -- HubSpot-style: deals with stage ids, owners derived from deals, a blank source -------------------

HUBSPOT = {
    "hubspot-crm-exports-deals-2025-06-30.csv": """
Record ID,Deal Name,Deal Stage,Deal owner,Create Date,Close Date,Amount,Original Source,Associated Company IDs
9001,Acme renewal,closedwon,Cara Diaz,2025-04-02 10:15,2025-05-20 16:00,"$22,700.00",Offline Sources,77
9002,Beta pilot,closedlost,Cara Diaz,2025-04-10 09:00,2025-06-01 12:00,"$5,000.00",Organic Search,78
9003,Gamma,appointmentscheduled,Dev Shah,2025-05-01 08:30,,"$9,100.00",Referrals,79
""",
}


def test_hubspot_style_export_loads_as_documented(tmp_path):
    folder = write(tmp_path / "hubspot", {**HUBSPOT, "mapping.yml": documented_mapping("HubSpot")})
    ds = salesnb.load(folder)
    assert ds.problems == []
    opps = ds.opportunities.set_index("opportunity_id")
    assert opps["status"].astype(str).to_dict() == {"9001": "won", "9002": "lost", "9003": "open"}
    assert opps.loc["9001", "amount"] == 22700.0
    # null in values: means blank, not the text "None"
    assert opps["acquisition_method"].astype(object).where(opps["acquisition_method"].notna(), None).to_dict() == {
        "9001": None,
        "9002": "inbound",
        "9003": "referral",
    }
    assert sorted(ds.reps["rep_id"]) == ["Cara Diaz", "Dev Shah"]
    assert set(ds.reps["territory"].astype(str)) == {"All"}


# -- Zoho-style: calls in monthly files (a glob), linked to an account else a contact ----------------

ZOHO = {
    "Deals_2025.csv": """
Record Id,Deal Owner,Account Name,Stage,Created Time,Closing Date,Amount
z1,Eva Roth,acc1,Closed Won,"15 Apr, 2025 09:02:00","20 May, 2025 00:00:00",1200
z2,Eva Roth,acc2,Negotiation,"16 Apr, 2025 10:00:00",,800
""",
    "Calls_2025_04.csv": """
Record Id,Call Owner,Call Start Time,Call Type,Related To,Contact Name
c1,Eva Roth,"15 Apr, 2025 09:00:00",Outbound,acc1,
c2,Eva Roth,"16 Apr, 2025 10:00:00",Outbound,,con7
""",
    "Calls_2025_05.csv": """
Record Id,Call Owner,Call Start Time,Call Type,Related To,Contact Name
c3,Eva Roth,"02 May, 2025 11:00:00",Inbound,acc2,con8
c4,Eva Roth,"31 Maz, 2025 11:00:00",Inbound,acc2,
""",
    "Accounts.csv": """
Record Id,Account Name,Account Owner,Industry
a1,acc1,Eva Roth,Retail
a2,acc2,Eva Roth,Manufacturing
""",
}


def test_zoho_style_export_loads_as_documented(tmp_path):
    folder = write(tmp_path / "zoho", {**ZOHO, "mapping.yml": documented_mapping("Zoho")})
    ds = salesnb.load(folder)
    calls = ds.activities.set_index("activity_id")
    assert list(calls.index) == ["c1", "c2", "c3"]  # c4's date is set aside
    assert calls["customer_id"].astype(str).to_dict() == {"c1": "acc1", "c2": "con7", "c3": "acc2"}
    assert calls.loc["c3", "date"] == pd.Timestamp("2025-05-02 11:00")
    # each problem names its own file: a contact that is no account (a warning), a bad date (set aside)
    located = [(Path(p.file).name, p.line, p.column, p.severity) for p in ds.problems]
    assert located == [("Calls_2025_04.csv", 3, "customer_id", "warning"), ("Calls_2025_05.csv", 3, "date", "error")]
    assert ds.customers["customer_type"].astype(str).tolist() == ["Retail", "Manufacturing"]
    assert ds.opportunities["status"].astype(str).tolist() == ["won", "open"]


# -- what a wrong mapping gets --------------------------------------------------------------------


def load_with_mapping(tmp_path, mapping: str):
    folder = write(
        tmp_path / "src",
        {
            "reps.csv": "rep_id,name,territory\nR1,Ann,North\n",
            "opportunities.csv": "opportunity_id,rep_id,created_date,status\nO1,R1,2025-01-01,open\n",
            "mapping.yml": mapping,
        },
    )
    return salesnb.load(folder)


@pytest.mark.parametrize(
    ("mapping", "line", "words"),
    [
        ("tables:\n  opportunities:\n    file: {a: 1}\n", 3, "file: must be a file name, a list of them or a pattern"),
        ("tables:\n  opportunities:\n    file: 3\n", 3, "file: must be a file name, a list of them or a pattern"),
        ("tables:\n  opportunities:\n    file: true\n", 3, "file: must be a file name, a list of them or a pattern"),
        ("tables:\n  orders: true\n", 2, "orders: must be a mapping with file/columns/values, or false"),
        ("tables:\n  opportunities:\n    columns: {customer_id: [A, {x: 1}]}\n", 3, "cannot read customer_id"),
        ("tables:\n  opportunities:\n    values: {status: [won]}\n", 3, "must map the export's values"),
        ("tables:\n  opportunities:\n    where: {Pipeline: {x: 1}}\n", 3, "must be a value or a list of values"),
        ("tables:\n  opportunities:\n    colums: {}\n", 3, "unknown key 'colums' in opportunities"),
        ("tables:\n  reps: false\n", 2, "reps is required and cannot be left out"),
        ("table:\n  reps: {}\ntables: {}\n", 1, "unknown key 'table'"),
    ],
)
def test_a_wrong_yaml_shape_is_an_error_with_the_mapping_file_and_line(tmp_path, mapping, line, words):
    with pytest.raises(DataError) as caught:
        load_with_mapping(tmp_path, mapping)
    (problem,) = caught.value.problems
    assert (Path(problem.file).name, problem.line, problem.flag) == ("mapping.yml", line, "bad_mapping")
    assert words in problem.message
    assert problem.hint  # what is allowed


def test_validate_summary_counts_in_words(tmp_path):
    load_with_mapping(tmp_path, "tables: {}\n")
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "src")])
    assert "Reps: 1 in 0 teams and 1 territory" in result.output


def test_every_mistake_of_a_mapping_is_listed_at_once(tmp_path):
    mapping = "tables:\n  opportunities:\n    colums: {}\n    where: [x]\n  reps:\n    file: 3\n    formats: {hire_date: '%Q'}\n"
    with pytest.raises(DataError) as caught:
        load_with_mapping(tmp_path, mapping)
    assert [(p.line, p.column) for p in caught.value.problems] == [
        (3, "tables.opportunities.colums"),
        (4, "tables.opportunities.where"),
        (6, "tables.reps.file"),
        (7, "tables.reps.formats.hire_date"),
    ]


def test_where_also_filters_the_rows_a_table_is_derived_from(tmp_path):
    folder = write(
        tmp_path / "src",
        {
            "deals.csv": "Id,Owner,Created,Status,Team\nD1,Ann,2025-01-01,open,Sales\nD2,Bob,2025-01-02,open,Support\n",
            "mapping.yml": """
tables:
  opportunities:
    file: deals.csv
    columns: {opportunity_id: Id, rep_id: Owner, created_date: Created, status: Status}
  reps:
    from: opportunities
    where: {Team: Sales}
    columns: {rep_id: Owner, name: Owner, territory: {const: All}}
""",
        },
    )
    ds = salesnb.load(folder)
    assert ds.reps["rep_id"].tolist() == ["Ann"]
    assert ds.left_out == {"reps": 1}
    assert [(p.line, p.flag) for p in ds.problems] == [(3, "orphan_rep")]  # Bob's deal: its rep is not in reps


def test_an_unknown_table_lists_every_table(tmp_path):
    with pytest.raises(DataError) as caught:
        load_with_mapping(tmp_path, "tables:\n  rep: {file: reps.csv}\n")
    (problem,) = caught.value.problems
    assert problem.hint == "use one of: " + ", ".join(TABLES)
    assert "quotas" in problem.hint and "reps" in problem.hint


def test_a_where_column_the_file_lacks_is_named(tmp_path):
    with pytest.raises(DataError, match=r"keeps opportunities rows by column 'Pipeline' \(where:\), which is not in the file"):
        load_with_mapping(tmp_path, "tables:\n  opportunities:\n    where: {Pipeline: New}\n")


def test_a_glob_that_matches_nothing_lists_the_files(tmp_path):
    with pytest.raises(DataError, match=r"no file matches.*reps.csv"):
        load_with_mapping(tmp_path, 'tables:\n  opportunities:\n    file: "deals_*.csv"\n')


def test_a_database_table_read_from_several_tables_locates_each_row(tmp_path):
    import sqlite3

    database = tmp_path / "crm.sqlite"
    with sqlite3.connect(database) as connection:
        pd.DataFrame({"rep_id": ["R1"], "name": ["Ann"], "territory": ["N"]}).to_sql("reps", connection, index=False)
        for table, day in (("opps_2024", "2024-05-01"), ("opps_2025", "2025-13-01")):
            frame = pd.DataFrame({"opportunity_id": [table], "rep_id": ["R1"], "created_date": [day], "status": ["open"]})
            frame.to_sql(table, connection, index=False)
    mapping = write(tmp_path / "cfg", {"mapping.yml": "tables:\n  opportunities:\n    table: [opps_2024, opps_2025]\n"})
    ds = salesnb.load(database, mapping=mapping / "mapping.yml")
    assert ds.opportunities["opportunity_id"].tolist() == ["opps_2024"]
    (problem,) = ds.problems
    assert (problem.file, problem.unit, problem.line) == (f"{database} table opps_2025", "row", 1)
