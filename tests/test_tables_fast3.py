"""The batch-wide tables, third round (issue #16): a ``--rep`` batch on a big source
measures its rep's scorecard only, and a rep page finds its peers in one pass.

Each faster way is checked against the way it replaced, on the bundled sample made
tricky: R04 has no activities, R05 no deals at all, R06 is alone in team "Solo",
R07's team is written " alpha " (the same team as "Alpha", folded), R08 has no team.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from salesnb.analysis.periods import parse_period
from salesnb.analysis.scorecard import scorecard
from salesnb.io.loading import load
from salesnb.present import rep_page, rep_page_tables
from salesnb.present.tables import batch_table, rep_diagnoses, scorecard_of
from salesnb.run import memo

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
PERIOD, AS_OF = "2025", "2026-01-05"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tricky")
    shutil.copytree(SAMPLE, folder, dirs_exist_ok=True)
    reps = pd.read_csv(folder / "reps.csv", dtype=str)
    reps.loc[reps["rep_id"] == "R06", "team"] = "Solo"
    reps.loc[reps["rep_id"] == "R07", "team"] = " alpha "
    reps.loc[reps["rep_id"] == "R08", "team"] = None
    reps.to_csv(folder / "reps.csv", index=False)
    acts = pd.read_csv(folder / "activities.csv", dtype=str)
    acts[acts["rep_id"] != "R04"].to_csv(folder / "activities.csv", index=False)
    opps = pd.read_csv(folder / "opportunities.csv", dtype=str)
    gone = set(opps.loc[opps["rep_id"] == "R05", "opportunity_id"])
    opps[opps["rep_id"] != "R05"].to_csv(folder / "opportunities.csv", index=False)
    for name in ("opportunity_history.csv", "activities.csv"):
        table = pd.read_csv(folder / name, dtype=str)
        table[~table["opportunity_id"].isin(gone)].to_csv(folder / name, index=False)
    return folder


def _old_card(ds, rep_id, span):
    """The way before: every rep's scorecard, then this rep's rows."""
    everybody = scorecard(ds, period=span, as_of=AS_OF)
    return everybody[(everybody["rep_id"] == rep_id).to_numpy()].reset_index(drop=True)


def test_one_reps_scorecard_is_its_rows_of_everyones(source):
    ds = load(source)
    span = parse_period(PERIOD, as_of=AS_OF)
    for rep_id in ("R01", "R04", "R05", "R06", "R07", "R08", "R12"):
        old = _old_card(ds, rep_id, span)
        new = scorecard_of(ds, rep_id, period=span, as_of=AS_OF)
        pd.testing.assert_frame_equal(new, old, check_exact=True)
        assert new.attrs == old.attrs
    # by hand: R04 logged no activity, so its visits and travel share cannot be judged
    r04 = scorecard_of(ds, "R04", period=span, as_of=AS_OF).set_index("expectation")
    assert r04.at["max_travel_share", "note"] == "0 visits of 0 activities"
    assert pd.isna(r04.at["max_travel_share", "met"])
    assert r04.at["visits_per_customer_primary", "note"].startswith("0 visits to 0 primary customers")


def test_a_rep_scorecard_measures_only_that_reps_rows(source, monkeypatch):
    from salesnb.analysis import scorecard as module

    seen = []
    original = module._visits

    def spy(ds, period, *args):
        frame = original(ds, period, *args)
        seen.append(sorted(map(str, frame.index)))
        return frame

    monkeypatch.setattr(module, "_visits", spy)
    ds = load(source)
    scorecard(ds, period=PERIOD, as_of=AS_OF, rep="R03")
    assert seen == [["R03"]]  # not the twelve reps' visits, grouped and thrown away


def test_a_rep_batch_warms_its_reps_scorecard_not_everyones(source):
    ds = load(source)
    ds.snapshot = True
    span = parse_period(PERIOD, as_of=AS_OF)
    memo.clear()
    try:
        with memo.installed():
            rep_page.warm_tables(ds, period=PERIOD, as_of=AS_OF, rep_id="R03")
            assert memo.peek(scorecard, ds, period=span, as_of=AS_OF) is None
            assert memo.peek(scorecard, ds, period=span, as_of=AS_OF, rep="R03") is not None
            report = rep_page.rep_report(ds, "R03", period=PERIOD, as_of=AS_OF)
        memo.clear()
        old = _old_card(ds, "R03", span).drop(columns="rep_id")
        pd.testing.assert_frame_equal(report.scorecard, old, check_exact=True)
        assert report.notes["scorecard"] == list(old.attrs.get("notes", []))
        # a batch of every rep (every rep's diagnoses in the memo): every rep's scorecard, once
        with memo.installed():
            batch_table(rep_diagnoses, ds, period=span, as_of=AS_OF)
            rep_page.warm_tables(ds, period=PERIOD, as_of=AS_OF, rep_id="R03")
            assert memo.peek(scorecard, ds, period=span, as_of=AS_OF) is not None
            assert memo.peek(scorecard, ds, period=span, as_of=AS_OF, rep="R03") is None
    finally:
        memo.clear()


def _old_peer_ids(reps, rep_id, group):
    from salesnb.present.page_text import fold

    others = reps.index[reps.index != rep_id]
    if group == "team":
        team = fold(reps.at[rep_id, "team"])
        others = [r for r in others if fold(reps.at[r, "team"]) == team]
    return [str(r) for r in others]


def test_peers_are_found_in_one_pass(source, monkeypatch):
    ds = load(source)
    reps = ds.reps.drop_duplicates("rep_id").set_index("rep_id")
    expected = {rep_id: (_old_peer_ids(reps, rep_id, "team"), _old_peer_ids(reps, rep_id, "all")) for rep_id in reps.index}
    assert expected["R07"][0] == ["R01", "R03", "R05", "R09", "R11"]  # " alpha " is Alpha
    assert expected["R06"][0] == [] and expected["R08"][0] == []  # alone in Solo; no team
    roster = rep_page_tables.rep_roster(ds)  # the teams folded once for the batch (a batch table)
    folds = []
    monkeypatch.setattr(rep_page_tables, "fold", lambda value: folds.append(value) or value)  # only the roster folds, once
    for rep_id, (team, everyone) in expected.items():
        position = roster["ids"].tolist().index(rep_id)
        assert rep_page._peer_ids(roster, position, "team") == team
        assert rep_page._peer_ids(roster, position, "all") == everyone
    assert folds == []  # a page folds no team: not one per rep (10,000 took a second)
