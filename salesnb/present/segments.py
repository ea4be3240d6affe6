"""The segment filter: a :class:`~salesnb.io.dataset.Dataset` cut down to a team,
territory, customer type or acquisition method, so every metric function
can be run on the segment unchanged (the team page and the segment explorer use it).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from salesnb.io.categorical import coalesce
from salesnb.io.dataset import Dataset
from salesnb.present.page_text import fold, is_blank

__all__ = ["SEGMENT_FILTERS", "segment", "segment_options"]

SEGMENT_FILTERS = ("team", "territory", "customer_type", "acquisition_method")


def segment(ds: Dataset, *, team=None, territory=None, customer_type=None, acquisition_method=None) -> Dataset:
    """The part of ``ds`` in one segment; blank or None filters are ignored.

    ``team`` and ``territory`` select reps (the reps table's columns, as
    ``metrics_table(by="territory")`` groups them) and keep those reps' deals,
    contacts, forecasts, training, owned customers and those customers'
    orders. ``customer_type`` and ``acquisition_method`` select customers
    and keep only the deals, contacts and orders with them; a deal's
    acquisition method is its own, else its customer's (as in
    :func:`salesnb.analysis.metrics.metrics_table`). Values match case-insensitively.

    Quotas and forecasts cover a rep's whole business, so a customer segment
    drops them (they would be compared with a part of the revenue); the
    returned Dataset's ``notes`` say so.
    """
    from salesnb.analysis.metrics import customer_book

    wanted = {
        name: fold(value)
        for name, value in (
            ("team", team),
            ("territory", territory),
            ("customer_type", customer_type),
            ("acquisition_method", acquisition_method),
        )
        if not is_blank(value)
    }
    if not wanted:
        return ds
    reps = ds.reps
    keep = np.ones(len(reps), dtype=bool)
    for column in ("team", "territory"):
        if column in wanted:
            keep &= reps[column].map(fold).eq(wanted[column]).to_numpy()
    rep_ids = set(reps.loc[keep, "rep_id"])
    by_rep = "team" in wanted or "territory" in wanted
    by_customer = "customer_type" in wanted or "acquisition_method" in wanted

    opps, customers, acts, orders = ds.opportunities, ds.customers, ds.activities, ds.orders
    book = customer_book(opps, customers)  # owner and acquisition method of every known customer
    owner = pd.Series(book["rep_id"].to_numpy(), index=book["customer_id"])
    customer_ok = pd.Series(True, index=book["customer_id"])
    if "customer_type" in wanted:
        customer_ok &= book["customer_type"].map(fold).eq(wanted["customer_type"]).to_numpy()
    if "acquisition_method" in wanted:
        customer_ok &= book["acquisition_method"].map(fold).eq(wanted["acquisition_method"]).to_numpy()
    if by_rep:
        customer_ok &= book["rep_id"].isin(rep_ids).to_numpy() | book["rep_id"].isna().to_numpy()
    customer_ok = customer_ok[~customer_ok.index.duplicated(keep="first")]
    kept_customers = set(customer_ok.index[customer_ok.to_numpy()])

    # deals
    deal_ok = np.ones(len(opps), dtype=bool)
    if by_rep:
        deal_ok &= opps["rep_id"].isin(rep_ids).to_numpy()
    if "customer_type" in wanted:
        types = (
            customers.drop_duplicates("customer_id").set_index("customer_id")["customer_type"]
            if customers is not None
            else pd.Series(dtype="str")
        )
        deal_ok &= opps["customer_id"].map(types).map(fold).eq(wanted["customer_type"]).to_numpy()
    deal_method = None
    if "acquisition_method" in wanted:
        methods = (
            customers.drop_duplicates("customer_id").set_index("customer_id")["acquisition_method"]
            if customers is not None
            else pd.Series(dtype="str")
        )
        deal_method = coalesce(opps["acquisition_method"], opps["customer_id"].map(methods))
        deal_ok &= deal_method.map(fold).eq(wanted["acquisition_method"]).to_numpy()
    new_opps = opps[deal_ok]
    kept_deals = set(new_opps["opportunity_id"])

    tables = dict(ds.tables)
    tables["reps"] = reps[keep].reset_index(drop=True)
    tables["opportunities"] = new_opps.reset_index(drop=True)
    if customers is not None:
        tables["customers"] = customers[customers["customer_id"].isin(kept_customers).to_numpy()].reset_index(drop=True)
    if acts is not None:
        act_ok = np.ones(len(acts), dtype=bool)
        if by_rep:
            act_ok &= acts["rep_id"].isin(rep_ids).to_numpy()
        if by_customer:
            # a contact belongs to the segment of its deal, else of its customer
            on_deal = (
                acts["opportunity_id"].notna().to_numpy() & acts["opportunity_id"].isin(set(opps["opportunity_id"])).to_numpy()
            )
            act_ok &= np.where(
                on_deal, acts["opportunity_id"].isin(kept_deals).to_numpy(), acts["customer_id"].isin(kept_customers).to_numpy()
            )
        tables["activities"] = acts[act_ok].reset_index(drop=True)
    if orders is not None:
        order_owner = coalesce(orders["customer_id"].map(owner), orders["rep_id"])
        order_ok = np.ones(len(orders), dtype=bool)
        if by_rep:
            order_ok &= order_owner.isin(rep_ids).to_numpy()
        if by_customer:
            order_ok &= orders["customer_id"].isin(kept_customers).to_numpy()
        tables["orders"] = orders[order_ok].reset_index(drop=True)
    for name in ("training", "forecasts"):
        frame = ds.table(name)
        if frame is not None:
            frame = frame[frame["rep_id"].isin(rep_ids).to_numpy()] if by_rep else frame
            if name == "forecasts" and by_customer:
                frame = frame.iloc[0:0]
            tables[name] = frame.reset_index(drop=True)
    notes = list(ds.notes)
    expectations = ds.expectations
    if by_customer:
        expectations = None
        notes.append("A customer segment leaves out quotas and forecasts: they cover a rep's whole business.")
    described = ", ".join(
        f"{k.replace('_', ' ')} {v}"
        for k, v in (
            ("team", team),
            ("territory", territory),
            ("customer_type", customer_type),
            ("acquisition_method", acquisition_method),
        )
        if not is_blank(v)
    )
    return dataclasses.replace(
        ds, tables=tables, expectations=expectations, notes=notes, source=f"{ds.source} [segment: {described}]"
    )


def segment_options(ds: Dataset) -> dict[str, list[str]]:
    """The values each :func:`segment` filter can take in ``ds``, sorted."""

    def values(*series):
        seen: dict[str, str] = {}
        for s in series:
            if s is None:
                continue
            for v in s.dropna().astype(str):
                if v.strip():
                    seen.setdefault(fold(v), v.strip())
        return sorted(seen.values(), key=str.casefold)

    customers = ds.customers
    return {
        "team": values(ds.reps["team"]),
        "territory": values(ds.reps["territory"]),
        "customer_type": values(customers["customer_type"] if customers is not None else None),
        "acquisition_method": values(
            ds.opportunities["acquisition_method"], customers["acquisition_method"] if customers is not None else None
        ),
    }
