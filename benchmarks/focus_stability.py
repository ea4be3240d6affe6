"""Does a rep's coaching focus survive a fair change of method? And how fast is the diagnosis?

    .venv/bin/python benchmarks/focus_stability.py [--reps 30 --team-size 5 --seed 11]
                                                   [--timing-reps 10000]

1. Generates a sample source (salesnb.io.sample.generate, 24 months to
   2025-12-31) with ``--reps`` reps put in teams of ``--team-size``, and
   diagnoses every rep in 2025-Q2, Q3 and Q4 twice: shown against the team
   (``peers="team"``, the default) and against all reps (``peers="all"``).
   Prints how many foci are named, how many differ between the two, and how
   many of the ``clear`` ones do: a clear focus holds against both
   benchmarks, so it should not move.
2. Times ``diagnose_table`` on ``--timing-reps`` random metrics rows (teams
   of 8), best of 3.

Run it from an old checkout too (``PYTHONPATH=OLD_CHECKOUT``) to compare.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def stability(reps: int, team_size: int, seed: int) -> None:
    import salesnb
    from salesnb.analysis.diagnosis import diagnose_table, with_active_share
    from salesnb.analysis.metrics import metrics_table
    from salesnb.analysis.periods import parse_period
    from salesnb.io.sample import generate

    folder = Path(tempfile.mkdtemp()) / "src"
    generate(folder, seed=seed, reps=reps, months=24, end="2025-12-31")
    table = pd.read_csv(folder / "reps.csv")
    table["team"] = [f"T{i // team_size + 1}" for i in range(len(table))]
    table.to_csv(folder / "reps.csv", index=False)
    ds = salesnb.load(folder)
    total = named = changed = clear = clear_changed = 0
    for label in ("2025-Q2", "2025-Q3", "2025-Q4"):
        span = parse_period(label)
        rows = with_active_share(metrics_table(ds, by="rep", period=span), ds.reps, span)
        team = {d["rep_id"]: d for d in diagnose_table(rows, peers="team", period=label)}
        every = {d["rep_id"]: d for d in diagnose_table(rows, peers="all", period=label)}
        for rep, d in team.items():
            total += 1
            named += d["focus"] is not None
            moved = d["focus"] != every[rep]["focus"]
            changed += moved
            if d.get("focus_strength") == "clear":
                clear += 1
                clear_changed += moved
    print(f"{reps} reps in teams of {team_size}, 3 quarters: {total} rep-periods")
    print(f"  focus named: {named}; differs between team and all-rep benchmark: {changed} ({changed / total:.0%})")
    if "focus_strength" in next(iter(team.values())):
        print(f"  clear foci: {clear}, of which differ: {clear_changed}")


def timing(n: int) -> None:
    from salesnb.analysis.diagnosis import diagnose_table

    rng = np.random.default_rng(1)
    won, lost = rng.integers(0, 30, n), rng.integers(0, 30, n)
    frame = pd.DataFrame(
        {
            "rep_id": [f"R{i}" for i in range(n)],
            "team": [f"T{i // 8}" for i in range(n)],
            "opportunities": rng.integers(0, 60, n),
            "won": won,
            "lost": lost,
            "closed": won + lost,
            "win_rate": won / np.maximum(won + lost, 1),
            "avg_deal_size": rng.uniform(5e3, 5e4, n),
            "cycle_days_median": rng.uniform(20, 120, n),
            "new_prospect_contacts": rng.integers(0, 200, n),
            "revenue_won": rng.uniform(0, 1e6, n),
            "pipeline_open_amount": rng.uniform(0, 1e6, n),
        }
    )
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        diagnose_table(frame)
        best = min(best, time.perf_counter() - start)
    print(f"diagnose_table on {n:,} reps: {best:.2f} s (best of 3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--team-size", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timing-reps", type=int, default=10_000)
    args = parser.parse_args()
    stability(args.reps, args.team_size, args.seed)
    timing(args.timing_reps)


if __name__ == "__main__":
    main()
