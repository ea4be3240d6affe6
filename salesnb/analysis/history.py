"""How deals moved: stage stays, pushed close dates, and the pipeline by stage.

Reads the optional ``opportunity_history`` table (one row per change: the
state of the opportunity from ``changed_at`` on). Rows may come in any
order; they are read per opportunity by ``changed_at``, and two changes at
the same moment in file order. Every figure is defined in
``docs/metrics.md``:

* a **push** is a row whose ``expected_close_date`` is later than the one
  the opportunity had before it (the last one given on an earlier row; a
  blank cell keeps the previous date). :func:`close_date_pushes` lists them
  with the days each added; ``pushed_deals`` and ``close_date_pushes`` in the
  metrics table count them (:func:`push_metrics`).
* a **stage entry** is a row whose stage differs from the stage the
  opportunity was in (its first row with a stage is one too; a row that
  repeats the stage, e.g. a close date change, is not, and does not end the
  stay). A deal re-opened into a stage it left enters it again.
* a **stay** runs from an entry's ``changed_at`` to the next entry's, or
  to the deal's ``closed_date`` when it is won or lost. The last entry of a
  won or lost deal made on or after its close day (its "Closed Won" row) is
  the close itself: an entry without a stay. A stay of an open deal's last
  stage never ends.
* :func:`pipeline_stages` gives per stage (and rep, team or segment) ``entered``
  (entries whose ``changed_at`` falls in the period), ``days_median``
  (median length of the stays that began in the period and ended by its
  end) and ``open_stays`` (stays begun by the period's end, still running
  after it). Stages come in the order deals move through them
  (:func:`stage_order`).
* :func:`add_stage_findings` names, for a velocity focus, the stage where
  the rep's deals stall (the rep's median stay :data:`STALL_FACTOR` times
  the peers' or more) and, for a conversion focus, the stage they die in
  (the share of the rep's stays in it that ended with the deal lost,
  :data:`DIE_FACTOR` times the peers' and :data:`DIE_MIN_GAP` above it).
  Each side needs :data:`STAGE_MIN_STAYS` stays in the stage; the peer
  figure is made safe to show (:mod:`salesnb.analysis.privacy`).

The functions are vectorised (numpy over the sorted rows, no loop per deal).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb.analysis.periods import Period
from salesnb.io.categorical import plain
from salesnb.io.dataset import Dataset

__all__ = [
    "PIPELINE_COLUMNS",
    "PUSH_COLUMNS",
    "STAGE_MIN_STAYS",
    "STALL_FACTOR",
    "DIE_FACTOR",
    "add_stage_findings",
    "close_date_pushes",
    "deal_pushes",
    "pipeline_stages",
    "push_metrics",
    "push_deals",
    "push_positions",
    "stage_comparison",
    "stage_figures",
    "stage_groups",
    "stage_order",
    "stage_stays",
]

PUSH_COLUMNS = ("pushed_deals", "close_date_pushes")
"""The metrics table's columns from the history (NaN without the table)."""

PIPELINE_COLUMNS = ("stage", "entered", "days_median", "open_stays")
"""The columns of :func:`pipeline_stages` after the group column."""

STAGE_MIN_STAYS = 5
"""A rep's (or peer's) stage figure needs this many finished stays (or entries) in the period."""
STALL_FACTOR = 1.5
"""A stage where deals stall: the rep's median stay at least this many times the peers' median."""
DIE_FACTOR = 1.5
"""A stage where deals die: the rep's share lost from it at least this many times the peers' median share..."""
DIE_MIN_GAP = 0.10
"""...and at least this much higher (10 percentage points)."""

_DAY = np.timedelta64(1, "D")


def _moves(ds: Dataset) -> dict:
    """:func:`_history_moves`, once per batch snapshot (read, never changed)."""
    from salesnb.analysis.derived import derived

    return derived(ds, "history_moves", lambda: _history_moves(ds))


def _history_moves(ds: Dataset) -> dict:
    """The history rows of known opportunities as numpy arrays, sorted by
    opportunity, then ``changed_at``, then file order: ``deal`` (position in
    opportunities), ``changed_at``, ``first`` (the deal's first row),
    ``stage`` (codes into ``stage_names``, -1 before any is known) and
    ``expected_close_date`` carried forward over blanks, the deal's
    ``closed_date`` (NaT unless won or lost) and ``lost``; ``opportunity_ids``
    by deal. No string is copied per row."""
    history, opps = ds.opportunity_history, ds.opportunities
    opp_ids = pd.Index(opps["opportunity_id"].astype("object"))
    ids = history["opportunity_id"]
    if isinstance(ids.dtype, pd.CategoricalDtype):  # look up each distinct ID once
        found = opp_ids.get_indexer(ids.cat.categories.astype("object"))
        codes = ids.cat.codes.to_numpy()
        deal = np.where(codes >= 0, found[np.maximum(codes, 0)], -1)
    else:
        deal = opp_ids.get_indexer(ids.astype("object"))
    at = history["changed_at"].to_numpy(dtype="datetime64[ns]")
    keep = (deal >= 0) & ~np.isnat(at)
    rows = np.flatnonzero(keep)
    order = rows if _in_order(deal[rows], at[rows]) else rows[np.lexsort((rows, at[rows].view("int64"), deal[rows]))]
    deal, at = deal[order], at[order]
    first = np.r_[True, deal[1:] != deal[:-1]] if len(deal) else np.zeros(0, dtype=bool)
    start = np.maximum.accumulate(np.where(first, np.arange(len(deal)), 0)) if len(deal) else np.zeros(0, np.int64)
    stages = history["stage"]
    stages = stages if isinstance(stages.dtype, pd.CategoricalDtype) else stages.astype("category")
    stage = stages.cat.codes.to_numpy().astype(np.int64)[order]
    stage = _carried(stage >= 0, start, stage)
    close = history["expected_close_date"].to_numpy(dtype="datetime64[ns]")[order]
    close = _carried(~np.isnat(close), start, close)
    status = opps["status"].astype("object").to_numpy()
    is_closed, is_lost = np.isin(status, ["won", "lost"]), status == "lost"
    closed = opps["closed_date"].to_numpy(dtype="datetime64[ns]")
    return {
        "deal": deal,
        "changed_at": at,
        "first": first,
        "stage": stage,
        "stage_names": np.asarray(stages.cat.categories.astype("object")),
        "expected_close_date": close,
        "closed_date": np.where(is_closed, closed, np.datetime64("NaT"))[deal],
        "lost": is_lost[deal],
        "opportunity_ids": opp_ids.to_numpy(),
    }


def _in_order(deal: np.ndarray, at: np.ndarray) -> bool:
    """Whether the rows are sorted by ``deal``, then ``at`` already (a history file
    written deal by deal, each in time order): then sorting would keep them as they are."""
    if len(deal) < 2:
        return True
    step, later = np.diff(deal), at[1:] >= at[:-1]
    return bool(((step > 0) | ((step == 0) & later)).all())


def _carried(known: np.ndarray, start: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` with a blank taking the last known value of the same
    opportunity (rows from ``start`` on); blank before any is known."""
    if not len(values):
        return values
    last = np.maximum.accumulate(np.where(known, np.arange(len(values)), -1))
    out = values[np.maximum(last, 0)]
    gone = last < start
    if gone.any():
        out = out.copy()
        out[gone] = np.datetime64("NaT") if out.dtype.kind == "M" else -1
    return out


def close_date_pushes(ds: Dataset) -> pd.DataFrame:
    """Every push of an expected close date: ``opportunity_id, rep_id,
    changed_at, from_date, to_date, days`` (days the date moved out), by
    opportunity and time. Empty without the history table. Made once per
    batch snapshot (:func:`salesnb.analysis.derived.derived`): the metrics of
    each period, the diagnoses' deals and the data checks all read it."""
    from salesnb.analysis.derived import derived

    return derived(ds, "close_date_pushes", lambda: _close_date_pushes(ds))


def _close_date_pushes(ds: Dataset) -> pd.DataFrame:
    columns = ["opportunity_id", "rep_id", "changed_at", "from_date", "to_date", "days"]
    if ds.opportunity_history is None:
        return pd.DataFrame(columns=columns)
    moves = _moves(ds)
    pushed, before = _pushed(moves)
    close = moves["expected_close_date"]
    deal = moves["deal"][pushed]
    out = pd.DataFrame(
        {
            "opportunity_id": moves["opportunity_ids"][deal],
            "rep_id": ds.opportunities["rep_id"].astype("object").to_numpy()[deal],
            "changed_at": moves["changed_at"][pushed],
            "from_date": before[pushed],
            "to_date": close[pushed],
        }
    )
    out["days"] = ((out["to_date"] - out["from_date"]) / _DAY).astype("float64")
    return out[columns]


def _pushed(moves: dict) -> tuple[np.ndarray, np.ndarray]:
    """Which history rows (of :func:`_history_moves`) push the close date, and each row's date before."""
    close = moves["expected_close_date"]
    before = np.r_[np.datetime64("NaT", "ns"), close[:-1]] if len(close) else close
    pushed = ~moves["first"] & ~np.isnat(before) & ~np.isnat(close)
    pushed[pushed] = close[pushed] > before[pushed]
    return pushed, before


def push_deals(ds: Dataset) -> np.ndarray:
    """Each push of :func:`close_date_pushes` as its opportunity's position in
    ``ds.opportunities``: :func:`push_positions` of the pushes in the opportunities, when
    their IDs are unique (``ds.keys_unique``), read off the history's moves (no lookup of
    every opportunity's ID); a push whose ID is missing is -1, as push_positions says."""
    if ds.opportunity_history is None:
        return np.zeros(0, dtype=np.intp)
    moves = _moves(ds)
    at = moves["deal"][_pushed(moves)[0]].astype(np.intp)
    missing = pd.isna(moves["opportunity_ids"])
    if missing.any():
        at[missing[at]] = -1
    return at


def deal_pushes(pushes: pd.DataFrame, *, until=None) -> pd.DataFrame:
    """Per pushed opportunity, from :func:`close_date_pushes`: ``pushes``
    and ``pushed_days`` (all the days its close date moved out), counting
    the pushes made on or before the day ``until`` (default: all)."""
    if until is not None:
        pushes = pushes[pushes["changed_at"] < pd.Timestamp(until).normalize() + pd.Timedelta(days=1)]
    grouped = pushes.groupby("opportunity_id", sort=True)["days"]
    return pd.DataFrame({"pushes": grouped.size(), "pushed_days": grouped.sum()}).reset_index()


def push_positions(pushes: pd.DataFrame, deals: pd.DataFrame) -> np.ndarray:
    """Each push's deal: its position in ``deals`` (-1: none), for :func:`push_metrics`
    over many periods (matched once, by the IDs as :func:`deal_pushes` reads them)."""
    ids = pushes["opportunity_id"].astype("object")
    at = pd.Index(deals["opportunity_id"].astype("object")).get_indexer(ids)
    at[ids.isna().to_numpy()] = -1
    return at


def push_metrics(
    pushes: pd.DataFrame,
    deals: pd.DataFrame,
    *,
    by: str,
    period: Period,
    flags: dict,
    at: np.ndarray | None = None,
    codes: tuple | None = None,
) -> pd.DataFrame:
    """``pushed_deals`` and ``close_date_pushes`` per group ``by``: the deals
    closed in ``period`` or open at its end (``flags`` of
    :func:`salesnb.analysis.deals.deal_flags` over ``deals``) that were
    pushed at least once by the period's end, and all those pushes. ``at``:
    :func:`push_positions` of the pushes in ``deals``, when already made; ``codes``:
    ``pd.factorize(deals[by], use_na_sentinel=False)``, when already made (then counted
    with ``np.bincount``, the groups in the order of the codes, not a groupby per period)."""
    if at is None:
        counts = deal_pushes(pushes, until=period.end)
        counts = pd.Series(counts["pushes"].to_numpy(), index=pd.Index(counts["opportunity_id"].astype("object")))
        per_deal = counts.reindex(deals["opportunity_id"].astype("object")).fillna(0).to_numpy()
    else:  # the pushes made by the end day (as deal_pushes counts them), counted per deal
        until = pd.Timestamp(period.end).normalize() + pd.Timedelta(days=1)
        made = (pushes["changed_at"] < until).to_numpy() & (at >= 0)
        per_deal = np.bincount(at[made], minlength=len(deals))
    counted = flags["won"] | flags["lost"] | flags["open"]
    if codes is not None:
        code, groups = codes
        size = len(groups)
        pushed = np.bincount(code[(per_deal > 0) & counted], minlength=size)
        made_pushes = np.bincount(code, weights=(per_deal * counted).astype("float64"), minlength=size)
        return pd.DataFrame(
            {by: plain(groups), "pushed_deals": pushed.astype("int64"), "close_date_pushes": made_pushes.astype("int64")}
        )
    frame = pd.DataFrame({by: deals[by].to_numpy(), "pushed": (per_deal > 0) & counted, "pushes": per_deal * counted})
    out = frame.groupby(by, sort=False, observed=True, dropna=False).agg(
        pushed_deals=("pushed", "sum"), close_date_pushes=("pushes", "sum")
    )
    return out.astype("int64").reset_index()


def _entries(ds: Dataset) -> dict:
    """:func:`_stage_entries`, once per batch snapshot (read, never changed)."""
    from salesnb.analysis.derived import derived

    return derived(ds, "stage_entries", lambda: _stage_entries(ds))


def _stage_entries(ds: Dataset) -> dict:
    """The stage entries as numpy arrays (see :func:`stage_stays`): ``deal``,
    ``stage`` (codes into ``stage_names``), ``entered_at``, ``left_at``,
    ``closes``, ``step``, ``lost_from``; and ``opportunity_ids`` by deal."""
    moves = _moves(ds)
    stage, first = moves["stage"], moves["first"]
    before = np.r_[-1, stage[:-1]] if len(stage) else stage
    entry = (stage >= 0) & (first | (stage != before))
    deal = moves["deal"][entry]
    at = moves["changed_at"][entry]
    last = np.r_[deal[1:] != deal[:-1], True] if len(deal) else np.zeros(0, dtype=bool)
    following = np.r_[at[1:], np.datetime64("NaT", "ns")] if len(at) else at
    closed = moves["closed_date"][entry]
    left = np.where(last, closed, following)
    closes = last & ~np.isnat(closed) & (at.astype("datetime64[D]") >= closed.astype("datetime64[D]"))
    left = np.where(closes, np.datetime64("NaT", "ns"), left)
    next_closes = np.r_[closes[1:], False] & ~last
    # the deal was lost from this stage: its next entry is a lost deal's close, or it is the lost deal's last stay
    lost_from = moves["lost"][entry] & ~closes & ((last & ~np.isnat(closed)) | next_closes)
    firsts = np.r_[True, deal[1:] != deal[:-1]] if len(deal) else np.zeros(0, dtype=bool)
    begin = np.maximum.accumulate(np.where(firsts, np.arange(len(deal)), 0)) if len(deal) else np.zeros(0, np.int64)
    return {
        "deal": deal,
        "stage": stage[entry],
        "stage_names": moves["stage_names"],
        "entered_at": at,
        "left_at": left,
        "closes": closes,
        "step": np.arange(len(deal)) - begin,  # 0 for a deal's first entry
        "lost_from": lost_from,
        "opportunity_ids": moves["opportunity_ids"],
    }


def stage_stays(ds: Dataset) -> pd.DataFrame:
    """Every stage entry: ``opportunity_id, rep_id, stage, entered_at,
    left_at`` (NaT: still in it), ``closes`` (the entry is the deal's close:
    no stay) and ``days`` (the stay's length; NaN while it runs or for a
    close), by opportunity and time. Empty without the history table.
    Made once per batch snapshot (:func:`salesnb.analysis.derived.derived`)."""
    from salesnb.analysis.derived import derived

    return derived(ds, "stage_stays", lambda: _stage_stays(ds))


def _stage_stays(ds: Dataset) -> pd.DataFrame:
    columns = ["opportunity_id", "rep_id", "stage", "entered_at", "left_at", "closes", "days", "step", "lost_from"]
    if ds.opportunity_history is None:
        return pd.DataFrame(columns=columns)
    e = _entries(ds)
    out = pd.DataFrame(
        {
            "opportunity_id": e["opportunity_ids"][e["deal"]],
            "rep_id": ds.opportunities["rep_id"].astype("object").to_numpy()[e["deal"]],
            "stage": e["stage_names"][e["stage"]],
            "entered_at": e["entered_at"],
            "left_at": e["left_at"],
            "closes": e["closes"],
            "days": (e["left_at"] - e["entered_at"]) / _DAY,
            "step": e["step"],
            "lost_from": e["lost_from"],
        }
    )
    return out[columns]


def stage_order(stays: pd.DataFrame) -> list[str]:
    """The stages in the order deals move through them: by the average step
    (0 first, 1 second, ...) at which deals first enter each stage, ties by
    name; stages at least half of whose entries are closes (``Closed Won``,
    ``Closed Lost``) come after all the others, in the same order among themselves."""
    if stays.empty:
        return []
    deal = pd.factorize(stays["opportunity_id"])[0]
    stage, names = pd.factorize(stays["stage"])
    order = _order(deal, stage, stays["step"].to_numpy(), stays["closes"].to_numpy(dtype=bool), np.asarray(names, dtype=object))
    return [str(names[code]) for code in order]


def _order(deal, stage, step, closes, names) -> list[int]:
    """:func:`stage_order` over codes: the stage codes in order."""
    deal, stage = np.asarray(deal, dtype=np.int64), np.asarray(stage, dtype=np.int64)
    # each deal's first entry into each stage, found on one integer key (no frame of rows to deduplicate)
    first = _first_entries(deal, stage)
    mean_step = pd.Series(np.asarray(step)[first]).groupby(stage[first], sort=True).mean()
    codes = mean_step.index.to_numpy()
    if len(stage) and stage.min() >= 0:  # the share of closes per stage: sums and counts by code
        shut = np.bincount(stage, weights=np.asarray(closes, dtype="float64"))[codes] / np.bincount(stage)[codes]
        closing = shut >= 0.5
    else:
        closing = (pd.Series(closes).groupby(stage, sort=True).mean() >= 0.5).reindex(mean_step.index).to_numpy()
    ranked = pd.DataFrame(
        {
            "closing": closing,
            "step": mean_step.to_numpy(),
            "name": [str(names[c]) for c in mean_step.index],
        },
        index=mean_step.index,
    )
    return [int(c) for c in ranked.sort_values(["closing", "step", "name"], kind="stable").index]


def _first_entries(deal: np.ndarray, stage: np.ndarray) -> np.ndarray:
    """Whether each row is its deal's first row in its stage (``drop_duplicates`` of the
    pairs, keeping the first). Rows of a deal together (the entries): each row compared
    with the deal's rows before it, one lag at a time (a deal has few entries); else, or
    for a deal of very many entries, one integer key per pair, hashed."""
    n = len(deal)
    if not n:
        return np.zeros(0, dtype=bool)
    change = np.r_[True, deal[1:] != deal[:-1]]
    step = np.arange(n) - np.maximum.accumulate(np.where(change, np.arange(n), 0))
    if int(step.max()) <= _MAX_LAGS and (np.diff(deal) >= 0).all():
        seen = np.zeros(n, dtype=bool)
        rows = np.flatnonzero(step >= 1)
        lag = 1
        while len(rows):
            seen[rows] |= stage[rows] == stage[rows - lag]
            lag += 1
            rows = rows[step[rows] >= lag]
        return ~seen
    size = int(stage.max()) + 2  # stage + 1 in [0, size): one key per (deal, stage), -1 included
    return ~pd.Series(deal * size + stage + 1, copy=False).duplicated(keep="first").to_numpy()


_MAX_LAGS = 64
"""At most this many entries of one deal before :func:`_first_entries` hashes the pairs instead."""


def pipeline_stages(ds: Dataset, *, period: Period, by: str | None = "rep") -> pd.DataFrame:
    """Per group and stage: ``entered``, ``days_median`` and ``open_stays``
    for ``period`` (see the module doc), stages in :func:`stage_order`;
    every stage of the history is listed for every group that has any
    entry. ``by``: ``rep`` (column ``rep_id``), ``team``, ``territory``
    (the deal's rep's), ``customer_type``, ``market_tier`` (the deal's
    customer's), ``acquisition_method`` (the deal's own, else its
    customer's), as :func:`salesnb.analysis.metrics.metrics_table` groups
    deals (a deal whose group is not known: ``(unknown)``); None: one row
    per stage for all the deals, no group column. Empty without the history
    table. Computed over integer codes (no string per history row)."""
    from salesnb.analysis.frames import GROUPINGS

    if by is not None and by not in GROUPINGS:
        from salesnb.errors import InputError

        raise InputError(f"by must be one of {', '.join(GROUPINGS)} (or None), not {by!r}")
    column = GROUPINGS[by] if by is not None else None
    front = {column: pd.Series([], dtype=object)} if column else {}
    empty = pd.DataFrame({**front, **{c: [] for c in PIPELINE_COLUMNS}})
    if ds.opportunity_history is None:
        return empty
    e = _entries(ds)
    if not len(e["deal"]):
        return empty
    deal_group, names = _deal_groups(ds, by)
    group = deal_group[e["deal"]]
    n_stages = len(e["stage_names"])
    key = group * n_stages + e["stage"]
    end = np.datetime64(period.end_exclusive, "ns")
    entered_at, left_at = e["entered_at"], e["left_at"]
    began_in = (entered_at >= np.datetime64(period.start, "ns")) & (entered_at < end)
    finished = ~np.isnat(left_at) & (left_at < end)
    running = (entered_at < end) & ~e["closes"] & ~finished
    size = len(names) * n_stages
    entered = np.bincount(key, weights=began_in, minlength=size)
    open_stays = np.bincount(key, weights=running, minlength=size)
    measured = began_in & finished
    days = (left_at[measured] - entered_at[measured]) / _DAY
    median = pd.Series(days).groupby(key[measured]).median().reindex(np.arange(size)).to_numpy()
    order = _order(e["deal"], e["stage"], e["step"], e["closes"], e["stage_names"])
    seen = np.bincount(group, minlength=len(names)) > 0
    groups = sorted((i for i in range(len(names)) if seen[i] and pd.notna(names[i])), key=lambda i: str(names[i]))
    cells = np.array([g * n_stages + st for g in groups for st in order], dtype=np.int64)
    out = pd.DataFrame(
        {
            "group": np.repeat(np.asarray(names, dtype=object)[groups], len(order)) if groups else np.zeros(0, dtype=object),
            "stage": np.tile(np.asarray(e["stage_names"], dtype=object)[order], len(groups)),
            "entered": entered[cells].astype("int64"),
            "days_median": median[cells],
            "open_stays": open_stays[cells].astype("int64"),
        }
    )
    return out.rename(columns={"group": column}) if column else out.drop(columns="group")


def _deal_groups(ds: Dataset, by: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The group code of every opportunity (by position) and the group names
    (see :func:`pipeline_stages`); a rep-based grouping is looked up once per rep."""
    from salesnb.analysis.frames import UNKNOWN

    opps = ds.opportunities
    if by is None:
        return np.zeros(len(opps), dtype=np.int64), np.array(["all"], dtype=object)
    if by in ("rep", "team", "territory"):
        rep_code, rep_names = pd.factorize(opps["rep_id"].astype("object"), use_na_sentinel=False)
        group_names = _group_of(ds, pd.Series(np.asarray(rep_names, dtype=object)), by).to_numpy(dtype=object)
        group_code, names = pd.factorize(group_names, use_na_sentinel=False)
        return group_code[rep_code], np.asarray(names, dtype=object)
    customers = ds.customers
    if customers is not None and by in customers.columns:
        first = customers.drop_duplicates("customer_id")
        label = pd.Series(plain(first[by]).to_numpy(dtype=object), index=first["customer_id"].astype("object"))
        labels = opps["customer_id"].astype("object").map(label)
    else:
        labels = pd.Series(np.nan, index=opps.index, dtype=object)
    if by == "acquisition_method":
        own = plain(opps["acquisition_method"]).astype("object")
        labels = own.where(own.notna() & own.astype(str).str.strip().ne(""), labels.to_numpy())
    labels = labels.where(labels.notna(), UNKNOWN).astype(str)
    code, names = pd.factorize(labels.to_numpy(dtype=object))
    return code, np.asarray(names, dtype=object)


def _group_of(ds: Dataset, rep_ids: pd.Series, by: str) -> pd.Series:
    if by == "rep":
        return rep_ids.astype("object")
    from salesnb.analysis.frames import UNKNOWN

    reps = ds.reps.drop_duplicates("rep_id")
    team = pd.Series(plain(reps[by]).to_numpy(dtype=object), index=reps["rep_id"].astype("object"))
    return rep_ids.astype("object").map(team).fillna(UNKNOWN)


def add_stage_findings(ds: Dataset, diagnoses: list[dict], period: Period, table: pd.DataFrame) -> None:
    """Set ``stage_finding`` on each diagnosis (in place): for a ``velocity``
    focus the stage where the rep's deals stall, for ``conversion`` the one
    where they die, else None (rules in the module doc). ``table``: the
    metrics table the diagnoses came from (its ``team`` column gives a
    team benchmark's peers). Nothing is set without the history table."""
    if ds.opportunity_history is None:
        return
    stays = None
    for d in diagnoses:
        d["stage_finding"] = None
        if d.get("focus") not in ("velocity", "conversion"):
            continue
        if stays is None:
            stays = stage_stays(ds)
            closing = set(stage_order(stays)) - set(_moving_stages(stays))
            stays = stays[~stays["stage"].isin(closing)]
            end = np.datetime64(period.end_exclusive, "ns")
            stays = stays[period.contains(stays["entered_at"]).to_numpy()]
            stays = stays.assign(finished=stays["left_at"].notna().to_numpy() & (stays["left_at"].to_numpy() < end))
            # every rep's figures, made once for all the diagnoses (was once per rep: issue #16)
            finished = stays[stays["finished"]]
            figures = {"velocity": _per_rep(finished, "days", "median"), "conversion": _per_rep(finished, "lost_from", "mean")}
        rep = d["rep_id"]
        peers = _peers(table, rep, d.get("peer_group"))
        if d["focus"] == "velocity":
            d["stage_finding"] = _stall(figures["velocity"], rep, peers)
        else:
            d["stage_finding"] = _death(figures["conversion"], rep, peers)


def _moving_stages(stays: pd.DataFrame) -> list[str]:
    closing = stays.groupby("stage", sort=True)["closes"].mean() >= 0.5
    return [stage for stage, is_closing in closing.items() if not is_closing]


def _peers(table: pd.DataFrame, rep: str, peer_group) -> list[str]:
    others = table[table["rep_id"] != rep]
    if peer_group == "team":
        team = table.loc[table["rep_id"] == rep, "team"]
        if len(team) and pd.notna(team.iloc[0]):
            others = others[others["team"] == team.iloc[0]]
    return [str(r) for r in others["rep_id"]]


def _per_rep(stays: pd.DataFrame, value: str, how: str) -> pd.DataFrame:
    grouped = stays.groupby([stays["rep_id"].astype("object"), "stage"], sort=True)[value]
    return pd.DataFrame({"value": grouped.agg(how), "n": grouped.size()}).reset_index()


def _finding(figures: pd.DataFrame, rep: str, peers: list[str], kind: str, pick) -> dict | None:
    """The stage ``pick(rep_value, peer_value)`` ranks highest (None: not a finding),
    among stages where the rep and enough peers have enough stays."""
    from salesnb.analysis import privacy

    enough = figures[figures["n"] >= STAGE_MIN_STAYS]
    enough = enough.assign(peer=enough["rep_id"].isin(peers).to_numpy())  # once, not once per stage
    best = None
    for stage, rows in enough.groupby("stage", sort=True):
        mine = rows[rows["rep_id"] == rep]
        theirs = rows[rows["peer"].to_numpy()]
        if mine.empty:
            continue
        own = float(mine["value"].iloc[0])
        peer = privacy.safe_median(theirs["value"].to_numpy(dtype="float64"), theirs["value"].tolist(), kind, rep_value=own)
        if peer is None:
            continue
        score = pick(own, float(peer))
        if score is not None and (best is None or score > best[0]):
            best = (score, stage, own, float(peer), int(mine["n"].iloc[0]), len(theirs))
    if best is None:
        return None
    _, stage, own, peer, n, count = best
    return {"stage": str(stage), "rep_value": own, "peer_median": peer, "n": n, "peers": count, "text": ""}


def _stall(figures: pd.DataFrame, rep: str, peers: list[str]) -> dict | None:
    """``figures``: :func:`_per_rep` of the finished stays' days, by median."""
    found = _finding(
        figures, rep, peers, "days", lambda own, peer: own / peer if peer > 0 and own >= STALL_FACTOR * peer else None
    )
    return None if found is None else {"kind": "stall", **found}


def _death(figures: pd.DataFrame, rep: str, peers: list[str]) -> dict | None:
    """``figures``: :func:`_per_rep` of the finished stays' ``lost_from``, by mean."""

    def pick(own, peer):
        return own - peer if own >= DIE_FACTOR * peer and own - peer >= DIE_MIN_GAP else None

    found = _finding(figures, rep, peers, "share", pick)
    return None if found is None else {"kind": "die", **found}


def stage_figures(ds: Dataset, *, period: Period) -> pd.DataFrame:
    """Every rep's stage figures in ``period``, as :func:`stage_comparison`
    compares them: ``figure`` (``days``: the median finished stay begun in
    the period; ``moved_on``: the share of those stays not ended by the deal
    lost), ``stage``, ``rep_id``, ``value``, ``n`` (stays). ``attrs["stages"]``:
    the stages deals move through, in :func:`stage_order` (closing stages
    left out). Computed once for every rep of a batch; empty without the
    history table."""
    out = pd.DataFrame(columns=["figure", "stage", "rep_id", "value", "n"])
    out.attrs["stages"] = []
    if ds.opportunity_history is None:
        return out
    e = _entries(ds)  # over codes: no string per stay (issue #16)
    names = np.asarray(e["stage_names"], dtype=object)
    stage = e["stage"]
    entries = np.bincount(stage, minlength=len(names))
    closing = np.bincount(stage, weights=e["closes"], minlength=len(names)) / np.maximum(entries, 1) >= 0.5
    moving = [code for code in _order(e["deal"], stage, e["step"], e["closes"], names) if entries[code] and not closing[code]]
    end = np.datetime64(period.end_exclusive, "ns")
    entered_at, left_at = e["entered_at"], e["left_at"]
    began = (entered_at >= np.datetime64(period.start, "ns")) & (entered_at < end)
    keep = began & np.isin(stage, moving) & ~np.isnat(left_at) & (left_at < end)
    rep_code, reps = _sorted_codes(ds.opportunities["rep_id"])
    rep = rep_code[e["deal"][keep]]
    stage_rank = np.empty(len(names), dtype=np.int64)
    stage_rank[np.argsort(names.astype(str), kind="stable")] = np.arange(len(names))
    known = rep >= 0  # a deal without a rep: in no rep's figures
    key = rep[known] * len(names) + stage_rank[stage[keep][known]]
    days = pd.Series((left_at[keep][known] - entered_at[keep][known]) / _DAY)
    moved = pd.Series(~e["lost_from"][keep][known])
    parts = []
    for figure, values, how in (("days", days, "median"), ("moved_on", moved, "mean")):
        grouped = values.groupby(key, sort=True)
        value = grouped.agg(how)
        cells = value.index.to_numpy()
        part = pd.DataFrame(
            {
                "figure": figure,
                "stage": pd.array(names[np.argsort(stage_rank)][cells % len(names)].astype(str), dtype="str"),
                "rep_id": np.asarray(reps, dtype=object)[cells // len(names)],
                "value": value.to_numpy(),
                "n": grouped.size().to_numpy(),
            }
        )
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.attrs["stages"] = [str(names[code]) for code in moving]
    return out


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values.astype("object"), sort=True)``: of a categorical of text (a
    loaded table's IDs), off its codes, the used categories sorted (no object per row)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        names = np.asarray(values.cat.categories.astype("object"))
        if all(isinstance(name, str) for name in names):
            codes = values.cat.codes.to_numpy()
            used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(names)))
            ranked = used[np.argsort(names[used], kind="stable")]
            at = np.full(len(names) + 1, -1, dtype=np.intp)
            at[ranked] = np.arange(len(ranked))
            return at[codes], names[ranked]  # at[-1]: a missing ID stays -1
    return pd.factorize(values.astype("object"), sort=True)


def stage_groups(figures: pd.DataFrame) -> dict:
    """:func:`stage_figures` split once by figure and stage, as arrays:
    ``stages`` (its ``attrs["stages"]``) and ``groups``: (figure, stage) ->
    (rep_id, value, n), each in the table's order. A batch makes it once, and
    every rep's :func:`stage_comparison` picks its own and its peers' rows by index."""
    groups = {}
    if len(figures):
        keys = pd.Series(list(zip(figures["figure"].astype(str), figures["stage"].astype(str))))
        code, found = pd.factorize(keys)
        ids = figures["rep_id"].astype(str).to_numpy(dtype=object)
        values, counts = figures["value"].to_numpy(), figures["n"].to_numpy()
        for number, (name, stage) in enumerate(found):
            rows = np.flatnonzero(code == number)
            groups[(name, stage)] = (ids[rows], values[rows], counts[rows])
    return {"stages": list(figures.attrs.get("stages", [])), "groups": groups}


def stage_comparison(
    ds: Dataset,
    rep_id: str,
    peers: list[str],
    *,
    period: Period,
    figures: pd.DataFrame | None = None,
    groups: dict | None = None,
) -> pd.DataFrame:
    """One rep's stages against the peers' for a rep report: per stage deals
    move through (closing stages left out, in :func:`stage_order`) the rep's
    median finished stay begun in ``period`` (``rep_days``) and the share of
    those stays that did not end with the deal lost (``rep_moved_on``: the
    stage-to-stage conversion), ``stays``, and the peers' median of the same
    figures (``peer_days``, ``peer_moved_on``) over peers with
    :data:`STAGE_MIN_STAYS` stays or more, made safe to show
    (:mod:`salesnb.analysis.privacy`; None when it cannot be). ``peers``: how
    many peers the medians rest on. Empty without the history table.
    ``figures``: :func:`stage_figures` for ``period``, when already made (a
    batch makes it once for every rep's report); ``groups``: its
    :func:`stage_groups`, when already made (the batch makes that once too)."""
    from salesnb.analysis import privacy

    columns = ["stage", "rep_days", "peer_days", "rep_moved_on", "peer_moved_on", "stays", "peers"]
    if ds.opportunity_history is None:
        return pd.DataFrame(columns=columns)
    if groups is None:
        groups = stage_groups(stage_figures(ds, period=period) if figures is None else figures)
    wanted = {str(p) for p in peers}  # looked up by hash: numpy's isin on object arrays compares pairs (seconds at 5,000 peers)
    empty = (np.array([], dtype=object), np.array([], dtype="float64"), np.array([], dtype="int64"))
    rows = []
    for stage in groups["stages"]:
        row = {"stage": stage}
        for name, kind in (("days", "days"), ("moved_on", "share")):
            ids, values, counts = groups["groups"].get((name, str(stage)), empty)
            mine = np.flatnonzero(ids == str(rep_id))
            theirs = np.fromiter((i in wanted for i in ids), dtype=bool, count=len(ids))
            own = float(values[mine[0]]) if len(mine) else None
            enough = theirs & (counts >= STAGE_MIN_STAYS)
            row[f"rep_{name}"] = own
            row[f"peer_{name}"] = privacy.safe_median(
                values[enough].astype("float64"), values[theirs].tolist(), kind, rep_value=own
            )
            row["stays"] = int(counts[mine[0]]) if len(mine) else 0
            row["peers"] = int(enough.sum())
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
