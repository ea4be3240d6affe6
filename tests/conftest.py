"""Fixtures and hooks shared by more than one test file.

The order of the files under pytest-xdist (``make test``: two workers,
``--dist loadfile --no-loadscope-reorder``): the slowest files first, by the
seconds each file took in a single-process run (``tests/durations.json``), so
that no long file starts last and keeps one worker busy while the other idles.
A file not listed there goes after the listed ones, in collection order. Within
a file the order stays as written. ``pytest -p no:xdist --store-durations ...``
writes the seconds of the files it ran into ``tests/durations.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from file_order import file_of, slowest_files_first

DURATIONS = Path(__file__).with_name("durations.json")


def pytest_addoption(parser):
    parser.addoption(
        "--store-durations",
        action="store_true",
        help="write each test file's seconds (setup, call and teardown) into tests/durations.json",
    )


def pytest_collection_modifyitems(config, items):
    # only in an xdist worker: the order it collects in is the order the controller hands out files
    if hasattr(config, "workerinput") and DURATIONS.is_file():
        slowest_files_first(items, json.loads(DURATIONS.read_text(encoding="utf-8")))


class _Timer:
    def __init__(self):
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report):
        self.seconds[file_of(report.nodeid)] = self.seconds.get(file_of(report.nodeid), 0.0) + report.duration

    def pytest_sessionfinish(self, session):
        stored = json.loads(DURATIONS.read_text(encoding="utf-8")) if DURATIONS.is_file() else {}
        stored.update({name: round(value, 1) for name, value in self.seconds.items()})
        DURATIONS.write_text(json.dumps(dict(sorted(stored.items())), indent=1) + "\n", encoding="utf-8")


def pytest_configure(config):
    if config.getoption("--store-durations") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Timer(), "salesnb-durations")


@pytest.fixture
def fault_log(record_property):
    """Every fault injected by a test (test_faults*.py), printed at the end of the test and recorded for the junit report."""
    from faults import SEED

    log: list[dict] = []
    yield log
    record_property("faults", json.dumps(log))
    print(f"\n{len(log)} faults injected (seed {SEED}):")
    for number, fault in enumerate(log, 1):
        print(f"  {number}. {json.dumps(fault, sort_keys=True)}")
