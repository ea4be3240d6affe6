"""A rep's quarterly trends beside the peers' median and middle half, as the rep may see them.

:func:`trend_grid` lays every rep's quarterly metrics out once for a batch (a batch
table of rep x quarter arrays); :func:`trends_of` reads one rep's quarters and its
peers' figures off it, each peer figure through :mod:`salesnb.analysis.privacy`
(:func:`safe_peer_figures`), and says where a peer figure is thin or left out and
why (:func:`thin_peer_notes`, :func:`withheld_notes`). :mod:`salesnb.present.rep_page`
puts the result on the page.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb.analysis.periods import Period, data_span
from salesnb.errors import InputError
from salesnb.present.page_text import and_join, plain_value, quarters_text
from salesnb.present.tables import batch_table

__all__ = [
    "TREND_METRICS",
    "CLOSED_METRICS",
    "BAND_MIN_PEERS",
    "TREND_QUARTERS",
    "quarter_window",
    "trend_window",
    "trend_grid",
    "trends_of",
    "withheld_notes",
    "safe_peer_figures",
    "thin_peer_notes",
]

TREND_METRICS = ("win_rate", "revenue_won", "opportunities")
"""The rep's quarterly trends, each against the peer median per quarter."""


CLOSED_METRICS = ("win_rate", "avg_deal_size", "cycle_days_median")
"""Metrics measured on closed deals: peers with a small sample are left out of their median (as in the diagnosis)."""


BAND_MIN_PEERS = 5
"""Fewest peers for a rep report to show their middle half (25th and 75th
percentile) beside the median: with three peers those three numbers would
give away each colleague's figure. With fewer, only the median is shown."""


TREND_QUARTERS = 8
"""How many quarters of history a rep report shows (ending with the period's last quarter)."""


def quarter_window(span: Period, quarters: int, first_day: pd.Timestamp | None) -> list[Period]:
    last = Period.for_quarter(span.end.year, (span.end.month - 1) // 3 + 1)
    window = [last] + [last.previous(n) for n in range(1, max(quarters, 1))]
    window = [q for q in reversed(window) if first_day is None or q.end >= first_day]
    return window or [last]


def trend_window(ds, span: Period, quarters: int) -> list[Period]:
    """The quarters a rep's trends show: up to ``quarters`` ending with ``span``'s, none before the data."""
    try:
        first_day = data_span(ds).start
    except InputError:
        first_day = None
    return quarter_window(span, quarters, first_day)


def trend_grid(ds, *, start: Period, end: Period) -> dict:
    """The quarterly metrics by rep (:func:`salesnb.analysis.metrics.metrics_over_time`,
    quarters ``start`` to ``end``) as arrays a rep page reads its trends off, made
    once for a batch (a batch table): ``reps`` (rep_id, in the table's order),
    ``quarters`` (period label -> column), ``present``, ``has_data`` (opportunities
    or closed deals), ``small`` (small_sample): (rep, quarter) masks; ``values``:
    each of :data:`TREND_METRICS` as a (rep, quarter) array of its column's dtype
    (0 where ``present`` is False); ``notes``: the table's notes. Each page then
    picks its peers' figures by index, not by masks over the whole table."""
    from salesnb.analysis.metrics import metrics_over_time

    table = batch_table(metrics_over_time, ds, by="rep", freq="quarter", start=start, end=end)
    reps, row = np.unique(table["rep_id"].astype(str).to_numpy(dtype=object), return_inverse=True)
    first = np.full(len(reps), len(table))
    np.minimum.at(first, row, np.arange(len(table)))
    order = np.argsort(first, kind="stable")  # the reps in the table's order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    row = rank[row] if len(table) else row
    labels = list(dict.fromkeys(table["period"].astype(str)))
    quarters = {label: j for j, label in enumerate(labels)}
    column = np.array([quarters[p] for p in table["period"].astype(str)], dtype=np.intp)
    shape = (len(reps), len(labels))

    def spread(values, fill):
        out = np.full(shape, fill, dtype=values.dtype)
        out[row, column] = values
        return out

    has_data = (table["opportunities"].fillna(0) > 0) | (table["closed"].fillna(0) > 0)
    return {
        "reps": reps[order],
        "quarters": quarters,
        "present": spread(np.ones(len(table), dtype=bool), False),
        "has_data": spread(has_data.to_numpy(dtype=bool), False),
        "small": spread(table["small_sample"].astype(bool).to_numpy(), False),
        "values": {metric: spread(table[metric].to_numpy(), 0) for metric in TREND_METRICS},
        "notes": list(table.attrs.get("notes", [])),
    }


def trends_of(ds, rep_id, peers, span, quarters, hire) -> tuple[pd.DataFrame, list[str]]:
    from salesnb.analysis.diagnosis import MIN_PEERS
    from salesnb.analysis.metrics import SMALL_SAMPLE_MIN_CLOSED

    window = trend_window(ds, span, quarters)
    grid = batch_table(trend_grid, ds, start=window[0], end=window[-1])
    notes: list[str] = []  # missing-table notes of the metrics are said once, with the data checks
    ids = grid["reps"]
    wanted = {str(p) for p in peers}  # a set: numpy's isin on text compares every pair (5,000 peers: 0.5 s a page)
    is_peer = np.fromiter((r in wanted for r in ids), dtype=bool, count=len(ids))
    found = np.flatnonzero(ids == str(rep_id))
    me = int(found[0]) if len(found) else None
    present, small = grid["present"], grid["small"]
    others = is_peer[:, None] & grid["has_data"]  # peers with data, per quarter
    colleagues = is_peer[:, None] & present & (ids != str(rep_id))[:, None]  # no peer figure may equal theirs
    hired = None if hire is None or pd.isna(hire) else pd.Timestamp(hire)
    rows = []
    for metric in TREND_METRICS:
        pool = others & ~small if metric in CLOSED_METRICS else others
        grid_values = grid["values"][metric]
        for q in window:
            j = grid["quarters"].get(q.label)
            mine = me is not None and j is not None and bool(present[me, j])
            if j is None:
                values, theirs = np.array([], dtype="float64"), np.array([], dtype=grid_values.dtype)
            else:
                values = grid_values[pool[:, j], j].astype("float64")
                values = values[~np.isnan(values)]
                theirs = grid_values[colleagues[:, j], j]
            value = grid_values[me, j] if mine else np.nan
            before_hire = hired is not None and q.end < hired
            own = np.nan if before_hire else plain_value(value, nan=True)
            median, band = safe_peer_figures(values, theirs, metric, own, MIN_PEERS)
            rows.append(
                {
                    "quarter": q.label,
                    "period_start": q.start,
                    "metric": metric,
                    "rep_value": own,
                    "small_sample": bool(small[me, j]) if mine else True,
                    "peer_low": band[0] if band else np.nan,
                    "peer_median": np.nan if median is None else median,
                    "peer_high": band[1] if band else np.nan,
                    "peers": int(len(values)),
                }
            )
    trends = pd.DataFrame(rows)
    order = [q.label for q in window]
    thin = [r["quarter"] for r in rows if r["metric"] == "win_rate" and r["small_sample"] and not pd.isna(r["rep_value"])]
    if thin:
        notes.append(
            f"Fewer than {SMALL_SAMPLE_MIN_CLOSED} deals closed in {quarters_text(thin, order)}: the win rate there is drawn "
            "hollow and means little."
        )
    if hire is not None and not pd.isna(hire) and pd.Timestamp(hire) > window[0].start:
        notes.append(f"Hired {pd.Timestamp(hire):%Y-%m-%d}: quarters before that are left blank.")
    notes += thin_peer_notes(rows, order, MIN_PEERS, SMALL_SAMPLE_MIN_CLOSED)  # off the rows: no masks over the frame
    notes += withheld_notes(rows, order, MIN_PEERS)
    trends.attrs["notes"] = [n for n in grid["notes"] if "expectations.yml" not in n]
    return trends, notes


def _trend_rows(trends) -> list[dict]:
    """The trends (their frame, or its rows as :func:`trends_of` makes them) as rows."""
    return trends.to_dict("records") if isinstance(trends, pd.DataFrame) else trends


def withheld_notes(trends, order: list[str], min_peers: int) -> list[str]:
    """Say where a trend chart leaves a peer figure out although enough peers have data:
    no figure near it is free of a colleague's own (:mod:`salesnb.analysis.privacy`).
    ``trends``: the trends' frame or its rows."""
    from salesnb.analysis.labels import label

    notes = []
    for metric in TREND_METRICS:
        rows = [r for r in _trend_rows(trends) if r["metric"] == metric]
        median = [r["quarter"] for r in rows if r["peers"] >= min_peers and pd.isna(r["peer_median"])]
        band = [
            r["quarter"]
            for r in rows
            if r["peers"] >= BAND_MIN_PEERS and not pd.isna(r["peer_median"]) and pd.isna(r["peer_low"])
        ]
        for quarters, what in ((median, "peer median"), (band, "peers' middle half")):
            if quarters:
                notes.append(
                    f"The {what} of the {label(metric).lower()} is left out in {quarters_text(quarters, order)}: "
                    "any figure near it would be a colleague's own."
                )
    return notes


def safe_peer_figures(values, colleagues, metric: str, rep_value, min_peers: int) -> tuple[float | None, tuple | None]:
    """The peers' median and (from BAND_MIN_PEERS peers) middle half of ``values``
    as a rep may see them (:mod:`salesnb.analysis.privacy`); None where left out."""
    from salesnb.analysis import privacy
    from salesnb.analysis.labels import unit

    own = None if pd.isna(rep_value) else rep_value
    return privacy.safe_median_band(
        values, colleagues, unit(metric), rep_value=own, min_peers=min_peers, band_min_peers=BAND_MIN_PEERS
    )


def thin_peer_notes(trends, order: list[str], min_peers: int, min_closed: int) -> list[str]:
    """Say where a trend chart draws no peer median (fewer than ``min_peers``
    peers with data) or only the median, no middle half (fewer than
    BAND_MIN_PEERS), per chart; charts with the same gaps share a note.
    ``trends``: the trends' frame or its rows (quarter, metric, peers)."""
    from salesnb.analysis.labels import label

    rows = _trend_rows(trends)
    notes = []
    for low, high, consequence in (
        (0, min_peers, "no peer median is drawn there"),
        (min_peers, BAND_MIN_PEERS, "only their median is drawn there, not their middle half"),
    ):
        thin = [r for r in rows if low <= r["peers"] < high]
        by_quarters: dict[tuple, list[str]] = {}
        for metric in TREND_METRICS:
            quarters = tuple(r["quarter"] for r in thin if r["metric"] == metric)
            if quarters:
                by_quarters.setdefault(quarters, []).append(metric)
        for quarters, metrics in by_quarters.items():
            names = and_join([label(m).lower() for m in metrics])
            enough = f" ({min_closed} or more deals closed)" if metrics == ["win_rate"] else ""
            notes.append(
                f"Fewer than {high} peers have enough data{enough} for the {names} in {quarters_text(quarters, order)}: "
                f"{consequence}."
            )
    return notes
