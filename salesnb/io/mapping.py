"""The mapping file: how a CRM export's files, columns and values map onto
the contract (contract section "Mapping a CRM export").

A mapping is read and checked once, up front, so a typo in it is reported
against the mapping file (with the key that is wrong, its line and what is
allowed) before any data is read. Per table it may say: ``file:`` (one
name, a list or a glob), ``where:`` (rows to keep), ``columns:`` (a column,
a list: the first non-blank, ``"@row"``, ``{const: ...}`` or ``{from: [...],
values: {...}}``), ``values:`` (``null``: blank), ``formats:``, ``from:``
(another table or any file, repeated rows collapsed), or ``TABLE: false``.
:mod:`salesnb.io.loading` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from salesnb.errors import DataError, Problem
from salesnb.io.schema import DATE, TABLES
from salesnb.io.yamlfile import read_utf8, read_yaml  # noqa: F401 (read_utf8: where it used to live)

ROW_NUMBER = "@row"
GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class Const:
    """A constant given to every row (``{const: "All"}``)."""

    value: str


@dataclass(frozen=True)
class FirstOf:
    """The first non-blank of several source columns (``customer_id: [AccountId, ContactId]``)."""

    sources: tuple[str, ...]


@dataclass(frozen=True)
class Combined:
    """A value built from several source columns: their values joined by
    ``","`` and translated (``status: {from: [IsClosed, IsWon], values: {"true,true": won, ...}}``)."""

    sources: tuple[str, ...]
    values: dict[str, str | None]


Source = str | Const | FirstOf | Combined


@dataclass
class TableMapping:
    """How one contract table is read from the source."""

    files: tuple[str, ...] = ()  # file: one name, several, or glob patterns ("calls_*.csv")
    columns: dict[str, Source] = field(default_factory=dict)
    values: dict[str, dict[str, str | None]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    derived_from: str | None = None  # from: a contract table or any file (or database table); repeated rows collapse
    where: dict[str, tuple[str, ...]] = field(default_factory=dict)  # keep only rows with these values
    left_out: bool = False  # TABLE: false
    file_line: int | None = None  # the line of file: (or table:) in the mapping file

    @property
    def file(self) -> str | None:
        """The one file named (None when none, several or a pattern is)."""
        if len(self.files) == 1 and not is_pattern(self.files[0]):
            return self.files[0]
        return None

    def source_columns(self) -> list[str]:
        """Every column of the export this mapping reads, in order, once."""
        names: list[str] = []
        for source in self.columns.values():
            if isinstance(source, str) and source != ROW_NUMBER:
                names.append(source)
            elif isinstance(source, (FirstOf, Combined)):
                names.extend(source.sources)
        return list(dict.fromkeys(names))


def is_pattern(name: str) -> bool:
    """Whether a ``file:`` entry is a glob pattern (``calls_*.csv``)."""
    return bool(GLOB_CHARACTERS & set(name))


@dataclass
class Mapping:
    tables: dict[str, TableMapping] = field(default_factory=dict)
    path: str = ""

    def for_table(self, name: str) -> TableMapping:
        return self.tables.get(name) or TableMapping()


_TABLE_KEYS = {"file", "table", "columns", "values", "formats", "from", "where"}
_TOP_KEYS = {"tables"}
_TABLE_LIST = ", ".join(TABLES)


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
    gives the line of a key in the file (:meth:`salesnb.io.yamlfile.YamlFile.line`).

    Every value of the wrong kind is a problem naming the key, its line and
    what is allowed; all of them are raised together as one DataError."""
    lines = lines or (lambda *keys: None)
    if raw is None:
        return Mapping(path=where)
    if not isinstance(raw, dict) or not isinstance(raw.get("tables"), dict):
        raise DataError(
            _problem(
                where,
                None,
                "a mapping file needs a top-level 'tables:' key holding one entry per contract table",
                f"write tables: {{opportunities: {{file: export.csv, columns: {{...}}}}}}; tables: {_TABLE_LIST} "
                "(see docs/data-source.md)",
                line=lines("tables") or lines(),
            )
        )
    problems: list[Problem] = []
    for key in raw:
        if key not in _TOP_KEYS:
            problems.append(
                _problem(where, str(key), f"unknown key {key!r}", "a mapping file holds only tables: {...}", line=lines(key))
            )
    mapping = Mapping(path=where)
    for name, spec in raw["tables"].items():
        table = _parse_table(str(name), spec, where=where, lines=lines, problems=problems)
        if table is not None:
            mapping.tables[str(name)] = table
    if problems:
        raise DataError(problems)
    return mapping


def _parse_table(name: str, spec: object, *, where: str, lines, problems: list[Problem]) -> TableMapping | None:
    def problem(keys: tuple, message: str, hint: str) -> None:
        problems.append(
            _problem(where, ".".join(map(str, ("tables", name, *keys))), message, hint, line=lines("tables", name, *keys))
        )

    if name not in TABLES:
        problem((), f"unknown table {name!r}", f"use one of: {_TABLE_LIST}")
        return None
    if spec is False:
        if TABLES[name].required:
            problem((), f"{name} is required and cannot be left out", f"give {name} a file: {{file: export.csv}}")
            return None
        return TableMapping(left_out=True, file_line=lines("tables", name))
    if not isinstance(spec, dict):
        problem(
            (),
            f"{name}: must be a mapping with file/columns/values, or false, not {_shown(spec)}",
            f"write e.g. {name}: {{file: export.csv, columns: {{...}}}}, or {name}: false to leave it out",
        )
        return None
    for key in spec:
        if key not in _TABLE_KEYS:
            problem((key,), f"unknown key {key!r} in {name}", f"allowed keys: {', '.join(sorted(_TABLE_KEYS))}")
    table = TableMapping()
    for key in ("file", "table"):
        if spec.get(key) is None:
            continue
        names = _names(spec[key])
        if names is None:
            problem(
                (key,),
                f"{key}: must be a file name, a list of them or a pattern, not {_shown(spec[key])}",
                f'write e.g. {key}: deals.csv, {key}: [deals_2024.csv, deals_2025.csv] or {key}: "deals_*.csv"',
            )
            continue
        if table.files:
            problem((key,), "give file: or table:, not both", "keep one of them")
            continue
        table.files, table.file_line = names, lines("tables", name, key)
    if spec.get("from") is not None:
        if not isinstance(spec["from"], str) or not spec["from"].strip():
            problem(
                ("from",),
                f"from: must be one table or file name, not {_shown(spec['from'])}",
                f"write e.g. from: opportunities (a table: {_TABLE_LIST}) or from: quota_targets.csv",
            )
        elif table.files:
            problem(
                ("from",), "give file: or from:, not both", "from: reads another table's or file's rows and collapses repeats"
            )
        else:
            table.derived_from, table.file_line = spec["from"].strip(), lines("tables", name, "from")
    contract_columns = TABLES[name].column_names
    column_list = ", ".join(contract_columns)
    sections = {}
    for key in ("columns", "values", "formats", "where"):
        sections[key] = spec.get(key) or {}
        if not isinstance(sections[key], dict):
            example = "{Pipeline: [New Business]}" if key == "where" else f"{{{contract_columns[0]}: ...}}"
            problem(
                (key,),
                f"{key}: must be a mapping, not {_shown(sections[key])}",
                f"write e.g. {key}: {example}; contract columns of {name}: {column_list}",
            )
            sections[key] = {}
    for column, source in sections["columns"].items():
        keys = ("columns", column)
        if column not in contract_columns:
            problem(keys, f"{column!r} is not a column of {name}", f"contract columns of {name}: {column_list}")
            continue
        read = _source(source)
        if read is None:
            problem(
                keys,
                f"cannot read {column} from {_shown(source)}",
                'give a column name, a list of columns (the first non-blank), "@row", {const: VALUE}, '
                'or {from: [COLUMN, ...], values: {"a,b": VALUE, "*": VALUE}}',
            )
            continue
        table.columns[column] = read
    for column, translation in sections["values"].items():
        keys = ("values", column)
        if column not in contract_columns:
            problem(keys, f"{column!r} is not a column of {name}", f"contract columns of {name}: {column_list}")
            continue
        rules = _rules(translation)
        if rules is None:
            problem(
                keys,
                f"values: {column}: must map the export's values to the contract's, not {_shown(translation)}",
                'write e.g. values: {status: {"Closed Won": won, "*": open}} (null: blank)',
            )
            continue
        table.values[column] = rules
    for column, allowed in sections["where"].items():
        kept = _names(allowed, text_only=False)
        if kept is None:
            problem(
                ("where", column),
                f"where: {column}: must be a value or a list of values to keep, not {_shown(allowed)}",
                'write e.g. where: {Pipeline: ["New Business", "Upsell"]}',
            )
            continue
        table.where[str(column)] = kept
    date_columns = [c.name for c in TABLES[name].columns if c.kind == DATE]
    for column, fmt in sections["formats"].items():
        keys = ("formats", column)
        if column not in contract_columns:
            problem(keys, f"{column!r} is not a column of {name}", f"contract columns of {name}: {column_list}")
            continue
        if column not in date_columns:
            problem(
                keys,
                f"formats: reads dates, and {column!r} is not a date column of {name}",
                f"date columns of {name}: {', '.join(date_columns) or 'none'}",
            )
            continue
        wrong = date_format_problem(fmt)
        if wrong:
            problem(keys, f"{fmt!r} is not a date format: {wrong}", FORMAT_HINT)
            continue
        table.formats[column] = fmt
    return table


def _scalar(value: object) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _names(value: object, *, text_only: bool = True) -> tuple[str, ...] | None:
    """One name or a non-empty list of them, as text; None for any other
    shape. ``text_only=False`` also takes numbers and true/false (``where:`` values)."""
    items = value if isinstance(value, list) else [value]
    if not items:
        return None
    if all(isinstance(v, str) and v.strip() for v in items):
        return tuple(v.strip() for v in items)
    if not text_only and all(_scalar(v) or isinstance(v, bool) for v in items):
        return tuple(_text(v).strip() for v in items)
    return None


def _source(source: object) -> Source | None:
    """A ``columns:`` entry read, or None when it has a shape no rule allows."""
    if isinstance(source, str) or (_scalar(source) and not isinstance(source, float)):
        return str(source)
    if isinstance(source, list):
        names = _names(source)
        if names is None:
            return None
        return names[0] if len(names) == 1 else FirstOf(names)
    if isinstance(source, dict) and set(source) == {"const"} and (_scalar(source["const"]) or isinstance(source["const"], bool)):
        return Const(str(source["const"]))
    if isinstance(source, dict) and set(source) == {"from", "values"}:
        names, rules = _names(source["from"]), _rules(source["values"])
        if names is None or rules is None:
            return None
        return Combined(names, rules)
    return None


def _rules(translation: object) -> dict[str, str | None] | None:
    """A ``values:`` translation: export value -> contract value (None: blank)."""
    if not isinstance(translation, dict):
        return None
    rules: dict[str, str | None] = {}
    for key, value in translation.items():
        if not (_scalar(key) or isinstance(key, bool)) or not (value is None or _scalar(value) or isinstance(value, bool)):
            return None
        rules[_text(key)] = None if value is None else _text(value)
    return rules


def _text(value: object) -> str:
    """A YAML scalar as the export would write it (YAML's true as "true")."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_file_inside(folder: Path, table: str, spec: TableMapping, *, where: str) -> None:
    """Refuse a relative ``file:`` that leads out of the source ``folder``
    (``../x.csv``, or a symlink in it to a file elsewhere): a mapping copied
    beside other data must not read files nobody named. A file elsewhere is
    read only when its absolute path is written (``salesnb validate`` names it)."""
    for name in spec.files or ((spec.derived_from,) if spec.derived_from and spec.derived_from not in TABLES else ()):
        _check_inside(folder, table, name, spec.file_line, where=where)


def _check_inside(folder: Path, table: str, name: str, line: int | None, *, where: str) -> None:
    if Path(name).is_absolute():
        return
    inside = Path(folder).resolve()
    target = (Path(folder) / name).resolve()
    if target == inside or inside in target.parents:
        return
    raise DataError(
        _problem(
            where,
            f"tables.{table}.file",
            f"file: {name!r} leads outside the source folder {folder} (to {target})",
            f"put the file in {folder}, or if you mean that file, write its absolute path: file: {target}",
            line=line,
        )
    )


NO_RULE = object()
"""What :func:`translate` gives for a value no rule names (it is kept as written)."""


def translate(value: str, translation: dict[str, str | None]):
    """Apply a ``values:`` translation to one raw value: exact, then
    case-insensitive, then the ``"*"`` catch-all; a rule's ``None`` (YAML
    ``null``) means blank; :data:`NO_RULE` when no rule applies."""
    if value in translation:
        return translation[value]
    folded = {k.casefold(): v for k, v in translation.items()}
    key = value.strip().casefold()
    if key in folded:
        return folded[key]
    return translation.get("*", NO_RULE)


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
