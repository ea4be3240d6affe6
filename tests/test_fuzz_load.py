"""Property-based fuzzing of :func:`salesnb.load` (issue #13).

Whatever a user's folder holds (random bytes, CSV of any shape, YAML of any
shape beside it) ``salesnb.load`` ends in one of two ways, within 10 s: a
loaded :class:`~salesnb.io.dataset.Dataset`, or a :class:`~salesnb.errors.DataError`
whose every problem names the file it is about. Any other exception, or a
problem that says nowhere, is a bug.

CI runs a fixed, derandomized set of examples (``SALESNB_FUZZ_EXAMPLES``,
default 40 per property) so a red build is reproducible; run more locally
with e.g. ``SALESNB_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest
tests/test_fuzz_load.py -p no:xdist`` and ``SALESNB_FUZZ_RANDOM=1`` for new
seeds each run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import salesnb
from salesnb.errors import DataError

REPS = "rep_id,name,territory\nR1,Ann,North\nR2,Bob,South\n"
OPPS = (
    "opportunity_id,rep_id,customer_id,created_date,closed_date,status,amount\n"
    "O1,R1,C1,2025-01-02,2025-02-01,won,100\nO2,R2,,2025-01-05,,open,\n"
)
LIMIT_SECONDS = 10.0

FUZZ = settings(
    max_examples=int(os.environ.get("SALESNB_FUZZ_EXAMPLES", "40")),
    derandomize=not os.environ.get("SALESNB_FUZZ_RANDOM"),
    database=None,
    deadline=None,  # timed below against LIMIT_SECONDS, the promise itself
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- what goes into a file --------------------------------------------------------

CONTRACT_COLUMNS = [
    "opportunity_id",
    "rep_id",
    "customer_id",
    "created_date",
    "closed_date",
    "status",
    "amount",
    "acquisition_method",
    "stage",
    "Opportunity ID",
    "AMOUNT",
    "",
    " ",
    "amount ",
]
CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "O1",
            "R1",
            "R2",
            "R9",
            "C1",
            "won",
            "lost",
            "open",
            "WON",
            "2025-01-02",
            "02/01/2025",
            "31/12/2025",
            "2025115",
            "1704412",
            "20250115",
            "0",
            "-5",
            "1e400",
            "nan",
            "inf",
            "$1,234.50",
            "1.234,50 €",
            "1,234.567,89",
            '="007"',
            "NULL",
            "#N/A",
            "\x00",
            "\ufeff",
            "é",
            "9999-12-31",
            "0001-01-01",
            "45292",
            '"',
            "'",
            ",",
            ";",
            "\t",
            "\r",
            "\n",
        ]
    ),
    st.text(max_size=12),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.dates().map(str),
)
SEPARATORS = st.sampled_from([",", ";", "\t", "|"])
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16", "latin-1"])


@st.composite
def csv_text(draw) -> bytes:
    """A CSV file of random shape: a header of contract-ish names, ragged rows."""
    sep = draw(SEPARATORS)
    header = draw(st.lists(st.one_of(st.sampled_from(CONTRACT_COLUMNS), st.text(max_size=8)), min_size=0, max_size=9))
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=len(header) + 2), max_size=8))
    quote = draw(st.booleans())

    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if quote else value

    lines = [sep.join(cell(h) for h in header)] + [sep.join(cell(v) for v in row) for row in rows]
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)
    return text.encode(draw(ENCODINGS), errors="replace")


YAML_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from(
        [
            "1M",
            "1.0e+400",
            "-1000",
            "primary",
            "secondary",
            "R1",
            "North",
            "%Q-%Y",
            "%",
            "*",
            "opportunities",
            "reps",
            "deals.csv",
            "../outside.csv",
            "/etc/passwd",
            "@row",
        ]
    ),
)
YAML_KEYS = st.one_of(
    st.sampled_from(
        [
            "default",
            "teams",
            "reps",
            "revenue_quota",
            "new_customers",
            "primary",
            "secondary",
            "visits_per_customer",
            "prospecting_methods",
            "max_travel_share",
            "pipeline_coverage",
            "win_rate",
            "currency",
            "defualt",
            "tables",
            "opportunities",
            "file",
            "columns",
            "values",
            "formats",
            "from",
            "const",
            "status",
            "amount",
            "created_date",
            "R1",
            "where",
        ]
    ),
    st.text(max_size=8),
)
YAML_TREES = st.recursive(
    YAML_SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(YAML_KEYS, children, max_size=5)),
    max_leaves=25,
)


@st.composite
def yaml_text(draw) -> bytes:
    """A YAML document: a random tree dumped by PyYAML, or random text."""
    if draw(st.booleans()):
        return yaml.safe_dump(draw(YAML_TREES), allow_unicode=True).encode("utf-8")
    return draw(st.text(max_size=200)).encode("utf-8")


MAPPING_VALUES = st.one_of(
    YAML_SCALARS,
    st.sampled_from(["opportunities.csv", "reps.csv", "Owner", "Stage", "Amount", "rep_id", "amount", "status"]),
    st.lists(st.sampled_from(["opportunities.csv", "reps.csv", "amount", "rep_id"]), max_size=3),
    st.dictionaries(st.sampled_from(["const", "from", "values", "won", "*"]), YAML_SCALARS, max_size=2),
)


@st.composite
def mapping_text(draw) -> bytes:
    """A mapping.yml shaped like a real one (tables, file, columns, values,
    formats, from) with random pieces in every place."""
    tables = {}
    for table in draw(
        st.lists(st.sampled_from(["opportunities", "reps", "customers", "activities", "nonsense"]), max_size=3, unique=True)
    ):
        spec = {}
        for key in draw(
            st.lists(st.sampled_from(["file", "columns", "values", "formats", "from", "where", "extra"]), max_size=4, unique=True)
        ):
            if key in ("columns", "values", "formats"):
                spec[key] = draw(
                    st.one_of(
                        st.dictionaries(
                            st.sampled_from(
                                [
                                    "opportunity_id",
                                    "rep_id",
                                    "amount",
                                    "status",
                                    "created_date",
                                    "closed_date",
                                    "name",
                                    "territory",
                                    "bogus",
                                ]
                            ),
                            MAPPING_VALUES,
                            max_size=4,
                        ),
                        MAPPING_VALUES,
                    )
                )
            else:
                spec[key] = draw(MAPPING_VALUES)
        tables[table] = draw(st.one_of(st.just(spec), MAPPING_VALUES))
    return yaml.safe_dump({"tables": tables}, allow_unicode=True).encode("utf-8")


# -- the property -----------------------------------------------------------------


def _load_within_limit(folder: Path) -> None:
    """Load ``folder``; a Dataset or a located DataError, within LIMIT_SECONDS."""
    started = time.perf_counter()
    try:
        ds = salesnb.load(folder)
    except DataError as error:
        assert error.problems, "a DataError with no problem in it"
        for problem in error.problems:
            assert problem.file or problem.table, f"a problem that names no file or table: {problem}"
            assert str(problem).strip(), "a problem with no message"
    else:
        assert ds.table("reps") is not None and ds.table("opportunities") is not None
    elapsed = time.perf_counter() - started
    assert elapsed < LIMIT_SECONDS, f"load took {elapsed:.1f} s"


@pytest.fixture(autouse=True)
def _no_report_cache(monkeypatch):
    monkeypatch.delenv("SALESNB_CACHE_DIR", raising=False)


def _source(files: dict[str, bytes]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="salesnb-fuzz-"))
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def _check(files: dict[str, bytes]) -> None:
    folder = _source(files)
    try:
        _load_within_limit(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@FUZZ
@given(
    content=st.binary(max_size=2000),
    table=st.sampled_from(
        [
            "opportunities.csv",
            "reps.csv",
            "activities.csv",
            "customers.csv",
            "forecasts.csv",
            "opportunities.xlsx",
            "opportunities.parquet",
            "reps.xlsx",
        ]
    ),
)
def test_random_bytes_in_a_table_file(content, table):
    files = {"reps.csv": REPS.encode(), "opportunities.csv": OPPS.encode()}
    files.pop(table.split(".")[0] + ".csv", None)  # opportunities.xlsx replaces opportunities.csv
    files[table] = content
    _check(files)


@FUZZ
@given(content=st.binary(max_size=2000), valid_start=st.sampled_from([b"PK\x03\x04", b"PAR1", b"SQLite format 3\x00", b""]))
def test_random_bytes_in_a_database_file(content, valid_start):
    """A .sqlite/.duckdb/.xlsx/.parquet whose first bytes look right and the rest is noise."""
    folder = _source({})
    try:
        for name in ("sales.sqlite", "sales.duckdb"):
            path = folder / name
            path.write_bytes(valid_start + content)
            started = time.perf_counter()
            try:
                salesnb.load(path)
            except DataError as error:
                assert all(p.file or p.table for p in error.problems)
            assert time.perf_counter() - started < LIMIT_SECONDS
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@FUZZ
@given(content=csv_text(), table=st.sampled_from(["opportunities.csv", "reps.csv", "orders.csv", "training.csv"]))
def test_random_csv_shapes(content, table):
    files = {"reps.csv": REPS.encode(), "opportunities.csv": OPPS.encode()}
    files[table] = content
    _check(files)


@FUZZ
@given(content=yaml_text())
def test_random_expectations_yaml(content):
    _check({"reps.csv": REPS.encode(), "opportunities.csv": OPPS.encode(), "expectations.yml": content})


@FUZZ
@given(content=yaml_text())
def test_random_mapping_yaml(content):
    _check({"reps.csv": REPS.encode(), "opportunities.csv": OPPS.encode(), "mapping.yml": content})


@FUZZ
@given(content=st.binary(max_size=500), name=st.sampled_from(["mapping.yml", "expectations.yml"]))
def test_random_bytes_as_yaml(content, name):
    _check({"reps.csv": REPS.encode(), "opportunities.csv": OPPS.encode(), name: content})


@FUZZ
@given(content=mapping_text())
def test_mapping_shaped_yaml_with_random_pieces(content):
    _check({"reps.csv": REPS.encode(), "opportunities.csv": OPPS.encode(), "mapping.yml": content})
