"""The analyst-facing charts (team pages, the analysis notebooks, the segment explorer),
in seaborn's look: drawn with seaborn's functions (barplot, pointplot, histplot), or, where
those cost much and the marks are simple (the team page's strips and bars, the training
effect's interval, the forecast heatmap), with matplotlib drawing the same marks seaborn
would (the same pixels; issue #16), the categories registered on the axis as seaborn does.

Each is drawn inside seaborn's "whitegrid" style and "paper" context, entered
as contexts around the chart (:func:`salesnb.present.chart_style.seaborn_themed`;
never a global ``sns.set_theme()``: a report leaves rcParams as it found
them). An analyst extends one the way they extend any seaborn chart: another
``sns.*`` call with ``ax=fig.axes[0]``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from salesnb.analysis import labels
from salesnb.analysis.labels import FACTOR_NAMES, METRIC_LABELS, axis_label, factor_name, label, unit
from salesnb.present.chart_style import (
    PALETTE,
    SEABORN_RC,
    chart_text,
    fit_value_axis,
    format_value_axis,
    legend_below,
    new_figure,
    new_seaborn_figure,
    require_columns,
    seaborn_themed,
    set_labels,
    set_title,
    show_empty,
)

__all__ = [
    "MANY_REPS",
    "team_band",
    "team_bands",
    "team_value",
    "metric_bars",
    "effect_interval",
    "before_after",
    "forecast_error_heatmap",
    "forecast_bias",
    "quality_counts",
]


MANY_REPS = 40
"""Beyond this many reps a team chart shows the spread of the team (a
histogram), not one row per rep: 500 rows are neither readable nor small."""


def _categories(values) -> list[str]:
    """Data text for a categorical axis, one per row: literal, shortened, and
    told apart when shortening made two the same (seaborn puts equal
    categories on one row)."""
    names, seen = [], {}
    for value in values:
        name = chart_text(value)
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
    legend_below(fig, ax)


@seaborn_themed
def team_band(frame: pd.DataFrame, *, metric: str, title: str | None = None) -> Figure:
    """Every rep's value of one funnel factor against the team's middle half.

    ``frame``: label, value, band_low, band_median, band_high, and optionally
    is_focus (vermillion: this factor is the rep's focus) and small_sample
    (hollow: too few closed deals). The reps are dots as :func:`seaborn.stripplot`
    draws them (jitter off), one row each.
    """
    require_columns(frame, ["label", "value", "band_low", "band_median", "band_high"], "team_band")
    rows = frame.reset_index(drop=True)
    if len(rows) > MANY_REPS:
        return _team_spread(rows, metric=metric, title=title)
    fig, ax = new_seaborn_figure(figsize=(7.0, max(2.4, 1.0 + 0.3 * len(rows))))
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
    names_shown = _categories(rows["label"])
    values = rows["value"].astype(float).to_numpy()
    if len(rows):  # the rows as categories, as seaborn made them: another sns.* call finds each rep's row
        ax.yaxis.update_units(names_shown)
    handles, names = list(ax.get_legend_handles_labels()[0]), list(ax.get_legend_handles_labels()[1])
    # the dots as seaborn's stripplot (jitter off) draws them, with matplotlib alone: one
    # scatter per rep row (zorder 3, size 7 points), each rep on its row, the first row on top
    for mask, colour, name in ((~focus, PALETTE["you"], "Rep"), (focus, PALETTE["focus"], "Rep whose focus this is")):
        for hollow in (False, True):
            chosen = np.flatnonzero(mask & (small == hollow))
            if not len(chosen):
                continue
            for row in chosen:
                if np.isnan(values[row]):
                    continue
                ax.scatter(
                    [values[row]],
                    [float(row)],
                    color="white" if hollow else colour,
                    edgecolor=colour,
                    linewidth=1.8 if hollow else 0,
                    s=49,
                    zorder=3,
                )
            handles.append(_marker(colour, hollow=hollow))
            names.append(f"{name}, few closed deals" if hollow else name)
    if len(rows):  # every rep's row named, the first on top (a rep without a value too)
        ax.set_yticks(np.arange(len(rows)), names_shown)
        ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(False, axis="y")
    format_value_axis(ax.xaxis, metric)
    fit_value_axis(ax, metric, [*rows["value"], low, mid, high], axis="x")
    set_title(ax, title or f"{label(metric)} by rep, against the team's middle half")
    set_labels(ax, _value_label(metric), "Rep")
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4), frameon=False, fontsize=8)
    return fig


def _team_spread(rows: pd.DataFrame, *, metric: str, title: str | None) -> Figure:
    """:func:`team_band` for a big team: how the reps spread (a :func:`seaborn.histplot`),
    the team's middle half and median, and how many reps have this factor as their focus."""
    fig, ax = new_seaborn_figure(figsize=(7.0, 3.2))
    focus = _spread(ax, rows, metric)
    set_title(ax, title or f"{label(metric)} across the team's {len(rows):,} reps")
    set_labels(ax, _value_label(metric), "Reps (count)")
    handles, names = ax.get_legend_handles_labels()
    if focus:
        from matplotlib.patches import Patch

        handles.append(Patch(color="none"))
        names.append(f"{focus:,} rep{'s' if focus != 1 else ''} with this as their focus (see the queue)")
    fig.legend(handles, names, loc="outside lower center", ncols=2, frameon=False, fontsize=8)
    return fig


def _spread(ax, rows: pd.DataFrame, metric: str) -> int:
    """Draw on ``ax`` how the reps' values of ``metric`` spread (a :func:`seaborn.histplot`), the
    team's middle half and its median; its value axis formatted and fitted. Returns how many reps
    have this factor as their focus."""
    values = rows["value"].astype(float).dropna()
    low, mid, high = (rows[c].iloc[0] for c in ("band_low", "band_median", "band_high"))
    if pd.notna(low):
        ax.axvspan(low, high, color=PALETTE["band"], alpha=0.8, label="Team middle half", linewidth=0)
    sns.histplot(x=values, bins=min(30, max(10, len(values) // 10)), color=PALETTE["you"], label="Reps", ax=ax)
    if pd.notna(mid):
        ax.axvline(mid, color=PALETTE["peer"], linestyle="--", linewidth=1.5, label="Team median")
    format_value_axis(ax.xaxis, metric)
    fit_value_axis(ax, metric, [*values, low, mid, high], axis="x")
    return int(rows["is_focus"].astype(bool).sum()) if "is_focus" in rows else 0


def _value_label(metric: str) -> str:
    """A team chart's value axis name: the metric's, with its unit (the cycle's says lower is faster)."""
    return axis_label(metric) if metric != "cycle_days_median" else "Median sales cycle (days, lower is faster)"


REP_CHARS = 24
"""A rep's name longer than this goes on more lines left of :func:`team_bands`' panels."""

_DOTS = (  # a team chart's rep marks, in the legend's order: (focus, few closed deals, name)
    (False, False, "Rep"),
    (False, True, "Rep, few closed deals"),
    (True, False, "Rep whose focus this is"),
    (True, True, "Rep whose focus this is, few closed deals"),
)


@seaborn_themed
def team_bands(bands: pd.DataFrame, *, title: str | None = None) -> Figure:
    """The team's funnel factors in one figure: a panel per factor side by side, on one rep axis.

    ``bands``: factor, metric, label, value, band_low, band_median, band_high, and optionally
    is_focus and small_sample (:attr:`salesnb.present.pages.TeamReport.bands`: every factor's rows).
    Each rep has one row, named once on the left, read across the panels (prospecting,
    conversion, deal size, velocity); each panel, titled with its factor, shows the team's
    middle half (25th to 75th percentile) as a grey band, its median dashed, and each rep
    as a dot (vermillion: this factor is the rep's focus; hollow: too few closed deals),
    its value axis in the metric's unit. One legend for the figure.

    Beyond :data:`MANY_REPS` reps the panels show how the reps spread instead (a
    :func:`seaborn.histplot` each, two by two: no rep named, each panel as wide as
    half the figure) and how many reps have each factor as their focus.
    """
    require_columns(bands, ["factor", "metric", "label", "value", "band_low", "band_median", "band_high"], "team_bands")
    present = list(dict.fromkeys(bands["factor"]))
    order = [f for f in FACTOR_NAMES if f in present] + [f for f in present if f not in FACTOR_NAMES]
    reps = list(dict.fromkeys(bands["label"]))
    if len(reps) > MANY_REPS:
        return _team_spreads(bands, order, len(reps), title=title)
    names_shown = _categories(reps)
    # a long name on two or three lines (the rep id kept): the four panels keep room for their titles
    rows_shown = [textwrap.fill(name, REP_CHARS) if len(name) > REP_CHARS else name for name in names_shown]
    lines = max((name.count("\n") + 1 for name in rows_shown), default=1)
    row = 0.28 if lines == 1 else 0.1 + 0.16 * lines  # inches
    fig, axes = new_figure(1, max(len(order), 1), figsize=(7.0, max(3.0, 1.9 + row * len(reps))), style=SEABORN_RC, sharey=True)
    fig.suptitle(
        title or "Funnel factors by rep, against the team's middle half", fontsize=11, fontweight="bold", x=0.01, ha="left"
    )
    first = axes[0, 0]
    if not order:
        show_empty(first, "No funnel factors for this team")
        set_title(first, "Funnel factors")
        set_labels(first, "Value", "Rep")
        return fig
    row_of = {name: row for row, name in enumerate(reps)}
    # each panel's axis name, wrapped to about the panel's width (the rep names take the left of the figure)
    room = (7.0 * 72 - 5.0 * max(len(line) for n in rows_shown for line in n.split("\n")) - 40) / len(order)
    drawn: dict[str, object] = {}
    for ax, factor in zip(axes.flat, order):
        set_title(ax, factor_name(factor))  # measured before the rep rows are ticks (its room is the panel's)
        rows = bands[bands["factor"] == factor]
        metric = str(rows["metric"].iloc[0])
        # a light line along each rep's row, to read it across the panels (the rows are named on the first
        # panel's axis only: the others' axes, the same rows, make no ticks)
        ax.grid(False, axis="y")
        ax.hlines(
            np.arange(len(reps)),
            0,
            1,
            transform=ax.get_yaxis_transform(),
            colors=SEABORN_RC["grid.color"],
            linewidths=SEABORN_RC["grid.linewidth"],
            zorder=0.5,
        )
        if ax is not first:
            ax.yaxis.set_visible(False)
        low, mid, high = (rows[c].iloc[0] for c in ("band_low", "band_median", "band_high"))
        if pd.notna(low):
            drawn.setdefault("Team middle half", ax.axvspan(low, high, color=PALETTE["band"], alpha=0.8, linewidth=0))
            drawn.setdefault("Team median", ax.axvline(mid, color=PALETTE["peer"], linestyle="--", linewidth=1.5))
        values = rows["value"].astype(float).to_numpy()
        positions = rows["label"].map(row_of).to_numpy(dtype=float)
        focus = rows["is_focus"].astype(bool).to_numpy() if "is_focus" in rows else np.zeros(len(rows), bool)
        small = (
            rows["small_sample"].astype(bool).to_numpy()
            if "small_sample" in rows and metric in ("win_rate", "avg_deal_size", "cycle_days_median")
            else np.zeros(len(rows), bool)
        )
        for is_focus, hollow, name in _DOTS:
            chosen = np.flatnonzero((focus == is_focus) & (small == hollow) & ~np.isnan(values))
            if not len(chosen):
                continue
            colour = PALETTE["focus"] if is_focus else PALETTE["you"]
            ax.scatter(
                values[chosen],
                positions[chosen],
                color="white" if hollow else colour,
                edgecolor=colour,
                linewidth=1.8 if hollow else 0,
                s=49,
                zorder=3,
            )
            drawn.setdefault(name, _marker(colour, hollow=hollow))
        format_value_axis(ax.xaxis, metric)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10], integer=unit(metric) == "count"))
        fit_value_axis(ax, metric, [*values, low, mid, high], axis="x")
        set_labels(ax, textwrap.fill(_value_label(metric), max(12, int(room / 5.0))), "Rep" if ax is first else "")
    first.yaxis.update_units(names_shown)  # the rows as categories, as seaborn makes them (for another sns.* call)
    first.set_yticks(np.arange(len(reps)), rows_shown)
    first.set_ylim(len(reps) - 0.5, -0.5)
    legend = [name for name in ("Team middle half", "Team median", *(n for _, _, n in _DOTS)) if name in drawn]
    fig.legend([drawn[n] for n in legend], legend, loc="outside lower center", ncols=3, frameon=False, fontsize=8)
    return fig


def _team_spreads(bands: pd.DataFrame, order: list, reps: int, *, title: str | None) -> Figure:
    """:func:`team_bands` for a big team: a :func:`_spread` panel per factor, two by two."""
    columns = 2 if len(order) > 1 else 1
    fig, axes = new_figure(
        -(-len(order) // columns), columns, figsize=(7.0, 2.6 * -(-len(order) // columns) + 0.9), style=SEABORN_RC
    )
    fig.suptitle(title or f"Funnel factors across the team's {reps:,} reps", fontsize=11, fontweight="bold", x=0.01, ha="left")
    drawn: dict[str, object] = {}
    for ax, factor in zip(axes.flat, order):
        rows = bands[bands["factor"] == factor]
        metric = str(rows["metric"].iloc[0])
        focus = _spread(ax, rows, metric)
        for handle, name in zip(*ax.get_legend_handles_labels()):
            drawn.setdefault(name, handle)
        whose = f" (focus of {focus:,} rep{'s' if focus != 1 else ''})" if focus else ""
        set_title(ax, factor_name(factor) + whose)
        set_labels(ax, _value_label(metric), "Reps (count)")
    for ax in list(axes.flat)[len(order) :]:
        ax.remove()  # an odd number of factors: no empty panel
    legend = [name for name in ("Team middle half", "Reps", "Team median") if name in drawn]
    fig.legend([drawn[n] for n in legend], legend, loc="outside lower center", ncols=3, frameon=False, fontsize=8)
    return fig


def team_value(frame: pd.DataFrame) -> Figure:
    """Value against cost for a team: one bar per rep (:func:`salesnb.present.rep_charts.value_vs_cost`),
    or beyond :data:`MANY_REPS` reps how the ratios spread."""
    from salesnb.present.rep_charts import value_vs_cost

    rows = frame.dropna(subset=["value_cost_ratio"]) if "value_cost_ratio" in frame else frame
    if len(rows) <= MANY_REPS:
        return value_vs_cost(frame)
    return _value_spread(rows)


@seaborn_themed
def _value_spread(rows: pd.DataFrame) -> Figure:
    fig, ax = new_seaborn_figure(figsize=(7.0, 3.2))
    ratios = rows["value_cost_ratio"].astype(float)
    sns.histplot(x=ratios, bins=min(30, max(10, len(ratios) // 10)), color=PALETTE["you"], label="Reps", ax=ax)
    ax.axvline(float(ratios.median()), color=PALETTE["peer"], linestyle="--", linewidth=1.5, label="Team median")
    format_value_axis(ax.xaxis, "value_cost_ratio")
    ax.set_xlim(0, max(float(ratios.max()) * 1.05, 1.0))
    set_title(ax, f"Customer value per unit of yearly cost across the team's {len(rows):,} reps")
    set_labels(ax, "Lifetime value / yearly cost (x)", "Reps (count)")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, frameon=False, fontsize=8)
    return fig


@seaborn_themed
def metric_bars(frame: pd.DataFrame, *, metric: str, group: str, title: str | None = None) -> Figure:
    """One metric per group (rep, territory, customer type...): horizontal bars as :func:`seaborn.barplot` draws them.

    ``frame``: the ``group`` column and ``metric`` (e.g. a metrics_table),
    optionally ``small_sample``: for a metric that rests on closed deals
    (:data:`salesnb.analysis.rates.SMALL_SAMPLE_METRICS`) those groups' bars are drawn hollow and hatched,
    and a legend says they rest on too few closed deals.
    """
    from salesnb.analysis.rates import SMALL_SAMPLE_METRICS, SMALL_SAMPLE_MIN_CLOSED

    require_columns(frame, [group, metric], "metric_bars")
    rows = frame[[group, metric]].reset_index(drop=True)
    small = (
        frame["small_sample"].fillna(False).astype(bool).to_numpy()
        if "small_sample" in frame and metric in SMALL_SAMPLE_METRICS
        else np.zeros(len(rows), bool)
    )
    fig, ax = new_seaborn_figure(figsize=(7.0, max(2.2, 1.0 + 0.28 * len(rows))))
    group_title = labels.group_name("rep" if group in ("rep_id", "label", "name") else group)
    if rows[metric].notna().sum() == 0:
        show_empty(ax, f"No {label(metric).lower()} for this selection")
    else:
        # the bars as seaborn's barplot draws them (one value a row: its mean is itself), with
        # matplotlib alone: 0.6 wide, from the row's edge, the first row on top
        positions = np.arange(len(rows), dtype=float)
        names_shown = _categories(rows[group])
        ax.yaxis.update_units(names_shown)  # the rows as categories, as seaborn made them (for another sns.* call)
        ax.barh(
            y=positions - 0.3,
            width=rows[metric].astype(float).fillna(0).to_numpy(),
            height=0.6,
            align="edge",
            color=PALETTE["you"],
            facecolor=PALETTE["you"],
        )
        ax.set_yticks(positions, names_shown)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        if small.any():
            from matplotlib.patches import Patch

            for patch, few in zip(ax.patches, small):
                if few:
                    patch.set_facecolor("white")
                    patch.set_edgecolor(PALETTE["you"])
                    patch.set_hatch("///")
                    patch.set_linewidth(1.2)
            handles = [
                Patch(facecolor=PALETTE["you"], label=f"{SMALL_SAMPLE_MIN_CLOSED} or more deals closed"),
                Patch(
                    facecolor="white",
                    edgecolor=PALETTE["you"],
                    hatch="///",
                    label=f"Few deals: fewer than {SMALL_SAMPLE_MIN_CLOSED} closed, read with care",
                ),
            ]
            fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False, fontsize=8)
        ax.grid(False, axis="y")
        format_value_axis(ax.xaxis, metric)
    set_title(ax, title or f"{label(metric)} by {group_title.lower()}")
    set_labels(ax, axis_label(metric), group_title)
    return fig


@seaborn_themed
def effect_interval(effect: Mapping) -> Figure:
    """A training effect as a point with its 95 % interval, against zero.

    ``effect``: a :func:`salesnb.analysis.training.training_effect` dict (program,
    metric, effect, ci_low, ci_high). The point and its interval are drawn as
    :func:`seaborn.pointplot` draws a point with its error bar (the estimated 95 % interval).
    """
    metric = effect.get("metric", "win_rate")
    fig, ax = new_seaborn_figure(figsize=(7.0, 2.4))
    share = unit(metric) == "share"
    scale = 100.0 if share else 1.0
    what = "percentage points" if share else METRIC_LABELS.get(metric, (metric, "count"))[1]
    program = chart_text(effect.get("program"))
    if effect.get("effect") is None:
        show_empty(ax, "No effect could be estimated")
    else:
        point, low, high = (float(effect[k]) * scale for k in ("effect", "ci_low", "ci_high"))
        ax.axvline(0, color=PALETTE["peer"], linewidth=1.2, linestyle="--", label="No effect")
        # as seaborn's pointplot drew it (the estimate the median of low, effect and high, the
        # interval their full range), with matplotlib alone: the dot on the program's row, then
        # the interval 3 wide with caps 0.12 of a row across, in the dot's colour and layer
        ax.yaxis.update_units([program])  # the program's row as a category, as seaborn made it
        width = matplotlib.rcParams["lines.linewidth"] * 1.8
        middle, (left, right) = np.median([low, point, high]), np.percentile([low, point, high], [0, 100])
        (dot,) = ax.plot(
            [middle],
            [0.0],
            marker="o",
            linestyle="-",
            color=PALETTE["you"],
            markersize=9,
            linewidth=width,
            markeredgewidth=width * 0.75,
            label="Effect and 95% interval",
        )
        cap = 0.12 / 2
        ax.plot(
            [left, left, np.nan, left, right, np.nan, right, right],
            [-cap, cap, np.nan, 0.0, 0.0, np.nan, -cap, cap],
            color=dot.get_color(),
            linewidth=3,
            alpha=dot.get_alpha(),
            zorder=dot.get_zorder(),
        )
        ax.text(point, -0.2, f"{point:+.1f} ({low:+.1f} to {high:+.1f})", ha="center", fontsize=9, parse_math=False)
        span = max(abs(low), abs(high), 1.0)
        ax.set_xlim(min(-0.2 * span, low - 0.2 * span), max(0.2 * span, high + 0.2 * span))
        ax.legend(loc="lower right")
    ax.set_yticks([0], [program])
    ax.set_ylim(0.5, -0.5)
    ax.grid(False, axis="y")
    set_title(ax, f"Training effect on {label(metric).lower()}, with its 95% interval")
    set_labels(ax, f"Change in {label(metric).lower()}, trained minus untrained ({what})", "Program")
    return fig


@seaborn_themed
def before_after(means: Mapping, *, metric: str = "win_rate") -> Figure:
    """Trained and untrained reps' average ``metric`` before and after the program: a :func:`seaborn.pointplot`.

    ``means``: treated_before, treated_after, control_before, control_after
    (the ``means`` of a training_effect dict).
    """
    fig, ax = new_seaborn_figure(figsize=(7.0, 3.0))
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
        show_empty(ax, "No before and after averages to compare")
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
    format_value_axis(ax.yaxis, metric)
    fit_value_axis(ax, metric, averages["value"])
    set_title(ax, f"Average {label(metric).lower()} before and after, trained vs untrained")
    set_labels(ax, "Window", axis_label(metric))
    if ax.lines:
        ax.legend(loc="best")
    return fig


def _heatmap(ax, data: pd.DataFrame, *, cmap, vmin, vmax, xticklabels, yticklabels, cbar_kws) -> None:
    """What :func:`seaborn.heatmap` draws for these arguments (white cell edges 0.5 wide,
    missing cells left out, the first row on top, a colour bar without outline, one
    tick a row and column), with matplotlib alone. Seaborn also draws the whole figure
    once, to see whether the tick labels overlap (the caller sets their rotation
    anyway): here only the layout that drawing runs is run, as the final layout starts from it."""
    values = data.to_numpy(dtype="float64")
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    mesh = ax.pcolormesh(
        np.ma.masked_where(np.isnan(values), values), cmap=cmap, vmin=vmin, vmax=vmax, linewidths=0.5, edgecolor="white"
    )
    ax.set(xlim=(0, values.shape[1]), ylim=(0, values.shape[0]))
    ax.invert_yaxis()
    bar = ax.figure.colorbar(mesh, None, ax, **cbar_kws)
    bar.outline.set_linewidth(0)
    ax.set(xticks=np.arange(values.shape[1]) + 0.5, yticks=np.arange(values.shape[0]) + 0.5)
    ax.set_xticklabels(xticklabels)
    for tick in ax.set_yticklabels(yticklabels, rotation="vertical"):
        tick.set_verticalalignment("center")
    # the layout seaborn's drawing made here, with these labels (the final one starts from it)
    engine = ax.figure.get_layout_engine()
    if engine is not None:
        engine.execute(ax.figure)


@seaborn_themed
def forecast_error_heatmap(accuracy: pd.DataFrame, *, label_column: str = "label") -> Figure:
    """Forecast error per rep and period, a heatmap as :func:`seaborn.heatmap` draws it: over-forecasts orange, under-forecasts blue.

    ``accuracy``: ``label_column``, period, forecast_error_pct (from
    :func:`salesnb.analysis.forecasts.forecast_accuracy`).
    """
    require_columns(accuracy, [label_column, "period", "forecast_error_pct"], "forecast_error_heatmap")
    grid = accuracy.pivot_table(
        index=label_column, columns="period", values="forecast_error_pct", aggfunc="mean", observed=True, sort=True
    )
    fig, ax = new_seaborn_figure(figsize=(7.0, max(2.6, 1.2 + 0.28 * len(grid))))
    if grid.empty:
        show_empty(ax, "No forecasts")
    else:
        limit = max(10.0, float(np.nanpercentile(np.abs(grid.to_numpy(dtype=float)), 95)))
        cmap = matplotlib.colormaps["PuOr_r"].with_extremes(bad="#f2f2f2")
        _heatmap(
            ax,
            grid.astype(float),
            cmap=cmap,
            vmin=-limit,
            vmax=limit,
            xticklabels=_categories(grid.columns),
            yticklabels=_categories(grid.index),
            cbar_kws={"shrink": 0.9, "format": FuncFormatter(lambda v, _: f"{v:+.0f}%")},
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
    set_title(ax, "Forecast error by rep and period")
    set_labels(ax, "Period", "Rep")
    return fig


@seaborn_themed
def forecast_bias(bias: pd.DataFrame, *, label_column: str = "label") -> Figure:
    """Each rep's median forecast error, a horizontal :func:`seaborn.barplot`; consistent over- and
    under-forecasters coloured.

    ``bias``: ``label_column``, median_error_pct, bias (``over``, ``under``,
    ``mixed``, ``accurate``, ``too_few``) from :func:`salesnb.analysis.forecasts.forecast_bias`.
    """
    require_columns(bias, [label_column, "median_error_pct", "bias"], "forecast_bias")
    rows = bias.dropna(subset=["median_error_pct"]).reset_index(drop=True)
    fig, ax = new_seaborn_figure(figsize=(7.0, max(2.4, 1.0 + 0.28 * len(rows))))
    if rows.empty:
        show_empty(ax, "No forecasts with a result to judge")
    else:
        colours = {
            "over": PALETTE["second"],
            "under": PALETTE["you"],
            "mixed": PALETTE["other"],
            "accurate": PALETTE["good"],
            "too_few": PALETTE["peer"],
        }
        names = {
            "over": "Consistently over-forecasts",
            "under": "Consistently under-forecasts",
            "mixed": "Misses, no consistent side",
            "accurate": "Accurate (typical miss under 10%)",
            "too_few": "Too few periods to call a habit",
        }
        errors = pd.DataFrame(
            {
                "Rep": _categories(rows[label_column]),
                "median_error_pct": rows["median_error_pct"].astype(float),
                "Bias": rows["bias"].map(names),
            }
        )
        kinds = [names[kind] for kind in names if (rows["bias"] == kind).any()]
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
        format_value_axis(ax.xaxis, "median_error_pct")
        _seaborn_legend_below(fig, ax)
    set_title(ax, "Who over- or under-forecasts consistently")
    set_labels(ax, "Median forecast error (%)", "Rep")
    return fig


@seaborn_themed
def quality_counts(flags: pd.DataFrame) -> Figure:
    """Rows concerned per data-quality check, a horizontal :func:`seaborn.barplot`: where the data needs fixing first.

    ``flags``: flag, rows (from :func:`salesnb.analysis.quality.quality_flags`).
    """
    require_columns(flags, ["flag", "rows"], "quality_counts")
    counts = flags.groupby("flag", sort=False)["rows"].sum()
    fig, ax = new_seaborn_figure(figsize=(7.0, max(2.2, 1.0 + 0.3 * len(counts))))
    if counts.empty:
        show_empty(ax, "No data-quality flags")
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
        format_value_axis(ax.xaxis, "opportunities")
    set_title(ax, "Rows concerned, by data-quality check")
    set_labels(ax, "Rows (count)", "Check")
    return fig
