"""How well reps forecast their own revenue.

Each row of the ``forecasts`` table is a rep's forecast for a year
(``2025``), quarter (``2025-Q2``) or month (``2025-06``). The *actual* is the
revenue the rep won in that period (won deals by ``closed_date``, as in
:func:`salesnb.analysis.deals.revenue`), and

    forecast_error_pct = (forecast - actual) / actual x 100

so positive means the rep over-forecast; NaN when the actual is 0. A rep
who forecast the same period more than once is judged on the latest
forecast (by ``submitted_date``, else the last row).

:func:`forecast_bias` labels a rep ``over`` or ``under`` only when the bias
is consistent: at least ``BIAS_MIN_PERIODS`` judged periods, a median error
of at least ``BIAS_MIN_MEDIAN_PCT`` percent and at least
``BIAS_MIN_SHARE`` of the periods on that side; otherwise ``none``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb.analysis.periods import Period, parse_period
from salesnb.errors import InputError

BIAS_MIN_PERIODS = 3
BIAS_MIN_MEDIAN_PCT = 10.0
BIAS_MIN_SHARE = 0.75

__all__ = [
    "ACCURACY_COLUMNS",
    "BIAS_COLUMNS",
    "BIAS_MIN_MEDIAN_PCT",
    "BIAS_MIN_PERIODS",
    "BIAS_MIN_SHARE",
    "error_pct",
    "forecast_accuracy",
    "forecast_bias",
    "forecast_in_period",
]

ACCURACY_COLUMNS = ["rep_id", "period", "kind", "period_start", "period_end", "forecast_amount", "actual", "forecast_error_pct"]
BIAS_COLUMNS = ["rep_id", "periods", "mean_error_pct", "median_error_pct", "share_over", "share_under", "bias"]
_MONTHS = {"year": 12, "quarter": 3, "month": 1}
_KIND_RANK = {"month": 1, "quarter": 2, "year": 3}


def forecast_accuracy(ds, *, period=None, as_of=None) -> pd.DataFrame:
    """Every forecast against what the rep then won.

    Parameters
    ----------
    ds : Dataset
    period : str or Period, optional
        Keep only forecasts whose period lies inside this one.

    Returns
    -------
    DataFrame
        rep_id, period (label), kind, period_start, period_end,
        forecast_amount, actual, forecast_error_pct. Empty with a note in
        ``attrs["notes"]`` when the source has no forecasts table;
        forecasts whose period cannot be read are left out and noted.
    """
    notes: list[str] = []
    if ds.forecasts is None:
        out = _empty(ACCURACY_COLUMNS)
        out.attrs["notes"] = [ds.missing("forecasts")]
        return out
    forecasts = ds.forecasts
    parsed = {label: _forecast_period(label) for label in forecasts["period"].dropna().unique()}
    bad = sorted(str(label) for label, p in parsed.items() if p is None)
    if bad or forecasts["period"].isna().any():
        notes.append(f"forecasts with unreadable periods left out: {', '.join(bad) or '(blank)'}; write YYYY, YYYY-Qn or YYYY-MM")
    readable = {label: p for label, p in parsed.items() if p is not None}
    labels = forecasts["period"]
    keep = labels.isin(list(readable)).to_numpy() & forecasts["rep_id"].notna().to_numpy()
    labels = labels[keep]

    def each(attribute: str) -> pd.Series:  # one lookup per row in a {label: value} table, no Python per row
        return labels.map({label: getattr(p, attribute) for label, p in readable.items()})

    frame = pd.DataFrame(
        {
            "rep_id": forecasts["rep_id"][keep],
            "period": each("label"),
            "kind": each("kind"),
            "period_start": each("start"),
            "period_end": each("end"),
            "forecast_amount": forecasts["forecast_amount"][keep],
            "submitted_date": forecasts["submitted_date"][keep],
        }
    )
    frame = frame.astype({"period_start": "datetime64[ns]", "period_end": "datetime64[ns]", "period": "str", "kind": "str"})
    frame = frame.sort_values("submitted_date", na_position="first", kind="stable")
    frame = frame.drop_duplicates(["rep_id", "period"], keep="last")
    if period is not None:
        window = parse_period(period, as_of=as_of)
        frame = frame[((frame["period_start"] >= window.start) & (frame["period_end"] <= window.end)).to_numpy()]
    frame = frame.sort_values(["rep_id", "period_start", "kind"], kind="stable").reset_index(drop=True)
    frame["actual"] = _actuals(ds.opportunities, frame)
    frame["forecast_error_pct"] = error_pct(frame["forecast_amount"], frame["actual"]).to_numpy()
    out = frame[ACCURACY_COLUMNS]
    out.attrs["notes"] = notes
    return out


def forecast_bias(ds, *, period=None, as_of=None) -> pd.DataFrame:
    """Does a rep consistently over- or under-forecast?

    Per rep with forecasts: periods (forecasts with a judged error),
    mean_error_pct, median_error_pct, share_over / share_under (share of
    those periods with error > 0 / < 0) and ``bias``: ``over`` when
    periods >= BIAS_MIN_PERIODS, median >= BIAS_MIN_MEDIAN_PCT and
    share_over >= BIAS_MIN_SHARE; ``under`` symmetrically; else ``none``.
    Example: errors +20, +15, +30, -5 -> median +17.5, 3 of 4 over -> over.
    """
    accuracy = forecast_accuracy(ds, period=period, as_of=as_of)
    if accuracy.empty:
        out = _empty(BIAS_COLUMNS)
        out.attrs["notes"] = accuracy.attrs.get("notes", [])
        return out
    errors = accuracy.dropna(subset=["forecast_error_pct"])
    grouped = errors.groupby("rep_id", observed=True)["forecast_error_pct"]
    out = pd.DataFrame(
        {
            "periods": grouped.size(),
            "mean_error_pct": grouped.mean(),
            "median_error_pct": grouped.median(),
            "share_over": grouped.apply(lambda e: float((e > 0).mean())),
            "share_under": grouped.apply(lambda e: float((e < 0).mean())),
        }
    )
    out = out.reindex(pd.Index(sorted(accuracy["rep_id"].unique()), name="rep_id"))
    out["periods"] = out["periods"].fillna(0).astype("int64")
    enough = out["periods"] >= BIAS_MIN_PERIODS
    over = enough & (out["median_error_pct"] >= BIAS_MIN_MEDIAN_PCT) & (out["share_over"] >= BIAS_MIN_SHARE)
    under = enough & (out["median_error_pct"] <= -BIAS_MIN_MEDIAN_PCT) & (out["share_under"] >= BIAS_MIN_SHARE)
    out["bias"] = np.where(over, "over", np.where(under, "under", "none"))
    out = out.reset_index()[BIAS_COLUMNS]
    out.attrs["notes"] = accuracy.attrs.get("notes", [])
    return out


def forecast_in_period(ds, *, period, as_of=None) -> pd.DataFrame:
    """Per rep, the forecasts that lie inside ``period`` against the actual
    in those forecast periods (what metrics_table shows as forecast_amount
    and forecast_error_pct).

    When a rep forecast at several granularities inside the period (a year
    and its quarters), only the coarsest is used, so nothing is counted
    twice. Returns rep_id, forecasts, forecast_amount, actual,
    forecast_error_pct (one row per rep with such forecasts).
    """
    accuracy = forecast_accuracy(ds, period=period, as_of=as_of)
    if accuracy.empty:
        return _empty(["rep_id", "forecasts", "forecast_amount", "actual", "forecast_error_pct"])
    rank = accuracy["kind"].map(_KIND_RANK)
    coarsest = rank.groupby(accuracy["rep_id"], observed=True).transform("max")
    used = accuracy[(rank == coarsest).to_numpy()]
    out = (
        used.groupby("rep_id", sort=True, observed=True)
        .agg(forecasts=("period", "size"), forecast_amount=("forecast_amount", "sum"), actual=("actual", "sum"))
        .reset_index()
    )
    out["forecast_error_pct"] = error_pct(out["forecast_amount"], out["actual"]).to_numpy()
    return out


def error_pct(forecast, actual) -> pd.Series:
    """(forecast - actual) / actual x 100; positive = over-forecast; NaN when actual is 0."""
    forecast = pd.Series(forecast, dtype="float64")
    return (forecast - actual) / pd.Series(actual, dtype="float64").where(actual != 0) * 100


# -- internals -------------------------------------------------------------------


def _forecast_period(label) -> Period | None:
    try:
        period = parse_period(str(label))
    except InputError:
        return None
    return period if period.kind in _MONTHS and str(label).strip().lower() not in ("ytd",) else None


def _actuals(opportunities: pd.DataFrame, frame: pd.DataFrame) -> np.ndarray:
    """Revenue won by each frame row's rep in its period: won revenue summed
    per rep and calendar month once, then the months of each period added."""
    if frame.empty:
        return np.zeros(0)
    won = opportunities.loc[
        (opportunities["status"].eq("won") & opportunities["closed_date"].notna() & opportunities["amount"].notna()).to_numpy(),
        ["rep_id", "closed_date", "amount"],
    ]  # only what is summed
    # year * 12 + month - 1, from the dates' own month numbers (no year and month arrays beside them)
    month = pd.Series(
        (won["closed_date"].to_numpy().astype("datetime64[M]").astype(np.int64) + 1970 * 12).astype(np.int32), index=won.index
    )
    monthly = won["amount"].groupby([won["rep_id"], month.rename("month")], observed=True).sum().rename("won").reset_index()
    months = frame["kind"].map(_MONTHS).to_numpy()
    first = (frame["period_start"].dt.year * 12 + frame["period_start"].dt.month - 1).to_numpy()
    row = np.repeat(np.arange(len(frame)), months)
    offset = np.arange(len(row)) - np.repeat(np.cumsum(months) - months, months)
    expanded = pd.DataFrame({"row": row, "rep_id": frame["rep_id"].to_numpy()[row], "month": first[row] + offset})
    expanded = expanded.astype({"rep_id": monthly["rep_id"].dtype, "month": monthly["month"].dtype})
    joined = expanded.merge(monthly, on=["rep_id", "month"], how="left")
    return joined.groupby("row")["won"].sum().reindex(range(len(frame)), fill_value=0.0).to_numpy(dtype="float64")


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="float64") for c in columns})
