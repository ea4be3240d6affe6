"""HTML fragments: every data value escaped, every number formatted by one rule.

The hostile values are the ones the issue names: a rep called
``<script>alert(1)</script>`` and a territory ``<b>bold</b>``; each must reach
the page as text (``&lt;script&gt;...``), never as a tag.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from salesnb.present import html as show

SCRIPT = "<script>alert(1)</script>"
BOLD = "<b>bold</b>"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
BOLD_ESCAPED = "&lt;b&gt;bold&lt;/b&gt;"


def markup(fragment) -> str:
    return fragment.data


# -- numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "value", "text"),
    [
        ("win_rate", 10 / 15, "67%"),  # the contract's worked example: 10 won of 15 closed
        ("contact_close_rate", 10 / 60, "17%"),  # 10 won, 60 contacts
        ("win_rate", 0.2658, "27%"),
        ("revenue_won", 627_987.47, "627,987"),
        ("avg_deal_size", 29_904.17, "29,904"),
        ("opportunities", 77, "77"),
        ("cycle_days_median", 31.0, "31 days"),
        ("value_cost_ratio", 5.0, "5.0x"),  # 500,000 of value for a rep costing 100,000
        ("pipeline_coverage", 0.3113, "0.3x"),
        ("forecast_error_pct", 41.1, "+41%"),
        ("forecast_error_pct", -26.5, "-26%"),  # round half to even: -26.5 -> -26
        ("forecast_error_pct", -0.2, "0%"),  # never "-0%"
        ("contacts_per_opportunity", 7.5714, "7.57"),
        ("win_rate", None, "n/a"),
        ("revenue_won", float("nan"), "n/a"),
    ],
)
def test_fmt_is_the_one_formatting_rule(metric, value, text):
    assert show.fmt(metric, value) == text


def test_axis_labels_carry_units():
    assert show.axis_label("win_rate") == "Win rate (%)"
    assert show.axis_label("revenue_won") == "Revenue won (currency)"
    assert show.axis_label("cycle_days_median") == "Median sales cycle (days)"
    assert show.axis_label("opportunities") == "New opportunities (count)"


# -- tables --------------------------------------------------------------------------


def test_table_escapes_every_cell_and_header_and_formats_metrics():
    frame = pd.DataFrame({"name": [SCRIPT, "Ann"], BOLD: ["x", "y"], "win_rate": [0.5, np.nan], "revenue_won": [1234.5, 0.0]})
    html = markup(show.table(frame, notes=[f"note about {BOLD}"]))
    assert "<script>" not in html and "<b>" not in html
    assert SCRIPT_ESCAPED in html and BOLD_ESCAPED in html
    assert "<td>50%</td>" in html and "<td>n/a</td>" in html and "<td>1,234</td>" in html
    assert '<th scope="col">Win rate</th>' in html


def test_table_columns_rename_and_unit_formats():
    frame = pd.DataFrame({"label": ["A (R1)"], "rows": [1234], "share_over": [0.75]})
    html = markup(
        show.table(
            frame,
            columns={"label": "Who", "rows": "Rows", "share_over": "Over"},
            formats={"rows": "count", "share_over": "share"},
        )
    )
    # words are left-aligned (class "text"), figures keep the right alignment
    assert '<th scope="col" class="text">Who</th>' in html and '<td class="text">A (R1)</td>' in html
    assert '<th scope="col">Rows</th>' in html and "<td>1,234</td>" in html and "<td>75%</td>" in html
    with pytest.raises(KeyError, match="no columns"):
        show.table(frame, columns=["nope"])


def test_empty_table_says_so():
    html = markup(show.table(pd.DataFrame({"a": []}), empty=f"Nothing for {SCRIPT}"))
    assert "Nothing for " + SCRIPT_ESCAPED in html and "<table" not in html


# -- rep report fragments --------------------------------------------------------------

REP = {"rep_id": "R03", "name": SCRIPT, "team": "Alpha", "territory": BOLD}
FIGURES = {"revenue_won": 627_987.47, "won": 21, "closed": 79, "win_rate": 21 / 79, "opportunities": 77, "attainment": 0.628}


def test_headline_escapes_the_name_and_territory_and_marks_each_figure():
    html = markup(show.headline(REP, FIGURES, period="2025"))
    assert "<script>" not in html and "<b>bold" not in html
    assert SCRIPT_ESCAPED in html and BOLD_ESCAPED in html
    assert '<strong class="metric win_rate">27%</strong>' in html  # 21 / 79 = 0.266
    assert '<strong class="metric revenue_won">627,987</strong>' in html
    assert '<strong class="metric attainment">63%</strong>' in html


DIAGNOSIS = {
    "focus": "conversion",
    "strengths": [f"Opened 77 new opportunities for {BOLD}"],
    "summary": (
        f"{SCRIPT}, first what is working: you opened 77 new opportunities, in line with the team median of 77. "
        "You won 27% of your closed deals in 2025, against the team median of 68%. The lever is qualification."
    ),
    "questions": [f"What about {SCRIPT}?", "Second?", "Third?", "Fourth is never shown?"],
    # the facts the focus box words (the summary's second part is built from them)
    "period": "2025",
    "peer_group": "team",
    "evidence": [
        {
            "factor": "conversion",
            "metric": "win_rate",
            "rep_value": 21 / 79,
            "peer_median": 0.681,
            "gap_pct": -61.0,
            "score": 0.94,
        }
    ],
}


def test_strengths_focus_and_questions_escape_and_show_what_they_should():
    strengths = markup(show.strengths(DIAGNOSIS))
    assert BOLD_ESCAPED in strengths and "<b>" not in strengths
    focus = markup(show.focus(DIAGNOSIS))
    assert 'class="focus conversion"' in focus and "Focus: conversion" in focus
    assert focus.count("You won 27%") == 1 and "first what is working" not in focus  # strengths are shown above
    questions = markup(show.questions(DIAGNOSIS))
    assert questions.count("<li>") == 3 and SCRIPT_ESCAPED in questions and "<script>" not in questions


def test_no_focus_shows_the_whole_summary():
    html = markup(show.focus({"focus": None, "summary": "No part of your funnel falls short."}))
    assert "No single focus this period" in html and "No part of your funnel falls short." in html


def test_evidence_shows_only_the_rep_and_the_peer_band():
    factors = pd.DataFrame(
        [
            {
                "factor": "conversion",
                "metric": "win_rate",
                "rep_value": 0.266,
                "peer_low": 0.5455,
                "peer_median": 0.681,
                "peer_high": 0.7455,
                "small_sample": False,
                "is_focus": True,
            },
            {
                "factor": "prospecting",
                "metric": "opportunities",
                "rep_value": 77.0,
                "peer_low": None,
                "peer_median": None,
                "peer_high": None,
                "small_sample": False,
                "is_focus": False,
            },
        ]
    )
    html = markup(show.evidence(factors, peer_label="team", notes=[BOLD]))
    for text in ("Conversion (focus)", "<td>27%</td>", "<td>68%</td>", "55% to 75%", "too few peers", BOLD_ESCAPED):
        assert text in html


def test_evidence_shows_new_prospect_and_follow_up_contacts_on_prospecting_and_conversion():
    from salesnb.present.rep_page import contact_columns

    factors = pd.DataFrame(
        [
            {"factor": f, "metric": m, "rep_value": v, "peer_low": None, "peer_median": None, "peer_high": None}
            for f, m, v in (
                ("prospecting", "opportunities", 12.0),
                ("conversion", "win_rate", 0.25),
                ("deal_size", "avg_deal_size", 9_000.0),
                ("velocity", "cycle_days_median", 40.0),
            )
        ]
    ).assign(small_sample=False, is_focus=False)
    with_contacts = contact_columns(factors, {"new_prospect_contacts": 41, "follow_up_contacts": 1_230})
    assert with_contacts["new_prospect_contacts"].tolist()[:2] == [41, 41]
    assert with_contacts["new_prospect_contacts"].isna().tolist() == [False, False, True, True]
    html = markup(show.evidence(with_contacts))
    assert html.count('<td class="text">41 / 1,230</td>') == 2
    assert '<th scope="col" class="text">Your new-prospect / follow-up contacts</th>' in html
    # no activities table: the figures are blank, and nothing is said about contacts
    without = contact_columns(factors, {"new_prospect_contacts": None, "follow_up_contacts": None})
    assert without["new_prospect_contacts"].isna().all()
    assert "contacts" not in markup(show.evidence(without)).lower()


def test_quality_notes_add_what_to_do_unless_the_loader_gave_a_fix():
    flags = pd.DataFrame(
        [
            {"flag": "padded_activity", "table": "activities", "rows": 3, "detail": f"3 calls on {BOLD}"},
            {"flag": "duplicate_id", "table": "opportunities", "rows": 1, "detail": "1 row. Fix: remove it"},
        ]
    )
    html = markup(show.quality(flags, advice={"padded_activity": "log contacts", "duplicate_id": "never shown"}))
    assert "What to do:</em> log contacts" in html and "never shown" not in html and BOLD_ESCAPED in html
    assert "No data-quality flags" in markup(show.quality(flags.iloc[0:0]))


def test_scorecard_formats_by_unit_and_says_met():
    card = pd.DataFrame(
        [
            {
                "expectation": "revenue_quota",
                "target": 1_000_000.0,
                "actual": 627_987.47,
                "met": False,
                "unit": "currency",
                "note": "attainment 63%",
            },
            {
                "expectation": "visits_per_customer_secondary",
                "target": 0.25,
                "actual": 0.3265,
                "met": True,
                "unit": "visits per customer",
                "note": "",
            },
            {
                "expectation": "prospecting_methods",
                "target": np.nan,
                "actual": 0.75,
                "met": np.nan,
                "unit": "share",
                "note": SCRIPT,
            },
        ]
    )
    html = markup(show.scorecard(card))
    for text in (
        "<td>1,000,000</td>",
        "<td>627,987</td>",
        '<td class="text">not met</td>',
        "<td>0.25</td>",
        "<td>0.33</td>",
        '<td class="text">met</td>',
        "<td>none set</td>",
        "<td>75%</td>",
        '<td class="text">not judged</td>',
        SCRIPT_ESCAPED,
    ):
        assert text in html


def test_scorecard_never_reads_equal_figures_as_not_met():
    # 54.5% against a 55% target rounds to "55%" both: said with a decimal, so "not met" reads true
    card = pd.DataFrame(
        [{"expectation": "win_rate", "target": 0.55, "actual": 0.545455, "met": False, "unit": "share", "note": ""}]
    )
    html = markup(show.scorecard(card))
    assert "<td>55.0%</td>" in html and "<td>54.5%</td>" in html and "<td>55%</td>" not in html


def test_value_cost_sentence():
    html = markup(
        show.value_cost({"clv": 500_000.0, "annual_cost": 100_000.0, "value_cost_ratio": 5.0, "peer_median_ratio": 2.0})
    )
    assert '<strong class="metric value_cost_ratio">5.0x</strong>' in html and "team median is 2.0x" in html
    no_cost = markup(show.value_cost({"clv": 80_000.0, "annual_cost": None, "value_cost_ratio": None}))
    assert "no yearly cost is recorded" in no_cost
    # hired 2025-07-01: 184 of 365 days of a 100,000 yearly cost = 50,411; 500,000 / 50,411 = 9.9x
    hired = markup(
        show.value_cost({"clv": 500_000.0, "annual_cost": 100_000.0, "cost": 100_000 * 184 / 365, "value_cost_ratio": 9.918})
    )
    assert '<strong class="metric annual_cost">50,411</strong> so far (a yearly 100,000, pro-rated)' in hired
    assert '<strong class="metric value_cost_ratio">9.9x</strong>' in hired


def test_warning_is_empty_without_text():
    assert markup(show.warning(None)) == ""
    assert SCRIPT_ESCAPED in markup(show.warning(SCRIPT))


def test_training_summary_names_groups_escaped():
    effect = {
        "metric": "win_rate",
        "effect": 0.146,
        "ci_low": 0.119,
        "ci_high": 0.175,
        "method": "did",
        "means": {"treated_before": 0.57, "treated_after": 0.71, "control_before": 0.55, "control_after": 0.55},
        "treated_labels": [SCRIPT],
        "control_labels": ["B"],
        "excluded": [],
        "notes": [],
    }
    html = markup(show.training_summary(effect))
    assert "+14.6 percentage points" in html and "+11.9 to +17.5" in html and SCRIPT_ESCAPED in html


# -- charts -----------------------------------------------------------------------------


def test_chart_is_a_small_png_with_its_title_as_alt_text():
    fig = Figure(figsize=(7, 3.5))
    ax = fig.add_subplot()
    ax.plot(range(10), np.arange(10) ** 2)
    ax.set_title("Revenue won by quarter")
    image = show.chart(fig)
    assert image.format == "png" and image.alt == "Revenue won by quarter"
    picture = Image.open(io.BytesIO(image.data))
    assert picture.size == (630, 315)  # 7 x 3.5 inches at 90 dpi
    assert len(image.data) < 40_000


def test_chart_pixels_are_the_ones_savefig_writes():
    """chart() lays a constrained figure out once and takes its pixels raw: the
    same pixels a plain savefig to PNG gives, and the figure keeps its engine."""
    from salesnb.present import charts as plots

    frame = pd.DataFrame({"quarter": ["2025-Q1", "2025-Q2"], "rep_value": [0.2, 0.3], "peer_median": [0.4, 0.5]})
    fig = plots.trend(frame, metric="win_rate")
    engine = fig.get_layout_engine()
    fast = show._pixels(fig, dpi=90)
    assert fig.get_layout_engine() is engine
    buffer = io.BytesIO()
    plots.trend(frame, metric="win_rate").savefig(buffer, format="png", dpi=90)
    slow = Image.open(buffer).convert("RGB")
    assert fast.size == slow.size == (630, 315) and fast.tobytes() == slow.tobytes()


def test_chart_pixels_of_a_tall_chart_take_the_fast_path(monkeypatch):
    """A height in inches that is not a whole number of pixels (16.9 in at 90 dpi)
    is sized as Agg sizes it: one draw, raw pixels, equal to savefig's PNG."""
    from salesnb.present import charts as plots

    frame = pd.DataFrame({"label": [f"Rep {i}" for i in range(50)], "value_cost_ratio": np.arange(50.0)})
    formats = []
    real_savefig = Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda self, *a, **kw: formats.append(kw.get("format")) or real_savefig(self, *a, **kw)
    )
    fast = show._pixels(plots.value_vs_cost(frame), dpi=90)
    assert formats == ["rgba"]
    buffer = io.BytesIO()
    real_savefig(plots.value_vs_cost(frame), buffer, format="png", dpi=90)
    slow = Image.open(buffer).convert("RGB")
    assert fast.size == slow.size == (630, 1521) and fast.tobytes() == slow.tobytes()


def test_image_html_keeps_the_alt_text_escaped():
    """The live explorer shows charts as <img> markup: JupyterLab drops an Image's alt text."""
    import base64

    from IPython.display import Image as IPythonImage

    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    png = show.chart(fig).data
    markup = show.image_html(IPythonImage(data=png, format="png", alt='Win rate of "<b>North</b>"')).data
    assert markup.startswith('<img class="salesnb-chart" alt="Win rate of &quot;&lt;b&gt;North&lt;/b&gt;&quot;" ')
    assert base64.b64decode(markup.split("base64,")[1][:-2]) == png


def test_table_headers_are_words_for_snake_case_columns():
    """A pivot of data-quality flags has flag names as columns: a reader sees words."""
    frame = pd.DataFrame({"label": ["Ann (R1)"], "padded_activity": [3], "stale_pipeline": [0], "Mixed_Case": [1]})
    markup = show.table(frame).data
    for header in ("Rep", "Padded activity", "Stale pipeline", "Mixed_Case"):  # a name that is not snake_case stays
        assert f">{header}</th>" in markup
