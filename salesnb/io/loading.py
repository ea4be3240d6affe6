"""``salesnb.load``: a data source in, typed and checked contract tables out.

The steps, each in its own module: :mod:`salesnb.io.sources` reads raw tables,
:mod:`salesnb.io.mapping` reads how a CRM export's files, columns and values are
renamed and :mod:`salesnb.io.apply_mapping` applies it to a raw table,
:mod:`salesnb.io.validation` parses and checks every cell and row; a large folder's
biggest tables are read and checked by a second process (:mod:`salesnb.io.parallel_read`). Rows that
break the contract are set aside in ``Dataset.quarantine`` (counted and
listed, never silently dropped) or, with ``strict=True``, stop the load.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from salesnb.errors import DataError, Problem
from salesnb.io import parallel_read
from salesnb.io.apply_mapping import apply_mapping, file_headers, match_columns, name_file_headers
from salesnb.io.categorical import is_categorical, map_categories, release_arrow_memory
from salesnb.io.dataset import Dataset, conform
from salesnb.io.mapping import (
    Mapping,
    TableMapping,
    check_file_inside,
    is_pattern,
    read_mapping,
)
from salesnb.io.raw_tables import PART_LINES, RawTable, normalise_column_name, unreadable
from salesnb.io.schema import CATEGORY, ID, REQUIRED_TABLES, TABLES
from salesnb.io.sources import FILE_SUFFIXES, FolderSource, open_source
from salesnb.io.urls import remember
from salesnb.io.validation import Checked, check_references, check_table

QUARANTINE_COLUMNS = ["table", "file", "line", "flags", "problems", "record"]


#: The runner's snapshot finder (None: every load reads its source); see :func:`use_snapshots`.
_snapshots = None


def use_snapshots(finder) -> None:
    """Have :func:`load` ask ``finder(source, mapping, strict=..., expectations=...)``
    first and return what it gives (None: read the source as usual).

    The one seam between loading and the report runner: a batch loads its
    data once and the process that runs its reports installs the batch's
    snapshot here (:func:`salesnb.run.cache.install`). ``use_snapshots(None)``
    removes it. An analyst's notebook never has one installed.
    """
    global _snapshots
    _snapshots = finder


def load(
    source: str | os.PathLike,
    mapping: str | os.PathLike | None = None,
    *,
    strict: bool = False,
    expectations: str | os.PathLike | None = None,
) -> Dataset:
    """Read ``source`` (folder, SQLite/DuckDB file or SQLAlchemy URL) into a
    :class:`~salesnb.io.dataset.Dataset`.

    ``mapping`` is a mapping.yml path (default: ``mapping.yml`` beside the
    data, if any); ``expectations`` an expectations.yml path (default: the
    one beside the data). With ``strict`` any problem raises
    :class:`~salesnb.errors.DataError`; otherwise bad rows are quarantined.
    """
    remember(source)  # a URL's secrets are hidden from every message (salesnb.io.urls), a cached load's too
    if _snapshots is not None:  # a report of a batch: the runner's copy of the data (see use_snapshots)
        if (snapshot := _snapshots(source, mapping, strict=strict, expectations=expectations)) is not None:
            return snapshot
    src = open_source(source)
    child = None
    try:
        mapping_path = mapping if mapping is not None else src.sidecar("mapping.yml")
        table_map = read_mapping(mapping_path)
        child = _start_child(src, table_map)  # before the hash thread: a fork copies the calling thread alone
        if isinstance(src, FolderSource):
            src.hash_meanwhile()  # the fingerprint's hashes on the other core, while the tables load
        raws, checked, reading = _read_and_check(src, table_map, child)
        child = None
        check_references(checked)
        for name, raw in raws.items():
            name_file_headers(checked[name].problems, file_headers(raw, table_map.for_table(name)))
            _place_problems(checked[name].problems, raw)
        expectations_path = expectations if expectations is not None else src.sidecar("expectations.yml")
        goals, goal_warnings = None, []
        if expectations_path is not None:  # its errors stop the load; its warnings join the data's problems
            goals, goal_warnings = _read_expectations(expectations_path, reps=checked["reps"].frame)
        extra = Path(mapping_path).read_bytes() if mapping_path is not None else b""
        fingerprint = src.fingerprint(extra + (Path(expectations_path).read_bytes() if expectations_path else b""))
        if isinstance(src, FolderSource):
            unread = _unread_files(src, table_map, reading, sidecars=(mapping_path, expectations_path))
        else:
            unread = []
    finally:
        if child is not None:
            child.discard()
        if hasattr(src, "close"):
            src.close()

    problems = sorted([*(p for c in checked.values() for p in c.problems), *goal_warnings], key=lambda p: (p.file, p.line or 0))
    notes = [note for c in checked.values() for note in c.notes]
    if strict and problems:
        raise DataError(problems)
    tables = {name: conform(name, c.frame[~c.bad] if c.bad.any() else c.frame) for name, c in checked.items()}
    _canonical_categories(tables)
    dataset = Dataset(
        tables=tables,
        problems=problems,
        quarantine=_quarantine(checked, raws),
        expectations=goals,
        source=src.describe(),
        files={name: ", ".join(raw.files) for name, raw in raws.items()},
        notes=notes,
        keys_unique=True,
        left_out=dict(reading.left_out),
        unread=unread,
        inputs=sorted(reading.read),
    )
    dataset.fingerprint = fingerprint or _frames_fingerprint(tables)
    release_arrow_memory()  # a large load does not keep its high-water mark
    return dataset


@dataclasses.dataclass
class _Reading:
    """What reading the tables found beside them: rows left out by a
    mapping's ``where:`` (per table) and every file read."""

    left_out: dict[str, int] = dataclasses.field(default_factory=dict)
    read: set[str] = dataclasses.field(default_factory=set)


class _Child:
    """The tables a forked child reads and checks (:mod:`salesnb.io.parallel_read`)."""

    def __init__(self, tables: tuple[str, ...], forked, started: float):
        self.tables = tables
        self.forked = forked
        self.started = started

    def result(self):
        """{table: (raw, checked)}, or FAILED; waits at most 30 s more than thrice the parent's time so far."""
        return self.forked.result(timeout=30 + 3 * (time.monotonic() - self.started))

    def discard(self) -> None:
        self.forked.discard()


def _child_tables(src, table_map: Mapping) -> tuple[str, ...]:
    """The tables a child process reads and checks while this one does the rest: for a
    folder of ``parallel_read.MIN_BYTES`` or more, its largest file's table and then the
    next largest that keep the child's share under ``CHILD_SHARE`` of the bytes. Only a
    table read from its own ``<table>.<ext>`` file, no ``where:`` and no table derived from
    it (what the child hands back is then the table's whole story)."""
    if not isinstance(src, FolderSource):
        return ()
    try:
        total = sum(path.stat().st_size for path in src.files())
        if total < parallel_read.MIN_BYTES:
            return ()
        bases = {table_map.for_table(name).derived_from for name in TABLES}
        sizes = {}
        for name in TABLES:
            spec = table_map.for_table(name)
            if spec.left_out or spec.derived_from or spec.where or spec.files or name in bases:
                continue
            path = src.locate(name, None)
            if path is not None:
                sizes[name] = path.stat().st_size
    except Exception:  # noqa: BLE001 - an unreadable folder or file: the load says so, as without a child
        return ()
    chosen, share = [], 0
    for name in sorted(sizes, key=sizes.get, reverse=True):
        if not chosen or share + sizes[name] <= CHILD_SHARE * total:
            chosen.append(name)
            share += sizes[name]
    return tuple(sorted(chosen, key=list(TABLES).index))


#: The child's part of a large source's bytes (its largest file's table at least); see _child_tables.
CHILD_SHARE = 0.42


def _start_child(src, table_map: Mapping) -> _Child | None:
    """A forked child reading and checking some of a large folder's tables, or None."""
    tables = _child_tables(src, table_map)
    if not tables:
        return None
    from salesnb.io import csv_files, excel_files, parquet_files  # noqa: F401 - imported once, before the fork

    def work():
        reading = _Reading()
        out = {}
        for name in tables:
            out[name] = _read_table(src, name, table_map.for_table(name), reading)
        for name in tables:
            out[name] = (out[name], _check_one(out[name], table_map.for_table(name)))
        return out

    started = time.monotonic()
    forked = parallel_read.start(work)
    return None if forked is None else _Child(tables, forked, started)


def _read_and_check(src, table_map: Mapping, child: _Child | None) -> tuple[dict, dict, _Reading]:
    """Every table read, mapped and checked (``child``'s tables by the child, meanwhile):
    raw and checked tables in the order of the load without a child, and what reading found.

    The child's failure leaves its tables to this process, in the order (and so with the
    errors) of a load without a child: if this process's own tables raised nothing, the
    child's tables are read and then checked here; if they raised too, the whole load is
    done again here (an error raised first by a child's table comes first)."""
    reading = _Reading()
    if child is None:
        raws = _read_tables(src, table_map, reading)
        return raws, {name: _check_one(raw, table_map.for_table(name)) for name, raw in raws.items()}, reading
    try:
        try:
            raws = _read_tables(src, table_map, reading, elsewhere=child.tables)
            checked = {name: None if raw is None else _check_one(raw, table_map.for_table(name)) for name, raw in raws.items()}
        except Exception:
            if child.result() is not parallel_read.FAILED:
                raise  # the child's tables raise nothing: this error is the load's first, as without a child
            return _read_and_check(src, table_map, None)
        found = child.result()
    finally:
        child.discard()
    if found is parallel_read.FAILED:
        for name in child.tables:
            raws[name] = _read_table(src, name, table_map.for_table(name), reading)
            if raws[name] is None:  # its file went away meanwhile: the load as without a child says so
                return _read_and_check(src, table_map, None)
        found = {name: (raws[name], _check_one(raws[name], table_map.for_table(name))) for name in child.tables}
    for name, (raw, done) in found.items():
        raws[name], checked[name] = raw, done
        reading.read.update(raw.files)
    return raws, checked, reading


def _read_table(src, name: str, spec: TableMapping, reading: _Reading) -> RawTable | None:
    """Table ``name`` as read from its file(s), the rows a ``where:`` keeps (None: no file)."""
    raw = _read_one(src, name, spec, spec.files)
    if raw is None:
        return None
    raw = _keep_rows(raw, spec, reading)
    reading.read.update(raw.files)
    return raw


def _check_one(raw: RawTable, spec: TableMapping) -> Checked:
    """A raw table mapped to the contract and checked on its own (references apart)."""
    name = raw.name
    frame = apply_mapping(raw, spec)
    checked = check_table(name, frame, file=raw.file, lines=raw.lines, unit=raw.unit, formats=spec.formats)
    _flag_nul_ids(checked)
    checked.problems[:0] = raw.problems  # warnings from reading the file (e.g. a line in another encoding)
    release_arrow_memory()
    return checked


def _read_tables(src, table_map: Mapping, reading: _Reading, elsewhere: tuple[str, ...] = ()) -> dict[str, RawTable]:
    """The raw tables in their order; a table in ``elsewhere`` (read by a child) is None in its place."""
    raws: dict[str, RawTable] = {}
    derived: list[str] = []
    for name in TABLES:
        spec = table_map.for_table(name)
        if spec.left_out:
            continue
        if spec.derived_from:
            derived.append(name)
            continue
        if isinstance(src, FolderSource):
            check_file_inside(src.path, name, spec, where=table_map.path)
        if name in elsewhere:
            raws[name] = None
            continue
        raw = _read_table(src, name, spec, reading)
        if raw is not None:
            raws[name] = raw
    for name in derived:
        spec = table_map.for_table(name)
        if spec.derived_from in TABLES:
            if spec.derived_from not in raws:
                raise DataError(
                    Problem(
                        name,
                        table_map.path,
                        spec.file_line,
                        f"tables.{name}.from",
                        spec.derived_from,
                        f"{name} is to be derived from {spec.derived_from!r}, which the source does not have",
                        f"add the {spec.derived_from} table or give {name} a file",
                        "bad_mapping",
                    )
                )
            base = _keep_rows(dataclasses.replace(raws[spec.derived_from], name=name), spec, reading)
        else:  # any file (or database table): its rows, filtered by where:, repeated rows collapsed
            base = _keep_rows(_read_one(src, name, spec, (spec.derived_from,)), spec, reading)
            reading.read.update(base.files)
        raws[name] = _derive(name, base, spec)
    missing = [name for name in REQUIRED_TABLES if name not in raws]
    if missing:
        raise DataError(
            [
                Problem(
                    name,
                    src.describe(),
                    None,
                    None,
                    None,
                    f"the required table {name!r} is missing",
                    f"add {name}.csv (or .parquet/.xlsx, or a database table named {name}), or name its file in mapping.yml; "
                    f"found: {src.listing()}",
                    "missing_required",
                )
                for name in missing
            ]
        )
    return raws


def _read_one(src, name: str, spec: TableMapping, locations: tuple[str, ...]) -> RawTable | None:
    """Table ``name`` from its file (``locations``: the mapping's names or
    patterns; none: ``<name>.csv`` ...), several files concatenated."""
    expected = set(spec.source_columns()) | set(spec.where) | set(TABLES[name].column_names)
    categorical = {
        normalise_column_name(spec.columns.get(c.name, c.name))
        for c in TABLES[name].columns
        if c.categorical and isinstance(spec.columns.get(c.name, c.name), str)
    }
    if not locations:
        return src.read(name, None, expected, categorical=categorical)
    names: list[str] = []
    for location in locations:
        if not is_pattern(location):
            names.append(location)
        elif isinstance(src, FolderSource):
            names += src.matching(name, location)
        else:
            raise unreadable(
                src.describe(),
                f"the mapping names table {name!r} by the pattern {location!r}; a database's tables are named one by one",
                f"write table: [{location.replace('*', '2024')}, ...]; tables there: {src.listing()}",
                table=name,
            )
    parts = [src.read(name, location, expected, categorical=categorical) for location in dict.fromkeys(names)]
    return parts[0] if len(parts) == 1 else _concat(name, parts)


def _concat(name: str, parts: list[RawTable]) -> RawTable:
    """Several raw tables as one: rows in file order, columns the union
    (a column one file lacks is blank in its rows), every row still
    locatable in its own file (:meth:`RawTable.place`)."""
    frame = pd.concat([part.frame for part in parts], ignore_index=True)
    lines = np.concatenate([np.asarray(part.lines, dtype=np.int64) + k * PART_LINES for k, part in enumerate(parts)])
    return RawTable(
        name,
        frame,
        parts[0].file,
        lines,
        parts[0].unit,
        [p for part in parts for p in part.problems],
        parts=tuple((part.file, part.unit) for part in parts),
    )


def _keep_rows(raw: RawTable, spec: TableMapping, reading: _Reading) -> RawTable:
    """``raw`` with only the rows a mapping's ``where:`` keeps (values
    matched as text, trimmed, case-insensitively); the rest are counted in
    ``reading.left_out``, never reported as bad."""
    if not spec.where:
        return raw
    found = match_columns(raw.frame.columns, spec.where)
    missing = [column for column in spec.where if column not in found]
    if missing:
        raise DataError(
            Problem(
                raw.name,
                ", ".join(raw.files),
                None,
                missing[0],
                None,
                f"the mapping keeps {raw.name} rows by column {missing[0]!r} (where:), which is not in the file",
                f"columns found: {', '.join(map(str, raw.frame.columns))}",
                "bad_mapping",
            )
        )
    keep = np.ones(len(raw.frame), dtype=bool)
    for column, values in spec.where.items():
        wanted = {value.strip().casefold() for value in values}
        text = raw.frame[found[column]].astype("string").str.strip().str.casefold()
        keep &= text.isin(wanted).fillna(False).to_numpy(dtype=bool)
    dropped = int((~keep).sum())
    reading.left_out[raw.name] = reading.left_out.get(raw.name, 0) + dropped
    if not dropped:
        return raw
    return dataclasses.replace(raw, frame=raw.frame[keep].reset_index(drop=True), lines=np.asarray(raw.lines)[keep])


def _derive(name: str, base: RawTable, spec: TableMapping) -> RawTable:
    """A table built from the distinct values of another table's (or
    file's) columns (``reps: {from: opportunities, columns: {rep_id: Owner,
    name: Owner}}``): repeated rows collapse to the first."""
    sources = spec.source_columns()
    found = match_columns(base.frame.columns, sources)
    missing = [s for s in sources if s not in found]
    if missing:
        raise DataError(
            Problem(
                name,
                base.file,
                None,
                missing[0],
                None,
                f"the mapping derives {name} from column {missing[0]!r}, which {base.file} does not have",
                f"columns found: {', '.join(map(str, base.frame.columns))}",
                "bad_mapping",
            )
        )
    frame = base.frame[[found[s] for s in sources]].copy()
    frame.columns = sources
    first = ~frame.astype("string").duplicated()
    frame = frame[first.to_numpy()].reset_index(drop=True)
    lines = np.asarray(base.lines)[first.to_numpy()]
    return dataclasses.replace(base, name=name, frame=frame, lines=lines, problems=[])


def _place_problems(problems: list[Problem], raw: RawTable) -> None:
    """Problems of a table read from several files name the file and line of each row."""
    if not raw.parts:
        return
    for i, p in enumerate(problems):
        if p.line is not None and p.file == raw.file and p.line >= PART_LINES:
            file, line, unit = raw.place(p.line)
            problems[i] = dataclasses.replace(p, file=file, line=line, unit=unit)


def _unread_files(src: FolderSource, table_map: Mapping, reading: _Reading, *, sidecars) -> list[tuple[str, str]]:
    """(file, why) for each file of a folder source that was not read."""
    read = {Path(f).resolve() for f in reading.read}
    read |= {Path(f).resolve() for f in sidecars if f is not None}
    by_table = {name.casefold(): name for name in TABLES}
    out = []
    for path in src.files():
        if path.resolve() in read or path.name.casefold() in (
            "mapping.yml",
            "mapping.yaml",
            "expectations.yml",
            "expectations.yaml",
        ):
            continue
        table = by_table.get(path.stem.casefold())
        spec = table_map.for_table(table) if table else None
        if path.suffix.lower() not in FILE_SUFFIXES:
            why = f"not a file salesnb reads ({', '.join(FILE_SUFFIXES)})"
        elif spec is not None and spec.left_out:
            why = f"left out by the mapping ({table}: false)"
        elif spec is not None and (spec.files or spec.derived_from):
            why = f"the mapping reads {table} from {', '.join(spec.files) or spec.derived_from}"
        else:
            why = f"not named after a contract table ({', '.join(TABLES)}) nor named in the mapping"
        out.append((path.name, why))
    return out


def _flag_nul_ids(checked: Checked) -> None:
    """Set aside a row whose ID holds a NUL character (``\\x00``): invisible,
    it cuts the ID short in some programs and not in others, so "R1\\x00X"
    could print as R1 and be taken for it. A categorical column is checked
    once per distinct value."""
    for column in TABLES[checked.name].columns:
        if column.kind != ID:
            continue
        values = checked.frame[column.name]
        if is_categorical(values):
            bad_categories = np.asarray(values.cat.categories.str.contains("\x00", regex=False), dtype=bool)
            if not bad_categories.any():
                continue
            codes = values.cat.codes.to_numpy()
            mask = (codes >= 0) & bad_categories[np.maximum(codes, 0)]
        else:
            mask = values.str.contains("\x00", regex=False, na=False).to_numpy(dtype=bool)
        checked.flag_rows(
            mask,
            column=column.name,
            flag="bad_value",
            message="the ID holds a NUL character (\\x00): invisible, and many programs cut the ID short at it",
            hint="delete the NUL character from the ID (the export or a tool damaged the cell); "
            "re-export the file if many cells hold one",
        )


def _canonical_categories(tables: dict[str, pd.DataFrame]) -> None:
    """One spelling per free-text category across all tables: the first seen.

    Categories are kept as written but match case-insensitively, so "north"
    in customers and "North" in reps are the same territory.
    """
    by_column: dict[str, list[str]] = {}
    for name in tables:
        for col in TABLES[name].columns:
            if col.kind == CATEGORY:
                by_column.setdefault(col.name, []).append(name)
    for column, names in by_column.items():
        # each table's distinct values, in first-seen order (no concatenated copy of the columns)
        found = [_first_seen(tables[n][column]) for n in names]
        found = [values for values in found if len(values)]
        if not found:
            continue
        unique = pd.Series(pd.concat(found, ignore_index=True).unique(), dtype="str")
        canonical = pd.Series(unique.to_numpy(), index=unique.str.casefold()).groupby(level=0).first()
        if len(canonical) == len(unique):
            continue  # no two spellings of one value
        lookup = dict(zip(unique, unique.str.casefold().map(canonical)))
        for n in names:
            values = tables[n][column]
            tables[n][column] = (
                map_categories(values, lambda text: text.map(lambda v: lookup.get(v, v)))  # noqa: B023 - called at once
                if is_categorical(values)
                else values.map(lookup).astype("str")
            )


def _first_seen(values: pd.Series) -> pd.Series:
    """The distinct values of a column, in the order of their first row
    (for a categorical: from its codes, not one string per row)."""
    if not is_categorical(values):
        return pd.Series(values.dropna().unique())
    codes = values.array.codes
    return pd.Series(values.cat.categories.take(pd.unique(codes[codes >= 0])), dtype="str")


def _quarantine(checked: dict[str, Checked], raws: dict[str, RawTable]) -> pd.DataFrame:
    """One row per set-aside record: where it was, why, and its raw values."""
    rows = []
    for name, c in checked.items():
        if not c.bad.any():
            continue
        by_line: dict[int, list[Problem]] = {}
        for p in c.problems:
            if p.severity == "error":
                by_line.setdefault(p.line, []).append(p)
        raw = raws[name].frame
        for pos in np.flatnonzero(c.bad):
            file, line, _ = raws[name].place(int(c.lines[pos]))
            found = [p for p in by_line.get(line, []) if p.file == file]
            record = {str(k): (None if v != v else str(v)) for k, v in raw.iloc[pos].items()}
            rows.append(
                {
                    "table": name,
                    "file": file,
                    "line": line,
                    "flags": ";".join(dict.fromkeys(p.flag for p in found)),
                    "problems": "; ".join(f"{p.source_column or p.column}: {p.message}" for p in found),
                    "record": json.dumps(record, ensure_ascii=False),
                }
            )
    return pd.DataFrame(rows, columns=QUARANTINE_COLUMNS)


def _frames_fingerprint(tables: dict[str, pd.DataFrame]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(tables):
        digest.update(name.encode())
        digest.update(pd.util.hash_pandas_object(tables[name], index=False).to_numpy().tobytes())
    return digest.hexdigest()


def read_expectations(path) -> dict:
    """expectations.yml as a dict with ``default``, ``teams`` and ``reps`` keys
    (a file with none of them is read as ``default``). A value of the wrong
    shape or a bad target raises :class:`DataError` with the file and line
    (see :func:`salesnb.io.expectations_file.check`)."""
    return _read_expectations(path)[0]


def _read_expectations(path, *, reps: pd.DataFrame | None = None) -> tuple[dict, list[Problem]]:
    """The expectations and their warnings (unknown keys; with ``reps``,
    teams:/reps: entries naming nobody in it); errors raise DataError."""
    from salesnb.io.expectations_file import check, normalise
    from salesnb.io.yamlfile import read_yaml

    path = Path(path)
    try:
        document = read_yaml(path, table="expectations", flag="bad_expectations")
    except FileNotFoundError:
        raise DataError(
            Problem(
                "expectations",
                str(path),
                None,
                None,
                None,
                f"expectations file not found: {path}",
                "pass the path of an existing expectations.yml",
                "bad_expectations",
            )
        ) from None
    found = check(document.data, file=str(path), source=document, reps=reps)
    errors = [p for p in found if p.severity == "error"]
    if errors:
        raise DataError(errors)
    return normalise(document.data), [p for p in found if p.severity != "error"]
