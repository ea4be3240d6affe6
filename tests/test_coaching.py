"""Coaching a manager can act on (issue #14): cause, each factor on its own
sample, two benchmarks, team findings, stake and the deals behind a focus.

Hand-made metrics rows first (numbers a person can check), then the planted
source of :mod:`tests.coaching_source`, loaded and diagnosed end to end.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from salesnb.analysis import diagnosis as dg
from salesnb.analysis.diagnosis import diagnose_table
from salesnb.analysis.peer_pools import quantiles
from tests.coaching_source import PERIOD, plant
from tests.test_diagnosis import evidence, result_for, team


def contacts(frame: pd.DataFrame, values: dict[str, float], default: float = 40.0) -> pd.DataFrame:
    """``frame`` with new_prospect_contacts: ``default`` each, ``values`` by rep."""
    return frame.assign(new_prospect_contacts=[values.get(r, default) for r in frame["rep_id"]])


# -- cause: activity or qualification, never "more calls" at or above the peers --


def test_many_contacts_few_opportunities_is_qualification_not_more_calls():
    # R1: 10 opportunities (peers 20) from 90 new-prospect contacts (peers 40): at or above
    # the peers' contacts, so the lever is targeting and qualifying; no call/contact advice.
    r1 = result_for(diagnose_table(contacts(team(R1={"opportunities": 10}), {"R1": 90})), "R1")
    assert r1["focus"] == "prospecting" and r1["cause"] == "qualification"
    text = r1["summary"].lower()
    assert "qualifying" in text and "more calls" not in text and "more contacts" not in text
    assert "You logged 90 new-prospect contacts, as many as your peers' median or more" in r1["summary"]
    # the peers' median of contacts (40, one colleague's figure) is not written
    assert "40" not in r1["summary"]
    facts = evidence(r1, "prospecting")["contacts"]
    assert facts["rep_value"] == 90 and facts["peer_median"] == 40 and facts["peers"] == 5


def test_exactly_the_peers_contacts_is_qualification_and_fewer_is_activity():
    at = result_for(diagnose_table(contacts(team(R1={"opportunities": 10}), {"R1": 40})), "R1")
    assert at["cause"] == "qualification"
    below = result_for(diagnose_table(contacts(team(R1={"opportunities": 10}), {"R1": 39})), "R1")
    assert below["cause"] == "activity" and "more calls and visits" in below["summary"]


def test_cause_compares_paces_for_a_new_hire():
    # Employed half the period: 5 opportunities (pace 10, -50 %) and 30 contacts (pace 60,
    # above the peers' 40): qualification, though 30 < 40 as raw counts.
    frame = contacts(team(R1={"opportunities": 5}), {"R1": 30})
    frame["active_share"] = [0.5, 1, 1, 1, 1, 1]
    r1 = result_for(diagnose_table(frame), "R1")
    assert r1["focus"] == "prospecting" and r1["cause"] == "qualification"
    assert evidence(r1, "prospecting")["contacts"]["rep_value"] == 60


def test_cause_is_only_for_prospecting():
    r2 = result_for(diagnose_table(contacts(team(R2={"won": 5, "lost": 15, "win_rate": 0.25}), {"R2": 5})), "R2")
    assert r2["focus"] == "conversion" and r2["cause"] is None


# -- two benchmarks: clear or tentative; team findings; strengths ---------------------


def two_teams(north: dict | None = None, south: dict | None = None, n_north=6, n_south=6):
    return pd.concat(
        [team(n_north, "North", **(north or {})), team(n_south, "South", start=n_north + 1, **(south or {}))],
        ignore_index=True,
    )


def test_shrunk_team_median_worked_example():
    # North: R1 plus three team-mates opening 30 each (a team of 4: shown against all reps).
    # South: six reps opening 10 each. For R1 (24 opportunities):
    #   team peers 30, 30, 30: median 30; all other reps: 30 x3, 10 x6: median 10;
    #   team benchmark = 3/(3+5) x 30 + 5/8 x 10 = 17.5 (a team of three is not one colleague).
    frame = two_teams(
        north={f"R{i}": {"opportunities": 30} for i in range(2, 5)} | {"R1": {"opportunities": 24}},
        south={f"R{i}": {"opportunities": 10} for i in range(5, 11)},
        n_north=4,
    )
    r1 = result_for(diagnose_table(frame), "R1")
    e = evidence(r1, "prospecting")
    assert e["benchmark"] == "all" and e["peer_median"] == 10 and e["peers"] == 9
    assert e["team_median"] == pytest.approx(3 / 8 * 30 + 5 / 8 * 10)
    assert e["against"] == {"team": False, "all": False}
    # R2 (30) against a team median of 30 for its peers R1, R3, R4 (24, 30, 30): not short
    r2 = result_for(diagnose_table(frame), "R2")
    assert evidence(r2, "prospecting")["team_median"] == pytest.approx(3 / 8 * 30 + 5 / 8 * 10)
    assert r1["focus"] is None and r2["focus"] is None


def test_gap_only_against_the_team_is_tentative():
    # North's six reps open 20 each; R1 opens 15: -25 % of its team's median, outside the
    # team's band [20, 20]: short against the team (the median the report shows). Against
    # all reps (South opens 12 each: all other reps' median 12) R1 is ahead: tentative.
    frame = two_teams(north={"R1": {"opportunities": 15}}, south={f"R{i}": {"opportunities": 12} for i in range(7, 13)})
    r1 = result_for(diagnose_table(frame), "R1")
    e = evidence(r1, "prospecting")
    assert e["benchmark"] == "team" and e["peer_median"] == 20 and e["team_median"] == 20
    assert e["all_median"] == 12 and e["gap_pct"] == pytest.approx(-25.0)
    assert e["against"] == {"team": True, "all": False}
    assert r1["focus"] == "prospecting" and r1["focus_strength"] == "tentative"
    assert "This is a tentative focus: it shows against your team but not against all reps" in r1["summary"]


def test_gap_only_against_all_reps_in_a_small_team_is_tentative():
    # North: a team of three (shown against all reps) opening 12 each but R1 at 8;
    # South's nine reps open 20. R1 against all other reps (12, 12, 20 x9: median 20): -60 %,
    # below their 25th percentile (14): short. Against its team: 2/7 x 12 + 5/7 x 20 = 17.7:
    # -55 %, short too (no band: two team-mates). Clear.
    north = {"R1": {"opportunities": 8}, "R2": {"opportunities": 12}, "R3": {"opportunities": 12}}
    frame = two_teams(north=north, n_north=3, n_south=9)
    r1 = result_for(diagnose_table(frame), "R1")
    e = evidence(r1, "prospecting")
    assert e["benchmark"] == "all" and e["peer_median"] == 20
    assert e["team_median"] == pytest.approx(2 / 7 * 12 + 5 / 7 * 20)
    assert r1["focus"] == "prospecting" and r1["focus_strength"] == "clear"
    # the whole team opens fewer than the others: at 12, R2 is short against all reps
    # but not behind its own team: a team finding, not R2's focus
    r2 = result_for(diagnose_table(frame), "R2")
    assert r2["focus"] is None and r2["team_finding"]["factor"] == "prospecting"


def test_focus_on_few_won_deals_is_tentative():
    # R4 takes 80 days (peers 40) on 6 won deals: judged (5 needed), short against
    # both benchmarks, but under the 10 won deals a clear call needs.
    r4 = result_for(diagnose_table(team(R4={"cycle_days_median": 80.0, "won": 6, "lost": 6, "closed": 12})), "R4")
    assert r4["focus"] == "velocity" and r4["focus_strength"] == "tentative"
    assert "rests on 6 won deals (10 for a clear call)" in r4["summary"]


def test_a_gap_the_whole_team_shares_is_a_team_finding_not_the_reps_focus():
    # North's three reps all win small deals (5,000), South's nine 10,000. R1 is at its
    # team's median: short against all reps (-50 %, below their 25th percentile of 7,500),
    # and North's own median is 50 % below the other reps': the manager's finding.
    north = {f"R{i}": {"avg_deal_size": 5_000.0} for i in range(1, 4)}
    frame = two_teams(north=north, n_north=3, n_south=9)
    results = diagnose_table(frame)
    r1 = result_for(results, "R1")
    assert r1["focus"] is None
    assert r1["team_finding"]["factor"] == "deal_size"
    assert r1["team_finding"]["team_median"] == 5_000 and r1["team_finding"]["all_median"] == 10_000
    assert r1["team_finding"]["gap_pct"] == pytest.approx(-50.0)
    assert "Your team as a whole is behind the other teams on deal size" in r1["summary"]
    # at the team's level, so "within the usual range" is said of the team, not of all reps
    assert "No part of your funnel falls meaningfully short of the rest of your team" in r1["summary"]
    assert "5,000" not in r1["team_finding"]["text"]  # said without a number
    # the manager reads the team and both medians (the queue and the index show this text)
    assert r1["team_finding"]["manager_text"].startswith(
        "Team North is behind the other teams' reps on deal size: its median 5,000 against 10,000 (-50%)."
    )
    assert result_for(results, "R4")["team_finding"] is None  # South is not touched
    # A North rep behind even its own team (2,000 vs 5,000) keeps a personal focus.
    frame.loc[frame["rep_id"] == "R2", "avg_deal_size"] = 2_000.0
    r2 = result_for(diagnose_table(frame), "R2")
    assert r2["focus"] == "deal_size" and r2["team_finding"] is None


def test_strength_only_when_clearly_ahead():
    # 21 vs 20 opportunities (+5 %) and 42 vs 40 days are not strengths; 23 (+15 %) is.
    results = diagnose_table(team(R1={"opportunities": 21, "cycle_days_median": 42.0}, R2={"opportunities": 23}))
    assert result_for(results, "R1")["strengths"] == []
    assert result_for(results, "R2")["strengths"] == ["Opened 23 new opportunities, above the team median of 20"]


def test_bands_need_five_peers():
    # Four peers (a team of five): a median but no middle half (README: bands from five peers).
    r1 = result_for(diagnose_table(team(5, R1={"opportunities": 10})), "R1")
    assert all(e["peer_band"] is None for e in r1["evidence"])
    r1 = result_for(diagnose_table(team(6, R1={"opportunities": 10})), "R1")
    assert evidence(r1, "prospecting")["peer_band"] == [20.0, 20.0]


def test_leave_one_out_quantiles_match_numpy():
    rng = np.random.default_rng(3)
    values = np.sort(rng.integers(0, 30, size=15).astype(float))
    for drop in (None, *values[[0, 3, 7, 14]]):
        rest = list(values)
        if drop is not None:
            rest.remove(drop)
        got = quantiles(values, drop)
        assert got == pytest.approx(list(np.percentile(rest, [25, 50, 75])))


# -- stake ---------------------------------------------------------------------


def test_stake_per_factor_worked_examples():
    # Conversion: 20 closed at 25 % vs 50 %: 20 x 0.25 x 10,000 = 50,000.
    r2 = result_for(diagnose_table(team(R2={"won": 5, "lost": 15, "win_rate": 0.25})), "R2")
    assert r2["stake"] == 50_000
    # Deal size: 10 won at 5,000 vs 10,000: 10 x 5,000 = 50,000.
    r3 = result_for(diagnose_table(team(R3={"avg_deal_size": 5_000.0})), "R3")
    assert r3["stake"] == 50_000
    # Velocity: 100,000 won at 80 days vs 40: 100,000 x (80/40 - 1) = 100,000, capped by the
    # open pipeline x win rate = 120,000 x 0.5 = 60,000.
    frame = team(R4={"cycle_days_median": 80.0}).assign(revenue_won=100_000.0, pipeline_open_amount=120_000.0)
    assert result_for(diagnose_table(frame), "R4")["stake"] == 60_000
    assert "would have brought in about 60,000" in result_for(diagnose_table(frame), "R4")["summary"]
    # No focus: no stake.
    assert result_for(diagnose_table(team()), "R1")["stake"] is None


def test_stake_is_said_to_two_significant_figures():
    from salesnb.analysis.wording import about

    assert about(507_241) == 510_000 and about(75_000) == 75_000 and about(1_234) == 1_200


# -- the planted source, end to end ------------------------------------------------


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from salesnb.analysis.diagnosis import diagnose
    from salesnb.io.loading import load

    ds = load(plant(tmp_path_factory.mktemp("planted")))
    return ds, {d["rep_id"]: d for d in diagnose(ds, period=PERIOD)}


def test_planted_qualifier_gets_qualification(planted):
    _, results = planted
    r2 = results["R2"]
    assert (r2["focus"], r2["focus_strength"], r2["cause"]) == ("prospecting", "clear", "qualification")
    # 8 opportunities against 20: 12 x 50 % x 10,000 (peer medians: R2's own closed deals are too few)
    assert r2["stake"] == 60_000
    assert [n["factor"] for n in r2["not_judged"]] == ["conversion", "deal_size", "velocity"]
    assert "more calls" not in r2["summary"].lower()
    (target,) = r2["actions"]
    # 12 opportunities over 13 weeks = 0.92 a week = 4.0 a month
    assert target["kind"] == "weekly_target" and target["more"] == 12 and target["per_week"] == pytest.approx(0.92)
    assert target["text"] == "4 more new opportunities a month (about 12 over the period) would reach the peer median pace."


def test_planted_quarter_of_the_opportunities_gets_a_focus_without_ten_closed_deals(planted):
    _, results = planted
    r3 = results["R3"]
    assert (r3["focus"], r3["cause"]) == ("prospecting", "activity")
    assert {n["factor"]: n["code"] for n in r3["not_judged"]} == dict.fromkeys(
        ("conversion", "deal_size", "velocity"), "thin_sample"
    )
    assert r3["stake"] == 75_000  # 15 x 0.5 x 10,000
    assert r3["actions"][0]["text"].startswith("1 more new opportunity a week (about 15 over the period)")


def test_planted_padder_hears_the_data_check_before_any_advice(planted):
    _, results = planted
    r4 = results["R4"]
    assert r4["flags"] == ["padded_activity"]
    assert r4["focus"] == "prospecting" and r4["cause"] == "activity"
    assert r4["summary"].startswith("Di, a data check first: your activity log has bursts of contacts")
    assert r4["summary"].index("data check") < r4["summary"].index("more calls")
    assert "Keep doing what works" not in r4["summary"]


def test_planted_slow_rep_sees_stalled_deals_named(planted):
    ds, results = planted
    r5 = results["R5"]
    assert r5["focus"] == "velocity" and r5["flags"] == ["stale_pipeline"]
    kinds = {a["kind"] for a in r5["actions"]}
    assert kinds == {"stalled_deal"} and len(r5["actions"]) == 5
    first = r5["actions"][0]
    # R5's oldest open deal: created 2025-03-03 (i = 54 at 91/20 days apart from 2024-07-01),
    # touched last on 2025-03-05 (its second follow-up): idle 117 days at 2025-06-30.
    opp = ds.opportunities.set_index("opportunity_id").loc[first["opportunity_id"]]
    assert opp["status"] == "open" and opp["rep_id"] == "R5"
    last = ds.activities.loc[ds.activities["opportunity_id"] == first["opportunity_id"], "date"].max()
    assert first["days"] == (pd.Timestamp("2025-06-30") - last).days
    assert [a["days"] for a in r5["actions"]] == sorted((a["days"] for a in r5["actions"]), reverse=True)
    assert all(a["days"] >= 30 for a in r5["actions"])
    assert first["opportunity_id"] in r5["questions"][0]
    assert set(first) >= {"kind", "opportunity_id", "customer_id", "amount", "days", "text"}


def test_planted_baseline_reps_have_no_focus_and_json_is_clean(planted):
    _, results = planted
    for rep in ("R1", "R7", "R8"):
        assert results[rep]["focus"] is None and results[rep]["stake"] is None
        assert results[rep]["actions"] == [] and results[rep]["not_judged"] == []
    json.dumps(list(results.values()), allow_nan=False)
    assert all(r["focus_strength"] in (None, "clear", "tentative") for r in results.values())


def test_cli_diagnose_json_has_the_contract_keys(planted, tmp_path):
    from click.testing import CliRunner

    from salesnb.cli import cli

    folder = plant(tmp_path / "src")
    result = CliRunner().invoke(cli, ["diagnose", str(folder), "--period", PERIOD, "--rep", "R5", "--format", "json"])
    assert result.exit_code == 0, result.output
    (d,) = json.loads(result.output)
    for key in (
        "rep_id",
        "period",
        "focus",
        "focus_strength",
        "cause",
        "strengths",
        "evidence",
        "not_judged",
        "stake",
        "actions",
    ):
        assert key in d
    assert d["focus"] == "velocity" and d["stake"] == pytest.approx(results_stake(planted, "R5"))
    text = CliRunner().invoke(cli, ["diagnose", str(folder), "--period", PERIOD, "--rep", "R3"]).output
    assert "focus: prospecting (clear, cause: activity)  stake: 75,000" in text
    assert "Not judged: conversion (" in text and "To work on:" in text


def results_stake(planted, rep):
    return planted[1][rep]["stake"]


def test_math_of_the_threshold_is_unchanged():
    assert dg.SHORTFALL_MIN == pytest.approx(math.log(1.25)) and dg.STRENGTH_MIN == pytest.approx(math.log(1.1))


def test_words_agree_with_their_counts():
    from salesnb.analysis.wording import strength

    assert strength({"factor": "prospecting", "rep_value": 1.0, "peer_median": 3.0, "benchmark": "team"}).startswith(
        "Opened 1 new opportunity, above"
    )
    assert "a median 1 day, faster" in strength({"factor": "velocity", "rep_value": 1.0, "peer_median": 3.0, "benchmark": "all"})
    # a focus on one opportunity against the peers' 20
    r1 = result_for(diagnose_table(team(R1={"opportunities": 1})), "R1")
    assert "You opened 1 new opportunity, 95% fewer than the team median of 20." in r1["summary"]
