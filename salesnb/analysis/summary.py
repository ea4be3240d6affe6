"""A short description of a loaded source, for people (``salesnb validate``)."""

from __future__ import annotations

import pandas as pd

from salesnb.io.dataset import Dataset
from salesnb.io.schema import DATE, TABLES

__all__ = ["describe", "table_summary"]


def table_summary(dataset: Dataset) -> pd.DataFrame:
    """One row per contract table: rows kept, rows set aside, date span, file."""
    return pd.DataFrame(_table_rows(dataset))


def _table_rows(dataset: Dataset) -> list[dict]:
    quarantine = dataset.quarantine
    set_aside = quarantine["table"].value_counts() if quarantine is not None and len(quarantine) else pd.Series(dtype=int)
    rows = []
    for name, table in TABLES.items():
        frame = dataset.table(name)
        if frame is None:
            rows.append(
                {
                    "table": name,
                    "rows": None,
                    "set_aside": None,
                    "first": None,
                    "last": None,
                    "file": "(required, missing)" if table.required else "(not provided)",
                }
            )
            continue
        dates = [frame[c.name] for c in table.columns if c.kind == DATE and frame[c.name].notna().any()]
        first = min(d.min() for d in dates) if dates else None
        last = max(d.max() for d in dates) if dates else None
        rows.append(
            {
                "table": name,
                "rows": len(frame),
                "set_aside": int(set_aside.get(name, 0)),
                "first": first.date().isoformat() if first is not None else "",
                "last": last.date().isoformat() if last is not None else "",
                "file": dataset.files.get(name, ""),
            }
        )
    return rows


def _count(n: int, word: str) -> str:
    """``1 team``, ``0 teams``, ``2 territories``."""
    if n == 1:
        return f"1 {word}"
    return f"{n:,} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"


def _files_named_after_tables(dataset: Dataset) -> str | None:
    """``data/sample/<table>.csv`` when every file read is ``<table>.<ext>`` in the source folder
    (one extension, or ``.{csv,parquet}``); None otherwise (a mapping's own names, a database)."""
    from pathlib import Path

    folder = Path(dataset.source)
    if not dataset.files or not folder.is_dir():
        return None
    extensions = []
    for table, file in dataset.files.items():
        path = Path(file)
        if path.parent != folder or path.stem != table:
            return None
        extensions.append(path.suffix)
    found = sorted(set(extensions))
    shown = found[0] if len(found) == 1 else ".{" + ",".join(e.lstrip(".") for e in found) + "}"
    return f"{folder / '<table>'}{shown}"


def describe(dataset: Dataset) -> str:
    """The text ``salesnb validate`` prints before the problems."""
    from types import SimpleNamespace

    summary = [SimpleNamespace(**row) for row in _table_rows(dataset)]
    lines = [f"Source: {dataset.source}", ""]
    # Files named after their tables in the source folder go on one line below, so the table fits 80 columns.
    named = _files_named_after_tables(dataset)
    width = max(len(row.table) for row in summary) + 2
    lines.append((f"{'table':<{width}}{'rows':>10}{'set aside':>11}  {'date span':<24}" + ("" if named else "  file")).rstrip())
    for row in summary:
        if row.rows is None:
            lines.append(f"{row.table:<{width}}{'-':>10}{'-':>11}  " + (row.file if named else f"{'':<24}  {row.file}"))
            continue
        span = f"{row.first} .. {row.last}" if row.first else ""
        lines.append(
            (f"{row.table:<{width}}{row.rows:>10,}{row.set_aside:>11,}  {span:<24}" + ("" if named else f"  {row.file}")).rstrip()
        )
    if named:
        lines.append(f"Files: {named}")
    reps = dataset.reps
    teams = reps["team"].nunique() if reps is not None else 0
    territories = reps["territory"].nunique() if reps is not None else 0
    lines.append("")
    lines.append(f"Reps: {0 if reps is None else len(reps)} in {_count(teams, 'team')} and {_count(territories, 'territory')}")
    errors = sum(p.severity == "error" for p in dataset.problems)
    warnings = len(dataset.problems) - errors
    lines.append(f"Rows set aside (quarantined): {dataset.quarantined_rows}; problems: {errors} errors, {warnings} warnings")
    for table, rows in dataset.left_out.items():
        if rows:
            lines.append(
                f"Rows left out by the mapping's where: {table} {_count(rows, 'row')} (kept out on purpose, not problems)"
            )
    if dataset.unread:
        lines.append(f"Files not read ({len(dataset.unread)}):")
        lines += [f"  {file}: {why}" for file, why in dataset.unread]
    if dataset.expectations is not None:
        goals = "expectations.yml found"
    elif dataset.tables.get("quotas") is not None:
        goals = "none (quota comes from the quotas table; the scorecard needs expectations.yml)"
    else:
        goals = "none (quota and scorecard need expectations.yml or a quotas table)"
    lines.append(f"Expectations: {goals}")
    return "\n".join(lines)
