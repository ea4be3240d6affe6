"""One rep's coaching page: :func:`rep_report` gathers exactly what it may show, and
:func:`warm_up` computes and draws it once before a batch's reports fork.

The rep's own figures and, for comparison, the peers' median and middle half
(25th to 75th percentile) -- never another rep's name, id or individual
figure. A peer median needs at least :data:`salesnb.analysis.diagnosis.MIN_PEERS`
peers and a middle half at least :data:`salesnb.present.rep_trends.BAND_MIN_PEERS`; with fewer they are
left out. Every peer figure shown (the funnel factors, the trends, value
against cost, and the numbers in the diagnosis's words) goes through
:mod:`salesnb.analysis.privacy` first, so none equals one colleague's own
figure as the page shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salesnb.analysis.periods import Period, parse_period
from salesnb.errors import InputError
from salesnb.io.dataset import Dataset
from salesnb.present.analysis_pages import QUALITY_ADVICE
from salesnb.present.page_text import and_join, blank_to_none, plain_text, plain_value, use_currency
from salesnb.present.rep_page_tables import peer_basis, peer_table, rep_roster, stage_table, value_table, warm_peer_tables
from salesnb.present.rep_trends import (
    BAND_MIN_PEERS,
    TREND_METRICS,
    TREND_QUARTERS,
    safe_peer_figures,
    trends_of,
)
from salesnb.present.tables import batch_table, data_checks, diagnoses_of, has_everyone, scorecard_of

__all__ = [
    "QUALITY_SECTIONS",
    "RepReport",
    "protected_evidence",
    "reworded",
    "CONTACT_FACTORS",
    "contact_columns",
    "forecast_banner",
    "rep_report",
    "warm_up",
]

QUALITY_SECTIONS = {
    "small_sample": "funnel",
    "padded_activity": "scorecard",
    "stale_pipeline": "scorecard",
}
"""Flag -> the rep-report section whose figures it affects; other flags go with the funnel (deal counts)."""


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
        n, small_sample, is_focus: the rep against the peers' band; and
        new_prospect_contacts, follow_up_contacts: the rep's own, on the
        prospecting and conversion rows (:func:`contact_columns`).
    scorecard : DataFrame
        This rep's expectations (:func:`salesnb.analysis.scorecard.scorecard`).
    trends : DataFrame
        quarter, period_start, metric, rep_value, small_sample, peer_low,
        peer_median, peer_high, peers: per quarter of the last
        :data:`TREND_QUARTERS`, for each of :data:`TREND_METRICS`.
    value : dict
        clv, annual_cost, cost (annual_cost pro-rated for a rep hired less than a
        year before the period's end), value_cost_ratio, clv_source, peer_median_ratio, peers.
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
    since_last : dict or None
        Last period's focus and how that factor moved since
        (:func:`salesnb.present.progress.since_last`); None when the previous
        period holds no data or named no focus.
    forecast_banner : str or None
        A consistent forecast habit (:func:`forecast_banner`), said at the
        top of the report; None when there is none or too few periods to say.
    stages : DataFrame or None
        :func:`salesnb.analysis.history.stage_comparison`: the rep's stage
        stays and stage-to-stage conversion against the peers'; None without
        the opportunity_history table.
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
    since_last: dict | None = None
    forecast_banner: str | None = None
    stages: pd.DataFrame | None = None

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
    from salesnb.analysis.diagnosis import MIN_PEERS, require_rep
    from salesnb.analysis.labels import factor_name
    from salesnb.analysis.quality import quality_for_rep

    as_of = blank_to_none(as_of)
    use_currency(ds)
    roster = batch_table(rep_roster, ds)
    found = np.flatnonzero(roster["ids"] == rep_id)
    if not len(found):
        require_rep(ds, rep_id)  # says which reps there are (or where the rep's row was set aside)
        raise InputError(f"no rep {rep_id!r} in the reps table")
    span = parse_period(period, as_of=as_of)
    reps = roster["reps"]
    own = reps.iloc[int(found[0])]
    rep = {
        "rep_id": rep_id,
        "name": plain_text(own["name"]),
        "team": plain_text(own["team"]),
        "territory": plain_text(own["territory"]),
    }

    # the period's metrics by rep with their active_share, and each factor's peer figures: once a batch
    basis = batch_table(peer_table, ds, period=span, as_of=as_of)
    paced = basis["metrics"]
    row = paced.iloc[int(np.flatnonzero(basis["figures"]["ids"] == str(rep_id))[0])]
    figures = {k: plain_value(v) for k, v in row.items() if k not in ("rep_id", "name", "team", "territory", "active_share")}
    # every rep's diagnosis (as diagnose(..., rep=rep_id) computes anyway), then this rep's
    diagnosis = diagnoses_of(ds, [rep_id], period=span, as_of=as_of)[0]
    group = diagnosis["peer_group"]
    peers = _peer_ids(roster, int(found[0]), group)
    peer_label = "team" if group == "team" else "all-rep"

    # the peers each factor's figures rest on, by diagnosis's own rule (prospecting: their paces)
    counts = {e["factor"]: int(e.get("peers") or 0) for e in diagnosis["evidence"]}
    # peer figures as a rep may see them, before anything (the words too) is built from them
    evidence = protected_evidence(diagnosis["evidence"], paced, rep_id, peers, peer_group=group, basis=basis)
    own_row = row.to_dict()
    diagnosis = reworded(diagnosis, evidence, own_row)
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

    # this rep's scorecard rows: off every rep's (a table a batch of every rep shares), else only theirs made
    mine = scorecard_of(ds, rep_id, period=span, as_of=as_of)  # a period in progress: coverage as of then
    card_notes = list(mine.attrs.get("notes", []))
    card = mine.drop(columns="rep_id")

    hire = own.get("hire_date") if "hire_date" in reps.columns else None
    trends, trend_notes = trends_of(ds, rep_id, peers, span, quarters, hire)
    value, value_notes = _value(ds, rep_id, peers, span, peer_label)
    forecasts, forecast_notes = _rep_forecasts(ds, rep_id, trends, span)

    flags = quality_for_rep(batch_table(data_checks, ds, period=span, as_of=as_of), rep_id)
    flags = flags.drop(columns="rep_id")
    withheld = [
        factor_name(e["factor"]).lower()
        for e in diagnosis["evidence"]
        if (e["peer_median"] is None and counts.get(e["factor"], 0) >= MIN_PEERS)
        or (e["peer_band"] is None and e["peer_median"] is not None and band[e["factor"]])
    ]
    notes = {
        "funnel": list(diagnosis.get("notes", []))
        + (
            [f"Some peer figures for {and_join(withheld)} are left out: any figure near them would be a colleague's own."]
            if withheld
            else []
        ),
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
        factors=contact_columns(factors, figures),
        scorecard=card,
        trends=trends,
        value=value,
        forecasts=forecasts,
        quality=flags,
        quarantined_rows=int(ds.quarantined_rows),
        peer_group=group,
        peer_label=peer_label,
        notes=notes,
        since_last=_since_last(ds, rep_id, span, as_of, diagnosis),
        forecast_banner=forecast_banner(forecasts),
        stages=_stages(ds, rep_id, peers, span),
    )


def _stages(ds, rep_id, peers, span) -> pd.DataFrame | None:
    """The rep's stage stays against the peers' (None without the deal history)."""
    if ds.opportunity_history is None:
        return None
    from salesnb.analysis.history import stage_comparison

    groups = batch_table(stage_table, ds, period=span)  # every rep's, once a batch
    return stage_comparison(ds, rep_id, [p for p in peers if p != rep_id], period=span, groups=groups)


def _since_last(ds, rep_id, span, as_of, diagnosis) -> dict | None:
    """Last period's focus and how it moved (issue #14 item 8), kept apart from the figures above."""
    from salesnb.present.progress import since_last_for

    return since_last_for(ds, rep_id, period=span, current=diagnosis, as_of=as_of)


def protected_evidence(
    evidence: list[dict], rep_metrics: pd.DataFrame, rep_id: str, peers, *, peer_group: str = "team", basis: dict | None = None
) -> list[dict]:
    """A diagnosis's ``evidence`` with each ``peer_median`` and ``peer_band``
    replaced by what a rep may see (:func:`salesnb.analysis.privacy.safe_median`,
    :func:`~salesnb.analysis.privacy.safe_band`) and ``gap_pct`` measured
    against that median, so the words say the gap to the figure they show.

    ``rep_metrics``: the period's metrics_table by rep with ``active_share``
    (:func:`salesnb.analysis.diagnosis.with_active_share`); ``peers``: the
    rep ids of the rep's peer group (the colleagues whose figures none may
    equal, those with too few deals too). Each factor's peer figures are the
    diagnosis's own (:func:`salesnb.analysis.diagnosis.peer_values`), checked
    against it (how many, and the median): a factor whose figures do not
    match is left out (None), never shown unprotected. The score and the
    focus are untouched. ``basis``: :func:`peer_basis` of ``rep_metrics`` when
    the caller has it (a batch's, :func:`peer_table`).
    """
    from salesnb.analysis import privacy
    from salesnb.analysis.diagnosis import peer_values
    from salesnb.analysis.labels import unit

    # the diagnosis's own benchmark per factor (the evidence says it): no second diagnosis to find them
    benchmarks = {e["factor"]: e["benchmark"] for e in evidence if e.get("benchmark") is not None}
    basis = peer_basis(rep_metrics) if basis is None else basis
    frame, figures = basis["metrics"], basis["figures"]
    pools = peer_values(frame, rep_id, peers=peer_group, benchmarks=benchmarks, figures=figures)
    ids = figures["ids"]
    wanted = {str(p) for p in peers}
    everybody = ids != str(rep_id)
    group = everybody & np.fromiter((i in wanted for i in ids), dtype=bool, count=len(ids))
    protected = []
    for e in evidence:
        e = dict(e)
        metric = e["metric"]
        values = pools.get(e["factor"], np.array([]))
        # the colleagues whose figures the shown one may not equal: those it is taken over
        others = everybody if e.get("benchmark") == "all" else group
        column = "opportunities_pace" if e["factor"] == "prospecting" and "opportunities_pace" in frame else metric
        pairs = zip(frame[metric].to_numpy()[others], frame[column].to_numpy()[others])
        colleagues = [[v for v in pair if not pd.isna(v)] for pair in pairs]
        usual = e.get("peer_median")
        matches = (
            usual is not None
            and len(values) == e.get("peers", len(values))
            and len(values) > 0
            and bool(np.isclose(np.median(values), usual))
        )
        median, band = None, None
        if matches:  # the band (when the diagnosis has one) beside the median, the colleagues' figures read once
            wants_band = 0 if e.get("peer_band") else None
            median, band = privacy.safe_median_band(
                values, colleagues, unit(metric), rep_value=e.get("rep_value"), band_min_peers=wants_band
            )
        e["peer_median"] = median
        e["peer_band"] = None if band is None else [band[0], band[1]]
        rep = e.get("rep_value")
        if "gap_pct" in e:
            e["gap_pct"] = round((rep / median - 1) * 100, 1) if rep is not None and median else None
        protected.append(e)
    return protected


def reworded(diagnosis: dict, evidence: list[dict], metrics_row: dict) -> dict:
    """``diagnosis`` with ``evidence`` (:func:`protected_evidence`) in place of
    its own, the stake measured to the medians shown
    (:func:`salesnb.analysis.diagnosis.stake`) and every word rebuilt from
    them (:func:`salesnb.analysis.wording.apply`): what a rep reads agrees
    with the figures beside it. ``metrics_row``: the rep's metrics (with
    ``active_share``)."""
    import copy

    from salesnb.analysis import wording
    from salesnb.analysis.diagnosis import stake

    out = copy.deepcopy({**diagnosis, "evidence": evidence})
    focus = out.get("focus")
    if focus is not None:
        out["stake"] = stake(focus, metrics_row, {e["factor"]: e for e in evidence})
    return wording.apply(out)


def _peer_ids(roster: dict, position: int, group: str) -> list[str]:
    """The rep ids of the peers of the rep at ``position`` in :func:`rep_roster`: its team's, else every other rep."""
    ids = roster["ids"]
    keep = ids != ids[position]
    if group == "team":  # the teams folded once a batch (not a lookup per rep: 10,000 cost a second)
        keep &= roster["teams"] == roster["teams"][position]
    return [str(r) for r in ids[keep]]


def _value(ds, rep_id, peers, span, peer_label) -> tuple[dict, list[str]]:
    from salesnb.analysis.diagnosis import MIN_PEERS

    table = batch_table(value_table, ds, period=span)  # every rep's, once a batch: picked by index
    frame, ids, ratio = table["frame"], table["ids"], table["ratio"]
    wanted = set(peers)
    is_peer = np.fromiter((r in wanted for r in ids), dtype=bool, count=len(ids))
    ratios = ratio[is_peer]
    ratios = ratios[~np.isnan(ratios)]
    enough = len(ratios) >= MIN_PEERS
    own = np.flatnonzero(ids == rep_id)
    record = frame.iloc[int(own[0])] if len(own) else None
    theirs = ratio[is_peer & (ids != rep_id)]
    mine = record["value_cost_ratio"] if record is not None else None
    median, _ = safe_peer_figures(ratios, theirs, "value_cost_ratio", np.nan if mine is None else mine, MIN_PEERS)
    value = {
        "clv": plain_value(record["clv"]) if record is not None else 0.0,
        "annual_cost": plain_value(record["annual_cost"]) if record is not None else None,
        "cost": plain_value(record["cost"]) if record is not None else None,
        "value_cost_ratio": plain_value(record["value_cost_ratio"]) if record is not None else None,
        "clv_source": str(record["clv_source"]) if record is not None else None,
        "peer_median_ratio": median,
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
    else:
        notes += _cost_note(table["share"], rep_id, span, value)
    if not enough:
        notes.append(f"Too few peers with a recorded cost to give the {peer_label} median.")
    elif median is None:
        notes.append(f"The {peer_label} median is left out: no figure near it is free of a colleague's own.")
    return value, notes


def _cost_note(shares: pd.Series, rep_id, span, value: dict) -> list[str]:
    """Say so when the cost is pro-rated (a rep hired less than a year before the period's end)."""
    share = shares.get(str(rep_id), 1.0)
    if share >= 1.0 or value.get("cost") is None:
        return []
    return [
        f"Hired less than a year before {span.end:%Y-%m-%d}: the yearly cost is pro-rated to the {share:.0%} of the year "
        "you were employed."
    ]


def _rep_forecasts(ds, rep_id, trends, span) -> tuple[pd.DataFrame, list[str]]:
    from salesnb.analysis.forecasts import forecast_accuracy

    columns = ["period", "period_start", "forecast_amount", "actual", "forecast_error_pct"]
    accuracy = batch_table(forecast_accuracy, ds)
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
        notes.append(_forecast_habit(mine)["sentence"])
    return mine, notes


def _forecast_habit(forecasts: pd.DataFrame) -> dict:
    from salesnb.analysis.forecasts import forecast_habit

    kinds = [parse_period(str(label)).kind for label in forecasts["period"]]
    return forecast_habit(forecasts["forecast_error_pct"], kinds=kinds)


CONTACT_FACTORS = ("prospecting", "conversion")
"""The factors whose evidence rows carry the rep's new-prospect and follow-up contacts."""


def contact_columns(factors: pd.DataFrame, figures: dict) -> pd.DataFrame:
    """``factors`` with the rep's new_prospect_contacts and follow_up_contacts
    (from ``figures``, the rep's metrics) on the :data:`CONTACT_FACTORS`
    rows; NaN on the others, and everywhere without an activities table."""
    out = factors.copy()
    on = out["factor"].isin(CONTACT_FACTORS).to_numpy()
    for metric in ("new_prospect_contacts", "follow_up_contacts"):
        value = figures.get(metric)
        value = np.nan if value is None else float(value)
        out[metric] = np.where(on, value, np.nan)
    return out


def forecast_banner(forecasts: pd.DataFrame) -> str | None:
    """The banner for the top of a rep report when the rep's forecasts show a
    consistent habit (:func:`salesnb.analysis.forecasts.forecast_habit`
    ``over`` or ``under``), else None.

    ``forecasts``: the report's forecasts (period, forecast_error_pct).
    Example: +30 % in 4 of 4 quarters -> "Your forecasts run high: over-forecast
    in 4 of 4 quarters, median error +30%. ..."
    """
    if forecasts is None or forecasts.empty:
        return None
    habit = _forecast_habit(forecasts)
    if habit["bias"] not in ("over", "under"):
        return None
    seen = habit["sentence"].split(":")[0]
    seen = seen[0].lower() + seen[1:]
    if habit["bias"] == "over":
        return (
            f"Your forecasts run high: {seen}. Before committing a number, check each deal in it "
            "against its stage and its last contact."
        )
    return (
        f"Your forecasts run low: {seen}. A forecast well under what you win hides pipeline from planning: "
        "forecast what the deals in hand support."
    )


def _flag_note(record: dict) -> str:
    name = str(record["flag"]).replace("_", " ")
    detail = str(record.get("detail") or "")
    text = f"Data check, {name}: {detail}"
    advice = QUALITY_ADVICE.get(record["flag"])
    if advice and "Fix:" not in detail:
        text += f". What to do: {advice}"
    return text


def warm_tables(ds: Dataset, *, period, as_of=None, rep_id: str | None = None) -> None:
    """Compute what every report of a batch of these pages shares (the
    batch-wide tables of :func:`salesnb.present.tables.batch_table`): each
    table :func:`rep_report` asks for, with the same arguments, for ``rep_id``
    (else the first rep), without building the report: no peer figure is made
    safe to show and no chart drawn, so matplotlib is not imported. The batch
    runner calls this while its report template imports, and hands the tables to it."""
    from salesnb.analysis.diagnosis import require_rep
    from salesnb.analysis.forecasts import forecast_accuracy
    from salesnb.analysis.scorecard import scorecard
    from salesnb.present.progress import previous_diagnoses

    as_of = blank_to_none(as_of)
    rep_id = rep_id or str(ds.reps["rep_id"].iloc[0])
    require_rep(ds, rep_id)
    span = parse_period(period, as_of=as_of)
    batch_table(rep_roster, ds)
    batch_table(peer_table, ds, period=span, as_of=as_of)  # and the metrics table it is made of
    diagnoses_of(ds, [rep_id], period=span, as_of=as_of)
    if has_everyone(ds, period=span, as_of=as_of):  # a batch of every rep: every rep's scorecard, once
        batch_table(scorecard, ds, period=span, as_of=as_of)
    else:  # a --rep batch: its rep's rows only
        scorecard_of(ds, rep_id, period=span, as_of=as_of)
    batch_table(forecast_accuracy, ds)
    batch_table(data_checks, ds, period=span, as_of=as_of)
    previous_diagnoses(ds, period=span, as_of=as_of, reps=[rep_id])  # what the page says changed since last period
    warm_peer_tables(ds, period=period, as_of=as_of, rep_id=rep_id)  # last: a --rep batch makes them aside


def warm_up(ds: Dataset, *, period, as_of=None, rep_id: str | None = None) -> None:
    """What a batch of these pages computes and draws once, before its reports fork.

    The fork server (:mod:`salesnb.run.forkserver`) calls this on the batch's
    data in its warm template: one rep's coaching report (:func:`rep_report`, its
    tables those :func:`warm_tables` asks for: the runner's memo has them already),
    and its charts are drawn once and thrown away, so every fork
    finds the fonts loaded, the label sizes measured and blank
    figures of the charts' shapes made (:func:`salesnb.present.rep_charts.stock_figures`).
    No figure stays open and no setting changes.
    """
    report = rep_report(ds, rep_id or str(ds.reps["rep_id"].iloc[0]), period=period, as_of=as_of)
    from salesnb.present import html, rep_charts

    def draw():
        drawn = [rep_charts.factor_bands(report.factors, peer_label=report.peer_label)]
        drawn += [rep_charts.trends({m: report.trend(m) for m in TREND_METRICS}, peer_label=report.peer_label)]
        drawn += [
            rep_charts.value_vs_cost(report.value_frame(), highlight=["You"]),
            rep_charts.forecast_vs_actual(report.forecasts),
            rep_charts.stage_stays(report.stages, peer_label=report.peer_label),
        ]
        for figure in drawn:
            html.chart(figure)

    try:
        rep_charts.stock_figures(draw)
    except Exception:  # noqa: BLE001 - only a warm-up: each report draws its own charts anyway
        pass
