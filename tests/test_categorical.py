"""Repeated text as categoricals: the loaded dtypes, the same values as plain
strings, no phantom groups for categories a subset no longer holds, and
the "(unknown)" fill."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import salesnb
from salesnb.analysis import metrics, value
from salesnb.analysis.metrics import UNKNOWN
from salesnb.io.categorical import coalesce, concat_rows, fill_text, from_arrow, map_categories
from salesnb.io.dataset import from_frames
from salesnb.io.schema import TABLES

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def sample():
    return salesnb.load(SAMPLE)


def as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame in the dtypes the loader used to give: every categorical as str."""
    return frame.astype({c: "str" for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})


def test_loaded_id_and_category_columns_are_categoricals_of_the_same_strings(sample):
    for name, frame in sample.tables.items():
        raw = pd.read_csv(SAMPLE / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])
        for col in TABLES[name].columns:
            values = frame[col.name]
            if col.categorical:
                assert isinstance(values.dtype, pd.CategoricalDtype), (name, col.name)
                categories = values.cat.categories
                assert categories.dtype == "str" and list(categories) == sorted(categories) and not values.cat.ordered
                if col.kind == "id" and col.name in raw:  # the same strings, row for row (leading zeros too)
                    assert values.astype("str").tolist() == raw[col.name].str.strip().where(raw[col.name].notna()).tolist()
            elif col.kind in ("id", "text"):
                assert values.dtype == "str", (name, col.name)
    assert sample.activities["activity_id"].dtype == "str"  # a table's own unique ID stays a string
    acts = sample.activities
    assert (acts["rep_id"] == acts["rep_id"].iloc[0]).sum() == (acts["rep_id"].astype("str") == acts["rep_id"].iloc[0]).sum()
    assert acts["type"].isin(["visit"]).sum() == acts["type"].astype("str").eq("visit").sum()


def test_parquet_gives_the_same_categoricals_as_csv(sample, tmp_path):
    for name, frame in sample.tables.items():
        as_strings(frame).to_parquet(tmp_path / f"{name}.parquet", index=False)
    loaded = salesnb.load(tmp_path)
    for name, frame in sample.tables.items():
        pd.testing.assert_frame_equal(loaded.tables[name], frame, obj=name)


def test_a_subset_adds_no_groups_for_the_categories_it_left_out(sample):
    """A segment or a filter keeps the categories of the whole table; a rep
    whose rows were all filtered out must not come back as a row of zeros."""
    opps = sample.opportunities
    gone = opps["rep_id"].iloc[0]
    subset = opps[opps["rep_id"] != gone]
    assert gone in subset["rep_id"].cat.categories  # still a category, no longer observed
    for function in (metrics.opportunity_counts, metrics.revenue, metrics.cycle_days, metrics.pipeline, metrics.win_rate):
        for by in (("rep_id",), ("rep_id", "acquisition_method")):
            ours = function(subset, by=by, period="2025")
            assert gone not in set(ours["rep_id"]), function.__name__
            pd.testing.assert_frame_equal(ours, function(as_strings(subset), by=by, period="2025"), obj=function.__name__)
    acts = sample.activities
    acts_subset = acts[acts["rep_id"] != gone]
    counts = metrics.contact_counts(acts_subset, by="rep_id", period="2025")
    assert gone not in set(counts["rep_id"])
    pd.testing.assert_frame_equal(counts, metrics.contact_counts(as_strings(acts_subset), by="rep_id", period="2025"))


def test_metrics_over_a_period_match_plain_strings(sample):
    """metrics_table and value_cost give the very same frame whether the
    dataset holds categoricals or plain strings."""
    plain = from_frames(**{name: as_strings(frame) for name, frame in sample.tables.items()}, expectations=sample.expectations)
    plain.tables = {name: as_strings(frame) for name, frame in plain.tables.items()}  # from_frames conforms: undo it
    for by in ("rep", "team", "customer_type", "acquisition_method", "market_tier"):
        ours = metrics.metrics_table(sample, by=by, period="2025-Q2")
        theirs = metrics.metrics_table(plain, by=by, period="2025-Q2")
        pd.testing.assert_frame_equal(ours, theirs, obj=by)
        assert ours[metrics.GROUPINGS[by]].dtype == "str"  # per-group outputs keep plain labels


def test_value_fills_unknown_into_a_categorical():
    reps = pd.DataFrame({"rep_id": ["RA"], "name": ["Ann"], "territory": ["North"], "annual_cost": [100.0]})
    deals = pd.DataFrame(
        {
            "opportunity_id": ["O1", "O2"],
            "rep_id": ["RA", "RA"],
            "customer_id": ["C1", "C2"],
            "created_date": pd.Timestamp("2024-01-01"),
            "closed_date": pd.Timestamp("2024-02-01"),
            "status": "won",
            "amount": [30.0, 70.0],
        }
    )
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "customer_type": ["retail", None], "rep_id": ["RA", "RA"]})
    ds = from_frames(reps=reps, opportunities=deals, customers=customers)
    assert isinstance(ds.customers["customer_type"].dtype, pd.CategoricalDtype)
    table = value.value_cost(ds, period="2024", by="customer_type").set_index("customer_type")
    assert table.loc["retail", "clv"] == 30.0 and table.loc[UNKNOWN, "clv"] == 70.0
    assert table.index.dtype == "str"


def test_helpers_keep_categories_sorted_and_values_unchanged():
    chunked = pa.chunked_array([pa.array(["b", None, "a"]), pa.array(["c", "b"])])
    values = from_arrow(chunked)
    assert values.isna().tolist() == [False, True, False, False, False]
    assert values.dropna().tolist() == ["b", "a", "c", "b"] and list(values.cat.categories) == ["a", "b", "c"]
    merged = map_categories(pd.Series([" North", "north", "South "], dtype="category"), lambda t: t.str.strip().str.lower())
    assert merged.tolist() == ["north", "north", "south"] and list(merged.cat.categories) == ["north", "south"]
    filled = fill_text(pd.Series(["b", None], dtype="category"), UNKNOWN)
    assert filled.tolist() == ["b", UNKNOWN] and list(filled.cat.categories) == sorted([UNKNOWN, "b"])
    both = coalesce(pd.Series(["x", None, None], dtype="category"), pd.Series(["q", "y", None], dtype="category"))
    assert both.tolist()[:2] == ["x", "y"] and pd.isna(both.iloc[2]) and list(both.cat.categories) == ["q", "x", "y"]
    rows = concat_rows(
        [
            pd.DataFrame({"k": pd.Series(["b"], dtype="category"), "n": [1]}),
            pd.DataFrame({"k": pd.Series(["a"], dtype="category")}),
        ]
    )
    assert rows["k"].tolist() == ["b", "a"] and list(rows["k"].cat.categories) == ["a", "b"]
    assert rows["n"].iloc[0] == 1 and np.isnan(rows["n"].iloc[1])


def test_only_a_loaded_dataset_skips_the_duplicate_id_check(sample):
    """load quarantines repeated IDs, so metrics need not look for them again;
    frames handed in directly are still checked (a repeated deal counts once)."""
    assert sample.keys_unique
    opps = sample.opportunities
    doubled = from_frames(reps=sample.reps, opportunities=pd.concat([opps, opps.iloc[:1]], ignore_index=True))
    assert not doubled.keys_unique
    once = from_frames(reps=sample.reps, opportunities=opps)
    columns = ["rep_id", "opportunities", "won", "lost", "revenue_won"]
    pd.testing.assert_frame_equal(
        metrics.metrics_table(doubled, period="2025")[columns], metrics.metrics_table(once, period="2025")[columns]
    )
