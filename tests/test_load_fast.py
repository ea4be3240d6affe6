"""A plain UTF-8 CSV file is read by Arrow's CSV reader (salesnb.io.csv_files._parse_plain),
any other file by pandas (_parse_csv): both ways give the very same raw table, and every
error word for word (issue #16: the 10,000-rep source's load)."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesnb.errors import DataError
from salesnb.io import csv_files, parsing
from salesnb.io.csv_files import read_csv_table

HEAD = "opportunity_id,rep_id,customer_id,created_date,closed_date,status,amount"
ROW = "O1,R1,C1,2025-01-02,2025-02-01,won,100"
EXPECTED = {"opportunity_id", "rep_id", "customer_id", "created_date", "closed_date", "status", "amount"}

# name: (the file's bytes, whether Arrow reads it)
CASES = {
    "plain": (f"{HEAD}\n{ROW}\nO2,R2,,2025-01-05,,open,\n".encode(), True),
    "no final line break": (f"{HEAD}\n{ROW}".encode(), True),
    "CRLF": (f"{HEAD}\r\n{ROW}\r\nO2,R2,,2025-01-05,,open,\r\n".encode(), True),
    "CR only": (f"{HEAD}\r{ROW}\rO2,R2,,2025-01-05,,open,\r".encode(), False),
    "BOM": (("\ufeff" + f"{HEAD}\n{ROW}\n").encode(), True),
    "quotes": (
        (
            f'{HEAD}\n"O1","R1","C1","2025-01-02","2025-02-01","won","1,000"\n'
            'O2,R2,"C, ""two""",2025-01-05,,open,""\n'
            'O3,R1,"multi\nline",2025-01-05,,open,5\n'
            'O4,R1,ab"c"d,2025-01-05,,open,5\n'
            'O5,R1,"ab"cd,2025-01-05,,open,5\n'
            'O6,R1, "C6" ,2025-01-05,,open,5\n'
        ).encode(),
        True,
    ),
    "quoted header": (
        ('"' + HEAD.replace(",", '","') + '"\n' + ROW + "\n").encode(),
        True,
    ),
    "quoted CRLF": (f'{HEAD}\r\nO1,R1,"a\r\nb",2025-01-02,,open,1\r\n'.encode(), True),
    "blank lines": (f"{HEAD}\n\n{ROW}\n\n\nO2,R2,,2025-01-05,,open,\n\n".encode(), True),
    "blank first line": (f"\n{HEAD}\n{ROW}\n".encode(), False),
    "lines of delimiters and spaces": (f"{HEAD}\n,,,,,,\n{ROW}\n , , ,,,,\n".encode(), True),
    "a line of spaces": (f"{HEAD}\n{ROW}\n   \n".encode(), False),
    "trailing delimiters": (f"{HEAD},\n{ROW},\nO2,R2,,2025-01-05,,open,,\n".encode(), True),
    "trailing delimiter on rows only": (f"{HEAD}\n{ROW},\n".encode(), False),
    "short row": (f"{HEAD}\nO1,R1,C1\n".encode(), False),
    "long row": (f"{HEAD}\n{ROW},extra\n".encode(), False),
    "spaces": (f"{HEAD}\n O1 , R1 ,C1,2025-01-02 ,2025-02-01,won , 100 \n  ,R2,,2025-01-05,,open,\n".encode(), True),
    "excel text": (f'{HEAD}\n="O1",="007",C1,2025-01-02,2025-02-01,won,="100"\nO2,R2,="",2025-01-05,,open,=A1\n'.encode(), True),
    "stray Windows-1252 line": (
        f"{HEAD}\nO1,R1,Müller,2025-01-02,2025-02-01,won,1\n".encode()
        + "O2,R2,Müller,2025-01-05,,open,\n".encode("cp1252")
        + "O3,R2,Müller,2025-01-05,,open,\n".encode(),
        False,
    ),
    "Windows-1252": (f"{HEAD}\nO1,R1,Müller,2025-01-02,2025-02-01,won,1\n".encode("cp1252"), False),
    "UTF-16": (("\ufeff" + f"{HEAD}\n{ROW}\n".replace(",", "\t")).encode("utf-16-le"), False),
    "semicolons": (f"{HEAD}\n{ROW}\n".replace(",", ";").encode(), True),
    "empty cells, a column of blanks": (f"{HEAD},notes\nO1,,,2025-01-02,,won,,\nO2,R2,,,,open,,\n".encode(), True),
    "blank header cells": (f"{HEAD},,x\n{ROW},v,\n".encode(), True),
    "a repeated header": (f"{HEAD},notes,notes\n{ROW},a,b\n".encode(), True),
    "a repeated column the loader reads": (f"{HEAD},amount\n{ROW},5\n".encode(), True),
    "spaces in the header": (
        f" opportunity_id ,rep_id,customer_id,created_date,closed_date,status, amount\n{ROW}\n".encode(),
        True,
    ),
    "unclosed quote": (f'{HEAD}\n{ROW}\nO2,R2,"C2,2025-01-05,,open,\nO3,R1,C3,2025-01-05,,open,\n'.encode(), False),
    "a quote never closed on the last line": (b'opportunity_id\nO1\n"O2\n', False),
    "a quote never closed, rows after it": (f'{HEAD}\n{ROW}\nO2,R2,C2,2025-01-05,,open,"9\n{ROW}\n{ROW}\n'.encode(), False),
    "header only": (f"{HEAD}\n".encode(), True),
    "NUL in an ID": (f"{HEAD}\nO1\x00X,R1,C1,2025-01-02,2025-02-01,won,100\n".encode(), True),
    "Unicode spaces": (f"{HEAD}\nO1\u00a0,R1,C1,2025-01-02,2025-02-01,won,\u2003100\n".encode(), True),
    "accents": (f"{HEAD}\nO1,R1,Müller & Søn,2025-01-02,2025-02-01,won,100\n".encode(), True),
}


def _read(path, *, fast: bool, monkeypatch):
    """read_csv_table's raw table (frame, line numbers, warnings) or its error's text, with or without the fast path."""
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(csv_files, "_parse_plain", lambda *args, **kwargs: None)
        try:
            raw = read_csv_table("opportunities", path, EXPECTED)
        except DataError as error:
            return str(error), [vars(p) for p in error.problems]
    return raw.frame, list(raw.lines), [vars(p) for p in raw.problems]


def _same(path, monkeypatch) -> None:
    fast, slow = _read(path, fast=True, monkeypatch=monkeypatch), _read(path, fast=False, monkeypatch=monkeypatch)
    if isinstance(slow[0], pd.DataFrame):
        assert isinstance(fast[0], pd.DataFrame), fast[0]
        pd.testing.assert_frame_equal(fast[0], slow[0], check_exact=True)  # values, dtypes, columns and index
        assert fast[1:] == slow[1:]
    else:
        assert fast == slow  # the same error, word for word


def _arrow_reads(path) -> bool:
    with csv_files._mapped(path) as data:
        sep = ";" if data.find(b";") >= 0 else ","
        return csv_files._parse_plain(path, data, sep=sep) is not None


@pytest.mark.parametrize("name", CASES)
def test_both_ways_of_reading_give_the_same_table(tmp_path, monkeypatch, name):
    data, arrow = CASES[name]
    path = tmp_path / "opportunities.csv"
    path.write_bytes(data)
    _same(path, monkeypatch)
    assert _arrow_reads(path) == arrow  # the fast path is taken exactly where it should be


def test_a_quote_never_closed_is_counted_across_slices():
    """Quotes counted a slice at a time: a doubled quote split between two slices is still two."""
    data = b'a,"x""y"\n' * 3
    assert [csv_files._odd_quotes(data, chunk) for chunk in (1, 4, 5, 1 << 24)] == [False] * 4
    assert [csv_files._odd_quotes(data + b'"', chunk) for chunk in (1, 4, 5, 1 << 24)] == [True] * 4


def test_a_plain_file_is_read_by_arrow_alone(tmp_path, monkeypatch):
    """pandas' reader is not called for a plain file: if the fast path fell back silently, this would fail."""
    path = tmp_path / "opportunities.csv"
    path.write_bytes(CASES["quotes"][0])

    def refuse(*args, **kwargs):
        raise AssertionError("pandas' reader was called")

    monkeypatch.setattr(csv_files, "_parse_csv", refuse)
    raw = read_csv_table("opportunities", path, EXPECTED)
    frame = raw.frame
    assert frame["amount"].isna().tolist() == [False, True, False, False, False, False]
    assert frame["amount"].dropna().tolist() == ["1,000", "5", "5", "5", "5"]
    assert frame["customer_id"].tolist() == ["C1", 'C, "two"', "multi\nline", 'ab"c"d', "abcd", ' "C6" ']
    assert list(raw.lines) == [2, 3, 4, 5, 6, 7]
    assert frame["customer_id"].dtype == "str" and frame["customer_id"].dtype.storage == "pyarrow"


def test_excel_text_cells_and_blank_lines_after_arrow(tmp_path, monkeypatch):
    """Arrow's frame goes through the same steps: ="007" is 007, ="" blank, blank lines dropped with their line numbers."""
    monkeypatch.setattr(csv_files, "_parse_csv", None)  # calling it would fail: Arrow alone
    path = tmp_path / "opportunities.csv"
    path.write_bytes(
        f'{HEAD}\n\n="O1",="007",C1,2025-01-02,2025-02-01,won,="100"\n,,,,,,\nO2,R2,="",2025-01-05,,open,=A1\n'.encode()
    )
    raw = read_csv_table("opportunities", path, EXPECTED)
    assert raw.frame["opportunity_id"].tolist() == ["O1", "O2"]
    assert raw.frame["rep_id"].tolist() == ["007", "R2"]
    assert raw.frame["customer_id"].isna().tolist() == [False, True]
    assert raw.frame["amount"].tolist() == ["100", "=A1"]
    assert list(raw.lines) == [3, 5]


def test_a_repeated_column_the_loader_reads_stops_the_load_the_same_way(tmp_path, monkeypatch):
    path = tmp_path / "opportunities.csv"
    path.write_bytes(CASES["a repeated column the loader reads"][0])
    assert _arrow_reads(path)  # the error comes from the header check of Arrow's frame
    message, problems = _read(path, fast=True, monkeypatch=monkeypatch)
    assert [(p["line"], p["flag"], p["message"]) for p in problems] == [
        (1, "unreadable", "the header names column 'amount' 2 times (columns 7, 8)")
    ]


CAP = 1_500_000  # above the line-by-line check's 1 MiB blocks, as the real cap is


@pytest.mark.parametrize("size", [1000, CAP, CAP + 1])
def test_the_quick_line_cap_check_leaves_the_verdict_to_the_line_by_line_one(tmp_path, monkeypatch, size):
    """The quick check (an LF in every stretch of half the cap) passes a file of short lines at
    once; a line as long as the cap makes it ask the line-by-line check, which passes it; one
    byte more is refused on its line."""
    monkeypatch.setattr(csv_files, "MAX_LINE_BYTES", CAP)
    path = tmp_path / "opportunities.csv"
    path.write_bytes(b"a,b\n1,2\n" + b"x," + b"y" * (size - 2) + b"\n3,4\n")
    with csv_files._mapped(path) as data:
        assert csv_files._lines_within_cap(data) == (size == 1000)
    if size <= CAP:
        assert read_csv_table("opportunities", path).frame["a"].tolist() == ["1", "x", "3"]
    else:
        with pytest.raises(DataError) as raised:
            read_csv_table("opportunities", path)
        assert raised.value.problems[0].line == 3
        assert raised.value.problems[0].message == "this line is longer than 1,500,000 bytes, too long for a row of a table"


_CELL = st.text(alphabet=list('ab ,"\n\r\t=;é0') + ["\ufeff", "\x00"], max_size=6)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.lists(_CELL, min_size=1, max_size=4), rows=st.lists(st.lists(_CELL, max_size=5), max_size=5))
def test_any_small_file_reads_the_same_either_way(tmp_path, monkeypatch, header, rows):
    """Random cells (quotes, delimiters, line breaks, BOMs, NULs) joined into a file as it comes:
    wherever Arrow answers, it answers as pandas does; errors are pandas' own."""
    text = ",".join(header) + "\n" + "".join(",".join(row) + "\n" for row in rows)
    path = tmp_path / "opportunities.csv"
    path.write_bytes(text.encode())
    if not text.strip("\ufeff \t\r\n"):
        return  # an empty file: refused before either reader
    _same(path, monkeypatch)


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    width=st.integers(1, 4),
    cells=st.lists(st.text(alphabet=list('ab ,"\n\r=é0'), max_size=5), min_size=4, max_size=24),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_any_well_formed_file_reads_the_same_either_way(tmp_path, monkeypatch, width, cells, newline):
    """Files as a CSV writer makes them (quotes where a cell needs them), so Arrow answers most."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow([f"c{i}" for i in range(width)])
    writer.writerows(cells[i : i + width] for i in range(0, len(cells) - width + 1, width))
    path = tmp_path / "opportunities.csv"
    path.write_bytes(buffer.getvalue().encode())
    _same(path, monkeypatch)


# -- plain ISO dates read from the strings' bytes (salesnb.io.parsing._plain_iso_bytes) ------------

DAY_COLUMNS = {
    "days": (["2025-01-15", None, "1900-01-01", "2100-12-31", "2000-02-29", "2024-02-29"], True),
    "1900 was no leap year": (["2025-01-15", "1900-02-29"], False),
    "2025-02-30": (["2025-01-15", "2025-02-30"], False),
    "month 13": (["2025-13-01"], False),
    "day 0": (["2025-01-00"], False),
    "a year outside": (["2025-01-15", "1899-12-31"], False),
    "a slash": (["2025-01-15", "2025/01/16"], False),
    "a letter": (["2025-01-15", "2025-0a-16"], False),
    "a space": (["2025-01-15", " 2025-01-1"], False),
    "a longer cell": (["2025-01-15", "2025-01-155"], False),
    "all missing": ([None, None], False),
}
TIME_COLUMNS = {
    "times": (["2025-01-15 00:00:00", None, "2024-02-29 23:59:59", "1900-01-01 12:30:05"], " ", True),
    "times with a T": (["2025-01-15T09:45:00", "2025-12-31T23:59:59"], "T", True),
    "a T in a space column": (["2025-01-15 09:45:00", "2025-01-15T09:45:00"], " ", False),
    "hour 24": (["2025-01-15 24:00:00"], " ", False),
    "minute 60": (["2025-01-15 09:60:00"], " ", False),
    "second 60": (["2025-01-15 09:45:60"], " ", False),
}


def _strptime(values: list, form: str):
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    return np.asarray(pc.strptime(pa.array(values, type=pa.large_string()), format=form, unit="s").to_pandas())


@pytest.mark.parametrize("name", DAY_COLUMNS)
def test_plain_days_from_bytes_are_what_arrow_reads(name):
    import numpy as np
    import pyarrow as pa

    from salesnb.io.parsing import _plain_iso_bytes

    values, answered = DAY_COLUMNS[name]
    text = pa.array(values, type=pa.large_string())
    present = sum(v is not None for v in values)
    got = _plain_iso_bytes(text, "%Y-%m-%d", present)
    assert (got is not None) == answered
    if answered:
        np.testing.assert_array_equal(got, _strptime(values, "%Y-%m-%d"))
        assert str(got[4]) == "2000-02-29T00:00:00" and np.isnat(got[1])


@pytest.mark.parametrize("name", TIME_COLUMNS)
def test_plain_times_from_bytes_are_what_arrow_reads(name):
    import numpy as np
    import pyarrow as pa

    from salesnb.io.parsing import _plain_iso_bytes

    values, mark, answered = TIME_COLUMNS[name]
    form = f"%Y-%m-%d{mark}%H:%M:%S"
    got = _plain_iso_bytes(pa.array(values, type=pa.large_string()), form, sum(v is not None for v in values))
    assert (got is not None) == answered
    if answered:
        np.testing.assert_array_equal(got, _strptime(values, form))


def test_plain_days_of_a_sliced_chunked_column():
    """Chunks that are slices of a larger array (an offset into their buffers), nulls between."""
    import numpy as np
    import pyarrow as pa

    from salesnb.io.parsing import _plain_iso_bytes

    days = [f"2025-{m:02d}-{d:02d}" if (m + d) % 5 else None for m in range(1, 13) for d in range(1, 29)]
    whole = pa.array(days, type=pa.large_string())
    text = pa.chunked_array([whole.slice(3, 100), whole.slice(150, 50), pa.array([], type=pa.large_string())])
    kept = days[3:103] + days[150:200]
    got = _plain_iso_bytes(text, "%Y-%m-%d", sum(v is not None for v in kept))
    np.testing.assert_array_equal(got, _strptime(kept, "%Y-%m-%d"))
    assert np.isnat(got[0]) and str(got[1]) == "2025-01-05T00:00:00"  # 2025-01-04 is one of the blanks


def test_a_loaded_date_column_is_read_from_bytes(monkeypatch):
    """read_dates on an Arrow column of plain days never reaches Arrow's strptime (the fast path is taken)."""
    import pyarrow.compute as pc

    from salesnb.io.parsing import read_dates

    def refuse(*args, **kwargs):
        raise AssertionError("strptime was called")

    monkeypatch.setattr(pc, "strptime", refuse)
    column = pd.Series(["2025-01-15", None, "2025-03-01"], dtype="str", name="created_date")
    assert parsing._plain_iso_days(column) is not None  # answered without Arrow's strptime
    parsed = read_dates(column)
    assert [str(d)[:10] for d in parsed.dates] == ["2025-01-15", "NaT", "2025-03-01"]
    assert parsed.bad.tolist() == [False, False, False] and parsed.dates.dtype == "datetime64[ns]"


# -- trimming Arrow text: only cells whose first or last byte may be a space are searched ------------

TRIM_CELLS = [
    "R1",
    " R2",
    "R3 ",
    "\tR4",
    "R5\u3000",
    "\u00a0R6",
    "R7\u0085",
    "Ré",
    "é",
    "",
    None,
    "R\u2028",
    "\u2003",
    "a b",
    "Ω",
]


def test_trimming_arrow_text_matches_trimming_python_strings(monkeypatch):
    """The same trimmed column, the regular expression run over the 36 candidates only, not all 45 cells."""
    import pyarrow.compute as pc

    from salesnb.io.parsing import clean_text

    arrow = pd.Series(TRIM_CELLS * 3, dtype="str")
    assert arrow.dtype.storage == "pyarrow"
    python = pd.Series(TRIM_CELLS * 3, dtype=object)
    searched = []
    regex = pc.match_substring_regex
    monkeypatch.setattr(pc, "match_substring_regex", lambda array, pattern: searched.append(len(array)) or regex(array, pattern))
    trimmed = clean_text(arrow)
    assert searched == [36]
    pd.testing.assert_series_equal(trimmed, clean_text(python), check_exact=True)
    assert trimmed.tolist()[:9] == ["R1", "R2", "R3", "R4", "R5", "R6", "R7", "Ré", "é"] and pd.isna(trimmed[9])


def test_the_cells_searched_for_spaces_are_few():
    """The candidates: a possible space at either end (an ASCII space, a multi-byte lead or end byte) or empty."""
    import pyarrow as pa

    from salesnb.io.parsing import _maybe_padded

    whole = pa.array(TRIM_CELLS, type=pa.large_string())
    assert _maybe_padded(whole).tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 14]  # not R1, None (10) or "a b" (13)
    sliced = pa.chunked_array([whole.slice(0, 3), whole.slice(13, 2)])  # R1 " R2" "R3 " | "a b" Ω
    assert _maybe_padded(sliced).tolist() == [1, 2, 4]
    assert _maybe_padded(pa.array(["R1", "R22", None], type=pa.string())).tolist() == []


# Session 11: the references between tables looked up on categories and sorted hashes.


def _old_history_positions(values: pd.Series, ids: pd.Series):
    """check_history's lookup before session 11, kept verbatim: an object Index's get_indexer."""
    return pd.Index(ids.astype("object")).get_indexer(values.astype("object"))


def _arrow_text(values):
    return pd.Series(values, dtype=pd.StringDtype("pyarrow", na_value=float("nan")))


KNOWN_IDS = ["O1", "O2", "Ø3", "", "O10", "O4 "]
LOOKED_UP = ["O2", None, "O1", "Ø3", "O9", "", "O2", "O4", "O4 ", "o1"]


@pytest.mark.parametrize("categorical", [False, True])
@pytest.mark.parametrize("hashed", [False, True])
def test_index_in_is_get_indexer(monkeypatch, categorical, hashed):
    """Positions in the known IDs (-1: missing or unknown), as the object Index gave them: by
    Arrow's hash table (a few known IDs) or by sorted hashes (many), on text or categories."""
    from salesnb.io import value_lookup
    from salesnb.io.categorical import as_category

    if hashed:
        monkeypatch.setattr(value_lookup, "_HASHED_LOOKUP_MIN", 1)
    values = _arrow_text(LOOKED_UP)
    values = as_category(values) if categorical else values
    known = _arrow_text(KNOWN_IDS)
    positions = value_lookup.index_in(values, known)
    assert positions.tolist() == [1, -1, 0, 2, -1, 3, 1, -1, 5, -1]
    assert positions.tolist() == _old_history_positions(values, known).tolist()
    assert value_lookup.index_in(values, value_lookup.Known(known)).tolist() == positions.tolist()
    assert value_lookup.index_in(_arrow_text([None, None]), known).tolist() == [-1, -1]
    assert value_lookup.index_in(as_category(_arrow_text([None, None])), known).tolist() == [-1, -1]
    assert value_lookup.index_in(_arrow_text([]), known).tolist() == []


def test_index_in_of_object_ids_is_pandas():
    from salesnb.io.value_lookup import index_in

    values, known = pd.Series(["b", None, "a", "z"], dtype=object), pd.Series(["a", "b"], dtype=object)
    assert index_in(values, known).tolist() == [1, -1, 0, -1]


def test_a_known_table_is_hashed_once_for_every_lookup(monkeypatch):
    """customers' IDs, referred to by three tables, are hashed and sorted once (was: once a lookup)."""
    from salesnb.io import value_lookup
    from salesnb.io.categorical import as_category

    monkeypatch.setattr(value_lookup, "_HASHED_LOOKUP_MIN", 1)
    hashed = []
    text_hashes = value_lookup._text_hashes
    monkeypatch.setattr(value_lookup, "_text_hashes", lambda array: hashed.append(len(array)) or text_hashes(array))
    known = value_lookup.Known(_arrow_text([f"C{i}" for i in range(50)]))
    for values in (["C1", "C77", None], ["C49", "C0"], ["x"]):
        assert value_lookup.is_in(as_category(_arrow_text(values)), known).tolist() == [
            v in known.values.tolist() for v in values
        ]
    assert value_lookup.index_in(_arrow_text(["C3", "C50"]), known).tolist() == [3, -1]
    assert hashed.count(50) == 1  # the 50 known IDs once; each lookup hashes its own few values
    assert sorted(hashed) == [1, 2, 2, 2, 50]  # 2 categories of 3 values, 2, 1 and 2


def test_history_of_unknown_deals_and_early_changes(tmp_path, monkeypatch):
    """check_history on the lookup by codes (no object Index of the deal IDs: 0.4 s on 2.4 M
    changes): unknown deals (one only in a set-aside opportunity's row) set aside, a change
    before its deal's creation flagged with the deal's date."""
    import salesnb

    get_indexer = pd.Index.get_indexer

    def no_object_index(self, target, *args, **kwargs):
        assert not (self.dtype == object and "O1" in self.tolist()), "the deal IDs looked up through an object Index"
        return get_indexer(self, target, *args, **kwargs)

    monkeypatch.setattr(pd.Index, "get_indexer", no_object_index)

    (tmp_path / "reps.csv").write_text("rep_id,name,territory\nR1,Ann,North\n")
    (tmp_path / "opportunities.csv").write_text(
        f"{HEAD}\nO1,R1,,2025-01-10,,open,\nO2,R9,,2025-01-10,,open,\nO3,R1,,2025-03-01,,open,\n"
    )
    (tmp_path / "opportunity_history.csv").write_text(
        "opportunity_id,changed_at,stage\nO1,2025-01-10,prospect\nO2,2025-01-11,prospect\nO3,2025-02-01,prospect\n"
        "O7,2025-02-01,prospect\nO3,2025-03-01 08:00,qualify\n"
    )
    dataset = salesnb.load(tmp_path)
    history = [(p.line, p.flag, p.message) for p in dataset.problems if p.table == "opportunity_history"]
    assert history == [
        (3, "unknown_opportunity", "opportunity_id is not in the opportunities table"),
        (4, "changed_before_created", "changed_at is before the opportunity's created_date (2025-03-01)"),
        (5, "unknown_opportunity", "opportunity_id is not in the opportunities table"),
    ]
    assert dataset.tables["opportunity_history"]["opportunity_id"].tolist() == ["O1", "O3"]


BLANKISH = [None, "", " ", "\t \u3000", "\u00a0", "a", " a ", "\u2003x", "é", "\u200b", "\ufeff", "a\u00a0", "  \n"]


def test_blank_cells_trim_only_the_cells_that_may_be_blank(monkeypatch):
    """Blank: missing, empty or spaces only (what str.strip() removes), for Arrow text from
    the first and last byte first: only those few cells are trimmed (was: every cell)."""
    import pyarrow as pa

    from salesnb.io import parsing

    values = pd.Series(
        pd.array(pa.array(BLANKISH, type=pa.large_string()), dtype=pd.StringDtype("pyarrow", na_value=float("nan")))
    )
    expected = [v is None or not v.strip() for v in BLANKISH]
    assert expected == [True, True, True, True, True, False, False, False, False, False, False, False, True]
    trimmed = []
    strip = pd.core.strings.accessor.StringMethods.strip
    monkeypatch.setattr(
        pd.core.strings.accessor.StringMethods, "strip", lambda self, *a: trimmed.append(len(self._data)) or strip(self, *a)
    )
    assert parsing.blank_cells(values).tolist() == expected
    assert parsing.is_blank(values).tolist() == expected
    assert trimmed == [11, 11]  # of 12 present: not "a" (no byte of a space at either end)
    objects = values.astype(object)
    assert parsing.blank_cells(objects).tolist() == expected
    assert csv_files._blank_rows(pd.DataFrame({"a": values, "b": values.iloc[::-1].to_numpy()})).tolist() == [
        a and b for a, b in zip(expected, expected[::-1])
    ]


# Session 11: the source hashed once in a batch (the quick check's digests reused by the fingerprint).


class _HashSpy:
    """hashlib.sha256 that counts the bytes it is fed."""

    def __init__(self, fed: list, original):
        self.fed, self.original = fed, original

    def __call__(self, data=b""):
        hashed = self.original(data)
        self.fed.append(len(data))
        spy = self

        class Counting:
            def update(self, block):
                spy.fed.append(len(block))
                hashed.update(block)

            def hexdigest(self):
                return hashed.hexdigest()

        return Counting()


def _old_sample(tmp_path):
    import os
    import shutil

    source = tmp_path / "source"
    shutil.copytree("data/sample", source)
    for path in source.iterdir():
        os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))  # written long before the run
    return source


def test_a_batch_hashes_the_source_once(tmp_path, monkeypatch):
    """The quick check hashes every file of the source; the loader's fingerprint reuses those
    digests instead of reading the 1 MB again (on the 10,000-rep source: 0.3 s)."""
    import hashlib

    import salesnb
    from salesnb.run import quick

    source = _old_sample(tmp_path)
    size = sum(p.stat().st_size for p in source.iterdir())
    unhooked = salesnb.load(source).fingerprint
    fed: list[int] = []
    monkeypatch.setattr(hashlib, "sha256", _HashSpy(fed, hashlib.sha256))
    quick.input_state(source, mapping=None, expectations=None, notebooks_dir="notebooks", key="k")
    after_quick = sum(fed)
    assert size <= after_quick < size + 300_000  # the source, plus the notebooks
    dataset = salesnb.load(source)
    assert sum(fed) - after_quick < 1_000  # names and digests, not the files
    assert dataset.fingerprint == unhooked  # the same fingerprint with or without the quick check's digests


def test_the_fingerprint_follows_the_files(tmp_path):
    """A file edited after the quick check hashed it is hashed again: a changed fingerprint;
    a file whose mtime lies within a second of the check is never taken from it."""
    import os

    import salesnb
    from salesnb.io import sources
    from salesnb.run import quick

    source = _old_sample(tmp_path)
    quick.input_state(source, mapping=None, expectations=None, notebooks_dir="notebooks", key="k")
    before = salesnb.load(source).fingerprint
    reps = source / "reps.csv"
    reps.write_text(reps.read_text().replace("North", "Nörth", 1))
    assert salesnb.load(source).fingerprint != before
    fresh = source / "training.csv"
    fresh.write_text(fresh.read_text() + "\n")
    quick.input_state(source, mapping=None, expectations=None, notebooks_dir="notebooks", key="k")
    stat = fresh.stat()
    noted = sources._DIGESTS.get(os.path.realpath(fresh), (None, None, ""))
    assert noted[:2] != (stat.st_size, stat.st_mtime_ns)  # just written: too close to the check to trust
    assert os.path.realpath(source / "orders.csv") in sources._DIGESTS


# Session 11: plain amounts read by Arrow's cast (salesnb.io.parsing._plain_amounts).


def _old_parse_amounts(values: pd.Series):
    """parse_amounts before session 11, kept verbatim: pandas' to_numeric, then the amount reader."""
    import numpy as np

    blank = parsing.is_blank(values)
    amounts = pd.to_numeric(values.where(~blank), errors="coerce").astype("float64")
    amounts = amounts.where(np.isfinite(amounts))
    slow = amounts.isna() & ~blank
    if slow.any():
        unique = values[slow].astype(str).unique()
        lookup = {text: parsing._parse_amount_text(text) for text in unique}
        amounts.loc[slow] = values[slow].astype(str).map(lookup).astype("float64")
    bad = amounts.isna() & ~blank
    return amounts, bad


AMOUNT_COLUMNS = {
    "plain": (["22700", "-1234.50", None, "0.1", "007", "999999999999999", "0.000000000001", " "], True),
    "whole numbers": (["1", "2", "-3", None], True),
    "every cell blank": ([None, " ", None], True),
    "a negative zero among whole numbers": (["-0", "5"], False),
    "a negative zero among decimals": (["-0.0", "5.5"], False),
    "16 characters": (["1234567890123456", "1"], False),
    "an exponent": (["1e5", "2"], False),
    "a space around": ([" 12", "2"], False),
    "a currency": (["$1,000", "2"], False),
    "a plus sign": (["+5", "2"], False),
    "a bare point": ([".5", "5."], False),
    "other digits": (["١٢", "2"], False),
    "words": (["NaN", "inf", "10k", "2"], False),
}


@pytest.mark.parametrize("name", AMOUNT_COLUMNS)
def test_plain_amounts_by_arrow_are_what_pandas_read(name):
    """Bit for bit the amounts and bad cells the old reading gives, and the Arrow cast taken exactly
    where every cell that is not blank is a plain number of at most 15 characters."""
    import numpy as np

    cells, fast = AMOUNT_COLUMNS[name]
    values = _arrow_text(cells)
    amounts, bad = parsing.parse_amounts(values)
    old_amounts, old_bad = _old_parse_amounts(values)
    pd.testing.assert_series_equal(amounts, old_amounts, check_exact=True)
    pd.testing.assert_series_equal(bad, old_bad, check_exact=True)
    assert (amounts.to_numpy().view(np.int64) == old_amounts.to_numpy().view(np.int64)).all()  # the sign of zero too
    assert (parsing._plain_amounts(values, parsing.is_blank(values)) is not None) == fast


def test_random_plain_amounts_are_read_bit_for_bit():
    """20,000 random plain numbers of 1 to 15 characters: Arrow's cast gives pandas' doubles."""
    import numpy as np

    rng = np.random.default_rng(16)
    cells = []
    for _ in range(20_000):
        whole = "".join(rng.choice(list("0123456789"), rng.integers(1, 14)))
        fraction = "".join(rng.choice(list("0123456789"), rng.integers(0, 15 - len(whole))))
        cell = whole + ("." + fraction if fraction else "")
        cells.append(("-" + cell if rng.random() < 0.3 else cell)[:15].rstrip("."))
    cells = [c for c in cells if float(c) != 0 or not c.startswith("-")]
    values = _arrow_text(cells)
    assert parsing._plain_amounts(values, parsing.is_blank(values)) is not None
    amounts, _ = parsing.parse_amounts(values)
    assert (amounts.to_numpy().view(np.int64) == _old_parse_amounts(values)[0].to_numpy().view(np.int64)).all()


def test_a_notebook_load_hashes_its_files_on_another_thread(tmp_path, monkeypatch):
    """salesnb.load without a quick check before it: the files are hashed by a thread while the
    tables load (the second core), and the fingerprint is the sha256 over each file's name and
    own sha256 (written out here by hand)."""
    import hashlib
    import threading

    import salesnb
    from salesnb.io import sources

    source = _old_sample(tmp_path)
    threads = []
    file_sha256 = sources.file_sha256
    monkeypatch.setattr(sources, "file_sha256", lambda path: threads.append(threading.current_thread().name) or file_sha256(path))
    fingerprint = salesnb.load(source).fingerprint
    assert threads == ["salesnb-fingerprint"] * 9  # the nine files, none on the loading thread
    expected = hashlib.sha256((source / "expectations.yml").read_bytes())
    for path in sorted(source.iterdir()):
        expected.update(path.name.encode())
        expected.update(hashlib.sha256(path.read_bytes()).digest())
    assert fingerprint == expected.hexdigest()


def test_the_quick_check_hashes_a_large_source_on_two_threads(tmp_path, monkeypatch):
    """Enough bytes to hash (here: any, the threshold lowered): two threads share the files,
    largest first; the digests and the order of the files recorded are the same as one by one."""
    import hashlib
    import threading

    from salesnb.run import quick

    source = _old_sample(tmp_path)
    one_by_one = quick.input_state(source, mapping=None, expectations=None, notebooks_dir="notebooks", key="k")
    threads = set()
    sha256 = quick._sha256
    monkeypatch.setattr(quick, "_sha256", lambda name: threads.add(threading.current_thread().name) or sha256(name))
    monkeypatch.setattr(quick, "_BOTH_CORES_BYTES", 0)
    shared = quick.input_state(source, mapping=None, expectations=None, notebooks_dir="notebooks", key="k")
    assert threads and threads <= {"salesnb-quick-hash_0", "salesnb-quick-hash_1"}  # not this thread
    assert list(shared["files"]) == list(one_by_one["files"])
    assert shared["files"] == one_by_one["files"]
    reps = str((source / "reps.csv").resolve())
    assert shared["files"][reps][2] == hashlib.sha256((source / "reps.csv").read_bytes()).hexdigest()
