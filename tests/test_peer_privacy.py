"""Peer privacy (issue #14 item 5): no number in a rep's report equals one
colleague's own figure at the precision shown, unless three or more reps share it.

Unit tests of :mod:`salesnb.analysis.privacy` with figures worked out by
hand, then a real batch (the package's notebooks, rendered to HTML) over a
planted source of 12 reps: team A has 6 reps (5 peers: every median and
quartile of the usual kind is one colleague's figure), team B 5 (4 peers, 3
for the closed-deal factors: B5 closes too few deals), and C1 is alone
(benchmarked against all 11 others). Every rep page is read back and every
peer figure it shows checked against every colleague's own figures.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from datetime import date, timedelta
from html.parser import HTMLParser

import numpy as np
import pytest
from sources import write_source

from salesnb.analysis.labels import fmt, fmt_unit, label
from salesnb.analysis.privacy import is_safe, safe_band, safe_median, sharing

# -- the protection itself, by hand ----------------------------------------------------

FIVE = [10000, 11000, 12345, 14000, 20000]


def test_a_median_of_five_is_one_colleagues_figure_and_is_replaced_by_the_mean_of_the_middle_three():
    # the usual median, 12,345, is the third colleague's own figure;
    # windows next to rank 2: 11,672.5 (11,000+12,345), 13,172.5, 12,448.33 (the middle three) ...
    # the middle three are nearest 12,345: (11,000 + 12,345 + 14,000) / 3 = 12,448.33
    assert sharing("currency", 12345, FIVE) == 1 and not is_safe("currency", 12345, FIVE)
    assert safe_median(FIVE, FIVE, "currency") == pytest.approx(12448.3333, abs=1e-3)
    assert fmt_unit("currency", safe_median(FIVE, FIVE, "currency")) == "12,448"


def test_quartiles_of_five_are_colleagues_figures_too():
    # 25th percentile of five = the 2nd value, 11,000; nearest mean of a run holding it:
    # (10,000 + 11,000 + 12,345) / 3 = 11,115 (10,500 and 11,672.5 are further away).
    # 75th = the 4th value, 14,000: (11,000+12,345+14,000+20,000) / 4 = 14,336.25 is nearest.
    low, high = safe_band(FIVE, FIVE, "currency", median=12448.33)
    assert (low, high) == (pytest.approx(11115.0), pytest.approx(14336.25))


def test_an_even_median_between_two_colleagues_is_kept():
    assert safe_median([10, 20, 30, 40], [10, 20, 30, 40], "count") == 25.0


def test_an_even_median_that_rounds_onto_a_colleague_is_moved():
    # 20.5 is shown "20" (round half to even), colleague 2's figure; next nearest
    # runs: 23.67 (20, 21, 30) "24" free; 17 (10, 20, 21) is further.
    assert fmt_unit("count", 20.5) == "20"
    assert safe_median([10, 20, 21, 30], [10, 20, 21, 30], "count") == pytest.approx(23.6667, abs=1e-3)


def test_a_figure_three_colleagues_share_gives_none_away():
    rates = [0.5, 0.5, 0.5, 0.6, 0.7]
    assert sharing("share", 0.5, rates) == 3 and safe_median(rates, rates, "share") == 0.5


def test_colleagues_outside_the_peers_count_and_a_colleague_counts_once():
    # the peers' median 25 is free among them, but another colleague (a different team) has 25
    assert safe_median([10, 20, 30, 40], [10, 20, 30, 40, 25], "count") != 25.0
    assert sharing("count", 12, [[12, 12.4], 12, 30]) == 2  # a count and its pace: one colleague


def test_the_figure_stays_on_the_readers_side():
    # usual median 12,345 is below the reader's 12,400: 12,448 would put it above;
    # the nearest run below 12,400 is (10,000+11,000+12,345+14,000)/4 = 11,836.25
    assert safe_median(FIVE, FIVE, "currency", rep_value=12400) == pytest.approx(11836.25)


def test_a_coarser_rounding_three_colleagues_share():
    # win rates 30.5%, 46.2%, 47.5%, 48.9%, 50.8%; the reader wins 47.2% ("47%"), below the
    # usual median 47.5% ("48%", a colleague's). Runs next to it: 46.85% "47%" is the
    # reader's own (no longer above), 48.2%, 48.35% "48%" and 49.07% "49%" are colleagues',
    # the rest fall below. Rounded to 5 points, 47.5% -> 50%, and so do 47.5, 48.9, 50.8:
    # three colleagues share "50%" at that step and none has 50% as shown.
    rates = [0.305, 0.462, 0.475, 0.489, 0.508]
    assert safe_median(rates, rates, "share", rep_value=0.472) == pytest.approx(0.5)


def test_left_out_when_nothing_protects_everyone_or_too_few_peers():
    # 40, 41, 42 days: 40.5 and 41.5 are shown "40" and "42" (half to even), 41 is the
    # median itself; rounded to 2, 5, 10, 20 days: 40, a colleague's; to 50: outside 40..42
    assert safe_median([40, 41, 42], [40, 41, 42], "days") is None
    assert safe_median([10, 20], [10, 20], "count") is None  # two peers: below MIN_PEERS
    assert safe_band(FIVE, FIVE, "currency", median=20000) is None  # a band that misses its median


def test_a_hundred_peers_are_checked_without_formatting_every_colleague_for_every_candidate(monkeypatch):
    # 0, 1, ..., 100: every whole number in the peers' range is one colleague's own
    # figure, so every candidate fails: the median 50; each run's mean (they all lie in
    # 0..100 and are shown as a whole number there); the coarser roundings 50 (step 5,
    # 48..52 round to it), 50 (step 10), 40 (step 20), 50 (step 50) and 0 (steps 100, 200,
    # 500). Nothing is safe: left out. There are 2,600 runs of two or more holding rank 50;
    # formatting each colleague's figure once, not once per candidate (262,000 times), it
    # costs a few thousand.
    from salesnb.analysis import privacy

    calls = Counter()
    real = privacy.fmt_unit

    def counted(*args, **kwargs):
        calls["fmt"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(privacy, "fmt_unit", counted)
    figures = list(range(101))
    assert safe_median(figures, figures, "count") is None
    assert calls["fmt"] < 10_000


# -- every figure of every rep page of a real batch ------------------------------------

PERIOD, AS_OF = "2025-Q2", "2025-07-15"
TEAMS = {"A": 6, "B": 5, "C": 1}


def _reps() -> list[dict]:
    reps = []
    for team, size in TEAMS.items():
        for k in range(1, size + 1):
            reps.append({"rep_id": f"{team}{k}", "name": f"Rep {team}{k}", "territory": "North", "team": f"Team {team}"})
    for i, rep in enumerate(reps):
        rep["annual_cost"] = 40000 + 3700 * i
    return reps


def _opportunities(reps: list[dict]) -> list[dict]:
    """Two quarters of deals per rep, figures different from rep to rep (B5 closes 4 deals in Q2)."""
    rows = []
    for i, rep in enumerate(reps):
        for q, start in enumerate((date(2025, 1, 1), date(2025, 4, 1))):
            count = 5 if rep["rep_id"] == "B5" and q == 1 else 14 + (i * 7) % 11 + q
            wins = 3 + (i * 5 + q) % 5  # of every 10 closed
            for j in range(count):
                created = start + timedelta(days=(j * 3) % 40)
                row = {
                    "opportunity_id": f"O{i}-{q}-{j}",
                    "rep_id": rep["rep_id"],
                    "customer_id": f"C{i}-{q}-{j}",
                    "created_date": created.isoformat(),
                    "closed_date": "",
                    "status": "open",
                    "amount": 4000 + 650 * i + 137 * j + 29 * q,
                }
                if j < count - 2:  # the last two stay open
                    row["closed_date"] = (created + timedelta(days=15 + (i * 3 + j * 2) % 31)).isoformat()
                    row["status"] = "won" if (j * 3) % 10 < wins else "lost"
                rows.append(row)
    return rows


class _Text(HTMLParser):
    """The visible text of a page, cell by cell (no style, script or image data)."""

    def __init__(self):
        super().__init__()
        self.chunks: list[str] = []
        self.rows: list[list[str]] = []
        self._skip = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1
        elif tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._skip:
            return
        self.chunks.append(data)
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    import salesnb
    from salesnb.run.batch import run_batch

    folder = tmp_path_factory.mktemp("privacy")
    reps = _reps()
    source = write_source(folder / "src", {"reps": reps, "opportunities": _opportunities(reps)})
    result = run_batch(source, period=PERIOD, as_of=AS_OF, out=folder / "out", reps=[r["rep_id"] for r in reps])
    pages = {}
    for entry in result.manifest["reports"]:
        assert entry["status"] == "ok", entry["error"]
        pages[entry["key"]] = (folder / "out" / entry["html"]).read_text(encoding="utf-8")
    return salesnb.load(source), pages


def _figures(ds) -> dict:
    """(metric, scope) -> {rep_id: figure as the page shows it}, for every
    metric a rep page shows, in the period, in each quarter of it, and value against cost."""
    from salesnb.analysis.metrics import metrics_over_time, metrics_table
    from salesnb.analysis.periods import parse_period
    from salesnb.analysis.value import value_cost

    span = parse_period(PERIOD, as_of=AS_OF)
    shown: dict = {}

    def add(frame, scope, metrics):
        for metric in metrics:
            if metric in frame:
                for rep_id, value in zip(frame["rep_id"], frame[metric]):
                    shown.setdefault((metric, scope), {})[str(rep_id)] = fmt(metric, value)

    money = ["revenue_won", "avg_deal_size", "pipeline_open_amount", "weighted_pipeline", "clv"]
    counts = ["opportunities", "won", "lost", "open", "closed"]
    every = money + counts + ["win_rate", "cycle_days_median", "value_cost_ratio", "attainment"]
    add(metrics_table(ds, by="rep", period=span, as_of=AS_OF), PERIOD, every)
    quarters = metrics_over_time(ds, by="rep", freq="quarter", start="2025-01-01", end=span.end)
    for quarter, frame in quarters.groupby("period"):
        add(frame, quarter, every)
    add(value_cost(ds, period=span), PERIOD, ["clv", "annual_cost", "value_cost_ratio"])
    return shown


def _leaks(token: str, metrics: list[str], shown: dict, reader: str, colleagues=None, scopes=None) -> list[str]:
    """Where ``token`` is the figure of one or two of ``reader``'s colleagues (and not the
    reader's own); ``colleagues``: whose figures count (default: every other rep);
    ``scopes``: of which periods (default: the period and each quarter)."""
    own = {v for (metric, _), by_rep in shown.items() if metric in metrics for r, v in by_rep.items() if r == reader}
    if token in own:
        return []
    found = []
    for (metric, scope), by_rep in shown.items():
        if metric in metrics and (scopes is None or scope in scopes):
            holders = [r for r, v in by_rep.items() if r != reader and v == token and (colleagues is None or r in colleagues)]
            if 1 <= len(holders) <= 2:
                found.append(f"{token} is {', '.join(holders)}'s {metric} in {scope}")
    return found


def _peer_groups(ds) -> dict[str, set[str]]:
    """rep -> the colleagues a rep's peer figures are taken over: the team, or all reps."""
    from salesnb.analysis.diagnosis import diagnose

    teams = dict(zip(ds.reps["rep_id"], ds.reps["team"]))
    groups = {}
    for d in diagnose(ds, period=PERIOD, as_of=AS_OF):
        rep = d["rep_id"]
        same = [r for r in teams if r != rep and (d["peer_group"] == "all" or teams[r] == teams[rep])]
        groups[rep] = set(same)
    return groups


THIS = {PERIOD}  # the period's figures (2025-Q2 is one quarter: its quarterly figures are the same)
MONEY = ["revenue_won", "avg_deal_size", "pipeline_open_amount", "weighted_pipeline", "clv", "annual_cost"]
BY_LABEL = {label(m): m for m in ("opportunities", "win_rate", "avg_deal_size", "cycle_days_median")}


@pytest.mark.slow
def test_no_rep_page_shows_a_colleagues_own_figure(batch):
    ds, pages = batch
    shown, groups = _figures(ds), _peer_groups(ds)
    assert len(pages) == 12
    assert {len(groups[r]) for r in ("A1", "B1", "C1")} == {5, 4, 11}
    leaks, checked = [], Counter()
    for reader, page in pages.items():
        text = _Text()
        text.feed(page)
        words = " ".join(text.chunks)
        # the rep's own deals named in the focus box (id, customer, amount, days) are the rep's own figures
        words = re.sub(r"\S+ \((?:customer [^,)]*, )?[\d,]+\): (?:open|won|lost)[^.]*\.", " ", words)
        # every money figure anywhere on the page
        for token in re.findall(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])", words):
            checked["money"] += 1
            leaks += [f"{reader}: {w}" for w in _leaks(token, MONEY, shown, reader)]
        for token in re.findall(r"(?<![\d.])\d+(?:\.\d)?x\b", words):
            checked["ratio"] += 1
            leaks += [f"{reader}: {w}" for w in _leaks(token, ["value_cost_ratio"], shown, reader, groups[reader])]
        for token in re.findall(r"(?<![\d.,])\d+ days", words):
            checked["days"] += 1
            leaks += [f"{reader}: {w}" for w in _leaks(token, ["cycle_days_median"], shown, reader, groups[reader], THIS)]
        # every peer median said in words, by the unit it is said in
        for token in re.findall(r"median (?:across all reps )?of (\d[\d,]*(?:%| days)?)", words):
            metric = "win_rate" if token.endswith("%") else "cycle_days_median" if token.endswith("days") else None
            metric = metric or ("avg_deal_size" if "," in token or int(token) >= 1000 else "opportunities")
            checked["words"] += 1
            leaks += [f"{reader} (words): {w}" for w in _leaks(token, [metric], shown, reader, groups[reader], THIS)]
        # the evidence table: each factor's median and middle half, in its metric's own format
        header = next(row for row in text.rows if "Measure" in row)
        for row in text.rows:
            if len(row) == len(header) and row[1] in BY_LABEL:
                metric = BY_LABEL[row[1]]
                for cell in (row[3], *row[4].split(" to ")):
                    if cell not in ("n/a", "too few peers"):
                        checked["table"] += 1
                        leaks += [f"{reader} (table): {w}" for w in _leaks(cell, [metric], shown, reader, groups[reader], THIS)]
    assert not leaks, "\n".join(leaks)
    # the check read real figures: 12 pages x (4 medians + most bands), money and days everywhere
    assert checked["table"] >= 12 * 4 and checked["money"] >= 12 * 4 and checked["days"] >= 12, checked
    assert checked["words"] >= 12 and checked["ratio"] >= 12, checked


@pytest.mark.slow
def test_no_peer_figure_a_chart_draws_is_a_colleagues_own(batch):
    """The charts' inputs: trends per quarter, the factors and value against cost."""
    from salesnb.present.rep_page import TREND_METRICS, rep_report

    ds, _ = batch
    shown, groups = _figures(ds), _peer_groups(ds)
    leaks, checked = [], 0
    for reader in ds.reps["rep_id"]:
        report = rep_report(ds, reader, period=PERIOD, as_of=AS_OF)
        for metric in TREND_METRICS:
            for r in report.trend(metric).to_dict("records"):
                for column in ("peer_low", "peer_median", "peer_high"):
                    if r[column] == r[column]:
                        checked += 1
                        token = fmt(metric, r[column])
                        found = [
                            w for w in _leaks(token, [metric], shown, reader, groups[reader], THIS) if w.endswith(r["quarter"])
                        ]
                        leaks += [f"{reader} trend: {w}" for w in found]
        for r in report.factors.to_dict("records"):
            for column in ("peer_low", "peer_median", "peer_high"):
                if r[column] is not None and r[column] == r[column]:
                    checked += 1
                    leaks += [
                        f"{reader} factor: {w}"
                        for w in _leaks(fmt(r["metric"], r[column]), [r["metric"]], shown, reader, groups[reader], THIS)
                    ]
        ratio = report.value.get("peer_median_ratio")
        if ratio is not None:
            checked += 1
            leaks += [
                f"{reader} value: {w}"
                for w in _leaks(fmt("value_cost_ratio", ratio), ["value_cost_ratio"], shown, reader, groups[reader], THIS)
            ]
    assert not leaks, "\n".join(leaks)
    assert checked >= 12 * (4 + 3 * 2), checked


def test_a_big_teams_safe_median_tries_no_window(monkeypatch):
    """5,000 peers, 100 on each of 1..50 days: the median (25 + 26) / 2 = 25.5 shows as 26 days,
    which 100 colleagues share: safe, so the millions of windows of the next step are never made."""
    import salesnb.analysis.privacy as privacy

    made = []
    monkeypatch.setattr(privacy, "_nearest_windows", lambda values, position: made.append(len(values)) or iter(()))
    days = [float(d) for d in range(1, 51) for _ in range(100)]
    assert privacy.safe_median(days, days, "days") == 25.5
    assert made == []
    # five peers: the median is one of them, so the windows are tried (and the test's stub finds none)
    assert privacy.safe_median(FIVE, FIVE, "currency") != FIVE[2] and made == [5]


def test_a_big_teams_windows_are_the_same_windows_in_the_same_order():
    """The windows' means come from running sums (numpy), in the order the plain loop
    gives: 81 peers, median rank 40, every run of two or more holding it."""
    import salesnb.analysis.privacy as privacy

    values = np.sort(np.random.default_rng(3).integers(1000, 90000, size=81).astype("float64"))
    usual = float(values[40])
    plain = sorted(
        (float(values[a:b].mean()) for a in range(81) for b in range(a + 2, 82) if a <= 40 < b), key=lambda m: abs(m - usual)
    )
    summed = list(privacy._windows(values, 40.0))
    assert len(summed) == len(plain) == 41 * 41 - 1  # starts 0..40, stops 41..81, less the run of one (40, 41)
    assert summed == pytest.approx(plain, rel=1e-12)


def test_a_big_teams_tied_windows_come_from_running_sums_in_the_plain_order():
    """300 whole-number peers (opportunity counts 0..9): thousands of runs lie exactly as
    near the median as each other; they come in the plain loop's order (means to 1e-12),
    and a 5,000-peer team's first windows come without building every run of the team."""
    import salesnb.analysis.privacy as privacy

    values = np.sort(np.random.default_rng(11).integers(0, 10, size=300).astype("float64"))
    usual = float(values[150])
    plain = sorted(
        (float(values[a:b].mean()) for a in range(151) for b in range(151, 301) if b >= a + 2), key=lambda m: abs(m - usual)
    )
    assert list(privacy._windows(values, 150.0)) == pytest.approx(plain, rel=1e-12, abs=1e-12)
    big = np.sort(np.random.default_rng(12).integers(0, 10, size=5000).astype("float64"))
    first = list(itertools.islice(privacy._nearest_windows(big, 2499.5), 5))
    assert len(first) == 5 and all(abs(m - float(np.median(big))) < 1e-9 for m in first)
