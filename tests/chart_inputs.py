"""Small, hand-made inputs for every chart kind (tests of salesnb.present's
charts and of the fast paths that draw them). A helper module, like
``sources.py``: no test imports another test module."""

from __future__ import annotations

import numpy as np
import pandas as pd

HOSTILE = "$\\frac{1}{0 <b>bold</b>"  # broken mathtext and markup: must be drawn as plain text

FACTORS = pd.DataFrame(
    [
        {
            "factor": "conversion",
            "metric": "win_rate",
            "rep_value": 0.27,
            "peer_low": 0.55,
            "peer_median": 0.68,
            "peer_high": 0.75,
            "small_sample": False,
            "is_focus": True,
        },
        {
            "factor": "prospecting",
            "metric": "opportunities",
            "rep_value": 77.0,
            "peer_low": 60.0,
            "peer_median": 77.0,
            "peer_high": 94.0,
            "small_sample": False,
            "is_focus": False,
        },
        {
            "factor": "deal_size",
            "metric": "avg_deal_size",
            "rep_value": 29_904.0,
            "peer_low": 23_468.0,
            "peer_median": 25_528.0,
            "peer_high": 26_468.0,
            "small_sample": False,
            "is_focus": False,
        },
        {
            "factor": "velocity",
            "metric": "cycle_days_median",
            "rep_value": 31.0,
            "peer_low": None,
            "peer_median": None,
            "peer_high": None,
            "small_sample": True,
            "is_focus": False,
        },
    ]
)

TREND = pd.DataFrame(
    {
        "quarter": ["2025-Q1", "2025-Q2", "2025-Q3"],
        "rep_value": [0.25, 0.25, np.nan],
        "small_sample": [False, True, True],
        "peer_low": [0.57, np.nan, 0.55],
        "peer_median": [0.68, np.nan, 0.71],
        "peer_high": [0.75, np.nan, 0.71],
    }
)

TRENDS = {  # a rep page's three trends (charts.trends), the same three quarters
    "win_rate": TREND,
    "revenue_won": TREND.assign(rep_value=[1.1e5, 2.3e5, 1.7e5], peer_low=2e5, peer_median=2.4e5, peer_high=2.8e5),
    "opportunities": TREND.assign(
        rep_value=[14.0, 9.0, 17.0], peer_low=[16.0, 15.0, 19.0], peer_median=[20.0, 18.0, 22.0], peer_high=[23.0, 21.0, 23.0]
    ),
}

BAND = pd.DataFrame(
    {
        "label": ["Ann (R1)", HOSTILE, "Cy (R3)", "Di (R4)"],
        "value": [0.78, 0.27, 0.55, np.nan],
        "small_sample": [False, False, True, True],
        "is_focus": [False, True, False, False],
        "band_low": 0.5,
        "band_median": 0.6,
        "band_high": 0.7,
    }
)

BANDS = pd.concat(  # a team page's bands (charts.team_bands): BAND's four reps on each funnel factor
    [
        BAND.assign(factor="conversion", metric="win_rate"),
        BAND.assign(
            factor="prospecting",
            metric="opportunities",
            value=[40.0, 12.0, 25.0, 31.0],
            is_focus=[False, False, False, True],
            band_low=20.0,
            band_median=28.0,
            band_high=35.0,
        ),
        BAND.assign(
            factor="deal_size",
            metric="avg_deal_size",
            value=[21_000.0, 30_500.0, np.nan, 18_000.0],
            is_focus=False,
            band_low=19_000.0,
            band_median=21_000.0,
            band_high=26_000.0,
        ),
        BAND.assign(
            factor="velocity",
            metric="cycle_days_median",
            value=[35.0, 41.0, 90.0, 28.0],
            is_focus=[False, False, True, False],
            band_low=30.0,
            band_median=38.0,
            band_high=45.0,
        ),
    ],
    ignore_index=True,
)

EFFECT = {"program": HOSTILE, "metric": "win_rate", "effect": 0.146, "ci_low": 0.119, "ci_high": 0.175}

ACCURACY = pd.DataFrame(
    {
        "label": ["Ann (R1)", "Ann (R1)", HOSTILE],
        "period": ["2025-Q1", "2025-Q2", "2025-Q1"],
        "forecast_error_pct": [35.0, 41.0, -26.0],
    }
)

BIAS = pd.DataFrame(
    {"label": ["Ann (R1)", HOSTILE, "Cy (R3)"], "median_error_pct": [33.6, -26.8, 1.0], "bias": ["over", "under", "too_few"]}
)

# (function, arguments, which axis is numeric: its label must carry a unit in parentheses)
