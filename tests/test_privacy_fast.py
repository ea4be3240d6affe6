"""Peer privacy at scale (issue #16): the nearest safe window is found lazily, the same one.

``salesnb.analysis.privacy`` used to enumerate every run of two or more peer
figures holding the quantile's rank (25 million for a team of 5,000) to find
the nearest safe one. Below is a verbatim copy of that algorithm as it was
(names prefixed ``ref``/``REF``), private to this file: the fast code must
give the very same windows, in the same order, to the bit, and the same safe
figures, on thousands of random inputs (whole numbers with many ties, floats,
small counts, NaN, infinities, the sizes around ``EXACT_TIES``), and a team
of 5,000 must get its figure without building the full grid.
"""

from __future__ import annotations

import itertools
import math
import tracemalloc
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pytest

from salesnb.analysis import privacy
from salesnb.analysis.labels import fmt_unit, is_missing

# -- the reference: salesnb/analysis/privacy.py at e0e4bbc, verbatim but for the names ----------

REF_MIN_PEERS = 3
"""Fewest peers a peer figure may rest on: with one or two it would be theirs."""

REF_SHARED_BY = 3
"""A figure three or more colleagues share (at the precision ref_shown) gives none of them away."""

REF_STEPS = {"share": 0.01, "pct": 1.0, "x_quota": 0.1, "x_cost": 0.1, "ratio": 0.01}
"""Unit code -> the precision a page shows it at (a share: 1 percentage point); others: 1 unit."""

REF_LADDER = (1, 2, 5)


def ref_shown(kind: str, value) -> str:
    """``value`` as a page shows a figure of unit ``kind`` (the precision compared)."""
    return fmt_unit(kind, value, signed=False)


def ref_figures(colleague) -> list[float]:
    """One colleague's figures of a metric: a number, or several (a count and its pace)."""
    values = colleague if isinstance(colleague, (list, tuple, set, np.ndarray)) else [colleague]
    return [float(v) for v in values if not is_missing(v)]


def ref_same_side(kind: str, candidate: float, usual: float, rep_value) -> bool:
    """The candidate keeps the usual figure's side of the rep's own figure, as ref_shown."""
    if is_missing(rep_value):
        return True
    rep = float(rep_value)
    if ref_shown(kind, usual) == ref_shown(kind, rep):
        return True
    if ref_shown(kind, candidate) == ref_shown(kind, rep):
        return False
    return (candidate > rep) == (usual > rep)


def ref_runs(n: int, position: float) -> tuple[np.ndarray, np.ndarray]:
    """(start, stop) of every run of two or more of ``n`` sorted values holding a
    value next to ``position``, by start then stop."""
    low, high = int(math.floor(position)), int(math.ceil(position))
    # only starts up to `high` and stops past `low`: a 5,000-peer team's full grid would be 25 M runs
    starts, stops = np.meshgrid(np.arange(min(high, n - 1) + 1), np.arange(low + 1, n + 1), indexing="ij")
    keep = stops >= starts + 2
    return starts[keep], stops[keep]


def ref_nearest_windows(values: np.ndarray, position: float) -> Iterator[float]:
    """:func:`_windows` one at a time, each mean computed only when asked for.

    The order is found from running sums (one vectorised pass); runs whose
    distances from the usual figure lie within rounding error of each other
    are put in order by their exact means (``values[start:stop].mean()``),
    ties kept in run order, so the sequence is :func:`_windows`' to the bit."""
    n = len(values)
    usual = float(np.interp(position, np.arange(n), values))
    starts, stops = ref_runs(n, position)
    if not len(starts):
        return
    if not np.isfinite(values).all():  # running sums of an infinity say nothing: every mean, exactly
        means = [float(values[a:b].mean()) for a, b in zip(starts, stops)]
        yield from sorted(means, key=lambda m: abs(m - usual))
        return
    sums = np.concatenate(([0.0], np.cumsum(values)))
    running = (sums[stops] - sums[starts]) / (stops - starts)
    near = np.abs(running - usual)
    order = np.argsort(near, kind="stable")
    slack = 1e-9 * (float(np.abs(values).sum()) + abs(usual) + 1.0)  # far above a running sum's rounding error
    bounds = [0, *(np.flatnonzero(np.diff(near[order]) > slack) + 1).tolist(), len(order)]
    for first, last in zip(bounds[:-1], bounds[1:]):
        group = np.sort(order[first:last])  # run order: ties in distance keep it, as sorted() does
        if len(group) <= REF_EXACT_TIES:
            means = [float(values[starts[i] : stops[i]].mean()) for i in group]
            yield from sorted(means, key=lambda m: abs(m - usual))
        else:  # thousands of runs as near as each other (a big team's whole numbers): their running means
            means = running[group]
            for k in np.argsort(np.abs(means - usual), kind="stable"):
                yield float(means[k])


#: Runs as near the usual figure as each other, up to this many, are put in order by their
#: exact means (to the bit, as :func:`_windows` would); more, by their running means.
REF_EXACT_TIES = 64


def ref_coarser(kind: str, usual: float, values: np.ndarray, figures: list[list[float]]) -> Iterator[float]:
    """:func:`_coarse` one step at a time; ``figures``: each colleague's figures (:func:`ref_figures`)."""
    base = REF_STEPS.get(kind, 1.0)
    top = max(float(np.abs(values).max()), base) * 2
    decade = base
    while decade <= top:
        for factor in REF_LADDER:
            step = decade * factor
            value = round(usual / step) * step
            if not values.min() <= value <= values.max():
                continue
            alike = sum(any(round(v / step) * step == value for v in mine) for mine in figures)
            if alike >= REF_SHARED_BY:
                yield value
        decade *= 10


def ref_shown_counts(kind: str, figures: list[list[float]]) -> Counter:
    """Shown text -> how many colleagues have a figure ref_shown so (each counted once): :func:`sharing` for every text at once."""
    counts: Counter = Counter()
    texts: dict[str, str] = {}  # each distinct figure formatted once (by its exact bits: -0.0 is not 0.0)
    for mine in figures:
        seen = set()
        for value in mine:
            key = float(value).hex()
            text = texts.get(key)
            if text is None:
                text = texts[key] = ref_shown(kind, value)
            seen.add(text)
        counts.update(seen)
    return counts


def ref_safe_quantile(
    values: Sequence[float],
    q: float,
    colleagues: Iterable,
    kind: str,
    *,
    rep_value=None,
    min_peers: int = REF_MIN_PEERS,
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
    peers = np.sort(np.asarray([float(v) for v in values if not is_missing(v)], dtype="float64"))
    if len(peers) < max(min_peers, 1):
        return None
    figures = [ref_figures(c) for c in colleagues]
    counts = ref_shown_counts(kind, figures)  # each colleague's figures formatted once, not once per candidate
    usual = float(np.percentile(peers, q * 100))
    position = q * (len(peers) - 1)
    for candidate in ref_candidates(usual, peers, position, kind, figures):
        n = counts[ref_shown(kind, candidate)]
        if (n == 0 or n >= REF_SHARED_BY) and ref_same_side(kind, candidate, usual, rep_value):
            return candidate
    return None


def ref_candidates(usual: float, peers: np.ndarray, position: float, kind: str, figures: list) -> Iterator[float]:
    """The figures :func:`ref_safe_quantile` tries, in order, each made only when the one before is not safe."""
    yield usual
    yield from ref_nearest_windows(peers, position)
    yield from ref_coarser(kind, usual, peers, figures)


def ref_safe_median(values: Sequence[float], colleagues: Iterable, kind: str, *, rep_value=None, min_peers: int = REF_MIN_PEERS):
    """:func:`ref_safe_quantile` at 0.5."""
    return ref_safe_quantile(values, 0.5, colleagues, kind, rep_value=rep_value, min_peers=min_peers)


def ref_safe_band(
    values: Sequence[float],
    colleagues: Iterable,
    kind: str,
    *,
    rep_value=None,
    median=None,
    min_peers: int = REF_MIN_PEERS,
) -> tuple[float, float] | None:
    """The peers' middle half (25th, 75th percentile) as a rep may see it, or None.

    Each end is a :func:`ref_safe_quantile`; the band is left out when either
    end is, or when the two ends do not hold ``median`` (the safe median
    ref_shown beside it) between them, as ref_shown."""
    others = list(colleagues)
    low = ref_safe_quantile(values, 0.25, others, kind, rep_value=rep_value, min_peers=min_peers)
    high = ref_safe_quantile(values, 0.75, others, kind, rep_value=rep_value, min_peers=min_peers)
    if low is None or high is None or low > high:
        return None
    if not is_missing(median) and not low <= float(median) <= high:
        return None
    return low, high


# -- the fast code against it ----------------------------------------------------------------------


def _bits(figures) -> list[str]:
    """Each figure to the bit (NaN equals NaN, -0.0 is not 0.0)."""
    return [float(f).hex() for f in figures]


def _peer_values(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` peer figures of one of the shapes a page meets: whole numbers with many ties,
    shares, money, signed percentages, a few distinct values only."""
    shape = rng.integers(6)
    if shape == 0:
        values = rng.integers(0, rng.integers(1, 12), size=n)  # counts: ties everywhere
    elif shape == 1:
        values = np.round(rng.random(n), 2)  # win rates to the percent
    elif shape == 2:
        values = np.round(rng.lognormal(10, 1, size=n), 2)  # money
    elif shape == 3:
        values = rng.normal(0, 40, size=n)  # forecast error, signed
    elif shape == 4:
        values = rng.choice([1.5, 2.0, 7.25, 30.0], size=n)  # a handful of values
    else:
        values = rng.integers(-3, 4, size=n) * 0.1  # steps that are not exact in binary
    return np.sort(values.astype("float64"))


@pytest.fixture(params=["default", "lazy"])
def lazy(request, monkeypatch):
    """Run each comparison twice: as shipped, and with a big team's paths for every size (the
    distance search for windows, only the figures near a candidate formatted)."""
    if request.param == "lazy":
        monkeypatch.setattr(privacy, "ALL_RUNS_UP_TO", 0)
        monkeypatch.setattr(privacy, "FORMAT_ALL_UP_TO", 0)
    return request.param


def test_the_windows_are_the_references_to_the_bit_on_thousands_of_small_inputs(lazy):
    rng = np.random.default_rng(16)
    for _ in range(1500):
        n = int(rng.integers(1, 30))
        values = _peer_values(rng, n)
        q = float(rng.choice([0.25, 0.5, 0.75, rng.random()]))
        position = q * (n - 1)
        assert _bits(privacy._nearest_windows(values, position)) == _bits(ref_nearest_windows(values, position)), (
            values.tolist(),
            position,
        )


def test_the_windows_are_the_references_where_exact_ties_switch(lazy):
    """Groups of runs exactly as near as each other around EXACT_TIES (64) in size: 60 to 140
    peers of three or four whole numbers give groups of tens to thousands."""
    rng = np.random.default_rng(64)
    sizes = Counter()
    for _ in range(30):
        n = int(rng.integers(60, 140))
        values = np.sort(rng.integers(0, int(rng.integers(2, 5)), size=n).astype("float64"))
        for q in (0.25, 0.5, 0.75):
            position = q * (n - 1)
            got = _bits(privacy._nearest_windows(values, position))
            assert got == _bits(ref_nearest_windows(values, position)), (values.tolist(), position)
            usual = float(np.interp(position, np.arange(n), values))
            tied = sum(1 for m in got if float.fromhex(m) == usual)
            sizes["small" if tied <= REF_EXACT_TIES else "big"] += 1
    assert sizes["small"] > 10 and sizes["big"] > 10, sizes


def test_the_first_windows_of_a_thousand_peers_are_the_references():
    """A thousand to three thousand peers (the distance search): the first 3,000 windows, to the bit."""
    rng = np.random.default_rng(1000)
    for n in (1000, 1001, 2999):
        for values in (_peer_values(rng, n), np.sort(rng.integers(0, 10, size=n).astype("float64"))):
            for q in (0.25, 0.5, 0.75):
                position = q * (n - 1)
                got = list(itertools.islice(privacy._nearest_windows(values, position), 3000))
                want = list(itertools.islice(ref_nearest_windows(values, position), 3000))
                assert _bits(got) == _bits(want), (n, q)


def test_infinite_figures_keep_the_reference_order(lazy):
    values = np.array([-np.inf, 1.0, 2.0, 2.0, 5.0, np.inf, np.inf])
    for position in (0.0, 1.5, 3.0, 4.5, 6.0):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # salesnb's own means of a run holding +inf and -inf warn of nothing
            got = _bits(privacy._nearest_windows(values, position))
        with np.errstate(invalid="ignore"):  # the reference, verbatim, lets numpy warn
            assert got == _bits(ref_nearest_windows(values, position))


def _colleagues(rng: np.random.Generator, values: np.ndarray) -> list:
    """The peers (some with a second figure, some missing: NaN or None) and a few others."""
    colleagues: list = []
    for v in values:
        pick = rng.integers(5)
        colleagues.append([v, float(rng.choice(values))] if pick == 0 else rng.choice([np.nan, None]) if pick == 1 else v)
    colleagues += [float(rng.choice(values)) + float(rng.integers(-1, 2)) for _ in range(int(rng.integers(0, 4)))]
    return colleagues


KINDS = ("currency", "count", "days", "share", "pct", "x_quota", "ratio")


def test_safe_figures_are_the_references_on_thousands_of_inputs(lazy):
    rng = np.random.default_rng(8)
    outcomes = Counter()
    for _ in range(2000):
        n = int(rng.integers(1, 60))
        values = _peer_values(rng, n).tolist()
        if rng.random() < 0.2:
            values[int(rng.integers(n))] = np.nan  # a peer without the figure
        present = [v for v in values if not is_missing(v)] or [0.0]
        colleagues = _colleagues(rng, np.asarray(present))
        kind = str(rng.choice(KINDS))
        rep_value = rng.choice([None, np.nan, float(rng.choice(values)), float(rng.normal(np.mean(present), 1))])
        min_peers = int(rng.choice([0, 3, 5]))
        median = privacy.safe_median(values, colleagues, kind, rep_value=rep_value, min_peers=min_peers)
        assert median == ref_safe_median(values, colleagues, kind, rep_value=rep_value, min_peers=min_peers)
        band = privacy.safe_band(values, colleagues, kind, rep_value=rep_value, median=median, min_peers=min_peers)
        assert band == ref_safe_band(values, colleagues, kind, rep_value=rep_value, median=median, min_peers=min_peers)
        q = float(rng.random())
        got = privacy.safe_quantile(values, q, colleagues, kind, rep_value=rep_value, min_peers=min_peers)
        assert got == ref_safe_quantile(values, q, colleagues, kind, rep_value=rep_value, min_peers=min_peers)
        outcomes["left out" if median is None else "usual" if median == np.nanmedian(values) else "moved"] += 1
    assert min(outcomes.values()) > 50, outcomes  # every way out is compared, many times


def test_a_team_of_five_thousand_gets_its_median_without_the_full_grid():
    """4,999 money figures: their median is one colleague's own figure, so the windows are
    searched until one shows as no colleague's figure; the search never holds the 6.25 million runs of the
    grid (the reference's running sums, distances and order: 200 MB and more)."""
    rng = np.random.default_rng(5000)
    money = np.round(rng.lognormal(11, 0.6, size=4999), 2)
    tracemalloc.start()
    try:
        median = privacy.safe_median(money, money, "currency")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, peak
    # the nearest windows still show as the median does ("60,658", a colleague's): the first one
    # shown otherwise, and as no colleague's figure, is the one
    texts = Counter(fmt_unit("currency", m) for m in money)
    assert texts[fmt_unit("currency", np.median(money))] == 1
    windows = privacy._nearest_windows(np.sort(money), 2499.0)
    assert median == next(w for w in windows if texts[fmt_unit("currency", w)] == 0)
    assert fmt_unit("currency", median) == "60,657"
