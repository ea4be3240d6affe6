"""Periods: every contract form, the inclusive end day, pro-rating, stepping back."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from salesnb.analysis.periods import Period, data_span, parse_period, periods_between
from salesnb.errors import InputError
from salesnb.io.dataset import from_frames

T = pd.Timestamp


@pytest.mark.parametrize(
    "text, start, end, kind, label",
    [
        ("2025", "2025-01-01", "2025-12-31", "year", "2025"),
        ("2025-Q2", "2025-04-01", "2025-06-30", "quarter", "2025-Q2"),
        ("2025-q4", "2025-10-01", "2025-12-31", "quarter", "2025-Q4"),
        ("2025-06", "2025-06-01", "2025-06-30", "month", "2025-06"),
        ("2024-02", "2024-02-01", "2024-02-29", "month", "2024-02"),  # leap year
        ("2025-01-15..2025-03-31", "2025-01-15", "2025-03-31", "range", "2025-01-15..2025-03-31"),
        (" 2025-Q1 ", "2025-01-01", "2025-03-31", "quarter", "2025-Q1"),
    ],
)
def test_parse_fixed_forms(text, start, end, kind, label):
    period = parse_period(text)
    assert (period.start, period.end, period.kind, period.label) == (T(start), T(end), kind, label)
    assert parse_period(period.label) == period  # the label reads back to the same period


@pytest.mark.parametrize(
    "text, start, end, kind",
    [
        # as_of 2025-01-10: the month, quarter and year before it, and the year to date
        ("last-month", "2024-12-01", "2024-12-31", "month"),
        ("last-quarter", "2024-10-01", "2024-12-31", "quarter"),
        ("last-year", "2024-01-01", "2024-12-31", "year"),
        ("ytd", "2025-01-01", "2025-01-10", "range"),
        ("last-week", "2024-12-30", "2025-01-05", "range"),  # 2025-01-10 is a Friday: Monday to Sunday before its week
        ("LAST-MONTH", "2024-12-01", "2024-12-31", "month"),
    ],
)
def test_relative_forms_resolve_against_as_of(text, start, end, kind):
    for as_of in ("2025-01-10", dt.date(2025, 1, 10), T("2025-01-10 15:00")):
        period = parse_period(text, as_of=as_of)
        assert (period.start, period.end, period.kind) == (T(start), T(end), kind)


@pytest.mark.parametrize(
    "as_of, start, end",
    [
        ("2026-01-05", "2025-12-29", "2026-01-04"),  # a Monday: the whole week before, across the new year
        ("2026-01-04", "2025-12-22", "2025-12-28"),  # a Sunday is the last day of its own week
    ],
)
def test_last_week_is_the_monday_to_sunday_week_before(as_of, start, end):
    period = parse_period("last-week", as_of=as_of)
    assert (period.start, period.end, period.days, period.label) == (T(start), T(end), 7, f"{start}..{end}")
    assert parse_period(period.label) == period


def test_relative_default_is_today():
    today = pd.Timestamp.today().normalize()
    assert parse_period("ytd").end == today


def test_period_is_returned_as_is_and_int_year_accepted():
    period = Period.for_quarter(2025, 2)
    assert parse_period(period) is period
    assert parse_period(2025) == Period.for_year(2025)


@pytest.mark.parametrize("bad", ["nonsense", "2025-13", "2025-Q5", "", "2025-02-30..2025-03-01", "Q2-2025", None, 2025.5, "25"])
def test_nonsense_raises_input_error_listing_the_forms(bad):
    with pytest.raises(InputError) as caught:
        parse_period(bad)
    if bad not in ("2025-02-30..2025-03-01",):
        assert "2025-Q2" in str(caught.value) and "last-quarter" in str(caught.value)


def test_range_must_not_end_before_it_starts():
    with pytest.raises(InputError, match="ends before it starts"):
        parse_period("2025-03-31..2025-01-01")


def test_bad_as_of_raises():
    with pytest.raises(InputError, match="as_of"):
        parse_period("ytd", as_of="not a date")


def test_contains_counts_the_whole_end_day():
    period = parse_period("2025-Q1")
    dates = pd.Series(
        pd.to_datetime(
            [
                "2024-12-31 23:59:59",  # day before: out
                "2025-01-01 00:00:00",  # first instant: in
                "2025-03-31 23:59:59",  # a timestamp on the end day: in
                "2025-04-01 00:00:00",  # the day after the end: out
                None,  # missing: out
            ]
        )
    )
    assert period.contains(dates).tolist() == [False, True, True, False, False]


def test_year_fraction():
    assert parse_period("2025").year_fraction == 1
    assert parse_period("2024").year_fraction == 1  # a leap year is still one year
    assert parse_period("2025-Q3").year_fraction == 0.25
    assert parse_period("2025-02").year_fraction == pytest.approx(1 / 12)
    # 73 days: 73 / 365 = 0.2
    assert parse_period("2025-01-01..2025-03-14").year_fraction == pytest.approx(0.2)
    assert parse_period("2025-01-01..2025-03-14").days == 73


@pytest.mark.parametrize(
    "text, n, expected",
    [
        ("2025", 1, "2024"),
        ("2025", 3, "2022"),
        ("2025-Q1", 1, "2024-Q4"),
        ("2025-Q3", 5, "2024-Q2"),
        ("2025-01", 1, "2024-12"),
        ("2025-03", 14, "2024-01"),
        # 10 days, ending the day before the start
        ("2025-01-11..2025-01-20", 1, "2025-01-01..2025-01-10"),
        ("2025-01-11..2025-01-20", 2, "2024-12-22..2024-12-31"),
    ],
)
def test_previous(text, n, expected):
    assert parse_period(text).previous(n) == parse_period(expected)


def test_previous_needs_positive_n():
    with pytest.raises(InputError):
        parse_period("2025").previous(0)


def test_periods_between():
    quarters = periods_between("2024-02-10", "2024-08-01", "quarter")
    assert [p.label for p in quarters] == ["2024-Q1", "2024-Q2", "2024-Q3"]
    months = periods_between("2024-11", "2025-Q1", "month")  # periods as bounds: first and last day
    assert [p.label for p in months] == ["2024-11", "2024-12", "2025-01", "2025-02", "2025-03"]
    years = periods_between(dt.date(2023, 6, 1), T("2025-01-01"), "year")
    assert [p.label for p in years] == ["2023", "2024", "2025"]
    assert [p.label for p in periods_between("2025-03-05", "2025-03-05", "month")] == ["2025-03"]


def test_periods_between_rejects_bad_freq_and_order():
    with pytest.raises(InputError, match="freq"):
        periods_between("2024-01-01", "2024-12-31", "week")
    with pytest.raises(InputError):
        periods_between("2025-01-01", "2024-12-31", "month")


def test_data_span_ignores_expected_close_of_open_deals():
    ds = from_frames(
        reps=pd.DataFrame({"rep_id": ["R1"], "name": ["Ann"], "territory": ["North"]}),
        opportunities=pd.DataFrame(
            {
                "opportunity_id": ["O1", "O2"],
                "rep_id": ["R1", "R1"],
                "created_date": pd.to_datetime(["2024-03-05", "2024-05-01"]),
                "closed_date": pd.to_datetime(["2024-06-30", "2030-01-01"]),  # O2 open: 2030 is only expected
                "status": ["won", "open"],
                "amount": [1.0, 2.0],
            }
        ),
        activities=pd.DataFrame(
            {"activity_id": ["A1"], "rep_id": ["R1"], "date": pd.to_datetime(["2024-07-02 10:30"]), "type": ["call"]}
        ),
    )
    span = data_span(ds)
    assert (span.start, span.end, span.kind) == (T("2024-03-05"), T("2024-07-02"), "range")


def test_date_bounds_match_min_and_max():
    from salesnb.analysis.periods import _date_bounds

    cases = [
        pd.Series(pd.to_datetime(["2021-01-03", None, "1999-12-31 10:00"], format="mixed")),
        pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns]"),
        pd.Series(pd.to_datetime(["2020-05-05", "2020-01-01"]).astype("datetime64[s]")),
        pd.Series(pd.to_datetime(["2020-05-05"]).tz_localize("UTC")),
    ]
    for values in cases:
        low, high = _date_bounds(values)
        for ours, theirs in ((low, values.min()), (high, values.max())):
            assert (pd.isna(ours) and pd.isna(theirs)) or ours == theirs


# -- issue #13: periods outside 1900..2100 are refused, not an OverflowError in metrics --


@pytest.mark.parametrize(
    "text, as_of, label",
    [
        ("9999", None, "9999"),
        ("0001-Q1", None, "0001-Q1"),
        ("1899-12", None, "1899-12"),
        ("2101", None, "2101"),
        ("1000-01-01..9000-12-31", None, "1000-01-01..9000-12-31"),
        ("1899-12-31..2025-01-01", None, "1899-12-31..2025-01-01"),
        ("last-year", "9999-12-31", "9998"),
        ("ytd", dt.date(2101, 3, 1), "2101-01-01..2101-03-01"),
    ],
)
def test_a_period_outside_1900_to_2100_is_an_input_error_naming_it(text, as_of, label):
    with pytest.raises(InputError) as raised:
        parse_period(text, as_of=as_of)
    assert f"the period {label} is outside the dates salesnb handles, 1900-01-01 to 2100-12-31" in str(raised.value)


def test_a_relative_period_outside_the_years_names_its_as_of_day():
    with pytest.raises(InputError, match=r"^last-year as of 9999-12-31: the period 9998 is outside"):
        parse_period("last-year", as_of="9999-12-31")


def test_the_years_1900_to_2100_are_allowed_at_both_ends():
    whole = parse_period("1900-01-01..2100-12-31")
    # 201 years of 365 days plus the leap days 1904..2096 (49, 2000 included; 1900 and 2100 are not leap years)
    assert whole.days == 201 * 365 + 49
    assert parse_period("1900-Q1").start == T("1900-01-01")
    assert parse_period("2100-12").end == T("2100-12-31")
    with pytest.raises(InputError, match="the period 1899 is outside"):
        Period.for_year(1900).previous()
