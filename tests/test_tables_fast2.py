"""The batch-wide tables, second round (issue #16): what every table of a batch derives
from the same snapshot (the history's moves, the pushes, the stage stays, the customer
book, first contacts, forecast accuracy) is made once per snapshot
(:mod:`salesnb.analysis.derived`), never for a dataset an analyst may edit.

The figures are those of tests/test_history.py's hand-worked source: O1 pushed on
01-31 (+14) and 02-20 (+14), O2 on 02-10 (+30), O3 on 03-11 (+31) and 04-10 (+61).
"""

from __future__ import annotations

import pandas as pd
import pytest

from salesnb.analysis import history
from salesnb.analysis.diagnosis import diagnose
from salesnb.analysis.history import close_date_pushes, stage_stays
from salesnb.analysis.metrics import metrics_over_time, metrics_table
from salesnb.io.loading import load
from tests.sources import write_source
from tests.test_history import HISTORY, OPPORTUNITIES, REPS

PUSHES = [("O1", 14.0), ("O1", 14.0), ("O2", 30.0), ("O3", 31.0), ("O3", 61.0)]


@pytest.fixture
def ds(tmp_path):
    return load(write_source(tmp_path / "src", {"reps": REPS, "opportunities": OPPORTUNITIES, "opportunity_history": HISTORY}))


def _counted(monkeypatch, name: str) -> list:
    calls = []
    original = getattr(history, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(history, name, counted)
    return calls


def test_a_snapshot_reads_its_history_once_for_every_table(ds, monkeypatch):
    made = _counted(monkeypatch, "_history_moves")
    ds.snapshot = True  # a batch's read-only copy
    first = close_date_pushes(ds)
    assert list(zip(first["opportunity_id"], first["days"])) == PUSHES
    q1 = metrics_table(ds, by="rep", period="2025-Q1").set_index("rep_id")
    # R1: O1 (won in Q1, 2 pushes) and O2 (open, 1 push); R2: O3 (open, its 03-11 push; 04-10 is after Q1)
    assert q1.loc["R1", ["pushed_deals", "close_date_pushes"]].tolist() == [2, 3]
    assert q1.loc["R2", ["pushed_deals", "close_date_pushes"]].tolist() == [1, 1]
    over = metrics_over_time(ds, by="team", freq="quarter", start="2025-Q1", end="2025-Q2").set_index(["period", "team"])
    assert over.loc[("2025-Q2", "Beta"), ["pushed_deals", "close_date_pushes"]].tolist() == [1, 2]
    assert stage_stays(ds)["days"].sum() == 10 + 40 + 9 + 0 + 31 + 28 + 10 + 30 + 31
    diagnose(ds, period="2025-Q1")
    assert len(made) == 1  # one pass over the history for the pushes, the stays and every period's metrics
    # a caller changing its copy changes nobody else's
    first["days"] = 0.0
    del first["rep_id"]
    again = close_date_pushes(ds)
    assert list(zip(again["opportunity_id"], again["days"])) == PUSHES and "rep_id" in again
    assert len(made) == 1


def test_an_analysts_dataset_is_read_again_after_an_edit(ds, monkeypatch):
    made = _counted(monkeypatch, "_history_moves")
    assert not ds.snapshot
    assert close_date_pushes(ds)["days"].tolist() == [p for _, p in PUSHES]
    # the analyst moves O3's last expected close date from 05-31 to 06-30: its push grows by 30 days
    history_rows = ds.opportunity_history
    last = history_rows["opportunity_id"].eq("O3") & history_rows["changed_at"].eq(pd.Timestamp("2025-04-10"))
    history_rows.loc[last, "expected_close_date"] = pd.Timestamp("2025-06-30")
    assert close_date_pushes(ds)["days"].tolist() == [14.0, 14.0, 30.0, 31.0, 91.0]
    assert len(made) == 2


def test_a_segment_of_a_snapshot_keeps_its_own_tables(ds, monkeypatch):
    from salesnb.present.segments import segment

    made = _counted(monkeypatch, "_history_moves")
    ds.snapshot = True
    assert len(close_date_pushes(ds)) == 5
    beta = segment(ds, team="Beta")  # R2's deals only: O3's two pushes
    assert beta.snapshot and list(zip(close_date_pushes(beta)["opportunity_id"], close_date_pushes(beta)["days"])) == [
        ("O3", 31.0),
        ("O3", 61.0),
    ]
    assert len(close_date_pushes(ds)) == 5 and len(made) == 2  # the source's, then the segment's


def test_the_diagnosis_and_the_data_checks_share_their_flags(monkeypatch):
    from pathlib import Path

    import salesnb
    from salesnb.analysis import quality
    from salesnb.analysis.quality import quality_flags

    calls = []
    original = quality.padded_activity

    def counted(*args, **kwargs):
        calls.append(kwargs.get("period"))
        return original(*args, **kwargs)

    monkeypatch.setattr(quality, "padded_activity", counted)
    sample = salesnb.load(Path(__file__).resolve().parent.parent / "data" / "sample")
    sample.snapshot = True
    diagnoses = diagnose(sample, period="2025")
    flags = quality_flags(sample, period="2025")
    assert len(calls) == 1  # made once for the diagnoses and the checks of 2025
    padded = sorted(flags.loc[flags["flag"] == "padded_activity", "rep_id"])
    assert padded == sorted(d["rep_id"] for d in diagnoses if "padded_activity" in d["flags"])
    assert padded == ["R06"]  # the sample's padder (tests/test_sample.py)
    quality_flags(sample, period="2025-Q4")  # another period: its own
    assert len(calls) == 2


def test_a_snapshots_metrics_table_is_made_once_and_each_caller_gets_a_copy(ds, monkeypatch):
    from salesnb.analysis import metrics

    calls = []
    original = metrics.deal_flags

    def counted(deals, period):
        calls.append(period.label)
        return original(deals, period)

    monkeypatch.setattr(metrics, "deal_flags", counted)
    ds.snapshot = True
    first = metrics_table(ds, by="rep", period="2025-Q1")
    first["won"] = 99  # a caller's own copy
    (r1,) = [d for d in diagnose(ds, period="2025-Q1") if d["rep_id"] == "R1"]  # makes no table again
    again = metrics_table(ds, by="rep", period="2025-Q1").set_index("rep_id")
    # Q1: R1 won O1 (03-01), R2 lost O4 (02-05)
    assert again.loc["R1", ["won", "lost"]].tolist() == [1, 0] and again.loc["R2", ["won", "lost"]].tolist() == [0, 1]
    assert r1["closed"] == 1
    assert calls == ["2025-Q1"]
    metrics_table(ds, by="rep", period="2025-Q2")  # another period: its own
    assert calls == ["2025-Q1", "2025-Q2"]
