"""Fixtures shared by more than one test file."""

from __future__ import annotations

import json

import pytest


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
