"""Turning raw export cells into contract values.

Each parser takes a raw column (strings from CSV/Excel, or already-typed
values from Parquet/SQL) and returns the parsed column plus a boolean mask
of the cells that could not be parsed, so the validator can report each bad
cell with its line instead of guessing or dropping it. Fast vectorised paths
go first; the slow per-value parsers only see what they could not read.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salesnb.io.schema import DATE_DTYPE, FIRST_YEAR, LAST_YEAR, YEARS_ALLOWED

# Date formats tried, in order, for values that are not ISO 8601. Month-first
# comes before day-first: CRM exports are mostly US-style; a column where both
# would read every value is reported as ambiguous (see ``parse_dates``).
DATE_FORMATS = (
    "%d %b, %Y %H:%M:%S",
    "%d %b, %Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d-%b-%Y",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%Y/%m/%d",
    "%Y%m%d",
)

_UTC_OFFSET = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$")


def is_blank(values: pd.Series) -> pd.Series:
    """True where a raw cell is missing or only white space."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return pd.Series(blank_cells(values), index=values.index, name=values.name)
    blank = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        text = values[~blank].astype(str).str.strip()
        blank.loc[text.index] = text.eq("")
    return blank


# What Python's str.strip() removes, as an RE2 class (Arrow's own trim differs on a few).
_PY_SPACE = r"[\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
_EDGE_SPACE = f"^{_PY_SPACE}|{_PY_SPACE}$"


def clean_text(values: pd.Series) -> pd.Series:
    """Trimmed strings, NaN for blanks; numbers become their plain text
    (a categorical's distinct values only: it stays a categorical)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        from salesnb.io.categorical import as_category, map_categories

        return map_categories(as_category(values), clean_text)
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return _clean_arrow_text(values)
    out = values.astype("object")
    present = out.notna()
    out = out.where(~present, out[present].map(_plain_text).str.strip()) if present.any() else out
    out = out.where(out.ne(""), None)
    return out.astype("str")


def _clean_arrow_text(values: pd.Series) -> pd.Series:
    """:func:`clean_text` of Arrow-backed strings (Parquet, CSV): vectorised,
    and the very same column (no copy) when nothing needs trimming."""
    import pyarrow.compute as pc

    from salesnb.io.categorical import arrow_array

    array = arrow_array(values)
    candidates = _maybe_padded(array)  # a superset of the cells to trim, from their first and last bytes
    if candidates is None:
        candidates = np.arange(len(array))
    if len(candidates) < len(array):
        array = array.take(candidates)
    padded = pc.match_substring_regex(array, _EDGE_SPACE)
    empty = pc.equal(array, "")
    needs_work = pc.or_(padded, empty)
    if not len(candidates) or not pc.any(needs_work).as_py():
        return values if values.dtype == "str" else values.astype("str")
    out = values.astype("object")
    positions = candidates[needs_work.fill_null(False).to_numpy(zero_copy_only=False)]
    fixed = [v.strip() for v in out.iloc[positions]]
    out.iloc[positions] = [v if v else None for v in fixed]
    return out.astype("str")


# Bytes a string starting with a space of _PY_SPACE starts with: ASCII ones, and the lead bytes of
# U+0085, U+00A0 (C2), U+1680 (E1), U+2000..U+205F (E2) and U+3000 (E3).
_FIRST_BYTES = np.zeros(256, dtype=bool)
_FIRST_BYTES[[*range(0x09, 0x0E), *range(0x1C, 0x21), 0xC2, 0xE1, 0xE2, 0xE3]] = True
# ... and that one ending with such a space ends with: ASCII ones, and any UTF-8 continuation byte.
_LAST_BYTES = np.zeros(256, dtype=bool)
_LAST_BYTES[[*range(0x09, 0x0E), *range(0x1C, 0x21), *range(0x80, 0xC0)]] = True


def _maybe_padded(array) -> np.ndarray | None:
    """Positions of the cells of Arrow text ``array`` that may start or end
    with a space, or are empty: a superset, judged from each string's first
    and last byte with numpy (no regular expression over every cell).
    None for a layout it does not read (then every cell is a candidate)."""
    import pyarrow as pa

    found, start = [], 0
    for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return None
        if len(chunk):
            offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if pa.types.is_large_string(chunk.type) else np.int32)
            offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
            data = chunk.buffers()[2]
            data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
            lengths = np.diff(offsets)
            filled = lengths > 0
            maybe = ~filled  # empty (or missing: those are not trimmed, whatever they hold)
            first = offsets[:-1][filled]
            maybe[filled] = _FIRST_BYTES[data[first]] | _LAST_BYTES[data[first + lengths[filled] - 1]]
            if chunk.null_count:
                maybe &= chunk.is_valid().to_numpy(zero_copy_only=False)
            found.append(np.flatnonzero(maybe) + start)
        start += len(chunk)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def blank_cells(values: pd.Series) -> np.ndarray:
    """``values.isna() | values.str.strip().eq("")`` as a bool array; for
    Arrow text only the cells whose first byte could start a space (or that
    are empty: :func:`_maybe_padded`) are trimmed, not every cell."""
    missing = values.isna().to_numpy()
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        from salesnb.io.categorical import arrow_array

        candidates = _maybe_padded(arrow_array(values))
        if candidates is not None:
            if len(candidates):
                missing = missing.copy()
                missing[candidates] |= values.iloc[candidates].str.strip().eq("").to_numpy(dtype=bool)
            return missing
    present = ~missing
    if present.any():
        missing = missing.copy()
        missing[present] = values[present].astype(str).str.strip().eq("").to_numpy(dtype=bool)
    return missing


def _plain_text(value) -> str:
    """A cell as text; a whole float (an ID read as a number) without ".0"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_amounts(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers from raw amounts: ``22700``, ``"$22,700.00"``, ``"22.700,00 €"``.

    Returns ``(amounts, bad)``: float64 amounts (NaN for blanks and bad
    cells) and a mask of non-blank cells that are not a number.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        amounts = values.astype("float64")
        infinite = pd.Series(np.isinf(amounts.to_numpy()), index=values.index)
        return amounts.where(~infinite), infinite
    blank = is_blank(values)
    plain = _plain_amounts(values, blank)
    if plain is not None:
        return plain, pd.Series(np.zeros(len(values), dtype=bool), index=values.index, name=values.name)
    amounts = pd.to_numeric(values.where(~blank), errors="coerce").astype("float64")
    amounts = amounts.where(np.isfinite(amounts))  # "inf" is not an amount
    slow = amounts.isna() & ~blank
    if slow.any():
        unique = values[slow].astype(str).unique()
        lookup = {text: _parse_amount_text(text) for text in unique}
        amounts.loc[slow] = values[slow].astype(str).map(lookup).astype("float64")
    bad = amounts.isna() & ~blank
    return amounts, bad


_PLAIN_AMOUNT = r"^-?[0-9]+(\.[0-9]+)?$"


def _plain_amounts(values: pd.Series, blank: pd.Series) -> pd.Series | None:
    """The common case of :func:`parse_amounts`, read by Arrow's cast: an
    Arrow text column whose every cell that is not blank is a plain number of
    at most 15 characters (``-1234.50``, ``22700``). Such a number has at
    most 15 digits, so both Arrow's parse and pandas' ``to_numeric`` (an exact
    integer of the digits times or divided by an exact power of ten: one
    rounding) give the nearest double, bit for bit; only a negative zero
    differs (``-0`` in a column of whole numbers is ``0.0`` to pandas), so a
    column with one is left to pandas. None for any other column: pandas
    reads it, as before (tests/test_load_fast.py compares the two). A column
    of blanks only is NaN throughout, as pandas makes it."""
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    from salesnb.io.categorical import arrow_array

    keep = ~blank.to_numpy(dtype=bool)
    amounts = np.full(len(values), np.nan)
    if not keep.any():  # every cell blank (a column the file leaves empty)
        return pd.Series(amounts, index=values.index, name=values.name)
    text = arrow_array(values)
    text = text if keep.all() else text.filter(pa.array(keep))
    if pc.max(pc.binary_length(text)).as_py() > 15 or not pc.all(pc.match_substring_regex(text, _PLAIN_AMOUNT)).as_py():
        return None
    numbers = pc.cast(text, pa.float64()).to_numpy()
    if (np.signbit(numbers) & (numbers == 0)).any():
        return None
    amounts[keep] = numbers
    return pd.Series(amounts, index=values.index, name=values.name)


def _parse_amount_text(text: str) -> float:
    """One amount written as text; NaN when it is not a number.

    Currency signs and codes around the number are dropped (``$``, ``€``,
    ``USD``, ``US$``, ``CHF``); any other word or letter makes the value bad,
    so ``$10k`` or ``1.5 Mio`` are never read as 10 or 1.5. The decimal
    separator is the last of ``,`` and ``.`` when both occur; a lone comma
    followed by exactly three digits is a thousands separator (``22,700``),
    otherwise a decimal comma (``22,70``); repeated single separators are
    thousands separators (``1.234.567``). Spaces and ``'`` also group
    thousands. Thousands groups must have three digits (``1,234,56`` is
    bad) and one separator (``1,234.567,89`` and ``1 234.567,8`` mix two:
    bad, never guessed). ``(100)`` is -100.
    """
    for token in _AMOUNT_WORD.findall(text):
        if not _is_currency(token):
            return float("nan")
    s = _AMOUNT_WORD.sub(" ", text).strip()
    negative = s.startswith("(") and s.endswith(")")
    if negative:
        s = s[1:-1].strip()
    if s[:1] in ("-", "+"):
        negative, s = negative or s[0] == "-", s[1:].strip()
    if not _AMOUNT_SHAPE.match(s):
        return float("nan")
    if "," in s and "." in s:
        decimal = "," if s.rfind(",") > s.rfind(".") else "."
    elif s.count(",") == 1:
        whole, _, fraction = s.partition(",")
        decimal = "," if len(fraction) != 3 or _GROUPS.sub("", whole).lstrip("0") == "" else ""
    elif s.count(".") == 1:
        decimal = "."
    else:
        decimal = ""  # repeated separators: thousands only
    whole, _, fraction = s.rpartition(decimal) if decimal else (s, "", "")
    if fraction and not fraction.isdigit() or (decimal and not fraction):
        return float("nan")
    separators = {" " if mark.isspace() else mark for mark in _GROUPS.findall(whole)}
    if len(separators) > 1 or decimal in separators:
        return float("nan")  # "1,234.567,89", "1 234.567,8": two groupings, never guessed
    groups = _GROUPS.split(whole)
    if len(groups) > 1 and not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
        return float("nan")  # "1,234,56": not a thousands grouping
    digits = "".join(groups)
    if not digits.isdigit():
        return float("nan")
    number = float(f"{digits}.{fraction or 0}")
    return -number if negative else number


# A run of anything that is not part of a number: a currency sign or code, or a word.
_AMOUNT_WORD = re.compile(r"[^\d\s,.'\-+()\u00a0\u202f]+\.?")
# What is left once currency is dropped: digits with grouping and decimal separators.
_AMOUNT_SHAPE = re.compile(r"^\d[\d,.'\s\u00a0\u202f]*$")
_GROUPS = re.compile(r"[,.'\s\u00a0\u202f]")
_CURRENCY_CODES = frozenset(
    """
    aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd btn bwp byn bzd cad cdf
    chf clp cny cop crc cup cve czk djf dkk dop dzd egp ern etb eur fjd fkp gbp gel ghs gip gmd gnf gtq gyd hkd
    hnl htg huf idr ils inr iqd irr isk jmd jod jpy kes kgs khr kmf kpw krw kwd kyd kzt lak lbp lkr lrd lsl lyd
    mad mdl mga mkd mmk mnt mop mru mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln
    pyg qar ron rsd rub rwf sar sbd scr sdg sek sgd shp sle sos srd ssp stn svc syp szl thb tjs tmt tnd top try
    ttd twd tzs uah ugx usd uyu uzs ves vnd vuv wst xaf xcd xof xpf yer zar zmw zwl
    kr fr sfr zł rs lei
""".split()
)
# Letters written before a dollar sign: US$, A$, C$, HK$, NZ$, S$, R$ ...
_DOLLAR_PREFIXES = frozenset("us a au c ca hk nz s sg r mx nt rd".split())


def _is_currency(token: str) -> bool:
    """True when ``token`` (a run of non-number characters) is a currency
    sign, an ISO 4217 code or a common currency abbreviation."""
    letters = "".join(ch for ch in token if unicodedata.category(ch) != "Sc").rstrip(".").casefold()
    if not letters:
        return True
    return letters in _CURRENCY_CODES or (letters != token.rstrip(".").casefold() and letters in _DOLLAR_PREFIXES)


@dataclass
class ParsedDates:
    """A date column read by :func:`read_dates`.

    ``dates`` (NaT for blanks and bad cells) and ``bad`` (non-blank cells
    that are not a date) as :func:`parse_dates` returns them; ``note`` warns
    when day/month order was ambiguous. ``reasons`` explains some bad cells
    better than "not a date": ``(mask, message, hint)`` for each group (a
    compact date that is not 8 digits, a year outside 1900..2100); the
    other bad cells are plainly not dates. ``column_problem`` is
    ``(message, hint, example)`` when the column as a whole cannot be read
    as dates (a Parquet or SQL column of numbers and no ``formats:``): the
    caller reports it once, for the column, and stops.
    """

    dates: pd.Series
    bad: pd.Series
    note: str | None = None
    reasons: list[tuple[np.ndarray, str, str]] = field(default_factory=list)
    column_problem: tuple[str, str, object] | None = None


def parse_dates(values: pd.Series, fmt: str | None = None) -> tuple[pd.Series, pd.Series, str | None]:
    """Timestamps from raw dates. Returns ``(dates, bad, note)``.

    ISO 8601 dates and timestamps are read first, then the common export
    formats in :data:`DATE_FORMATS` (a column may mix them). ``fmt`` (from
    the mapping's ``formats:``) settles an ambiguous column. ``note`` warns
    when day/month order was ambiguous for this column. Time zones are
    dropped, keeping wall-clock time. Nothing is guessed: see
    :func:`read_dates` for the rules and for why each bad cell is bad.
    """
    parsed = read_dates(values, fmt)
    return parsed.dates, parsed.bad, parsed.note


def read_dates(values: pd.Series, fmt: str | None = None, *, column: str | None = None) -> ParsedDates:
    """Read a date column, saying why each bad cell is bad.

    Rules beyond :func:`parse_dates`' formats, so that no date is guessed:

    - a date of digits alone must have 8 of them, ``YYYYMMDD`` (``20250115``);
      ``2025115``, ``2025011`` or ``250115`` could each be more than one date
      and are bad (with ``fmt``, digits must fill the format exactly);
    - a year or a month alone (``2025``, ``2025-01``) is not a day: bad;
    - a date before 1900-01-01 or after 2100-12-31 is bad, with its own hint
      (a typo in the year, or a placeholder such as ``9999-12-31``);
    - a column typed as numbers (Parquet, SQL) is not read as dates unless
      ``fmt`` says how: :attr:`ParsedDates.column_problem`.

    ``column`` names the column in hints (default: ``values.name``).
    """
    column = column or (values.name if isinstance(values.name, str) else "column")
    if not fmt:
        plain = _plain_iso_days(values)
        if plain is not None:
            return plain
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        dates = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
        dates, outside = _within_years(dates)
        outside = pd.Series(outside, index=values.index)
        return ParsedDates(dates, outside, reasons=_outside_reason(outside))
    blank = is_blank(values)
    if _is_number_column(values):
        if not fmt:
            example = values[~blank].iloc[0] if (~blank).any() else None
            problem = None
            if example is not None:
                problem = (
                    "the column holds numbers, not dates (the file stores it as " + str(values.dtype) + ")",
                    f"store {column} as a date or as text such as 2025-01-15, or say how to read the numbers "
                    f'in the mapping: formats: {{{column}: "%Y%m%d"}}',
                    _plain_text(example.item() if hasattr(example, "item") else example),
                )
            return ParsedDates(pd.Series(pd.NaT, index=values.index, dtype=DATE_DTYPE), ~blank, column_problem=problem)
        values = values.astype("object").map(_plain_text, na_action="ignore")
    if blank.all():
        return ParsedDates(pd.Series(pd.NaT, index=values.index, dtype=DATE_DTYPE), ~blank)
    text = values.where(~blank).astype("object")
    text = text.where(blank, text.astype(str).str.strip())
    digits = text.str.fullmatch(r"\d+", na=False)
    reasons: list[tuple[np.ndarray, str, str]] = []
    if fmt:
        dates, outside = _to_datetime(text, format=fmt)
        if digits.any():  # "2025115" read by %Y%m%d would be 2025-11-05: digits must fill the format exactly
            loose = digits & dates.notna()
            loose.loc[loose] = dates[loose].dt.strftime(fmt) != text[loose]
            if loose.any():
                dates = dates.where(~loose)
                reasons.append(
                    (
                        loose.to_numpy(),
                        "not a date",
                        f"digits must fill the mapping's format {fmt!r} exactly, every part in full "
                        "(20250105, not 202515, for 5 January 2025); or write the date as YYYY-MM-DD",
                    )
                )
        outside = pd.Series(outside, index=values.index)
        bad = dates.isna() & ~blank
        return ParsedDates(dates, bad, None, _outside_reason(outside) + reasons)
    short = digits & text.str.len().ne(8)
    partial = text.str.fullmatch(r"\d{4}-\d{1,2}", na=False)  # a month, not a day
    unguessed = short | partial
    readable = text.where(~unguessed)
    dates, outside = _to_datetime(readable, format="ISO8601")
    outside = pd.Series(outside, index=values.index)
    todo = dates.isna() & ~blank & ~unguessed & ~outside
    # A lone ISO date is also read by several fallbacks; only non-ISO values reach them.
    note = None
    if todo.any():
        remaining = text[todo]
        ambiguous = _ambiguous_day_month(remaining)
        if ambiguous:
            note = (
                "dates like " + repr(ambiguous) + " read month-first (MM/DD/YYYY); "
                "if they are day-first, add formats: {" + column + ': "%d/%m/%Y"} to the mapping'
            )
        formats = DATE_FORMATS
        if _day_first(remaining):  # 15/04/2021 somewhere: 03/04/2021 is 3 April too
            formats = tuple(sorted(DATE_FORMATS, key=lambda f: not f.startswith("%d/%m/")))
        for candidate in formats:
            if remaining.empty:
                break
            parsed, far = _to_datetime(remaining, format=candidate)
            if far.any():
                outside.loc[remaining.index[far]] = True
            hit = parsed.notna() | far
            if hit.any():
                dates.loc[parsed.index[parsed.notna()]] = parsed[parsed.notna()]
                remaining = remaining[~hit]
    bad = dates.isna() & ~blank
    if short.any():
        reasons.append(
            (
                short.to_numpy(),
                "not a date",
                "a date of digits alone must have 8 of them, YYYYMMDD (20250115); other digits (2025115, 250115, "
                "a spreadsheet serial such as 45658) could be more than one date and are not guessed: "
                "write the date as YYYY-MM-DD",
            )
        )
    if partial.any():
        reasons.append(
            (partial.to_numpy(), "not a date (a year and month, no day)", "write the day too, as YYYY-MM-DD (2025-01-15)")
        )
    return ParsedDates(dates.astype(DATE_DTYPE), bad, note, _outside_reason(outside) + reasons)


_PLAIN_FORMS = (
    (r"^\d{4}-\d{2}-\d{2}$", "%Y-%m-%d"),
    (r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", "%Y-%m-%d %H:%M:%S"),
    (r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", "%Y-%m-%dT%H:%M:%S"),
)
"""The ISO forms most exports write, each (pattern, strptime format); a column in one of them is read fast."""
_PARTS = (("month", 5), ("day", 8), ("hour", 11), ("minute", 14), ("second", 17))  # where each part is written


def _plain_iso_days(values: pd.Series) -> ParsedDates | None:
    """The common case, read in Arrow's C: a text column (Arrow-backed) whose
    every cell is blank (missing) or written in one of :data:`_PLAIN_FORMS`
    (``2025-01-15``, ``2025-01-15 09:45:00``) and is a real day and time.
    None for any other column: :func:`read_dates` then reads it cell by
    cell, saying why a cell is bad. The result is the one that reading gives
    (tests/test_parsing_fast.py compares them); a 2.7-million-row column
    takes 0.6 s instead of 2.9 s in Arrow, 0.15 s read from the strings'
    bytes (:func:`_plain_iso_bytes`, tried first)."""
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        return None
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        text = pa.array(values.array)  # no copy: the column's own Arrow data
        present = len(text) - text.null_count
        if present == 0:
            return None
        first = values.loc[values.first_valid_index()]
        forms = [(pattern, form) for pattern, form in _PLAIN_FORMS if re.match(pattern, str(first))]  # the one to try
        if not forms:
            return None
        form = forms[0][1]
        raw = _plain_iso_bytes(text, form, present)
        if raw is None:  # some cell is not a plain day (or time) of 1900 to 2100: Arrow's parse decides
            if pc.sum(pc.match_substring_regex(text, forms[0][0])).as_py() != present:
                return None
            parsed = pc.strptime(text, format=form, unit="s", error_is_null=True)
            if parsed.null_count != text.null_count:
                return None
            for part, at in _PARTS[: 2 if form == "%Y-%m-%d" else 5]:  # 2025-02-30 rolls over to March in Arrow
                written = pc.cast(pc.utf8_slice_codeunits(text, at, at + 2), pa.int64())
                if pc.sum(pc.equal(getattr(pc, part)(parsed), written)).as_py() != present:
                    return None
            raw = np.asarray(parsed.to_pandas())
        raw = raw.astype(DATE_DTYPE)
    except Exception:  # noqa: BLE001 - an Arrow without these kernels: the cell-by-cell reading
        return None
    dates, outside = _within_years(pd.Series(raw, index=values.index, name=values.name))
    blank = values.isna()
    return ParsedDates(dates, dates.isna() & ~blank, None, _outside_reason(pd.Series(outside, index=values.index)))


def _plain_iso_bytes(text, form: str, present: int) -> np.ndarray | None:
    """The cells of Arrow text ``text`` as ``datetime64[s]`` (NaT where
    missing), read from the bytes of the strings with numpy, when every
    present cell is exactly ``form`` (``2025-01-15`` or ``2025-01-15
    09:45:00``, ``T`` between them where the form has one), a real day and
    time of 1900 to 2100; None otherwise. What Arrow's strptime and the
    part-by-part check give for such a column, without a regular expression
    or a text slice per cell (tests/test_load_fast.py compares them)."""
    import pyarrow as pa

    if not present:
        return None
    width = 10 if form == "%Y-%m-%d" else 19
    out = []
    for chunk in text.chunks if isinstance(text, pa.ChunkedArray) else [text]:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return None
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if pa.types.is_large_string(chunk.type) else np.int32)
        offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
        valid = np.ones(len(chunk), dtype=bool) if chunk.null_count == 0 else chunk.is_valid().to_numpy(zero_copy_only=False)
        cells = int(valid.sum())
        if not len(chunk) or offsets[-1] - offsets[0] != cells * width or not (np.diff(offsets)[valid] == width).all():
            if len(chunk) and cells:
                return None
            out.append(np.full(len(chunk), np.datetime64("NaT"), dtype="M8[s]"))
            continue
        block = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, width)
        digits = block - np.uint8(ord("0"))  # a byte below "0" wraps past 9
        places = [0, 1, 2, 3, 5, 6, 8, 9] + ([11, 12, 14, 15, 17, 18] if width == 19 else [])
        marks = {4: "-", 7: "-"} | ({10: form[8], 13: ":", 16: ":"} if width == 19 else {})
        if (digits[:, places] > 9).any() or any((block[:, at] != ord(mark)).any() for at, mark in marks.items()):
            return None
        year, month, day = _number(digits, 0, 4), _number(digits, 5), _number(digits, 8)
        if year.min() < FIRST_YEAR or year.max() > LAST_YEAR or month.min() < 1 or month.max() > 12 or day.min() < 1:
            return None
        months = (year - 1970) * 12 + month - 1
        days = months.astype("M8[M]").astype("M8[D]") + (day - 1)
        if (days.astype("M8[M]").astype(np.int64) != months).any():  # 2025-02-30: no such day
            return None
        seconds = days.astype("M8[s]")
        if width == 19:
            hour, minute, second = _number(digits, 11), _number(digits, 14), _number(digits, 17)
            if hour.max() > 23 or minute.max() > 59 or second.max() > 59:
                return None
            seconds = seconds + (hour * 3600 + minute * 60 + second)
        full = np.full(len(chunk), np.datetime64("NaT"), dtype="M8[s]")
        full[valid] = seconds
        out.append(full)
    if not out:
        return None
    joined = np.concatenate(out)
    return joined if len(joined) - int(np.isnat(joined).sum()) == present else None


def _number(digits: np.ndarray, at: int, size: int = 2) -> np.ndarray:
    """The digits (0-9, one row per cell) at ``at`` .. ``at + size - 1`` as one number per cell."""
    value = digits[:, at].astype(np.int64)
    for more in range(at + 1, at + size):
        value = value * 10 + digits[:, more]
    return value


def _is_number_column(values: pd.Series) -> bool:
    """True for a column typed as numbers (Parquet, SQL), not text."""
    return (
        pd.api.types.is_numeric_dtype(values.dtype)
        and not pd.api.types.is_bool_dtype(values.dtype)
        and not isinstance(values.dtype, pd.CategoricalDtype)
    )


def _outside_reason(outside: pd.Series) -> list[tuple[np.ndarray, str, str]]:
    if not outside.any():
        return []
    return [
        (
            outside.to_numpy(),
            f"the date is outside the years salesnb reads ({FIRST_YEAR} to {LAST_YEAR})",
            f'check the year (a typo such as 2205 for 2025, or a placeholder such as 9999-12-31 for "no date"): '
            f"correct it, or leave the cell blank when there is no date; dates run from {YEARS_ALLOWED}",
        )
    ]


def _to_datetime(text: pd.Series, *, format: str) -> tuple[pd.Series, np.ndarray]:
    """``text`` parsed with ``format`` (NaT where it does not fit) and the
    mask of values that fit but fall outside FIRST_YEAR..LAST_YEAR (NaT too)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(text, format=format, errors="coerce")
        except (ValueError, TypeError):  # mixed UTC offsets (summer and winter time)
            if "%z" in format:
                parsed = pd.to_datetime(text, format=format, errors="coerce", utc=True)
            else:  # keep each value's wall-clock time, as for a single offset
                local = text.str.replace(_UTC_OFFSET, r"\1", regex=True)
                parsed = pd.to_datetime(local, format=format, errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return _within_years(parsed)


def _within_years(dates: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``dates`` as datetime64[ns] and the mask of those outside FIRST_YEAR..LAST_YEAR
    (e.g. "1704-04-12", "9999-12-31" or "-5", some past what nanoseconds hold), which become NaT."""
    raw = dates.to_numpy()
    low, high = np.datetime64(f"{FIRST_YEAR}-01-01"), np.datetime64(f"{LAST_YEAR + 1}-01-01")
    outside = ~np.isnat(raw) & ((raw < low) | (raw >= high))
    if outside.any():
        raw = np.where(outside, np.datetime64("NaT"), raw)
    if raw.dtype == DATE_DTYPE and not outside.any() and dates.dtype == DATE_DTYPE:
        return dates, outside
    return pd.Series(raw.astype(DATE_DTYPE), index=dates.index, name=dates.name), outside


def _ambiguous_day_month(text: pd.Series) -> str | None:
    """An example value when a slash-dated column reads both ways, else None."""
    slashed = text[text.str.match(r"^\d{1,2}/\d{1,2}/\d{4}", na=False)]
    if slashed.empty:
        return None
    parts = slashed.str.extract(r"^(\d{1,2})/(\d{1,2})/").astype(int)
    if (parts[0] > 12).any() or (parts[1] > 12).any():
        return None  # one of the orders is impossible somewhere: not ambiguous
    both = parts[(parts[0] != parts[1])]
    return None if both.empty else str(slashed.loc[both.index[0]])


def _day_first(text: pd.Series) -> bool:
    """True when a slash-dated column can only be day-first (a day above 12
    comes first somewhere and never second)."""
    slashed = text[text.str.match(r"^\d{1,2}/\d{1,2}/\d{4}", na=False)]
    if slashed.empty:
        return False
    parts = slashed.str.extract(r"^(\d{1,2})/(\d{1,2})/").astype(int)
    return bool((parts[0] > 12).any() and not (parts[1] > 12).any())


_PERIOD = re.compile(r"^\d{4}(-[Qq][1-4]|-(0[1-9]|1[0-2]))?$")


def parse_forecast_periods(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``YYYY``, ``YYYY-Qn`` or ``YYYY-MM``, normalised (``2025-q2`` -> ``2025-Q2``)."""
    text = clean_text(values)
    present = text.notna()
    ok = text.str.match(_PERIOD, na=False)
    normal = text.where(~ok, text.str.upper())
    return normal.where(ok), present & ~ok
