"""Peer medians and bands without the rep, for every rep at once.

A coaching benchmark is a median (and middle half) of the rep's peers with
the rep left out. :class:`PeerPool` sorts one figure's values once, for all
reps and per team, and reads each rep's leave-one-out quantiles off the
sorted arrays (:func:`quantiles`, O(1) a rep), so diagnosing 10,000 reps
takes seconds. It also knows whether a whole team falls short of the other
teams' reps (:meth:`PeerPool.team_shares_gap`). The rules that use these
numbers live in :mod:`salesnb.analysis.diagnosis`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MIN_PEERS", "SHORTFALL_MIN", "PeerPool", "quantiles", "rank_within_ties", "shortfall_score"]

MIN_PEERS = 3
"""Fewest peers for a median: a median of two is the mean of two colleagues' figures."""

SHORTFALL_MIN = math.log(1.25)
"""Smallest log-ratio shortfall that counts: 20 % below the peer median
(ratio 0.8) for opportunities, win rate and deal size; 25 % longer (ratio
1.25) for cycle length. The same distance on the log scale either way."""

RATIO_CLIP = (0.05, 20.0)
"""Ratios are clipped to this range so log ratios stay finite when a rep has 0 of something."""


def quantiles(ordered: np.ndarray, drop: float | None, qs=(0.25, 0.5, 0.75)) -> list[float] | None:
    """numpy's (linear) quantiles of ``ordered`` (sorted) with one value equal
    to ``drop`` left out (the rep itself), without copying: O(1) per rep.
    None when nothing is left."""
    n = len(ordered)
    skip = None
    if drop is not None:
        skip = int(np.searchsorted(ordered, drop))
        n -= 1
    if n <= 0:
        return None

    def at(k: int) -> float:
        return float(ordered[k if skip is None or k < skip else k + 1])

    out = []
    for q in qs:
        pos = q * (n - 1)
        low = math.floor(pos)
        high = min(low + 1, n - 1)
        out.append(at(low) + (at(high) - at(low)) * (pos - low))
    return out


def rank_within_ties(ordered: np.ndarray) -> np.ndarray:
    """For a sorted array, each value's position among equal values (0, 1, 2... per run)."""
    if len(ordered) == 0:
        return np.zeros(0, dtype=int)
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    run_start = np.maximum.accumulate(np.where(starts, np.arange(len(ordered)), 0))
    return np.arange(len(ordered)) - run_start


def shortfall_score(value: float | None, median: float | None, higher_is_better: bool) -> float | None:
    """Log-ratio shortfall of ``value`` against ``median`` (positive = worse), clipped; None without both."""
    if value is None or median is None or not median > 0:
        return None
    log_ratio = math.log(min(max(value / median, RATIO_CLIP[0]), RATIO_CLIP[1]))
    return round(-log_ratio if higher_is_better else log_ratio, 4) + 0.0  # no -0.0


class PeerPool:
    """One figure's values over every rep, sorted once, for leave-one-out
    medians and bands of all reps, of a team, and of the other teams.

    ``values``: the figure per rep (NaN: none); ``counts``: the deals each
    rests on; a rep is a peer (``usable``) with data (``has_data``), a value
    and at least ``min_n`` deals. ``teams``: a team code per rep (-1: none).
    """

    def __init__(self, values, counts, min_n: int, has_data, teams, *, higher_is_better: bool = True):
        self.values = np.asarray(values, dtype="float64")
        self.n = np.nan_to_num(np.asarray(counts, dtype="float64"), nan=0.0)
        self.higher_is_better = higher_is_better
        self.usable = np.asarray(has_data, bool) & ~np.isnan(self.values) & (self.n >= min_n)
        self.teams = np.asarray(teams)
        self.all = np.sort(self.values[self.usable])
        self.team = {}
        self.shares = {}
        self.versus = {}  # team code -> (the team's median, the other teams' reps' median)
        others = np.sort(self.values[self.usable & (self.teams >= 0)])
        for code in np.unique(self.teams[self.teams >= 0]):
            self.team[code] = np.sort(self.values[self.usable & (self.teams == code)])
            self.shares[code] = self._shares(code, self.team[code], others)

    def all_peers(self, pos: int) -> tuple[int, list[float] | None]:
        """How many peers rep ``pos`` has among all reps, and their 25th/50th/75th percentiles."""
        drop = self.values[pos] if self.usable[pos] else None
        count = len(self.all) - (drop is not None)
        return count, quantiles(self.all, drop)

    def team_peers(self, pos: int) -> tuple[int, list[float] | None]:
        """The same within the rep's team (0, None without a team)."""
        code = self.teams[pos]
        if code < 0:
            return 0, None
        drop = self.values[pos] if self.usable[pos] else None
        ordered = self.team[code]
        return len(ordered) - (drop is not None), quantiles(ordered, drop)

    def team_shares_gap(self, pos: int) -> bool:
        """The rep's team (all of it, the rep included) is itself short of the other teams' reps."""
        code = self.teams[pos]
        return bool(code >= 0 and self.shares[code])

    def _shares(self, code: int, team: np.ndarray, everybody: np.ndarray) -> bool:
        # the other teams' reps: everybody in a team, this team's values taken out (a sorted difference)
        keep = np.ones(len(everybody), bool)
        keep[np.searchsorted(everybody, team) + rank_within_ties(team)] = False
        others = everybody[keep]
        if len(team) < MIN_PEERS or len(others) < MIN_PEERS:
            return False
        self.versus[code] = (float(np.median(team)), float(np.median(others)))
        score = shortfall_score(*self.versus[code], self.higher_is_better)
        return score is not None and score >= SHORTFALL_MIN - 1e-12
