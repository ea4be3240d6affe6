"""A period the data does not reach says so (issue #13, weak spot).

``metrics`` keeps its JSON shape (one row per rep) with the period's own
figures null, not 0, and a note on stderr; ``diagnose`` and ``report``
stop with exit 1 and "no data in 2031 (the data runs from X to Y)" rather
than a page of zeros that reads as a period of no work.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sources import write_source

from salesnb.analysis.periods import no_data_in, parse_period
from salesnb.cli import cli
from salesnb.io.dataset import from_frames
from salesnb.io.loading import load

REPS = "rep_id,name,territory\nR1,Ann,North\nR2,Bob,South\n"
# Data from 2025-01-05 (O1 created) to 2025-06-30 (A2); O3 is still open.
OPPORTUNITIES = (
    "opportunity_id,rep_id,customer_id,created_date,closed_date,status,amount\n"
    "O1,R1,C1,2025-01-05,2025-02-01,won,100\n"
    "O2,R1,C2,2025-01-06,2025-03-31,lost,50\n"
    "O3,R2,C3,2025-02-01,,open,40\n"
)
ACTIVITIES = "activity_id,rep_id,date,type,customer_id\nA1,R1,2025-01-04,call,C1\nA2,R2,2025-06-30,call,C3\n"
NO_DATA = "no data in 2031 (the data runs from 2025-01-04 to 2025-06-30)"


@pytest.fixture
def source(tmp_path):
    return write_source(
        tmp_path / "data",
        {"reps": REPS, "opportunities": OPPORTUNITIES, "activities": ACTIVITIES, "expectations.yml": "revenue_quota: 1200\n"},
    )


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_no_data_in_names_the_period_and_the_span(source):
    dataset = load(source)
    assert no_data_in(dataset, parse_period("2031")) == NO_DATA
    assert no_data_in(dataset, parse_period("2024-Q4")) == "no data in 2024-Q4 (the data runs from 2025-01-04 to 2025-06-30)"
    # one day of data is enough: A2 on 2025-06-30, O1 closed on 2025-02-01
    assert no_data_in(dataset, parse_period("2025-06-30..2025-07-31")) is None
    assert no_data_in(dataset, parse_period("2025-02-01..2025-02-01")) is None
    # after the data ends (O3 still open is not data dated in Q3)
    assert no_data_in(dataset, parse_period("2025-Q3")) == "no data in 2025-Q3 (the data runs from 2025-01-04 to 2025-06-30)"


def test_a_source_without_any_date_is_left_to_each_analysis():
    empty = from_frames(
        reps={"rep_id": ["R1"], "name": ["Ann"], "territory": ["North"]},
        opportunities={"opportunity_id": [], "rep_id": [], "created_date": [], "status": []},
    )
    assert no_data_in(empty, parse_period("2025")) is None


def test_metrics_json_for_an_empty_period_keeps_one_row_per_rep_with_nulls_not_zeros(source):
    result = run("metrics", source, "--by", "rep", "--period", "2031", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["rep_id"] for r in rows] == ["R1", "R2"]
    for row in rows:
        for name in ("opportunities", "won", "lost", "contacts", "revenue_won", "attainment"):
            assert row[name] is None, (row["rep_id"], name)
        assert row["quota"] == 1200.0  # the target for a year still stands
        assert row["period"] == "2031"
    # what stands at the period's end is kept: O3 (40) is still open
    assert (rows[1]["open"], rows[1]["pipeline_open_amount"]) == (1, 40.0)
    assert f"note: {NO_DATA}: the period's counts, revenue and attainment are blank, not 0" in result.stderr


def test_metrics_for_a_period_with_data_keeps_true_zeros(source):
    result = run("metrics", source, "--by", "rep", "--period", "2025", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["rep_id"]: r for r in json.loads(result.stdout)}
    # R2 won nothing in 2025: a true 0 and attainment 0.0; R1 won 100 of 1200
    assert (rows["R2"]["won"], rows["R2"]["revenue_won"], rows["R2"]["attainment"]) == (0, 0.0, 0.0)
    assert rows["R1"]["attainment"] == 0.0833  # 100 / 1200, exported to 4 places
    assert "no data in" not in result.stderr


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_diagnose_an_empty_period_exits_1_saying_so(source, fmt):
    result = run("diagnose", source, "--period", "2031", "--format", fmt)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.strip() == f"error: {NO_DATA}; ask for a period within it"


def test_diagnose_a_relative_period_the_data_does_not_reach(source):
    result = run("diagnose", source, "--period", "last-quarter", "--as-of", "2031-05-10")
    assert result.exit_code == 1, result.output
    assert "error: no data in 2031-Q1 (the data runs from 2025-01-04 to 2025-06-30)" in result.stderr


def test_report_for_an_empty_period_exits_1_before_writing_anything(source, tmp_path):
    out = tmp_path / "reports"
    result = run("report", source, "--period", "2031", "--out", out)
    assert result.exit_code == 1, result.output
    assert f"error: {NO_DATA}; ask for a period within it" in result.stderr
    assert not out.exists()
