"""Checking raw tables against the contract, row by row.

:func:`check_table` parses every cell of one table into its contract type
(:mod:`salesnb.parsing`), then validates the typed frame with a pandera
schema built from :mod:`salesnb.schema` (required values, enums,
non-negative amounts, unique IDs) plus the contract's row rules (closed not
before created, won deals need a close date and an amount).
:func:`check_references` applies the rules between tables (every rep_id is
a known rep). Each failure becomes a :class:`~salesnb.errors.Problem`
located by file and line, with a hint; rows are flagged, never dropped here.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import pandas as pd

from .errors import Problem
from .parsing import clean_text, parse_amounts, parse_dates, parse_forecast_periods
from .schema import AMOUNT, DATE, ENUM, PERIOD, TABLES


@dataclass(frozen=True)
class RowRule:
    """A contract rule across columns of one row: ``holds(frame)`` is True
    where the row is fine; failures are reported on ``column``."""

    name: str
    column: str
    holds: Callable[[pd.DataFrame], pd.Series]
    message: str
    hint: str
    flag: str


ROW_RULES: dict[str, tuple[RowRule, ...]] = {
    "opportunities": (
        RowRule("closed_before_created", "closed_date", lambda d: ~(d["closed_date"] < d["created_date"]),
                "closed_date is before created_date", "correct one of the two dates", "closed_before_created"),
        RowRule("closed_needs_date", "closed_date", lambda d: ~(d["status"].isin(["won", "lost"]) & d["closed_date"].isna()),
                "closed_date is required when status is won or lost", "fill in the date the deal was won or lost",
                "missing_required"),
        RowRule("won_needs_amount", "amount", lambda d: ~(d["status"].eq("won") & d["amount"].isna()),
                "amount is required for a won deal", "fill in the contract value", "missing_required"),
    ),
    "training": (
        RowRule("end_before_start", "end_date", lambda d: ~(d["end_date"] < d["start_date"]),
                "end_date is before start_date", "swap the dates or correct the end date", "bad_value"),
    ),
}


def _column_failure(check: str, column) -> tuple[str, str, str]:
    """(message, hint, flag) for a pandera column check that failed."""
    if check == "not_nullable":
        return "required value is missing", f"fill in {column.name} on this row, or remove the row", "missing_required"
    if check in ("field_uniqueness", "unique"):
        return f"duplicate {column.name}", f"give every row its own {column.name}, or remove the repeated row", "duplicate_id"
    if check.startswith("isin"):
        return (f"not one of {', '.join(column.choices)}",
                f"use {' / '.join(column.choices)}, or translate your values in the mapping: "
                f"values: {{{column.name}: {{\"Your value\": {column.choices[0]}}}}}", "bad_value")
    if check.startswith("greater_than_or_equal_to"):
        return "negative amount", "amounts are non-negative; record refunds or credits outside this table", "negative_amount"
    return f"fails check {check}", "correct the value", "bad_value"


@lru_cache(maxsize=None)
def contract_schema(name: str):
    """The pandera schema of contract table ``name`` (typed frame)."""
    import pandera.pandas as pa

    table = TABLES[name]
    columns = {}
    for col in table.columns:
        checks = []
        if col.kind == ENUM:
            checks.append(pa.Check.isin(list(col.choices)))
        if col.kind == AMOUNT:
            checks.append(pa.Check.ge(0))
        columns[col.name] = pa.Column(nullable=not col.required, unique=col.unique, checks=checks,
                                      report_duplicates="exclude_first")
    rules = [pa.Check(rule.holds, name=rule.name) for rule in ROW_RULES.get(name, ())]
    return pa.DataFrameSchema(columns, checks=rules, name=name)


@dataclass
class Checked:
    """One table after checking: typed values, problems, rows to set aside."""

    name: str
    frame: pd.DataFrame
    file: str
    lines: np.ndarray
    unit: str
    problems: list[Problem]
    bad: np.ndarray
    notes: list[str]
    raw: pd.DataFrame | None = None

    def flag_rows(self, mask: np.ndarray, *, column: str | None, message, hint: str, flag: str, severity: str = "error") -> None:
        """Record a problem for every row in ``mask``; ``message`` may be a
        callable of the row position for row-specific text."""
        positions = np.flatnonzero(mask)
        if not len(positions):
            return
        source = self.raw if self.raw is not None and column in self.raw else self.frame
        values = source[column].to_numpy(dtype=object) if column else None
        for pos in positions:
            text = message(pos) if callable(message) else message
            value = values[pos] if values is not None else None
            self.problems.append(Problem(self.name, self.file, int(self.lines[pos]), column, value, text, hint, flag, severity, self.unit))
        if severity == "error":
            self.bad |= mask


def check_table(name: str, frame: pd.DataFrame, *, file: str, lines: np.ndarray, unit: str = "line",
                formats: dict[str, str] | None = None) -> Checked:
    """Parse and check one table whose columns are already the contract's."""
    formats = formats or {}
    checked = Checked(name, frame, file, lines, unit, [], np.zeros(len(frame), dtype=bool), [], raw=frame)
    unparsed: dict[str, np.ndarray] = {}
    typed: dict[str, pd.Series] = {}
    for col in TABLES[name].columns:
        raw = frame[col.name]
        bad = None
        if col.kind == DATE:
            values, bad, note = parse_dates(raw, formats.get(col.name))
            if note:
                checked.notes.append(f"{file}, column '{col.name}': {note}")
            message = "not a date"
            hint = f"write dates as YYYY-MM-DD, or name the format in the mapping: formats: {{{col.name}: \"%d/%m/%Y\"}}"
        elif col.kind == AMOUNT:
            values, bad = parse_amounts(raw)
            message = "not a number"
            hint = "write the amount as a number such as 22700.50 (currency signs and thousands separators are fine)"
        elif col.kind == ENUM:
            values = clean_text(raw).str.lower()
        elif col.kind == PERIOD:
            values, bad = parse_forecast_periods(raw)
            message, hint = "not a period", "write the period as YYYY, YYYY-Qn or YYYY-MM (e.g. 2025-Q2)"
        else:
            values = clean_text(raw)
        if bad is not None and bad.any():
            unparsed[col.name] = bad.to_numpy()
            checked.flag_rows(unparsed[col.name], column=col.name, message=message, hint=hint, flag="bad_value")
        typed[col.name] = values.reset_index(drop=True)
    checked.frame = pd.DataFrame(typed)
    _apply_schema(checked, unparsed)
    return checked


def _apply_schema(checked: Checked, unparsed: dict[str, np.ndarray]) -> None:
    """Validate the typed frame with the contract schema; a cell that could
    not be parsed is reported once (as unparseable), not again as missing."""
    import pandera.errors

    schema = contract_schema(checked.name)
    try:
        schema.validate(checked.frame, lazy=True)
        return
    except pandera.errors.SchemaErrors as exc:
        failures = exc.failure_cases
    failures = failures[failures["index"].notna()]
    rules = {rule.name: rule for rule in ROW_RULES.get(checked.name, ())}
    table = TABLES[checked.name]
    key = table.key
    seen: set[tuple[int, str]] = {(int(pos), c) for c, mask in unparsed.items() for pos in np.flatnonzero(mask)}
    for (column, check), group in failures.groupby(["column", "check"], dropna=False, sort=False):
        rule = rules.get(check)
        if rule is not None:
            column, message, hint, flag = rule.column, rule.message, rule.hint, rule.flag
        else:
            message, hint, flag = _column_failure(str(check), table.column(str(column)))
        positions = sorted({int(i) for i in group["index"]} - {pos for pos, c in seen if c == column})
        if not positions:
            continue
        seen.update((pos, column) for pos in positions)
        mask = np.zeros(len(checked.frame), dtype=bool)
        mask[positions] = True
        if flag == "duplicate_id":
            ids = checked.frame[key]
            first = pd.Series(checked.lines, index=ids.index).groupby(ids.to_numpy()).transform("first").to_numpy()
            checked.flag_rows(mask, column=column, message=lambda pos: f"{message}: first used on {checked.unit} {int(first[pos])}",
                              hint=hint, flag=flag)
        else:
            checked.flag_rows(mask, column=column, message=message, hint=hint, flag=flag)


def check_references(checked: dict[str, Checked]) -> None:
    """Rules between tables, applied to rows not already set aside.

    A rep_id that is not in reps sets the row aside (``orphan_rep``): its
    figures would belong to nobody. A customer or opportunity reference that
    is not in its table is reported as a warning and the row kept, since the
    deal or contact itself is real.
    """
    reps = checked["reps"]
    known_reps = set(reps.frame.loc[~reps.bad, "rep_id"].dropna())
    # rep_id -> line of a reps row that was itself set aside (first such line)
    aside_rows = reps.bad & reps.frame["rep_id"].notna().to_numpy()
    set_aside_reps = dict(zip(reps.frame["rep_id"].to_numpy()[aside_rows][::-1], reps.lines[aside_rows][::-1]))
    for name, table in checked.items():
        if name == "reps":
            continue
        for column, target in TABLES[name].references.items():
            values = table.frame[column]
            present = values.notna().to_numpy() & ~table.bad
            if target == "reps":
                missing = present & ~values.isin(known_reps).to_numpy()
                aside = missing & values.isin(set_aside_reps.keys()).to_numpy()
                table.flag_rows(missing & ~aside, column=column, message="rep_id is not in the reps table",
                                hint="add the rep to reps, or correct the rep_id", flag="orphan_rep")
                rep_ids = values.to_numpy(dtype=object)
                table.flag_rows(aside, column=column, flag="orphan_rep",
                                message=lambda pos: f"the rep's own row was set aside ({reps.file}, {reps.unit} {set_aside_reps[rep_ids[pos]]})",
                                hint="fix the rep's row in reps; this row is set aside with it")
            elif target in checked:
                other = checked[target]
                known = set(other.frame.loc[~other.bad, TABLES[target].key].dropna())
                missing = present & ~values.isin(known).to_numpy()
                table.flag_rows(missing, column=column, message=f"{column} is not in the {target} table",
                                hint=f"add it to {target} or correct the {column}; the row is kept",
                                flag="dangling_reference", severity="warning")
