"""The bad-input corpus: every folder under tests/bad_inputs/ is a source as a
user would have it plus an ``expected.yml`` saying what salesnb must do with it.

Each case runs its command through click's CliRunner (and, for the cases
marked ``subprocess: true``, through the real ``salesnb`` executable, to
prove no traceback reaches a terminal), checks the exit code and the
phrases of the output, and then loads the source with :func:`salesnb.load`
to check the rows kept, the rows set aside and every problem's file, line,
column and flag: no good row lost. The format is described in
tests/bad_inputs/README.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import salesnb
from salesnb.cli import cli
from salesnb.errors import DataError

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
SALESNB = Path(sys.executable).parent / "salesnb"
MIN_CASES = 40

# The kinds of bad input issue #7 asks the corpus to cover, each needing at least one case.
ISSUE_CATEGORIES = {
    "wrong_columns": "wrong or missing columns",
    "wrong_types": "wrong types",
    "unparseable_dates": "unparseable dates",
    "text_amounts": "text amounts in odd formats",
    "negative_amounts": "negative amounts",
    "duplicate_ids": "duplicate IDs",
    "dangling_references": "dangling references",
    "closed_before_created": "closed before created",
    "empty_file": "empty files",
    "header_only": "header-only files",
    "wrong_encoding": "wrong encodings",
    "bom": "a BOM",
    "mixed_date_formats": "mixed date formats",
    "excel_header_rows": "Excel with extra header rows",
    "missing_table": "a missing required table",
    "mapping_missing_column": "a mapping that names a column that is not there",
    "sql_unreachable": "a SQL URL that cannot connect",
    "bad_period": "a period string that makes no sense",
    "unknown_rep": "a rep that does not exist",
}
OTHER_CATEGORIES = {"strict"}
# Issue #13's hostile inputs: each kind needs at least one case.
HOSTILE_CATEGORIES = {
    "output_safety": "an output path that would overwrite an input or leave --out",
    "credentials": "a password in a URL",
    "guessed_values": "a value that must not be guessed (compact dates, broken number grouping)",
    "hang": "an input that used to hang (YAML alias bomb, huge line, huge header, blank spreadsheet rows)",
    "bad_expectations": "an expectations.yml of the wrong shape or value",
    "bad_request": "a command-line request that used to end in a traceback",
    "dropped_data": "a column or value that used to be dropped silently",
}

REQUIRED_KEYS = {"about", "category", "command", "exit"}
OPTIONAL_KEYS = {
    "source",
    "stdout",
    "stderr",
    "stdout_empty",
    "never",
    "json",
    "json_contains",
    "load",
    "quarantined",
    "problems",
    "kept",
    "columns",
    "subprocess",
    "xfail",
    "no_output",
}
NEVER_ANYWHERE = ("Traceback",)

# The column that names a row of each table in `kept:` lists.
ROW_KEY = {
    "reps": "rep_id",
    "customers": "customer_id",
    "opportunities": "opportunity_id",
    "activities": "activity_id",
    "orders": "order_id",
    "training": "program",
    "forecasts": "period",
}


@dataclass(frozen=True)
class Case:
    name: str
    folder: Path
    spec: dict

    def __str__(self) -> str:
        return self.name


def _read_spec(folder: Path) -> dict:
    spec = yaml.safe_load((folder / "expected.yml").read_text(encoding="utf-8"))
    assert isinstance(spec, dict), f"{folder.name}/expected.yml: expected a mapping"
    missing = REQUIRED_KEYS - set(spec)
    unknown = set(spec) - REQUIRED_KEYS - OPTIONAL_KEYS
    assert not missing, f"{folder.name}/expected.yml lacks {sorted(missing)}"
    assert not unknown, f"{folder.name}/expected.yml has unknown keys {sorted(unknown)} (see tests/bad_inputs/README.md)"
    assert spec["category"] in ISSUE_CATEGORIES.keys() | HOSTILE_CATEGORIES.keys() | OTHER_CATEGORIES, (
        f"{folder.name}: unknown category {spec['category']!r}"
    )
    assert spec.get("load") in (None, "raises"), f"{folder.name}: load: must be 'raises' when given"
    return spec


def _discover() -> list[Case]:
    folders = [folder for folder in CORPUS.glob("[0-9][0-9]*_*") if folder.is_dir() and folder.name.split("_")[0].isdigit()]
    return [Case(folder.name, folder, _read_spec(folder)) for folder in sorted(folders, key=lambda f: int(f.name.split("_")[0]))]


CASES = _discover()


def _params(cases):
    return [
        pytest.param(
            case,
            id=case.name,
            marks=[pytest.mark.xfail(reason=case.spec["xfail"], strict=True)] if case.spec.get("xfail") else [],
        )
        for case in cases
    ]


# -- running one case -------------------------------------------------------------


@dataclass
class Prepared:
    folder: Path  # the case's files, copied to tmp_path (a run never writes into the corpus)
    source: str  # SOURCE as passed on the command line
    args: list[str]
    places: dict[str, str]

    def fill(self, text: str) -> str:
        for name, value in self.places.items():
            text = text.replace("{" + name + "}", value)
        return text


def _prepare(case: Case, tmp_path: Path) -> Prepared:
    folder = tmp_path / case.name
    shutil.copytree(case.folder, folder, ignore=shutil.ignore_patterns("expected.yml"))
    places = {"folder": str(folder), "out": str(tmp_path / "out")}
    source = case.spec.get("source", "{folder}")
    for name, value in places.items():
        source = source.replace("{" + name + "}", value)
    if "://" not in source and not Path(source).is_absolute():
        source = str(folder / source)
    places["source"] = source
    prepared = Prepared(folder, source, [], places)
    prepared.args = [prepared.fill(token) for token in shlex.split(case.spec["command"])]
    return prepared


def _check_output(case: Case, prepared: Prepared, exit_code: int, stdout: str, stderr: str) -> None:
    spec = case.spec
    both = stdout + stderr
    assert exit_code == spec["exit"], f"exit {exit_code}, expected {spec['exit']}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    for phrase in (*NEVER_ANYWHERE, *spec.get("never", [])):
        assert prepared.fill(phrase) not in both, f"{phrase!r} must not be printed:\n{both}"
    for stream, text in (("stdout", stdout), ("stderr", stderr)):
        for phrase in spec.get(stream, []):
            assert prepared.fill(phrase) in text, f"{stream} lacks {prepared.fill(phrase)!r}:\n{text}"
    if spec.get("stdout_empty"):
        assert stdout == "", f"stdout should be empty:\n{stdout}"
    if spec.get("no_output"):
        out = Path(prepared.places["out"])
        assert not out.exists(), f"a refused report batch left {sorted(p.name for p in out.iterdir())} in {out}"
    if "json" in spec or "json_contains" in spec:
        rows = json.loads(stdout)
        assert isinstance(rows, list), stdout
        if "json" in spec:
            assert len(rows) == len(spec["json"]), rows
            for got, want in zip(rows, spec["json"]):
                assert {k: got.get(k, "<absent>") for k in want} == want, got
        for want in spec.get("json_contains", []):
            assert any({k: row.get(k, "<absent>") for k in want} == want for row in rows), f"no row like {want} in {rows}"


def _relative(prepared: Prepared, file: str) -> str:
    prefix = str(prepared.folder) + os.sep
    return file[len(prefix) :] if file.startswith(prefix) else file


def _problem_key(prepared: Prepared, problem) -> str:
    text = f"{_relative(prepared, problem.file)}:{problem.line}:{problem.column}:{problem.flag}"
    return text + (":warning" if problem.severity == "warning" else "")


def _plain(value):
    """A loaded cell as expected.yml writes it: null, a number, text, or an ISO date."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return value


def _data_rows(path: Path) -> int:
    """Records in a CSV file, header and blank lines not counted (computed with
    the csv module, independently of the loader)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    header = text.splitlines()[0]
    sep = max((",", ";", "\t", "|"), key=header.count)
    records = list(csv.reader(io.StringIO(text), delimiter=sep))[1:]
    return sum(1 for record in records if any(cell.strip() for cell in record))


def _check_load(case: Case, prepared: Prepared) -> None:
    spec = case.spec
    if spec.get("load") == "raises":
        with pytest.raises(DataError):
            salesnb.load(prepared.source)
        return
    if not {"quarantined", "problems", "kept", "columns"} & set(spec):
        return
    ds = salesnb.load(prepared.source)
    if "quarantined" in spec:
        assert ds.quarantined_rows == spec["quarantined"], ds.quarantine
    if "problems" in spec:
        assert sorted(_problem_key(prepared, p) for p in ds.problems) == sorted(spec["problems"]), "\n".join(
            str(p) for p in ds.problems
        )
        # set aside: exactly the rows with an error, each once
        errors = {(_relative(prepared, p.file), p.line) for p in ds.problems if p.severity == "error"}
        quarantined = [(_relative(prepared, f), int(line)) for f, line in zip(ds.quarantine["file"], ds.quarantine["line"])]
        assert sorted(quarantined) == sorted(errors), ds.quarantine
    for table, keys in spec.get("kept", {}).items():
        frame = ds.table(table)
        assert frame is not None, f"table {table} was not loaded"
        assert frame[ROW_KEY[table]].tolist() == keys, table
        # no good row lost: every data row of the file is either kept or set aside
        path = prepared.folder / f"{table}.csv"
        if path.is_file():
            set_aside = int((ds.quarantine["table"] == table).sum())
            assert len(frame) + set_aside == _data_rows(path), f"{table}: rows kept + set aside != rows in {path.name}"
    for dotted, values in spec.get("columns", {}).items():
        table, column = dotted.split(".")
        assert [_plain(v) for v in ds.table(table)[column].tolist()] == values, dotted


@pytest.fixture(autouse=True)
def _no_report_cache(monkeypatch):
    monkeypatch.delenv("SALESNB_CACHE_DIR", raising=False)


# -- the tests ----------------------------------------------------------------------


def test_corpus_has_at_least_40_cases():
    assert len(CASES) >= MIN_CASES, [c.name for c in CASES]
    assert len({c.name.split("_")[0] for c in CASES}) == len(CASES), "two case folders share a number"


def test_every_kind_of_bad_input_in_the_issue_is_covered():
    covered = {c.spec["category"] for c in CASES}
    missing = [text for key, text in ISSUE_CATEGORIES.items() if key not in covered]
    assert not missing, f"no case for: {', '.join(missing)}"


def test_every_kind_of_hostile_input_in_issue_13_is_covered():
    covered = {c.spec["category"] for c in CASES}
    missing = [text for key, text in HOSTILE_CATEGORIES.items() if key not in covered]
    assert not missing, f"no case for: {', '.join(missing)}"


def test_readme_documents_every_expected_key():
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for key in sorted(REQUIRED_KEYS | OPTIONAL_KEYS):
        assert f"`{key}" in readme, key


def test_some_cases_use_each_command_and_run_in_a_real_terminal():
    commands = {shlex.split(c.spec["command"])[0] for c in CASES}
    assert {"validate", "metrics", "diagnose", "quality", "report"} <= commands
    assert sum(bool(c.spec.get("subprocess")) for c in CASES) >= 5


@pytest.mark.parametrize("case", _params(CASES))
def test_case(case: Case, tmp_path):
    prepared = _prepare(case, tmp_path)
    result = CliRunner().invoke(cli, prepared.args)
    assert result.exception is None or isinstance(result.exception, SystemExit), "".join(
        traceback.format_exception(result.exception)
    )
    _check_output(case, prepared, result.exit_code, result.stdout, result.stderr)
    _check_load(case, prepared)


@pytest.mark.parametrize("case", _params([c for c in CASES if c.spec.get("subprocess")]))
def test_case_in_a_real_process(case: Case, tmp_path):
    prepared = _prepare(case, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "SALESNB_CACHE_DIR"}
    result = subprocess.run([str(SALESNB), *prepared.args], capture_output=True, text=True, timeout=120, env=env)
    _check_output(case, prepared, result.returncode, result.stdout, result.stderr)
