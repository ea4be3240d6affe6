"""Data-quality flags on small hand-made data whose answer is known.

Q2 2025 has 64 working days (April 22, May 21 with 2025-05-30 its last
working day, June 21). Every rep logs 5 contacts linked to a customer on
each working day; what differs is the contacts linked to nothing.
"""

from __future__ import annotations

import json

import pandas as pd

from salesnb.analysis.quality import COLUMNS, padded_activity, quality_flags, quality_for_rep, stale_pipeline
from salesnb.errors import Problem
from salesnb.io.dataset import Dataset, from_frames

Q2_DAYS = pd.bdate_range("2025-04-01", "2025-06-30")
REPS = ["R1", "R2", "R3", "R4", "R5"]


def contacts(rep, days, per_day, *, linked=True, start=0):
    rows = []
    for day in days:
        for _ in range(per_day):
            rows.append(
                {
                    "activity_id": f"{rep}-{start + len(rows)}",
                    "rep_id": rep,
                    "date": day,
                    "type": "call",
                    "customer_id": f"C-{rep}" if linked else None,
                }
            )
    return rows


def q2_activities():
    rows = []
    for rep in REPS:
        rows += contacts(rep, Q2_DAYS, 5)
    # R1 pads: 30 unlinked contacts on the quarter's last day (30 >= 10 and >= 3 x 5).
    rows += contacts("R1", [pd.Timestamp("2025-06-30")], 30, linked=False, start=10_000)
    # R2 is honest: one unlinked call every Monday (13), never 10 on a day.
    rows += contacts("R2", [d for d in Q2_DAYS if d.day_of_week == 0], 1, linked=False, start=10_000)
    # R3 is honest and busier: 25 unlinked calls spread over every other working day
    # (2 of them happen to land on month-end days: 8 %, far from the 30 % rule).
    rows += contacts("R3", Q2_DAYS[::2][:25], 1, linked=False, start=10_000)
    # R4 piles 8 unlinked contacts onto each month end (04-30, 05-30, 06-30): 24 in all,
    # 100 % on month-end days, no single day reaching 10.
    rows += contacts("R4", pd.to_datetime(["2025-04-30", "2025-05-30", "2025-06-30"]), 8, linked=False, start=10_000)
    # R5 logs everything unlinked, 15 a day, evenly: busy, not padded.
    rows += contacts("R5", Q2_DAYS, 15, linked=False, start=10_000)
    return from_frames(activities=pd.DataFrame(rows)).activities


def reps_frame():
    return pd.DataFrame({"rep_id": REPS, "name": [f"Rep {r}" for r in REPS], "territory": "North", "team": "A"})


def test_padded_bursts_and_month_end_piles_are_flagged_honest_reps_are_not():
    records = {r["rep_id"]: r for r in padded_activity(q2_activities())}
    assert set(records) == {"R1", "R4"}
    assert records["R1"]["rows"] == 30 and records["R1"]["table"] == "activities"
    assert "2025-06-30: 30" in records["R1"]["detail"] and "usual 5 contacts a day" in records["R1"]["detail"]
    # R4: 3 days x 8 = 24 unlinked contacts, all on month-end days.
    assert records["R4"]["rows"] == 24
    assert "100% of this rep's 24 unlinked contacts fall on month-end days" in records["R4"]["detail"]


def test_padding_is_judged_inside_the_period():
    from salesnb.analysis.periods import parse_period

    # In April alone R1's June burst and two of R4's three month ends are outside:
    # R4 has 8 unlinked contacts (< 20), nobody is flagged.
    assert padded_activity(q2_activities(), period=parse_period("2025-04")) == []


def opportunity(opp_id, rep, created, status="open", closed=None, amount=1000.0):
    return {
        "opportunity_id": opp_id,
        "rep_id": rep,
        "created_date": created,
        "closed_date": closed,
        "status": status,
        "amount": amount,
    }


def test_stale_pipeline_counts_deals_idle_for_over_90_days():
    opps = pd.DataFrame(
        [
            opportunity("O1", "R2", "2025-01-10"),  # last touched 2025-03-01: 121 days idle -> stale
            opportunity("O2", "R2", "2025-02-01"),  # touched 2025-06-01: 29 days -> fresh
            opportunity("O3", "R3", "2025-03-31"),  # never touched, created 91 days before -> stale
            opportunity("O4", "R3", "2025-04-01"),  # 90 days: not *more* than 90 -> fresh
            opportunity("O5", "R3", "2025-01-02", "won", "2025-07-15"),  # still open on 06-30, 179 days idle -> stale
            opportunity("O6", "R1", "2025-01-02", "lost", "2025-05-15"),  # closed before 06-30 -> not pipeline
            opportunity("O7", "R1", "2025-08-01"),  # created after 06-30 -> not yet pipeline
        ]
    )
    acts = pd.DataFrame(
        [
            {"activity_id": "A1", "rep_id": "R2", "date": "2025-03-01", "type": "call", "opportunity_id": "O1"},
            {"activity_id": "A2", "rep_id": "R2", "date": "2025-06-01", "type": "call", "opportunity_id": "O2"},
            {"activity_id": "A3", "rep_id": "R2", "date": "2025-07-20", "type": "call", "opportunity_id": "O1"},  # after: ignored
        ]
    )
    ds = from_frames(reps=reps_frame(), opportunities=opps, activities=acts)
    records = {r["rep_id"]: r for r in stale_pipeline(ds.opportunities, ds.activities, reference="2025-06-30")}
    assert set(records) == {"R2", "R3"}
    assert records["R2"]["rows"] == 1 and "(O1; 1,000 of open value)" in records["R2"]["detail"]
    assert records["R3"]["rows"] == 2 and "(O5, O3; 2,000 of open value)" in records["R3"]["detail"]
    assert "idle for 179 days" in records["R3"]["detail"]


def closed_deals(rep, n, closed="2025-05-15"):
    return [opportunity(f"{rep}-{i}", rep, "2025-04-01", "won" if i % 2 else "lost", closed) for i in range(n)]


def test_quality_flags_frame_shape_order_and_small_samples():
    # R1 closed 12 deals in Q2 (>= 10), R2 closed 4, R3-R5 none: four small samples.
    opps = pd.DataFrame(closed_deals("R1", 12) + closed_deals("R2", 4))
    ds = from_frames(reps=reps_frame(), opportunities=opps, activities=q2_activities())
    flags = quality_flags(ds, period="2025-Q2")
    assert list(flags.columns) == COLUMNS
    assert list(flags["flag"].unique()) == ["padded_activity", "small_sample"]
    small = flags[flags["flag"] == "small_sample"].set_index("rep_id")
    assert list(small.index) == ["R2", "R3", "R4", "R5"]
    assert small.loc["R2", "rows"] == 4 and "only 4 closed deals in 2025-Q2" in small.loc["R2", "detail"]
    assert quality_for_rep(flags, "R1")["flag"].tolist() == ["padded_activity"]
    assert quality_for_rep(flags, "R2")["flag"].tolist() == ["small_sample"]
    json.dumps(flags.to_dict(orient="records"))  # rep_id None, rows int: JSON-ready


def test_without_a_period_the_whole_span_is_used():
    # Data runs 2025-04-01..2025-06-30; R1's 12 closed deals still count, no activities table.
    ds = from_frames(reps=reps_frame(), opportunities=pd.DataFrame(closed_deals("R1", 12) + closed_deals("R2", 4, "2025-06-30")))
    flags = quality_flags(ds)
    assert flags["flag"].tolist() == ["small_sample"] * 4
    assert "2025-04-01..2025-06-30" in flags["detail"].iloc[0]


def test_loader_findings_are_counted_per_flag_table_and_rep():
    ds = from_frames(reps=reps_frame(), opportunities=pd.DataFrame(closed_deals("R1", 12)))
    cbc = dict(
        column="closed_date",
        value="2025-01-01",
        message="closed_date is before created_date",
        hint="correct one of the two dates",
        flag="closed_before_created",
    )
    ds.problems = [
        Problem("opportunities", "opportunities.csv", 5, **cbc),
        Problem("opportunities", "opportunities.csv", 9, **cbc),
        Problem(
            "opportunities",
            "opportunities.csv",
            12,
            "rep_id",
            "R99",
            "rep_id is not in the reps table",
            "add the rep to reps, or correct the rep_id",
            "orphan_rep",
        ),
        Problem(
            "reps",
            "reps.csv",
            4,
            "rep_id",
            "R3",
            "duplicate rep_id: first used on line 3",
            "give every row its own rep_id",
            "duplicate_id",
        ),
    ]
    ds.quarantine = pd.DataFrame(
        {
            "table": ["opportunities"] * 3 + ["reps"],
            "file": ["opportunities.csv"] * 3 + ["reps.csv"],
            "line": [5, 9, 12, 4],
            "flags": ["closed_before_created", "closed_before_created", "orphan_rep", "duplicate_id"],
            "problems": ["", "", "", ""],
            "record": [json.dumps({"rep_id": r}) for r in ("R2", "R2", "R99", "R3")],
        }
    )
    flags = quality_flags(ds, period="2025-Q2")
    loader = flags[flags["flag"] != "small_sample"].reset_index(drop=True)
    assert loader[["flag", "rep_id", "table", "rows"]].values.tolist() == [
        ["closed_before_created", "R2", "opportunities", 2],  # lines 5 and 9, rep from the quarantined record
        ["orphan_rep", "R99", "opportunities", 1],
        ["duplicate_id", "R3", "reps", 1],
        ["quarantined", None, "opportunities", 3],
        ["quarantined", None, "reps", 1],
    ]
    assert loader.loc[0, "detail"] == (
        "2 rows in opportunities.csv (lines 5, 9): closed_date is before created_date. Fix: correct one of the two dates"
    )
    assert "closed_before_created 2, orphan_rep 1" in loader.loc[3, "detail"]


def test_loaded_csv_folder_reports_its_set_aside_rows(tmp_path):
    from salesnb.io.loading import load

    (tmp_path / "reps.csv").write_text("rep_id,name,territory\nR1,Ann,North\nR2,Bo,North\n")
    (tmp_path / "opportunities.csv").write_text(
        "opportunity_id,rep_id,created_date,closed_date,status,amount\n"
        "O1,R1,2025-04-01,2025-05-01,won,100\n"
        "O2,R1,2025-04-10,2025-03-01,lost,\n"  # line 3: closed before created
        "O3,R9,2025-04-01,,open,50\n"  # line 4: R9 is not a rep
        "O1,R2,2025-04-01,2025-05-01,won,100\n"  # line 5: duplicate id
    )
    flags = quality_flags(load(tmp_path), period="2025-Q2")
    found = flags[~flags["flag"].isin(["small_sample", "stale_pipeline"])]
    got = {(f, r, n) for f, r, n in found[["flag", "rep_id", "rows"]].itertuples(index=False)}
    assert got == {
        ("closed_before_created", "R1", 1),
        ("orphan_rep", "R9", 1),
        ("duplicate_id", "R2", 1),
        ("quarantined", None, 3),
    }


def test_no_activities_and_empty_data_give_an_empty_frame():
    ds = Dataset(
        tables={
            "reps": from_frames(reps=reps_frame()).reps,
            "opportunities": from_frames(opportunities=pd.DataFrame(columns=["opportunity_id"])).opportunities,
        }
    )
    flags = quality_flags(ds)
    assert flags.empty and list(flags.columns) == COLUMNS


# -- the generated sample: the padded rep is flagged, honest reps are not -----------


def test_planted_padding_and_stale_pipeline_are_flagged(tmp_path):
    from salesnb.io.loading import load
    from salesnb.io.sample import PLANTED, generate

    generate(tmp_path)  # defaults: 12 reps, 24 months to 2025-12-31
    ds = load(tmp_path)
    padded = [rep for rep, profile in PLANTED.items() if profile == "padded_activity"]
    slow = [rep for rep, profile in PLANTED.items() if profile == "velocity"]
    for period in ("2025", None):
        flags = quality_flags(ds, period=period)
        assert flags.loc[flags["flag"] == "padded_activity", "rep_id"].tolist() == padded
        assert set(slow) <= set(flags.loc[flags["flag"] == "stale_pipeline", "rep_id"])
    # Every rep logs the odd internal call against nobody; none of them is flagged.
    acts = ds.activities
    unlinked = acts[acts["customer_id"].isna() & acts["opportunity_id"].isna()]
    honest = set(unlinked["rep_id"]) - set(padded)
    assert len(honest) >= 8
