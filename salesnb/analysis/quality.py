"""Data-quality flags: what a reader should know before trusting a figure.

:func:`quality_flags` returns one tidy frame, ``flag, rep_id, table, rows,
detail``, with the contract's stable flag names:

``padded_activity``
    Bursts of contacts linked to no customer and no opportunity. A rep is
    flagged when either (a) on some day they log at least
    :data:`BURST_MIN_CONTACTS` unlinked contacts *and* at least
    :data:`BURST_FACTOR` times their own usual day (the median number of
    contacts on the days they log any), or (b) at least
    :data:`PILE_MIN_UNLINKED` of their unlinked contacts exist, at least
    :data:`PILE_MIN_SHARE` of them fall on month-end days (the last calendar
    or working day of a month, about 1 working day in 20) and that share is
    at least :data:`BURST_FACTOR` times the share of their linked contacts
    on those days. Both rules compare a rep with their own rhythm only, so a
    busy rep is not flagged for being busy, and an honest rep with a few
    unlinked calls a week never reaches the thresholds.
``stale_pipeline``
    Deals open at the reference day (the period's end, else ``as_of``, else
    the data's last day) whose last activity, or created date when none, is
    more than :data:`STALE_DAYS` days earlier.
``pushed_close_dates``
    Deals closed in the period or open at the reference day whose expected
    close date was pushed out :data:`PUSHED_MIN_PUSHES` times or more by
    that day (``opportunity_history``; see :mod:`salesnb.analysis.history`).
``bulk_updates``
    A rep whose history changes come in bursts: at least
    :data:`BULK_MIN_BURSTS` times in the period, :data:`BULK_MIN_DEALS` or
    more different deals of theirs changed within
    :data:`BULK_WINDOW_MINUTES` minutes (a burst: the changes from one
    change on, over the window; bursts do not overlap). Their stage stays
    and pushes are dated by the typing, not by the work. Judged only when
    the history has times of day: a history of dates alone (every change at
    midnight) cannot show a burst and is not flagged.
``small_sample``
    Fewer than ``metrics.SMALL_SAMPLE_MIN_CLOSED`` closed deals in the
    period (the whole data span when no period is given).
``closed_before_created``, ``missing_required``, ``orphan_rep``, ``duplicate_id`` (and any other loader flag)
    The loader's findings, counted per flag, table and rep where the rep is
    known.
``quarantined``
    Per table, how many rows were set aside and left out of every figure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import pandas as pd

from salesnb.io.dataset import Dataset

__all__ = [
    "BURST_FACTOR",
    "BURST_MIN_CONTACTS",
    "COLUMNS",
    "FLAG_ORDER",
    "PILE_MIN_SHARE",
    "PILE_MIN_UNLINKED",
    "STALE_DAYS",
    "PUSHED_MIN_PUSHES",
    "BULK_MIN_DEALS",
    "BULK_WINDOW_MINUTES",
    "BULK_MIN_BURSTS",
    "bulk_updates",
    "advice_records",
    "padded_activity",
    "pushed_close_dates",
    "quality_flags",
    "quality_for_rep",
    "stale_pipeline",
    "idle_open_deals",
]

COLUMNS = ["flag", "rep_id", "table", "rows", "detail"]

BURST_MIN_CONTACTS = 10
"""A burst day holds at least this many unlinked contacts..."""
BURST_FACTOR = 3.0
"""...and at least this many times the rep's usual number of contacts a day."""
PILE_MIN_UNLINKED = 20
"""A month-end pile needs at least this many unlinked contacts in the period..."""
PILE_MIN_SHARE = 0.30
"""...at least this share of them on month-end days (about 5 % would be chance)."""
STALE_DAYS = 90
"""An open deal untouched for more than this many days is stale."""
PUSHED_MIN_PUSHES = 3
"""A deal whose close date was pushed this many times keeps moving out."""
BULK_MIN_DEALS = 10
"""A burst of history changes moves at least this many different deals..."""
BULK_WINDOW_MINUTES = 10
"""...within this many minutes..."""
BULK_MIN_BURSTS = 2
"""...and a rep is flagged from this many bursts in the period (one could be a one-off import)."""

FLAG_ORDER = (
    "padded_activity",
    "stale_pipeline",
    "pushed_close_dates",
    "bulk_updates",
    "small_sample",
    "closed_before_created",
    "missing_required",
    "orphan_rep",
    "duplicate_id",
)


def quality_flags(
    ds: Dataset, *, period=None, as_of=None, metrics: pd.DataFrame | None = None, reps: Iterable[str] | None = None
) -> pd.DataFrame:
    """Every data-quality flag for ``ds``, one row per flag, rep and table.

    Parameters
    ----------
    ds : Dataset
    period : str or Period, optional
        Limits ``padded_activity`` and ``small_sample`` to the period and
        sets the reference day for ``stale_pipeline`` (its end). Default:
        the data's whole span. Loader findings always cover the whole source.
    as_of : date-like, optional
        Resolves relative periods; without a period, the reference day for
        ``stale_pipeline``.
    metrics : DataFrame, optional
        With a period: ``metrics_table(ds, by="rep", period=period,
        as_of=as_of)`` when the caller has made it already (``small_sample``
        reads it); not changed.
    reps : iterable of str, optional
        Only these reps' rows (and the source-wide ones): the rows of every rep's
        flags that concern them, in the same order, as each rep's rows describe
        its own data; the deal-history checks read only their deals (a ``--rep``
        batch on a 10,000-rep source).

    Returns
    -------
    DataFrame
        Columns ``flag, rep_id, table, rows, detail``; ``rep_id`` is None for
        source-wide rows; ``rows`` counts the rows concerned. Each rep's rows
        describe that rep's own data only.
    """
    from salesnb.analysis.periods import data_span, parse_period

    span = parse_period(period, as_of=as_of) if period is not None else None
    whole = span or _whole_span(ds, as_of, data_span)
    if span is not None:
        reference = span.end
    elif as_of is not None:
        reference = pd.Timestamp(as_of).normalize()
    else:
        reference = whole.end if whole is not None else None
    chosen = None if reps is None else {str(r) for r in reps}
    records = advice_records(ds, period=span, reference=reference, reps=chosen)
    if ds.opportunity_history is not None:
        if reference is not None:
            records += pushed_close_dates(ds, period=span, reference=reference, reps=chosen)
        records += bulk_updates(ds.opportunity_history, ds.opportunities, period=span, reps=chosen)
    if whole is not None:
        records += _small_sample(ds, whole, as_of, metrics if span is not None else None)
    records += _loader_findings(ds)
    records += _quarantined(ds)
    if chosen is not None:
        records = [r for r in records if r["rep_id"] is None or r["rep_id"] != r["rep_id"] or str(r["rep_id"]) in chosen]
    frame = pd.DataFrame(records, columns=COLUMNS)
    order = {flag: i for i, flag in enumerate(FLAG_ORDER)}
    frame["_order"] = frame["flag"].map(lambda f: order.get(f, len(FLAG_ORDER) + (f == "quarantined")))
    frame = frame.sort_values(["_order", "flag", "rep_id", "table"], na_position="last", kind="stable")
    frame = frame.drop(columns="_order").reset_index(drop=True)
    frame["rows"] = frame["rows"].astype("int64")
    frame["rep_id"] = frame["rep_id"].astype(object).where(frame["rep_id"].notna(), None)
    return frame


def quality_for_rep(flags: pd.DataFrame, rep_id: str) -> pd.DataFrame:
    """The rows of :func:`quality_flags` that concern ``rep_id``, to show
    next to that rep's figures."""
    return flags[flags["rep_id"].eq(rep_id).fillna(False).astype(bool)].reset_index(drop=True)


# -- padded activity -----------------------------------------------------------


def advice_records(ds, *, period, reference, reps: Iterable[str] | None = None) -> list[dict]:
    """The ``padded_activity`` records of ``period`` (with an activities table) and the
    ``stale_pipeline`` records at ``reference`` (a day, or None: none): what a
    diagnosis carries and the data checks list, made once per batch snapshot
    (:func:`salesnb.analysis.derived.derived`) for both; each call gets its own copies.
    ``reps``: only these reps' records, judged on their own contacts and open deals
    (each rep's records are its own; any rep's contact on a deal still touches it)."""
    import copy

    from salesnb.analysis.derived import derived

    chosen = None if reps is None else tuple(sorted({str(r) for r in reps}))

    def make() -> list[dict]:
        records = []
        if ds.activities is not None:
            acts = ds.activities
            if chosen is not None:
                acts = acts[_of_reps(acts["rep_id"], set(chosen))]
            records += padded_activity(acts, period=period)
        if reference is not None:
            opps = ds.opportunities if chosen is None else ds.opportunities[_of_reps(ds.opportunities["rep_id"], set(chosen))]
            records += stale_pipeline(opps, ds.activities, reference=reference)
        return records

    bounds = None if period is None else (period.label, period.start, period.end)
    day = None if reference is None else pd.Timestamp(reference).normalize()
    key = ("advice_records", bounds, day) if chosen is None else ("advice_records", bounds, day, chosen)
    return copy.deepcopy(derived(ds, key, make))


def padded_activity(activities: pd.DataFrame, *, period=None) -> list[dict]:
    """``padded_activity`` records, one per flagged rep (rules in the module doc), in the
    order of the reps' ``rep_id`` (its categories' order for a categorical). Every rep is
    judged at once on its counts per day (all contacts, unlinked ones): no Python per rep
    but the flagged reps' words."""
    columns = ["rep_id", "date", "customer_id", "opportunity_id"]  # only what the rule reads: no copy of the others
    acts = activities[columns][(activities["rep_id"].notna() & activities["date"].notna()).to_numpy()]
    if period is not None:
        acts = acts[period.contains(acts["date"])]
    if acts.empty:
        return []
    loose = (_blank(acts["customer_id"]) & _blank(acts["opportunity_id"])).to_numpy(dtype=bool)
    rep_codes, reps = pd.factorize(acts["rep_id"], sort=True)  # groupby's order (a categorical's categories)
    day_codes, days = _day_codes(acts["date"])
    # one group per rep and day, in the order of rep then day: its key, contacts and unlinked ones
    keys, total, unlinked = _counts(rep_codes.astype("int64") * len(days) + day_codes, len(reps) * len(days), loose)
    group_rep, group_day = np.divmod(keys, len(days))
    linked = total - unlinked
    at_end = _month_end_day(pd.Series(days)).to_numpy(dtype=bool)[group_day]
    starts = np.flatnonzero(np.r_[True, group_rep[1:] != group_rep[:-1]])  # each rep's first group
    sizes = np.diff(np.r_[starts, len(keys)])
    # the median of each rep's contacts a day: its counts sorted within the rep
    ordered = total[np.lexsort((total, group_rep))].astype("float64")
    usual = (ordered[starts + (sizes - 1) // 2] + ordered[starts + sizes // 2]) / 2
    own_unlinked = np.add.reduceat(unlinked, starts)
    own_linked = np.add.reduceat(linked, starts)
    with np.errstate(divide="ignore", invalid="ignore"):
        share_end = np.add.reduceat(unlinked * at_end, starts) / own_unlinked
        linked_share_end = np.where(own_linked > 0, np.add.reduceat(linked * at_end, starts) / own_linked, 0.0)
    baseline = np.maximum(linked_share_end, 1 / 21)  # a month-end day is about one working day in 21
    piled = (own_unlinked >= PILE_MIN_UNLINKED) & (share_end >= PILE_MIN_SHARE) & (share_end >= BURST_FACTOR * baseline)
    rep_of_group = np.repeat(np.arange(len(starts)), sizes)
    burst = (unlinked > 0) & (unlinked >= BURST_MIN_CONTACTS) & (unlinked >= BURST_FACTOR * usual[rep_of_group])
    suspect = (unlinked > 0) & (burst | (piled[rep_of_group] & at_end))
    records = []
    for rep in np.flatnonzero(
        (own_unlinked > 0) & ((np.bincount(rep_of_group, weights=burst, minlength=len(starts)) > 0) | piled)
    ):
        own = slice(starts[rep], starts[rep] + sizes[rep])
        counts = unlinked[own][suspect[own]]
        order = np.argsort(-counts, kind="stable")  # most first, earlier days first among equals
        counts, on = counts[order], days[group_day[own][suspect[own]][order]]
        shown = ", ".join(f"{pd.Timestamp(day):%Y-%m-%d}: {n}" for day, n in zip(on[:4], counts[:4]))
        more = f" and {len(counts) - 4} more days" if len(counts) > 4 else ""
        share, many, plain = float(share_end[rep]), int(own_unlinked[rep]), float(usual[rep])
        detail = (
            f"{int(counts.sum())} contacts linked to no customer and no opportunity on {len(counts)} "
            f"day{'s' if len(counts) != 1 else ''} ({shown}{more}), against this rep's usual {plain:g} "
            f"contact{'s' if plain != 1 else ''} a day; "
            f"{share:.0%} of this rep's {many} unlinked contacts fall on month-end days"
        )
        records.append(
            {
                "flag": "padded_activity",
                "rep_id": str(reps[group_rep[starts[rep]]]),
                "table": "activities",
                "rows": int(counts.sum()),
                "detail": detail,
            }
        )
    return records


def _day_codes(dates: pd.Series) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Each date's day (``dt.normalize()``) as a code into the days returned, in order:
    for dates without a time zone every calendar day from the first to the last (no hashing)."""
    if isinstance(dates.dtype, np.dtype) and dates.dtype.kind == "M":  # naive: whole days since the epoch, floored
        number = dates.to_numpy().astype("datetime64[D]").astype("int64")
        first = int(number.min())
        return number - first, pd.DatetimeIndex(np.arange(first, int(number.max()) + 1).astype("datetime64[D]"))
    codes, days = pd.factorize(dates.dt.normalize(), sort=True)
    return codes, pd.DatetimeIndex(days)


def _counts(key: np.ndarray, size: int, loose: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The keys present (sorted), and per key the rows and the ``loose`` rows: counted
    straight into ``size`` bins when that is not much more than the rows, else hashed."""
    if size <= 8 * len(key) + 1_000_000:
        total = np.bincount(key, minlength=size)
        keys = np.flatnonzero(total)
        return keys, total[keys], np.bincount(key[loose], minlength=size)[keys]
    group_of, keys = pd.factorize(key, sort=True)
    return keys, np.bincount(group_of, minlength=len(keys)), np.bincount(group_of[loose], minlength=len(keys))


def _blank(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):  # each category looked at once, spread by the codes
        blank = _blank(pd.Series(values.cat.categories)).to_numpy(dtype=bool)
        codes = values.cat.codes.to_numpy()
        return pd.Series((codes < 0) | np.append(blank, False)[codes], index=values.index)
    return values.isna() | values.astype("str").str.strip().eq("").fillna(False)


def _month_end_day(days: pd.Series) -> pd.Series:
    """True on the last calendar day and the last working day of a month."""
    last_calendar = days + pd.offsets.MonthEnd(0)
    last_working = days + pd.offsets.BMonthEnd(0)
    return (days == last_calendar) | (days == last_working)


# -- stale pipeline ------------------------------------------------------------


def idle_open_deals(opportunities: pd.DataFrame, activities: pd.DataFrame | None, *, reference) -> pd.DataFrame:
    """The deals open at ``reference`` (a rep's, created by then, not yet
    closed), each with ``idle``: the days since its last activity, or since
    it was created when it has none. One rule for the ``stale_pipeline`` flag
    and the stalled deals a velocity focus names
    (:func:`salesnb.analysis.actions.stalled_deals`)."""
    reference = pd.Timestamp(reference).normalize()
    next_day = reference + pd.Timedelta(days=1)
    opps = opportunities
    open_then = (
        (opps["created_date"] < next_day)
        & (opps["status"].eq("open") | (opps["closed_date"] >= next_day))  # won or lost after the day: open then
        & opps["rep_id"].notna()
    )
    opps = opps[open_then.fillna(False).astype(bool)]
    last_touch = opps["created_date"]
    if activities is not None and len(opps):
        done = activities[activities["opportunity_id"].isin(opps["opportunity_id"]) & (activities["date"] < next_day)]
        latest = done.groupby("opportunity_id", observed=True)["date"].max()
        last_touch = pd.concat([last_touch, opps["opportunity_id"].map(latest)], axis=1).max(axis=1)
    return opps.assign(idle=(reference - last_touch.dt.normalize()).dt.days)


def stale_pipeline(opportunities: pd.DataFrame, activities: pd.DataFrame | None, *, reference) -> list[dict]:
    """``stale_pipeline`` records: per rep, deals open at ``reference`` with
    no activity (or creation) in the :data:`STALE_DAYS` days before it."""
    reference = pd.Timestamp(reference).normalize()
    opps = idle_open_deals(opportunities, activities, reference=reference)
    if opps.empty:
        return []
    stale = opps[opps["idle"] > STALE_DAYS]
    basis = "by last activity, or creation when none" if activities is not None else "by creation date: no activities table"
    records = []
    for rep, own in stale.groupby("rep_id", sort=True, observed=True):
        ids = ", ".join(own.sort_values("idle", ascending=False)["opportunity_id"].astype(str).head(5))
        more = f" and {len(own) - 5} more" if len(own) > 5 else ""
        known = own["amount"].dropna()
        value = (
            f"; {known.sum():,.0f} of open value" + (" (some amounts unknown)" if len(known) < len(own) else "")
            if len(known)
            else ""
        )
        detail = (
            f"{len(own)} open deal{'s' if len(own) != 1 else ''} untouched for more than {STALE_DAYS} days at "
            f"{reference:%Y-%m-%d} ({ids}{more}{value}); the longest idle for {int(own['idle'].max())} days "
            f"({basis})"
        )
        records.append(
            {"flag": "stale_pipeline", "rep_id": str(rep), "table": "opportunities", "rows": len(own), "detail": detail}
        )
    return records


# -- deal history ----------------------------------------------------------------


def pushed_close_dates(ds: Dataset, *, period=None, reference, reps: set[str] | None = None) -> list[dict]:
    """``pushed_close_dates`` records, one per rep with a deal pushed
    :data:`PUSHED_MIN_PUSHES` times or more by ``reference`` that is open
    then or closed in ``period`` (rules in the module doc); ``reps``: only theirs,
    from their deals' pushes alone."""
    from salesnb.analysis.history import close_date_pushes, deal_pushes

    reference = pd.Timestamp(reference).normalize()
    pushes = close_date_pushes(ds)
    opps = ds.opportunities
    if reps is not None:
        opps = opps[_of_reps(opps["rep_id"], reps)]
        pushes = pushes[pushes["opportunity_id"].isin(opps["opportunity_id"]).to_numpy()]
    per_deal = deal_pushes(pushes, until=reference)
    per_deal = per_deal[per_deal["pushes"] >= PUSHED_MIN_PUSHES]
    if per_deal.empty:
        return []
    opps = opps.assign(opportunity_id=opps["opportunity_id"].astype("object"))
    deals = per_deal.merge(opps[["opportunity_id", "rep_id", "status", "closed_date", "created_date"]], on="opportunity_id")
    next_day = reference + pd.Timedelta(days=1)
    still_open = deals["status"].eq("open") | (deals["closed_date"] >= next_day)
    closed_in = period.contains(deals["closed_date"]) if period is not None else deals["closed_date"] < next_day
    deals = deals[(still_open & (deals["created_date"] < next_day)) | (~still_open & closed_in)]
    records = []
    for rep, own in deals.groupby(deals["rep_id"].astype("object"), sort=True):
        own = own.sort_values(["pushes", "opportunity_id"], ascending=[False, True], kind="stable")
        shown = ", ".join(f"{r.opportunity_id} {r.pushes}x, {r.pushed_days:.0f} days" for r in own.head(5).itertuples())
        more = f" and {len(own) - 5} more" if len(own) > 5 else ""
        detail = (
            f"{len(own)} deal{'s' if len(own) != 1 else ''} whose expected close date was pushed out "
            f"{PUSHED_MIN_PUSHES} times or more by {reference:%Y-%m-%d} ({shown}{more}): the forecast dates of "
            f"this rep's pipeline keep slipping"
        )
        records.append(
            {"flag": "pushed_close_dates", "rep_id": str(rep), "table": "opportunity_history", "rows": len(own), "detail": detail}
        )
    return records


def bulk_updates(history: pd.DataFrame, opportunities: pd.DataFrame, *, period=None, reps: set[str] | None = None) -> list[dict]:
    """``bulk_updates`` records, one per rep whose history changes come in
    bursts (rules in the module doc); ``reps``: only theirs, from their deals'
    changes alone (whether the history has times of day is the whole history's)."""
    import numpy as np

    at = history["changed_at"]
    if at.isna().all() or (at.dropna() == at.dropna().dt.normalize()).all():
        return []  # dates only: no time of day to show a burst
    if reps is not None:
        opportunities = opportunities[_of_reps(opportunities["rep_id"], reps)]
        history = history[history["opportunity_id"].isin(opportunities["opportunity_id"]).to_numpy()]
        at = history["changed_at"]
    rep_of = pd.Series(
        opportunities["rep_id"].astype("object").to_numpy(), index=opportunities["opportunity_id"].astype("object")
    )
    changes = pd.DataFrame(
        {"opportunity_id": history["opportunity_id"].astype("object"), "changed_at": at, "rep_id": None}
    ).dropna(subset=["changed_at"])
    changes["rep_id"] = changes["opportunity_id"].map(rep_of)
    changes = changes.dropna(subset=["rep_id"])
    if period is not None:
        changes = changes[period.contains(changes["changed_at"])]
    window = np.timedelta64(BULK_WINDOW_MINUTES, "m")
    changes = changes[changes["rep_id"].isin(_burst_suspects(changes, window)).to_numpy()]  # the rule below on those only
    records = []
    for rep, own in changes.groupby("rep_id", sort=True):
        own = own.sort_values("changed_at", kind="stable")
        times = own["changed_at"].to_numpy()
        deals = own["opportunity_id"].to_numpy()
        reach = np.searchsorted(times, times + window, side="left")
        bursts, i = [], 0
        candidates = np.flatnonzero(reach - np.arange(len(times)) >= BULK_MIN_DEALS)
        for start in candidates:
            if start < i:
                continue  # inside the previous burst
            moved = len(set(deals[start : reach[start]]))
            if moved >= BULK_MIN_DEALS:
                bursts.append((pd.Timestamp(times[start]), moved, int(reach[start] - start)))
                i = reach[start]
        if len(bursts) < BULK_MIN_BURSTS:
            continue
        rows = sum(n for _, _, n in bursts)
        shown = ", ".join(f"{when:%Y-%m-%d %H:%M}: {moved} deals" for when, moved, _ in bursts[:4])
        more = f" and {len(bursts) - 4} more" if len(bursts) > 4 else ""
        detail = (
            f"{rows} of this rep's {len(own)} history changes were logged in {len(bursts)} bursts of "
            f"{BULK_MIN_DEALS} or more deals within {BULK_WINDOW_MINUTES} minutes ({shown}{more}): their stage "
            f"stays and pushed close dates are dated by the typing, not by the work"
        )
        records.append(
            {"flag": "bulk_updates", "rep_id": str(rep), "table": "opportunity_history", "rows": rows, "detail": detail}
        )
    return records


def _of_reps(rep_ids: pd.Series, reps: set[str]) -> np.ndarray:
    """A mask of the rows whose rep is one of ``reps`` (compared as text)."""
    return rep_ids.isin(sorted(reps)).to_numpy(dtype=bool)


def _burst_suspects(changes: pd.DataFrame, window) -> list:
    """The reps :func:`bulk_updates` may flag, found for every rep at once (no Python
    per rep): at least :data:`BULK_MIN_BURSTS` changes each starting a window (a
    second longer, on whole seconds) of :data:`BULK_MIN_DEALS` changes or more. A
    superset: the per-rep rule decides."""
    import numpy as np

    if changes.empty:
        return []
    codes, reps = pd.factorize(changes["rep_id"])
    seconds = changes["changed_at"].to_numpy().astype("datetime64[s]").astype(np.int64)
    seconds = seconds - seconds.min()
    reach_s = int(window / np.timedelta64(1, "s")) + 1
    span = int(seconds.max()) + reach_s + 1  # each rep's changes on a line of their own
    keys = np.sort(codes.astype(np.int64) * span + seconds)
    reach = np.searchsorted(keys, keys + reach_s, side="left")
    starts = (reach - np.arange(len(keys))) >= BULK_MIN_DEALS
    counts = np.bincount(keys[starts] // span, minlength=len(reps))
    return list(reps[counts >= BULK_MIN_BURSTS])


# -- small samples -------------------------------------------------------------


def _whole_span(ds, as_of, data_span):
    from salesnb.errors import InputError

    try:
        span = data_span(ds)
    except InputError:
        return None
    if as_of is not None:
        from salesnb.analysis.periods import Period

        end = pd.Timestamp(as_of).normalize()
        return Period.between(span.start, max(end, span.start))
    return span


def _small_sample(ds, span, as_of, metrics=None) -> list[dict]:
    from salesnb.analysis.metrics import SMALL_SAMPLE_MIN_CLOSED, metrics_table

    table = metrics_table(ds, by="rep", period=span, as_of=as_of) if metrics is None else metrics
    records = []
    for _, row in table[table["small_sample"].fillna(True).astype(bool)].iterrows():
        closed = int(row["closed"]) if pd.notna(row["closed"]) else 0
        detail = (
            f"only {closed} closed deal{'s' if closed != 1 else ''} in {span.label} (fewer than "
            f"{SMALL_SAMPLE_MIN_CLOSED}): win rate, deal size and cycle length are shown but mean little"
        )
        records.append(
            {"flag": "small_sample", "rep_id": str(row["rep_id"]), "table": "opportunities", "rows": closed, "detail": detail}
        )
    return records


# -- the loader's findings -----------------------------------------------------


def _loader_findings(ds) -> list[dict]:
    """Problems found by the loader, counted per flag, table and rep."""
    reps_by_line = _quarantined_reps(ds.quarantine)
    found = []
    for p in ds.problems:
        rep = None
        if p.column == "rep_id" and p.value is not None and p.value == p.value and str(p.value).strip():
            rep = str(p.value).strip()
        else:
            rep = reps_by_line.get((p.table, p.file, p.line))
        found.append(
            {
                "flag": p.flag,
                "table": p.table,
                "file": p.file,
                "line": p.line,
                "rep_id": rep,
                "message": p.message,
                "hint": p.hint,
                "unit": getattr(p, "unit", "line"),
            }
        )
    seen = {(f["flag"], f["table"], f["file"], f["line"]) for f in found}
    for row in _quarantine_records(ds.quarantine):  # flags known only from the quarantine list
        for flag in row["flags"]:
            if (flag, row["table"], row["file"], row["line"]) not in seen:
                found.append(
                    {
                        "flag": flag,
                        "table": row["table"],
                        "file": row["file"],
                        "line": row["line"],
                        "rep_id": row["rep_id"],
                        "message": row["message"],
                        "hint": "",
                        "unit": "line",
                    }
                )
    if not found:
        return []
    frame = pd.DataFrame(found)
    records = []
    for (flag, table, rep), group in frame.groupby(["flag", "table", "rep_id"], dropna=False, sort=True, observed=True):
        rep = None if rep is None or rep != rep else rep
        lines = group.drop_duplicates(["file", "line"])
        where = ", ".join(sorted(set(lines["file"].dropna().astype(str)) - {""})) or table
        numbered = sorted(int(x) for x in lines["line"].dropna())
        unit = lines["unit"].iloc[0] or "line"
        at = f" ({unit}s {', '.join(map(str, numbered[:6]))}{', ...' if len(numbered) > 6 else ''})" if numbered else ""
        message = group["message"].mode().iloc[0]
        hint = next((h for h in group["hint"] if h), "")
        count = len(lines)
        detail = f"{count} row{'s' if count != 1 else ''} in {where}{at}: {message}" + (f". Fix: {hint}" if hint else "")
        records.append({"flag": flag, "rep_id": rep, "table": table, "rows": count, "detail": detail})
    return records


def _quarantine_records(quarantine) -> list[dict]:
    if quarantine is None or quarantine.empty:
        return []
    out = []
    for _, row in quarantine.iterrows():
        flags = row.get("flags", row.get("flag", ""))
        flags = [f for f in str(flags).split(";") if f and f != "nan"] if flags is not None else []
        line = row.get("line")
        out.append(
            {
                "table": row.get("table"),
                "file": row.get("file"),
                "line": None if line is None or pd.isna(line) else int(line),
                "flags": flags,
                "rep_id": _record_rep(row),
                "message": row.get("problems", row.get("message", "")),
            }
        )
    return out


def _quarantined_reps(quarantine) -> dict:
    return {(r["table"], r["file"], r["line"]): r["rep_id"] for r in _quarantine_records(quarantine) if r["rep_id"]}


def _record_rep(row) -> str | None:
    """The rep_id of a quarantined row, when its raw record names one."""
    if "rep_id" in row.index and isinstance(row["rep_id"], str) and row["rep_id"].strip():
        return row["rep_id"].strip()
    record = row.get("record")
    if not isinstance(record, str):
        return None
    try:
        values = json.loads(record)
    except ValueError:
        return None
    rep = values.get("rep_id") if isinstance(values, dict) else None
    return rep.strip() if isinstance(rep, str) and rep.strip() else None


def _quarantined(ds) -> list[dict]:
    rows = _quarantine_records(ds.quarantine)
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    records = []
    for table, group in frame.groupby("table", sort=True):
        counts = pd.Series([f for flags in group["flags"] for f in flags]).value_counts()
        reasons = ", ".join(f"{flag} {n}" for flag, n in counts.items()) or "see the quarantine list"
        files = ", ".join(sorted(set(group["file"].dropna().astype(str)) - {""})) or table
        detail = f"{len(group)} row{'s' if len(group) != 1 else ''} of {files} set aside and left out of every figure ({reasons})"
        records.append({"flag": "quarantined", "rep_id": None, "table": table, "rows": len(group), "detail": detail})
    return records
