"""The segment explorer on the bundled sample: change a control, the table follows.

North holds R01, R05 and R09; their rows in the explorer must be exactly their
rows of the unfiltered metrics table (a rep's figures do not depend on who
else is selected), and equal metrics_table of the filtered data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb.analysis.history import pipeline_stages
from salesnb.analysis.metrics import metrics_table
from salesnb.analysis.periods import parse_period
from salesnb.errors import InputError
from salesnb.present import widgets
from salesnb.present.pages import segment
from salesnb.present.widgets import ALL, NO_STAGE_VIEW, SegmentExplorer
from tests import test_history as small
from tests.sources import write_source

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
PERIOD = "2025"


@pytest.fixture(scope="module")
def ds():
    return salesnb.load(SAMPLE)


@pytest.fixture()
def explorer(ds):
    return SegmentExplorer(ds, period=PERIOD, as_of="2026-01-05")


def test_starts_with_every_rep(ds, explorer):
    pd.testing.assert_frame_equal(explorer.table, metrics_table(ds, by="rep", period=PERIOD))
    assert set(explorer.controls) == {
        "territory",
        "customer_type",
        "acquisition_method",
        "team",
        "period",
        "view",
        "metric",
        "by",
    }
    assert explorer.controls["territory"].value == ALL


def test_changing_the_territory_control_filters_the_table(ds, explorer):
    explorer.controls["territory"].value = "North"
    table = explorer.table
    assert list(table["rep_id"]) == ["R01", "R05", "R09"] and set(table["territory"]) == {"North"}
    pd.testing.assert_frame_equal(table, metrics_table(segment(ds, territory="North"), by="rep", period=PERIOD))
    unfiltered = metrics_table(ds, by="rep", period=PERIOD).set_index("rep_id").loc[["R01", "R05", "R09"]]
    pd.testing.assert_frame_equal(table, unfiltered.reset_index())
    assert "North" in explorer.figure.axes[0].get_title() and explorer.figure.axes[0].get_ylabel() == "Rep"
    explorer.controls["territory"].value = ALL
    assert len(explorer.table) == 12


def test_period_metric_and_rows_controls(ds, explorer):
    explorer.controls["period"].value = "2025-Q2"
    explorer.controls["by"].value = "customer_type"
    explorer.controls["metric"].value = "win_rate"
    pd.testing.assert_frame_equal(explorer.table, metrics_table(ds, by="customer_type", period="2025-Q2"))
    ax = explorer.figure.axes[0]
    assert ax.get_xlabel() == "Win rate (%)" and ax.get_ylabel() == "Customer type"
    assert "2025-Q2" in ax.get_title()


def test_update_with_a_customer_segment_and_controls_follow(ds, explorer):
    table = explorer.update(customer_type="retail", team="Beta")  # values match case-insensitively
    assert explorer.controls["customer_type"].value == "Retail" and explorer.controls["team"].value == "Beta"
    assert list(table["rep_id"]) == ["R02", "R04", "R06", "R08", "R10", "R12"]
    expected = metrics_table(segment(ds, customer_type="Retail", team="Beta"), by="rep", period=PERIOD)
    pd.testing.assert_frame_equal(table, expected)
    assert any("quotas and forecasts" in n for n in explorer.notes)
    assert not any("No expectations.yml" in n for n in explorer.notes)  # left out on purpose, not missing


def test_bad_choices_say_what_is_possible(explorer):
    with pytest.raises(InputError, match="choose one of: East, North, South, West"):
        explorer.update(territory="Mars")
    with pytest.raises(InputError, match="no control"):
        explorer.update(colour="red")
    with pytest.raises(InputError, match="metric must be one of"):
        explorer.update(metric="happiness")


def test_static_view_is_a_sentence_a_chart_and_a_table(explorer):
    explorer.update(territory="North")
    sentence, chart, table = explorer.static()
    assert "territory North" in sentence.data
    assert chart.format == "png"
    assert "Ava Martin" in table.data and "Ben Kowalski" not in table.data


def test_without_ipywidgets_it_still_computes(ds, monkeypatch):
    monkeypatch.setattr(widgets, "widgets_available", lambda: False)
    explorer = SegmentExplorer(ds, period=PERIOD, territory="South")
    assert explorer.controls == {} and explorer.chart_output is None
    assert list(explorer.table["rep_id"]) == ["R02", "R06", "R10"]
    with pytest.raises(InputError, match="ipywidgets is not installed"):
        explorer.widget()


def test_live_frontend_only_in_an_interactive_kernel(monkeypatch):
    assert widgets.live_frontend() is False  # pytest is no Jupyter front end
    monkeypatch.setenv(widgets.STATIC_ENV, "1")
    assert widgets.live_frontend() is False


# -- the stage view (issue 18): the small hand-worked history of tests/test_history.py --


def _small(tmp_path, *, history: bool = True):
    tables = {"reps": small.REPS, "customers": small.SEGMENT_CUSTOMERS, "opportunities": small.SEGMENT_OPPORTUNITIES}
    if history:
        tables["opportunity_history"] = small.HISTORY
    return salesnb.load(write_source(tmp_path / "src", tables))


def _rows(frame, *front):
    nan = lambda v: None if pd.isna(v) else v  # noqa: E731
    return [(*(getattr(r, c) for c in front), r.stage, r.entered, nan(r.days_median), r.open_stays) for r in frame.itertuples()]


def test_stage_view_of_a_customer_segment_hand_worked(tmp_path):
    explorer = SegmentExplorer(_small(tmp_path), period="2025-Q1", as_of="2025-06-30", view="stages", customer_type="retail")
    # Retail: O1 (R1; Qualification 10 d, Proposal 40, Negotiation 9, won) and O3 (R2; Qualification 28,
    # Closed Lost 10 and re-opened, Proposal from 03-11 still running at the quarter's end)
    assert _rows(explorer.stages) == [
        ("Qualification", 2, 19.0, 0),
        ("Proposal", 2, 40.0, 1),
        ("Negotiation", 1, 9.0, 0),
        ("Closed Lost", 1, 10.0, 0),  # in the whole data's order, though O3 alone puts it second
        ("Closed Won", 1, None, 0),
    ]
    assert _rows(explorer.table, "rep_id")[:6] == [
        ("R1", "Qualification", 1, 10.0, 0),
        ("R1", "Proposal", 1, 40.0, 0),
        ("R1", "Negotiation", 1, 9.0, 0),
        ("R1", "Closed Lost", 0, None, 0),
        ("R1", "Closed Won", 1, None, 0),
        ("R2", "Qualification", 1, 28.0, 0),
    ]
    ax = explorer.figure.axes[0]  # the median stay per stage: the close has no stay, no bar
    assert [round(p.get_width(), 1) for p in ax.patches] == [19.0, 40.0, 9.0, 10.0]
    assert ax.get_xlabel() == "Median stay (days)" and ax.get_title() == "Median stay by stage, 2025-Q1 (Retail)"
    sentence, _, table = explorer.static()
    assert "customer type Retail" in sentence.data and "pipeline by stage" in sentence.data
    assert "Median stay" in table.data and "Open stays" in table.data and "Negotiation" in table.data


def test_stage_view_by_acquisition_method_and_back_to_metrics(tmp_path):
    explorer = SegmentExplorer(_small(tmp_path), period="2025-Q1", as_of="2025-06-30")
    table = explorer.update(view="stages", by="acquisition_method", territory="South")  # R2: O3 (event), O4 (no customer)
    assert _rows(table[table["stage"].isin(["Qualification", "Proposal"])], "acquisition_method") == [
        ("(unknown)", "Qualification", 1, 31.0, 0),
        ("(unknown)", "Proposal", 0, None, 0),
        ("event", "Qualification", 1, 28.0, 0),
        ("event", "Proposal", 1, None, 1),
    ]
    assert explorer.controls["view"].value == "stages"
    explorer.controls["view"].value = "metrics"
    assert explorer.stages is None and "revenue_won" in explorer.table and "event" in set(explorer.table["acquisition_method"])
    assert explorer.figure.axes[0].get_title().startswith("Revenue won by acquisition method")


def test_without_a_history_there_is_no_stage_view_and_it_says_why(tmp_path):
    explorer = SegmentExplorer(_small(tmp_path, history=False), period="2025-Q1", as_of="2025-06-30")
    assert explorer.options["view"] == ["metrics"] and explorer.controls["view"].options == (("Metrics", "metrics"),)
    assert NO_STAGE_VIEW in explorer.notes and "no opportunity_history table" in explorer.static()[2].data
    with pytest.raises(InputError, match="no opportunity_history table"):
        explorer.update(view="stages")


def test_sample_stage_view_a_reps_figures_do_not_depend_on_the_segment(ds, explorer):
    table = explorer.update(view="stages", territory="North")
    assert sorted(set(table["rep_id"])) == ["R01", "R05", "R09"]
    whole = pipeline_stages(ds, period=parse_period(PERIOD), by="rep").set_index(["rep_id", "stage"])
    mine = table.set_index(["rep_id", "stage"])
    pd.testing.assert_frame_equal(mine, whole.loc[mine.index])
    negotiation = mine.xs("Negotiation", level="stage")["days_median"]
    assert negotiation["R05"] > 2 * max(negotiation["R01"], negotiation["R09"])  # the planted staller
