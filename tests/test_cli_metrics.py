"""``salesnb metrics`` on a real CSV folder."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from salesnb.analysis.metrics import EXTRAS, METRICS
from salesnb.cli import cli

REPS = (
    'rep_id,name,territory,team,annual_cost\nR1,Ann,North,East,100000\nR2,=HYPERLINK("x"),South,East,40000\nR3,Cy,North,West,\n'
)
OPPORTUNITIES = (
    "opportunity_id,rep_id,customer_id,created_date,closed_date,status,amount\n"
    "O1,R1,C1,2025-01-05,2025-02-01,won,100\n"
    "O2,R1,C2,2025-01-06,2025-03-31,lost,50\n"
    "O3,R2,C3,2025-02-01,,open,\n"
    "O4,R2,,2025-04-02,2025-05-01,won,300\n"
)


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "reps.csv").write_text(REPS, encoding="utf-8")
    (folder / "opportunities.csv").write_text(OPPORTUNITIES, encoding="utf-8")
    (folder / "expectations.yml").write_text("revenue_quota: 1200\n", encoding="utf-8")
    return folder


def run(*args):
    return CliRunner().invoke(cli, ["metrics", *map(str, args)])


def test_json_is_a_list_of_objects_with_group_column_and_metric_names(source):
    result = run(source, "--by", "rep", "--period", "2025-Q1", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["rep_id"] for r in rows] == ["R1", "R2", "R3"]
    for name in (*METRICS, *EXTRAS):
        assert name in rows[0]
    r1 = rows[0]
    # Q1: R1 created O1, O2; won O1 (100), lost O2 (on the end day) -> win rate 0.5; quota 1200 / 4 = 300
    assert (r1["opportunities"], r1["won"], r1["lost"], r1["win_rate"], r1["revenue_won"], r1["quota"]) == (
        2,
        1,
        1,
        0.5,
        100,
        300,
    )
    assert r1["contacts"] is None and r1["forecast_amount"] is None  # no activities / forecasts table: null, not 0
    assert r1["small_sample"] is True and r1["period"] == "2025-Q1"
    # R2's open O3 has a blank amount: unknown, so the open amount is null and counted as unknown
    assert rows[1]["pipeline_open_amount"] is None and rows[1]["pipeline_unknown_amounts"] == 1
    assert "activities" in result.stderr  # notes go to stderr


def test_by_team_and_default_period_is_the_data_span(source):
    result = run(source, "--by", "team", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["team"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"East", "West"}
    assert rows["East"]["opportunities"] == 4 and rows["East"]["won"] == 2
    assert rows["East"]["period"] == "2025-01-05..2025-05-01"


def test_csv_neutralises_formulas(source):
    result = run(source, "--by", "rep", "--period", "2025", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[:5] == ["rep_id", "name", "team", "territory", "opportunities"]
    assert rows[1]["name"] == '\'=HYPERLINK("x")'
    assert rows[1]["revenue_won"] == "300.0" and rows[0]["contacts"] == ""


def test_table_for_people(source):
    result = run(source, "--by", "territory", "--period", "last-quarter", "--as-of", "2025-05-20")
    assert result.exit_code == 0, result.output
    assert "2025-Q1" in result.output and "North" in result.output and "50.0%" in result.output
    assert "note:" in result.output


def test_usage_errors_exit_2(source):
    assert run(source, "--by", "region").exit_code == 2
    assert run(source).exit_code == 2  # --by is required
    assert run(source, "--by", "rep", "--as-of", "yesterday").exit_code == 2


def test_nonsense_period_exits_1_like_every_command(source):
    bad = run(source, "--by", "rep", "--period", "2025-Q5")
    assert bad.exit_code == 1 and "2025-Q2" in bad.output  # the message lists the accepted forms
    assert "Traceback" not in bad.output


def test_unreadable_source_exits_1(tmp_path):
    result = run(tmp_path / "nowhere", "--by", "rep")
    assert result.exit_code == 1 and "error" in result.output


def test_csv_and_json_round_money_to_cents_and_rates_to_four_places(tmp_path):
    """0.1 + 0.2 is 0.30000000000000004 in floating point: exports say 0.3."""
    folder = tmp_path / "noisy"
    folder.mkdir()
    (folder / "reps.csv").write_text("rep_id,name,territory,team\nR1,Ann,North,East\n", encoding="utf-8")
    (folder / "opportunities.csv").write_text(
        "opportunity_id,rep_id,customer_id,created_date,closed_date,status,amount\n"
        "O1,R1,C1,2025-01-05,2025-02-01,won,0.1\n"
        "O2,R1,C2,2025-01-06,2025-03-01,won,0.2\n"
        "O3,R1,C3,2025-01-07,2025-03-02,lost,5\n",
        encoding="utf-8",
    )
    result = run(folder, "--by", "rep", "--period", "2025", "--format", "csv")
    assert result.exit_code == 0, result.output
    row = next(csv.DictReader(io.StringIO(result.stdout)))
    # won 0.1 + 0.2 of three closed: revenue 0.3, average deal 0.15, win rate 2/3
    assert (row["revenue_won"], row["avg_deal_size"], row["win_rate"]) == ("0.3", "0.15", "0.6667")
    assert "0000000" not in result.stdout
    rows = json.loads(run(folder, "--by", "rep", "--period", "2025", "--format", "json").stdout)
    assert (rows[0]["revenue_won"], rows[0]["avg_deal_size"], rows[0]["win_rate"], rows[0]["won"]) == (0.3, 0.15, 0.6667, 2)
