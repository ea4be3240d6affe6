"""The one seam between the pages and the runner's memo of batch-wide tables.

Pages ask for a table every report of a batch shares (every rep's metrics,
diagnoses and scorecard, the quality flags, value vs cost) through
:func:`batch_table`. Unless a memo is installed it just calls the function,
so a notebook an analyst runs by hand always computes from the data as it
is now. Where reports run, the runner installs its memo with
:func:`use_memo` (:func:`salesnb.run.memo.install`), so a batch computes
each table once.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["batch_table", "use_memo"]

#: The runner's memo (None: every table is computed); see :func:`use_memo`.
_memo: Callable | None = None


def use_memo(provider: Callable | None) -> Callable | None:
    """Have :func:`batch_table` answer through ``provider(function, ds, **kwargs)``;
    ``use_memo(None)`` removes it. Returns the provider installed before."""
    global _memo
    previous, _memo = _memo, provider
    return previous


def batch_table(function: Callable, ds, **kwargs):
    """``function(ds, **kwargs)``, through the runner's memo when one is installed."""
    if _memo is None:
        return function(ds, **kwargs)
    return _memo(function, ds, **kwargs)
