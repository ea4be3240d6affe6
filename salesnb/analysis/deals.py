"""The deal metrics: counts, win rate, revenue, sales cycle and pipeline.

Each public metric takes the ``opportunities`` table (data first, options
keyword-only) and returns a tidy frame with the ``by`` columns first::

    opportunity_counts   opportunities, won, lost, closed, open
    win_rate             won / (won + lost)                       (rate form)
    revenue              revenue_won, avg_deal_size
    cycle_days           cycle_days_median, cycle_days_p25, cycle_days_p75
    pipeline             open, pipeline_open_amount, pipeline_unknown_amounts,
                         weighted_pipeline
    pipeline_coverage    pipeline_open_amount / quota             (rate form)
    coverage_period      the period whose quota the open pipeline is held
                         against: the next one once ``period`` is finished

``opportunities`` counts deals *created* in the period; won, lost,
win_rate, revenue and cycle length count deals by the day they *closed*;
the open pipeline is taken at the period's *end*. The ``deal_*`` functions
compute the same figures over prepared deals (:func:`checked_deals`: each
opportunity once) with :func:`deal_flags` computed once, which is how
:func:`salesnb.analysis.metrics.metrics_table` shares that work.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesnb.analysis.frames import by_columns, check_frame, group_sum
from salesnb.analysis.periods import Period, parse_period
from salesnb.analysis.rates import SMALL_SAMPLE_MIN_CLOSED, divide, rate_frame, ratio
from salesnb.errors import InputError
from salesnb.io.categorical import plain
from salesnb.io.value_lookup import repeats

__all__ = [
    "DEAL_COLUMNS",
    "COVERAGE_NORM",
    "checked_deals",
    "coverage_period",
    "cycle_days",
    "deal_counts",
    "deal_cycle_days",
    "deal_flags",
    "deal_pipeline",
    "deal_revenue",
    "next_period",
    "opportunity_counts",
    "pipeline",
    "pipeline_coverage",
    "revenue",
    "unique_deals",
    "win_rate",
]

DEAL_COLUMNS = ("created_date", "closed_date", "status", "amount")

COVERAGE_NORM = 3.0
"""The usual pipeline coverage target (3x the quota the pipeline will close
into), used where expectations.yml sets no ``pipeline_coverage``."""


# -- by group --------------------------------------------------------------------


def opportunity_counts(opportunities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Deal counts in ``period``.

    ``opportunities``: unique opportunities *created* in the period;
    ``won``/``lost``: deals with that status whose ``closed_date`` is in the
    period (``closed`` = won + lost); ``open``: deals open at the period's end
    (created on or before the end day and not won or lost by then; an open
    deal's ``closed_date`` is only an expected date and is ignored).

    Every group present in ``opportunities`` appears, with zeros when it has
    no deals in the period.
    """
    by = by_columns(by)
    return deal_counts(checked_deals(opportunities, by), by, parse_period(period))


def deal_counts(deals: pd.DataFrame, by: Sequence[str], period: Period, *, flags=None, codes=None) -> pd.DataFrame:
    """:func:`opportunity_counts` over prepared deals (:func:`checked_deals`), with
    :func:`deal_flags` and the factorised ``by`` column (``codes``) passed in when shared."""
    flags = deal_flags(deals, period) if flags is None else flags
    counts = pd.DataFrame(
        {"opportunities": flags["created"], "won": flags["won"], "lost": flags["lost"], "open": flags["open"]},
        index=deals.index,
    )
    out = group_sum(counts, deals, by, codes=codes)
    out["closed"] = out["won"] + out["lost"]
    return out[[*by, "opportunities", "won", "lost", "closed", "open"]]


def win_rate(opportunities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Won / (won + lost) over unique opportunities closed in ``period``.

    Returns a tidy frame: *by, numerator (won), denominator (won + lost),
    n (closed deals), value, small_sample (n < SMALL_SAMPLE_MIN_CLOSED).
    Example: 15 deals closed, 10 of them won -> 10 / 15 = 0.667.
    """
    by = by_columns(by)
    return rate_frame(opportunity_counts(opportunities, by=by, period=period), by, "win_rate")


def revenue(opportunities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Revenue won in ``period`` and the average won deal.

    ``revenue_won`` sums the amounts of deals won (closed) in the period;
    ``avg_deal_size`` = revenue_won / won deals with a known amount (NaN with
    no wins). A won deal with a blank amount is counted in
    ``won_unknown_amounts``, never as 0.
    """
    by = by_columns(by)
    return deal_revenue(checked_deals(opportunities, by), by, parse_period(period))


def deal_revenue(deals: pd.DataFrame, by: Sequence[str], period: Period, *, flags=None, codes=None) -> pd.DataFrame:
    """:func:`revenue` over prepared deals; ``flags`` and ``codes`` as in :func:`deal_counts`."""
    won = (deal_flags(deals, period) if flags is None else flags)["won"]
    known = deals["amount"].notna().to_numpy()
    parts = pd.DataFrame(
        {
            "won": won,
            "revenue_won": np.where(won & known, deals["amount"].to_numpy(dtype="float64", na_value=np.nan), 0.0),
            "won_with_amount": won & known,
            "won_unknown_amounts": won & ~known,
        },
        index=deals.index,
    )
    out = group_sum(parts, deals, by, codes=codes)
    out["avg_deal_size"] = ratio(out, "avg_deal_size")
    return out[[*by, "won", "revenue_won", "avg_deal_size", "won_with_amount", "won_unknown_amounts"]]


def cycle_days(opportunities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Sales cycle of deals won in ``period``: calendar days from
    ``created_date`` to ``closed_date`` (both taken as days), summarised by
    the median and the spread (25th and 75th percentiles, linear
    interpolation). Lost deals do not count; a deal closed before it was
    created is left out (the quality check flags it).

    Returns *by, n (won deals measured), cycle_days_median, cycle_days_p25,
    cycle_days_p75, small_sample (n < SMALL_SAMPLE_MIN_CLOSED).
    Example: won deals taking 10, 20, 30 and 100 days -> median 25,
    p25 17.5, p75 47.5.
    """
    by = by_columns(by)
    return deal_cycle_days(checked_deals(opportunities, by), by, parse_period(period))


def deal_cycle_days(deals: pd.DataFrame, by: Sequence[str], period: Period, *, flags=None, codes=None) -> pd.DataFrame:
    """:func:`cycle_days` over prepared deals; ``flags`` and ``codes`` as in :func:`deal_counts`."""
    won = (deal_flags(deals, period) if flags is None else flags)["won"]
    days = (deals["closed_date"].dt.floor("D") - deals["created_date"].dt.floor("D")).to_numpy() / np.timedelta64(1, "D")
    days = np.where(won & (days >= 0), days, np.nan)
    if len(by) == 1:
        codes, uniques = pd.factorize(deals[by[0]], use_na_sentinel=False) if codes is None else codes
        measured = pd.Series(days)[~np.isnan(days)]
        grouped = measured.groupby(codes[~np.isnan(days)])
        out = pd.DataFrame({"n": grouped.count()}).reindex(range(len(uniques)))
        out["n"] = out["n"].fillna(0).astype("int64")
        quantiles = grouped.quantile([0.5, 0.25, 0.75]).unstack().reindex(index=out.index, columns=[0.5, 0.25, 0.75])
        out.insert(0, by[0], plain(uniques))
    else:
        grouped = pd.Series(days, index=deals.index).groupby([deals[c] for c in by], dropna=False, sort=True, observed=True)
        out = pd.DataFrame({"n": grouped.count()})
        quantiles = grouped.quantile([0.5, 0.25, 0.75]).unstack().reindex(index=out.index, columns=[0.5, 0.25, 0.75])
    out["cycle_days_median"] = quantiles[0.5].to_numpy()
    out["cycle_days_p25"] = quantiles[0.25].to_numpy()
    out["cycle_days_p75"] = quantiles[0.75].to_numpy()
    out = out.reset_index(drop=len(by) == 1)
    out.columns = [*by, *out.columns[len(by) :]]
    for column in by:
        out[column] = plain(out[column])
    out["small_sample"] = out["n"] < SMALL_SAMPLE_MIN_CLOSED
    return out.sort_values(list(by), na_position="last", kind="stable", ignore_index=True)


def pipeline(opportunities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Open pipeline at the end of ``period``.

    A deal is open at the end day when it was created on or before it and
    not won or lost by then. ``pipeline_open_amount`` sums the *known*
    amounts of those deals; a blank amount is counted in
    ``pipeline_unknown_amounts``, never as 0 (when every open deal's amount
    is blank the amount is NaN). ``weighted_pipeline`` = open amount x the
    group's win rate over all deals closed on or before the end day
    (``history_win_rate``; NaN without closed history).

    Example: open deals of 100 and 300 and one blank, history 3 won of 4
    closed -> open 3, amount 400, 1 unknown, weighted 300.
    """
    by = by_columns(by)
    return deal_pipeline(checked_deals(opportunities, by), by, parse_period(period))


def deal_pipeline(deals: pd.DataFrame, by: Sequence[str], period: Period, *, flags=None, codes=None) -> pd.DataFrame:
    """:func:`pipeline` over prepared deals (plus ``history_win_rate``); ``flags``
    and ``codes`` as in :func:`deal_counts`."""
    flags = deal_flags(deals, period) if flags is None else flags
    is_open = flags["open"]
    known = deals["amount"].notna().to_numpy()
    closed_by_end = flags["closed_at"] < np.datetime64(period.end_exclusive, "ns")
    parts = pd.DataFrame(
        {
            "open": is_open,
            "pipeline_open_amount": np.where(is_open & known, deals["amount"].to_numpy(dtype="float64", na_value=np.nan), 0.0),
            "open_with_amount": is_open & known,
            "pipeline_unknown_amounts": is_open & ~known,
            "history_won": closed_by_end & flags["is_won"],
            "history_closed": closed_by_end,
        },
        index=deals.index,
    )
    out = group_sum(parts, deals, by, codes=codes)
    out["pipeline_open_amount"] = out["pipeline_open_amount"].where(~((out["open"] > 0) & (out["open_with_amount"] == 0)))
    out["history_win_rate"] = divide(out["history_won"], out["history_closed"])
    out["weighted_pipeline"] = out["pipeline_open_amount"] * out["history_win_rate"]
    return out[[*by, "open", "pipeline_open_amount", "pipeline_unknown_amounts", "weighted_pipeline", "history_win_rate"]]


def pipeline_coverage(opportunities: pd.DataFrame, *, by=("rep_id",), period, quota) -> pd.DataFrame:
    """Open pipeline at the end of ``period`` / ``quota``: how many times over
    the open deals cover the quota they will close into. Pass the quota of
    :func:`coverage_period` (for a finished period, the next period's: the
    pipeline open at the end of Q2 is what Q3 will close from).

    ``quota`` is a number (the same for every group), or a frame with the
    ``by`` columns and a ``quota`` column. Returns the rate form: numerator
    (known open amount), denominator (quota), n (open deals), value,
    small_sample. Example: 600,000 open against a quarterly quota of
    200,000 -> 3.0.
    """
    by = by_columns(by)
    out = pipeline(opportunities, by=by, period=period)
    if isinstance(quota, pd.DataFrame):
        check_frame(quota, "quota", ("quota",), by)
        out = out.merge(quota[[*by, "quota"]], on=list(by), how="left")
    elif quota is None or np.isscalar(quota):
        out["quota"] = np.nan if quota is None else float(quota)
    else:
        raise InputError(f"quota must be a number or a frame with columns {[*by, 'quota']}, not {type(quota).__name__}")
    return rate_frame(out, by, "pipeline_coverage")


def coverage_period(period, *, as_of=None) -> Period:
    """The period whose quota ``period``'s end-of-period pipeline is measured against.

    A finished period (its last day before ``as_of``, default today) is
    measured against the next period of the same length (``2025-Q2`` ->
    ``2025-Q3``, ``2025`` -> ``2026``, a range -> the as-many days after it);
    the current period (or one still to come) against its own quota.
    """
    period = parse_period(period, as_of=as_of)
    today = pd.Timestamp.today() if as_of is None else pd.Timestamp(as_of)
    today = (today.tz_localize(None) if today.tzinfo is not None else today).normalize()
    if period.end >= today:
        return period
    return next_period(period)


def next_period(period: Period) -> Period:
    """The same-length period right after ``period`` (the mirror of :meth:`Period.previous`)."""
    day = period.end_exclusive
    if period.kind == "year":
        return Period.for_year(day.year)
    if period.kind == "quarter":
        return Period.for_quarter(day.year, (day.month - 1) // 3 + 1)
    if period.kind == "month":
        return Period.for_month(day.year, day.month)
    shift = pd.Timedelta(days=period.days)
    return Period.between(period.start + shift, period.end + shift)


# -- prepared deals --------------------------------------------------------------


def checked_deals(opportunities, by: Sequence[str]) -> pd.DataFrame:
    """``opportunities`` checked to hold the deal and ``by`` columns, each
    opportunity once (:func:`unique_deals`)."""
    return unique_deals(check_frame(opportunities, "opportunities", ("opportunity_id", *DEAL_COLUMNS), by))


def unique_deals(opps: pd.DataFrame) -> pd.DataFrame:
    """Opportunities counted once each (the first row of a repeated ID)."""
    ids = opps["opportunity_id"]
    repeated = repeats(ids)
    return opps[~repeated] if repeated.any() else opps


def deal_flags(deals: pd.DataFrame, period: Period) -> dict[str, np.ndarray]:
    """Per deal, what ``period`` makes of it: ``created``, ``won``, ``lost`` (closed
    in the period), ``open`` (at its end), ``is_won`` and ``closed_at`` (the day
    a won or lost deal closed, NaT for an open one)."""
    status = deals["status"]
    is_won = status.eq("won").to_numpy()
    is_lost = status.eq("lost").to_numpy()
    closed = deals["closed_date"]
    closed_in = period.contains(closed).to_numpy()
    end = np.datetime64(period.end_exclusive, "ns")
    # the day a deal was won or lost (NaT for open deals, whose close date is only expected)
    closed_at = closed.to_numpy().copy()
    closed_at[~(is_won | is_lost)] = np.datetime64("NaT")
    created = deals["created_date"].to_numpy()
    still_open = ~(is_won | is_lost) | (closed.to_numpy() >= end)  # won/lost after the end day: open at the end
    return {
        "created": period.contains(deals["created_date"]).to_numpy(),
        "won": is_won & closed_in,
        "lost": is_lost & closed_in,
        "open": (created < end) & still_open,
        "is_won": is_won,
        "closed_at": closed_at,
    }
