"""A ``--rep`` batch makes no table over every rep that its pages do not read (issue #16:
``--rep`` on a 10,000-rep source). The data checks, the flags a diagnosis carries, the
queue's forecast bias and the scorecard's visits are made for the batch's reps alone, each
rep's rows the same as among every rep's (each rep's rows describe its own data)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb.analysis import scorecard as scorecard_module
from salesnb.analysis.forecasts import forecast_bias
from salesnb.analysis.periods import parse_period
from salesnb.analysis.quality import advice_records, quality_flags
from salesnb.present import tables
from salesnb.run import memo

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
SPAN = parse_period("2025", as_of="2026-01-05")


@pytest.fixture(scope="module")
def ds():
    return salesnb.load(SAMPLE)


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return list(zip(frame["flag"], frame["rep_id"], frame["rows"]))


def test_data_checks_of_a_few_reps_are_their_rows_of_everyones(ds):
    every = quality_flags(ds, period=SPAN, as_of="2026-01-05")
    assert _rows(every) == [
        ("padded_activity", "R06", 536),
        ("stale_pipeline", "R05", 11),
        ("pushed_close_dates", "R07", 62),
        ("bulk_updates", "R06", 192),
    ]
    few = quality_flags(ds, period=SPAN, as_of="2026-01-05", reps=["R06", "R07"])
    assert _rows(few) == [("padded_activity", "R06", 536), ("pushed_close_dates", "R07", 62), ("bulk_updates", "R06", 192)]
    pd.testing.assert_frame_equal(few, every[every["rep_id"].isin(["R06", "R07"])].reset_index(drop=True))
    assert _rows(quality_flags(ds, period=SPAN, as_of="2026-01-05", reps=["R01"])) == []


def test_the_flags_a_diagnosis_carries_are_made_for_its_reps_alone(ds):
    every = advice_records(ds, period=SPAN, reference=SPAN.end)
    assert [(r["flag"], r["rep_id"]) for r in every] == [("padded_activity", "R06"), ("stale_pipeline", "R05")]
    assert advice_records(ds, period=SPAN, reference=SPAN.end, reps=["R05"]) == [every[1]]
    assert advice_records(ds, period=SPAN, reference=SPAN.end, reps=["R01", "R02"]) == []


def test_forecast_bias_of_a_few_reps(ds):
    every = forecast_bias(ds)
    few = forecast_bias(ds, reps=["R07", "R08"])
    assert list(zip(few["rep_id"], few["bias"])) == [("R07", "over"), ("R08", "under")]
    pd.testing.assert_frame_equal(few, every[every["rep_id"].isin(["R07", "R08"])].reset_index(drop=True))


def test_one_reps_visits_look_up_only_the_customers_it_contacted(ds, monkeypatch):
    seen = []
    lookup = scorecard_module.lookup

    def spy(keys, mapping):
        seen.append(len(mapping))
        return lookup(keys, mapping)

    monkeypatch.setattr(scorecard_module, "lookup", spy)
    mine = scorecard_module._visits(ds, SPAN, {"R03"})
    every = scorecard_module._visits(ds, SPAN, None)
    pd.testing.assert_frame_equal(mine, every.loc[["R03"]], check_index_type=False)
    acts = ds.activities[(ds.activities["rep_id"] == "R03").to_numpy() & SPAN.contains(ds.activities["date"]).to_numpy()]
    contacted = acts["customer_id"].dropna().nunique()
    assert seen == [contacted, ds.customers["customer_id"].nunique()]
    assert contacted < ds.customers["customer_id"].nunique()


def test_a_rep_batch_checks_the_data_of_its_rep_alone(tmp_path):
    from salesnb.run.batch import prepare_batch

    plan = prepare_batch(SAMPLE, period="2025", as_of="2026-01-05", out=tmp_path / "out", reps=["R06"])
    entries = {key[0].__name__: value for key, value in pickle.loads((Path(plan.cache_dir) / memo.FILE).read_bytes())}
    assert entries["batch_reps"] == ("R06",)
    assert _rows(entries["data_checks"]) == [("padded_activity", "R06", 536), ("bulk_updates", "R06", 192)]
    (row,) = plan.header["queue"]
    assert row["rep_id"] == "R06"


def test_outside_a_rep_batch_the_data_checks_are_everyones(ds):
    shown = pickle.loads(pickle.dumps(ds))
    shown.snapshot = True
    memo.clear()
    with memo.installed():
        assert tables.batch_reps_of(shown) is None
        every = tables.batch_table(tables.data_checks, shown, period=SPAN, as_of="2026-01-05")
        assert sorted(set(every["rep_id"])) == ["R05", "R06", "R07"]
        memo.clear()
        tables.only_reps(shown, ["R07"])
        assert tables.batch_reps_of(shown) == ("R07",)
        few = tables.batch_table(tables.data_checks, shown, period=SPAN, as_of="2026-01-05")
        assert _rows(few) == [("pushed_close_dates", "R07", 62)]
    memo.clear()
    assert _rows(tables.data_checks(shown, period=SPAN, as_of="2026-01-05")) == _rows(every)  # no memo: every rep's


def test_the_stage_comparison_finds_the_peers_by_hash(ds, monkeypatch):
    """numpy's isin on object arrays compared every stay's rep with every peer: 2.8 s of a
    rep page at 5,000 peers. Now a set lookup; the same rows."""
    import numpy as np

    from salesnb.analysis import history

    peers = ["R03", "R05", "R07", "R09", "R11"]
    groups = history.stage_groups(history.stage_figures(ds, period=SPAN))
    before = history.stage_comparison(ds, "R01", peers, period=SPAN)

    isin = np.isin

    def refuse(values, *args, **kwargs):
        if np.asarray(values).dtype == object:
            raise AssertionError("np.isin over object ids")
        return isin(values, *args, **kwargs)

    monkeypatch.setattr(history.np, "isin", refuse)
    after = history.stage_comparison(ds, "R01", peers, period=SPAN, groups=groups)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(after, before)
    assert after["peers"].max() == 5 and len(after) > 0
