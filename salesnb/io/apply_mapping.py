"""A raw table taken to the contract as its mapping says: each contract column from
its source (a header, matched exactly or loosely, ``@row``, a constant, the first of
several columns or several joined) and the values translated by the ``values:`` rules.
Also the file's own header for each contract column, so that problems name the column
as the user's file does (:func:`name_file_headers`). Used by :mod:`salesnb.io.loading`."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd

from salesnb.errors import DataError, Problem
from salesnb.io.categorical import is_categorical, map_categories
from salesnb.io.mapping import NO_RULE, ROW_NUMBER, Combined, Const, FirstOf, TableMapping, translate
from salesnb.io.raw_tables import RawTable, normalise_column_name
from salesnb.io.schema import TABLES

__all__ = ["apply_mapping", "file_headers", "match_columns", "name_file_headers"]


def match_columns(available, wanted) -> dict[str, str]:
    """Map wanted names to the source's columns: exact, else case- and
    punctuation-insensitive ("Deal ID" finds "deal_id")."""
    exact = {str(c): str(c) for c in available}
    loose = {}
    for c in available:
        loose.setdefault(normalise_column_name(c), str(c))
    out = {}
    for name in wanted:
        if name in exact:
            out[name] = exact[name]
        elif normalise_column_name(name) in loose:
            out[name] = loose[normalise_column_name(name)]
    return out


def _column_sources(raw: RawTable, spec: TableMapping) -> tuple[dict, dict[str, str]]:
    """Where each contract column comes from: the mapping's source per
    column (a header, ``@row`` or a Const) and the file's header each
    named source matched."""
    wanted = {c: spec.columns.get(c, c) for c in TABLES[raw.name].column_names}
    named = [s for s in wanted.values() if isinstance(s, str)]
    named += [name for s in wanted.values() if isinstance(s, (FirstOf, Combined)) for name in s.sources]
    return wanted, match_columns(raw.frame.columns, named)


def file_headers(raw: RawTable, spec: TableMapping) -> dict[str, str]:
    """Contract column -> the file's own header, where the two differ (a
    mapping's ``status: Stage``, or "Opportunity ID" read as opportunity_id)."""
    wanted, found = _column_sources(raw, spec)
    return {c: found[s] for c, s in wanted.items() if isinstance(s, str) and s in found and found[s] != c}


def name_file_headers(problems: list[Problem], headers: dict[str, str]) -> None:
    """Problems name the column as the user's file does, beside the contract's name."""
    if not headers:
        return
    for i, p in enumerate(problems):
        if p.column in headers and p.source_column is None:
            problems[i] = dataclasses.replace(p, source_column=headers[p.column])


def apply_mapping(raw: RawTable, spec: TableMapping) -> pd.DataFrame:
    """The raw table with contract column names and translated values."""
    table = TABLES[raw.name]
    n = len(raw.frame)
    wanted, found = _column_sources(raw, spec)
    out: dict[str, pd.Series] = {}
    problems: list[Problem] = []
    for column, source in wanted.items():
        if isinstance(source, Const):
            out[column] = pd.Series([source.value] * n, dtype=object)
        elif source == ROW_NUMBER:
            out[column] = pd.Series(np.arange(1, n + 1).astype(str), dtype=object)
        elif isinstance(source, (FirstOf, Combined)):
            absent = [name for name in source.sources if name not in found]
            if absent:
                problems.append(_unmapped(raw, column, absent[0]))
                continue
            cells = [raw.frame[found[name]].reset_index(drop=True) for name in source.sources]
            out[column] = _first_of(cells) if isinstance(source, FirstOf) else _combined(cells, source.values)
        elif source in found:
            out[column] = raw.frame[found[source]].reset_index(drop=True)
        elif column in spec.columns:
            problems.append(_unmapped(raw, column, source))
        elif table.column(column).required:
            problems.append(
                Problem(
                    raw.name,
                    raw.file,
                    None,
                    column,
                    None,
                    f"required column {column!r} of table {raw.name} is missing",
                    f"columns found: {', '.join(map(str, raw.frame.columns)) or 'none'}; rename one, or map it in "
                    f'mapping.yml: tables: {{{raw.name}: {{columns: {{{column}: "Your column"}}}}}}',
                    "missing_required",
                )
            )
        else:
            out[column] = pd.Series([None] * n, dtype=object)
    if problems:
        raise DataError(problems)
    frame = pd.DataFrame(out, copy=False)  # no copy of the columns (copy-on-write keeps the raw frame intact)
    for column, translation in spec.values.items():
        values = frame[column]
        if is_categorical(values):  # translate each distinct value once
            frame[column] = map_categories(values, functools.partial(_translate_texts, translation=translation))
            continue
        frame[column] = _translated(values, translation)
    return frame


def _translated(values: pd.Series, translation: dict) -> pd.Series:
    """``values`` translated by a ``values:`` rule (object dtype; a rule's null: blank)."""
    values = values.astype(object)
    present = values.notna()
    text = values[present].astype(str)
    out = values.copy()
    out[present] = _translate_texts(text, translation=translation).to_numpy()
    return out


def _translate_texts(text: pd.Series, *, translation: dict) -> pd.Series:
    """Each value translated by a ``values:`` rule; a value no rule names
    stays as written; a rule's null makes it blank (NaN)."""
    lookup = {}
    for value in text.unique():
        found = translate(value, translation)
        lookup[value] = value if found is NO_RULE else (np.nan if found is None else found)
    return text.map(lookup)


def _blank(cells: pd.Series) -> np.ndarray:
    return (cells.isna() | cells.astype("string").str.strip().eq("").fillna(True)).to_numpy(dtype=bool)


def _first_of(cells: list[pd.Series]) -> pd.Series:
    """The first non-blank of several columns, row by row."""
    out = cells[0].astype(object).copy()
    for more in cells[1:]:
        empty = _blank(out)
        out[empty] = more.astype(object)[empty].to_numpy()
    return out.where(~pd.Series(_blank(out)), None)


def _combined(cells: list[pd.Series], translation: dict) -> pd.Series:
    """Several columns' values joined by "," (a blank cell: empty text) and translated."""
    parts = [c.astype("string").str.strip().fillna("") for c in cells]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "," + part
    return _translated(joined.astype(object), translation)


def _unmapped(raw: RawTable, column: str, source: str) -> Problem:
    return Problem(
        raw.name,
        ", ".join(raw.files),
        None,
        source,
        None,
        f"the mapping takes {raw.name}.{column} from column {source!r}, which is not in the file",
        f"columns found: {', '.join(map(str, raw.frame.columns))}",
        "bad_mapping",
    )
