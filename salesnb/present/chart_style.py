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

from salesnb.analysis.labels import money, unit
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
    "fit_value_axis",
    "MIN_SHARE_SPAN",
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
    """The chart's title in bold, wrapped onto more lines where it would not fit
    above ``ax`` (a narrow panel of a row; measured in the title's font): a
    title is never cut."""
    fig = ax.get_figure(root=True)
    page = fig.get_figwidth() * 72
    # the layout narrows the axes by its tick labels and axis name: the title, centred on it, is no wider
    ticks = max((_width(t.get_text(), t.get_fontsize()) for t in ax.yaxis.get_ticklabels()), default=0.0)
    room = min(ax.get_position().width * page, page - ticks - 2 * RC["axes.labelsize"] - 24)  # points
    ax.set_title(_wrapped(text, RC["axes.titlesize"], room), fontsize=RC["axes.titlesize"], fontweight="bold", parse_math=False)


def _width(text: str, size: float, *, bold: bool = False) -> float:
    """How wide ``text`` is, in points, in salesnb's chart font at ``size`` pt.

    Remembered: FreeType lays a text out in about 0.3 ms, titles are measured
    word by word as they are wrapped and tick labels for every panel, and a
    batch's charts repeat most of their texts (a report forked from a warm
    template finds those the template measured)."""
    if not text:
        return 0.0
    return _measured(str(text), float(size), bool(bold), RC["font.family"])


@functools.lru_cache(maxsize=8192)
def _measured(text: str, size: float, bold: bool, family: str) -> float:
    from matplotlib.font_manager import FontProperties, findfont, get_font

    font = get_font(findfont(FontProperties(family=family, weight="bold" if bold else "normal")))
    font.set_size(size, 72)  # at 72 dpi a pixel is a point
    width = 0.0
    for line in str(text).split("\n"):
        font.set_text(line, 0.0)
        width = max(width, font.get_width_height()[0] / 64)
    return width


def _wrapped(text: str, size: float, room: float) -> str:
    """``text`` broken between words into lines each at most ``room`` points wide in bold ``size`` pt."""

    def width(line: str) -> float:
        return _width(line, size, bold=True)

    if width(text) <= room:
        return text
    lines: list[str] = []
    for word in text.split():
        if lines and width(f"{lines[-1]} {word}") <= room:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return "\n".join(lines)


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


MIN_SHARE_SPAN = 0.2
"""The least a rate axis spans (20 percentage points): 61% and 63% must not look like a cliff."""


def fit_value_axis(ax, metric: str, values, *, axis: str = "y", from_zero: bool = False) -> tuple[float, float]:
    """Set ``ax``'s value-axis limits so that every value drawn and every benchmark
    (peer median, middle half, target: pass them all in ``values``) lies inside,
    with a sensible least span: a rate spans at least :data:`MIN_SHARE_SPAN`
    and stays within 0..100% where its values do; counts, money and days span
    at least a fifth of their largest value; with ``from_zero`` (bars, or a
    quantity read against zero) the axis starts at 0. Returns the limits."""
    numbers = [float(v) for v in values if v is not None and not pd.isna(v) and np.isfinite(float(v))]
    kind = unit(metric)
    if not numbers:
        numbers = [0.0, 1.0] if kind == "share" else [0.0]
    low, high = min(numbers), max(numbers)
    if from_zero and low >= 0:
        low = 0.0
    least = MIN_SHARE_SPAN if kind == "share" else max(0.2 * max(abs(low), abs(high)), 1.0)
    if high - low < least:
        middle = (high + low) / 2
        low, high = middle - least / 2, middle + least / 2
    pad = (high - low) * 0.12
    low, high = low - pad, high + pad
    if min(numbers) >= 0:
        low = max(low, 0.0)
        if from_zero:
            low = 0.0
    if kind == "share" and max(numbers) <= 1:
        high = min(high, 1.0 + (0.02 if max(numbers) >= 0.99 else 0.0))
        if high - low < MIN_SHARE_SPAN:  # clipped at 100%: widen downwards instead
            low = max(0.0, high - MIN_SHARE_SPAN - pad)
    (ax.set_ylim if axis == "y" else ax.set_xlim)(low, high)
    return low, high


def money_tick(value, _pos=None) -> str:
    """A money axis tick: 1.2M, 35k (the label book's compact money; the axis's
    name carries the currency, :func:`salesnb.analysis.labels.axis_label`)."""
    return money(value, compact=True, currency="")


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
