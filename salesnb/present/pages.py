"""What each notebook shows, assembled from the analysis modules: the entry the notebooks call
(``pages.rep_report``, ``pages.team_report``, ...), each page defined in its own module.

The notebooks stay a sentence and a call per cell because the assembling
happens in the page modules; the metrics themselves are computed by
:mod:`salesnb.analysis.metrics`, :mod:`salesnb.analysis.diagnosis`,
:mod:`salesnb.analysis.expectations`, :mod:`salesnb.analysis.value`,
:mod:`salesnb.analysis.forecasts`, :mod:`salesnb.analysis.training` and
:mod:`salesnb.analysis.quality` and are only selected, filtered and
summarised across reps there:

- :mod:`salesnb.present.segments`: :func:`segment` filters a Dataset to a
  team, territory, customer type or acquisition method;
- :mod:`salesnb.present.rep_page`: :func:`rep_report`, one rep's coaching
  report (peers only as medians and middle halves, never named), and
  :func:`warm_up`, which the fork server finds here by module;
- :mod:`salesnb.present.team_page`: :func:`team_report`, the manager's view;
- :mod:`salesnb.present.analysis_pages`: :func:`forecast_report`,
  :func:`quality_report` and :func:`training_report`, the analyst's views;
- :mod:`salesnb.present.page_text`: the text helpers they share.
"""

from __future__ import annotations

from salesnb.present.analysis_pages import (
    QUALITY_ADVICE,
    ForecastReport,
    QualityReport,
    forecast_report,
    quality_report,
    training_report,
)
from salesnb.present.page_text import quarters_text as _quarters  # noqa: F401 - the one-module pages' name, kept for callers
from salesnb.present.page_text import rep_label
from salesnb.present.rep_page import QUALITY_SECTIONS, RepReport, rep_report, warm_tables, warm_up
from salesnb.present.rep_trends import BAND_MIN_PEERS, CLOSED_METRICS, TREND_METRICS, TREND_QUARTERS
from salesnb.present.rep_trends import thin_peer_notes as _thin_peer_notes  # noqa: F401 - the one-module pages' name, kept for callers
from salesnb.present.segments import SEGMENT_FILTERS, segment, segment_options
from salesnb.present.team_page import BREAKDOWN_COLUMNS, BREAKDOWNS, TeamReport, team_report

__all__ = [
    "TREND_METRICS",
    "CLOSED_METRICS",
    "BAND_MIN_PEERS",
    "TREND_QUARTERS",
    "QUALITY_ADVICE",
    "QUALITY_SECTIONS",
    "SEGMENT_FILTERS",
    "RepReport",
    "TeamReport",
    "ForecastReport",
    "QualityReport",
    "BREAKDOWNS",
    "BREAKDOWN_COLUMNS",
    "rep_report",
    "team_report",
    "forecast_report",
    "quality_report",
    "training_report",
    "segment",
    "segment_options",
    "rep_label",
    "warm_tables",
    "warm_up",
]
