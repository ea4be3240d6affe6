"""Charts for the notebooks and reports: tidy frames in, a matplotlib Figure out.

Every function takes the frame or dict an analysis (or :mod:`salesnb.present.pages`)
produced and draws it; none computes a metric. Each chart says one thing,
has a title and labelled axes with units ("Win rate (%)", "Revenue won
(currency)", "Days"), uses seaborn's colour-blind-safe palette, and is small
(about 7 x 3.5 inches; :func:`salesnb.present.html.chart` writes it as a compact
PNG).

Two kinds of chart, two ways of drawing:

- the analyst-facing charts (team pages, the analysis notebooks, the segment
  explorer: :func:`team_band`, :func:`metric_bars`, :func:`effect_interval`,
  :func:`before_after`, :func:`forecast_error_heatmap`, :func:`forecast_bias`,
  :func:`quality_counts`) are drawn with seaborn's functions (stripplot,
  barplot, pointplot, heatmap) inside seaborn's "whitegrid" style and "paper"
  context, entered as contexts around each chart (never a global
  ``sns.set_theme()``: a report leaves rcParams as it found them). An analyst
  extends one the way they extend any seaborn chart: another ``sns.*`` call
  with ``ax=fig.axes[0]``;
- the rep-report charts (:func:`factor_bands`, :func:`trend`,
  :func:`value_vs_cost`, :func:`forecast_vs_actual`) stay plain matplotlib:
  every scheduled report draws them, and :mod:`salesnb.present.drawing` makes
  them cheap with tests that compare their pixels to matplotlib's own.

Figures are built with :class:`matplotlib.figure.Figure`, outside pyplot:
nothing is drawn twice by the inline backend and nothing stays open.
Text that comes from data (rep names, territories) is drawn literally, never
read as mathtext.

Conventions: "you" is blue, the peers' median grey and dashed, the peers'
middle half (25th to 75th percentile) a light grey band, a focus or a
warning vermillion.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from cycler import cycler
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from salesnb.analysis import labels
from salesnb.analysis.labels import FACTOR_NAMES, METRIC_LABELS, axis_label, factor_name, fmt_unit, label, unit
from salesnb.analysis.metrics import SMALL_SAMPLE_MIN_CLOSED
from salesnb.present import drawing as figures

__all__ = [
    "PALETTE",
    "FIGSIZE",
    "factor_bands",
    "trend",
    "value_vs_cost",
    "forecast_vs_actual",
    "team_band",
    "metric_bars",
    "effect_interval",
    "before_after",
    "forecast_error_heatmap",
    "forecast_bias",
    "quality_counts",
]

FIGSIZE = (7.0, 3.5)

_COLORBLIND = tuple(sns.color_palette("colorblind").as_hex())
PALETTE = {
    "you": _COLORBLIND[0],
    "peer": "#6e6e6e",
    "band": "#d9d9d9",
    "focus": _COLORBLIND[3],
    "second": _COLORBLIND[1],
    "good": _COLORBLIND[2],
    "other": _COLORBLIND[7],
}
"""seaborn's "colorblind" palette, by role."""


_RC = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.color": "#e5e5e5",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "font.family": "DejaVu Sans",
    "text.parse_math": False,
    "axes.prop_cycle": cycler(color=list(_COLORBLIND)),
}


def _styled(draw):
    """Run a plot function under salesnb's chart style (so every text object,
    tick labels included, is created with it: data text is never mathtext)."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(_RC):
            return draw(*args, **kwargs)

    return wrapper


_THEME = ("whitegrid", {"font.family": ["DejaVu Sans"]})
"""seaborn's style for the analyst charts (:func:`seaborn.axes_style` arguments), in salesnb's font."""
_CONTEXT = (
    "paper",
    1,
    {"axes.titlesize": 11, "axes.labelsize": 9, "xtick.labelsize": 8.5, "ytick.labelsize": 8.5, "legend.fontsize": 8.5},
)
"""seaborn's context for them (:func:`seaborn.plotting_context` arguments), at the rep charts' text sizes."""
_THEME_EXTRA = {
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "text.parse_math": False,
    "axes.prop_cycle": cycler(color=list(_COLORBLIND)),
}
"""What seaborn's theme leaves to matplotlib: bold titles, data text never mathtext, the palette."""
_SEABORN_RC = {**sns.axes_style(*_THEME), **sns.plotting_context(*_CONTEXT), **_THEME_EXTRA}


def _seaborn_themed(draw):
    """Run an analyst chart inside seaborn's theme (style, context, then salesnb's few extras), as
    contexts: the settings are back as they were when the chart is built."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with sns.axes_style(*_THEME), sns.plotting_context(*_CONTEXT), matplotlib.rc_context(_THEME_EXTRA):
            return draw(*args, **kwargs)

    return wrapper


def _figure(nrows: int = 1, ncols: int = 1, *, figsize=FIGSIZE, style=None, **kw):
    """A new chart's Figure and grid of Axes in salesnb's style (:func:`salesnb.present.drawing.figure`);
    ``style``: the rcParams the chart is drawn under, when not the rep charts' ``_RC``."""
    return figures.figure(nrows, ncols, figsize=figsize, style=_RC if style is None else style, **kw)


def _seaborn_figure(*, figsize):
    """A new analyst chart's Figure and its one Axes, under seaborn's theme (:func:`_seaborn_themed`)."""
    fig, axes = _figure(figsize=figsize, style=_SEABORN_RC)
    return fig, axes[0, 0]


def stock_figures(draw) -> int:
    """:func:`salesnb.present.drawing.stock_figures` for salesnb's charts: call ``draw()``
    (e.g. one report's charts), then make blank figures of the shapes it used."""
    return figures.stock_figures(draw)


LABEL_CHARS = 40
"""Data text longer than this is shortened on a chart (the tables show it whole)."""


def _text(value) -> str:
    """Data text for a label: drawn literally (no mathtext, no None), at most LABEL_CHARS long."""
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "\u2026"


def _title(ax, text: str) -> None:
    ax.set_title(text, fontsize=_RC["axes.titlesize"], fontweight="bold", parse_math=False)


def _labels(ax, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel, fontsize=_RC["axes.labelsize"], parse_math=False)
    ax.set_ylabel(ylabel, fontsize=_RC["axes.labelsize"], parse_math=False)


def _value_axis(axis, metric: str) -> None:
    """Format a value axis for ``metric``'s unit: percent for shares, separators for money."""
    kind = unit(metric)
    if kind == "share":
        axis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    elif kind == "pct":
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}%"))
    elif kind in ("currency",):
        axis.set_major_formatter(FuncFormatter(_money))
    elif kind == "count":
        axis.set_major_locator(MaxNLocator(integer=True))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    elif kind in ("x_quota", "x_cost"):
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))


def _money(value, _pos=None) -> str:
    """A money axis tick: 1.2M, 35k (the label book's compact money)."""
    return fmt_unit("currency", value, compact=True)


def _require(frame, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} takes a DataFrame, not {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{what} needs the columns {missing}; the frame has {list(frame.columns)}")


def _legend_below(fig, ax) -> None:
    handles, names = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4), frameon=False, fontsize=8)


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=PALETTE["peer"], parse_math=False)
    ax.set_xticks([])
    ax.set_yticks([])


# -- the rep report -------------------------------------------------------------------


@_styled
def factor_bands(factors: pd.DataFrame, *, peer_label: str = "team") -> Figure:
    """One rep's funnel factors against the peers' band, one small panel each.

    ``factors``: rows with factor, metric, rep_value, peer_low, peer_median,
    peer_high, small_sample, is_focus (:attr:`salesnb.present.pages.RepReport.factors`).
    Each panel shows the peers' middle half as a grey bar, their median as a
    dashed line and the rep as a dot (vermillion on the focus factor).
    """
    _require(factors, ["factor", "metric", "rep_value", "peer_low", "peer_median", "peer_high"], "factor_bands")
    order = [f for f in FACTOR_NAMES if f in set(factors["factor"])]
    fig, axes = _figure(1, max(len(order), 1), figsize=(7.0, 3.2))
    whose = "your team's middle half" if peer_label == "team" else "the middle half of all reps"
    fig.suptitle(f"Your funnel against {whose}", fontsize=11, fontweight="bold", x=0.01, ha="left")
    rows = factors.set_index("factor")
    for ax, factor in zip(axes.flat, order):
        r = rows.loc[factor]
        metric = r["metric"]
        if pd.notna(r["peer_low"]):
            ax.bar(
                [0],
                [r["peer_high"] - r["peer_low"]],
                bottom=[r["peer_low"]],
                width=0.5,
                color=PALETTE["band"],
                label=f"{peer_label.capitalize()} middle half",
            )
        if pd.notna(r["peer_median"]):
            ax.hlines(
                r["peer_median"],
                -0.35,
                0.35,
                colors=PALETTE["peer"],
                linestyles="--",
                linewidth=1.5,
                label=f"{peer_label.capitalize()} median",
            )
        if pd.notna(r["rep_value"]):
            colour = PALETTE["focus"] if r.get("is_focus") else PALETTE["you"]
            hollow = bool(r.get("small_sample"))
            ax.scatter(
                [0],
                [r["rep_value"]],
                s=70,
                zorder=3,
                color="white" if hollow else colour,
                edgecolors=colour,
                linewidths=2,
                label="You",
            )
        values = [v for v in (r["rep_value"], r["peer_low"], r["peer_high"]) if pd.notna(v)]
        if values:
            low, high = min(values), max(values)
            pad = (high - low) * 0.25 or abs(high) * 0.2 or 1
            ax.set_ylim(max(0, low - pad) if low >= 0 else low - pad, high + pad)
        ax.set_xlim(-0.6, 0.6)
        ax.set_xticks([])
        ax.grid(False, axis="x")
        _value_axis(ax.yaxis, metric)
        title = factor_name(factor) + (" (focus)" if r.get("is_focus") else "")
        _title(ax, title)
        ylabel = axis_label(metric)
        if metric == "cycle_days_median":
            ylabel = "Median cycle (days, lower is faster)"
        _labels(ax, "you vs peers", ylabel)
    handles, names = [], []
    focus_last = sorted(zip(axes.flat, order), key=lambda pair: bool(rows.loc[pair[1]].get("is_focus")))
    for ax, _ in focus_last:  # "You" in the legend is blue: the focus panel's vermillion dot comes last
        for h, n in zip(*ax.get_legend_handles_labels()):
            if n not in names:
                handles.append(h)
                names.append(n)
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncols=len(names), frameon=False, fontsize=8.5)
    return fig


@_styled
def trend(frame: pd.DataFrame, *, metric: str, peer_label: str = "team") -> Figure:
    """A rep's metric per quarter against the peers' median (and middle half).

    ``frame``: quarter, rep_value, peer_median, and optionally peer_low,
    peer_high, small_sample (hollow markers: too few closed deals).
    """
    _require(frame, ["quarter", "rep_value", "peer_median"], "trend")
    fig, axes = _figure()
    ax = axes[0, 0]
    x = np.arange(len(frame))
    if {"peer_low", "peer_high"} <= set(frame.columns) and frame["peer_low"].notna().any():
        low, high = frame["peer_low"].astype(float).to_numpy(), frame["peer_high"].astype(float).to_numpy()
        ax.fill_between(
            x, low, high, color=PALETTE["band"], alpha=0.8, linewidth=0, label=f"{peer_label.capitalize()} middle half"
        )
        # a quarter whose neighbours have no band would be an invisible sliver of area: a short bar instead
        has = ~np.isnan(low)
        alone = has & ~np.r_[False, has[:-1]] & ~np.r_[has[1:], False]
        if alone.any():
            ax.bar(x[alone], (high - low)[alone], bottom=low[alone], width=0.3, color=PALETTE["band"], alpha=0.8, linewidth=0)
    ax.plot(
        x,
        frame["peer_median"].astype(float),
        color=PALETTE["peer"],
        linestyle="--",
        marker="s",
        markersize=4,
        linewidth=1.5,
        label=f"{peer_label.capitalize()} median",
    )
    values = frame["rep_value"].astype(float)
    ax.plot(x, values, color=PALETTE["you"], linewidth=2, label="You")
    small = (
        frame["small_sample"].astype(bool).to_numpy()
        if "small_sample" in frame and metric == "win_rate"
        else np.zeros(len(frame), bool)
    )
    ax.scatter(x[~small], values[~small], color=PALETTE["you"], s=36, zorder=3)
    if small.any():
        ax.scatter(
            x[small],
            values[small],
            color="white",
            edgecolors=PALETTE["you"],
            linewidths=1.8,
            s=36,
            zorder=3,
            label=f"You, fewer than {SMALL_SAMPLE_MIN_CLOSED} deals closed",
        )
    ax.set_xticks(x, [_text(q) for q in frame["quarter"]])
    _value_axis(ax.yaxis, metric)
    if unit(metric) in ("share", "count", "currency"):
        ax.set_ylim(bottom=0)
    _title(ax, f"{label(metric)} by quarter: you and the {peer_label} median")
    _labels(ax, "Quarter", axis_label(metric))
    ax.legend(loc="best")
    return fig


@_styled
def value_vs_cost(frame: pd.DataFrame, *, label_column: str = "label", highlight: Sequence[str] = ()) -> Figure:
    """Customer lifetime value per unit of yearly cost, one bar per row.

    ``frame``: ``label_column`` and value_cost_ratio (e.g. "You" and "Team
    median", or one row per rep). Rows named in ``highlight`` are blue, the
    others grey.
    """
    _require(frame, [label_column, "value_cost_ratio"], "value_vs_cost")
    rows = frame.dropna(subset=["value_cost_ratio"])
    fig, axes = _figure(figsize=(7.0, max(2.2, 0.9 + 0.32 * len(rows))))
    ax = axes[0, 0]
    if rows.empty:
        _empty(ax, "No yearly cost recorded: value per unit of cost cannot be shown")
    else:
        names = [_text(v) for v in rows[label_column]]
        colours = [PALETTE["you"] if n in set(highlight) else PALETTE["other"] for n in names]
        y = np.arange(len(rows))
        ax.barh(y, rows["value_cost_ratio"].astype(float), color=colours, height=0.6)
        for yi, v in zip(y, rows["value_cost_ratio"].astype(float)):
            ax.text(v, yi, f" {v:,.1f}x", va="center", fontsize=8.5, parse_math=False)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.grid(False, axis="y")
        _value_axis(ax.xaxis, "value_cost_ratio")
        ax.set_xlim(0, rows["value_cost_ratio"].max() * 1.15)
    _title(ax, "Customer value brought in per unit of yearly cost")
    _labels(ax, "Lifetime value / yearly cost (x)", "Who")
    return fig


@_styled
def forecast_vs_actual(frame: pd.DataFrame) -> Figure:
    """Forecast against revenue won, per period: paired bars.

    ``frame``: period, forecast_amount, actual.
    """
    _require(frame, ["period", "forecast_amount", "actual"], "forecast_vs_actual")
    fig, axes = _figure()
    ax = axes[0, 0]
    if frame.empty:
        _empty(ax, "No forecasts for these periods")
    else:
        x = np.arange(len(frame))
        ax.bar(x - 0.2, frame["forecast_amount"].astype(float), width=0.4, color=PALETTE["second"], label="Forecast")
        ax.bar(x + 0.2, frame["actual"].astype(float), width=0.4, color=PALETTE["you"], label="Revenue won")
        ax.set_xticks(x, [_text(p) for p in frame["period"]])
        ax.grid(False, axis="x")
        _value_axis(ax.yaxis, "actual")
        ax.legend(loc="upper left")
    _title(ax, "Forecast against revenue won, by period")
    _labels(ax, "Period", "Revenue (currency)")
    return fig


# -- the manager's and analyst's views (seaborn) -------------------------------------------


def _categories(values) -> list[str]:
    """Data text for a categorical axis, one per row: literal, shortened, and
    told apart when shortening made two the same (seaborn puts equal
    categories on one row)."""
    names, seen = [], {}
    for value in values:
        name = _text(value)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return names


def _marker(colour, *, hollow: bool = False, size: float = 7.0):
    """A legend entry for a dot drawn by :func:`seaborn.stripplot` (filled, or hollow: few closed deals)."""
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        linestyle="",
        marker="o",
        markersize=size,
        color=colour,
        markerfacecolor="white" if hollow else colour,
        markeredgewidth=1.8 if hollow else 0,
    )


def _seaborn_legend_below(fig, ax) -> None:
    """Move the legend seaborn put on ``ax`` below the chart, as the other charts have theirs."""
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    _legend_below(fig, ax)


@_seaborn_themed
def team_band(frame: pd.DataFrame, *, metric: str, title: str | None = None) -> Figure:
    """Every rep's value of one funnel factor against the team's middle half.

    ``frame``: label, value, band_low, band_median, band_high, and optionally
    is_focus (vermillion: this factor is the rep's focus) and small_sample
    (hollow: too few closed deals). The reps are a :func:`seaborn.stripplot`,
    one row each.
    """
    _require(frame, ["label", "value", "band_low", "band_median", "band_high"], "team_band")
    rows = frame.reset_index(drop=True)
    fig, ax = _seaborn_figure(figsize=(7.0, max(2.4, 1.0 + 0.3 * len(rows))))
    low, mid, high = (rows[c].iloc[0] if len(rows) else np.nan for c in ("band_low", "band_median", "band_high"))
    if pd.notna(low):
        ax.axvspan(low, high, color=PALETTE["band"], alpha=0.8, label="Team middle half", linewidth=0)
        ax.axvline(mid, color=PALETTE["peer"], linestyle="--", linewidth=1.5, label="Team median")
    focus = rows["is_focus"].astype(bool).to_numpy() if "is_focus" in rows else np.zeros(len(rows), bool)
    small = (
        rows["small_sample"].astype(bool).to_numpy()
        if "small_sample" in rows and metric in ("win_rate", "avg_deal_size", "cycle_days_median")
        else np.zeros(len(rows), bool)
    )
    reps = pd.DataFrame({"rep": _categories(rows["label"]), "value": rows["value"].astype(float)})
    handles, names = list(ax.get_legend_handles_labels()[0]), list(ax.get_legend_handles_labels()[1])
    for mask, colour, name in ((~focus, PALETTE["you"], "Rep"), (focus, PALETTE["focus"], "Rep whose focus this is")):
        for hollow in (False, True):
            points = reps[mask & (small == hollow)]
            if points.empty:
                continue
            sns.stripplot(
                data=points,
                x="value",
                y="rep",
                order=list(reps["rep"]),
                orient="h",
                jitter=False,
                size=7,
                color="white" if hollow else colour,
                edgecolor=colour,
                linewidth=1.8 if hollow else 0,
                legend=False,
                ax=ax,
            )
            handles.append(_marker(colour, hollow=hollow))
            names.append(f"{name}, few closed deals" if hollow else name)
    if reps.empty or not ax.collections:  # no rep drawn: the rows are still named
        ax.set_yticks(np.arange(len(reps)), list(reps["rep"]))
        ax.set_ylim(len(reps) - 0.5, -0.5)
    ax.grid(False, axis="y")
    _value_axis(ax.xaxis, metric)
    _title(ax, title or f"{label(metric)} by rep, against the team's middle half")
    xlabel = axis_label(metric) if metric != "cycle_days_median" else "Median sales cycle (days, lower is faster)"
    _labels(ax, xlabel, "Rep")
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4), frameon=False, fontsize=8)
    return fig


@_seaborn_themed
def metric_bars(frame: pd.DataFrame, *, metric: str, group: str, title: str | None = None) -> Figure:
    """One metric per group (rep, territory, customer type...): a horizontal :func:`seaborn.barplot`.

    ``frame``: the ``group`` column and ``metric`` (e.g. a metrics_table).
    """
    _require(frame, [group, metric], "metric_bars")
    rows = frame[[group, metric]].reset_index(drop=True)
    fig, ax = _seaborn_figure(figsize=(7.0, max(2.2, 1.0 + 0.28 * len(rows))))
    group_title = labels.group_name("rep" if group in ("rep_id", "label", "name") else group)
    if rows[metric].notna().sum() == 0:
        _empty(ax, f"No {label(metric).lower()} for this selection")
    else:
        bars = pd.DataFrame({group_title: _categories(rows[group]), metric: rows[metric].astype(float).fillna(0)})
        sns.barplot(
            data=bars,
            x=metric,
            y=group_title,
            order=list(bars[group_title]),
            orient="h",
            color=PALETTE["you"],
            saturation=1,
            width=0.6,
            errorbar=None,
            ax=ax,
        )
        ax.grid(False, axis="y")
        _value_axis(ax.xaxis, metric)
    _title(ax, title or f"{label(metric)} by {group_title.lower()}")
    _labels(ax, axis_label(metric), group_title)
    return fig


@_seaborn_themed
def effect_interval(effect: Mapping) -> Figure:
    """A training effect as a point with its 95 % interval, against zero.

    ``effect``: a :func:`salesnb.analysis.training.training_effect` dict (program,
    metric, effect, ci_low, ci_high). The point and its interval are a
    :func:`seaborn.pointplot` whose error bar is the estimated 95 % interval.
    """
    metric = effect.get("metric", "win_rate")
    fig, ax = _seaborn_figure(figsize=(7.0, 2.4))
    share = unit(metric) == "share"
    scale = 100.0 if share else 1.0
    what = "percentage points" if share else METRIC_LABELS.get(metric, (metric, "count"))[1]
    program = _text(effect.get("program"))
    if effect.get("effect") is None:
        _empty(ax, "No effect could be estimated")
    else:
        point, low, high = (float(effect[k]) * scale for k in ("effect", "ci_low", "ci_high"))
        ax.axvline(0, color=PALETTE["peer"], linewidth=1.2, linestyle="--", label="No effect")
        # the estimate is the median of (low, effect, high) and its interval their full range
        sns.pointplot(
            x=[low, point, high],
            y=[program] * 3,
            orient="h",
            estimator="median",
            errorbar=("pi", 100),
            color=PALETTE["you"],
            markersize=9,
            err_kws={"linewidth": 3},
            capsize=0.12,
            label="Effect and 95% interval",
            ax=ax,
        )
        ax.text(point, -0.2, f"{point:+.1f} ({low:+.1f} to {high:+.1f})", ha="center", fontsize=9, parse_math=False)
        span = max(abs(low), abs(high), 1.0)
        ax.set_xlim(min(-0.2 * span, low - 0.2 * span), max(0.2 * span, high + 0.2 * span))
        ax.legend(loc="lower right")
    ax.set_yticks([0], [program])
    ax.set_ylim(0.5, -0.5)
    ax.grid(False, axis="y")
    _title(ax, f"Training effect on {label(metric).lower()}, with its 95% interval")
    _labels(ax, f"Change in {label(metric).lower()}, trained minus untrained ({what})", "Program")
    return fig


@_seaborn_themed
def before_after(means: Mapping, *, metric: str = "win_rate") -> Figure:
    """Trained and untrained reps' average ``metric`` before and after the program: a :func:`seaborn.pointplot`.

    ``means``: treated_before, treated_after, control_before, control_after
    (the ``means`` of a training_effect dict).
    """
    fig, ax = _seaborn_figure(figsize=(7.0, 3.0))
    windows = ["Before the program", "After the program"]
    groups = {"Trained reps": ("treated", PALETTE["you"]), "Untrained reps": ("control", PALETTE["other"])}
    averages = pd.DataFrame(
        [
            {"group": name, "window": window, "value": float(means[f"{group}_{when}"])}
            for name, (group, _) in groups.items()
            if all(means.get(f"{group}_{when}") is not None for when in ("before", "after"))
            for window, when in zip(windows, ("before", "after"))
        ],
        columns=["group", "window", "value"],
    )
    if averages.empty:
        _empty(ax, "No before and after averages to compare")
    else:
        sns.pointplot(
            data=averages,
            x="window",
            y="value",
            hue="group",
            order=windows,
            hue_order=list(averages["group"].unique()),
            palette={name: colour for name, (_, colour) in groups.items()},
            errorbar=None,
            markersize=7,
            linewidth=2,
            ax=ax,
        )
    ax.set_xticks([0, 1], windows)
    ax.set_xlim(-0.3, 1.3)
    _value_axis(ax.yaxis, metric)
    _title(ax, f"Average {label(metric).lower()} before and after, trained vs untrained")
    _labels(ax, "Window", axis_label(metric))
    if ax.lines:
        ax.legend(loc="best")
    return fig


@_seaborn_themed
def forecast_error_heatmap(accuracy: pd.DataFrame, *, label_column: str = "label") -> Figure:
    """Forecast error per rep and period, a :func:`seaborn.heatmap`: over-forecasts orange, under-forecasts blue.

    ``accuracy``: ``label_column``, period, forecast_error_pct (from
    :func:`salesnb.analysis.forecasts.forecast_accuracy`).
    """
    _require(accuracy, [label_column, "period", "forecast_error_pct"], "forecast_error_heatmap")
    grid = accuracy.pivot_table(
        index=label_column, columns="period", values="forecast_error_pct", aggfunc="mean", observed=True, sort=True
    )
    fig, ax = _seaborn_figure(figsize=(7.0, max(2.6, 1.2 + 0.28 * len(grid))))
    if grid.empty:
        _empty(ax, "No forecasts")
    else:
        limit = max(10.0, float(np.nanpercentile(np.abs(grid.to_numpy(dtype=float)), 95)))
        cmap = matplotlib.colormaps["PuOr_r"].with_extremes(bad="#f2f2f2")
        sns.heatmap(
            grid.astype(float),
            cmap=cmap,
            vmin=-limit,
            vmax=limit,
            xticklabels=_categories(grid.columns),
            yticklabels=_categories(grid.index),
            linewidths=0.5,
            linecolor="white",
            cbar_kws={"shrink": 0.9, "format": FuncFormatter(lambda v, _: f"{v:+.0f}%")},
            ax=ax,
        )
        ax.patch.set_facecolor("#f2f2f2")  # periods without a forecast: light grey, as the colour map's missing values
        rotate = grid.shape[1] > 6
        ax.tick_params(axis="x", labelrotation=45 if rotate else 0)
        ax.tick_params(axis="y", labelrotation=0)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right" if rotate else "center")
        ax.grid(False)
        bar = ax.collections[0].colorbar
        bar.set_label("Forecast error (%)", fontsize=8.5)
    _title(ax, "Forecast error by rep and period")
    _labels(ax, "Period", "Rep")
    return fig


@_seaborn_themed
def forecast_bias(bias: pd.DataFrame, *, label_column: str = "label") -> Figure:
    """Each rep's median forecast error, a horizontal :func:`seaborn.barplot`; consistent over- and
    under-forecasters coloured.

    ``bias``: ``label_column``, median_error_pct, bias (``over``, ``under``,
    ``none``) from :func:`salesnb.analysis.forecasts.forecast_bias`.
    """
    _require(bias, [label_column, "median_error_pct", "bias"], "forecast_bias")
    rows = bias.dropna(subset=["median_error_pct"]).reset_index(drop=True)
    fig, ax = _seaborn_figure(figsize=(7.0, max(2.4, 1.0 + 0.28 * len(rows))))
    if rows.empty:
        _empty(ax, "No forecasts with a result to judge")
    else:
        colours = {"over": PALETTE["second"], "under": PALETTE["you"], "none": PALETTE["other"]}
        names = {"over": "Consistently over-forecasts", "under": "Consistently under-forecasts", "none": "No consistent bias"}
        errors = pd.DataFrame(
            {
                "Rep": _categories(rows[label_column]),
                "median_error_pct": rows["median_error_pct"].astype(float),
                "Bias": rows["bias"].map(names),
            }
        )
        kinds = [names[kind] for kind in ("over", "under", "none") if (rows["bias"] == kind).any()]
        sns.barplot(
            data=errors,
            x="median_error_pct",
            y="Rep",
            hue="Bias",
            order=list(errors["Rep"]),
            hue_order=kinds,
            palette={names[kind]: colour for kind, colour in colours.items()},
            orient="h",
            dodge=False,
            saturation=1,
            width=0.6,
            errorbar=None,
            ax=ax,
        )
        ax.axvline(0, color=PALETTE["peer"], linewidth=1)
        ax.grid(False, axis="y")
        _value_axis(ax.xaxis, "median_error_pct")
        _seaborn_legend_below(fig, ax)
    _title(ax, "Who over- or under-forecasts consistently")
    _labels(ax, "Median forecast error (%)", "Rep")
    return fig


@_seaborn_themed
def quality_counts(flags: pd.DataFrame) -> Figure:
    """Rows concerned per data-quality check, a horizontal :func:`seaborn.barplot`: where the data needs fixing first.

    ``flags``: flag, rows (from :func:`salesnb.analysis.quality.quality_flags`).
    """
    _require(flags, ["flag", "rows"], "quality_counts")
    counts = flags.groupby("flag", sort=False)["rows"].sum()
    fig, ax = _seaborn_figure(figsize=(7.0, max(2.2, 1.0 + 0.3 * len(counts))))
    if counts.empty:
        _empty(ax, "No data-quality flags")
    else:
        checks = pd.DataFrame(
            {"Check": _categories(str(f).replace("_", " ") for f in counts.index), "rows": counts.to_numpy(dtype=float)}
        )
        sns.barplot(
            data=checks,
            x="rows",
            y="Check",
            order=list(checks["Check"]),
            orient="h",
            color=PALETTE["second"],
            saturation=1,
            width=0.6,
            errorbar=None,
            ax=ax,
        )
        ax.grid(False, axis="y")
        _value_axis(ax.xaxis, "opportunities")
    _title(ax, "Rows concerned, by data-quality check")
    _labels(ax, "Rows (count)", "Check")
    return fig
