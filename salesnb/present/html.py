"""Small, escaped HTML fragments for the notebooks, and how figures are written.

Every notebook cell that shows words or a table calls one function here.
Each returns an ``IPython.display.HTML`` object (the notebook shows it, the
report renderer keeps it) built with :func:`html.escape` on every value that
comes from data, so a rep named ``<script>alert(1)</script>`` or a territory
``<b>bold</b>`` appears as text, never as markup. Tables go through
:func:`table`, which formats each column and escapes every cell.

Names and numbers come from the label book, :mod:`salesnb.analysis.labels`
(:func:`fmt`, :func:`fmt_unit`, :data:`METRIC_LABELS`... are its own, named
here too for the notebooks and charts); the words of a diagnosis from
:mod:`salesnb.analysis.wording`. :func:`chart` turns a matplotlib Figure
into a small embedded PNG (the size budget of a report).
"""

from __future__ import annotations

import html
import io
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence

from salesnb.analysis import wording
from salesnb.analysis.labels import (
    EXPECTATION_NAMES,
    EXPECTATION_UNITS,
    HEADERS,
    METRIC_LABELS,
    UNITS,
    axis_label,
    count_of,
    factor_name,
    fmt,
    fmt_unit,
    is_missing,
    label,
    unit,
)

__all__ = [
    "METRIC_LABELS",
    "HEADERS",
    "UNITS",
    "CHART_DPI",
    "label",
    "unit",
    "axis_label",
    "fmt",
    "fmt_unit",
    "chart",
    "fragment",
    "table",
    "headline",
    "strengths",
    "focus",
    "evidence",
    "questions",
    "notes",
    "scorecard",
    "plain_keys",
    "value_cost",
    "forecasts",
    "forecast_banner",
    "quality",
    "warning",
    "paragraph",
    "queue_table",
    "team_findings",
    "since_last",
    "breakdown_table",
    "FEW_DEALS",
    "training_summary",
]

FEW_DEALS = " (few deals)"
"""The mark of a row whose win rate, deal size and cycle rest on too few closed deals."""

CHART_DPI = 90
"""Pixels per inch of report charts: a (7, 3.5) inch chart is 630 x 315 px."""

_CHART_COLOURS = 64  # PNG palette size: charts are flat colours, 64 keep them crisp at a third of the bytes

_STYLE = (
    "<style>"
    ".salesnb-headline{font-size:1.05rem;margin:.2rem 0 .8rem}"
    ".salesnb-focus{border-left:4px solid #d55e00;background:#fdf3ec;padding:.6rem .9rem;margin:0 0 .8rem}"
    ".salesnb-badge{font-size:.8em;border-radius:3px;padding:0 .35em;margin-left:.4em;border:1px solid #888}"
    ".salesnb-badge.tentative{border-style:dashed}"
    ".salesnb-note{color:#59636e;font-size:.9rem;margin:.2rem 0}"
    ".salesnb-warning{border-left:4px solid #de8f05;background:#fff8e6;padding:.5rem .8rem;margin:0 0 .8rem}"
    ".salesnb-table td,.salesnb-table th{padding:.3rem .6rem}"
    ".salesnb-table td.text,.salesnb-table th.text{text-align:left}"
    "</style>"
)


def _e(value) -> str:
    """Escaped text of any value (None -> empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


# -- building blocks --------------------------------------------------------------


def fragment(markup: str):
    """Wrap already-escaped ``markup`` as ``IPython.display.HTML``."""
    from IPython.display import HTML

    return HTML(markup)


def paragraph(text: str, *, css: str = ""):
    """One escaped paragraph (``css``: an extra class such as ``salesnb-note``)."""
    cls = f' class="{_e(css)}"' if css else ""
    return fragment(f"<p{cls}>{_e(text)}</p>")


def warning(text: str | None):
    """A plain warning box, or nothing when ``text`` is empty."""
    if not text:
        return fragment("")
    return fragment(f'{_STYLE}<div class="salesnb-warning"><strong>Read with care:</strong> {_e(text)}</div>')


def _notes_markup(items: Iterable[str] | None) -> str:
    items = [i for i in (items or []) if i]
    return "".join(f'<p class="salesnb-note">{_e(i)}</p>' for i in items)


def notes(items: Iterable[str] | None, *, heading: str | None = None):
    """Notes that qualify the figures above them (data quality, missing tables)."""
    body = _notes_markup(items)
    if not body:
        return fragment("")
    head = f"<p><strong>{_e(heading)}</strong></p>" if heading else ""
    return fragment(_STYLE + head + body)


def table(
    frame,
    *,
    columns: Mapping[str, str] | Sequence[str] | None = None,
    formats: Mapping[str, str] | None = None,
    notes: Iterable[str] | None = None,
    empty: str = "Nothing to show.",
    max_rows: int | None = None,
):
    """A DataFrame as an escaped HTML table.

    Parameters
    ----------
    frame : DataFrame
    columns : mapping or sequence, optional
        Which columns to show, in order; a mapping also renames them
        (``{"win_rate": "Win rate"}``). Default: every column, headers from
        :func:`label` when the column is a known metric.
    formats : mapping, optional
        Column -> a metric whose :func:`fmt` rule formats it, or a unit code
        of :data:`UNITS` (``"count"``, ``"share"``...). Default: the column's
        own name when it is a known metric; other values as text.
    notes : list of str, optional
        Shown under the table.
    """
    if columns is None:
        columns = {c: _header(c) for c in frame.columns}
    elif not isinstance(columns, Mapping):
        columns = {c: _header(c) for c in columns}
    formats = dict(formats or {})
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"table: no columns {missing} in the frame; it has {list(frame.columns)}")
    shown = frame if max_rows is None else frame.head(max_rows)
    if len(shown) == 0:
        return fragment(_STYLE + f"<p>{_e(empty)}</p>" + _notes_markup(notes))
    text = {c: _is_text(shown[c], formats.get(c, c)) for c in columns}  # left-aligned; numbers stay right
    head = "".join(f'<th scope="col"{_TEXT if text[c] else ""}>{_e(title)}</th>' for c, title in columns.items())
    rows = []
    for record in shown[list(columns)].itertuples(index=False, name=None):
        cells = []
        for column, value in zip(columns, record):
            rule = formats.get(column, column)
            if rule in METRIC_LABELS:
                text_of = fmt(rule, value)
            elif rule in UNITS:
                text_of = fmt_unit(rule, value)
            else:
                text_of = "" if is_missing(value) else _cell(value)
            cells.append(f"<td{_TEXT if text[column] else ''}>{_e(text_of)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if max_rows is not None and len(frame) > max_rows:
        more = f'<p class="salesnb-note">{len(frame) - max_rows:,} more rows not shown.</p>'
    markup = (
        f'{_STYLE}<table class="salesnb-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{more}{_notes_markup(notes)}"
    )
    return fragment(markup)


_TEXT = ' class="text"'


_FIGURE = re.compile(r"[-+\u2212]?[\d.,]+\s?(%|x|d|days)?|n/a|")  # "1,234", "-7%", "1.2x", "40 d" (formatted upstream)


def _is_text(values, rule) -> bool:
    """A column mostly of words (names, notes, flags), not figures: shown
    left-aligned, so prose does not read ragged; figures stay right-aligned."""
    if rule in METRIC_LABELS or rule in UNITS:
        return False
    present = [v for v in values if not is_missing(v)]
    words = sum(not (isinstance(v, numbers.Number) or _FIGURE.fullmatch(str(v).strip())) for v in present)
    return words * 2 > len(present)


def _header(column) -> str:
    """A column's header: the metric's label, a known column's, and for other
    snake_case names (a data-quality flag) the words: ``stale_pipeline`` -> "Stale pipeline"."""
    if column in METRIC_LABELS or column in HEADERS:
        return label(column)
    text = str(column)
    return text.replace("_", " ").capitalize() if "_" in text and text == text.lower() and " " not in text else text


def _cell(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def chart(fig, *, alt: str | None = None, dpi: int = CHART_DPI):
    """Render matplotlib ``fig`` as a compact embedded PNG and release it.

    Returns an ``IPython.display.Image`` whose alt text is ``alt`` (default:
    the chart's title; a figure of several titled panels under one title,
    that title and the panels', "Your funnel against ...: Prospecting,
    Conversion (focus), ..."), so the report's image says what it shows. The PNG
    is reduced to a 64-colour palette: charts are flat colours, and this
    keeps a six-chart report well under 200 KB.
    """
    from IPython.display import Image
    from PIL import Image as PILImage

    if alt is None:
        alt = _alt(fig)
    picture = _pixels(fig, dpi=dpi)
    _release(fig)
    small = picture.quantize(colors=_CHART_COLOURS, method=PILImage.Quantize.FASTOCTREE)
    out = io.BytesIO()
    small.save(out, format="png")  # optimize=True: 12% smaller, 7x slower (50 ms a report)
    return Image(data=out.getvalue(), format="png", alt=alt)


def _alt(fig) -> str:
    """A figure's alt text: its title, and each panel's title after it when there are several."""
    overall = fig.get_suptitle()  # "" when there is none (matplotlib >= 3.8)
    panels = [" ".join(ax.get_title(loc=loc).split()) for ax in fig.axes for loc in ("center", "left", "right")]
    panels = [t for t in panels if t]
    if overall and len(panels) > 1:
        return f"{overall}: {', '.join(panels)}"
    titles = [t for t in [overall, *panels] if t]
    return titles[0] if titles else "chart"


def image_html(image):
    """An ``IPython.display.Image`` from :func:`chart` as an HTML ``<img>`` that
    keeps its alt text: JupyterLab draws a PNG output without it, so a live
    view (the segment explorer) shows charts this way."""
    import base64

    alt = getattr(image, "alt", None) or "chart"
    return fragment(
        f'<img class="salesnb-chart" alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(image.data).decode("ascii")}">'
    )


def _pixels(fig, *, dpi: int):
    """The RGB pixels ``fig.savefig(..., format="png", dpi=dpi)`` would write, as a PIL image.

    Two shortcuts, the pixels unchanged: the figure's layout engine runs
    once, directly, where savefig would first draw the whole figure without
    rendering only to run it; and the pixels are taken raw, not compressed
    into a PNG that would be decoded again at once.
    """
    import matplotlib
    from matplotlib.layout_engine import ConstrainedLayoutEngine
    from PIL import Image as PILImage

    def as_png():
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        return PILImage.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    engine = fig.get_layout_engine()
    if (
        not isinstance(engine, ConstrainedLayoutEngine)
        or matplotlib.rcParams["savefig.bbox"] is not None
        or matplotlib.rcParams["figure.autolayout"]
        or matplotlib.rcParams["figure.constrained_layout.use"]
    ):
        return as_png()  # a cropped image, or an engine savefig must run itself
    screen_dpi = fig.dpi
    fig.dpi = dpi
    try:
        engine.execute(fig)
        width, height = fig.canvas.get_width_height(physical=True)  # as Agg sizes its canvas
    finally:
        fig.dpi = screen_dpi
    fig.set_layout_engine(None)  # laid out: savefig goes straight to drawing
    try:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="rgba", dpi=dpi)
    finally:
        fig.set_layout_engine(engine)
    raw = buffer.getvalue()
    if len(raw) != width * height * 4:  # pragma: no cover - a canvas that sizes itself otherwise
        return as_png()
    return PILImage.frombuffer("RGBA", (width, height), raw, "raw", "RGBA", 0, 1).convert("RGB")


def _release(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)  # a no-op for figures salesnb.present.charts builds outside pyplot; frees any pyplot one


# -- rep report fragments ---------------------------------------------------------


def headline(rep: Mapping, figures: Mapping, *, period: str):
    """Who the report is about and the period's result in one sentence.

    ``rep``: rep_id, name, team, territory; ``figures``: the rep's metrics
    (revenue_won, won, closed, win_rate, opportunities, attainment). Each
    figure sits in ``<strong class="metric METRIC">`` so a reader (or a
    test) finds it.
    """

    def figure(metric):
        return f'<strong class="metric {metric}">{_e(fmt(metric, figures.get(metric)))}</strong>'

    who = _e(rep.get("name") or rep.get("rep_id"))
    rep_id = _e(rep.get("rep_id"))
    where = ", ".join(
        f"{what} {_e(rep.get(what))}" for what in ("territory", "team") if not is_missing(rep.get(what)) and rep.get(what) != ""
    )

    def noun(metric, singular, plural):  # the noun agrees with the count: "1 deal", "2 deals"
        return singular if not is_missing(figures.get(metric)) and float(figures.get(metric)) == 1 else plural

    closed = figures.get("closed")
    sentence = (
        f"In {_e(period)}, {who} won {figure('revenue_won')} in revenue from {figure('won')} {noun('won', 'deal', 'deals')}, "
        f"winning {figure('win_rate')} of {_e(count_of(closed, 'deal closed', 'deals closed'))}, "
        f"and opened {figure('opportunities')} {noun('opportunities', 'new opportunity', 'new opportunities')}."
    )
    if not is_missing(figures.get("attainment")):
        sentence += f" That is {figure('attainment')} of the quota for the period."
    return fragment(
        f'{_STYLE}<p class="salesnb-headline"><strong>{who}</strong> ({rep_id}'
        f"{', ' + where if where else ''})</p><p>{sentence}</p>"
    )


def strengths(diagnosis: Mapping):
    """What is working, as a list (strengths come first in every report)."""
    items = list(diagnosis.get("strengths") or [])
    if not items:
        return fragment("<p>No factor stands above the peers this period; the focus below is where to start.</p>")
    return fragment("<ul>" + "".join(f"<li>{_e(s)}.</li>" for s in items) + "</ul>")


def focus(diagnosis: Mapping):
    """The one focus, in the diagnosis's words (:func:`salesnb.analysis.wording.focus_words`),
    with how sure it is, the deals to work on and what was not judged.

    The strengths are listed above the box, so with a focus the box says the
    focus, its cause and advice and the stake (after any data check on the
    rep's own activity, which is always said before advice); without one,
    the whole summary. Below: the rep's own deals behind the focus (``actions``).
    """
    name = diagnosis.get("focus")
    title = f"Focus: {name.replace('_', ' ')}" if name else "No single focus this period"
    badge = ""
    if name and diagnosis.get("focus_strength"):
        sure = diagnosis["focus_strength"]
        badge = f' <span class="salesnb-badge {_e(sure)}">{_e(sure)}</span>'
    if name and diagnosis.get("evidence"):
        checks = [wording.FLAG_TEXT.get(f, "") for f in diagnosis.get("flags") or []]
        finding = (diagnosis.get("team_finding") or {}).get("text", "")
        text = " ".join(c for c in [*checks, wording.focus_words(diagnosis), finding] if c)
    else:
        text = diagnosis.get("summary") or ""
    deals = [a.get("text") for a in diagnosis.get("actions") or [] if a.get("text")]
    listed = ""
    if deals:
        heading = "Where to start" if any(a.get("opportunity_id") for a in diagnosis["actions"]) else "A number to aim for"
        listed = f"<p><strong>{heading}</strong></p><ul>" + "".join(f"<li>{_e(d)}</li>" for d in deals) + "</ul>"
    return fragment(
        f'{_STYLE}<div class="salesnb-focus"><p><strong class="focus {_e(name or "none")}">'
        f"{_e(title)}</strong>{badge}</p><p>{_e(text)}</p>{listed}</div>"
    )


def evidence(factors, *, peer_label: str = "team", notes: Iterable[str] | None = None):
    """The evidence table: each funnel factor, the rep's figure and the peers' band.

    ``factors``: rows with factor, metric, rep_value, peer_low, peer_median,
    peer_high, small_sample, is_focus (see :func:`salesnb.present.pages.rep_report`),
    optionally new_prospect_contacts and follow_up_contacts (the rep's own,
    on the prospecting and conversion rows: a "Your new-prospect / follow-up
    contacts" column, left out when no row has them). Only the rep's own figures and the peers'
    25th percentile, median and 75th percentile appear.
    """
    rows = []
    for f in factors.to_dict("records"):
        metric = f["metric"]
        band = (
            f"{fmt(metric, f['peer_low'])} to {fmt(metric, f['peer_high'])}" if not is_missing(f["peer_low"]) else "too few peers"
        )
        name = factor_name(f["factor"])
        if f.get("is_focus"):
            name += " (focus)"
        you = fmt(metric, f["rep_value"])
        if f.get("small_sample"):
            you += " (few deals)"
        rows.append(
            {
                "Factor": name,
                "Measure": label(metric),
                "You": you,
                f"{peer_label.capitalize()} median": fmt(metric, f["peer_median"]),
                f"{peer_label.capitalize()} middle half": band,
            }
        )
        rows[-1].update(_contact_cell(f))
    import pandas as pd

    frame = pd.DataFrame(rows)
    if CONTACTS_HEADER in frame and frame[CONTACTS_HEADER].isna().all():
        frame = frame.drop(columns=CONTACTS_HEADER)  # no activities table: nothing is said about contacts
    return table(frame, notes=notes)


CONTACTS_HEADER = "Your new-prospect / follow-up contacts"


def _contact_cell(factor: Mapping) -> dict:
    """The rep's new-prospect and follow-up contacts ("81 / 170") beside the
    prospecting and conversion rows (``new_prospect_contacts``/``follow_up_contacts``
    of the factors frame); blank elsewhere and when they are unknown."""
    new, follow = factor.get("new_prospect_contacts"), factor.get("follow_up_contacts")
    if is_missing(new) and is_missing(follow):
        return {CONTACTS_HEADER: None}
    return {CONTACTS_HEADER: f"{fmt('new_prospect_contacts', new)} / {fmt('follow_up_contacts', follow)}"}


def questions(diagnosis: Mapping):
    """Two or three questions for the next one-to-one, chosen by the focus."""
    items = list(diagnosis.get("questions") or [])[:3]
    return fragment("<ol>" + "".join(f"<li>{_e(q)}</li>" for q in items) + "</ol>")


def scorecard(card, *, notes: Iterable[str] | None = None):
    """The expectations scorecard: what was expected, what happened, met or not."""
    import pandas as pd

    rows = []
    for r in card.to_dict("records"):
        name = EXPECTATION_NAMES.get(r["expectation"], str(r["expectation"]).replace("_", " ").capitalize())
        kind = EXPECTATION_UNITS.get(str(r.get("unit")), "ratio")
        met = r.get("met")
        verdict = "not judged" if is_missing(met) else ("met" if met else "not met")
        target, actual = fmt_unit(kind, r["target"], missing="none set"), fmt_unit(kind, r["actual"])
        if target == actual and not is_missing(met) and r["target"] != r["actual"]:
            # 54.5% against 55% would read "55%, 55%, not met": say the figures as they were judged
            target, actual = _closer(kind, r["target"]), _closer(kind, r["actual"])
        rows.append(
            {
                "Expectation": name,
                "Target": target,
                "Actual": actual,
                "Result": verdict,
                "Note": plain_keys(r.get("note") or ""),
            }
        )
    return table(
        pd.DataFrame(rows, columns=["Expectation", "Target", "Actual", "Result", "Note"]),
        notes=notes,
        empty="No expectations apply to this rep.",
    )


def _closer(kind: str, value) -> str:
    """A figure with one more decimal than :func:`fmt_unit` gives, for a
    target and an actual that would otherwise read the same."""
    number = float(value)
    if kind == "share":
        return f"{number:.1%}"
    if kind in ("x_quota", "x_cost", "ratio"):
        return f"{number:,.2f}" + ("x" if kind != "ratio" else "")
    return f"{number:,.1f}"


_KEY = re.compile(r"\b(" + "|".join(sorted(map(re.escape, EXPECTATION_NAMES), key=len, reverse=True)) + r")\b")


def plain_keys(text: str) -> str:
    """``text`` with each expectations.yml key said by its name (a reader never
    sees ``min_prospecting_share``: "set 'Least share of new customers from
    prospecting' to judge it")."""
    return _KEY.sub(lambda m: f"'{EXPECTATION_NAMES[m.group(1)]}'", str(text))


def value_cost(value: Mapping, *, peer_label: str = "team", notes: Iterable[str] | None = None):
    """Value vs cost in one sentence: lifetime value, yearly cost, their ratio vs the peers' median ratio."""
    if is_missing(value.get("value_cost_ratio")):
        text = (
            f"Customer lifetime value to date is {fmt('clv', value.get('clv'))}; "
            "no yearly cost is recorded, so value per unit of cost cannot be shown."
        )
    else:
        text = (
            f"The customers you brought in have paid {_metric('clv', value.get('clv'))} to date, "
            f"against {_cost_words(value)}: "
            f"{_metric('value_cost_ratio', value.get('value_cost_ratio'))} the cost"
        )
        if not is_missing(value.get("peer_median_ratio")):
            text += f", where the {_e(peer_label)} median is {_e(fmt('value_cost_ratio', value.get('peer_median_ratio')))}"
        text += "."
        return fragment(_STYLE + f"<p>{text}</p>" + _notes_markup(notes))
    return fragment(_STYLE + f"<p>{_e(text)}</p>" + _notes_markup(notes))


def _cost_words(value: Mapping) -> str:
    """ "a yearly cost of X", or for a rep hired during the year the pro-rated cost the ratio uses."""
    yearly, cost = value.get("annual_cost"), value.get("cost")
    if is_missing(cost) or is_missing(yearly) or abs(float(cost) - float(yearly)) < 0.5:
        return f"a yearly cost of {_metric('annual_cost', yearly)}"
    return f"a cost of {_metric('annual_cost', cost)} so far (a yearly {_e(fmt('annual_cost', yearly))}, pro-rated)"


def _metric(metric: str, value) -> str:
    return f'<strong class="metric {metric}">{_e(fmt(metric, value))}</strong>'


def forecasts(accuracy, *, notes: Iterable[str] | None = None):
    """A rep's forecasts against what they won, per period."""
    return table(
        accuracy,
        columns={"period": "Period", "forecast_amount": "Forecast", "actual": "Revenue won", "forecast_error_pct": "Error"},
        notes=notes,
        empty="No forecasts for these periods.",
    )


def forecast_banner(text: str | None):
    """A consistent forecast habit, as a banner at the top of a rep report
    (:attr:`salesnb.present.pages.RepReport.forecast_banner`); nothing when None."""
    if not text:
        return fragment("")
    return fragment(f'{_STYLE}<div class="salesnb-warning salesnb-forecast-banner"><strong>Forecasts:</strong> {_e(text)}</div>')


def quality(flags, *, notes: Iterable[str] | None = None, advice: Mapping[str, str] | None = None):
    """Data-quality flags as plain notes: the check, what was found, what to fix."""
    advice = advice or {}
    items = []
    for r in flags.to_dict("records"):
        fix = advice.get(r["flag"], "")
        detail = str(r.get("detail") or "")
        who = f", {_e(r['label'])}" if r.get("label") else ""  # a team page: whose data it is
        text = f"<strong>{_e(str(r['flag']).replace('_', ' ').capitalize())}{who}:</strong> {_e(detail)}"
        if fix and "Fix:" not in detail:
            text += ("" if detail.rstrip().endswith((".", "!", "?")) else ".") + f" <em>What to do:</em> {_e(fix)}"
        items.append(f"<li>{text}</li>")
    body = f"<ul>{''.join(items)}</ul>" if items else "<p>No data-quality flags.</p>"
    return fragment(_STYLE + body + _notes_markup(notes))


# -- manager and analyst fragments ------------------------------------------------------


def breakdown_table(frame, *, columns, notes: Iterable[str] | None = None, empty: str = "Nothing to show."):
    """:func:`table` of a metrics_table by some grouping (a team breakdown, the
    segment explorer) with each row whose ``small_sample`` flag is set marked
    :data:`FEW_DEALS` in its first column, and a note saying what that means
    when any row is marked (only when the table shows a metric it bears on)."""
    import pandas as pd

    from salesnb.analysis.rates import SMALL_SAMPLE_METRICS, SMALL_SAMPLE_MIN_CLOSED

    shown = list(columns)
    notes = list(notes or [])
    few = (
        frame["small_sample"].fillna(False).astype(bool).to_numpy()
        if "small_sample" in frame and any(c in SMALL_SAMPLE_METRICS for c in shown)
        else None
    )
    if few is not None and few.any():
        first = shown[0]
        frame = frame.copy()
        frame[first] = pd.Series(
            [("" if is_missing(v) else _cell(v)) + (FEW_DEALS if mark else "") for v, mark in zip(frame[first], few)],
            index=frame.index,
            dtype="object",
        )
        notes.insert(
            0,
            f"{FEW_DEALS.strip()}: fewer than {SMALL_SAMPLE_MIN_CLOSED} deals closed (won + lost) in the period; that row's "
            "win rate, average deal size and sales cycle rest on too few deals to mean much.",
        )
    return table(frame, columns=columns, notes=notes, empty=empty)


def training_summary(effect: Mapping):
    """A training effect in plain words: who, before and after, the effect and its interval."""
    metric = effect.get("metric", "win_rate")
    means = effect.get("means") or {}
    share = unit(metric) == "share"
    points = (lambda v: f"{v * 100:+.1f}") if share else (lambda v: fmt(metric, v))
    what = " percentage points" if share else ""
    parts = []
    if effect.get("effect") is not None:
        parts.append(
            f"Trained reps' average {_e(label(metric).lower())} went from {_e(fmt(metric, means.get('treated_before')))} "
            f"to {_e(fmt(metric, means.get('treated_after')))}; untrained reps' from "
            f"{_e(fmt(metric, means.get('control_before')))} to {_e(fmt(metric, means.get('control_after')))}. "
            f"The program's effect, the difference between those changes, is "
            f'<strong class="effect">{_e(points(effect["effect"]) + what)}</strong> (95% interval '
            f"{_e(points(effect['ci_low']))} to {_e(points(effect['ci_high']))})."
        )
    else:
        parts.append("No effect could be estimated.")
    treated = effect.get("treated_labels", effect.get("treated", []))
    control = effect.get("control_labels", effect.get("control", []))
    parts.append(
        f"Trained ({len(treated)}): {_e(', '.join(map(str, treated)) or 'none')}. "
        f"Untrained ({len(control)}): {_e(', '.join(map(str, control)) or 'none')}."
    )
    excluded = effect.get("excluded") or []
    if excluded:
        parts.append("Left out: " + _e("; ".join(f"{x['rep_id']} ({x['reason']})" for x in excluded)) + ".")
    body = "".join(f"<p>{p}</p>" for p in parts)
    method = f'<p class="salesnb-note">Method: {_e(effect.get("method", ""))}</p>'
    return fragment(_STYLE + body + method + _notes_markup(effect.get("notes")))


def queue_table(queue):
    """The manager's queue: whom to coach first, on what, and what it is worth.

    ``queue``: :func:`salesnb.present.queue.manager_queue` rows, already
    sorted by stake. Every value is escaped.
    """
    import pandas as pd

    rows = [
        {
            "Rep": r["label"],
            "Focus": r["focus_text"],
            "Cause": r.get("cause") or None,  # None, not "": a blank is no figure, so word columns stay left-aligned
            "Gap to peer median": r.get("gap_text") or None,
            "Stake": fmt("revenue_won", wording.about(r.get("stake")), missing=""),
            "Attainment": fmt("attainment", r.get("attainment"), missing=""),
            "Flags": r.get("flags_text") or None,
            "Improved since last period": r.get("since_text") or None,
        }
        for r in queue.to_dict("records")
    ]
    columns = ["Rep", "Focus", "Cause", "Gap to peer median", "Stake", "Attainment", "Flags", "Improved since last period"]
    return table(
        pd.DataFrame(rows, columns=columns),
        empty="No reps in this team.",
        notes=[
            "Stake: the revenue closing the focus gap to the peer median would have brought in this period. "
            'Focus "no gap": every factor judged, none short of the peers; "too little data": a factor could not be judged.'
        ],
    )


def team_findings(findings: Iterable[Mapping]):
    """Gaps the whole team shares, for the manager (not any one rep's fault); nothing when there are none."""
    items = [f for f in findings or [] if f.get("text")]
    if not items:
        return fragment("")
    body = "".join(f"<li>{_e(f['text'])}</li>" for f in items)
    return fragment(f"{_STYLE}<p><strong>Team findings</strong> (gaps the whole team shares):</p><ul>{body}</ul>")


def since_last(facts: Mapping | None):
    """Last period's focus and how that factor moved since (:func:`salesnb.present.progress.since_last`); nothing without one."""
    if not facts or not facts.get("text"):
        return fragment("")
    return fragment(f'{_STYLE}<p class="salesnb-since"><strong>Since last time.</strong> {_e(facts["text"])}</p>')
