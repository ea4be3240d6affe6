"""Reading raw tables from a data source: a folder of files or a database.

A source hands back each table as found (its own column names, cells as
text or as the database typed them) together with where every row came
from, so that later checks can say "deals.csv, line 14". Nothing here
interprets values; :mod:`salesnb.io.validation` does. Each kind of file has
its reader (:mod:`~salesnb.io.csv_files`, :mod:`~salesnb.io.excel_files`,
:mod:`~salesnb.io.parquet_files`); databases are read by
:mod:`salesnb.io.databases`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from salesnb.io.urls import mask_url, remember

if TYPE_CHECKING:
    from salesnb.io.databases import SQLSource
    from salesnb.io.raw_tables import RawTable

# The readers (pandas, pyarrow, openpyxl) are imported when a table is read: the suffixes and
# database_file() serve `salesnb report`'s checks before any table is loaded (an unchanged rerun
# answers without importing pandas).

__all__ = ["DUCKDB_SUFFIXES", "FILE_SUFFIXES", "SQLITE_SUFFIXES", "FolderSource", "SQLSource", "database_file", "open_source"]

FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".xlsx", ".xlsm")
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
DUCKDB_SUFFIXES = (".duckdb", ".ddb")


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

    def files(self) -> list[Path]:
        """Every file in the folder, by name."""
        return list(self._files.values())

    def matching(self, table: str, pattern: str) -> list[str]:
        """The files a ``file:`` glob pattern (``calls_*.csv``) names, by name;
        a pattern that matches none is an error listing the folder's files."""
        base = Path(pattern) if Path(pattern).is_absolute() else self.path / pattern
        found = sorted(str(p) for p in base.parent.glob(base.name) if p.is_file())
        if not found:
            raise unreadable(
                str(base),
                f"the mapping says table {table!r} is in the files {pattern!r}, and no file matches",
                f"files in {self.path}: {self.listing()}",
                table=table,
            )
        return found

    def locate(self, table: str, location: str | None) -> Path | None:
        """The file holding ``table``: the mapping's ``file:``, else ``<table>.<ext>``."""
        if location is not None:
            path = (self.path / location) if not Path(location).is_absolute() else Path(location)
            if not path.is_file():
                raise unreadable(
                    str(path),
                    f"the mapping says table {table!r} is in {location!r}, which does not exist",
                    f"files in {self.path}: {', '.join(sorted(p.name for p in self._files.values())) or 'none'}",
                    table=table,
                )
            return path
        candidates = [self._files[f"{table}{suffix}"] for suffix in FILE_SUFFIXES if f"{table}{suffix}" in self._files]
        if len(candidates) > 1:
            raise unreadable(
                str(self.path),
                f"table {table!r} is in more than one file: {', '.join(p.name for p in candidates)}",
                "keep one of them, or name the right one with file: in mapping.yml",
                table=table,
            )
        return candidates[0] if candidates else None

    def read(
        self, table: str, location: str | None = None, expected: set[str] | None = None, categorical: set[str] = frozenset()
    ) -> RawTable | None:
        """The raw table; ``categorical``: the (normalised) names of columns
        whose strings repeat, which Parquet hands back as categoricals."""
        path = self.locate(table, location)
        if path is None:
            return None
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            from salesnb.io.parquet_files import read_parquet_table

            return read_parquet_table(table, path, categorical)
        if suffix in (".xlsx", ".xlsm"):
            from salesnb.io.excel_files import read_excel_table

            return read_excel_table(table, path, expected or set())
        from salesnb.io.csv_files import read_csv_table

        return read_csv_table(table, path, expected)

    def listing(self) -> str:
        return ", ".join(p.name for p in self._files.values()) or "no files"

    def hash_meanwhile(self) -> None:
        """Start hashing the files no quick check has hashed, in a thread, while
        the tables are read and checked (hashlib and file reads let go of the
        GIL: the second core hashes); :meth:`fingerprint` waits for it."""
        import threading

        unknown = [path for path in self._files.values() if not _noted(path)]
        if not unknown:
            return
        self._hashed: dict[Path, str] = {}

        def work():
            for path in unknown:
                try:
                    self._hashed[path] = file_sha256(path)
                except OSError:
                    return  # the fingerprint hashes it again, and says why it cannot

        self._hashing = threading.Thread(target=work, name="salesnb-fingerprint", daemon=True)
        self._hashing.start()

    def fingerprint(self, extra: bytes = b"") -> str:
        """A sha256 over ``extra`` and each file's name and own sha256
        (:func:`file_sha256`: a file the runner's quick check hashed is not
        read again; one :meth:`hash_meanwhile` hashed is not either)."""
        hashing = getattr(self, "_hashing", None)
        if hashing is not None:
            hashing.join()
        hashed = getattr(self, "_hashed", {})
        digest = hashlib.sha256(extra)
        for path in self._files.values():
            digest.update(path.name.encode())
            digest.update(bytes.fromhex(hashed.get(path) or file_sha256(path)))
        return digest.hexdigest()


#: real path -> (size, mtime_ns, sha256 hex) of the files the quick check hashed (see file_sha256).
_DIGESTS: dict[str, tuple[int, int, str]] = {}


def remember_sha256(path, size: int, mtime_ns: int, digest: str) -> None:
    """Note ``path``'s sha256, found when it had ``size`` and ``mtime_ns``
    (the runner's quick check hashes the source's files before the load)."""
    if digest:
        _DIGESTS[os.path.realpath(path)] = (size, mtime_ns, digest)


def _noted(path) -> bool:
    """Whether :func:`file_sha256` of ``path`` would answer without reading it."""
    name = os.path.realpath(path)
    known = _DIGESTS.get(name)
    if known is None:
        return False
    try:
        stat = os.stat(name)
    except OSError:
        return False
    return known[:2] == (stat.st_size, stat.st_mtime_ns)


def file_sha256(path) -> str:
    """The sha256 (hex) of a file's bytes: the one noted by :func:`remember_sha256`
    while the file keeps that size and mtime, else read and hashed. Only the quick
    check notes digests, and only of files whose mtime lay a second or more before
    it (salesnb.run.quick): an edit within the same clock tick cannot hide."""
    name = os.path.realpath(path)
    stat = os.stat(name)
    known = _DIGESTS.get(name)
    if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
        return known[2]
    digest = hashlib.sha256()
    with open(name, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _url_database(text: str) -> str | None:
    """The database file a ``sqlite:///`` or ``duckdb:///`` URL names, without its query string."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(text).database
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise unreadable(
            mask_url(text),
            "the database URL is not valid",
            "write it as sqlite:///path/to/file.sqlite or duckdb:///path/to/file.duckdb",
        ) from None


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
    from salesnb.io.databases import SQLSource

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
        raise unreadable(
            text,
            "a single file is not a data source",
            "pass the folder that holds the table files, a .sqlite/.duckdb file, or a SQLAlchemy URL",
        )
    raise unreadable(
        text,
        "the data source does not exist",
        "pass a folder of CSV/Parquet/Excel files, a .sqlite/.duckdb file, or a SQLAlchemy URL such as postgresql://host/db",
    )


def unreadable(*args, **kwargs):
    """:func:`salesnb.io.raw_tables.unreadable`, imported when an error is raised."""
    from salesnb.io.raw_tables import unreadable as error

    return error(*args, **kwargs)


def __getattr__(name: str):
    if name == "SQLSource":
        from salesnb.io.databases import SQLSource

        return SQLSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
