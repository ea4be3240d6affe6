"""Each rep's coaching focus: the one funnel factor that holds revenue back.

Revenue is opportunities x win rate x average deal size, paced by cycle
length. On a log scale those factors add up, so a rep's revenue gap to the
peers splits into one term per factor::

    log(revenue / peer revenue) ~ log(opps ratio) + log(win-rate ratio)
                                  + log(deal-size ratio) - log(cycle ratio)

and the largest shortfall is the factor to coach. The rules, each in one
place here (docs/analyses.md says them in words):

* **Each factor on its own sample.** Prospecting is judged on the pace of
  new opportunities (no closed deal needed); conversion on at least
  :data:`MIN_SAMPLE` ``closed`` deals, deal size and velocity on enough
  ``won`` deals. A peer counts for a factor only with that same sample. A
  factor that cannot be judged goes to ``not_judged`` with the reason, and
  no sentence says anything about it.
* **Two benchmarks.** Every factor is compared with all other reps and
  with the rep's team: the team's own median where the report shows it (a
  team of :data:`MIN_TEAM_REPS` reps with data), else the team median
  shrunk toward all reps' by team size (``n / (n + SHRINK_REPS)`` of the
  team's, the rest all reps'), so a team of three is not judged on one
  colleague's figure. A shortfall counts
  against a benchmark when it is at least 20 % off its median
  (:data:`SHORTFALL_MIN`) and, where that benchmark has
  :data:`BAND_MIN_PEERS` peers, outside their middle half.
* **Clear or tentative.** The focus is the largest shortfall; it is
  ``clear`` when it holds against both benchmarks on :data:`CLEAR_SAMPLE`
  deals, else ``tentative``.
* **Team findings.** A gap the whole team shares (the team's median itself
  20 % off the other teams' reps') is the manager's finding
  (``team_finding``), not the rep's focus, unless the rep is also 20 %
  behind the team's own median.
* **Strengths** are named only where the rep is clearly ahead
  (:data:`STRENGTH_MIN`, 10 %), never at the median.
* **Cause.** A prospecting focus says why: ``activity`` (new-prospect
  contacts below the peers') or ``qualification`` (at or above the peers',
  too few become opportunities); None without an activities table.
  Contacts are never a factor of their own: activity is not performance.
* **Stake**: the revenue closing the focus gap to the peer median would
  have brought in the period (:func:`stake`).

A rep hired during the period compares paces, not counts: opportunities
and new-prospect contacts are divided by the share of the period the rep
was employed (``active_share``, from ``reps.hire_date``).

:func:`diagnose_table` is the pure core (metrics rows in, dicts out);
:func:`diagnose` loads the metrics for a period, calls it and adds the
rep's own deals behind each focus (:mod:`salesnb.analysis.actions`) and
the data flags that bear on the advice. The words are built from these
facts in :mod:`salesnb.analysis.wording` (:func:`~salesnb.analysis.wording.apply`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesnb.analysis import wording
from salesnb.analysis.labels import FACTOR_NAMES
from salesnb.analysis.peer_pools import MIN_PEERS, SHORTFALL_MIN, PeerPool, shortfall_score
from salesnb.analysis.periods import DateLike, PeriodLike
from salesnb.analysis.rates import CLEAR_SAMPLE, MIN_SAMPLE
from salesnb.analysis.reps import active_share, require_rep, set_aside_rep, with_active_share
from salesnb.errors import InputError
from salesnb.io.dataset import Dataset

__all__ = [
    "ADVICE_FLAGS",
    "BAND_MIN_PEERS",
    "CLEAR_SAMPLE",
    "FOCUS_VOCABULARY",
    "MIN_PEERS",
    "MIN_SAMPLE",
    "MIN_TEAM_REPS",
    "SHORTFALL_MIN",
    "SHRINK_REPS",
    "STRENGTH_MIN",
    "active_share",
    "diagnose",
    "diagnose_table",
    "peer_counts",
    "peer_figures",
    "peer_values",
    "require_rep",
    "set_aside_rep",
    "stake",
    "with_active_share",
]

FOCUS_VOCABULARY = tuple(FACTOR_NAMES)
"""The funnel factors, in funnel order (names: :data:`salesnb.analysis.labels.FACTOR_NAMES`)."""

MIN_TEAM_REPS = 5
"""A team with fewer reps with data (the rep included) is shown against all reps."""

BAND_MIN_PEERS = 5
"""Fewest peers for a middle half (25th to 75th percentile): with fewer, the
band test is left out and no band is shown."""

SHRINK_REPS = 5
"""Weight of all reps' median in the team benchmark, in reps: a team of
``n`` peers counts ``n / (n + 5)``."""

STRENGTH_MIN = math.log(1.1)
"""A strength is named only 10 % or more ahead of the peer median (a log ratio of ln 1.1)."""

ADVICE_FLAGS = ("padded_activity", "stale_pipeline")
"""Data-quality flags of the rep's own data that a diagnosis carries in ``flags``."""


@dataclass(frozen=True)
class _Factor:
    name: str
    metric: str
    n_column: str  # the count behind the rep's value
    higher_is_better: bool
    compared: str | None = None  # the column compared, when not ``metric`` itself (a pro-rated pace)

    @property
    def column(self) -> str:
        return self.compared or self.metric

    @property
    def min_n(self) -> int:
        return MIN_SAMPLE.get(self.name, 0)


_FACTORS = (
    _Factor("prospecting", "opportunities", "opportunities", True, "opportunities_pace"),
    _Factor("conversion", "win_rate", "closed", True),
    _Factor("deal_size", "avg_deal_size", "won", True),
    _Factor("velocity", "cycle_days_median", "won", False),  # cycle length is measured on won deals
)


def diagnose(
    ds: Dataset,
    *,
    period: PeriodLike,
    rep: str | None = None,
    as_of: DateLike | None = None,
    metrics: pd.DataFrame | None = None,
    reps: Iterable[str] | None = None,
) -> list[dict]:
    """Diagnose every rep (or one) in ``period``, with the deals behind each focus.

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
    metrics : DataFrame, optional
        ``metrics_table(ds, by="rep", period=period, as_of=as_of)`` when the
        caller has made it already (a page that shows it too); not changed.
    reps : iterable of str, optional
        Only these reps' diagnoses (with ``rep``, both): a one-rep batch on a
        10,000-rep source diagnoses one rep, not 10,000. Each is the very
        diagnosis the rep gets among all (peers are still every rep).

    Returns
    -------
    list of dict
        One :func:`diagnose_table` dict per rep, with ``actions`` (the
        rep's own deals behind the focus, :func:`salesnb.analysis.actions.actions`)
        and ``flags`` (the rep's :data:`ADVICE_FLAGS`).
    """
    from salesnb.analysis.actions import add_actions
    from salesnb.analysis.metrics import metrics_table
    from salesnb.analysis.periods import parse_period
    from salesnb.analysis.quality import advice_records

    if rep is not None:
        require_rep(ds, rep)
    span = parse_period(period, as_of=as_of)
    table = metrics_table(ds, by="rep", period=span, as_of=as_of) if metrics is None else metrics
    table = with_active_share(table, ds.reps, span)
    flagged: dict[str, list[str]] = {}
    wanted = None
    if rep is not None or reps is not None:
        wanted = ({str(rep)} if rep is not None else set()) | {str(r) for r in (reps or ())}
    # the data checks read the same (once per snapshot; a --rep batch's, only its reps')
    records = advice_records(ds, period=span, reference=span.end, reps=wanted)
    for record in records:
        flagged.setdefault(record["rep_id"], []).append(record["flag"])
    results = diagnose_table(table, period=span.label, flags=flagged, only=wanted)
    add_actions(ds, results, span)
    if ds.opportunity_history is not None:  # the stage where deals stall (velocity) or die (conversion)
        from salesnb.analysis.history import add_stage_findings

        add_stage_findings(ds, results, span, table)
    for result in results:
        wording.apply(result)
    return results


def peer_counts(rep_metrics: pd.DataFrame, rep_id: str, *, peers: str = "team") -> dict[str, int]:
    """How many peers each factor's shown median and band rest on for ``rep_id``
    (the ``peers`` of each evidence dict of :func:`diagnose_table`).

    Returns
    -------
    dict
        factor (:data:`FOCUS_VOCABULARY`) -> number of peers.
    """
    frame = _prepare(rep_metrics)
    where = np.flatnonzero(frame["rep_id"].astype(str).to_numpy() == str(rep_id))
    if len(where) == 0:
        raise InputError(f"no rep {rep_id!r} in the metrics rows")
    (result,) = diagnose_table(rep_metrics, peers=peers, only={str(rep_id)})
    return {e["factor"]: int(e["peers"]) for e in result["evidence"]}


def peer_figures(rep_metrics: pd.DataFrame) -> dict:
    """Every rep's figures the factors' peers are taken from, once for all reps:
    ``ids`` (rep_id as str, in the rows' order), ``teams`` (a team code per rep,
    -1: none) and ``pools``: factor -> (its compared figure per rep, whether the
    rep counts as a peer for it: data, a figure and enough deals). A batch makes
    it once and each rep's :func:`peer_values` picks its peers off it."""
    frame = _prepare(rep_metrics)
    has_data = _has_data(frame).to_numpy()
    teams = _team_codes(frame)
    pools = {}
    for factor in _FACTORS:
        pool = _pool(frame, factor, has_data, teams)
        pools[factor.name] = (pool.values, pool.usable)
    return {"ids": frame["rep_id"].astype(str).to_numpy(), "teams": teams, "pools": pools}


def peer_values(
    rep_metrics: pd.DataFrame,
    rep_id: str,
    *,
    peers: str = "team",
    benchmarks: dict[str, str] | None = None,
    figures: dict | None = None,
) -> dict[str, np.ndarray]:
    """The peer figures each factor's shown median and band are taken over for
    ``rep_id`` (the evidence's ``benchmark`` peers with enough deals, the rep
    left out), by factor: what a page needs to show them safely
    (:mod:`salesnb.analysis.privacy`). ``benchmarks``: factor -> ``benchmark``
    of the rep's diagnosis on these rows, when the caller has it (else the
    rep is diagnosed again here to find them). ``figures``: :func:`peer_figures`
    of ``rep_metrics`` when the caller has it (a batch's, made once)."""
    figures = peer_figures(rep_metrics) if figures is None else figures
    ids, teams = figures["ids"], figures["teams"]
    where = np.flatnonzero(ids == str(rep_id))
    if len(where) == 0:
        raise InputError(f"no rep {rep_id!r} in the metrics rows")
    pos = int(where[0])
    if benchmarks is None or any(factor.name not in benchmarks for factor in _FACTORS):
        (result,) = diagnose_table(rep_metrics, peers=peers, only={str(rep_id)})
        benchmarks = {e["factor"]: e["benchmark"] for e in result["evidence"]}
    out = {}
    for factor in _FACTORS:
        values, usable = figures["pools"][factor.name]
        shown = benchmarks[factor.name]
        mask = usable.copy()
        mask[pos] = False
        if shown == "team":
            mask &= teams == teams[pos]
        out[factor.name] = np.sort(values[mask])
    return out


def diagnose_table(
    rep_metrics: pd.DataFrame,
    *,
    peers: str = "team",
    period: str | None = None,
    flags: dict[str, list[str]] | None = None,
    only: set[str] | None = None,
) -> list[dict]:
    """Name each rep's coaching focus from metrics_table-shaped rows.

    Parameters
    ----------
    rep_metrics : DataFrame
        One row per rep with ``rep_id``, ``team`` and the metrics
        ``opportunities``, ``won``, ``lost``, ``win_rate``,
        ``avg_deal_size``, ``cycle_days_median``; optionally
        ``new_prospect_contacts`` (the prospecting cause), ``revenue_won``,
        ``pipeline_open_amount`` (the stake), ``active_share``.
    peers : {"team", "all"}
        Which benchmark the evidence shows: the rep's team (when it has
        at least :data:`MIN_TEAM_REPS` reps with data) or all reps. Both
        benchmarks are judged either way.
    period : str, optional
        Label stored in each result (default: the frame's ``period`` column).
    flags : dict, optional
        rep_id -> data-quality flag names of the rep's own data (kept when in
        :data:`ADVICE_FLAGS`).
    only : set of str, optional
        Diagnose only these reps (every rep is still a peer).

    Returns
    -------
    list of dict
        Per rep, in input order: ``rep_id``, ``period``, ``focus`` (one of
        :data:`FOCUS_VOCABULARY` or None), ``focus_strength`` (``clear``,
        ``tentative`` or None), ``cause``, ``strengths``, ``evidence`` (one
        dict per factor, focus first: ``factor``, ``metric``,
        ``rep_value``, ``peer_median``, ``peer_band`` [25th, 75th
        percentile, from :data:`BAND_MIN_PEERS` peers], ``gap_pct``,
        ``score`` (log-ratio shortfall, positive = worse), ``n``,
        ``small_sample``, ``judged``, ``benchmark`` (``team``/``all``: whose
        median is shown), ``peers``, ``against`` ({"team", "all"}: the
        shortfall holds against that benchmark), ``team_median`` (shrunk)
        and ``all_median``), ``not_judged`` ([{"factor", "reason",
        "code"}]), ``stake``, ``actions`` (empty here: :func:`diagnose` fills
        it), ``team_finding``, ``flags``, ``summary``, ``questions``,
        ``peer_group``, ``peer_count``, ``notes``. NaN values are None, so
        the dicts are JSON-ready. No other rep is named and no other rep's
        figures appear, only peer medians and bands.
    """
    if peers not in ("team", "all"):
        raise InputError(f"peers must be 'team' or 'all', not {peers!r}")
    frame = _prepare(rep_metrics)
    has_data = _has_data(frame).to_numpy()
    teams = _team_codes(frame)
    # reps with data per team, the rep included: decides which benchmark is shown
    team_size = pd.Series(has_data).groupby(teams).transform("sum").to_numpy()
    shown_team = (teams >= 0) & (team_size >= MIN_TEAM_REPS) if peers == "team" else np.zeros(len(frame), bool)
    pools = {f.name: _pool(frame, f, has_data, teams) for f in _FACTORS}
    if "new_prospect_contacts" in frame:
        pools["contacts"] = _pool(frame, _CONTACTS, has_data, teams)
    flags = flags or {}
    results = []
    for pos, row in enumerate(frame.to_dict("records")):
        if only is not None and str(row["rep_id"]) not in only:
            continue
        label = period if period is not None else _label(row.get("period"))
        result = _diagnose_row(row, pos, pools, bool(shown_team[pos]), bool(has_data[pos]), label)
        result["flags"] = [f for f in ADVICE_FLAGS if f in flags.get(result["rep_id"], ())]
        wording.apply(result)
        results.append(result)
    return results


def stake(factor: str, row: dict, evidence: dict[str, dict]) -> float | None:
    """Revenue that closing ``factor``'s gap to the peer median would have
    brought in the period, from the rep's metrics ``row`` and the
    ``evidence`` by factor. The other factors are held at the rep's own
    figures where they could be judged, else at the peer median:

    * prospecting: missing opportunities x win rate x average deal
      (missing = (median pace - rep pace) x the share of the period worked);
    * conversion: closed deals x (median win rate - rep's) x average deal;
    * deal size: won deals x (median deal - rep's);
    * velocity: revenue won x (rep's cycle / median cycle - 1), at most the
      open pipeline at the period's end x win rate (only deals that exist
      can close sooner).

    None when a figure it needs is missing; never negative."""
    e = evidence[factor]
    median, value = e["peer_median"], e["rep_value"]
    if median is None or value is None:
        return None

    def own_or_median(name: str) -> float | None:
        other = evidence[name]
        return other["rep_value"] if other["judged"] else other["peer_median"]

    win_rate, deal = own_or_median("conversion"), own_or_median("deal_size")
    if factor == "prospecting":
        if win_rate is None or deal is None:
            return None
        amount = (median - value) * float(row.get("active_share") or 1.0) * win_rate * deal
    elif factor == "conversion":
        amount = None if deal is None else float(row["closed"]) * (median - value) * deal
    elif factor == "deal_size":
        amount = float(row["won"] or 0) * (median - value)
    else:
        revenue = _num(row.get("revenue_won"))
        if revenue is None or median <= 0:
            return None
        amount = revenue * (value / median - 1)
        pipeline = _num(row.get("pipeline_open_amount"))
        if pipeline is not None and win_rate is not None:
            amount = min(amount, pipeline * win_rate)
    return None if amount is None or math.isnan(amount) else round(max(float(amount), 0.0), 0)


# -- internals ---------------------------------------------------------------

_CONTACTS = _Factor("contacts", "new_prospect_contacts", "new_prospect_contacts", True, "new_prospect_contacts_pace")
"""Not a factor: the new-prospect contacts a prospecting focus's cause is judged on."""


def _prepare(rep_metrics: pd.DataFrame) -> pd.DataFrame:
    needed = {"rep_id", "opportunities", "win_rate", "avg_deal_size", "cycle_days_median"}
    missing = needed - set(rep_metrics.columns)
    if missing:
        raise InputError(
            f"diagnose_table needs the metrics columns {sorted(missing)}; pass metrics_table(ds, by='rep', period=...)"
        )
    frame = rep_metrics.reset_index(drop=True).copy()
    numeric = ("opportunities", "won", "lost", "win_rate", "avg_deal_size", "cycle_days_median", "new_prospect_contacts")
    for col in numeric:
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    if "closed" not in frame:
        frame["closed"] = frame.get("won", 0) + frame.get("lost", 0)
    frame["closed"] = pd.to_numeric(frame["closed"], errors="coerce").fillna(0)
    if "won" not in frame:
        frame["won"] = np.nan
    share = pd.to_numeric(frame.get("active_share", 1.0), errors="coerce")
    frame["active_share"] = pd.Series(share, index=frame.index).fillna(1.0).clip(lower=0.0, upper=1.0)
    employed = frame["active_share"].where(frame["active_share"] > 0)
    # paces: counts over a full period (None for a rep with no time in it)
    frame["opportunities_pace"] = frame["opportunities"] / employed
    if "new_prospect_contacts" in frame:
        frame["new_prospect_contacts_pace"] = frame["new_prospect_contacts"] / employed
    if "team" not in frame:
        frame["team"] = np.nan
    return frame


def _has_data(frame: pd.DataFrame) -> pd.Series:
    """Reps with any opportunity opened or deal closed in the period: the only ones that count as peers."""
    return (frame["opportunities"].fillna(0) > 0) | (frame["closed"] > 0)


def _team_codes(frame: pd.DataFrame) -> np.ndarray:
    """Each rep's team as a code (-1: no team), teams matched as written."""
    team = frame["team"].astype("object")
    named = team.map(lambda t: isinstance(t, str) and t.strip() != "")
    codes, _ = pd.factorize(team.where(named))
    return codes


def _label(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _pool(frame: pd.DataFrame, factor: _Factor, has_data: np.ndarray, teams: np.ndarray) -> PeerPool:
    """The peers' figures of one factor (its compared column, its sample)."""
    values = frame[factor.column].to_numpy(dtype="float64")
    counts = frame[factor.n_column].to_numpy(dtype="float64") if factor.n_column in frame else values
    return PeerPool(values, counts, factor.min_n, has_data, teams, higher_is_better=factor.higher_is_better)


def _short(value, score, band, higher_is_better) -> bool:
    """A shortfall that counts: 20 % off and, with a band, outside the middle half."""
    if score is None or score < SHORTFALL_MIN - 1e-12:
        return False
    if band is None:
        return True
    return value < band[0] if higher_is_better else value > band[1]


def _judge(factor: _Factor, pool: PeerPool, row, pos: int, team_shown: bool) -> dict:
    """One factor of one rep against both benchmarks (facts only; see the module doc)."""
    value = _num(row[factor.column])
    n = _num(row.get(factor.n_column))
    all_count, all_q = pool.all_peers(pos)
    team_count, team_q = pool.team_peers(pos)
    all_median = all_q[1] if all_count >= MIN_PEERS else None
    all_band = [all_q[0], all_q[2]] if all_count >= BAND_MIN_PEERS else None
    team_band = [team_q[0], team_q[2]] if team_count >= BAND_MIN_PEERS else None
    # the benchmark shown, and the team's: the team's own median where the report shows it
    # (a team of MIN_TEAM_REPS with data); else all reps' shown, and the team's median
    # shrunk toward all reps' by team size judged (a team of three is not one colleague)
    if team_shown and team_count >= MIN_PEERS:
        benchmark, peers, median, band = "team", team_count, team_q[1], team_band
        team_median = median
    else:
        benchmark, peers, median, band = "all", all_count, all_median, all_band
        team_median = all_median
        if all_median is not None and team_q is not None and team_count > 0:
            weight = team_count / (team_count + SHRINK_REPS)
            team_median = weight * team_q[1] + (1 - weight) * all_median
    enough = n is not None and n >= factor.min_n and value is not None
    judged = bool(enough and median is not None)
    gap = score = None
    if value is not None and median is not None and median > 0:
        gap = round((value / median - 1) * 100, 1)
        score = shortfall_score(value, median, factor.higher_is_better)
    score_all = shortfall_score(value, all_median, factor.higher_is_better)
    own_team_score = (
        shortfall_score(value, team_q[1], factor.higher_is_better) if team_q is not None and team_count >= 2 else None
    )
    score_team = shortfall_score(value, team_median, factor.higher_is_better)
    against = {
        "team": None if team_median is None else _short(value, score_team, team_band, factor.higher_is_better),
        "all": None if all_median is None else _short(value, score_all, all_band, factor.higher_is_better),
    }
    if not judged:
        against = {"team": None, "all": None}
    prorated = {}
    if factor.compared and float(row["active_share"]) < 1.0:
        prorated = {"raw_value": _num(row[factor.metric]), "active_share": round(float(row["active_share"]), 4)}
    return {
        "factor": factor.name,
        "metric": factor.metric,
        "rep_value": value,
        "peer_median": median,
        "peer_band": band,
        "gap_pct": gap,
        "score": score,
        "n": None if n is None else int(n),
        "small_sample": bool(factor.min_n and (n is None or n < factor.min_n)),
        "judged": judged,
        "benchmark": benchmark,
        "peers": int(peers),
        "against": against,
        "team_median": None if team_median is None else float(team_median),
        "all_median": all_median,
        **prorated,
        "_scores": (score_team, score_all),
        "_team_shares": judged and pool.team_shares_gap(pos),
        # against the team's own (unshrunk) median: is the rep behind even a team that shares the gap?
        "_behind_own_team": _short(value, own_team_score, None, factor.higher_is_better),
    }


def _not_judged(e: dict, row, rep_has_data: bool) -> dict:
    """Why a factor was left out: {"factor", "reason", "code"}."""
    factor = e["factor"]
    if not rep_has_data:
        return {"factor": factor, "code": "no_data", "reason": "no opportunity opened or deal closed in the period"}
    if factor == "prospecting" and float(row["active_share"]) <= 0:
        return {"factor": factor, "code": "no_data", "reason": "not employed during the period"}
    minimum = MIN_SAMPLE[factor]
    if e["small_sample"]:
        kind = "closed" if factor == "conversion" else "won"
        n = e["n"] or 0
        return {
            "factor": factor,
            "code": "thin_sample",
            "reason": f"{n} {kind} deal{'' if n == 1 else 's'} in the period; {minimum} needed",
        }
    need = f" with {minimum} or more {'closed' if factor == 'conversion' else 'won'} deals" if minimum else " with data"
    return {
        "factor": factor,
        "code": "thin_peers",
        "reason": f"only {e['peers']} other rep{'' if e['peers'] == 1 else 's'}{need} to compare with; {MIN_PEERS} needed",
    }


def _diagnose_row(row, pos: int, pools: dict, team_shown: bool, rep_has_data: bool, period) -> dict:
    evidence = [_judge(f, pools[f.name], row, pos, team_shown) for f in _FACTORS]
    if not rep_has_data:
        for e in evidence:
            e["judged"] = False
            e["against"] = {"team": None, "all": None}
    by_factor = {e["factor"]: e for e in evidence}
    not_judged = [_not_judged(e, row, rep_has_data) for e in evidence if not e["judged"]]

    candidates, team_findings = [], []
    for e in evidence:
        on_team, on_all = e["against"]["team"], e["against"]["all"]
        if not e["judged"] or not (on_team or on_all):
            continue
        if on_all and e["_team_shares"] and not e["_behind_own_team"]:
            team_findings.append(e)  # the whole team has this gap: the manager's, not the rep's
            continue
        held = [s for s, on in zip(e["_scores"], (on_team, on_all)) if on]
        candidates.append((max(held), e))
    focus = strength = None
    if candidates:
        best = max(candidates, key=lambda c: c[0])[1]
        focus = best["factor"]
        enough = (best["n"] or 0) >= CLEAR_SAMPLE[focus]
        strength = "clear" if best["against"]["team"] and best["against"]["all"] and enough else "tentative"
        evidence.sort(key=lambda e: e["factor"] != focus)  # stable: focus first, then funnel order

    cause = None
    if focus == "prospecting" and "contacts" in pools:
        cause = _cause(pools["contacts"], row, pos, team_shown, by_factor["prospecting"]["benchmark"])
        by_factor["prospecting"]["contacts"] = cause["facts"] if cause else None
        cause = cause["cause"] if cause else None

    finding = None
    if team_findings:
        worst = max(team_findings, key=lambda e: e["_scores"][1])
        pool = pools[worst["factor"]]
        team_median, others_median = pool.versus[pool.teams[pos]]
        finding = {
            "factor": worst["factor"],
            "metric": worst["metric"],
            "team": row.get("team") if isinstance(row.get("team"), str) else None,
            "team_median": team_median,  # the whole team's, the rep included
            "all_median": others_median,  # the other teams' reps'
            "gap_pct": round((team_median / others_median - 1) * 100, 1) if others_median else None,
        }
    for e in evidence:
        e["strength"] = bool(e["judged"] and e["score"] is not None and e["score"] <= -STRENGTH_MIN + 1e-12)
        for key in ("_scores", "_team_shares", "_behind_own_team"):
            e.pop(key)
    return {
        "rep_id": str(row["rep_id"]),
        "name": row.get("name") if isinstance(row.get("name"), str) else None,
        "period": period,
        "focus": focus,
        "focus_strength": strength,
        "cause": cause,
        "strengths": [],
        "evidence": evidence,
        "not_judged": not_judged,
        "stake": None if focus is None else stake(focus, row, by_factor),
        "actions": [],
        "team_finding": finding,
        "flags": [],
        "summary": "",
        "questions": [],
        "peer_group": "team" if team_shown else "all",
        "peer_count": max((e["peers"] for e in evidence), default=0),
        "notes": [],
        "closed": int(row["closed"]),
        "active_share": round(float(row["active_share"]), 4),
    }


def _cause(pool: PeerPool, row, pos: int, team_shown: bool, benchmark: str) -> dict | None:
    """``activity`` or ``qualification`` from the rep's new-prospect contacts
    (a pace) against the same peers' median; None when either is unknown."""
    value = _num(row["new_prospect_contacts_pace"])
    if value is None:
        return None
    count, q = pool.team_peers(pos) if benchmark == "team" else pool.all_peers(pos)
    if q is None or count < MIN_PEERS:
        return None
    median = q[1]
    return {
        "cause": "activity" if value < median else "qualification",
        "facts": {
            "metric": "new_prospect_contacts",
            "rep_value": value,
            "raw_value": _num(row["new_prospect_contacts"]),
            "peer_median": median,
            "peers": int(count),
        },
    }


def _num(value) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
