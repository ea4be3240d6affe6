"""The sample's planted facts and tuning: which rep has which profile, and every number the simulation draws with.

The planted profiles (:data:`PLANTED` and friends) are what the analyses must
find; tests of the analysis modules import them (through
``salesnb.io.sample``), so the data and the claims about it live in one place.
The vocabulary and the constants below are shared by the simulation
(:mod:`salesnb.io.sample.simulation`) and the table writer
(:mod:`salesnb.io.sample.tables`); ``data/README.md`` describes them in words.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "planted_profiles",
    "PLANTED",
    "FOCUS",
    "FORECAST_BIAS",
    "TRAINED",
    "TRAINING_PROGRAM",
    "TRAINING_EFFECT",
    "NEW_HIRE",
    "REVENUE_QUOTA",
    "NEW_HIRE_QUOTA",
    "BASELINE",
    "PROFILE_PARAMETERS",
    "TERRITORIES",
    "TEAM_OF_TERRITORY",
    "CUSTOMER_TYPES",
    "TYPE_SHARE",
    "TYPE_DEAL_FACTOR",
    "MARKET_TIERS",
    "PRIMARY_SHARE",
    "TIER_DEAL_FACTOR",
    "METHODS",
    "LEAD_MIX",
    "METHOD_WIN_ADJUST",
    "ACTIVITY_TYPES",
    "FIRST_CONTACT_TYPE",
    "FOLLOW_UP_TYPE_SHARE",
    "STAGES",
    "STATUSES",
    "FIRST_NAMES",
    "LAST_NAMES",
    "COMPANY_WORDS",
    "COMPANY_SUFFIX",
    "TRAINING_DAYS",
    "NEW_HIRE_MONTHS",
    "PADDING_TYPE",
    "STALE_AFTER_DAYS",
    "STALE_ACTIVE_DAYS",
    "STALLED_SHARE",
    "STALLED_WINDOW_DAYS",
    "ORDER_INSTALMENTS",
    "ORDER_RENEWAL_RATE",
    "ORDER_RENEWAL_UPLIFT",
    "REPS_PER_BLOCK",
    "HISTORY_STREAM",
    "PUSHER",
    "STAGE_STALLER",
    "STALLED_STAGE",
    "BULK_UPDATER",
    "STAGE_WEIGHTS",
    "STALL_STAGE_WEIGHTS",
    "TYPICAL_PUSH_SHARE",
    "PUSHED_DEAL_SHARE",
    "PUSH_ROWS",
    "LOST_REACH",
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
    "star": {"opportunities_factor": 1.35, "win_rate": 0.75, "deal_factor": 1.3, "cycle_factor": 0.75, "annual_cost": 138_000},
    "prospecting": {
        "opportunities_factor": 0.45,
        "win_rate": 0.62,
        "deal_factor": 1.15,
        "cycle_factor": 0.95,
        "prospects_factor": 0.4,
        "lead_mix": "inbound",
        "annual_cost": 90_000,
    },
    "conversion": {
        "opportunities_factor": 1.15,
        "win_rate": 0.30,
        "deal_factor": 1.05,
        "follow_ups_factor": 2.5,
        "prospects_factor": 2.0,
        "annual_cost": 100_000,
    },
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
TYPE_SHARE = np.array([0.25, 0.25, 0.15, 0.15, 0.20])
TYPE_DEAL_FACTOR = np.array([1.15, 0.80, 1.20, 1.00, 0.90])
MARKET_TIERS = ("primary", "secondary")
PRIMARY_SHARE = 0.6
TIER_DEAL_FACTOR = np.array([1.15, 0.78])
METHODS = ("cold_call_phone", "cold_call_visit", "referral", "inbound", "event", "house_account")
LEAD_MIX = {
    "default": np.array([0.30, 0.15, 0.20, 0.15, 0.10, 0.10]),
    "inbound": np.array([0.10, 0.05, 0.20, 0.30, 0.10, 0.25]),  # waits for leads to come in
}
METHOD_WIN_ADJUST = np.array([-0.05, -0.02, 0.07, 0.03, 0.0, 0.04])
ACTIVITY_TYPES = ("call", "email", "meeting", "visit")
FIRST_CONTACT_TYPE = np.array([0, 3, 0, 1, 2, 0])  # per METHODS: how the first contact is made
FOLLOW_UP_TYPE_SHARE = np.array(
    [
        [0.30, 0.30, 0.18, 0.22],  # primary customers get visits
        [0.42, 0.42, 0.10, 0.06],
    ]
)  # secondary ones mostly calls and emails
STAGES = ("Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost")
STATUSES = ("open", "won", "lost")

FIRST_NAMES = (
    "Ava",
    "Ben",
    "Chloe",
    "Daniel",
    "Emma",
    "Felix",
    "Grace",
    "Hugo",
    "Isla",
    "Jonas",
    "Katie",
    "Liam",
    "Maya",
    "Noah",
    "Olivia",
    "Pablo",
    "Quinn",
    "Rosa",
    "Samir",
    "Tara",
)
LAST_NAMES = (
    "Martin",
    "Okafor",
    "Lindqvist",
    "Rossi",
    "Nguyen",
    "Fischer",
    "Silva",
    "Kowalski",
    "Dubois",
    "Tanaka",
    "Murphy",
    "Haddad",
    "Jensen",
    "Moreau",
    "Patel",
    "Novak",
    "Garcia",
    "Weber",
    "Costa",
    "Byrne",
)
COMPANY_WORDS = (
    "Apex",
    "Birch",
    "Cobalt",
    "Delta",
    "Ember",
    "Fjord",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Keystone",
    "Lumen",
    "Maple",
    "Nova",
    "Orbit",
    "Pioneer",
    "Quarry",
    "Ridge",
    "Summit",
    "Tidal",
)
COMPANY_SUFFIX = {  # per CUSTOMER_TYPES
    "Manufacturing": "Works",
    "Retail": "Stores",
    "Healthcare": "Clinics",
    "Logistics": "Freight",
    "Professional Services": "Partners",
}

TRAINING_DAYS = 4  # end_date = start_date + 4 days
NEW_HIRE_MONTHS = 6  # hired at the start of the 6th month before end
PADDING_TYPE = "call"
STALE_AFTER_DAYS = 150  # velocity rep: open deals older than this went quiet...
STALE_ACTIVE_DAYS = 20  # ...after their first 20 days (so 130+ days without activity)
STALLED_SHARE = 0.15  # velocity rep: this share of deals created 150-450 days
STALLED_WINDOW_DAYS = 450  # before end is stuck, still open
ORDER_INSTALMENTS = 4  # a won contract is billed in 4 quarterly orders...
ORDER_RENEWAL_RATE = 0.8  # ...and renewed for a second year (4 more) by most customers
ORDER_RENEWAL_UPLIFT = 1.03
REPS_PER_BLOCK = 100  # reps simulated and written together (bounds memory)

# --- The deal history (opportunity_history; issue 18) -----------------------------
#: Its own random stream, default_rng([seed, HISTORY_STREAM]): the other tables stay byte-identical.
HISTORY_STREAM = 18
#: Planted: this profile's close dates keep moving out (most deals pushed at every change, 2-4 times)...
PUSHER = "over_forecaster"  # R07
#: ...this one's deals stall in STALLED_STAGE (most of their long cycle is spent there)...
STAGE_STALLER = "velocity"  # R05
STALLED_STAGE = "Negotiation"
#: ...and this one logs every change in bursts at 17:00 on the month's last day.
BULK_UPDATER = "padded_activity"  # R06
#: Share of a deal's time in Qualification, Proposal, Negotiation (before lognormal noise).
STAGE_WEIGHTS = np.array([0.25, 0.40, 0.35])
STALL_STAGE_WEIGHTS = np.array([0.12, 0.18, 0.70])
TYPICAL_PUSH_SHARE = 0.12  # a typical deal's close date is pushed once with this chance
PUSHED_DEAL_SHARE = 0.85  # the pusher's deals pushed at every change, plus...
PUSH_ROWS = 2  # ...this many extra rows that only move the close date out
#: A lost deal's last stage before Closed Lost: Qualification, Proposal, Negotiation.
LOST_REACH = np.array([0.35, 0.35, 0.30])
_PATTERN = tuple(PLANTED.values())
_EXTRA_CYCLE = 36  # reps beyond 12: 24 typical, then the 12-rep pattern again


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


def _slot(index: int) -> int | None:
    """Position in the 12-rep pattern of rep number ``index`` (0-based), None for a typical rep."""
    if index < len(_PATTERN):
        return index
    position = (index - len(_PATTERN)) % _EXTRA_CYCLE
    offset = _EXTRA_CYCLE - len(_PATTERN)
    return position - offset if position >= offset else None


def _rep_width(reps: int) -> int:
    return max(2, len(str(reps)))
