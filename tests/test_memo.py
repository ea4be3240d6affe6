"""The batch-table memo: computed once per fingerprint, never shared mutably."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from salesnb.io.dataset import Dataset
from salesnb.run import memo


def _dataset(fingerprint: str, source: str = "src", rows: int = 2, snapshot: bool = True) -> Dataset:
    reps = pd.DataFrame({"rep_id": [f"R{i}" for i in range(rows)]})
    return Dataset(tables={"reps": reps}, source=source, fingerprint=fingerprint, snapshot=snapshot)


def test_computed_once_per_fingerprint_and_arguments():
    memo.clear()
    calls = []

    def table(ds, *, period):
        calls.append(period)
        return pd.DataFrame({"rows": [len(ds.reps)], "period": [period]})

    first = memo.call(table, _dataset("abc"), period="2025")
    again = memo.call(table, _dataset("abc"), period="2025")  # a new object, same data
    other = memo.call(table, _dataset("abc"), period="2024")
    assert calls == ["2025", "2024"]
    pd.testing.assert_frame_equal(first, again)
    assert other["period"].tolist() == ["2024"]


def test_callers_get_copies_they_may_change():
    memo.clear()

    def table(ds):
        return pd.DataFrame({"value": [1.0, 2.0]})

    mine = memo.call(table, _dataset("abc"))
    mine.loc[0, "value"] = 99.0
    assert memo.call(table, _dataset("abc"))["value"].tolist() == [1.0, 2.0]


def test_no_fingerprint_or_other_source_is_not_shared():
    memo.clear()
    calls = []

    def table(ds):
        calls.append(ds.source)
        return pd.DataFrame({"rows": [len(ds.reps)]})

    memo.call(table, _dataset(""))
    memo.call(table, _dataset(""))  # built from frames: never memoised
    memo.call(table, _dataset("abc", source="all"))
    segment = memo.call(table, _dataset("abc", source="all [territory=North]", rows=1))
    assert calls == ["src", "src", "all", "all [territory=North]"]
    assert segment["rows"].tolist() == [1]


def test_a_dataset_loaded_in_a_notebook_is_never_answered_from_the_memo(tmp_path, monkeypatch):
    """An analyst's dataset may be edited in place: a rep report after the edit
    shows the edited figures, not tables computed before it. A batch's
    snapshot (what a report loads from the batch cache) is memoised."""
    import salesnb
    from salesnb.present import pages
    from salesnb.run import cache

    sample = Path(__file__).resolve().parent.parent / "data" / "sample"
    memo.clear()
    ds = salesnb.load(sample)
    assert ds.fingerprint and not ds.snapshot
    before = pages.rep_report(ds, "R01", period="2025", as_of="2026-01-05").figures["revenue_won"]
    opps = ds.opportunities
    won = (opps["rep_id"] == "R01") & (opps["status"] == "won") & (opps["closed_date"].dt.year == 2025)
    opps.loc[opps.index[won][0], "amount"] += 1000.0  # same rows, new content
    after = pages.rep_report(ds, "R01", period="2025", as_of="2026-01-05").figures["revenue_won"]
    assert after == pytest.approx(before + 1000.0)

    cache.store(salesnb.load(sample), tmp_path / "cache", source=str(sample))
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    calls = []

    def table(ds):
        calls.append(1)
        return pd.DataFrame({"rows": [len(ds.opportunities)]})

    for _ in range(2):
        snapshot = salesnb.load(sample)
        assert snapshot.snapshot
        memo.call(table, snapshot)
    assert calls == [1]


def _counted_table(ds, *, period):
    _COUNTED.append(period)
    return pd.DataFrame({"rows": [len(ds.reps)], "period": [period]})


_COUNTED: list = []


def test_tables_saved_by_the_runner_are_what_a_template_starts_with(tmp_path):
    """The batch computes its tables once and saves them beside its data; a
    report template loads them and computes nothing again. Another batch's
    tables (another fingerprint) are not saved with them."""
    memo.clear()
    _COUNTED.clear()
    memo.call(_counted_table, _dataset("abc"), period="2025")
    memo.call(_counted_table, _dataset("other"), period="2025")
    assert memo.save(tmp_path, "abc") == 1
    memo.clear()
    assert memo.load(tmp_path) == 1
    again = memo.call(_counted_table, _dataset("abc"), period="2025")  # answered from the saved table
    assert _COUNTED == ["2025", "2025"] and again["rows"].tolist() == [2]
    memo.call(_counted_table, _dataset("other"), period="2025")  # not saved: computed
    assert _COUNTED == ["2025", "2025", "2025"]
    (tmp_path / memo.FILE).write_bytes(b"not a pickle")
    assert memo.load(tmp_path) == 0 and not memo._MEMO  # unreadable: nothing, the reports compute


def test_a_batch_saves_every_table_its_rep_reports_share(tmp_path):
    """prepare_batch (what `report` runs before any report) leaves the queue's
    and the rep pages' tables in the batch's cache, keyed as the reports ask."""
    import pickle

    from salesnb.run.batch import prepare_batch

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    plan = prepare_batch(sample, period="2025", as_of="2026-01-05", out=tmp_path / "out", reps=["R01"])
    entries = pickle.loads((Path(plan.cache_dir) / memo.FILE).read_bytes())
    names = sorted({key[0].__name__ for key, _ in entries})
    assert names == [
        "batch_reps",  # a --rep batch: its pages are R01's alone (the data checks made for R01)
        "data_checks",
        "diagnosed_reps",  # R01's own diagnosis, this period's and the last, read by its page
        "forecast_accuracy",
        "metrics_table",
        "peer_table",  # every rep's paced metrics and factor peer figures, for every rep page
        "rep_diagnoses",
        "rep_roster",  # the reps by id and folded team, for every rep page
        "scorecard",
        "stage_table",  # the stage figures split by figure and stage, for every rep page
        "trend_grid",  # the quarterly metrics as rep x quarter arrays, for every rep page
        "value_table",  # value against cost as arrays, for every rep page
    ]  # made in the runner's child (a --rep batch): the peers' tables without what they were made of
    assert {key[1] for key, _ in entries} == {plan.header["data_fingerprint"]}
    asked = [dict(key[-1]).get("as_of") for key, _ in entries if key[0].__name__ == "rep_diagnoses"]
    assert asked == [("str", "2026-01-05")] * 2  # this period and the one before (since last time)
    assert not memo._MEMO  # the runner keeps none of them itself
