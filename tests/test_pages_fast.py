"""The team overview's charts drawn without seaborn's categorical machinery (issue #16):
the same marks, where seaborn's stripplot and barplot put them, at a fraction of the CPU."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import seaborn as sns
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgba

from salesnb.present import charts
from salesnb.present.chart_style import PALETTE


@pytest.fixture
def no_seaborn_categorical(monkeypatch):
    """Fail any chart that still asks seaborn for a strip or bar plot."""

    def refuse(*args, **kwargs):
        raise AssertionError("seaborn's categorical plot called")

    for name in ("stripplot", "barplot"):
        monkeypatch.setattr(sns, name, refuse)


def _band():
    # four reps: Ann (a dot), Bo (focus), Cy (few closed deals: hollow), Di (no value: no dot)
    return pd.DataFrame(
        {
            "label": ["Ann", "Bo", "Cy", "Di"],
            "value": [0.30, 0.10, 0.55, np.nan],
            "band_low": 0.2,
            "band_median": 0.3,
            "band_high": 0.4,
            "is_focus": [False, True, False, False],
            "small_sample": [False, False, True, False],
        }
    )


def test_team_band_puts_each_rep_on_its_row_without_seaborn(no_seaborn_categorical, monkeypatch):
    fig = charts.team_band(_band(), metric="win_rate")
    ax = fig.axes[0]
    dots = [c for c in ax.collections if len(c.get_offsets())]
    # three reps with a value, one mark each: (value, row), the first rep's row on top
    assert [tuple(np.asarray(d.get_offsets())[0]) for d in dots] == [(0.30, 0.0), (0.55, 2.0), (0.10, 1.0)]
    assert [d.get_sizes()[0] for d in dots] == [49.0, 49.0, 49.0]  # seaborn's size=7 points, squared
    assert [d.get_zorder() for d in dots] == [3, 3, 3]
    # Ann filled blue, Cy hollow (white, blue edge 1.8), Bo filled vermillion
    assert tuple(dots[0].get_facecolor()[0]) == to_rgba(PALETTE["you"])
    assert tuple(dots[1].get_facecolor()[0]) == to_rgba("white")
    assert tuple(dots[1].get_edgecolor()[0]) == to_rgba(PALETTE["you"])
    assert dots[1].get_linewidths()[0] == 1.8
    assert tuple(dots[2].get_facecolor()[0]) == to_rgba(PALETTE["focus"])
    # every rep named on its row, Di too, rows top-down
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Ann", "Bo", "Cy", "Di"]
    assert list(ax.get_yticks()) == [0, 1, 2, 3]
    assert ax.get_ylim() == (3.5, -0.5)
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [
        "Team middle half",
        "Team median",
        "Rep",
        "Rep, few closed deals",
        "Rep whose focus this is",
    ]
    # extended as any seaborn chart: another strip plot finds Cy's row (the third)
    monkeypatch.undo()
    sns.stripplot(x=[0.9], y=["Cy"], jitter=False, ax=ax)
    assert np.asarray(ax.collections[-1].get_offsets()).tolist() == [[0.9, 2.0]]
    matplotlib.pyplot.close(fig)


def test_team_bands_puts_each_rep_on_one_row_across_the_panels_without_seaborn(no_seaborn_categorical, monkeypatch):
    bands = pd.concat(
        [
            _band().assign(factor="prospecting", metric="opportunities", value=[12.0, 30.0, np.nan, 20.0], is_focus=False),
            _band().assign(factor="conversion", metric="win_rate"),
        ],
        ignore_index=True,
    )
    fig = charts.team_bands(bands)
    prospecting, conversion = fig.axes

    def dots(ax):
        return [c for c in ax.collections if isinstance(c, PathCollection)]

    # one mark set per kind of dot and panel, each rep on its row (Ann 0, Bo 1, Cy 2, Di 3)
    assert [np.asarray(c.get_offsets()).tolist() for c in dots(prospecting)] == [[[12.0, 0.0], [30.0, 1.0], [20.0, 3.0]]]
    marks = [np.asarray(c.get_offsets()).tolist() for c in dots(conversion)]
    assert marks == [[[0.30, 0.0]], [[0.55, 2.0]], [[0.10, 1.0]]]  # Ann, then Cy hollow, then Bo's focus
    assert [c.get_sizes()[0] for c in dots(conversion)] == [49.0, 49.0, 49.0]  # seaborn's size=7 points, squared
    assert tuple(dots(conversion)[1].get_facecolor()[0]) == to_rgba("white")
    assert tuple(dots(conversion)[2].get_facecolor()[0]) == to_rgba(PALETTE["focus"])
    # extended as any seaborn chart: another strip plot on any panel finds Cy's row (the third)
    monkeypatch.undo()
    sns.stripplot(x=[0.9], y=["Cy"], jitter=False, ax=conversion)
    assert np.asarray(conversion.collections[-1].get_offsets()).tolist() == [[0.9, 2.0]]
    matplotlib.pyplot.close(fig)


def test_metric_bars_draws_one_bar_a_group_without_seaborn(no_seaborn_categorical):
    frame = pd.DataFrame(
        {
            "territory": ["North", "South", "East"],
            "win_rate": [0.5, np.nan, 0.25],  # South: no closed deal, drawn as 0
            "small_sample": [False, True, False],
        }
    )
    fig = charts.metric_bars(frame, metric="win_rate", group="territory")
    ax = fig.axes[0]
    bars = ax.patches
    assert [round(b.get_width(), 9) for b in bars] == [0.5, 0.0, 0.25]
    assert [round(b.get_y(), 9) for b in bars] == [-0.3, 0.7, 1.7]  # 0.6 high, centred on rows 0, 1, 2
    assert [round(b.get_height(), 9) for b in bars] == [0.6, 0.6, 0.6]
    assert tuple(bars[0].get_facecolor()) == to_rgba(PALETTE["you"])
    assert tuple(bars[1].get_facecolor()) == to_rgba("white") and bars[1].get_hatch() == "///"  # few closed deals
    assert [t.get_text() for t in ax.get_yticklabels()] == ["North", "South", "East"]
    assert ax.get_ylim() == (2.5, -0.5)
    assert ax.get_title() == "Win rate by territory"
    matplotlib.pyplot.close(fig)


def test_forecast_heatmap_draws_seaborns_mesh_without_seaborn(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("seaborn's heatmap called")

    monkeypatch.setattr(sns, "heatmap", refuse)
    accuracy = pd.DataFrame(
        {
            "label": ["Ann", "Ann", "Bo"],
            "period": ["2025-Q1", "2025-Q2", "2025-Q1"],
            "forecast_error_pct": [20.0, -5.0, 40.0],
        }
    )
    fig = charts.forecast_error_heatmap(accuracy)
    ax, bar_axes = fig.axes
    mesh = ax.collections[0]
    values = mesh.get_array()
    # rows Ann, Bo; columns Q1, Q2; Bo's Q2 has no forecast: masked (the grey of missing values)
    assert values.reshape(2, 2).tolist() == [[20.0, -5.0], [40.0, None]]
    assert values.mask.reshape(2, 2).tolist() == [[False, False], [False, True]]
    # the colour scale is symmetric around 0: the 95th percentile of |error| (5, 20, 40: 20 + 0.9 x 20 = 38 %)
    assert mesh.get_clim() == pytest.approx((-38.0, 38.0))
    assert list(mesh.get_linewidths()) == [0.5] and tuple(mesh.get_edgecolor()[0]) == to_rgba("white")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2025-Q1", "2025-Q2"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Ann", "Bo"]
    assert list(ax.get_xticks()) == [0.5, 1.5] and list(ax.get_yticks()) == [0.5, 1.5]
    assert ax.get_ylim() == (2.0, 0.0) and ax.get_xlim() == (0.0, 2.0)  # the first rep on top
    assert not any(spine.get_visible() for spine in ax.spines.values())
    assert bar_axes.get_ylabel() == "Forecast error (%)"
    assert [t.get_rotation() for t in ax.get_yticklabels()] == [0.0, 0.0]
    matplotlib.pyplot.close(fig)


def test_team_warm_tables_leave_every_team_page_the_by_team_table_made(monkeypatch):
    """The batch's parent runs each page module's warm_tables into the memo: the team
    pages' one shared table no rep page asks for (metrics by team) is then made once."""
    from pathlib import Path

    import salesnb
    from salesnb.analysis import metrics
    from salesnb.present import team_page
    from salesnb.run import memo

    ds = salesnb.load(Path(__file__).resolve().parent.parent / "data" / "sample")
    ds.snapshot = True
    calls = []
    real = metrics.metrics_table

    def counted(ds, **kwargs):
        calls.append(kwargs["by"])
        return real(ds, **kwargs)

    monkeypatch.setattr(metrics, "metrics_table", counted)
    memo.clear()
    try:
        with memo.installed():
            team_page.warm_tables(ds, period="2025", as_of="2026-01-05")
            assert calls == ["team"]
            pages = [team_page.team_report(ds, team, period="2025", as_of="2026-01-05") for team in ("Alpha", "Beta")]
    finally:
        memo.clear()
    assert calls.count("team") == 1  # neither team page made it again
    assert [list(p.teams["team"]) for p in pages] == [["Alpha"], ["Beta"]]
    alone = team_page.team_report(
        salesnb.load(Path(__file__).resolve().parent.parent / "data" / "sample"), "Beta", period="2025", as_of="2026-01-05"
    )
    pd.testing.assert_frame_equal(pages[1].teams, alone.teams)


def test_effect_interval_draws_the_point_and_its_interval_without_seaborn(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("seaborn's pointplot called")

    monkeypatch.setattr(sns, "pointplot", refuse)
    effect = {"program": "Consultative Selling", "metric": "win_rate", "effect": 0.05, "ci_low": -0.02, "ci_high": 0.12}
    fig = charts.effect_interval(effect)
    ax = fig.axes[0]
    dot, interval = [line for line in ax.lines if line.get_linestyle() == "-"]
    # in percentage points: +5.0, from -2.0 to +12.0, on the program's row (0)
    assert dot.get_xdata() == pytest.approx([5.0]) and list(dot.get_ydata()) == [0.0]
    assert dot.get_marker() == "o" and dot.get_markersize() == 9
    assert dot.get_label() == "Effect and 95% interval"
    xs, ys = np.asarray(interval.get_xdata(), float), np.asarray(interval.get_ydata(), float)
    assert np.allclose(xs, [-2, -2, np.nan, -2, 12, np.nan, 12, 12], equal_nan=True)  # caps, the bar, caps
    assert np.allclose(ys, [-0.06, 0.06, np.nan, 0, 0, np.nan, -0.06, 0.06], equal_nan=True)  # caps 0.12 of a row
    assert interval.get_linewidth() == 3 and interval.get_color() == dot.get_color() == PALETTE["you"]
    assert [t.get_text() for t in ax.texts] == ["+5.0 (-2.0 to +12.0)"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["No effect", "Effect and 95% interval"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Consultative Selling"]
    matplotlib.pyplot.close(fig)
