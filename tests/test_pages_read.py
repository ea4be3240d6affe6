"""Pages people read (issue #14 item 7): money names its currency, counts agree
with their nouns, names read as the data writes them, no expectations.yml key
reaches a rep, and every chart keeps its benchmark on a sensibly spanned axis
under a title that is never cut."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salesnb
from salesnb.analysis import labels
from salesnb.present import charts, html, pages

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


@pytest.fixture(autouse=True)
def no_currency_left_behind():
    """A page sets the currency for what it formats: leave none set for the next test."""
    labels.set_currency(None)
    yield
    labels.set_currency(None)


@pytest.fixture(scope="module")
def ds():
    return salesnb.load(SAMPLE)


@pytest.fixture(scope="module")
def ds_eur(ds):
    goals = {**ds.expectations, "default": {**ds.expectations["default"], "currency": "EUR"}}
    return dataclasses.replace(ds, expectations=goals)


def text_of(fragment) -> str:
    markup = re.sub(r"<style.*?</style>", "", fragment.data, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup))


# -- money and its currency -------------------------------------------------------


def test_money_names_a_code_before_and_a_symbol_against_the_figure():
    assert labels.money(12300.4) == "12,300"  # no currency set: no sign, never a made-up "$"
    assert labels.money(12300.4, currency="EUR") == "EUR 12,300"
    assert labels.money(-12300.4, currency="EUR") == "EUR -12,300"
    assert labels.money(12300.4, currency="€") == "€12,300"
    assert labels.money(-12300.4, currency="€") == "-€12,300"
    assert labels.money(1_250_000, compact=True, currency="EUR") == "EUR 1.2M"
    assert labels.money(35_400, compact=True) == "35k"
    labels.set_currency("GBP")
    assert labels.fmt("revenue_won", 627987.47) == "GBP 627,987"
    assert labels.fmt_unit("currency", 800) == "GBP 800"
    assert labels.fmt("win_rate", 0.2658) == "27%"  # only money changes
    assert labels.axis_label("avg_deal_size") == "Average won deal (GBP)"
    labels.set_currency("  ")
    assert labels.fmt("revenue_won", 627987.47) == "627,987"
    assert labels.axis_label("avg_deal_size") == "Average won deal (currency)"


def test_currency_is_read_from_the_top_level_or_the_default_section():
    assert labels.currency_of({"currency": "EUR", "revenue_quota": 1}) == "EUR"
    assert labels.currency_of({"default": {"currency": " € "}, "reps": {}}) == "€"
    assert labels.currency_of({"default": {"revenue_quota": 1}}) is None
    assert labels.currency_of(None) is None


def test_a_rep_report_shows_the_currency_beside_every_money_figure(ds_eur):
    report = pages.rep_report(ds_eur, "R03", period="2025", as_of="2026-01-05")
    headline = text_of(html.headline(report.rep, report.figures, period=report.period.label))
    revenue = report.figures["revenue_won"]
    assert f"won EUR {revenue:,.0f} in revenue" in headline  # 627,987 for R03 in the sample
    evidence = text_of(html.evidence(report.factors, peer_label=report.peer_label))
    deal = report.factors.set_index("factor").loc["deal_size"]
    assert f"EUR {deal['rep_value']:,.0f}" in evidence and f"EUR {deal['peer_median']:,.0f}" in evidence
    card = text_of(html.scorecard(report.scorecard))
    quota = report.scorecard.set_index("expectation").loc["revenue_quota"]
    assert f"EUR {quota['target']:,.0f} EUR {quota['actual']:,.0f}" in card  # Target, then Actual
    value = text_of(html.value_cost(report.value))
    assert f"EUR {report.value['clv']:,.0f}" in value and f"EUR {report.value['annual_cost']:,.0f}" in value
    forecasts = text_of(html.forecasts(report.forecasts))
    assert f"EUR {report.forecasts['forecast_amount'].iloc[0]:,.0f}" in forecasts
    bands = charts.factor_bands(report.factors, peer_label=report.peer_label)
    assert "Average won deal (EUR)" in [ax.get_ylabel() for ax in bands.axes]
    assert charts.trend(report.trend("revenue_won"), metric="revenue_won").axes[0].get_ylabel() == "Revenue won (EUR)"
    assert charts.forecast_vs_actual(report.forecasts).axes[0].get_ylabel() == "Revenue (EUR)"


def test_without_a_currency_money_has_no_sign(ds):
    labels.set_currency("EUR")  # left over from another page: the next page's data names none
    report = pages.rep_report(ds, "R03", period="2025", as_of="2026-01-05")
    headline = text_of(html.headline(report.rep, report.figures, period=report.period.label))
    assert f"won {report.figures['revenue_won']:,.0f} in revenue" in headline
    assert "EUR" not in headline and "$" not in headline
    assert charts.forecast_vs_actual(report.forecasts).axes[0].get_ylabel() == "Revenue (currency)"


def test_team_and_forecast_pages_show_the_currency(ds_eur):
    team = pages.team_report(ds_eur, "Alpha", period="2025", as_of="2026-01-05")
    table = text_of(html.table(team.teams, columns=["team", "revenue_won", "avg_deal_size"]))
    assert f"EUR {team.teams['revenue_won'].iloc[0]:,.0f}" in table
    band = charts.team_band(team.band("deal_size"), metric="avg_deal_size")
    assert band.axes[0].get_xlabel() == "Average won deal (EUR)"
    deal_size = charts.team_bands(team.bands).axes[2]  # the page's chart: the third factor, its name wrapped
    assert " ".join(deal_size.get_xlabel().split()) == "Average won deal (EUR)"
    labels.set_currency(None)
    forecast = pages.forecast_report(ds_eur, period="2025", as_of="2026-01-05")
    shown = text_of(html.table(forecast.period_table, columns=["label", "forecast_amount", "revenue_won"]))
    assert f"EUR {forecast.period_table['revenue_won'].iloc[0]:,.0f}" in shown


# -- plurals, names, no config keys -----------------------------------------------


def test_counts_agree_with_their_nouns():
    assert labels.count_of(1, "closed deal") == "1 closed deal"
    assert labels.count_of(2, "closed deal") == "2 closed deals"
    assert labels.count_of(1, "new opportunity", "new opportunities") == "1 new opportunity"
    assert labels.count_of(1200, "new opportunity", "new opportunities") == "1,200 new opportunities"
    one = {"revenue_won": 9000.0, "won": 1, "closed": 1, "win_rate": 1.0, "opportunities": 1}
    text = text_of(html.headline({"rep_id": "R1", "name": "Ann"}, one, period="2025-Q1"))
    assert "from 1 deal, winning 100% of 1 deal closed, and opened 1 new opportunity." in text
    two = {**one, "won": 2, "closed": 3, "win_rate": 2 / 3, "opportunities": 2}
    text = text_of(html.headline({"rep_id": "R1", "name": "Ann"}, two, period="2025-Q1"))
    assert "from 2 deals, winning 67% of 3 deals closed, and opened 2 new opportunities." in text


def test_a_team_named_team_b_is_not_called_team_team_b(ds):
    reps = ds.reps.assign(team=ds.reps["team"].astype(str).replace({"Alpha": "Team B"}))
    renamed = dataclasses.replace(ds, tables={**ds.tables, "reps": reps})
    assert pages.team_report(renamed, "team b", period="2025", as_of="2026-01-05").title == "Team B"
    assert pages.team_report(renamed, "beta", period="2025", as_of="2026-01-05").title == "Team Beta"


def test_no_expectations_key_reaches_the_scorecard():
    card = pd.DataFrame(
        [
            {"expectation": "prospecting_methods", "target": np.nan, "actual": 0.75, "met": np.nan, "unit": "share",
             "note": "15 of 20 new customers from referral; set min_prospecting_share to judge it"},
            {"expectation": "pipeline_coverage", "target": 3.0, "actual": np.nan, "met": np.nan, "unit": "x quota",
             "note": "needs revenue_quota to be measured"},
            {"expectation": "max_travel_share", "target": 0.2, "actual": 0.18, "met": True, "unit": "share", "note": ""},
        ]
    )  # fmt: skip
    text = text_of(html.scorecard(card))
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), text
    assert "set &#x27;Least share of new customers from prospecting&#x27; to judge it" in text  # escaped quotes
    assert "needs &#x27;Revenue against quota&#x27; to be measured" in text
    assert "Share of activities that are visits (at most)" in text


def factors(**changes) -> pd.DataFrame:
    row = {
        "factor": "conversion",
        "metric": "win_rate",
        "rep_value": 0.62,
        "peer_low": None,
        "peer_median": 0.30,
        "peer_high": None,
        "small_sample": False,
        "is_focus": False,
    }
    return pd.DataFrame([{**row, **changes}])


def test_factor_bands_keeps_the_peer_median_on_the_axis_without_a_band():
    ax = charts.factor_bands(factors()).axes[0]
    low, high = ax.get_ylim()
    assert low <= 0.30 <= high and low <= 0.62 <= high  # the old axis, fitted to the rep alone, began at 0.50


def test_a_rate_axis_spans_at_least_twenty_points():
    ax = charts.factor_bands(factors(rep_value=0.61, peer_median=0.63)).axes[0]
    low, high = ax.get_ylim()
    assert high - low >= 0.2 and low <= 0.61 and high >= 0.63 and 0 <= low and high <= 1
    trend = pd.DataFrame(
        {"quarter": ["2025-Q1", "2025-Q2"], "rep_value": [0.61, 0.62], "peer_median": [0.63, 0.62]}
    )  # fmt: skip
    low, high = charts.trend(trend, metric="win_rate").axes[0].get_ylim()
    assert low == 0 and high - low >= 0.2


def test_team_band_keeps_the_team_band_on_the_axis():
    frame = pd.DataFrame(
        {"label": ["A", "B"], "value": [0.61, 0.62], "band_low": 0.2, "band_median": 0.3, "band_high": 0.9}
    )  # fmt: skip
    low, high = charts.team_band(frame, metric="win_rate").axes[0].get_xlim()
    assert low <= 0.2 and high >= 0.9


def test_a_counts_axis_has_whole_ticks_and_a_money_axis_compact_ones():
    fig = charts.trend(
        pd.DataFrame({"quarter": ["Q1", "Q2"], "rep_value": [3, 4], "peer_median": [3, 3]}), metric="opportunities"
    )
    html.chart(fig)  # drawn: the ticks are laid out
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert ticks and all(re.fullmatch(r"\d+", t) for t in ticks), ticks
    labels.set_currency("EUR")
    fig = charts.trend(
        pd.DataFrame({"quarter": ["Q1", "Q2"], "rep_value": [250_000.0, 400_000.0], "peer_median": [300_000.0, 1_200_000.0]}),
        metric="revenue_won",
    )
    html.chart(fig)
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert "0" in ticks and "1.0M" in ticks and "400k" in ticks, ticks


def every_chart():
    from chart_inputs import ACCURACY, BAND, BANDS, BIAS, EFFECT, FACTORS, TREND

    focus = FACTORS.assign(is_focus=True, factor=["prospecting", "conversion", "deal_size", "velocity"][: len(FACTORS)])
    yield "factor_bands", charts.factor_bands(focus, peer_label="all-rep")
    yield "trend", charts.trend(TREND, metric="opportunities", peer_label="all-rep")
    yield "team_band", charts.team_band(BAND, metric="win_rate")
    yield (
        "team_band titled",
        charts.team_band(
            BAND,
            metric="avg_deal_size",
            title="Average won deal by rep against the middle half of the whole company, this quarter",
        ),
    )
    yield "team_bands", charts.team_bands(BANDS)
    long_names = BANDS.assign(label=BANDS["label"].map(lambda name: f"{name} Featherstonehaugh-Cholmondeley"))
    yield "team_bands long names", charts.team_bands(long_names)
    yield "effect", charts.effect_interval(EFFECT)
    yield "heatmap", charts.forecast_error_heatmap(ACCURACY)
    yield "bias", charts.forecast_bias(BIAS)
    yield "forecast", charts.forecast_vs_actual(pd.DataFrame({"period": ["2025-Q1"], "forecast_amount": [1.0], "actual": [2.0]}))


@pytest.mark.parametrize(
    "name",
    [
        "factor_bands",
        "trend",
        "team_band",
        "team_band titled",
        "team_bands",
        "team_bands long names",
        "effect",
        "heatmap",
        "bias",
        "forecast",
    ],
)
def test_no_title_is_cut_or_runs_into_another(name):
    fig = dict(every_chart())[name]
    fig.set_dpi(90)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = fig.bbox
    titles = [ax.title for ax in fig.axes if ax.get_title()]
    if fig._suptitle is not None:
        titles.append(fig._suptitle)
    boxes = [t.get_window_extent(renderer) for t in titles]
    for text, box in zip(titles, boxes):
        assert box.x0 >= frame.x0 - 0.5 and box.x1 <= frame.x1 + 0.5, f"{text.get_text()!r} is cut"
        assert box.y1 <= frame.y1 + 0.5, f"{text.get_text()!r} is cut at the top"
    panel_titles = [b for t, b in zip(titles, boxes) if t is not fig._suptitle]
    for i, a in enumerate(panel_titles):
        for b in panel_titles[i + 1 :]:
            assert not a.overlaps(b), "two panel titles run into each other"
