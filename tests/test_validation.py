"""The vectorised contract checks agree with the pandera schema they replace."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pandera.errors
import pytest

from salesnb.io.schema import AMOUNT, DATE, ENUM, TABLES
from salesnb.io.validation import ROW_RULES, _schema_failures, contract_schema
from salesnb.io.value_lookup import repeats as _repeated


def _typed_frame(name: str, rng: random.Random, n: int) -> pd.DataFrame:
    columns = {}
    for col in TABLES[name].columns:
        if col.kind == DATE:
            values = [rng.choice([pd.NaT, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-01")]) for _ in range(n)]
            columns[col.name] = pd.Series(values, dtype="datetime64[ns]")
        elif col.kind == AMOUNT:
            columns[col.name] = pd.Series([rng.choice([np.nan, -1.0, 0.0, 5.0]) for _ in range(n)], dtype="float64")
        elif col.kind == ENUM:
            columns[col.name] = pd.Series([rng.choice([None, *col.choices, "maybe"]) for _ in range(n)], dtype="str")
        else:
            columns[col.name] = pd.Series([rng.choice([None, "1", "2", "3", "R1"]) for _ in range(n)], dtype="str")
    return pd.DataFrame(columns)


def _pandera_failures(name: str, frame: pd.DataFrame) -> dict[tuple[str, str], set[int]]:
    rules = {rule.name: rule.column for rule in ROW_RULES.get(name, ())}
    try:
        contract_schema(name).validate(frame, lazy=True)
        return {}
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases[exc.failure_cases["index"].notna()]
    out: dict[tuple[str, str], set[int]] = {}
    for column, check, index in zip(cases["column"], cases["check"], cases["index"]):
        out.setdefault((rules.get(check, column), check), set()).add(int(index))
    return out


@pytest.mark.parametrize("name", list(TABLES))
def test_vectorised_checks_match_the_pandera_schema(name):
    rng = random.Random(sum(map(ord, name)))
    for _ in range(25):
        frame = _typed_frame(name, rng, rng.randint(0, 15))
        ours: dict[tuple[str, str], set[int]] = {}
        for column, check, positions in _schema_failures(name, frame):
            ours.setdefault((column, check), set()).update(positions.tolist())
        assert ours == _pandera_failures(name, frame)


def test_repeated_marks_every_occurrence_after_the_first():
    values = pd.Series(["a", "b", "a", None, None, "c", "b", "a"], dtype="str")
    assert _repeated(values).tolist() == values.duplicated(keep="first").tolist()
    assert not _repeated(pd.Series([f"A{i}" for i in range(1000)], dtype="str")).any()
    assert _repeated(pd.Series([1, 2, 1], dtype=object)).tolist() == [False, False, True]


def _opportunities(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """Raw opportunities text: (opportunity_id, created_date) per row, the rest valid."""
    values = {
        "opportunity_id": [r[0] for r in rows],
        "rep_id": "R1",
        "created_date": [r[1] for r in rows],
        "status": "open",
        "amount": "10",
    }
    return pd.DataFrame({c: values.get(c, None) for c in TABLES["opportunities"].column_names}, index=range(len(rows)))


def test_a_row_set_aside_does_not_claim_its_id():
    """Line 2 (O1) has a bad date; lines 3 and 4 are valid O1s. Line 3 is kept
    (warned about line 2), line 4 is a duplicate of line 3."""
    from salesnb.io.validation import check_table

    frame = _opportunities([("O1", "bad"), ("O1", "2025-01-01"), ("O1", "2025-01-02"), ("O2", "2025-01-01")])
    checked = check_table("opportunities", frame, file="deals.csv", lines=np.arange(2, 6))
    assert checked.bad.tolist() == [True, False, True, False]
    found = [(p.line, p.column, p.flag, p.severity, p.message) for p in checked.problems]
    assert sorted(found) == [
        (2, "created_date", "bad_value", "error", "not a date"),
        (
            3,
            "opportunity_id",
            "duplicate_id",
            "warning",
            "duplicate opportunity_id: also on line 2, which was set aside; this row is kept",
        ),
        (4, "opportunity_id", "duplicate_id", "error", "duplicate opportunity_id: first used on line 3"),
    ]


def test_plain_duplicates_still_set_aside_every_repeat():
    from salesnb.io.validation import check_table

    frame = _opportunities([("O1", "2025-01-01"), ("O2", "2025-01-01"), ("O1", "2025-01-01"), ("O1", "2025-01-03")])
    checked = check_table("opportunities", frame, file="deals.csv", lines=np.arange(2, 6))
    assert checked.bad.tolist() == [False, False, True, True]
    assert [(p.line, p.message) for p in checked.problems] == [
        (4, "duplicate opportunity_id: first used on line 2"),
        (5, "duplicate opportunity_id: first used on line 2"),
    ]


def test_a_bad_optional_value_no_rule_needs_is_left_blank_with_a_warning():
    from salesnb.io.validation import check_table

    frame = pd.DataFrame(
        {
            "rep_id": ["R1", "R2"],
            "name": ["Ann", "Bob"],
            "territory": ["North", "South"],
            "team": None,
            "hire_date": ["2020-01-01", "soon"],
            "annual_cost": ["lots", "90000"],
            "email": None,
            "manager_email": None,
        }
    )
    frame = frame[TABLES["reps"].column_names]
    checked = check_table("reps", frame, file="reps.csv", lines=np.arange(2, 4))
    assert checked.bad.tolist() == [False, False]
    assert sorted((p.line, p.column, p.severity, p.message) for p in checked.problems) == [
        (2, "annual_cost", "warning", "not a number; left blank"),
        (3, "hire_date", "warning", "not a date; left blank"),
    ]
    assert checked.frame["annual_cost"].isna().tolist() == [True, False]
    assert checked.frame["hire_date"].isna().tolist() == [False, True]


def test_a_bad_amount_on_a_deal_still_sets_the_row_aside():
    """amount is optional, but a rule reads it (a won deal needs one): not blanked."""
    from salesnb.io.validation import check_table

    frame = _opportunities([("O1", "2025-01-01"), ("O2", "2025-01-01")])
    frame["amount"] = ["lots", "10"]
    checked = check_table("opportunities", frame, file="deals.csv", lines=np.arange(2, 4))
    assert checked.bad.tolist() == [True, False]
    assert [(p.line, p.column, p.severity) for p in checked.problems] == [(2, "amount", "error")]


# -- duplicate and membership checks by hashes (millions of IDs, little memory) --------


def _ids(values, *, chunks: int = 1) -> pd.Series:
    """Arrow-backed strings, in ``chunks`` Arrow chunks (a Parquet file's row groups)."""
    import pyarrow as pa

    parts = [list(p) for p in np.array_split(np.array(values, dtype=object), chunks)]
    array = pa.chunked_array([pa.array(p, type=pa.large_string()) for p in parts], type=pa.large_string())
    return pd.Series(pd.array(array, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def _random_ids(rng: random.Random, n: int) -> list:
    pool = [f"A{rng.randint(0, n)}" + "é" * rng.randint(0, 2) for _ in range(n)] + ["", "x" * 40]
    return [rng.choice(pool) if rng.random() > 0.05 else None for _ in range(n)]


@pytest.mark.parametrize("chunks", [1, 3])
def test_repeated_by_hashes_finds_exactly_the_plain_duplicates(chunks):
    rng = random.Random(7)
    for n in (0, 1, 2, 50, 3000):
        values = _ids(_random_ids(rng, n), chunks=chunks)
        assert _repeated(values).tolist() == values.duplicated(keep="first").tolist()


def test_repeated_hash_collisions_are_not_reported_as_duplicates(monkeypatch):
    import salesnb.io.value_lookup as value_lookup

    values = _ids(["a", "b", "a", None, "c", None, "b", "d"])
    monkeypatch.setattr(value_lookup, "_hash_slice", lambda part: np.zeros(len(part), dtype=np.uint64))  # every value collides
    assert _repeated(values).tolist() == values.duplicated(keep="first").tolist()
    monkeypatch.setattr(value_lookup, "_HASH_ROWS", 3)  # hashed three rows at a time
    assert _repeated(values).tolist() == values.duplicated(keep="first").tolist()


def test_text_hashes_depend_on_the_text_only():
    import pyarrow as pa

    from salesnb.io.value_lookup import _text_hashes

    texts = ["", "a", "ab", "abcdefgh", "abcdefghi", "Müller", "a\x00", "abcdefgh" * 5]
    whole = np.concatenate([h for _, h in _text_hashes(pa.array(texts, type=pa.large_string()))])
    sliced = np.concatenate([h for _, h in _text_hashes(pa.array(["zz", *texts], type=pa.large_string()).slice(1))])
    assert whole.tolist() == sliced.tolist()  # an offset into the buffers changes nothing
    assert len(set(whole.tolist())) == len(texts)  # "a" and "a\x00" differ: the length is hashed too


@pytest.mark.parametrize("chunks", [1, 2])
def test_is_in_by_hashes_matches_a_set_lookup(monkeypatch, chunks):
    import salesnb.io.value_lookup as value_lookup

    monkeypatch.setattr(value_lookup, "_HASHED_LOOKUP_MIN", 1)
    rng = random.Random(11)
    for n, m in ((0, 5), (40, 1), (2000, 1500)):
        values, known = _random_ids(rng, n), _random_ids(rng, m)
        if all(k is None for k in known):
            continue
        expected = [v is not None and v in set(known) - {None} for v in values]
        assert value_lookup.is_in(_ids(values, chunks=chunks), _ids(known, chunks=chunks)).tolist() == expected
        codes = pd.Series(values, dtype="str").astype("category")  # categorical: each category looked up once
        assert value_lookup.is_in(codes, _ids(known)).tolist() == expected


def test_index_in_by_hashes_survives_collisions(monkeypatch):
    import pyarrow as pa

    import salesnb.io.value_lookup as value_lookup

    monkeypatch.setattr(value_lookup, "_hash_slice", lambda part: (np.arange(len(part)) % 2).astype(np.uint64))
    values = pa.array(["a", "b", "c", None, "zz", "q", "b"], type=pa.large_string())
    known = pa.array(["b", "zz", "q", "a", "b"], type=pa.large_string())
    assert value_lookup._index_in_hashed(values, known).tolist() == [3, 0, -1, -1, 1, 2, 0]  # first position, as index_in
