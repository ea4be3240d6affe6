"""Peer figures a rep may see: medians and bands that give away no colleague's own figure.

The contract: no number in a rep's report equals one colleague's own figure
at the precision shown, unless three or more reps share it. A median of
five peers *is* one peer's figure, and so is the 25th percentile of five;
rounding it does not help (a colleague's 12,345 rounded is the colleague's
figure rounded). So a peer figure is shown as the first of these that is
safe (see :func:`is_safe`):

1. the usual figure (``numpy.percentile``, linear: the median of an even
   number of peers lies between two of them);
2. the mean of two or more peer figures next to each other in order, one
   of them next to its rank (for the median of five: the mean of the middle
   two below or above it, of the middle three...), the nearest to the usual
   figure first: a figure of several people, never one person's;
3. the usual figure rounded to a coarser step (1, 2, 5, 10, 20, 50... units
   of the shown precision) at which three or more colleagues' figures round
   to the same value, inside the peers' range.

Safe means: shown as the page shows it (:func:`salesnb.analysis.labels.fmt_unit`),
it equals no colleague's figure shown the same way, or three or more
colleagues' figures. When the rep's own figure is given, the figure must
also stay on the same side of it as the usual figure (a rep above the
median is never shown a "median" above them). When nothing is safe, or
fewer than :data:`MIN_PEERS` peers have the figure, the result is None: the
figure is left out.

It sits in ``analysis`` and imports only the label book, so a report and
the diagnosis may both use it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from salesnb.analysis.labels import fmt_unit, is_missing

__all__ = [
    "MIN_PEERS",
    "SHARED_BY",
    "STEPS",
    "shown",
    "sharing",
    "is_safe",
    "safe_quantile",
    "safe_median",
    "safe_band",
    "safe_median_band",
]

MIN_PEERS = 3
"""Fewest peers a peer figure may rest on: with one or two it would be theirs."""

SHARED_BY = 3
"""A figure three or more colleagues share (at the precision shown) gives none of them away."""

STEPS = {"share": 0.01, "pct": 1.0, "x_quota": 0.1, "x_cost": 0.1, "ratio": 0.01}
"""Unit code -> the precision a page shows it at (a share: 1 percentage point); others: 1 unit."""

_LADDER = (1, 2, 5)


def shown(kind: str, value) -> str:
    """``value`` as a page shows a figure of unit ``kind`` (the precision compared)."""
    return fmt_unit(kind, value, signed=False)


def _figures(colleague) -> list[float]:
    """One colleague's figures of a metric: a number, or several (a count and its pace)."""
    values = colleague if isinstance(colleague, (list, tuple, set, np.ndarray)) else [colleague]
    return [float(v) for v in values if not is_missing(v)]


def sharing(kind: str, value, colleagues: Iterable) -> int:
    """How many colleagues have a figure that is shown as ``value`` is.

    ``colleagues``: one entry per colleague, a number or a sequence of that
    colleague's figures of the same metric (counted once)."""
    text = shown(kind, value)
    return sum(any(shown(kind, v) == text for v in _figures(c)) for c in colleagues)


def is_safe(kind: str, value, colleagues: Iterable) -> bool:
    """True when ``value``, as shown, is no colleague's figure or is shared by :data:`SHARED_BY` or more."""
    n = sharing(kind, value, list(colleagues))
    return n == 0 or n >= SHARED_BY


def _same_side(kind: str, candidate: float, usual: float, rep_value) -> bool:
    """The candidate keeps the usual figure's side of the rep's own figure, as shown."""
    if is_missing(rep_value):
        return True
    rep = float(rep_value)
    if shown(kind, usual) == shown(kind, rep):
        return True
    if shown(kind, candidate) == shown(kind, rep):
        return False
    return (candidate > rep) == (usual > rep)


def _windows(values: np.ndarray, position: float) -> list[float]:
    """Means of two or more consecutive sorted values, each run holding a value
    next to ``position`` (a rank from 0), nearest the usual figure first."""
    return list(_nearest_windows(values, position))


def _runs(n: int, position: float) -> tuple[np.ndarray, np.ndarray]:
    """(start, stop) of every run of two or more of ``n`` sorted values holding a
    value next to ``position``, by start then stop."""
    low, high = int(math.floor(position)), int(math.ceil(position))
    starts, stops = np.meshgrid(np.arange(min(high, n - 1) + 1), np.arange(low + 1, n + 1), indexing="ij")
    keep = stops >= starts + 2
    return starts[keep], stops[keep]


#: Up to this many runs, :func:`_nearest_windows` orders them all at once (as cheap as
#: anything at a hundred peers); more, it widens a distance around the usual figure.
ALL_RUNS_UP_TO = 4096


def _nearest_windows(values: np.ndarray, position: float) -> Iterator[float]:
    """:func:`_windows` one at a time, each mean computed only when asked for.

    The order is by distance from the usual figure of each run's mean from
    running sums, ties in run order (start, then stop); runs whose distances
    lie within rounding error of each other (``slack``, chained) form a group
    put in order by their exact means (``values[start:stop].mean()``), ties
    kept in run order, so the sequence is :func:`_windows`' to the bit.

    Past :data:`ALL_RUNS_UP_TO` runs (a team of 5,000 has 25 million), the runs
    are not all made: only those within a distance ``radius`` of the usual
    figure (:func:`_runs_within`: a run's mean rises with its stop, so each
    start's are one stretch of stops, found by bisection), ``radius`` doubled
    each time those are used up. A group is given out when it is whole (a
    farther run follows it, or none can come within slack of it), or as soon
    as it holds more than :data:`EXACT_TIES` runs: a big group's order is the
    distance order, however far it goes on. So the same means come in the
    same order, from the few thousand runs nearest the usual figure."""
    n = len(values)
    low, high = int(math.floor(position)), int(math.ceil(position))
    usual = float(np.interp(position, np.arange(n), values))
    starts = np.arange(min(high, n - 1) + 1)
    first = np.maximum(low + 1, starts + 2)  # each start's first stop
    starts, first = starts[first <= n], first[first <= n]
    total = int((n + 1 - first).sum())
    if not total:
        return
    if not np.isfinite(values).all():  # running sums of an infinity say nothing: every mean, exactly
        starts, stops = _runs(n, position)
        with np.errstate(invalid="ignore"):  # +inf and -inf in one run: its mean is NaN, said by no warning
            means = [float(values[a:b].mean()) for a, b in zip(starts, stops)]
        yield from sorted(means, key=lambda m: abs(m - usual))
        return
    sums = np.concatenate(([0.0], np.cumsum(values)))
    slack = 1e-9 * (float(np.abs(values).sum()) + abs(usual) + 1.0)  # far above a running sum's rounding error
    if total <= ALL_RUNS_UP_TO:
        yield from _windows_in_order(values, usual, slack, *_runs(n, position), sums)
        return
    # a running mean is off by at most n * eps * sum|v| (sequential sums); the margin is well above it
    margin = slack + 4 * n * np.finfo("float64").eps * (float(np.abs(values).sum()) + abs(usual) + 1.0)
    crossing = _first_at_least(sums, starts, first, n, usual)
    nearest = np.full(len(starts), np.inf)
    for b in (crossing - 1, crossing):
        ok = (b >= first) & (b <= n)
        at = np.clip(b, first, n)
        nearest = np.where(ok, np.minimum(nearest, np.abs((sums[at] - sums[starts]) / (at - starts) - usual)), nearest)
    radius = float(np.partition(nearest, min(31, len(nearest) - 1))[min(31, len(nearest) - 1)]) + 2 * slack
    given = 0  # runs given out so far: the first `given` of every later, wider set, in the same order
    while True:
        a, b = _runs_within(sums, starts, first, n, usual, radius, margin)
        running = (sums[b] - sums[a]) / (b - a)
        near = np.abs(running - usual)
        keep = near <= radius
        order = np.lexsort((b[keep], a[keep], near[keep]))  # by distance, ties in run order
        a, b, running, near = a[keep][order], b[keep][order], running[keep][order], near[keep][order]
        whole = len(a) == total
        bounds = np.concatenate(([0], np.flatnonzero(np.diff(near) > slack) + 1, [len(a)]))
        for k in range(int(np.searchsorted(bounds, given, side="right")) - 1, len(bounds) - 1):
            start, stop = int(bounds[k]), int(bounds[k + 1])
            # a group is whole when a farther run follows it here, or none can come within slack of it
            complete = whole or stop < len(a) or near[stop - 1] + 2 * slack <= radius
            if stop - start > EXACT_TIES:  # a big group is in this order however far it goes on
                for mean in running[given:stop]:
                    yield float(mean)
                given = stop
            elif complete:
                runs = np.lexsort((b[start:stop], a[start:stop])) + start
                means = [_mean(values, a[i], b[i]) for i in runs]
                yield from sorted(means, key=lambda m: abs(m - usual))
                given = stop
            if not complete:
                break
        if whole:
            return
        radius *= 2


def _first_at_least(sums: np.ndarray, starts: np.ndarray, first: np.ndarray, n: int, level: float) -> np.ndarray:
    """For each start, the first stop from ``first`` to ``n`` whose running mean is
    ``level`` or more (``n + 1``: none), by bisection over every start at once; the
    running means of a start rise with its stop (to rounding error)."""
    lo, hi = first - 1, np.full(len(starts), n + 1)
    while True:
        open_ = hi - lo > 1
        if not open_.any():
            return hi
        mid = np.where(open_, (lo + hi) // 2, first)
        above = (sums[mid] - sums[starts]) / (mid - starts) >= level
        hi = np.where(open_ & above, mid, hi)
        lo = np.where(open_ & ~above, mid, lo)


def _runs_within(sums, starts, first, n: int, usual: float, radius: float, margin: float):
    """(start, stop) of every run whose running mean lies within ``radius + margin`` of
    ``usual`` (with a few more), by start then stop: those within ``radius`` among them."""
    lo = _first_at_least(sums, starts, first, n, usual - radius - margin)
    hi = _first_at_least(sums, starts, first, n, np.nextafter(usual + radius + margin, np.inf))
    counts = np.maximum(hi - lo, 0)
    a = np.repeat(starts, counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return a, np.repeat(lo, counts) + offsets


def _windows_in_order(values, usual: float, slack: float, starts, stops, sums) -> Iterator[float]:
    """The means of runs (``starts``, ``stops``, in run order: all of them, or whole groups
    of the nearest), group by group as :func:`_nearest_windows` says."""
    running = (sums[stops] - sums[starts]) / (stops - starts)
    near = np.abs(running - usual)
    order = np.argsort(near, kind="stable")
    bounds = [0, *(np.flatnonzero(np.diff(near[order]) > slack) + 1).tolist(), len(order)]
    for first, last in zip(bounds[:-1], bounds[1:]):
        if last - first == 1:  # most runs are alone at their distance: nothing to put in order
            i = order[first]
            yield _mean(values, starts[i], stops[i])
            continue
        group = np.sort(order[first:last])  # run order: ties in distance keep it, as sorted() does
        if len(group) <= EXACT_TIES:
            means = [_mean(values, starts[i], stops[i]) for i in group]
            yield from sorted(means, key=lambda m: abs(m - usual))
        else:  # thousands of runs as near as each other (a big team's whole numbers): their running means
            means = running[group]
            for k in np.argsort(np.abs(means - usual), kind="stable"):
                yield float(means[k])


def _mean(values: np.ndarray, start, stop) -> float:
    """``float(values[start:stop].mean())`` to the bit for float64 ``values`` (numpy's mean
    is the same sum divided by the count), without ``mean``'s own overhead."""
    return float(np.add.reduce(values[start:stop])) / int(stop - start)


#: Runs as near the usual figure as each other, up to this many, are put in order by their
#: exact means (to the bit, as :func:`_windows` would); more, by their running means.
EXACT_TIES = 64


def _coarse(kind: str, usual: float, values: np.ndarray, colleagues: list) -> list[float]:
    """The usual figure rounded to coarser steps at which SHARED_BY+ colleagues round alike, within the peers' range."""
    return list(_coarser(kind, usual, values, [_figures(c) for c in colleagues]))


def _coarser(kind: str, usual: float, values: np.ndarray, figures: list[list[float]]) -> Iterator[float]:
    """:func:`_coarse` one step at a time; ``figures``: each colleague's figures (:func:`_figures`)."""
    base = STEPS.get(kind, 1.0)
    top = max(float(np.abs(values).max()), base) * 2
    decade = base
    while decade <= top:
        for factor in _LADDER:
            step = decade * factor
            value = round(usual / step) * step
            if not values.min() <= value <= values.max():
                continue
            alike = sum(any(round(v / step) * step == value for v in mine) for mine in figures)
            if alike >= SHARED_BY:
                yield value
        decade *= 10


#: Up to this many colleagues, :class:`_Sharing` formats all their figures at once.
FORMAT_ALL_UP_TO = 500


def _grid(colleagues) -> np.ndarray | None:
    """``colleagues`` as a (colleague, figure) array of floats (NaN: none), when each has
    as many figures (a number each, or a pair: a table's columns); else None."""
    try:
        grid = np.asarray(colleagues, dtype="float64")
    except (TypeError, ValueError):  # figures of different lengths, or a value float() refuses
        return None
    if grid.ndim == 1:
        return grid.reshape(-1, 1)
    return grid if grid.ndim == 2 else None


def _grid_counts(kind: str, grid: np.ndarray) -> Counter:
    """:func:`_shown_counts` of a :func:`_grid`: each distinct figure (by its exact bits)
    formatted once and each colleague counted once per text, in arrays."""
    present = ~np.isnan(grid)
    owners = np.nonzero(present)[0]
    bits = np.ascontiguousarray(grid[present]).view(np.int64)
    distinct, where = np.unique(bits, return_inverse=True)
    codes: dict[str, int] = {}
    code = np.array([codes.setdefault(shown(kind, float(v)), len(codes)) for v in distinct.view(np.float64)], dtype=np.int64)
    if not codes:
        return Counter()
    pairs = np.unique(owners * len(codes) + code[where.reshape(-1)])  # each colleague once per text
    counts = np.bincount(pairs % len(codes), minlength=len(codes))
    return Counter({text: int(counts[i]) for text, i in codes.items() if counts[i]})


def _shown_counts(kind: str, figures: list[list[float]]) -> Counter:
    """Shown text -> how many colleagues have a figure shown so (each counted once): :func:`sharing` for every text at once."""
    counts: Counter = Counter()
    texts: dict[str, str] = {}  # each distinct figure formatted once (by its exact bits: -0.0 is not 0.0)
    for mine in figures:
        seen = set()
        for value in mine:
            key = float(value).hex()
            text = texts.get(key)
            if text is None:
                text = texts[key] = shown(kind, value)
            seen.add(text)
        counts.update(seen)
    return counts


class _Sharing:
    """How many colleagues have a figure shown as a candidate is: :func:`sharing`, with every
    colleague's figures sorted once (a team of 5,000's) and only those near the candidate formatted.

    Two figures shown alike lie within one step of the shown precision
    (:data:`STEPS`) of each other (for ``pct``, shown without its sign, of
    each other or of the other's negative), so the figures farther than that
    from the candidate are never formatted; each one formatted is kept by its
    exact bits (-0.0 is not 0.0)."""

    def __init__(self, kind: str, colleagues: Iterable):
        self.kind = kind
        self.colleagues = colleagues if isinstance(colleagues, np.ndarray) else list(colleagues)
        self.by_text: dict[str, int] = {}  # the windows near a big team's median are shown alike, thousands of them
        self.texts: dict[int, str] = {}
        self.width = 1.5 * STEPS.get(kind, 1.0)
        self.counts = None
        if len(self.colleagues) <= FORMAT_ALL_UP_TO:  # a hundred colleagues: every figure formatted, each candidate a look-up
            grid = _grid(self.colleagues)
            self.counts = _shown_counts(kind, self.figures()) if grid is None else _grid_counts(kind, grid)
            return
        try:  # one number per colleague (a column of a table; None is NaN to numpy too)
            flat = np.asarray(self.colleagues, dtype="float64")
        except (TypeError, ValueError):  # a few figures each
            flat = None
        if flat is not None and flat.ndim == 1:
            lengths = np.ones(len(flat), dtype=np.int64)
        else:
            try:  # one number per colleague, or a few
                nested = (list, tuple, set, np.ndarray)
                lengths = [len(c) if isinstance(c, nested) else 1 for c in self.colleagues]
                flat = [float(v) for c in self.colleagues for v in (c if isinstance(c, nested) else (c,))]
            except (TypeError, ValueError):  # a value float() refuses (None in a list...): one colleague at a time
                figures = self.figures()
                lengths, flat = [len(f) for f in figures], [v for f in figures for v in f]
        values = np.asarray(flat, dtype="float64")
        owners = np.repeat(np.arange(len(lengths)), lengths)
        present = ~np.isnan(values)
        order = np.argsort(values[present], kind="stable")
        self.values, self.owners = values[present][order], owners[present][order]
        self.bits = self.values.view(np.int64)

    def count(self, candidate: float, text: str | None = None) -> int:
        """How many colleagues have a figure shown as ``candidate`` is (each counted once);
        ``text``: ``candidate`` shown, when the caller has it."""
        text = shown(self.kind, candidate) if text is None else text
        if self.counts is not None:
            return self.counts[text]
        known = self.by_text.get(text)
        if known is None:
            known = self.by_text[text] = self._count(text, candidate)
        return known

    def _count(self, text: str, candidate: float) -> int:
        """:meth:`count` of a text not asked before: the figures near ``candidate`` shown as ``text``."""
        if math.isfinite(candidate):
            width = self.width + 1e-9 * abs(candidate)
            centres = (candidate, -candidate) if self.kind == "pct" else (candidate,)
            spans = [
                (
                    int(np.searchsorted(self.values, c - width, side="left")),
                    int(np.searchsorted(self.values, c + width, side="right")),
                )
                for c in centres
            ]
        else:
            spans = [(0, len(self.values))]
        owners = []
        for lo, hi in spans:
            if hi <= lo:
                continue
            distinct, where = np.unique(self.bits[lo:hi], return_inverse=True)
            alike = np.array([self._shown(int(key)) == text for key in distinct], dtype=bool)
            owners.append(self.owners[lo:hi][alike[where.reshape(-1)]])
        return len(np.unique(np.concatenate(owners))) if owners else 0

    def _shown(self, key: int) -> str:
        text = self.texts.get(key)
        if text is None:
            text = self.texts[key] = shown(self.kind, float(np.int64(key).view(np.float64)))
        return text

    def figures(self) -> list[list[float]]:
        """Each colleague's figures (:func:`_figures`)."""
        return [_figures(c) for c in self.colleagues]


def safe_quantile(
    values: Sequence[float],
    q: float,
    colleagues: Iterable,
    kind: str,
    *,
    rep_value=None,
    min_peers: int = MIN_PEERS,
) -> float | None:
    """The peers' ``q`` quantile (0.5: the median) as a rep may see it, or None.

    Parameters
    ----------
    values : sequence of float
        The peer figures the quantile is taken over (missing ones are dropped).
    q : float
        0.25, 0.5, 0.75...
    colleagues : iterable
        Every colleague of the reader (the peers and anyone else whose
        figure of this metric the page might echo), one entry each: a
        number or a sequence of that colleague's figures of the metric.
    kind : str
        The unit code the page formats the figure with (:data:`salesnb.analysis.labels.UNITS`).
    rep_value : float, optional
        The reader's own figure: the result stays on the same side of it as
        the usual quantile.
    min_peers : int
        Fewer peer figures than this: None.

    See the module docstring for the order in which figures are tried.
    """
    peers = np.sort(_present(values))
    if len(peers) < max(min_peers, 1):
        return None
    usual = float(np.percentile(peers, q * 100))
    position = q * (len(peers) - 1)
    sharing_ = colleagues if isinstance(colleagues, _Sharing) else _Sharing(kind, colleagues)
    side = _Side(kind, usual, rep_value)
    for candidate in _candidates(usual, peers, position, kind, sharing_):
        text = shown(kind, candidate)  # once per candidate, for both tests
        n = sharing_.count(candidate, text)
        if (n == 0 or n >= SHARED_BY) and side.keeps(candidate, text):
            return candidate
    return None


class _Side:
    """:func:`_same_side` for one usual figure and rep's figure, each shown once, not per candidate."""

    def __init__(self, kind: str, usual: float, rep_value):
        self.usual = usual
        self.rep = None if is_missing(rep_value) else float(rep_value)
        self.free = self.rep is None or shown(kind, usual) == shown(kind, self.rep)
        self.rep_text = None if self.rep is None else shown(kind, self.rep)

    def keeps(self, candidate: float, text: str) -> bool:
        """``_same_side(kind, candidate, usual, rep_value)``; ``text``: ``candidate`` shown."""
        if self.free:
            return True
        if text == self.rep_text:
            return False
        return (candidate > self.rep) == (self.usual > self.rep)


def _present(values: Sequence[float]) -> np.ndarray:
    """``values`` as floats, the missing ones dropped."""
    try:  # a team's column at once (None is NaN to numpy too)
        numbers = np.asarray(values, dtype="float64")
        if numbers.ndim == 1:
            return numbers[~np.isnan(numbers)]
    except (TypeError, ValueError):
        pass
    return np.asarray([float(v) for v in values if not is_missing(v)], dtype="float64")


def _candidates(usual: float, peers: np.ndarray, position: float, kind: str, sharing_: _Sharing) -> Iterator[float]:
    """The figures :func:`safe_quantile` tries, in order, each made only when the one before is not safe."""
    yield usual
    yield from _nearest_windows(peers, position)
    yield from _coarser(kind, usual, peers, sharing_.figures())


def safe_median(values: Sequence[float], colleagues: Iterable, kind: str, *, rep_value=None, min_peers: int = MIN_PEERS):
    """:func:`safe_quantile` at 0.5."""
    return safe_quantile(values, 0.5, colleagues, kind, rep_value=rep_value, min_peers=min_peers)


def safe_band(
    values: Sequence[float],
    colleagues: Iterable,
    kind: str,
    *,
    rep_value=None,
    median=None,
    min_peers: int = MIN_PEERS,
) -> tuple[float, float] | None:
    """The peers' middle half (25th, 75th percentile) as a rep may see it, or None.

    Each end is a :func:`safe_quantile`; the band is left out when either
    end is, or when the two ends do not hold ``median`` (the safe median
    shown beside it) between them, as shown."""
    others = colleagues if isinstance(colleagues, _Sharing) else _Sharing(kind, colleagues)  # once for both ends
    low = safe_quantile(values, 0.25, others, kind, rep_value=rep_value, min_peers=min_peers)
    high = safe_quantile(values, 0.75, others, kind, rep_value=rep_value, min_peers=min_peers)
    if low is None or high is None or low > high:
        return None
    if not is_missing(median) and not low <= float(median) <= high:
        return None
    return low, high


def safe_median_band(
    values: Sequence[float],
    colleagues: Iterable,
    kind: str,
    *,
    rep_value=None,
    min_peers: int = MIN_PEERS,
    band_min_peers: int | None = None,
) -> tuple[float | None, tuple[float, float] | None]:
    """:func:`safe_median` and, when it is shown and ``values`` holds ``band_min_peers`` or
    more figures (None: no band asked for), :func:`safe_band` beside it: the same figures
    as the two called one after the other, the colleagues' figures sorted and formatted
    once for all three quantiles."""
    others = _Sharing(kind, colleagues)
    median = safe_quantile(values, 0.5, others, kind, rep_value=rep_value, min_peers=min_peers)
    band = None
    if median is not None and band_min_peers is not None and len(values) >= band_min_peers:
        band = safe_band(values, others, kind, rep_value=rep_value, median=median)
    return median, band
