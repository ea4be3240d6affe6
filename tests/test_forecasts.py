"""Forecast accuracy and bias, with numbers checkable by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesnb.analysis.forecasts import (
    ACCURACY_COLUMNS,
    BIAS_COLUMNS,
    forecast_accuracy,
    forecast_bias,
    forecast_habit,
    forecast_in_period,
)
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
            # R2: one judged period only (200 vs 80: +150 %) -> too few to call a habit, however large
            ("R2", "2025-Q1", 200.0, None),
        )
    )
    bias = forecast_bias(ds)
    assert list(bias.columns) == BIAS_COLUMNS
    r1 = bias.set_index("rep_id").loc["R1"]
    assert r1["periods"] == 4 and r1["share_over"] == 0.75 and r1["median_error_pct"] == pytest.approx((20 + 50 / 3.5) / 2)
    assert (r1["over_periods"], r1["under_periods"], r1["bias"]) == (3, 1, "over")
    r2 = bias.set_index("rep_id").loc["R2"]
    assert r2["bias"] == "too_few"
    assert (
        r2["sentence"] == "Over-forecast in 1 of 1 quarter, median error +150%: too few quarters to call it a habit (3 needed)."
    )


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
    )  # +30, -30, +30, -30: half over, median 0, but a typical miss of 30 % -> mixed, not accurate
    got = forecast_bias(mixed).set_index("rep_id").loc["R1"]
    assert got["bias"] == "mixed"
    assert got["sentence"] == (
        "Over-forecast in 2 and under-forecast in 2 of 4 months, median error +0%: no consistent direction, "
        "but the typical miss is 30%."
    )
    close = from_frames(
        reps=REPS,
        opportunities=deals,
        forecasts=forecasts(*[("R1", f"2025-{m:02d}", f, None) for m, f in zip(range(1, 5), (105.0, 95.0, 108.0, 102.0))]),
    )  # +5, -5, +8, +2: typical miss (median of 5, 5, 8, 2) = 5 % -> accurate
    got = forecast_bias(close).set_index("rep_id").loc["R1"]
    assert (got["bias"], got["median_error_pct"]) == ("accurate", pytest.approx(3.5))


def test_two_quarters_over_by_half_are_too_few_and_say_what_was_seen():
    """The issue's rep: +50 % in both quarters. Not "none": what was seen, and why no verdict."""
    deals = pd.DataFrame([won("A", "R1", "2025-02-10", 100.0), won("B", "R1", "2025-05-10", 200.0)])
    ds = from_frames(
        reps=REPS,
        opportunities=deals,
        forecasts=forecasts(("R1", "2025-Q1", 150.0, None), ("R1", "2025-Q2", 300.0, None)),
    )  # (150 - 100) / 100 = +50 %, (300 - 200) / 200 = +50 %
    got = forecast_bias(ds).set_index("rep_id").loc["R1"]
    assert (got["periods"], got["over_periods"], got["under_periods"], got["median_error_pct"]) == (2, 2, 0, 50.0)
    assert got["bias"] == "too_few"
    assert (
        got["sentence"] == "Over-forecast in 2 of 2 quarters, median error +50%: too few quarters to call it a habit (3 needed)."
    )
    assert "none" not in got["sentence"].lower()


def test_four_quarters_over_by_thirty_percent_is_a_habit():
    deals = pd.DataFrame([won(f"D{q}", "R1", f"2025-{3 * q - 1:02d}-10", 100.0) for q in range(1, 5)])
    ds = from_frames(
        reps=REPS, opportunities=deals, forecasts=forecasts(*[("R1", f"2025-Q{q}", 130.0, None) for q in range(1, 5)])
    )  # 130 vs 100 four times: +30 %, 4 of 4 over
    got = forecast_bias(ds).set_index("rep_id").loc["R1"]
    assert (got["periods"], got["over_periods"], got["median_error_pct"], got["bias"]) == (4, 4, pytest.approx(30.0), "over")
    assert got["sentence"] == "Over-forecast in 4 of 4 quarters, median error +30%: a consistent habit of forecasting high."


def test_habit_of_nothing_judged():
    got = forecast_habit([np.nan], kinds=["quarter"])
    assert (got["periods"], got["bias"]) == (0, "too_few")
    assert got["sentence"] == "No forecast could be checked: nothing was won in the forecast periods."


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


def test_metrics_over_time_reads_the_forecasts_once_for_all_its_quarters(monkeypatch):
    from salesnb.analysis import forecasts as module
    from salesnb.analysis import metrics
    from salesnb.analysis.metrics import metrics_over_time

    ds = dataset(
        forecasts(
            ("R1", "2025", 400.0, None),  # a year: inside no quarter
            ("R1", "2025-Q1", 120.0, None),  # (120 - 100) / 100 = +20 %
            ("R1", "2025-Q2", 150.0, None),  # (150 - 200) / 200 = -25 %
            ("R2", "2025-Q4", 50.0, None),  # nothing won in Q4: actual 0, error n/a
        )
    )
    calls = []
    real = module.forecast_accuracy

    def counted(*args, **kwargs):
        calls.append(kwargs.get("period"))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "forecast_accuracy", counted)
    monkeypatch.setattr(metrics, "forecast_accuracy", counted, raising=False)
    table = metrics_over_time(ds, freq="quarter", start="2025-Q1", end="2025-Q4").set_index(["period", "rep_id"])
    assert len(calls) == 1  # not once per quarter
    assert (table.loc[("2025-Q1", "R1"), "forecast_amount"], table.loc[("2025-Q1", "R1"), "forecast_error_pct"]) == (120, 20)
    assert (table.loc[("2025-Q2", "R1"), "forecast_amount"], table.loc[("2025-Q2", "R1"), "forecast_error_pct"]) == (150, -25)
    assert np.isnan(table.loc[("2025-Q3", "R1"), "forecast_amount"])  # the year forecast is no Q3 forecast
    assert table.loc[("2025-Q4", "R2"), "forecast_amount"] == 50 and np.isnan(table.loc[("2025-Q4", "R2"), "forecast_error_pct"])


def _quarterly(forecast_by_quarter):
    """R1 wins 100 in each 2025 quarter and forecast ``forecast_by_quarter`` {q: amount}; R2, R3 win too."""
    deals = pd.DataFrame(
        [won(f"{rep}{q}", rep, f"2025-{3 * q - 1:02d}-10", 100.0) for rep in ("R1", "R2", "R3") for q in range(1, 5)]
    )
    fc = forecasts(*[("R1", f"2025-Q{q}", amount, None) for q, amount in forecast_by_quarter.items()])
    return from_frames(reps=REPS, opportunities=deals, forecasts=fc)


def test_rep_report_banner_for_a_consistent_habit_only():
    from salesnb.present import html
    from salesnb.present.rep_page import rep_report

    habit = rep_report(_quarterly({q: 130.0 for q in range(1, 5)}), "R1", period="2025", as_of="2026-01-05")
    assert habit.forecast_banner == (
        "Your forecasts run high: over-forecast in 4 of 4 quarters, median error +30%. Before committing a number, "
        "check each deal in it against its stage and its last contact."
    )
    shown = html.forecast_banner(habit.forecast_banner).data
    assert 'class="salesnb-warning salesnb-forecast-banner"' in shown and "over-forecast in 4 of 4 quarters" in shown

    # the rep: +50 % in 2 of 2 quarters -> no banner, and the forecast section says what was seen
    thin = rep_report(_quarterly({1: 150.0, 2: 150.0}), "R1", period="2025", as_of="2026-01-05")
    assert thin.forecast_banner is None and html.forecast_banner(thin.forecast_banner).data == ""
    assert "Over-forecast in 2 of 2 quarters, median error +50%: too few quarters to call it a habit (3 needed)." in (
        thin.notes_for("forecasts")
    )
    assert not any("none" in n.lower() for n in thin.notes_for("forecasts"))


def test_forecast_banner_escapes_its_text():
    from salesnb.present import html

    assert "&lt;b&gt;" in html.forecast_banner("<b>x</b>").data
