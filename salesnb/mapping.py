"""The mapping file: how a CRM export's files, columns and values map onto
the contract (contract section "Mapping a CRM export").

A mapping is read and checked once, up front, so a typo in it is reported
against the mapping file (with the key that is wrong and what is allowed)
before any data is read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import DataError, Problem
from .schema import TABLES
from .yamlfile import read_utf8, read_yaml  # noqa: F401 (read_utf8: where it used to live)

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
    try:  # size, alias and nesting caps, located errors: salesnb.yamlfile
        raw = read_yaml(path, table="mapping", flag="bad_mapping", what="the mapping file").data
    except FileNotFoundError:
        raise DataError(_problem(where, None, f"mapping file not found: {path}", "pass the path of an existing mapping.yml")) from None
    return parse_mapping(raw, where=where)


def parse_mapping(raw: object, *, where: str = "mapping") -> Mapping:
    """Check a mapping given as a dict (as read from YAML)."""
    if raw is None:
        return Mapping(path=where)
    if not isinstance(raw, dict) or not isinstance(raw.get("tables"), dict):
        raise DataError(_problem(where, None, "a mapping file needs a top-level 'tables:' key holding one entry per contract table",
                                 "see the README section 'Mapping a CRM export'"))
    mapping = Mapping(path=where)
    problems: list[Problem] = []
    for name, spec in raw["tables"].items():
        if name not in TABLES:
            problems.append(_problem(where, f"tables.{name}", f"unknown table {name!r}", f"use one of: {', '.join(TABLES)}"))
            continue
        if not isinstance(spec, dict):
            problems.append(_problem(where, f"tables.{name}", "expected a mapping with file/columns/values", "write e.g. {file: export.csv, columns: {...}}"))
            continue
        unknown = set(spec) - _TABLE_KEYS
        if unknown:
            problems.append(_problem(where, f"tables.{name}", f"unknown key(s) {sorted(unknown)}", f"allowed keys: {', '.join(sorted(_TABLE_KEYS))}"))
        for key in ("file", "table", "from"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                problems.append(_problem(where, f"tables.{name}.{key}", f"{key}: must be one name, not {spec[key]!r}",
                                         "write e.g. file: deals_export.csv" if key != "from" else "write e.g. from: opportunities"))
                spec = {k: v for k, v in spec.items() if k != key}
        table = TableMapping(file=spec.get("file") or spec.get("table"), derived_from=spec.get("from"))
        if table.derived_from is not None and table.derived_from not in TABLES:
            problems.append(_problem(where, f"tables.{name}.from", f"unknown table {table.derived_from!r}", f"use one of: {', '.join(TABLES)}"))
        contract_columns = TABLES[name].column_names
        sections = {}
        for key in ("columns", "values", "formats"):
            sections[key] = spec.get(key) or {}
            if not isinstance(sections[key], dict):
                problems.append(_problem(where, f"tables.{name}.{key}", f"{key}: must map contract columns to values, not {sections[key]!r}",
                                         f"write e.g. {key}: {{{contract_columns[0]}: ...}}; contract columns of {name}: {', '.join(contract_columns)}"))
                sections[key] = {}
        for column, source in sections["columns"].items():
            if column not in contract_columns:
                problems.append(_problem(where, f"tables.{name}.columns.{column}", f"{column!r} is not a column of {name}",
                                         f"contract columns of {name}: {', '.join(contract_columns)}"))
            elif isinstance(source, dict) and set(source) == {"const"}:
                table.columns[column] = Const(str(source["const"]))
            elif isinstance(source, (str, int)):
                table.columns[column] = str(source)
            else:
                problems.append(_problem(where, f"tables.{name}.columns.{column}", f"cannot read source {source!r}",
                                         'give a column name, "@row", or {const: VALUE}'))
        for column, translation in sections["values"].items():
            if column not in contract_columns or not isinstance(translation, dict):
                problems.append(_problem(where, f"tables.{name}.values.{column}", "values: needs a contract column and a {source: contract} dict",
                                         f"contract columns of {name}: {', '.join(contract_columns)}"))
                continue
            table.values[column] = {str(k): str(v) for k, v in translation.items()}
        for column, fmt in sections["formats"].items():
            if column not in contract_columns:
                problems.append(_problem(where, f"tables.{name}.formats.{column}", f"{column!r} is not a column of {name}",
                                         f"contract columns of {name}: {', '.join(contract_columns)}"))
                continue
            table.formats[column] = str(fmt)
        mapping.tables[name] = table
    if problems:
        raise DataError(problems)
    return mapping


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


def _problem(where: str, key: str | None, message: str, hint: str, *, line: int | None = None) -> Problem:
    return Problem(table="mapping", file=where, line=line, column=key, value=None, message=message, hint=hint, flag="bad_mapping")
