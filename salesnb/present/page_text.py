"""Small text helpers the pages share: rep labels, blank parameters, case-insensitive matching,
plain values and quarters for a sentence.

Kept apart so that each page module (:mod:`salesnb.present.segments`,
:mod:`salesnb.present.rep_page`, :mod:`salesnb.present.team_page`,
:mod:`salesnb.present.analysis_pages`) words things the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb.analysis.labels import currency_of, set_currency
from salesnb.io.dataset import Dataset

__all__ = [
    "rep_label",
    "rep_labels",
    "blank_to_none",
    "is_blank",
    "fold",
    "plain_text",
    "plain_value",
    "quarters_text",
    "and_join",
    "use_currency",
]


def rep_label(rep_id, name) -> str:
    """``Ann Lee (R01)``, or the bare id when the name is missing or the same."""
    name = plain_text(name)
    return f"{name} ({rep_id})" if name and name != rep_id else str(rep_id)


def rep_labels(ds: Dataset) -> dict:
    """rep_id -> :func:`rep_label` for every rep of ``ds``."""
    reps = ds.reps.drop_duplicates("rep_id")
    return {r: rep_label(r, n) for r, n in zip(reps["rep_id"], reps["name"])}


def blank_to_none(value):
    """None for a blank parameter (``""``, NaN), else ``value`` (e.g. a notebook's ``as_of``)."""
    return None if is_blank(value) else value


def is_blank(value) -> bool:
    """Whether a parameter or cell is empty: None, NaN or only spaces."""
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def fold(value) -> str | None:
    """Text to compare case-insensitively (stripped, casefolded); None for a missing value."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return str(value).strip().casefold()


def plain_text(value) -> str:
    """A cell as text for a page: "" for a missing value."""
    return "" if is_blank(value) or value is pd.NA else str(value)


def plain_value(value, *, nan: bool = False):
    """A numpy/pandas scalar as a plain Python value; NaN as None (or NaN with ``nan``)."""
    if value is None or value is pd.NA:
        return np.nan if nan else None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return (np.nan if nan else None) if np.isnan(value) else float(value)
    return value


def quarters_text(quarters, order) -> str:
    """Quarters for a sentence, three or more in a row as a range: "2024-Q1 and 2024-Q3 to 2025-Q2"."""
    position = {q: i for i, q in enumerate(order)}
    runs: list[list[str]] = []
    for q in sorted(set(quarters), key=position.get):
        if runs and position[q] == position[runs[-1][-1]] + 1:
            runs[-1].append(q)
        else:
            runs.append([q])
    parts: list[str] = []
    for run in runs:
        parts += run if len(run) < 3 else [f"{run[0]} to {run[-1]}"]
    return and_join(parts)


def and_join(items: list[str]) -> str:
    """``a, b and c``: items for a sentence."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def use_currency(ds: Dataset) -> str | None:
    """Show money on this page in the currency ``ds``'s expectations name
    (``currency: EUR``), or with no sign when they name none: every page
    builder calls it first, so its tables, sentences and chart axes agree
    (:func:`salesnb.analysis.labels.set_currency`). Returns the currency."""
    code = currency_of(ds.expectations)
    set_currency(code)
    return code
