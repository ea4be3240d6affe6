"""A large folder's biggest tables are read and checked by a forked child while the loader
does the rest (salesnb.io.parallel_read; issue #16, the load on both cores): the Dataset is
the one a load in one process gives, a child's failure leaves its tables to the parent with
today's errors, and no child outlives the load. The threshold is lowered to load small sources
both ways."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pandas as pd
import pytest

import salesnb
from salesnb.errors import DataError
from salesnb.io import loading, parallel_read

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture
def source(tmp_path) -> Path:
    """The sample with activities the largest file, and bad rows in it: an unknown
    customer (a reference: found by the parent after the child) and a bad date."""
    folder = tmp_path / "source"
    shutil.copytree(SAMPLE, folder)
    with (folder / "activities.csv").open("a", encoding="utf-8") as out:
        out.write("A9000001,R01,2024-02-30,call,C00001,\n")  # no such day
        out.write("A9000002,R01,2024-03-01,call,NOBODY,\n")  # no such customer
        for i in range(3000):  # activities: the largest file, the child's
            out.write(f"A91{i:05d},R01,2024-03-01,call,C00002,\n")
    return folder


@pytest.fixture
def children(monkeypatch):
    """The children the loader started: [(pid, tables, delivered)]."""
    started = []
    original_start, original_result = loading._start_child, parallel_read.Child.result

    def start_child(src, table_map):
        child = original_start(src, table_map)
        if child is not None:
            started.append([child.forked.pid, child.tables, None])
        return child

    def result(self, timeout):
        found = original_result(self, timeout)
        for entry in started:
            if entry[2] is None:
                entry[2] = found is not parallel_read.FAILED
        return found

    monkeypatch.setattr(loading, "_start_child", start_child)
    monkeypatch.setattr(parallel_read.Child, "result", result)
    return started


def _plain(folder, **kwargs):
    """The load in one process (the threshold out of reach)."""
    saved = parallel_read.MIN_BYTES
    parallel_read.MIN_BYTES = 1 << 62
    try:
        return salesnb.load(folder, **kwargs)
    finally:
        parallel_read.MIN_BYTES = saved


def _assert_same(a, b) -> None:
    assert list(a.tables) == list(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True, check_categorical=True)
        for column in a.tables[name].select_dtypes("category"):
            assert list(a.tables[name][column].cat.categories) == list(b.tables[name][column].cat.categories)
    pd.testing.assert_frame_equal(a.quarantine, b.quarantine, check_exact=True)
    assert a.problems == b.problems
    assert (a.files, a.left_out, a.unread, a.inputs, a.notes, a.fingerprint) == (
        b.files,
        b.left_out,
        b.unread,
        b.inputs,
        b.notes,
        b.fingerprint,
    )


def _gone(pid: int) -> bool:
    """The child was reaped: it is no child of this process any more (no zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_a_large_source_loads_the_same_with_a_child(source, children, monkeypatch):
    monkeypatch.setattr(parallel_read, "MIN_BYTES", 0)
    plain = _plain(source)
    first = salesnb.load(source)  # Arrow's thread pool used by this process before the next fork
    second = salesnb.load(source)
    assert [(tables, delivered) for _, tables, delivered in children] == [
        (("reps", "activities", "training", "forecasts"), True),
        (("reps", "activities", "training", "forecasts"), True),
    ]
    assert all(_gone(pid) for pid, _, _ in children)
    _assert_same(first, plain)
    _assert_same(second, plain)
    quarantined = first.quarantine[first.quarantine.table == "activities"]
    assert [int(line) for line in quarantined.line] == [7351]  # the sample's 7,349 rows, then ours: the bad date
    found = [(p.line, p.column, p.value, p.flag) for p in first.problems if p.table == "activities"]
    assert found == [(7351, "date", "2024-02-30", "bad_value"), (7352, "customer_id", "NOBODY", "dangling_reference")]
    assert len(first.tables["activities"]) == 7349 + 2 + 3000 - 1


@pytest.mark.parametrize("how", ["raises", "killed"])
def test_a_failed_child_leaves_its_tables_to_the_parent(source, children, monkeypatch, how):
    def fail(fd, value):
        if how == "killed":
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError("no pickle today")

    monkeypatch.setattr(parallel_read, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel_read, "_write", fail)  # the child alone writes
    dataset = salesnb.load(source)
    assert [delivered for _, _, delivered in children] == [False]
    assert _gone(children[0][0])
    _assert_same(dataset, _plain(source))


def test_an_error_in_a_childs_table_is_raised_as_without_one(source, children, monkeypatch):
    header = (source / "activities.csv").read_text(encoding="utf-8").split("\n", 1)
    (source / "activities.csv").write_text("activity_id,rep_id,date,date,type,customer_id\n" + header[1], encoding="utf-8")
    monkeypatch.setattr(parallel_read, "MIN_BYTES", 0)
    with pytest.raises(DataError) as plain:
        _plain(source)
    with pytest.raises(DataError) as forked:
        salesnb.load(source)
    assert str(forked.value) == str(plain.value)
    assert "the header names column 'date' 2 times" in str(forked.value)
    assert [delivered for _, _, delivered in children] == [False]
    assert _gone(children[0][0])


def test_errors_in_both_processes_come_in_todays_order(source, children, monkeypatch):
    """The parent's opportunities lack a column (found when checking); the child's activities
    have a header naming a column twice (found when reading, which comes first for every table)."""
    (source / "opportunities.csv").write_text("opportunity_id,created_date,status\nO1,2024-01-02,open\n", encoding="utf-8")
    body = (source / "activities.csv").read_text(encoding="utf-8").split("\n", 1)[1]
    (source / "activities.csv").write_text("activity_id,rep_id,date,date,type,customer_id\n" + body, encoding="utf-8")
    monkeypatch.setattr(parallel_read, "MIN_BYTES", 0)
    with pytest.raises(DataError) as plain:
        _plain(source)
    with pytest.raises(DataError) as forked:
        salesnb.load(source)
    assert str(forked.value) == str(plain.value)
    assert "activities.csv, line 1: the header names column 'date' 2 times" in str(forked.value)
    assert "opportunities" not in str(forked.value)
    assert [delivered for _, _, delivered in children] == [False]


def test_a_parents_error_with_a_child_that_did_its_part(source, children, monkeypatch):
    (source / "opportunities.csv").write_text("opportunity_id,created_date,status\nO1,2024-01-02,open\n", encoding="utf-8")
    monkeypatch.setattr(parallel_read, "MIN_BYTES", 0)
    with pytest.raises(DataError) as plain:
        _plain(source)
    with pytest.raises(DataError) as forked:
        salesnb.load(source)
    assert str(forked.value) == str(plain.value)
    assert "required column 'rep_id' of table opportunities is missing" in str(forked.value)
    assert [delivered for _, _, delivered in children] == [True]
    assert _gone(children[0][0])


def test_a_source_below_the_threshold_never_forks(source, children, monkeypatch):
    assert sum(p.stat().st_size for p in source.iterdir()) < parallel_read.MIN_BYTES

    def no_fork():
        raise AssertionError("forked")

    monkeypatch.setattr(os, "fork", no_fork)
    dataset = salesnb.load(source)
    assert children == []
    assert len(dataset.tables["activities"]) == 7349 + 2 + 3000 - 1


def test_the_childs_result_comes_back_through_its_memory_file():
    frame = pd.DataFrame({"id": pd.Series(["a", "b", None], dtype="str"), "n": [1.5, 2.5, 3.5]})
    child = parallel_read.start(lambda: {"frame": frame, "text": "x" * 100})
    pid = child.pid
    found = child.result(timeout=30)
    pd.testing.assert_frame_equal(found["frame"], frame, check_exact=True)
    assert found["text"] == "x" * 100
    found["frame"].loc[0, "n"] = 9.0  # the mapped buffers are the parent's own (copy on write)
    assert _gone(pid) and frame.loc[0, "n"] == 1.5


def test_the_child_runs_none_of_the_parents_signal_handlers(tmp_path):
    ran = tmp_path / "handler ran"

    def handler(signum, frame):  # a batch's stop handler, say: not the child's business
        ran.write_text(str(os.getpid()))

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        child = parallel_read.start(lambda: os.kill(os.getpid(), signal.SIGTERM) or "answered")
        assert child.result(timeout=30) is parallel_read.FAILED  # ended by the signal, as a plain process is
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not ran.exists()
