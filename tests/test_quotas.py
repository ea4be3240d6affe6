"""Quotas per period (contract table ``quotas``): summed, pro-rated, or the
yearly revenue_quota of expectations.yml, with ``quota_source`` saying which."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import salesnb
from salesnb.analysis.expectations import quota_table, quotas_from_table
from salesnb.analysis.metrics import metrics_table
from salesnb.cli import cli
from salesnb.io.dataset import from_frames


def quota_rows(*rows):
    return pd.DataFrame(list(rows), columns=["rep_id", "period", "quota_amount"])


QUARTERS = quota_rows(
    ("R1", "2025-Q1", 90_000.0),
    ("R1", "2025-Q2", 100_000.0),
    ("R1", "2025-Q3", 110_000.0),
    ("R1", "2025-Q4", 120_000.0),
    ("R2", "2025-Q1", 50_000.0),
    ("R2", "2025-Q2", 50_000.0),
)


def test_a_year_asked_from_quarterly_rows_sums_the_quarters():
    got = quotas_from_table(QUARTERS, period="2025")
    assert got.to_dict() == {"R1": 420_000.0}  # 90 + 100 + 110 + 120 thousand; R2's two quarters do not cover the year


def test_a_month_asked_from_a_quarter_is_pro_rated_by_days():
    got = quotas_from_table(QUARTERS, period="2025-02")
    # Q1 2025 has 90 days, February 28: 90,000 x 28 / 90 = 28,000; 50,000 x 28 / 90 = 15,555.56
    assert got["R1"] == pytest.approx(28_000.0)
    assert got["R2"] == pytest.approx(15_555.555, abs=0.01)


def test_a_year_row_and_its_quarters_are_not_counted_twice():
    rows = quota_rows(("R1", "2025", 400_000.0), ("R1", "2025-Q1", 90_000.0), ("R1", "2025-Q2", 100_000.0))
    assert quotas_from_table(rows, period="2025-Q1")["R1"] == 90_000.0  # the quarter, the finest row that covers it
    assert quotas_from_table(rows, period="2025")["R1"] == 400_000.0  # the quarters do not cover the year: the year row
    # no Q3 row: the year row, pro-rated by days (Q3: 92 of 365)
    assert quotas_from_table(rows, period="2025-Q3")["R1"] == pytest.approx(400_000 * 92 / 365)


def reps():
    return pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3"],
            "name": ["Ann", "Bob", "Cy"],
            "territory": ["N", "N", "S"],
            "team": ["East", "East", "West"],
        }
    )


def deals():
    return pd.DataFrame(
        {
            "opportunity_id": ["O1", "O2", "O3"],
            "rep_id": ["R1", "R2", "R1"],
            "created_date": pd.to_datetime(["2025-01-05", "2025-01-06", "2025-03-01"]),
            "closed_date": pd.to_datetime(["2025-02-10", "2025-03-10", None]),
            "status": ["won", "won", "open"],
            "amount": [45_000.0, 10_000.0, 220_000.0],
        }
    )


def test_quota_source_says_where_each_reps_quota_comes_from():
    ds = from_frames(reps=reps(), opportunities=deals(), quotas=QUARTERS, expectations={"revenue_quota": 1_200_000})
    got = quota_table(ds, period="2025")
    assert got["quota"].to_dict() == {"R1": 420_000.0, "R2": 1_200_000.0, "R3": 1_200_000.0}
    assert got["quota_source"].to_dict() == {"R1": "quotas", "R2": "expectations", "R3": "expectations"}
    none = quota_table(from_frames(reps=reps(), opportunities=deals(), quotas=QUARTERS), period="2025")
    assert math.isnan(none.loc["R3", "quota"]) and none.loc["R3", "quota_source"] is None


def test_metrics_take_quota_attainment_and_coverage_from_the_quotas_table():
    ds = from_frames(reps=reps(), opportunities=deals(), quotas=QUARTERS, expectations={"revenue_quota": 1_200_000})
    table = metrics_table(ds, period="2025-Q1", as_of="2025-04-10").set_index("rep_id")
    r1 = table.loc["R1"]
    # R1 won 45,000 of Q1's 90,000; 220,000 open at Q1's end against Q2's 100,000 (Q1 is finished)
    assert (r1["quota"], r1["attainment"], r1["pipeline_coverage"], r1["quota_source"]) == (90_000.0, 0.5, 2.2, "quotas")
    r3 = table.loc["R3"]  # no quota rows: expectations' 1,200,000 a year, a quarter of it
    assert (r3["quota"], r3["quota_source"]) == (300_000.0, "expectations")
    teams = metrics_table(ds, by="team", period="2025-Q1", as_of="2025-04-10").set_index("team")
    assert teams.loc["East", "quota"] == 140_000.0  # R1 90,000 + R2 50,000
    assert teams.loc["East", "quota_source"] == "quotas"
    assert teams.loc["West", "quota_source"] == "expectations"


def test_without_expectations_the_quotas_table_alone_gives_quota_and_no_note():
    ds = from_frames(reps=reps(), opportunities=deals(), quotas=QUARTERS)
    table = metrics_table(ds, period="2025-Q1", as_of="2025-04-10")
    assert table.set_index("rep_id")["quota"].tolist()[:2] == [90_000.0, 50_000.0]
    assert not [n for n in table.attrs["notes"] if "quota" in n]
    assert np.isnan(table.set_index("rep_id").loc["R3", "quota"])


def test_a_quotas_csv_is_read_and_a_bad_period_is_located(tmp_path):
    (tmp_path / "reps.csv").write_text("rep_id,name,territory\nR1,Ann,N\n")
    (tmp_path / "opportunities.csv").write_text(
        "opportunity_id,rep_id,created_date,closed_date,status,amount\nO1,R1,2025-01-05,2025-02-01,won,30000\n"
    )
    (tmp_path / "quotas.csv").write_text("rep_id,period,quota_amount\nR1,2025-Q1,60000\nR1,2025-Q5,1\n")
    ds = salesnb.load(tmp_path)
    assert ds.quotas["period"].astype(str).tolist() == ["2025-Q1"]
    (problem,) = ds.problems
    assert (problem.line, problem.column) == (3, "period")
    summary = CliRunner().invoke(cli, ["validate", str(tmp_path)]).output
    assert "Expectations: none (quota comes from the quotas table; the scorecard needs expectations.yml)" in summary
    result = CliRunner().invoke(cli, ["metrics", str(tmp_path), "--by", "rep", "--period", "2025-Q1", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert (
        '"quota": 60000.0' in result.output
        and '"attainment": 0.5' in result.output
        and '"quota_source": "quotas"' in result.output
    )


def test_expectations_option_gives_a_database_source_its_targets(tmp_path):
    import sqlite3

    database = tmp_path / "crm.sqlite"
    with sqlite3.connect(database) as connection:
        reps().to_sql("reps", connection, index=False)
        deals().to_sql("opportunities", connection, index=False)
    targets = tmp_path / "targets" / "goals.yml"
    targets.parent.mkdir()
    targets.write_text("default:\n  revenue_quota: 180000\n")
    args = ["metrics", str(database), "--by", "rep", "--period", "2025-Q1", "--format", "json"]
    without = CliRunner().invoke(cli, args)
    assert '"quota": null' in without.output
    result = CliRunner().invoke(cli, [*args, "--expectations", str(targets)])
    assert result.exit_code == 0, result.output
    assert '"quota": 45000.0' in result.output and '"attainment": 1.0' in result.output  # R1: 45,000 won of 180,000 / 4
    assert salesnb.load(database, expectations=targets).expectations["default"] == {"revenue_quota": 180000}
    for command in ("validate", "diagnose", "quality", "training-effect", "report", "schedule"):
        assert "--expectations" in CliRunner().invoke(cli, [command, "--help"]).output, command


def test_the_scorecard_judges_revenue_against_the_quotas_table():
    from salesnb.analysis.scorecard import scorecard

    ds = from_frames(reps=reps(), opportunities=deals(), quotas=QUARTERS, expectations={"revenue_quota": 1_200_000})
    card = scorecard(ds, period="2025-Q1", as_of="2025-04-10").set_index(["rep_id", "expectation"])
    r1 = card.loc[("R1", "revenue_quota")]  # 45,000 won of the 90,000 set for Q1, not of 1,200,000 / 4
    assert (r1["target"], r1["actual"], r1["met"]) == (90_000.0, 45_000.0, False)
    assert r1["note"] == "attainment 50% of the quota set for 2025-Q1 (quotas table)"
    assert card.loc[("R3", "revenue_quota"), "target"] == 300_000.0
