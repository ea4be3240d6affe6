"""Coaching focus: hand-made metrics rows with answers a person can check.

The baseline rep opened 20 opportunities, closed 20 (10 won, 10 lost: win
rate 50 %), averaged 10,000 per won deal and took a median 40 days; every
test changes one or two figures of one rep and states the expected gap.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from salesnb.analysis.diagnosis import FOCUS_VOCABULARY, SHORTFALL_MIN, diagnose_table, peer_counts
from salesnb.errors import InputError

BASE = dict(
    territory="North",
    opportunities=20,
    won=10,
    lost=10,
    closed=20,
    win_rate=0.5,
    avg_deal_size=10_000.0,
    cycle_days_median=40.0,
    small_sample=False,
)
NAMES = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ines", "Jonas", "Kofi", "Lena"]


def team(n=6, team_name="North", start=1, **changes):
    """``n`` baseline reps R1..Rn; ``changes`` maps a rep_id to its overrides."""
    rows = []
    for i in range(start, start + n):
        rep_id = f"R{i}"
        row = dict(BASE, rep_id=rep_id, name=NAMES[i - 1], team=team_name)
        row.update(changes.get(rep_id, {}))
        rows.append(row)
    return pd.DataFrame(rows)


def result_for(results, rep_id):
    return next(r for r in results if r["rep_id"] == rep_id)


def evidence(result, factor):
    return next(e for e in result["evidence"] if e["factor"] == factor)


def test_half_the_opportunities_is_a_prospecting_focus():
    # R1 opened 10 opportunities, its 5 team-mates 20 each: 10 / 20 - 1 = -50 %,
    # log ratio ln(2) = 0.693 > ln(1.25) = 0.223; every other factor is at the median.
    results = diagnose_table(team(R1={"opportunities": 10}), period="2025-Q2")
    r1 = result_for(results, "R1")
    assert r1["focus"] == "prospecting"
    assert r1["period"] == "2025-Q2"
    first = r1["evidence"][0]
    assert first["factor"] == "prospecting" and first["metric"] == "opportunities"
    assert first["rep_value"] == 10 and first["peer_median"] == 20
    assert first["gap_pct"] == pytest.approx(-50.0)
    assert first["score"] == pytest.approx(math.log(2), abs=1e-4)
    assert [e["factor"] for e in r1["evidence"]] == ["prospecting", "conversion", "deal_size", "velocity"]
    assert r1["peer_group"] == "team" and r1["peer_count"] == 5
    assert r1["focus_strength"] == "clear"  # one team: -50 % against the team and against all reps
    # at the median is not a strength: nothing is praised for being ordinary
    assert r1["strengths"] == [] and "in line with" not in r1["summary"]
    # no new-prospect contacts in the rows (no activities table): no cause, and not a word about calls
    assert r1["cause"] is None and "call" not in r1["summary"].lower()
    assert any("nothing is said about call volume" in n for n in r1["notes"])
    # the stake: 10 missing opportunities x 50 % x 10,000 = 50,000
    assert r1["stake"] == 50_000
    assert r1["not_judged"] == [] and r1["team_finding"] is None
    assert len(r1["questions"]) >= 2
    # The five baseline reps have nothing to work on: no focus, said kindly.
    for other in results[1:]:
        assert other["focus"] is None
        assert "No part of your funnel falls meaningfully short" in other["summary"]


def test_low_win_rate_is_conversion_and_advice_is_not_about_activity():
    # R2 wins 5 of 20 closed deals (25 %) against peers' 50 %: gap -50 %.
    results = diagnose_table(team(R2={"won": 5, "lost": 15, "win_rate": 0.25}))
    r2 = result_for(results, "R2")
    assert r2["focus"] == "conversion"
    assert evidence(r2, "conversion")["gap_pct"] == pytest.approx(-50.0)
    assert evidence(r2, "conversion")["n"] == 20
    text = (r2["summary"] + " ".join(r2["questions"])).lower()
    assert "qualif" in text and "call" not in text


def test_small_wins_are_deal_size_and_slow_deals_are_velocity():
    # R3 averages 5,000 per won deal vs 10,000 (-50 %); R4 takes 80 days vs 40 (+100 %,
    # longer is worse: score ln 2).
    results = diagnose_table(team(R3={"avg_deal_size": 5_000.0}, R4={"cycle_days_median": 80.0}))
    assert result_for(results, "R3")["focus"] == "deal_size"
    assert evidence(result_for(results, "R3"), "deal_size")["gap_pct"] == pytest.approx(-50.0)
    r4 = result_for(results, "R4")
    assert r4["focus"] == "velocity"
    assert evidence(r4, "velocity")["gap_pct"] == pytest.approx(100.0)
    assert evidence(r4, "velocity")["score"] == pytest.approx(math.log(2), abs=1e-4)


def test_the_largest_shortfall_wins():
    # R1: 15 opportunities (-25 %, score ln(20/15) = 0.288) and a 25 % win rate
    # (-50 %, score ln 2 = 0.693): conversion is the bigger gap.
    results = diagnose_table(team(R1={"opportunities": 15, "won": 5, "lost": 15, "win_rate": 0.25}))
    r1 = result_for(results, "R1")
    assert r1["focus"] == "conversion"
    assert [e["factor"] for e in r1["evidence"]][:1] == ["conversion"]
    assert evidence(r1, "prospecting")["gap_pct"] == pytest.approx(-25.0)


def test_too_few_closed_deals_still_judges_prospecting():
    # R1 closed 6 deals (3 won) and opened half the opportunities. Prospecting needs no
    # closed deal: it is the focus. Conversion (6 < 10 closed), deal size and velocity
    # (3 < 5 won) are not judged, each with its reason, and no sentence is about them.
    results = diagnose_table(team(R1={"opportunities": 10, "won": 3, "lost": 3, "closed": 6}))
    r1 = result_for(results, "R1")
    assert r1["focus"] == "prospecting" and r1["focus_strength"] == "clear"
    assert r1["not_judged"] == [
        {"factor": "conversion", "code": "thin_sample", "reason": "6 closed deals in the period; 10 needed"},
        {"factor": "deal_size", "code": "thin_sample", "reason": "3 won deals in the period; 5 needed"},
        {"factor": "velocity", "code": "thin_sample", "reason": "3 won deals in the period; 5 needed"},
    ]
    assert r1["strengths"] == []
    assert evidence(r1, "conversion")["small_sample"] is True and evidence(r1, "conversion")["judged"] is False
    for word in ("win rate", "won ", "deal size", "cycle", "faster", "slower"):
        assert word not in r1["summary"].lower(), word
    assert "Not judged: conversion (6 closed deals in the period; 10 needed)." in r1["notes"]
    # stake at the peers' medians for what R1's own data cannot tell: 10 x 50 % x 10,000
    assert r1["stake"] == 50_000


def test_nothing_judged_says_why_and_never_within_the_usual_range():
    # R1 closed 6 deals and is at the opportunities median: prospecting is judged (no gap),
    # the other three are not. The summary must not say they are "within the usual range".
    r1 = result_for(diagnose_table(team(R1={"won": 3, "lost": 3, "closed": 6})), "R1")
    assert r1["focus"] is None
    assert "within the usual range" not in r1["summary"]
    assert "Of what could be judged (new opportunities), nothing falls meaningfully short" in r1["summary"]
    assert "win rate, deal size and cycle length could not be judged" in r1["summary"]


def test_gap_inside_the_peers_usual_range_is_not_a_focus():
    # Peers opened 12, 14, 20, 26, 28 (median 20, 25th percentile 14). R1 opened 15:
    # -25 % is past the 20 % threshold but inside the peers' middle half, so no focus.
    changes = {f"R{i}": {"opportunities": v} for i, v in zip(range(2, 7), [12, 14, 20, 26, 28])}
    results = diagnose_table(team(R1={"opportunities": 15}, **changes))
    r1 = result_for(results, "R1")
    assert evidence(r1, "prospecting")["peer_band"] == [14.0, 26.0]
    assert evidence(r1, "prospecting")["gap_pct"] == pytest.approx(-25.0)
    assert r1["focus"] is None


def test_small_gap_is_not_a_focus():
    # 17 vs 20 opportunities: -15 %, log ratio 0.163 < ln(1.25) = 0.223.
    results = diagnose_table(team(R1={"opportunities": 17}))
    assert -math.log(17 / 20) < SHORTFALL_MIN
    assert result_for(results, "R1")["focus"] is None


def test_rep_is_left_out_of_its_own_benchmark():
    # Opportunities 10, 20, 20, 30, 30: R1's peers are 20, 20, 30, 30 (median 25),
    # so the gap is 10 / 25 - 1 = -60 %, not -50 % (median 20 with R1 included).
    values = [10, 20, 20, 30, 30]
    frame = team(5, **{f"R{i}": {"opportunities": v} for i, v in zip(range(1, 6), values)})
    r1 = result_for(diagnose_table(frame), "R1")
    assert evidence(r1, "prospecting")["peer_median"] == 25
    assert evidence(r1, "prospecting")["gap_pct"] == pytest.approx(-60.0)


def test_small_team_is_benchmarked_against_all_reps():
    # Team South has 3 reps (< 5), North 4: South's R5 is compared with the other 6 reps.
    frame = pd.concat([team(4, "North"), team(3, "South", start=5, R5={"cycle_days_median": 100.0})], ignore_index=True)
    r5 = result_for(diagnose_table(frame), "R5")
    assert r5["peer_group"] == "all" and r5["peer_count"] == 6
    assert r5["focus"] == "velocity"
    assert "median across all reps" in r5["summary"]
    # With peers="all" even a big team is compared with everyone.
    big = pd.concat([team(6, "North"), team(2, "South", start=7)], ignore_index=True)
    assert result_for(diagnose_table(big, peers="all"), "R1")["peer_count"] == 7


def test_reps_without_data_are_not_peers_and_no_team_means_all_reps():
    # R7-R9 opened and closed nothing (say, they left): they must not drag the
    # opportunities median of 20 down to 10 = median(0, 0, 0, 10, 20, 20, 20, 20).
    idle = {
        "opportunities": 0,
        "won": 0,
        "lost": 0,
        "closed": 0,
        "win_rate": math.nan,
        "avg_deal_size": math.nan,
        "cycle_days_median": math.nan,
        "small_sample": True,
    }
    frame = team(9, R1={"opportunities": 10}, R7=idle, R8=idle, R9=idle).assign(team=math.nan)
    results = diagnose_table(frame)
    r1 = result_for(results, "R1")
    assert r1["peer_group"] == "all" and r1["peer_count"] == 5
    assert evidence(r1, "prospecting")["peer_median"] == 20 and r1["focus"] == "prospecting"
    assert result_for(results, "R7")["focus"] is None
    assert "nothing to judge" in result_for(results, "R7")["summary"]


def test_fewer_than_three_peers_names_no_focus():
    # Three reps: R1 has only 2 peers, too few to benchmark even a -50 % gap.
    r1 = result_for(diagnose_table(team(3, R1={"opportunities": 10})), "R1")
    assert r1["peer_count"] == 2 and r1["focus"] is None
    assert {n["code"] for n in r1["not_judged"]} == {"thin_peers"} and len(r1["not_judged"]) == 4
    assert "too little data in this period to judge any part of your funnel" in r1["summary"]
    assert "only 2 other reps with data to compare with; 3 needed" in r1["summary"]
    # A "median" of two peers would give away their figures: none is shown.
    assert all(e["peer_median"] is None and e["peer_band"] is None for e in r1["evidence"])
    assert r1["strengths"] == []


def test_peers_with_small_samples_do_not_set_rate_benchmarks():
    # R2 and R3 closed 4 deals each at a 100 % win rate (small samples): they are
    # left out of the win-rate benchmark, so R1's 50 % is compared with 50 %, not 75 %.
    small = {"won": 4, "lost": 0, "closed": 4, "win_rate": 1.0, "small_sample": True}
    r1 = result_for(diagnose_table(team(R2=small, R3=small)), "R1")
    assert evidence(r1, "conversion")["peer_median"] == 0.5
    assert evidence(r1, "prospecting")["peer_median"] == 20  # counts still use every peer
    assert r1["focus"] is None


def test_strengths_come_first_and_name_no_other_rep():
    # R1 wins 60 % (peers 50 %) and opened 10 opportunities (-50 %).
    results = diagnose_table(team(R1={"opportunities": 10, "won": 12, "lost": 8, "win_rate": 0.6}))
    r1 = result_for(results, "R1")
    assert r1["strengths"][0] == "Wins 60% of closed deals, above the team median of 50%"
    assert r1["summary"].index("60%") < r1["summary"].index("10 new opportunities")
    text = json.dumps(r1)
    assert "Alice" in r1["summary"]  # the rep's own name
    for other in NAMES[1:6] + [f'"R{i}"' for i in range(2, 7)]:
        assert other not in text


def test_missing_values_are_json_ready_and_vocabulary_is_fixed():
    # R6 closed no deals at all: NaN win rate, deal size and cycle become null.
    frame = team(
        R6={
            "won": 0,
            "lost": 0,
            "closed": 0,
            "win_rate": math.nan,
            "avg_deal_size": math.nan,
            "cycle_days_median": math.nan,
            "small_sample": True,
        }
    )
    results = diagnose_table(frame)
    json.dumps(results, allow_nan=False)
    r6 = result_for(results, "R6")
    assert evidence(r6, "conversion")["rep_value"] is None and r6["focus"] is None
    assert all(r["focus"] in FOCUS_VOCABULARY + (None,) for r in results)


def test_bad_input_says_what_to_pass():
    with pytest.raises(InputError, match="metrics_table"):
        diagnose_table(pd.DataFrame({"rep_id": ["R1"]}))
    with pytest.raises(InputError, match="team"):
        diagnose_table(team(), peers="region")


# -- the generated sample: every planted weakness is found ----------------------


@pytest.fixture(scope="module")
def sample_ds(tmp_path_factory):
    from salesnb.io.loading import load
    from salesnb.io.sample import generate

    folder = tmp_path_factory.mktemp("sample")
    generate(folder)  # defaults: 12 reps, 24 months to 2025-12-31, seed 7
    return load(folder)


def test_planted_weaknesses_are_the_diagnosed_focus(sample_ds):
    from salesnb.analysis.diagnosis import diagnose
    from salesnb.io.sample import FOCUS, PLANTED

    results = {r["rep_id"]: r for r in diagnose(sample_ds, period="2025")}
    assert set(results) == set(PLANTED)
    for rep, focus in FOCUS.items():
        assert results[rep]["focus"] == focus, (rep, results[rep]["evidence"])
        assert results[rep]["evidence"][0]["factor"] == focus
    star = next(rep for rep, profile in PLANTED.items() if profile == "star")
    assert results[star]["focus"] is None and len(results[star]["strengths"]) == 4
    json.dumps(list(results.values()), allow_nan=False)


def test_diagnose_one_rep_and_unknown_rep(sample_ds):
    from salesnb.analysis.diagnosis import diagnose

    only = diagnose(sample_ds, period="2025", rep="R03")
    assert [r["rep_id"] for r in only] == ["R03"] and only[0]["focus"] == "conversion"
    with pytest.raises(InputError, match="no rep 'R99'.*R01, R02"):
        diagnose(sample_ds, period="2025", rep="R99")


# -- new hires: opportunities compared as a pace --------------------------------


def test_active_share_counts_employed_days_of_the_period():
    from salesnb.analysis.diagnosis import active_share
    from salesnb.analysis.periods import parse_period

    reps = pd.DataFrame(
        {"rep_id": ["A", "B", "C", "D"], "hire_date": pd.to_datetime(["2025-07-01", "2019-03-01", "2026-02-01", None])}
    )
    share = active_share(reps, parse_period("2025"))
    # 2025-07-01..2025-12-31 is 184 of 365 days; hired before: whole period;
    # hired after it: none of it; unknown hire date: assumed employed throughout.
    assert share["A"] == pytest.approx(184 / 365)
    assert share["B"] == 1.0 and share["C"] == 0.0 and share["D"] == 1.0
    assert active_share(reps.drop(columns="hire_date"), parse_period("2025")).empty


def test_new_hire_with_half_the_opportunities_in_half_the_period_is_on_pace():
    # R1 opened 10 opportunities, the team 20 each; without the hire date that is
    # a -50 % prospecting focus (the first test). Employed half the period, the
    # pace is 10 / 0.5 = 20: exactly the team median, so there is no focus.
    frame = team(R1={"opportunities": 10})
    frame["active_share"] = [0.5, 1, 1, 1, 1, 1]
    r1 = result_for(diagnose_table(frame, period="2025"), "R1")
    assert r1["focus"] is None
    e = evidence(r1, "prospecting")
    assert e["rep_value"] == 20 and e["raw_value"] == 10 and e["active_share"] == 0.5
    assert e["gap_pct"] == 0.0
    assert any("Employed for 50% of the period" in note for note in r1["notes"])
    assert "10 opened, 20 at that pace" in " ".join(r1["notes"])
    # Team-mates employed all period carry no pro-rating fields.
    assert "raw_value" not in evidence(result_for(diagnose_table(frame), "R2"), "prospecting")


def test_new_hire_below_pace_still_gets_prospecting_focus():
    # 3 opportunities in a quarter of the period: a pace of 3 / 0.25 = 12 against the
    # team's 20 is -40 % (log ratio 0.511 > 0.223): prospecting, and the text names both figures.
    frame = team(R1={"opportunities": 3})
    frame["active_share"] = [0.25, 1, 1, 1, 1, 1]
    r1 = result_for(diagnose_table(frame, period="2025"), "R1")
    assert r1["focus"] == "prospecting"
    e = evidence(r1, "prospecting")
    assert e["rep_value"] == 12 and e["raw_value"] == 3
    assert e["gap_pct"] == pytest.approx(-40.0)
    assert "You opened 3 new opportunities in 2025 in 25% of it, a pace of 12 for the whole period, 40% fewer" in r1["summary"]


def test_planted_new_hire_is_not_told_to_prospect_for_months_before_hiring():
    # R12 (planted new hire, data/sample) joined mid-2025 with a planted win rate of 50 %.
    from pathlib import Path

    import salesnb
    from salesnb.analysis.diagnosis import diagnose

    ds = salesnb.load(Path(__file__).resolve().parent.parent / "data" / "sample")
    r12 = diagnose(ds, period="2025", rep="R12")[0]
    e = evidence(r12, "prospecting")
    assert 0.4 < e["active_share"] < 0.6
    assert e["rep_value"] == pytest.approx(e["raw_value"] / e["active_share"], rel=1e-3)
    assert r12["focus"] != "prospecting"


def test_peer_counts_are_the_peers_each_median_rests_on():
    # R1's five team-mates: R2 has a small sample (left out of the closed-deal
    # factors), R3 was hired after the period (active_share 0: no pace, so no
    # prospecting peer, though its count of opportunities is known).
    table = team(R2={"small_sample": True, "closed": 4, "won": 2, "lost": 2}).assign(active_share=1.0)
    table.loc[table["rep_id"] == "R3", "active_share"] = 0.0
    counts = peer_counts(table, "R1")
    assert counts == {"prospecting": 4, "conversion": 4, "deal_size": 4, "velocity": 4}
    assert peer_counts(team(), "R1") == dict.fromkeys(FOCUS_VOCABULARY, 5)
    with pytest.raises(InputError, match="no rep 'R9'"):
        peer_counts(team(), "R9")
