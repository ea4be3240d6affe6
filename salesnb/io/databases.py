"""Reading tables from a database: a SQLite or DuckDB file (opened read-only
by its own driver, never fetching an extension) or any SQLAlchemy URL.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd

from salesnb.errors import DataError
from salesnb.io.raw_tables import RawTable, RowNumbers, unreadable
from salesnb.io.urls import mask_text, mask_url

__all__ = ["SQLSource"]

_DUCKDB_OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


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
                    raise unreadable(
                        self.describe(),
                        f"another program{who} has the database open for writing, so it cannot be read now",
                        "close that program (or its connection to the file) and run again; or copy the file and pass the copy",
                    ) from None
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
                        raise unreadable(
                            self.describe(),
                            "the file is a DuckDB database, not a SQLite one",
                            f"give it the .duckdb name ({Path(self.path).stem}.duckdb), or pass it as duckdb:///{self.path}",
                        ) from None
                    raise unreadable(
                        self.describe(),
                        f"the file is not a SQLite database ({exc})",
                        "pass a SQLite database file; for CSV, Parquet or Excel files, pass the folder that holds them",
                    ) from None
            else:
                import sqlalchemy

                engine = sqlalchemy.create_engine(_with_installed_driver(self.source))
                self._connection = engine.connect()
                if engine.dialect.name == "postgresql":
                    # Every transaction of the session read-only; the SET itself ran in the one
                    # the connection opened, which it does not cover: end that one first.
                    self._connection.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                    self._connection.commit()
        except DataError:
            raise
        except Exception as exc:  # drivers raise their own types
            raise unreadable(
                self.describe(),
                f"cannot connect to the database: {mask_text(str(exc), self.source).splitlines()[0]}",
                "check the URL, that the server is running and that the driver is installed",
            ) from None
        return self._connection

    def _check_duckdb_file(self) -> None:
        """Name what a DuckDB source file really is when it is not one (a
        SQLite database named .duckdb, a text file), before DuckDB tries
        to open it (and to fetch an extension for it)."""
        if str(self.path) == ":memory:":
            return
        path = Path(self.path)
        if not path.exists():
            raise unreadable(
                self.describe(),
                "the DuckDB database file does not exist",
                "check the path (duckdb:///name.duckdb is relative to the current folder, "
                "duckdb:////abs/path.duckdb absolute); salesnb never creates a database",
            )
        kind = _file_kind(path)
        if kind is None and path.is_file() and path.stat().st_size == 0:
            raise unreadable(
                self.describe(),
                "the file is empty, not a DuckDB database",
                "pass the DuckDB database file that holds the tables (the empty one may be a failed copy)",
            )
        if kind == "sqlite":
            raise unreadable(
                self.describe(),
                "the file is a SQLite database, not a DuckDB one",
                f"give it a .sqlite name ({path.stem}.sqlite), or pass it as sqlite:///{path}",
            )
        if kind != "duckdb":
            raise unreadable(
                self.describe(),
                "the file is not a DuckDB database (nor any database salesnb reads)",
                "pass a DuckDB or SQLite database file; for CSV, Parquet or Excel files, pass the folder that holds them",
            )

    def table_names(self) -> dict[str, str]:
        if self._tables is None:
            connection = self._connect()
            try:
                if self.dialect == "duckdb":
                    names = [row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()]
                elif self.dialect == "sqlite":
                    names = [
                        row[0]
                        for row in connection.execute("SELECT name FROM sqlite_master WHERE type IN ('table','view')").fetchall()
                    ]
                else:
                    import sqlalchemy

                    inspector = sqlalchemy.inspect(connection)
                    names = inspector.get_table_names() + inspector.get_view_names()
            except Exception as exc:  # drivers raise their own types
                raise unreadable(
                    self.describe(),
                    f"cannot list the tables of the database: {mask_text(str(exc), self.source).splitlines()[0]}",
                    "check that the source is a readable database and that you may read its tables",
                ) from None
            self._tables = {name.casefold(): name for name in names}
        return self._tables

    def listing(self) -> str:
        return ", ".join(self.table_names().values()) or "no tables"

    def read(
        self, table: str, location: str | None = None, expected: set[str] | None = None, categorical: set[str] = frozenset()
    ) -> RawTable | None:
        """The raw table (``categorical`` is for files; the loader converts these columns)."""
        wanted = location or table
        actual = self.table_names().get(wanted.casefold())
        if actual is None:
            if location is not None:
                raise unreadable(
                    self.describe(),
                    f"the mapping says table {table!r} is in {location!r}, which the database does not have",
                    f"tables there: {self.listing()}",
                    table=table,
                )
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
            raise unreadable(
                self.describe(),
                f"cannot read table {actual!r}: {mask_text(exc, self.source)}",
                "check the table in the database",
                table=table,
            ) from None
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


def _with_installed_driver(url: str):
    """``url``, or for a bare ``postgresql://`` URL with psycopg 3 installed
    (the ``postgres`` extra) and psycopg2 not, the same URL for psycopg 3:
    SQLAlchemy 2.0 takes psycopg2 for a bare URL (2.1 takes psycopg)."""
    import importlib.util

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername != "postgresql" or importlib.util.find_spec("psycopg2") is not None:
        return url
    if importlib.util.find_spec("psycopg") is None:
        return url
    return parsed.set(drivername="postgresql+psycopg")


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
