"""How well reps forecast their own revenue.

Each row of the ``forecasts`` table is a rep's forecast for a year
(``2025``), quarter (``2025-Q2``) or month (``2025-06``). The *actual* is the
revenue the rep won in that period (won deals by ``closed_date``, as in
:func:`salesnb.analysis.deals.revenue`), and

    forecast_error_pct = (forecast - actual) / actual x 100

so positive means the rep over-forecast; NaN when the actual is 0. A rep
who forecast the same period more than once is judged on the latest
forecast (by ``submitted_date``, else the last row).

:func:`forecast_bias` says per rep what the forecasts show, by one explicit
rule over the judged periods (forecasts whose actual is not 0):

- ``too_few``: fewer than ``BIAS_MIN_PERIODS`` (3) judged periods: what was
  seen is said ("over-forecast in 2 of 2 quarters, median error +50%"),
  never "no bias";
- ``over``: a median error of ``+BIAS_MIN_MEDIAN_PCT`` (10 %) or more and
  at least ``BIAS_MIN_SHARE`` (3 in 4) of the periods over-forecast;
  ``under`` symmetrically: a consistent habit;
- ``accurate``: the median miss (absolute error) under 10 %;
- ``mixed``: misses of 10 % or more at the median, but no consistent side.
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
    "VERDICTS",
    "error_pct",
    "forecast_accuracy",
    "forecast_bias",
    "forecast_habit",
    "forecast_in_period",
    "forecasts_in_periods",
    "monthly_won",
]

ACCURACY_COLUMNS = ["rep_id", "period", "kind", "period_start", "period_end", "forecast_amount", "actual", "forecast_error_pct"]
BIAS_COLUMNS = [
    "rep_id",
    "periods",
    "over_periods",
    "under_periods",
    "mean_error_pct",
    "median_error_pct",
    "share_over",
    "share_under",
    "bias",
    "sentence",
]
VERDICTS = ("over", "under", "mixed", "accurate", "too_few")
"""The values of ``bias``: a consistent habit either way, no consistent side,
accurate, or too few judged periods to say (see the module docstring)."""
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


def forecast_bias(ds, *, period=None, as_of=None, reps=None) -> pd.DataFrame:
    """What each rep's forecasts show: a habit, or what was seen when too few.

    Per rep with forecasts (:func:`forecast_habit` on the rep's forecasts
    inside ``period``): periods (forecasts with a judged error),
    over_periods / under_periods (error > 0 / < 0), mean_error_pct,
    median_error_pct, share_over / share_under, ``bias`` (one of
    :data:`VERDICTS`) and ``sentence``. Examples: errors +20, +15, +30, -5
    -> median +17.5, 3 of 4 over -> ``over``; +50, +50 -> ``too_few``,
    "Over-forecast in 2 of 2 quarters, median error +50%: too few quarters
    to call it a habit (3 needed)." ``reps``: only these reps' rows (each rep's
    are its own forecasts').
    """
    accuracy = forecast_accuracy(ds, period=period, as_of=as_of)
    if reps is not None and not accuracy.empty:
        accuracy = accuracy[accuracy["rep_id"].isin(sorted({str(r) for r in reps})).to_numpy(dtype=bool)]
    if accuracy.empty:
        out = _empty(BIAS_COLUMNS)
        out.attrs["notes"] = accuracy.attrs.get("notes", [])
        return out
    errors = accuracy["forecast_error_pct"].to_numpy(dtype="float64")
    kinds = accuracy["kind"].to_numpy(dtype=object)
    grouped = accuracy.groupby("rep_id", sort=True, observed=True)
    where = grouped.indices  # each rep's rows, read as arrays (no frame per rep)
    rows = [
        {"rep_id": rep_id, **forecast_habit(errors[where[rep_id]], kinds=kinds[where[rep_id]])} for rep_id in grouped.size().index
    ]
    out = pd.DataFrame(rows)[BIAS_COLUMNS]
    out = out.astype({"periods": "int64", "over_periods": "int64", "under_periods": "int64"})
    out.attrs["notes"] = accuracy.attrs.get("notes", [])
    return out


def forecast_habit(errors, *, kinds=()) -> dict:
    """The facts of one rep's forecast errors, the verdict and its sentence.

    Parameters
    ----------
    errors : sequence of float
        forecast_error_pct per forecast period (NaN: not judged, left out).
    kinds : sequence of str, optional
        Each period's kind (``quarter``, ``month``, ``year``): the sentence
        counts "quarters" when they are all quarters, else "periods".

    Returns
    -------
    dict
        periods, over_periods, under_periods, mean_error_pct,
        median_error_pct, share_over, share_under, bias (one of
        :data:`VERDICTS`), sentence.
    """
    values = np.asarray(errors, dtype="float64")
    values = values[~np.isnan(values)]  # numpy, as pandas' median and mean compute them (a rep each: no Series)
    n = len(values)
    over, under = int((values > 0).sum()), int((values < 0).sum())
    median = float(np.nanmedian(values)) if n else np.nan
    miss = float(np.nanmedian(np.abs(values))) if n else np.nan
    if n < BIAS_MIN_PERIODS:
        verdict = "too_few"
    elif median >= BIAS_MIN_MEDIAN_PCT and over / n >= BIAS_MIN_SHARE:
        verdict = "over"
    elif median <= -BIAS_MIN_MEDIAN_PCT and under / n >= BIAS_MIN_SHARE:
        verdict = "under"
    elif miss < BIAS_MIN_MEDIAN_PCT:
        verdict = "accurate"
    else:
        verdict = "mixed"
    facts = {
        "periods": n,
        "over_periods": over,
        "under_periods": under,
        "mean_error_pct": float(values.sum(dtype="float64") / np.float64(n)) if n else np.nan,
        "median_error_pct": median,
        "share_over": over / n if n else np.nan,
        "share_under": under / n if n else np.nan,
        "bias": verdict,
    }
    facts["sentence"] = _habit_sentence(facts, miss, _unit_word(kinds))
    return facts


def forecast_in_period(
    ds, *, period, as_of=None, accuracy: pd.DataFrame | None = None, monthly: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per rep, the forecasts that lie inside ``period`` against the actual
    in those forecast periods (what metrics_table shows as forecast_amount
    and forecast_error_pct).

    When a rep forecast at several granularities inside the period (a year
    and its quarters), only the coarsest is used, so nothing is counted
    twice. Returns rep_id, forecasts, forecast_amount, actual,
    forecast_error_pct (one row per rep with such forecasts).

    ``accuracy``: :func:`forecast_accuracy` of ``ds`` for no period, when
    already made (metrics over many periods make it once); the forecasts
    inside ``period`` are taken from it, as ``forecast_accuracy(ds,
    period=period)`` would keep them, and their actuals summed again (from
    ``monthly``, :func:`monthly_won` of ``ds.opportunities``, when already made).
    """
    if accuracy is None:
        accuracy = forecast_accuracy(ds, period=period, as_of=as_of)
    else:
        window = parse_period(period, as_of=as_of)
        inside = (accuracy["period_start"] >= window.start) & (accuracy["period_end"] <= window.end)
        accuracy = accuracy[inside.to_numpy()].reset_index(drop=True)
        # the actuals summed over these rows only, as forecast_accuracy(ds, period=period) sums them (to the bit)
        accuracy["actual"] = _actuals(ds.opportunities, accuracy, monthly=monthly)
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


def forecasts_in_periods(ds, periods, *, accuracy: pd.DataFrame, monthly: pd.DataFrame | None = None) -> list[pd.DataFrame]:
    """:func:`forecast_in_period` of each of ``periods`` (resolved Periods), with the
    given ``accuracy`` (:func:`forecast_accuracy` of ``ds`` for no period) and
    ``monthly``: each period's forecasts picked and their actuals summed over them as
    :func:`forecast_in_period` sums them, then the coarsest forecasts of every rep and
    period chosen and summed in one groupby by period and rep (each group's rows in the
    order one period's groupby reads them: the same sums, to the bit)."""
    columns = ["rep_id", "forecasts", "forecast_amount", "actual", "forecast_error_pct"]
    starts, ends = accuracy["period_start"], accuracy["period_end"]
    pieces = []
    for i, window in enumerate(periods):
        inside = accuracy[((starts >= window.start) & (ends <= window.end)).to_numpy()].reset_index(drop=True)
        if len(inside):
            # summed over this period's rows only, as forecast_in_period sums them
            pieces.append(inside.assign(actual=_actuals(ds.opportunities, inside, monthly=monthly), _period=i))
    made = [_empty(columns) for _ in periods]
    if not pieces:
        return made
    stacked = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
    rank = stacked["kind"].map(_KIND_RANK)
    keys = [stacked["_period"], stacked["rep_id"]]
    coarsest = rank.groupby(keys, observed=True).transform("max")
    used = stacked[(rank == coarsest).to_numpy()]
    out = (
        used.groupby(["_period", "rep_id"], sort=True, observed=True)
        .agg(forecasts=("period", "size"), forecast_amount=("forecast_amount", "sum"), actual=("actual", "sum"))
        .reset_index()
    )
    out["forecast_error_pct"] = error_pct(out["forecast_amount"], out["actual"]).to_numpy()
    at = out.pop("_period").to_numpy()
    for i in np.unique(at):
        made[int(i)] = out[at == i].reset_index(drop=True)
    return made


def error_pct(forecast, actual) -> pd.Series:
    """(forecast - actual) / actual x 100; positive = over-forecast; NaN when actual is 0."""
    forecast = pd.Series(forecast, dtype="float64")
    return (forecast - actual) / pd.Series(actual, dtype="float64").where(actual != 0) * 100


# -- internals -------------------------------------------------------------------


def _unit_word(kinds) -> str:
    kinds = {str(k) for k in kinds if isinstance(k, str)}
    return f"{kinds.pop()}s" if len(kinds) == 1 and next(iter(kinds)) in _MONTHS else "periods"


def _habit_sentence(facts: dict, miss: float, units: str) -> str:
    n, over, under = facts["periods"], facts["over_periods"], facts["under_periods"]
    if n == 0:
        return "No forecast could be checked: nothing was won in the forecast periods."
    of = f"of {n} {units[:-1] if n == 1 else units}"
    seen = []
    if over:
        seen.append(f"over-forecast in {over} {of}" if not under else f"over-forecast in {over}")
    if under:
        seen.append(f"under-forecast in {under} {of}")
    if not seen:
        seen.append(f"exactly on forecast in {n} {of}")
    median = f"median error {facts['median_error_pct']:+.0f}%"
    what = f"{' and '.join(seen)}, {median}"
    what = what[0].upper() + what[1:]
    verdict = facts["bias"]
    if verdict == "too_few":
        return f"{what}: too few {units} to call it a habit ({BIAS_MIN_PERIODS} needed)."
    if verdict == "over":
        return f"{what}: a consistent habit of forecasting high."
    if verdict == "under":
        return f"{what}: a consistent habit of forecasting low."
    if verdict == "accurate":
        return f"{what}: accurate, the typical miss is {miss:.0f}% (under {BIAS_MIN_MEDIAN_PCT:.0f}%)."
    return f"{what}: no consistent direction, but the typical miss is {miss:.0f}%."


def _forecast_period(label) -> Period | None:
    try:
        period = parse_period(str(label))
    except InputError:
        return None
    return period if period.kind in _MONTHS and str(label).strip().lower() not in ("ytd",) else None


def _actuals(opportunities: pd.DataFrame, frame: pd.DataFrame, *, monthly: pd.DataFrame | None = None) -> np.ndarray:
    """Revenue won by each frame row's rep in its period: won revenue summed
    per rep and calendar month once (:func:`monthly_won`, or ``monthly``), then the months of each period added."""
    if frame.empty:
        return np.zeros(0)
    monthly = monthly_won(opportunities) if monthly is None else monthly
    months = frame["kind"].map(_MONTHS).to_numpy()
    first = (frame["period_start"].dt.year * 12 + frame["period_start"].dt.month - 1).to_numpy()
    row = np.repeat(np.arange(len(frame)), months)
    offset = np.arange(len(row)) - np.repeat(np.cumsum(months) - months, months)
    expanded = pd.DataFrame({"row": row, "rep_id": frame["rep_id"].to_numpy()[row], "month": first[row] + offset})
    expanded = expanded.astype({"rep_id": monthly["rep_id"].dtype, "month": monthly["month"].dtype})
    joined = expanded.merge(monthly, on=["rep_id", "month"], how="left")
    return joined.groupby("row")["won"].sum().reindex(range(len(frame)), fill_value=0.0).to_numpy(dtype="float64")


def monthly_won(opportunities: pd.DataFrame) -> pd.DataFrame:
    """rep_id, month (year * 12 + month - 1), won: revenue won per rep and calendar month."""
    won = opportunities.loc[
        (opportunities["status"].eq("won") & opportunities["closed_date"].notna() & opportunities["amount"].notna()).to_numpy(),
        ["rep_id", "closed_date", "amount"],
    ]  # only what is summed
    # year * 12 + month - 1, from the dates' own month numbers (no year and month arrays beside them)
    month = pd.Series(
        (won["closed_date"].to_numpy().astype("datetime64[M]").astype(np.int64) + 1970 * 12).astype(np.int32), index=won.index
    )
    return won["amount"].groupby([won["rep_id"], month.rename("month")], observed=True).sum().rename("won").reset_index()


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="float64") for c in columns})
