"""Forecast accuracy and bias, with numbers checkable by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesnb.analysis.forecasts import ACCURACY_COLUMNS, BIAS_COLUMNS, forecast_accuracy, forecast_bias, forecast_in_period
from salesnb.analysis.metrics import metrics_table
from salesnb.io.dataset import from_frames

REPS = pd.DataFrame(
    {"rep_id": ["R1", "R2", "R3"], "name": ["Ann", "Bob", "Cy"], "territory": ["N", "N", "S"], "team": ["T", "T", "U"]}
)


def won(oid, rep, closed, amount):
    return {
        "opportunity_id": oid,
        "rep_id": rep,
        "created_date": pd.Timestamp("2024-12-01"),
        "closed_date": pd.Timestamp(closed),
        "status": "won",
        "amount": amount,
    }


DEALS = pd.DataFrame(
    [
        won("O1", "R1", "2025-02-10", 100.0),  # R1 Q1: 100
        won("O2", "R1", "2025-05-01", 200.0),  # R1 Q2: 200
        won("O3", "R1", "2025-09-30 18:00", 50.0),  # R1 Q3: 50 (on the quarter's last day)
        won("O4", "R2", "2025-02-01", 80.0),  # R2 Q1: 80
        {
            "opportunity_id": "O5",
            "rep_id": "R1",
            "created_date": pd.Timestamp("2025-01-01"),
            "closed_date": pd.Timestamp("2025-03-01"),
            "status": "lost",
            "amount": 1_000.0,
        },  # lost: never actual revenue
    ]
)


def forecasts(*rows):
    frame = pd.DataFrame(list(rows), columns=["rep_id", "period", "forecast_amount", "submitted_date"])
    frame["submitted_date"] = pd.to_datetime(frame["submitted_date"])
    return frame


def dataset(fc):
    return from_frames(reps=REPS, opportunities=DEALS, forecasts=fc)


def test_error_pct_sign_and_zero_actual():
    ds = dataset(
        forecasts(
            ("R1", "2025-Q1", 120.0, None),  # (120 - 100) / 100 = +20 %: over-forecast
            ("R1", "2025-Q2", 150.0, None),  # (150 - 200) / 200 = -25 %: under
            ("R1", "2025-Q3", 60.0, None),  # (60 - 50) / 50 = +20 %
            ("R2", "2025-Q4", 50.0, None),  # nothing won: actual 0 -> NaN, never infinite
        )
    )
    got = forecast_accuracy(ds)
    assert list(got.columns) == ACCURACY_COLUMNS
    by = got.set_index(["rep_id", "period"])
    assert by.loc[("R1", "2025-Q1"), "actual"] == 100 and by.loc[("R1", "2025-Q1"), "forecast_error_pct"] == pytest.approx(20)
    assert by.loc[("R1", "2025-Q2"), "forecast_error_pct"] == pytest.approx(-25)
    assert by.loc[("R1", "2025-Q3"), "forecast_error_pct"] == pytest.approx(20)
    assert by.loc[("R2", "2025-Q4"), "actual"] == 0 and np.isnan(by.loc[("R2", "2025-Q4"), "forecast_error_pct"])


def test_year_and_month_forecasts():
    ds = dataset(forecasts(("R1", "2025", 400.0, None), ("R1", "2025-02", 100.0, None)))
    by = forecast_accuracy(ds).set_index("period")
    # 2025: 100 + 200 + 50 = 350; (400 - 350) / 350 = +14.29 %
    assert by.loc["2025", "actual"] == 350 and by.loc["2025", "forecast_error_pct"] == pytest.approx(50 / 350 * 100)
    assert by.loc["2025-02", "actual"] == 100 and by.loc["2025-02", "forecast_error_pct"] == 0


def test_latest_submission_wins_and_period_filter():
    ds = dataset(
        forecasts(
            ("R1", "2025-Q1", 999.0, "2024-12-01"),
            ("R1", "2025-Q1", 110.0, "2025-01-05"),  # resubmitted: this one counts
            ("R1", "2025-Q2", 150.0, "2025-04-01"),
        )
    )
    got = forecast_accuracy(ds)
    assert got.set_index("period").loc["2025-Q1", "forecast_amount"] == 110
    inside = forecast_accuracy(ds, period="2025-01-01..2025-04-30")  # Q2 does not lie inside
    assert inside["period"].tolist() == ["2025-Q1"]


def test_unreadable_periods_are_left_out_and_noted():
    ds = dataset(forecasts(("R1", "2025-Q1", 120.0, None), ("R1", "Q1 2025", 5.0, None), ("R1", "ytd", 5.0, None)))
    got = forecast_accuracy(ds)
    assert got["period"].tolist() == ["2025-Q1"]
    assert "Q1 2025" in got.attrs["notes"][0] and "ytd" in got.attrs["notes"][0]


def test_bias_labels():
    ds = dataset(
        forecasts(
            # R1: +20, -25, +20, and 2025 year +14.29: median +17.1, 3 of 4 over -> over
            ("R1", "2025-Q1", 120.0, None),
            ("R1", "2025-Q2", 150.0, None),
            ("R1", "2025-Q3", 60.0, None),
            ("R1", "2025", 400.0, None),
            # R2: one judged period only -> none, however large
            ("R2", "2025-Q1", 200.0, None),
        )
    )
    bias = forecast_bias(ds)
    assert list(bias.columns) == BIAS_COLUMNS
    r1 = bias.set_index("rep_id").loc["R1"]
    assert r1["periods"] == 4 and r1["share_over"] == 0.75 and r1["median_error_pct"] == pytest.approx((20 + 50 / 3.5) / 2)
    assert r1["bias"] == "over"
    assert bias.set_index("rep_id").loc["R2", "bias"] == "none"


def test_bias_under_and_inconsistent():
    deals = pd.DataFrame([won(f"O{m}", "R1", f"2025-{m:02d}-15", 100.0) for m in range(1, 7)])
    ds = from_frames(
        reps=REPS,
        opportunities=deals,
        forecasts=forecasts(
            *[("R1", f"2025-{m:02d}", 80.0, None) for m in range(1, 5)],  # R1: -20 % four times -> under
        ),
    )
    assert forecast_bias(ds).set_index("rep_id").loc["R1", "bias"] == "under"
    mixed = from_frames(
        reps=REPS,
        opportunities=deals,
        forecasts=forecasts(
            ("R1", "2025-01", 130.0, None),
            ("R1", "2025-02", 70.0, None),
            ("R1", "2025-03", 130.0, None),
            ("R1", "2025-04", 70.0, None),
        ),
    )  # +30, -30, +30, -30: half over -> none
    assert forecast_bias(mixed).set_index("rep_id").loc["R1", "bias"] == "none"


def test_missing_forecasts_table():
    ds = from_frames(reps=REPS, opportunities=DEALS)
    got = forecast_accuracy(ds)
    assert got.empty and list(got.columns) == ACCURACY_COLUMNS and "forecasts" in got.attrs["notes"][0]
    assert forecast_bias(ds).empty
    table = metrics_table(ds, period="2025")
    assert table["forecast_amount"].isna().all() and table["forecast_error_pct"].isna().all()


def test_metrics_table_uses_the_coarsest_forecasts_inside_the_period():
    ds = dataset(
        forecasts(
            ("R1", "2025", 400.0, None),
            ("R1", "2025-Q1", 120.0, None),
            ("R1", "2025-Q2", 150.0, None),
            ("R2", "2025-Q1", 100.0, None),
            ("R2", "2025-Q4", 50.0, None),
        )
    )
    per_rep = forecast_in_period(ds, period="2025").set_index("rep_id")
    # R1: the year forecast only (not year + quarters): 400 vs 350
    assert (per_rep.loc["R1", "forecasts"], per_rep.loc["R1", "forecast_amount"], per_rep.loc["R1", "actual"]) == (1, 400, 350)
    table = metrics_table(ds, period="2025").set_index("rep_id")
    assert table.loc["R1", "forecast_error_pct"] == pytest.approx(50 / 350 * 100)
    # R2: Q1 + Q4 = 150 forecast vs 80 + 0 won = +87.5 %
    assert (table.loc["R2", "forecast_amount"], table.loc["R2", "forecast_error_pct"]) == (150, 87.5)
    assert np.isnan(table.loc["R3", "forecast_amount"])  # no forecast is not a forecast of 0
    q1 = metrics_table(ds, period="2025-Q1").set_index("rep_id")
    assert (q1.loc["R1", "forecast_amount"], q1.loc["R1", "forecast_error_pct"]) == (120, 20)
    by_team = metrics_table(ds, by="team", period="2025-Q1").set_index("team")
    # team T: (120 + 100) forecast vs (100 + 80) won = +22.2 %
    assert by_team.loc["T", "forecast_amount"] == 220 and by_team.loc["T", "forecast_error_pct"] == pytest.approx(40 / 180 * 100)
    assert np.isnan(by_team.loc["U", "forecast_amount"])
