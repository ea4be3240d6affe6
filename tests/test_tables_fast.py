"""The batch-wide tables without a Python step per rep or per period (issue #16).

Each test pins a figure worked out by hand and that the work is done once for
every rep (or period), not once each: the rule a flag applies per rep runs only
on the reps it may flag, expectations are merged once per team, and the
metrics over many periods match each deal's pushes and sum the won revenue by
month once. benchmarks/tables_snapshot.py compares every table before and after.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import salesnb
from salesnb.analysis import expectations, forecasts, history, quality
from salesnb.analysis.forecasts import forecast_bias, forecast_habit
from salesnb.analysis.metrics import metrics_over_time, metrics_table
from salesnb.analysis.periods import parse_period

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def _count_calls(monkeypatch, owner, name: str, when=lambda *a, **k: True) -> list:
    calls = []
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        if when(*args, **kwargs):
            calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_padded_activity_applies_its_rule_to_the_suspect_rep_only(monkeypatch):
    # 40 reps with two linked contacts a day on 1-10 March and one unlinked contact on 11 March;
    # P1 also logs 12 unlinked contacts on Wednesday 12 March: 12 >= 10 and >= 3 x its usual 2 a day
    rows = []
    for rep in ["P1", *[f"R{i:02d}" for i in range(39)]]:
        for day in range(1, 11):
            rows += [(rep, f"2025-03-{day:02d}", "C1", "O1")] * 2
        rows.append((rep, "2025-03-11", None, None))
    rows += [("P1", "2025-03-12", None, None)] * 12
    acts = pd.DataFrame(rows, columns=["rep_id", "date", "customer_id", "opportunity_id"])
    acts["date"] = pd.to_datetime(acts["date"])
    per_day = _count_calls(monkeypatch, pd.DataFrame, "groupby", lambda self, by=None, **k: by == "day")

    records = quality.padded_activity(acts)

    assert records == [
        {
            "flag": "padded_activity",
            "rep_id": "P1",
            "table": "activities",
            "rows": 12,
            "detail": "12 contacts linked to no customer and no opportunity on 1 day (2025-03-12: 12), against this "
            "rep's usual 2 contacts a day; 0% of this rep's 13 unlinked contacts fall on month-end days",
        }
    ]
    assert per_day == []  # no grouping by day per rep: every rep judged at once (issue #16, fourth round)


def test_bulk_updates_applies_its_rule_to_the_suspect_reps_only(monkeypatch):
    # B1 moves 10 deals in 10 minutes twice; B2 twice too, one burst's last change 10 minutes less
    # a nanosecond after its first; B3 once, its second ten a nanosecond too late; 30 reps one change each
    start = pd.Timestamp("2025-02-03 09:00:00.5")
    ten = pd.Timedelta(minutes=10)
    changes = [("B1", start + pd.Timedelta(minutes=i)) for i in range(10)]
    changes += [("B1", start + pd.Timedelta(days=2, minutes=i)) for i in range(10)]
    for rep, last in (("B2", ten - pd.Timedelta(1, "ns")), ("B3", ten)):
        changes += [(rep, start + pd.Timedelta(seconds=s)) for s in range(9)] + [(rep, start + ten - pd.Timedelta(1, "ns"))]
        changes += [(rep, start + pd.Timedelta(days=1, seconds=s)) for s in range(9)] + [
            (rep, start + pd.Timedelta(days=1) + last)
        ]
    changes += [(f"R{i:02d}", start + pd.Timedelta(days=3, minutes=i)) for i in range(30)]
    ids = [f"D{i}" for i in range(len(changes))]
    history_table = pd.DataFrame({"opportunity_id": ids, "changed_at": [at for _, at in changes]})
    opps = pd.DataFrame({"opportunity_id": ids, "rep_id": [rep for rep, _ in changes]})
    sorted_per_rep = _count_calls(monkeypatch, pd.DataFrame, "sort_values", lambda self, by=None, **k: by == "changed_at")

    records = quality.bulk_updates(history_table, opps)

    assert [(r["rep_id"], r["rows"]) for r in records] == [("B1", 20), ("B2", 20)]
    assert records[0]["detail"] == (
        "20 of this rep's 20 history changes were logged in 2 bursts of 10 or more deals within 10 minutes "
        "(2025-02-03 09:00: 10 deals, 2025-02-05 09:00: 10 deals): their stage stays and pushed close dates are "
        "dated by the typing, not by the work"
    )
    assert len(sorted_per_rep) == 3  # B1, B2 and B3 (its near miss is within a whole second): 33 before, every rep's


def test_forecast_bias_reads_each_reps_errors_without_a_frame_per_rep(monkeypatch):
    ds = salesnb.load(SAMPLE)
    accuracy = forecasts.forecast_accuracy(ds)
    expected = {
        rep: forecast_habit(group["forecast_error_pct"], kinds=group["kind"])
        for rep, group in accuracy.groupby("rep_id", sort=True, observed=True)
    }

    def no_frames(self):
        raise AssertionError("a frame per rep")

    monkeypatch.setattr(pd.core.groupby.DataFrameGroupBy, "__iter__", no_frames)
    bias = forecast_bias(ds)
    assert list(bias["rep_id"]) == list(expected)
    for row in bias.to_dict("records"):
        facts = expected[row.pop("rep_id")]
        assert row.keys() == facts.keys()
        assert all(row[k] == facts[k] or (pd.isna(row[k]) and pd.isna(facts[k])) for k in row)


def test_for_reps_merges_once_per_team_and_once_per_rep_with_an_own_entry(monkeypatch):
    book = {
        "default": {"revenue_quota": 1_000_000, "win_rate": 0.6},
        "teams": {"Borealis": {"revenue_quota": 1_100_000}},
        "reps": {"R12": {"revenue_quota": 500_000}},
    }
    reps = [f"R{i:02d}" for i in range(50)]
    teams = ["borealis " if i % 2 == 0 else "Cirrus" for i in range(50)]
    teams[7] = None
    merges = _count_calls(monkeypatch, expectations, "for_rep")

    goals = expectations.for_reps(book, reps, teams)

    assert len(merges) == 4  # Borealis, Cirrus, no team, R12 (50 before: one a rep)
    assert goals[0] == {"revenue_quota": 1_100_000, "win_rate": 0.6}
    assert goals[1] == goals[7] == {"revenue_quota": 1_000_000, "win_rate": 0.6}
    assert goals[12] == {"revenue_quota": 500_000, "win_rate": 0.6}  # R12, of Borealis: its own entry last
    monkeypatch.undo()
    assert goals == [expectations.for_rep(book, r, t) for r, t in zip(reps, teams)]


def test_metrics_over_time_matches_pushes_and_sums_won_months_once(monkeypatch):
    ds = salesnb.load(SAMPLE)
    quarters = [parse_period(f"2025-Q{q}") for q in range(1, 5)]
    pushes = _count_calls(monkeypatch, history, "deal_pushes")
    months = _count_calls(monkeypatch, forecasts, "monthly_won")
    over_time = metrics_over_time(ds, by="rep", freq="quarter", start=quarters[0], end=quarters[-1])
    assert (len(pushes), len(months)) == (0, 1)  # 4 and 4 before: one a quarter
    monkeypatch.undo()
    for quarter in quarters:  # each quarter's rows as the quarter's own table has them
        alone = metrics_table(ds, by="rep", period=quarter)
        rows = over_time[over_time["period"] == quarter.label].drop(columns=["period", "period_start"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(rows, alone, check_exact=True)
    # each quarter's pushes as deal_pushes counts them (by the quarter's end), per rep
    from salesnb.analysis.deals import deal_flags

    deals, pushed = ds.opportunities, history.close_date_pushes(ds)
    for quarter in quarters:
        counted = history.push_metrics(pushed, deals, by="rep_id", period=quarter, flags=deal_flags(deals, quarter))
        got = over_time[over_time["period"] == quarter.label].set_index("rep_id")
        want = counted.set_index("rep_id").reindex(got.index).fillna(0).astype("int64")
        assert got["close_date_pushes"].tolist() == want["close_date_pushes"].tolist()
        assert got["pushed_deals"].tolist() == want["pushed_deals"].tolist()
    assert over_time["close_date_pushes"].sum() > 0


def test_push_positions_finds_each_pushs_deal_or_none():
    pushes = pd.DataFrame({"opportunity_id": ["O1", "O2", None, "O9"]})
    deals = pd.DataFrame({"opportunity_id": ["O2", "O1", "O3"]})
    assert history.push_positions(pushes, deals).tolist() == [1, 0, -1, -1]


def test_warm_tables_asks_for_the_tables_of_a_rep_report_and_builds_no_report(monkeypatch):
    from salesnb.present import rep_page
    from salesnb.present.tables import use_memo

    def key(value):
        return (value.label, value.start, value.end) if hasattr(value, "label") else value

    def recorder(asked):
        def provider(function, ds, **kwargs):
            asked.add((function.__name__, tuple(sorted((k, key(v)) for k, v in kwargs.items()))))
            return function(ds, **kwargs)

        return provider

    ds = salesnb.load(SAMPLE)
    by_report, by_warm_up = set(), set()
    previous = use_memo(recorder(by_report))
    try:
        rep_page.rep_report(ds, "R03", period="2025", as_of="2026-01-05")
        use_memo(recorder(by_warm_up))

        def no_report(*args, **kwargs):
            raise AssertionError("the page's peer figures made safe: a report built")

        monkeypatch.setattr(rep_page, "protected_evidence", no_report)
        assert rep_page.warm_tables(ds, period="2025", as_of="2026-01-05", rep_id="R03") is None
    finally:
        use_memo(previous)
    assert by_warm_up == by_report
    assert {name for name, _ in by_report} >= {
        "metrics_table",
        "metrics_over_time",
        "scorecard",
        "rep_diagnoses",
        "stage_figures",
    }
