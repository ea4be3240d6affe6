"""Reporting periods: what ``2025-Q2`` or ``last-month`` means, in dates.

Every analysis takes a :class:`Period`. :func:`parse_period` turns the
contract's forms into one::

    2025                      a calendar year
    2025-Q2                   a calendar quarter
    2025-06                   a calendar month
    2025-01-15..2025-03-31    a date range, both ends inclusive
    last-week, last-month, last-quarter, last-year, ytd
                              resolved against ``as_of`` (default today), so
                              a scheduled run and its rerun name the same dates
                              (``last-week``: the Monday-to-Sunday week before
                              the one ``as_of`` is in, a range of 7 days)

Periods run within the years :data:`salesnb.io.schema.FIRST_YEAR` to
:data:`~salesnb.io.schema.LAST_YEAR` (1900 to 2100), the same years a date
in the data may have (see :mod:`salesnb.io.parsing`); anything else is an
:class:`InputError` naming the period and that range, never a pandas
overflow.

A period's ``end`` is an inclusive *day*: a timestamp at 17:30 on the end day
is inside the period (:meth:`Period.contains` compares with the next
midnight). Yearly expectations are pro-rated by :attr:`Period.year_fraction`.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

import pandas as pd

from salesnb.errors import InputError
from salesnb.io.schema import FIRST_YEAR, LAST_YEAR, YEARS_ALLOWED  # the years a date in the data may have too

__all__ = [
    "ACCEPTED_FORMS",
    "FREQS",
    "KINDS",
    "RELATIVE",
    "Period",
    "DEFAULT_STALE_AFTER",
    "data_span",
    "last_date",
    "stale_data",
    "no_data_in",
    "parse_period",
    "periods_between",
    "require_data_in",
]

KINDS = ("year", "quarter", "month", "range")
FREQS = ("month", "quarter", "year")
RELATIVE = ("last-week", "last-month", "last-quarter", "last-year", "ytd")

ACCEPTED_FORMS = (
    "2025 (a year), 2025-Q2 (a quarter), 2025-06 (a month), "
    "2025-01-15..2025-03-31 (a date range, inclusive), "
    "or last-week, last-month, last-quarter, last-year, ytd (relative to --as-of, default today)"
)

_DAY = pd.Timedelta(days=1)
_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")

DateLike = _dt.date | pd.Timestamp | str
"""What ``as_of`` accepts: a date, a Timestamp or an ISO date (``2026-01-05``)."""


@dataclass(frozen=True)
class Period:
    """A span of whole days: ``start`` and ``end`` (inclusive) at midnight.

    ``kind`` is ``year``, ``quarter``, ``month`` or ``range``; ``label`` is
    the canonical text, which :func:`parse_period` reads back to the same
    period (``2025-Q2``, ``2025-01-15..2025-03-31``).
    """

    start: pd.Timestamp
    end: pd.Timestamp
    label: str
    kind: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InputError(f"period kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.end < self.start:
            raise InputError(f"period {self.label!r} ends ({self.end.date()}) before it starts ({self.start.date()})")

    # -- constructors -------------------------------------------------------
    @classmethod
    def for_year(cls, year: int) -> Period:
        _check_years(f"{year:04d}", year)
        return cls(pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31), f"{year:04d}", "year")

    @classmethod
    def for_quarter(cls, year: int, quarter: int) -> Period:
        if not 1 <= quarter <= 4:
            raise InputError(f"a quarter is 1 to 4, not {quarter}; accepted periods: {ACCEPTED_FORMS}")
        _check_years(f"{year:04d}-Q{quarter}", year)
        start = pd.Timestamp(year, 3 * quarter - 2, 1)
        end = start + pd.offsets.QuarterEnd(startingMonth=3)
        return cls(start, end.normalize(), f"{year:04d}-Q{quarter}", "quarter")

    @classmethod
    def for_month(cls, year: int, month: int) -> Period:
        if not 1 <= month <= 12:
            raise InputError(f"a month is 01 to 12, not {month}; accepted periods: {ACCEPTED_FORMS}")
        _check_years(f"{year:04d}-{month:02d}", year)
        start = pd.Timestamp(year, month, 1)
        return cls(start, (start + pd.offsets.MonthEnd(1)).normalize(), f"{year:04d}-{month:02d}", "month")

    @classmethod
    def between(cls, start, end) -> Period:
        """The date range ``start..end``, both days inclusive."""
        first, last = _as_day(start, "start"), _as_day(end, "end")
        _check_years(f"{first.date()}..{last.date()}", first.year, last.year)
        if last < first:
            raise InputError(f"the range {first.date()}..{last.date()} ends before it starts; put the earlier date first")
        return cls(first, last, f"{first.date()}..{last.date()}", "range")

    # -- behaviour ----------------------------------------------------------
    @property
    def end_exclusive(self) -> pd.Timestamp:
        """Midnight after the end day: dates inside are ``start <= d < end_exclusive``."""
        return self.end + _DAY

    @property
    def days(self) -> int:
        """Number of calendar days in the period, both ends counted."""
        return int((self.end - self.start) / _DAY) + 1

    @property
    def year_fraction(self) -> float:
        """The period's share of a year, for pro-rating yearly expectations:
        1 for a calendar year, 0.25 for a quarter, 1/12 for a month, and
        days / 365 for a date range."""
        if self.kind == "year":
            return 1.0
        if self.kind == "quarter":
            return 0.25
        if self.kind == "month":
            return 1 / 12
        return self.days / 365

    def contains(self, dates) -> pd.Series:
        """Boolean Series: which ``dates`` fall in the period.

        ``start <= date < end + 1 day``, so a timestamp at any time on the end
        day counts; missing dates (NaT) are outside.
        """
        dates = dates if isinstance(dates, pd.Series) else pd.Series(dates)
        return (dates >= self.start) & (dates < self.end_exclusive)

    def previous(self, n: int = 1) -> Period:
        """The same-length period ``n`` steps before this one: the previous
        year, quarter or month (``2025-Q1`` -> ``2024-Q4``), or for a date
        range the range of as many days ending the day before it starts."""
        if not isinstance(n, int) or n < 1:
            raise InputError(f"previous(n) needs a whole number n >= 1, not {n!r}")
        if self.kind == "year":
            return Period.for_year(self.start.year - n)
        if self.kind in ("quarter", "month"):
            step = 3 if self.kind == "quarter" else 1
            index = self.start.year * 12 + self.start.month - 1 - n * step
            year, month = divmod(index, 12)
            if self.kind == "quarter":
                return Period.for_quarter(year, month // 3 + 1)
            return Period.for_month(year, month + 1)
        shift = pd.Timedelta(days=self.days * n)
        return Period.between(self.start - shift, self.end - shift)

    def __str__(self) -> str:
        return self.label


PeriodLike = Period | str
"""What ``period`` accepts: a :class:`Period` or any of the contract's forms (``2025-Q2``, ``last-month``...)."""


def parse_period(text: str, *, as_of: DateLike | None = None) -> Period:
    """Read a period in any of the contract's forms.

    Parameters
    ----------
    text : str, int or Period
        ``2025``, ``2025-Q2``, ``2025-06``, ``2025-01-15..2025-03-31``,
        ``last-week``, ``last-month``, ``last-quarter``, ``last-year`` or ``ytd``. A
        :class:`Period` is returned as it is.
    as_of : date-like, optional
        The day relative periods count back from (default: today). ``ytd``
        runs from 1 January of that year to ``as_of`` inclusive.

    Raises
    ------
    InputError
        When ``text`` is none of the accepted forms; the message lists them.
    """
    if isinstance(text, Period):
        return text
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise InputError(
            f"a period is text such as '2025-Q2', not {type(text).__name__} {text!r}; accepted periods: {ACCEPTED_FORMS}"
        )
    raw = text.strip()
    lowered = raw.lower()
    if lowered in RELATIVE:
        today = _as_day(as_of, "as_of") if as_of is not None else pd.Timestamp.today().normalize()
        try:
            return _relative(lowered, today)
        except InputError as exc:
            raise InputError(f"{lowered} as of {today.date()}: {exc}") from None
    if ".." in raw:
        left, _, right = raw.partition("..")
        if _DATE.match(left.strip()) and _DATE.match(right.strip()):
            return Period.between(left.strip(), right.strip())
    elif match := _YEAR.match(raw):
        return Period.for_year(int(match.group(1)))
    elif match := _QUARTER.match(raw):
        return Period.for_quarter(int(match.group(1)), int(match.group(2)))
    elif match := _MONTH.match(raw):
        return Period.for_month(int(match.group(1)), int(match.group(2)))
    raise InputError(f"{text!r} is not a period; accepted periods: {ACCEPTED_FORMS}")


def periods_between(start, end, freq: str) -> list[Period]:
    """Consecutive calendar periods of ``freq`` (month, quarter or year) that
    cover ``start`` to ``end``: the first contains ``start``, the last
    contains ``end``. ``start``/``end`` are dates, or periods (a period's
    first day for ``start``, its last day for ``end``)."""
    if freq not in FREQS:
        raise InputError(f"freq must be one of {', '.join(FREQS)}, not {freq!r}")
    first, last = _bound(start, "start"), _bound(end, "end")
    if last < first:
        raise InputError(f"periods_between: end {last.date()} is before start {first.date()}")
    current = _calendar_period(first, freq)
    out = [current]
    while current.end < last:
        current = _next(current)
        out.append(current)
    return out


def data_span(ds) -> Period:
    """The whole span of a dataset's dates, as a range: the earliest to the
    latest opportunity created or closed, activity or order date. Used when
    no period is given (e.g. ``salesnb metrics`` without ``--period``)."""
    bounds = [_date_bounds(c) for c in _dated_columns(ds) if len(c)]
    lows, highs = [low for low, _ in bounds if pd.notna(low)], [high for _, high in bounds if pd.notna(high)]
    if not lows:
        raise InputError("the data holds no dates, so it has no span; pass a period such as --period 2025")
    return Period.between(min(lows).normalize(), max(highs).normalize())


DEFAULT_STALE_AFTER = 7
"""Days the data's last record may lie before a period's end before pages warn (``--stale-after``)."""


def last_date(ds) -> pd.Timestamp | None:
    """The day of the data's latest record: the latest opportunity created or
    deal closed, activity or order (the dates :func:`data_span` spans; an open
    deal's expected close date is not a record). None when the data holds no dates."""
    highs = [high for _, high in (_date_bounds(c) for c in _dated_columns(ds) if len(c)) if pd.notna(high)]
    return max(highs).normalize() if highs else None


def stale_data(ds, period: Period, *, after_days: int = DEFAULT_STALE_AFTER) -> dict | None:
    """Whether the data stops well before ``period`` ends: an old export a
    scheduled run would otherwise report on quietly. None when the latest
    record (:func:`last_date`) is at most ``after_days`` days before the
    period's last day; else ``{"last_date", "period_end", "days_before_end",
    "stale_after", "text"}``, ``text`` the warning every page and the index show."""
    if not isinstance(after_days, int) or isinstance(after_days, bool) or after_days < 0:
        raise InputError(f"--stale-after is a whole number of days, 0 or more, not {after_days!r}")
    last = last_date(ds)
    if last is None:
        return None
    behind = int((period.end - last) / _DAY)
    if behind <= after_days:
        return None
    return {
        "last_date": _iso(last),
        "period_end": _iso(period.end),
        "days_before_end": behind,
        "stale_after": after_days,
        "text": (
            f"Old data: the latest record is from {_iso(last)}, {behind} days before {period.label} ends "
            f"({_iso(period.end)}). Those days are missing from these figures, not quiet: check that the export ran."
        ),
    }


def _iso(day: pd.Timestamp) -> str:
    return day.date().isoformat()


def no_data_in(ds, period: Period) -> str | None:
    """``"no data in 2031 (the data runs from 2024-01-01 to 2025-12-31)"``
    when nothing in the dataset is dated in ``period``: no opportunity
    created or closed, no activity, no order (the dates :func:`data_span`
    spans); None when something is, or when the data holds no dates at all
    (an empty source has no span to point to: each analysis says so itself)."""
    columns = [c for c in _dated_columns(ds) if len(c)]
    if any(period.contains(c).any() for c in columns):
        return None
    try:
        span = data_span(ds)
    except InputError:
        return None
    return f"no data in {period.label} (the data runs from {span.start.date()} to {span.end.date()})"


def require_data_in(ds, period: Period) -> None:
    """Raise :class:`InputError` when ``period`` holds no data at all (see
    :func:`no_data_in`): a report of zeros for a period the data does not
    reach would read as a period of no work."""
    message = no_data_in(ds, period)
    if message:
        raise InputError(f"{message}; ask for a period within it")


def _dated_columns(ds) -> list[pd.Series]:
    """The date columns that place a dataset in time: opportunities created,
    deals closed (an open deal's close date is only expected), activities, orders."""
    opps = ds.opportunities
    closed = opps["status"].isin(["won", "lost"])
    columns = [opps["created_date"], opps.loc[closed, "closed_date"]]
    for name in ("activities", "orders"):
        frame = ds.table(name)
        if frame is not None:
            columns.append(frame["date"])
    return columns


# -- internals ---------------------------------------------------------------


def _check_years(label: str, *years: int) -> None:
    """Raise :class:`InputError` when a period would reach outside
    FIRST_YEAR..LAST_YEAR (pandas holds nanosecond timestamps only from
    1677 to 2262, and no sales data is older than 1900 or later than 2100)."""
    if any(not FIRST_YEAR <= year <= LAST_YEAR for year in years):
        raise InputError(
            f"the period {label} is outside the dates salesnb handles, {YEARS_ALLOWED}; ask for a period within those years"
        )


def _date_bounds(values: pd.Series) -> tuple:
    """``(values.min(), values.max())`` of a date column, a slice at a time
    for plain ``datetime64`` values: pandas' min() and max() each copy the
    whole column to mask its blanks (75 MiB for ten million activities)."""
    import numpy as np

    if not (isinstance(values.dtype, np.dtype) and values.dtype.kind == "M"):
        return values.min(), values.max()
    days = values.to_numpy()
    numbers, blank = days.view("int64"), np.iinfo(np.int64).min  # NaT is the least int64
    low, high = None, None
    step = 1 << 20
    for start in range(0, len(numbers), step):
        part = numbers[start : start + step]
        part = part[part != blank]
        if len(part):
            low = part.min() if low is None else min(low, part.min())
            high = part.max() if high is None else max(high, part.max())
    if low is None:
        return pd.NaT, pd.NaT
    return pd.Timestamp(np.int64(low).view(days.dtype)), pd.Timestamp(np.int64(high).view(days.dtype))


def _as_day(value, what: str) -> pd.Timestamp:
    if isinstance(value, pd.Timestamp):
        stamp = value
    elif isinstance(value, (_dt.date, _dt.datetime, str)):
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            stamp = pd.NaT
    else:
        stamp = pd.NaT
    if stamp is pd.NaT or pd.isna(stamp):
        raise InputError(f"{what} must be a date such as 2025-06-30, not {value!r}")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp.normalize()


def _relative(name: str, today: pd.Timestamp) -> Period:
    if name == "ytd":
        return Period.between(pd.Timestamp(today.year, 1, 1), today)
    if name == "last-week":  # Monday to Sunday, the week before today's (ISO weeks)
        monday = today - pd.Timedelta(days=today.weekday())
        return Period.between(monday - pd.Timedelta(days=7), monday - _DAY)
    if name == "last-year":
        return Period.for_year(today.year - 1)
    if name == "last-quarter":
        return _calendar_period(today, "quarter").previous()
    return _calendar_period(today, "month").previous()


def _calendar_period(day: pd.Timestamp, freq: str) -> Period:
    if freq == "year":
        return Period.for_year(day.year)
    if freq == "quarter":
        return Period.for_quarter(day.year, (day.month - 1) // 3 + 1)
    return Period.for_month(day.year, day.month)


def _next(period: Period) -> Period:
    return _calendar_period(period.end_exclusive, period.kind)


def _bound(value, what: str) -> pd.Timestamp:
    if isinstance(value, Period):
        return value.start if what == "start" else value.end
    if isinstance(value, (str, int)) and not _DATE.match(str(value).strip()):
        period = parse_period(value)
        return period.start if what == "start" else period.end
    return _as_day(value, what)
