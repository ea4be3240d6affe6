"""What success means for a rep, beyond quota (``expectations.yml``).

Figures are yearly and pro-rated to any period by its share of a year
(:attr:`salesnb.analysis.periods.Period.year_fraction`); shares and norms
(``max_travel_share``, ``pipeline_coverage``, ``win_rate``) are not
pro-rated. ``default:`` applies to every rep, ``teams:`` and ``reps:`` are
merged over it, a rep's own beating its team's; a file with none of those
keys is read as ``default``.

Keys understood (the contract's example)::

    revenue_quota: 1300000                          # revenue won per year
    new_customers: {primary: 6, secondary: 15}      # new customers per year, by market tier
    visits_per_customer: {primary: 3, secondary: 1} # visits per contacted customer per year
    prospecting_methods: [cold_call_phone, referral]
    max_travel_share: 0.20                          # visits / all activities, at most
    pipeline_coverage: 3.0                          # open pipeline / period quota, at least
    win_rate: 0.60                                  # at least

plus one optional key of salesnb's own: ``min_prospecting_share`` (e.g.
0.5), the share of new customers (or opportunities) that must come from the
``prospecting_methods``; without it that row is reported but not judged, and
``currency: EUR`` (a code or symbol shown beside money, not a target).

Reading and checking the file (its keys, shapes and values, with lines) is
:mod:`salesnb.io.expectations_file`; measuring each rep against the targets
is :mod:`salesnb.analysis.scorecard`.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd

from salesnb.analysis.periods import parse_period
from salesnb.errors import InputError
from salesnb.io.expectations_file import SECTIONS, as_number

__all__ = ["QUOTA_SOURCES", "for_rep", "for_reps", "prorate", "quota_table", "quotas", "quotas_from_table", "target_number"]

QUOTA_SOURCES = ("quotas", "expectations")
"""Where a rep's quota comes from (``quota_source``): the quotas table, else expectations.yml."""


def for_rep(expectations: dict | None, rep_id, team=None) -> dict:
    """The expectations that apply to ``rep_id``: ``default``, then the
    rep's ``team`` entry, then the rep's own entry, merged (nested maps such
    as ``new_customers`` merged key by key). Team names match
    case-insensitively; rep IDs exactly (as text). Returns ``{}`` when there
    are no expectations.
    """
    if not expectations:
        return {}
    if not isinstance(expectations, dict):
        raise InputError(f"expectations must be a mapping (the parsed expectations.yml), not {type(expectations).__name__}")
    if not set(SECTIONS) & set(expectations):
        expectations = {"default": expectations}
    merged = _merge({}, _section(expectations, "default"))
    teams = _section(expectations, "teams")
    if team is not None and not (isinstance(team, float) and np.isnan(team)):
        wanted = str(team).strip().casefold()
        for key, values in teams.items():
            if str(key).strip().casefold() == wanted:
                merged = _merge(merged, values)
    reps = _section(expectations, "reps")
    for key, values in reps.items():
        if str(key).strip() == str(rep_id).strip():
            merged = _merge(merged, values)
    return merged


def for_reps(expectations: dict | None, rep_ids, teams) -> list[dict]:
    """:func:`for_rep` of each rep (``rep_ids`` beside their ``teams``), merged once per
    team for the reps without an entry of their own (10,000 reps: a few merges, not
    10,000). Reps of one team without their own entry share one dict: do not change it."""
    rep_ids, teams = list(rep_ids), list(teams)
    if not expectations or not isinstance(expectations, dict):
        return [for_rep(expectations, r, t) for r, t in zip(rep_ids, teams)]
    sections = expectations if set(SECTIONS) & set(expectations) else {"default": expectations}
    own = {str(key).strip() for key in _section(sections, "reps")}
    by_team: dict = {}
    out = []
    for rep_id, team in zip(rep_ids, teams):
        if str(rep_id).strip() in own:
            out.append(for_rep(expectations, rep_id, team))
            continue
        blank = team is None or (isinstance(team, float) and np.isnan(team))
        key = None if blank else str(team).strip().casefold()
        if key not in by_team:
            by_team[key] = for_rep(expectations, rep_id, team)
        out.append(by_team[key])
    return out


def prorate(value, period):
    """A yearly ``value`` scaled to ``period`` (a Period or period text):
    ``value x period.year_fraction``. A mapping is pro-rated value by value;
    None/NaN gives NaN. Example: 1,300,000 a year -> 325,000 for a quarter.
    """
    period = parse_period(period)
    if isinstance(value, dict):
        return {k: prorate(v, period) for k, v in value.items()}
    return target_number(value, "a yearly expectation") * period.year_fraction


def quotas(ds, *, period) -> pd.Series:
    """Every rep's revenue quota for ``period``, indexed by rep_id; NaN when
    the rep has none: from the quotas table where the rep's rows cover the
    period (:func:`quotas_from_table`), else the yearly ``revenue_quota`` of
    expectations.yml pro-rated. :func:`quota_table` says which."""
    return quota_table(ds, period=period)["quota"]


def quota_table(ds, *, period) -> pd.DataFrame:
    """Every rep's quota for ``period`` and its ``quota_source`` (``quotas``
    or ``expectations``; None when the rep has no quota), indexed by rep_id."""
    period = parse_period(period)
    yearly = _expected_quotas(ds, period)
    table = ds.tables.get("quotas") if hasattr(ds, "tables") else None
    from_table = quotas_from_table(table, period=period).reindex(yearly.index)
    known = from_table.notna()
    quota = from_table.where(known, yearly)
    source = np.where(known, "quotas", np.where(yearly.notna(), "expectations", None))
    return pd.DataFrame({"quota": quota.astype("float64"), "quota_source": pd.Series(source, index=yearly.index, dtype=object)})


def quotas_from_table(table: pd.DataFrame | None, *, period) -> pd.Series:
    """Each rep's quota for ``period`` from a quotas table (rep_id, period,
    quota_amount), for the reps whose rows cover every day of it.

    Rows of one kind are used, the finest that covers the period (months,
    then quarters, then years), so a year and its quarters are never counted
    twice; a row only partly inside the period counts pro rata by days.
    Examples: 2025 asked, four quarterly rows of 100,000 -> 400,000;
    2025-02 asked, a 2025-Q1 row of 90,000 -> 90,000 x 28 / 90 = 28,000;
    2025 asked with only Q1 and Q2 rows -> not covered (NaN: the caller
    falls back to expectations.yml). A repeated (rep, period) row counts once
    (the last).
    """
    period = parse_period(period)
    if table is None or not len(table):
        return pd.Series([], index=pd.Index([], name="rep_id"), name="quota", dtype="float64")
    rows = table.loc[table["quota_amount"].notna().to_numpy(), ["rep_id", "period", "quota_amount"]]
    rows = pd.DataFrame({c: rows[c].astype(object) if c != "quota_amount" else rows[c] for c in rows.columns})
    spans = {label: parse_period(str(label)) for label in rows["period"].dropna().unique()}
    found: dict = {}
    for rep, group in rows.groupby("rep_id", sort=False):
        latest = dict(zip(group["period"], group["quota_amount"]))  # a repeated (rep, period) row: the last
        for kind in ("month", "quarter", "year"):
            days, amount = 0, 0.0
            for label, value in latest.items():
                span = spans[label]
                if span.kind != kind:
                    continue
                overlap = (min(span.end, period.end) - max(span.start, period.start)).days + 1
                if overlap > 0:
                    days += overlap
                    amount += float(value) * overlap / span.days
            if days == period.days:
                found[rep] = amount
                break
    return pd.Series(found, index=pd.Index(list(found), name="rep_id"), name="quota", dtype="float64")


def _expected_quotas(ds, period) -> pd.Series:
    """Every rep's yearly ``revenue_quota`` of expectations.yml pro-rated to ``period``
    (each rep's or team's yearly figure looked up once per batch snapshot: :func:`_yearly_quotas`)."""
    from salesnb.analysis.derived import derived

    index, keys, yearly = derived(ds, "yearly_quotas", lambda: _yearly_quotas(ds))
    prorated = {key: prorate(value, period) for key, value in yearly.items()}
    return pd.Series([prorated[key] for key in keys], index=index, name="quota", dtype="float64")


def _yearly_quotas(ds) -> tuple[pd.Index, list, dict]:
    """The reps (rep_id index), each rep's key (its own entry's or its team's) and each
    key's yearly ``revenue_quota`` as expectations.yml gives it (not pro-rated)."""
    reps = ds.reps.drop_duplicates("rep_id")
    expectations = ds.expectations
    own = set()  # reps with an entry of their own; every other rep's quota is its team's
    if isinstance(expectations, dict) and set(SECTIONS) & set(expectations):
        own = {str(key).strip() for key in _section(expectations, "reps")}
    yearly: dict = {}
    keys = []
    for rep, team in zip(reps["rep_id"], reps["team"]):
        no_team = team is None or (isinstance(team, float) and np.isnan(team))
        key = (
            ("rep", str(rep).strip()) if str(rep).strip() in own else ("team", None if no_team else str(team).strip().casefold())
        )
        if key not in yearly:
            yearly[key] = for_rep(expectations, rep, team).get("revenue_quota")
        keys.append(key)
    return pd.Index(reps["rep_id"], name="rep_id"), keys, yearly


def target_number(value, what: str) -> float:
    """A target as a float (None: NaN); anything
    :func:`salesnb.io.expectations_file.check` refuses raises InputError."""
    if value is None:
        return np.nan
    number = as_number(value)
    if number is None:
        text = repr(value)
        raise InputError(f"{what} must be a number such as 1300000 or 0.2, not {text if len(text) <= 60 else text[:57] + '...'}")
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise InputError(f"{what} must be a finite number, 0 or more, not {value!r}")
    return number


# -- internals ------------------------------------------------------------------


def _section(expectations: dict, name: str) -> dict:
    value = expectations.get(name) or {}
    if not isinstance(value, dict):
        raise InputError(f"expectations `{name}:` must be a mapping, not {type(value).__name__}")
    return value


def _merge(base: dict, over) -> dict:
    if over is None:
        return base
    if not isinstance(over, dict):
        raise InputError(f"an expectations entry must be a mapping of names to values, not {over!r}")
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
