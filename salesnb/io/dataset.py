"""The loaded data source: typed contract tables plus what was set aside.

Analyses take a :class:`Dataset` (or its frames) and never re-read files.
Every present table holds every contract column (optional ones absent from
the source are all-missing), so analyses need not test for columns; an
optional table that is absent is ``None`` and :meth:`Dataset.missing` says
which table would enable the analysis that wanted it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from salesnb.errors import Problem
from salesnb.io.schema import TABLES


@dataclass
class Dataset:
    tables: dict[str, pd.DataFrame]
    problems: list[Problem] = field(default_factory=list)
    quarantine: pd.DataFrame | None = None
    expectations: dict | None = None
    source: str = ""
    fingerprint: str = ""
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: A report batch's read-only copy (:mod:`salesnb.run.cache`): only such a
    #: dataset shares memoised tables (:mod:`salesnb.run.memo`) with others.
    snapshot: bool = False
    keys_unique: bool = False
    """True when each table's own ID is known to be unique (``salesnb.load``
    sets it: repeats are quarantined), so analyses skip checking again."""
    left_out: dict[str, int] = field(default_factory=dict)
    """Rows a mapping's ``where:`` left out, per table (counted, never reported as bad)."""
    unread: list[tuple[str, str]] = field(default_factory=list)
    """(file, why) for each file of a folder source that was not read."""
    inputs: list[str] = field(default_factory=list)
    """Every file the tables were read from."""

    def table(self, name: str) -> pd.DataFrame | None:
        """The typed frame for contract table ``name``, or None when absent."""
        if name not in TABLES:
            raise KeyError(f"{name!r} is not a contract table; known: {', '.join(TABLES)}")
        return self.tables.get(name)

    def has(self, name: str) -> bool:
        return self.table(name) is not None

    @staticmethod
    def missing(name: str) -> str:
        """The note an analysis shows when optional table ``name`` is absent."""
        enables = TABLES[name].enables or "this analysis"
        return f"No `{name}` table in the source: add one to enable {enables}."

    @property
    def quarantined_rows(self) -> int:
        return 0 if self.quarantine is None else len(self.quarantine)

    # Attribute access for the common tables: ds.reps, ds.opportunities, ...
    def __getattr__(self, name: str):
        if name in TABLES:
            return self.tables.get(name)
        raise AttributeError(name)


def conform(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` as contract table ``name``: every column, in contract
    order, with the contract dtypes (str for unique IDs and free text,
    ``category`` of str for repeated text -- references to other tables'
    IDs, categories, enums, stage: see :mod:`salesnb.io.categorical` --,
    datetime64[ns] for dates, float64 for amounts). Values must already be
    clean; the loader parses and validates messy ones before calling this.
    """
    from salesnb.io.categorical import as_category
    from salesnb.io.schema import AMOUNT, DATE, DATE_DTYPE

    table = TABLES[name]
    out = {}
    for col in table.columns:
        values = frame[col.name] if col.name in frame.columns else pd.Series(pd.NA, index=frame.index)
        if col.kind == DATE:
            out[col.name] = values if values.dtype == DATE_DTYPE else pd.to_datetime(values).astype(DATE_DTYPE)
        elif col.kind == AMOUNT:
            out[col.name] = values if values.dtype == "float64" else pd.to_numeric(values).astype("float64")
        elif col.categorical:
            out[col.name] = as_category(values if values.dtype != object else values.where(values.notna(), None).astype("str"))
        elif pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
            out[col.name] = values
        else:
            out[col.name] = values.astype("object").where(values.notna(), None).astype("str")
    return pd.DataFrame(out, index=frame.index, copy=False).reset_index(drop=True)


def from_frames(*, expectations: dict | None = None, source: str = "<frames>", **frames: pd.DataFrame) -> Dataset:
    """Build a :class:`Dataset` from clean frames (tests, notebooks, callers
    that already hold the data): ``from_frames(reps=..., opportunities=...)``.
    """
    unknown = set(frames) - set(TABLES)
    if unknown:
        raise KeyError(f"not contract tables: {sorted(unknown)}; known: {', '.join(TABLES)}")
    tables = {name: conform(name, pd.DataFrame(df)) for name, df in frames.items() if df is not None}
    return Dataset(tables=tables, expectations=expectations, source=source)
