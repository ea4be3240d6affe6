"""Reading raw tables from a data source: a folder of files or a database.

A source hands back each table as found (its own column names, cells as
text or as the database typed them) together with where every row came
from, so that later checks can say "deals.csv, line 14". Nothing here
interprets values; :mod:`salesnb.io.validation` does.
"""
from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from salesnb.io.categorical import release_arrow_memory
from salesnb.errors import DataError, Problem
from salesnb.io.urls import mask_text, mask_url, remember

FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".xlsx", ".xlsm")
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
DUCKDB_SUFFIXES = (".duckdb", ".ddb")
_DUCKDB_OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
_DELIMITERS = (",", ";", "\t", "|")
_EXCEL_HEADER_SEARCH_ROWS = 30
#: The longest line a CSV file may have (bytes; characters in a UTF-16 file):
#: 4 MiB, a hundred times a wide export's row. A longer one is a file whose
#: line breaks were lost, or not a table; it is refused at once, never parsed.
MAX_LINE_BYTES = 4 * 1024 * 1024
#: The most columns a table may have: 16,384, as many as an Excel sheet holds.
MAX_COLUMNS = 16_384


class RowNumbers:
    """The line or row numbers ``first, first + 1, ...`` of ``count`` records:
    what ``np.arange(first, first + count)`` holds, without its 8 bytes a
    row (75 MiB for ten million activities, held through the whole load).
    Indexed like that array: a position gives an int, a boolean mask or an
    array of positions gives an array of those numbers only."""

    def __init__(self, first: int, count: int):
        self.first, self.count = int(first), int(count)

    def __len__(self) -> int:
        return self.count

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.arange(self.first, self.first + self.count, dtype=dtype or np.int64)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return range(self.first, self.first + self.count)[key]  # IndexError past the end, as an array
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != (self.count,):
                raise IndexError(f"boolean index of length {len(key)} for {self.count} rows")
            return np.flatnonzero(key) + self.first
        if key.dtype.kind in "iu":
            positions = key.astype(np.int64)
            positions[positions < 0] += self.count
            if len(positions) and (positions.min() < 0 or positions.max() >= self.count):
                raise IndexError(f"row position out of range for {self.count} rows")
            return positions + self.first
        return np.asarray(self)[key]

    def __repr__(self) -> str:
        return f"RowNumbers({self.first}, {self.count})"


@dataclass
class RawTable:
    """A table as the source holds it, with the line or row of every record."""

    name: str
    frame: pd.DataFrame
    file: str
    lines: np.ndarray | RowNumbers
    unit: str = "line"
    problems: list[Problem] = field(default_factory=list)  # warnings found while reading (e.g. a stray encoding)


def _error(file: str, message: str, hint: str, *, table: str = "", line: int | None = None) -> DataError:
    return DataError(Problem(table=table, file=file, line=line, column=None, value=None, message=message, hint=hint, flag="unreadable"))


class FolderSource:
    """A folder of CSV, Parquet or Excel files named after the tables."""

    kind = "folder"

    def __init__(self, path: Path):
        self.path = path
        self._files = {p.name.casefold(): p for p in sorted(path.iterdir()) if p.is_file()}

    def describe(self) -> str:
        return str(self.path)

    def sidecar(self, filename: str) -> Path | None:
        for name in (filename, filename.replace(".yml", ".yaml")):
            found = self._files.get(name.casefold())
            if found is not None:
                return found
        return None

    def locate(self, table: str, location: str | None) -> Path | None:
        """The file holding ``table``: the mapping's ``file:``, else ``<table>.<ext>``."""
        if location is not None:
            path = (self.path / location) if not Path(location).is_absolute() else Path(location)
            if not path.is_file():
                raise _error(str(path), f"the mapping says table {table!r} is in {location!r}, which does not exist",
                             f"files in {self.path}: {', '.join(sorted(p.name for p in self._files.values())) or 'none'}", table=table)
            return path
        candidates = [self._files[f"{table}{suffix}"] for suffix in FILE_SUFFIXES if f"{table}{suffix}" in self._files]
        if len(candidates) > 1:
            raise _error(str(self.path), f"table {table!r} is in more than one file: {', '.join(p.name for p in candidates)}",
                         "keep one of them, or name the right one with file: in mapping.yml", table=table)
        return candidates[0] if candidates else None

    def read(self, table: str, location: str | None = None, expected: set[str] | None = None,
             categorical: set[str] = frozenset()) -> RawTable | None:
        """The raw table; ``categorical``: the (normalised) names of columns
        whose strings repeat, which Parquet hands back as categoricals."""
        path = self.locate(table, location)
        if path is None:
            return None
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            return _read_parquet(table, path, categorical)
        if suffix in (".xlsx", ".xlsm"):
            return _read_excel(table, path, expected or set())
        return _read_csv(table, path, expected)

    def listing(self) -> str:
        return ", ".join(p.name for p in self._files.values()) or "no files"

    def fingerprint(self, extra: bytes = b"") -> str:
        digest = hashlib.sha256(extra)
        for path in self._files.values():
            digest.update(path.name.encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()


def _read_csv(table: str, path: Path, expected: set[str] | None = None) -> RawTable:
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
            raise _error(str(path), f"the file starts as UTF-16 text but is not valid UTF-16 ({exc.reason})",
                         "save the file again as CSV UTF-8 (Excel: Save As, CSV UTF-8)", table=table) from None
        header_text, encoding = source[:65536], None
    else:
        source, encoding = path, "utf-8-sig"
        header_text = head.decode("utf-8-sig", errors="replace")  # the delimiters are ASCII whatever the encoding
    if not header_text.strip("\ufeff \t\r\n"):
        raise _error(str(path), "the file is empty", f"write a header row with the {table} columns (see data/README.md), then the data",
                     table=table)
    _check_line_lengths(table, path, source)
    first_line = header_text.splitlines()[0]
    sep = max(_DELIMITERS, key=first_line.count)
    _check_column_count(table, path, source, sep)
    try:
        frame = _parse_csv(table, path, source, sep=sep, encoding=encoding)
    except UnicodeDecodeError:
        source, problems = _decode_mixed(table, path)
        encoding = None
        frame = _parse_csv(table, path, source, sep=sep, encoding=None)
    frame.columns = _checked_header(table, path, frame, source, sep=sep, encoding=encoding, expected=expected)
    if _file_contains(path, source, '="'):
        frame = _unwrap_excel_text(frame)
    lines = RowNumbers(2, len(frame))
    if len(frame.columns):  # a line of nothing but delimiters or spaces is a blank line
        keep = ~_blank_rows(frame)
        if not keep.all():
            frame, lines = frame[keep], lines[keep]
    # pandas names a column whose header cell is blank "Unnamed: <position>"
    unnamed = [i for i, name in enumerate(frame.columns) if name in (f"Unnamed: {i}", "")]  # "": a header cell of spaces
    if unnamed:  # after the blank lines: a row with a value only there is kept (and found to lack its IDs)
        problems += _unnamed_columns(table, str(path), frame, unnamed, header_line=1)
        frame.columns = [_unnamed_label(i) if i in unnamed else name for i, name in enumerate(frame.columns)]
    return RawTable(table, frame.reset_index(drop=True), str(path), lines, problems=problems)


def _unnamed_columns(table: str, file: str, frame: pd.DataFrame, positions: list[int], *, header_line: int,
                     letters: list[int] | None = None) -> list[Problem]:
    """A warning for each column at ``positions`` (0-based, in ``frame``)
    whose header cell is blank while the column holds values: the loader
    reads columns by name, so its values are not read. ``letters``: the
    columns' own positions in the sheet, where they differ (Excel)."""
    problems = []
    for k, position in enumerate(positions):
        cells = frame.iloc[:, position]
        filled = cells.notna() & cells.astype("str").str.strip().ne("")
        if not filled.any():
            continue  # a trailing delimiter: nothing is lost
        sheet_position = letters[k] if letters is not None else position
        count = int(filled.sum())
        problems.append(Problem(table, file, header_line, None, cells[filled].iloc[0],
                                f"column {sheet_position + 1} ({_column_letter(sheet_position)}) has no name in the header, "
                                f"so its values ({count:,} {'row' if count == 1 else 'rows'}) are not read",
                                "write the column's name in the header (a contract column's name, or map it in mapping.yml), "
                                "or delete the column if it is not needed", "unnamed_column", "warning"))
    return problems


def _unnamed_label(position: int) -> str:
    """What a column with a blank header is called (0-based ``position``): no
    contract column or mapping matches it, and a set-aside row's record still
    shows its value."""
    return f"(no name, column {_column_letter(position)})"


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
            tail = block[-(len(wanted) - 1):] if len(wanted) > 1 else b""
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
        cells = frame.iloc[rows, position]
        blank[rows[~(cells.isna() | cells.str.strip().eq("")).to_numpy()]] = False
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
            yield from (source[i:i + (1 << 20)] for i in range(0, len(source), 1 << 20))
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
            raise _error(str(path), f"this line is longer than {MAX_LINE_BYTES:,} bytes, too long for a row of a table",
                         "check that the file is a CSV export with one record per line (its line breaks may have been lost, "
                         "or it is not a CSV file); a value this long does not belong in the table", table=table, line=line)
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
        raise _error(str(path), f"the header names {columns:,} columns, more than the {MAX_COLUMNS:,} a table may have",
                     f"export only the columns the {table} table needs (see data/README.md); "
                     f"an Excel sheet cannot hold more than {MAX_COLUMNS:,} columns either", table=table, line=1)


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
            problems = [Problem(table, str(path), number, None, None,
                                f"this line is not UTF-8 like the rest of the file (byte 0x{byte:02x}); it was read as Windows-1252",
                                "check the accented letters on this line, and save the file as UTF-8", "bad_value", "warning")
                        for number, byte in stray]
            return "\n".join(decoded), problems
    return _decode_legacy(data), []


def _decode_legacy(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:  # a byte cp1252 leaves undefined: Latin-1 decodes any byte
        return data.decode("latin-1")


def _parse_csv(table: str, path: Path, source, *, sep: str, encoding: str | None) -> pd.DataFrame:
    """pandas' reading of the file (``source``: the path, or its decoded text)."""
    try:
        with warnings.catch_warnings():
            # index_col=False: rows with a trailing delimiter must not shift the
            # columns; a row with extra values is an error, not silently cut.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(io.StringIO(source) if isinstance(source, str) else source, sep=sep, dtype=str,
                               keep_default_na=False, na_values=[""], skip_blank_lines=False,
                               encoding=encoding, encoding_errors="strict", index_col=False)
    except pd.errors.EmptyDataError:  # the first line is blank, or holds only spaces
        raise _error(str(path), "the first line (the header) is blank", f"start the file with the header row of the {table} columns "
                     "(see data/README.md); delete blank lines above it", table=table, line=1) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        message = str(exc).strip()
        if "EOF inside string" in message:
            line = _unclosed_quote_line(source, encoding)
            raise _error(str(path), "a quote opened on this line is never closed, so the rest of the file reads as one value",
                         "make sure quotes are closed: add the closing quote, or write a quote inside a value twice (\"\")",
                         table=table, line=line) from None
        found = re.search(r"in line (\d+)", message)
        raise _error(str(path), f"cannot read the file as CSV: {message}",
                     "check that every row has as many fields as the header and that quotes are closed", table=table,
                     line=int(found.group(1)) if found else None) from None


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


def _checked_header(table: str, path: Path, frame: pd.DataFrame, source, *, sep: str, encoding: str | None,
                    expected: set[str] | None) -> list[str]:
    """The column names as written (trimmed). A name the loader needs that
    occurs twice stops the load: which column holds the value cannot be
    guessed. Other repeated names are kept apart (``notes``, ``notes (2)``)."""
    names = [str(c).strip() for c in frame.columns]
    _check_lookalike_names(table, path, names, expected)
    if len(set(names)) == len(names) and not any(re.search(r"\.\d+$", n) for n in names):
        return names
    # pandas renames a repeated name ("amount" -> "amount.1"): read the header row as written
    handle = io.StringIO(source) if isinstance(source, str) else source
    header = pd.read_csv(handle, sep=sep, dtype=str, header=None, nrows=1, keep_default_na=False, encoding=encoding, index_col=False)
    written = [str(c).strip() for c in header.iloc[0].tolist()] if len(header) else names
    if len(written) != len(names):
        written = names
    wanted = {_norm(c) for c in (expected or ())}
    counts: dict[str, list[int]] = {}
    for position, name in enumerate(written, start=1):
        counts.setdefault(name, []).append(position)
    for name, positions in counts.items():
        if len(positions) > 1 and (not wanted or _norm(name) in wanted):
            raise _error(str(path), f"the header names column {name!r} {len(positions)} times (columns {', '.join(map(str, positions))})",
                         f"keep one {name!r} column and rename or delete the others: which one holds the {name} cannot be guessed",
                         table=table, line=1)
    out, seen = [], {}
    for name in written:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 or not name else f"{name} ({seen[name]})")  # blank: named by _read_csv
    return out


def _check_lookalike_names(table: str, path: Path, names: list[str], expected: set[str] | None) -> None:
    """Two columns whose names differ only in case or punctuation (``amount``
    and ``Amount``) both match a column the loader reads: which holds it
    cannot be guessed, and the other would be dropped unseen."""
    wanted = {_norm(c) for c in (expected or ())}
    found: dict[str, list[tuple[int, str]]] = {}
    for position, name in enumerate(names, start=1):
        if _norm(name) in wanted:
            found.setdefault(_norm(name), []).append((position, name))
    for columns in found.values():
        if len({name for _, name in columns}) > 1:
            listed = " and ".join(f"{name!r} (column {position})" for position, name in columns)
            raise _error(str(path), f"the header has {listed}, which both read as {_norm(columns[0][1])!r}",
                         f"keep one of them and rename or delete the others: which one holds the {_norm(columns[0][1])} "
                         "cannot be guessed", table=table, line=1)


def _read_parquet(table: str, path: Path, categorical: set[str] = frozenset()) -> RawTable:
    """The file's columns as typed: strings as pandas' Arrow-backed ``str``
    (no Python objects), or, for the ``categorical`` columns (normalised
    names), as categoricals decoded straight from the file's dictionary
    pages (one string per distinct value, never one per row); dates and
    timestamps as ``datetime64[ns]`` (when in range; others are left for
    the date check to flag), numbers as they are. Read one column at a time
    so the Arrow copy of the whole file never sits beside the frame."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path, pre_buffer=False)
        names = handle.schema_arrow.names
        wanted = [n for n in names if _norm(n) in categorical and _is_text(handle.schema_arrow.field(n).type)]
        dictionary = pq.ParquetFile(path, read_dictionary=wanted, pre_buffer=False) if wanted else handle
        columns = {}
        pandas_index = {c for c in (handle.schema_arrow.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
        for name in names:
            if name in pandas_index:  # a DataFrame index pandas stored (to_parquet): not data
                continue
            reader = dictionary if name in wanted else handle
            columns[str(name).strip()] = _arrow_to_pandas(reader.read(columns=[name], use_threads=False).column(0),
                                                          categorical=name in wanted)
            release_arrow_memory()  # the decode buffers: freed, not kept by the allocator
        rows = handle.metadata.num_rows
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise _error(str(path), f"cannot read the file as Parquet: {exc}", "re-export the table as Parquet or CSV", table=table) from None
    frame = pd.DataFrame(columns, index=pd.RangeIndex(rows), copy=False) if columns else pd.DataFrame(index=pd.RangeIndex(rows))
    return RawTable(table, frame, str(path), RowNumbers(1, rows), unit="row")


def _is_text(kind) -> bool:
    import pyarrow as pa

    kind = kind.value_type if pa.types.is_dictionary(kind) else kind
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _arrow_to_pandas(column, *, categorical: bool = False) -> pd.Series:
    """One Arrow column as a pandas Series, without Python objects where the
    contract's dtype allows (see :func:`_read_parquet`)."""
    import pyarrow as pa

    from salesnb.io.categorical import from_arrow

    kind = column.type
    if categorical and _is_text(kind):
        return from_arrow(column)
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pd.Series(column.cast(pa.large_string()).to_pandas(types_mapper={pa.large_string(): pd.StringDtype(na_value=np.nan)}.get))
    if (pa.types.is_date(kind) or pa.types.is_timestamp(kind)) and getattr(kind, "tz", None) is None:
        try:
            return column.cast(pa.timestamp("ns")).to_pandas()  # safe cast: raises when out of range
        except (pa.ArrowInvalid, OverflowError):
            pass  # e.g. year 9999: kept in its own unit; the date check flags it
    return column.to_pandas(date_as_object=False)


def _read_excel(table: str, path: Path, expected: set[str]) -> RawTable:
    """The first sheet; the header is the row (among the first 30) naming the
    most expected columns, so title rows above the table are skipped."""
    try:
        last_row, has_formulas = _last_row_with_data(path)
        grid = pd.read_excel(path, sheet_name=0, header=None, dtype=str, nrows=last_row)
        unsaved = _formulas_without_values(path, grid) if has_formulas else {}
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise _error(str(path), f"cannot read the file as Excel: {exc}", "re-save it as .xlsx, or export the sheet as CSV", table=table) from None
    grid = grid.dropna(how="all", axis=1)
    if grid.dropna(how="all").empty:
        raise _error(str(path), "the sheet is empty", f"put a header row with the {table} columns on the first sheet", table=table)
    wanted = {_norm(c) for c in expected}
    best, best_hits = int(grid.notna().any(axis=1).to_numpy().argmax()), 0
    for i in range(min(_EXCEL_HEADER_SEARCH_ROWS, len(grid))):
        hits = sum(_norm(v) in wanted for v in grid.iloc[i].dropna())
        if hits > best_hits:
            best, best_hits = i, hits
    header = [str(v).strip() if v == v else f"column_{j + 1}" for j, v in enumerate(grid.iloc[best])]
    _check_formulas(table, path, unsaved, header, grid.columns, first_row=best + 2, wanted=wanted)
    body = grid.iloc[best + 1:].copy()
    body.columns = header
    lines = np.arange(best + 2, best + 2 + len(body))
    keep = ~body.isna().all(axis=1).to_numpy()
    body = body[keep].reset_index(drop=True)
    unnamed = [k for k, v in enumerate(grid.iloc[best]) if v != v]  # a blank header cell
    problems = []
    if unnamed:
        problems = _unnamed_columns(table, str(path), body, unnamed, header_line=best + 1,
                                    letters=[int(grid.columns[k]) for k in unnamed])
        body.columns = [_unnamed_label(int(grid.columns[k])) if k in unnamed else name for k, name in enumerate(body.columns)]
    return RawTable(table, body, f"{path}", lines[keep], problems=problems)


def _last_row_with_data(path: Path) -> tuple[int | None, bool]:
    """The Excel row number of the first sheet's last row holding a value
    or a formula, and whether the sheet has formulas, from a scan of its XML
    (a million formatted but blank rows below the table cost a second, not
    minutes of reading them cell by cell). ``None`` for the row when the
    file does not say (rows without numbers): then every row is read."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        part = _first_sheet_part(archive)
        if part is None:
            return None, True
        last_row, current_row, formulas = 0, None, False
        prefix, carried = None, b""
        with archive.open(part) as stream:
            for chunk in iter(lambda: stream.read(1 << 22), b""):
                text = carried + chunk
                cut = text.rfind(b"<")  # tags before the last '<' are whole
                segment, carried = (text[:cut], text[cut:]) if cut > 0 else (b"", text)
                if prefix is None:
                    found = re.search(rb"<(\w+:)?sheetData[\s>/]", segment)
                    if found is None:
                        carried = text
                        continue
                    prefix = found.group(1) or b""
                value_tags = [b"<" + prefix + tag for tag in (b"v>", b"v ", b"is>", b"is ", b"f>", b"f ", b"f/")]
                formulas = formulas or any(tag in segment for tag in value_tags[4:])
                last_value = max(segment.rfind(tag) for tag in value_tags)
                row_tags = (b"<" + prefix + b"row ", b"<" + prefix + b"row>")
                if last_value >= 0:
                    row_start = max(segment.rfind(tag, 0, last_value) for tag in row_tags)
                    row = _row_number(segment[row_start:]) if row_start >= 0 else current_row
                    if row is None:
                        return None, True
                    last_row = max(last_row, row)
                row_start = max(segment.rfind(tag) for tag in row_tags)
                if row_start >= 0:
                    current_row = _row_number(segment[row_start:])
        return last_row, formulas


def _row_number(tag: bytes) -> int | None:
    found = re.match(rb"<(?:\w+:)?row\b[^>]*?\sr=[\"'](\d+)[\"']", tag)
    return int(found.group(1)) if found else None


def _first_sheet_part(archive) -> str | None:
    """The path inside an .xlsx of its first sheet (as pandas' ``sheet_name=0``)."""
    import posixpath
    import xml.etree.ElementTree as ET

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    relations = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    try:
        workbook = ET.fromstring(archive.read("xl/workbook.xml"))
        rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError):
        return None
    sheet = workbook.find(f"{main}sheets/{main}sheet")
    if sheet is None:
        return None
    target = next((r.get("Target") for r in rels if r.get("Id") == sheet.get(f"{relations}id")), None)
    if not target:
        return None
    part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    return part if part in archive.namelist() else None


def _formulas_without_values(path: Path, grid: pd.DataFrame) -> dict[tuple[int, int], str]:
    """(row, column) positions in ``grid`` of formula cells with no saved
    value (a file written by a program, never calculated by Excel), with
    their formula. openpyxl reads such a cell's value as empty."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        sheet = book.worksheets[0]
        found = {}
        for i, row in enumerate(sheet.iter_rows(max_row=len(grid), values_only=True)):
            for j, value in enumerate(row):
                formula = getattr(value, "text", value)  # an ArrayFormula holds its text
                if isinstance(formula, str) and formula.startswith("=") and j < grid.shape[1] and grid.iat[i, j] != grid.iat[i, j]:
                    found[(i, j)] = formula
        return found
    finally:
        book.close()


def _check_formulas(table: str, path: Path, unsaved: dict, header: list[str], columns, *, first_row: int, wanted: set[str]) -> None:
    """Stop on a formula in a column the loader reads whose value was never
    calculated: its value is unknown, and reading it as blank would lose it."""
    problems = []
    for (i, j), formula in sorted(unsaved.items()):
        column = next((header[k] for k, c in enumerate(columns) if c == j), None)
        if i + 1 < first_row or column is None or (wanted and _norm(column) not in wanted):
            continue
        cell = f"{_column_letter(j)}{i + 1}"
        problems.append(Problem(table, str(path), i + 1, column, formula,
                                f"cell {cell} holds a formula whose value was never calculated (the file was written by a program, "
                                "not saved by Excel), so its value is unknown",
                                "open the file in Excel (or LibreOffice) and save it, so each formula's value is stored; "
                                "or export the sheet as CSV", "unreadable"))
    if problems:
        raise DataError(problems)


def _column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: a column as Excel names it."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _norm(name: object) -> str:
    """Column names compare case- and punctuation-insensitively ("Rep ID" ~ rep_id)."""
    return "".join(ch if ch.isalnum() else "_" for ch in str(name).strip().casefold()).strip("_")


class SQLSource:
    """A database: a SQLite or DuckDB file, or any SQLAlchemy URL. Opened read-only."""

    kind = "sql"

    def __init__(self, source: str, *, dialect: str, path: Path | None = None):
        self.source, self.dialect, self.path = source, dialect, path
        self._tables: dict[str, str] | None = None
        self._connection = None

    def describe(self) -> str:
        return mask_url(self.source)

    def sidecar(self, filename: str) -> Path | None:
        if self.path is None:
            return None
        candidate = self.path.parent / filename
        return candidate if candidate.is_file() else None

    def _connect(self):
        if self._connection is not None:
            return self._connection
        try:
            if self.dialect == "duckdb":
                import duckdb

                self._check_duckdb_file()
                # Never fetch or load an extension: a file that only looks like another
                # database (SQLite's header) must not send DuckDB to the network.
                try:
                    self._connection = duckdb.connect(str(self.path), read_only=True, config=_DUCKDB_OFFLINE)
                except duckdb.IOException as exc:
                    if "lock" not in str(exc).casefold():
                        raise
                    holder = re.search(r"held in (.+?) \(PID (\d+)\)", str(exc))
                    who = f" ({Path(holder.group(1)).name}, process {holder.group(2)})" if holder else ""
                    raise _error(self.describe(), f"another program{who} has the database open for writing, so it cannot be read now",
                                 "close that program (or its connection to the file) and run again; "
                                 "or copy the file and pass the copy") from None
            elif self.dialect == "sqlite":
                import sqlite3

                # as_uri() percent-encodes the path: a '#' or '?' in a file name
                # cannot end the path early and drop mode=ro.
                self._connection = sqlite3.connect(Path(self.path).resolve().as_uri() + "?mode=ro", uri=True)
                try:  # sqlite3 opens any file; the first read finds out whether it is a database
                    self._connection.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
                except sqlite3.DatabaseError as exc:
                    self._connection.close()
                    self._connection = None
                    if _file_kind(self.path) == "duckdb":
                        raise _error(self.describe(), "the file is a DuckDB database, not a SQLite one",
                                     f"give it the .duckdb name ({Path(self.path).stem}.duckdb), or pass it as duckdb:///{self.path}") from None
                    raise _error(self.describe(), f"the file is not a SQLite database ({exc})",
                                 "pass a SQLite database file; for CSV, Parquet or Excel files, pass the folder that holds them") from None
            else:
                import sqlalchemy

                engine = sqlalchemy.create_engine(self.source)
                self._connection = engine.connect()
                if engine.dialect.name == "postgresql":
                    self._connection.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        except DataError:
            raise
        except Exception as exc:  # drivers raise their own types
            raise _error(self.describe(), f"cannot connect to the database: {mask_text(str(exc), self.source).splitlines()[0]}",
                         "check the URL, that the server is running and that the driver is installed") from None
        return self._connection

    def _check_duckdb_file(self) -> None:
        """Name what a DuckDB source file really is when it is not one (a
        SQLite database named .duckdb, a text file), before DuckDB tries
        to open it (and to fetch an extension for it)."""
        if str(self.path) == ":memory:":
            return
        path = Path(self.path)
        if not path.exists():
            raise _error(self.describe(), "the DuckDB database file does not exist",
                         "check the path (duckdb:///name.duckdb is relative to the current folder, "
                         "duckdb:////abs/path.duckdb absolute); salesnb never creates a database")
        kind = _file_kind(path)
        if kind is None and path.is_file() and path.stat().st_size == 0:
            raise _error(self.describe(), "the file is empty, not a DuckDB database",
                         "pass the DuckDB database file that holds the tables (the empty one may be a failed copy)")
        if kind == "sqlite":
            raise _error(self.describe(), "the file is a SQLite database, not a DuckDB one",
                         f"give it a .sqlite name ({path.stem}.sqlite), or pass it as sqlite:///{path}")
        if kind != "duckdb":
            raise _error(self.describe(), "the file is not a DuckDB database (nor any database salesnb reads)",
                         "pass a DuckDB or SQLite database file; for CSV, Parquet or Excel files, pass the folder that holds them")

    def table_names(self) -> dict[str, str]:
        if self._tables is None:
            connection = self._connect()
            try:
                if self.dialect == "duckdb":
                    names = [row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()]
                elif self.dialect == "sqlite":
                    names = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type IN ('table','view')").fetchall()]
                else:
                    import sqlalchemy

                    inspector = sqlalchemy.inspect(connection)
                    names = inspector.get_table_names() + inspector.get_view_names()
            except Exception as exc:  # drivers raise their own types
                raise _error(self.describe(), f"cannot list the tables of the database: {mask_text(str(exc), self.source).splitlines()[0]}",
                             "check that the source is a readable database and that you may read its tables") from None
            self._tables = {name.casefold(): name for name in names}
        return self._tables

    def listing(self) -> str:
        return ", ".join(self.table_names().values()) or "no tables"

    def read(self, table: str, location: str | None = None, expected: set[str] | None = None,
             categorical: set[str] = frozenset()) -> RawTable | None:
        """The raw table (``categorical`` is for files; the loader converts these columns)."""
        wanted = location or table
        actual = self.table_names().get(wanted.casefold())
        if actual is None:
            if location is not None:
                raise _error(self.describe(), f"the mapping says table {table!r} is in {location!r}, which the database does not have",
                             f"tables there: {self.listing()}", table=table)
            return None
        query = 'SELECT * FROM "{}"'.format(actual.replace('"', '""'))
        try:
            connection = self._connect()
            if self.dialect == "duckdb":
                frame = connection.execute(query).df()
            elif self.dialect == "sqlite":
                frame = pd.read_sql_query(query, connection)
            else:
                import sqlalchemy

                frame = pd.read_sql_query(sqlalchemy.text(query), connection)
        except DataError:
            raise
        except Exception as exc:  # drivers raise their own types
            raise _error(self.describe(), f"cannot read table {actual!r}: {mask_text(exc, self.source)}", "check the table in the database", table=table) from None
        frame.columns = [str(c).strip() for c in frame.columns]
        return RawTable(table, frame, f"{self.describe()} table {actual}", RowNumbers(1, len(frame)), unit="row")

    def fingerprint(self, extra: bytes = b"") -> str:
        digest = hashlib.sha256(extra)
        if self.path is not None:
            with self.path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            return digest.hexdigest()
        return ""  # a server database: the loader hashes the frames instead

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _file_kind(path) -> str | None:
    """``"sqlite"`` or ``"duckdb"`` when the file starts as that database
    does (SQLite's 16-byte header; DuckDB's "DUCK" at byte 8), else None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head[8:12] == b"DUCK":
        return "duckdb"
    return None


def _url_database(text: str) -> str | None:
    """The database file a ``sqlite:///`` or ``duckdb:///`` URL names, without its query string."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(text).database
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise _error(mask_url(text), "the database URL is not valid",
                     "write it as sqlite:///path/to/file.sqlite or duckdb:///path/to/file.duckdb") from None


def database_file(url: str) -> Path | None:
    """The local file a ``sqlite:///`` or ``duckdb:///`` URL names; None for
    any other URL and for an in-memory database. An invalid URL of those
    schemes raises :class:`DataError`."""
    if not url.split("://", 1)[0].lower().startswith(("duckdb", "sqlite")):
        return None
    database = _url_database(url)
    return Path(database) if database and database != ":memory:" else None


def open_source(source) -> FolderSource | SQLSource:
    """The right reader for ``source``: a folder, a database file or a URL."""
    text = str(source)
    if "://" in text:
        remember(text)  # its secrets are hidden from every message of this process (salesnb.io.urls)
        # A database file is opened by its own driver, read-only; the URL's
        # query string (?timeout=5) is not part of the path.
        path = database_file(text)
        if text.split("://", 1)[0].lower().startswith("duckdb"):
            return SQLSource(text, dialect="duckdb", path=path or Path(":memory:"))
        if path is not None:
            return SQLSource(text, dialect="sqlite", path=path)
        return SQLSource(text, dialect="sqlalchemy")
    path = Path(text).expanduser()
    if path.is_dir():
        return FolderSource(path)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in DUCKDB_SUFFIXES:
            return SQLSource(text, dialect="duckdb", path=path)
        if suffix in SQLITE_SUFFIXES:
            return SQLSource(text, dialect="sqlite", path=path)
        raise _error(text, "a single file is not a data source",
                     "pass the folder that holds the table files, a .sqlite/.duckdb file, or a SQLAlchemy URL")
    raise _error(text, "the data source does not exist",
                 "pass a folder of CSV/Parquet/Excel files, a .sqlite/.duckdb file, or a SQLAlchemy URL such as postgresql://host/db")
