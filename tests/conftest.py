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
import sys
from pathlib import Path

import pytest
from file_order import file_of, slowest_files_first

from salesnb.slow_imports import SKIPPED


def _import_nbformat_skipping_slow_imports() -> None:
    """Import nbformat (so jsonschema) as salesnb's own processes do, without what they skip
    (salesnb/slow_imports.py): the helpers (batches.py, faults.py) import it at collection, and
    jsonschema would compile rfc3987_syntax's grammars, 1.3 s of CPU in each xdist worker. The
    skipped modules are findable again afterwards (tests/test_slow_imports.py looks for them)."""
    if "nbformat" in sys.modules:
        return
    hidden = [name for name in SKIPPED if name not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))  # None: the import system's "not installed"
    try:
        import nbformat  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


_import_nbformat_skipping_slow_imports()
# pytest keeps each test module's assertion-rewritten bytecode in tests/__pycache__ (git-ignored),
# but not when PYTHONDONTWRITEBYTECODE is set (as on this project's machines): then every worker
# parses and rewrites every test module again at each run, about 2 s of CPU in each worker. The test
# processes write bytecode whatever the environment says; the processes they start follow it.
sys.dont_write_bytecode = False

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
