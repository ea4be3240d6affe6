"""The tables every rep page of a batch reads, laid out once (batch tables).

Each is asked for through :func:`salesnb.present.tables.batch_table`, so the
runner makes it once (:func:`salesnb.present.rep_page.warm_tables`) and every
page, forked from the report template, picks its own rows by index instead of
masking every rep's table again: the stage figures by figure and stage, every
rep's paced metrics with each factor's peers, the reps by id and team, and
value against cost. (The quarterly trends' grid is
:func:`salesnb.present.rep_trends.trend_grid`.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb.analysis.periods import Period, parse_period
from salesnb.present.page_text import blank_to_none, fold
from salesnb.present.rep_trends import TREND_QUARTERS, trend_grid, trend_window
from salesnb.present.tables import batch_table

__all__ = ["stage_table", "peer_basis", "peer_table", "rep_roster", "value_table", "PEER_TABLES", "warm_peer_tables", "made_of"]


def stage_table(ds, *, period: Period) -> dict:
    """Every rep's stage figures (:func:`salesnb.analysis.history.stage_figures`, a batch
    table) split by figure and stage (:func:`salesnb.analysis.history.stage_groups`):
    a batch table, so each rep page picks its rows by index."""
    from salesnb.analysis.history import stage_figures, stage_groups

    return stage_groups(batch_table(stage_figures, ds, period=period))


def peer_basis(rep_metrics: pd.DataFrame) -> dict:
    """What :func:`protected_evidence` reads every rep's peers off: ``metrics``
    (``rep_metrics`` indexed from 0) and ``figures``
    (:func:`salesnb.analysis.diagnosis.peer_figures`: each factor's figures and
    peers, every rep's)."""
    from salesnb.analysis.diagnosis import peer_figures

    frame = rep_metrics.reset_index(drop=True)
    return {"metrics": frame, "figures": peer_figures(frame)}


def peer_table(ds, *, period: Period, as_of=None) -> dict:
    """:func:`peer_basis` of the period's metrics by rep (a batch table) with each
    rep's ``active_share`` (:func:`salesnb.analysis.diagnosis.with_active_share`):
    a batch table, made once, so a rep page neither paces nor prepares every rep's
    figures again."""
    from salesnb.analysis.diagnosis import with_active_share
    from salesnb.analysis.metrics import metrics_table

    table = batch_table(metrics_table, ds, by="rep", period=period, as_of=as_of)
    return peer_basis(with_active_share(table, ds.reps, period))


def rep_roster(ds) -> dict:
    """The reps table as a rep page reads it (a batch table): ``reps`` (one row per
    rep_id, indexed by it), ``ids`` (that index as an array) and ``teams`` (each
    rep's team folded, :func:`salesnb.present.page_text.fold`): a page finds its rep
    and its team's reps by index, without folding every rep's team again."""
    reps = ds.reps.drop_duplicates("rep_id").set_index("rep_id")
    teams = np.empty(len(reps), dtype=object)
    teams[:] = [fold(t) for t in reps["team"]]
    return {"reps": reps, "ids": reps.index.to_numpy(dtype=object), "teams": teams}


def value_table(ds, *, period: Period) -> dict:
    """Value against cost by rep as a rep page reads it (a batch table): ``frame``
    (:func:`salesnb.analysis.value.value_cost`, itself a batch table), ``ids`` (its
    rep_id as an array), ``ratio`` (its value_cost_ratio as floats) and ``share``
    (:func:`salesnb.analysis.value.employed_share`, by rep_id): a page picks its
    peers' ratios by index."""
    from salesnb.analysis.value import employed_share, value_cost

    frame = batch_table(value_cost, ds, period=period)
    return {
        "frame": frame,
        "ids": frame["rep_id"].to_numpy(dtype=object),
        "ratio": frame["value_cost_ratio"].to_numpy(dtype="float64"),
        "share": employed_share(ds.reps, period),
    }


def warm_peer_tables(ds, *, period, as_of=None, rep_id: str | None = None, tables: tuple | None = None) -> None:
    """The batch tables of :data:`PEER_TABLES` (or of ``tables`` among them) a rep page of
    ``period`` reads (every rep's: value against cost, the quarterly trends' grid, the stage
    figures), made as :func:`salesnb.present.rep_page.warm_tables` makes them (it calls
    this last): none rests on a rep's diagnosis, so a ``--rep`` batch's runner makes the
    grid in a second process while it diagnoses (:func:`salesnb.run.prepare.prepare`).
    ``rep_id``: unused (every rep's tables)."""
    tables = PEER_TABLES if tables is None else tables
    span = parse_period(period, as_of=blank_to_none(as_of))
    if value_table in tables:
        batch_table(value_table, ds, period=span)  # and the value_cost it is made of
    if stage_table in tables and ds.opportunity_history is not None:
        batch_table(stage_table, ds, period=span)  # and the stage figures it is made of
    if trend_grid in tables:  # last: a --rep batch's runner waits here for its child's
        window = trend_window(ds, span, TREND_QUARTERS)
        batch_table(trend_grid, ds, start=window[0], end=window[-1])  # and the quarterly metrics it is made of


PEER_TABLES = (value_table, stage_table, trend_grid)
"""What :func:`warm_peer_tables` makes: the batch tables of every rep a rep page reads its peers' figures off."""


def made_of() -> tuple:
    """The batch tables :data:`PEER_TABLES` are made of and no rep page reads (the quarterly
    metrics, value against cost as a frame, the stage figures): a ``--rep`` batch's runner
    does not save them for its pages."""
    from salesnb.analysis.history import stage_figures
    from salesnb.analysis.metrics import metrics_over_time
    from salesnb.analysis.value import value_cost

    return (metrics_over_time, value_cost, stage_figures)
