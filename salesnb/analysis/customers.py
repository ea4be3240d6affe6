"""The customer metrics: who owns each customer and when it was won
(:func:`customer_book`), and the new customers of a period by market tier
(:func:`new_customers`: new_customers_primary, new_customers_secondary).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesnb.analysis.deals import DEAL_COLUMNS
from salesnb.analysis.frames import by_columns, check_frame, first_positions, group_sum, positions
from salesnb.analysis.periods import Period, parse_period
from salesnb.io.categorical import coalesce, concat_rows, is_categorical, map_categories
from salesnb.io.value_lookup import repeats

__all__ = [
    "NEW_CUSTOMER_COLUMNS",
    "NO_TIERS_NOTE",
    "book_of",
    "count_new_customers",
    "customer_book",
    "new_customers",
    "tiers_known",
]

NEW_CUSTOMER_COLUMNS = ("new_customers", "new_customers_primary", "new_customers_secondary")
NO_TIERS_NOTE = (
    "No customer has a market_tier: new_customers_primary and new_customers_secondary are blank; "
    "add market_tier (primary or secondary) to customers to count new customers by tier."
)


def tiers_known(customers: pd.DataFrame | None) -> bool:
    """Whether new customers can be counted by tier: a customers table
    with at least one ``market_tier``. Without one the tier counts are
    blank (NaN), never 0."""
    return customers is not None and bool(customers["market_tier"].notna().any())


def customer_book(opportunities: pd.DataFrame, customers: pd.DataFrame | None = None, *, _unique: bool = False) -> pd.DataFrame:
    """One row per known customer: who owns it and when it was won.

    ``rep_id`` is the owning rep: ``customers.rep_id``, else the rep of the
    customer's first won opportunity. ``acquired_date`` is
    ``customers.acquired_date``, else the close day of the first won
    opportunity (NaT for a prospect never won). ``acquisition_method`` is
    the customer's, else its first won opportunity's. Customers that only
    appear on opportunities are included with unknown attributes.

    Columns: customer_id, rep_id, acquired_date, first_won_rep_id,
    customer_type, market_tier, acquisition_method, territory.
    """
    check_frame(opportunities, "opportunities", ("opportunity_id", "customer_id", "rep_id", *DEAL_COLUMNS), ())
    won = opportunities.loc[
        opportunities["status"].eq("won").to_numpy()
        & opportunities["customer_id"].notna().to_numpy()
        & opportunities["closed_date"].notna().to_numpy(),
        ["customer_id", "rep_id", "closed_date", "opportunity_id", "acquisition_method"],
    ]
    first_won = won.iloc[first_positions(won["customer_id"], won["closed_date"], won["opportunity_id"])]
    first_won = first_won.rename(
        columns={"rep_id": "first_won_rep_id", "closed_date": "first_won_date", "acquisition_method": "first_won_method"}
    )
    first_won = first_won.drop(columns="opportunity_id")
    attrs = ["customer_type", "market_tier", "acquisition_method", "territory"]
    if customers is None:
        book = first_won.assign(rep_id=np.nan, acquired_date=pd.NaT, **{a: np.nan for a in attrs})
        for col in ("rep_id", *attrs):
            book[col] = book[col].astype("str")
        book["acquired_date"] = book["acquired_date"].astype("datetime64[ns]")
    else:
        check_frame(customers, "customers", ("customer_id", "rep_id", "acquired_date", *attrs), ())
        own = customers[["customer_id", "rep_id", "acquired_date", *attrs]]
        if not _unique:  # a loaded table has none (_unique): otherwise one hash pass, no copy
            repeated = repeats(own["customer_id"])
            own = own[~repeated] if repeated.any() else own
        at = positions(own["customer_id"], first_won["customer_id"])
        book = own.reset_index(drop=True)
        for column in ("first_won_rep_id", "first_won_date", "first_won_method"):
            book[column] = pd.api.extensions.take(first_won[column].array, at, allow_fill=True)
        # first_won has one row per customer: those no customers row matched are the ones it lacks
        matched = np.zeros(len(first_won), dtype=bool)
        matched[at[at >= 0]] = True
        only_won = first_won[~matched]
        if len(only_won):  # customers that appear only on opportunities
            book = concat_rows([book, only_won])
    book["rep_id"] = coalesce(book["rep_id"], book["first_won_rep_id"])
    book["acquired_date"] = book["acquired_date"].fillna(book["first_won_date"])
    book["acquisition_method"] = coalesce(book["acquisition_method"], book["first_won_method"])
    return book[["customer_id", "rep_id", "acquired_date", "first_won_rep_id", *attrs]].reset_index(drop=True)


def book_of(ds) -> pd.DataFrame:
    """:func:`customer_book` of ``ds``'s opportunities and customers, made once per batch
    snapshot (:func:`salesnb.analysis.derived.derived`): the metrics of every period, value
    against cost and the scorecard's prospecting all read it."""
    from salesnb.analysis.derived import derived

    return derived(ds, "customer_book", lambda: customer_book(ds.opportunities, ds.customers, _unique=ds.keys_unique))


def new_customers(opportunities: pd.DataFrame, customers: pd.DataFrame | None = None, *, by=("rep_id",), period) -> pd.DataFrame:
    """Customers won for the first time in ``period``, by market tier.

    A customer is new in the period when its ``acquired_date`` (else the
    close day of its first won opportunity) is in it; it counts for its
    owning rep (see :func:`customer_book`). ``by`` may be any column of
    :func:`customer_book` (rep_id, customer_type, market_tier,
    acquisition_method, territory). Tiers come from ``customers``: without
    that table, or when no customer has a ``market_tier``,
    ``new_customers_primary``/``_secondary`` are NaN (:func:`tiers_known`), and a new
    customer with no tier counts only in ``new_customers``.
    """
    by = by_columns(by)
    book = customer_book(opportunities, customers)
    check_frame(book, "customer_book", (), by)
    return count_new_customers(book, by, parse_period(period), tiers_known=tiers_known(customers))


def count_new_customers(book: pd.DataFrame, by: Sequence[str], period: Period, *, tiers_known: bool) -> pd.DataFrame:
    """:func:`new_customers` over a ready :func:`customer_book` (its ``by`` columns
    labelled); ``tiers_known``: False without a customers table or any
    market_tier (tiers NaN)."""
    is_new = period.contains(book["acquired_date"]).to_numpy()
    tier = book["market_tier"]
    tier = map_categories(tier, lambda text: text.str.lower()) if is_categorical(tier) else tier.str.lower()
    parts = pd.DataFrame(
        {
            "new_customers": is_new,
            "new_customers_primary": is_new & tier.eq("primary").to_numpy(),
            "new_customers_secondary": is_new & tier.eq("secondary").to_numpy(),
        },
        index=book.index,
    )
    out = group_sum(parts, book, by)
    if not tiers_known:
        out["new_customers_primary"] = np.nan
        out["new_customers_secondary"] = np.nan
    return out
