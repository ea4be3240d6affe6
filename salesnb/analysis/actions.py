"""The rep's own deals behind a coaching focus: what to pick up on Monday.

A focus names a factor; its ``actions`` name the deals (or, for
prospecting, a weekly number) the rep and manager can work on:

* ``velocity``: ``stalled_deal``, open at the period's end with no
  activity for :data:`STALLED_DAYS` days or more (``days`` idle), the
  longest idle first; with the ``opportunity_history`` table each also
  says how often its expected close date was pushed by the period's end
  (``pushes``) and by how many days in all (``pushed_days``), None
  without the table;
* ``conversion``: ``lost_deal``, lost in the period, the latest first
  (``days``: created to lost);
* ``deal_size``: ``small_win``, won in the period below the peers'
  median deal, the smallest first (``days``: created to won);
* ``prospecting``: ``weekly_target``, the extra new opportunities a week
  that reach the peer median pace (``weeks`` in the period; the number
  itself is said by :func:`salesnb.analysis.wording.apply` from the
  evidence, so it follows a peer median made safe to show).

At most :data:`MAX_ACTIONS` deals each. Every action has the contract's keys
``kind``, ``opportunity_id``, ``customer_id``, ``amount``, ``days`` (None
where they do not apply) and ``text``.
"""

from __future__ import annotations

import pandas as pd

from salesnb.io.dataset import Dataset

__all__ = ["MAX_ACTIONS", "STALLED_DAYS", "add_actions", "stalled_deals"]

MAX_ACTIONS = 5
"""Deals named per focus: enough for a one-to-one, few enough to act on."""

STALLED_DAYS = 30
"""An open deal with no activity for this many days is stalled (a stale one, :data:`salesnb.analysis.quality.STALE_DAYS`, is far worse)."""


def add_actions(ds: Dataset, diagnoses: list[dict], span) -> None:
    """Set ``actions`` on each diagnosis of ``diagnoses`` (in place) for ``span``."""
    wanted = {d["rep_id"]: d for d in diagnoses if d.get("focus")}
    for d in diagnoses:
        d["actions"] = []
    if not wanted:
        return
    opps = ds.opportunities
    opps = opps[opps["rep_id"].astype("object").isin(list(wanted))]
    by_focus: dict[str, list[str]] = {}
    for rep, d in wanted.items():
        by_focus.setdefault(d["focus"], []).append(rep)
    if "velocity" in by_focus:
        stalled = stalled_deals(opps[opps["rep_id"].isin(by_focus["velocity"])], ds.activities, reference=span.end)
        pushed = _pushes(ds, span)
        for rep, own in stalled.groupby("rep_id", sort=False, observed=True):
            wanted[str(rep)]["actions"] = _records(own.head(MAX_ACTIONS), "stalled_deal", "idle")
            for action in wanted[str(rep)]["actions"]:
                action.update(_push_record(pushed, action["opportunity_id"]))
    closed_in = opps["closed_date"].notna() & span.contains(opps["closed_date"])
    cycle = (opps["closed_date"] - opps["created_date"]).dt.days
    opps = opps.assign(cycle=cycle)
    if "conversion" in by_focus:
        lost = opps[closed_in & opps["status"].eq("lost") & opps["rep_id"].isin(by_focus["conversion"])]
        lost = lost.sort_values(["closed_date", "opportunity_id"], ascending=[False, True], kind="stable")
        for rep, own in lost.groupby("rep_id", sort=False, observed=True):
            wanted[str(rep)]["actions"] = _records(own.head(MAX_ACTIONS), "lost_deal", "cycle")
    if "deal_size" in by_focus:
        won = opps[closed_in & opps["status"].eq("won") & opps["amount"].notna() & opps["rep_id"].isin(by_focus["deal_size"])]
        won = won.sort_values(["amount", "opportunity_id"], kind="stable")
        for rep, own in won.groupby("rep_id", sort=False, observed=True):
            typical = _evidence(wanted[str(rep)], "deal_size").get("peer_median")
            if typical is not None:
                own = own[own["amount"] < typical]
            wanted[str(rep)]["actions"] = _records(own.head(MAX_ACTIONS), "small_win", "cycle")
    weeks = ((span.end - span.start).days + 1) / 7
    for rep in by_focus.get("prospecting", []):
        wanted[rep]["actions"] = [
            {
                "kind": "weekly_target",
                "opportunity_id": None,
                "customer_id": None,
                "amount": None,
                "days": None,
                "weeks": round(weeks, 2),
                "per_week": None,
                "more": None,
                "text": "",
            }
        ]


def stalled_deals(opportunities: pd.DataFrame, activities: pd.DataFrame | None, *, reference) -> pd.DataFrame:
    """Deals open at ``reference`` with no activity (or creation) for
    :data:`STALLED_DAYS` days or more, with their ``idle`` days
    (:func:`salesnb.analysis.quality.idle_open_deals`), the longest idle first (ties by id)."""
    from salesnb.analysis.quality import idle_open_deals

    deals = idle_open_deals(opportunities, activities, reference=reference)
    out = deals[deals["idle"] >= STALLED_DAYS]
    return out.sort_values(["idle", "opportunity_id"], ascending=[False, True], kind="stable")


def _pushes(ds: Dataset, span) -> pd.DataFrame | None:
    """Per opportunity, its close-date pushes up to the end of ``span`` (None without the history)."""
    if ds.opportunity_history is None:
        return None
    from salesnb.analysis.history import close_date_pushes, deal_pushes

    return deal_pushes(close_date_pushes(ds), until=span.end).set_index("opportunity_id")


def _push_record(pushed: pd.DataFrame | None, opportunity_id: str) -> dict:
    """A stalled deal's ``pushes`` and ``pushed_days`` (0 when never pushed; None without the history)."""
    if pushed is None:
        return {"pushes": None, "pushed_days": None}
    if opportunity_id not in pushed.index:
        return {"pushes": 0, "pushed_days": 0}
    row = pushed.loc[opportunity_id]
    return {"pushes": int(row["pushes"]), "pushed_days": int(round(float(row["pushed_days"])))}


def _evidence(diagnosis: dict, factor: str) -> dict:
    return next((e for e in diagnosis.get("evidence", []) if e["factor"] == factor), {})


def _records(deals: pd.DataFrame, kind: str, days_column: str) -> list[dict]:
    out = []
    for row in deals.itertuples(index=False):
        amount = row.amount
        days = getattr(row, days_column)
        customer = row.customer_id
        out.append(
            {
                "kind": kind,
                "opportunity_id": str(row.opportunity_id),
                "customer_id": None if pd.isna(customer) or str(customer).strip() == "" else str(customer),
                "amount": None if pd.isna(amount) else float(amount),
                "days": None if pd.isna(days) else int(days),
                "text": "",
            }
        )
    return out
