"""A ``--rep`` batch's runner shares its tables with a second process (issue #16, session 11):
a forked child stores the data for the reports and makes the every-rep table the pages read
their peers' trends off (the trend grid: quarterly metrics) while the runner diagnoses the
batch's reps; the runner waits for them where it would make them
(:func:`salesnb.run.memo.made_aside`), and makes them itself if the child failed."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import salesnb
from salesnb.analysis import metrics
from salesnb.analysis.periods import parse_period
from salesnb.run import cache, memo, prepare
from salesnb.run.batch import prepare_batch

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
SPAN = parse_period("2025", as_of="2026-01-05")


def _double(ds, *, n):
    return 2 * n


def _triple(ds, *, n):
    return 3 * n


@pytest.fixture(scope="module")
def shown():
    ds = salesnb.load(SAMPLE)
    ds.snapshot = True  # a batch's snapshot: the memo keeps its tables
    return ds


@pytest.fixture
def quarters_here(monkeypatch):
    """The processes that laid out the quarters of the quarterly metrics (the trend grid's), as this process sees them."""
    seen: list[int] = []
    between = metrics.periods_between

    def spy(*args, **kwargs):
        seen.append(os.getpid())
        return between(*args, **kwargs)

    monkeypatch.setattr(metrics, "periods_between", spy)
    return seen


def _memo_entries(plan) -> dict:
    return {key[0].__name__: value for key, value in pickle.loads((Path(plan.cache_dir) / memo.FILE).read_bytes())}


def _trace(path: Path) -> dict[str, int]:
    events = {}
    for line in path.read_text().splitlines():
        _, pid, event = line.split(" ", 2)
        events.setdefault(event, int(pid))
    return events


def test_a_miss_waits_for_the_tables_made_aside_once(shown):
    fetched = []

    def fetch():
        fetched.append(1)
        memo.remember(_double, shown, 42, n=1)  # what the other process made (not 2: not made here)

    memo.clear()
    memo.made_aside((_double, _triple), fetch)
    assert memo.call(_double, shown, n=1) == 42
    assert memo.call(_triple, shown, n=5) == 15  # not among what was fetched: made here, no second fetch
    assert memo.call(_double, shown, n=2) == 4
    assert fetched == [1]
    memo.clear()
    memo.made_aside((_double,), fetch)
    memo.clear()  # forgets what was made aside too
    assert memo.call(_double, shown, n=1) == 2
    assert fetched == [1]
    memo.clear()


def test_a_rep_batch_makes_the_peers_tables_and_stores_the_data_in_a_child(tmp_path, monkeypatch, quarters_here):
    monkeypatch.setenv("SALESNB_TRACE", str(tmp_path / "trace"))
    plan = prepare_batch(SAMPLE, period="2025", as_of="2026-01-05", out=tmp_path / "out", reps=["R06"])
    events = _trace(tmp_path / "trace")
    assert events["queue"] == os.getpid()
    assert events["stored aside"] == events["peer tables aside"] != os.getpid()
    assert quarters_here == []  # the runner made no quarterly metrics: the child did
    entries = _memo_entries(plan)
    assert {"trend_grid", "value_table", "stage_table", "peer_table"} <= set(entries)
    assert not {"metrics_over_time", "stage_figures", "value_cost"} & set(entries)  # what they are made of: no page reads it
    assert sorted(p.name for p in Path(plan.cache_dir).iterdir()) == [
        cache.key(SAMPLE) + ".dataset.pickle",
        memo.FILE,
    ]  # the child's file merged and gone
    grid = entries["trend_grid"]
    assert list(grid["reps"]) == [f"R{i:02d}" for i in range(1, 13)]
    assert list(grid["quarters"]) == ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    assert grid["values"]["opportunities"][5].tolist() == [13, 17, 15, 14, 18, 18, 18, 9]  # R06's, as made in one process
    assert np.isclose(
        entries["value_table"]["ratio"][list(entries["value_table"]["ids"]).index("R06")],
        salesnb.analysis.value.value_cost(salesnb.load(SAMPLE), period=SPAN).set_index("rep_id").loc["R06", "value_cost_ratio"],
    )
    (row,) = plan.header["queue"]
    assert row["rep_id"] == "R06"


def test_a_child_that_fails_leaves_the_data_and_tables_to_the_runner(tmp_path, monkeypatch, quarters_here):
    def fails(*args, **kwargs):
        raise OSError("no room")

    monkeypatch.setattr(prepare, "_data_and_peer_tables", fails)
    plan = prepare_batch(SAMPLE, period="2025", as_of="2026-01-05", out=tmp_path / "out", reps=["R06"])
    assert quarters_here == [os.getpid()]  # made here after all
    entries = _memo_entries(plan)
    assert entries["trend_grid"]["values"]["opportunities"][5].tolist() == [13, 17, 15, 14, 18, 18, 18, 9]
    assert (Path(plan.cache_dir) / (cache.key(SAMPLE) + ".dataset.pickle")).is_file()
    assert not (Path(plan.cache_dir) / prepare.ASIDE_FILE).exists()


def test_a_batch_of_more_than_named_reps_makes_its_tables_here_and_stores_the_data_in_a_child(
    tmp_path, monkeypatch, quarters_here
):
    monkeypatch.setenv("SALESNB_TRACE", str(tmp_path / "trace"))
    plan = prepare_batch(SAMPLE, period="2025", as_of="2026-01-05", out=tmp_path / "out", reps=["R06"], teams=["Alpha"])
    assert quarters_here == [os.getpid()]
    assert "stage_table" in _memo_entries(plan)
    events = _trace(tmp_path / "trace")
    assert "peer tables aside" not in events
    assert events["stored aside"] != os.getpid()


def test_a_batch_that_stops_ends_its_child_at_once(tmp_path, monkeypatch):
    import time

    started = tmp_path / "child"

    def slow(store):
        started.write_text(str(os.getpid()))
        time.sleep(60)

    def stopped(*args, **kwargs):
        while not started.exists() and time.monotonic() - begun < 10:  # the child is at work
            time.sleep(0.01)
        raise KeyboardInterrupt

    monkeypatch.setattr(prepare, "_store_data", slow)
    monkeypatch.setattr(prepare, "batch_tables", stopped)
    begun = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        prepare_batch(SAMPLE, period="2025", as_of="2026-01-05", out=tmp_path / "out", reps=["R06"])
    assert time.monotonic() - begun < 20  # not the child's 60 s
    child = int(started.read_text())
    assert child != os.getpid()
    with pytest.raises(ChildProcessError):
        os.waitpid(child, os.WNOHANG)  # reaped: no zombie left behind
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # and gone
