"""Training effect: difference in differences on a dataset with a known answer.

Five trained reps (T1-T5) take "Closing Skills" in January 2025; five
untrained reps (C1-C5) do not. Before: every rep closes 10 deals in October
2024 and wins 5 (win rate 0.5). After: trained reps win 8 of 10 (0.8),
untrained reps still 5 of 10 (0.5). Effect = (0.8 - 0.5) - (0.5 - 0.5) = +0.30.
"""

from __future__ import annotations

import pandas as pd
import pytest

from salesnb.analysis.training import training_effect
from salesnb.errors import InputError
from salesnb.io.dataset import Dataset, from_frames

TREATED = [f"T{i}" for i in range(1, 6)]
CONTROL = [f"C{i}" for i in range(1, 6)]


def deals(rep, won, lost, *, created, closed, tag):
    rows = []
    for i in range(won + lost):
        rows.append(
            {
                "opportunity_id": f"{rep}-{tag}-{i}",
                "rep_id": rep,
                "created_date": created,
                "closed_date": closed,
                "status": "won" if i < won else "lost",
                "amount": 1000.0,
            }
        )
    return rows


def dataset(after_wins=None, before_wins=None, *, treated=TREATED, control=CONTROL, training=None, hire_dates=None):
    """Before: deals created 2024-07-01, closed 2024-10-15. After: created
    2025-02-10, closed 2025-06-30 (the data's last day). 10 closed deals each."""
    after_wins = after_wins or {}
    before_wins = before_wins or {}
    reps, opps = [], []
    for rep in list(treated) + list(control):
        reps.append(
            {
                "rep_id": rep,
                "name": f"Rep {rep}",
                "territory": "North",
                "team": "A",
                "hire_date": (hire_dates or {}).get(rep, "2020-01-01"),
            }
        )
        won_before = before_wins.get(rep, 5)
        won_after = after_wins.get(rep, 8 if rep in treated else 5)
        opps += deals(rep, won_before, 10 - won_before, created="2024-07-01", closed="2024-10-15", tag="b")
        opps += deals(rep, won_after, 10 - won_after, created="2025-02-10", closed="2025-06-30", tag="a")
    if training is None:
        training = [
            {"rep_id": r, "program": "Closing Skills", "start_date": "2025-01-01", "end_date": "2025-01-31"} for r in treated
        ]
    return from_frames(
        reps=pd.DataFrame(reps),
        opportunities=pd.DataFrame(opps),
        training=pd.DataFrame(training) if training is not None else None,
    )


def test_known_effect_is_recovered_with_default_windows():
    result = training_effect(dataset(), program="Closing Skills")
    assert result["program"] == "Closing Skills" and result["metric"] == "win_rate"
    assert result["effect"] == pytest.approx(0.30)
    # Every trained rep changes by exactly +0.3 and every untrained rep by 0, so
    # every bootstrap resample gives 0.3 too.
    assert result["ci_low"] == pytest.approx(0.30) and result["ci_high"] == pytest.approx(0.30)
    assert result["treated"] == TREATED and result["control"] == CONTROL
    assert result["n_treated"] == 5 and result["n_control"] == 5 and result["warning"] is None
    assert result["means"] == pytest.approx(
        {"treated_before": 0.5, "treated_after": 0.8, "control_before": 0.5, "control_after": 0.5}
    )
    # Default window: data from 2024-07-01 to 2025-06-30; 184 days before the start
    # (2025-01-01), 150 days after the end (2025-01-31): the shorter, 150 days.
    # Before: 2025-01-01 - 150 days = 2024-08-04 .. 2024-12-31; after: 2025-02-01 .. 2025-06-30.
    assert result["window_days"] == 150
    assert result["before"] == {"start": "2024-08-04", "end": "2024-12-31"}
    assert result["after"] == {"start": "2025-02-01", "end": "2025-06-30"}
    assert "difference in differences" in result["method"]


def test_interval_is_seeded_and_brackets_the_effect():
    # Trained changes +0.2, +0.4, +0.3, +0.3, +0.3 (mean +0.3); untrained +0.1, -0.1,
    # 0, 0, 0 (mean 0): effect +0.3. A resample's effect lies between 0.2 - 0.1 = 0.1
    # and 0.4 + 0.1 = 0.5.
    ds = dataset(after_wins={"T1": 7, "T2": 9, "C1": 6, "C2": 4})
    first = training_effect(ds, program="closing skills", n_boot=500, seed=1)  # names match case-insensitively
    again = training_effect(ds, program="Closing Skills", n_boot=500, seed=1)
    assert first["effect"] == pytest.approx(0.30)
    assert 0.1 <= first["ci_low"] < 0.30 < first["ci_high"] <= 0.5
    assert (first["ci_low"], first["ci_high"]) == (again["ci_low"], again["ci_high"])


def test_small_groups_carry_a_plain_warning():
    # Three trained reps (< 5): the effect is still +0.3, with a warning. A window
    # in months is calendar months: 2025-01-01 - 5 months = 2024-08-01; 2025-01-31 +
    # 5 months = 2025-06-30.
    result = training_effect(dataset(treated=TREATED[:3]), program="Closing Skills", window="5 months")
    assert result["effect"] == pytest.approx(0.30) and result["n_treated"] == 3
    assert "Only 3 trained reps" in result["warning"]
    assert result["before"] == {"start": "2024-08-01", "end": "2024-12-31"}
    assert result["after"] == {"start": "2025-02-01", "end": "2025-06-30"}


def test_controls_use_the_program_s_first_session_and_late_hires_are_left_out():
    # T1 trains in January, T2-T5 in March 2025 (ending 2025-03-31): untrained reps
    # are measured around January (the earliest start), each trained rep around its
    # own dates. With a 152-day window the untrained reps' before window starts
    # 2025-01-01 - 152 days = 2024-08-02, and T2's after window runs 2025-04-01..2025-08-30.
    # C5 was hired on 2024-12-01, inside its before window: left out.
    training = [{"rep_id": "T1", "program": "Closing Skills", "start_date": "2025-01-01", "end_date": "2025-01-31"}]
    training += [
        {"rep_id": r, "program": "Closing Skills", "start_date": "2025-03-01", "end_date": "2025-03-31"} for r in TREATED[1:]
    ]
    ds = dataset(training=training, hire_dates={"C5": "2024-12-01"})
    result = training_effect(ds, program="Closing Skills", window=152)
    assert result["before"] == {"start": "2024-08-02", "end": "2024-12-31"}  # 2025-01-01 - 152 days
    assert result["treated_windows"]["T2"]["after"] == {"start": "2025-04-01", "end": "2025-08-30"}
    assert result["control"] == CONTROL[:4]
    assert {"rep_id": "C5", "reason": "hired 2024-12-01, after the before-window began"} in result["excluded"]
    assert result["effect"] == pytest.approx(0.30)


def test_unknown_program_and_missing_table_say_what_to_do():
    with pytest.raises(InputError, match="known programs: Closing Skills"):
        training_effect(dataset(), program="Negotiation")
    with pytest.raises(InputError, match=r"No `training` table"):
        training_effect(_without_training(), program="Closing Skills")
    with pytest.raises(InputError, match="not a metric"):
        training_effect(dataset(), program="Closing Skills", metric="charm")


def _without_training() -> Dataset:
    ds = dataset()
    return Dataset(tables={k: v for k, v in ds.tables.items() if k != "training"})


def test_count_metrics_work_too():
    # Opportunities created: trained reps 10 before and 10 after, untrained the same: effect 0.
    result = training_effect(dataset(), program="Closing Skills", metric="opportunities")
    assert result["effect"] == pytest.approx(0.0)
    assert result["notes"] == ["The interval includes zero: the data cannot tell this effect from no effect."]


# -- the generated sample: the planted effect is recovered ----------------------


def test_planted_training_effect_lies_in_the_interval(tmp_path):
    from salesnb.io.loading import load
    from salesnb.io.sample import NEW_HIRE, TRAINED, TRAINING_EFFECT, TRAINING_PROGRAM, generate

    generate(tmp_path)  # defaults: 12 reps, 24 months to 2025-12-31, training in January 2025
    result = training_effect(load(tmp_path), program=TRAINING_PROGRAM)
    assert result["treated"] == list(TRAINED)
    assert NEW_HIRE not in result["control"]  # hired after the before-window began
    assert result["ci_low"] <= TRAINING_EFFECT <= result["ci_high"]
    assert result["ci_low"] > 0
    assert "Only 4 trained reps" in result["warning"]
