"""The suite's file order under xdist (conftest.py, file_order.py): slowest files first."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from file_order import slowest_files_first

TESTS = Path(__file__).resolve().parent


def test_slowest_files_first_keeps_each_files_tests_together_and_in_order():
    ids = ["tests/a.py::t1", "tests/a.py::t2", "tests/b.py::t1", "tests/c.py::t1", "tests/c.py::t2", "tests/d.py::t1"]
    items = [SimpleNamespace(nodeid=i) for i in ids]
    slowest_files_first(items, {"tests/a.py": 2.0, "tests/c.py": 30.5, "tests/d.py": 2.0})
    assert [i.nodeid for i in items] == [
        "tests/c.py::t1",
        "tests/c.py::t2",
        "tests/a.py::t1",  # a and d took as long: a was collected first
        "tests/a.py::t2",
        "tests/d.py::t1",
        "tests/b.py::t1",  # not listed: last
    ]


def test_the_durations_name_existing_test_files():
    seconds = json.loads((TESTS / "durations.json").read_text(encoding="utf-8"))
    assert len(seconds) >= 50 and all(value >= 0 for value in seconds.values())
    for name in seconds:
        assert (TESTS.parent / name).is_file(), f"tests/durations.json names {name}, which is gone: refresh it (see conftest.py)"
