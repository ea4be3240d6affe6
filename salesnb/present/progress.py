"""Since last time: how last period's focus factor moved (issue #14 item 8).

Coaching is a loop. :func:`since_last` compares a rep's diagnosis for the
previous period (the same length, :meth:`~salesnb.analysis.periods.Period.previous`)
with this period's and returns the facts and one sentence::

    Last quarter: prospecting, 26 new opportunities; this quarter 34, +31%,
    now at the peer median.

It is pure (two diagnosis dicts in, a dict out); :func:`since_last_for`
computes the previous period's diagnosis for a rep report. The team queue's
"since last period" column reads the same facts.
"""

from __future__ import annotations

from collections.abc import Mapping

from salesnb.analysis.labels import fmt, fmt_unit, is_missing, label

__all__ = [
    "MOVED_MIN_PCT",
    "AT_MEDIAN_PCT",
    "LOWER_IS_BETTER",
    "since_last",
    "since_last_for",
    "previous_diagnoses",
    "period_word",
]

MOVED_MIN_PCT = 5.0
"""A change smaller than this (in percent of last period's figure) is "about the same", not an improvement."""

AT_MEDIAN_PCT = 5.0
"""Within this many percent of the peer median a rep is "at the peer median"."""

LOWER_IS_BETTER = frozenset({"velocity"})
"""Factors whose figure improves by going down (the median sales cycle)."""

_PERIOD_WORDS = {"year": "year", "quarter": "quarter", "month": "month", "range": "period"}


def period_word(kind: str | None) -> str:
    """``quarter`` -> "quarter"; a date range -> "period"."""
    return _PERIOD_WORDS.get(kind or "", "period")


def _evidence(diagnosis: Mapping | None, factor: str) -> Mapping | None:
    for e in (diagnosis or {}).get("evidence") or []:
        if e.get("factor") == factor:
            return e
    return None


def since_last(previous: Mapping | None, current: Mapping | None, *, kind: str | None = "quarter") -> dict | None:
    """How last period's focus factor moved since, or None when there is nothing to say.

    Parameters
    ----------
    previous, current : dict
        A rep's diagnosis (:func:`salesnb.analysis.diagnosis.diagnose`) for
        the previous period and for this one.
    kind : str
        The period's kind (``year``, ``quarter``, ``month``, ``range``): the word the sentence uses.

    Returns
    -------
    dict or None
        ``previous_period``, ``previous_focus``, ``metric``,
        ``previous_value``, ``current_value``, ``change_pct`` (this period
        against last, in percent of last; None when last was 0),
        ``standing`` (``at``, ``ahead``, ``behind`` the peer median now, or
        None), ``gap_pct`` (now, to the peer median), ``improved`` (True:
        moved the good way by at least :data:`MOVED_MIN_PCT`; False: not;
        None: no figure now) and ``text``. None when there was no previous
        diagnosis or it named no focus (nothing to follow up).
    """
    if not previous or not current or not previous.get("focus"):
        return None
    factor = previous["focus"]
    before = _evidence(previous, factor)
    if before is None or is_missing(before.get("rep_value")):
        return None
    now = _evidence(current, factor) or {}
    metric = before.get("metric") or now.get("metric")
    old, new = float(before["rep_value"]), now.get("rep_value")
    new = None if is_missing(new) else float(new)
    lower_better = factor in LOWER_IS_BETTER

    change = None if new is None or old == 0 else round((new - old) / old * 100, 1)
    if new is None:
        improved = None
    elif change is None:  # from 0: any figure above 0 is better for a higher-is-better factor
        improved = (new > 0) if not lower_better else False
    else:
        improved = (-change if lower_better else change) >= MOVED_MIN_PCT

    gap = now.get("gap_pct")
    gap = None if is_missing(gap) or new is None else float(gap)
    if gap is None:
        standing = None
    elif abs(gap) <= AT_MEDIAN_PCT:
        standing = "at"
    elif (gap < 0) == lower_better:
        standing = "ahead"
    else:
        standing = "behind"

    word = period_word(kind)
    text = f"Last {word}: {factor.replace('_', ' ')}, {_figure(metric, old)}"
    if new is None:
        text += f"; this {word} there is no figure to compare (too few deals)."
    else:
        text += f"; this {word} {fmt(metric, new)}"
        if change is not None:
            text += f", {fmt_unit('pct', change)}"
        text += _standing_words(standing, gap, lower_better) + "."
    return {
        "previous_period": previous.get("period"),
        "previous_focus": factor,
        "metric": metric,
        "previous_value": old,
        "current_value": new,
        "change_pct": change,
        "standing": standing,
        "gap_pct": gap,
        "improved": improved,
        "text": text,
    }


def _figure(metric: str, value: float) -> str:
    """ "26 new opportunities", "win rate 20%", "median sales cycle 60 days"."""
    if metric == "opportunities":
        number = fmt(metric, value)
        return f"{number} new opportunit{'y' if number == '1' else 'ies'}"
    return f"{label(metric).lower()} {fmt(metric, value)}"


def _standing_words(standing: str | None, gap: float | None, lower_better: bool) -> str:
    if standing is None:
        return ""
    if standing == "at":
        return ", now at the peer median"
    size = fmt_unit("pct", gap, signed=False)
    if standing == "ahead":
        return f", now {size} {'faster than' if lower_better else 'above'} the peer median"
    return f", still {size} {'slower than' if lower_better else 'below'} the peer median"


def previous_diagnoses(ds, *, period, as_of=None, reps=None) -> list[dict]:
    """Every rep's (or only ``reps``') diagnosis for the period of the same length
    before ``period`` (through the runner's memo); empty when the data holds nothing then."""
    from salesnb.analysis.periods import no_data_in, parse_period
    from salesnb.errors import InputError
    from salesnb.present.tables import batch_table, diagnoses_of, rep_diagnoses

    span = parse_period(period, as_of=as_of)
    try:
        before = span.previous()
        if no_data_in(ds, before):
            return []
        if reps is not None:
            return diagnoses_of(ds, reps, period=before, as_of=as_of)
        return list(batch_table(rep_diagnoses, ds, period=before, as_of=as_of))
    except InputError:  # a period before the dates salesnb handles
        return []


def since_last_for(ds, rep_id: str, *, period, current: Mapping | None, as_of=None) -> dict | None:
    """:func:`since_last` for ``rep_id``: diagnoses the previous period of the
    same length (:func:`previous_diagnoses`) and compares it with
    ``current``. None when the data has nothing in that period."""
    from salesnb.analysis.periods import parse_period

    kind = parse_period(period, as_of=as_of).kind
    previous = [d for d in previous_diagnoses(ds, period=period, as_of=as_of, reps=[rep_id]) if d["rep_id"] == rep_id]
    return since_last(previous[0] if previous else None, current, kind=kind)
