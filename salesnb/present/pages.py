"""What each notebook shows, assembled from the analysis modules.

The notebooks stay a sentence and a call per cell because the assembling
happens here; the metrics themselves are computed by :mod:`salesnb.analysis.metrics`,
:mod:`salesnb.analysis.diagnosis`, :mod:`salesnb.analysis.expectations`, :mod:`salesnb.analysis.value`,
:mod:`salesnb.analysis.forecasts`, :mod:`salesnb.analysis.training` and :mod:`salesnb.analysis.quality`
and are only selected, filtered and summarised across reps here.

:func:`rep_report` gathers exactly what one rep's coaching report may show:
the rep's own figures and, for comparison, the peers' median and middle half
(25th to 75th percentile) -- never another rep's name, id or individual
figure. A peer median needs at least :data:`salesnb.analysis.diagnosis.MIN_PEERS`
peers and a middle half at least :data:`BAND_MIN_PEERS`; with fewer they are
left out, so no colleague's figure can be read back from them. :func:`team_report`, :func:`forecast_report`, :func:`quality_report`
and :func:`training_report` are the manager's and analyst's views, where
reps are named.

:func:`segment` filters a :class:`~salesnb.io.dataset.Dataset` to a team,
territory, customer type or acquisition method, so every metric function
can be run on the segment unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salesnb.analysis import memo
from salesnb.analysis.periods import Period, data_span, parse_period
from salesnb.errors import InputError
from salesnb.io.categorical import coalesce
from salesnb.io.dataset import Dataset

__all__ = [
    "TREND_METRICS",
    "CLOSED_METRICS",
    "QUALITY_ADVICE",
    "QUALITY_SECTIONS",
    "RepReport",
    "TeamReport",
    "ForecastReport",
    "QualityReport",
    "BREAKDOWNS",
    "BREAKDOWN_COLUMNS",
    "rep_report",
    "team_report",
    "forecast_report",
    "quality_report",
    "training_report",
    "segment",
    "segment_options",
    "rep_label",
    "warm_up",
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

QUALITY_ADVICE = {
    "padded_activity": (
        "log each contact against the customer or opportunity it was about, on the day it "
        "happened; contacts logged in bulk at month end say nothing about the work done."
    ),
    "stale_pipeline": (
        "update or close these deals: record the latest contact and next step, move the expected close date, or mark them lost."
    ),
    "small_sample": "read these rates as rough; compare over a longer period before drawing conclusions.",
    "closed_before_created": "correct the created or closed date in the CRM.",
    "missing_required": "fill in the missing value in the source.",
    "orphan_rep": "add the rep to the reps table, or correct the rep_id on the row.",
    "duplicate_id": "give every row its own ID, or remove the repeated row.",
    "quarantined": (
        "fix the rows listed by `salesnb validate SOURCE --quarantine-out bad.csv` and reload; "
        "until then they are left out of every figure."
    ),
}
"""Flag -> what to fix, in plain words (loader findings carry their own ``Fix:`` hint)."""

QUALITY_SECTIONS = {
    "small_sample": "funnel",
    "padded_activity": "scorecard",
    "stale_pipeline": "scorecard",
}
"""Flag -> the rep-report section whose figures it affects; other flags go with the funnel (deal counts)."""


# -- segments ----------------------------------------------------------------------

SEGMENT_FILTERS = ("team", "territory", "customer_type", "acquisition_method")


def segment(ds: Dataset, *, team=None, territory=None, customer_type=None, acquisition_method=None) -> Dataset:
    """The part of ``ds`` in one segment; blank or None filters are ignored.

    ``team`` and ``territory`` select reps (the reps table's columns, as
    ``metrics_table(by="territory")`` groups them) and keep those reps' deals,
    contacts, forecasts, training, owned customers and those customers'
    orders. ``customer_type`` and ``acquisition_method`` select customers
    and keep only the deals, contacts and orders with them; a deal's
    acquisition method is its own, else its customer's (as in
    :func:`salesnb.analysis.metrics.metrics_table`). Values match case-insensitively.

    Quotas and forecasts cover a rep's whole business, so a customer segment
    drops them (they would be compared with a part of the revenue); the
    returned Dataset's ``notes`` say so.
    """
    from salesnb.analysis.metrics import customer_book

    wanted = {
        name: _fold(value)
        for name, value in (
            ("team", team),
            ("territory", territory),
            ("customer_type", customer_type),
            ("acquisition_method", acquisition_method),
        )
        if not _blank(value)
    }
    if not wanted:
        return ds
    reps = ds.reps
    keep = np.ones(len(reps), dtype=bool)
    for column in ("team", "territory"):
        if column in wanted:
            keep &= reps[column].map(_fold).eq(wanted[column]).to_numpy()
    rep_ids = set(reps.loc[keep, "rep_id"])
    by_rep = "team" in wanted or "territory" in wanted
    by_customer = "customer_type" in wanted or "acquisition_method" in wanted

    opps, customers, acts, orders = ds.opportunities, ds.customers, ds.activities, ds.orders
    book = customer_book(opps, customers)  # owner and acquisition method of every known customer
    owner = pd.Series(book["rep_id"].to_numpy(), index=book["customer_id"])
    customer_ok = pd.Series(True, index=book["customer_id"])
    if "customer_type" in wanted:
        customer_ok &= book["customer_type"].map(_fold).eq(wanted["customer_type"]).to_numpy()
    if "acquisition_method" in wanted:
        customer_ok &= book["acquisition_method"].map(_fold).eq(wanted["acquisition_method"]).to_numpy()
    if by_rep:
        customer_ok &= book["rep_id"].isin(rep_ids).to_numpy() | book["rep_id"].isna().to_numpy()
    customer_ok = customer_ok[~customer_ok.index.duplicated(keep="first")]
    kept_customers = set(customer_ok.index[customer_ok.to_numpy()])

    # deals
    deal_ok = np.ones(len(opps), dtype=bool)
    if by_rep:
        deal_ok &= opps["rep_id"].isin(rep_ids).to_numpy()
    if "customer_type" in wanted:
        types = (
            customers.drop_duplicates("customer_id").set_index("customer_id")["customer_type"]
            if customers is not None
            else pd.Series(dtype="str")
        )
        deal_ok &= opps["customer_id"].map(types).map(_fold).eq(wanted["customer_type"]).to_numpy()
    deal_method = None
    if "acquisition_method" in wanted:
        methods = (
            customers.drop_duplicates("customer_id").set_index("customer_id")["acquisition_method"]
            if customers is not None
            else pd.Series(dtype="str")
        )
        deal_method = coalesce(opps["acquisition_method"], opps["customer_id"].map(methods))
        deal_ok &= deal_method.map(_fold).eq(wanted["acquisition_method"]).to_numpy()
    new_opps = opps[deal_ok]
    kept_deals = set(new_opps["opportunity_id"])

    tables = dict(ds.tables)
    tables["reps"] = reps[keep].reset_index(drop=True)
    tables["opportunities"] = new_opps.reset_index(drop=True)
    if customers is not None:
        tables["customers"] = customers[customers["customer_id"].isin(kept_customers).to_numpy()].reset_index(drop=True)
    if acts is not None:
        act_ok = np.ones(len(acts), dtype=bool)
        if by_rep:
            act_ok &= acts["rep_id"].isin(rep_ids).to_numpy()
        if by_customer:
            # a contact belongs to the segment of its deal, else of its customer
            on_deal = (
                acts["opportunity_id"].notna().to_numpy() & acts["opportunity_id"].isin(set(opps["opportunity_id"])).to_numpy()
            )
            act_ok &= np.where(
                on_deal, acts["opportunity_id"].isin(kept_deals).to_numpy(), acts["customer_id"].isin(kept_customers).to_numpy()
            )
        tables["activities"] = acts[act_ok].reset_index(drop=True)
    if orders is not None:
        order_owner = coalesce(orders["customer_id"].map(owner), orders["rep_id"])
        order_ok = np.ones(len(orders), dtype=bool)
        if by_rep:
            order_ok &= order_owner.isin(rep_ids).to_numpy()
        if by_customer:
            order_ok &= orders["customer_id"].isin(kept_customers).to_numpy()
        tables["orders"] = orders[order_ok].reset_index(drop=True)
    for name in ("training", "forecasts"):
        frame = ds.table(name)
        if frame is not None:
            frame = frame[frame["rep_id"].isin(rep_ids).to_numpy()] if by_rep else frame
            if name == "forecasts" and by_customer:
                frame = frame.iloc[0:0]
            tables[name] = frame.reset_index(drop=True)
    notes = list(ds.notes)
    expectations = ds.expectations
    if by_customer:
        expectations = None
        notes.append("A customer segment leaves out quotas and forecasts: they cover a rep's whole business.")
    described = ", ".join(
        f"{k.replace('_', ' ')} {v}"
        for k, v in (
            ("team", team),
            ("territory", territory),
            ("customer_type", customer_type),
            ("acquisition_method", acquisition_method),
        )
        if not _blank(v)
    )
    return dataclasses.replace(
        ds, tables=tables, expectations=expectations, notes=notes, source=f"{ds.source} [segment: {described}]"
    )


def segment_options(ds: Dataset) -> dict[str, list[str]]:
    """The values each :func:`segment` filter can take in ``ds``, sorted."""

    def values(*series):
        seen: dict[str, str] = {}
        for s in series:
            if s is None:
                continue
            for v in s.dropna().astype(str):
                if v.strip():
                    seen.setdefault(_fold(v), v.strip())
        return sorted(seen.values(), key=str.casefold)

    customers = ds.customers
    return {
        "team": values(ds.reps["team"]),
        "territory": values(ds.reps["territory"]),
        "customer_type": values(customers["customer_type"] if customers is not None else None),
        "acquisition_method": values(
            ds.opportunities["acquisition_method"], customers["acquisition_method"] if customers is not None else None
        ),
    }


# -- one rep's report ----------------------------------------------------------------


@dataclass
class RepReport:
    """Everything one rep's coaching report shows, and nothing more.

    Attributes
    ----------
    rep : dict
        rep_id, name, team, territory of this rep.
    period : Period
    figures : dict
        This rep's metrics for the period (metrics_table's row, as plain values).
    diagnosis : dict
        :func:`salesnb.analysis.diagnosis.diagnose` for this rep.
    factors : DataFrame
        factor, metric, rep_value, peer_low, peer_median, peer_high, gap_pct,
        n, small_sample, is_focus: the rep against the peers' band.
    scorecard : DataFrame
        This rep's expectations (:func:`salesnb.analysis.scorecard.scorecard`).
    trends : DataFrame
        quarter, period_start, metric, rep_value, small_sample, peer_low,
        peer_median, peer_high, peers: per quarter of the last
        :data:`TREND_QUARTERS`, for each of :data:`TREND_METRICS`.
    value : dict
        clv, annual_cost, value_cost_ratio, clv_source, peer_median_ratio, peers.
    forecasts : DataFrame
        period, period_start, forecast_amount, actual, forecast_error_pct.
    quality : DataFrame
        :func:`salesnb.analysis.quality.quality_for_rep` (flag, table, rows, detail).
    quarantined_rows : int
        Rows of the whole source set aside (a count only).
    peer_group, peer_label : str
        ``team`` or ``all``; "team" or "all-rep" as the text says it.
    notes : dict
        Section -> notes to show beside its figures: ``funnel``,
        ``scorecard``, ``trends``, ``value``, ``forecasts``, ``quality``.
    """

    rep: dict
    period: Period
    figures: dict
    diagnosis: dict
    factors: pd.DataFrame
    scorecard: pd.DataFrame
    trends: pd.DataFrame
    value: dict
    forecasts: pd.DataFrame
    quality: pd.DataFrame
    quarantined_rows: int
    peer_group: str
    peer_label: str
    notes: dict = field(default_factory=dict)

    def notes_for(self, section: str) -> list[str]:
        """The notes to show next to ``section``'s figures."""
        return list(self.notes.get(section, []))

    def value_frame(self) -> pd.DataFrame:
        """label ("You", "Team median"), value_cost_ratio: the value-vs-cost comparison as rows."""
        rows = [{"label": "You", "value_cost_ratio": self.value.get("value_cost_ratio")}]
        if self.value.get("peer_median_ratio") is not None:
            rows.append({"label": f"{self.peer_label.capitalize()} median", "value_cost_ratio": self.value["peer_median_ratio"]})
        return pd.DataFrame(rows).astype({"value_cost_ratio": "float64"})

    def trend(self, metric: str) -> pd.DataFrame:
        """The quarterly trend of one of :data:`TREND_METRICS`."""
        if metric not in TREND_METRICS:
            raise InputError(f"no trend for {metric!r}; choose one of {', '.join(TREND_METRICS)}")
        return self.trends[self.trends["metric"] == metric].reset_index(drop=True)


def rep_report(ds: Dataset, rep_id: str, *, period, as_of=None, quarters: int = TREND_QUARTERS) -> RepReport:
    """Assemble what ``rep_id``'s coaching report for ``period`` shows.

    Peers are the ones the diagnosis benchmarks against (the rep's team when
    it has enough reps with data, else all reps), the rep excluded; every
    peer figure is a median or percentile over at least
    :data:`salesnb.analysis.diagnosis.MIN_PEERS` peers.
    """
    from salesnb.analysis.diagnosis import diagnose, peer_counts, require_rep, with_active_share
    from salesnb.analysis.metrics import metrics_table
    from salesnb.analysis.quality import quality_flags, quality_for_rep
    from salesnb.analysis.scorecard import scorecard

    as_of = _as_of(as_of)
    require_rep(ds, rep_id)
    span = parse_period(period, as_of=as_of)
    reps = ds.reps.drop_duplicates("rep_id").set_index("rep_id")
    own = reps.loc[rep_id]
    rep = {"rep_id": rep_id, "name": _text(own["name"]), "team": _text(own["team"]), "territory": _text(own["territory"])}

    table = memo.call(metrics_table, ds, by="rep", period=span, as_of=as_of)
    row = table[table["rep_id"] == rep_id].iloc[0]
    figures = {k: _plain(v) for k, v in row.items() if k not in ("rep_id", "name", "team", "territory")}
    # every rep's diagnosis (as diagnose(..., rep=rep_id) computes anyway), then this rep's
    diagnosis = [d for d in memo.call(diagnose, ds, period=span, as_of=as_of) if d["rep_id"] == rep_id][0]
    group = diagnosis["peer_group"]
    peers = _peer_ids(reps, rep_id, group)
    peer_label = "team" if group == "team" else "all-rep"

    # the peers each factor's figures rest on, by diagnosis's own rule (prospecting: their paces)
    counts = peer_counts(with_active_share(table, ds.reps, span), rep_id)
    band = {factor: n >= BAND_MIN_PEERS for factor, n in counts.items()}
    factors = pd.DataFrame(
        [
            {
                "factor": e["factor"],
                "metric": e["metric"],
                "rep_value": e["rep_value"],
                "peer_low": e["peer_band"][0] if e["peer_band"] and band[e["factor"]] else None,
                "peer_median": e["peer_median"],
                "peer_high": e["peer_band"][1] if e["peer_band"] and band[e["factor"]] else None,
                "gap_pct": e["gap_pct"],
                "n": e["n"],
                "small_sample": e["small_sample"],
                "is_focus": e["factor"] == diagnosis["focus"],
            }
            for e in diagnosis["evidence"]
        ],
        columns=[
            "factor",
            "metric",
            "rep_value",
            "peer_low",
            "peer_median",
            "peer_high",
            "gap_pct",
            "n",
            "small_sample",
            "is_focus",
        ],
    )

    card = scorecard(ds, period=span, rep=rep_id)
    card_notes = list(card.attrs.get("notes", []))
    card = card.drop(columns="rep_id").reset_index(drop=True)

    hire = own.get("hire_date") if "hire_date" in reps.columns else None
    trends, trend_notes = _trends(ds, rep_id, peers, span, quarters, hire)
    value, value_notes = _value(ds, rep_id, peers, span, peer_label)
    forecasts, forecast_notes = _rep_forecasts(ds, rep_id, trends, span)

    flags = quality_for_rep(memo.call(quality_flags, ds, period=span, as_of=as_of), rep_id)
    flags = flags.drop(columns="rep_id")
    notes = {
        "funnel": list(diagnosis.get("notes", [])),
        "scorecard": card_notes,
        "trends": trend_notes,
        "value": value_notes,
        "forecasts": forecast_notes,
        "quality": [],
    }
    for r in flags.to_dict("records"):
        notes[QUALITY_SECTIONS.get(r["flag"], "funnel")].append(_flag_note(r))
    said = {n for section in notes.values() for n in section}
    notes["quality"] += [n for n in trends.attrs.get("notes", []) if n not in said]
    if ds.quarantined_rows:
        notes["quality"].append(
            f"{ds.quarantined_rows:,} rows of the source broke the data contract and were set aside; "
            "they are left out of every figure in this report."
        )
    return RepReport(
        rep=rep,
        period=span,
        figures=figures,
        diagnosis=diagnosis,
        factors=factors,
        scorecard=card,
        trends=trends,
        value=value,
        forecasts=forecasts,
        quality=flags,
        quarantined_rows=int(ds.quarantined_rows),
        peer_group=group,
        peer_label=peer_label,
        notes=notes,
    )


def _peer_ids(reps: pd.DataFrame, rep_id: str, group: str) -> list[str]:
    others = reps.index[reps.index != rep_id]
    if group == "team":
        team = _fold(reps.at[rep_id, "team"])
        others = [r for r in others if _fold(reps.at[r, "team"]) == team]
    return [str(r) for r in others]


def _quarter_window(span: Period, quarters: int, first_day: pd.Timestamp | None) -> list[Period]:
    last = Period.for_quarter(span.end.year, (span.end.month - 1) // 3 + 1)
    window = [last] + [last.previous(n) for n in range(1, max(quarters, 1))]
    window = [q for q in reversed(window) if first_day is None or q.end >= first_day]
    return window or [last]


def _trends(ds, rep_id, peers, span, quarters, hire) -> tuple[pd.DataFrame, list[str]]:
    from salesnb.analysis.diagnosis import MIN_PEERS
    from salesnb.analysis.metrics import SMALL_SAMPLE_MIN_CLOSED, metrics_over_time

    try:
        first_day = data_span(ds).start
    except InputError:
        first_day = None
    window = _quarter_window(span, quarters, first_day)
    table = memo.call(metrics_over_time, ds, by="rep", freq="quarter", start=window[0], end=window[-1])
    notes: list[str] = []  # missing-table notes of the metrics are said once, with the data checks
    has_data = (table["opportunities"].fillna(0) > 0) | (table["closed"].fillna(0) > 0)
    mine = table[table["rep_id"] == rep_id].set_index("period")
    others = table[table["rep_id"].isin(peers) & has_data]
    rows = []
    for metric in TREND_METRICS:
        pool = others[~others["small_sample"].astype(bool)] if metric in CLOSED_METRICS else others
        for q in window:
            values = pool.loc[pool["period"] == q.label, metric].dropna().to_numpy(dtype="float64")
            enough = len(values) >= MIN_PEERS
            banded = len(values) >= BAND_MIN_PEERS
            value = mine.at[q.label, metric] if q.label in mine.index else np.nan
            before_hire = hire is not None and not pd.isna(hire) and q.end < pd.Timestamp(hire)
            rows.append(
                {
                    "quarter": q.label,
                    "period_start": q.start,
                    "metric": metric,
                    "rep_value": np.nan if before_hire else _plain(value, nan=True),
                    "small_sample": bool(mine.at[q.label, "small_sample"]) if q.label in mine.index else True,
                    "peer_low": float(np.percentile(values, 25)) if banded else np.nan,
                    "peer_median": float(np.median(values)) if enough else np.nan,
                    "peer_high": float(np.percentile(values, 75)) if banded else np.nan,
                    "peers": int(len(values)),
                }
            )
    trends = pd.DataFrame(rows)
    order = [q.label for q in window]
    thin = trends[(trends["metric"] == "win_rate") & trends["small_sample"] & trends["rep_value"].notna()]["quarter"].tolist()
    if thin:
        notes.append(
            f"Fewer than {SMALL_SAMPLE_MIN_CLOSED} deals closed in {_quarters(thin, order)}: the win rate there is drawn "
            "hollow and means little."
        )
    if hire is not None and not pd.isna(hire) and pd.Timestamp(hire) > window[0].start:
        notes.append(f"Hired {pd.Timestamp(hire):%Y-%m-%d}: quarters before that are left blank.")
    notes += _thin_peer_notes(trends, order, MIN_PEERS, SMALL_SAMPLE_MIN_CLOSED)
    trends.attrs["notes"] = [n for n in table.attrs.get("notes", []) if "expectations.yml" not in n]
    return trends, notes


def _thin_peer_notes(trends: pd.DataFrame, order: list[str], min_peers: int, min_closed: int) -> list[str]:
    """Say where a trend chart draws no peer median (fewer than ``min_peers``
    peers with data) or only the median, no middle half (fewer than
    BAND_MIN_PEERS), per chart; charts with the same gaps share a note."""
    from salesnb.analysis.labels import label

    notes = []
    for low, high, consequence in (
        (0, min_peers, "no peer median is drawn there"),
        (min_peers, BAND_MIN_PEERS, "only their median is drawn there, not their middle half"),
    ):
        thin = trends[(trends["peers"] >= low) & (trends["peers"] < high)]
        by_quarters: dict[tuple, list[str]] = {}
        for metric in TREND_METRICS:
            quarters = tuple(thin.loc[thin["metric"] == metric, "quarter"])
            if quarters:
                by_quarters.setdefault(quarters, []).append(metric)
        for quarters, metrics in by_quarters.items():
            names = _and([label(m).lower() for m in metrics])
            enough = f" ({min_closed} or more deals closed)" if metrics == ["win_rate"] else ""
            notes.append(
                f"Fewer than {high} peers have enough data{enough} for the {names} in {_quarters(quarters, order)}: "
                f"{consequence}."
            )
    return notes


def _value(ds, rep_id, peers, span, peer_label) -> tuple[dict, list[str]]:
    from salesnb.analysis.diagnosis import MIN_PEERS
    from salesnb.analysis.value import value_cost

    frame = memo.call(value_cost, ds, period=span)
    own = frame[frame["rep_id"] == rep_id]
    ratios = frame.loc[frame["rep_id"].isin(peers), "value_cost_ratio"].dropna().to_numpy(dtype="float64")
    enough = len(ratios) >= MIN_PEERS
    record = own.iloc[0] if len(own) else None
    value = {
        "clv": _plain(record["clv"]) if record is not None else 0.0,
        "annual_cost": _plain(record["annual_cost"]) if record is not None else None,
        "value_cost_ratio": _plain(record["value_cost_ratio"]) if record is not None else None,
        "clv_source": str(record["clv_source"]) if record is not None else None,
        "peer_median_ratio": float(np.median(ratios)) if enough else None,
        "peers": int(len(ratios)),
    }
    source = value["clv_source"]
    notes = []
    if source == "orders":
        notes.append(f"Lifetime value is the revenue your customers have actually paid (orders) up to {span.end:%Y-%m-%d}.")
    elif source == "won_opportunities":
        notes.append(
            f"Lifetime value is the value of deals won with your customers up to {span.end:%Y-%m-%d} "
            "(no orders table: realised revenue would be more exact)."
        )
    if value["annual_cost"] is None:
        notes.append("No annual_cost in the reps table for this rep: add it to compare value with cost.")
    if not enough:
        notes.append(f"Too few peers with a recorded cost to give the {peer_label} median.")
    return value, notes


def _rep_forecasts(ds, rep_id, trends, span) -> tuple[pd.DataFrame, list[str]]:
    from salesnb.analysis.forecasts import forecast_accuracy

    columns = ["period", "period_start", "forecast_amount", "actual", "forecast_error_pct"]
    accuracy = memo.call(forecast_accuracy, ds)
    notes = list(accuracy.attrs.get("notes", []))
    if ds.forecasts is None:
        return pd.DataFrame(columns=columns), notes
    start = trends["period_start"].min()
    mine = accuracy[(accuracy["rep_id"] == rep_id) & (accuracy["period_start"] >= start) & (accuracy["period_end"] <= span.end)]
    mine = mine.sort_values("period_start")[columns].reset_index(drop=True)
    if mine.empty:
        notes.append("No forecasts from this rep for these periods.")
    else:
        notes.append("Error = (forecast - revenue won) / revenue won: above zero means the forecast was too high.")
    return mine, notes


def _flag_note(record: dict) -> str:
    name = str(record["flag"]).replace("_", " ")
    detail = str(record.get("detail") or "")
    text = f"Data check, {name}: {detail}"
    advice = QUALITY_ADVICE.get(record["flag"])
    if advice and "Fix:" not in detail:
        text += f". What to do: {advice}"
    return text


# -- the manager's view ----------------------------------------------------------------


@dataclass
class TeamReport:
    """A team's (or every rep's) overview, reps named.

    ``members``: rep_id, name, team, territory, label; ``metrics``: their
    metrics_table rows; ``diagnoses``: their diagnosis dicts; ``focus``:
    one row per rep (label, focus, metric, rep_value, peer_median, gap_pct,
    peer_group, summary); ``teams``: metrics_table by team (the team's row,
    or every team's); ``bands``: per factor and rep the rep's value and the
    team's 25th/50th/75th percentile; ``breakdowns``: metrics_table of the
    team's data by territory, customer_type and acquisition_method;
    ``value``: value_cost per rep.
    """

    team: str | None
    title: str
    period: Period
    teams: pd.DataFrame
    members: pd.DataFrame
    metrics: pd.DataFrame
    diagnoses: list
    focus: pd.DataFrame
    bands: pd.DataFrame
    breakdowns: dict
    value: pd.DataFrame
    notes: list = field(default_factory=list)

    def band(self, factor: str) -> pd.DataFrame:
        """The rows of :attr:`bands` for one funnel factor."""
        return self.bands[self.bands["factor"] == factor].reset_index(drop=True)


BREAKDOWNS = ("territory", "customer_type", "acquisition_method")

BREAKDOWN_COLUMNS = {
    by: [
        by,
        "opportunities",
        "won",
        "lost",
        "win_rate",
        "revenue_won",
        "avg_deal_size",
        "cycle_days_median",
        "clv",
        "value_cost_ratio",
    ]
    for by in BREAKDOWNS
}
"""The columns a breakdown table shows."""


def team_report(ds: Dataset, team=None, *, period, as_of=None) -> TeamReport:
    """The manager's view of ``team`` (blank or None: every rep) in ``period``."""
    from salesnb.analysis.diagnosis import diagnose
    from salesnb.analysis.metrics import metrics_table
    from salesnb.analysis.value import value_cost

    as_of = _as_of(as_of)
    span = parse_period(period, as_of=as_of)
    reps = ds.reps.drop_duplicates("rep_id")
    if _blank(team):
        team, title = None, "All reps"
        members = reps
    else:
        members = reps[reps["team"].map(_fold).eq(_fold(team)).to_numpy()]
        if members.empty:
            known = segment_options(ds)["team"]
            raise InputError(f"no team {team!r} in the reps table; known teams: {', '.join(known) or 'none'}")
        title = f"Team {str(members['team'].iloc[0])}"
    ids = list(members["rep_id"])
    members = (
        members[["rep_id", "name", "team", "territory"]]
        .assign(label=[rep_label(r, n) for r, n in zip(members["rep_id"], members["name"])])
        .reset_index(drop=True)
    )
    labels = dict(zip(members["rep_id"], members["label"]))

    table = memo.call(metrics_table, ds, by="rep", period=span, as_of=as_of)
    metrics = table[table["rep_id"].isin(ids)].reset_index(drop=True)
    metrics.insert(1, "label", metrics["rep_id"].map(labels))
    diagnoses = [d for d in memo.call(diagnose, ds, period=span, as_of=as_of) if d["rep_id"] in set(ids)]

    focus_rows, band_rows = [], []
    for d in diagnoses:
        top = d["evidence"][0] if d["focus"] else None
        focus_rows.append(
            {
                "rep_id": d["rep_id"],
                "label": labels[d["rep_id"]],
                "focus": d["focus"] or "none",
                "metric": top["metric"] if top else None,
                "rep_value": top["rep_value"] if top else None,
                "peer_median": top["peer_median"] if top else None,
                "gap_pct": top["gap_pct"] if top else None,
                "peer_group": d["peer_group"],
                "summary": d["summary"],
            }
        )
        for e in d["evidence"]:
            band_rows.append(
                {
                    "factor": e["factor"],
                    "metric": e["metric"],
                    "rep_id": d["rep_id"],
                    "label": labels[d["rep_id"]],
                    "value": e["rep_value"],
                    "small_sample": bool(e["small_sample"]),
                    "is_focus": e["factor"] == d["focus"],
                }
            )
    focus = pd.DataFrame(
        focus_rows, columns=["rep_id", "label", "focus", "metric", "rep_value", "peer_median", "gap_pct", "peer_group", "summary"]
    )
    bands = pd.DataFrame(band_rows, columns=["factor", "metric", "rep_id", "label", "value", "small_sample", "is_focus"])
    bands = _with_team_band(bands)

    scoped = segment(ds, team=team) if team is not None else ds
    breakdowns = {by: _drop_empty_unknown(metrics_table(scoped, by=by, period=span, as_of=as_of)) for by in BREAKDOWNS}
    teams = memo.call(metrics_table, ds, by="team", period=span, as_of=as_of)
    if team is not None:
        teams = teams[teams["team"].map(_fold).eq(_fold(team)).to_numpy()].reset_index(drop=True)
    value = memo.call(value_cost, ds, period=span)
    value = value[value["rep_id"].isin(ids)].reset_index(drop=True)
    value.insert(1, "label", value["rep_id"].map(labels))
    notes = [n for n in table.attrs.get("notes", [])]
    return TeamReport(
        team=team,
        title=title,
        period=span,
        teams=teams,
        members=members,
        metrics=metrics,
        diagnoses=diagnoses,
        focus=focus,
        bands=bands,
        breakdowns=breakdowns,
        value=value,
        notes=notes,
    )


def _drop_empty_unknown(table: pd.DataFrame) -> pd.DataFrame:
    """Leave out an "(unknown)" group with no deal and no customer value (e.g. only
    contacts linked to no customer: the data-quality report counts those)."""
    from salesnb.analysis.metrics import UNKNOWN

    column = table.columns[0]
    counts = table[["opportunities", "won", "lost", "open"]].fillna(0).sum(axis=1)
    empty = table[column].eq(UNKNOWN) & counts.eq(0) & table["clv"].fillna(0).eq(0)
    out = table[~empty.to_numpy()].reset_index(drop=True)
    out.attrs = dict(table.attrs)
    return out


def _with_team_band(bands: pd.DataFrame) -> pd.DataFrame:
    """Add the team's 25th percentile, median and 75th percentile per factor
    (reps with a value; small samples left out for closed-deal metrics)."""
    out = []
    for _factor, rows in bands.groupby("factor", sort=False):
        usable = rows["value"].notna()
        if rows["metric"].iloc[0] in CLOSED_METRICS:
            usable &= ~rows["small_sample"]
        values = rows.loc[usable, "value"].to_numpy(dtype="float64")
        low, mid, high = np.percentile(values, [25, 50, 75]) if len(values) else (np.nan,) * 3
        out.append(rows.assign(band_low=low, band_median=mid, band_high=high, band_reps=len(values)))
    if not out:
        return bands.assign(band_low=np.nan, band_median=np.nan, band_high=np.nan, band_reps=0)
    return pd.concat(out, ignore_index=True)


# -- forecasts, quality, training ---------------------------------------------------------


@dataclass
class ForecastReport:
    """Forecast accuracy per rep and period, and who is consistently off.

    ``accuracy``: every forecast up to the period's end (rep_id, label,
    period, period_start, forecast_amount, actual, forecast_error_pct);
    ``bias``: :func:`salesnb.analysis.forecasts.forecast_bias` over the same
    forecasts, with ``label``; ``period_table``: the period's
    forecast_amount, revenue_won and forecast_error_pct per rep.
    """

    period: Period
    accuracy: pd.DataFrame
    bias: pd.DataFrame
    period_table: pd.DataFrame
    notes: list = field(default_factory=list)


def forecast_report(ds: Dataset, *, period, as_of=None) -> ForecastReport:
    """Forecasts against results, from the start of the data to the end of ``period``."""
    from salesnb.analysis.forecasts import forecast_accuracy, forecast_bias
    from salesnb.analysis.metrics import metrics_table

    as_of = _as_of(as_of)
    span = parse_period(period, as_of=as_of)
    history = Period.between(min(data_span(ds).start, span.start), span.end)
    labels = _labels(ds)
    accuracy = forecast_accuracy(ds, period=history)
    bias = forecast_bias(ds, period=history)
    notes = list(accuracy.attrs.get("notes", []))
    accuracy = accuracy.assign(label=accuracy["rep_id"].map(labels))
    bias = bias.assign(label=bias["rep_id"].map(labels))
    table = memo.call(metrics_table, ds, by="rep", period=span, as_of=as_of)
    period_table = table[["rep_id", "name", "forecast_amount", "revenue_won", "forecast_error_pct"]].assign(
        label=table["rep_id"].map(labels)
    )
    return ForecastReport(period=span, accuracy=accuracy, bias=bias, period_table=period_table, notes=notes)


@dataclass
class QualityReport:
    """Every data-quality flag, per rep and per table, with what to fix.

    ``flags``: :func:`salesnb.analysis.quality.quality_flags` with ``label`` and
    ``advice``; ``by_rep``: rows flagged per rep and flag (wide);
    ``quarantine``: rows set aside per table and flag; ``problems``: the
    loader's located problems (file, line, column, value, message, hint);
    ``kept``: rows kept per table.
    """

    period: Period
    flags: pd.DataFrame
    by_rep: pd.DataFrame
    quarantine: pd.DataFrame
    problems: pd.DataFrame
    kept: pd.DataFrame


def quality_report(ds: Dataset, *, period, as_of=None) -> QualityReport:
    """The data behind the figures: flags per rep and table, quarantine and problems."""
    from salesnb.analysis.quality import quality_flags

    as_of = _as_of(as_of)
    span = parse_period(period, as_of=as_of)
    labels = _labels(ds)
    flags = memo.call(quality_flags, ds, period=span, as_of=as_of)
    flags = flags.assign(
        label=flags["rep_id"].map(lambda r: labels.get(r, r) if r is not None else "whole source"),
        advice=flags["flag"].map(lambda f: QUALITY_ADVICE.get(f, "see the detail and correct the source.")),
    )
    per_rep = flags[flags["rep_id"].notna()]
    if per_rep.empty:
        by_rep = pd.DataFrame(columns=["label"])
    else:
        by_rep = per_rep.pivot_table(index="label", columns="flag", values="rows", aggfunc="sum", fill_value=0, observed=True)
        by_rep = by_rep.reset_index()
        by_rep.columns.name = None
    quarantine = _quarantine_counts(ds.quarantine)
    problems = pd.DataFrame(
        [p.to_dict() for p in ds.problems],
        columns=["table", "file", "line", "column", "value", "message", "hint", "flag", "severity", "unit", "source_column"],
    )
    # the column as the user's file names it (a mapping.yml rename), for the reader to find it
    problems["file_column"] = problems["source_column"].where(problems["source_column"].notna(), problems["column"])
    kept = pd.DataFrame(
        {
            "table": list(ds.tables),
            "rows": [len(f) for f in ds.tables.values()],
            "file": [ds.files.get(name, "") for name in ds.tables],
        }
    )
    return QualityReport(period=span, flags=flags, by_rep=by_rep, quarantine=quarantine, problems=problems, kept=kept)


def _quarantine_counts(quarantine) -> pd.DataFrame:
    columns = ["table", "flag", "rows"]
    if quarantine is None or len(quarantine) == 0:
        return pd.DataFrame(columns=columns)
    rows = []
    for table, flags in zip(quarantine["table"], quarantine["flags"].fillna("")):
        for flag in str(flags).split(";") if flags else ["(no flag)"]:
            rows.append({"table": table, "flag": flag or "(no flag)"})
    return pd.DataFrame(rows).groupby(["table", "flag"]).size().rename("rows").reset_index()


def training_report(ds: Dataset, *, program: str, metric: str = "win_rate", period=None, as_of=None) -> dict:
    """:func:`salesnb.analysis.training.training_effect` on the data up to the end of
    ``period`` (default: all of it), with ``treated_labels`` and
    ``control_labels`` (reps named, for the manager). Without a training
    table the effect is None and ``warning`` says which table would enable it."""
    from salesnb.analysis.training import training_effect

    as_of = _as_of(as_of)
    end = parse_period(period, as_of=as_of).end if not _blank(period) else None
    if ds.training is None:  # say which table would enable it, and carry on
        return {
            "program": program,
            "metric": metric,
            "effect": None,
            "ci_low": None,
            "ci_high": None,
            "treated": [],
            "control": [],
            "method": "",
            "means": {},
            "excluded": [],
            "warning": Dataset.missing("training"),
            "notes": [],
            "treated_labels": [],
            "control_labels": [],
        }
    result = training_effect(ds, program=program, metric=metric, as_of=end)
    labels = _labels(ds)
    result["treated_labels"] = [labels.get(r, r) for r in result["treated"]]
    result["control_labels"] = [labels.get(r, r) for r in result["control"]]
    return result


# -- helpers ---------------------------------------------------------------------------


def rep_label(rep_id, name) -> str:
    """``Ann Lee (R01)``, or the bare id when the name is missing or the same."""
    name = _text(name)
    return f"{name} ({rep_id})" if name and name != rep_id else str(rep_id)


def _labels(ds: Dataset) -> dict:
    reps = ds.reps.drop_duplicates("rep_id")
    return {r: rep_label(r, n) for r, n in zip(reps["rep_id"], reps["name"])}


def _as_of(value):
    return None if _blank(value) else value


def _blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _fold(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return str(value).strip().casefold()


def _text(value) -> str:
    return "" if _blank(value) or value is pd.NA else str(value)


def _plain(value, *, nan: bool = False):
    """A numpy/pandas scalar as a plain Python value; NaN as None (or NaN with ``nan``)."""
    if value is None or value is pd.NA:
        return np.nan if nan else None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return (np.nan if nan else None) if np.isnan(value) else float(value)
    return value


def _quarters(quarters, order) -> str:
    """Quarters for a sentence, three or more in a row as a range: "2024-Q1 and 2024-Q3 to 2025-Q2"."""
    position = {q: i for i, q in enumerate(order)}
    runs: list[list[str]] = []
    for q in sorted(set(quarters), key=position.get):
        if runs and position[q] == position[runs[-1][-1]] + 1:
            runs[-1].append(q)
        else:
            runs.append([q])
    parts: list[str] = []
    for run in runs:
        parts += run if len(run) < 3 else [f"{run[0]} to {run[-1]}"]
    return _and(parts)


def _and(items: list[str]) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def warm_up(ds: Dataset, *, period, as_of=None, rep_id: str | None = None) -> None:
    """What a batch of these pages computes and draws once, before its reports fork.

    The fork server (:mod:`salesnb.run.forkserver`) calls this on the batch's
    data in its warm template: one rep's coaching report (``rep_id``, else the
    first rep: a team or data-quality report names none) fills the memo with
    the batch-wide tables, and its charts are drawn once and thrown away, so
    every fork finds the fonts loaded, the label sizes measured and blank
    figures of the charts' shapes made (:func:`salesnb.present.charts.stock_figures`).
    No figure stays open and no setting changes.
    """
    report = rep_report(ds, rep_id or str(ds.reps["rep_id"].iloc[0]), period=period, as_of=as_of)
    from salesnb.present import charts, html

    def draw():
        drawn = [charts.factor_bands(report.factors, peer_label=report.peer_label)]
        drawn += [charts.trend(report.trend(metric), metric=metric, peer_label=report.peer_label) for metric in TREND_METRICS]
        drawn += [charts.value_vs_cost(report.value_frame(), highlight=["You"]), charts.forecast_vs_actual(report.forecasts)]
        for figure in drawn:
            html.chart(figure)

    try:
        charts.stock_figures(draw)
    except Exception:  # noqa: BLE001 - only a warm-up: each report draws its own charts anyway
        pass
