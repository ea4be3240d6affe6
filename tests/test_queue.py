"""The manager's queue (issue #14 item 6): one row per rep, sorted by stake.

Diagnosis dicts are built by hand with the keys issue #14 adds
(focus_strength, cause, not_judged, stake, team_finding, flags, judged);
every expected word and number is worked out from them.
"""

from __future__ import annotations

import pandas as pd

from salesnb.present.html import queue_table
from salesnb.present.queue import QUEUE_COLUMNS, manager_queue, queue_rows, rep_forecast_bias, team_findings


def ev(factor, metric, value, gap, *, judged=True):
    return {"factor": factor, "metric": metric, "rep_value": value, "gap_pct": gap, "small_sample": False, "judged": judged}


def all_factors(**overrides):
    factors = {
        "prospecting": ev("prospecting", "opportunities", 30.0, 0.0),
        "conversion": ev("conversion", "win_rate", 0.3, 0.0),
        "deal_size": ev("deal_size", "avg_deal_size", 10000.0, 0.0),
        "velocity": ev("velocity", "cycle_days_median", 40.0, 0.0),
    }
    factors.update(overrides)
    return list(factors.values())


def diag(rep, focus=None, *, stake=None, strength=None, cause=None, evidence=None, not_judged=(), flags=(), finding=None):
    return {
        "rep_id": rep,
        "period": "2025-Q3",
        "focus": focus,
        "focus_strength": strength,
        "cause": cause,
        "stake": stake,
        "evidence": evidence if evidence is not None else all_factors(),
        "not_judged": list(not_judged),
        "flags": list(flags),
        "team_finding": finding,
    }


METRICS = pd.DataFrame(
    {
        "rep_id": ["R1", "R2", "R3", "R4", "R5"],
        "name": ["Ann", "Ben", "Cy", "Dee", "Eve"],
        "attainment": [0.62, 0.91, 1.4, 0.3, None],
    }
)


def queue(**kwargs):
    diagnoses = [
        # R1: prospecting, tentative, qualification; 20 opportunities against a median of 32: -37.5 %; stake 48,000
        diag(
            "R1",
            "prospecting",
            stake=48000.0,
            strength="tentative",
            cause="qualification",
            evidence=all_factors(prospecting=ev("prospecting", "opportunities", 20.0, -37.5)),
            flags=["padded_activity"],
        ),
        # R2: velocity, clear; 70 days against 40: +75 % slower; stake 120,000 -> first
        diag(
            "R2",
            "velocity",
            stake=120000.0,
            strength="clear",
            evidence=all_factors(velocity=ev("velocity", "cycle_days_median", 70.0, 75.0)),
        ),
        # R3: no focus, every factor judged -> a strong rep
        diag("R3"),
        # R4: no focus, conversion could not be judged -> too little data
        diag(
            "R4",
            evidence=all_factors(conversion=ev("conversion", "win_rate", None, None, judged=False)),
            not_judged=[{"factor": "conversion", "reason": "2 closed deals, fewer than 10", "code": "thin_sample"}],
        ),
        # R5: conversion with no stake (None): after every rep with a stake
        diag("R5", "conversion", evidence=all_factors(conversion=ev("conversion", "win_rate", 0.15, -50.0))),
    ]
    return manager_queue(diagnoses, METRICS, **kwargs)


def test_rows_sorted_by_stake_none_last():
    q = queue()
    assert list(q.columns) == QUEUE_COLUMNS
    # stakes 120,000 (R2), 48,000 (R1); then no stake: focus R5, too little data R4, no gap R3
    assert list(q["rep_id"]) == ["R2", "R1", "R5", "R4", "R3"]
    assert list(q["label"]) == ["Ben (R2)", "Ann (R1)", "Eve (R5)", "Dee (R4)", "Cy (R3)"]


def test_focus_cause_gap_and_strength_words():
    q = queue().set_index("rep_id")
    assert q.at["R1", "focus_text"] == "Prospecting (tentative)"
    assert q.at["R1", "cause"] == "qualification"
    assert q.at["R1", "gap_text"] == "38% below"  # -37.5 % rounds to 38 %
    assert q.at["R2", "focus_text"] == "Velocity"
    assert q.at["R2", "gap_text"] == "75% slower"
    assert q.at["R5", "gap_text"] == "50% below"
    assert q.at["R2", "attainment"] == 0.91


def test_no_focus_separates_a_strong_rep_from_too_little_data():
    q = queue().set_index("rep_id")
    assert (q.at["R3", "status"], q.at["R3", "focus_text"]) == ("no_gap", "no gap")
    assert (q.at["R4", "status"], q.at["R4", "focus_text"]) == ("too_little_data", "too little data")


def test_without_the_new_keys_an_unjudged_factor_is_too_little_data():
    """A diagnosis from before issue #14 (no judged/not_judged): a factor with no gap or few deals was not judged."""
    thin = {
        "rep_id": "R1",
        "focus": None,
        "evidence": all_factors(conversion={**ev("conversion", "win_rate", 0.5, None), "judged": None}),
    }
    for e in thin["evidence"]:
        e.pop("judged")
    small = {
        "rep_id": "R2",
        "focus": None,
        "evidence": all_factors(velocity={**ev("velocity", "cycle_days_median", 40.0, 0.0), "small_sample": True}),
    }
    for e in small["evidence"]:
        e.pop("judged", None)
    strong = {"rep_id": "R3", "focus": None, "evidence": [dict(e) for e in all_factors()]}
    for e in strong["evidence"]:
        e.pop("judged")
    q = manager_queue([thin, small, strong], METRICS).set_index("rep_id")
    assert list(q["status"]) == ["too_little_data", "too_little_data", "no_gap"]


def test_flags_from_quality_the_diagnosis_and_forecast_bias():
    flags = pd.DataFrame(
        {
            "flag": ["stale_pipeline", "small_sample", "pushed_close_dates", "stale_pipeline"],
            "rep_id": ["R1", "R4", "R1", None],
        }
    )
    q = queue(flags=flags, bias={"R2": "over-forecast 2 of 2, +50%"}).set_index("rep_id")
    assert q.at["R1", "flags"] == ["stalled deals", "padding"]
    assert q.at["R1", "flags_text"] == "stalled deals, padding"
    assert q.at["R4", "flags_text"] == "small sample"
    assert q.at["R2", "flags_text"] == "over-forecast 2 of 2, +50%"
    assert q.at["R3", "flags_text"] == ""


def test_improved_since_last_period():
    # R1 last quarter: prospecting at 16 opportunities; now 20: +25 % -> improved
    # R5 last quarter: conversion at 16 %; now 15 %: -6.25 % -> not improved
    previous = [
        diag("R1", "prospecting", evidence=all_factors(prospecting=ev("prospecting", "opportunities", 16.0, -50.0))),
        diag("R5", "conversion", evidence=all_factors(conversion=ev("conversion", "win_rate", 0.16, -47.0))),
    ]
    q = queue(previous=previous).set_index("rep_id")
    assert q.at["R1", "improved"] is True or q.at["R1", "improved"] == True  # noqa: E712 - numpy bool
    assert q.at["R1", "since_text"] == "yes (prospecting +25%)"
    assert q.at["R5", "since_text"] == "no (conversion -6%)"
    assert q.at["R2", "since_text"] == ""
    assert q.at["R2", "improved"] is None


def test_team_findings_once_each_largest_gap_first():
    small = {
        "factor": "deal_size",
        "team_median": 8000.0,
        "all_median": 12000.0,
        "gap_pct": -33.3,
        "text": "Team A's deals are a third smaller.",
    }
    slow = {
        "factor": "velocity",
        "team_median": 60.0,
        "all_median": 40.0,
        "gap_pct": 50.0,
        "text": "Team A's cycle is half again as long.",
    }
    diagnoses = [diag("R1", finding=small), diag("R2", finding=dict(small)), diag("R3", finding=slow), diag("R4")]
    assert [f["factor"] for f in team_findings(diagnoses)] == ["velocity", "deal_size"]


def test_queue_rows_are_json_ready():
    import json

    rows = queue_rows(queue())
    text = json.dumps(rows, allow_nan=False)
    assert json.loads(text)[0]["rep_id"] == "R2"
    assert rows[4]["focus"] is None and rows[4]["gap_pct"] is None


def test_queue_table_escapes_and_shows_money():
    diagnoses = [
        diag(
            "R1", "prospecting", stake=48000.0, evidence=all_factors(prospecting=ev("prospecting", "opportunities", 20.0, -37.5))
        )
    ]
    q = manager_queue(diagnoses, labels={"R1": "<b>Ann</b> (R1)"})
    markup = queue_table(q).data
    assert "&lt;b&gt;Ann&lt;/b&gt; (R1)" in markup and "<b>Ann" not in markup
    assert "48,000" in markup and "38% below" in markup


def test_forecast_bias_seen_in_two_of_two_quarters(tmp_path):
    """A rep who over-forecast by 50 % in both quarters: not "none"."""
    import salesnb

    (tmp_path / "reps.csv").write_text("rep_id,name,territory\nR1,Ann,N\nR2,Ben,N\n", encoding="utf-8")
    (tmp_path / "opportunities.csv").write_text(
        "opportunity_id,rep_id,created_date,closed_date,status,amount\n"
        "O1,R1,2025-01-05,2025-02-01,won,10000\nO2,R1,2025-04-05,2025-05-01,won,10000\n"
        "O3,R2,2025-01-05,2025-02-01,won,10000\nO4,R2,2025-04-05,2025-05-01,won,10000\n",
        encoding="utf-8",
    )
    # R1: 15,000 against 10,000 won in each quarter: +50 %, +50 %; R2: 10,500: +5 % (under the 10 % margin)
    (tmp_path / "forecasts.csv").write_text(
        "rep_id,period,forecast_amount\nR1,2025-Q1,15000\nR1,2025-Q2,15000\nR2,2025-Q1,10500\nR2,2025-Q2,10500\n",
        encoding="utf-8",
    )
    ds = salesnb.load(tmp_path)
    assert rep_forecast_bias(ds, period="2025-Q2") == {"R1": "over-forecast 2 of 2, +50%"}
    # only Q1 reaches back from 2025-Q1
    assert rep_forecast_bias(ds, period="2025-Q1") == {"R1": "over-forecast 1 of 1, +50%"}
