"""Deal history (issue 18): loading opportunity_history, pushes, stage stays, the pipeline by stage.

One small hand-worked source (:data:`HISTORY`), its rows deliberately out of
order. Two reps: R1 (team Alpha) and R2 (team Beta).

O1 (R1, won 2025-03-01)   Qualification 01-01 -> Proposal 01-11 -> (close date pushed 01-31, +14)
                          -> Negotiation 02-20 (pushed +14) -> Closed Won 03-01 (the close: no stay)
O2 (R1, open)             Qualification 01-10 and Proposal 01-10 (two changes on one day: a 0-day stay)
                          -> Negotiation 02-10 (pushed +30), still there
O3 (R2, re-opened, open)  Qualification 02-01 -> Closed Lost 03-01 (close date blank: kept)
                          -> Proposal 03-11 (pushed +31) -> Proposal 03-21 (pulled in, no push, no entry)
                          -> Negotiation 04-10 (pushed +61), still there
O4 (R2, lost 2025-02-05)  Qualification 01-05 -> Closed Lost 02-05 (the close)

Stays (days): O1 Qualification 10, Proposal 40, Negotiation 9; O2 Qualification 0,
Proposal 31, Negotiation open; O3 Qualification 28, Closed Lost 10, Proposal 30
(ends 04-10, after Q1), Negotiation open; O4 Qualification 31.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from salesnb.analysis.history import close_date_pushes, pipeline_stages, stage_order, stage_stays
from salesnb.analysis.metrics import metrics_table
from salesnb.analysis.periods import parse_period
from salesnb.cli import cli
from salesnb.errors import InputError
from salesnb.io.dataset import from_frames
from salesnb.io.loading import load
from tests.sources import write_source

REPS = "rep_id,name,territory,team\nR1,Ann,North,Alpha\nR2,Bob,South,Beta\n"
OPPORTUNITIES = (
    "opportunity_id,rep_id,created_date,closed_date,status,amount\n"
    "O1,R1,2025-01-01,2025-03-01,won,100\n"
    "O2,R1,2025-01-10,,open,200\n"
    "O3,R2,2025-02-01,,open,300\n"
    "O4,R2,2025-01-05,2025-02-05,lost,400\n"
)
HISTORY = (
    "opportunity_id,changed_at,stage,expected_close_date,amount\n"
    "O3,2025-04-10,Negotiation,2025-05-31,\n"
    "O1,2025-01-11,Proposal,2025-02-01,\n"
    "O1,2025-01-01,Qualification,2025-02-01,\n"
    "O2,2025-01-10,Qualification,2025-03-31,\n"
    "O2,2025-01-10,Proposal,2025-03-31,\n"
    "O1,2025-01-31,Proposal,2025-02-15,\n"
    "O1,2025-02-20,Negotiation,2025-03-01,\n"
    "O1,2025-03-01,Closed Won,2025-03-01,100\n"
    "O2,2025-02-10,Negotiation,2025-04-30,\n"
    "O3,2025-02-01,Qualification,2025-03-15,\n"
    "O3,2025-03-01,Closed Lost,,\n"
    "O3,2025-03-11,Proposal,2025-04-15,\n"
    "O3,2025-03-21,Proposal,2025-03-31,\n"
    "O4,2025-01-05,Qualification,2025-02-28,\n"
    "O4,2025-02-05,Closed Lost,,\n"
)


@pytest.fixture
def source(tmp_path):
    return write_source(tmp_path / "src", {"reps": REPS, "opportunities": OPPORTUNITIES, "opportunity_history": HISTORY})


@pytest.fixture
def ds(source):
    return load(source)


def test_the_history_loads_as_a_contract_table(ds):
    history = ds.opportunity_history
    assert len(history) == 15 and not ds.problems
    assert history["changed_at"].dtype == "datetime64[ns]"
    assert list(history.columns) == ["opportunity_id", "changed_at", "stage", "expected_close_date", "amount"]


def test_unknown_opportunity_and_change_before_creation_are_located(tmp_path):
    bad = HISTORY + "O9,2025-02-01,Proposal,,\nO2,2024-12-31,Qualification,,\n"
    folder = write_source(tmp_path / "bad", {"reps": REPS, "opportunities": OPPORTUNITIES, "opportunity_history": bad})
    ds = load(folder)
    found = {(p.flag, p.line, p.column) for p in ds.problems}
    assert found == {("unknown_opportunity", 17, "opportunity_id"), ("changed_before_created", 18, "changed_at")}
    assert all(p.file.endswith("opportunity_history.csv") for p in ds.problems)
    early = next(p for p in ds.problems if p.flag == "changed_before_created")
    assert "2025-01-10" in early.message  # names the opportunity's created_date
    assert len(ds.opportunity_history) == 15 and ds.quarantined_rows == 2


def test_pushes_hand_worked(ds):
    pushes = close_date_pushes(ds)
    got = [(r.opportunity_id, f"{r.changed_at:%m-%d}", r.days) for r in pushes.itertuples()]
    assert got == [
        ("O1", "01-31", 14.0),
        ("O1", "02-20", 14.0),
        ("O2", "02-10", 30.0),
        ("O3", "03-11", 31.0),
        ("O3", "04-10", 61.0),
    ]


def test_stays_hand_worked(ds):
    stays = stage_stays(ds)
    got = [(r.opportunity_id, r.stage, None if np.isnan(r.days) else r.days, bool(r.closes)) for r in stays.itertuples()]
    assert got == [
        ("O1", "Qualification", 10.0, False),
        ("O1", "Proposal", 40.0, False),  # the 01-31 row only moved the close date
        ("O1", "Negotiation", 9.0, False),
        ("O1", "Closed Won", None, True),
        ("O2", "Qualification", 0.0, False),  # two changes on one day
        ("O2", "Proposal", 31.0, False),
        ("O2", "Negotiation", None, False),  # still running
        ("O3", "Qualification", 28.0, False),
        ("O3", "Closed Lost", 10.0, False),  # re-opened: not its close
        ("O3", "Proposal", 30.0, False),
        ("O3", "Negotiation", None, False),
        ("O4", "Qualification", 31.0, False),
        ("O4", "Closed Lost", None, True),
    ]
    # first-entry steps: Qualification 0, Proposal (1+1+2)/3, Negotiation (2+2+3)/3;
    # closing stages last: Closed Lost (step 1, 1 of 2 entries a close), Closed Won (step 3)
    assert stage_order(stays) == ["Qualification", "Proposal", "Negotiation", "Closed Lost", "Closed Won"]


def test_pipeline_by_rep_for_a_quarter(ds):
    table = pipeline_stages(ds, period=parse_period("2025-Q1"), by="rep")
    rows = {
        (r.rep_id, r.stage): (r.entered, None if np.isnan(r.days_median) else r.days_median, r.open_stays)
        for r in table.itertuples()
    }
    assert rows[("R1", "Qualification")] == (2, 5.0, 0)  # 10 and 0 days
    assert rows[("R1", "Proposal")] == (2, 35.5, 0)  # 40 and 31
    assert rows[("R1", "Negotiation")] == (2, 9.0, 1)  # O2's stay runs on
    assert rows[("R1", "Closed Won")] == (1, None, 0)
    assert rows[("R1", "Closed Lost")] == (0, None, 0)
    assert rows[("R2", "Qualification")] == (2, 29.5, 0)  # 28 and 31
    assert rows[("R2", "Closed Lost")] == (2, 10.0, 0)
    assert rows[("R2", "Proposal")] == (1, None, 1)  # began 03-11, ends 04-10: open at the quarter's end
    assert rows[("R2", "Negotiation")] == (0, None, 0)  # entered in Q2
    assert list(table["stage"][:5]) == ["Qualification", "Proposal", "Negotiation", "Closed Lost", "Closed Won"]


SEGMENT_OPPORTUNITIES = (
    "opportunity_id,rep_id,customer_id,created_date,closed_date,status,amount,acquisition_method\n"
    "O1,R1,C1,2025-01-01,2025-03-01,won,100,\n"
    "O2,R1,C2,2025-01-10,,open,200,\n"
    "O3,R2,C1,2025-02-01,,open,300,event\n"
    "O4,R2,,2025-01-05,2025-02-05,lost,400,\n"
)
SEGMENT_CUSTOMERS = "customer_id,customer_type,acquisition_method\nC1,Retail,referral\nC2,Wholesale,cold_call\n"


@pytest.fixture
def segment_ds(tmp_path):
    tables = {
        "reps": REPS,
        "customers": SEGMENT_CUSTOMERS,
        "opportunities": SEGMENT_OPPORTUNITIES,
        "opportunity_history": HISTORY,
    }
    return load(write_source(tmp_path / "seg", tables))


def _stage_rows(table, column):
    return {
        (getattr(r, column), r.stage): (r.entered, None if np.isnan(r.days_median) else r.days_median, r.open_stays)
        for r in table.itertuples()
    }


def test_pipeline_by_customer_type_acquisition_method_territory_and_overall(segment_ds):
    q1 = parse_period("2025-Q1")
    # customer_type: Retail = O1, O3 (C1); Wholesale = O2; O4 has no customer
    rows = _stage_rows(pipeline_stages(segment_ds, period=q1, by="customer_type"), "customer_type")
    assert rows[("Retail", "Qualification")] == (2, 19.0, 0)  # O1 10, O3 28 days
    assert rows[("Retail", "Proposal")] == (2, 40.0, 1)  # O1 40; O3's (03-11..04-10) open at the quarter's end
    assert rows[("Retail", "Negotiation")] == (1, 9.0, 0)  # O3 enters it in Q2
    assert rows[("Retail", "Closed Lost")] == (1, 10.0, 0)  # O3 re-opened
    assert rows[("Wholesale", "Proposal")] == (1, 31.0, 0) and rows[("Wholesale", "Negotiation")] == (1, None, 1)
    assert rows[("(unknown)", "Qualification")] == (1, 31.0, 0) and rows[("(unknown)", "Closed Lost")] == (1, None, 0)
    # acquisition_method: a deal's own (O3: event), else its customer's (O1 referral, O2 cold_call)
    rows = _stage_rows(pipeline_stages(segment_ds, period=q1, by="acquisition_method"), "acquisition_method")
    assert {k[0] for k in rows} == {"cold_call", "event", "referral", "(unknown)"}
    assert rows[("event", "Qualification")] == (1, 28.0, 0) and rows[("event", "Proposal")] == (1, None, 1)
    assert rows[("referral", "Proposal")] == (1, 40.0, 0) and rows[("referral", "Closed Won")] == (1, None, 0)
    # territory: the deal's rep's (R1 North, R2 South)
    rows = _stage_rows(pipeline_stages(segment_ds, period=q1, by="territory"), "territory")
    assert rows[("North", "Proposal")] == (2, 35.5, 0) and rows[("South", "Qualification")] == (2, 29.5, 0)
    # None: all deals, one row per stage, no group column
    overall = pipeline_stages(segment_ds, period=q1, by=None)
    assert list(overall.columns) == ["stage", "entered", "days_median", "open_stays"]
    got = [(r.stage, r.entered, None if np.isnan(r.days_median) else r.days_median, r.open_stays) for r in overall.itertuples()]
    assert got == [
        ("Qualification", 4, 19.0, 0),  # 0, 10, 28, 31
        ("Proposal", 3, 35.5, 1),  # 31, 40; O3's open
        ("Negotiation", 2, 9.0, 1),  # O1 9; O2's open
        ("Closed Lost", 2, 10.0, 0),  # O3's stay; O4's close has none
        ("Closed Won", 1, None, 0),
    ]
    with pytest.raises(InputError, match="by must be one of"):
        pipeline_stages(segment_ds, period=q1, by="colour")


def test_pushed_deals_in_the_metrics_table(ds):
    q1 = metrics_table(ds, by="rep", period="2025-Q1").set_index("rep_id")
    # R1: O1 won in Q1 (2 pushes), O2 open at the end (1); R2: O3 open (1 push by 03-31), O4 lost (none)
    assert q1.loc["R1", ["pushed_deals", "close_date_pushes"]].tolist() == [2, 3]
    assert q1.loc["R2", ["pushed_deals", "close_date_pushes"]].tolist() == [1, 1]
    q2 = metrics_table(ds, by="team", period="2025-Q2").set_index("team")
    # Q2: O1 closed before it (not counted); O2 still open (1); O3 open with both pushes (2)
    assert q2.loc["Alpha", ["pushed_deals", "close_date_pushes"]].tolist() == [1, 1]
    assert q2.loc["Beta", ["pushed_deals", "close_date_pushes"]].tolist() == [1, 2]


def test_pushes_are_null_without_the_history(ds):
    bare = from_frames(reps=ds.reps, opportunities=ds.opportunities)
    table = metrics_table(bare, by="rep", period="2025-Q1")
    assert table["pushed_deals"].isna().all() and table["close_date_pushes"].isna().all()
    assert any("opportunity_history" in note for note in table.attrs["notes"])


def test_pipeline_command_json_shape(source):
    result = CliRunner().invoke(cli, ["pipeline", str(source), "--period", "2025-Q1", "--by", "team", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert set(rows[0]) == {"team", "stage", "entered", "days_median", "open_stays"}
    beta = {r["stage"]: r for r in rows if r["team"] == "Beta"}
    assert beta["Qualification"] == {"team": "Beta", "stage": "Qualification", "entered": 2, "days_median": 29.5, "open_stays": 0}
    assert beta["Proposal"]["days_median"] is None and beta["Proposal"]["open_stays"] == 1


def test_pipeline_command_table_and_missing_history(source, tmp_path):
    result = CliRunner().invoke(cli, ["pipeline", str(source), "--period", "2025-Q1"])
    assert result.exit_code == 0, result.output
    assert "Negotiation" in result.stdout and "R1" in result.stdout
    bare = write_source(tmp_path / "bare", {"reps": REPS, "opportunities": OPPORTUNITIES})
    result = CliRunner().invoke(cli, ["pipeline", str(bare), "--period", "2025-Q1"])
    assert result.exit_code == 1 and "opportunity_history" in result.stderr
    result = CliRunner().invoke(cli, ["pipeline", str(source), "--period", "2025-Q1", "--by", "territory"])
    assert result.exit_code == 2


def test_unsorted_rows_give_the_same_figures(ds):
    shuffled = ds.opportunity_history.sample(frac=1.0, random_state=3)
    # rows on the same moment keep their file order: put O2's pair back in it
    same_day = shuffled["opportunity_id"].eq("O2") & shuffled["changed_at"].eq(pd.Timestamp("2025-01-10"))
    shuffled = pd.concat([shuffled[~same_day], ds.opportunity_history.iloc[[3, 4]]])
    other = from_frames(reps=ds.reps, opportunities=ds.opportunities, opportunity_history=shuffled)
    pd.testing.assert_frame_equal(stage_stays(other), stage_stays(ds))


def test_stalled_deals_say_how_often_and_how_far_they_were_pushed(ds):
    from salesnb.analysis.actions import add_actions
    from salesnb.analysis.wording import action_text

    diagnoses = [{"rep_id": "R1", "focus": "velocity", "evidence": []}, {"rep_id": "R2", "focus": "velocity", "evidence": []}]
    add_actions(ds, diagnoses, parse_period("2025-Q2"))
    # at 06-30 (no activities: idle since creation) O2 has 1 push of 30 days; O3 2 pushes, 31 + 61 days
    o2, o3 = diagnoses[0]["actions"][0], diagnoses[1]["actions"][0]
    assert (o2["opportunity_id"], o2["days"], o2["pushes"], o2["pushed_days"]) == ("O2", 171, 1, 30)
    assert (o3["opportunity_id"], o3["pushes"], o3["pushed_days"]) == ("O3", 2, 92)
    assert action_text(o3) == "O3 (300): open, no activity for 149 days; its close date was pushed twice, 92 days in all."
    assert action_text(o2).endswith("pushed once, 30 days in all.")
    bare = from_frames(reps=ds.reps, opportunities=ds.opportunities)
    add_actions(bare, diagnoses, parse_period("2025-Q2"))
    assert diagnoses[1]["actions"][0]["pushes"] is None
    assert action_text(diagnoses[1]["actions"][0]) == "O3 (300): open, no activity for 149 days."


def _bulk_source(*, bursts: int, timed: bool = True):
    """R1 owns D00..D11 (open since 2025-01-01); each burst changes all twelve 30 seconds apart
    at 17:00 on a month's last day; R2's twelve deals are changed an hour apart."""
    deals = [
        {"opportunity_id": f"D{i:02d}", "rep_id": "R1" if i < 12 else "R2", "created_date": "2025-01-01", "status": "open"}
        for i in range(24)
    ]
    rows = []
    for month, day in (("01", "31"), ("02", "28"), ("03", "31"))[:bursts]:
        for i in range(12):
            rows.append(
                {
                    "opportunity_id": f"D{i:02d}",
                    "changed_at": f"2025-{month}-{day} 17:{i // 2:02d}:{30 * (i % 2):02d}",
                    "stage": "Proposal",
                }
            )
    for i in range(12, 24):
        rows.append({"opportunity_id": f"D{i:02d}", "changed_at": f"2025-01-31 {i - 6:02d}:00:00", "stage": "Proposal"})
    history = pd.DataFrame(rows)
    if not timed:
        history["changed_at"] = pd.to_datetime(history["changed_at"]).dt.normalize()
    reps = pd.DataFrame({"rep_id": ["R1", "R2"], "name": ["Ann", "Bob"], "territory": ["North", "South"]})
    return from_frames(reps=reps, opportunities=pd.DataFrame(deals), opportunity_history=history)


def test_bulk_updates_flag_a_rep_whose_changes_come_in_bursts():
    from salesnb.analysis.quality import quality_flags

    flags = quality_flags(_bulk_source(bursts=2), period="2025-Q1")
    bulk = flags[flags["flag"] == "bulk_updates"]
    assert bulk["rep_id"].tolist() == ["R1"] and bulk["rows"].tolist() == [24]  # 2 bursts of 12 deals in 5.5 minutes
    assert "2025-01-31 17:00: 12 deals" in bulk["detail"].iloc[0] and "2025-02-28 17:00: 12 deals" in bulk["detail"].iloc[0]
    # one burst may be a one-off import; dates without times cannot show a burst
    for ds in (_bulk_source(bursts=1), _bulk_source(bursts=2, timed=False)):
        assert "bulk_updates" not in set(quality_flags(ds, period="2025-Q1")["flag"])


def test_pushed_close_dates_flag_a_deal_pushed_three_times(ds):
    from salesnb.analysis.quality import quality_flags

    extra = pd.DataFrame(
        {
            "opportunity_id": ["O2"] * 3,
            "changed_at": pd.to_datetime(["2025-05-01", "2025-05-20", "2025-06-10"]),
            "expected_close_date": pd.to_datetime(["2025-05-31", "2025-06-30", "2025-07-31"]),
        }
    )
    more = from_frames(
        reps=ds.reps, opportunities=ds.opportunities, opportunity_history=pd.concat([ds.opportunity_history, extra])
    )
    # O2 by 06-30: 03-31 -> 04-30 (30), -> 05-31 (31), -> 06-30 (30), -> 07-31 (31): 4 pushes, 122 days
    q2 = quality_flags(more, period="2025-Q2")
    pushed = q2[q2["flag"] == "pushed_close_dates"]
    assert pushed["rep_id"].tolist() == ["R1"] and pushed["rows"].tolist() == [1]
    assert "O2 4x, 122 days" in pushed["detail"].iloc[0]
    # by 03-31 O2 was pushed once, O3 once: nobody flagged; O1 (2 pushes) never reaches 3
    assert "pushed_close_dates" not in set(quality_flags(more, period="2025-Q1")["flag"])


# -- the sample's planted history (salesnb.io.sample; data/README.md) ---------------------


@pytest.fixture(scope="module")
def sample_ds():
    from tests.test_sample import SAMPLE_DIR

    return load(SAMPLE_DIR)


def test_sample_pusher_keeps_moving_close_dates(sample_ds):
    from salesnb.analysis.quality import quality_flags
    from salesnb.io.sample import PLANTED, PUSHER

    pusher = next(rep for rep, profile in PLANTED.items() if profile == PUSHER)
    table = metrics_table(sample_ds, by="rep", period="2025").set_index("rep_id")
    pushes_per_deal = table["close_date_pushes"] / table["pushed_deals"]
    others = table.drop(index=pusher)
    # R07: most of its deals pushed, ~3.5 times each; everyone else pushes a deal once, now and then
    assert table.loc[pusher, "pushed_deals"] > 3 * others["pushed_deals"].max()
    assert pushes_per_deal[pusher] > 3 and (pushes_per_deal.drop(index=pusher) == 1).all()
    flagged = quality_flags(sample_ds, period="2025")
    assert flagged.loc[flagged["flag"] == "pushed_close_dates", "rep_id"].tolist() == [pusher]


def test_sample_staller_stalls_in_negotiation(sample_ds):
    from salesnb.io.sample import BULK_UPDATER, PLANTED, STAGE_STALLER, STALLED_STAGE

    staller = next(rep for rep, profile in PLANTED.items() if profile == STAGE_STALLER)
    updater = next(rep for rep, profile in PLANTED.items() if profile == BULK_UPDATER)  # stays of ~a month: typing dates
    stages = pipeline_stages(sample_ds, period=parse_period("2025"), by="rep")
    assert list(stages["stage"][:5]) == ["Qualification", "Proposal", "Negotiation", "Closed Lost", "Closed Won"]
    stalled = stages[stages["stage"] == STALLED_STAGE].set_index("rep_id")["days_median"]
    # R05's median Negotiation stay (65.5 days) is over three times any other rep's (at most 16) but the bulk updater's
    assert stalled[staller] > 3 * stalled.drop(index=[staller, updater]).max()
    assert stalled[updater] < stalled[staller] / 2
    proposal = stages[stages["stage"] == "Proposal"].set_index("rep_id")["days_median"]
    assert proposal[staller] < 1.5 * proposal.drop(index=staller).median()


def test_sample_bulk_updater_is_the_only_one_flagged(sample_ds):
    from salesnb.analysis.quality import quality_flags
    from salesnb.io.sample import BULK_UPDATER, PLANTED

    updater = next(rep for rep, profile in PLANTED.items() if profile == BULK_UPDATER)
    flagged = quality_flags(sample_ds, period="2025")
    bulk = flagged[flagged["flag"] == "bulk_updates"]
    assert bulk["rep_id"].tolist() == [updater]
    assert "2025-01-31 17:00" in bulk["detail"].iloc[0]


def test_the_data_quality_page_advises_on_the_history_flags():
    from salesnb.present.analysis_pages import quality_report

    flags = quality_report(_bulk_source(bursts=2), period="2025-Q1").flags
    advice = flags.loc[flags["flag"] == "bulk_updates", "advice"].tolist()
    assert len(advice) == 1 and "dates of typing, not of the work" in advice[0]


def _stage_source(negotiation_days: dict, lost_in_proposal: dict | None = None):
    """Five deals per rep, won: Qualification 10 days, Proposal 10 days, Negotiation as given;
    with ``lost_in_proposal`` that many of a rep's deals are lost from Proposal instead."""
    lost_in_proposal = lost_in_proposal or {}
    deals, rows = [], []
    for rep, days in negotiation_days.items():
        for i in range(5):
            deal = f"{rep}-{i}"
            lost = i < lost_in_proposal.get(rep, 0)
            closed = pd.Timestamp("2025-01-21") if lost else pd.Timestamp("2025-01-21") + pd.Timedelta(days=days)
            deals.append(
                {
                    "opportunity_id": deal,
                    "rep_id": rep,
                    "created_date": "2025-01-01",
                    "closed_date": closed,
                    "status": "lost" if lost else "won",
                    "amount": 1.0,
                }
            )
            rows += [
                {"opportunity_id": deal, "changed_at": "2025-01-01", "stage": "Qualification"},
                {"opportunity_id": deal, "changed_at": "2025-01-11", "stage": "Proposal"},
            ]
            if not lost:
                rows.append({"opportunity_id": deal, "changed_at": "2025-01-21", "stage": "Negotiation"})
            rows.append({"opportunity_id": deal, "changed_at": closed, "stage": "Closed Lost" if lost else "Closed Won"})
    reps = pd.DataFrame({"rep_id": list(negotiation_days), "name": list(negotiation_days), "territory": "North"})
    history = pd.DataFrame(rows).assign(changed_at=lambda f: pd.to_datetime(f["changed_at"]))
    ds = from_frames(reps=reps, opportunities=pd.DataFrame(deals), opportunity_history=history)
    return ds, pd.DataFrame({"rep_id": list(negotiation_days), "team": None})


def test_the_stage_where_deals_stall_against_a_safe_peer_median():
    from salesnb.analysis.history import add_stage_findings
    from salesnb.analysis.wording import stage_text

    ds, table = _stage_source({"R1": 30, "R2": 10, "R3": 12, "R4": 14, "R5": 16})
    diagnoses = [{"rep_id": "R1", "focus": "velocity", "peer_group": "all"}, {"rep_id": "R2", "focus": "deal_size"}]
    add_stage_findings(ds, diagnoses, parse_period("2025-Q1"), table)
    found = diagnoses[0]["stage_finding"]
    # Negotiation: R1 30 days against the peers' 10, 12, 14, 16 (median 13, no one's own); Qualification
    # and Proposal (10 days each for everyone) are no finding
    assert (found["kind"], found["stage"], found["rep_value"], found["peer_median"], found["n"]) == (
        "stall",
        "Negotiation",
        30.0,
        13.0,
        5,
    )
    assert (
        stage_text(found) == "Your deals stall in Negotiation: a median stay of 30 days there, against a peer median of 13 days."
    )
    assert diagnoses[1]["stage_finding"] is None


def test_the_stage_where_deals_die():
    from salesnb.analysis.history import add_stage_findings

    ds, table = _stage_source({"R1": 10, "R2": 10, "R3": 10, "R4": 10}, lost_in_proposal={"R1": 3})
    diagnoses = [{"rep_id": "R1", "focus": "conversion", "peer_group": "all"}]
    add_stage_findings(ds, diagnoses, parse_period("2025-Q1"), table)
    found = diagnoses[0]["stage_finding"]
    # R1: 3 of its 5 Proposal stays ended with the deal lost; each peer 0 of 5 (0 %, shared by three: safe)
    assert (found["kind"], found["stage"], found["rep_value"], found["peer_median"]) == ("die", "Proposal", 0.6, 0.0)
    # without enough peers (two) there is no finding
    ds, table = _stage_source({"R1": 10, "R2": 10, "R3": 10}, lost_in_proposal={"R1": 3})
    add_stage_findings(ds, diagnoses, parse_period("2025-Q1"), table)
    assert diagnoses[0]["stage_finding"] is None


def test_the_sample_diagnosis_names_the_stallers_stage(sample_ds):
    from salesnb.analysis.diagnosis import diagnose
    from salesnb.io.sample import PLANTED, STAGE_STALLER, STALLED_STAGE

    staller = next(rep for rep, profile in PLANTED.items() if profile == STAGE_STALLER)
    result = diagnose(sample_ds, period="2025", rep=staller)[0]
    assert result["focus"] == "velocity" and result["stage_finding"]["stage"] == STALLED_STAGE
    assert f"Your deals stall in {STALLED_STAGE}" in result["summary"]


def test_rep_report_stage_chart_shows_no_colleagues_own_figure(sample_ds):
    from salesnb.analysis import privacy
    from salesnb.present import rep_charts
    from salesnb.present.rep_page import rep_report

    report = rep_report(sample_ds, "R05", period="2025", as_of="2026-01-05")
    stages = report.stages.set_index("stage")
    assert list(stages.index) == ["Qualification", "Proposal", "Negotiation"]  # closing stages are no stays
    assert round(stages.at["Negotiation", "rep_days"], 1) == 65.5 and stages.at["Negotiation", "stays"] == 24
    # every peer figure drawn is no single colleague's own median stay, as the chart shows it (whole days)
    stays = stage_stays(sample_ds)
    stays = stays[parse_period("2025").contains(stays["entered_at"]) & stays["left_at"].lt(pd.Timestamp("2026-01-01"))]
    own = stays.groupby(["stage", "rep_id"])["days"].median()
    colleagues = [r for r in ("R06", "R07", "R08", "R09", "R10", "R11", "R12", "R01", "R02", "R03", "R04") if r != "R05"]
    for stage, peer in stages["peer_days"].dropna().items():
        theirs = [own.get((stage, r)) for r in colleagues]
        assert privacy.is_safe("days", peer, [t for t in theirs if t is not None]), stage
    figure = rep_charts.stage_stays(report.stages, peer_label=report.peer_label)
    assert any(t.get_text().startswith("moved on: you 92%") for t in figure.axes[0].texts)


def test_a_row_without_a_stage_keeps_the_stage_it_was_in(ds):
    extra = pd.DataFrame(
        {
            "opportunity_id": ["O2"],
            "changed_at": [pd.Timestamp("2025-01-20")],
            "expected_close_date": [pd.Timestamp("2025-04-10")],
        }
    )
    more = from_frames(
        reps=ds.reps, opportunities=ds.opportunities, opportunity_history=pd.concat([ds.opportunity_history, extra])
    )
    o2 = stage_stays(more).query("opportunity_id == 'O2'")
    # the blank-stage row of 01-20 is no entry: Proposal still runs 01-10 -> 02-10 (31 days)
    assert o2["stage"].tolist() == ["Qualification", "Proposal", "Negotiation"] and o2["days"].tolist()[1] == 31.0
    # it pushed the close date 03-31 -> 04-10 (10 days); 02-10's 04-30 is a push of 20 from there
    pushes = close_date_pushes(more).query("opportunity_id == 'O2'")
    assert pushes["days"].tolist() == [10.0, 20.0]


def test_a_crm_stage_history_export_is_mapped(tmp_path):
    folder = write_source(
        tmp_path / "crm",
        {
            "reps": "rep_id,name,territory\nR1,Ann,North\n",
            "opportunities": "opportunity_id,rep_id,created_date,status\nO1,R1,2025-01-01,open\n",
            "stage_history.csv": 'Deal ID,Changed,Deal Stage,Close\nO1,"15 Jan, 2025 10:00:00",Proposal,03/31/2025\n'
            'O1,"01 Feb, 2025 10:00:00",Negotiation,04/30/2025\n',
            "mapping.yml": "tables:\n  opportunity_history:\n    file: stage_history.csv\n    columns: {opportunity_id: "
            '"Deal ID", changed_at: Changed, stage: "Deal Stage", expected_close_date: Close}\n',
        },
    )
    result = CliRunner().invoke(cli, ["pipeline", str(folder), "--period", "2025", "--format", "json"])
    assert result.exit_code == 0, result.output
    # Proposal 01-15 10:00 -> 02-01 10:00: 17 days; Negotiation still open
    assert [(r["stage"], r["entered"], r["days_median"], r["open_stays"]) for r in json.loads(result.stdout)] == [
        ("Proposal", 1, 17.0, 0),
        ("Negotiation", 1, None, 1),
    ]


def test_history_scale_adds_stage_moves_and_leaves_the_default_alone(tmp_path):
    from salesnb.io.sample import generate

    plain_rows = generate(tmp_path / "one", reps=3, months=4)
    more_rows = generate(tmp_path / "more", reps=3, months=4, history_scale=2.0)
    assert {k: v for k, v in more_rows.items() if k != "opportunity_history"} == {
        k: v for k, v in plain_rows.items() if k != "opportunity_history"
    }
    for name in ("opportunities", "customers", "activities"):
        assert (tmp_path / "one" / f"{name}.csv").read_bytes() == (tmp_path / "more" / f"{name}.csv").read_bytes()
    one = pd.read_csv(tmp_path / "one" / "opportunity_history.csv")
    more = pd.read_csv(tmp_path / "more" / "opportunity_history.csv")
    assert 1.7 < len(more) / len(one) < 2.3  # about one extra row per row (Poisson)
    pd.testing.assert_frame_equal(more.iloc[: len(one)], one)  # the default rows first, unchanged
    extra = more.iloc[len(one) :]
    assert extra["expected_close_date"].isna().all() and extra["stage"].isin(["Qualification", "Proposal", "Negotiation"]).all()
    assert not load(tmp_path / "more").problems  # every extra row after its deal's creation


def test_stage_findings_group_the_stays_once_for_all_the_reps(monkeypatch):
    """Every rep's stage figures are one grouping of the stays, whatever the number of reps
    diagnosed (a 10,000-rep source grouped about a million stays again for each of 737 reps)."""
    import salesnb.analysis.history as history

    grouped = []
    real = history._per_rep
    monkeypatch.setattr(history, "_per_rep", lambda stays, value, how: grouped.append(value) or real(stays, value, how))
    ds, table = _stage_source({"R1": 30, "R2": 10, "R3": 12, "R4": 14, "R5": 16}, lost_in_proposal={"R2": 3})
    diagnoses = [{"rep_id": rep, "focus": "velocity", "peer_group": "all"} for rep in ("R1", "R3", "R4")]
    diagnoses += [{"rep_id": "R2", "focus": "conversion", "peer_group": "all"}]
    history.add_stage_findings(ds, diagnoses, parse_period("2025-Q1"), table)
    assert sorted(grouped) == ["days", "lost_from"]
    # the figures are the same as before: R1 stalls in Negotiation (30 days against 13), R3 and R4 do not
    assert [d["stage_finding"] and d["stage_finding"]["stage"] for d in diagnoses[:3]] == ["Negotiation", None, None]
    assert (diagnoses[0]["stage_finding"]["rep_value"], diagnoses[0]["stage_finding"]["peer_median"]) == (30.0, 13.0)
