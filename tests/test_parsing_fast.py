"""Plain ISO day columns are read in Arrow's C (salesnb.io.parsing._plain_iso_days) with the
result the cell-by-cell reading gives; any other column still goes cell by cell."""

import numpy as np
import pandas as pd
import pytest

from salesnb.io import parsing
from salesnb.io.parsing import read_dates

CASES = {
    "clean": ["2025-01-15", None, "2024-12-31", "2025-03-01"],
    "years outside": ["2025-01-15", "1850-06-01", "9999-12-31", None],
    "not a day": ["2025-01-15", "2025-02-30", None, "2025-03-01"],
    "no such days": ["2025-02-29", "2025-01-00", "2025-13-01", "2024-02-29"],
    "times": ["2025-01-01 09:45:00", None, "2024-02-29 23:59:59", "2025-12-31 00:00:00"],
    "times with a T": ["2025-01-01T09:45:00", "2025-01-02T10:00:00", None, "2025-12-31T00:00:00"],
    "no such times": ["2025-01-01 24:00:00", "2025-01-01 09:60:00", "2025-01-01 09:45:61", None],
    "days and times": ["2025-01-01 09:45:00", "2025-01-02", None, "2025-12-31 00:00:00"],
    "mixed formats": ["2025-01-15", "03/04/2025", "20250105", None],
    "padded": ["2025-01-15", " 2025-01-16", "2025-01-17", "2025-01-18"],
    "a month": ["2025-01-15", "2025-01", "2025-01-17", None],
    "all blank": [None, None, None, None],
}


def _compare(text: list, index) -> bool:
    """Read the column as Arrow text (the loader's) and as Python objects (cell by cell); True if the fast path answered."""
    arrow = pd.Series(text, index=index, name="created_date", dtype="str")
    assert arrow.dtype.storage == "pyarrow"
    fast_answer = parsing._plain_iso_days(arrow) is not None
    fast = read_dates(arrow)
    slow = read_dates(pd.Series(text, index=index, name="created_date", dtype=object))
    pd.testing.assert_series_equal(fast.dates, slow.dates)
    pd.testing.assert_series_equal(fast.bad, slow.bad)
    assert fast.note == slow.note and fast.column_problem == slow.column_problem
    assert [(m.tolist(), msg, hint) for m, msg, hint in fast.reasons] == [
        (m.tolist(), msg, hint) for m, msg, hint in slow.reasons
    ]
    return fast_answer


@pytest.mark.parametrize("name", CASES)
def test_a_date_column_reads_the_same_whichever_way(name):
    answered = _compare(CASES[name], index=[10, 11, 12, 13])
    assert answered == (name in ("clean", "years outside", "times", "times with a T"))


def test_the_fast_path_reads_the_days_and_flags_the_years_outside():
    parsed = read_dates(pd.Series(CASES["years outside"], dtype="str", name="created_date"))
    assert parsed.dates.tolist()[0] == pd.Timestamp("2025-01-15") and parsed.dates.isna().tolist() == [False, True, True, True]
    assert parsed.bad.tolist() == [False, True, True, False]
    assert [m.tolist() for m, _, _ in parsed.reasons] == [[False, True, True, False]]


def test_a_long_clean_column_takes_the_fast_path_and_matches():
    days = pd.date_range("2020-01-01", periods=5000, freq="D").strftime("%Y-%m-%d").tolist()
    days[17] = None
    assert _compare(days, index=np.arange(5000) * 2)
