"""How every salesnb chart looks: the palette by role, the rep charts' rcParams and the
analyst charts' seaborn theme, and the helpers that title, label and format
axes the same way on both kinds (:mod:`salesnb.present.rep_charts`,
:mod:`salesnb.present.analyst_charts`).

Conventions: "you" is blue, the peers' median grey and dashed, the peers'
middle half (25th to 75th percentile) a light grey band, a focus or a
warning vermillion. Text that comes from data (rep names, territories) is
drawn literally, never read as mathtext.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from cycler import cycler
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from salesnb.analysis.labels import fmt_unit, unit
from salesnb.present import drawing as figures

__all__ = [
    "FIGSIZE",
    "COLORBLIND",
    "PALETTE",
    "RC",
    "styled",
    "SEABORN_THEME",
    "SEABORN_CONTEXT",
    "SEABORN_EXTRA",
    "SEABORN_RC",
    "seaborn_themed",
    "new_figure",
    "new_seaborn_figure",
    "LABEL_CHARS",
    "chart_text",
    "set_title",
    "set_labels",
    "format_value_axis",
    "money_tick",
    "require_columns",
    "legend_below",
    "show_empty",
]

FIGSIZE = (7.0, 3.5)

COLORBLIND = tuple(sns.color_palette("colorblind").as_hex())
PALETTE = {
    "you": COLORBLIND[0],
    "peer": "#6e6e6e",
    "band": "#d9d9d9",
    "focus": COLORBLIND[3],
    "second": COLORBLIND[1],
    "good": COLORBLIND[2],
    "other": COLORBLIND[7],
}
"""seaborn's "colorblind" palette, by role."""


RC = {
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
    "axes.prop_cycle": cycler(color=list(COLORBLIND)),
}


def styled(draw):
    """Run a plot function under salesnb's chart style (so every text object,
    tick labels included, is created with it: data text is never mathtext)."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(RC):
            return draw(*args, **kwargs)

    return wrapper


SEABORN_THEME = ("whitegrid", {"font.family": ["DejaVu Sans"]})
"""seaborn's style for the analyst charts (:func:`seaborn.axes_style` arguments), in salesnb's font."""
SEABORN_CONTEXT = (
    "paper",
    1,
    {"axes.titlesize": 11, "axes.labelsize": 9, "xtick.labelsize": 8.5, "ytick.labelsize": 8.5, "legend.fontsize": 8.5},
)
"""seaborn's context for them (:func:`seaborn.plotting_context` arguments), at the rep charts' text sizes."""
SEABORN_EXTRA = {
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "text.parse_math": False,
    "axes.prop_cycle": cycler(color=list(COLORBLIND)),
}
"""What seaborn's theme leaves to matplotlib: bold titles, data text never mathtext, the palette."""
SEABORN_RC = {**sns.axes_style(*SEABORN_THEME), **sns.plotting_context(*SEABORN_CONTEXT), **SEABORN_EXTRA}


def seaborn_themed(draw):
    """Run an analyst chart inside seaborn's theme (style, context, then salesnb's few extras), as
    contexts: the settings are back as they were when the chart is built."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with sns.axes_style(*SEABORN_THEME), sns.plotting_context(*SEABORN_CONTEXT), matplotlib.rc_context(SEABORN_EXTRA):
            return draw(*args, **kwargs)

    return wrapper


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize=FIGSIZE, style=None, **kw):
    """A new chart's Figure and grid of Axes in salesnb's style (:func:`salesnb.present.drawing.figure`);
    ``style``: the rcParams the chart is drawn under, when not the rep charts' ``RC``."""
    return figures.figure(nrows, ncols, figsize=figsize, style=RC if style is None else style, **kw)


def new_seaborn_figure(*, figsize):
    """A new analyst chart's Figure and its one Axes, under seaborn's theme (:func:`seaborn_themed`)."""
    fig, axes = new_figure(figsize=figsize, style=SEABORN_RC)
    return fig, axes[0, 0]


LABEL_CHARS = 40
"""Data text longer than this is shortened on a chart (the tables show it whole)."""


def chart_text(value) -> str:
    """Data text for a label: drawn literally (no mathtext, no None), at most LABEL_CHARS long."""
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "\u2026"


def set_title(ax, text: str) -> None:
    ax.set_title(text, fontsize=RC["axes.titlesize"], fontweight="bold", parse_math=False)


def set_labels(ax, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel, fontsize=RC["axes.labelsize"], parse_math=False)
    ax.set_ylabel(ylabel, fontsize=RC["axes.labelsize"], parse_math=False)


def format_value_axis(axis, metric: str) -> None:
    """Format a value axis for ``metric``'s unit: percent for shares, separators for money."""
    kind = unit(metric)
    if kind == "share":
        axis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    elif kind == "pct":
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}%"))
    elif kind in ("currency",):
        axis.set_major_formatter(FuncFormatter(money_tick))
    elif kind == "count":
        axis.set_major_locator(MaxNLocator(integer=True))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    elif kind in ("x_quota", "x_cost"):
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))


def money_tick(value, _pos=None) -> str:
    """A money axis tick: 1.2M, 35k (the label book's compact money)."""
    return fmt_unit("currency", value, compact=True)


def require_columns(frame, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} takes a DataFrame, not {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{what} needs the columns {missing}; the frame has {list(frame.columns)}")


def legend_below(fig, ax) -> None:
    handles, names = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4), frameon=False, fontsize=8)


def show_empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=PALETTE["peer"], parse_math=False)
    ax.set_xticks([])
    ax.set_yticks([])
