"""A deterministic sample data source with planted coaching profiles.

:func:`generate` writes every contract table (CSV or Parquet) and an
``expectations.yml`` for a made-up sales team. The same arguments always
give byte-identical files: all randomness comes from
``numpy.random.default_rng(seed)`` and the history ends at a fixed ``end``
date, never "today".

The first twelve reps carry planted profiles (:data:`PLANTED`) that the
analyses must find: a star, one weakness per funnel factor (prospecting,
conversion, deal size, velocity), padded activity, an over- and an
under-forecaster, four reps trained in "Consultative Selling" and a new
hire. The deal history plants pushed close dates (:data:`PUSHER`), a stage
where one rep's deals stall (:data:`STAGE_STALLER`, :data:`STALLED_STAGE`)
and a bulk updater (:data:`BULK_UPDATER`). Tests of the analysis modules import these facts from here, so the
data and the claims about it live in one place. ``data/README.md`` is the
data dictionary.

Everything is vectorised (numpy and pyarrow, no Python loop over deals or
contacts) and written one block of reps at a time, so a load-test source of
a million opportunities and millions of activities fits in memory::

    generate("/tmp/big", reps=2000, months=60, fmt="parquet")

The package's rooms: :mod:`~salesnb.io.sample.profiles` (the planted facts
and every tuning number), :mod:`~salesnb.io.sample.simulation` (the numpy
draws) and :mod:`~salesnb.io.sample.tables` (Arrow tables and the writer);
this module runs them in order.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import numpy as np

from salesnb.atomic import atomic_open, write_text
from salesnb.errors import InputError
from salesnb.io.sample.profiles import (
    BASELINE,
    BULK_UPDATER,
    FOCUS,
    FORECAST_BIAS,
    HISTORY_STREAM,
    NEW_HIRE,
    PLANTED,
    PROFILE_PARAMETERS,
    PUSHER,
    REPS_PER_BLOCK,
    REVENUE_QUOTA,
    STAGE_STALLER,
    STALLED_STAGE,
    TRAINED,
    TRAINING_EFFECT,
    TRAINING_PROGRAM,
    planted_profiles,
)
from salesnb.io.sample.simulation import (
    Roster,
    Span,
    draw_activities,
    draw_customers,
    draw_history,
    draw_opportunities,
    draw_orders,
    draw_roster,
)
from salesnb.io.sample.tables import (
    TableWriter,
    activities_table,
    customers_table,
    expectations_yaml,
    forecasts_table,
    history_table,
    id_widths,
    opportunities_table,
    orders_table,
    reps_table,
    training_table,
)
from salesnb.io.schema import TABLE_ORDER

__all__ = [
    "SAMPLE_TABLES",
    "generate",
    "planted_profiles",
    "PLANTED",
    "FOCUS",
    "FORECAST_BIAS",
    "TRAINED",
    "TRAINING_PROGRAM",
    "TRAINING_EFFECT",
    "NEW_HIRE",
    "BASELINE",
    "PROFILE_PARAMETERS",
    "REVENUE_QUOTA",
    "PUSHER",
    "STAGE_STALLER",
    "STALLED_STAGE",
    "BULK_UPDATER",
]

SAMPLE_TABLES = tuple(name for name in TABLE_ORDER if name != "quotas")
"""The tables the sample writes, in contract order: every one but ``quotas``
(the sample's targets are its expectations.yml, pro-rated)."""

_FORMATS = ("csv", "parquet")


def generate(
    out_dir,
    *,
    seed: int = 7,
    reps: int = 12,
    months: int = 24,
    end: str = "2025-12-31",
    fmt: str = "csv",
    activity_scale: float = 1.0,
    history_scale: float = 1.0,
) -> dict[str, int]:
    """Write a complete sample data source into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Folder to write (created if needed). Each table becomes
        ``<table>.csv`` or ``<table>.parquet``; a same-named file of the
        other format is removed so the folder stays one source.
    seed : int
        Seed for ``numpy.random.default_rng``; same arguments, same bytes.
    reps : int
        Number of reps; the first twelve carry :data:`PLANTED`.
    months : int
        Months of history, ending with the month of ``end``.
    end : str
        Last day of the history (ISO date). Nothing is dated after it.
    fmt : {"csv", "parquet"}
    activity_scale : float
        Multiplies follow-up and prospecting contacts (default 1.0, about
        3.5 contacts per opportunity); load tests use ~3 for ~10 per deal.
    history_scale : float
        Multiplies the opportunity_history rows (default 1.0, about 3.6 per
        opportunity) with extra stage moves; at 1 the history is unchanged.
        ``benchmarks/metrics.py --pipeline`` uses 1.4 for ~5 per opportunity.

    Returns
    -------
    dict
        Rows written per table, in contract order.
    """
    span, n_reps = _check_arguments(seed=seed, reps=reps, months=months, end=end, fmt=fmt, activity_scale=activity_scale)
    if not (isinstance(history_scale, (int, float)) and 1 <= history_scale <= 20):
        raise InputError(f"history_scale must be a number in [1, 20], not {history_scale!r}")
    rng = np.random.default_rng(int(seed))
    history_rng = np.random.default_rng([int(seed), HISTORY_STREAM])  # its own stream: the other tables do not change
    roster = draw_roster(rng, n_reps, span)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    widths = id_widths(roster, span, activity_scale)
    rows = {name: 0 for name in SAMPLE_TABLES}
    with ExitStack() as files:  # every table lands at once at the end, or none does
        writers = {
            name: TableWriter(files.enter_context(atomic_open(out / f"{name}.{fmt}", "wb")), name, fmt) for name in SAMPLE_TABLES
        }
        writers["reps"].write(reps_table(roster))
        rows["reps"] = n_reps
        counters = {"customers": 0, "opportunities": 0, "activities": 0, "orders": 0}
        for first in range(0, n_reps, REPS_PER_BLOCK):
            block = roster.take(np.arange(first, min(first + REPS_PER_BLOCK, n_reps)))
            tables = _simulate_block(rng, block, span, counters, widths, activity_scale, (history_rng, history_scale))
            for name, table in tables.items():
                writers[name].write(table)
                rows[name] += table.num_rows
        for writer in writers.values():
            writer.close()
    for name in SAMPLE_TABLES:  # the same table in the other format would make the folder ambiguous
        (out / f"{name}.{'parquet' if fmt == 'csv' else 'csv'}").unlink(missing_ok=True)
    write_text(out / "expectations.yml", expectations_yaml(roster))
    return rows


def _check_arguments(*, seed, reps, months, end, fmt, activity_scale) -> tuple[Span, int]:
    for label, value, least in (("seed", seed, 0), ("reps", reps, 1), ("months", months, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise InputError(f"{label} must be a whole number >= {least}, not {value!r}")
    if fmt not in _FORMATS:
        raise InputError(f"fmt must be one of {', '.join(_FORMATS)}, not {fmt!r}")
    if not (isinstance(activity_scale, (int, float)) and 0 < activity_scale <= 20):
        raise InputError(f"activity_scale must be a number in (0, 20], not {activity_scale!r}")
    try:
        end_day = np.datetime64(str(end), "D")
    except ValueError:
        raise InputError(f"end must be an ISO date like 2025-12-31, not {end!r}") from None
    if np.isnat(end_day):
        raise InputError(f"end must be an ISO date like 2025-12-31, not {end!r}")
    end_month = end_day.astype("datetime64[M]")
    firsts = np.arange(end_month - (int(months) - 1), end_month + 1).astype("datetime64[D]")
    lasts = (np.arange(end_month - (int(months) - 1), end_month + 1) + 1).astype("datetime64[D]") - 1
    lasts = np.minimum(lasts, end_day)
    span = Span(
        start=int(firsts[0].astype("int64")),
        end=int(end_day.astype("int64")),
        month_first=firsts.astype("int64"),
        month_last=lasts.astype("int64"),
        months=int(months),
    )
    return span, int(reps)


def _simulate_block(rng, roster: Roster, span: Span, counters: dict, widths: dict, activity_scale: float, history) -> dict:
    """All tables but reps for one block of reps, as pyarrow tables (``history``: its random stream and scale)."""
    history_rng, history_scale = history
    deals = draw_opportunities(rng, roster, span)
    customers = draw_customers(rng, roster, span, deals, activity_scale)
    activities = draw_activities(rng, roster, span, deals, customers, activity_scale)
    orders = draw_orders(rng, span, deals)
    tables = {
        "customers": customers_table(roster, customers, counters, widths),
        "opportunities": opportunities_table(roster, deals, customers, counters, widths),
        "activities": activities_table(roster, activities, deals, customers, counters, widths),
        "orders": orders_table(roster, orders, deals, customers, counters, widths),
        "training": training_table(roster, span),
        "forecasts": forecasts_table(rng, roster, span, deals),
        "opportunity_history": history_table(draw_history(history_rng, roster, span, deals, history_scale), counters, widths),
    }
    for name in ("customers", "opportunities", "activities", "orders"):
        counters[name] += tables[name].num_rows
    return tables
