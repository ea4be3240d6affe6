"""Reading a CSV or TSV file as text cells: its encodings (UTF-8, UTF-16,
Windows-1252 and mixed), its caps (line length, column count), header checks
(repeated and look-alike names) and Excel's ``="007"`` text cells.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from salesnb.errors import Problem
from salesnb.io.parsing import blank_cells
from salesnb.io.raw_tables import RawTable, RowNumbers, normalise_column_name, unnamed_columns, unnamed_label, unreadable

__all__ = ["MAX_COLUMNS", "MAX_LINE_BYTES", "read_csv_table"]

_DELIMITERS = (",", ";", "\t", "|")

#: The longest line a CSV file may have (bytes; characters in a UTF-16 file):
#: 4 MiB, a hundred times a wide export's row. A longer one is a file whose
#: line breaks were lost, or not a table; it is refused at once, never parsed.
MAX_LINE_BYTES = 4 * 1024 * 1024
#: The most columns a table may have: 16,384, as many as an Excel sheet holds.
MAX_COLUMNS = 16_384


def read_csv_table(table: str, path: Path, expected: set[str] | None = None) -> RawTable:
    """A CSV/TSV file as text cells. UTF-8 (with or without BOM) is read as
    is; a UTF-16 file (Excel's "Unicode Text", with its BOM) is decoded; a
    file that is not UTF-8 is read as Windows-1252, except a UTF-8 file with
    a few stray Windows-1252 lines, whose lines are each read in their own
    encoding with a warning (see :func:`_decode_mixed`)."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    problems: list[Problem] = []
    if head.startswith(_UTF16_BOMS):  # Excel's "Unicode Text": UTF-16, usually tab-delimited
        try:
            source = path.read_bytes().decode("utf-16").lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            raise unreadable(
                str(path),
                f"the file starts as UTF-16 text but is not valid UTF-16 ({exc.reason})",
                "save the file again as CSV UTF-8 (Excel: Save As, CSV UTF-8)",
                table=table,
            ) from None
        header_text, encoding = source[:65536], None
    else:
        source, encoding = path, "utf-8-sig"
        header_text = head.decode("utf-8-sig", errors="replace")  # the delimiters are ASCII whatever the encoding
    if not header_text.strip("\ufeff \t\r\n"):
        raise unreadable(
            str(path),
            "the file is empty",
            f"write a header row with the {table} columns (see data/README.md), then the data",
            table=table,
        )
    with contextlib.ExitStack() as stack:
        # A file's bytes, mapped once (not read into memory): the checks and Arrow's reader share them.
        data = stack.enter_context(_mapped(path)) if encoding is not None else None
        if data is None or not _lines_within_cap(data):
            _check_line_lengths(table, path, source)
        first_line = header_text.splitlines()[0]
        sep = max(_DELIMITERS, key=first_line.count)
        _check_column_count(table, path, source, sep)
        frame = _parse_plain(path, data, sep=sep) if data is not None else None
        if frame is None:  # anything but a plain UTF-8 file, and every error: pandas' reader and its messages
            try:
                frame = _parse_csv(table, path, source, sep=sep, encoding=encoding)
            except UnicodeDecodeError:
                source, problems = _decode_mixed(table, path)
                encoding = None
                frame = _parse_csv(table, path, source, sep=sep, encoding=None)
        frame.columns = _checked_header(table, path, frame, source, sep=sep, encoding=encoding, expected=expected)
        excel_text = (
            data.find(b'"') >= 0 and data.find(b'="') >= 0  # a one-byte search first: a tenth of the time
            if data is not None and encoding is not None
            else _file_contains(path, source, '="')
        )
    if excel_text:
        frame = _unwrap_excel_text(frame)
    lines = RowNumbers(2, len(frame))
    if len(frame.columns):  # a line of nothing but delimiters or spaces is a blank line
        keep = ~_blank_rows(frame)
        if not keep.all():
            frame, lines = frame[keep], lines[keep]
    # pandas names a column whose header cell is blank "Unnamed: <position>"
    unnamed = [i for i, name in enumerate(frame.columns) if name in (f"Unnamed: {i}", "")]  # "": a header cell of spaces
    if unnamed:  # after the blank lines: a row with a value only there is kept (and found to lack its IDs)
        problems += unnamed_columns(table, str(path), frame, unnamed, header_line=1)
        frame.columns = [unnamed_label(i) if i in unnamed else name for i, name in enumerate(frame.columns)]
    return RawTable(table, frame.reset_index(drop=True), str(path), lines, problems=problems)


#: Excel's way to force text in a CSV export, ="007": a formula whose value is the text between the quotes.
_EXCEL_TEXT = re.compile(r'="((?:[^"]|"")*)"', re.S)


def _file_contains(path: Path, source, needle: str) -> bool:
    """Whether the file's text (``source``: the path, or the decoded text) holds ``needle`` (ASCII)."""
    if isinstance(source, str):
        return needle in source
    wanted, tail = needle.encode(), b""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            if wanted in tail + block:
                return True
            tail = block[-(len(wanted) - 1) :] if len(wanted) > 1 else b""
    return False


def _unwrap_excel_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells written exactly ``="..."`` read as the text between the quotes
    (``="007"`` is 007, as Excel shows it; ``=""`` is blank). Only that exact
    form: ``=A1``, ``="a"&B2`` or `` ="7"`` stay as written."""

    def unwrap(cell: str):
        found = _EXCEL_TEXT.fullmatch(cell)
        if found is None:
            return cell
        return found.group(1).replace('""', '"') or np.nan

    for position in range(frame.shape[1]):
        cells = frame.iloc[:, position]
        hits = cells.str.startswith('="', na=False).to_numpy(dtype=bool)
        if hits.any():
            column = cells.astype(object)
            column[hits] = [unwrap(cell) for cell in cells[hits]]
            frame.isetitem(position, column.astype("str"))
    return frame


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is blank or spaces. Column by column, over the
    rows still blank only: a wide file costs a column or two, not one pass
    per column."""
    blank = np.ones(len(frame), dtype=bool)
    for position in range(frame.shape[1]):
        rows = np.flatnonzero(blank)
        if not len(rows):
            break
        cells = frame.iloc[:, position] if len(rows) == len(frame) else frame.iloc[rows, position]  # all rows: no take
        blank[rows[~blank_cells(cells)]] = False
    return blank


def _line_breaks(block):
    """A block of a file (bytes or text) with every line break (CRLF, CR, LF) written as LF."""
    crlf, cr, lf = ("\r\n", "\r", "\n") if isinstance(block, str) else (b"\r\n", b"\r", b"\n")
    return block.replace(crlf, lf).replace(cr, lf)


def _check_line_lengths(table: str, path: Path, source) -> None:
    """Refuse a file with a line longer than :data:`MAX_LINE_BYTES` before
    parsing it (a 50 MB line would keep the parser busy for minutes).
    ``source``: the path, or the decoded text of a UTF-16 file."""

    def blocks():
        if isinstance(source, str):
            yield from (source[i : i + (1 << 20)] for i in range(0, len(source), 1 << 20))
            return
        with path.open("rb") as handle:
            yield from iter(lambda: handle.read(1 << 20), b"")

    line, length, carried = 1, 0, None  # the line being read, and its length so far
    for block in blocks():  # a block (1 MiB) is shorter than the cap: only a line crossing blocks can pass it
        if carried is not None:  # a CR that ended the last block, perhaps the start of CRLF
            block = carried + block
        carried = None
        if block[-1:] in ("\r", b"\r"):
            block, carried = block[:-1], block[-1:]
        block = _line_breaks(block)
        lf = "\n" if isinstance(block, str) else b"\n"
        first_break = block.find(lf)
        length += len(block) if first_break < 0 else first_break
        if length > MAX_LINE_BYTES:
            raise unreadable(
                str(path),
                f"this line is longer than {MAX_LINE_BYTES:,} bytes, too long for a row of a table",
                "check that the file is a CSV export with one record per line (its line breaks may have been lost, "
                "or it is not a CSV file); a value this long does not belong in the table",
                table=table,
                line=line,
            )
        if first_break >= 0:
            line += block.count(lf)
            length = len(block) - block.rfind(lf) - 1


def _check_column_count(table: str, path: Path, source, sep: str) -> None:
    """Refuse a header naming more than :data:`MAX_COLUMNS` columns before
    parsing (100,000 columns would take minutes to check, cell by cell)."""
    import csv

    if isinstance(source, str):
        first = source.split("\n", 1)[0]
    else:
        with path.open("rb") as handle:
            first = handle.readline(MAX_LINE_BYTES + 1).decode("utf-8-sig", errors="replace")
    if first.count(sep) < MAX_COLUMNS:
        return
    columns = len(next(csv.reader([first.rstrip("\r\n")], delimiter=sep), []))
    if columns > MAX_COLUMNS:
        raise unreadable(
            str(path),
            f"the header names {columns:,} columns, more than the {MAX_COLUMNS:,} a table may have",
            f"export only the columns the {table} table needs (see data/README.md); "
            f"an Excel sheet cannot hold more than {MAX_COLUMNS:,} columns either",
            table=table,
            line=1,
        )


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# A character UTF-8 encodes in two to four bytes (a cp1252 file rarely holds one by chance).
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _decode_mixed(table: str, path: Path) -> tuple[str, list[Problem]]:
    """The text of a file that is not valid UTF-8, and a warning per line
    read otherwise. When most lines with accented letters are UTF-8 (an
    export pasted together from two systems), each line is read as UTF-8
    and the few that are not as Windows-1252, so "Müller" elsewhere in the
    file stays "Müller"; otherwise the whole file is Windows-1252 (Latin-1
    for bytes cp1252 leaves undefined)."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if _UTF8_SEQUENCE.search(data):
        raw_lines = data.split(b"\n")
        decoded, stray = [], []
        utf8_lines = 0
        for number, raw in enumerate(raw_lines, start=1):
            if raw.isascii():
                decoded.append(raw.decode("ascii"))
                continue
            try:
                decoded.append(raw.decode("utf-8"))
                utf8_lines += 1
            except UnicodeDecodeError as exc:
                decoded.append(_decode_legacy(raw))
                stray.append((number, raw[exc.start]))
        if utf8_lines >= len(stray):
            problems = [
                Problem(
                    table,
                    str(path),
                    number,
                    None,
                    None,
                    f"this line is not UTF-8 like the rest of the file (byte 0x{byte:02x}); it was read as Windows-1252",
                    "check the accented letters on this line, and save the file as UTF-8",
                    "bad_value",
                    "warning",
                )
                for number, byte in stray
            ]
            return "\n".join(decoded), problems
    return _decode_legacy(data), []


def _decode_legacy(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:  # a byte cp1252 leaves undefined: Latin-1 decodes any byte
        return data.decode("latin-1")


@contextlib.contextmanager
def _mapped(path: Path):
    """The file's bytes as a read-only memory map (None for a file that cannot be mapped)."""
    with path.open("rb") as handle:
        try:
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # an empty file, or a file system without mmap
            yield None
            return
        try:
            yield data
        finally:
            data.close()


def _lines_within_cap(data) -> bool:
    """True when no line of the file (``data``: its bytes) can be longer than
    :data:`MAX_LINE_BYTES`: every stretch of half the cap holds an LF, so two
    LFs in a row are less than the cap apart (a CR only cuts a line shorter).
    A few searches that each stop at the stretch's first LF, not a pass over
    the file. False: :func:`_check_line_lengths` decides."""
    stretch = MAX_LINE_BYTES // 2
    return all(data.find(b"\n", start, start + stretch) >= 0 for start in range(0, len(data) - stretch, stretch)) and (
        len(data) <= stretch or data.rfind(b"\n", len(data) - stretch) >= 0
    )


#: The options that make pandas read every cell as text (shared by both ways of reading).
_PANDAS_TEXT = {"dtype": str, "keep_default_na": False, "na_values": [""], "skip_blank_lines": False, "index_col": False}


def _parse_plain(path: Path, data, *, sep: str) -> pd.DataFrame | None:
    """The file read by Arrow's CSV reader, in C on both cores: every column as
    text, exactly the frame :func:`_parse_csv` gives (tests/test_load_fast.py
    compares them on tricky files). None whenever the file is anything but
    plain UTF-8 CSV that Arrow reads without a complaint (another encoding, a
    row of the wrong length, an unclosed quote, a header spanning lines): the
    caller then reads it with pandas, whose messages the errors quote.

    The header row is read by pandas itself (one line), so the column names
    are pandas' own (``Unnamed: 2`` for a blank one, ``amount.1`` for a
    repeat); Arrow reads the rows after it, from its own map of the file
    (``data``: the file's bytes, mapped by the caller)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    end = data.find(b"\n")
    header = data[: end + 1] if end >= 0 else data[:]
    if header.count(b'"') % 2 or b"\r" in header.rstrip(b"\r\n") or header.endswith(b"\r\r\n"):
        return None  # a quoted line break, or a CR that ends the header early: pandas decides
    quoted = data.find(b'"') >= 0
    if quoted and _odd_quotes(data):
        return None  # a quote never closed: Arrow leaves out the rows after it without a word, pandas says where
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            names = pd.read_csv(io.BytesIO(header), sep=sep, nrows=0, encoding="utf-8-sig", **_PANDAS_TEXT).columns
        if not len(names):
            return None
        keys = [f"c{i}" for i in range(len(names))]
        with pa.memory_map(str(path)) as mapped:  # Arrow copies what it reads: nothing refers to the map after
            table = pcsv.read_csv(
                mapped,
                read_options=pcsv.ReadOptions(column_names=keys, skip_rows=1 if end >= 0 else 0, block_size=1 << 23),
                parse_options=pcsv.ParseOptions(
                    delimiter=sep,
                    quote_char='"',
                    double_quote=True,
                    escape_char=False,
                    newlines_in_values=quoted,  # no quote: no line break inside a value
                    ignore_empty_lines=False,  # a blank line is a row (set aside later), as pandas reads it
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types=dict.fromkeys(keys, pa.large_string()),
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
    except (pa.ArrowException, OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, Warning):
        return None
    if end < 0:  # the header alone, without a line break: no rows
        table = table.slice(0, 0)
    frame = table.to_pandas(types_mapper={pa.large_string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get)
    frame.columns = names
    return frame


def _odd_quotes(data, chunk: int = 1 << 24) -> bool:
    """True when the file (``data``: its bytes) holds an odd number of double
    quotes: some quote is never closed (a doubled quote inside a value counts
    two). Counted a slice at a time, so a large mapped file is not copied whole."""
    return sum(data[start : start + chunk].count(b'"') for start in range(0, len(data), chunk)) % 2 == 1


def _parse_csv(table: str, path: Path, source, *, sep: str, encoding: str | None) -> pd.DataFrame:
    """pandas' reading of the file (``source``: the path, or its decoded text)."""
    try:
        with warnings.catch_warnings():
            # index_col=False: rows with a trailing delimiter must not shift the
            # columns; a row with extra values is an error, not silently cut.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(
                io.StringIO(source) if isinstance(source, str) else source,
                sep=sep,
                encoding=encoding,
                encoding_errors="strict",
                **_PANDAS_TEXT,
            )
    except pd.errors.EmptyDataError:  # the first line is blank, or holds only spaces
        raise unreadable(
            str(path),
            "the first line (the header) is blank",
            f"start the file with the header row of the {table} columns (see data/README.md); delete blank lines above it",
            table=table,
            line=1,
        ) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        message = str(exc).strip()
        if "EOF inside string" in message:
            line = _unclosed_quote_line(source, encoding)
            raise unreadable(
                str(path),
                "a quote opened on this line is never closed, so the rest of the file reads as one value",
                'make sure quotes are closed: add the closing quote, or write a quote inside a value twice ("")',
                table=table,
                line=line,
            ) from None
        found = re.search(r"in line (\d+)", message)
        raise unreadable(
            str(path),
            f"cannot read the file as CSV: {message}",
            "check that every row has as many fields as the header and that quotes are closed",
            table=table,
            line=int(found.group(1)) if found else None,
        ) from None


def _unclosed_quote_line(source, encoding: str | None) -> int | None:
    """The line where the quote that is never closed opens (1 = the header)."""
    handle = io.StringIO(source) if isinstance(source, str) else open(source, encoding=encoding, errors="replace", newline="")
    opened_on, inside = None, False
    with handle:
        for number, line in enumerate(handle, start=1):
            if line.count('"') % 2:
                inside = not inside
                opened_on = number if inside else None
    return opened_on if inside else None


def _checked_header(
    table: str, path: Path, frame: pd.DataFrame, source, *, sep: str, encoding: str | None, expected: set[str] | None
) -> list[str]:
    """The column names as written (trimmed). A name the loader needs that
    occurs twice stops the load: which column holds the value cannot be
    guessed. Other repeated names are kept apart (``notes``, ``notes (2)``)."""
    names = [str(c).strip() for c in frame.columns]
    _check_lookalike_names(table, path, names, expected)
    if len(set(names)) == len(names) and not any(re.search(r"\.\d+$", n) for n in names):
        return names
    # pandas renames a repeated name ("amount" -> "amount.1"): read the header row as written
    handle = io.StringIO(source) if isinstance(source, str) else source
    header = pd.read_csv(
        handle, sep=sep, dtype=str, header=None, nrows=1, keep_default_na=False, encoding=encoding, index_col=False
    )
    written = [str(c).strip() for c in header.iloc[0].tolist()] if len(header) else names
    if len(written) != len(names):
        written = names
    wanted = {normalise_column_name(c) for c in (expected or ())}
    counts: dict[str, list[int]] = {}
    for position, name in enumerate(written, start=1):
        counts.setdefault(name, []).append(position)
    for name, positions in counts.items():
        if len(positions) > 1 and (not wanted or normalise_column_name(name) in wanted):
            raise unreadable(
                str(path),
                f"the header names column {name!r} {len(positions)} times (columns {', '.join(map(str, positions))})",
                f"keep one {name!r} column and rename or delete the others: which one holds the {name} cannot be guessed",
                table=table,
                line=1,
            )
    out, seen = [], {}
    for name in written:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 or not name else f"{name} ({seen[name]})")  # blank: named by read_csv_table
    return out


def _check_lookalike_names(table: str, path: Path, names: list[str], expected: set[str] | None) -> None:
    """Two columns whose names differ only in case or punctuation (``amount``
    and ``Amount``) both match a column the loader reads: which holds it
    cannot be guessed, and the other would be dropped unseen."""
    wanted = {normalise_column_name(c) for c in (expected or ())}
    found: dict[str, list[tuple[int, str]]] = {}
    for position, name in enumerate(names, start=1):
        if normalise_column_name(name) in wanted:
            found.setdefault(normalise_column_name(name), []).append((position, name))
    for columns in found.values():
        if len({name for _, name in columns}) > 1:
            listed = " and ".join(f"{name!r} (column {position})" for position, name in columns)
            raise unreadable(
                str(path),
                f"the header has {listed}, which both read as {normalise_column_name(columns[0][1])!r}",
                f"keep one of them and rename or delete the others: which one holds the {normalise_column_name(columns[0][1])} "
                "cannot be guessed",
                table=table,
                line=1,
            )
