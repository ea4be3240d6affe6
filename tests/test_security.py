"""Security (no browser): CSV formula injection, read-only SQL sources, output
paths that cannot leave the output folder, and a whole batch of real
reports on data whose every text field carries markup, scanned for markup
that was not escaped and for any rep's name or id in another rep's report.

The browser tests (Content-Security-Policy, nothing runs) live elsewhere.
"""

from __future__ import annotations

import csv
import hashlib
import html
import html.parser
import io
import json
import sqlite3
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from batches import FIXTURE_NOTEBOOKS, run_cli
from batches import fake_execute as _fake_execute
from click.testing import CliRunner

import salesnb
import salesnb.run.batch as report_module
import salesnb.run.execute as execute_module
from salesnb.cli import cli
from salesnb.io import sources
from salesnb.io.exports import FORMULA_STARTS, neutralise_formulas, to_csv_text

REAL_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def invoke(*args) -> click.testing.Result:  # noqa: F821
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


# -- CSV formula injection ------------------------------------------------------------------

# Every option of the CLI that writes CSV. A new one must be added here and
# tested below; `sample` writes generated data (names from a fixed list), no user data.
CSV_OUTPUTS = {("metrics", "fmt", "csv"), ("validate", "quarantine_out", None), ("sample", "fmt", "csv")}


def test_every_csv_output_of_the_cli_is_known():
    import click

    found = set()
    for name, command in cli.commands.items():
        for param in command.params:
            if isinstance(param.type, click.Choice) and "csv" in param.type.choices:
                found.add((name, param.name, "csv"))
            elif "csv" in (param.help or "").lower() or "quarantine" in (param.name or ""):
                found.add((name, param.name, None))
    assert found == CSV_OUTPUTS


def test_neutralise_formulas_cell_by_cell():
    frame = pd.DataFrame(
        {
            "text": ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1+1", "\r=1+1", "plain", "a=b", None, "'=already"],
            "number": [-1.5, -2.0, 3.0, -0.0, 1e9, -7.25, 0.0, 1.0, float("nan"), -3.0],
            "count": pd.array([-1, 2, -3, 4, -5, 6, -7, 8, None, 10], dtype="Int64"),
            "mixed": [-5, "-5", "=x", 2.5, None, "@", "+", "", "ok", "-"],
        }
    )
    out = neutralise_formulas(frame)
    cells = lambda column: [None if not isinstance(v, str) and pd.isna(v) else v for v in out[column]]  # noqa: E731
    assert cells("text") == ["'=1+1", "'+1", "'-1+2", "'@SUM(A1)", "'\t=1+1", "'\r=1+1", "plain", "a=b", None, "'=already"]
    pd.testing.assert_series_equal(out["number"], frame["number"])  # a negative number is not a formula
    pd.testing.assert_series_equal(out["count"], frame["count"])
    assert cells("mixed") == [-5, "'-5", "'=x", 2.5, None, "'@", "'+", "", "ok", "'-"]
    assert frame["text"][0] == "=1+1"  # the caller's frame is left alone

    rows = list(csv.reader(io.StringIO(to_csv_text(frame), newline="")))
    assert len(rows) == 1 + len(frame)  # the CR inside "'\r=1+1" did not start a row of its own
    assert rows[0] == ["text", "number", "count", "mixed"]
    for row in rows[1:]:
        text, number, count, mixed = row
        assert not text.startswith(FORMULA_PREFIXES)
        assert number == "" or float(number) == float(number)  # numbers stay numbers, minus sign and all
        assert count == "" or int(count) == int(count)
    assert rows[1][1:3] == ["-1.5", "-1"]
    assert rows[6][0] == "'\r=1+1"
    assert set(FORMULA_PREFIXES) <= set(FORMULA_STARTS)


@pytest.mark.parametrize("cell", ['Ann\r=HYPERLINK("http://x")', "Ann\n=1+1", "Ann\r\n@SUM(1)", "a,b\r-c"])
def test_a_line_break_inside_a_cell_cannot_start_a_row(cell):
    """A spreadsheet reads a bare CR as a new row, whose first cell would be the formula after it."""
    frame = pd.DataFrame({"name": [cell, "Bob"], "won": [1, -2]})
    text = to_csv_text(frame)
    assert list(csv.reader(io.StringIO(text, newline=""))) == [["name", "won"], [cell, "1"], ["Bob", "-2"]]
    again = pd.read_csv(io.StringIO(text, newline=""), dtype={"name": str})
    assert list(again["name"]) == [cell, "Bob"] and list(again["won"]) == [1, -2]
    quoted = cell.replace('"', '""')
    assert text.count(f'"{quoted}"') == 1  # quoted: the line break is inside the cell


HOSTILE_REPS = [
    {"rep_id": "=1+1", "name": '=HYPERLINK("http://evil.example","Ann")', "territory": "+North", "team": "@Alpha"},
    {"rep_id": "-2+3", "name": "Bob\r=cmd|' /C calc'!A0", "territory": "=South", "team": "-Beta"},
    {"rep_id": "@R3", "name": "@Cy", "territory": "-East", "team": "=Gamma"},
    {"rep_id": "\t=R4", "name": "\r=Dee", "territory": " @West", "team": "+Delta"},
]


def hostile_csv_source(folder: Path) -> Path:
    """Every text column a metrics group can come from starts a formula; rep
    '=1+1' forecast far more than it sold (a negative forecast error)."""
    write_csv(folder / "reps.csv", HOSTILE_REPS)
    customers, opportunities = [], []
    for i, rep in enumerate(HOSTILE_REPS):
        rep_id = rep["rep_id"].strip()
        customers.append(
            {
                "customer_id": f"C{i}",
                "name": f"=Cust{i}",
                "customer_type": ["=Retail", "+Tech", "-Health", "@Gov"][i],
                "market_tier": ["primary", "secondary"][i % 2],
                "acquisition_method": ["@referral", "=cold", "+event", "-inbound"][i],
                "rep_id": rep_id,
            }
        )
        opportunities += [
            {
                "opportunity_id": f"O{i}a",
                "rep_id": rep_id,
                "customer_id": f"C{i}",
                "created_date": "2025-02-01",
                "closed_date": "2025-03-01",
                "status": "won",
                "amount": 1000 * (i + 1),
                "acquisition_method": "=HYPERLINK(1)",
                "stage": "=Closed Won",
            },
            {
                "opportunity_id": f"O{i}b",
                "rep_id": rep_id,
                "customer_id": f"C{i}",
                "created_date": "2025-02-01",
                "closed_date": "2025-04-01",
                "status": "lost",
                "amount": 500,
                "acquisition_method": "-x",
                "stage": "@lost",
            },
        ]
    write_csv(folder / "customers.csv", customers)
    write_csv(folder / "opportunities.csv", opportunities)
    write_csv(
        folder / "forecasts.csv",
        [
            {"rep_id": "=1+1", "period": "2025", "forecast_amount": 250},
            {"rep_id": "-2+3", "period": "2025", "forecast_amount": 9000},
        ],
    )
    return folder


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def assert_no_formula_cells(rows: list[dict]) -> int:
    """No text cell starts a formula; returns how many negative numbers were seen (left as numbers)."""
    negatives = 0
    for row in rows:
        for column, cell in row.items():
            assert not str(column).startswith(FORMULA_PREFIXES), column
            if cell.startswith(FORMULA_PREFIXES):
                float(cell)  # only a number may start with "-" (or "+")
                assert cell.startswith("-"), (column, cell)
                negatives += 1
    return negatives


@pytest.mark.parametrize("by", ["rep", "team", "territory", "customer_type", "acquisition_method", "market_tier"])
def test_metrics_csv_neutralises_formulas_and_keeps_negative_numbers(tmp_path, by):
    source = hostile_csv_source(tmp_path / "src")
    result = invoke("metrics", source, "--by", by, "--period", "2025", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    assert len(rows) >= 2
    negatives = assert_no_formula_cells(rows)
    group = next(iter(rows[0]))
    expected = {
        "rep": {"'=1+1", "'-2+3", "'@R3", "'=R4"},
        "team": {"'@Alpha", "'-Beta", "'=Gamma", "'+Delta"},
        "territory": {"'+North", "'=South", "'-East", "'@West"},
        "customer_type": {"'=Retail", "'+Tech", "'-Health", "'@Gov"},
        "acquisition_method": {"'=HYPERLINK(1)", "'-x"},
        "market_tier": {"primary", "secondary"},
    }[by]
    assert expected <= {row[group] for row in rows}, rows  # the values are all there, as text
    if by == "rep":
        assert len(rows) == len(HOSTILE_REPS)
        assert {r["name"] for r in rows} == {
            '\'=HYPERLINK("http://evil.example","Ann")',
            "Bob\r=cmd|' /C calc'!A0",
            "'@Cy",
            "'=Dee",
        }
        under = next(r for r in rows if r["rep_id"] == "'=1+1")
        assert float(under["forecast_error_pct"]) < 0 and negatives >= 1  # -75.0, a number


def test_quarantine_csv_neutralises_formulas(tmp_path):
    source = hostile_csv_source(tmp_path / "src")
    with open(source / "opportunities.csv", "a", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(
            [
                ["=O9", "=1+1", "C0", "2025-02-01", "2025-01-01", "won", "-5", "@x", "=stage"],  # closed before created
                ["+O10", "-2+3", "C1", "2025-02-01", "", "=cmd|' /C calc'!A0", "10", "-y", "+s"],  # bad status
            ]
        )
    out = tmp_path / "set-aside.csv"
    result = invoke("validate", source, "--quarantine-out", out)
    assert result.exit_code == 0, result.output
    rows = csv_rows(out.read_text(encoding="utf-8"))
    assert len(rows) == 2
    assert_no_formula_cells(rows)
    records = [json.loads(r["record"].removeprefix("'")) for r in rows]
    assert {r["status"] for r in records} == {"won", "=cmd|' /C calc'!A0"}  # kept intact, inside the record


# -- SQL sources are opened read-only -----------------------------------------------------------

REPS_ROWS = [("R1", "Ann", "North"), ("R2", "Bob", "South")]
OPP_ROWS = [("O1", "R1", "2025-01-02", "2025-02-01", "won", 100.0), ("O2", "R2", "2025-01-03", None, "open", 50.0)]


def make_sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE reps (rep_id TEXT, name TEXT, territory TEXT)")
        db.execute(
            "CREATE TABLE opportunities (opportunity_id TEXT, rep_id TEXT, created_date TEXT, closed_date TEXT, "
            "status TEXT, amount REAL)"
        )
        db.executemany("INSERT INTO reps VALUES (?, ?, ?)", REPS_ROWS)
        db.executemany("INSERT INTO opportunities VALUES (?, ?, ?, ?, ?, ?)", OPP_ROWS)
    db.close()
    return path


def make_duckdb(path: Path) -> Path:
    import duckdb

    db = duckdb.connect(str(path))
    db.execute("CREATE TABLE reps (rep_id VARCHAR, name VARCHAR, territory VARCHAR)")
    db.execute(
        "CREATE TABLE opportunities (opportunity_id VARCHAR, rep_id VARCHAR, created_date DATE, "
        "closed_date DATE, status VARCHAR, amount DOUBLE)"
    )
    db.executemany("INSERT INTO reps VALUES (?, ?, ?)", REPS_ROWS)
    db.executemany("INSERT INTO opportunities VALUES (?, ?, ?, ?, ?, ?)", OPP_ROWS)
    db.close()
    return path


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


WRITES = [
    "INSERT INTO reps VALUES ('R9', 'Mallory', 'East')",
    "CREATE TABLE salesnb_probe (x INTEGER)",
    "DELETE FROM reps",
    "DROP TABLE opportunities",
]


def attempt_writes(connection, dialect: str) -> list[str]:
    """Each write statement, through ``connection``; returns the ones that did NOT fail."""
    succeeded = []
    for statement in WRITES:
        try:
            if dialect == "sqlalchemy":
                connection.exec_driver_sql(statement)
                connection.commit()
            else:
                connection.execute(statement)
                if dialect == "sqlite":
                    connection.commit()
        except Exception:  # noqa: BLE001 - every driver has its own "read-only" error type
            continue
        succeeded.append(statement)
    return succeeded


def load_and_try_to_write(monkeypatch, source: str) -> list[str]:
    """salesnb.load(source), trying every write of WRITES through the very
    connection the loader opened, before the loader reads through it."""
    real_connect = sources.SQLSource._connect
    succeeded: list[str] = []

    def connect(self):
        fresh = self._connection is None
        connection = real_connect(self)
        if fresh:
            succeeded.extend(attempt_writes(connection, self.dialect))
        return connection

    monkeypatch.setattr(sources.SQLSource, "_connect", connect)
    dataset = salesnb.load(source)
    monkeypatch.setattr(sources.SQLSource, "_connect", real_connect)
    assert sorted(dataset.reps["rep_id"]) == ["R1", "R2"]  # the loader read the untouched tables
    return succeeded


@pytest.mark.parametrize("kind", ["sqlite file", "duckdb file", "sqlite url", "duckdb url"])
def test_sql_sources_are_opened_read_only(tmp_path, monkeypatch, kind):
    if kind.startswith("duckdb"):
        path = make_duckdb(tmp_path / "sales.duckdb")
    else:
        path = make_sqlite(tmp_path / "sales.sqlite")
    source = {
        "sqlite file": str(path),
        "duckdb file": str(path),
        "sqlite url": f"sqlite:///{path}",
        "duckdb url": f"duckdb:///{path}",
    }[kind]
    before = snapshot(tmp_path)
    assert load_and_try_to_write(monkeypatch, source) == []
    assert invoke("metrics", source, "--by", "rep", "--format", "json").exit_code == 0
    assert invoke("validate", source).exit_code == 0
    assert snapshot(tmp_path) == before  # byte for byte, and no journal, WAL or new file beside it


@pytest.mark.parametrize("kind", ["'#' in the file name", "'?' in the file name", "sqlite url with a query string"])
def test_sql_sources_are_read_only_whatever_the_path(tmp_path, monkeypatch, kind):
    names = {"'#' in the file name": "sales#2025.sqlite", "'?' in the file name": "sales?v=2.sqlite"}
    name = names.get(kind, "sales.sqlite")
    path = make_sqlite(tmp_path / name)
    source = f"sqlite:///{path}?timeout=5" if kind.startswith("sqlite url") else str(path)
    before = snapshot(tmp_path)
    assert load_and_try_to_write(monkeypatch, source) == []
    assert snapshot(tmp_path) == before


def test_a_database_password_is_never_written_to_the_output_folder(tmp_path, monkeypatch):
    """A report that fails keeps its executed notebook in _failed/; papermill wrote
    the source URL into it, and the error may quote it. The password is masked
    in that notebook, the manifest and the index; the report still ran with it."""
    secret = "s3cret-pw"
    source = f"sqlite://ann:{secret}@/{make_sqlite(tmp_path / 'sales.sqlite')}"
    seen = []

    def execute(job, capture):
        seen.append(job.parameters["source"])
        from nbformat.v4 import new_code_cell, new_notebook
        from papermill.exceptions import PapermillExecutionError

        nb = new_notebook(cells=[new_code_cell(f"source = {job.parameters['source']!r}")])
        execute_module._memory_notebooks().saved[capture] = nbformat.writes(nb)
        raise PapermillExecutionError(
            cell_index=0,
            exec_count=1,
            source="",
            ename="OperationalError",
            evalue=f"cannot open {job.parameters['source']}",
            traceback=[f"OperationalError: cannot open {job.parameters['source']}"],
        )

    monkeypatch.setattr(execute_module, "_execute", execute)
    monkeypatch.setattr(report_module, "_require_kernel", lambda name: None)
    out = tmp_path / "out"
    result = report_module.run_batch(
        source, period="2025-Q1", as_of="2025-04-02", out=out, notebooks=FIXTURE_NOTEBOOKS, progress=False
    )
    assert result.counts["failed"] == len(result.reports) > 0
    assert seen and all(secret in s for s in seen)  # the kernel gets the real URL
    written = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".ipynb" for p in written) and any(p.name == "manifest.json" for p in written)
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert secret not in text, path
    kept = next(p for p in written if p.suffix == ".ipynb").read_text(encoding="utf-8")
    assert "sqlite://ann:***@/" in kept


# -- output paths cannot leave the output folder --------------------------------------------------

HOSTILE_IDS = [
    "../../etc/x",
    "/abs/path",
    "..",
    ".",
    "...",
    "CON",
    "con.txt",
    "NUL",
    "AUX",
    "LPT1",
    "COM1.html",
    "x" * 300,
    "Zoë/🙂",
    "a\nb",
    "tab\tid",
    "\u2400null",
    "a\x01b",
    "C:\\Windows\\system32",
    "%2e%2e%2f",
    "~root",
    "$HOME",
    ".hidden",
    "index",
    "data_quality",
    "../index.html",
    "reps/../../x",
    "/dev/null",
    "\\\\server\\share",
    "-rf",
]
HOSTILE_TEAMS = ["../../teams", "/etc", "..", "NUL", "Zoë/🙂 team"]


def test_no_rep_id_or_team_can_write_outside_the_output_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(execute_module, "_execute", _fake_execute)
    monkeypatch.setattr(report_module, "_require_kernel", lambda name: None)
    reps = [
        {"rep_id": rep_id, "name": f"Rep {i}", "territory": "North", "team": HOSTILE_TEAMS[i % len(HOSTILE_TEAMS)]}
        for i, rep_id in enumerate(HOSTILE_IDS)
    ]
    write_csv(tmp_path / "src" / "reps.csv", reps)
    write_csv(
        tmp_path / "src" / "opportunities.csv",
        [
            {
                "opportunity_id": f"O{i}",
                "rep_id": r["rep_id"],
                "customer_id": "",
                "created_date": "2026-01-10",
                "closed_date": "",
                "status": "open",
                "amount": 10,
            }
            for i, r in enumerate(reps)
        ],
    )
    out = tmp_path / "deep" / "out"
    result = report_module.run_batch(tmp_path / "src", period="2026-Q1", as_of="2026-04-02", out=out, notebooks=FIXTURE_NOTEBOOKS)
    root = out.resolve()
    reported = {r["key"] for r in result.reports if r["kind"] == "rep_coaching"}
    assert len(reported) >= len(HOSTILE_IDS) - 2, reported  # (the loader may trim or refuse one or two)
    assert {r["key"] for r in result.reports if r["kind"] == "team_overview"} == set(HOSTILE_TEAMS)
    assert result.counts["failed"] == 0
    for entry in result.reports:
        path = (root / entry["html"]).resolve()
        folder = {"rep_coaching": root / "reps", "team_overview": root / "teams", "data_quality": root}[entry["kind"]]
        assert path.parent == folder and path.is_file(), entry["html"]
        assert path.name.isascii() and len(path.name) <= 60 and not path.name.startswith((".", "-"))
        assert path.name not in ("index.html", "manifest.json")
    # nothing anywhere but the source and the output folder; nothing outside the tmp folder either
    outside = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {p for p in outside if not p.startswith(("src/", "deep/out/"))} == set()
    assert all(not p.is_symlink() for p in tmp_path.rglob("*"))
    assert not Path("/etc/x").exists() and not Path("/abs/path.html").exists()


# -- a whole batch of real reports on hostile data ---------------------------------------------------

# Each rep's id and name carry markup and a marker found nowhere else (alert(1N), a surname).
HOSTILE_REP_IDS = {
    "R01": 'R1"><svg onload=alert(11)>',
    "R02": "../../etc/passwd<b>alert(12)</b>",
    "R03": "=R3+1<script>alert(13)</script>",
}
HOSTILE_NAMES = {
    "R01": "Quillon <script>alert('x')</script> Ashgrove",
    "R02": "Barnaby <img src=x onerror=alert(1)> Thistlewood",
    "R03": 'Cordelia "><svg onload=alert(2)> Wexmoor',
}
SURNAMES = {"R01": "Ashgrove", "R02": "Thistlewood", "R03": "Wexmoor"}
TEAM = "Team <script>alert('team')</script>"
PAYLOAD = {  # text columns, value -> a marked payload
    "territory": lambda v: f"{v} <img src=x onerror=alert('territory')>",
    "customer_type": lambda v: f"{v} \"><svg onload=alert('type')>",
    "acquisition_method": lambda v: f"{v}<script>alert('method')</script>",
    "stage": lambda v: f"{v} <iframe src=javascript:alert('stage')>",
    "customer_name": lambda v: f"{v} <img src=x onerror=alert('customer')>",
    "type": lambda v: v if v in ("call", "visit") else f"{v} <script>alert('activity')</script>",
    "program": lambda v: f"{v} <svg/onload=alert('program')>",
}


def hostile_real_source(folder: Path) -> Path:
    """A small generated source (3 reps, 4 months) whose every text field is rewritten with markup."""
    from salesnb.io.sample import generate

    generate(folder, seed=11, reps=3, months=4, end="2025-12-31")
    tables = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in folder.glob("*.csv")}
    for name, frame in tables.items():
        if "rep_id" in frame:
            frame["rep_id"] = frame["rep_id"].map(lambda v: HOSTILE_REP_IDS.get(v, v))
        for column in ("territory", "customer_type", "acquisition_method", "stage", "program"):
            if column in frame:
                frame[column] = frame[column].map(lambda v, c=column: PAYLOAD[c](v) if v else v)
        if name == "activities":
            frame["type"] = frame["type"].map(PAYLOAD["type"])
    reps = tables["reps"]
    reps["name"] = reps["rep_id"].map({v: HOSTILE_NAMES[k] for k, v in HOSTILE_REP_IDS.items()})
    reps["team"] = TEAM
    tables["customers"]["name"] = tables["customers"]["name"].map(PAYLOAD["customer_name"])
    first = HOSTILE_REP_IDS["R01"]
    tables["training"] = pd.DataFrame(
        [
            {
                "rep_id": first,
                "program": PAYLOAD["program"]("Consultative Selling"),
                "start_date": "2025-10-01",
                "end_date": "2025-10-15",
            }
        ]
    )
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / "expectations.yml").unlink(missing_ok=True)  # its team overrides name the old teams
    return folder


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    source = hostile_real_source(root / "src")
    out = root / "out"
    result = run_cli(
        source, "--period", "2025-Q4", "--as-of", "2026-01-05", "--out", out, "--notebooks", REAL_NOTEBOOKS, "--jobs", "2"
    )
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {"out": out, "result": result, "manifest": manifest}


class _Tags(html.parser.HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def active_markup(page: str) -> list[str]:
    """Tags and attributes that would run or load something: what data must never become."""
    parser = _Tags()
    parser.feed(page)
    found = []
    for tag, attrs in parser.tags:
        if tag in ("script", "svg", "iframe", "object", "embed", "frame", "math", "base", "form"):
            found.append(tag)
        for name, value in attrs.items():
            if name.startswith("on") or "javascript:" in (value or "").lower():
                found.append(f"{tag} {name}={value!r}")
        if tag == "img" and not (attrs.get("src") or "").startswith("data:image/"):
            found.append(f"img src={attrs.get('src')!r}")
    return found


@pytest.mark.slow
def test_hostile_batch_renders_every_report(hostile_batch):
    manifest = hostile_batch["manifest"]
    failed = [(r["id"], r["error"]) for r in manifest["reports"] if r["status"] != "ok"]
    assert failed == [] and hostile_batch["result"].exit_code == 0, failed
    assert {r["key"] for r in manifest["reports"] if r["kind"] == "rep_coaching"} == set(HOSTILE_REP_IDS.values())
    assert [r["key"] for r in manifest["reports"] if r["kind"] == "team_overview"] == [TEAM]


@pytest.mark.slow
def test_no_markup_from_the_data_is_left_unescaped_in_any_page(hostile_batch):
    out = hostile_batch["out"]
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == len(hostile_batch["manifest"]["reports"]) + 1  # and the index
    seen = set()
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert active_markup(text) == [], page.relative_to(out)
        lowered = text.lower()
        for raw in ("<script", "<svg", "<iframe", "<img src=x"):  # as markup (as text they are escaped)
            assert raw not in lowered, (page.relative_to(out), raw)
        shown = html.unescape(text)  # what a reader sees: the payloads, as text
        seen |= {
            marker
            for marker in (
                "alert('territory')",
                "alert('type')",
                "alert('method')",
                "alert('stage')",
                "alert('customer')",
                "alert('team')",
                "alert('x')",
                "alert(11)",
            )
            if marker in shown
        }
    # the markup did reach the pages (as text): the scan above had something to find
    assert {"alert('team')", "alert('x')", "alert(11)", "alert('territory')"} <= seen, seen


@pytest.mark.slow
def test_a_rep_report_names_no_other_rep(hostile_batch):
    out, manifest = hostile_batch["out"], hostile_batch["manifest"]
    by_id = {v: k for k, v in HOSTILE_REP_IDS.items()}
    reports = [r for r in manifest["reports"] if r["kind"] == "rep_coaching"]
    assert len(reports) == 3
    for entry in reports:
        own = by_id[entry["key"]]
        text = (out / entry["html"]).read_text(encoding="utf-8")
        shown = html.unescape(text)
        assert SURNAMES[own] in shown and HOSTILE_NAMES[own] in shown  # its own rep, escaped but whole
        for other in HOSTILE_REP_IDS:
            if other == own:
                continue
            for marker in (
                HOSTILE_REP_IDS[other],
                HOSTILE_NAMES[other],
                SURNAMES[other],
                HOSTILE_NAMES[other].split()[0],
                f"alert({10 + int(other[-1])})",
            ):
                assert marker not in shown and marker not in text, (own, other, marker)
    # and the manager's pages do name every rep (the scan would find a leak)
    team = (out / next(r for r in manifest["reports"] if r["kind"] == "team_overview")["html"]).read_text("utf-8")
    assert all(SURNAMES[rep] in html.unescape(team) for rep in SURNAMES)
