"""The activity metrics: contacts, new-prospect and follow-up contacts, and
the rates that set deals against contacts.

    contact_counts            contacts, new_prospect_contacts, follow_up_contacts,
                              unlinked_contacts
    contact_close_rate        won / contacts                      (rate form)
    contacts_per_opportunity  contacts / opportunities            (rate form)

Activities count by their date; "new prospect" means the first recorded
contact with a customer across all history (:func:`first_contacts`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesnb.analysis.deals import opportunity_counts
from salesnb.analysis.frames import UNKNOWN, arrow_text, by_columns, check_frame, first_positions, merge_counts, positions
from salesnb.analysis.periods import Period, parse_period
from salesnb.analysis.rates import rate_frame
from salesnb.io.categorical import is_categorical

__all__ = [
    "CONTACT_COLUMNS",
    "contact_close_rate",
    "contact_counts",
    "contacts_per_opportunity",
    "count_contacts",
    "first_contact_mask",
    "first_contact_positions",
    "first_contacts",
]

CONTACT_COLUMNS = ("contacts", "new_prospect_contacts", "follow_up_contacts", "unlinked_contacts")


def first_contacts(activities: pd.DataFrame) -> pd.DataFrame:
    """The first recorded contact with each customer, across all history:
    the earliest ``date``, ties broken by the lowest ``activity_id``
    (shorter IDs first, then alphabetical, so ``A9`` comes before ``A10``).
    Activities with no ``customer_id`` are nobody's first contact.

    Returns those rows of ``activities`` (one per customer).
    """
    check_frame(activities, "activities", ("activity_id", "date", "customer_id"), ())
    return activities.iloc[first_contact_positions(activities)]


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
    by = by_columns(by)
    check_frame(activities, "activities", ("activity_id", "date", "customer_id"), by)
    period = parse_period(period)
    return count_contacts(activities, by, period, first_contact_positions(activities))


def count_contacts(
    activities: pd.DataFrame, by: Sequence[str], period: Period, first, *, labels: dict[str, pd.Series] | None = None
) -> pd.DataFrame:
    """Contact counts per group. Without ``labels`` the groups are the
    ``by`` columns; with ``labels`` ({"opportunity_id": label by opportunity,
    "customer_id": label by customer}) the single group column ``by[0]`` is
    the activity's opportunity's label, else its customer's, else
    "(unknown)". One categorical group column (a loaded Dataset's rep_id)
    and ``labels`` are counted by group code with ``np.bincount``; any other
    grouping in one DuckDB pass over Arrow views (no copy of the strings).
    ``first`` marks each customer's first contact, as their positions or a
    boolean mask over the rows (see :func:`first_contact_mask`)."""
    if labels is None and len(by) == 1 and is_categorical(activities[by[0]]) and activities["date"].dtype == "datetime64[ns]":
        return _contact_counts_by_codes(activities, by[0], period, first)
    if labels is not None:
        return _contact_counts_by_labels(activities, by[0], period, first, labels)
    import duckdb
    import pyarrow as pa

    columns = {
        "day": pa.Array.from_pandas(activities["date"]),
        "cust": arrow_text(activities["customer_id"]),
        "first_": pa.array(first_contact_mask(len(activities), first)),
    }
    tables = {}
    if labels is None:
        for i, column in enumerate(by):
            columns[f"k{i}"] = columns["cust"] if column == "customer_id" else arrow_text(activities[column])
        keys = ", ".join(f'r.k{i} AS "{column}"' for i, column in enumerate(by))
        joins = ""
    else:
        joins, choices = "", []
        if "opportunity_id" in labels:
            columns["opp"] = arrow_text(activities["opportunity_id"])
            tables["deal_labels"] = _label_table(labels["opportunity_id"])
            joins += " LEFT JOIN deal_labels d ON r.opp = d.id"
            choices.append("d.label")
        if "customer_id" in labels:
            tables["customer_labels"] = _label_table(labels["customer_id"])
            joins += " LEFT JOIN customer_labels c ON r.cust = c.id"
            choices.append("c.label")
        keys = "coalesce(" + ", ".join(choices) + f", '{UNKNOWN}') AS \"{by[0]}\""
    inside = "r.day >= $start AND r.day < $end"
    sql = (
        f"SELECT {keys}, count(*) FILTER (WHERE {inside}) AS contacts, "
        f"count(*) FILTER (WHERE {inside} AND r.first_) AS new_prospect_contacts, "
        f"count(*) FILTER (WHERE {inside} AND r.cust IS NULL) AS unlinked_contacts "
        f"FROM rows_ r{joins} GROUP BY ALL"
    )
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
    """:func:`count_contacts` grouped by one categorical column (a loaded
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
    first = first_contact_mask(len(activities), first)
    found = np.zeros(size + 1, dtype=np.int64)
    counts = {name: np.zeros(size + 1, dtype=np.int64) for name in ("contacts", "new_prospect_contacts", "unlinked_contacts")}
    step = 1 << 20
    for at in range(0, len(codes), step):
        slot = codes[at : at + step].astype(np.int32)
        slot[slot < 0] = size  # a missing key: the last slot
        found += np.bincount(slot, minlength=size + 1)
        inside = (days[at : at + step] >= start) & (days[at : at + step] < end)
        part = customers.iloc[at : at + step]
        unlinked = part.array.codes < 0 if is_categorical(part) else part.isna().to_numpy()
        counts["contacts"] += np.bincount(slot[inside], minlength=size + 1)
        counts["new_prospect_contacts"] += np.bincount(slot[inside & first[at : at + step]], minlength=size + 1)
        counts["unlinked_contacts"] += np.bincount(slot[inside & unlinked], minlength=size + 1)
    present = np.flatnonzero(found)  # the categories are sorted, the missing key's slot last: sorted, na last
    labels = np.append(keys.cat.categories.to_numpy(dtype=object), np.nan)[present]
    out = pd.DataFrame({column: pd.Series(labels, dtype="str"), **{name: c[present] for name, c in counts.items()}})
    out["follow_up_contacts"] = out["contacts"] - out["new_prospect_contacts"] - out["unlinked_contacts"]
    return out[[column, *CONTACT_COLUMNS]]


def _contact_counts_by_labels(
    activities: pd.DataFrame, column: str, period: Period, first, labels: dict[str, pd.Series]
) -> pd.DataFrame:
    """:func:`count_contacts` with ``labels``: each activity's group is its
    opportunity's label, else its customer's, else "(unknown)" (the first
    label of an id, missing labels falling through), found by an Arrow hash
    lookup of the ids (:func:`salesnb.analysis.frames.positions`), then
    counted per group code with ``np.bincount``. Groups, order and dtypes as
    the DuckDB query of the other groupings gives them: every group found
    among all the activities (in the period or not), sorted. No DuckDB: a
    team page's breakdowns (by customer type and acquisition method) count
    without importing it."""
    names: dict[str, int] = {UNKNOWN: 0}  # each group's code
    group = np.zeros(len(activities), dtype=np.int64)
    for key in ("customer_id", "opportunity_id"):  # the customer's label first, the deal's over it
        if key not in labels:
            continue
        table = labels[key]
        table = table[table.notna().to_numpy()]
        table = table[~table.index.duplicated(keep="first")]
        codes, found = pd.factorize(table.astype("str").to_numpy(dtype=object))
        code_of = np.array([names.setdefault(name, len(names)) for name in found], dtype=np.int64)
        at = positions(activities[key], table.index)
        hit = at >= 0
        group[hit] = code_of[codes[at[hit]]]
    size = len(names)
    days = activities["date"]
    inside = ((days >= pd.Timestamp(period.start)) & (days < pd.Timestamp(period.end_exclusive))).to_numpy(dtype=bool)
    unlinked = activities["customer_id"].isna().to_numpy()
    first = first_contact_mask(len(activities), first)
    present = np.flatnonzero(np.bincount(group, minlength=size))
    counts = {
        "contacts": np.bincount(group[inside], minlength=size),
        "new_prospect_contacts": np.bincount(group[inside & first], minlength=size),
        "unlinked_contacts": np.bincount(group[inside & unlinked], minlength=size),
    }
    out = pd.DataFrame(
        {
            column: pd.Series(np.array(list(names), dtype=object)[present], dtype="str"),
            **{name: c[present].astype("int64") for name, c in counts.items()},
        }
    )
    out["follow_up_contacts"] = out["contacts"] - out["new_prospect_contacts"] - out["unlinked_contacts"]
    out = out.sort_values([column], na_position="last", kind="stable", ignore_index=True)
    return out[[column, *CONTACT_COLUMNS]]


def first_contact_mask(rows: int, first: np.ndarray) -> np.ndarray:
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
    return pa.table({"id": arrow_text(labels.index.to_series()), "label": arrow_text(labels.astype("str"))})


def contact_close_rate(opportunities: pd.DataFrame, activities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Won deals (closed in ``period``) / contacts dated in ``period``, shown
    for contrast with win_rate. Rate form; n is the closed deals.
    Example: 10 won, 60 contacts -> 10 / 60 = 0.167.
    """
    by = by_columns(by)
    out = merge_counts(
        opportunity_counts(opportunities, by=by, period=period), contact_counts(activities, by=by, period=period), by
    )
    return rate_frame(out, by, "contact_close_rate")


def contacts_per_opportunity(opportunities: pd.DataFrame, activities: pd.DataFrame, *, by=("rep_id",), period) -> pd.DataFrame:
    """Contacts dated in ``period`` / unique opportunities created in it.
    Rate form; n is the opportunities. Example: 60 contacts, 15
    opportunities -> 4.
    """
    by = by_columns(by)
    out = merge_counts(
        opportunity_counts(opportunities, by=by, period=period), contact_counts(activities, by=by, period=period), by
    )
    return rate_frame(out, by, "contacts_per_opportunity")


def first_contact_positions(acts: pd.DataFrame) -> np.ndarray:
    """Positions of each customer's first contact."""
    return first_positions(acts["customer_id"], acts["date"], acts["activity_id"])
