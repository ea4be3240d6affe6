"""salesnb deliver: who reads what, and a real SMTP server (aiosmtpd, on a free
local port) proving each reader gets their own pages and nothing else.

The batch is a fake one (a manifest and small HTML pages with a style sheet
and a PNG chart): the delivery, not the rendering, is under test. Each rep's
page holds their name, id and a revenue figure no other page holds."""

from __future__ import annotations

import base64
import csv
import email
import email.policy
import json
import socket
from pathlib import Path

import pytest
from batches import FIXTURE_NOTEBOOKS, fake_execute, write_source
from click.testing import CliRunner

import salesnb
import salesnb.run.batch as report_module
import salesnb.run.deliver as deliver_module
import salesnb.run.execute as execute_module
from salesnb.cli import cli
from salesnb.errors import InputError
from salesnb.run.deliver import SEND_LOG, parse_smtp_url, plan_delivery, smtp_credentials
from salesnb.run.mail import MessageTooLarge, build_message
from salesnb.run.recipients import INDEX_ENTRY, RepContact, Withheld, readers_for

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")

# rep_id, name, team, email, manager_email, revenue figure on their page, batch status
REPS = [
    ("R01", "Ann Lee", "North", "ann@example.com", "", "111,111", "ok"),
    ("R02", "Bob Stone", "North", "Bob@Example.com", "", "222,222", "ok"),
    ("R03", "Cy Young", "South", "cy@example.com", "sam@example.com", "333,333", "ok"),
    ("R04", "Dee Fail", "South", "dee@example.com", "", "444,444", "failed"),
]
# A 1x1 red PNG: the chart every page embeds as a data: image.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC")
STYLE = "<style>h1 { color: #0072b2; } td.figure { font-weight: bold; }</style>"


def _page(title: str, body: str) -> str:
    chart = f'<img alt="Win rate by quarter" src="data:image/png;base64,{base64.b64encode(PNG).decode()}">'
    return f"<!DOCTYPE html><html><head><title>{title}</title>{STYLE}</head><body><h1>{title}</h1>{body}{chart}</body></html>"


@pytest.fixture
def batch(tmp_path) -> Path:
    """A batch folder: manifest, one page per ok rep, a team page per team, data quality, index."""
    source = tmp_path / "src"
    source.mkdir()
    with open(source / "reps.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rep_id", "name", "territory", "team", "email", "manager_email"])
        for rep_id, name, team, address, manager, _, _ in REPS:
            writer.writerow([rep_id, name, "T", team, address, manager])
    (source / "opportunities.csv").write_text(
        "opportunity_id,rep_id,created_date,status\n" + "".join(f"O{i},{r[0]},2025-01-10,open\n" for i, r in enumerate(REPS)),
        encoding="utf-8",
    )
    out = tmp_path / "batch"
    (out / "reps").mkdir(parents=True)
    (out / "teams").mkdir()
    reports = [{"kind": "data_quality", "key": None, "label": "all reps", "html": "data_quality.html", "status": "ok"}]
    (out / "data_quality.html").write_text(_page("Data quality, 2025", "<p>2 rows set aside</p>"), encoding="utf-8")
    for team, members in (("North", "R01 R02"), ("South", "R03 R04")):
        html = f"teams/{team.lower()}.html"
        (out / html).write_text(_page(f"Team overview: {team}", f"<p>reps {members}</p>"), encoding="utf-8")
        reports.append({"kind": "team_overview", "key": team, "label": team, "html": html, "status": "ok"})
    for rep_id, name, _, _, _, figure, status in REPS:
        html = f"reps/{rep_id.lower()}.html" if status == "ok" else None
        if html:
            body = f'<table><tr><td>Revenue won</td><td class="figure">{figure}</td></tr></table>'
            (out / html).write_text(_page(f"Coaching report: {name} ({rep_id})", body), encoding="utf-8")
        reports.append({"kind": "rep_coaching", "key": rep_id, "label": f"{name} ({rep_id})", "html": html, "status": status})
    (out / "index.html").write_text(_page("Index", "<p>every rep</p>"), encoding="utf-8")
    manifest = {"period": {"label": "2025"}, "source": str(source), "mapping": None, "ended": "t", "reports": reports}
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    """An aiosmtpd handler keeping every message it accepts; ``refuse`` addresses get a 451 (try later)."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_DATA(self, server, session, envelope):
        if any(r.casefold() in self.refuse for r in envelope.rcpt_tos):
            return "451 try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    port = _free_port()
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{port}"
    yield inbox
    controller.stop()


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(deliver_module.time, "sleep", lambda seconds: None)
    for name in ("SALESNB_SMTP_USER", "SALESNB_SMTP_PASSWORD", "SALESNB_MAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    real = deliver_module.smtp_credentials  # never the tester's own ~/.netrc
    monkeypatch.setattr(
        deliver_module, "smtp_credentials", lambda target, env=None, netrc_file=None: real(target, env, "/dev/null")
    )


def _deliver(*args, **kwargs):
    return CliRunner().invoke(cli, ["deliver", *map(str, args)], **kwargs)


def _recipients(tmp_path, text: str) -> Path:
    path = tmp_path / "recipients.yml"
    path.write_text(text, encoding="utf-8")
    return path


def _texts(message) -> list[str]:
    """Every text part of a message, decoded (the HTML body, the plain text, the attached pages)."""
    return [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]


def _by_recipient(messages) -> dict[str, list]:
    found: dict[str, list] = {}
    for message in messages:
        found.setdefault(str(message["To"]).casefold(), []).append(message)
    return found


# -- who reads what: the rule, by hand ---------------------------------------------------


def _entry(kind, key, status="ok"):
    html = None if status != "ok" else f"{kind}/{key}.html"
    return {"kind": kind, "key": key, "label": f"{key}", "html": html, "status": status}


def test_readers_for_gives_reps_their_own_managers_their_team_and_analysts_the_index():
    reports = [
        _entry("data_quality", None),
        _entry("team_overview", "North"),
        _entry("team_overview", "South"),
        _entry("rep_coaching", "R01"),
        _entry("rep_coaching", "R02"),
        _entry("rep_coaching", "R03"),
        _entry("rep_coaching", "R04", status="failed"),
        _entry("rep_coaching", "R05"),
        _entry("forecast_review", None),
    ]
    contacts = {
        "R01": RepContact("R01", team="North", email="ann@x.com"),
        "R02": RepContact("R02", team="north", email="bob@x.com"),  # a team spelled another way
        "R03": RepContact("R03", team="South", email="cy@x.com", manager_email="sam@x.com"),
        "R04": RepContact("R04", team="South", email="dee@x.com", manager_email="sam@x.com"),
        "R05": RepContact("R05", team="West"),
    }
    readers, unread = readers_for(reports, contacts, managers={"North": ["Nora@x.com"]}, analysts=["nora@X.com", "ana@x.com"])
    got = {r.address: ([(p["kind"], p["key"]) for p in r.pages], r.roles) for r in readers}
    assert got == {
        "ana@x.com": ([("index", None), ("data_quality", None), ("forecast_review", None)], ["analyst"]),
        "ann@x.com": ([("rep_coaching", "R01")], ["rep R01"]),
        "bob@x.com": ([("rep_coaching", "R02")], ["rep R02"]),
        "cy@x.com": ([("rep_coaching", "R03")], ["rep R03"]),
        "dee@x.com": ([], ["rep R04"]),
        # one address, two roles, one reader: the index first, then the team, its reps, the analysis pages
        "Nora@x.com": (
            [
                ("index", None),
                ("team_overview", "North"),
                ("rep_coaching", "R01"),
                ("rep_coaching", "R02"),
                ("data_quality", None),
                ("forecast_review", None),
            ],
            ["manager of North", "analyst"],
        ),
        # not the data-quality page: it lists every rep's flags, and sam manages only South
        "sam@x.com": ([("team_overview", "South"), ("rep_coaching", "R03")], ["manager of South"]),
    }
    by_address = {r.address: r for r in readers}
    assert by_address["dee@x.com"].withheld == [Withheld("R04", "it failed in the batch")]
    assert by_address["sam@x.com"].withheld == [
        Withheld("R04", "it failed in the batch"),
        Withheld("Data quality: None", "it names reps outside their team (their own reps' data checks are in the team page)"),
    ]
    assert by_address["ana@x.com"].pages[0] is INDEX_ENTRY
    assert unread == [Withheld("R05", "no address for the rep or a manager")]
    # a manager of every rep in the batch gets the data-quality page
    north_only = [reports[0], reports[1], reports[3], reports[4]]
    nora = next(r for r in readers_for(north_only, contacts, managers={"North": ["nora@x.com"]})[0] if r.address == "nora@x.com")
    assert [(p["kind"], p["key"]) for p in nora.pages] == [
        ("team_overview", "North"),
        ("rep_coaching", "R01"),
        ("rep_coaching", "R02"),
        ("data_quality", None),
    ]


# -- by mail, to a real SMTP server -------------------------------------------------------


def test_every_rep_receives_exactly_their_own_report_and_nothing_of_another_rep(batch, smtp_server):
    result = _deliver(batch, "--smtp", smtp_server.url)
    assert result.exit_code == 0, result.output  # R04's page failed in the batch (which exited 1): said, and not sent
    assert "dee@example.com (rep R04): not sent: Dee Fail (R04): it failed in the batch" in result.stderr
    inbox = _by_recipient(smtp_server.messages)
    assert sorted(inbox) == ["ann@example.com", "bob@example.com", "cy@example.com", "sam@example.com"]
    for rep_id, name, _, address, _, figure, _ in REPS[:3]:
        [message] = inbox[address.casefold()]
        attached = [part.get_filename() for part in message.iter_attachments()]
        assert attached == [f"{rep_id.lower()}.html"]
        everything = "\n".join(_texts(message)) + str(message["Subject"])
        assert name in everything and figure in everything and rep_id in everything
        for other_id, other_name, _, _, _, other_figure, _ in REPS:
            if other_id != rep_id:
                assert other_id not in everything and other_name not in everything and other_figure not in everything
    # rep R03's message reads well in a mail client: inlined CSS, the chart as a cid: part, a text alternative
    [message] = inbox["cy@example.com"]
    html = message.get_body(("html",)).get_content()
    assert "<style" not in html and "data:image" not in html
    assert 'style="color: #0072b2;"' in html and 'class="figure" style="font-weight: bold;"' in html
    [image] = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert image.get_content() == PNG and f'src="cid:{image["Content-ID"].strip("<>")}"' in html
    plain = message.get_body(("plain",)).get_content()
    assert "Coaching report: Cy Young (R03)" in plain and "Revenue won" in plain and "333,333" in plain
    assert "<td" not in plain and "color:" not in plain
    assert str(message["Subject"]) == "Coaching report: Cy Young (R03), 2025"


def test_a_manager_gets_the_team_page_and_their_reps_reports_only(batch, smtp_server, tmp_path):
    recipients = _recipients(tmp_path, "managers:\n  North: nora@example.com\nreps:\n  R02: {email: bob@example.com}\n")
    result = _deliver(batch, "--smtp", smtp_server.url, "--recipients", recipients)
    assert result.exit_code == 0, result.output
    [message] = _by_recipient(smtp_server.messages)["nora@example.com"]
    assert str(message["Subject"]) == "Team overview: North, 2025 (+2 attached)"
    assert "Team overview: North" in message.get_body(("html",)).get_content()
    assert [p.get_filename() for p in message.iter_attachments()] == ["north.html", "r01.html", "r02.html"]
    everything = "\n".join(_texts(message))
    assert "Ann Lee" in everything and "Bob Stone" in everything
    for absent in ("Cy Young", "R03", "333,333", "Dee Fail", "444,444"):  # the other team's reps
        assert absent not in everything
    assert len(_by_recipient(smtp_server.messages)["bob@example.com"]) == 1  # recipients.yml overrides Bob@Example.com


def test_a_stopped_server_is_a_clear_error_and_the_rerun_sends_only_what_was_not_sent(batch, smtp_server):
    stopped = f"smtp://127.0.0.1:{_free_port()}"
    result = _deliver(batch, "--smtp", stopped)
    assert result.exit_code == 1
    assert f"failed: ann@example.com: cannot reach the mail server {stopped}: connection refused" in result.stderr
    assert "not sent: Bob@Example.com: the mail server could not be reached" in result.stderr
    assert "0 sent, 0 already sent, 4 not sent; rerun the same command" in result.stderr
    assert not (batch / SEND_LOG).exists()

    smtp_server.refuse = {"cy@example.com"}  # the server says "try later" for one message
    result = _deliver(batch, "--smtp", smtp_server.url)
    assert result.exit_code == 1
    assert "failed: cy@example.com: the mail server smtp://127.0.0.1:" in result.stderr
    assert "answered 451: try again later after 3 attempts" in result.stderr
    assert sorted(str(m["To"]) for m in smtp_server.messages) == ["Bob@Example.com", "ann@example.com", "sam@example.com"]
    log = json.loads((batch / SEND_LOG).read_text(encoding="utf-8"))["sent"]
    assert sorted(log) == ["ann@example.com", "bob@example.com", "sam@example.com"]

    smtp_server.refuse = set()
    smtp_server.messages.clear()
    result = _deliver(batch, "--smtp", smtp_server.url)
    assert [str(m["To"]) for m in smtp_server.messages] == ["cy@example.com"]  # only what was not sent
    assert "already sent: ann@example.com" in result.stdout and "sent: cy@example.com: 1 page" in result.stdout
    assert "1 sent, 3 already sent, 0 not sent" in result.stdout


def test_dry_run_prints_who_gets_which_pages_and_sends_nothing(batch, smtp_server, tmp_path):
    recipients = _recipients(tmp_path, "analysts: [ana@example.com]\nfrom: reports@example.com\n")
    result = _deliver(batch, "--smtp", smtp_server.url, "--recipients", recipients, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "ana@example.com (analyst): Queue: every rep by stake, the batch's index (index.html); Data quality: all reps (data_quality.html)",
        "ann@example.com (rep R01): Coaching report: Ann Lee (R01) (reps/r01.html)",
        "Bob@Example.com (rep R02): Coaching report: Bob Stone (R02) (reps/r02.html)",
        "cy@example.com (rep R03): Coaching report: Cy Young (R03) (reps/r03.html)",
        "dee@example.com (rep R04): not sent: Dee Fail (R04): it failed in the batch",
        "sam@example.com (manager of South): Team overview: South (teams/south.html); Coaching report: Cy Young (R03) "
        "(reps/r03.html)",
        "sam@example.com (manager of South): not sent: Data quality: all reps: it names reps outside their team (their own reps' data checks are in the team page)",
        "dry run: 5 readers would get their pages by mail from reports@example.com; nothing was sent",
    ]
    assert smtp_server.messages == [] and not (batch / SEND_LOG).exists()


# -- credentials --------------------------------------------------------------------------


def test_a_password_in_the_smtp_url_is_refused_and_never_printed(batch, smtp_server):
    result = _deliver(batch, "--smtp", "smtp://mailer:hunter2@127.0.0.1:25", "--dry-run")
    assert result.exit_code == 1
    assert "holds a password" in result.stderr and "SALESNB_SMTP_PASSWORD" in result.stderr
    assert "hunter2" not in result.output
    assert smtp_server.messages == []


def test_a_password_is_never_sent_in_clear_text_nor_printed(batch, smtp_server, monkeypatch):
    monkeypatch.setenv("SALESNB_SMTP_USER", "mailer")
    monkeypatch.setenv("SALESNB_SMTP_PASSWORD", "hunter2")
    result = _deliver(batch, "--smtp", smtp_server.url)
    assert result.exit_code == 1
    assert "offers no encryption (no STARTTLS): salesnb will not send the password in clear text" in result.stderr
    assert "hunter2" not in result.output and smtp_server.messages == []


def test_credentials_come_from_the_environment_else_netrc(tmp_path):
    target = parse_smtp_url("smtps://mail.example.com")
    assert (target.host, target.port) == ("mail.example.com", 465)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine mail.example.com login ann password s3cret\n", encoding="utf-8")
    netrc.chmod(0o600)
    assert smtp_credentials(target, {}, netrc) == ("ann", "s3cret")
    env = {"SALESNB_SMTP_USER": "bob", "SALESNB_SMTP_PASSWORD": "env-pass"}
    assert smtp_credentials(target, env, netrc) == ("bob", "env-pass")
    assert smtp_credentials(parse_smtp_url("smtp://other.example.com:587"), {}, netrc) is None
    with pytest.raises(InputError, match="not an SMTP URL"):
        parse_smtp_url("http://mail.example.com")


# -- per-reader folders -------------------------------------------------------------------


def test_folders_hold_only_each_readers_pages_and_a_reader_who_left_loses_theirs(batch, tmp_path):
    out = tmp_path / "readers"
    result = _deliver(batch, "--folders", out)
    assert result.exit_code == 0, result.output
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files == {
        "readers.json",
        "ann@example.com/index.html",
        "ann@example.com/reps/r01.html",
        "bob@example.com/index.html",
        "bob@example.com/reps/r02.html",
        "cy@example.com/index.html",
        "cy@example.com/reps/r03.html",
        "sam@example.com/index.html",
        "sam@example.com/teams/south.html",
        "sam@example.com/reps/r03.html",
    }
    index = (out / "sam@example.com" / "index.html").read_text(encoding="utf-8")
    assert '<a href="reps/r03.html">Coaching report: Cy Young (R03)</a>' in index and "Ann Lee" not in index

    recipients = _recipients(tmp_path, "reps:\n  R01: ann.new@example.com\n")  # Ann's address changed
    assert _deliver(batch, "--folders", out, "--recipients", recipients).exit_code == 0
    assert not (out / "ann@example.com").exists()
    assert (out / "ann.new@example.com" / "reps" / "r01.html").is_file()


def test_folders_refuse_a_folder_of_someone_elses_files(batch, tmp_path):
    out = tmp_path / "elsewhere"
    out.mkdir()
    (out / "thesis.docx").write_text("mine", encoding="utf-8")
    result = _deliver(batch, "--folders", out)
    assert result.exit_code == 1 and (out / "thesis.docx").read_text(encoding="utf-8") == "mine"


def test_neither_or_both_targets_is_wrong_usage(batch, tmp_path):
    assert _deliver(batch).exit_code == 2
    assert _deliver(batch, "--smtp", "smtp://localhost", "--folders", tmp_path / "r").exit_code == 2


# -- the message's size ---------------------------------------------------------------------


def test_a_message_over_the_limit_leaves_out_the_largest_attachments_and_says_so(batch):
    pages = [({"label": "South"}, batch / "teams/south.html"), ({"label": "Cy"}, batch / "reps/r03.html")]
    (batch / "reps/r03.html").write_text(_page("Big", "<p>" + "x" * 30_000 + "</p>"), encoding="utf-8")
    whole = build_message(pages, to="a@example.com", sender="s@example.com", subject="s")
    assert whole.left_out == []
    limit = whole.size - 1000
    smaller = build_message(pages, to="a@example.com", sender="s@example.com", subject="s", max_bytes=limit)
    assert smaller.left_out == ["r03.html"] and smaller.size <= limit
    assert "Left out (the message would be over 5 MB): r03.html" in smaller.email.get_body(("plain",)).get_content()
    with pytest.raises(MessageTooLarge, match="over the"):
        build_message(pages, to="a@example.com", sender="s@example.com", subject="s", max_bytes=500)


def test_reps_email_columns_load_from_the_source(batch):
    plan = plan_delivery(batch)
    assert {r.address: r.roles for r in plan.readers}["sam@example.com"] == ["manager of South"]


def test_reps_email_is_mapped_like_any_column(tmp_path):
    source = tmp_path / "export"
    source.mkdir()
    (source / "reps.csv").write_text("rep_id,name,territory,E-mail\nR01,Ann,North, ann@example.com \n", encoding="utf-8")
    (source / "opportunities.csv").write_text(
        "opportunity_id,rep_id,created_date,status\nO1,R01,2025-01-10,open\n", encoding="utf-8"
    )
    (source / "mapping.yml").write_text("tables:\n  reps:\n    columns: {email: E-mail}\n", encoding="utf-8")
    reps = salesnb.load(source).reps
    assert reps["email"].tolist() == ["ann@example.com"] and reps["manager_email"].isna().all()


def test_report_deliver_renders_then_writes_the_reader_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(execute_module, "_execute", fake_execute)
    monkeypatch.setattr(report_module, "_require_kernel", lambda name: None)
    source = write_source(tmp_path / "src")
    readers = tmp_path / "readers"
    recipients = _recipients(
        tmp_path, f"folders: {readers}\nreps:\n  R1: ann@example.com\n  R3: carl@example.com\n  a/b: hostile@example.com\n"
    )
    args = ["report", source, "--period", "2026-Q1", "--as-of", "2026-04-02", "--out", tmp_path / "out"]
    result = CliRunner().invoke(cli, [*map(str, args), "--notebooks", str(FIXTURE_NOTEBOOKS), "--deliver", str(recipients)])
    assert result.exit_code == 1  # R3's report failed in the batch (the fixture notebook raises for it)
    assert "carl@example.com (rep R3): not sent: Carl (R3): it failed in the batch" in result.stderr
    assert "nobody: Dan (../../etc/passwd): no address for the rep or a manager" in result.stderr
    assert "2 reader folders written in" in result.stdout
    pages = {p.name.split("-")[0]: p.name for p in (tmp_path / "out" / "reps").glob("*.html")}
    assert sorted(p.relative_to(readers).as_posix() for p in readers.rglob("*.html")) == [
        "ann@example.com/index.html",
        "ann@example.com/reps/" + pages["r1"],
        "hostile@example.com/index.html",
        "hostile@example.com/reps/" + pages["a"],
    ]
    index = (readers / "hostile@example.com" / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; (a/b)" in index and "<script>" not in index


def test_a_mistake_in_recipients_yml_names_the_file_and_line(batch, tmp_path):
    bad = _recipients(tmp_path, "managers:\n  North: nora@example.com\n  South: sam at example.com\n")
    result = _deliver(batch, "--folders", tmp_path / "r", "--recipients", bad, "--dry-run")
    assert result.exit_code == 1
    assert "recipients.yml, line 3: 'sam at example.com' is not an email address" in result.stderr
    typo = _recipients(tmp_path, "manager:\n  North: nora@example.com\n")
    result = _deliver(batch, "--folders", tmp_path / "r", "--recipients", typo, "--dry-run")
    assert "recipients.yml, line 1: unknown key 'manager'" in result.stderr and result.exit_code == 1


@pytest.fixture
def tls_server(tmp_path, monkeypatch):
    """An SMTP server that demands STARTTLS and a login (mailer / s3cret), with a certificate for
    127.0.0.1 that the client trusts through SSL_CERT_FILE."""
    import shutil
    import ssl
    import subprocess

    from aiosmtpd.smtp import AuthResult

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = _Inbox()
    inbox.logins = []

    def authenticate(server, session, envelope, mechanism, auth_data):
        inbox.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"mailer", b"s3cret"), handled=False)

    port = _free_port()
    controller = aiosmtpd_controller.Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{port}"
    yield inbox
    controller.stop()


def test_credentials_from_the_environment_log_in_over_starttls_and_are_never_printed(batch, tls_server, monkeypatch):
    monkeypatch.setenv("SALESNB_SMTP_USER", "mailer")
    monkeypatch.setenv("SALESNB_SMTP_PASSWORD", "wrong")
    refused = _deliver(batch, "--smtp", tls_server.url)
    assert refused.exit_code == 1 and "refused the login: check SALESNB_SMTP_USER/SALESNB_SMTP_PASSWORD" in refused.stderr
    assert "wrong" not in refused.output and tls_server.messages == []

    monkeypatch.setenv("SALESNB_SMTP_PASSWORD", "s3cret")
    result = _deliver(batch, "--smtp", tls_server.url)
    assert result.exit_code == 0, result.output
    assert sorted(str(m["To"]) for m in tls_server.messages) == [
        "Bob@Example.com",
        "ann@example.com",
        "cy@example.com",
        "sam@example.com",
    ]
    assert tls_server.logins[-1] == (b"mailer", b"s3cret") and "s3cret" not in result.output
