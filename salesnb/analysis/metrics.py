"""The contract's sales metrics side by side: the metrics table.

:func:`metrics_table` puts every contract metric side by side, one row per
rep, team, territory, customer type, acquisition method or market tier;
:func:`metrics_over_time` repeats it per month, quarter or year. It composes
the metric families, each defined once in its own module (and importable
from here too)::

    salesnb.analysis.deals       opportunity_counts, win_rate, revenue,
                                 cycle_days, pipeline, pipeline_coverage
    salesnb.analysis.contacts    contact_counts, first_contacts,
                                 contact_close_rate, contacts_per_opportunity
    salesnb.analysis.customers   customer_book, new_customers
    salesnb.analysis.expectations  quotas (quota, attainment, coverage)
    salesnb.analysis.value       clv, value_cost_ratio
    salesnb.analysis.forecasts   forecast_amount, forecast_error_pct
    salesnb.analysis.history     pushed_deals, close_date_pushes
    salesnb.analysis.rates       every ratio (RATES) and small_sample
    salesnb.analysis.frames      the group labels and helpers they share

Period semantics (the contract's): ``opportunities`` counts deals *created*
in the period; won, lost, win_rate, revenue and cycle length count deals by
the day they *closed*; the open pipeline is taken at the period's *end*
(created on or before the end day, not closed by then); activities count by
their date. A metric whose table is missing is NaN, never an invented 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb.analysis.contacts import (
    CONTACT_COLUMNS,
    contact_close_rate,
    contact_counts,
    contacts_per_opportunity,
    count_contacts,
    first_contact_mask,
    first_contact_positions,
    first_contacts,
)
from salesnb.analysis.customers import (
    NEW_CUSTOMER_COLUMNS,
    NO_TIERS_NOTE,
    book_of,
    count_new_customers,
    customer_book,
    new_customers,
    tiers_known,
)
from salesnb.analysis.deals import (
    DEAL_COLUMNS,
    coverage_period,
    cycle_days,
    deal_counts,
    deal_cycle_days,
    deal_flags,
    deal_pipeline,
    deal_revenue,
    opportunity_counts,
    pipeline,
    pipeline_coverage,
    revenue,
    unique_deals,
    win_rate,
)
from salesnb.analysis.derived import derived, shareable
from salesnb.analysis.expectations import quota_table
from salesnb.analysis.forecasts import error_pct, forecast_accuracy, forecasts_in_periods, monthly_won
from salesnb.analysis.frames import GROUPINGS, UNKNOWN, lookup
from salesnb.analysis.history import PUSH_COLUMNS, close_date_pushes, push_deals, push_metrics, push_positions
from salesnb.analysis.periods import RELATIVE, DateLike, Period, PeriodLike, data_span, parse_period, periods_between
from salesnb.analysis.rates import RATES, SMALL_SAMPLE_MIN_CLOSED, ratio
from salesnb.analysis.value import clv_source, value_cost
from salesnb.errors import InputError
from salesnb.io.categorical import coalesce, plain, release_arrow_memory
from salesnb.io.dataset import Dataset
from salesnb.io.value_lookup import repeats

__all__ = [
    "CONTACT_COLUMNS",
    "EXTRAS",
    "GROUPINGS",
    "METRICS",
    "NEW_CUSTOMER_COLUMNS",
    "PERIOD_FIGURES",
    "RATES",
    "SMALL_SAMPLE_MIN_CLOSED",
    "TEXT_METRICS",
    "UNKNOWN",
    "blank_empty_period",
    "contact_close_rate",
    "contact_counts",
    "contacts_per_opportunity",
    "customer_book",
    "cycle_days",
    "first_contacts",
    "metrics_over_time",
    "metrics_table",
    "new_customers",
    "opportunity_counts",
    "pipeline",
    "pipeline_coverage",
    "revenue",
    "win_rate",
]

METRICS = (
    "opportunities",
    "won",
    "lost",
    "open",
    "win_rate",
    "contacts",
    "new_prospect_contacts",
    "follow_up_contacts",
    "contact_close_rate",
    "contacts_per_opportunity",
    "revenue_won",
    "avg_deal_size",
    "cycle_days_median",
    "pipeline_open_amount",
    "pipeline_coverage",
    "quota",
    "attainment",
    "new_customers_primary",
    "new_customers_secondary",
    "clv",
    "value_cost_ratio",
    "forecast_amount",
    "forecast_error_pct",
    "quota_source",
    "pushed_deals",
    "close_date_pushes",
)
"""The contract's metric names, in contract order."""

TEXT_METRICS = ("quota_source",)
"""Metrics that are words, not numbers (``quota_source``: ``quotas`` or ``expectations``)."""

EXTRAS = (
    "closed",
    "small_sample",
    "cycle_days_p25",
    "cycle_days_p75",
    "weighted_pipeline",
    "pipeline_unknown_amounts",
    "unlinked_contacts",
    "clv_source",
)
"""Columns :func:`metrics_table` adds after the contract metrics."""

_REP_GROUPS = ("rep", "team", "territory")
_CUSTOMER_GROUPS = ("customer_type", "market_tier")


# -- the metrics table -----------------------------------------------------------


def metrics_table(
    ds: Dataset, *, by: str = "rep", period: PeriodLike | None = None, as_of: DateLike | None = None
) -> pd.DataFrame:
    """Every contract metric for ``period``, one row per group.

    Parameters
    ----------
    ds : Dataset
        The loaded data source.
    by : {"rep", "team", "territory", "customer_type", "acquisition_method", "market_tier"}
        The grouping. Team and territory are the rep's (reps table);
        customer_type and market_tier the deal's or contact's customer's;
        acquisition_method the opportunity's, else its customer's. Anything
        whose group is not known is counted under ``"(unknown)"``, never
        dropped.
    period : str or Period, optional
        Any form :func:`salesnb.analysis.periods.parse_period` accepts; default: the
        whole span of the data (:func:`salesnb.analysis.periods.data_span`).
    as_of : date-like, optional
        Resolves relative periods (``last-quarter``...).

    Returns
    -------
    DataFrame
        The group column first (for ``by="rep"``: rep_id, name, team,
        territory, with every rep of the reps table), then :data:`METRICS`
        in contract order, then :data:`EXTRAS`. A metric whose table is
        missing is NaN; ``table.attrs["notes"]`` says which table would
        enable it and ``table.attrs["period"]`` holds the Period.
    """
    period = _resolve_period(ds, period, as_of)
    # once per batch snapshot and arguments: the scorecard, the training page and the
    # pages' own tables ask for the same (a copy each; any other dataset: made each call)
    key = ("metrics_table", by, period.label, period.start, period.end, None if as_of is None else str(as_of))
    table = derived(ds, key, lambda: _context(ds, by).table(period, as_of=as_of))
    release_arrow_memory()  # the lookups' scratch space does not stay under the next computation
    return table


#: What happened in a period: in a period the data does not reach (see
#: :func:`salesnb.analysis.periods.no_data_in`) these are unknown, not 0.
PERIOD_FIGURES = (
    "opportunities",
    "won",
    "lost",
    "closed",
    "contacts",
    "new_prospect_contacts",
    "follow_up_contacts",
    "revenue_won",
    "attainment",
    "new_customers_primary",
    "new_customers_secondary",
    "unlinked_contacts",
)


def blank_empty_period(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (from :func:`metrics_table`, for a period in which nothing
    is recorded) with :data:`PERIOD_FIGURES` blank (NaN, null in JSON)
    instead of 0: no deal closed in 2031 is not known when the data ends in
    2025. What stands at the period's end (open pipeline, quota, lifetime
    value) is kept."""
    out = table.copy()
    blank = [name for name in PERIOD_FIGURES if name in out]
    out[blank] = np.nan
    return out


def metrics_over_time(ds, *, by: str = "rep", freq: str = "quarter", start=None, end=None, as_of=None) -> pd.DataFrame:
    """:func:`metrics_table` for each consecutive month, quarter or year.

    ``start``/``end`` (dates or periods) default to the span of the data.
    Returns one tidy frame: ``period`` (label such as ``2025-Q2``),
    ``period_start``, then metrics_table's columns, so a rep's numbers can
    be followed consistently over the years.
    """
    if start is None or end is None:
        span = data_span(ds)
        start = span.start if start is None else start
        end = span.end if end is None else end
    start, end = (
        parse_period(b, as_of=as_of) if isinstance(b, str) and b.strip().lower() in RELATIVE else b for b in (start, end)
    )
    notes = []
    periods = periods_between(start, end, freq)
    table, said = _context(ds, by).tables(periods, as_of=as_of)  # every period's rows, made together
    for period_notes in said:
        notes += [n for n in period_notes if n not in notes]
    at = table.pop("_period").to_numpy()
    out = table.assign(period=[periods[i].label for i in at], period_start=[periods[i].start for i in at])
    out = out[["period", "period_start", *[c for c in out.columns if c not in ("period", "period_start")]]]
    out.attrs["notes"] = notes
    return out


def _context(ds, by: str) -> _MetricsContext:
    """The metrics context of ``ds`` by ``by``: one per batch snapshot and grouping
    (every period's metrics of a batch read its labels, pushes and quota tables), else a new one."""
    if by not in GROUPINGS:
        raise InputError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    return derived(ds, ("metrics_context", by), lambda: _MetricsContext(ds, by))


class _MetricsContext:
    """What metrics_table computes once per dataset and grouping (group
    labels, first contacts) so that metrics_over_time can reuse it."""

    def __init__(self, ds, by: str):
        if by not in GROUPINGS:
            raise InputError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
        self.ds, self.by, self.column = ds, by, GROUPINGS[by]
        self.activities = ds.activities
        self._first_contact = None
        self._accuracy = None
        self._monthly = None
        self._push_deals = None
        self._quotas: dict = {}  # quota_table by period (read, never changed)
        reps = ds.reps.drop_duplicates("rep_id")
        self.reps = reps
        self.customers = ds.customers
        self.rep_label = None
        if by in ("team", "territory"):
            self.rep_label = pd.Series(plain(reps[by]).to_numpy(), index=reps["rep_id"])
        self.customer_label = None
        if by in (*_CUSTOMER_GROUPS, "acquisition_method") and self.customers is not None:
            repeated = np.zeros(0, dtype=bool) if ds.keys_unique else repeats(self.customers["customer_id"])
            customers = self.customers[~repeated] if repeated.any() else self.customers
            self.customer_label = pd.Series(customers[self.column].array, index=customers["customer_id"])
        self.deals = self._label_deals(ds.opportunities if ds.keys_unique else unique_deals(ds.opportunities))
        self.deal_codes = pd.factorize(self.deals[self.column], use_na_sentinel=False)
        # what every grouping and period reads the same: made once per batch snapshot
        self.raw_book = book_of(ds)
        self.pushes = close_date_pushes(ds) if ds.opportunity_history is not None else None
        self.book = self.raw_book.assign(**{self.column: self._label_book(self.raw_book)}) if by != "rep" else self.raw_book

    @property
    def first_contact(self) -> np.ndarray:
        """Each customer's first contact, as a mask over the activities:
        worked out when the contacts are counted (not beside every other
        part of the table), then kept for the next period."""
        if self._first_contact is None:
            first = derived(self.ds, "first_contact_positions", lambda: first_contact_positions(self.activities))
            self._first_contact = first_contact_mask(len(self.activities), first)
        return self._first_contact

    # -- labels --------------------------------------------------------------
    def _from_reps(self, rep_ids: pd.Series) -> pd.Series:
        if self.by == "rep":
            return rep_ids
        return lookup(rep_ids, self.rep_label).astype("str").fillna(UNKNOWN)

    def _from_customers(self, customer_ids: pd.Series) -> pd.Series:
        if self.customer_label is None:
            return pd.Series(UNKNOWN, index=customer_ids.index, dtype="str")
        return lookup(customer_ids, self.customer_label)

    def _label_deals(self, opps: pd.DataFrame) -> pd.DataFrame:
        cols = {"opportunity_id": opps["opportunity_id"], **{c: opps[c] for c in DEAL_COLUMNS}}
        if self.by in _REP_GROUPS:
            label = self._from_reps(opps["rep_id"])
        elif self.by == "acquisition_method":
            label = coalesce(opps["acquisition_method"], self._from_customers(opps["customer_id"]))
        else:
            label = self._from_customers(opps["customer_id"])
        cols[self.column] = label if self.by == "rep" else plain(label).astype("str").fillna(UNKNOWN)
        return pd.DataFrame(
            cols, index=opps.index, copy=False
        )  # the columns as they are (a copy would be ~25 MiB per million deals)

    def _label_book(self, book: pd.DataFrame) -> pd.Series:
        if self.by in _REP_GROUPS:
            return self._from_reps(book["rep_id"])
        return plain(book[self.column]).astype("str").fillna(UNKNOWN)

    # -- the table -----------------------------------------------------------
    def table(self, period: Period, *, as_of=None) -> pd.DataFrame:
        """The metrics table of ``period`` (:func:`metrics_table`)."""
        table, notes = self.tables([period], as_of=as_of)
        out = table.drop(columns="_period")
        out.attrs["notes"] = notes[0]
        out.attrs["period"] = period
        return out

    def tables(self, periods: list[Period], *, as_of=None) -> tuple[pd.DataFrame, list[list[str]]]:
        """The metrics tables of ``periods``, one under the other (``_period``: the
        position in ``periods``), and each one's notes. Each part is made per period
        (what the period counts), then laid on the groups, and the table finished,
        once for all the periods."""
        forecasts = self._forecasts(periods)  # every period's forecasts per rep in one pass
        made = [self._parts(period, as_of, forecast) for period, forecast in zip(periods, forecasts)]
        table = self._frame([parts for parts, _ in made])
        by_tier = tiers_known(self.customers)
        col = self.column
        new_cols = ["new_customers_primary", "new_customers_secondary"]
        # groups with nothing in a part: true zeros for counts and sums, NaN for rates
        count_cols = ["opportunities", "won", "lost", "open", "pipeline_unknown_amounts"]
        table[count_cols] = table[count_cols].fillna(0).astype("int64")
        table["closed"] = table["won"] + table["lost"]
        if self.activities is None:
            table[list(CONTACT_COLUMNS)] = np.nan
        else:
            table[list(CONTACT_COLUMNS)] = table[list(CONTACT_COLUMNS)].fillna(0).astype("int64")
        if not by_tier:
            table[new_cols] = np.nan
        else:
            table[new_cols] = table[new_cols].fillna(0).astype("int64")
        if self.pushes is None:  # unknown without the history, never 0
            table[list(PUSH_COLUMNS)] = np.nan
        else:
            table[list(PUSH_COLUMNS)] = table[list(PUSH_COLUMNS)].fillna(0).astype("int64")
        no_pipeline = table["open"] == 0  # no open deals: truly nothing in the pipeline
        table.loc[no_pipeline, ["pipeline_open_amount", "weighted_pipeline"]] = 0.0
        table["revenue_won"] = table["revenue_won"].fillna(0.0)
        table["clv"] = table["clv"].fillna(0.0)
        table["clv_source"] = table["clv_source"].fillna(clv_source(self.ds))
        for name in ("win_rate", "contact_close_rate", "contacts_per_opportunity", "attainment"):
            table[name] = ratio(table, name)
        # the open pipeline at the end against the quota it will close into (the next period's, once finished)
        table["pipeline_coverage"] = ratio(table.assign(quota=table["coverage_quota"]), "pipeline_coverage")
        table["small_sample"] = (table["closed"] < SMALL_SAMPLE_MIN_CLOSED).astype(bool)
        front = ["rep_id", "name", "team", "territory"] if self.by == "rep" else [col]
        out = table[["_period", *front, *METRICS, *EXTRAS]].reset_index(drop=True)
        return out, [notes for _, notes in made]

    def _parts(self, period: Period, as_of=None, forecast: pd.DataFrame | None = None) -> tuple[list[pd.DataFrame], list[str]]:
        """What ``period`` counts, part by part, each with the group column; and its notes."""
        col, by = self.column, (self.column,)
        notes: list[str] = []
        shared = {"flags": deal_flags(self.deals, period), "codes": self.deal_codes}
        parts = [
            deal_counts(self.deals, by, period, **shared),
            deal_revenue(self.deals, by, period, **shared)[[col, "revenue_won", "avg_deal_size"]],
            deal_cycle_days(self.deals, by, period, **shared)[[col, "cycle_days_median", "cycle_days_p25", "cycle_days_p75"]],
            deal_pipeline(self.deals, by, period, **shared).drop(columns=["open", "history_win_rate"]),
        ]
        if self.activities is None:
            notes.append(self.ds.missing("activities"))
        new_cols = ["new_customers_primary", "new_customers_secondary"]
        by_tier = tiers_known(self.customers)
        parts.append(count_new_customers(self.book, by, period, tiers_known=by_tier)[[col, *new_cols]])
        if self.customers is None:
            notes.append(self.ds.missing("customers"))
        elif not by_tier:
            notes.append(NO_TIERS_NOTE)
        parts.append(self._quota(period, notes, as_of))
        parts.append(self._value(period))
        parts.append(self._forecast(forecast, notes))
        if self.activities is not None:
            parts.append(self._contacts(period))
        if self.pushes is not None:
            if self._push_deals is None:  # each push's deal, once for all the periods
                # a snapshot's deals are its opportunities, in order: read off its history's moves (made once)
                read_off = self.ds.keys_unique and shareable(self.ds)
                self._push_deals = push_deals(self.ds) if read_off else push_positions(self.pushes, self.deals)
            parts.append(
                push_metrics(
                    self.pushes,
                    self.deals,
                    by=col,
                    period=period,
                    flags=shared["flags"],
                    at=self._push_deals,
                    codes=self.deal_codes,
                )
            )
        else:
            notes.append(self.ds.missing("opportunity_history"))
        return parts, notes

    def _contacts(self, period: Period) -> pd.DataFrame:
        acts, col = self.activities, self.column
        if self.by in _REP_GROUPS:
            out = count_contacts(acts, ("rep_id",), period, self.first_contact)
            if self.by == "rep":
                return out
            out[col] = self._from_reps(out["rep_id"])
            return out.groupby(col, dropna=False, sort=False, observed=True)[list(CONTACT_COLUMNS)].sum().reset_index()
        labels = {} if self.customer_label is None else {"customer_id": self.customer_label}
        if self.by == "acquisition_method":
            labels["opportunity_id"] = pd.Series(
                self.deals[col].where(self.deals[col] != UNKNOWN).to_numpy(), index=self.deals["opportunity_id"]
            )
        if not labels:  # no customers table: every contact's group is unknown
            labels = {"customer_id": pd.Series([], dtype="str")}
        return count_contacts(acts, (col,), period, self.first_contact, labels=labels)

    def _quota(self, period: Period, notes: list[str], as_of=None) -> pd.DataFrame:
        """quota (the period's), its quota_source (``quotas`` or
        ``expectations``) and coverage_quota (of :func:`coverage_period`: the
        next period's once finished)."""
        col = self.column
        has_table = self.ds.tables.get("quotas") is not None
        if self.ds.expectations is None and not has_table:
            notes.append(
                "No expectations.yml or quotas table: add either (revenue_quota, or quotas per rep and period) "
                "to enable quota, attainment and pipeline_coverage."
            )
        if self.by not in _REP_GROUPS:
            return pd.DataFrame(
                {
                    col: pd.Series([], dtype="str"),
                    "quota": pd.Series([], dtype="float64"),
                    "quota_source": pd.Series([], dtype=object),
                    "coverage_quota": pd.Series([], dtype="float64"),
                }
            )
        per_rep = self._quota_table(period)
        if self.ds.expectations is not None and not has_table and per_rep["quota"].isna().all():
            notes.append("expectations.yml sets no revenue_quota: add one to enable quota, attainment and pipeline_coverage.")
        against = coverage_period(period, as_of=as_of)
        ahead = per_rep if against == period else self._quota_table(against)
        frame = pd.DataFrame(
            {
                "rep_id": per_rep.index,
                "quota": per_rep["quota"].to_numpy(),
                "quota_source": per_rep["quota_source"].to_numpy(),
                "coverage_quota": ahead["quota"].reindex(per_rep.index).to_numpy(),
            }
        )
        if self.by == "rep":
            return frame
        frame[col] = self._from_reps(frame["rep_id"])
        grouped = frame.groupby(col, sort=False, observed=True)
        out = grouped[["quota", "coverage_quota"]].sum(min_count=0, skipna=False)
        out["quota_source"] = grouped["quota_source"].agg(_joined_sources)
        return out.reset_index()

    def _quota_table(self, period: Period) -> pd.DataFrame:
        """:func:`quota_table` of ``period``, made once: a quarter's coverage quota is the next quarter's quota."""
        key = (period.label, period.start, period.end)
        if key not in self._quotas:
            self._quotas[key] = quota_table(self.ds, period=period)
        return self._quotas[key]

    def _value(self, period: Period) -> pd.DataFrame:
        value = value_cost(self.ds, period=period, by=self.by, _book=self.raw_book)
        return value[[self.column, "clv", "value_cost_ratio", "clv_source"]]

    def _forecasts(self, periods: list[Period]) -> list[pd.DataFrame | None]:
        """Each period's forecasts per rep (:func:`forecasts_in_periods`), all in one
        pass; None for each without a forecasts table or for groups of customers."""
        if self.ds.forecasts is None or self.by not in _REP_GROUPS:
            return [None] * len(periods)
        if self._accuracy is None:  # every forecast against its actual, and the won revenue by month: once per snapshot
            self._accuracy = derived(self.ds, "forecast_accuracy", lambda: forecast_accuracy(self.ds))
            self._monthly = derived(self.ds, "monthly_won", lambda: monthly_won(self.ds.opportunities))
        return forecasts_in_periods(self.ds, periods, accuracy=self._accuracy, monthly=self._monthly)

    def _forecast(self, per_rep: pd.DataFrame | None, notes: list[str]) -> pd.DataFrame:
        """A period's forecast part from its forecasts per rep (:meth:`_forecasts`)."""
        col = self.column
        empty = pd.DataFrame(
            {
                col: pd.Series([], dtype="str"),
                "forecast_amount": pd.Series([], dtype="float64"),
                "forecast_error_pct": pd.Series([], dtype="float64"),
            }
        )
        if self.ds.forecasts is None:
            notes.append(self.ds.missing("forecasts"))
            return empty
        if self.by not in _REP_GROUPS or per_rep is None:
            return empty
        if self.by != "rep":
            per_rep[col] = self._from_reps(per_rep["rep_id"])
            per_rep = (
                per_rep.groupby(col, sort=False, observed=True)[["forecast_amount", "actual"]].sum(min_count=1).reset_index()
            )
        per_rep["forecast_error_pct"] = error_pct(per_rep["forecast_amount"], per_rep["actual"])
        return per_rep[[col, "forecast_amount", "forecast_error_pct"]]

    def _frame(self, periods: list[list[pd.DataFrame]]) -> pd.DataFrame:
        """Join each period's parts on the group column over every group: every rep
        (then reps only seen in the data), else every known value sorted, then any
        others, with "(unknown)" last; the periods one under the other (``_period``).
        Each part of all the periods is laid on the groups in one step, as a left
        join per period would lay it."""
        col = self.column
        if self.by == "rep":  # a rep's rows only where the rep is known
            periods = [[part.dropna(subset=[col]) for part in parts] for parts in periods]
        groups = [self._groups(parts) for parts in periods]
        sizes = np.array([len(g) for g in groups], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        total = int(sizes.sum())
        columns = {"_period": np.repeat(np.arange(len(periods)), sizes), col: _joined_index(groups)}
        for j in range(len(periods[0]) if periods else 0):
            pieces = [parts[j] for parts in periods]
            # the row of this part each group takes (-1: none), period by period
            take = np.full(total, -1, dtype=np.int64)
            start = 0
            for i, piece in enumerate(pieces):
                keys = pd.Index(piece[col])
                if not keys.is_unique:  # every part has one row a group (a left join would repeat the group's row)
                    raise RuntimeError(f"metrics part {j} lists a {col} twice in {pieces and i}")
                where = keys.get_indexer(groups[i])
                take[offsets[i] : offsets[i] + sizes[i]] = np.where(where >= 0, where + start, -1)
                start += len(piece)
            stacked = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0].reset_index(drop=True)
            for name in stacked.columns:
                if name != col:
                    columns[name] = _taken(stacked[name], take)
        table = pd.DataFrame(columns)
        if self.by == "rep":
            info = self.reps.set_index("rep_id")[["name", "team", "territory"]]
            info = info.assign(team=plain(info["team"]), territory=plain(info["territory"]))
            table = table.join(info, on="rep_id")
        return table

    def _groups(self, parts: list[pd.DataFrame]) -> pd.Index:
        """One period's groups, in the table's order."""
        col = self.column
        if self.by == "rep":  # the reps, then those only seen in the parts: looked up as arrays, no set of every rep
            known = pd.Index(self.reps["rep_id"])
            values = [np.asarray(part[col].dropna().unique(), dtype=object) for part in parts]
            values = pd.unique(np.concatenate(values)) if values else np.zeros(0, dtype=object)
            extra = sorted(set(values[~pd.Index(values, dtype=object).isin(known)]))
            return known.append(pd.Index(extra))
        seen: set = set()
        for part in parts:
            seen.update(part[col].dropna().unique())
        base = (
            self.reps[col]
            if self.by in _REP_GROUPS
            else (self.customers[col] if self.customers is not None and col in self.customers else pd.Series([], dtype="str"))
        )
        values = (set(base.dropna().unique()) | seen) - {UNKNOWN}
        unknown = [UNKNOWN] if UNKNOWN in seen or base.isna().any() else []
        return pd.Index(sorted(values, key=lambda v: (str(v).casefold(), str(v))) + unknown)


def _joined_index(groups: list[pd.Index]) -> pd.Series:
    """The periods' groups one under the other, as the group column."""
    index = groups[0].append(groups[1:]) if len(groups) > 1 else groups[0]
    return pd.Series(index, copy=False).reset_index(drop=True)


def _taken(values: pd.Series, take: np.ndarray) -> pd.Series:
    """``values`` at the rows ``take`` (missing at -1), with the dtype a reindex gives."""
    taken = pd.api.extensions.take(values.array, take, allow_fill=True)
    return pd.Series(taken, name=values.name)


# -- internals -------------------------------------------------------------------


def _joined_sources(sources: pd.Series) -> str | None:
    """A group's quota_source: its reps' one source, or both named (``quotas+expectations``)."""
    found = [source for source in ("quotas", "expectations") if (sources == source).any()]
    return "+".join(found) or None


def _resolve_period(ds, period, as_of) -> Period:
    if period is None:
        return data_span(ds)
    return parse_period(period, as_of=as_of)
