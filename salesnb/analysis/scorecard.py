"""Each rep measured against their expectations: the scorecard.

:func:`scorecard` sets every expectation that applies to a rep (see
:mod:`salesnb.analysis.expectations` for merging and pro-rating) beside what
the rep did: revenue against the quota, new customers and visits by market
tier, the share of new customers from the prospecting methods, travel, and
the pipeline coverage and win rate of
:func:`salesnb.analysis.metrics.metrics_table`.
It sits above the metrics table, which itself only takes the quotas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb.analysis.customers import book_of
from salesnb.analysis.deals import COVERAGE_NORM, coverage_period
from salesnb.analysis.expectations import for_reps, prorate, target_number
from salesnb.analysis.frames import lookup
from salesnb.analysis.metrics import metrics_table
from salesnb.analysis.periods import Period, parse_period
from salesnb.errors import InputError
from salesnb.io.categorical import folded, plain
from salesnb.io.expectations_file import KNOWN_KEYS

__all__ = ["NO_EXPECTATIONS", "SCORECARD_COLUMNS", "VISIT_TYPES", "scorecard"]

SCORECARD_COLUMNS = ["rep_id", "expectation", "target", "actual", "met", "unit", "note"]
NO_EXPECTATIONS = "No expectations.yml: add one (see the README) to judge reps against quota and norms."
VISIT_TYPES = ("visit",)
"""Activity types (case-insensitive) that are visits, i.e. travel."""


def scorecard(ds, *, period, rep=None, as_of=None) -> pd.DataFrame:
    """Each rep's expectations for ``period``, measured.

    Returns a tidy frame: rep_id, expectation, target (pro-rated where the
    figure is yearly), actual, met (True/False, NaN when it cannot be
    judged), unit, note (e.g. which table would enable a measure whose data
    is missing). Only expectations set for a rep get a row. Rows:

    ``revenue_quota``: revenue won vs the quota (met: actual >= target): the
    quotas table's where it covers the period, else the pro-rated yearly one;
    ``new_customers_primary`` / ``_secondary``: new customers of that tier;
    ``visits_per_customer_primary`` / ``_secondary``: visits to customers of
    that tier / the customers of that tier contacted in the period;
    ``prospecting_methods``: share of the rep's new customers (without a
    customers table: of the opportunities created) whose acquisition
    method is listed (unknown methods left out);
    ``max_travel_share``: visits / all activities (met: actual <= target);
    ``pipeline_coverage`` and ``win_rate``: the metrics against the norm.
    """
    period = parse_period(period, as_of=as_of)
    reps = ds.reps.drop_duplicates("rep_id")
    if rep is not None:
        wanted = [rep] if isinstance(rep, str) else list(rep)
        unknown = [r for r in wanted if r not in set(reps["rep_id"])]
        if unknown:
            raise InputError(f"no rep {unknown[0]!r} in the reps table; known reps: {', '.join(reps['rep_id'].head(8))}")
        reps = reps[reps["rep_id"].isin(wanted)]
    if not ds.expectations:
        out = pd.DataFrame({c: pd.Series([], dtype="object") for c in SCORECARD_COLUMNS})
        out.attrs["notes"] = [NO_EXPECTATIONS]
        return out
    # the measures of every rep at once, then the rows per rep
    table = metrics_table(ds, by="rep", period=period, as_of=as_of).set_index("rep_id")
    # named reps: their rows only are measured (each measure is per rep, so theirs are the same)
    chosen = None if rep is None else set(reps["rep_id"].astype(str))
    measured = {name: _by_rep(frame) for name, frame in _measures(ds, period=period, reps=chosen).items()}
    rows: list[dict] = []
    shown = table if chosen is None else table[table.index.isin(sorted(chosen))]
    figures = shown.to_dict("index")  # one dict per rep, not a Series made per rep
    against = coverage_period(period, as_of=as_of)
    every_goal = for_reps(ds.expectations, reps["rep_id"], reps["team"])
    for rep_id, goals in zip(reps["rep_id"], every_goal):
        rows += _rep_rows(ds, rep_id, goals, figures[rep_id], measured, period, against)
    out = pd.DataFrame(rows, columns=SCORECARD_COLUMNS)
    out["target"] = out["target"].astype("float64")
    out["actual"] = out["actual"].astype("float64")
    out["met"] = out["met"].astype("object")
    out.attrs["notes"] = [n for n in table.attrs.get("notes", []) if "expectations" not in n]
    return out


# -- rows ---------------------------------------------------------------------


class _ByRep(dict):
    """A per-rep measure frame as {rep_id: {column: value}}, with the frame's
    ``index`` (what is in it) and ``attrs``: read per rep without a Series per rep."""

    def __init__(self, frame: pd.DataFrame):
        super().__init__(frame.to_dict("index"))
        self.index = self.keys()
        self.attrs = frame.attrs
        self.loc = self


def _by_rep(frame):
    return None if frame is None else _ByRep(frame)


def _rep_rows(ds, rep_id, goals: dict, metrics: pd.Series, measured: dict, period: Period, against: Period) -> list[dict]:
    rows = []
    visits, travel, prospecting = measured["visits"], measured["travel"], measured["prospecting"]

    def row(expectation, target, actual, unit, note="", *, at_most=False, judged=True):
        target = np.nan if target is None else float(target)
        actual = np.nan if actual is None else float(actual)
        met = np.nan
        if judged and not (np.isnan(target) or np.isnan(actual)):
            met = bool(actual <= target) if at_most else bool(actual >= target)
        rows.append(
            {
                "rep_id": rep_id,
                "expectation": expectation,
                "target": target,
                "actual": actual,
                "met": met,
                "unit": unit,
                "note": note,
            }
        )

    from_table = metrics.get("quota_source") == "quotas"  # the quotas table's, where it covers the period
    if "revenue_quota" in goals or from_table:
        target = metrics["quota"] if from_table else prorate(goals["revenue_quota"], period)
        actual = metrics["revenue_won"]
        whose = f"the quota set for {period.label} (quotas table)" if from_table else f"the quota pro-rated to {period.label}"
        note = f"attainment {actual / target:.0%} of {whose}" if target else ""
        row("revenue_quota", target, actual, "currency", note)
    for tier in ("primary", "secondary"):
        new = goals.get("new_customers")
        if isinstance(new, dict) and tier in new:
            actual = metrics[f"new_customers_{tier}"]
            note = ds.missing("customers").replace("enable", "tell market tiers and enable") if ds.customers is None else ""
            row(f"new_customers_{tier}", prorate(new[tier], period), actual, "customers", note)
    for tier in ("primary", "secondary"):
        norm = goals.get("visits_per_customer")
        if isinstance(norm, dict) and tier in norm:
            target = prorate(norm[tier], period)
            if visits is None:
                missing = [t for t in ("activities", "customers") if ds.table(t) is None]
                row(f"visits_per_customer_{tier}", target, None, "visits per customer", " ".join(ds.missing(t) for t in missing))
                continue
            got = visits.loc[rep_id] if rep_id in visits.index else None
            contacted = 0 if got is None else got[f"customers_{tier}"]
            actual = None if not contacted else got[f"visits_{tier}"] / contacted
            note = f"{0 if got is None else int(got[f'visits_{tier}'])} visits to {int(contacted)} {tier} customers contacted"
            row(f"visits_per_customer_{tier}", target, actual, "visits per customer", note)
    if "prospecting_methods" in goals:
        methods = goals["prospecting_methods"] or []
        if isinstance(methods, str):
            methods = [methods]
        share_goal = goals.get("min_prospecting_share")
        basis = prospecting.attrs["basis"]
        got = prospecting.loc[rep_id] if rep_id in prospecting.index else None
        listed = {str(m).strip().casefold() for m in methods}
        known = unknown = inside = 0
        if got is not None:
            known, unknown = got["known"], got["unknown"]
            inside = sum(got.get(m, 0) for m in listed)
        actual = inside / known if known else None
        note = f"{int(inside)} of {int(known)} {basis} from {', '.join(map(str, methods))}"
        if unknown:
            note += f"; {int(unknown)} with no acquisition method left out"
        if share_goal is None:
            note += "; set min_prospecting_share to judge it"
        row(
            "prospecting_methods",
            None if share_goal is None else target_number(share_goal, "min_prospecting_share"),
            actual,
            "share",
            note,
            judged=share_goal is not None,
        )
    if "max_travel_share" in goals:
        target = target_number(goals["max_travel_share"], "max_travel_share")
        if travel is None:
            row("max_travel_share", target, None, "share", ds.missing("activities"), at_most=True)
        else:
            got = travel.loc[rep_id] if rep_id in travel.index else None
            total = 0 if got is None else got["activities"]
            actual = None if not total else got["visits"] / total
            note = f"{0 if got is None else int(got['visits'])} visits of {int(total)} activities"
            row("max_travel_share", target, actual, "share", note, at_most=True)
    if "pipeline_coverage" in goals or "revenue_quota" in goals:
        quota = (
            f"the quota of {against.label}, the next period" if against != period else f"the quota pro-rated to {period.label}"
        )
        note = "" if "revenue_quota" in goals else "needs revenue_quota to be measured"
        note = note or f"open pipeline at {period.end.date()} / {quota}"
        if "pipeline_coverage" not in goals:
            note += f"; target: the usual {COVERAGE_NORM:g}x (expectations.yml sets no pipeline_coverage)"
        row(
            "pipeline_coverage",
            target_number(goals.get("pipeline_coverage", COVERAGE_NORM), "pipeline_coverage"),
            metrics["pipeline_coverage"],
            "x quota",
            note,
        )
    if "win_rate" in goals:
        note = f"{int(metrics['won'])} won of {int(metrics['closed'])} closed"
        if metrics["small_sample"]:
            note += " (small sample)"
        row("win_rate", target_number(goals["win_rate"], "win_rate"), metrics["win_rate"], "share", note)
    for key in goals:
        if key not in KNOWN_KEYS:
            row(
                key, None, None, "", f"salesnb does not know how to measure {key!r}; known: {', '.join(KNOWN_KEYS)}", judged=False
            )
    return rows


def _measures(ds, *, period: Period, reps: set[str] | None = None) -> dict:
    """What the scorecard measures for every rep at once (or for ``reps`` only,
    their rows kept before any grouping): visits, travel, prospecting."""
    return {
        "visits": _visits(ds, period, reps),
        "travel": _travel(ds, period, reps) if ds.activities is not None else None,
        "prospecting": _prospecting(ds, period, reps),
    }


def _inside(frame: pd.DataFrame, dates: pd.Series, period: Period, reps: set[str] | None) -> np.ndarray:
    """The rows of ``frame`` dated in ``period`` (and, given ``reps``, of those reps): a boolean mask."""
    mask = period.contains(dates).to_numpy()
    if reps is not None:
        mask = mask & frame["rep_id"].isin(sorted(reps)).to_numpy()
    return mask


def _visits(ds, period: Period, reps: set[str] | None = None) -> pd.DataFrame | None:
    """Per rep: visits to and customers contacted of each tier in ``period``."""
    acts, customers = ds.activities, ds.customers
    if acts is None or customers is None:
        return None
    inside = acts[_inside(acts, acts["date"], period, reps)][["rep_id", "customer_id", "type"]]
    if reps is not None:  # a few reps: only the customers they contacted (each one's first row, as for all)
        customers = customers[customers["customer_id"].isin(inside["customer_id"].unique()).to_numpy(dtype=bool)]
    tiers = pd.Series(customers["market_tier"].to_numpy(), index=customers["customer_id"]).groupby(level=0).first()
    tier = lookup(inside["customer_id"], tiers).str.lower()
    is_visit = folded(inside["type"]).isin(VISIT_TYPES)
    out = {}
    for name in ("primary", "secondary"):
        of_tier = tier.eq(name).to_numpy()
        out[f"visits_{name}"] = (is_visit.to_numpy() & of_tier).astype("int64")
    frame = pd.DataFrame(out, index=inside.index).groupby(inside["rep_id"], observed=True).sum()
    for name in ("primary", "secondary"):
        contacted = inside[tier.eq(name).to_numpy()].groupby("rep_id", observed=True)["customer_id"].nunique()
        frame[f"customers_{name}"] = contacted.reindex(frame.index).fillna(0).astype("int64")
    return frame


def _travel(ds, period: Period, reps: set[str] | None = None) -> pd.DataFrame:
    acts = ds.activities
    inside = acts[_inside(acts, acts["date"], period, reps)]
    is_visit = folded(inside["type"]).isin(VISIT_TYPES).astype("int64")
    return pd.DataFrame({"activities": 1, "visits": is_visit}, index=inside.index).groupby(inside["rep_id"], observed=True).sum()


def _prospecting(ds, period: Period, reps: set[str] | None = None) -> pd.DataFrame:
    """Per rep: counts of new customers (or, without a customers table,
    opportunities created) in ``period`` by lower-cased acquisition method,
    plus ``known`` and ``unknown`` totals. ``attrs["basis"]`` names what was counted."""
    if ds.customers is not None:
        book = book_of(ds)  # a batch snapshot's, made once
        rows = book[_inside(book, book["acquired_date"], period, reps)]
        basis = "new customers"
    else:
        opps = ds.opportunities
        rows = opps[_inside(opps, opps["created_date"], period, reps)]
        basis = "opportunities created (no customers table)"
    method = plain(folded(rows["acquisition_method"]))
    rep = plain(rows["rep_id"])  # plain labels: a crosstab of categoricals would list every category
    if len(rows) and method.notna().any():
        frame = pd.crosstab(rep, method)
    else:
        frame = pd.DataFrame(index=pd.Index([], name="rep_id"))
    frame["known"] = frame.sum(axis=1) if len(frame.columns) else 0
    unknown = rep[method.isna().to_numpy()].groupby(rep[method.isna().to_numpy()], observed=True).size()
    frame = frame.reindex(frame.index.union(unknown.index), fill_value=0)
    frame["unknown"] = unknown.reindex(frame.index).fillna(0).astype("int64")
    frame.attrs["basis"] = basis
    return frame
