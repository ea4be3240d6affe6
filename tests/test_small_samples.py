"""Small samples are marked where a breakdown shows rates: the segment explorer's
table and chart, and the team report's breakdowns by territory, customer type and
acquisition method. A row whose win rate rests on fewer than
SMALL_SAMPLE_MIN_CLOSED (10) closed deals says "few deals"; its bar is hollow."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.colors import to_hex

from salesnb.analysis.rates import SMALL_SAMPLE_MIN_CLOSED
from salesnb.io.dataset import from_frames
from salesnb.present import charts
from salesnb.present import html as show
from salesnb.present.pages import BREAKDOWN_COLUMNS, team_report
from salesnb.present.widgets import SegmentExplorer

REPS = pd.DataFrame(
    {
        "rep_id": ["R1", "R2", "R3"],
        "name": ["Ann", "Bob", "Cy"],
        "territory": ["North", "South", "North"],
        "team": ["T", "T", "T"],
    }
)


def deal(oid, rep, status, amount=1_000.0):
    return {
        "opportunity_id": oid,
        "rep_id": rep,
        "created_date": pd.Timestamp("2025-02-01"),
        "closed_date": pd.Timestamp("2025-05-01"),
        "status": status,
        "amount": amount,
    }


@pytest.fixture(scope="module")
def ds():
    """North: R1 6 won + 2 lost, R3 3 won + 1 lost = 12 closed (9 won: 75 %).
    South: R2 2 won + 1 lost = 3 closed (67 %): few deals."""
    rows = [deal(f"A{i}", "R1", "won") for i in range(6)] + [deal(f"B{i}", "R1", "lost") for i in range(2)]
    rows += [deal(f"C{i}", "R3", "won") for i in range(3)] + [deal("D0", "R3", "lost")]
    rows += [deal(f"E{i}", "R2", "won") for i in range(2)] + [deal("F0", "R2", "lost")]
    return from_frames(reps=REPS, opportunities=pd.DataFrame(rows))


def markup(fragment) -> str:
    return fragment.data


def test_breakdown_table_marks_the_row_with_few_closed_deals(ds):
    team = team_report(ds, "T", period="2025", as_of="2026-01-05")
    by_territory = team.breakdowns["territory"].set_index("territory")
    assert (by_territory.loc["North", "closed"], by_territory.loc["South", "closed"]) == (12, 3)
    html = markup(show.breakdown_table(team.breakdowns["territory"], columns=BREAKDOWN_COLUMNS["territory"]))
    assert '<td class="text">South (few deals)</td>' in html
    assert '<td class="text">North</td>' in html and "North (few deals)" not in html
    assert "<td>67%</td>" in html and "<td>75%</td>" in html  # the figures themselves are unchanged
    assert f"(few deals): fewer than {SMALL_SAMPLE_MIN_CLOSED} deals closed (won + lost) in the period" in html


def test_breakdown_table_says_nothing_when_no_row_is_small_or_no_rate_is_shown(ds):
    team = team_report(ds, "T", period="2025", as_of="2026-01-05")
    north = team.breakdowns["territory"].iloc[[0]]
    assert "few deals" not in markup(show.breakdown_table(north, columns=BREAKDOWN_COLUMNS["territory"]))
    counts_only = markup(show.breakdown_table(team.breakdowns["territory"], columns=["territory", "opportunities", "won"]))
    assert "few deals" not in counts_only  # no win rate, deal size or cycle shown: nothing rests on the sample


def _bars(fig):
    return {tick.get_text(): patch for tick, patch in zip(fig.axes[0].get_yticklabels(), fig.axes[0].patches)}


def test_chart_of_a_breakdown_draws_few_deal_rows_hollow(ds):
    team = team_report(ds, "T", period="2025", as_of="2026-01-05")
    fig = charts.metric_bars(team.breakdowns["territory"], metric="win_rate", group="territory")
    bars = _bars(fig)
    assert to_hex(bars["South"].get_facecolor()) == "#ffffff" and bars["South"].get_hatch() == "///"
    assert to_hex(bars["North"].get_facecolor()) != "#ffffff" and not bars["North"].get_hatch()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["10 or more deals closed", "Few deals: fewer than 10 closed, read with care"]
    revenue = charts.metric_bars(team.breakdowns["territory"], metric="revenue_won", group="territory")
    assert not any(p.get_hatch() for p in revenue.axes[0].patches) and not revenue.legends  # revenue is a sum, not a rate


def test_segment_explorer_marks_few_deals_in_table_and_chart(ds):
    explorer = SegmentExplorer(ds, period="2025", as_of="2026-01-05", metric="win_rate", by="territory")
    html = markup(explorer.table_view())
    assert "South (few deals)" in html and "North (few deals)" not in html
    bars = _bars(explorer.figure)
    assert bars["South"].get_hatch() == "///" and not bars["North"].get_hatch()
    by_rep = markup(SegmentExplorer(ds, period="2025", as_of="2026-01-05", metric="win_rate").table_view())
    # every rep closed fewer than 10 deals: each row marked
    assert all(f"{rep} (few deals)" in by_rep for rep in ("R1", "R2", "R3"))
