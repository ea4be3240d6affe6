"""Charts for the notebooks and reports: tidy frames in, a matplotlib Figure out.

Every function takes the frame or dict an analysis (or :mod:`salesnb.present.pages`)
produced and draws it; none computes a metric. Each chart says one thing,
has a title and labelled axes with units ("Win rate (%)", "Revenue won
(currency)", "Days"), uses seaborn's colour-blind-safe palette, and is small
(about 7 x 3.5 inches; :func:`salesnb.present.html.chart` writes it as a compact
PNG).

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
from cycler import cycler
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from salesnb.present import drawing as figures
from salesnb.present.html import METRIC_LABELS, axis_label, label, unit
from salesnb.analysis.metrics import SMALL_SAMPLE_MIN_CLOSED

__all__ = [
    "PALETTE", "FIGSIZE", "factor_bands", "trend", "value_vs_cost", "forecast_vs_actual",
    "team_band", "metric_bars", "effect_interval", "before_after", "forecast_error_heatmap",
    "forecast_bias", "quality_counts",
]

FIGSIZE = (7.0, 3.5)

_COLORBLIND = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494",
               "#ece133", "#56b4e9")
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

_FACTOR_TITLES = {"prospecting": "Prospecting", "conversion": "Conversion", "deal_size": "Deal size",
                  "velocity": "Velocity"}

_RC = {
    "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 11, "axes.titleweight": "bold",
    "axes.labelsize": 9, "xtick.labelsize": 8.5, "ytick.labelsize": 8.5, "legend.fontsize": 8.5,
    "legend.frameon": False, "axes.grid": True, "grid.color": "#e5e5e5", "grid.linewidth": 0.8,
    "axes.axisbelow": True, "font.family": "DejaVu Sans", "text.parse_math": False,
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


def _figure(nrows: int = 1, ncols: int = 1, *, figsize=FIGSIZE, **kw):
    """A new chart's Figure and grid of Axes in salesnb's style (:func:`salesnb.present.drawing.figure`)."""
    return figures.figure(nrows, ncols, figsize=figsize, style=_RC, **kw)


def stock_figures(draw) -> int:
    """:func:`salesnb.present.drawing.stock_figures` for salesnb's charts: call ``draw()``
    (e.g. one report's charts), then make blank figures of the shapes it used."""
    return figures.stock_figures(draw, style=_RC)


LABEL_CHARS = 40
"""Data text longer than this is shortened on a chart (the tables show it whole)."""


def _text(value) -> str:
    """Data text for a label: drawn literally (no mathtext, no None), at most LABEL_CHARS long."""
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "\u2026"


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
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:,.1f}M"
    if size >= 1e3:
        return f"{value / 1e3:,.0f}k"
    return f"{value:,.0f}"


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
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=PALETTE["peer"],
            parse_math=False)
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
    order = [f for f in _FACTOR_TITLES if f in set(factors["factor"])]
    fig, axes = _figure(1, max(len(order), 1), figsize=(7.0, 3.2))
    whose = "your team's middle half" if peer_label == "team" else "the middle half of all reps"
    fig.suptitle(f"Your funnel against {whose}", fontsize=11, fontweight="bold", x=0.01,
                 ha="left")
    rows = factors.set_index("factor")
    for ax, factor in zip(axes.flat, order):
        r = rows.loc[factor]
        metric = r["metric"]
        if pd.notna(r["peer_low"]):
            ax.bar([0], [r["peer_high"] - r["peer_low"]], bottom=[r["peer_low"]], width=0.5, color=PALETTE["band"],
                   label=f"{peer_label.capitalize()} middle half")
        if pd.notna(r["peer_median"]):
            ax.hlines(r["peer_median"], -0.35, 0.35, colors=PALETTE["peer"], linestyles="--", linewidth=1.5,
                      label=f"{peer_label.capitalize()} median")
        if pd.notna(r["rep_value"]):
            colour = PALETTE["focus"] if r.get("is_focus") else PALETTE["you"]
            hollow = bool(r.get("small_sample"))
            ax.scatter([0], [r["rep_value"]], s=70, zorder=3, color="white" if hollow else colour,
                       edgecolors=colour, linewidths=2, label="You")
        values = [v for v in (r["rep_value"], r["peer_low"], r["peer_high"]) if pd.notna(v)]
        if values:
            low, high = min(values), max(values)
            pad = (high - low) * 0.25 or abs(high) * 0.2 or 1
            ax.set_ylim(max(0, low - pad) if low >= 0 else low - pad, high + pad)
        ax.set_xlim(-0.6, 0.6)
        ax.set_xticks([])
        ax.grid(False, axis="x")
        _value_axis(ax.yaxis, metric)
        title = _FACTOR_TITLES.get(factor, factor) + (" (focus)" if r.get("is_focus") else "")
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
        ax.fill_between(x, low, high, color=PALETTE["band"], alpha=0.8, linewidth=0,
                        label=f"{peer_label.capitalize()} middle half")
        # a quarter whose neighbours have no band would be an invisible sliver of area: a short bar instead
        has = ~np.isnan(low)
        alone = has & ~np.r_[False, has[:-1]] & ~np.r_[has[1:], False]
        if alone.any():
            ax.bar(x[alone], (high - low)[alone], bottom=low[alone], width=0.3, color=PALETTE["band"], alpha=0.8,
                   linewidth=0)
    ax.plot(x, frame["peer_median"].astype(float), color=PALETTE["peer"], linestyle="--", marker="s", markersize=4,
            linewidth=1.5, label=f"{peer_label.capitalize()} median")
    values = frame["rep_value"].astype(float)
    ax.plot(x, values, color=PALETTE["you"], linewidth=2, label="You")
    small = frame["small_sample"].astype(bool).to_numpy() if "small_sample" in frame and metric == "win_rate" else np.zeros(len(frame), bool)
    ax.scatter(x[~small], values[~small], color=PALETTE["you"], s=36, zorder=3)
    if small.any():
        ax.scatter(x[small], values[small], color="white", edgecolors=PALETTE["you"], linewidths=1.8, s=36, zorder=3,
                   label=f"You, fewer than {SMALL_SAMPLE_MIN_CLOSED} deals closed")
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


# -- the manager's views ----------------------------------------------------------------

@_styled
def team_band(frame: pd.DataFrame, *, metric: str, title: str | None = None) -> Figure:
    """Every rep's value of one funnel factor against the team's middle half.

    ``frame``: label, value, band_low, band_median, band_high, and optionally
    is_focus (vermillion: this factor is the rep's focus) and small_sample
    (hollow: too few closed deals).
    """
    _require(frame, ["label", "value", "band_low", "band_median", "band_high"], "team_band")
    rows = frame.reset_index(drop=True)
    fig, axes = _figure(figsize=(7.0, max(2.4, 1.0 + 0.3 * len(rows))))
    ax = axes[0, 0]
    y = np.arange(len(rows))
    low, mid, high = (rows[c].iloc[0] if len(rows) else np.nan for c in ("band_low", "band_median", "band_high"))
    if pd.notna(low):
        ax.axvspan(low, high, color=PALETTE["band"], alpha=0.8, label="Team middle half", linewidth=0)
        ax.axvline(mid, color=PALETTE["peer"], linestyle="--", linewidth=1.5, label="Team median")
    focus = rows["is_focus"].astype(bool).to_numpy() if "is_focus" in rows else np.zeros(len(rows), bool)
    small = rows["small_sample"].astype(bool).to_numpy() if "small_sample" in rows and metric in ("win_rate", "avg_deal_size", "cycle_days_median") else np.zeros(len(rows), bool)
    values = rows["value"].astype(float).to_numpy()
    for mask, colour, name in ((~focus, PALETTE["you"], "Rep"), (focus, PALETTE["focus"], "Rep whose focus this is")):
        solid, hollow = mask & ~small, mask & small
        if solid.any():
            ax.scatter(values[solid], y[solid], color=colour, s=50, zorder=3, label=name)
        if hollow.any():
            ax.scatter(values[hollow], y[hollow], color="white", edgecolors=colour, linewidths=1.8, s=50, zorder=3,
                       label=f"{name}, few closed deals")
    ax.set_yticks(y, [_text(v) for v in rows["label"]])
    ax.invert_yaxis()
    ax.grid(False, axis="y")
    _value_axis(ax.xaxis, metric)
    _title(ax, title or f"{label(metric)} by rep, against the team's middle half")
    xlabel = axis_label(metric) if metric != "cycle_days_median" else "Median sales cycle (days, lower is faster)"
    _labels(ax, xlabel, "Rep")
    _legend_below(fig, ax)
    return fig


@_styled
def metric_bars(frame: pd.DataFrame, *, metric: str, group: str, title: str | None = None) -> Figure:
    """One metric per group (rep, territory, customer type...): horizontal bars.

    ``frame``: the ``group`` column and ``metric`` (e.g. a metrics_table).
    """
    _require(frame, [group, metric], "metric_bars")
    rows = frame[[group, metric]].reset_index(drop=True)
    fig, axes = _figure(figsize=(7.0, max(2.2, 1.0 + 0.28 * len(rows))))
    ax = axes[0, 0]
    group_name = _GROUP_NAMES.get(group, group.replace("_", " ").capitalize())
    if rows[metric].notna().sum() == 0:
        _empty(ax, f"No {label(metric).lower()} for this selection")
    else:
        y = np.arange(len(rows))
        values = rows[metric].astype(float).fillna(0)
        ax.barh(y, values, color=PALETTE["you"], height=0.6)
        ax.set_yticks(y, [_text(v) for v in rows[group]])
        ax.invert_yaxis()
        ax.grid(False, axis="y")
        _value_axis(ax.xaxis, metric)
    _title(ax, title or f"{label(metric)} by {group_name.lower()}")
    _labels(ax, axis_label(metric), group_name)
    return fig


_GROUP_NAMES = {"rep_id": "Rep", "label": "Rep", "name": "Rep", "team": "Team", "territory": "Territory",
                "customer_type": "Customer type", "acquisition_method": "Acquisition method",
                "market_tier": "Market tier"}


@_styled
def effect_interval(effect: Mapping) -> Figure:
    """A training effect as a point with its 95 % interval, against zero.

    ``effect``: a :func:`salesnb.analysis.training.training_effect` dict (program,
    metric, effect, ci_low, ci_high).
    """
    metric = effect.get("metric", "win_rate")
    fig, axes = _figure(figsize=(7.0, 2.4))
    ax = axes[0, 0]
    share = unit(metric) == "share"
    scale = 100.0 if share else 1.0
    what = "percentage points" if share else METRIC_LABELS.get(metric, (metric, "count"))[1]
    if effect.get("effect") is None:
        _empty(ax, "No effect could be estimated")
    else:
        point, low, high = (float(effect[k]) * scale for k in ("effect", "ci_low", "ci_high"))
        ax.axvline(0, color=PALETTE["peer"], linewidth=1.2, linestyle="--", label="No effect")
        ax.errorbar([point], [0], xerr=[[point - low], [high - point]], fmt="o", color=PALETTE["you"], ecolor=PALETTE["you"],
                    elinewidth=3, capsize=6, markersize=9, label="Effect and 95% interval")
        ax.text(point, 0.18, f"{point:+.1f} ({low:+.1f} to {high:+.1f})", ha="center", fontsize=9, parse_math=False)
        span = max(abs(low), abs(high), 1.0)
        ax.set_xlim(min(-0.2 * span, low - 0.2 * span), max(0.2 * span, high + 0.2 * span))
        ax.set_ylim(-0.5, 0.5)
        ax.legend(loc="lower right")
    ax.set_yticks([0], [_text(effect.get("program"))])
    ax.grid(False, axis="y")
    _title(ax, f"Training effect on {label(metric).lower()}, with its 95% interval")
    _labels(ax, f"Change in {label(metric).lower()}, trained minus untrained ({what})", "Program")
    return fig


@_styled
def before_after(means: Mapping, *, metric: str = "win_rate") -> Figure:
    """Trained and untrained reps' average ``metric`` before and after the program.

    ``means``: treated_before, treated_after, control_before, control_after
    (the ``means`` of a training_effect dict).
    """
    fig, axes = _figure(figsize=(7.0, 3.0))
    ax = axes[0, 0]
    x = [0, 1]
    for group, colour, name in (("treated", PALETTE["you"], "Trained reps"), ("control", PALETTE["other"], "Untrained reps")):
        values = [means.get(f"{group}_before"), means.get(f"{group}_after")]
        if all(v is not None for v in values):
            ax.plot(x, values, marker="o", color=colour, linewidth=2, markersize=7, label=name)
    if not ax.lines:
        _empty(ax, "No before and after averages to compare")
    ax.set_xticks(x, ["Before the program", "After the program"])
    ax.set_xlim(-0.3, 1.3)
    _value_axis(ax.yaxis, metric)
    _title(ax, f"Average {label(metric).lower()} before and after, trained vs untrained")
    _labels(ax, "Window", axis_label(metric))
    if ax.lines:
        ax.legend(loc="best")
    return fig


@_styled
def forecast_error_heatmap(accuracy: pd.DataFrame, *, label_column: str = "label") -> Figure:
    """Forecast error per rep and period: over-forecasts orange, under-forecasts blue.

    ``accuracy``: ``label_column``, period, forecast_error_pct (from
    :func:`salesnb.analysis.forecasts.forecast_accuracy`).
    """
    _require(accuracy, [label_column, "period", "forecast_error_pct"], "forecast_error_heatmap")
    grid = accuracy.pivot_table(index=label_column, columns="period", values="forecast_error_pct", aggfunc="mean", observed=True,
                                sort=True)
    fig, axes = _figure(figsize=(7.0, max(2.6, 1.2 + 0.28 * len(grid))))
    ax = axes[0, 0]
    if grid.empty:
        _empty(ax, "No forecasts")
    else:
        limit = max(10.0, float(np.nanpercentile(np.abs(grid.to_numpy(dtype=float)), 95)))
        cmap = matplotlib.colormaps["PuOr_r"].with_extremes(bad="#f2f2f2")
        image = ax.imshow(np.ma.masked_invalid(grid.to_numpy(dtype=float)), aspect="auto", cmap=cmap, vmin=-limit,
                          vmax=limit)
        rotate = grid.shape[1] > 6
        ax.set_xticks(np.arange(grid.shape[1]), [_text(c) for c in grid.columns], rotation=45 if rotate else 0,
                      ha="right" if rotate else "center")
        ax.set_yticks(np.arange(grid.shape[0]), [_text(i) for i in grid.index])
        ax.grid(False)
        bar = fig.colorbar(image, ax=ax, shrink=0.9)
        bar.set_label("Forecast error (%)", fontsize=8.5)
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}%"))
    _title(ax, "Forecast error by rep and period")
    _labels(ax, "Period", "Rep")
    return fig


@_styled
def forecast_bias(bias: pd.DataFrame, *, label_column: str = "label") -> Figure:
    """Each rep's median forecast error; consistent over- and under-forecasters coloured.

    ``bias``: ``label_column``, median_error_pct, bias (``over``, ``under``,
    ``none``) from :func:`salesnb.analysis.forecasts.forecast_bias`.
    """
    _require(bias, [label_column, "median_error_pct", "bias"], "forecast_bias")
    rows = bias.dropna(subset=["median_error_pct"]).reset_index(drop=True)
    fig, axes = _figure(figsize=(7.0, max(2.4, 1.0 + 0.28 * len(rows))))
    ax = axes[0, 0]
    if rows.empty:
        _empty(ax, "No forecasts with a result to judge")
    else:
        colours = {"over": PALETTE["second"], "under": PALETTE["you"], "none": PALETTE["other"]}
        names = {"over": "Consistently over-forecasts", "under": "Consistently under-forecasts", "none": "No consistent bias"}
        y = np.arange(len(rows))
        for kind in ("over", "under", "none"):
            mask = (rows["bias"] == kind).to_numpy()
            if mask.any():
                ax.barh(y[mask], rows.loc[mask, "median_error_pct"].astype(float), color=colours[kind], height=0.6,
                        label=names[kind])
        ax.axvline(0, color=PALETTE["peer"], linewidth=1)
        ax.set_yticks(y, [_text(v) for v in rows[label_column]])
        ax.invert_yaxis()
        ax.grid(False, axis="y")
        _value_axis(ax.xaxis, "median_error_pct")
        _legend_below(fig, ax)
    _title(ax, "Who over- or under-forecasts consistently")
    _labels(ax, "Median forecast error (%)", "Rep")
    return fig


@_styled
def quality_counts(flags: pd.DataFrame) -> Figure:
    """Rows concerned per data-quality check: where the data needs fixing first.

    ``flags``: flag, rows (from :func:`salesnb.analysis.quality.quality_flags`).
    """
    _require(flags, ["flag", "rows"], "quality_counts")
    counts = flags.groupby("flag", sort=False)["rows"].sum()
    fig, axes = _figure(figsize=(7.0, max(2.2, 1.0 + 0.3 * len(counts))))
    ax = axes[0, 0]
    if counts.empty:
        _empty(ax, "No data-quality flags")
    else:
        y = np.arange(len(counts))
        ax.barh(y, counts.to_numpy(dtype=float), color=PALETTE["second"], height=0.6)
        ax.set_yticks(y, [_text(f).replace("_", " ") for f in counts.index])
        ax.invert_yaxis()
        ax.grid(False, axis="y")
        _value_axis(ax.xaxis, "opportunities")
    _title(ax, "Rows concerned, by data-quality check")
    _labels(ax, "Rows (count)", "Check")
    return fig
