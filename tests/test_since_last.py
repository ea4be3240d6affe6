"""Since last time (issue #14 item 8): last period's focus and how that factor moved.

Every figure below is worked out by hand from the diagnosis dicts built here.
"""

from __future__ import annotations

import pytest

from salesnb.present.progress import since_last, since_last_for


def diagnosis(focus, *evidence, period="2025-Q2"):
    return {"rep_id": "R1", "period": period, "focus": focus, "evidence": list(evidence)}


def ev(factor, metric, value, gap=None):
    return {"factor": factor, "metric": metric, "rep_value": value, "gap_pct": gap}


def test_prospecting_moved_up_to_the_peer_median():
    # 26 -> 34 opportunities: (34 - 26) / 26 = +30.8 %, shown +31 %; gap now 0 % (34 against a median of 34)
    before = diagnosis("prospecting", ev("prospecting", "opportunities", 26.0, -35.0), period="2025-Q1")
    now = diagnosis(None, ev("prospecting", "opportunities", 34.0, 0.0))
    facts = since_last(before, now, kind="quarter")
    assert facts["text"] == "Last quarter: prospecting, 26 new opportunities; this quarter 34, +31%, now at the peer median."
    assert facts["change_pct"] == 30.8
    assert facts["improved"] is True
    assert facts["standing"] == "at"
    assert facts["previous_period"] == "2025-Q1"


def test_velocity_improves_by_going_down():
    # 60 -> 48 days: -20 %, a shorter cycle is better; 48 days against a median of 40 is 20 % slower
    before = diagnosis("velocity", ev("velocity", "cycle_days_median", 60.0, 50.0))
    now = diagnosis("velocity", ev("velocity", "cycle_days_median", 48.0, 20.0))
    facts = since_last(before, now, kind="quarter")
    assert facts["text"] == (
        "Last quarter: velocity, median sales cycle 60 days; this quarter 48 days, -20%, still 20% slower than the peer median."
    )
    assert facts["improved"] is True
    assert facts["standing"] == "behind"


def test_a_small_drop_is_no_improvement():
    # win rate 20 % -> 19 %: -5 %; 19 % against a median of 30 % is 36.7 % below
    before = diagnosis("conversion", ev("conversion", "win_rate", 0.20, -40.0))
    now = diagnosis("conversion", ev("conversion", "win_rate", 0.19, -36.7))
    facts = since_last(before, now, kind="year")
    assert facts["text"] == "Last year: conversion, win rate 20%; this year 19%, -5%, still 37% below the peer median."
    assert facts["improved"] is False


def test_ahead_of_the_median_now():
    # average deal 8,000 -> 12,000: +50 %; gap +20 % above the median of 10,000
    before = diagnosis("deal_size", ev("deal_size", "avg_deal_size", 8000.0, -30.0))
    now = diagnosis(None, ev("deal_size", "avg_deal_size", 12000.0, 20.0))
    facts = since_last(before, now, kind="month")
    assert (
        facts["text"] == "Last month: deal size, average won deal 8,000; this month 12,000, +50%, now 20% above the peer median."
    )


def test_no_figure_this_period():
    before = diagnosis("conversion", ev("conversion", "win_rate", 0.20, -40.0))
    now = diagnosis(None, ev("conversion", "win_rate", None, None))
    facts = since_last(before, now, kind="quarter")
    assert facts["improved"] is None
    assert facts["text"] == "Last quarter: conversion, win rate 20%; this quarter there is no figure to compare (too few deals)."


@pytest.mark.parametrize(
    "previous",
    [
        None,
        {},
        diagnosis(None, ev("prospecting", "opportunities", 3.0)),
        diagnosis("prospecting", ev("prospecting", "opportunities", None)),
    ],
)
def test_nothing_to_say_without_a_previous_focus(previous):
    assert since_last(previous, diagnosis(None, ev("prospecting", "opportunities", 3.0))) is None


def test_since_last_for_diagnoses_the_previous_period(tmp_path):
    """On a real source: 2025-Q2 has no earlier data, so nothing is said; 2025-Q3 follows up Q2."""
    import salesnb
    from salesnb.analysis.diagnosis import diagnose

    ds = salesnb.load("data/sample")
    first = salesnb.analysis.periods.data_span(ds).start
    before_data = salesnb.analysis.periods.Period.for_year(first.year - 1)
    rep = str(ds.reps["rep_id"].iloc[0])
    assert since_last_for(ds, rep, period=before_data.label, current={"focus": None, "evidence": []}) is None
    # a period whose previous one holds data: the facts equal since_last on the two diagnoses
    current = diagnose(ds, period="2025-Q3", rep=rep)[0]
    previous = diagnose(ds, period="2025-Q2", rep=rep)[0]
    assert since_last_for(ds, rep, period="2025-Q3", current=current) == since_last(previous, current, kind="quarter")
