"""The vectorised contract checks agree with the pandera schema they replace."""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pandera.errors
import pytest

from salesnb.schema import AMOUNT, DATE, ENUM, TABLES
from salesnb.validation import ROW_RULES, _repeated, _schema_failures, contract_schema


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
