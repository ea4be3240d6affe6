"""Unit tests of the cell parsers: amounts, dates, text, forecast periods."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from salesnb.io.parsing import clean_text, parse_amounts, parse_dates, parse_forecast_periods, read_dates
from salesnb.io.schema import DATE_DTYPE


def _ts(*values):
    return [pd.Timestamp(v) if v is not None else pd.NaT for v in values]


def _same(actual: pd.Series, expected: list) -> None:
    """Element-wise equality where NaT/NaN equal NaT/NaN."""
    assert len(actual) == len(expected)
    for got, want in zip(actual.tolist(), expected):
        if pd.isna(want):
            assert pd.isna(got), (got, want)
        else:
            assert got == want, (got, want)


# --- amounts ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("22700", 22700.0),
        ("22700.5", 22700.5),
        ("$22,700.00", 22700.0),
        ("22.700,00 €", 22700.0),
        ("€ 1.234.567,89", 1234567.89),
        ("1 234,50", 1234.5),
        ("1\u00a0234,50", 1234.5),  # no-break space as thousands separator
        ("1'234.50", 1234.5),  # Swiss
        ("22,700", 22700.0),  # lone comma + 3 digits: thousands
        ("22,70", 22.7),  # otherwise a decimal comma
        ("1.234.567", 1234567.0),  # repeated dots: thousands
        ("1,234,567", 1234567.0),
        ("(1,000)", -1000.0),  # accounting negative
        ("-$5.50", -5.5),
        ("  42  ", 42.0),
        ("USD 99", 99.0),
        ("1e3", 1000.0),
        ("US$ 1,000", 1000.0),
        ("CHF 1'000.50", 1000.5),
        ("22,700.00 USD", 22700.0),
        ("($100)", -100.0),
    ],
)
def test_parse_amounts_text_formats(text, expected):
    amounts, bad = parse_amounts(pd.Series([text]))
    assert amounts.dtype == "float64"
    assert amounts.iloc[0] == pytest.approx(expected)
    assert not bad.iloc[0]


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "N/A",
        "12-34",
        "--",
        "inf",
        "-inf",
        "1,2,3.4.5x(",
        "(",
        "$",
        "$10k",
        "1.5 Mio",
        "2M",
        "10 bn",
        "1,234,56",
        "1.234.56",
        "12 34",
        "5 apples",
    ],
)
def test_parse_amounts_not_a_number_is_bad(text):
    amounts, bad = parse_amounts(pd.Series(["10", text]))
    assert bad.tolist() == [False, True]
    assert amounts.iloc[0] == 10.0 and np.isnan(amounts.iloc[1])


def test_parse_amounts_blank_is_nan_not_bad_and_index_kept():
    values = pd.Series(["5", None, "", "   ", "7"], index=[10, 11, 12, 13, 14])
    amounts, bad = parse_amounts(values)
    assert list(amounts.index) == [10, 11, 12, 13, 14]
    _same(amounts, [5.0, np.nan, np.nan, np.nan, 7.0])
    assert bad.tolist() == [False] * 5


def test_parse_amounts_numeric_column_passes_through():
    amounts, bad = parse_amounts(pd.Series([1, 2, 3], dtype="int64"))
    assert amounts.dtype == "float64" and amounts.tolist() == [1.0, 2.0, 3.0]
    assert not bad.any()
    amounts, bad = parse_amounts(pd.Series([1.5, np.nan, -2.0]))
    _same(amounts, [1.5, np.nan, -2.0])  # negatives are the schema's business, not the parser's
    assert not bad.any()


def test_parse_amounts_infinite_number_is_bad():
    amounts, bad = parse_amounts(pd.Series([1.0, np.inf]))
    assert bad.tolist() == [False, True]
    _same(amounts, [1.0, np.nan])


def test_parse_amounts_object_column_mixing_numbers_and_text():
    amounts, bad = parse_amounts(pd.Series([5, "$1,000.00", None, "x"], dtype=object))
    _same(amounts, [5.0, 1000.0, np.nan, np.nan])
    assert bad.tolist() == [False, False, False, True]


# --- dates ------------------------------------------------------------------


def test_parse_dates_iso_and_timestamps():
    dates, bad, note = parse_dates(
        pd.Series(["2021-04-15", "2021-04-15T10:30:00", "2021-04-15 10:30:00.250", "2021-04-15T10:30:00Z"])
    )
    assert dates.dtype == DATE_DTYPE
    assert dates.tolist() == _ts("2021-04-15", "2021-04-15 10:30", "2021-04-15 10:30:00.250", "2021-04-15 10:30")
    assert not bad.any() and note is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("15 Apr, 2021 00:02:00", "2021-04-15 00:02:00"),
        ("15 Apr, 2021", "2021-04-15"),
        ("15 April 2021", "2021-04-15"),
        ("Apr 15, 2021", "2021-04-15"),
        ("15-Apr-2021", "2021-04-15"),
        ("04/15/2021", "2021-04-15"),
        ("04/15/2021 13:45", "2021-04-15 13:45"),
        ("4/15/2021 1:45 PM", "2021-04-15 13:45"),
        ("15.04.2021", "2021-04-15"),
        ("2021/04/15", "2021-04-15"),
        ("20210415", "2021-04-15"),
    ],
)
def test_parse_dates_export_formats(text, expected):
    dates, bad, note = parse_dates(pd.Series([text]))
    assert dates.iloc[0] == pd.Timestamp(expected)
    assert not bad.iloc[0]
    assert note is None


def test_parse_dates_mixed_formats_in_one_column():
    dates, bad, note = parse_dates(pd.Series(["2021-04-15", "04/16/2021", "17 Apr, 2021 00:02:00", None, "soon"]))
    _same(dates, _ts("2021-04-15", "2021-04-16", "2021-04-17 00:02:00", None, None))
    assert bad.tolist() == [False, False, False, False, True]


def test_parse_dates_explicit_format():
    dates, bad, note = parse_dates(pd.Series(["03/04/2021", "13/04/2021", "2021-04-03", ""]), "%d/%m/%Y")
    _same(dates, _ts("2021-04-03", "2021-04-13", None, None))
    assert bad.tolist() == [False, False, True, False]  # the format is the rule; a blank is not bad
    assert note is None


def test_parse_dates_ambiguous_column_gives_note_naming_the_column():
    dates, bad, note = parse_dates(pd.Series(["03/04/2021", "05/06/2021"], name="closed_date"))
    assert dates.tolist() == _ts("2021-03-04", "2021-05-06")  # month-first by default
    assert "'03/04/2021'" in note and 'formats: {closed_date: "%d/%m/%Y"}' in note
    assert not bad.any()


def test_parse_dates_same_day_and_month_is_not_ambiguous():
    dates, bad, note = parse_dates(pd.Series(["04/04/2021", "12/12/2021"]))
    assert note is None
    assert dates.tolist() == _ts("2021-04-04", "2021-12-12")


def test_parse_dates_day_first_evidence_reads_whole_column_day_first():
    dates, bad, note = parse_dates(pd.Series(["03/04/2021", "25/12/2021", "01/02/2022 10:00"]))
    assert dates.tolist() == _ts("2021-04-03", "2021-12-25", "2022-02-01 10:00")
    assert note is None and not bad.any()


def test_parse_dates_month_first_evidence_keeps_month_first():
    dates, bad, note = parse_dates(pd.Series(["03/04/2021", "12/25/2021"]))
    assert dates.tolist() == _ts("2021-03-04", "2021-12-25")
    assert note is None


def test_parse_dates_impossible_dates_are_bad():
    dates, bad, note = parse_dates(pd.Series(["2021-02-30", "31/02/2021", "13/13/2021", "2021-04-15"]))
    assert bad.tolist() == [True, True, True, False]
    assert dates.iloc[3] == pd.Timestamp("2021-04-15")


def test_parse_dates_time_zones_keep_wall_clock():
    single, _, _ = parse_dates(pd.Series(["2021-04-15T00:30:00+02:00", "2021-04-16T23:30:00+02:00"]))
    assert single.tolist() == _ts("2021-04-15 00:30", "2021-04-16 23:30")
    # summer and winter time in one column: still each value's own clock, not UTC
    mixed, bad, _ = parse_dates(pd.Series(["2021-04-15T00:30:00+02:00", "2021-01-15T00:30:00+01:00", "2021-01-16"]))
    assert mixed.tolist() == _ts("2021-04-15 00:30", "2021-01-15 00:30", "2021-01-16")
    assert not bad.any()


def test_parse_dates_typed_columns_pass_through():
    aware = pd.Series(pd.to_datetime(["2021-04-15 00:30"]).tz_localize("Europe/Berlin"))
    dates, bad, note = parse_dates(aware)
    assert dates.dtype == DATE_DTYPE and dates.tolist() == _ts("2021-04-15 00:30")
    objects = pd.Series([dt.date(2021, 4, 15), None], dtype=object)  # Parquet date32 / SQL DATE
    dates, bad, note = parse_dates(objects)
    _same(dates, _ts("2021-04-15", None))
    assert bad.tolist() == [False, False]


# --- text ---------------------------------------------------------------------


def test_clean_text_whole_floats_have_no_decimal_point():
    assert clean_text(pd.Series([7.0, 12.0, np.nan])).tolist()[:2] == ["7", "12"]
    assert clean_text(pd.Series([7.0, 7.5])).tolist() == ["7", "7.5"]
    assert clean_text(pd.Series([1e20])).tolist() == ["100000000000000000000"]
    assert clean_text(pd.Series([7.0, "R8", 9], dtype=object)).tolist() == ["7", "R8", "9"]


def test_clean_text_trims_blanks_to_missing_and_keeps_leading_zeros():
    out = clean_text(pd.Series(["  007 ", "", "   ", None, "North "]))
    assert out.iloc[0] == "007" and out.iloc[4] == "North"
    assert out.isna().tolist() == [False, True, True, True, False]
    assert pd.api.types.is_string_dtype(out.dtype)


def test_clean_text_integers_and_nullable_floats():
    assert clean_text(pd.Series([7, 8], dtype="int64")).tolist() == ["7", "8"]
    out = clean_text(pd.Series([7.0, None], dtype="Float64"))
    assert out.iloc[0] == "7" and pd.isna(out.iloc[1])


# --- forecast periods ---------------------------------------------------------


def test_parse_forecast_periods_normalises_and_rejects():
    values = pd.Series(["2025-q2", "2025", "2025-06", " 2025-Q4 ", "2025-13", "2025-Q5", "Q2 2025", "2025-6", None])
    periods, bad = parse_forecast_periods(values)
    _same(periods, ["2025-Q2", "2025", "2025-06", "2025-Q4", np.nan, np.nan, np.nan, np.nan, np.nan])
    assert bad.tolist() == [False, False, False, False, True, True, True, True, False]


def test_parse_forecast_periods_numeric_year():
    periods, bad = parse_forecast_periods(pd.Series([2025.0, 2026.0]))
    assert periods.tolist() == ["2025", "2026"]
    assert not bad.any()


def test_dates_outside_the_nanosecond_range_are_bad_not_a_crash():
    import numpy as np

    dates, bad, _ = parse_dates(pd.Series(["-5", "2024-01-01", "9999-12-31", None], dtype="str"))
    assert bad.tolist() == [True, False, True, False] and dates.dtype == DATE_DTYPE
    typed = pd.Series(np.array(["2020-01-01", "9999-01-01", "NaT"], dtype="datetime64[ms]"))  # Parquet date32
    dates, bad, _ = parse_dates(typed)
    assert bad.tolist() == [False, True, False] and dates.dtype == DATE_DTYPE
    assert dates.iloc[0] == pd.Timestamp("2020-01-01") and dates.iloc[1:].isna().all()


def test_clean_text_arrow_strings_match_python_strip():
    clean = pd.Series(["R1", "R2", None], dtype="str")
    assert clean_text(clean) is clean  # nothing to trim: the very same column, no copy
    messy = pd.Series([" a\u3000", "\x1cb\t", "", "  ", "c\u200b", None], dtype="str")
    out = clean_text(messy)
    assert out.tolist()[:2] == ["a", "b"] and out.iloc[4] == "c\u200b"  # zero-width space is not white space
    assert out.isna().tolist() == [False, False, True, True, False, True]


# --- issue #13: values that must not be guessed ---------------------------------


@pytest.mark.parametrize("text", ["1,234.567,89", "1 234.567,8", "1.234,567.89", "1 234,567", "1'234.567,5"])
def test_parse_amounts_two_kinds_of_grouping_are_bad_not_guessed(text):
    amounts, bad = parse_amounts(pd.Series([text]))
    assert bad.tolist() == [True] and amounts.isna().all()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1.234.567,89", 1234567.89),
        ("1,234,567.89", 1234567.89),
        ("1 234 567,80", 1234567.80),
        ("1\u00a0234 567,5", 1234567.5),  # a no-break space and a space are one grouping
        ("1'234'567.25", 1234567.25),
    ],
)
def test_parse_amounts_one_consistent_grouping_is_read(text, expected):
    amounts, bad = parse_amounts(pd.Series([text]))
    assert amounts.tolist() == [expected] and not bad.any()


def test_compact_dates_only_8_digits_are_read():
    values = pd.Series(["20250115", "2025115", "2025011", "1704412", "250115", "2025", "45658", None], name="created_date")
    parsed = read_dates(values)
    _same(parsed.dates, _ts("2025-01-15", None, None, None, None, None, None, None))
    assert parsed.bad.tolist() == [False, True, True, True, True, True, True, False]
    [(mask, message, hint)] = parsed.reasons
    assert mask.tolist() == [False, True, True, True, True, True, True, False]
    assert message == "not a date" and "must have 8 of them, YYYYMMDD" in hint and "not guessed" in hint


def test_a_year_and_month_without_a_day_is_not_a_date():
    parsed = read_dates(pd.Series(["2025-01", "2025-01-31"]))
    _same(parsed.dates, _ts(None, "2025-01-31"))
    assert [m.tolist() for m, _, _ in parsed.reasons] == [[True, False]]


def test_with_a_format_digits_must_fill_it_exactly():
    parsed = read_dates(pd.Series(["20250105", "202515", "2025115"]), "%Y%m%d")
    _same(parsed.dates, _ts("2025-01-05", None, None))
    assert parsed.bad.tolist() == [False, True, True]
    [(mask, _, hint)] = parsed.reasons
    assert mask.tolist() == [False, True, True] and "'%Y%m%d' exactly" in hint


def test_dates_outside_1900_to_2100_are_bad_with_their_own_hint():
    parsed = read_dates(
        pd.Series(["1899-12-31", "1900-01-01", "2100-12-31", "2101-01-01", "9999-12-31", "0001-01-01", "31.12.1850", "soon"])
    )
    _same(parsed.dates, _ts(None, "1900-01-01", "2100-12-31", None, None, None, None, None))
    assert parsed.bad.tolist() == [True, False, False, True, True, True, True, True]
    [(mask, message, hint)] = parsed.reasons  # "soon" is plainly not a date: no reason of its own
    assert mask.tolist() == [True, False, False, True, True, True, True, False]
    assert message == "the date is outside the years salesnb reads (1900 to 2100)"
    assert "dates run from 1900-01-01 to 2100-12-31" in hint


def test_typed_timestamps_outside_1900_to_2100_are_bad():
    typed = pd.Series(np.array(["1704-04-12", "2025-01-15", "2200-01-01", "NaT"], dtype="datetime64[s]"))
    parsed = read_dates(typed)
    assert parsed.bad.tolist() == [True, False, True, False]
    assert [m.tolist() for m, _, _ in parsed.reasons] == [[True, False, True, False]]
    assert parsed.dates.iloc[1] == pd.Timestamp("2025-01-15") and parsed.dates.dtype == DATE_DTYPE


def test_a_column_of_numbers_is_a_column_problem_unless_a_format_says_how_to_read_it():
    numbers = pd.Series([20250115, 1704412], dtype="int64", name="created_date")
    parsed = read_dates(numbers)
    assert parsed.column_problem is not None
    message, hint, example = parsed.column_problem
    assert message == "the column holds numbers, not dates (the file stores it as int64)"
    assert example == "20250115" and 'formats: {created_date: "%Y%m%d"}' in hint
    # a float column (an integer column with a blank, as pandas holds it) with the format: read, 7 digits bad
    floats = pd.Series([20250115.0, None, 2025115.0], name="created_date")
    parsed = read_dates(floats, "%Y%m%d")
    assert parsed.column_problem is None
    _same(parsed.dates, _ts("2025-01-15", None, None))
    assert parsed.bad.tolist() == [False, False, True]


def test_parquet_integer_date_column_stops_the_load_naming_the_column(tmp_path):
    from salesnb.errors import DataError
    from salesnb.io.loading import load

    pd.DataFrame({"rep_id": ["R1"], "name": ["Ann"], "territory": ["North"]}).to_parquet(tmp_path / "reps.parquet")
    pd.DataFrame(
        {
            "opportunity_id": ["O1", "O2"],
            "rep_id": ["R1", "R1"],
            "created_date": [20250115, 1704412],
            "status": ["open", "open"],
            "amount": [1.0, 2.0],
        }
    ).to_parquet(tmp_path / "opportunities.parquet")
    with pytest.raises(DataError) as raised:
        load(tmp_path)
    [problem] = raised.value.problems
    assert (problem.column, problem.line, problem.value, problem.flag) == ("created_date", None, "20250115", "bad_type")
    assert problem.file.endswith("opportunities.parquet")
    (tmp_path / "mapping.yml").write_text('tables:\n  opportunities:\n    formats: {created_date: "%Y%m%d"}\n')
    dataset = load(tmp_path)
    assert dataset.opportunities["created_date"].tolist() == _ts("2025-01-15")
    [problem] = dataset.problems  # 1704412: row 2, set aside, not 1704-04-12
    assert (problem.line, problem.unit, problem.column) == (2, "row", "created_date")
