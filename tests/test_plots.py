"""Charts: each function returns a Figure with a title, labelled axes (units in
parentheses on numeric axes) and draws data text literally.

The inputs are small hand-made frames in the shapes salesnb.present.pages produces:
a rep at a 27 % win rate against a team whose middle half is 55-75 %, three
quarters of trend, two forecasts, four reps with a value/cost ratio.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from chart_inputs import ACCURACY, BAND, BANDS, BIAS, EFFECT, FACTORS, HOSTILE, TREND, TRENDS
from matplotlib.figure import Figure

from salesnb.present import charts, layout_memos
from salesnb.present import drawing as figures

CASES = {
    "factor_bands": (charts.factor_bands, (FACTORS,), {"peer_label": "team"}, "y"),
    "trend": (charts.trend, (TREND,), {"metric": "win_rate"}, "y"),
    "trend_revenue": (charts.trend, (TREND.assign(rep_value=[1e5, 2e5, 3e5]),), {"metric": "revenue_won"}, "y"),
    "trends": (charts.trends, (TRENDS,), {"peer_label": "team"}, "y"),
    "value_vs_cost": (
        charts.value_vs_cost,
        (pd.DataFrame({"label": ["You", "Team median"], "value_cost_ratio": [13.2, 19.0]}),),
        {"highlight": ["You"]},
        "x",
    ),
    "forecast_vs_actual": (
        charts.forecast_vs_actual,
        (
            pd.DataFrame(
                {"period": ["2025-Q1", "2025-Q2"], "forecast_amount": [168_700.0, 128_300.0], "actual": [173_282.0, 117_192.0]}
            ),
        ),
        {},
        "y",
    ),
    "team_band": (charts.team_band, (BAND,), {"metric": "win_rate"}, "x"),
    "team_bands": (charts.team_bands, (BANDS,), {}, "x"),
    "metric_bars": (
        charts.metric_bars,
        (pd.DataFrame({"territory": ["North", HOSTILE], "revenue_won": [4.6e6, 2.9e6]}),),
        {"metric": "revenue_won", "group": "territory"},
        "x",
    ),
    "effect_interval": (charts.effect_interval, (EFFECT,), {}, "x"),
    "before_after": (
        charts.before_after,
        ({"treated_before": 0.57, "treated_after": 0.71, "control_before": 0.55, "control_after": 0.55},),
        {},
        "y",
    ),
    "forecast_error_heatmap": (charts.forecast_error_heatmap, (ACCURACY,), {}, None),
    "forecast_bias": (charts.forecast_bias, (BIAS,), {}, "x"),
    "quality_counts": (
        charts.quality_counts,
        (pd.DataFrame({"flag": ["padded_activity", "stale_pipeline"], "rows": [536, 11]}),),
        {},
        "x",
    ),
}


def chart_axes(fig: Figure):
    """The figure's axes, colour bars left out (they carry their own label)."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


@pytest.mark.parametrize("case", list(CASES))
def test_every_chart_has_a_title_labelled_axes_and_units(case):
    draw, args, kwargs, numeric = CASES[case]
    fig = draw(*args, **kwargs)
    assert isinstance(fig, Figure)
    axes = chart_axes(fig)
    assert axes
    for ax in axes:
        assert ax.get_title().strip(), f"{case}: an axes without a title"
        # panels stacked on one x axis (trends): the axis is named once, under the bottom panel;
        # panels side by side on one y axis (team_bands): named once, left of the first
        xlabels = [other.get_xlabel().strip() for other in ax.get_shared_x_axes().get_siblings(ax)]
        ylabels = [other.get_ylabel().strip() for other in ax.get_shared_y_axes().get_siblings(ax)]
        assert any(xlabels) and any(ylabels), f"{case}: an unlabelled axis"
        if numeric:
            text = ax.get_xlabel() if numeric == "x" else ax.get_ylabel()
            assert "(" in text and text.endswith(")"), f"{case}: numeric axis label {text!r} has no unit"
    assert tuple(fig.get_size_inches())[0] <= 7.5  # small figures keep reports light
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)  # data text never breaks drawing
    assert buffer.tell() > 0


def test_charts_live_outside_pyplot():
    before = plt.get_fignums()
    for draw, args, kwargs, _ in CASES.values():
        draw(*args, **kwargs)
    assert plt.get_fignums() == before  # nothing for the inline backend to show twice, nothing left open


def test_data_text_is_drawn_literally():
    fig = charts.team_band(BAND, metric="win_rate")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert HOSTILE in labels


def test_a_big_team_is_drawn_as_its_spread_not_one_row_per_rep():
    # 41 reps (over MANY_REPS = 40): a histogram of the reps' win rates, the band and the
    # median, and how many reps have the factor as their focus; no rep is named on the chart
    from salesnb.present.analyst_charts import MANY_REPS

    n = MANY_REPS + 1
    rates = np.linspace(0.3, 0.7, n)
    big = pd.DataFrame(
        {
            "label": [f"Rep {i} (R{i})" for i in range(n)],
            "value": rates,
            "small_sample": False,
            "is_focus": [i < 3 for i in range(n)],
            "band_low": 0.4,
            "band_median": 0.5,
            "band_high": 0.6,
        }
    )
    fig = charts.team_band(big, metric="win_rate")
    ax = fig.axes[0]
    assert " ".join(ax.get_title().split()) == f"Win rate across the team's {n} reps"
    assert ax.get_ylabel() == "Reps (count)" and ax.get_xlabel() == "Win rate (%)"
    assert not any("R1" in t.get_text() for t in ax.get_yticklabels())
    heights = [p.get_height() for p in ax.patches if p.get_width() < 0.1]  # the bars, not the band
    assert sum(heights) == n
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "3 reps with this as their focus (see the queue)" in legend and "Team median" in legend
    # one rep fewer: one row per rep, as before
    small = charts.team_band(big.iloc[:MANY_REPS], metric="win_rate")
    assert len(small.axes[0].get_yticklabels()) == MANY_REPS
    value = charts.team_value(pd.DataFrame({"label": big["label"], "value_cost_ratio": np.linspace(1, 9, n)}))
    assert value.axes[0].get_ylabel() == "Reps (count)"
    plt.close("all")


def _words(text: str) -> str:
    return " ".join(text.split())  # a title or axis name wrapped to its panel, on one line


def test_team_bands_puts_the_four_factors_side_by_side_on_one_rep_axis():
    from matplotlib.collections import LineCollection, PathCollection
    from matplotlib.colors import to_hex

    from salesnb.present import html

    fig = charts.team_bands(BANDS)
    assert fig.get_suptitle() == "Funnel factors by rep, against the team's middle half"
    first = fig.axes[0]
    # the factors in the funnel's order (BANDS lists conversion first), each panel's axis in its unit
    assert [_words(ax.get_title()) for ax in fig.axes] == ["Prospecting", "Conversion", "Deal size", "Velocity"]
    assert [_words(ax.get_xlabel()) for ax in fig.axes] == [
        "New opportunities (count)",
        "Win rate (%)",
        "Average won deal (currency)",
        "Median sales cycle (days, lower is faster)",
    ]
    assert [ax.get_ylabel() for ax in fig.axes] == ["Rep", "", "", ""]
    assert all(first.get_shared_y_axes().joined(first, ax) for ax in fig.axes[1:])
    fig.canvas.draw()
    # each rep named once, on the left, the first on top; a name over 24 characters on more lines
    assert [t.get_text() for t in first.get_yticklabels()] == ["Ann (R1)", HOSTILE, "Cy (R3)", "Di (R4)"]
    longer = charts.team_bands(BANDS.assign(label=BANDS["label"] + " Featherstonehaugh")).axes[0]
    assert longer.get_yticklabels()[0].get_text() == "Ann (R1)\nFeatherstonehaugh"
    assert not [t for ax in fig.axes[1:] for t in ax.get_yticklabels() if t.get_visible() and t.get_text()]
    assert first.get_ylim() == (3.5, -0.5)
    # the team's middle half and median per panel (prospecting 20-35 around 28, velocity 30-45 around 38)
    prospecting, conversion, deal_size, velocity = fig.axes
    span = prospecting.patches[0]
    assert (span.get_x(), span.get_x() + span.get_width()) == (20.0, 35.0)
    assert list(prospecting.lines[0].get_xdata()) == [28.0, 28.0]
    assert list(velocity.lines[0].get_xdata()) == [38.0, 38.0]

    # each value on its rep's row: Di (no deal size) has no dot there; Cy's velocity is its focus, hollow
    def dots(ax):
        return [c for c in ax.collections if isinstance(c, PathCollection)]

    velocity_dots = {tuple(map(float, xy)) for c in dots(velocity) for xy in c.get_offsets()}
    assert velocity_dots == {(35.0, 0.0), (41.0, 1.0), (90.0, 2.0), (28.0, 3.0)}
    deal_dots = sorted(float(xy[1]) for c in dots(deal_size) for xy in c.get_offsets())
    assert deal_dots == [0.0, 1.0, 3.0]
    (cy,) = [c for c in dots(velocity) if tuple(c.get_offsets()[0]) == (90.0, 2.0)]
    # a guide along each rep's row in every panel, the band drawn over it
    for ax in fig.axes:
        (guides,) = [c for c in ax.collections if isinstance(c, LineCollection)]
        assert [float(segment[0][1]) for segment in guides.get_segments()] == [0.0, 1.0, 2.0, 3.0]
        assert guides.get_zorder() < ax.patches[0].get_zorder()
    assert to_hex(cy.get_facecolor()[0]) == "#ffffff" and to_hex(cy.get_edgecolor()[0]) == charts.PALETTE["focus"]
    low, high = velocity.get_xlim()
    assert low <= 28 and high >= 90  # every rep and the band on the axis
    assert conversion.xaxis.get_major_formatter()(0.5, 0) == "50%" and deal_size.xaxis.get_major_formatter()(25_000, 0) == "25k"
    # one legend for the figure: every mark drawn, named once
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "Team middle half",
        "Team median",
        "Rep",
        "Rep, few closed deals",
        "Rep whose focus this is",
        "Rep whose focus this is, few closed deals",
    ]
    alt = html.chart(charts.team_bands(BANDS)).alt
    assert alt == "Funnel factors by rep, against the team's middle half: Prospecting, Conversion, Deal size, Velocity"


def test_team_bands_of_a_big_team_shows_each_factors_spread_two_by_two():
    from salesnb.present.analyst_charts import MANY_REPS

    n = MANY_REPS + 1
    big = pd.concat(
        [
            pd.DataFrame(
                {
                    "factor": factor,
                    "metric": metric,
                    "label": [f"Rep {i} (R{i})" for i in range(n)],
                    "value": np.linspace(low, high, n),
                    "small_sample": False,
                    "is_focus": [factor == "conversion" and i < 3 for i in range(n)],
                    "band_low": low,
                    "band_median": (low + high) / 2,
                    "band_high": high,
                }
            )
            for factor, metric, low, high in [
                ("prospecting", "opportunities", 10.0, 50.0),
                ("conversion", "win_rate", 0.3, 0.7),
                ("deal_size", "avg_deal_size", 10_000.0, 40_000.0),
                ("velocity", "cycle_days_median", 20.0, 80.0),
            ]
        ],
        ignore_index=True,
    )
    fig = charts.team_bands(big)
    assert fig.get_suptitle() == f"Funnel factors across the team's {n} reps"
    assert [_words(ax.get_title()) for ax in fig.axes] == [
        "Prospecting",
        "Conversion (focus of 3 reps)",
        "Deal size",
        "Velocity",
    ]
    positions = [(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start) for ax in fig.axes]
    assert positions == [(0, 0), (0, 1), (1, 0), (1, 1)]  # two by two: each panel half the figure wide
    for ax in fig.axes:
        assert ax.get_ylabel() == "Reps (count)"
        assert sum(p.get_height() for p in ax.patches if p.get_label() != "Team middle half") == n  # every rep counted
        assert not any("R1" in t.get_text() for t in ax.get_yticklabels())  # no rep named
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Team middle half", "Reps", "Team median"]
    # one rep fewer: a row per rep, on the four panels side by side
    small = charts.team_bands(big[big["label"] != f"Rep {n - 1} (R{n - 1})"])
    assert len(small.axes) == 4 and len(small.axes[0].get_yticklabels()) == MANY_REPS
    plt.close("all")


def test_factor_bands_has_one_panel_per_factor_with_units():
    fig = charts.factor_bands(FACTORS)
    titles = [" ".join(ax.get_title().split()) for ax in fig.axes]  # a title wider than its panel wraps
    assert titles == ["Prospecting", "Conversion (focus)", "Deal size", "Velocity"]
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "New opportunities (count)",
        "Win rate (%)",
        "Average won deal (currency)",
        "Median cycle (days, lower is faster)",
    ]


def test_factor_bands_legend_shows_you_in_blue_whichever_panel_is_the_focus():
    from matplotlib.colors import to_hex

    focus_first = FACTORS.assign(is_focus=FACTORS["factor"] == "prospecting")
    legend = charts.factor_bands(focus_first).legends[0]
    you = dict(zip([t.get_text() for t in legend.get_texts()], legend.legend_handles))["You"]
    assert to_hex(you.get_edgecolor()[0]) == charts.PALETTE["you"]
    # every colour drawn is named: the vermillion focus dot and the hollow few-deals dot too
    assert sorted(t.get_text() for t in legend.get_texts()) == [
        "Hollow: few closed deals",
        "Team median",
        "Team middle half",
        "You",
        "You, on your focus",
    ]


def test_trend_units_and_axis_format():
    fig = charts.trend(TREND, metric="win_rate", peer_label="team")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Win rate (%)" and ax.get_xlabel() == "Quarter"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2025-Q1", "2025-Q2", "2025-Q3"]
    assert "You, fewer than 10 deals closed" in ax.get_legend_handles_labels()[1]


def test_trend_band_of_a_lone_quarter_is_drawn_as_a_bar():
    """fill_between draws nothing for a quarter whose neighbours have no band:
    TREND's 2025-Q1 and 2025-Q3 get a short bar spanning their middle half."""
    ax = charts.trend(TREND, metric="win_rate").axes[0]
    bars = sorted((round(b.get_x() + b.get_width() / 2, 6), round(b.get_y(), 6), round(b.get_height(), 6)) for b in ax.patches)
    assert bars == [(0.0, 0.57, 0.18), (2.0, 0.55, round(0.71 - 0.55, 6))]
    joined = TREND.assign(peer_low=[0.57, 0.56, 0.55], peer_high=[0.75, 0.74, 0.71])
    assert not charts.trend(joined, metric="win_rate").axes[0].patches  # a run of quarters: the area alone


def _titles(fig) -> list[str]:
    return [" ".join(ax.get_title().split()) for ax in fig.axes]


def test_trends_stacks_the_three_metrics_on_one_quarter_axis_with_one_legend():
    fig = charts.trends(TRENDS, peer_label="team")
    assert fig.get_suptitle() == "Your last quarters beside your team's median"
    assert _titles(fig) == ["Win rate", "Revenue won", "New opportunities"]
    assert [ax.get_ylabel() for ax in fig.axes] == ["Win rate (%)", "Revenue won (currency)", "New opportunities (count)"]
    assert [ax.get_xlabel() for ax in fig.axes] == ["", "", "Quarter"]  # named once, at the bottom
    top, middle, bottom = fig.axes
    assert top.get_shared_x_axes().joined(top, bottom) and middle.get_shared_x_axes().joined(middle, bottom)
    fig.canvas.draw()
    assert [t.get_text() for t in bottom.get_xticklabels() if t.get_visible()] == ["2025-Q1", "2025-Q2", "2025-Q3"]
    assert not [t for t in top.get_xticklabels() if t.get_visible() and t.get_text()]  # the quarters once
    assert not any(ax.get_legend() for ax in fig.axes) and len(fig.legends) == 1
    # each name once, for the whole figure: the hollow win-rate dots too (2025-Q2, few deals closed)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "You",
        "You, fewer than 10 deals closed",
        "Team median",
        "Team middle half",
    ]
    everyone = charts.trends(TRENDS, peer_label="all-rep")
    assert everyone.get_suptitle() == "Your last quarters beside all reps' median"
    assert "All-rep median" in [t.get_text() for t in everyone.legends[0].get_texts()]


def test_each_trends_panel_formats_and_fits_its_value_axis_as_its_own_chart_would():
    fig = charts.trends(TRENDS)
    for ax, (metric, frame) in zip(fig.axes, TRENDS.items()):
        alone = charts.trend(frame, metric=metric).axes[0]
        assert ax.get_ylim() == alone.get_ylim(), metric
        assert type(ax.yaxis.get_major_formatter()) is type(alone.yaxis.get_major_formatter()), metric
    win_rate, revenue, opportunities = fig.axes
    assert win_rate.get_ylim() == pytest.approx((0.0, 0.84))  # a rate from zero: 0 to 75 % and 12 % of that span above
    assert win_rate.yaxis.get_major_formatter()(0.5, 0) == "50%"
    assert revenue.yaxis.get_major_formatter()(250_000, 0) == "250k"
    assert opportunities.get_ylim() == pytest.approx((0.0, 25.76))  # 0 to 23 and 12 % of 23 above
    assert opportunities.yaxis.get_major_formatter()(12, 0) == "12"


def test_trends_draw_no_peer_figure_left_out():
    """A quarter whose peers' median or middle half was left out (too few peers, or
    withheld for privacy: NaN in the rep report's trend) has nothing drawn for it."""
    frame = pd.DataFrame(
        {
            "quarter": ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"],
            "rep_value": [0.30, 0.32, 0.31, 0.35],
            "peer_low": [0.50, 0.52, np.nan, 0.55],
            "peer_median": [0.60, 0.61, np.nan, 0.64],
            "peer_high": [0.70, 0.72, np.nan, 0.74],
        }
    )
    fig = charts.trends({"win_rate": frame, "opportunities": frame.assign(peer_low=np.nan, peer_high=np.nan)})
    win_rate, opportunities = fig.axes
    median = next(line for line in win_rate.lines if line.get_label() == "Team median")
    assert np.isnan(median.get_ydata()[2]) and list(median.get_ydata()[[0, 1, 3]]) == [0.60, 0.61, 0.64]
    (area,) = win_rate.collections[:1]
    covered = np.concatenate([path.vertices[:, 0] for path in area.get_paths()])
    assert 2.0 not in set(np.round(covered, 6)) and {0.0, 1.0} <= set(np.round(covered, 6))  # Q1 to Q2, nothing at Q3
    bars = [(p.get_x() + p.get_width() / 2, p.get_y(), p.get_height()) for p in win_rate.patches]
    assert bars == [(3.0, 0.55, pytest.approx(0.19))]  # Q4 alone: a short bar
    assert not opportunities.patches and not opportunities.collections[:-1]  # no band at all: none drawn
    assert "Team middle half" in [t.get_text() for t in fig.legends[0].get_texts()]  # drawn in one panel


def test_a_trends_panel_without_the_reps_figures_says_so():
    hired_later = {m: f.assign(rep_value=np.nan) if m == "opportunities" else f for m, f in TRENDS.items()}
    fig = charts.trends(hired_later)
    assert _titles(fig)[2] == "New opportunities: no figure of yours in these quarters"
    assert _titles(fig)[:2] == ["Win rate", "Revenue won"]
    peers = next(line for line in fig.axes[2].lines if line.get_label() == "Team median")
    assert list(peers.get_ydata()) == [20.0, 18.0, 22.0]  # the peers are still drawn


def test_trends_alt_text_names_every_metric():
    from salesnb.present import html

    image = html.chart(charts.trends(TRENDS))
    assert image.alt == "Your last quarters beside your team's median: Win rate, Revenue won, New opportunities"


def test_empty_inputs_still_give_a_titled_chart():
    empty = charts.forecast_vs_actual(pd.DataFrame(columns=["period", "forecast_amount", "actual"]))
    assert empty.axes[0].get_title()
    no_cost = charts.value_vs_cost(pd.DataFrame({"label": ["You"], "value_cost_ratio": [np.nan]}))
    assert "No yearly cost" in " ".join(t.get_text() for t in no_cost.axes[0].texts)


def test_wrong_frame_says_which_columns_are_needed():
    with pytest.raises(KeyError, match="needs the columns"):
        charts.trend(pd.DataFrame({"quarter": []}), metric="win_rate")


def test_tick_memo_draws_the_same_pixels_and_skips_recomputing(monkeypatch):
    """plots remembers each axis's ticks while nothing they depend on changes:
    every chart kind's pixels are the same as when matplotlib recomputes them
    at every request, and a chart computes them a handful of times, not ~30."""

    def png(fig):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
        return buffer.getvalue()

    memoised = {name: png(draw(*args, **kwargs)) for name, (draw, args, kwargs, _) in CASES.items()}
    computed, asked = [], []
    memo_call = layout_memos._TickMemo.__call__
    monkeypatch.setattr(layout_memos._TickMemo, "__call__", lambda self: asked.append(1) or memo_call(self))
    real_init = layout_memos._TickMemo.__init__

    def counting_init(self, axis):
        real_init(self, axis)
        compute = self._compute
        self._compute = lambda: computed.append(1) or compute()

    monkeypatch.setattr(layout_memos._TickMemo, "__init__", counting_init)
    png(charts.trend(TREND, metric="win_rate"))
    assert len(asked) > 3 * len(computed) > 0
    monkeypatch.setattr(layout_memos._TickMemo, "__call__", lambda self: self._compute())  # recompute every time
    for name, (draw, args, kwargs, _) in CASES.items():
        assert png(draw(*args, **kwargs)) == memoised[name], name


def test_charts_of_one_size_share_a_renderer_and_draw_what_a_fresh_one_would():
    """plots keeps one Agg renderer per chart size (text sizes measured once);
    a chart's pixels are the same as with matplotlib's own fresh canvas, and
    drawing another chart in between leaves nothing behind."""
    from matplotlib.backend_bases import FigureCanvasBase

    def png(fig):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
        return buffer.getvalue()

    def fresh(fig):
        FigureCanvasBase(fig)  # savefig then draws on a new Agg canvas, as for any Figure
        return png(fig)

    first, second = charts.trend(TREND, metric="win_rate"), charts.trend(TREND, metric="win_rate")
    assert first.canvas.get_renderer() is second.canvas.get_renderer()
    for name, (draw, args, kwargs, _) in CASES.items():
        shared = png(draw(*args, **kwargs))
        png(charts.factor_bands(FACTORS))  # something else on the shared renderers in between
        assert shared == fresh(draw(*args, **kwargs)), name


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def _without_glyph_cache(monkeypatch):
    monkeypatch.setattr(figures._Glyphs, "fits", staticmethod(lambda: False))


def test_stocked_figures_draw_what_new_ones_would(monkeypatch):
    """A report template makes blank figures ahead (charts.stock_figures); a
    chart that takes one draws the same pixels as one that builds its own,
    each is taken once, and none is taken once matplotlib's settings changed."""
    fresh = {name: _png(draw(*args, **kwargs)) for name, (draw, args, kwargs, _) in CASES.items()}

    def draw_all():
        for draw, args, kwargs, _ in CASES.values():
            _png(draw(*args, **kwargs))

    made = charts.stock_figures(draw_all)
    try:
        assert made == len(CASES)
        taken = []
        real_take = figures._STOCK.take
        monkeypatch.setattr(figures._STOCK, "take", lambda shape: taken.append(real_take(shape)) or taken[-1])
        for name, (draw, args, kwargs, _) in CASES.items():
            assert _png(draw(*args, **kwargs)) == fresh[name], name
        assert sum(t is not None for t in taken) >= len(CASES) - 1  # two cases may share a shape: one each
        assert charts.stock_figures(draw_all) == made
        taken.clear()
        with plt.rc_context({"lines.linewidth": 3.0}):  # another setting: stock figures would not match it
            charts.trend(TREND, metric="win_rate")
        assert taken == [None]
    finally:
        figures._STOCK.clear()


def test_glyph_cache_draws_what_matplotlib_draws(monkeypatch):
    """Text is drawn from remembered layouts and glyph bitmaps (figures._Glyphs):
    the pixels are those of matplotlib's own text drawing, for every chart
    kind, rotated labels and text drawn without antialiasing included."""
    figures._GLYPHS._layouts.clear()
    figures._GLYPHS._bitmaps.clear()
    with plt.rc_context({"text.antialiased": False}):
        aliased = _png(charts.trend(TREND, metric="revenue_won"))
    cached = {name: _png(draw(*args, **kwargs)) for name, (draw, args, kwargs, _) in CASES.items()}
    assert aliased != cached["trend_revenue"]  # the other rendering mode did draw otherwise
    again = _png(charts.factor_bands(FACTORS))  # this time every glyph comes from the cache
    assert figures._GLYPHS._bitmaps and figures._GLYPHS._layouts
    _without_glyph_cache(monkeypatch)
    for name, (draw, args, kwargs, _) in CASES.items():
        assert _png(draw(*args, **kwargs)) == cached[name], name
    assert _png(charts.factor_bands(FACTORS)) == again
    with plt.rc_context({"text.antialiased": False}):
        assert _png(charts.trend(TREND, metric="revenue_won")) == aliased
