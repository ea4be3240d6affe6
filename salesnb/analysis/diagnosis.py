"""Each rep's coaching focus: the one funnel factor that holds revenue back.

Revenue is opportunities x win rate x average deal size, paced by cycle
length. On a log scale those factors add up, so a rep's revenue gap to the
peers splits into one term per factor::

    log(revenue / peer revenue) ~ log(opps ratio) + log(win-rate ratio)
                                  + log(deal-size ratio) - log(cycle ratio)

and the largest negative term is the factor to coach. Each factor is
compared with the peer median (peers: the rep's team when it has at least
:data:`MIN_TEAM_REPS` reps with data, else all reps; never the rep itself).
A factor counts as a real shortfall only when it is both at least 20 % off
the peer median (a log ratio of at least :data:`SHORTFALL_MIN`) and outside
the peers' middle half (below their 25th percentile, or for cycle length
above their 75th), so a team's natural spread is not mistaken for a
problem. Contacts are deliberately not a factor: activity is not
performance.

A rep hired during the period had less time to open opportunities, so the
prospecting factor compares paces, not counts: each rep's opportunities are
divided by the share of the period the rep was employed (``active_share``,
from ``reps.hire_date``), for the rep and the peers alike. Rates, deal size
and cycle length need no such correction.

:func:`diagnose_table` is the pure core (metrics rows in, dicts out);
:func:`diagnose` loads the metrics for a period and calls it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesnb.errors import InputError
from salesnb.analysis.rates import SMALL_SAMPLE_MIN_CLOSED

__all__ = [
    "FOCUS_VOCABULARY", "MIN_PEERS", "MIN_TEAM_REPS", "SHORTFALL_MIN", "active_share", "diagnose", "diagnose_table",
    "require_rep", "set_aside_rep",
]

FOCUS_VOCABULARY = ("prospecting", "conversion", "deal_size", "velocity")

MIN_TEAM_REPS = 5
"""A team with fewer reps with data (the rep included) is benchmarked against all reps."""

MIN_PEERS = 3
"""Fewer peers than this and no focus is named: a median of two says little."""

SHORTFALL_MIN = math.log(1.25)
"""Smallest log-ratio shortfall that counts: 20 % below the peer median
(ratio 0.8) for opportunities, win rate and deal size; 25 % longer (ratio
1.25) for cycle length. The same distance on the log scale either way."""

_RATIO_CLIP = (0.05, 20.0)  # keeps log ratios finite when a rep has 0 of something


@dataclass(frozen=True)
class _Factor:
    name: str
    metric: str
    n_column: str          # the count behind the rep's value
    higher_is_better: bool
    needs_closed: bool     # a rate/size/cycle from closed deals: peers with small samples are left out
    compared: str | None = None  # the column compared, when not ``metric`` itself (a pro-rated pace)

    @property
    def column(self) -> str:
        return self.compared or self.metric


_FACTORS = (
    _Factor("prospecting", "opportunities", "opportunities", True, False, "opportunities_pace"),
    _Factor("conversion", "win_rate", "closed", True, True),
    _Factor("deal_size", "avg_deal_size", "won", True, True),
    _Factor("velocity", "cycle_days_median", "won", False, True),  # cycle length is measured on won deals
)

_ADVICE = {
    "prospecting": (
        "The biggest gap is the number of deals you start, not how you work them. "
        "The lever is new pipeline: more first conversations with new prospects, which does mean "
        "making more calls and visits to the right accounts, and turning them into real opportunities."
    ),
    "conversion": (
        "The opportunities are there; too few of them end in a win. The lever is qualification and "
        "closing, not more activity: qualify need, budget, decision maker and timeline early, drop "
        "deals that do not fit, and agree a clear next step and decision date at every meeting."
    ),
    "deal_size": (
        "The biggest gap is the size of the deals you win. The lever is the size of each deal: "
        "understand the customer's full need, propose the wider solution, and hold price instead of "
        "discounting to close."
    ),
    "velocity": (
        "Your deals take much longer to close than your peers', so revenue arrives late and deals "
        "go cold. The lever is pace: a mutual close plan with dates, the decision maker involved "
        "early, and a hard look at deals that have stalled."
    ),
}

_QUESTIONS = {
    "prospecting": [
        "Where will your next ten new opportunities come from: which accounts, lists or referrals?",
        "How much of your week is set aside for reaching new prospects, and what usually eats into it?",
        "Think of a recent first conversation that became a real opportunity: what made it work, and how can you repeat it?",
    ],
    "conversion": [
        "Take your last two lost deals: when did you first sense they would not close, and what did you know then about need, budget and who decides?",
        "Which of your open deals would you drop today if you qualified them strictly?",
        "How do you agree the next step and the decision date with a buyer before a meeting ends?",
    ],
    "deal_size": [
        "In your last few wins, what else did the customer need that was not in the proposal?",
        "When did you last give a discount, and what would it have taken to hold the price?",
        "Which larger accounts in your territory could you open, and what would the first step be?",
    ],
    "velocity": [
        "Which of your deals are stuck, and what is the next step and date for each?",
        "At what point do you bring in the person who signs, and could it be earlier?",
        "What does a buyer need to see from you to decide sooner?",
    ],
    "none": [
        "What do you do that you think makes the difference, and could you show it to a colleague?",
        "What stretch goal would you set yourself for the next period?",
    ],
    "thin": [
        "Which deals do you expect to close next, and when?",
        "What would help you get more deals to a decision, won or lost, this period?",
    ],
}


def diagnose(ds, *, period, rep: str | None = None, as_of=None) -> list[dict]:
    """Diagnose every rep (or one) in ``period``.

    Parameters
    ----------
    ds : Dataset
        The loaded data source.
    period : str or Period
        Any period :func:`salesnb.analysis.periods.parse_period` accepts.
    rep : str, optional
        Only this rep's diagnosis (peers are still every rep). An unknown
        rep raises :class:`~salesnb.errors.InputError`.
    as_of : date-like, optional
        Resolves relative periods (``last-quarter``...).

    Returns
    -------
    list of dict
        One :func:`diagnose_table` dict per rep.
    """
    from salesnb.analysis.metrics import metrics_table
    from salesnb.analysis.periods import parse_period

    if rep is not None:
        require_rep(ds, rep)
    span = parse_period(period, as_of=as_of)
    table = metrics_table(ds, by="rep", period=span, as_of=as_of)
    share = active_share(ds.reps, span)
    table = table.assign(active_share=table["rep_id"].map(share).fillna(1.0).to_numpy())
    results = diagnose_table(table, period=span.label)
    if rep is not None:
        results = [r for r in results if r["rep_id"] == rep]
    return results


def require_rep(ds, rep: str) -> None:
    """Raise :class:`InputError` naming ``rep`` and a few known reps when
    ``rep`` is not in the reps table."""
    known = [str(r) for r in ds.reps["rep_id"].dropna()]
    if rep in known:
        return
    aside = set_aside_rep(ds, rep)
    if aside is not None:
        raise InputError(aside)
    close = [r for r in known if r.casefold() == str(rep).casefold()]
    shown = close or known[:8]
    more = "" if close or len(known) <= 8 else f" (and {len(known) - 8} more)"
    hint = "did you mean" if close else "known reps"
    raise InputError(f"no rep {rep!r} in the reps table; {hint}: {', '.join(shown)}{more}")


def set_aside_rep(ds, rep: str) -> str | None:
    """The message for a rep asked for by id whose own row the loader set
    aside (where, why, what to do), or None when no quarantined reps row
    holds that rep_id. Saying "no such rep" would be wrong: it is in the data."""
    import json

    quarantine = getattr(ds, "quarantine", None)
    if quarantine is None or quarantine.empty:
        return None
    for row in quarantine[quarantine["table"] == "reps"].itertuples(index=False):
        try:
            record = json.loads(row.record)
        except (TypeError, ValueError):
            continue
        if str(record.get("rep_id") or "").strip() == rep:
            located = [p for p in getattr(ds, "problems", []) or []
                       if p.table == "reps" and p.file == row.file and p.line == row.line]
            unit = located[0].unit if located else "line"
            where = f"{row.file}, {unit} {row.line}" if pd.notna(row.line) else str(row.file)
            return (f"rep {rep!r} is in the data, but its row was set aside: {where}: {row.problems}; "
                    f"fix that row (run `salesnb validate` to see every problem) and run again")
    return None


def active_share(reps: pd.DataFrame, span) -> pd.Series:
    """Share of ``span`` (a :class:`~salesnb.analysis.periods.Period`) each rep was
    employed, by ``rep_id``: 1.0 when hired before it starts or the hire
    date is unknown, 0.0 when hired after it ends. Days count inclusively,
    so a rep hired on 2025-07-01 has 184/365 of 2025."""
    if reps is None or "hire_date" not in reps.columns:
        return pd.Series(dtype="float64")
    frame = reps.drop_duplicates("rep_id")
    hired = pd.to_datetime(frame["hire_date"], errors="coerce")
    days = (span.end - span.start).days + 1
    worked = (span.end - hired.clip(lower=span.start)).dt.days + 1
    share = (worked / days).clip(lower=0.0, upper=1.0).where(hired.notna(), 1.0)
    return pd.Series(share.to_numpy(dtype="float64"), index=frame["rep_id"].astype(str).to_numpy())


def diagnose_table(rep_metrics: pd.DataFrame, *, peers: str = "team", period: str | None = None) -> list[dict]:
    """Name each rep's coaching focus from metrics_table-shaped rows.

    Parameters
    ----------
    rep_metrics : DataFrame
        One row per rep with ``rep_id``, ``team`` and the metrics
        ``opportunities``, ``won``, ``lost``, ``win_rate``,
        ``avg_deal_size``, ``cycle_days_median`` (``closed`` and
        ``small_sample`` are derived when absent).
    peers : {"team", "all"}
        Benchmark against the rep's team (when it has at least
        :data:`MIN_TEAM_REPS` reps with data) or always against all reps.
    period : str, optional
        Label stored in each result (default: the frame's ``period`` column).

    Returns
    -------
    list of dict
        Per rep, in input order: ``rep_id``, ``period``, ``focus`` (one of
        :data:`FOCUS_VOCABULARY` or None), ``strengths`` (sentences),
        ``evidence`` (one dict per factor, focus first: ``factor``,
        ``metric``, ``rep_value``, ``peer_median``, ``peer_band`` [25th,
        75th percentile], ``gap_pct``, ``score`` (log-ratio shortfall,
        positive = worse), ``n``, ``small_sample``), ``summary`` (read
        aloud, strengths first), ``questions``, ``peer_group``,
        ``peer_count``, ``notes``. The prospecting evidence of a rep
        with ``active_share`` below 1 also holds ``raw_value`` (the count)
        and ``active_share``; its ``rep_value`` is the full-period pace
        compared with the peers' paces. NaN values are None, so the dicts are
        JSON-ready. No other rep is named and no other rep's figures
        appear, only peer medians and bands.
    """
    if peers not in ("team", "all"):
        raise InputError(f"peers must be 'team' or 'all', not {peers!r}")
    frame = _prepare(rep_metrics)
    has_data = (frame["opportunities"].fillna(0) > 0) | (frame["closed"] > 0)
    results = []
    for pos in range(len(frame)):
        row = frame.iloc[pos]
        label = period if period is not None else _label(row.get("period"))
        group, peer_mask = _peer_mask(frame, pos, has_data, peers)
        results.append(_diagnose_row(frame, row, peer_mask.to_numpy(), group, label, bool(has_data.iloc[pos])))
    return results


# -- internals ---------------------------------------------------------------

def _prepare(rep_metrics: pd.DataFrame) -> pd.DataFrame:
    needed = {"rep_id", "opportunities", "win_rate", "avg_deal_size", "cycle_days_median"}
    missing = needed - set(rep_metrics.columns)
    if missing:
        raise InputError(f"diagnose_table needs the metrics columns {sorted(missing)}; pass metrics_table(ds, by='rep', period=...)")
    frame = rep_metrics.reset_index(drop=True).copy()
    for col in ("opportunities", "won", "lost", "win_rate", "avg_deal_size", "cycle_days_median"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    if "closed" not in frame:
        frame["closed"] = frame.get("won", 0) + frame.get("lost", 0)
    frame["closed"] = pd.to_numeric(frame["closed"], errors="coerce").fillna(0)
    if "won" not in frame:
        frame["won"] = np.nan
    if "small_sample" not in frame:
        frame["small_sample"] = frame["closed"] < SMALL_SAMPLE_MIN_CLOSED
    frame["small_sample"] = frame["small_sample"].fillna(True).astype(bool)
    share = pd.to_numeric(frame.get("active_share", 1.0), errors="coerce")
    frame["active_share"] = pd.Series(share, index=frame.index).fillna(1.0).clip(lower=0.0, upper=1.0)
    # the prospecting pace: opportunities over a full period (None for a rep with no time in it)
    frame["opportunities_pace"] = frame["opportunities"] / frame["active_share"].where(frame["active_share"] > 0)
    if "team" not in frame:
        frame["team"] = np.nan
    return frame


def _label(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _peer_mask(frame: pd.DataFrame, pos: int, has_data: pd.Series, peers: str) -> tuple[str, pd.Series]:
    """The rep's benchmark: team-mates with data when the team has at least
    MIN_TEAM_REPS reps with data counting the rep, else all other reps with data."""
    others = has_data.copy()
    others.iloc[pos] = False
    team = frame["team"].iloc[pos]
    if peers == "team" and isinstance(team, str) and team:
        team_peers = frame["team"].astype("object").eq(team) & others
        if int(team_peers.sum()) + 1 >= MIN_TEAM_REPS:
            return "team", team_peers
    return "all", others


def _diagnose_row(frame, row, peer_mask: np.ndarray, group: str, period, rep_has_data: bool) -> dict:
    small = bool(row["small_sample"])
    closed = int(row["closed"])
    evidence = [_evidence(frame, row, factor, peer_mask) for factor in _FACTORS]
    peer_count = int(peer_mask.sum())
    where = "the rep's team" if group == "team" else "all reps"
    notes = [f"Benchmark: the median of {peer_count} other reps with data ({where})."]
    share = float(row["active_share"])
    if 0 < share < 1:
        notes.append(f"Employed for {share:.0%} of the period: opportunities are compared as a full-period pace "
                     f"({_num(row['opportunities']) or 0:,.0f} opened, {_num(row['opportunities_pace']) or 0:,.0f} at that pace).")

    focus = None
    if not rep_has_data:
        reason = "no_data"
        notes.append("No opportunities created or deals closed in this period: nothing to diagnose yet.")
    elif small:
        reason = "thin_sample"
        notes.append(f"Only {closed} closed deal{'' if closed == 1 else 's'} in this period: too few for win rate, deal size and cycle "
                     "length to say which factor holds revenue back. Try a longer period.")
    elif peer_count < MIN_PEERS:
        reason = "thin_peers"
        notes.append(f"Only {peer_count} other reps with data to compare with: too few for a fair benchmark.")
    else:
        candidates = [e for e in evidence if e["_meaningful"]]
        reason = None if candidates else "none"
        if candidates:
            focus = max(candidates, key=lambda e: e["score"])["factor"]

    if focus is not None:
        evidence.sort(key=lambda e: e["factor"] != focus)  # stable: focus first, then funnel order
    shown = [e for e in evidence if e["_strength"] and not (small and e["_needs_closed"])]
    strengths = [_strength_text(e, group) for e in shown]
    summary = _summary(row, evidence, focus, reason, group, period, shown, closed)
    for e in evidence:
        for key in ("_meaningful", "_strength", "_needs_closed"):
            e.pop(key)
    return {
        "rep_id": str(row["rep_id"]),
        "period": period,
        "focus": focus,
        "strengths": strengths,
        "evidence": evidence,
        "summary": summary,
        "questions": list(_QUESTIONS[focus or ("none" if reason == "none" else "thin")]),
        "peer_group": group,
        "peer_count": peer_count,
        "notes": notes,
    }


def _evidence(frame, row, factor: _Factor, peer_mask: np.ndarray) -> dict:
    values = frame[factor.column].to_numpy(dtype="float64")
    usable = peer_mask & ~np.isnan(values)
    if factor.needs_closed:
        usable &= ~frame["small_sample"].to_numpy(dtype=bool)
    peer_values = values[usable]
    rep_value = _num(row[factor.column])
    n = _num(row.get(factor.n_column))
    if len(peer_values) >= MIN_PEERS:  # with one or two peers a "median" would show their own figures
        median = float(np.median(peer_values))
        low, high = (float(q) for q in np.percentile(peer_values, [25, 75]))
    else:
        median = low = high = None
    gap = score = None
    if rep_value is not None and median is not None and median > 0:
        ratio = rep_value / median
        gap = round((ratio - 1) * 100, 1)
        log_ratio = math.log(min(max(ratio, _RATIO_CLIP[0]), _RATIO_CLIP[1]))
        score = round(-log_ratio if factor.higher_is_better else log_ratio, 4) + 0.0  # no -0.0
    outside_band = False
    if score is not None:
        outside_band = rep_value < low if factor.higher_is_better else rep_value > high
    rep_small = bool(row["small_sample"]) if factor.needs_closed else False
    prorated = {}
    if factor.compared and float(row["active_share"]) < 1.0:
        prorated = {"raw_value": _num(row[factor.metric]), "active_share": round(float(row["active_share"]), 4)}
    return {
        "factor": factor.name,
        "metric": factor.metric,
        "rep_value": rep_value,
        "peer_median": median,
        "peer_band": None if low is None else [low, high],
        "gap_pct": gap,
        "score": score,
        "n": None if n is None else int(n),
        "small_sample": rep_small,
        **prorated,
        "_meaningful": score is not None and score >= SHORTFALL_MIN - 1e-12 and outside_band,
        "_strength": score is not None and score <= 0,
        "_needs_closed": factor.needs_closed,
    }


def _num(value) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _fmt(metric: str, value: float) -> str:
    if metric == "win_rate":
        return f"{value:.0%}"
    if metric == "cycle_days_median":
        return f"{value:,.0f} days"
    return f"{value:,.0f}"


def _peer_phrase(group: str) -> str:
    return "the team median" if group == "team" else "the median across all reps"


def _strength_text(e: dict, group: str, *, you: bool = False) -> str:
    """One strength in words: "Wins 62% of closed deals, above the team median
    of 55%" (``you=True``: "you win 62% of your closed deals, ...")."""
    rep, med, peer = e["rep_value"], e["peer_median"], _peer_phrase(group)
    level = "in line with" if e["score"] == 0 else ("faster than" if e["factor"] == "velocity" else "above")
    if e["factor"] == "prospecting":
        what = f"{'you opened' if you else 'Opened'} {rep:,.0f} new opportunities"
        if "raw_value" in e:
            what = (f"{'you opened' if you else 'Opened'} {e['raw_value']:,.0f} new opportunities in "
                    f"{e['active_share']:.0%} of the period, a full-period pace of {rep:,.0f}")
        bench = f"{med:,.0f}"
    elif e["factor"] == "conversion":
        what = f"{'you win' if you else 'Wins'} {rep:.0%} of {'your ' if you else ''}closed deals"
        bench = f"{med:.0%}"
    elif e["factor"] == "deal_size":
        what = f"{'your average won deal is' if you else 'Average won deal of'} {rep:,.0f}"
        bench = f"{med:,.0f}"
    else:
        what = f"{'you close' if you else 'Closes'} deals in a median {rep:,.0f} days"
        bench = f"{med:,.0f} days"
    return f"{what}, {level} {peer} of {bench}"


def _focus_text(e: dict, group: str, period) -> str:
    rep, med, peer = e["rep_value"], e["peer_median"], _peer_phrase(group)
    gap = abs(e["gap_pct"])
    when = f" in {period}" if period else ""
    if e["factor"] == "prospecting":
        if "raw_value" in e:
            return (f"You opened {e['raw_value']:,.0f} new opportunities{when} in {e['active_share']:.0%} of it, a pace of "
                    f"{rep:,.0f} for the whole period, {gap:.0f}% fewer than {peer} of {med:,.0f}.")
        return f"You opened {rep:,.0f} new opportunities{when}, {gap:.0f}% fewer than {peer} of {med:,.0f}."
    if e["factor"] == "conversion":
        return f"You won {rep:.0%} of your closed deals{when}, against {peer} of {med:.0%}."
    if e["factor"] == "deal_size":
        return f"Your average won deal{when} was {rep:,.0f}, {gap:.0f}% below {peer} of {med:,.0f}."
    return f"Your deals took a median {rep:,.0f} days to close{when}, {gap:.0f}% longer than {peer} of {med:,.0f} days."


_NO_FOCUS_TEXT = {
    "none": ("No part of your funnel falls meaningfully short of your peers: opportunities, win rate, deal size "
             "and cycle length are all within the usual range. Keep doing what works; the next step is a "
             "stretch goal you choose."),
    "no_data": ("There is no new opportunity or closed deal in this period yet, so there is nothing to judge; "
                "we will look again when there is."),
    "thin_sample": ("With {closed} closed deals in this period the numbers are too few to say fairly which part of "
                    "your funnel to work on; we will look again over a longer period."),
    "thin_peers": ("There are too few other reps with data in this period to compare with fairly, so no single "
                   "focus is named this time."),
}


def _summary(row, evidence, focus, reason, group, period, shown_strengths, closed) -> str:
    name = row.get("name")
    opener = f"{name}, " if isinstance(name, str) and name else ""
    parts = []
    if shown_strengths:
        said = "; ".join(_strength_text(e, group, you=True) for e in shown_strengths)
        parts.append(f"{opener}first what is working: {said}.")
    elif opener:
        parts.append(f"{opener}here is how your period looks.")
    if focus is not None:
        e = next(e for e in evidence if e["factor"] == focus)
        parts.append(_focus_text(e, group, period))
        parts.append(_ADVICE[focus])
    else:
        parts.append(_NO_FOCUS_TEXT[reason].format(closed=closed))
    text = " ".join(parts)
    return text[0].upper() + text[1:]
