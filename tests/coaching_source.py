"""A planted source for the coaching tests: two teams of six, each rep's
behaviour set by a profile, 2024-07-01 .. 2025-06-30, judged on 2025-Q2.

Every rep opens opportunities at an even pace (``opps`` a quarter, one
every 91 / opps days from 2024-07-01), each with its own new customer whose
first contact (a new-prospect contact) is on the creation day, two
follow-ups on the next two days, and ``extra`` more new-prospect contacts a
quarter with customers that never become opportunities. A deal closes
``cycle`` days after creation when that day is on or before 2025-06-30,
won when ``i % 2 == 0`` (``win`` = 0.5) or by the profile's pattern, for
``size``. Forecasts: each rep forecasts each quarter's won revenue exactly,
except R6 (+50 % in 2025-Q1 and 2025-Q2).

Planted (team North: R1, R2, R3, R5, R6, R7; South: R4 and R8..R12, the
others baseline; no team has more than one rep short on prospecting, so
no prospecting gap is the team's):

* R1 baseline;
* R2 ``qualifier``: 8 opportunities a quarter from 88 new-prospect contacts
  (peers: 20 from 40): prospecting, cause ``qualification``;
* R3 ``quarter``: 5 opportunities a quarter (a quarter of the peers') and
  so fewer than 10 closed deals, few contacts: prospecting, cause
  ``activity``, conversion, deal size and velocity not judged;
* R4 ``padder``: 10 opportunities a quarter, 20 new-prospect contacts and 40
  unlinked contacts piled on month ends: ``padded_activity``;
* R5 ``slow``: deals take 120 days, not 40: velocity, with stalled open deals;
* R6 over-forecasts.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from tests.sources import write_source

START = date(2024, 7, 1)
END = date(2025, 6, 30)
PERIOD = "2025-Q2"
BASE = {"opps": 20, "extra": 20, "cycle": 40, "size": 10_000.0, "win": 2, "pad": 0}
PROFILES = {
    "R1": {},
    "R2": {"opps": 8, "extra": 80},
    "R3": {"opps": 5, "extra": 5},
    "R4": {"opps": 10, "extra": 10, "pad": 40},
    "R5": {"cycle": 120},
    "R6": {},
    **{f"R{i}": {} for i in range(7, 13)},
}
SOUTH = {"R4", "R8", "R9", "R10", "R11", "R12"}
NAMES = {
    f"R{i}": name for i, name in enumerate(["Ann", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lu"], 1)
}


def _quarter(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def plant(folder: Path) -> Path:
    """Write the planted source into ``folder``; returns it."""
    reps, opps, acts, forecasts = [], [], [], []
    customer = 0
    act = 0
    for rep, changes in PROFILES.items():
        p = dict(BASE, **changes)
        team = "South" if rep in SOUTH else "North"
        reps.append({"rep_id": rep, "name": NAMES[rep], "territory": team, "team": team, "annual_cost": 100_000})
        won_by_quarter: dict[str, float] = {}
        step = 91 / p["opps"]
        i = 0
        while (created := START + timedelta(days=round(i * step))) <= END:
            customer += 1
            cid = f"C{customer:05d}"
            oid = f"{rep}-O{i:03d}"
            closed = created + timedelta(days=p["cycle"])
            status = "open"
            if closed <= END:
                status = "won" if i % p["win"] == 0 else "lost"
            opps.append(
                {
                    "opportunity_id": oid,
                    "rep_id": rep,
                    "customer_id": cid,
                    "created_date": created.isoformat(),
                    "closed_date": closed.isoformat() if status != "open" else "",
                    "status": status,
                    "amount": p["size"],
                }
            )
            if status == "won":
                won_by_quarter[_quarter(closed)] = won_by_quarter.get(_quarter(closed), 0.0) + p["size"]
            for offset, linked in ((0, ""), (1, oid), (2, oid)):
                act += 1
                acts.append(
                    {
                        "activity_id": f"A{act:06d}",
                        "rep_id": rep,
                        "date": (created + timedelta(days=offset)).isoformat(),
                        "type": "call",
                        "customer_id": cid,
                        "opportunity_id": linked,
                    }
                )
            i += 1
        # new-prospect contacts that never became an opportunity, evenly over time
        extra_step = 91 / p["extra"]
        j = 0
        while (day := START + timedelta(days=round(j * extra_step))) <= END:
            customer += 1
            act += 1
            acts.append(
                {
                    "activity_id": f"A{act:06d}",
                    "rep_id": rep,
                    "date": day.isoformat(),
                    "type": "call",
                    "customer_id": f"C{customer:05d}",
                    "opportunity_id": "",
                }
            )
            j += 1
        # padding: unlinked contacts piled on the last day of each month of the period
        for month_end in (date(2025, 4, 30), date(2025, 5, 30), date(2025, 6, 30)):
            for _ in range(p["pad"] // 3):
                act += 1
                acts.append(
                    {
                        "activity_id": f"A{act:06d}",
                        "rep_id": rep,
                        "date": month_end.isoformat(),
                        "type": "call",
                        "customer_id": "",
                        "opportunity_id": "",
                    }
                )
        for quarter in ("2025-Q1", "2025-Q2"):
            actual = won_by_quarter.get(quarter, 0.0)
            forecasts.append({"rep_id": rep, "period": quarter, "forecast_amount": actual * (1.5 if rep == "R6" else 1.0)})
    return write_source(folder, {"reps": reps, "opportunities": opps, "activities": acts, "forecasts": forecasts})
