"""The manager's page: :func:`team_report` shows a team (or every rep), reps named,
with each rep's focus, the team's band per funnel factor and breakdowns by
territory, customer type and acquisition method.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salesnb.analysis.periods import Period, parse_period
from salesnb.errors import InputError
from salesnb.io.dataset import Dataset
from salesnb.present.page_text import blank_to_none, fold, is_blank, rep_label, use_currency
from salesnb.present.queue import QUEUE_COLUMNS, queue_for
from salesnb.present.rep_trends import CLOSED_METRICS
from salesnb.present.segments import segment, segment_options
from salesnb.present.tables import batch_table, data_checks, rep_diagnoses

__all__ = ["TeamReport", "BREAKDOWNS", "BREAKDOWN_COLUMNS", "team_report", "warm_tables"]


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
    ``value``: value_cost per rep; ``queue``: the manager's queue
    (:func:`salesnb.present.queue.manager_queue`, sorted by stake);
    ``findings``: the gaps the whole team shares (:func:`salesnb.present.queue.team_findings`);
    ``quality``: the data-quality flags of the team's reps (flag, label, table, rows, detail),
    so a manager sees the checks behind their team's figures without the batch-wide page
    (which names every rep).
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
    queue: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=QUEUE_COLUMNS))
    findings: list = field(default_factory=list)
    quality: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["flag", "label", "table", "rows", "detail"]))

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
    from salesnb.analysis.metrics import metrics_table
    from salesnb.analysis.value import value_cost

    as_of = blank_to_none(as_of)
    use_currency(ds)
    span = parse_period(period, as_of=as_of)
    reps = ds.reps.drop_duplicates("rep_id")
    if is_blank(team):
        team, title = None, "All reps"
        members = reps
    else:
        members = reps[reps["team"].map(fold).eq(fold(team)).to_numpy()]
        if members.empty:
            known = segment_options(ds)["team"]
            raise InputError(f"no team {team!r} in the reps table; known teams: {', '.join(known) or 'none'}")
        written = str(members["team"].iloc[0]).strip()  # the team's name as the data writes it: "Alpha", "Team B"
        title = written if fold(written).startswith("team ") else f"Team {written}"
    ids = list(members["rep_id"])
    members = (
        members[["rep_id", "name", "team", "territory"]]
        .assign(label=[rep_label(r, n) for r, n in zip(members["rep_id"], members["name"])])
        .reset_index(drop=True)
    )
    labels = dict(zip(members["rep_id"], members["label"]))

    table = batch_table(metrics_table, ds, by="rep", period=span, as_of=as_of)
    metrics = table[table["rep_id"].isin(ids)].reset_index(drop=True)
    metrics.insert(1, "label", metrics["rep_id"].map(labels))
    diagnoses = [d for d in batch_table(rep_diagnoses, ds, period=span, as_of=as_of) if d["rep_id"] in set(ids)]

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
    teams = batch_table(metrics_table, ds, by="team", period=span, as_of=as_of)
    if team is not None:
        teams = teams[teams["team"].map(fold).eq(fold(team)).to_numpy()].reset_index(drop=True)
    value = batch_table(value_cost, ds, period=span)
    value = value[value["rep_id"].isin(ids)].reset_index(drop=True)
    value.insert(1, "label", value["rep_id"].map(labels))
    notes = [n for n in table.attrs.get("notes", [])]
    queue, findings = queue_for(ds, period=span, as_of=as_of, rep_ids=ids, labels=labels)
    return TeamReport(
        quality=_team_quality(ds, span, as_of, ids, labels),
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
        queue=queue,
        findings=findings,
    )


def warm_tables(ds: Dataset, *, period, as_of=None, rep_id: str | None = None) -> None:
    """Compute what every team page of a batch shares and no rep page asks for (the
    metrics table by team, :func:`salesnb.present.tables.batch_table`), with the
    arguments :func:`team_report` passes, so that under the runner's memo each team
    page inherits it instead of computing it again. The tables team_report shares
    with the rep pages (every rep's metrics, diagnoses, value and quality flags) are
    :func:`salesnb.present.rep_page.warm_tables`'. ``rep_id`` is not used (the
    signature is the one :func:`salesnb.run.warmup.warm_batch_tables` calls)."""
    from salesnb.analysis.metrics import metrics_table

    as_of = blank_to_none(as_of)
    span = parse_period(period, as_of=as_of)
    batch_table(metrics_table, ds, by="team", period=span, as_of=as_of)


def _team_quality(ds, span, as_of, ids, labels) -> pd.DataFrame:
    """The team's reps' own data-quality flags (not the whole source's), each with its rep."""

    flags = batch_table(data_checks, ds, period=span, as_of=as_of)
    mine = flags[flags["rep_id"].isin(ids)]
    out = mine.assign(label=mine["rep_id"].map(labels))[["flag", "label", "table", "rows", "detail"]]
    return out.sort_values(["label", "flag"], kind="stable").reset_index(drop=True)


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
