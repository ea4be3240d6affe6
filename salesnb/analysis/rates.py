"""Every ratio metric as numerator / denominator, and the small-sample rule.

Rate-form frames hold ``*by, numerator, denominator, n, value,
small_sample``: ``n`` is the sample the rate rests on and ``small_sample``
is ``n < SMALL_SAMPLE_MIN_CLOSED``. A rate is NaN when its denominator is 0
or unknown, never an invented 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = [
    "CLEAR_SAMPLE",
    "MIN_SAMPLE",
    "RATES",
    "SMALL_SAMPLE_METRICS",
    "SMALL_SAMPLE_MIN_CLOSED",
    "divide",
    "rate_frame",
    "ratio",
]

SMALL_SAMPLE_MIN_CLOSED = 10
"""A rate resting on fewer closed deals than this is flagged ``small_sample``."""

MIN_SAMPLE = {"prospecting": 0, "conversion": SMALL_SAMPLE_MIN_CLOSED, "deal_size": 5, "velocity": 5}
"""Fewest deals a coaching factor is judged on (``closed`` for conversion,
``won`` for deal size and velocity; prospecting, a pace of new
opportunities, needs none), for the rep and for each peer."""

CLEAR_SAMPLE = {"prospecting": 0, "conversion": SMALL_SAMPLE_MIN_CLOSED, "deal_size": 10, "velocity": 10}
"""Fewest deals behind a coaching focus called ``clear``."""
SMALL_SAMPLE_METRICS = ("win_rate", "avg_deal_size", "cycle_days_median")
"""The metrics a metrics_table row's ``small_sample`` flag bears on: they rest
on the period's closed (or won) deals, so a page marks them "few deals"."""

RATES = {
    # name: (numerator, denominator, n: the sample the small_sample flag judges)
    "win_rate": ("won", "closed", "closed"),
    "contact_close_rate": ("won", "contacts", "closed"),
    "contacts_per_opportunity": ("contacts", "opportunities", "opportunities"),
    "avg_deal_size": ("revenue_won", "won_with_amount", "won_with_amount"),
    "pipeline_coverage": ("pipeline_open_amount", "quota", "open"),
    "attainment": ("revenue_won", "quota", "closed"),
}
"""Every ratio metric as numerator / denominator; NaN when the denominator is 0 or unknown."""


def divide(numerator, denominator) -> pd.Series:
    """numerator / denominator, NaN where the denominator is 0 or missing."""
    numerator = pd.Series(numerator, dtype="float64")
    denominator = pd.Series(denominator, dtype="float64")
    return (numerator / denominator.where(denominator != 0)).astype("float64")


def ratio(frame: pd.DataFrame, name: str) -> pd.Series:
    """The ratio metric ``name`` of :data:`RATES` over ``frame``'s columns."""
    numerator, denominator, _ = RATES[name]
    return divide(frame[numerator], frame[denominator])


def rate_frame(frame: pd.DataFrame, by: Sequence[str], name: str) -> pd.DataFrame:
    """The rate form of the ratio metric ``name``: *by, numerator,
    denominator, n, value, small_sample."""
    numerator, denominator, n = RATES[name]
    out = frame[list(by)].copy()
    out["numerator"] = frame[numerator]
    out["denominator"] = frame[denominator]
    out["n"] = frame[n]
    out["value"] = ratio(frame, name)
    out["small_sample"] = (frame[n] < SMALL_SAMPLE_MIN_CLOSED).to_numpy()
    return out.reset_index(drop=True)
