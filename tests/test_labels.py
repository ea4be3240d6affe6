"""The label book: one name per factor and group, one format per unit."""

from __future__ import annotations

import pytest

from salesnb.analysis import labels
from salesnb.analysis.diagnosis import FOCUS_VOCABULARY


def test_every_diagnosis_factor_has_one_name():
    assert tuple(labels.FACTOR_NAMES) == FOCUS_VOCABULARY
    assert labels.factor_name("deal_size") == "Deal size"


def test_group_names_are_the_table_headers():
    assert labels.group_name("acquisition_method") == "Acquisition method"
    assert all(labels.HEADERS[g] == name for g, name in labels.GROUP_NAMES.items() if g != "rep")


@pytest.mark.parametrize(
    ("kind", "value", "options", "text"),
    [
        ("pct", -41.3, {}, "-41%"),
        ("pct", -41.3, {"signed": False}, "41%"),  # a gap said in words: "41% fewer"
        ("pct", 0.4, {"signed": False}, "0%"),
        ("currency", 1_250_000, {"compact": True}, "1.2M"),
        ("currency", 35_499, {"compact": True}, "35k"),
        ("currency", 950, {"compact": True}, "950"),
        ("currency", 35_499, {}, "35,499"),
        ("days", 31.0, {}, "31 days"),
        ("share", None, {}, "n/a"),
    ],
)
def test_one_formatter_per_unit(kind, value, options, text):
    assert labels.fmt_unit(kind, value, **options) == text
