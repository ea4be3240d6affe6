"""A deterministic sample data source with planted coaching profiles.

:func:`generate` writes every contract table (CSV or Parquet) and an
``expectations.yml`` for a made-up sales team. The same arguments always
give byte-identical files: all randomness comes from
``numpy.random.default_rng(seed)`` and the history ends at a fixed ``end``
date, never "today".

The first twelve reps carry planted profiles (:data:`PLANTED`) that the
analyses must find: a star, one weakness per funnel factor (prospecting,
conversion, deal size, velocity), padded activity, an over- and an
under-forecaster, four reps trained in "Consultative Selling" and a new
hire. Tests of the analysis modules import these facts from here, so the
data and the claims about it live in one place. ``data/README.md`` is the
data dictionary.

Everything is vectorised (numpy and pyarrow, no Python loop over deals or
contacts) and written one block of reps at a time, so a load-test source of
a million opportunities and millions of activities fits in memory::

    generate("/tmp/big", reps=2000, months=60, fmt="parquet")
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from salesnb.atomic import atomic_open, write_text
from salesnb.errors import InputError
from salesnb.io.schema import AMOUNT, DATE, TABLE_ORDER, TABLES

__all__ = [
    "generate",
    "planted_profiles",
    "PLANTED",
    "FOCUS",
    "FORECAST_BIAS",
    "TRAINED",
    "TRAINING_PROGRAM",
    "TRAINING_EFFECT",
    "NEW_HIRE",
    "BASELINE",
    "PROFILE_PARAMETERS",
    "REVENUE_QUOTA",
]

# --- The planted profiles ----------------------------------------------------

#: Profile of each of the first twelve reps (the default sample).
PLANTED: dict[str, str] = {
    "R01": "star",
    "R02": "prospecting",
    "R03": "conversion",
    "R04": "deal_size",
    "R05": "velocity",
    "R06": "padded_activity",
    "R07": "over_forecaster",
    "R08": "under_forecaster",
    "R09": "trained",
    "R10": "trained",
    "R11": "trained",
    "R12": "new_hire",
}
#: The coaching focus (contract vocabulary) a diagnosis should name.
FOCUS: dict[str, str] = {"R02": "prospecting", "R03": "conversion", "R04": "deal_size", "R05": "velocity"}
#: forecast_amount / actual won revenue per quarter (everyone else: 1.0), before +-10 % noise.
FORECAST_BIAS: dict[str, float] = {"R07": 1.35, "R08": 0.75}
#: Reps who take the training program; nobody else is trained.
TRAINED: tuple[str, ...] = ("R08", "R09", "R10", "R11")
TRAINING_PROGRAM = "Consultative Selling"
#: Absolute win-probability lift for deals a trained rep closes after the training start_date.
TRAINING_EFFECT = 0.15
#: Hired about six months before ``end``; no data before the hire date, ramping up.
NEW_HIRE = "R12"
#: Yearly revenue quota in expectations.yml (a typical rep wins ~1.1 M a year).
REVENUE_QUOTA = 1_000_000
NEW_HIRE_QUOTA = 500_000

#: A typical rep, per month: new opportunities, win probability, deal size
#: (lognormal median and log-sd), sales cycle (lognormal median days, log-sd),
#: follow-up contacts per opportunity, prospects contacted that never become
#: opportunities, and the share of opportunities with an existing customer.
BASELINE: dict[str, float] = {
    "opportunities_per_month": 6.0,
    "win_rate": 0.55,
    "deal_median": 25_000.0,
    "deal_sigma": 0.5,
    "cycle_median_days": 45.0,
    "cycle_sigma": 0.5,
    "follow_ups_per_opportunity": 2.0,
    "prospects_per_month": 1.5,
    "repeat_share": 0.15,
}

#: What each profile changes, relative to BASELINE: ``*_factor`` multiplies,
#: ``win_rate`` replaces. A weakness is planted on one factor; the others stay
#: typical (or better) so the diagnosis has one clear answer.
PROFILE_PARAMETERS: dict[str, dict] = {
    "typical": {},
    "star": {"opportunities_factor": 1.35, "win_rate": 0.75, "deal_factor": 1.3, "cycle_factor": 0.75,
             "annual_cost": 138_000},
    "prospecting": {"opportunities_factor": 0.45, "win_rate": 0.62, "deal_factor": 1.15, "cycle_factor": 0.95,
                    "prospects_factor": 0.4, "lead_mix": "inbound", "annual_cost": 90_000},
    "conversion": {"opportunities_factor": 1.15, "win_rate": 0.30, "deal_factor": 1.05, "follow_ups_factor": 2.5,
                   "prospects_factor": 2.0, "annual_cost": 100_000},
    "deal_size": {"deal_factor": 0.40, "annual_cost": 125_000},
    "velocity": {"cycle_factor": 2.5, "stale_pipeline": True},
    "padded_activity": {"padding_per_month": (30, 60)},
    "over_forecaster": {"forecast_bias": 1.35},
    "under_forecaster": {"forecast_bias": 0.75},
    "trained": {},
    "new_hire": {"new_hire": True, "win_rate": 0.50, "annual_cost": 82_000},
}

# --- Vocabulary ----------------------------------------------------------------

TERRITORIES = ("North", "South", "East", "West")
TEAM_OF_TERRITORY = {"North": "Alpha", "East": "Alpha", "South": "Beta", "West": "Beta"}
CUSTOMER_TYPES = ("Manufacturing", "Retail", "Healthcare", "Logistics", "Professional Services")
_TYPE_SHARE = np.array([0.25, 0.25, 0.15, 0.15, 0.20])
_TYPE_DEAL_FACTOR = np.array([1.15, 0.80, 1.20, 1.00, 0.90])
MARKET_TIERS = ("primary", "secondary")
PRIMARY_SHARE = 0.6
_TIER_DEAL_FACTOR = np.array([1.15, 0.78])
METHODS = ("cold_call_phone", "cold_call_visit", "referral", "inbound", "event", "house_account")
_LEAD_MIX = {
    "default": np.array([0.30, 0.15, 0.20, 0.15, 0.10, 0.10]),
    "inbound": np.array([0.10, 0.05, 0.20, 0.30, 0.10, 0.25]),  # waits for leads to come in
}
_METHOD_WIN_ADJUST = np.array([-0.05, -0.02, 0.07, 0.03, 0.0, 0.04])
ACTIVITY_TYPES = ("call", "email", "meeting", "visit")
_FIRST_CONTACT_TYPE = np.array([0, 3, 0, 1, 2, 0])  # per METHODS: how the first contact is made
_FOLLOW_UP_TYPE_SHARE = np.array([[0.30, 0.30, 0.18, 0.22],   # primary customers get visits
                                  [0.42, 0.42, 0.10, 0.06]])  # secondary ones mostly calls and emails
STAGES = ("Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost")
STATUSES = ("open", "won", "lost")

_FIRST_NAMES = ("Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jonas",
                "Katie", "Liam", "Maya", "Noah", "Olivia", "Pablo", "Quinn", "Rosa", "Samir", "Tara")
_LAST_NAMES = ("Martin", "Okafor", "Lindqvist", "Rossi", "Nguyen", "Fischer", "Silva", "Kowalski", "Dubois",
               "Tanaka", "Murphy", "Haddad", "Jensen", "Moreau", "Patel", "Novak", "Garcia", "Weber", "Costa", "Byrne")
_COMPANY_WORDS = ("Apex", "Birch", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
                  "Keystone", "Lumen", "Maple", "Nova", "Orbit", "Pioneer", "Quarry", "Ridge", "Summit", "Tidal")
_COMPANY_SUFFIX = {  # per CUSTOMER_TYPES
    "Manufacturing": "Works", "Retail": "Stores", "Healthcare": "Clinics", "Logistics": "Freight",
    "Professional Services": "Partners",
}

TRAINING_DAYS = 4            # end_date = start_date + 4 days
NEW_HIRE_MONTHS = 6          # hired at the start of the 6th month before end
PADDING_TYPE = "call"
STALE_AFTER_DAYS = 150       # velocity rep: open deals older than this went quiet...
STALE_ACTIVE_DAYS = 20       # ...after their first 20 days (so 130+ days without activity)
STALLED_SHARE = 0.15         # velocity rep: this share of deals created 150-450 days
STALLED_WINDOW_DAYS = 450    # before end is stuck, still open
ORDER_INSTALMENTS = 4        # a won contract is billed in 4 quarterly orders...
ORDER_RENEWAL_RATE = 0.8     # ...and renewed for a second year (4 more) by most customers
ORDER_RENEWAL_UPLIFT = 1.03
REPS_PER_BLOCK = 100         # reps simulated and written together (bounds memory)
_PATTERN = tuple(PLANTED.values())
_EXTRA_CYCLE = 36            # reps beyond 12: 24 typical, then the 12-rep pattern again

_FORMATS = ("csv", "parquet")


def planted_profiles(reps: int = 12) -> dict[str, dict]:
    """The planted facts for a run with ``reps`` reps, by rep_id.

    Each value holds ``profile`` (a :data:`PROFILE_PARAMETERS` key),
    ``focus`` (the expected coaching focus or None), ``forecast_bias`` and
    ``trained``. The first twelve reps follow :data:`PLANTED`; beyond them
    reps come in cycles of 36: 24 typical reps, then the twelve-rep pattern
    again, so every profile appears in proportion and most reps are typical.
    """
    width = _rep_width(reps)
    out = {}
    for index in range(reps):
        slot = _slot(index)
        profile = "typical" if slot is None else _PATTERN[slot]
        out[f"R{index + 1:0{width}d}"] = {
            "profile": profile,
            "focus": profile if profile in FOCUS.values() else None,
            "forecast_bias": PROFILE_PARAMETERS[profile].get("forecast_bias", 1.0),
            "trained": slot is not None and f"R{slot + 1:02d}" in TRAINED,
        }
    return out


def generate(out_dir, *, seed: int = 7, reps: int = 12, months: int = 24, end: str = "2025-12-31",
             fmt: str = "csv", activity_scale: float = 1.0) -> dict[str, int]:
    """Write a complete sample data source into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Folder to write (created if needed). Each table becomes
        ``<table>.csv`` or ``<table>.parquet``; a same-named file of the
        other format is removed so the folder stays one source.
    seed : int
        Seed for ``numpy.random.default_rng``; same arguments, same bytes.
    reps : int
        Number of reps; the first twelve carry :data:`PLANTED`.
    months : int
        Months of history, ending with the month of ``end``.
    end : str
        Last day of the history (ISO date). Nothing is dated after it.
    fmt : {"csv", "parquet"}
    activity_scale : float
        Multiplies follow-up and prospecting contacts (default 1.0, about
        3.5 contacts per opportunity); load tests use ~3 for ~10 per deal.

    Returns
    -------
    dict
        Rows written per table, in contract order.
    """
    span, n_reps = _check_arguments(seed=seed, reps=reps, months=months, end=end, fmt=fmt, activity_scale=activity_scale)
    rng = np.random.default_rng(int(seed))
    roster = _roster(rng, n_reps, span)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    widths = _id_widths(roster, span, activity_scale)
    rows = {name: 0 for name in TABLE_ORDER}
    with ExitStack() as files:  # every table lands at once at the end, or none does
        writers = {name: _TableWriter(files.enter_context(atomic_open(out / f"{name}.{fmt}", "wb")), name, fmt)
                   for name in TABLE_ORDER}
        writers["reps"].write(_reps_table(roster))
        rows["reps"] = n_reps
        counters = {"customers": 0, "opportunities": 0, "activities": 0, "orders": 0}
        for first in range(0, n_reps, REPS_PER_BLOCK):
            block = roster.take(np.arange(first, min(first + REPS_PER_BLOCK, n_reps)))
            tables = _simulate_block(rng, block, span, counters, widths, activity_scale)
            for name, table in tables.items():
                writers[name].write(table)
                rows[name] += table.num_rows
        for writer in writers.values():
            writer.close()
    for name in TABLE_ORDER:  # the same table in the other format would make the folder ambiguous
        (out / f"{name}.{'parquet' if fmt == 'csv' else 'csv'}").unlink(missing_ok=True)
    write_text(out / "expectations.yml", _expectations_yaml(roster))
    return rows


# --- Arguments, span and roster ----------------------------------------------

@dataclass(frozen=True)
class _Span:
    start: int                # first day (days since 1970-01-01)
    end: int                  # last day
    month_first: np.ndarray   # first day of each month
    month_last: np.ndarray    # last day of each month, clipped to end
    months: int

    def day_range(self, month: np.ndarray, active_from: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and last active day of each (month, rep) pair; first > last when inactive."""
        return np.maximum(self.month_first[month], active_from), self.month_last[month]


def _check_arguments(*, seed, reps, months, end, fmt, activity_scale) -> tuple[_Span, int]:
    for label, value, least in (("seed", seed, 0), ("reps", reps, 1), ("months", months, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise InputError(f"{label} must be a whole number >= {least}, not {value!r}")
    if fmt not in _FORMATS:
        raise InputError(f"fmt must be one of {', '.join(_FORMATS)}, not {fmt!r}")
    if not (isinstance(activity_scale, (int, float)) and 0 < activity_scale <= 20):
        raise InputError(f"activity_scale must be a number in (0, 20], not {activity_scale!r}")
    try:
        end_day = np.datetime64(str(end), "D")
    except ValueError:
        raise InputError(f"end must be an ISO date like 2025-12-31, not {end!r}") from None
    if np.isnat(end_day):
        raise InputError(f"end must be an ISO date like 2025-12-31, not {end!r}")
    end_month = end_day.astype("datetime64[M]")
    firsts = np.arange(end_month - (int(months) - 1), end_month + 1).astype("datetime64[D]")
    lasts = (np.arange(end_month - (int(months) - 1), end_month + 1) + 1).astype("datetime64[D]") - 1
    lasts = np.minimum(lasts, end_day)
    span = _Span(start=int(firsts[0].astype("int64")), end=int(end_day.astype("int64")),
                 month_first=firsts.astype("int64"), month_last=lasts.astype("int64"), months=int(months))
    return span, int(reps)


def _slot(index: int) -> int | None:
    """Position in the 12-rep pattern of rep number ``index`` (0-based), None for a typical rep."""
    if index < len(_PATTERN):
        return index
    position = (index - len(_PATTERN)) % _EXTRA_CYCLE
    offset = _EXTRA_CYCLE - len(_PATTERN)
    return position - offset if position >= offset else None


def _rep_width(reps: int) -> int:
    return max(2, len(str(reps)))


@dataclass(frozen=True)
class _Roster:
    """Per-rep parameters, one array entry per rep."""

    rep_id: np.ndarray
    name: np.ndarray
    territory: np.ndarray         # index into TERRITORIES
    profile: np.ndarray           # profile name
    hire_day: np.ndarray
    active_from: np.ndarray       # first day with data (span start, or hire day)
    annual_cost: np.ndarray
    opportunity_rate: np.ndarray  # new opportunities per full month
    win_rate: np.ndarray
    deal_median: np.ndarray
    cycle_median: np.ndarray
    follow_ups: np.ndarray        # mean follow-up contacts per opportunity
    prospects: np.ndarray         # prospects contacted per month who never become opportunities
    lead_mix: np.ndarray          # 0 default, 1 inbound-heavy
    stale: np.ndarray             # bool: open deals go quiet (velocity profile)
    padding: np.ndarray           # bool: 30-60 unlinked calls on each month's last day
    forecast_bias: np.ndarray
    training_day: np.ndarray      # training start day, or a day after the span
    new_hire: np.ndarray          # bool

    def take(self, index: np.ndarray) -> _Roster:
        return _Roster(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})

    def __len__(self) -> int:
        return len(self.rep_id)


def _roster(rng: np.random.Generator, reps: int, span: _Span) -> _Roster:
    """The reps and their parameters: the planted profile plus mild noise."""
    facts = planted_profiles(reps)
    rep_id = np.array(list(facts), dtype=object)
    profiles = [facts[r]["profile"] for r in rep_id]
    params = [PROFILE_PARAMETERS[p] for p in profiles]
    trained = np.array([facts[r]["trained"] for r in rep_id])

    def column(key, default):
        return np.array([p.get(key, default) for p in params], dtype=float)

    noise = rng.lognormal(0.0, 0.06, size=(4, reps))
    new_hire = np.array([p.get("new_hire", False) for p in params])
    hire_month = max(0, span.months - NEW_HIRE_MONTHS)
    tenure = rng.integers(365, 8 * 365, size=reps)
    hire_day = np.where(new_hire, span.month_first[hire_month], span.start - tenure)
    typical_cost = np.round(rng.uniform(95_000, 125_000, size=reps) / 500) * 500
    training_day = span.month_first[span.months // 2]
    index = np.arange(reps)
    return _Roster(
        rep_id=rep_id,
        name=np.array([f"{_FIRST_NAMES[i % 20]} {_LAST_NAMES[(i // 20 + 7 * i) % 20]}" for i in index], dtype=object),
        territory=index % len(TERRITORIES),
        profile=np.array(profiles, dtype=object),
        hire_day=hire_day,
        active_from=np.maximum(hire_day, span.start),
        annual_cost=np.where(np.isnan(column("annual_cost", np.nan)), typical_cost, column("annual_cost", np.nan)),
        opportunity_rate=BASELINE["opportunities_per_month"] * column("opportunities_factor", 1.0) * noise[0],
        win_rate=column("win_rate", BASELINE["win_rate"]) + rng.normal(0.0, 0.025, size=reps),
        deal_median=BASELINE["deal_median"] * column("deal_factor", 1.0) * noise[1],
        cycle_median=BASELINE["cycle_median_days"] * column("cycle_factor", 1.0) * noise[2],
        follow_ups=BASELINE["follow_ups_per_opportunity"] * column("follow_ups_factor", 1.0) * noise[3],
        prospects=BASELINE["prospects_per_month"] * column("prospects_factor", 1.0),
        lead_mix=np.array([p.get("lead_mix", "default") == "inbound" for p in params], dtype=np.int64),
        stale=np.array([p.get("stale_pipeline", False) for p in params]),
        padding=np.array(["padding_per_month" in p for p in params]),
        forecast_bias=column("forecast_bias", 1.0),
        training_day=np.where(trained, training_day, span.end + 10_000),
        new_hire=new_hire,
    )


def _id_widths(roster: _Roster, span: _Span, activity_scale: float) -> dict[str, int]:
    """Zero-padding widths fixed before simulating (blocks are written as they
    come), from a generous bound on each table's expected rows."""
    opportunities = float(roster.opportunity_rate.sum()) * span.months
    prospects = float(roster.prospects.sum()) * span.months
    bound = {
        "opportunities": opportunities,
        "customers": opportunities + prospects,
        "activities": (opportunities * (2 + roster.follow_ups.max()) + prospects * 2) * activity_scale
        + 60 * span.months * int(roster.padding.sum()),
        "orders": opportunities * 8,
    }
    minimum = {"opportunities": 6, "customers": 5, "activities": 7, "orders": 6}
    return {name: max(minimum[name], len(str(int(2 * rows) + 1000))) for name, rows in bound.items()}


# --- Simulation ----------------------------------------------------------------

def _simulate_block(rng, roster: _Roster, span: _Span, counters: dict, widths: dict, activity_scale: float) -> dict:
    """All tables but reps for one block of reps, as pyarrow tables."""
    deals = _opportunities(rng, roster, span)
    customers = _customers(rng, roster, span, deals, activity_scale)
    activities = _activities(rng, roster, span, deals, customers, activity_scale)
    orders = _orders(rng, span, deals)
    tables = {
        "customers": _customers_table(roster, customers, counters, widths),
        "opportunities": _opportunities_table(roster, deals, customers, counters, widths),
        "activities": _activities_table(roster, activities, deals, customers, counters, widths),
        "orders": _orders_table(roster, orders, deals, customers, counters, widths),
        "training": _training_table(roster, span),
        "forecasts": _forecasts_table(rng, roster, span, deals),
    }
    for name in ("customers", "opportunities", "activities", "orders"):
        counters[name] += tables[name].num_rows
    return tables


def _monthly_counts(rng, roster: _Roster, span: _Span, rate: np.ndarray, *, ramp: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson counts per (rep, month) of events at ``rate`` per full month,
    then a uniformly drawn active day for each event. Returns (rep, month, day)."""
    reps, months = len(roster), span.months
    month = np.arange(months)
    first, last = span.day_range(month[None, :], roster.active_from[:, None])
    days_in_month = span.month_last[month] - span.month_first[month] + 1
    active = np.clip(last - first + 1, 0, None) / days_in_month
    lam = rate[:, None] * active
    if ramp:  # a new hire reaches full pace in the third month
        since = (month[None, :] - np.searchsorted(span.month_first, roster.active_from, side="right")[:, None] + 2)
        lam *= np.where(roster.new_hire[:, None], np.clip(since / 3, 0, 1), 1.0)
    counts = rng.poisson(lam).ravel()
    cell = np.repeat(np.arange(reps * months), counts)
    rep, mon = cell // months, cell % months
    lo, hi = np.maximum(span.month_first[mon], roster.active_from[rep]), span.month_last[mon]
    day = lo + np.floor(rng.random(len(cell)) * (hi - lo + 1)).astype(np.int64)
    return rep, mon, day


def _choice(rng, shares: np.ndarray, size: int | None = None, *, u: np.ndarray | None = None) -> np.ndarray:
    """Index drawn from ``shares`` (one row, or one row per draw)."""
    u = rng.random(size) if u is None else u
    cumulative = np.cumsum(shares, axis=-1)
    if cumulative.ndim == 1:
        return np.minimum(np.searchsorted(cumulative, u, side="right"), len(shares) - 1)
    return np.minimum((u[:, None] >= cumulative).sum(axis=1), cumulative.shape[1] - 1)


@dataclass
class _Deals:
    rep: np.ndarray        # local rep index, sorted by (rep, created)
    created: np.ndarray
    closed: np.ndarray     # day, valid where status != open
    status: np.ndarray     # 0 open, 1 won, 2 lost
    amount: np.ndarray     # lognormal noise until _customers scales it by rep, type and tier
    method: np.ndarray     # lead source, index into METHODS
    customer: np.ndarray   # local customer index
    new_customer: np.ndarray  # bool: the customer's first opportunity
    stage: np.ndarray
    stale: np.ndarray      # bool: open and quiet for months


def _opportunities(rng, roster: _Roster, span: _Span) -> _Deals:
    rep, _, created = _monthly_counts(rng, roster, span, roster.opportunity_rate, ramp=True)
    order = np.lexsort((created, rep))
    rep, created = rep[order], created[order]
    n = len(rep)
    method = _choice(rng, np.stack([_LEAD_MIX["default"], _LEAD_MIX["inbound"]])[roster.lead_mix[rep]], u=rng.random(n))

    # Customers: most opportunities open a new account; some return to an earlier one of the same rep.
    first_of_rep = np.r_[True, rep[1:] != rep[:-1]] if n else np.zeros(0, bool)
    new_customer = first_of_rep | (rng.random(n) >= BASELINE["repeat_share"])
    new_so_far = np.cumsum(new_customer)
    rep_start = np.searchsorted(rep, np.arange(len(roster)))
    first_new_of_rep = (new_so_far - new_customer)[np.minimum(rep_start, max(n - 1, 0))] if n else np.zeros(0, np.int64)
    base = first_new_of_rep[rep] if n else np.zeros(0, np.int64)
    pick = base + np.floor(rng.random(n) * (new_so_far - base)).astype(np.int64)
    customer = np.where(new_customer, new_so_far - 1, pick)

    cycle = roster.cycle_median[rep] * rng.lognormal(0.0, BASELINE["cycle_sigma"], n)
    cycle = np.maximum(2, np.round(cycle)).astype(np.int64)
    # The velocity rep also leaves some deals stuck: still open at the end, long untouched.
    age = span.end - created
    stalled = (roster.stale[rep] & (age >= STALE_AFTER_DAYS) & (age <= STALLED_WINDOW_DAYS)
               & (rng.random(n) < STALLED_SHARE))
    cycle = np.where(stalled, np.maximum(cycle, age + 1), cycle)
    closed = created + cycle
    is_open = closed > span.end
    boost = np.where(closed > roster.training_day[rep], TRAINING_EFFECT, 0.0)
    p_win = np.clip(roster.win_rate[rep] + _METHOD_WIN_ADJUST[method] + boost, 0.02, 0.98)
    won = _systematic_wins(rng, rep, closed, is_open, p_win, len(roster))
    status = np.where(is_open, 0, np.where(won, 1, 2))
    amount_noise = rng.lognormal(0.0, BASELINE["deal_sigma"], n)
    progress = age / roster.cycle_median[rep]  # an open deal's stage follows its age
    stage = np.where(status == 1, 3, np.where(status == 2, 4, np.where(progress < 0.3, 0, np.where(progress < 0.7, 1, 2))))
    stale = is_open & roster.stale[rep] & (created <= span.end - STALE_AFTER_DAYS)
    return _Deals(rep=rep, created=created, closed=closed, status=status, amount=amount_noise, method=method,
                  customer=customer, new_customer=new_customer, stage=stage, stale=stale)


def _systematic_wins(rng, rep, closed, is_open, p_win, n_reps) -> np.ndarray:
    """Which closed deals are won: each deal with probability ``p_win``, drawn
    by systematic sampling along each rep's deals in close order (one uniform
    offset per rep). Every deal keeps its own win probability, yet in any run
    of consecutive closes a rep wins the expected number of deals give or take
    one, so a planted win rate shows in a quarter as well as over the span."""
    done = np.flatnonzero(~is_open)
    done = done[np.lexsort((done, closed[done], rep[done]))]
    p = p_win[done]
    owner = rep[done]
    total = np.cumsum(p)
    start = np.r_[True, owner[1:] != owner[:-1]] if len(done) else np.zeros(0, bool)
    base = np.maximum.accumulate(np.where(start, total - p, 0.0)) if len(done) else total
    offset = rng.random(n_reps)[owner]
    after = np.floor(total - base + offset)
    before = np.floor(np.where(start, 0.0, np.r_[0.0, total[:-1]] - base) + offset)
    won = np.zeros(len(rep), bool)
    won[done] = after > before
    return won


@dataclass
class _Customers:
    rep: np.ndarray
    first_contact: np.ndarray  # day of the first (new-prospect) contact
    customer_type: np.ndarray
    tier: np.ndarray
    method: np.ndarray
    acquired: np.ndarray       # first won deal's closed day, -1 when never won
    extra_contacts: np.ndarray  # follow-up contacts with a prospect who never became an opportunity
    order: np.ndarray          # local index -> position in ID order


def _customers(rng, roster: _Roster, span: _Span, deals: _Deals, activity_scale: float) -> _Customers:
    """Accounts of the block: one per new-customer opportunity (its first
    contact up to 14 days before the deal was created), then prospects who
    were contacted but never became an opportunity. Deal amounts are set
    here, as they depend on the customer's type and tier."""
    roots = np.flatnonzero(deals.new_customer)
    n_deal_customers = len(roots)
    lag = rng.integers(0, 15, n_deal_customers)
    first_contact = np.maximum(deals.created[roots] - lag, roster.active_from[deals.rep[roots]])

    p_rep, _, p_day = _monthly_counts(rng, roster, span, roster.prospects * activity_scale, ramp=True)
    p_method = _choice(rng, np.stack([_LEAD_MIX["default"], _LEAD_MIX["inbound"]])[roster.lead_mix[p_rep]],
                       u=rng.random(len(p_rep)))
    n = n_deal_customers + len(p_rep)
    rep = np.r_[deals.rep[roots], p_rep]
    first = np.r_[first_contact, p_day]
    method = np.r_[deals.method[roots], p_method]
    customer_type = _choice(rng, _TYPE_SHARE, n)
    tier = (rng.random(n) >= PRIMARY_SHARE).astype(np.int64)
    extra = np.r_[np.zeros(n_deal_customers, np.int64), rng.poisson(0.4 * activity_scale, len(p_rep))]

    deal_customer = deals.customer
    deals.amount = np.round(roster.deal_median[deals.rep] * _TYPE_DEAL_FACTOR[customer_type[deal_customer]]
                            * _TIER_DEAL_FACTOR[tier[deal_customer]] * deals.amount, 2)
    acquired = np.full(n, np.iinfo(np.int64).max)
    won = deals.status == 1
    np.minimum.at(acquired, deal_customer[won], deals.closed[won])
    acquired = np.where(acquired == np.iinfo(np.int64).max, -1, acquired)
    ranking = np.lexsort((np.arange(n), first, rep))
    order = np.empty(n, np.int64)
    order[ranking] = np.arange(n)
    return _Customers(rep=rep, first_contact=first, customer_type=customer_type, tier=tier, method=method,
                      acquired=acquired, extra_contacts=extra, order=order)


@dataclass
class _Activities:
    rep: np.ndarray
    day: np.ndarray
    kind: np.ndarray         # index into ACTIVITY_TYPES
    customer: np.ndarray     # local customer index, -1 for none
    deal: np.ndarray         # local deal index, -1 for none


def _activities(rng, roster: _Roster, span: _Span, deals: _Deals, customers: _Customers, activity_scale: float) -> _Activities:
    parts = []
    n_cust = len(customers.rep)

    # 1. The first (new-prospect) contact with every customer and prospect, linked to no opportunity.
    parts.append((customers.rep, customers.first_contact, _FIRST_CONTACT_TYPE[customers.method],
                  np.arange(n_cust), np.full(n_cust, -1)))

    # 2. Follow-ups on each opportunity, between its creation and its close (or end).
    n_deals = len(deals.rep)
    mean = roster.follow_ups[deals.rep] * activity_scale + (~deals.new_customer)  # a returning customer's deal opens with a contact too
    count = rng.poisson(mean)
    deal = np.repeat(np.arange(n_deals), count)
    lo = deals.created[deal]
    hi = np.where(deals.status[deal] == 0, span.end, deals.closed[deal])
    hi = np.where(deals.stale[deal], np.minimum(lo + STALE_ACTIVE_DAYS, span.end), hi)
    day = lo + np.floor(rng.random(len(deal)) * (hi - lo + 1)).astype(np.int64)
    tier = customers.tier[deals.customer[deal]]
    parts.append((deals.rep[deal], day, _choice(rng, _FOLLOW_UP_TYPE_SHARE[tier], u=rng.random(len(deal))),
                  deals.customer[deal], deal))

    # 3. Open deals that are being worked had a contact in the last 30 days.
    working = np.flatnonzero((deals.status == 0) & ~deals.stale)
    day = np.maximum(deals.created[working], span.end - rng.integers(0, 31, len(working)))
    tier = customers.tier[deals.customer[working]]
    parts.append((deals.rep[working], day, _choice(rng, _FOLLOW_UP_TYPE_SHARE[tier], u=rng.random(len(working))),
                  deals.customer[working], working))

    # 4. A prospect who never became an opportunity may get a second or third try within a month.
    prospect = np.repeat(np.arange(n_cust), customers.extra_contacts)
    day = np.minimum(customers.first_contact[prospect] + rng.integers(1, 31, len(prospect)), span.end)
    parts.append((customers.rep[prospect], day, _choice(rng, _FOLLOW_UP_TYPE_SHARE[customers.tier[prospect]],
                                                        u=rng.random(len(prospect))), prospect, np.full(len(prospect), -1)))

    # 5. Now and then an internal call logged against nobody (everyone).
    rep, _, day = _monthly_counts(rng, roster, span, np.full(len(roster), 0.25), ramp=False)
    parts.append((rep, day, np.zeros(len(rep), np.int64), np.full(len(rep), -1), np.full(len(rep), -1)))

    # 6. Padded activity: 30-60 calls linked to nobody, all on the month's last day.
    padded = np.flatnonzero(roster.padding)
    low, high = PROFILE_PARAMETERS["padded_activity"]["padding_per_month"]
    month = np.arange(span.months)
    cell_rep = np.repeat(padded, span.months)
    cell_month = np.tile(month, len(padded))
    keep = span.month_last[cell_month] >= roster.active_from[cell_rep]
    cell_rep, cell_month = cell_rep[keep], cell_month[keep]
    count = rng.integers(low, high + 1, len(cell_rep))
    rep = np.repeat(cell_rep, count)
    day = np.repeat(span.month_last[cell_month], count)
    parts.append((rep, day, np.full(len(rep), ACTIVITY_TYPES.index(PADDING_TYPE)), np.full(len(rep), -1),
                  np.full(len(rep), -1)))

    rep, day, kind, customer, deal = (np.concatenate([np.asarray(p[i], np.int64) for p in parts]) for i in range(5))
    order = np.lexsort((day, rep))  # stable: same-day contacts keep the order above
    return _Activities(rep=rep[order], day=day[order], kind=kind[order], customer=customer[order], deal=deal[order])


@dataclass
class _Orders:
    deal: np.ndarray
    day: np.ndarray
    amount: np.ndarray


def _orders(rng, span: _Span, deals: _Deals) -> _Orders:
    """Realised revenue: each won contract is billed quarterly over a year,
    starting a month after the win; most customers renew for a second year."""
    won = np.flatnonzero(deals.status == 1)
    renewed = rng.random(len(won)) < ORDER_RENEWAL_RATE
    instalments = np.where(renewed, 2 * ORDER_INSTALMENTS, ORDER_INSTALMENTS)
    deal = np.repeat(won, instalments)
    k = np.arange(len(deal)) - np.repeat(np.cumsum(instalments) - instalments, instalments)
    day = deals.closed[deal] + 30 + 91 * k
    amount = deals.amount[deal] / ORDER_INSTALMENTS * np.where(k >= ORDER_INSTALMENTS, ORDER_RENEWAL_UPLIFT, 1.0)
    keep = day <= span.end
    deal, day, amount = deal[keep], day[keep], np.round(amount[keep], 2)
    order = np.lexsort((deal, day, deals.rep[deal]))
    return _Orders(deal=deal[order], day=day[order], amount=amount[order])


# --- Tables --------------------------------------------------------------------

def _pa():
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa, pc


def _id_array(prefix: str, numbers: np.ndarray, width: int, missing: np.ndarray | None = None):
    """``prefix`` + zero-padded number, e.g. O000042; null where ``missing``."""
    pa, pc = _pa()
    digits = pc.utf8_lpad(pa.array(np.asarray(numbers, np.int64)).cast(pa.string()), width=width, padding="0")
    ids = pc.binary_join_element_wise(pa.scalar(prefix), digits, "")
    if missing is not None and missing.any():
        ids = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), ids)
    return ids


def _labels(labels, codes: np.ndarray, missing: np.ndarray | None = None):
    """String array of ``labels[codes]``; null where ``missing``."""
    pa, _ = _pa()
    dictionary = pa.array(list(labels), pa.string())
    return dictionary.take(pa.array(np.asarray(codes, np.int64), mask=missing))


def _date_array(days: np.ndarray, missing: np.ndarray | None = None):
    pa, _ = _pa()
    return pa.array(np.asarray(days, np.int64).astype(np.int32), type=pa.int32(), mask=missing).cast(pa.date32())


def _amount_array(values: np.ndarray, missing: np.ndarray | None = None):
    pa, _ = _pa()
    return pa.array(np.asarray(values, np.float64), type=pa.float64(), mask=missing)


def _schema(name: str):
    pa, _ = _pa()
    kinds = {DATE: pa.date32(), AMOUNT: pa.float64()}
    return pa.schema([pa.field(c.name, kinds.get(c.kind, pa.string())) for c in TABLES[name].columns])


def _table(name: str, columns: dict):
    pa, _ = _pa()
    schema = _schema(name)
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


def _reps_table(roster: _Roster):
    pa, _ = _pa()
    territory = np.array(TERRITORIES, dtype=object)[roster.territory]
    return _table("reps", {
        "rep_id": pa.array(list(roster.rep_id), pa.string()),
        "name": pa.array(list(roster.name), pa.string()),
        "territory": pa.array(list(territory), pa.string()),
        "team": pa.array([TEAM_OF_TERRITORY[t] for t in territory], pa.string()),
        "hire_date": _date_array(roster.hire_day),
        "annual_cost": _amount_array(roster.annual_cost),
    })


def _rep_ids(roster: _Roster, rep: np.ndarray):
    pa, _ = _pa()
    return pa.array(list(roster.rep_id), pa.string()).take(pa.array(np.asarray(rep, np.int64)))


def _customer_ids(customers: _Customers, local: np.ndarray, counters: dict, widths: dict):
    local = np.asarray(local, np.int64)
    missing = local < 0
    number = counters["customers"] + 1 + customers.order[np.where(missing, 0, local)]
    return _id_array("C", number, widths["customers"], missing)


def _deal_ids(local: np.ndarray, counters: dict, widths: dict):
    local = np.asarray(local, np.int64)
    missing = local < 0
    return _id_array("O", counters["opportunities"] + 1 + np.where(missing, 0, local), widths["opportunities"], missing)


def _customers_table(roster: _Roster, customers: _Customers, counters: dict, widths: dict):
    pa, pc = _pa()
    ranking = np.argsort(customers.order)
    n = len(ranking)
    customer_type = customers.customer_type[ranking]
    word = _labels(_COMPANY_WORDS, (counters["customers"] + np.arange(n)) * 7 % len(_COMPANY_WORDS))
    suffix = _labels([_COMPANY_SUFFIX[t] for t in CUSTOMER_TYPES], customer_type)
    name = pc.binary_join_element_wise(word, suffix, " ")
    acquired = customers.acquired[ranking]
    return _table("customers", {
        "customer_id": _customer_ids(customers, ranking, counters, widths),
        "name": name,
        "territory": _labels(TERRITORIES, roster.territory[customers.rep[ranking]]),
        "customer_type": _labels(CUSTOMER_TYPES, customer_type),
        "market_tier": _labels(MARKET_TIERS, customers.tier[ranking]),
        "acquisition_method": _labels(METHODS, customers.method[ranking]),
        "rep_id": _rep_ids(roster, customers.rep[ranking]),
        "acquired_date": _date_array(acquired, acquired < 0),
    })


def _opportunities_table(roster: _Roster, deals: _Deals, customers: _Customers, counters: dict, widths: dict):
    n = len(deals.rep)
    is_open = deals.status == 0
    return _table("opportunities", {
        "opportunity_id": _deal_ids(np.arange(n), counters, widths),
        "rep_id": _rep_ids(roster, deals.rep),
        "customer_id": _customer_ids(customers, deals.customer, counters, widths),
        "created_date": _date_array(deals.created),
        "closed_date": _date_array(deals.closed, is_open),
        "status": _labels(STATUSES, deals.status),
        "amount": _amount_array(deals.amount),
        "acquisition_method": _labels(METHODS, customers.method[deals.customer]),
        "stage": _labels(STAGES, deals.stage),
    })


def _activities_table(roster: _Roster, activities: _Activities, deals: _Deals, customers: _Customers,
                      counters: dict, widths: dict):
    n = len(activities.rep)
    return _table("activities", {
        "activity_id": _id_array("A", counters["activities"] + 1 + np.arange(n), widths["activities"]),
        "rep_id": _rep_ids(roster, activities.rep),
        "date": _date_array(activities.day),
        "type": _labels(ACTIVITY_TYPES, activities.kind),
        "customer_id": _customer_ids(customers, activities.customer, counters, widths),
        "opportunity_id": _deal_ids(activities.deal, counters, widths),
    })


def _orders_table(roster: _Roster, orders: _Orders, deals: _Deals, customers: _Customers, counters: dict, widths: dict):
    n = len(orders.deal)
    return _table("orders", {
        "order_id": _id_array("S", counters["orders"] + 1 + np.arange(n), widths["orders"]),
        "customer_id": _customer_ids(customers, deals.customer[orders.deal], counters, widths),
        "rep_id": _rep_ids(roster, deals.rep[orders.deal]),
        "date": _date_array(orders.day),
        "amount": _amount_array(orders.amount),
    })


def _training_table(roster: _Roster, span: _Span):
    pa, _ = _pa()
    trained = np.flatnonzero(roster.training_day <= span.end)
    start = roster.training_day[trained]
    return _table("training", {
        "rep_id": _rep_ids(roster, trained),
        "program": pa.array([TRAINING_PROGRAM] * len(trained), pa.string()),
        "start_date": _date_array(start),
        "end_date": _date_array(np.minimum(start + TRAINING_DAYS, span.end)),
    })


def _forecasts_table(rng, roster: _Roster, span: _Span, deals: _Deals):
    """Each rep's forecast of each whole quarter in the span (from the hire
    date on), submitted on the quarter's first day: actual won revenue times
    the rep's bias, with +-10 % noise, rounded to hundreds."""
    pa, _ = _pa()
    first_day = span.month_first.astype("datetime64[D]")
    months = first_day.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    quarter_of_month = months // 3
    q_start_month = np.unique(quarter_of_month) * 3
    q_first = q_start_month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    q_last = (q_start_month + 3).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1
    whole = (q_first >= span.start) & (q_last <= span.end)
    q_first, q_last, q_start_month = q_first[whole], q_last[whole], q_start_month[whole]
    n_q, n_reps = len(q_first), len(roster)
    won = deals.status == 1
    q_index = np.searchsorted(q_first, deals.closed[won], side="right") - 1
    inside = (q_index >= 0) & (deals.closed[won] <= (q_last[q_index] if n_q else 0))
    actual = np.bincount(deals.rep[won][inside] * n_q + q_index[inside], weights=deals.amount[won][inside],
                         minlength=n_reps * n_q).reshape(n_reps, n_q)
    noise = rng.uniform(0.9, 1.1, size=(n_reps, n_q))
    forecast = np.round(actual * roster.forecast_bias[:, None] * noise, -2)
    keep = (q_first[None, :] >= roster.active_from[:, None]).ravel()
    rep = np.repeat(np.arange(n_reps), n_q)[keep]
    q = np.tile(np.arange(n_q), n_reps)[keep]
    year = q_start_month // 12 + 1970
    label = np.char.add(np.char.add(year.astype(str), "-Q"), (q_start_month % 12 // 3 + 1).astype(str))
    return _table("forecasts", {
        "rep_id": _rep_ids(roster, rep),
        "period": pa.array(list(label[q]), pa.string()),
        "forecast_amount": _amount_array(forecast.ravel()[keep]),
        "submitted_date": _date_array(q_first[q]),
    })


# --- Writing -------------------------------------------------------------------

class _TableWriter:
    """Streams one table, block by block, into an open binary file."""

    def __init__(self, handle, name: str, fmt: str):
        import pyarrow.csv as csv
        import pyarrow.parquet as pq

        schema = _schema(name)
        if fmt == "parquet":
            self._writer = pq.ParquetWriter(handle, schema, compression="zstd")
        else:
            handle.write((",".join(schema.names) + "\n").encode())
            self._writer = csv.CSVWriter(handle, schema,
                                         write_options=csv.WriteOptions(include_header=False, quoting_style="none"))

    def write(self, table) -> None:
        if table.num_rows:
            self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()  # writes the Parquet footer; leaves the file to atomic_open


def _expectations_yaml(roster: _Roster) -> str:
    new_hires = [r for r, hire in zip(roster.rep_id, roster.new_hire) if hire]
    lines = [
        "# What success means for a rep (yearly figures, pro-rated to any period).",
        "# Written by salesnb.io.sample.generate; see data/README.md.",
        "default:",
        f"  revenue_quota: {REVENUE_QUOTA}",
        "  new_customers: {primary: 18, secondary: 12}",
        "  visits_per_customer: {primary: 0.5, secondary: 0.25}",
        "  prospecting_methods: [cold_call_phone, cold_call_visit, referral]",
        "  max_travel_share: 0.20",
        "  pipeline_coverage: 1.0",
        "  win_rate: 0.55",
        "teams:",
        "  Beta: {max_travel_share: 0.30, visits_per_customer: {primary: 0.75, secondary: 0.3}}",
    ]
    if new_hires:
        lines.append("reps:")
        lines += [f"  {rep}: {{revenue_quota: {NEW_HIRE_QUOTA}, new_customers: {{primary: 9, secondary: 6}}}}"
                  for rep in new_hires]
    return "\n".join(lines) + "\n"
