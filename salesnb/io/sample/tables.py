"""The sample as contract tables: the simulation's arrays turned into Arrow
tables with the contract's IDs, labels and types, the streaming CSV/Parquet
writer, and the ``expectations.yml`` text.

IDs run on across blocks (``counters``) with a zero-padding fixed before the
first block (:func:`id_widths`), so blocks can be written as they come.
"""

from __future__ import annotations

import numpy as np

from salesnb.io.sample.profiles import (
    ACTIVITY_TYPES,
    COMPANY_SUFFIX,
    COMPANY_WORDS,
    CUSTOMER_TYPES,
    MARKET_TIERS,
    METHODS,
    NEW_HIRE_QUOTA,
    REVENUE_QUOTA,
    STAGES,
    STATUSES,
    TEAM_OF_TERRITORY,
    TERRITORIES,
    TRAINING_DAYS,
    TRAINING_PROGRAM,
)
from salesnb.io.sample.simulation import NO_DATE, Activities, Customers, Deals, History, Orders, Roster, Span
from salesnb.io.schema import AMOUNT, DATE, TABLES

__all__ = [
    "id_widths",
    "reps_table",
    "customers_table",
    "opportunities_table",
    "activities_table",
    "orders_table",
    "training_table",
    "forecasts_table",
    "history_table",
    "TableWriter",
    "expectations_yaml",
]


def id_widths(roster: Roster, span: Span, activity_scale: float) -> dict[str, int]:
    """Zero-padding widths fixed before simulating (blocks are written as they
    come), from a generous bound on each table's expected rows."""
    opportunities = float(roster.opportunity_rate.sum()) * span.months
    prospects = float(roster.prospects.sum()) * span.months
    bound = {
        "opportunities": opportunities,
        "customers": opportunities + prospects,
        "activities": (opportunities * (2 + roster.follow_ups.max()) + prospects * 2) * activity_scale
        + 60 * span.months * int(roster.padding.sum()),
        "orders": opportunities * 8,
    }
    minimum = {"opportunities": 6, "customers": 5, "activities": 7, "orders": 6}
    return {name: max(minimum[name], len(str(int(2 * rows) + 1000))) for name, rows in bound.items()}


def _pa():
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa, pc


def _id_array(prefix: str, numbers: np.ndarray, width: int, missing: np.ndarray | None = None):
    """``prefix`` + zero-padded number, e.g. O000042; null where ``missing``."""
    pa, pc = _pa()
    digits = pc.utf8_lpad(pa.array(np.asarray(numbers, np.int64)).cast(pa.string()), width=width, padding="0")
    ids = pc.binary_join_element_wise(pa.scalar(prefix), digits, "")
    if missing is not None and missing.any():
        ids = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), ids)
    return ids


def _labels(labels, codes: np.ndarray, missing: np.ndarray | None = None):
    """String array of ``labels[codes]``; null where ``missing``."""
    pa, _ = _pa()
    dictionary = pa.array(list(labels), pa.string())
    return dictionary.take(pa.array(np.asarray(codes, np.int64), mask=missing))


def _date_array(days: np.ndarray, missing: np.ndarray | None = None):
    pa, _ = _pa()
    return pa.array(np.asarray(days, np.int64).astype(np.int32), type=pa.int32(), mask=missing).cast(pa.date32())


def _amount_array(values: np.ndarray, missing: np.ndarray | None = None):
    pa, _ = _pa()
    return pa.array(np.asarray(values, np.float64), type=pa.float64(), mask=missing)


_TIMESTAMPS = {("opportunity_history", "changed_at")}  # written with the time of day
# Contract columns a sample does not fill: it has no mailboxes to deliver to.
_NOT_GENERATED = {"email", "manager_email"}


def _schema(name: str):
    pa, _ = _pa()
    kinds = {DATE: pa.date32(), AMOUNT: pa.float64()}
    return pa.schema(
        [
            pa.field(c.name, pa.timestamp("s") if (name, c.name) in _TIMESTAMPS else kinds.get(c.kind, pa.string()))
            for c in TABLES[name].columns
            if c.name not in _NOT_GENERATED
        ]
    )


def _table(name: str, columns: dict):
    pa, _ = _pa()
    schema = _schema(name)
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


def reps_table(roster: Roster):
    pa, _ = _pa()
    territory = np.array(TERRITORIES, dtype=object)[roster.territory]
    return _table(
        "reps",
        {
            "rep_id": pa.array(list(roster.rep_id), pa.string()),
            "name": pa.array(list(roster.name), pa.string()),
            "territory": pa.array(list(territory), pa.string()),
            "team": pa.array([TEAM_OF_TERRITORY[t] for t in territory], pa.string()),
            "hire_date": _date_array(roster.hire_day),
            "annual_cost": _amount_array(roster.annual_cost),
        },
    )


def _rep_ids(roster: Roster, rep: np.ndarray):
    pa, _ = _pa()
    return pa.array(list(roster.rep_id), pa.string()).take(pa.array(np.asarray(rep, np.int64)))


def _customer_ids(customers: Customers, local: np.ndarray, counters: dict, widths: dict):
    local = np.asarray(local, np.int64)
    missing = local < 0
    number = counters["customers"] + 1 + customers.order[np.where(missing, 0, local)]
    return _id_array("C", number, widths["customers"], missing)


def _deal_ids(local: np.ndarray, counters: dict, widths: dict):
    local = np.asarray(local, np.int64)
    missing = local < 0
    return _id_array("O", counters["opportunities"] + 1 + np.where(missing, 0, local), widths["opportunities"], missing)


def customers_table(roster: Roster, customers: Customers, counters: dict, widths: dict):
    pa, pc = _pa()
    ranking = np.argsort(customers.order)
    n = len(ranking)
    customer_type = customers.customer_type[ranking]
    word = _labels(COMPANY_WORDS, (counters["customers"] + np.arange(n)) * 7 % len(COMPANY_WORDS))
    suffix = _labels([COMPANY_SUFFIX[t] for t in CUSTOMER_TYPES], customer_type)
    name = pc.binary_join_element_wise(word, suffix, " ")
    acquired = customers.acquired[ranking]
    return _table(
        "customers",
        {
            "customer_id": _customer_ids(customers, ranking, counters, widths),
            "name": name,
            "territory": _labels(TERRITORIES, roster.territory[customers.rep[ranking]]),
            "customer_type": _labels(CUSTOMER_TYPES, customer_type),
            "market_tier": _labels(MARKET_TIERS, customers.tier[ranking]),
            "acquisition_method": _labels(METHODS, customers.method[ranking]),
            "rep_id": _rep_ids(roster, customers.rep[ranking]),
            "acquired_date": _date_array(acquired, acquired < 0),
        },
    )


def opportunities_table(roster: Roster, deals: Deals, customers: Customers, counters: dict, widths: dict):
    n = len(deals.rep)
    is_open = deals.status == 0
    return _table(
        "opportunities",
        {
            "opportunity_id": _deal_ids(np.arange(n), counters, widths),
            "rep_id": _rep_ids(roster, deals.rep),
            "customer_id": _customer_ids(customers, deals.customer, counters, widths),
            "created_date": _date_array(deals.created),
            "closed_date": _date_array(deals.closed, is_open),
            "status": _labels(STATUSES, deals.status),
            "amount": _amount_array(deals.amount),
            "acquisition_method": _labels(METHODS, customers.method[deals.customer]),
            "stage": _labels(STAGES, deals.stage),
        },
    )


def activities_table(roster: Roster, activities: Activities, deals: Deals, customers: Customers, counters: dict, widths: dict):
    n = len(activities.rep)
    return _table(
        "activities",
        {
            "activity_id": _id_array("A", counters["activities"] + 1 + np.arange(n), widths["activities"]),
            "rep_id": _rep_ids(roster, activities.rep),
            "date": _date_array(activities.day),
            "type": _labels(ACTIVITY_TYPES, activities.kind),
            "customer_id": _customer_ids(customers, activities.customer, counters, widths),
            "opportunity_id": _deal_ids(activities.deal, counters, widths),
        },
    )


def orders_table(roster: Roster, orders: Orders, deals: Deals, customers: Customers, counters: dict, widths: dict):
    n = len(orders.deal)
    return _table(
        "orders",
        {
            "order_id": _id_array("S", counters["orders"] + 1 + np.arange(n), widths["orders"]),
            "customer_id": _customer_ids(customers, deals.customer[orders.deal], counters, widths),
            "rep_id": _rep_ids(roster, deals.rep[orders.deal]),
            "date": _date_array(orders.day),
            "amount": _amount_array(orders.amount),
        },
    )


def training_table(roster: Roster, span: Span):
    pa, _ = _pa()
    trained = np.flatnonzero(roster.training_day <= span.end)
    start = roster.training_day[trained]
    return _table(
        "training",
        {
            "rep_id": _rep_ids(roster, trained),
            "program": pa.array([TRAINING_PROGRAM] * len(trained), pa.string()),
            "start_date": _date_array(start),
            "end_date": _date_array(np.minimum(start + TRAINING_DAYS, span.end)),
        },
    )


def forecasts_table(rng, roster: Roster, span: Span, deals: Deals):
    """Each rep's forecast of each whole quarter in the span (from the hire
    date on), submitted on the quarter's first day: actual won revenue times
    the rep's bias, with +-10 % noise, rounded to hundreds."""
    pa, _ = _pa()
    first_day = span.month_first.astype("datetime64[D]")
    months = first_day.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    quarter_of_month = months // 3
    q_start_month = np.unique(quarter_of_month) * 3
    q_first = q_start_month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    q_last = (q_start_month + 3).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1
    whole = (q_first >= span.start) & (q_last <= span.end)
    q_first, q_last, q_start_month = q_first[whole], q_last[whole], q_start_month[whole]
    n_q, n_reps = len(q_first), len(roster)
    won = deals.status == 1
    q_index = np.searchsorted(q_first, deals.closed[won], side="right") - 1
    inside = (q_index >= 0) & (deals.closed[won] <= (q_last[q_index] if n_q else 0))
    actual = np.bincount(
        deals.rep[won][inside] * n_q + q_index[inside], weights=deals.amount[won][inside], minlength=n_reps * n_q
    ).reshape(n_reps, n_q)
    noise = rng.uniform(0.9, 1.1, size=(n_reps, n_q))
    forecast = np.round(actual * roster.forecast_bias[:, None] * noise, -2)
    keep = (q_first[None, :] >= roster.active_from[:, None]).ravel()
    rep = np.repeat(np.arange(n_reps), n_q)[keep]
    q = np.tile(np.arange(n_q), n_reps)[keep]
    year = q_start_month // 12 + 1970
    label = np.char.add(np.char.add(year.astype(str), "-Q"), (q_start_month % 12 // 3 + 1).astype(str))
    return _table(
        "forecasts",
        {
            "rep_id": _rep_ids(roster, rep),
            "period": pa.array(list(label[q]), pa.string()),
            "forecast_amount": _amount_array(forecast.ravel()[keep]),
            "submitted_date": _date_array(q_first[q]),
        },
    )


def history_table(history: History, counters: dict, widths: dict):
    """opportunity_history: one row per change, amount left blank (the deal's own amount stands)."""
    pa, _ = _pa()
    n = len(history.deal)
    blank = np.asarray(history.expected_close) == NO_DATE
    return _table(
        "opportunity_history",
        {
            "opportunity_id": _deal_ids(history.deal, counters, widths),
            "changed_at": pa.array(np.asarray(history.second, np.int64), type=pa.timestamp("s")),
            "stage": _labels(STAGES, history.stage),
            "expected_close_date": _date_array(np.where(blank, 0, history.expected_close), blank if blank.any() else None),
            "amount": _amount_array(np.zeros(n), np.ones(n, dtype=bool)),
        },
    )


# --- Writing -------------------------------------------------------------------


class TableWriter:
    """Streams one table, block by block, into an open binary file."""

    def __init__(self, handle, name: str, fmt: str):
        import pyarrow.csv as csv
        import pyarrow.parquet as pq

        schema = _schema(name)
        if fmt == "parquet":
            self._writer = pq.ParquetWriter(handle, schema, compression="zstd")
        else:
            handle.write((",".join(schema.names) + "\n").encode())
            self._writer = csv.CSVWriter(
                handle, schema, write_options=csv.WriteOptions(include_header=False, quoting_style="none")
            )

    def write(self, table) -> None:
        if table.num_rows:
            self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()  # writes the Parquet footer; leaves the file to atomic_open


def expectations_yaml(roster: Roster) -> str:
    new_hires = [r for r, hire in zip(roster.rep_id, roster.new_hire) if hire]
    lines = [
        "# What success means for a rep (yearly figures, pro-rated to any period).",
        "# Written by salesnb.io.sample.generate; see data/README.md.",
        "default:",
        f"  revenue_quota: {REVENUE_QUOTA}",
        "  new_customers: {primary: 18, secondary: 12}",
        "  visits_per_customer: {primary: 0.5, secondary: 0.25}",
        "  prospecting_methods: [cold_call_phone, cold_call_visit, referral]",
        "  max_travel_share: 0.20",
        "  pipeline_coverage: 1.0",
        "  win_rate: 0.55",
        "teams:",
        "  Beta: {max_travel_share: 0.30, visits_per_customer: {primary: 0.75, secondary: 0.3}}",
    ]
    if new_hires:
        lines.append("reps:")
        lines += [
            f"  {rep}: {{revenue_quota: {NEW_HIRE_QUOTA}, new_customers: {{primary: 9, secondary: 6}}}}" for rep in new_hires
        ]
    return "\n".join(lines) + "\n"
