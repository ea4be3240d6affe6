"""Session 10: a rep page's data read off batch-wide tables made once (issue #16).

Each table is worked on a small hand-made input; each page-side reader gives
the figures the per-rep computation gave."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from salesnb.analysis.periods import Period
from salesnb.present import rep_page, tables


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
    grid = tables.batch_table(rep_page.trend_grid, None, start=q1, end=q2)
    assert grid["reps"].tolist() == ["P1", "Y", "P2", "P3", "P4"] and grid["quarters"] == {"2025-Q1": 0, "2025-Q2": 1}
    assert grid["present"].tolist() == [[True, True], [True, True], [True, False], [True, False], [True, False]]
    assert grid["has_data"][:, 1].tolist() == [False, True, False, False, False]
    assert grid["small"][:, 0].tolist() == [False, False, False, True, False]
    assert grid["values"]["opportunities"].dtype == np.int64
    assert grid["values"]["opportunities"][:, 0].tolist() == [4, 6, 5, 3, 7]
    assert grid["values"]["revenue_won"][1].tolist() == [500.0, 50.0] and grid["notes"] == ["a note"]
    tables.batch_table(rep_page.trend_grid, None, start=q1, end=q2)
    assert provider.computed == ["trend_grid", "metrics_over_time"]  # once for the batch


def test_a_reps_trends_read_off_the_grid(memo, monkeypatch):
    provider = memo({"metrics_over_time": _quarterly()})
    q1, q2 = Period.for_quarter(2025, 1), Period.for_quarter(2025, 2)
    monkeypatch.setattr(rep_page, "_trend_window", lambda ds, span, quarters: [q1, q2])
    trends, _ = rep_page._trends(None, "Y", ["P1", "P2", "P3", "P4"], q2, 2, None)
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
