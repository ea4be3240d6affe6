"""The contract's sales metrics, each defined once.

One function per metric family takes contract frames (data first, options
keyword-only) and returns a tidy frame with the ``by`` columns first::

    opportunity_counts   opportunities, won, lost, closed, open
    win_rate             won / (won + lost)                       (rate form)
    contact_counts       contacts, new_prospect_contacts, follow_up_contacts,
                         unlinked_contacts
    contact_close_rate   won / contacts                           (rate form)
    contacts_per_opportunity  contacts / opportunities            (rate form)
    revenue              revenue_won, avg_deal_size
    cycle_days           cycle_days_median, cycle_days_p25, cycle_days_p75
    pipeline             open, pipeline_open_amount, pipeline_unknown_amounts,
                         weighted_pipeline
    pipeline_coverage    pipeline_open_amount / quota             (rate form)
    new_customers        new_customers_primary, new_customers_secondary

Rate-form frames hold ``*by, numerator, denominator, n, value,
small_sample``: ``n`` is the sample the rate rests on and ``small_sample``
is ``n < SMALL_SAMPLE_MIN_CLOSED``.

:func:`metrics_table` puts every contract metric side by side, one row per
rep, team, territory, customer type, acquisition method or market tier;
:func:`metrics_over_time` repeats it per month, quarter or year.

Period semantics (the contract's): ``opportunities`` counts deals *created*
in the period; won, lost, win_rate, revenue and cycle length count deals by
the day they *closed*; the open pipeline is taken at the period's *end*
(created on or before the end day, not closed by then); activities count by
their date. A metric whose table is missing is NaN, never an invented 0.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesnb.io.categorical import (arrow_dictionary, coalesce, concat_rows, is_categorical, map_categories, plain,
                          release_arrow_memory)
from salesnb.errors import InputError
from salesnb.analysis.periods import RELATIVE, Period, data_span, parse_period, periods_between

SMALL_SAMPLE_MIN_CLOSED = 10
"""A rate resting on fewer closed deals than this is flagged ``small_sample``."""

UNKNOWN = "(unknown)"
"""Group label for deals, contacts or customers whose group is not known."""

GROUPINGS = {
    "rep": "rep_id",
    "team": "team",
    "territory": "territory",
    "customer_type": "customer_type",
    "acquisition_method": "acquisition_method",
    "market_tier": "market_tier",
}
"""``by=`` choices of :func:`metrics_table` and the group column each gives."""

METRICS = (
    "opportunities", "won", "lost", "open", "win_rate",
    "contacts", "new_prospect_contacts", "follow_up_contacts", "contact_close_rate", "contacts_per_opportunity",
    "revenue_won", "avg_deal_size", "cycle_days_median",
    "pipeline_open_amount", "pipeline_coverage", "quota", "attainment",
    "new_customers_primary", "new_customers_secondary",
    "clv", "value_cost_ratio", "forecast_amount", "forecast_error_pct",
)
"""The contract's metric names, in contract order."""

EXTRAS = (
    "closed", "small_sample", "cycle_days_p25", "cycle_days_p75", "weighted_pipeline",
    "pipeline_unknown_amounts", "unlinked_contacts", "clv_source",
)
"""Columns :func:`metrics_table` adds after the contract metrics."""

RATES = {
    # name: (numerator, denominator, n: the sample the small_sample flag judges)
    "win_rate": ("won", "closed", "closed"),
    "contact_close_rate": ("won", "contacts", "closed"),
    "contacts_per_opportunity": ("contacts", "opportunities", "opportunities"),
    "avg_deal_size": ("revenue_won", "won_with_amount", "won_with_amount"),
    "pipeline_coverage": ("pipeline_open_amount", "quota", "open"),
    "attainment": ("revenue_won", "quota", "closed"),
}
"""Every ratio metric as numerator / denominator; NaN when the denominator is 0 or unknown."""

CONTACT_COLUMNS = ("contacts", "new_prospect_contacts", "follow_up_contacts", "unlinked_contacts")
NEW_CUSTOMER_COLUMNS = ("new_customers", "new_customers_primary", "new_customers_secondary")

_REP_GROUPS = ("rep", "team", "territory")
_CUSTOMER_GROUPS = ("customer_type", "market_tier")
_DEAL_COLUMNS = ("created_date", "closed_date", "status", "amount")


# -- opportunities -----------------------------------------------------------

def opportunity_counts(opportunities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Deal counts in ``period``.

    ``opportunities``: unique opportunities *created* in the period;
    ``won``/``lost``: deals with that status whose ``closed_date`` is in the
    period (``closed`` = won + lost); ``open``: deals open at the period's end
    (created on or before the end day and not won or lost by then; an open
    deal's ``closed_date`` is only an expected date and is ignored).

    Every group present in ``opportunities`` appears, with zeros when it has
    no deals in the period.
    """
    by = _by(by)
    return _opportunity_counts(_deals(opportunities, by), by, parse_period(period))


def _opportunity_counts(deals: pd.DataFrame, by: Sequence[str], period: Period, *, flags=None, codes=None) -> pd.DataFrame:
    flags = _deal_flags(deals, period) if flags is None else flags
    counts = pd.DataFrame(
        {"opportunities": flags["created"], "won": flags["won"], "lost": flags["lost"], "open": flags["open"]},
        index=deals.index,
    )
    out = _group_sum(counts, deals, by, codes=codes)
    out["closed"] = out["won"] + out["lost"]
    return out[[*by, "opportunities", "won", "lost", "closed", "open"]]


def win_rate(opportunities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Won / (won + lost) over unique opportunities closed in ``period``.

    Returns a tidy frame: *by, numerator (won), denominator (won + lost),
    n (closed deals), value, small_sample (n < SMALL_SAMPLE_MIN_CLOSED).
    Example: 15 deals closed, 10 of them won -> 10 / 15 = 0.667.
    """
    by = _by(by)
    return _rate_frame(opportunity_counts(opportunities, by=by, period=period), by, "win_rate")


def revenue(opportunities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Revenue won in ``period`` and the average won deal.

    ``revenue_won`` sums the amounts of deals won (closed) in the period;
    ``avg_deal_size`` = revenue_won / won deals with a known amount (NaN with
    no wins). A won deal with a blank amount is counted in
    ``won_unknown_amounts``, never as 0.
    """
    by = _by(by)
    return _revenue(_deals(opportunities, by), by, parse_period(period))


def _revenue(deals: pd.DataFrame, by: Sequence[str], period: Period, *, flags=None, codes=None) -> pd.DataFrame:
    won = (_deal_flags(deals, period) if flags is None else flags)["won"]
    known = deals["amount"].notna().to_numpy()
    parts = pd.DataFrame(
        {
            "won": won,
            "revenue_won": np.where(won & known, deals["amount"].to_numpy(dtype="float64", na_value=np.nan), 0.0),
            "won_with_amount": won & known,
            "won_unknown_amounts": won & ~known,
        },
        index=deals.index,
    )
    out = _group_sum(parts, deals, by, codes=codes)
    out["avg_deal_size"] = _ratio(out, "avg_deal_size")
    return out[[*by, "won", "revenue_won", "avg_deal_size", "won_with_amount", "won_unknown_amounts"]]


def cycle_days(opportunities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Sales cycle of deals won in ``period``: calendar days from
    ``created_date`` to ``closed_date`` (both taken as days), summarised by
    the median and the spread (25th and 75th percentiles, linear
    interpolation). Lost deals do not count; a deal closed before it was
    created is left out (the quality check flags it).

    Returns *by, n (won deals measured), cycle_days_median, cycle_days_p25,
    cycle_days_p75, small_sample (n < SMALL_SAMPLE_MIN_CLOSED).
    Example: won deals taking 10, 20, 30 and 100 days -> median 25,
    p25 17.5, p75 47.5.
    """
    by = _by(by)
    return _cycle_days(_deals(opportunities, by), by, parse_period(period))


def _cycle_days(deals: pd.DataFrame, by: Sequence[str], period: Period, *, flags=None, codes=None) -> pd.DataFrame:
    won = (_deal_flags(deals, period) if flags is None else flags)["won"]
    days = (deals["closed_date"].dt.floor("D") - deals["created_date"].dt.floor("D")).to_numpy() / np.timedelta64(1, "D")
    days = np.where(won & (days >= 0), days, np.nan)
    if len(by) == 1:
        codes, uniques = pd.factorize(deals[by[0]], use_na_sentinel=False) if codes is None else codes
        measured = pd.Series(days)[~np.isnan(days)]
        grouped = measured.groupby(codes[~np.isnan(days)])
        out = pd.DataFrame({"n": grouped.count()}).reindex(range(len(uniques)))
        out["n"] = out["n"].fillna(0).astype("int64")
        quantiles = grouped.quantile([0.5, 0.25, 0.75]).unstack().reindex(index=out.index, columns=[0.5, 0.25, 0.75])
        out.insert(0, by[0], plain(uniques))
    else:
        grouped = pd.Series(days, index=deals.index).groupby(_keys(deals, by), dropna=False, sort=True, observed=True)
        out = pd.DataFrame({"n": grouped.count()})
        quantiles = grouped.quantile([0.5, 0.25, 0.75]).unstack().reindex(index=out.index, columns=[0.5, 0.25, 0.75])
    out["cycle_days_median"] = quantiles[0.5].to_numpy()
    out["cycle_days_p25"] = quantiles[0.25].to_numpy()
    out["cycle_days_p75"] = quantiles[0.75].to_numpy()
    out = out.reset_index(drop=len(by) == 1)
    out.columns = [*by, *out.columns[len(by):]]
    for column in by:
        out[column] = plain(out[column])
    out["small_sample"] = out["n"] < SMALL_SAMPLE_MIN_CLOSED
    return out.sort_values(list(by), na_position="last", kind="stable", ignore_index=True)


def pipeline(opportunities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Open pipeline at the end of ``period``.

    A deal is open at the end day when it was created on or before it and
    not won or lost by then. ``pipeline_open_amount`` sums the *known*
    amounts of those deals; a blank amount is counted in
    ``pipeline_unknown_amounts``, never as 0 (when every open deal's amount
    is blank the amount is NaN). ``weighted_pipeline`` = open amount x the
    group's win rate over all deals closed on or before the end day
    (``history_win_rate``; NaN without closed history).

    Example: open deals of 100 and 300 and one blank, history 3 won of 4
    closed -> open 3, amount 400, 1 unknown, weighted 300.
    """
    by = _by(by)
    return _pipeline(_deals(opportunities, by), by, parse_period(period))


def _pipeline(deals: pd.DataFrame, by: Sequence[str], period: Period, *, flags=None, codes=None) -> pd.DataFrame:
    flags = _deal_flags(deals, period) if flags is None else flags
    is_open = flags["open"]
    known = deals["amount"].notna().to_numpy()
    closed_by_end = flags["closed_at"] < np.datetime64(period.end_exclusive, "ns")
    parts = pd.DataFrame(
        {
            "open": is_open,
            "pipeline_open_amount": np.where(is_open & known, deals["amount"].to_numpy(dtype="float64", na_value=np.nan), 0.0),
            "open_with_amount": is_open & known,
            "pipeline_unknown_amounts": is_open & ~known,
            "history_won": closed_by_end & flags["is_won"],
            "history_closed": closed_by_end,
        },
        index=deals.index,
    )
    out = _group_sum(parts, deals, by, codes=codes)
    out["pipeline_open_amount"] = out["pipeline_open_amount"].where(~((out["open"] > 0) & (out["open_with_amount"] == 0)))
    out["history_win_rate"] = _divide(out["history_won"], out["history_closed"])
    out["weighted_pipeline"] = out["pipeline_open_amount"] * out["history_win_rate"]
    return out[[*by, "open", "pipeline_open_amount", "pipeline_unknown_amounts", "weighted_pipeline", "history_win_rate"]]


def pipeline_coverage(opportunities: pd.DataFrame, *, by=("rep_id",), period, quota) -> pd.DataFrame:
    """Open pipeline at the end of ``period`` / the quota for a period of the
    same length (the yearly quota pro-rated, see
    :func:`salesnb.analysis.expectations.prorate`): how many times over the open
    deals cover the next such period's quota.

    ``quota`` is a number (the same for every group), or a frame with the
    ``by`` columns and a ``quota`` column. Returns the rate form: numerator
    (known open amount), denominator (quota), n (open deals), value,
    small_sample. Example: 600,000 open against a quarterly quota of
    200,000 -> 3.0.
    """
    by = _by(by)
    out = pipeline(opportunities, by=by, period=period)
    if isinstance(quota, pd.DataFrame):
        _check(quota, "quota", ("quota",), by)
        out = out.merge(quota[[*by, "quota"]], on=list(by), how="left")
    elif quota is None or np.isscalar(quota):
        out["quota"] = np.nan if quota is None else float(quota)
    else:
        raise InputError(f"quota must be a number or a frame with columns {[*by, 'quota']}, not {type(quota).__name__}")
    return _rate_frame(out, by, "pipeline_coverage")


# -- activities --------------------------------------------------------------

def first_contacts(activities: pd.DataFrame) -> pd.DataFrame:
    """The first recorded contact with each customer, across all history:
    the earliest ``date``, ties broken by the lowest ``activity_id``
    (shorter IDs first, then alphabetical, so ``A9`` comes before ``A10``).
    Activities with no ``customer_id`` are nobody's first contact.

    Returns those rows of ``activities`` (one per customer).
    """
    _check(activities, "activities", ("activity_id", "date", "customer_id"), ())
    return activities.iloc[_first_contact_positions(activities)]


def contact_counts(activities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Contacts (activities) dated in ``period``, split by kind.

    ``new_prospect_contacts``: the contact is the first recorded contact
    with its customer across all history (see :func:`first_contacts`);
    ``follow_up_contacts``: any later contact with a known customer;
    ``unlinked_contacts``: contacts with no ``customer_id``. Unlinked
    contacts count in ``contacts`` but in neither split, so contacts =
    new + follow-up + unlinked. Pass the whole activity history (not only
    the period's rows): "first" looks back over all of it.
    """
    by = _by(by)
    _check(activities, "activities", ("activity_id", "date", "customer_id"), by)
    period = parse_period(period)
    return _contact_counts(activities, by, period, _first_contact_positions(activities))


def _contact_counts(activities: pd.DataFrame, by: Sequence[str], period: Period, first,
                    *, labels: dict[str, pd.Series] | None = None) -> pd.DataFrame:
    """Contact counts per group. Without ``labels`` the groups are the
    ``by`` columns; with ``labels`` ({"opportunity_id": label by opportunity,
    "customer_id": label by customer}) the single group column ``by[0]`` is
    the activity's opportunity's label, else its customer's, else
    "(unknown)". One pass over all activities in DuckDB (Arrow views, no
    copy of the strings) counts every column; ``first`` marks each
    customer's first contact, as their positions or a boolean mask over
    the rows (see :func:`_first_contact_mask`)."""
    import duckdb
    import pyarrow as pa

    if labels is None and len(by) == 1 and is_categorical(activities[by[0]]) and activities["date"].dtype == "datetime64[ns]":
        return _contact_counts_by_codes(activities, by[0], period, first)
    columns = {"day": pa.Array.from_pandas(activities["date"]), "cust": _arrow(activities["customer_id"]),
               "first_": pa.array(_first_contact_mask(len(activities), first))}
    tables = {}
    if labels is None:
        for i, column in enumerate(by):
            columns[f"k{i}"] = columns["cust"] if column == "customer_id" else _arrow(activities[column])
        keys = ", ".join(f'r.k{i} AS "{column}"' for i, column in enumerate(by))
        joins = ""
    else:
        joins, choices = "", []
        if "opportunity_id" in labels:
            columns["opp"] = _arrow(activities["opportunity_id"])
            tables["deal_labels"] = _label_table(labels["opportunity_id"])
            joins += " LEFT JOIN deal_labels d ON r.opp = d.id"
            choices.append("d.label")
        if "customer_id" in labels:
            tables["customer_labels"] = _label_table(labels["customer_id"])
            joins += " LEFT JOIN customer_labels c ON r.cust = c.id"
            choices.append("c.label")
        keys = "coalesce(" + ", ".join(choices) + f", '{UNKNOWN}') AS \"{by[0]}\""
    inside = "r.day >= $start AND r.day < $end"
    sql = (f"SELECT {keys}, count(*) FILTER (WHERE {inside}) AS contacts, "
           f"count(*) FILTER (WHERE {inside} AND r.first_) AS new_prospect_contacts, "
           f"count(*) FILTER (WHERE {inside} AND r.cust IS NULL) AS unlinked_contacts "
           f"FROM rows_ r{joins} GROUP BY ALL")
    with duckdb.connect() as con:
        con.register("rows_", pa.table(columns))
        for name, table in tables.items():
            con.register(name, table)
        out = con.execute(sql, {"start": period.start.to_pydatetime(), "end": period.end_exclusive.to_pydatetime()}).df()
    for column in by:
        dtype = "str" if labels is not None or is_categorical(activities[column]) else activities[column].dtype
        out[column] = out[column].astype("object").where(out[column].notna(), np.nan).astype(dtype)
    counts = ["contacts", "new_prospect_contacts", "unlinked_contacts"]
    out[counts] = out[counts].astype("int64")
    out["follow_up_contacts"] = out["contacts"] - out["new_prospect_contacts"] - out["unlinked_contacts"]
    out = out.sort_values(list(by), na_position="last", kind="stable", ignore_index=True)
    return out[[*by, *CONTACT_COLUMNS]]


def _contact_counts_by_codes(activities: pd.DataFrame, column: str, period: Period, first) -> pd.DataFrame:
    """:func:`_contact_counts` grouped by one categorical column (a loaded
    Dataset's rep_id): counted per code with ``np.bincount``, a slice of
    rows at a time, so the scratch arrays stay a few MiB (a DuckDB query
    over ten million activities holds ~100 MiB). Groups, order and dtypes
    as the DuckDB query gives them: every key found in the activities
    (a missing key is a group, last), sorted."""
    keys = activities[column]
    size = len(keys.cat.categories)
    codes = keys.array.codes
    days = activities["date"].to_numpy().view("int64")  # NaT is the least int64: never inside the period
    start, end = pd.Timestamp(period.start).value, pd.Timestamp(period.end_exclusive).value
    customers = activities["customer_id"]
    first = _first_contact_mask(len(activities), first)
    found = np.zeros(size + 1, dtype=np.int64)
    counts = {name: np.zeros(size + 1, dtype=np.int64) for name in ("contacts", "new_prospect_contacts", "unlinked_contacts")}
    step = 1 << 20
    for at in range(0, len(codes), step):
        slot = codes[at:at + step].astype(np.int32)
        slot[slot < 0] = size  # a missing key: the last slot
        found += np.bincount(slot, minlength=size + 1)
        inside = (days[at:at + step] >= start) & (days[at:at + step] < end)
        part = customers.iloc[at:at + step]
        unlinked = part.array.codes < 0 if is_categorical(part) else part.isna().to_numpy()
        counts["contacts"] += np.bincount(slot[inside], minlength=size + 1)
        counts["new_prospect_contacts"] += np.bincount(slot[inside & first[at:at + step]], minlength=size + 1)
        counts["unlinked_contacts"] += np.bincount(slot[inside & unlinked], minlength=size + 1)
    present = np.flatnonzero(found)  # the categories are sorted, the missing key's slot last: sorted, na last
    labels = np.append(keys.cat.categories.to_numpy(dtype=object), np.nan)[present]
    out = pd.DataFrame({column: pd.Series(labels, dtype="str"), **{name: c[present] for name, c in counts.items()}})
    out["follow_up_contacts"] = out["contacts"] - out["new_prospect_contacts"] - out["unlinked_contacts"]
    return out[[column, *CONTACT_COLUMNS]]


def _first_contact_mask(rows: int, first: np.ndarray) -> np.ndarray:
    """A boolean mask over ``rows`` activities marking the first contacts,
    from their positions (or such a mask, returned as is)."""
    first = np.asarray(first)
    if first.dtype == bool:
        return first
    mask = np.zeros(rows, dtype=bool)
    mask[first] = True
    return mask


def _label_table(labels: pd.Series):
    """An Arrow table (id, label) from a Series of labels indexed by id,
    one row per id, known labels only (so coalesce falls through)."""
    import pyarrow as pa

    labels = labels[labels.notna().to_numpy()]
    labels = labels[~labels.index.duplicated(keep="first")]
    return pa.table({"id": _arrow(labels.index.to_series()), "label": _arrow(labels.astype("str"))})


def contact_close_rate(opportunities: pd.DataFrame, activities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Won deals (closed in ``period``) / contacts dated in ``period``, shown
    for contrast with win_rate. Rate form; n is the closed deals.
    Example: 10 won, 60 contacts -> 10 / 60 = 0.167.
    """
    by = _by(by)
    out = _merge_counts(opportunity_counts(opportunities, by=by, period=period),
                        contact_counts(activities, by=by, period=period), by)
    return _rate_frame(out, by, "contact_close_rate")


def contacts_per_opportunity(opportunities: pd.DataFrame, activities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Contacts dated in ``period`` / unique opportunities created in it.
    Rate form; n is the opportunities. Example: 60 contacts, 15
    opportunities -> 4.
    """
    by = _by(by)
    out = _merge_counts(opportunity_counts(opportunities, by=by, period=period),
                        contact_counts(activities, by=by, period=period), by)
    return _rate_frame(out, by, "contacts_per_opportunity")


# -- customers -----------------------------------------------------------------

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
    _check(opportunities, "opportunities", ("opportunity_id", "customer_id", "rep_id", *_DEAL_COLUMNS), ())
    won = opportunities.loc[
        opportunities["status"].eq("won").to_numpy() & opportunities["customer_id"].notna().to_numpy()
        & opportunities["closed_date"].notna().to_numpy(),
        ["customer_id", "rep_id", "closed_date", "opportunity_id", "acquisition_method"],
    ]
    first_won = won.iloc[_first_positions(won["customer_id"], won["closed_date"], won["opportunity_id"])]
    first_won = first_won.rename(columns={"rep_id": "first_won_rep_id", "closed_date": "first_won_date",
                                          "acquisition_method": "first_won_method"})
    first_won = first_won.drop(columns="opportunity_id")
    attrs = ["customer_type", "market_tier", "acquisition_method", "territory"]
    if customers is None:
        book = first_won.assign(rep_id=np.nan, acquired_date=pd.NaT, **{a: np.nan for a in attrs})
        for col in ("rep_id", *attrs):
            book[col] = book[col].astype("str")
        book["acquired_date"] = book["acquired_date"].astype("datetime64[ns]")
    else:
        _check(customers, "customers", ("customer_id", "rep_id", "acquired_date", *attrs), ())
        own = customers[["customer_id", "rep_id", "acquired_date", *attrs]]
        if not _unique:  # a loaded table has none (_unique): otherwise one hash pass, no copy
            repeated = _repeated(own["customer_id"])
            own = own[~repeated] if repeated.any() else own
        at = _positions(own["customer_id"], first_won["customer_id"])
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


def new_customers(opportunities: pd.DataFrame, customers: pd.DataFrame | None = None, *, by=("rep_id",), period) -> pd.DataFrame:
    """Customers won for the first time in ``period``, by market tier.

    A customer is new in the period when its ``acquired_date`` (else the
    close day of its first won opportunity) is in it; it counts for its
    owning rep (see :func:`customer_book`). ``by`` may be any column of
    :func:`customer_book` (rep_id, customer_type, market_tier,
    acquisition_method, territory). Tiers come from ``customers``: without
    that table ``new_customers_primary``/``_secondary`` are NaN, and a new
    customer with no tier counts only in ``new_customers``.
    """
    by = _by(by)
    book = customer_book(opportunities, customers)
    _check(book, "customer_book", (), by)
    return _new_customers(book, by, parse_period(period), tiers_known=customers is not None)


def _new_customers(book: pd.DataFrame, by: Sequence[str], period: Period, *, tiers_known: bool) -> pd.DataFrame:
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
    out = _group_sum(parts, book, by)
    if not tiers_known:
        out["new_customers_primary"] = np.nan
        out["new_customers_secondary"] = np.nan
    return out


# -- the metrics table ---------------------------------------------------------

def metrics_table(ds, *, by: str = "rep", period=None, as_of=None) -> pd.DataFrame:
    """Every contract metric for ``period``, one row per group.

    Parameters
    ----------
    ds : Dataset
        The loaded data source.
    by : {"rep", "team", "territory", "customer_type", "acquisition_method", "market_tier"}
        The grouping. Team and territory are the rep's (reps table);
        customer_type and market_tier the deal's or contact's customer's;
        acquisition_method the opportunity's, else its customer's. Anything
        whose group is not known is counted under ``"(unknown)"``, never
        dropped.
    period : str or Period, optional
        Any form :func:`salesnb.analysis.periods.parse_period` accepts; default: the
        whole span of the data (:func:`salesnb.analysis.periods.data_span`).
    as_of : date-like, optional
        Resolves relative periods (``last-quarter``...).

    Returns
    -------
    DataFrame
        The group column first (for ``by="rep"``: rep_id, name, team,
        territory, with every rep of the reps table), then :data:`METRICS`
        in contract order, then :data:`EXTRAS`. A metric whose table is
        missing is NaN; ``table.attrs["notes"]`` says which table would
        enable it and ``table.attrs["period"]`` holds the Period.
    """
    period = _resolve_period(ds, period, as_of)
    table = _MetricsContext(ds, by).table(period)
    release_arrow_memory()  # the lookups' scratch space does not stay under the next computation
    return table


#: What happened in a period: in a period the data does not reach (see
#: :func:`salesnb.analysis.periods.no_data_in`) these are unknown, not 0.
PERIOD_FIGURES = ("opportunities", "won", "lost", "closed", "contacts", "new_prospect_contacts", "follow_up_contacts",
                  "revenue_won", "attainment", "new_customers_primary", "new_customers_secondary", "unlinked_contacts")


def blank_empty_period(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (from :func:`metrics_table`, for a period in which nothing
    is recorded) with :data:`PERIOD_FIGURES` blank (NaN, null in JSON)
    instead of 0: no deal closed in 2031 is not known when the data ends in
    2025. What stands at the period's end (open pipeline, quota, lifetime
    value) is kept."""
    out = table.copy()
    blank = [name for name in PERIOD_FIGURES if name in out]
    out[blank] = np.nan
    return out


def metrics_over_time(ds, *, by: str = "rep", freq: str = "quarter", start=None, end=None, as_of=None) -> pd.DataFrame:
    """:func:`metrics_table` for each consecutive month, quarter or year.

    ``start``/``end`` (dates or periods) default to the span of the data.
    Returns one tidy frame: ``period`` (label such as ``2025-Q2``),
    ``period_start``, then metrics_table's columns, so a rep's numbers can
    be followed consistently over the years.
    """
    if start is None or end is None:
        span = data_span(ds)
        start = span.start if start is None else start
        end = span.end if end is None else end
    start, end = (parse_period(b, as_of=as_of) if isinstance(b, str) and b.strip().lower() in RELATIVE else b
                  for b in (start, end))
    frames, notes = [], []
    context = _MetricsContext(ds, by)
    for period in periods_between(start, end, freq):
        table = context.table(period)
        notes += [n for n in table.attrs.get("notes", []) if n not in notes]
        frames.append(table.assign(period=period.label, period_start=period.start))
    out = pd.concat(frames, ignore_index=True)
    out = out[["period", "period_start", *[c for c in out.columns if c not in ("period", "period_start")]]]
    out.attrs["notes"] = notes
    return out


class _MetricsContext:
    """What metrics_table computes once per dataset and grouping (group
    labels, first contacts) so that metrics_over_time can reuse it."""

    def __init__(self, ds, by: str):
        if by not in GROUPINGS:
            raise InputError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
        self.ds, self.by, self.column = ds, by, GROUPINGS[by]
        self.activities = ds.activities
        self._first_contact = None
        reps = ds.reps.drop_duplicates("rep_id")
        self.reps = reps
        self.customers = ds.customers
        self.rep_label = None
        if by in ("team", "territory"):
            self.rep_label = pd.Series(plain(reps[by]).to_numpy(), index=reps["rep_id"])
        self.customer_label = None
        if by in (*_CUSTOMER_GROUPS, "acquisition_method") and self.customers is not None:
            repeated = np.zeros(0, dtype=bool) if ds.keys_unique else _repeated(self.customers["customer_id"])
            customers = self.customers[~repeated] if repeated.any() else self.customers
            self.customer_label = pd.Series(customers[self.column].array, index=customers["customer_id"])
        self.deals = self._label_deals(ds.opportunities if ds.keys_unique else _unique_deals(ds.opportunities))
        self.deal_codes = pd.factorize(self.deals[self.column], use_na_sentinel=False)
        self.raw_book = customer_book(ds.opportunities, self.customers, _unique=ds.keys_unique)
        self.book = self.raw_book.assign(**{self.column: self._label_book(self.raw_book)}) if by != "rep" else self.raw_book

    @property
    def first_contact(self) -> np.ndarray:
        """Each customer's first contact, as a mask over the activities:
        worked out when the contacts are counted (not beside every other
        part of the table), then kept for the next period."""
        if self._first_contact is None:
            self._first_contact = _first_contact_mask(len(self.activities), _first_contact_positions(self.activities))
        return self._first_contact

    # -- labels --------------------------------------------------------------
    def _from_reps(self, rep_ids: pd.Series) -> pd.Series:
        if self.by == "rep":
            return rep_ids
        return _lookup(rep_ids, self.rep_label).astype("str").fillna(UNKNOWN)

    def _from_customers(self, customer_ids: pd.Series) -> pd.Series:
        if self.customer_label is None:
            return pd.Series(UNKNOWN, index=customer_ids.index, dtype="str")
        return _lookup(customer_ids, self.customer_label)

    def _label_deals(self, opps: pd.DataFrame) -> pd.DataFrame:
        cols = {"opportunity_id": opps["opportunity_id"], **{c: opps[c] for c in _DEAL_COLUMNS}}
        if self.by in _REP_GROUPS:
            label = self._from_reps(opps["rep_id"])
        elif self.by == "acquisition_method":
            label = coalesce(opps["acquisition_method"], self._from_customers(opps["customer_id"]))
        else:
            label = self._from_customers(opps["customer_id"])
        cols[self.column] = label if self.by == "rep" else plain(label).astype("str").fillna(UNKNOWN)
        return pd.DataFrame(cols, index=opps.index, copy=False)  # the columns as they are (a copy would be ~25 MiB per million deals)

    def _label_book(self, book: pd.DataFrame) -> pd.Series:
        if self.by in _REP_GROUPS:
            return self._from_reps(book["rep_id"])
        return plain(book[self.column]).astype("str").fillna(UNKNOWN)

    # -- the table -----------------------------------------------------------
    def table(self, period: Period) -> pd.DataFrame:
        col, by = self.column, (self.column,)
        notes: list[str] = []
        shared = {"flags": _deal_flags(self.deals, period), "codes": self.deal_codes}
        parts = [
            _opportunity_counts(self.deals, by, period, **shared),
            _revenue(self.deals, by, period, **shared)[[col, "revenue_won", "avg_deal_size"]],
            _cycle_days(self.deals, by, period, **shared)[[col, "cycle_days_median", "cycle_days_p25", "cycle_days_p75"]],
            _pipeline(self.deals, by, period, **shared).drop(columns=["open", "history_win_rate"]),
        ]
        if self.activities is None:
            notes.append(self.ds.missing("activities"))
        new_cols = ["new_customers_primary", "new_customers_secondary"]
        parts.append(_new_customers(self.book, by, period, tiers_known=self.customers is not None)[[col, *new_cols]])
        if self.customers is None:
            notes.append(self.ds.missing("customers"))
        parts.append(self._quota(period, notes))
        parts.append(self._value(period))
        parts.append(self._forecast(period, notes))
        if self.activities is not None:
            parts.append(self._contacts(period))

        table = self._frame(parts)
        from salesnb.analysis.value import clv_source

        # groups with nothing in a part: true zeros for counts and sums, NaN for rates
        count_cols = ["opportunities", "won", "lost", "open", "pipeline_unknown_amounts"]
        table[count_cols] = table[count_cols].fillna(0).astype("int64")
        table["closed"] = table["won"] + table["lost"]
        if self.activities is None:
            table[list(CONTACT_COLUMNS)] = np.nan
        else:
            table[list(CONTACT_COLUMNS)] = table[list(CONTACT_COLUMNS)].fillna(0).astype("int64")
        if self.customers is None:
            table[new_cols] = np.nan
        else:
            table[new_cols] = table[new_cols].fillna(0).astype("int64")
        no_pipeline = table["open"] == 0  # no open deals: truly nothing in the pipeline
        table.loc[no_pipeline, ["pipeline_open_amount", "weighted_pipeline"]] = 0.0
        table["revenue_won"] = table["revenue_won"].fillna(0.0)
        table["clv"] = table["clv"].fillna(0.0)
        table["clv_source"] = table["clv_source"].fillna(clv_source(self.ds))
        for name in ("win_rate", "contact_close_rate", "contacts_per_opportunity", "pipeline_coverage", "attainment"):
            table[name] = _ratio(table, name)
        table["small_sample"] = (table["closed"] < SMALL_SAMPLE_MIN_CLOSED).astype(bool)
        front = ["rep_id", "name", "team", "territory"] if self.by == "rep" else [col]
        out = table[[*front, *METRICS, *EXTRAS]].reset_index(drop=True)
        out.attrs["notes"] = notes
        out.attrs["period"] = period
        return out

    def _contacts(self, period: Period) -> pd.DataFrame:
        acts, col = self.activities, self.column
        if self.by in _REP_GROUPS:
            out = _contact_counts(acts, ("rep_id",), period, self.first_contact)
            if self.by == "rep":
                return out
            out[col] = self._from_reps(out["rep_id"])
            return out.groupby(col, dropna=False, sort=False, observed=True)[list(CONTACT_COLUMNS)].sum().reset_index()
        labels = {} if self.customer_label is None else {"customer_id": self.customer_label}
        if self.by == "acquisition_method":
            labels["opportunity_id"] = pd.Series(self.deals[col].where(self.deals[col] != UNKNOWN).to_numpy(),
                                                 index=self.deals["opportunity_id"])
        if not labels:  # no customers table: every contact's group is unknown
            labels = {"customer_id": pd.Series([], dtype="str")}
        return _contact_counts(acts, (col,), period, self.first_contact, labels=labels)

    def _quota(self, period: Period, notes: list[str]) -> pd.DataFrame:
        from salesnb.analysis.expectations import quotas

        col = self.column
        if self.ds.expectations is None:
            notes.append("No expectations.yml: add one with revenue_quota to enable quota, attainment and pipeline_coverage.")
        if self.by not in _REP_GROUPS:
            return pd.DataFrame({col: pd.Series([], dtype="str"), "quota": pd.Series([], dtype="float64")})
        per_rep = quotas(self.ds, period=period)
        if self.ds.expectations is not None and per_rep.isna().all():
            notes.append("expectations.yml sets no revenue_quota: add one to enable quota, attainment and pipeline_coverage.")
        frame = pd.DataFrame({"rep_id": per_rep.index, "quota": per_rep.to_numpy()})
        if self.by == "rep":
            return frame
        frame[col] = self._from_reps(frame["rep_id"])
        return frame.groupby(col, sort=False, observed=True)["quota"].sum(skipna=False).reset_index()

    def _value(self, period: Period) -> pd.DataFrame:
        from salesnb.analysis.value import value_cost

        value = value_cost(self.ds, period=period, by=self.by, _book=self.raw_book)
        return value[[self.column, "clv", "value_cost_ratio", "clv_source"]]

    def _forecast(self, period: Period, notes: list[str]) -> pd.DataFrame:
        from salesnb.analysis.forecasts import forecast_in_period

        col = self.column
        empty = pd.DataFrame({col: pd.Series([], dtype="str"), "forecast_amount": pd.Series([], dtype="float64"),
                              "forecast_error_pct": pd.Series([], dtype="float64")})
        if self.ds.forecasts is None:
            notes.append(self.ds.missing("forecasts"))
            return empty
        if self.by not in _REP_GROUPS:
            return empty
        per_rep = forecast_in_period(self.ds, period=period)
        if self.by != "rep":
            per_rep[col] = self._from_reps(per_rep["rep_id"])
            per_rep = per_rep.groupby(col, sort=False, observed=True)[["forecast_amount", "actual"]].sum(min_count=1).reset_index()
        per_rep["forecast_error_pct"] = _error_pct(per_rep["forecast_amount"], per_rep["actual"])
        return per_rep[[col, "forecast_amount", "forecast_error_pct"]]

    def _frame(self, parts: list[pd.DataFrame]) -> pd.DataFrame:
        """Join the parts on the group column over every group: every rep
        (then reps only seen in the data), else every known value sorted,
        then any others, with "(unknown)" last."""
        col = self.column
        seen: set = set()
        for part in parts:
            seen.update(part[col].dropna().unique())
        if self.by == "rep":
            known = pd.Index(self.reps["rep_id"])
            extra = sorted(set(seen) - set(known))
            groups = known.append(pd.Index(extra))
        else:
            base = self.reps[col] if self.by in _REP_GROUPS else (
                self.customers[col] if self.customers is not None and col in self.customers else pd.Series([], dtype="str"))
            values = (set(base.dropna().unique()) | seen) - {UNKNOWN}
            unknown = [UNKNOWN] if UNKNOWN in seen or base.isna().any() else []
            groups = pd.Index(sorted(values, key=lambda v: (str(v).casefold(), str(v))) + unknown)
        table = pd.DataFrame(index=pd.Index(groups, name=col))
        for part in parts:
            part = part.dropna(subset=[col]) if self.by == "rep" else part
            table = table.join(part.set_index(col), how="left")
        table = table.reset_index()
        if self.by == "rep":
            info = self.reps.set_index("rep_id")[["name", "team", "territory"]]
            info = info.assign(team=plain(info["team"]), territory=plain(info["territory"]))
            table = table.join(info, on="rep_id")
        return table


# -- internals -------------------------------------------------------------------

def _resolve_period(ds, period, as_of) -> Period:
    if period is None:
        return data_span(ds)
    return parse_period(period, as_of=as_of)


def _by(by) -> tuple[str, ...]:
    if isinstance(by, str):
        return (by,)
    if isinstance(by, Sequence) and all(isinstance(b, str) for b in by):
        return tuple(by)
    raise InputError(f"by must be a column name or a tuple of column names such as ('rep_id',), not {by!r}")


def _check(frame, what: str, needed: Sequence[str], by: Sequence[str]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{what} must be a DataFrame (e.g. ds.{what}), not {type(frame).__name__}")
    missing = [c for c in (*needed, *by) if c not in frame.columns]
    if missing:
        raise InputError(f"{what} lacks the columns {missing}; pass the contract table (ds.{what}) "
                         f"with the group columns {list(by)} added")
    return frame


def _deals(opportunities, by: Sequence[str]) -> pd.DataFrame:
    return _unique_deals(_check(opportunities, "opportunities", ("opportunity_id", *_DEAL_COLUMNS), by))


def _unique_deals(opps: pd.DataFrame) -> pd.DataFrame:
    """Opportunities counted once each (the first row of a repeated ID)."""
    ids = opps["opportunity_id"]
    repeated = _repeated(ids)
    return opps[~repeated] if repeated.any() else opps


def _deal_flags(deals: pd.DataFrame, period: Period) -> dict[str, np.ndarray]:
    status = deals["status"]
    is_won = status.eq("won").to_numpy()
    is_lost = status.eq("lost").to_numpy()
    closed = deals["closed_date"]
    closed_in = period.contains(closed).to_numpy()
    end = np.datetime64(period.end_exclusive, "ns")
    # the day a deal was won or lost (NaT for open deals, whose close date is only expected)
    closed_at = closed.to_numpy().copy()
    closed_at[~(is_won | is_lost)] = np.datetime64("NaT")
    created = deals["created_date"].to_numpy()
    still_open = ~(is_won | is_lost) | (closed.to_numpy() >= end)  # won/lost after the end day: open at the end
    return {
        "created": period.contains(deals["created_date"]).to_numpy(),
        "won": is_won & closed_in,
        "lost": is_lost & closed_in,
        "open": (created < end) & still_open,
        "is_won": is_won,
        "closed_at": closed_at,
    }


def _repeated(values: pd.Series) -> np.ndarray:
    """True for every occurrence of a value after its first (see
    :func:`salesnb.io.validation._repeated`)."""
    from salesnb.io.validation import _repeated as repeated

    return repeated(values)


def _first_contact_positions(acts: pd.DataFrame) -> np.ndarray:
    """Positions of each customer's first contact."""
    return _first_positions(acts["customer_id"], acts["date"], acts["activity_id"])


def _first_positions(keys: pd.Series, dates: pd.Series, ids: pd.Series) -> np.ndarray:
    """Positions of the first row per key: the earliest date, ties broken by
    the lowest id (shorter first, then alphabetical: A9 before A10). Rows
    with no key or no date are nobody's first.

    Runs in DuckDB over Arrow views of the columns (no copy of the
    strings): one pass, each key's row with the least (date, id length,
    id). On ten million activities that is several times faster than a
    pandas groupby, and it uses every core. A categorical key (a loaded
    Dataset's) goes by its codes instead: see :func:`_first_positions_by_codes`.
    """
    import duckdb
    import pyarrow as pa

    if len(keys) == 0:
        return np.zeros(0, dtype="int64")
    if is_categorical(keys) and dates.dtype.kind == "M":
        return _first_positions_by_codes(keys, dates, ids)
    rows = pa.table({
        "key": _arrow(keys), "day": pa.Array.from_pandas(dates), "id": _arrow(ids),
        "pos": pa.array(np.arange(len(keys), dtype="int32" if len(keys) < 2**31 else "int64")),
    })
    with duckdb.connect() as con:
        con.register("rows_", rows)
        first = con.execute(
            "SELECT arg_min(pos, (day, length(id), id)) AS pos FROM rows_ "
            "WHERE key IS NOT NULL AND day IS NOT NULL GROUP BY key"
        ).fetchnumpy()["pos"]
    return np.sort(np.asarray(first, dtype="int64"))


def _first_positions_by_codes(keys: pd.Series, dates: pd.Series, ids: pd.Series) -> np.ndarray:
    """:func:`_first_positions` for a categorical key, in a few arrays of
    numbers: each code's earliest date (``np.minimum.at``), the rows on it,
    and only for the keys with several such rows, the lowest id among them
    (an Arrow sort of those few). No hash table of ten million strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    size = len(keys.cat.categories)
    days = dates.to_numpy().view("int64")
    codes = keys.array.codes  # a view, no copy
    step = 1 << 20

    def slots(start: int) -> np.ndarray:
        """The key slot of a slice of rows (``size``: no key or no date, nobody's first)."""
        part = codes[start:start + step].astype(np.int32)
        part[(part < 0) | (days[start:start + step] == np.iinfo(np.int64).min)] = size
        return part

    least = np.full(size + 1, np.iinfo(np.int64).max, dtype=np.int64)
    for start in range(0, len(codes), step):  # each key's earliest day, a slice at a time (scratch: a few MiB)
        np.minimum.at(least, slots(start), days[start:start + step])
    candidates = []
    for start in range(0, len(codes), step):  # the rows on their key's earliest day
        part = slots(start)
        hit = (part < size) & (days[start:start + step] == least[part])
        candidates.append(np.flatnonzero(hit) + start)
    del least
    candidates = np.concatenate(candidates) if candidates else np.zeros(0, dtype=np.int64)
    key_of = codes[candidates]
    tied = np.bincount(key_of, minlength=size)[key_of] > 1
    if not tied.any():
        return candidates.astype("int64")
    rows = candidates[tied]
    text = _arrow(ids.iloc[rows])
    table = pa.table({"key": key_of[tied], "len": pc.utf8_length(text), "id": text})
    order = pc.sort_indices(table, sort_keys=[("key", "ascending"), ("len", "ascending"), ("id", "ascending")]).to_numpy()
    ordered_keys = key_of[tied][order]
    leading = np.ones(len(order), dtype=bool)
    leading[1:] = ordered_keys[1:] != ordered_keys[:-1]
    return np.sort(np.concatenate([candidates[~tied], rows[order[leading]]])).astype("int64")


def _arrow(values):
    """An Arrow large_string view of a Series or Index of IDs or labels
    (zero-copy for pandas' Arrow-backed str dtype; other values as text)."""
    import pyarrow as pa

    if is_categorical(values):  # DuckDB and Arrow read the codes and the categories: no string per row
        return arrow_dictionary(pd.Series(values, copy=False))
    try:
        array = pa.array(values.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        array = None
    if array is None or not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        text = pd.Series(values).astype("object")
        array = pa.array(text.where(text.notna(), None).map(str, na_action="ignore"), type=pa.large_string())
    return array.cast(pa.large_string()) if pa.types.is_string(array.type) else array


def _positions(values, lookup) -> np.ndarray:
    """Position of each of ``values`` in the unique ``lookup`` values, -1
    where absent (or missing): a hash lookup in Arrow, several times faster
    than ``Series.map`` on millions of strings."""
    import pyarrow.compute as pc

    if len(values) == 0:
        return np.zeros(0, dtype="int64")
    if len(lookup) == 0:
        return np.full(len(values), -1, dtype="int64")
    if is_categorical(lookup):
        lookup = plain(lookup)
    if is_categorical(values):  # each category looked up once, spread by the codes
        at = _positions(pd.Series(values.array.categories), lookup)
        return np.append(at, -1)[values.array.codes]
    found = pc.index_in(_arrow(values), value_set=_arrow(lookup), skip_nulls=True).fill_null(-1)
    found = np.asarray(found.to_numpy(), dtype="int64")
    release_arrow_memory()  # the hash table of the lookup's strings: handed back, not kept under the next step
    return found


def _lookup(keys: pd.Series, mapping: pd.Series) -> pd.Series:
    """``keys.map(mapping)`` for a mapping with a unique index, fast on
    Arrow strings; missing keys give NaN."""
    taken = pd.api.extensions.take(mapping.array, _positions(keys, mapping.index), allow_fill=True)
    return pd.Series(taken, index=keys.index, name=mapping.name, copy=False)


def _keys(frame: pd.DataFrame, by: Sequence[str]) -> list[pd.Series]:
    return [frame[c] for c in by]


def _group_sum(parts: pd.DataFrame, frame: pd.DataFrame, by: Sequence[str], *, codes=None) -> pd.DataFrame:
    """Sum the columns of ``parts`` per group of ``frame``'s ``by`` columns
    (a missing key is its own group), sorted by the keys; bool columns come
    back as int64 counts. A single key is factorised once and summed with
    ``np.bincount`` (much cheaper than a groupby on millions of rows)."""
    if len(by) != 1:
        out = parts.groupby(_keys(frame, by), dropna=False, sort=True, observed=True).sum()
        for column in out.columns:
            if out[column].dtype == bool:
                out[column] = out[column].astype("int64")
        out = out.reset_index()
        out.columns = [*by, *parts.columns]
        for column in by:
            out[column] = plain(out[column])
        return out
    codes, uniques = pd.factorize(frame[by[0]], use_na_sentinel=False) if codes is None else codes
    size = len(uniques)
    data = {by[0]: plain(uniques)}
    for column in parts.columns:
        values = parts[column].to_numpy()
        if values.dtype == bool:
            data[column] = np.bincount(codes[values], minlength=size).astype("int64")
        else:
            data[column] = np.bincount(codes, weights=values.astype("float64"), minlength=size)
    out = pd.DataFrame(data)
    return out.sort_values(by[0], na_position="last", kind="stable", ignore_index=True)


def _merge_counts(left: pd.DataFrame, right: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    out = left.merge(right, on=list(by), how="outer")
    numeric = [c for c in out.columns if c not in by]
    out[numeric] = out[numeric].fillna(0).astype("int64")
    return out


def _divide(numerator, denominator) -> pd.Series:
    """numerator / denominator, NaN where the denominator is 0 or missing."""
    numerator = pd.Series(numerator, dtype="float64")
    denominator = pd.Series(denominator, dtype="float64")
    return (numerator / denominator.where(denominator != 0)).astype("float64")


def _ratio(frame: pd.DataFrame, name: str) -> pd.Series:
    numerator, denominator, _ = RATES[name]
    return _divide(frame[numerator], frame[denominator])


def _rate_frame(frame: pd.DataFrame, by: Sequence[str], name: str) -> pd.DataFrame:
    numerator, denominator, n = RATES[name]
    out = frame[list(by)].copy()
    out["numerator"] = frame[numerator]
    out["denominator"] = frame[denominator]
    out["n"] = frame[n]
    out["value"] = _ratio(frame, name)
    out["small_sample"] = (frame[n] < SMALL_SAMPLE_MIN_CLOSED).to_numpy()
    return out.reset_index(drop=True)


def _error_pct(forecast, actual) -> pd.Series:
    """(forecast - actual) / actual x 100; positive = over-forecast; NaN when actual is 0."""
    forecast = pd.Series(forecast, dtype="float64")
    return (forecast - actual) / pd.Series(actual, dtype="float64").where(actual != 0) * 100
