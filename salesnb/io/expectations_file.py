"""Reading and checking ``expectations.yml``: its shape and every target's value.

The file's keys and what each may hold live here, beside :func:`check` (what
is wrong with a file as read: errors for a target that is negative, not a
number, infinite, or of the wrong shape; warnings for an unknown key or a
``teams:``/``reps:`` entry naming nobody in the data, each with its line) and
:func:`normalise` (the file as ``default``/``teams``/``reps`` sections). The
loader stops on errors and lists the warnings with the data's problems.
What the targets mean for a rep (merging, pro-rating, quotas) is
:mod:`salesnb.analysis.expectations`.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re

import pandas as pd

from salesnb.errors import Problem
from salesnb.io.categorical import plain

__all__ = ["KNOWN_KEYS", "NOT_MEASURED", "SECTIONS", "SHARES", "TIERS", "as_number", "check", "normalise"]

SECTIONS = ("default", "teams", "reps")
KNOWN_KEYS = (
    "revenue_quota",
    "new_customers",
    "visits_per_customer",
    "prospecting_methods",
    "max_travel_share",
    "pipeline_coverage",
    "win_rate",
    "min_prospecting_share",
    "currency",
)
TIERS = ("primary", "secondary")
"""The keys of ``new_customers`` and ``visits_per_customer``."""
SHARES = ("max_travel_share", "win_rate", "min_prospecting_share")
"""Targets that are shares, between 0 and 1."""
NOT_MEASURED = ("currency",)
"""Known keys that are settings, not targets: no scorecard row."""


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
        found.error(
            (),
            f"expectations.yml must be a mapping of expectation names to values, not {_kind(raw)}",
            "see the expectations example in the README: default:, teams: and reps: sections",
        )
        return found.problems
    if not set(SECTIONS) & set(raw):
        _check_entry(found, raw, (), top=True)
        return found.problems
    for key in raw:
        if key in SECTIONS:
            continue
        if key in KNOWN_KEYS:
            found.warning(
                (key,),
                f"{key!r} at the top level is not read: the file has default:/teams:/reps: sections",
                f"move {key} under default: (or under a team or rep)",
            )
        else:
            found.warning((key,), f"unknown section {key!r} is not read", _known("a section", key, SECTIONS))
    if isinstance(raw.get("default"), dict):
        _check_entry(found, raw["default"], ("default",))
    elif raw.get("default") is not None:
        found.error(
            ("default",),
            f"default: must be a mapping of expectation names to values, not {_kind(raw['default'])}",
            "write e.g. default: {revenue_quota: 1300000, win_rate: 0.6}",
        )
    names = _names(reps)
    for section in ("teams", "reps"):
        entries = raw.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            found.error(
                (section,),
                f"{section}: must be a mapping of {section[:-1]} names to their expectations, not {_kind(entries)}",
                f"write e.g. {section}: {{{'East' if section == 'teams' else 'R07'}: {{revenue_quota: 900000}}}}",
            )
            continue
        for name, entry in entries.items():
            if isinstance(entry, dict):
                _check_entry(found, entry, (section, name))
            elif entry is not None:
                found.error(
                    (section, name),
                    f"the {section}: entry {name!r} must be a mapping of expectation names to values, not {_kind(entry)}",
                    f"write e.g. {name}: {{revenue_quota: 900000}}",
                )
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
        self.problems.append(
            Problem(
                table="expectations",
                file=self.file,
                line=line,
                column=".".join(map(str, path)) or None,
                value=value,
                message=message,
                hint=hint,
                flag="bad_expectations",
                severity=severity,
            )
        )

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
                found.error(
                    at,
                    f"{key} must be a mapping by market tier, not {_kind(value)}",
                    f"write e.g. {key}: {{primary: 6, secondary: 15}}",
                )
                continue
            for tier, target in value.items():
                if tier not in TIERS:
                    found.warning(
                        (*at, tier), f"unknown market tier {tier!r} in {key} is not used", _known("a tier", tier, TIERS)
                    )
                else:
                    _check_target(found, (*at, tier), f"{key}.{tier}", target)
        elif key == "prospecting_methods":
            methods = value if isinstance(value, list) else [value]
            for i, method in enumerate(methods):
                if not isinstance(method, str) or not method.strip():
                    found.error(
                        (*at, i) if isinstance(value, list) else at,
                        f"prospecting_methods lists acquisition methods by name, not {_kind(method)}",
                        "write e.g. prospecting_methods: [cold_call_phone, referral]",
                    )
        elif key == "currency":
            if not isinstance(value, str) or not value.strip():
                found.error(at, f"currency is a code or symbol, not {_kind(value)}", "write e.g. currency: EUR")
        else:
            _check_target(found, at, key, value, share=key in SHARES)


def _check_target(found: _Findings, at: tuple, what: str, value, *, share: bool = False) -> None:
    """A target: a finite number, 0 or more (a share: at most 1)."""
    if value is None:
        return
    number = as_number(value)
    if number is None:
        kind = "" if isinstance(value, str) else f", not {_kind(value)}"  # text is shown as the value
        found.error(at, f"{what} must be a number{kind}", _number_hint(value, share=share))
    elif math.isnan(number) or math.isinf(number):
        found.error(at, f"{what} must be a finite number", "write the figure in digits, e.g. 1300000 (or 0.6 for a share)")
    elif number < 0:
        found.error(
            at,
            f"{what} must not be negative: a target is 0 or more",
            f"write the target as a positive number, e.g. {_plain_number(-number)}",
        )
    elif share and number > 1:
        found.error(
            at, f"{what} is a share, between 0 and 1", f"write {_plain_number(number / 100)} for {_plain_number(number)}%"
        )


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


def as_number(value) -> float | None:
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
    if text.endswith("%") and as_number(text[:-1]) is not None:
        return f"write {_plain_number(as_number(text[:-1]) / 100)} for {text}: a share is written between 0 and 1"
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
