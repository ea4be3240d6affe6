"""Tables derived from a dataset's frames, made once per batch snapshot.

A report batch's dataset is a read-only snapshot (``ds.snapshot``, set by the
runner's cache); several analyses read the same derived tables from it (every
push of a close date, the customer book, each customer's first contact,
forecasts against actuals): :func:`derived` makes each once per snapshot and
keeps it beside the dataset (not on it: the snapshot pickled for the reports
stays as loaded), forgotten with the dataset. A dataset an analyst loaded (no snapshot) may be
edited in place between calls, so for it each call makes the table again.

What it keeps is shared: a caller never changes it (frames are handed out as
shallow copies, so adding a column to one changes no other caller's).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import pandas as pd

__all__ = ["derived", "shareable"]

#: id(dataset) -> name -> table, for the snapshots alive (each entry dropped with its dataset)
_KEPT: dict[int, dict] = {}


def shareable(ds) -> bool:
    """True when ``ds`` is a snapshot whose derived tables may be kept (see the module doc)."""
    return bool(getattr(ds, "snapshot", False)) and hasattr(ds, "__weakref__")


def derived(ds, name, make: Callable):
    """``make()``, made once per snapshot ``ds`` under ``name`` (any hashable: a
    table's name, with its period where it has one); every call on any other
    dataset makes it again. A frame comes as a shallow copy."""
    if not shareable(ds):
        return make()
    kept = _KEPT.get(id(ds))
    if kept is None:
        kept = _KEPT[id(ds)] = {}
        weakref.finalize(ds, _KEPT.pop, id(ds), None)
    if name not in kept:
        kept[name] = make()
    value = kept[name]
    return value.copy(deep=False) if isinstance(value, (pd.DataFrame, pd.Series)) else value
