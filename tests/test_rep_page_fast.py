"""Session 10: a rep page's data read off batch-wide tables made once (issue #16).

Each table is worked on a small hand-made input; each page-side reader gives
the figures the per-rep computation gave."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from salesnb.analysis.periods import Period
from salesnb.present import rep_page, rep_page_tables, rep_trends, tables


class _Memo:
    """A memo provider as the runner's (call, peek, remember), counting what it computes and copies."""

    def __init__(self, answers=None):
        self.kept, self.computed, self.peeked = {}, [], []
        self.answers = answers or {}

    def _key(self, function, kwargs):
        return (function.__name__, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))

    def __call__(self, function, ds, **kwargs):
        key = self._key(function, kwargs)
        if key not in self.kept:
            self.computed.append(function.__name__)
            answer = self.answers.get(function.__name__)
            self.kept[key] = answer if answer is not None else function(ds, **kwargs)
        return self.kept[key]

    def peek(self, function, ds, **kwargs):
        self.peeked.append(function.__name__)
        return self.kept.get(self._key(function, kwargs))

    def remember(self, function, ds, value, **kwargs):
        self.kept[self._key(function, kwargs)] = value


@pytest.fixture
def memo():
    def install(answers=None):
        provider = _Memo(answers)
        previous.append(tables.use_memo(provider))
        return provider

    previous: list = []
    yield install
    if previous:
        tables.use_memo(previous[0])


def test_a_page_unpickles_its_own_diagnosis_not_a_copy_of_every_reps(memo):
    everyone = [{"rep_id": "A", "focus": "win_rate", "evidence": [{"x": [1.5]}]}, {"rep_id": "B", "focus": None, "evidence": []}]
    provider = memo({"rep_diagnoses": everyone})
    tables.batch_table(tables.rep_diagnoses, None, period="2025", as_of=None)  # the runner's, for every rep
    assert tables.diagnoses_of(None, ["B"], period="2025", as_of=None) == [everyone[1]]
    provider.peeked.clear()
    for _ in range(3):  # every later page: only the packed table is looked at
        assert tables.diagnoses_of(None, ["A"], period="2025", as_of=None) == [everyone[0]]
    assert provider.peeked == ["packed_diagnoses"] * 3
    assert provider.computed.count("packed_diagnoses") == 1
    mine = tables.diagnoses_of(None, ["A"], period="2025", as_of=None)[0]
    mine["evidence"][0]["x"].append(9)  # a page's own copy: the next page is not changed
    assert tables.diagnoses_of(None, ["A"], period="2025", as_of=None)[0]["evidence"][0]["x"] == [1.5]
    assert tables.has_everyone(None, period="2025", as_of=None)


def _quarterly() -> pd.DataFrame:
    """Hand-made quarterly metrics: rep Y (the page's) and peers P1-P4 in 2025-Q1; P1 and Y in Q2."""
    rows = [
        ("2025-Q1", "P1", 4, 4, 0.2, 100.0, False),
        ("2025-Q1", "Y", 6, 5, 0.9, 500.0, False),
        ("2025-Q1", "P2", 5, 5, 0.4, 200.0, False),
        ("2025-Q1", "P3", 3, 2, 0.6, 300.0, True),  # a small sample: out of the win rate's pool
        ("2025-Q1", "P4", 7, 6, 0.8, 400.0, False),
        ("2025-Q2", "P1", 0, 0, np.nan, 0.0, True),  # no data: out of every pool
        ("2025-Q2", "Y", 2, 1, 1.0, 50.0, True),
    ]
    frame = pd.DataFrame(rows, columns=["period", "rep_id", "opportunities", "closed", "win_rate", "revenue_won", "small_sample"])
    frame.attrs["notes"] = ["a note"]
    return frame


def test_trend_grid_lays_the_quarterly_metrics_out_by_rep_and_quarter(memo):
    provider = memo({"metrics_over_time": _quarterly()})
    q1, q2 = Period.for_quarter(2025, 1), Period.for_quarter(2025, 2)
    grid = tables.batch_table(rep_trends.trend_grid, None, start=q1, end=q2)
    assert grid["reps"].tolist() == ["P1", "Y", "P2", "P3", "P4"] and grid["quarters"] == {"2025-Q1": 0, "2025-Q2": 1}
    assert grid["present"].tolist() == [[True, True], [True, True], [True, False], [True, False], [True, False]]
    assert grid["has_data"][:, 1].tolist() == [False, True, False, False, False]
    assert grid["small"][:, 0].tolist() == [False, False, False, True, False]
    assert grid["values"]["opportunities"].dtype == np.int64
    assert grid["values"]["opportunities"][:, 0].tolist() == [4, 6, 5, 3, 7]
    assert grid["values"]["revenue_won"][1].tolist() == [500.0, 50.0] and grid["notes"] == ["a note"]
    tables.batch_table(rep_trends.trend_grid, None, start=q1, end=q2)
    assert provider.computed == ["trend_grid", "metrics_over_time"]  # once for the batch


def test_a_reps_trends_read_off_the_grid(memo, monkeypatch):
    provider = memo({"metrics_over_time": _quarterly()})
    q1, q2 = Period.for_quarter(2025, 1), Period.for_quarter(2025, 2)
    monkeypatch.setattr(rep_trends, "trend_window", lambda ds, span, quarters: [q1, q2])
    trends, _ = rep_trends.trends_of(None, "Y", ["P1", "P2", "P3", "P4"], q2, 2, None)
    win = trends[trends["metric"] == "win_rate"].set_index("quarter")
    # Q1 win rates of the peers with enough deals: 0.2, 0.4, 0.8 -> median 0.4 is P2's own; the
    # nearest mean of neighbours is all three's, 1.4 / 3 = 47% (0.3 and 0.6 lie farther), no colleague's
    assert win.at["2025-Q1", "peers"] == 3 and win.at["2025-Q1", "peer_median"] == pytest.approx(1.4 / 3)
    assert win.at["2025-Q1", "rep_value"] == 0.9 and not win.at["2025-Q1", "small_sample"]
    assert win.at["2025-Q2", "peers"] == 0 and np.isnan(win.at["2025-Q2", "peer_median"])
    assert win.at["2025-Q2", "rep_value"] == 1.0 and win.at["2025-Q2", "small_sample"]
    revenue = trends[trends["metric"] == "revenue_won"].set_index("quarter")
    # Q1 revenue of all four peers (P3's small sample counts here): 100..400 -> median 250
    assert revenue.at["2025-Q1", "peers"] == 4 and revenue.at["2025-Q1", "peer_median"] == 250.0
    opportunities = trends[trends["metric"] == "opportunities"].set_index("quarter")
    assert opportunities.at["2025-Q1", "peers"] == 4 and opportunities.at["2025-Q1", "rep_value"] == 6
    assert trends.attrs["notes"] == ["a note"]
    assert provider.computed == ["trend_grid", "metrics_over_time"]  # read off the batch's grid


def test_a_reps_trends_find_its_peers_by_hash(memo, monkeypatch):
    """numpy's isin on text ids compares every rep with every peer: 0.5 s of a page at 5,000
    peers (a --rep page of 10,000 reps). A set lookup gives the same rows."""
    memo({"metrics_over_time": _quarterly()})
    q1, q2 = Period.for_quarter(2025, 1), Period.for_quarter(2025, 2)
    monkeypatch.setattr(rep_trends, "trend_window", lambda ds, span, quarters: [q1, q2])
    before, _ = rep_trends.trends_of(None, "Y", ["P1", "P2", "P3", "P4"], q2, 2, None)
    isin = np.isin

    def refuse(values, *args, **kwargs):
        if np.asarray(values).dtype == object:
            raise AssertionError("np.isin over text ids")
        return isin(values, *args, **kwargs)

    monkeypatch.setattr(rep_trends.np, "isin", refuse)
    after, _ = rep_trends.trends_of(None, "Y", ["P1", "P2", "P3", "P4"], q2, 2, None)
    pd.testing.assert_frame_equal(after, before)


def _stage_figures() -> pd.DataFrame:
    rows = [
        ("days", "Qualify", r, v, n)
        for r, v, n in [("Y", 20.0, 6), ("P1", 4.0, 5), ("P2", 8.0, 5), ("P3", 12.0, 9), ("P4", 16.0, 5), ("P5", 30.0, 2)]
    ]
    rows += [
        ("moved_on", "Qualify", r, v, n)
        for r, v, n in [("P1", 0.5, 5), ("Y", 0.9, 6), ("P2", 0.6, 5), ("P3", 0.7, 9), ("P4", 0.8, 5)]
    ]
    frame = pd.DataFrame(rows, columns=["figure", "stage", "rep_id", "value", "n"])
    frame.attrs["stages"] = ["Qualify", "Propose"]
    return frame


def test_stage_groups_split_the_figures_once_and_the_comparison_reads_them():
    from salesnb.analysis.history import stage_comparison, stage_groups

    groups = stage_groups(_stage_figures())
    assert groups["stages"] == ["Qualify", "Propose"] and sorted(groups["groups"]) == [
        ("days", "Qualify"),
        ("moved_on", "Qualify"),
    ]
    ids, values, counts = groups["groups"][("days", "Qualify")]
    assert ids.tolist() == ["Y", "P1", "P2", "P3", "P4", "P5"] and counts.tolist() == [6, 5, 5, 9, 5, 2]
    ds = SimpleNamespace(opportunity_history=pd.DataFrame())
    peers = ["P1", "P2", "P3", "P4", "P5"]
    out = stage_comparison(ds, "Y", peers, period=Period.for_quarter(2025, 1), groups=groups)
    # days: P5's 2 stays are too few; 4, 8, 12, 16 -> median 10 (no colleague's); moved on: 0.5..0.8 -> 65%
    assert out.at[0, "peer_moved_on"] == pytest.approx(0.65)
    records = out.drop(columns="peer_moved_on").to_dict("records")
    assert records[0] == {"stage": "Qualify", "rep_days": 20.0, "peer_days": 10.0, "rep_moved_on": 0.9, "stays": 6, "peers": 4}
    assert records[1]["stage"] == "Propose" and (records[1]["stays"], records[1]["peers"]) == (0, 0)
    assert out.loc[1, ["rep_days", "peer_days", "rep_moved_on", "peer_moved_on"]].isna().all()
    by_figures = stage_comparison(ds, "Y", peers, period=Period.for_quarter(2025, 1), figures=_stage_figures())
    pd.testing.assert_frame_equal(by_figures, out)


# -- second round: the page's peers, rep, value and trend notes off batch tables ----------------


def _reps() -> pd.DataFrame:
    """A hired 2025-07-01 (184 of 2025's 365 days), B to D before; E in another team; B's row twice."""
    rows = [
        ("A", "Ann", "North", "N1", "2025-07-01", 100_000.0),
        ("B", "Bo", "North", "N1", "2020-01-01", 100_000.0),
        ("B", "Bo", "North", "N1", "2020-01-01", 100_000.0),
        ("C", "Cy", " north ", "N1", "2020-01-01", 100_000.0),  # the same team, as fold() reads it
        ("D", "Di", "North", "N1", None, 100_000.0),
        ("E", "Ed", "South", "S1", "2020-01-01", 100_000.0),
    ]
    frame = pd.DataFrame(rows, columns=["rep_id", "name", "team", "territory", "hire_date", "annual_cost"])
    return frame.assign(hire_date=pd.to_datetime(frame["hire_date"]))


def _rep_metrics() -> pd.DataFrame:
    rows = [  # rep, team, opportunities, won, lost, win_rate, avg_deal_size, cycle_days_median
        ("A", "North", 10, 6, 6, 0.5, 1000.0, 30.0),
        ("B", "North", 20, 5, 5, 0.5, 2000.0, 40.0),
        ("C", "North", 30, 2, 2, 0.5, 3000.0, 50.0),  # 4 deals closed: no conversion peer
        ("D", "North", 0, 0, 0, np.nan, np.nan, np.nan),  # no data: nobody's peer
        ("E", "South", 40, 8, 4, 8 / 12, 4000.0, 60.0),
    ]
    columns = ["rep_id", "team", "opportunities", "won", "lost", "win_rate", "avg_deal_size", "cycle_days_median"]
    return pd.DataFrame(rows, columns=columns)


def test_peer_table_paces_and_pools_every_reps_figures_once(memo):
    from salesnb.analysis.diagnosis import peer_values
    from salesnb.analysis.periods import parse_period

    provider = memo({"metrics_table": _rep_metrics()})
    ds = SimpleNamespace(reps=_reps())
    basis = tables.batch_table(rep_page_tables.peer_table, ds, period=parse_period("2025"), as_of=None)
    assert basis["metrics"]["active_share"].tolist() == [184 / 365, 1.0, 1.0, 1.0, 1.0]
    figures = basis["figures"]
    assert figures["ids"].tolist() == ["A", "B", "C", "D", "E"] and figures["teams"].tolist() == [0, 0, 0, 0, 1]
    values, usable = figures["pools"]["prospecting"]  # opportunities a full year: A's 10 in 184 days is 10 * 365 / 184
    assert values.tolist() == pytest.approx([10 * 365 / 184, 20, 30, 0, 40]) and usable.tolist() == [1, 1, 1, 0, 1]
    assert figures["pools"]["conversion"][1].tolist() == [True, True, False, False, True]  # 10 or more closed
    team = {"prospecting": "team", "conversion": "team", "deal_size": "team", "velocity": "all"}
    mine = peer_values(basis["metrics"], "B", benchmarks=team, figures=figures)
    assert mine["prospecting"].tolist() == pytest.approx([10 * 365 / 184, 30])  # A and C: B left out, D has no data
    assert mine["conversion"].tolist() == [0.5] and mine["velocity"].tolist() == [30.0, 60.0]  # A; A and E
    for factor, pool in peer_values(basis["metrics"], "B", benchmarks=team).items():  # the same made for one rep
        assert pool.tolist() == mine[factor].tolist()
    tables.batch_table(rep_page_tables.peer_table, ds, period=parse_period("2025"), as_of=None)
    assert provider.computed == ["peer_table", "metrics_table"]  # once for the batch


def test_a_page_finds_its_rep_and_its_team_off_the_roster(memo):
    provider = memo()
    roster = tables.batch_table(rep_page_tables.rep_roster, SimpleNamespace(reps=_reps()))
    assert roster["ids"].tolist() == ["A", "B", "C", "D", "E"]  # B once
    assert roster["reps"].loc["C", "name"] == "Cy"
    assert rep_page._peer_ids(roster, 1, "team") == ["A", "C", "D"]  # " north " is North's
    assert rep_page._peer_ids(roster, 4, "team") == [] and rep_page._peer_ids(roster, 4, "all") == ["A", "B", "C", "D"]
    tables.batch_table(rep_page_tables.rep_roster, SimpleNamespace(reps=_reps()))
    assert provider.computed == ["rep_roster"]


def test_value_against_cost_picks_the_peers_ratios_by_index(memo):
    from salesnb.analysis.periods import parse_period

    ratios = {"A": 5.0, "B": 1.0, "C": 2.0, "D": 3.0, "E": 4.0}
    frame = pd.DataFrame(
        {
            "rep_id": list(ratios),
            "clv": [252_054.8, 100_000.0, 200_000.0, 300_000.0, 400_000.0],
            "annual_cost": 100_000.0,
            "cost": [50_410.96, 100_000.0, 100_000.0, 100_000.0, 100_000.0],
            "value_cost_ratio": list(ratios.values()),
            "customers": 1,
            "clv_source": "orders",
        }
    )
    provider = memo({"value_cost": frame})
    ds = SimpleNamespace(reps=_reps())
    value, notes = rep_page._value(ds, "A", ["B", "C", "D"], parse_period("2025"), "team")
    # B, C, D: 1.0x, 2.0x, 3.0x -> the median 2.0x is C's own; the nearest mean of neighbours is all three's: 2.0x
    # again; then 1.5x (B and C) and 2.5x (C and D), no colleague's: the first of the two, in run order
    assert value["peers"] == 3 and value["peer_median_ratio"] == 1.5 and value["value_cost_ratio"] == 5.0
    assert value["cost"] == 50_410.96 and value["clv_source"] == "orders"
    assert notes[-1] == (
        "Hired less than a year before 2025-12-31: the yearly cost is pro-rated to the 50% of the year you were employed."
    )
    assert provider.computed == ["value_table", "value_cost"]


def test_median_and_band_read_the_colleagues_figures_once(monkeypatch):
    from salesnb.analysis import privacy

    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    colleagues = [[10.0, 10.0], [20.0, np.nan], [30.0, 30.0], [40.0, 41.0], [50.0, 50.0]]
    formatted: list[float] = []
    shown = privacy.shown
    monkeypatch.setattr(privacy, "shown", lambda kind, value: formatted.append(value) or shown(kind, value))
    median, band = privacy.safe_median_band(values, colleagues, "count", band_min_peers=5)
    # the median 30 is C's own, and so is the mean of all five; next nearest: 25 (10..40 and 20, 30), no colleague's
    assert median == 25.0
    assert formatted.count(10.0) == 1  # a colleague's figure (never a candidate) formatted once for all three quantiles
    assert formatted.count(41.0) == 1
    separately = privacy.safe_band(values, colleagues, "count", median=25.0)
    assert band == separately and privacy.safe_median(values, colleagues, "count") == 25.0
    assert privacy.safe_median_band(values, colleagues, "count", band_min_peers=6) == (25.0, None)  # too few for a band


def test_the_trend_notes_read_the_rows_without_a_frame():
    rows = [
        {"quarter": q, "metric": m, "peers": n, "peer_median": med, "peer_low": low}
        for m in rep_trends.TREND_METRICS
        for q, n, med, low in [("2025-Q1", 2, np.nan, np.nan), ("2025-Q2", 4, 0.5, np.nan), ("2025-Q3", 6, np.nan, np.nan)]
    ]
    order = ["2025-Q1", "2025-Q2", "2025-Q3"]
    assert rep_trends.thin_peer_notes(rows, order, 3, 10) == [
        "Fewer than 3 peers have enough data for the win rate, revenue won and new opportunities in 2025-Q1: "
        "no peer median is drawn there.",
        "Fewer than 5 peers have enough data for the win rate, revenue won and new opportunities in 2025-Q2: "
        "only their median is drawn there, not their middle half.",
    ]
    assert rep_trends.thin_peer_notes(pd.DataFrame(rows), order, 3, 10) == rep_trends.thin_peer_notes(rows, order, 3, 10)
    withheld = rep_trends.withheld_notes(rows, order, 3)  # Q3: six peers, no median shown
    assert withheld[0] == (
        "The peer median of the win rate is left out in 2025-Q3: any figure near it would be a colleague's own."
    )
    assert len(withheld) == 3
