"""What success means for a rep, beyond quota (``expectations.yml``).

Figures are yearly and pro-rated to any period by its share of a year
(:attr:`salesnb.analysis.periods.Period.year_fraction`); shares and norms
(``max_travel_share``, ``pipeline_coverage``, ``win_rate``) are not
pro-rated. ``default:`` applies to every rep, ``teams:`` and ``reps:`` are
merged over it, a rep's own beating its team's; a file with none of those
keys is read as ``default``. :func:`scorecard` measures each expectation.

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

:func:`check` says what is wrong with a file as read (errors: a target that
is negative, not a number, infinite, or of the wrong shape; warnings: an
unknown key, a ``teams:``/``reps:`` entry naming nobody in the data), each
with its line; the loader stops on errors and lists the warnings with the
data's problems.
"""
from __future__ import annotations

import copy
import difflib
import math
import numbers
import re

import numpy as np
import pandas as pd

from salesnb.analysis import memo
from salesnb.io.categorical import folded, plain
from salesnb.errors import InputError, Problem
from salesnb.analysis.metrics import _lookup
from salesnb.analysis.periods import Period, parse_period

SECTIONS = ("default", "teams", "reps")
KNOWN_KEYS = (
    "revenue_quota", "new_customers", "visits_per_customer", "prospecting_methods",
    "max_travel_share", "pipeline_coverage", "win_rate", "min_prospecting_share", "currency",
)
TIERS = ("primary", "secondary")
"""The keys of ``new_customers`` and ``visits_per_customer``."""
SHARES = ("max_travel_share", "win_rate", "min_prospecting_share")
"""Targets that are shares, between 0 and 1."""
NOT_MEASURED = ("currency",)
"""Known keys that are settings, not targets: no scorecard row."""
VISIT_TYPES = ("visit",)
"""Activity types (case-insensitive) that are visits, i.e. travel."""

SCORECARD_COLUMNS = ["rep_id", "expectation", "target", "actual", "met", "unit", "note"]
NO_EXPECTATIONS = "No expectations.yml: add one (see the README) to judge reps against quota and norms."


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


def prorate(value, period):
    """A yearly ``value`` scaled to ``period`` (a Period or period text):
    ``value x period.year_fraction``. A mapping is pro-rated value by value;
    None/NaN gives NaN. Example: 1,300,000 a year -> 325,000 for a quarter.
    """
    period = parse_period(period)
    if isinstance(value, dict):
        return {k: prorate(v, period) for k, v in value.items()}
    return _number(value, "a yearly expectation") * period.year_fraction


def quotas(ds, *, period) -> pd.Series:
    """Every rep's revenue quota for ``period`` (the yearly ``revenue_quota``
    pro-rated), indexed by rep_id; NaN when the rep has none."""
    period = parse_period(period)
    reps = ds.reps.drop_duplicates("rep_id")
    expectations = ds.expectations
    own = set()  # reps with an entry of their own; every other rep's quota is its team's
    if isinstance(expectations, dict) and set(SECTIONS) & set(expectations):
        own = {str(key).strip() for key in _section(expectations, "reps")}
    known: dict = {}
    values = []
    for rep, team in zip(reps["rep_id"], reps["team"]):
        no_team = team is None or (isinstance(team, float) and np.isnan(team))
        key = ("rep", str(rep).strip()) if str(rep).strip() in own else ("team", None if no_team else str(team).strip().casefold())
        if key not in known:
            known[key] = prorate(for_rep(expectations, rep, team).get("revenue_quota"), period)
        values.append(known[key])
    return pd.Series(values, index=pd.Index(reps["rep_id"], name="rep_id"), name="quota", dtype="float64")


def scorecard(ds, *, period, rep=None, as_of=None) -> pd.DataFrame:
    """Each rep's expectations for ``period``, measured.

    Returns a tidy frame: rep_id, expectation, target (pro-rated where the
    figure is yearly), actual, met (True/False, NaN when it cannot be
    judged), unit, note (e.g. which table would enable a measure whose data
    is missing). Only expectations set for a rep get a row. Rows:

    ``revenue_quota``: revenue won vs the pro-rated quota (met: actual >= target);
    ``new_customers_primary`` / ``_secondary``: new customers of that tier;
    ``visits_per_customer_primary`` / ``_secondary``: visits to customers of
    that tier / the customers of that tier contacted in the period;
    ``prospecting_methods``: share of the rep's new customers (without a
    customers table: of the opportunities created) whose acquisition
    method is listed (unknown methods left out);
    ``max_travel_share``: visits / all activities (met: actual <= target);
    ``pipeline_coverage`` and ``win_rate``: the metrics against the norm.
    """
    from salesnb.analysis.metrics import metrics_table

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
    # the batch-wide measures are computed once per data snapshot (salesnb.analysis.memo); the rows per rep
    table = memo.call(metrics_table, ds, by="rep", period=period).set_index("rep_id")
    measured = memo.call(_measures, ds, period=period)
    rows: list[dict] = []
    for rep_id, team in zip(reps["rep_id"], reps["team"]):
        goals = for_rep(ds.expectations, rep_id, team)
        rows += _rep_rows(ds, rep_id, goals, table.loc[rep_id], measured, period)
    out = pd.DataFrame(rows, columns=SCORECARD_COLUMNS)
    out["target"] = out["target"].astype("float64")
    out["actual"] = out["actual"].astype("float64")
    out["met"] = out["met"].astype("object")
    out.attrs["notes"] = [n for n in table.attrs.get("notes", []) if "expectations" not in n]
    return out


# -- checking a file ------------------------------------------------------------

def normalise(raw) -> dict:
    """expectations.yml as read (None, a file with sections, or one without)
    as a dict with ``default``, ``teams`` and ``reps`` keys."""
    raw = raw or {}
    if not set(SECTIONS) & set(raw):
        raw = {"default": raw}
    return {"default": raw.get("default") or {}, "teams": raw.get("teams") or {}, "reps": raw.get("reps") or {}}


def check(raw, *, file: str = "expectations.yml", source=None, reps: pd.DataFrame | None = None) -> list[Problem]:
    """Every problem of an expectations file as read (``raw``: the parsed
    YAML), each located by ``source`` (a :class:`salesnb.io.yamlfile.YamlFile`
    of it, for lines and values as written; None: no lines).

    Errors (flag ``bad_expectations``): a section or entry of the wrong
    shape, a target that is not a number (``1M``), negative, infinite or
    NaN, a share above 1. Warnings: a key salesnb does not know (with the
    nearest known one), and, given the ``reps`` table, a ``teams:`` entry
    naming no team or a ``reps:`` entry naming no rep in it.
    """
    found = _Findings(file, source)
    if raw is None:
        return []
    if not isinstance(raw, dict):
        found.error((), f"expectations.yml must be a mapping of expectation names to values, not {_kind(raw)}",
                    "see the expectations example in the README: default:, teams: and reps: sections")
        return found.problems
    if not set(SECTIONS) & set(raw):
        _check_entry(found, raw, (), top=True)
        return found.problems
    for key in raw:
        if key in SECTIONS:
            continue
        if key in KNOWN_KEYS:
            found.warning((key,), f"{key!r} at the top level is not read: the file has default:/teams:/reps: sections",
                          f"move {key} under default: (or under a team or rep)")
        else:
            found.warning((key,), f"unknown section {key!r} is not read", _known("a section", key, SECTIONS))
    if isinstance(raw.get("default"), dict):
        _check_entry(found, raw["default"], ("default",))
    elif raw.get("default") is not None:
        found.error(("default",), f"default: must be a mapping of expectation names to values, not {_kind(raw['default'])}",
                    "write e.g. default: {revenue_quota: 1300000, win_rate: 0.6}")
    names = _names(reps)
    for section in ("teams", "reps"):
        entries = raw.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            found.error((section,), f"{section}: must be a mapping of {section[:-1]} names to their expectations, not {_kind(entries)}",
                        f"write e.g. {section}: {{{'East' if section == 'teams' else 'R07'}: {{revenue_quota: 900000}}}}")
            continue
        for name, entry in entries.items():
            if isinstance(entry, dict):
                _check_entry(found, entry, (section, name))
            elif entry is not None:
                found.error((section, name), f"the {section}: entry {name!r} must be a mapping of expectation names to values, not {_kind(entry)}",
                            f"write e.g. {name}: {{revenue_quota: 900000}}")
            if names is not None:
                _check_name(found, section, name, names)
    return found.problems


class _Findings:
    """Problems of one expectations file, located as it was written."""

    def __init__(self, file: str, source):
        self.file, self.source, self.problems = file, source, []

    def add(self, path: tuple, message: str, hint: str, severity: str, value=None) -> None:
        line = self.source.line(*path) if self.source is not None else None
        if value is None and severity == "error" and self.source is not None and path:
            value = self.source.text(*path)  # as written: 1.0e+400, not inf (a warning is about a key, named in the message)
        self.problems.append(Problem(table="expectations", file=self.file, line=line,
                                     column=".".join(map(str, path)) or None, value=value, message=message, hint=hint,
                                     flag="bad_expectations", severity=severity))

    def error(self, path: tuple, message: str, hint: str, value=None) -> None:
        self.add(path, message, hint, "error", value)

    def warning(self, path: tuple, message: str, hint: str, value=None) -> None:
        self.add(path, message, hint, "warning", value)


def _check_entry(found: _Findings, entry: dict, path: tuple, *, top: bool = False) -> None:
    """One mapping of expectation names to values: default's, a team's or a rep's."""
    for key, value in entry.items():
        at = (*path, key)
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(str(key), KNOWN_KEYS + SECTIONS if top else KNOWN_KEYS, n=1)
            hint = (f"did you mean {close[0]!r}? " if close else "") + f"an expectation is one of: {', '.join(KNOWN_KEYS)}"
            if top:  # a file without sections: a misspelt section name lands here
                hint += f"; a section one of: {', '.join(SECTIONS)}"
            found.warning(at, f"unknown expectation {key!r} is not used", hint)
        elif value is None:
            continue  # written but left empty: not set (a rep's own None keeps no target)
        elif key in ("new_customers", "visits_per_customer"):
            if not isinstance(value, dict):
                found.error(at, f"{key} must be a mapping by market tier, not {_kind(value)}",
                            f"write e.g. {key}: {{primary: 6, secondary: 15}}")
                continue
            for tier, target in value.items():
                if tier not in TIERS:
                    found.warning((*at, tier), f"unknown market tier {tier!r} in {key} is not used", _known("a tier", tier, TIERS))
                else:
                    _check_target(found, (*at, tier), f"{key}.{tier}", target)
        elif key == "prospecting_methods":
            methods = value if isinstance(value, list) else [value]
            for i, method in enumerate(methods):
                if not isinstance(method, str) or not method.strip():
                    found.error((*at, i) if isinstance(value, list) else at,
                                f"prospecting_methods lists acquisition methods by name, not {_kind(method)}",
                                "write e.g. prospecting_methods: [cold_call_phone, referral]")
        elif key == "currency":
            if not isinstance(value, str) or not value.strip():
                found.error(at, f"currency is a code or symbol, not {_kind(value)}", "write e.g. currency: EUR")
        else:
            _check_target(found, at, key, value, share=key in SHARES)


def _check_target(found: _Findings, at: tuple, what: str, value, *, share: bool = False) -> None:
    """A target: a finite number, 0 or more (a share: at most 1)."""
    if value is None:
        return
    number = _as_number(value)
    if number is None:
        kind = "" if isinstance(value, str) else f", not {_kind(value)}"  # text is shown as the value
        found.error(at, f"{what} must be a number{kind}", _number_hint(value, share=share))
    elif math.isnan(number) or math.isinf(number):
        found.error(at, f"{what} must be a finite number", "write the figure in digits, e.g. 1300000 (or 0.6 for a share)")
    elif number < 0:
        found.error(at, f"{what} must not be negative: a target is 0 or more", f"write the target as a positive number, e.g. {_plain_number(-number)}")
    elif share and number > 1:
        found.error(at, f"{what} is a share, between 0 and 1", f"write {_plain_number(number / 100)} for {_plain_number(number)}%")


def _check_name(found: _Findings, section: str, name, names: dict) -> None:
    """A teams:/reps: entry must name a team/rep of the data: a typo would silently leave the default."""
    known = names[section]
    wanted = str(name).strip()
    if (wanted.casefold() if section == "teams" else wanted) in known:
        return
    written = found.source.key_text(section, name) if found.source is not None else None
    what = "team" if section == "teams" else "rep"
    if written is not None and written != str(name) and (written.casefold() if section == "teams" else written) in known:
        hint = f"write {written!r} in quotes: YAML reads {written} as {name!r}"
    else:
        listing = sorted(known.values())
        close = difflib.get_close_matches(wanted, listing, n=1)
        hint = (f"did you mean {close[0]!r}? " if close else "") + f"{what}s in the data: {_listing(listing)}"
    found.warning((section, name), f"the {section}: entry {name!r} names no {what} in the data, so it applies to nobody", hint)


def _names(reps: pd.DataFrame | None) -> dict | None:
    """The teams (case-folded) and rep IDs of the data, each to its spelling."""
    if reps is None:
        return None
    rep_ids = {str(r).strip(): str(r).strip() for r in plain(reps["rep_id"]).dropna()}
    teams = {}
    if "team" in reps:
        for team in plain(reps["team"]).dropna():
            teams.setdefault(str(team).strip().casefold(), str(team).strip())
    return {"teams": teams, "reps": rep_ids}


_NUMBER_TEXT = re.compile(r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SCALED = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmM]|bn|BN|Bn|b|B)")
_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9, "bn": 1e9}


def _as_number(value) -> float | None:
    """A YAML number, or text that is plainly one ("1,300,000", "1e6");
    None for anything else (``1M``, ``60%``, ``yes``, a list)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        if text and any(c.isdigit() for c in text) and _NUMBER_TEXT.fullmatch(text):
            return float(text.replace(",", ""))
    return None


def _number_hint(value, *, share: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    scaled = _SCALED.fullmatch(text)
    if scaled:
        return f"write {_plain_number(float(scaled.group(1)) * _SCALE[scaled.group(2).lower()])} (digits only, no k, M or bn)"
    if text.endswith("%") and _as_number(text[:-1]) is not None:
        return f"write {_plain_number(_as_number(text[:-1]) / 100)} for {text}: a share is written between 0 and 1"
    return "write a plain number such as 0.6" if share else "write a plain number such as 1300000"


def _plain_number(number: float) -> str:
    """1000000 for 1e6, 0.6 for 0.6: a number as a user writes it in the file."""
    return f"{number:.0f}" if number.is_integer() and abs(number) < 1e15 else f"{round(number, 10):g}"


def _kind(value) -> str:
    """What a YAML value is, in a user's words (the value itself is shown beside the message)."""
    import datetime as dt

    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a yes/no value"
    if isinstance(value, numbers.Real):
        return "a number"
    if isinstance(value, (dt.date, dt.datetime)):
        return "a date"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _known(what: str, key, choices) -> str:
    close = difflib.get_close_matches(str(key), [str(c) for c in choices], n=1)
    return (f"did you mean {close[0]!r}? " if close else "") + f"{what} is one of: {', '.join(map(str, choices))}"


def _listing(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "") if names else "none"


# -- rows ---------------------------------------------------------------------

def _rep_rows(ds, rep_id, goals: dict, metrics: pd.Series, measured: dict, period: Period) -> list[dict]:
    rows = []
    visits, travel, prospecting = measured["visits"], measured["travel"], measured["prospecting"]

    def row(expectation, target, actual, unit, note="", *, at_most=False, judged=True):
        target = np.nan if target is None else float(target)
        actual = np.nan if actual is None else float(actual)
        met = np.nan
        if judged and not (np.isnan(target) or np.isnan(actual)):
            met = bool(actual <= target) if at_most else bool(actual >= target)
        rows.append({"rep_id": rep_id, "expectation": expectation, "target": target, "actual": actual,
                     "met": met, "unit": unit, "note": note})

    if "revenue_quota" in goals:
        target = prorate(goals["revenue_quota"], period)
        actual = metrics["revenue_won"]
        note = f"attainment {actual / target:.0%} of the quota pro-rated to {period.label}" if target else ""
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
                row(f"visits_per_customer_{tier}", target, None, "visits per customer",
                    " ".join(ds.missing(t) for t in missing))
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
        row("prospecting_methods", None if share_goal is None else _number(share_goal, "min_prospecting_share"),
            actual, "share", note, judged=share_goal is not None)
    if "max_travel_share" in goals:
        target = _number(goals["max_travel_share"], "max_travel_share")
        if travel is None:
            row("max_travel_share", target, None, "share", ds.missing("activities"), at_most=True)
        else:
            got = travel.loc[rep_id] if rep_id in travel.index else None
            total = 0 if got is None else got["activities"]
            actual = None if not total else got["visits"] / total
            note = f"{0 if got is None else int(got['visits'])} visits of {int(total)} activities"
            row("max_travel_share", target, actual, "share", note, at_most=True)
    if "pipeline_coverage" in goals:
        note = "" if "revenue_quota" in goals else "needs revenue_quota to be measured"
        row("pipeline_coverage", _number(goals["pipeline_coverage"], "pipeline_coverage"), metrics["pipeline_coverage"],
            "x quota", note or f"open pipeline at {period.end.date()} / quota pro-rated to {period.label}")
    if "win_rate" in goals:
        note = f"{int(metrics['won'])} won of {int(metrics['closed'])} closed"
        if metrics["small_sample"]:
            note += " (small sample)"
        row("win_rate", _number(goals["win_rate"], "win_rate"), metrics["win_rate"], "share", note)
    for key in goals:
        if key not in KNOWN_KEYS:
            row(key, None, None, "", f"salesnb does not know how to measure {key!r}; known: {', '.join(KNOWN_KEYS)}",
                judged=False)
    return rows


def _measures(ds, *, period: Period) -> dict:
    """What the scorecard measures for every rep at once: visits, travel, prospecting."""
    return {
        "visits": _visits(ds, period),
        "travel": _travel(ds, period) if ds.activities is not None else None,
        "prospecting": _prospecting(ds, period),
    }


def _visits(ds, period: Period) -> pd.DataFrame | None:
    """Per rep: visits to and customers contacted of each tier in ``period``."""
    acts, customers = ds.activities, ds.customers
    if acts is None or customers is None:
        return None
    inside = acts[period.contains(acts["date"]).to_numpy()][["rep_id", "customer_id", "type"]]
    tiers = pd.Series(customers["market_tier"].to_numpy(), index=customers["customer_id"]).groupby(level=0).first()
    tier = _lookup(inside["customer_id"], tiers).str.lower()
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


def _travel(ds, period: Period) -> pd.DataFrame:
    acts = ds.activities
    inside = acts[period.contains(acts["date"]).to_numpy()]
    is_visit = folded(inside["type"]).isin(VISIT_TYPES).astype("int64")
    return pd.DataFrame({"activities": 1, "visits": is_visit}, index=inside.index).groupby(inside["rep_id"], observed=True).sum()


def _prospecting(ds, period: Period) -> pd.DataFrame:
    """Per rep: counts of new customers (or, without a customers table,
    opportunities created) in ``period`` by lower-cased acquisition method,
    plus ``known`` and ``unknown`` totals. ``attrs["basis"]`` names what was counted."""
    from salesnb.analysis.metrics import customer_book

    if ds.customers is not None:
        book = customer_book(ds.opportunities, ds.customers)
        rows = book[period.contains(book["acquired_date"]).to_numpy()]
        basis = "new customers"
    else:
        opps = ds.opportunities
        rows = opps[period.contains(opps["created_date"]).to_numpy()]
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


def _number(value, what: str) -> float:
    """A target as a float (None: NaN); anything :func:`check` refuses raises InputError."""
    if value is None:
        return np.nan
    number = _as_number(value)
    if number is None:
        text = repr(value)
        raise InputError(f"{what} must be a number such as 1300000 or 0.2, not {text if len(text) <= 60 else text[:57] + '...'}")
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise InputError(f"{what} must be a finite number, 0 or more, not {value!r}")
    return number
