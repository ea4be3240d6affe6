"""The mapping file: how a CRM export's files, columns and values map onto
the contract (contract section "Mapping a CRM export").

A mapping is read and checked once, up front, so a typo in it is reported
against the mapping file (with the key that is wrong and what is allowed)
before any data is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from salesnb.errors import DataError, Problem
from salesnb.io.schema import DATE, TABLES
from salesnb.io.yamlfile import read_utf8, read_yaml  # noqa: F401 (read_utf8: where it used to live)

ROW_NUMBER = "@row"


@dataclass(frozen=True)
class Const:
    """A constant given to every row (``{const: "All"}``)."""

    value: str


@dataclass
class TableMapping:
    """How one contract table is read from the source."""

    file: str | None = None
    columns: dict[str, str | Const] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    derived_from: str | None = None  # reps: {from: opportunities}
    file_line: int | None = None  # the line of file: (or table:) in the mapping file


@dataclass
class Mapping:
    tables: dict[str, TableMapping] = field(default_factory=dict)
    path: str = ""

    def for_table(self, name: str) -> TableMapping:
        return self.tables.get(name) or TableMapping()


_TABLE_KEYS = {"file", "table", "columns", "values", "formats", "from"}


def read_mapping(path: str | Path | None) -> Mapping:
    """Read and check a mapping file; ``None`` gives the empty mapping."""
    if path is None:
        return Mapping()
    path = Path(path)
    where = str(path)
    try:  # size, alias and nesting caps, located errors: salesnb.io.yamlfile
        document = read_yaml(path, table="mapping", flag="bad_mapping", what="the mapping file")
    except FileNotFoundError:
        raise DataError(
            _problem(where, None, f"mapping file not found: {path}", "pass the path of an existing mapping.yml")
        ) from None
    return parse_mapping(document.data, where=where, lines=document.line)


def parse_mapping(raw: object, *, where: str = "mapping", lines=None) -> Mapping:
    """Check a mapping given as a dict (as read from YAML); ``lines(*keys)``
    gives the line of a key in the file (:meth:`salesnb.io.yamlfile.YamlFile.line`)."""
    lines = lines or (lambda *keys: None)
    if raw is None:
        return Mapping(path=where)
    if not isinstance(raw, dict) or not isinstance(raw.get("tables"), dict):
        raise DataError(
            _problem(
                where,
                None,
                "a mapping file needs a top-level 'tables:' key holding one entry per contract table",
                "see the README section 'Mapping a CRM export'",
            )
        )
    mapping = Mapping(path=where)
    problems: list[Problem] = []
    for name, spec in raw["tables"].items():
        if name not in TABLES:
            problems.append(_problem(where, f"tables.{name}", f"unknown table {name!r}", f"use one of: {', '.join(TABLES)}"))
            continue
        if not isinstance(spec, dict):
            problems.append(
                _problem(
                    where,
                    f"tables.{name}",
                    "expected a mapping with file/columns/values",
                    "write e.g. {file: export.csv, columns: {...}}",
                )
            )
            continue
        unknown = set(spec) - _TABLE_KEYS
        if unknown:
            problems.append(
                _problem(
                    where,
                    f"tables.{name}",
                    f"unknown key(s) {sorted(unknown)}",
                    f"allowed keys: {', '.join(sorted(_TABLE_KEYS))}",
                )
            )
        for key in ("file", "table", "from"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                problems.append(
                    _problem(
                        where,
                        f"tables.{name}.{key}",
                        f"{key}: must be one name, not {spec[key]!r}",
                        "write e.g. file: deals_export.csv" if key != "from" else "write e.g. from: opportunities",
                    )
                )
                spec = {k: v for k, v in spec.items() if k != key}
        file_key = "file" if spec.get("file") else "table"
        table = TableMapping(file=spec.get(file_key), derived_from=spec.get("from"), file_line=lines("tables", name, file_key))
        if table.derived_from is not None and table.derived_from not in TABLES:
            problems.append(
                _problem(
                    where, f"tables.{name}.from", f"unknown table {table.derived_from!r}", f"use one of: {', '.join(TABLES)}"
                )
            )
        contract_columns = TABLES[name].column_names
        sections = {}
        for key in ("columns", "values", "formats"):
            sections[key] = spec.get(key) or {}
            if not isinstance(sections[key], dict):
                problems.append(
                    _problem(
                        where,
                        f"tables.{name}.{key}",
                        f"{key}: must map contract columns to values, not {sections[key]!r}",
                        f"write e.g. {key}: {{{contract_columns[0]}: ...}}; contract columns of {name}: {', '.join(contract_columns)}",
                    )
                )
                sections[key] = {}
        for column, source in sections["columns"].items():
            if column not in contract_columns:
                problems.append(
                    _problem(
                        where,
                        f"tables.{name}.columns.{column}",
                        f"{column!r} is not a column of {name}",
                        f"contract columns of {name}: {', '.join(contract_columns)}",
                    )
                )
            elif isinstance(source, dict) and set(source) == {"const"}:
                table.columns[column] = Const(str(source["const"]))
            elif isinstance(source, (str, int)):
                table.columns[column] = str(source)
            else:
                problems.append(
                    _problem(
                        where,
                        f"tables.{name}.columns.{column}",
                        f"cannot read source {source!r}",
                        'give a column name, "@row", or {const: VALUE}',
                    )
                )
        for column, translation in sections["values"].items():
            if column not in contract_columns or not isinstance(translation, dict):
                problems.append(
                    _problem(
                        where,
                        f"tables.{name}.values.{column}",
                        "values: needs a contract column and a {source: contract} dict",
                        f"contract columns of {name}: {', '.join(contract_columns)}",
                    )
                )
                continue
            table.values[column] = {str(k): str(v) for k, v in translation.items()}
        date_columns = [c.name for c in TABLES[name].columns if c.kind == DATE]
        for column, fmt in sections["formats"].items():
            key, line = f"tables.{name}.formats.{column}", lines("tables", name, "formats", column)
            if column not in contract_columns:
                problems.append(
                    _problem(
                        where,
                        key,
                        f"{column!r} is not a column of {name}",
                        f"contract columns of {name}: {', '.join(contract_columns)}",
                        line=line,
                    )
                )
                continue
            if column not in date_columns:
                problems.append(
                    _problem(
                        where,
                        key,
                        f"formats: reads dates, and {column!r} is not a date column of {name}",
                        f"date columns of {name}: {', '.join(date_columns) or 'none'}",
                        line=line,
                    )
                )
                continue
            wrong = date_format_problem(fmt)
            if wrong:
                problems.append(_problem(where, key, f"{fmt!r} is not a date format: {wrong}", FORMAT_HINT, line=line))
                continue
            table.formats[column] = fmt
        mapping.tables[name] = table
    if problems:
        raise DataError(problems)
    return mapping


def check_file_inside(folder: Path, table: str, spec: TableMapping, *, where: str) -> None:
    """Refuse a relative ``file:`` that leads out of the source ``folder``
    (``../x.csv``, or a symlink in it to a file elsewhere): a mapping copied
    beside other data must not read files nobody named. A file elsewhere is
    read only when its absolute path is written (``salesnb validate`` names it)."""
    if spec.file is None or Path(spec.file).is_absolute():
        return
    inside = Path(folder).resolve()
    target = (Path(folder) / spec.file).resolve()
    if target == inside or inside in target.parents:
        return
    raise DataError(
        _problem(
            where,
            f"tables.{table}.file",
            f"file: {spec.file!r} leads outside the source folder {folder} (to {target})",
            f"put the file in {folder}, or if you mean that file, write its absolute path: file: {target}",
            line=spec.file_line,
        )
    )


def translate(value: str, translation: dict[str, str]) -> str | None:
    """Apply a ``values:`` translation to one raw value: exact, then
    case-insensitive, then the ``"*"`` catch-all; None when none applies."""
    if value in translation:
        return translation[value]
    folded = {k.casefold(): v for k, v in translation.items()}
    key = value.strip().casefold()
    if key in folded:
        return folded[key]
    return translation.get("*")


# strftime directives a date format may use; %c, %x and %X are left out: they depend on the machine's locale.
FORMAT_DIRECTIVES = frozenset("aAbBdfGHIjmMpSuUVwWyYzZ%")
FORMAT_HINT = (
    "use strftime directives: %Y (2025) or %y (25), %m (01) or %b (Jan) or %B (January), %d (15), "
    '%H:%M:%S (time), %I and %p (1 PM), %z (+0100), %% (a percent sign); e.g. formats: {created_date: "%d/%m/%Y"}'
)


def date_format_problem(fmt: object) -> str | None:
    """What is wrong with a ``formats:`` value, or None when it reads whole dates:
    text of known strftime directives (no stray ``%``) with a year and a day."""
    if not isinstance(fmt, str) or not fmt.strip():
        return 'a format is text such as "%d/%m/%Y"'
    found: set[str] = set()
    i = 0
    while i < len(fmt):
        if fmt[i] != "%":
            i += 1
            continue
        if i + 1 == len(fmt):
            return "it ends in a lone % (write %% for a percent sign)"
        directive = fmt[i + 1]
        if directive not in FORMAT_DIRECTIVES:
            return f"%{directive} is not a strftime date directive"
        found.add(directive)
        i += 2
    if not found & {"Y", "y", "G"}:
        return "it has no year (%Y or %y), so every date would be in 1900"
    has_day = (
        ("d" in found and found & {"m", "b", "B"}) or "j" in found or (found & {"U", "W", "V"} and found & {"a", "A", "w", "u"})
    )
    if not has_day:
        return "it does not give the day (%d with %m, %b or %B), so the day would be guessed"
    import pandas as pd

    try:  # the last word is pandas' own: a combination it cannot read (e.g. %G without %V)
        pd.to_datetime(pd.Series(["x"]), format=fmt, errors="coerce")
    except ValueError as exc:
        return str(exc)
    return None


def _problem(where: str, key: str | None, message: str, hint: str, *, line: int | None = None) -> Problem:
    return Problem(table="mapping", file=where, line=line, column=key, value=None, message=message, hint=hint, flag="bad_mapping")
