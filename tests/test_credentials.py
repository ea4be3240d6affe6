"""A database URL's credentials never reach an output (issue #13, item 2).

The unit cases state each URL and its masked form by hand; the end-to-end
cases run the real ``salesnb`` on a SQLite file given by a URL carrying
``?password=...`` and read every file and stream it wrote.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import salesnb
from salesnb.cli import cli
from salesnb.errors import DataError
from salesnb.io import urls

SALESNB = Path(sys.executable).parent / "salesnb"


@pytest.mark.parametrize(
    "url, masked",
    [
        # a password in the query string, of a file database and of a server
        ("sqlite:////data/sales.sqlite?password=hunter2", "sqlite:////data/sales.sqlite?password=***"),
        ("postgresql://h/db?password=hunter2&sslmode=require", "postgresql://h/db?password=***&sslmode=require"),
        # every sensitive key, whatever its case; other keys kept
        (
            "snowflake://acct/db?PWD=a1&pass=a2&Token=a3&client_secret=a4&api_key=a5&role=sales",
            "snowflake://acct/db?PWD=***&pass=***&Token=***&client_secret=***&api_key=***&role=sales",
        ),
        ("duckdb:///x.duckdb?motherduck_token=a6", "duckdb:///x.duckdb?motherduck_token=***"),
        # a password with a space, with an '@', with a '/', percent-encoded
        ("postgresql://ann:my secret@h/db", "postgresql://ann:***@h/db"),
        ("postgresql://ann:p@ss@h/db", "postgresql://ann:***@h/db"),
        ("postgresql://ann:pa/ss@h:5432/db", "postgresql://ann:***@h:5432/db"),
        ("postgresql://ann:p%40ss@h/db", "postgresql://ann:***@h/db"),
        ("sqlite://ann:s3cret@//tmp/x.sqlite", "sqlite://ann:***@//tmp/x.sqlite"),
        # a connection string inside a query value
        ("mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC%7D%3BPWD%3Dhunter2", "mssql+pyodbc:///?odbc_connect=***"),
        # nothing secret: kept exactly as written
        ("duckdb:///:memory:", "duckdb:///:memory:"),
        ("sqlite:///relative dir/sales.db?timeout=5", "sqlite:///relative dir/sales.db?timeout=5"),
        ("/home/ann/sales folder", "/home/ann/sales folder"),
        # URLs SQLAlchemy cannot parse: user info, a port that is no number and the query are hidden whole
        ("postgresql+psycopg2://ann:hunter2@h:notaport/db", "postgresql+psycopg2://***@h:***/db"),
        ("my db://ann:hunter2@h/db?token=t1", "my db://***@h/db?***"),
        ("postgresql://ann:hunter2", "postgresql://ann:***"),
    ],
)
def test_mask_url(url, masked):
    assert urls.mask_url(url) == masked
    assert urls.mask_url(masked) == masked  # masking twice changes nothing


@pytest.mark.parametrize(
    "url, secret",
    [
        ("postgresql://ann:my secret@h/db", "my secret"),
        ("postgresql://ann:p%40ss@h/db", "p@ss"),
        ("my db://ann:hunter2@h/db?token=t1", "hunter2"),
        ("sqlite:////data/sales.sqlite?password=hunter2", "hunter2"),
    ],
)
def test_mask_text_hides_a_secret_quoted_alone(url, secret):
    """A driver may quote the password without the URL around it, decoded or JSON-escaped."""
    text = f'connect {url} failed: bad password "{secret}" for ann\n{json.dumps({"source": url})}'
    masked = urls.mask_text(text, url)
    assert secret not in masked and secret.replace("@", "%40") not in masked
    assert masked.startswith(f'connect {urls.mask_url(url)} failed: bad password "***" for ann')


def test_mask_text_finds_urls_it_was_not_told_about():
    text = "see http://example.com/a, and (postgresql://a:hunter2@h/x?token=zz)."
    assert urls.mask_text(text) == "see http://example.com/a, and (postgresql://a:***@h/x?token=***)."


def test_a_source_opened_in_this_process_is_masked_in_any_later_message():
    url = "postgresql://ann:rememb3red pw@127.0.0.1:1/crm"
    with pytest.raises(DataError) as raised:
        salesnb.load(url)
    assert "rememb3red" not in str(raised.value)
    assert str(raised.value).startswith("postgresql://ann:***@127.0.0.1:1/crm: cannot connect to the database")
    assert urls.mask_text("the server said: rememb3red pw is wrong") == "the server said: *** is wrong"


def _make_sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE reps (rep_id TEXT, name TEXT, territory TEXT, team TEXT)")
        db.execute(
            "CREATE TABLE opportunities (opportunity_id TEXT, rep_id TEXT, created_date TEXT, closed_date TEXT, "
            "status TEXT, amount REAL)"
        )
        db.executemany("INSERT INTO reps VALUES (?, ?, ?, ?)", [("R1", "Ann", "North", "A"), ("R2", "Bob", "South", "A")])
        db.executemany(
            "INSERT INTO opportunities VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("O1", "R1", "2026-01-05", "2026-02-01", "won", 100.0),
                ("O2", "R2", "2026-01-06", "2026-02-03", "lost", 50.0),
                ("O3", "R1", "2026-01-07", None, "open", 70.0),
                ("O4", "R2", "2026-01-07", "2026-01-01", "won", 70.0),  # closed before created: set aside, listed by file
            ],
        )
    db.close()
    return path


SECRET = "Hunter2-secret"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SALESNB), *args], capture_output=True, text=True, timeout=300)


def test_validate_and_metrics_by_url_never_print_the_password(tmp_path):
    path = _make_sqlite(tmp_path / "sales.sqlite")
    source = f"sqlite:///{path}?password={SECRET}"
    shown = f"sqlite:///{path}?password=***"
    result = CliRunner().invoke(cli, ["validate", source])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert f"Source: {shown}\n" in result.stdout
    assert f"[error] {shown} table opportunities, row 4, column 'closed_date'" in result.stdout
    result = CliRunner().invoke(cli, ["metrics", source, "--by", "rep"])
    assert result.exit_code == 0 and SECRET not in result.output
    assert f"run `salesnb validate {shown}` to see them" in result.output
    missing = f"sqlite:///{tmp_path}/nope/sales.sqlite?password={SECRET}"
    result = CliRunner().invoke(cli, ["validate", missing])
    assert result.exit_code == 1 and SECRET not in result.output
    assert result.stderr.startswith(f"error: sqlite:///{tmp_path}/nope/sales.sqlite?password=***: cannot connect to the database")


def test_a_password_with_a_space_is_hidden_from_the_error(tmp_path):
    result = _run("validate", "postgresql://ann:my Hunter2@127.0.0.1:1/crm?sslpassword=Hunter3")
    assert result.returncode == 1, result.stderr
    assert "Hunter2" not in result.stderr + result.stdout and "Hunter3" not in result.stderr + result.stdout
    assert result.stderr.startswith("error: postgresql://ann:***@127.0.0.1:1/crm?sslpassword=***: cannot connect to the database")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_report_by_url_never_writes_or_prints_the_password(tmp_path):
    path = _make_sqlite(tmp_path / "sales.sqlite")
    source = f"sqlite:///{path}?password={SECRET}"
    shown = f"sqlite:///{path}?password=***"
    out = tmp_path / "out"
    result = _run("report", source, "--period", "2026-Q1", "--as-of", "2026-04-01", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    written = {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file()}
    assert {"index.html", "manifest.json", "data_quality.html"} <= set(written)
    for name, text in written.items():
        assert SECRET not in text, name
    manifest = json.loads(written["manifest.json"])
    assert manifest["source"] == shown
    assert {r["parameters"]["source"] for r in manifest["reports"]} == {shown}
    assert f"Data: {shown} (fingerprint" in written["index.html"]
    assert f"{shown} table opportunities" in written["data_quality.html"]
