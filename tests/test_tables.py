"""The pages' seam for batch-wide tables (salesnb.present.tables): plain calls
unless the runner installs its memo, and the same pages either way."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb.present import pages
from salesnb.present.tables import batch_table, use_memo
from salesnb.run import memo

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


@pytest.fixture(scope="module")
def snapshot():
    """The sample as a batch's report loads it: a snapshot with a fingerprint, which the memo would share."""
    ds = dataclasses.replace(salesnb.load(SAMPLE), snapshot=True)
    assert ds.fingerprint
    return ds


@pytest.fixture
def no_memo():
    previous = use_memo(None)
    memo.clear()
    yield
    use_memo(previous)
    memo.clear()


def test_without_a_memo_every_table_is_computed(snapshot, no_memo):
    """A notebook run by hand: no provider installed, so each call computes, even on a batch's snapshot."""
    calls = []

    def table(ds, *, period):
        calls.append(period)
        return pd.DataFrame({"rows": [len(ds.reps)], "period": [period]})

    first = batch_table(table, snapshot, period="2025")
    again = batch_table(table, dataclasses.replace(snapshot), period="2025")
    assert calls == ["2025", "2025"]
    pd.testing.assert_frame_equal(first, again)


def test_with_the_memo_installed_a_snapshot_table_is_computed_once(snapshot, no_memo):
    calls = []

    def table(ds):
        calls.append(1)
        return pd.DataFrame({"rows": [len(ds.reps)]})

    with memo.installed():
        batch_table(table, snapshot)
        batch_table(table, dataclasses.replace(snapshot))
    assert calls == [1]
    batch_table(table, snapshot)  # removed again: computed
    assert calls == [1, 1]


def _same(mine, theirs, where="report"):
    """Equal, frames by pandas' own test, NaN equal to NaN."""
    if isinstance(mine, pd.DataFrame | pd.Series):
        assert type(theirs) is type(mine), where
        (pd.testing.assert_frame_equal if isinstance(mine, pd.DataFrame) else pd.testing.assert_series_equal)(mine, theirs)
        assert mine.attrs == theirs.attrs, where
    elif dataclasses.is_dataclass(mine) and not isinstance(mine, type):
        for f in dataclasses.fields(mine):
            _same(getattr(mine, f.name), getattr(theirs, f.name), f"{where}.{f.name}")
    elif isinstance(mine, dict):
        assert list(mine) == list(theirs), where
        for key in mine:
            _same(mine[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(mine, list | tuple):
        assert len(mine) == len(theirs), where
        for i, (a, b) in enumerate(zip(mine, theirs)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(mine, float) and math.isnan(mine):
        assert isinstance(theirs, float) and math.isnan(theirs), where
    else:
        assert mine == theirs, where


@pytest.mark.parametrize(
    "page",
    [
        lambda ds: pages.rep_report(ds, "R01", period="2025", as_of="2026-01-05"),
        lambda ds: pages.team_report(ds, period="2025", as_of="2026-01-05"),
        lambda ds: pages.quality_report(ds, period="2025", as_of="2026-01-05"),
    ],
    ids=["rep", "team", "quality"],
)
def test_pages_are_the_same_with_and_without_the_memo(snapshot, no_memo, page):
    plain = page(snapshot)
    with memo.installed():
        filled = page(dataclasses.replace(snapshot))  # computes and keeps the batch-wide tables
        answered = page(dataclasses.replace(snapshot))  # from the memo
    assert memo._MEMO  # the memo was used
    _same(filled, plain)
    _same(answered, plain)


def test_under_the_memo_a_rep_report_makes_each_periods_metrics_table_once(snapshot, no_memo, monkeypatch):
    """The page's figures, the diagnosis (2025, and 2024 for "since last time") and the
    data checks' small samples rest on one metrics table by rep per period, not one each.
    (The scorecard's own table, without as_of, is bound at its import: not counted here.)"""
    import salesnb.analysis.scorecard  # noqa: F401 - imported before the patch, whatever ran first
    from salesnb.analysis import metrics

    made = []
    real = metrics.metrics_table

    def counted(ds, *, by="rep", period=None, as_of=None):
        made.append((by, getattr(period, "label", period)))
        return real(ds, by=by, period=period, as_of=as_of)

    monkeypatch.setattr(metrics, "metrics_table", counted)
    with memo.installed():
        report = pages.rep_report(snapshot, "R01", period="2025", as_of="2026-01-05")
    assert sorted(made) == [("rep", "2024"), ("rep", "2025")]
    assert report.diagnosis["rep_id"] == "R01" and report.period.label == "2025"


def test_under_the_memo_the_stage_stays_are_worked_out_once_for_every_rep(snapshot, no_memo, monkeypatch):
    """Each rep page compares the rep's stages with the peers': the stays of every deal are
    worked out once a batch (history.stage_figures, a batch table, beside the diagnoses),
    so a second rep's page works out none."""
    from salesnb.analysis import history

    worked = []
    real = history._entries  # every deal's stage entries, what the stays are worked out from
    monkeypatch.setattr(history, "_entries", lambda ds: worked.append(1) or real(ds))
    plain = pages.rep_report(snapshot, "R02", period="2025", as_of="2026-01-05").stages
    worked.clear()
    with memo.installed():
        first = pages.rep_report(snapshot, "R01", period="2025", as_of="2026-01-05").stages
        batch_wide = len(worked)
        second = pages.rep_report(dataclasses.replace(snapshot), "R02", period="2025", as_of="2026-01-05").stages
    assert batch_wide > 0 and len(worked) == batch_wide
    assert list(first["stage"]) == list(second["stage"]) and len(first) > 0
    _same(second, plain)


def test_under_the_memo_a_rep_page_diagnoses_nobody_again(snapshot, no_memo, monkeypatch):
    """The peer figures a page protects are the diagnosis's own: a page reads each factor's
    benchmark (team or all reps) off the batch's diagnosis, and diagnoses no rep itself
    once the runner has diagnosed every rep (its queue, as in a batch of every rep)."""
    from salesnb.analysis import diagnosis
    from salesnb.present.queue import queue_for

    judged = []
    real = diagnosis.diagnose_table
    monkeypatch.setattr(diagnosis, "diagnose_table", lambda *a, **k: judged.append(k.get("only")) or real(*a, **k))
    with memo.installed():
        queue_for(snapshot, period="2025", as_of="2026-01-05")  # what the runner does first
        batch_wide = list(judged)
        pages.rep_report(snapshot, "R01", period="2025", as_of="2026-01-05")
        page = pages.rep_report(dataclasses.replace(snapshot), "R02", period="2025", as_of="2026-01-05")
    assert batch_wide and all(only is None for only in batch_wide)  # every rep at once: 2025 and 2024
    assert judged == batch_wide
    assert len(page.factors) == 4 and page.factors["peer_median"].notna().any()


def test_one_reps_diagnosis_is_the_one_it_gets_among_all():
    """diagnoses_of (a --rep batch, a rep page without the batch's tables) diagnoses
    only the reps asked for: each diagnosis equals, to the word, the one the rep
    gets when every rep is diagnosed, this period and the one before."""
    import salesnb
    from salesnb.present.progress import previous_diagnoses
    from salesnb.present.tables import diagnoses_of, rep_diagnoses

    ds = salesnb.load(Path(__file__).resolve().parents[1] / "data" / "sample")
    everyone = {d["rep_id"]: d for d in rep_diagnoses(ds, period="2025-Q4", as_of="2026-01-05")}
    before = {d["rep_id"]: d for d in previous_diagnoses(ds, period="2025-Q4", as_of="2026-01-05")}
    assert len(everyone) == len(before) == 12
    for rep_id in ("R03", "R05", "R09", "R12"):
        (alone,) = diagnoses_of(ds, [rep_id], period="2025-Q4", as_of="2026-01-05")
        assert alone == everyone[rep_id]
        (earlier,) = previous_diagnoses(ds, period="2025-Q4", as_of="2026-01-05", reps=[rep_id])
        assert earlier == before[rep_id]
    pair = diagnoses_of(ds, ["R09", "R02"], period="2025-Q4", as_of="2026-01-05")
    assert [d["rep_id"] for d in pair] == ["R02", "R09"] and pair == [everyone["R02"], everyone["R09"]]


def test_a_batch_of_named_reps_diagnoses_them_only_and_its_queue_is_the_full_batchs(tmp_path):
    """`report --rep R05` on the sample: the runner diagnoses R05 (not the 12 reps) for
    the period and the one before, saves that for the template, and R05's queue row
    is the one a batch of every rep gives it."""
    import pickle

    from salesnb.run import memo
    from salesnb.run.batch import prepare_batch

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    one = prepare_batch(sample, period="2025-Q4", as_of="2026-01-05", out=tmp_path / "one", reps=["R05"])
    entries = pickle.loads((Path(one.cache_dir) / memo.FILE).read_bytes())
    diagnosed = [(dict(key[-1]).get("reps"), len(value)) for key, value in entries if key[0].__name__ == "rep_diagnoses"]
    assert diagnosed == [(("tuple", "('R05',)"), 1)] * 2  # 2025-Q4 and 2025-Q3, one rep each
    full = prepare_batch(sample, period="2025-Q4", as_of="2026-01-05", out=tmp_path / "all")
    entries = pickle.loads((Path(full.cache_dir) / memo.FILE).read_bytes())
    diagnosed = [(dict(key[-1]).get("reps"), len(value)) for key, value in entries if key[0].__name__ == "rep_diagnoses"]
    assert diagnosed == [(None, 12)] * 2  # every rep, read by each page
    row = next(r for r in full.header["queue"] if r["rep_id"] == "R05")
    assert one.header["queue"] == [row]


def test_a_rep_page_in_a_period_in_progress_scores_coverage_as_of_its_date():
    """The scorecard is the batch's as of the batch's date, like every other table: a
    2025-Q4 page run on 2025-11-15 measures coverage against the quarter's own quota,
    not the next quarter's (as it would once the quarter is over)."""
    import salesnb
    from salesnb.analysis.scorecard import scorecard

    ds = salesnb.load(Path(__file__).resolve().parents[1] / "data" / "sample")
    page = pages.rep_report(ds, "R01", period="2025-Q4", as_of="2025-11-15")
    row = page.scorecard[page.scorecard["expectation"] == "pipeline_coverage"].iloc[0]
    assert row["note"] == "open pipeline at 2025-12-31 / the quota pro-rated to 2025-Q4"
    card = scorecard(ds, period="2025-Q4", as_of="2025-11-15")
    expected = card[(card["rep_id"] == "R01") & (card["expectation"] == "pipeline_coverage")].iloc[0]
    assert row["actual"] == expected["actual"] and row["target"] == expected["target"]
