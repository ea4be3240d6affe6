"""Charts for the notebooks and reports: tidy frames in, a matplotlib Figure out; the entry
the notebooks call (``charts.trends``, ``charts.team_bands``, ...).

Every chart takes the frame or dict an analysis (or :mod:`salesnb.present.pages`)
produced and draws it; none computes a metric. Each chart says one thing,
has a title and labelled axes with units ("Win rate (%)", "Revenue won
(currency)", "Days"), uses seaborn's colour-blind-safe palette, and is small
(about 7 x 3.5 inches; :func:`salesnb.present.html.chart` writes it as a compact
PNG). Figures are built with :class:`matplotlib.figure.Figure`, outside
pyplot: nothing is drawn twice by the inline backend and nothing stays open.

Two kinds of chart, two ways of drawing, one style (:mod:`salesnb.present.chart_style`):

- :mod:`salesnb.present.analyst_charts` (team pages, the analysis notebooks,
  the segment explorer: :func:`team_bands`, :func:`team_band`, :func:`metric_bars`,
  :func:`effect_interval`, :func:`before_after`, :func:`forecast_error_heatmap`,
  :func:`forecast_bias`, :func:`quality_counts`) are seaborn charts: drawn inside
  seaborn's theme, entered as contexts around each chart, with seaborn's functions
  or, where those cost much, matplotlib drawing the same marks (the same pixels);
- :mod:`salesnb.present.rep_charts` (:func:`factor_bands`, :func:`trend`, :func:`trends`,
  :func:`value_vs_cost`, :func:`forecast_vs_actual`, :func:`stage_stays`) stay plain matplotlib:
  every scheduled report draws them, and :mod:`salesnb.present.drawing` makes
  them cheap (:func:`stock_figures`).
"""

from __future__ import annotations

from salesnb.present.analyst_charts import (
    before_after,
    effect_interval,
    forecast_bias,
    forecast_error_heatmap,
    metric_bars,
    quality_counts,
    team_band,
    team_bands,
    team_value,
)
from salesnb.present.chart_style import FIGSIZE, LABEL_CHARS, PALETTE
from salesnb.present.rep_charts import (
    factor_bands,
    forecast_vs_actual,
    stage_stays,
    stock_figures,
    trend,
    trends,
    value_vs_cost,
)

__all__ = [
    "PALETTE",
    "FIGSIZE",
    "LABEL_CHARS",
    "factor_bands",
    "trend",
    "trends",
    "value_vs_cost",
    "forecast_vs_actual",
    "stage_stays",
    "stock_figures",
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
