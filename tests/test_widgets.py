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
from salesnb.analysis.metrics import metrics_table
from salesnb.errors import InputError
from salesnb.present import widgets
from salesnb.present.pages import segment
from salesnb.present.widgets import ALL, SegmentExplorer

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
    assert set(explorer.controls) == {"territory", "customer_type", "acquisition_method", "team", "period", "metric", "by"}
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
