"""The rep-report charts, in plain matplotlib: :func:`factor_bands`, :func:`trend`,
:func:`trends` (a rep page's three trends in one figure), :func:`value_vs_cost`, :func:`forecast_vs_actual`, :func:`stage_stays`.

Every scheduled report draws them, and :mod:`salesnb.present.drawing` makes
them cheap (:func:`stock_figures`), with tests that compare their pixels to
matplotlib's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from salesnb.analysis.labels import FACTOR_NAMES, axis_label, factor_name, label, unit
from salesnb.analysis.metrics import SMALL_SAMPLE_MIN_CLOSED
from salesnb.present import drawing as figures
from salesnb.present.chart_style import (
    PALETTE,
    RC,
    chart_text,
    fit_value_axis,
    format_value_axis,
    new_figure,
    require_columns,
    set_labels,
    set_title,
    show_empty,
    styled,
)

__all__ = ["factor_bands", "trend", "trends", "value_vs_cost", "forecast_vs_actual", "stage_stays", "stock_figures"]


def stock_figures(draw) -> int:
    """:func:`salesnb.present.drawing.stock_figures` for salesnb's charts: call ``draw()``
    (e.g. one report's charts), then make blank figures of the shapes it used."""
    return figures.stock_figures(draw)


@styled
def factor_bands(factors: pd.DataFrame, *, peer_label: str = "team") -> Figure:
    """One rep's funnel factors against the peers' band, one small panel each.

    ``factors``: rows with factor, metric, rep_value, peer_low, peer_median,
    peer_high, small_sample, is_focus (:attr:`salesnb.present.pages.RepReport.factors`).
    Each panel shows the peers' middle half as a grey bar, their median as a
    dashed line and the rep as a dot (vermillion on the focus factor).
    """
    require_columns(factors, ["factor", "metric", "rep_value", "peer_low", "peer_median", "peer_high"], "factor_bands")
    order = [f for f in FACTOR_NAMES if f in set(factors["factor"])]
    fig, axes = new_figure(1, max(len(order), 1), figsize=(7.0, 3.2))
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
        # the rep, the peers' median and their middle half all on the axis, which spans a sensible least range
        fit_value_axis(ax, metric, [r["rep_value"], r["peer_low"], r["peer_median"], r["peer_high"]])
        ax.set_xlim(-0.6, 0.6)
        ax.set_xticks([])
        ax.grid(False, axis="x")
        format_value_axis(ax.yaxis, metric)
        title = factor_name(factor) + (" (focus)" if r.get("is_focus") else "")
        set_title(ax, title)
        ylabel = axis_label(metric)
        if metric == "cycle_days_median":
            ylabel = "Median cycle (days, lower is faster)"
        set_labels(ax, "you vs peers", ylabel)
    handles, names = [], []
    focus_last = sorted(zip(axes.flat, order), key=lambda pair: bool(rows.loc[pair[1]].get("is_focus")))
    for ax, _ in focus_last:  # "You" in the legend is blue: the focus panel's vermillion dot comes last
        for h, n in zip(*ax.get_legend_handles_labels()):
            if n not in names:
                handles.append(h)
                names.append(n)
    # every colour and marker drawn is named: the focus dot and a hollow (few closed deals) one too
    drawn = [rows.loc[f] for f in order if pd.notna(rows.loc[f]["rep_value"])]
    if any(bool(r.get("is_focus")) for r in drawn):
        handles.append(_dot(PALETTE["focus"]))
        names.append("You, on your focus")
    if any(bool(r.get("small_sample")) for r in drawn):
        handles.append(_dot(PALETTE["you"], hollow=True))
        names.append("Hollow: few closed deals")
    if handles:
        ranked = sorted(zip(names, handles), key=lambda pair: not pair[0].startswith(("You", "Hollow")))  # you first
        names, handles = [n for n, _ in ranked], [h for _, h in ranked]
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 3), frameon=False, fontsize=8.5)
    return fig


def _dot(colour, *, hollow: bool = False):
    """A legend entry for a dot the chart draws (hollow: too few closed deals to read much into)."""
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        linestyle="",
        marker="o",
        markersize=8,
        color=colour,
        markerfacecolor="white" if hollow else colour,
        markeredgewidth=2,
    )


@styled
def trend(frame: pd.DataFrame, *, metric: str, peer_label: str = "team") -> Figure:
    """A rep's metric per quarter against the peers' median (and middle half).

    ``frame``: quarter, rep_value, peer_median, and optionally peer_low,
    peer_high, small_sample (hollow markers: too few closed deals).
    A rep page shows its three trends as one figure, :func:`trends`.
    """
    require_columns(frame, ["quarter", "rep_value", "peer_median"], "trend")
    fig, axes = new_figure()
    ax = axes[0, 0]
    x = np.arange(len(frame))
    _trend_panel(ax, frame, metric, peer_label, x)
    ax.set_xticks(x, [chart_text(q) for q in frame["quarter"]])
    set_title(ax, f"{label(metric)} by quarter: you and the {peer_label} median")
    set_labels(ax, "Quarter", axis_label(metric))
    ax.legend(loc="best")
    return fig


TRENDS_PANEL_HEIGHT = 1.9
"""Inches of figure per panel of :func:`trends` (plus :data:`TRENDS_FRAME_HEIGHT` for its title, axis and legend)."""
TRENDS_FRAME_HEIGHT = 1.2


@styled
def trends(frames: Mapping[str, pd.DataFrame], *, peer_label: str = "team") -> Figure:
    """A rep's metrics per quarter, one panel each, stacked on one quarter axis:
    the rep's line against the peers' median (dashed) and middle half (grey).

    ``frames``: metric -> that metric's frame, as :func:`trend` takes it
    (quarter, rep_value, peer_median, and optionally peer_low, peer_high,
    small_sample), panels top to bottom in the mapping's order; a rep page
    passes ``{m: report.trend(m) for m in pages.TREND_METRICS}``. Each panel
    has its metric's title, value-axis name with its unit, tick format and
    fitted range; the quarters (the frames' own, in order of first
    appearance) are named once, under the bottom panel, and the figure has
    one legend. A peer figure left out (NaN: too few peers, or withheld for
    privacy) is not drawn; a metric with no figure of the rep's says so in
    its panel's title.
    """
    if not frames:
        raise ValueError("trends needs at least one metric's frame")
    for frame in frames.values():
        require_columns(frame, ["quarter", "rep_value", "peer_median"], "trends")
    quarters = list(dict.fromkeys(q for frame in frames.values() for q in frame["quarter"]))
    position = {q: i for i, q in enumerate(quarters)}
    height = round(TRENDS_FRAME_HEIGHT + TRENDS_PANEL_HEIGHT * len(frames), 2)
    fig, axes = new_figure(len(frames), 1, figsize=(7.0, height), sharex=True)
    whose = "your team's median" if peer_label == "team" else "all reps' median"
    fig.suptitle(f"Your last quarters beside {whose}", fontsize=11, fontweight="bold", x=0.01, ha="left")
    for ax, (metric, frame) in zip(axes[:, 0], frames.items()):
        x = np.array([position[q] for q in frame["quarter"]], dtype=int)
        _trend_panel(ax, frame, metric, peer_label, x)
        mine = pd.to_numeric(frame["rep_value"], errors="coerce")
        set_title(ax, label(metric) + ("" if mine.notna().any() else ": no figure of yours in these quarters"))
        ax.set_ylabel(axis_label(metric), fontsize=RC["axes.labelsize"], parse_math=False)
    bottom = axes[-1, 0]
    bottom.set_xticks(np.arange(len(quarters)), [chart_text(q) for q in quarters])
    bottom.set_xlabel("Quarter", fontsize=RC["axes.labelsize"], parse_math=False)
    fig.align_ylabels(axes[:, 0])
    handles, names = [], []
    for ax in axes[:, 0]:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            if name not in names:
                handles.append(handle)
                names.append(name)
    if handles:
        # you first, then the peers' median, then their middle half
        ranked = sorted(zip(names, handles), key=lambda pair: (not pair[0].startswith("You"), pair[0].endswith("middle half")))
        names, handles = [n for n, _ in ranked], [h for _, h in ranked]
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4), frameon=False, fontsize=8.5)
    return fig


def _trend_panel(ax, frame: pd.DataFrame, metric: str, peer_label: str, x) -> None:
    """One metric's quarters on ``ax``, at the positions ``x``: the peers' middle half
    (an area; a quarter alone a short bar), their median, the rep's line and dots
    (hollow where few deals closed, win rate only), the value axis formatted and
    fitted to every figure drawn. NaN figures (left out) are not drawn."""
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
    format_value_axis(ax.yaxis, metric)
    drawn = [values, frame["peer_median"]] + [frame[c] for c in ("peer_low", "peer_high") if c in frame.columns]
    fit_value_axis(
        ax,
        metric,
        np.concatenate([np.asarray(v, dtype=float) for v in drawn]),
        from_zero=unit(metric) in ("share", "count", "currency"),
    )


@styled
def value_vs_cost(frame: pd.DataFrame, *, label_column: str = "label", highlight: Sequence[str] = ()) -> Figure:
    """Customer lifetime value per unit of yearly cost, one bar per row.

    ``frame``: ``label_column`` and value_cost_ratio (e.g. "You" and "Team
    median", or one row per rep). Rows named in ``highlight`` are blue, the
    others grey.
    """
    require_columns(frame, [label_column, "value_cost_ratio"], "value_vs_cost")
    rows = frame.dropna(subset=["value_cost_ratio"])
    fig, axes = new_figure(figsize=(7.0, max(2.2, 0.9 + 0.32 * len(rows))))
    ax = axes[0, 0]
    if rows.empty:
        show_empty(ax, "No yearly cost recorded: value per unit of cost cannot be shown")
    else:
        names = [chart_text(v) for v in rows[label_column]]
        colours = [PALETTE["you"] if n in set(highlight) else PALETTE["other"] for n in names]
        y = np.arange(len(rows))
        ax.barh(y, rows["value_cost_ratio"].astype(float), color=colours, height=0.6)
        for yi, v in zip(y, rows["value_cost_ratio"].astype(float)):
            ax.text(v, yi, f" {v:,.1f}x", va="center", fontsize=8.5, parse_math=False)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.grid(False, axis="y")
        format_value_axis(ax.xaxis, "value_cost_ratio")
        ax.set_xlim(0, rows["value_cost_ratio"].max() * 1.15)
    set_title(ax, "Customer value brought in per unit of yearly cost")
    set_labels(ax, "Lifetime value / yearly cost (x)", "Who")
    return fig


@styled
def forecast_vs_actual(frame: pd.DataFrame) -> Figure:
    """Forecast against revenue won, per period: paired bars.

    ``frame``: period, forecast_amount, actual.
    """
    require_columns(frame, ["period", "forecast_amount", "actual"], "forecast_vs_actual")
    fig, axes = new_figure()
    ax = axes[0, 0]
    if frame.empty:
        show_empty(ax, "No forecasts for these periods")
    else:
        x = np.arange(len(frame))
        ax.bar(x - 0.2, frame["forecast_amount"].astype(float), width=0.4, color=PALETTE["second"], label="Forecast")
        ax.bar(x + 0.2, frame["actual"].astype(float), width=0.4, color=PALETTE["you"], label="Revenue won")
        ax.set_xticks(x, [chart_text(p) for p in frame["period"]])
        ax.grid(False, axis="x")
        format_value_axis(ax.yaxis, "actual")
        ax.legend(loc="upper left")
    set_title(ax, "Forecast against revenue won, by period")
    set_labels(ax, "Period", axis_label("actual").replace("Revenue won", "Revenue"))
    return fig


@styled
def stage_stays(frame: pd.DataFrame | None, *, peer_label: str = "team") -> Figure:
    """The rep's median stay per stage beside the peers' median: paired bars,
    each stage's stage-to-stage conversion (share of stays not ended with
    the deal lost) written beside it.

    ``frame``: :func:`salesnb.analysis.history.stage_comparison` (stage,
    rep_days, peer_days, rep_moved_on, peer_moved_on); None or empty draws a
    note instead. A peer figure that could not be made safe is not drawn.
    """
    fig, axes = new_figure(figsize=(7.0, max(2.6, 1.5 + 0.55 * (0 if frame is None else len(frame)))))
    ax = axes[0, 0]
    if frame is None or frame.empty or frame["rep_days"].isna().all():
        show_empty(ax, "No deal history (opportunity_history) with stage stays in this period")
    else:
        require_columns(frame, ["stage", "rep_days", "peer_days", "rep_moved_on", "peer_moved_on"], "stage_stays")
        y = np.arange(len(frame))
        mine = pd.to_numeric(frame["rep_days"], errors="coerce").to_numpy(dtype=float)
        theirs = pd.to_numeric(frame["peer_days"], errors="coerce").to_numpy(dtype=float)
        ax.barh(y - 0.2, np.nan_to_num(mine), height=0.4, color=PALETTE["you"], label="You")
        ax.barh(y + 0.2, np.nan_to_num(theirs), height=0.4, color=PALETTE["other"], label=f"{peer_label.capitalize()} median")
        top = np.nanmax(np.r_[mine, theirs, 1.0])
        for yi, row in zip(y, frame.itertuples(index=False)):
            said = [] if pd.isna(row.rep_moved_on) else [f"you {row.rep_moved_on:.0%}"]
            said += [] if row.peer_moved_on is None or pd.isna(row.peer_moved_on) else [f"peers {row.peer_moved_on:.0%}"]
            if said:
                ax.text(top * 1.02, yi, "moved on: " + ", ".join(said), va="center", fontsize=8.5, parse_math=False)
        ax.set_yticks(y, [chart_text(s) for s in frame["stage"]])
        ax.invert_yaxis()
        ax.grid(False, axis="y")
        ax.set_xlim(0, top * 1.6)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, frameon=False)
    set_title(ax, f"Days in each stage: you and the {peer_label} median")
    set_labels(ax, "Median finished stay (days)", "Stage")
    return fig
