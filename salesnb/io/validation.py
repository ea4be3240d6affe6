"""Checking raw tables against the contract, row by row.

:func:`check_table` parses every cell of one table into its contract type
(:mod:`salesnb.io.parsing`), then validates the typed frame against the
schema built from :mod:`salesnb.io.schema` (required values, enums,
non-negative amounts, unique IDs) plus the contract's row rules (closed not
before created, won deals need a close date and an amount). The checks are
vectorised (:func:`_schema_failures`, one pass per column, no copies, so ten
million rows take seconds); :func:`contract_schema`, the same rules as a
pandera schema, is the reference the tests hold them to.
:func:`check_references` applies the rules between tables (every rep_id is
a known rep). Each failure becomes a :class:`~salesnb.errors.Problem`
located by file and line, with a hint; rows are flagged, never dropped here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from salesnb.errors import DataError, Problem
from salesnb.io.categorical import as_category, is_categorical, map_categories, release_arrow_memory
from salesnb.io.parsing import clean_text, parse_amounts, parse_forecast_periods, read_dates
from salesnb.io.schema import AMOUNT, DATE, ENUM, PERIOD, TABLES
from salesnb.io.value_lookup import Known, index_in, is_in, repeats


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
    reads: tuple[str, ...] = ()  # every column the rule looks at


ROW_RULES: dict[str, tuple[RowRule, ...]] = {
    "opportunities": (
        RowRule(
            "closed_before_created",
            "closed_date",
            lambda d: ~(d["closed_date"] < d["created_date"]),
            "closed_date is before created_date",
            "correct one of the two dates",
            "closed_before_created",
            ("closed_date", "created_date"),
        ),
        RowRule(
            "closed_needs_date",
            "closed_date",
            lambda d: ~(d["status"].isin(["won", "lost"]) & d["closed_date"].isna()),
            "closed_date is required when status is won or lost",
            "fill in the date the deal was won or lost",
            "missing_required",
            ("status", "closed_date"),
        ),
        RowRule(
            "won_needs_amount",
            "amount",
            lambda d: ~(d["status"].eq("won") & d["amount"].isna()),
            "amount is required for a won deal",
            "fill in the contract value",
            "missing_required",
            ("status", "amount"),
        ),
    ),
    "training": (
        RowRule(
            "end_before_start",
            "end_date",
            lambda d: ~(d["end_date"] < d["start_date"]),
            "end_date is before start_date",
            "swap the dates or correct the end date",
            "bad_value",
            ("start_date", "end_date"),
        ),
    ),
}


def _column_failure(check: str, column) -> tuple[str, str, str]:
    """(message, hint, flag) for a pandera column check that failed."""
    if check == "not_nullable":
        return "required value is missing", f"fill in {column.name} on this row, or remove the row", "missing_required"
    if check in ("field_uniqueness", "unique"):
        return f"duplicate {column.name}", f"give every row its own {column.name}, or remove the repeated row", "duplicate_id"
    if check.startswith("isin"):
        return (
            f"not one of {', '.join(column.choices)}",
            f"use {' / '.join(column.choices)}, or translate your values in the mapping: "
            f'values: {{{column.name}: {{"Your value": {column.choices[0]}}}}}',
            "bad_value",
        )
    if check.startswith("greater_than_or_equal_to"):
        return "negative amount", "amounts are non-negative; record refunds or credits outside this table", "negative_amount"
    return f"fails check {check}", "correct the value", "bad_value"


@cache
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
        columns[col.name] = pa.Column(
            nullable=not col.required, unique=col.unique, checks=checks, report_duplicates="exclude_first"
        )
    rules = [pa.Check(rule.holds, name=rule.name) for rule in ROW_RULES.get(name, ())]
    return pa.DataFrameSchema(columns, checks=rules, name=name)


@dataclass
class Checked:
    """One table after checking: typed values, problems, rows to set aside."""

    name: str
    frame: pd.DataFrame
    file: str
    lines: np.ndarray  # or a sources.RowNumbers: the line or row of every record
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
        values = source[column].iloc[positions].to_numpy(dtype=object) if column else None  # only the flagged cells
        for i, pos in enumerate(positions):
            text = message(pos) if callable(message) else message
            value = values[i] if values is not None else None
            self.problems.append(
                Problem(self.name, self.file, int(self.lines[pos]), column, value, text, hint, flag, severity, self.unit)
            )
        if severity == "error":
            self.bad |= mask


def check_table(
    name: str, frame: pd.DataFrame, *, file: str, lines: np.ndarray, unit: str = "line", formats: dict[str, str] | None = None
) -> Checked:
    """Parse and check one table whose columns are already the contract's."""
    formats = formats or {}
    checked = Checked(name, frame, file, lines, unit, [], np.zeros(len(frame), dtype=bool), [], raw=frame)
    unparsed: dict[str, np.ndarray] = {}
    typed: dict[str, pd.Series] = {}
    for col in TABLES[name].columns:
        raw = frame[col.name]
        bad = None
        reasons: list[tuple[np.ndarray, str, str]] = []  # bad cells with a message and hint of their own
        if col.kind == DATE:
            dates = read_dates(raw, formats.get(col.name), column=col.name)
            if dates.column_problem is not None:  # e.g. a Parquet column of integers: one problem, for the column
                why, fix, example = dates.column_problem
                raise DataError(Problem(name, file, None, col.name, example, why, fix, "bad_type", unit=unit))
            values, bad, note, reasons = dates.dates, dates.bad, dates.note, dates.reasons
            if note:
                checked.notes.append(f"{file}, column '{col.name}': {note}")
            message = "not a date"
            hint = f'write dates as YYYY-MM-DD, or name the format in the mapping: formats: {{{col.name}: "%d/%m/%Y"}}'
        elif col.kind == AMOUNT:
            values, bad = parse_amounts(raw)
            message = "not a number"
            hint = (
                "write the amount as a number such as 22700.50 (currency signs or codes and thousands separators are fine; "
                "no words or k/M suffixes: write 10k as 10000)"
            )
        elif col.kind == ENUM:
            values = clean_text(raw)
            values = map_categories(values, lambda text: text.str.lower()) if is_categorical(values) else values.str.lower()
        elif col.kind == PERIOD:
            values, bad = parse_forecast_periods(raw)
            message, hint = "not a period", "write the period as YYYY, YYYY-Qn or YYYY-MM (e.g. 2025-Q2)"
        else:
            values = clean_text(raw)
        if col.categorical:  # repeated text: one string per distinct value (see salesnb.io.categorical)
            values = as_category(values)
        if bad is not None and bad.any():
            unparsed[col.name] = bad.to_numpy()
            plain = unparsed[col.name].copy()
            for mask, _, _ in reasons:
                plain &= ~mask
            for mask, why, fix in [(plain, message, hint), *reasons]:
                if _blank_if_bad(name, col):  # the parsers leave a bad cell blank: the row is kept without it
                    checked.flag_rows(
                        mask,
                        column=col.name,
                        message=f"{why}; left blank",
                        flag="bad_value",
                        hint=f"{fix}; the row is kept with {col.name} blank",
                        severity="warning",
                    )
                else:
                    checked.flag_rows(mask, column=col.name, message=why, hint=fix, flag="bad_value")
        typed[col.name] = values.reset_index(drop=True)
    checked.frame = pd.DataFrame(typed, copy=False)  # the parsed columns as they are: no copy
    _apply_schema(checked, unparsed)
    return checked


def _blank_if_bad(table: str, column) -> bool:
    """True when a value of ``column`` that cannot be read is only a warning
    and left blank: an optional column no row rule reads (a rep's
    annual_cost or hire_date), where a blank is a valid value. Elsewhere (a
    required value, an amount or close date a rule needs) the row is set aside."""
    return not column.required and not any(column.name in rule.reads for rule in ROW_RULES.get(table, ()))


def _apply_schema(checked: Checked, unparsed: dict[str, np.ndarray]) -> None:
    """Validate the typed frame against the contract schema; a cell that
    could not be parsed is reported once (as unparseable), not again as
    missing. Repeated IDs are judged last, among the rows that pass every
    other check of the table (see :func:`_flag_duplicates`)."""
    failures = _schema_failures(checked.name, checked.frame)
    if not failures:
        return
    rules = {rule.name: rule for rule in ROW_RULES.get(checked.name, ())}
    table = TABLES[checked.name]
    seen: dict[str, set[int]] = {c: set(np.flatnonzero(mask).tolist()) for c, mask in unparsed.items()}
    repeated: list[tuple[str, str, str, str, np.ndarray]] = []
    for column, check, failed in failures:
        rule = rules.get(check)
        if rule is not None:
            column, message, hint, flag = rule.column, rule.message, rule.hint, rule.flag
        else:
            message, hint, flag = _column_failure(check, table.column(column))
        if flag == "duplicate_id":
            repeated.append((column, message, hint, flag, failed))
            continue
        done = seen.setdefault(column, set())
        positions = sorted(set(failed.tolist()) - done)
        if not positions:
            continue
        done.update(positions)
        mask = np.zeros(len(checked.frame), dtype=bool)
        mask[positions] = True
        checked.flag_rows(mask, column=column, message=message, hint=hint, flag=flag)
    for column, message, hint, flag, failed in repeated:
        _flag_duplicates(checked, column, failed, message=message, hint=hint, flag=flag)


def _flag_duplicates(checked: Checked, column: str, failed: np.ndarray, *, message: str, hint: str, flag: str) -> None:
    """Set aside every repeat of an ID after its first use by a row that is
    kept. A row already set aside for another problem does not claim the ID:
    a valid row with the same ID is kept (line 2 O1 with a bad date, line 3
    a valid O1: line 3 is kept), with a warning pointing at the set-aside
    row, so the two can be compared. ``failed``: the repeats over all rows."""
    ids = checked.frame[column]
    involved = np.flatnonzero(is_in(ids, ids.iloc[failed]))  # every row holding a repeated ID, in file order
    aside = checked.bad[involved].copy()
    alive = involved[~aside]
    alive_ids = ids.iloc[alive]
    repeat = alive_ids.duplicated(keep="first").to_numpy()
    first_kept: dict = {}
    for value, line in zip(alive_ids.tolist(), checked.lines[alive].tolist()):
        first_kept.setdefault(value, line)
    unit = checked.unit
    if repeat.any():
        mask = np.zeros(len(checked.frame), dtype=bool)
        mask[alive[repeat]] = True
        row_ids = dict(zip(alive[repeat].tolist(), alive_ids[repeat].tolist()))
        checked.flag_rows(
            mask,
            column=column,
            hint=hint,
            flag=flag,
            message=lambda pos: f"{message}: first used on {unit} {int(first_kept[row_ids[pos]])}",
        )
    first_aside: dict = {}
    for value, line in zip(ids.iloc[involved[aside]].tolist(), checked.lines[involved[aside]].tolist()):
        first_aside.setdefault(value, line)
    kept_first = alive[~repeat]
    shares = np.array([value in first_aside for value in ids.iloc[kept_first].tolist()], dtype=bool)
    if shares.any():
        mask = np.zeros(len(checked.frame), dtype=bool)
        mask[kept_first[shares]] = True
        kept_ids = dict(zip(kept_first[shares].tolist(), ids.iloc[kept_first[shares]].tolist()))
        checked.flag_rows(
            mask,
            column=column,
            flag=flag,
            severity="warning",
            message=lambda pos: (
                f"{message}: also on {unit} {int(first_aside[kept_ids[pos]])}, which was set aside; this row is kept"
            ),
            hint="fix or remove the set-aside row; if both rows are versions of one record, keep the right one",
        )


def _schema_failures(name: str, frame: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """The contract schema's failures as ``(column, check, positions)``, in
    the order they are reported: the row rules, then per column (contract
    order) missing required values, repeated unique values (all but the
    first), then the value checks (enum choices, non-negative amounts).
    Vectorised: each check is one pass over its column, with no copy of it.
    Missing values are only judged by the required check (and row rules).

    The same checks as :func:`contract_schema`'s pandera schema, which
    stays the reference for small frames (see the tests)."""
    failures: list[tuple[str, str, np.ndarray]] = []

    def add(column: str, check: str, failed: np.ndarray) -> None:
        positions = np.flatnonzero(failed)
        if len(positions):
            failures.append((column, check, positions))

    for rule in ROW_RULES.get(name, ()):
        add(rule.column, rule.name, ~np.asarray(rule.holds(frame), dtype=bool))
    for col in TABLES[name].columns:
        values = frame[col.name]
        missing = values.isna().to_numpy()
        if col.required:
            add(col.name, "not_nullable", missing)
        if col.unique:
            add(col.name, "field_uniqueness", repeats(values) & ~missing)
        if col.kind == ENUM:
            add(col.name, f"isin({list(col.choices)})", ~missing & ~values.isin(list(col.choices)).to_numpy())
        if col.kind == AMOUNT:
            with np.errstate(invalid="ignore"):
                add(col.name, "greater_than_or_equal_to(0)", ~missing & ~(values.to_numpy(dtype="float64", na_value=np.nan) >= 0))
    return failures


def check_references(checked: dict[str, Checked]) -> None:
    """Rules between tables, applied to rows not already set aside.

    A rep_id that is not in reps sets the row aside (``orphan_rep``): its
    figures would belong to nobody. A customer or opportunity reference that
    is not in its table is reported as a warning and the row kept, since the
    deal or contact itself is real.
    """
    reps = checked["reps"]
    known_reps = reps.frame["rep_id"][~reps.bad]
    # rep_id -> line of a reps row that was itself set aside (first such line)
    aside_rows = reps.bad & reps.frame["rep_id"].notna().to_numpy()
    set_aside_reps = dict(zip(reps.frame["rep_id"].to_numpy()[aside_rows][::-1], reps.lines[aside_rows][::-1]))
    knowns: dict[tuple[str, int], Known] = {}  # a table's kept IDs, hashed once for every table referring to them
    for name, table in checked.items():
        if name == "reps":
            continue
        for column, target in TABLES[name].references.items():
            values = table.frame[column]
            present = values.notna().to_numpy() & ~table.bad
            if target == "reps":
                missing = present & ~is_in(values, known_reps)
                aside = missing & values.isin(list(set_aside_reps)).to_numpy()
                table.flag_rows(
                    missing & ~aside,
                    column=column,
                    message="rep_id is not in the reps table",
                    hint="add the rep to reps, or correct the rep_id",
                    flag="orphan_rep",
                )
                if aside.any():
                    rep_ids = values.to_numpy(dtype=object)
                    table.flag_rows(
                        aside,
                        column=column,
                        flag="orphan_rep",
                        message=lambda pos, rep_ids=rep_ids: (
                            f"the rep's own row was set aside ({reps.file}, {reps.unit} {set_aside_reps[rep_ids[pos]]})"
                        ),
                        hint="fix the rep's row in reps; this row is set aside with it",
                    )
            elif (name, target) == ("opportunity_history", "opportunities"):
                continue  # checked by check_history: a change of an unknown deal is set aside
            elif target in checked:
                missing = present & ~is_in(values, _known(checked[target], TABLES[target].key, knowns))
                table.flag_rows(
                    missing,
                    column=column,
                    message=f"{column} is not in the {target} table",
                    hint=f"add it to {target} or correct the {column}; the row is kept",
                    flag="dangling_reference",
                    severity="warning",
                )
            release_arrow_memory()
    if "opportunity_history" in checked:
        check_history(checked["opportunity_history"], checked["opportunities"], knowns)


def _known(table: Checked, key: str, knowns: dict) -> Known:
    """The IDs of ``table``'s rows not set aside, as a :class:`Known` shared by
    the lookups made while no more of its rows are set aside (rows are only
    ever added to ``bad``: the same count is the same rows)."""
    memo_key = (table.name, int(table.bad.sum()))
    if memo_key not in knowns:
        ids = table.frame[key]
        knowns[memo_key] = Known(ids[~table.bad] if table.bad.any() else ids)  # no copy of the IDs when none was set aside
    return knowns[memo_key]


def check_history(history: Checked, opportunities: Checked, knowns: dict | None = None) -> None:
    """The rules of ``opportunity_history`` against ``opportunities``, on rows
    not already set aside: a change of an opportunity that is not in the
    opportunities table is set aside (``unknown_opportunity``: it belongs to
    no rep and no deal), and so is a change dated before the opportunity's
    ``created_date`` (``changed_before_created``; a change on the day it was
    created is fine, whatever its time). Rows in any order are fine."""
    opps = opportunities.frame[~opportunities.bad] if opportunities.bad.any() else opportunities.frame
    created = opps["created_date"]
    values = history.frame["opportunity_id"]
    present = values.notna().to_numpy() & ~history.bad
    position = index_in(values, _known(opportunities, "opportunity_id", {} if knowns is None else knowns))
    unknown = present & (position < 0)
    history.flag_rows(
        unknown,
        column="opportunity_id",
        message="opportunity_id is not in the opportunities table",
        hint="add the opportunity to opportunities, or correct the opportunity_id; the change is set aside",
        flag="unknown_opportunity",
    )
    created_at = pd.Series(created.to_numpy()[np.maximum(position, 0)]).where(position >= 0)
    changed = history.frame["changed_at"].dt.normalize().reset_index(drop=True)
    early = (present & ~unknown) & (changed < created_at).to_numpy(dtype=bool)
    if early.any():
        created_text = created_at.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
        history.flag_rows(
            early,
            column="changed_at",
            message=lambda pos: f"changed_at is before the opportunity's created_date ({created_text[pos]})",
            hint="correct the change's date or the opportunity's created_date",
            flag="changed_before_created",
        )
