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
:func:`diagnose` loads the metrics for a period and calls it. The peer rule
(who counts as a peer for each factor) lives here alone: a report asks
:func:`peer_counts`. The facts are decided here; their words are built in
:mod:`salesnb.analysis.wording`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesnb.analysis import wording
from salesnb.analysis.labels import FACTOR_NAMES
from salesnb.analysis.periods import DateLike, PeriodLike
from salesnb.analysis.rates import SMALL_SAMPLE_MIN_CLOSED
from salesnb.errors import InputError
from salesnb.io.dataset import Dataset

__all__ = [
    "FOCUS_VOCABULARY",
    "MIN_PEERS",
    "MIN_TEAM_REPS",
    "SHORTFALL_MIN",
    "active_share",
    "diagnose",
    "diagnose_table",
    "peer_counts",
    "require_rep",
    "set_aside_rep",
    "with_active_share",
]

FOCUS_VOCABULARY = tuple(FACTOR_NAMES)
"""The funnel factors, in funnel order (names: :data:`salesnb.analysis.labels.FACTOR_NAMES`)."""

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
    n_column: str  # the count behind the rep's value
    higher_is_better: bool
    needs_closed: bool  # a rate/size/cycle from closed deals: peers with small samples are left out
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


def diagnose(ds: Dataset, *, period: PeriodLike, rep: str | None = None, as_of: DateLike | None = None) -> list[dict]:
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
    table = with_active_share(table, ds.reps, span)
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
            located = [
                p for p in getattr(ds, "problems", []) or [] if p.table == "reps" and p.file == row.file and p.line == row.line
            ]
            unit = located[0].unit if located else "line"
            where = f"{row.file}, {unit} {row.line}" if pd.notna(row.line) else str(row.file)
            return (
                f"rep {rep!r} is in the data, but its row was set aside: {where}: {row.problems}; "
                f"fix that row (run `salesnb validate` to see every problem) and run again"
            )
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


def with_active_share(rep_metrics: pd.DataFrame, reps: pd.DataFrame, span) -> pd.DataFrame:
    """``rep_metrics`` with the column ``active_share`` (:func:`active_share`
    of each rep in ``span``, 1.0 when unknown), as :func:`diagnose_table`
    needs it to compare prospecting paces."""
    share = active_share(reps, span)
    return rep_metrics.assign(active_share=rep_metrics["rep_id"].map(share).fillna(1.0).to_numpy())


def peer_counts(rep_metrics: pd.DataFrame, rep_id: str, *, peers: str = "team") -> dict[str, int]:
    """How many peers each factor's peer median and band rest on for ``rep_id``.

    The peer rule of :func:`diagnose_table`, in one place: the rep's team
    (when it has at least :data:`MIN_TEAM_REPS` reps with data) or all other
    reps with data; of those, the ones with a value of the compared figure
    (for prospecting the pace, ``opportunities_pace``: pass ``rep_metrics``
    through :func:`with_active_share` first), small samples left out for
    conversion, deal size and velocity.

    Returns
    -------
    dict
        factor (:data:`FOCUS_VOCABULARY`) -> number of peers.
    """
    frame = _prepare(rep_metrics)
    where = np.flatnonzero(frame["rep_id"].astype(str).to_numpy() == str(rep_id))
    if len(where) == 0:
        raise InputError(f"no rep {rep_id!r} in the metrics rows")
    _, peer_mask = _peer_mask(frame, int(where[0]), _has_data(frame), peers)
    mask = peer_mask.to_numpy()
    return {factor.name: int(_usable(frame, factor, mask).sum()) for factor in _FACTORS}


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
    has_data = _has_data(frame)
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
        raise InputError(
            f"diagnose_table needs the metrics columns {sorted(missing)}; pass metrics_table(ds, by='rep', period=...)"
        )
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


def _has_data(frame: pd.DataFrame) -> pd.Series:
    """Reps with any opportunity opened or deal closed in the period: the only ones that count as peers."""
    return (frame["opportunities"].fillna(0) > 0) | (frame["closed"] > 0)


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

    focus = None
    if not rep_has_data:
        reason = "no_data"
    elif small:
        reason = "thin_sample"
    elif peer_count < MIN_PEERS:
        reason = "thin_peers"
    else:
        candidates = [e for e in evidence if e["_meaningful"]]
        reason = None if candidates else "none"
        if candidates:
            focus = max(candidates, key=lambda e: e["score"])["factor"]

    if focus is not None:
        evidence.sort(key=lambda e: e["factor"] != focus)  # stable: focus first, then funnel order
    shown = [e for e in evidence if e["_strength"] and not (small and e["_needs_closed"])]
    for e in evidence:
        for key in ("_meaningful", "_strength", "_needs_closed"):
            e.pop(key)
    name = row.get("name")
    return {
        "rep_id": str(row["rep_id"]),
        "period": period,
        "focus": focus,
        "strengths": [wording.strength(e, group) for e in shown],
        "evidence": evidence,
        "summary": wording.summary(
            name=name, strengths=shown, focus=focus, reason=reason, evidence=evidence, group=group, period=period, closed=closed
        ),
        "questions": wording.questions(focus, reason),
        "peer_group": group,
        "peer_count": peer_count,
        "notes": wording.notes(
            peer_count=peer_count,
            group=group,
            active_share=float(row["active_share"]),
            opened=_num(row["opportunities"]),
            pace=_num(row["opportunities_pace"]),
            reason=reason,
            closed=closed,
        ),
    }


def _usable(frame: pd.DataFrame, factor: _Factor, peer_mask: np.ndarray) -> np.ndarray:
    """The peers a factor's median and band rest on: peers with a value of the
    compared column (the pace, for prospecting), small samples left out
    for the factors measured on closed deals."""
    usable = peer_mask & frame[factor.column].notna().to_numpy()
    if factor.needs_closed:
        usable &= ~frame["small_sample"].to_numpy(dtype=bool)
    return usable


def _evidence(frame, row, factor: _Factor, peer_mask: np.ndarray) -> dict:
    values = frame[factor.column].to_numpy(dtype="float64")
    peer_values = values[_usable(frame, factor, peer_mask)]
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
