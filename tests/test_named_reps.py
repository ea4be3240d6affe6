"""A batch of named reps (`--rep R03 --rep R05 --rep R07`): the runner diagnoses them
together once per period (for the queue), and each rep's page reads its own diagnosis
from that, instead of diagnosing again (a rep page spent 0.14 s of its 1 s there)."""

import pickle
from pathlib import Path

import pytest

from salesnb.analysis import diagnosis
from salesnb.io.loading import load
from salesnb.present import tables
from salesnb.run import memo
from salesnb.run.batch import prepare_batch

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
NAMED = ["R03", "R05", "R07"]


@pytest.fixture()
def named_batch(tmp_path):
    plan = prepare_batch(SAMPLE, period="2025-Q4", as_of="2026-01-05", out=tmp_path / "out", reps=NAMED)
    yield plan
    memo.clear()


def test_the_runner_keeps_each_named_reps_diagnosis_once_per_period(named_batch):
    entries = pickle.loads((Path(named_batch.cache_dir) / memo.FILE).read_bytes())
    diagnosed = [(dict(key[-1]).get("reps"), len(value)) for key, value in entries if key[0].__name__ == "rep_diagnoses"]
    assert diagnosed == [(("tuple", "('R03', 'R05', 'R07')"), 3)] * 2  # 2025-Q4 and 2025-Q3: the three together, once
    known = [sorted(value) for key, value in entries if key[0].__name__ == "diagnosed_reps"]
    assert known == [NAMED, NAMED]


def test_a_named_reps_page_reads_its_diagnosis_and_it_is_the_one_it_would_make(named_batch, monkeypatch):
    dataset = load(SAMPLE)
    alone = diagnosis.diagnose(load(SAMPLE), period=_span(), as_of="2026-01-05", reps=("R05",))
    assert memo.load(named_batch.cache_dir) > 0
    dataset.snapshot = True
    dataset.fingerprint = named_batch.header["data_fingerprint"]
    calls = []
    monkeypatch.setattr(diagnosis, "diagnose", lambda *a, **k: calls.append(k) or [])
    with memo.installed():
        read = tables.diagnoses_of(dataset, ["R05"], period=_span(), as_of="2026-01-05")
        both = tables.diagnoses_of(dataset, ["R07", "R03"], period=_span(), as_of="2026-01-05")
    assert calls == []  # nothing diagnosed again
    assert read == alone and [d["rep_id"] for d in both] == ["R03", "R07"]


def _span():
    from salesnb.analysis.periods import parse_period

    return parse_period("2025-Q4", as_of="2026-01-05")


def test_a_batchs_only_rep_report_asks_for_no_warm_up_and_two_do(tmp_path):
    """The template's warm-up draws a rep report's charts for the forks that follow it:
    the only rep report of a batch (`--rep R05`) does not ask for it; each of two does."""
    import json

    from salesnb.run.execute import report_environment
    from salesnb.run.prepare import BatchPlan

    one = prepare_batch(SAMPLE, period="2025-Q4", as_of="2026-01-05", out=tmp_path / "one", reps=["R05"])
    (job,) = one.to_run
    assert job.warm_up is False and "rep_id" not in json.loads(report_environment(job)["SALESNB_PREWARM"])
    assert [j.warm_up for j in one.jobs] == [False]  # the plan lists it as it runs
    assert BatchPlan.from_dict(json.loads(json.dumps(one.to_dict()))).to_run[0].warm_up is False  # a scheduler's copy too
    two = prepare_batch(SAMPLE, period="2025-Q4", as_of="2026-01-05", out=tmp_path / "two", reps=["R05", "R07"])
    assert [j.warm_up for j in two.to_run] == [True, True]
    assert [json.loads(report_environment(j)["SALESNB_PREWARM"])["rep_id"] for j in two.to_run] == ["R05", "R07"]
    memo.clear()
