"""The sample's simulation in plain numpy: the span, the roster of reps, and
each block's deals, customers, activities and orders as arrays of local indices.

Every draw comes from the one ``numpy.random.Generator`` that
:func:`salesnb.io.sample.generate` seeds, in a fixed order, so the same
arguments give the same arrays; :mod:`salesnb.io.sample.tables` turns them
into contract tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from salesnb.io.sample.profiles import (
    ACTIVITY_TYPES,
    BASELINE,
    BULK_UPDATER,
    FIRST_CONTACT_TYPE,
    FIRST_NAMES,
    FOLLOW_UP_TYPE_SHARE,
    LAST_NAMES,
    LEAD_MIX,
    LOST_REACH,
    METHOD_WIN_ADJUST,
    NEW_HIRE_MONTHS,
    ORDER_INSTALMENTS,
    ORDER_RENEWAL_RATE,
    ORDER_RENEWAL_UPLIFT,
    PADDING_TYPE,
    PRIMARY_SHARE,
    PROFILE_PARAMETERS,
    PUSH_ROWS,
    PUSHED_DEAL_SHARE,
    PUSHER,
    STAGE_STALLER,
    STAGE_WEIGHTS,
    STALE_ACTIVE_DAYS,
    STALE_AFTER_DAYS,
    STALL_STAGE_WEIGHTS,
    STALLED_SHARE,
    STALLED_WINDOW_DAYS,
    TERRITORIES,
    TIER_DEAL_FACTOR,
    TRAINING_EFFECT,
    TYPE_DEAL_FACTOR,
    TYPE_SHARE,
    TYPICAL_PUSH_SHARE,
    planted_profiles,
)

__all__ = [
    "NO_DATE",
    "Span",
    "Roster",
    "draw_roster",
    "Deals",
    "draw_opportunities",
    "Customers",
    "draw_customers",
    "Activities",
    "draw_activities",
    "Orders",
    "draw_orders",
    "History",
    "draw_history",
]


@dataclass(frozen=True)
class Span:
    start: int  # first day (days since 1970-01-01)
    end: int  # last day
    month_first: np.ndarray  # first day of each month
    month_last: np.ndarray  # last day of each month, clipped to end
    months: int

    def day_range(self, month: np.ndarray, active_from: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and last active day of each (month, rep) pair; first > last when inactive."""
        return np.maximum(self.month_first[month], active_from), self.month_last[month]


@dataclass(frozen=True)
class Roster:
    """Per-rep parameters, one array entry per rep."""

    rep_id: np.ndarray
    name: np.ndarray
    territory: np.ndarray  # index into TERRITORIES
    profile: np.ndarray  # profile name
    hire_day: np.ndarray
    active_from: np.ndarray  # first day with data (span start, or hire day)
    annual_cost: np.ndarray
    opportunity_rate: np.ndarray  # new opportunities per full month
    win_rate: np.ndarray
    deal_median: np.ndarray
    cycle_median: np.ndarray
    follow_ups: np.ndarray  # mean follow-up contacts per opportunity
    prospects: np.ndarray  # prospects contacted per month who never become opportunities
    lead_mix: np.ndarray  # 0 default, 1 inbound-heavy
    stale: np.ndarray  # bool: open deals go quiet (velocity profile)
    padding: np.ndarray  # bool: 30-60 unlinked calls on each month's last day
    forecast_bias: np.ndarray
    training_day: np.ndarray  # training start day, or a day after the span
    new_hire: np.ndarray  # bool

    def take(self, index: np.ndarray) -> Roster:
        return Roster(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})

    def __len__(self) -> int:
        return len(self.rep_id)


def draw_roster(rng: np.random.Generator, reps: int, span: Span) -> Roster:
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
    return Roster(
        rep_id=rep_id,
        name=np.array([f"{FIRST_NAMES[i % 20]} {LAST_NAMES[(i // 20 + 7 * i) % 20]}" for i in index], dtype=object),
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


def _monthly_counts(
    rng, roster: Roster, span: Span, rate: np.ndarray, *, ramp: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson counts per (rep, month) of events at ``rate`` per full month,
    then a uniformly drawn active day for each event. Returns (rep, month, day)."""
    reps, months = len(roster), span.months
    month = np.arange(months)
    first, last = span.day_range(month[None, :], roster.active_from[:, None])
    days_in_month = span.month_last[month] - span.month_first[month] + 1
    active = np.clip(last - first + 1, 0, None) / days_in_month
    lam = rate[:, None] * active
    if ramp:  # a new hire reaches full pace in the third month
        since = month[None, :] - np.searchsorted(span.month_first, roster.active_from, side="right")[:, None] + 2
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
class Deals:
    rep: np.ndarray  # local rep index, sorted by (rep, created)
    created: np.ndarray
    closed: np.ndarray  # day, valid where status != open
    status: np.ndarray  # 0 open, 1 won, 2 lost
    amount: np.ndarray  # lognormal noise until draw_customers scales it by rep, type and tier
    method: np.ndarray  # lead source, index into METHODS
    customer: np.ndarray  # local customer index
    new_customer: np.ndarray  # bool: the customer's first opportunity
    stage: np.ndarray
    stale: np.ndarray  # bool: open and quiet for months


def draw_opportunities(rng, roster: Roster, span: Span) -> Deals:
    rep, _, created = _monthly_counts(rng, roster, span, roster.opportunity_rate, ramp=True)
    order = np.lexsort((created, rep))
    rep, created = rep[order], created[order]
    n = len(rep)
    method = _choice(rng, np.stack([LEAD_MIX["default"], LEAD_MIX["inbound"]])[roster.lead_mix[rep]], u=rng.random(n))

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
    stalled = roster.stale[rep] & (age >= STALE_AFTER_DAYS) & (age <= STALLED_WINDOW_DAYS) & (rng.random(n) < STALLED_SHARE)
    cycle = np.where(stalled, np.maximum(cycle, age + 1), cycle)
    closed = created + cycle
    is_open = closed > span.end
    boost = np.where(closed > roster.training_day[rep], TRAINING_EFFECT, 0.0)
    p_win = np.clip(roster.win_rate[rep] + METHOD_WIN_ADJUST[method] + boost, 0.02, 0.98)
    won = _systematic_wins(rng, rep, closed, is_open, p_win, len(roster))
    status = np.where(is_open, 0, np.where(won, 1, 2))
    amount_noise = rng.lognormal(0.0, BASELINE["deal_sigma"], n)
    progress = age / roster.cycle_median[rep]  # an open deal's stage follows its age
    stage = np.where(status == 1, 3, np.where(status == 2, 4, np.where(progress < 0.3, 0, np.where(progress < 0.7, 1, 2))))
    stale = is_open & roster.stale[rep] & (created <= span.end - STALE_AFTER_DAYS)
    return Deals(
        rep=rep,
        created=created,
        closed=closed,
        status=status,
        amount=amount_noise,
        method=method,
        customer=customer,
        new_customer=new_customer,
        stage=stage,
        stale=stale,
    )


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
class Customers:
    rep: np.ndarray
    first_contact: np.ndarray  # day of the first (new-prospect) contact
    customer_type: np.ndarray
    tier: np.ndarray
    method: np.ndarray
    acquired: np.ndarray  # first won deal's closed day, -1 when never won
    extra_contacts: np.ndarray  # follow-up contacts with a prospect who never became an opportunity
    order: np.ndarray  # local index -> position in ID order


def draw_customers(rng, roster: Roster, span: Span, deals: Deals, activity_scale: float) -> Customers:
    """Accounts of the block: one per new-customer opportunity (its first
    contact up to 14 days before the deal was created), then prospects who
    were contacted but never became an opportunity. Deal amounts are set
    here, as they depend on the customer's type and tier."""
    roots = np.flatnonzero(deals.new_customer)
    n_deal_customers = len(roots)
    lag = rng.integers(0, 15, n_deal_customers)
    first_contact = np.maximum(deals.created[roots] - lag, roster.active_from[deals.rep[roots]])

    p_rep, _, p_day = _monthly_counts(rng, roster, span, roster.prospects * activity_scale, ramp=True)
    p_method = _choice(
        rng, np.stack([LEAD_MIX["default"], LEAD_MIX["inbound"]])[roster.lead_mix[p_rep]], u=rng.random(len(p_rep))
    )
    n = n_deal_customers + len(p_rep)
    rep = np.r_[deals.rep[roots], p_rep]
    first = np.r_[first_contact, p_day]
    method = np.r_[deals.method[roots], p_method]
    customer_type = _choice(rng, TYPE_SHARE, n)
    tier = (rng.random(n) >= PRIMARY_SHARE).astype(np.int64)
    extra = np.r_[np.zeros(n_deal_customers, np.int64), rng.poisson(0.4 * activity_scale, len(p_rep))]

    deal_customer = deals.customer
    deals.amount = np.round(
        roster.deal_median[deals.rep]
        * TYPE_DEAL_FACTOR[customer_type[deal_customer]]
        * TIER_DEAL_FACTOR[tier[deal_customer]]
        * deals.amount,
        2,
    )
    acquired = np.full(n, np.iinfo(np.int64).max)
    won = deals.status == 1
    np.minimum.at(acquired, deal_customer[won], deals.closed[won])
    acquired = np.where(acquired == np.iinfo(np.int64).max, -1, acquired)
    ranking = np.lexsort((np.arange(n), first, rep))
    order = np.empty(n, np.int64)
    order[ranking] = np.arange(n)
    return Customers(
        rep=rep,
        first_contact=first,
        customer_type=customer_type,
        tier=tier,
        method=method,
        acquired=acquired,
        extra_contacts=extra,
        order=order,
    )


@dataclass
class Activities:
    rep: np.ndarray
    day: np.ndarray
    kind: np.ndarray  # index into ACTIVITY_TYPES
    customer: np.ndarray  # local customer index, -1 for none
    deal: np.ndarray  # local deal index, -1 for none


def draw_activities(rng, roster: Roster, span: Span, deals: Deals, customers: Customers, activity_scale: float) -> Activities:
    parts = []
    n_cust = len(customers.rep)

    # 1. The first (new-prospect) contact with every customer and prospect, linked to no opportunity.
    parts.append(
        (customers.rep, customers.first_contact, FIRST_CONTACT_TYPE[customers.method], np.arange(n_cust), np.full(n_cust, -1))
    )

    # 2. Follow-ups on each opportunity, between its creation and its close (or end).
    n_deals = len(deals.rep)
    mean = roster.follow_ups[deals.rep] * activity_scale + (
        ~deals.new_customer
    )  # a returning customer's deal opens with a contact too
    count = rng.poisson(mean)
    deal = np.repeat(np.arange(n_deals), count)
    lo = deals.created[deal]
    hi = np.where(deals.status[deal] == 0, span.end, deals.closed[deal])
    hi = np.where(deals.stale[deal], np.minimum(lo + STALE_ACTIVE_DAYS, span.end), hi)
    day = lo + np.floor(rng.random(len(deal)) * (hi - lo + 1)).astype(np.int64)
    tier = customers.tier[deals.customer[deal]]
    parts.append(
        (deals.rep[deal], day, _choice(rng, FOLLOW_UP_TYPE_SHARE[tier], u=rng.random(len(deal))), deals.customer[deal], deal)
    )

    # 3. Open deals that are being worked had a contact in the last 30 days.
    working = np.flatnonzero((deals.status == 0) & ~deals.stale)
    day = np.maximum(deals.created[working], span.end - rng.integers(0, 31, len(working)))
    tier = customers.tier[deals.customer[working]]
    parts.append(
        (
            deals.rep[working],
            day,
            _choice(rng, FOLLOW_UP_TYPE_SHARE[tier], u=rng.random(len(working))),
            deals.customer[working],
            working,
        )
    )

    # 4. A prospect who never became an opportunity may get a second or third try within a month.
    prospect = np.repeat(np.arange(n_cust), customers.extra_contacts)
    day = np.minimum(customers.first_contact[prospect] + rng.integers(1, 31, len(prospect)), span.end)
    parts.append(
        (
            customers.rep[prospect],
            day,
            _choice(rng, FOLLOW_UP_TYPE_SHARE[customers.tier[prospect]], u=rng.random(len(prospect))),
            prospect,
            np.full(len(prospect), -1),
        )
    )

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
    parts.append((rep, day, np.full(len(rep), ACTIVITY_TYPES.index(PADDING_TYPE)), np.full(len(rep), -1), np.full(len(rep), -1)))

    rep, day, kind, customer, deal = (np.concatenate([np.asarray(p[i], np.int64) for p in parts]) for i in range(5))
    order = np.lexsort((day, rep))  # stable: same-day contacts keep the order above
    return Activities(rep=rep[order], day=day[order], kind=kind[order], customer=customer[order], deal=deal[order])


@dataclass
class Orders:
    deal: np.ndarray
    day: np.ndarray
    amount: np.ndarray


def draw_orders(rng, span: Span, deals: Deals) -> Orders:
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
    return Orders(deal=deal[order], day=day[order], amount=amount[order])


NO_DATE = np.iinfo(np.int64).min
"""A blank expected close date in :class:`History`."""


@dataclass
class History:
    deal: np.ndarray  # local deal index
    second: np.ndarray  # changed_at, seconds since 1970-01-01
    stage: np.ndarray  # index into STAGES
    expected_close: np.ndarray  # day


_SLOTS = 3 + PUSH_ROWS + 1  # Qualification, Proposal, Negotiation, push-only rows, the close


def draw_history(rng, roster: Roster, span: Span, deals: Deals, scale: float = 1.0) -> History:
    """How each deal moved: one row per stage it entered (Qualification at
    creation, then Proposal and Negotiation as far as it got), the close
    (Closed Won / Closed Lost on the close day), and for the pusher's deals
    rows that only move the close date out. Each stage's share of the deal's
    time is :data:`STAGE_WEIGHTS` (the staller: :data:`STALL_STAGE_WEIGHTS`)
    with noise; an open deal is in its current stage since its last row.

    ``scale`` above 1 (load tests) adds about ``scale - 1`` rows per row
    of a deal: moves back and forth between the stages it reached, on days
    before its close, with a blank close date (drawn after everything
    else: at 1 nothing is drawn and the history is the default's)."""
    n = len(deals.rep)
    profile = roster.profile[deals.rep]
    closed = deals.status != 0
    reach = np.where(deals.status == 1, 2, np.where(closed, _choice(rng, LOST_REACH, n), np.minimum(deals.stage, 2)))
    weights = np.where((profile == STAGE_STALLER)[:, None], STALL_STAGE_WEIGHTS, STAGE_WEIGHTS) * rng.lognormal(0, 0.25, (n, 3))
    weights = np.where(np.arange(3)[None, :] <= reach[:, None], weights, 0.0)
    share = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    length = np.where(closed, deals.closed - deals.created, np.round(roster.cycle_median[deals.rep]))
    last_day = np.where(closed, deals.closed, span.end)
    day = np.zeros((n, _SLOTS), dtype=np.int64)
    day[:, 0] = deals.created
    day[:, 1:3] = np.minimum(
        deals.created[:, None] + np.round(length[:, None] * share[:, :2]).astype(np.int64), last_day[:, None]
    )
    entered_last = day[np.arange(n), reach]
    for k in range(PUSH_ROWS):  # push-only rows inside the last stage
        day[:, 3 + k] = entered_last + (last_day - entered_last) * (k + 1) // (PUSH_ROWS + 1)
    day[:, -1] = last_day
    pushy = (profile == PUSHER) & (rng.random(n) < PUSHED_DEAL_SHARE)
    exists = np.zeros((n, _SLOTS), dtype=bool)
    exists[:, 0] = True
    exists[:, 1], exists[:, 2] = reach >= 1, reach >= 2
    exists[:, 3 : 3 + PUSH_ROWS] = pushy[:, None]
    exists[:, -1] = closed
    stage = np.empty((n, _SLOTS), dtype=np.int64)
    stage[:, :3] = np.arange(3)
    stage[:, 3:-1] = reach[:, None]
    stage[:, -1] = np.where(deals.status == 1, 3, 4)

    # Expected close dates: the real close (an open deal: its usual cycle, at least 15 days ahead);
    # the pusher's row k of m carries it (m - 1 - k) steps early, a typical pushed deal once.
    final = np.where(closed, deals.closed, np.maximum(deals.created + length.astype(np.int64), span.end + 15))
    before_close = exists.copy()
    before_close[:, -1] = False
    rows = before_close.sum(axis=1)
    k = np.cumsum(before_close, axis=1) - 1
    step = rng.integers(10, 26, n)
    early = np.where(pushy[:, None], (rows[:, None] - 1 - k) * step[:, None], 0)
    once = ~pushy & (rows >= 2) & (rng.random(n) < TYPICAL_PUSH_SHARE)
    early = np.where(once[:, None] & (k == 0), rng.integers(14, 46, n)[:, None], early)
    expected = final[:, None] - np.where(before_close, early, 0)

    # Times of day: working hours, rows of one day in order; the bulk updater types a month at once.
    second = day * 86400 + (8 * 3600 + rng.integers(0, 180, n)[:, None] * 60 + np.arange(_SLOTS)[None, :] * 420)
    bulk = profile == BULK_UPDATER
    if bulk.any():
        month = np.searchsorted(span.month_first, day[bulk], side="right") - 1
        typed = span.month_last[month]
        in_month = day[bulk] - span.month_first[month]
        second[bulk] = typed * 86400 + 17 * 3600 + (in_month * _SLOTS + np.arange(_SLOTS)[None, :]) * 3
    deal = np.broadcast_to(np.arange(n)[:, None], (n, _SLOTS))[exists]
    history = History(deal=deal, second=second[exists], stage=stage[exists], expected_close=expected[exists])
    return _more_moves(rng, history, deals, reach, last_day, scale) if scale > 1 else history


def _more_moves(rng, history: History, deals: Deals, reach: np.ndarray, last_day: np.ndarray, scale: float) -> History:
    """``history`` with extra stage moves for a load test (see :func:`draw_history`):
    per deal a Poisson number (mean ``scale - 1`` times its rows) of rows on
    days from its creation to the day before its close, each in a stage it
    reached, in working hours; their close date is blank (``NO_DATE``)."""
    rows = np.bincount(history.deal, minlength=len(deals.rep))
    extra = rng.poisson((scale - 1) * rows)
    extra[last_day <= deals.created] = 0  # no day before the close to move on
    deal = np.repeat(np.arange(len(rows)), extra)
    room = (last_day - deals.created)[deal]
    day = deals.created[deal] + np.floor(rng.random(len(deal)) * room).astype(np.int64)
    second = day * 86400 + 9 * 3600 + rng.integers(0, 8 * 3600, len(deal))
    stage = np.floor(rng.random(len(deal)) * (reach[deal] + 1)).astype(np.int64)
    return History(
        deal=np.concatenate([history.deal, deal]),
        second=np.concatenate([history.second, second]),
        stage=np.concatenate([history.stage, stage]),
        expected_close=np.concatenate([history.expected_close, np.full(len(deal), NO_DATE, dtype=np.int64)]),
    )
