"""The batch-table memo: computed once per fingerprint, never shared mutably."""
from __future__ import annotations

import pandas as pd

from salesnb import memo
from salesnb.dataset import Dataset


def _dataset(fingerprint: str, source: str = "src", rows: int = 2) -> Dataset:
    reps = pd.DataFrame({"rep_id": [f"R{i}" for i in range(rows)]})
    return Dataset(tables={"reps": reps}, source=source, fingerprint=fingerprint)


def test_computed_once_per_fingerprint_and_arguments():
    memo.clear()
    calls = []

    def table(ds, *, period):
        calls.append(period)
        return pd.DataFrame({"rows": [len(ds.reps)], "period": [period]})

    first = memo.call(table, _dataset("abc"), period="2025")
    again = memo.call(table, _dataset("abc"), period="2025")  # a new object, same data
    other = memo.call(table, _dataset("abc"), period="2024")
    assert calls == ["2025", "2024"]
    pd.testing.assert_frame_equal(first, again)
    assert other["period"].tolist() == ["2024"]


def test_callers_get_copies_they_may_change():
    memo.clear()

    def table(ds):
        return pd.DataFrame({"value": [1.0, 2.0]})

    mine = memo.call(table, _dataset("abc"))
    mine.loc[0, "value"] = 99.0
    assert memo.call(table, _dataset("abc"))["value"].tolist() == [1.0, 2.0]


def test_no_fingerprint_or_other_source_is_not_shared():
    memo.clear()
    calls = []

    def table(ds):
        calls.append(ds.source)
        return pd.DataFrame({"rows": [len(ds.reps)]})

    memo.call(table, _dataset(""))
    memo.call(table, _dataset(""))  # built from frames: never memoised
    memo.call(table, _dataset("abc", source="all"))
    segment = memo.call(table, _dataset("abc", source="all [territory=North]", rows=1))
    assert calls == ["src", "src", "all", "all [territory=North]"]
    assert segment["rows"].tolist() == [1]
