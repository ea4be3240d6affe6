"""salesnb against a real PostgreSQL server, started by these tests (no mock).

A throwaway cluster (initdb + pg_ctl in a temporary folder, on a free port on
127.0.0.1, password authentication) is filled with the bundled sample in
typed tables (dates as ``date``, amounts as ``numeric``), then:

- ``salesnb.load`` from the ``postgresql://`` URL gives the very frames the CSV
  folder gives, and the same metrics (quota, attainment and coverage too: a
  server has no folder for ``expectations.yml``, so it is passed to ``load``);
- salesnb's connection is read-only: a write through it fails;
- the password never shows: not in errors, the manifest, the pages, or what
  ``salesnb validate`` and ``salesnb schedule`` print.

Needs Debian's ``postgresql`` (``make postgres-deps``) and the ``postgres``
extra (psycopg 3; ``make setup`` installs it). Run as root (CI), the server
runs as the ``postgres`` user: PostgreSQL refuses to run as root. Without the
server programs the tests skip, unless ``SALESNB_REQUIRE_POSTGRES=1`` (set by
``.ci/run``): then they fail.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
from click.testing import CliRunner

import salesnb
from salesnb.analysis.metrics import metrics_table
from salesnb.cli import cli
from salesnb.errors import DataError
from salesnb.io.schema import AMOUNT, DATE, TABLES
from salesnb.io.sources import open_source

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
USER = "sales_ro"
PASSWORD = "s3cret Pg%w0rd"  # a space and a '%': written percent-encoded in the URL
SECRETS = (PASSWORD, quote(PASSWORD, safe=""))


def _unavailable(reason: str):
    if os.environ.get("SALESNB_REQUIRE_POSTGRES"):
        pytest.fail(f"SALESNB_REQUIRE_POSTGRES is set but {reason}: run `make postgres-deps` and `make setup`")
    pytest.skip(f"{reason} (make postgres-deps installs Debian's postgresql)")


def _server_programs() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_TIMESTAMPS = {("opportunity_history", "changed_at")}  # the sample writes it with the time of day


def _sql_type(table: str, column: str) -> str:
    if (table, column) in _TIMESTAMPS:
        return "timestamp"
    kind = TABLES[table].column(column).kind
    return {DATE: "date", AMOUNT: "numeric"}.get(kind, "text")


@pytest.fixture(scope="module")
def server():
    """A running throwaway cluster holding the sample in database ``sales``; yields its URL."""
    bindir = _server_programs()
    if bindir is None:
        _unavailable("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    try:
        import psycopg
    except ImportError:
        _unavailable("the psycopg driver is not installed (the postgres extra)")
    folder = Path(tempfile.mkdtemp(prefix="salesnb-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root: run the server as the postgres user
        import pwd

        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no postgres user to run the server as")
        os.chown(folder, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    pwfile = folder / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if run_as:
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    data, port = folder / "data", _free_port()

    def run(*argv):
        done = subprocess.run(run_as + [str(bindir / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    run("initdb", "-D", str(data), "-U", USER, f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    run("pg_ctl", "-D", str(data), "-l", str(folder / "log"), "-o", options, "-w", "-t", "60", "start")
    try:
        admin = dict(host="127.0.0.1", port=port, user=USER, password=PASSWORD)
        with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
            conn.execute("CREATE DATABASE sales")
        with psycopg.connect(dbname="sales", **admin) as conn:
            for csv in sorted(SAMPLE.glob("*.csv")):
                table = csv.stem
                header = csv.read_text(encoding="utf-8").splitlines()[0].split(",")
                columns = ", ".join(f'"{c}" {_sql_type(table, c)}' for c in header)
                conn.execute(f'CREATE TABLE "{table}" ({columns})')
                with conn.cursor().copy(f'COPY "{table}" FROM STDIN (FORMAT csv, HEADER true)') as copy:
                    copy.write(csv.read_bytes())
        yield {"url": f"postgresql://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/sales", "admin": admin}
    finally:
        subprocess.run(
            run_as + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60
        )
        shutil.rmtree(folder, ignore_errors=True)


def _hidden(text: str) -> bool:
    return not any(secret in text for secret in SECRETS)


def test_the_tables_are_typed_as_a_database_holds_them(server):
    import psycopg

    with psycopg.connect(dbname="sales", **server["admin"]) as conn:
        types = dict(
            conn.execute(
                "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns WHERE table_schema = 'public'"
            ).fetchall()
        )
    assert types["opportunities.created_date"] == "date" and types["opportunities.amount"] == "numeric"
    assert types["orders.amount"] == "numeric" and types["reps.hire_date"] == "date"
    assert types["opportunities.status"] == "text"


def test_load_from_the_url_gives_the_csv_folders_frames_and_metrics(server):
    expectations = SAMPLE / "expectations.yml"
    from_csv = salesnb.load(SAMPLE)
    from_pg = salesnb.load(server["url"], expectations=expectations)
    names = [name for name in TABLES if from_csv.table(name) is not None]
    assert names == [name for name in TABLES if from_pg.table(name) is not None]
    assert {"opportunities", "reps", "activities", "customers", "orders", "forecasts", "training"} <= set(names)
    for name in names:
        pd.testing.assert_frame_equal(from_pg.table(name), from_csv.table(name), obj=name)
    assert len(from_pg.opportunities) == len(from_csv.opportunities) > 1000
    assert from_pg.problems == from_csv.problems

    for by in ("rep", "team"):
        csv_metrics = metrics_table(from_csv, by=by, period="2025", as_of="2026-01-05")
        pg_metrics = metrics_table(from_pg, by=by, period="2025", as_of="2026-01-05")
        pd.testing.assert_frame_equal(pg_metrics, csv_metrics, obj=f"metrics by {by}")
    quota = metrics_table(from_pg, by="rep", period="2025-Q4", as_of="2026-01-05").set_index("rep_id")
    # expectations.yml: 1,000,000 a year, R12 500,000: a quarter is a quarter of that
    assert quota.loc["R01", "quota"] == 250_000 and quota.loc["R12", "quota"] == 125_000
    assert quota["attainment"].notna().all() and quota["pipeline_coverage"].notna().all()


def test_salesnbs_connection_is_read_only(server):
    import psycopg

    source = open_source(server["url"])
    try:
        connection = source._connect()
        for statement in ("INSERT INTO reps (rep_id, name) VALUES ('R99', 'Intruder')", "CREATE TABLE planted (a int)"):
            with pytest.raises(Exception, match="read-only transaction"):
                connection.exec_driver_sql(statement)
            connection.rollback()
    finally:
        source.close()
    with psycopg.connect(dbname="sales", **server["admin"]) as conn:
        assert conn.execute("SELECT count(*) FROM reps WHERE rep_id = 'R99'").fetchone() == (0,)
        assert conn.execute("SELECT to_regclass('planted')").fetchone() == (None,)


def test_the_password_never_shows(server, tmp_path):
    url = server["url"]
    masked = url.replace(quote(PASSWORD, safe=""), "***")
    # an error naming the source: a mapping that points at a table the database lacks
    mapping = tmp_path / "mapping.yml"
    mapping.write_text("tables:\n  reps:\n    table: staff\n")
    with pytest.raises(DataError) as raised:
        salesnb.load(url, mapping)
    assert masked in str(raised.value) and _hidden(str(raised.value))
    # the driver's own error for a wrong password
    wrong = url.replace(quote(PASSWORD, safe=""), quote(PASSWORD + "x", safe=""))
    with pytest.raises(DataError) as refused:
        salesnb.load(wrong)
    assert "password authentication failed" in str(refused.value) and _hidden(str(refused.value)), str(refused.value)

    runner = CliRunner()
    validated = runner.invoke(cli, ["validate", url])
    assert validated.exit_code == 0, validated.output
    assert masked in validated.output and _hidden(validated.output)
    scheduled = runner.invoke(cli, ["schedule", "--cadence", "weekly", "--source", url, "--out", str(tmp_path / "s")])
    assert scheduled.exit_code == 0 and masked in scheduled.stdout and _hidden(scheduled.output)


@pytest.mark.slow
def test_a_report_from_the_url_shows_no_password(server, tmp_path):
    """One rep's page rendered from the server: the manifest names the source masked;
    no page, index or log holds the password."""
    url = server["url"]
    masked = url.replace(quote(PASSWORD, safe=""), "***")
    out = tmp_path / "reports"
    argv = ["report", url, "--period", "2025-Q4", "--as-of", "2026-01-05", "--out", str(out), "--rep", "R01"]
    done = subprocess.run(
        [str(Path(sys.executable).parent / "salesnb"), *argv],  # the real notebooks: they load the URL
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _hidden(done.stdout + done.stderr)
    written = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in written) and any(p.suffix == ".html" for p in written)
    manifest = (out / "manifest.json").read_text(encoding="utf-8")
    assert masked in manifest
    for page in written:
        assert _hidden(page.read_bytes().decode("utf-8", "replace")), page


def test_a_bare_postgresql_url_uses_psycopg_3_when_psycopg2_is_missing(monkeypatch):
    """SQLAlchemy 2.0 takes psycopg2 for postgresql://; the postgres extra installs psycopg 3."""
    import importlib.util

    from salesnb.io import databases

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "psycopg2" else real(name, *a))
    url = databases._with_installed_driver("postgresql://ann:p%40ss@db:5433/crm?sslmode=require")
    assert url.render_as_string(hide_password=False) == "postgresql+psycopg://ann:p%40ss@db:5433/crm?sslmode=require"
    assert databases._with_installed_driver("postgresql+psycopg2://h/db") == "postgresql+psycopg2://h/db"
    assert databases._with_installed_driver("mysql://h/db") == "mysql://h/db"
