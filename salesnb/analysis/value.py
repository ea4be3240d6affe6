"""What a rep's customers are worth, and what the rep costs.

``clv`` (contract): the realised revenue to date, up to the period's end,
from the customers a rep owns (``customers.rep_id``, else the rep of the
customer's first won opportunity), taken from ``orders`` when the source has
them, else from won opportunity amounts. Every result says which in
``clv_source`` (``"orders"`` or ``"won_opportunities"``).

``value_cost_ratio`` = clv / annual_cost (NaN when the cost is missing or
0). Example: a rep costing 100,000 a year whose customers brought in
500,000 has 5; one costing 40,000 with 80,000 has 2. A rep hired less than
a year before the period's last day has cost only part of a year: the cost
is pro-rated by :func:`employed_share` (hired 2025-07-01, 2025: 184 of 365
days, so 100,000 a year costs 50,411 and 500,000 of value gives 9.92).

Choices made where the contract is silent:

- Source is chosen per data source: ``orders`` as soon as the orders table
  has rows (a customer with no order then has 0), else won opportunities.
- With orders, a customer that neither the customers table nor a won
  opportunity assigns to a rep is owned by the rep on its first order.
- With won opportunities, a won deal with no ``customer_id`` counts as a
  one-off customer of the rep who won it (its revenue is not lost).
- Groups of reps (team, territory): sum of the reps' clv / sum of their
  annual_cost; the ratio is NaN when any rep of the group lacks a cost
  (a partial cost would overstate the ratio).
- Groups of customers (customer_type, market_tier, acquisition_method):
  each rep's annual_cost is split equally over the customers that rep has
  brought in (realised revenue > 0 to date); a group's cost is the sum of
  its customers' shares, so the ratio says which kinds of customer pay
  back the selling effort. Customers no rep owns are left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb.analysis.customers import book_of
from salesnb.analysis.frames import GROUPINGS, UNKNOWN, by_columns, first_positions, lookup, positions
from salesnb.analysis.periods import Period, parse_period
from salesnb.errors import InputError
from salesnb.io.categorical import coalesce, concat_rows, fill_text, is_categorical, plain

__all__ = ["CLV_SOURCES", "clv", "clv_source", "customer_values", "employed_share", "value_cost"]

CLV_SOURCES = ("orders", "won_opportunities")

_DAY = pd.Timedelta(days=1)


def clv_source(ds) -> str:
    """``"orders"`` when the source has order rows, else ``"won_opportunities"``."""
    orders = ds.orders
    return "orders" if orders is not None and len(orders) else "won_opportunities"


def customer_values(ds, *, as_of_end, _book: pd.DataFrame | None = None) -> pd.DataFrame:
    """Realised revenue per customer up to ``as_of_end`` (inclusive day).

    Columns: customer_id, rep_id (owner), revenue, customer_type,
    market_tier, acquisition_method, territory. Rows for one-off won deals
    with no customer have a missing customer_id.
    """
    end = _end_day(as_of_end) + _DAY
    book = book_of(ds) if _book is None else _book  # a batch snapshot's, made once
    attrs = ["customer_type", "market_tier", "acquisition_method", "territory"]
    if clv_source(ds) == "orders":
        orders = ds.orders
        done = (orders["date"] < end).to_numpy()
        amounts, customers = (
            (orders["amount"], orders["customer_id"]) if done.all() else (orders["amount"][done], orders["customer_id"][done])
        )  # only the two columns it needs, and no copy when all count
        revenue = _sum_by_customer(amounts, customers)
        values = _with_revenue(book, revenue)
        unowned = values["rep_id"].isna().to_numpy() & values["customer_id"].notna().to_numpy()
        if unowned.any():  # only then is the first order per customer needed (a pass over every order)
            first = orders.iloc[first_positions(orders["customer_id"], orders["date"], orders["order_id"])]
            order_rep = pd.Series(first["rep_id"].array, index=first["customer_id"])
            values["rep_id"] = coalesce(values["rep_id"], lookup(values["customer_id"][unowned], order_rep).reindex(values.index))
    else:
        opps = ds.opportunities
        won = opps[(opps["status"].eq("won") & (opps["closed_date"] < end) & opps["amount"].notna()).to_numpy()]
        linked = won["customer_id"].notna().to_numpy()
        revenue = _sum_by_customer(won["amount"][linked], won["customer_id"][linked])
        values = _with_revenue(book, revenue)
        one_off = pd.DataFrame(
            {
                "customer_id": won.loc[~linked, "customer_id"],
                "rep_id": won.loc[~linked, "rep_id"],
                "revenue": won.loc[~linked, "amount"],
            }
        )
        if len(one_off):
            values = concat_rows([values, one_off])
    values["revenue"] = values["revenue"].fillna(0.0)
    return values[["customer_id", "rep_id", "revenue", *attrs]].reset_index(drop=True)


def clv(ds, *, by=("rep_id",), as_of_end) -> pd.DataFrame:
    """Customer lifetime value per group, to ``as_of_end`` (a date or a
    Period, whose last day is used).

    ``by`` may be any column of :func:`customer_values` (rep_id,
    customer_type, market_tier, acquisition_method, territory, customer_id).
    Returns *by, clv, customers (those with revenue > 0), clv_source.
    Customers with no owner are grouped under a missing rep_id.
    """
    by = by_columns(by)
    values = customer_values(ds, as_of_end=as_of_end)
    missing = [c for c in by if c not in values.columns]
    if missing:
        raise InputError(f"clv cannot group by {missing}; use columns of customer_values: {list(values.columns)}")
    values["customers"] = (values["revenue"] > 0).astype("int64")
    out = values.groupby(list(by), dropna=False, sort=True, observed=True)[["revenue", "customers"]].sum().reset_index()
    for column in by:
        out[column] = plain(out[column])
    out = out.rename(columns={"revenue": "clv"})
    out["clv_source"] = clv_source(ds)
    return out


def value_cost(ds, *, period, by: str = "rep", as_of=None, _book: pd.DataFrame | None = None) -> pd.DataFrame:
    """Customer lifetime value against yearly cost, per group.

    Parameters
    ----------
    ds : Dataset
    period : str or Period
        clv counts revenue up to the period's last day.
    by : {"rep", "team", "territory", "customer_type", "acquisition_method", "market_tier"}
        See the module notes for how groups of reps and of customers are costed.

    Returns
    -------
    DataFrame
        The group column (rep_id for reps), clv, annual_cost (the yearly
        figure of the reps table, summed for groups), cost (annual_cost
        pro-rated by :func:`employed_share` for a rep hired less than a year
        before the period's end; equal to annual_cost otherwise),
        value_cost_ratio (clv / cost, NaN when the cost is missing or 0),
        customers (with revenue > 0), clv_source.
    """
    if by not in GROUPINGS:
        raise InputError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    period = parse_period(period, as_of=as_of)
    column = GROUPINGS[by]
    values = customer_values(ds, as_of_end=period.end, _book=_book)
    reps = ds.reps.drop_duplicates("rep_id")[["rep_id", "team", "territory", "annual_cost"]]
    share = employed_share(ds.reps, period)
    reps = reps.assign(cost=reps["annual_cost"].astype("float64").to_numpy() * share.to_numpy())
    per_rep = _per_rep(values)
    if by in ("rep", "team", "territory"):
        frame = reps.merge(per_rep, left_on="rep_id", right_index=True, how="outer", sort=False)
        frame[["revenue", "customers"]] = frame[["revenue", "customers"]].fillna(0)
        if by != "rep":
            frame[column] = plain(frame[column]).fillna(UNKNOWN)
            frame = frame.groupby(column, sort=True, observed=True).agg(
                revenue=("revenue", "sum"),
                customers=("customers", "sum"),
                annual_cost=("annual_cost", lambda cost: cost.sum(skipna=False)),
                cost=("cost", lambda cost: cost.sum(skipna=False)),
            )
            frame = frame.reset_index()
    else:
        values["customers"] = (values["revenue"] > 0).astype("int64")
        owned = values.dropna(subset=["rep_id"]).copy()
        rep_customers = lookup(owned["rep_id"], per_rep["customers"]).astype("float64")
        for name in ("annual_cost", "cost"):
            rep_cost = lookup(owned["rep_id"], reps.set_index("rep_id")[name]).astype("float64")
            owned[name] = np.where(owned["customers"] > 0, rep_cost / rep_customers.where(rep_customers > 0), 0.0)
        owned[column] = plain(fill_text(owned[column], UNKNOWN))
        frame = owned.groupby(column, sort=True, observed=True).agg(
            revenue=("revenue", "sum"),
            customers=("customers", "sum"),
            annual_cost=("annual_cost", lambda cost: cost.sum(skipna=False)),
            cost=("cost", lambda cost: cost.sum(skipna=False)),
        )
        frame = frame.reset_index()
    frame = frame.rename(columns={"revenue": "clv"})
    frame["customers"] = frame["customers"].astype("int64")
    frame["value_cost_ratio"] = frame["clv"] / frame["cost"].where(frame["cost"] > 0)
    frame["clv_source"] = clv_source(ds)
    return frame[[column, "clv", "annual_cost", "cost", "value_cost_ratio", "customers", "clv_source"]].reset_index(drop=True)


def employed_share(reps: pd.DataFrame, period) -> pd.Series:
    """Share of the year up to ``period``'s last day each rep was employed, by rep_id.

    The year is the 12 months ending on the period's last day (for a
    calendar year, the year itself); days count inclusively, as
    :func:`salesnb.analysis.diagnosis.active_share` counts them. 1.0 when
    hired before that year or the hire date is unknown, 0.0 when hired
    after the period. Example: hired 2025-07-01, period 2025 -> 184 / 365.
    """
    period = parse_period(period)
    frame = reps.drop_duplicates("rep_id")
    ids = plain(frame["rep_id"]).astype("str").to_numpy()
    if "hire_date" not in frame.columns:
        return pd.Series(1.0, index=pd.Index(ids, name="rep_id"), dtype="float64")
    first = period.end - pd.DateOffset(years=1) + _DAY
    days = (period.end - first).days + 1
    hired = pd.to_datetime(frame["hire_date"], errors="coerce")
    worked = (period.end - hired.clip(lower=first)).dt.days + 1
    share = (worked / days).clip(lower=0.0, upper=1.0).where(hired.notna(), 1.0)
    return pd.Series(share.to_numpy(dtype="float64"), index=pd.Index(ids, name="rep_id"))


def _per_rep(values: pd.DataFrame) -> pd.DataFrame:
    """revenue and customers (those with revenue > 0) summed per rep_id, in
    order of first appearance, a missing rep_id left out; indexed by the
    rep_id as str. One groupby per column, each over a Series: no int64
    customers column and no two-column block beside the values (~45 MiB
    for 1.6 M customers); the sums are the same groupby sums."""
    keys, revenue = values["rep_id"], values["revenue"]
    per_rep = pd.DataFrame(
        {
            "revenue": revenue.groupby(keys, sort=False, observed=True).sum(),
            "customers": (revenue > 0).groupby(keys, sort=False, observed=True).sum().astype("int64"),
        }
    )
    per_rep.index = plain(per_rep.index)
    return per_rep


def _sum_by_customer(amounts: pd.Series, customers: pd.Series) -> pd.Series:
    """Total amount per customer_id (rows with no customer left out),
    indexed by the id. For categorical ids (a loaded Dataset's) summed over
    the codes (``np.add.at``, a slice of rows at a time, the same sums as one
    ``np.bincount``): no groupby factorisation of millions of rows."""
    if not is_categorical(customers):
        return amounts.groupby(customers, sort=False, observed=True).sum()
    codes = customers.array.codes
    name, amounts = amounts.name, amounts.to_numpy(dtype="float64", na_value=np.nan)
    size = len(customers.cat.categories)
    total = np.zeros(size + 1)
    seen = []
    step = 1 << 20  # a slice of rows at a time: the scratch arrays stay a few MiB (whole, ~60 MiB for 3 M orders)
    for at in range(0, len(codes), step):
        part = codes[at : at + step]
        weights = np.nan_to_num(amounts[at : at + step])  # a blank amount adds 0, as sum() skips it
        np.add.at(total, part.astype(np.intp) + 1, weights)  # row by row, in order: the sums of one bincount over all rows
        seen.append(pd.unique(part[part >= 0]))
    total = total[1:]
    # in order of first appearance, as groupby(sort=False) gives them (each slice's, in slice order)
    seen = pd.unique(np.concatenate(seen)) if seen else np.zeros(0, dtype=codes.dtype)
    return pd.Series(total[seen], index=pd.Index(customers.cat.categories.take(seen), name=customers.name), name=name)


def _with_revenue(book: pd.DataFrame, revenue: pd.Series) -> pd.DataFrame:
    """``book`` with a ``revenue`` column, plus rows for customers that have
    revenue but are not in the book."""
    # one hash lookup, on the customers with revenue (usually far fewer than the book's)
    at = positions(book["customer_id"], revenue.index)
    amounts = revenue.to_numpy(dtype="float64")
    values = book.assign(revenue=np.where(at >= 0, amounts[np.maximum(at, 0)] if len(amounts) else np.nan, np.nan))
    # the book has one row per customer: the revenue no book row matched is the extra customers'
    matched = np.zeros(len(revenue), dtype=bool)
    matched[at[at >= 0]] = True
    extra = revenue[~matched]
    if len(extra):
        values = concat_rows(
            [values, pd.DataFrame({"customer_id": extra.index.to_series(index=range(len(extra))), "revenue": extra.to_numpy()})]
        )
    return values


def _end_day(value) -> pd.Timestamp:
    if isinstance(value, Period):
        return value.end
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise InputError(f"as_of_end must be a date such as 2025-12-31 or a Period, not {value!r}")
    return stamp.normalize()
