"""Reading raw tables from a data source: a folder of files or a database.

A source hands back each table as found (its own column names, cells as
text or as the database typed them) together with where every row came
from, so that later checks can say "deals.csv, line 14". Nothing here
interprets values; :mod:`salesnb.validation` does.
"""
from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError, Problem

FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".xlsx", ".xlsm")
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
DUCKDB_SUFFIXES = (".duckdb", ".ddb")
_DELIMITERS = (",", ";", "\t", "|")
_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
_EXCEL_HEADER_SEARCH_ROWS = 30


@dataclass
class RawTable:
    """A table as the source holds it, with the line or row of every record."""

    name: str
    frame: pd.DataFrame
    file: str
    lines: np.ndarray
    unit: str = "line"


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

    def read(self, table: str, location: str | None = None, expected: set[str] | None = None) -> RawTable | None:
        path = self.locate(table, location)
        if path is None:
            return None
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            return _read_parquet(table, path)
        if suffix in (".xlsx", ".xlsm"):
            return _read_excel(table, path, expected or set())
        return _read_csv(table, path)

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


def _read_csv(table: str, path: Path) -> RawTable:
    with path.open("rb") as handle:
        head = handle.read(65536)
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise _error(str(path), "the file is empty", f"write a header row with the {table} columns (see data/README.md), then the data",
                     table=table)
    last_error: Exception | None = None
    for encoding in _ENCODINGS:
        try:
            # Only the header line: the 64 KiB cut may split a multi-byte character.
            first_line = head.splitlines()[0].decode(encoding, errors="strict" if encoding != "latin-1" else "replace")
            sep = max(_DELIMITERS, key=first_line.count)
            with warnings.catch_warnings():
                # index_col=False: rows with a trailing delimiter must not shift the
                # columns; a row with extra values is an error, not silently cut.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""], skip_blank_lines=False,
                                    encoding=encoding, encoding_errors="strict", index_col=False)
            break
        except UnicodeDecodeError as exc:
            last_error = exc
        except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
            found = re.search(r"in line (\d+)", str(exc))
            raise _error(str(path), f"cannot read the file as CSV: {str(exc).strip()}",
                         "check that every row has as many fields as the header and that quotes are closed", table=table,
                         line=int(found.group(1)) if found else None) from None
    else:  # pragma: no cover - latin-1 decodes any byte
        raise _error(str(path), f"cannot decode the file: {last_error}", "save it as UTF-8", table=table)
    frame.columns = [str(c).strip() for c in frame.columns]
    lines = np.arange(2, len(frame) + 2)
    keep = np.ones(len(frame), bool)
    if len(frame.columns):  # a line of nothing but delimiters or spaces is a blank line
        keep = ~frame.apply(lambda column: column.isna() | column.str.strip().eq("")).all(axis=1).to_numpy()
    return RawTable(table, frame[keep].reset_index(drop=True), str(path), lines[keep])


def _read_parquet(table: str, path: Path) -> RawTable:
    """The file's columns as typed: strings as pandas' Arrow-backed ``str``
    (no Python objects), dates and timestamps as ``datetime64[ns]`` (when
    in range; others are left for the date check to flag), numbers as they
    are. Read one column at a time so the Arrow copy of the whole file never
    sits beside the frame."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
        columns = {}
        pandas_index = {c for c in (handle.schema_arrow.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
        for name in handle.schema_arrow.names:
            if name in pandas_index:  # a DataFrame index pandas stored (to_parquet): not data
                continue
            columns[str(name).strip()] = _arrow_to_pandas(handle.read(columns=[name], use_threads=True).column(0))
            pa.default_memory_pool().release_unused()  # the decode buffers: freed, not kept by the allocator
        rows = handle.metadata.num_rows
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise _error(str(path), f"cannot read the file as Parquet: {exc}", "re-export the table as Parquet or CSV", table=table) from None
    frame = pd.DataFrame(columns, index=pd.RangeIndex(rows), copy=False) if columns else pd.DataFrame(index=pd.RangeIndex(rows))
    return RawTable(table, frame, str(path), np.arange(1, rows + 1), unit="row")


def _arrow_to_pandas(column) -> pd.Series:
    """One Arrow column as a pandas Series, without Python objects where the
    contract's dtype allows (see :func:`_read_parquet`)."""
    import pyarrow as pa

    kind = column.type
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
        grid = pd.read_excel(path, sheet_name=0, header=None, dtype=str)
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
    body = grid.iloc[best + 1:].copy()
    body.columns = header
    lines = np.arange(best + 2, best + 2 + len(body))
    keep = ~body.isna().all(axis=1).to_numpy()
    return RawTable(table, body[keep].reset_index(drop=True), f"{path}", lines[keep])


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
        return _hide_password(self.source)

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

                self._connection = duckdb.connect(str(self.path), read_only=True)
            elif self.dialect == "sqlite":
                import sqlite3

                self._connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            else:
                import sqlalchemy

                engine = sqlalchemy.create_engine(self.source)
                self._connection = engine.connect()
                if engine.dialect.name == "postgresql":
                    self._connection.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        except Exception as exc:  # drivers raise their own types
            raise _error(self.describe(), f"cannot connect to the database: {_hide_password(str(exc)).splitlines()[0]}",
                         "check the URL, that the server is running and that the driver is installed") from None
        return self._connection

    def table_names(self) -> dict[str, str]:
        if self._tables is None:
            connection = self._connect()
            if self.dialect == "duckdb":
                names = [row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()]
            elif self.dialect == "sqlite":
                names = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type IN ('table','view')").fetchall()]
            else:
                import sqlalchemy

                inspector = sqlalchemy.inspect(connection)
                names = inspector.get_table_names() + inspector.get_view_names()
            self._tables = {name.casefold(): name for name in names}
        return self._tables

    def listing(self) -> str:
        return ", ".join(self.table_names().values()) or "no tables"

    def read(self, table: str, location: str | None = None, expected: set[str] | None = None) -> RawTable | None:
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
            raise _error(self.describe(), f"cannot read table {actual!r}: {exc}", "check the table in the database", table=table) from None
        frame.columns = [str(c).strip() for c in frame.columns]
        return RawTable(table, frame, f"{self.describe()} table {actual}", np.arange(1, len(frame) + 1), unit="row")

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


def _hide_password(text: str) -> str:
    import re

    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


def open_source(source) -> FolderSource | SQLSource:
    """The right reader for ``source``: a folder, a database file or a URL."""
    text = str(source)
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme.startswith("duckdb"):
            return SQLSource(text, dialect="duckdb", path=Path(text.split(":///", 1)[-1]))
        if scheme.startswith("sqlite") and ":///" in text and ":memory:" not in text:
            return SQLSource(text, dialect="sqlite", path=Path(text.split(":///", 1)[-1]))
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
