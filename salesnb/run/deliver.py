"""Delivering a batch: one message per reader by SMTP, or one folder per reader.

:func:`plan_delivery` reads the batch folder's manifest, the reps' contacts
(the source's reps table, then ``recipients.yml``) and decides who reads
what (:func:`salesnb.run.recipients.readers_for`). Then:

- :func:`send_all` sends each reader one message (:mod:`salesnb.run.mail`)
  over one SMTP connection. A failed send is retried (``retries`` times,
  after ``delays``); a recipient the server refuses is not. Every message
  sent is written at once to the send log ``DIR/deliveries.json``
  (atomically), so a rerun sends only what was not sent: a reader whose
  pages did not change since they were sent is ``already sent``. A server
  that cannot be reached stops the run: the rest are ``not sent``.
- :func:`write_folders` writes ``OUT/<address>/`` per reader, holding only
  their pages and an ``index.html`` of their own, for a web server's or a
  shared drive's per-folder access rules; ``OUT/readers.json`` lists them,
  and a reader who is gone loses their folder on the next run.

The SMTP URL is ``smtp://host[:port]`` (STARTTLS when the server offers it)
or ``smtps://host[:port]`` (TLS from the start). A password in the URL is
refused: credentials come from ``SALESNB_SMTP_USER`` /
``SALESNB_SMTP_PASSWORD`` or ``~/.netrc`` (``machine HOST login USER
password PASS``), and are sent only over an encrypted connection. Nothing
prints them.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import os
import shutil
import smtplib
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from salesnb import atomic
from salesnb.errors import InputError, OutputError
from salesnb.io.urls import mask_url
from salesnb.run.folder import MANIFEST, batch_lock, previous_manifest
from salesnb.run.recipients import (
    INDEX_ENTRY,
    Reader,
    Recipients,
    Withheld,
    contacts_from_reps,
    kind_name,
    merge_contacts,
    read_recipients,
    readers_for,
)

__all__ = [
    "SEND_LOG",
    "READERS_FILE",
    "SmtpTarget",
    "DeliveryPlan",
    "Delivery",
    "parse_smtp_url",
    "smtp_credentials",
    "plan_delivery",
    "send_all",
    "write_folders",
    "describe_plan",
]

SEND_LOG = "deliveries.json"
READERS_FILE = "readers.json"
USER_ENV, PASSWORD_ENV, FROM_ENV = "SALESNB_SMTP_USER", "SALESNB_SMTP_PASSWORD", "SALESNB_MAIL_FROM"
TIMEOUT = 30.0


@dataclass(frozen=True)
class SmtpTarget:
    scheme: str
    host: str
    port: int
    user: str | None = None

    @property
    def shown(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass
class DeliveryPlan:
    """A batch folder and who reads what in it."""

    batch_dir: Path
    manifest: dict
    readers: list[Reader]
    unread: list[Withheld]
    sender: str
    recipients: Recipients

    @property
    def period(self) -> str | None:
        return (self.manifest.get("period") or {}).get("label")

    def files(self, reader: Reader) -> list[tuple[dict, Path]]:
        return [(entry, self.batch_dir / entry["html"]) for entry in reader.pages]

    def pages_key(self, reader: Reader) -> str:
        """What a reader gets, as a hash: the same pages rendered from the same inputs give the same key."""
        parts = [
            f"{entry['html']}|{entry.get('input_key') or entry.get('rendered_at') or _file_hash(self.batch_dir / entry['html'])}"
            for entry in reader.pages
        ]
        if any(entry is INDEX_ENTRY for entry in reader.pages):
            parts.append(str(self.manifest.get("ended")))
        return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


@dataclass
class Delivery:
    """What happened to one reader's message: ``sent``, ``already sent``, ``failed``, ``not sent``."""

    reader: Reader
    status: str
    error: str | None = None
    attempts: int = 0
    left_out: list[str] = field(default_factory=list)


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://host[:port]`` or ``smtps://host[:port]``; a password in it is refused."""
    parts = urlsplit(str(url).strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise InputError(f"--smtp {mask_url(url)} is not an SMTP URL; write smtp://host:port or smtps://host:port")
    if parts.password is not None:
        raise InputError(
            f"--smtp {mask_url(url)} holds a password: a password on the command line is seen by every user of the "
            f"machine and kept in shell history. Remove it from the URL and set {PASSWORD_ENV} (and {USER_ENV}) "
            f"or put 'machine {parts.hostname} login USER password PASS' in ~/.netrc"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InputError(f"--smtp {mask_url(url)}: only the host and port are read; remove the rest")
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"--smtp {mask_url(url)}: the port is a number, e.g. smtp://mail.example.com:587") from None
    return SmtpTarget(
        parts.scheme,
        parts.hostname,
        port or (465 if parts.scheme == "smtps" else 25),
        unquote(parts.username) if parts.username else None,
    )


def smtp_credentials(target: SmtpTarget, env: Mapping[str, str] | None = None, netrc_file=None) -> tuple[str, str] | None:
    """(user, password) from the environment, else ``~/.netrc``, else None (no login)."""
    env = os.environ if env is None else env
    user, password = env.get(USER_ENV) or target.user, env.get(PASSWORD_ENV)
    if password:
        if not user:
            raise InputError(f"{PASSWORD_ENV} is set but no user: set {USER_ENV} too")
        return user, password
    import netrc

    try:
        found = netrc.netrc(netrc_file).authenticators(target.host)
    except FileNotFoundError:
        found = None
    except (netrc.NetrcParseError, OSError) as exc:
        raise InputError(f"cannot read the netrc file: {getattr(exc, 'msg', exc)}") from None
    if found and found[2]:
        return found[0] or user or "", found[2]
    return None


def plan_delivery(batch_dir, *, recipients=None, env: Mapping[str, str] | None = None) -> DeliveryPlan:
    """Who reads what in the batch folder ``batch_dir`` (see the module doc).

    ``recipients`` is a ``recipients.yml`` path, a :class:`Recipients`, or
    None (the reps table's ``email`` and ``manager_email`` columns only)."""
    batch_dir = Path(batch_dir).resolve()
    if not (batch_dir / MANIFEST).is_file():
        raise InputError(f"{batch_dir} holds no {MANIFEST}: deliver a folder `salesnb report --out` wrote")
    manifest = previous_manifest(batch_dir)
    if not manifest:
        raise InputError(f"{batch_dir / MANIFEST} is not a batch manifest salesnb can read; rerun `salesnb report`")
    if recipients is None:
        recipients = Recipients()
    elif not isinstance(recipients, Recipients):
        recipients = read_recipients(recipients)
    contacts = merge_contacts(_table_contacts(manifest, recipients, batch_dir), recipients.reps)
    readers, unread = readers_for(manifest["reports"], contacts, managers=recipients.managers, analysts=recipients.analysts)
    for reader in readers:
        for entry in reader.pages:
            if not (batch_dir / entry["html"]).is_file():
                raise InputError(f"{batch_dir / entry['html']} is listed in the manifest but missing; rerun `salesnb report`")
    env = os.environ if env is None else env
    sender = recipients.sender or env.get(FROM_ENV) or f"salesnb@{socket.getfqdn() or 'localhost'}"
    return DeliveryPlan(batch_dir, manifest, readers, unread, sender, recipients)


def describe_plan(plan: DeliveryPlan) -> list[str]:
    """One line per reader (who gets which pages), then what goes to nobody."""
    lines = []
    for reader in plan.readers:
        roles = ", ".join(reader.roles)
        if reader.pages:
            pages = "; ".join(f"{kind_name(e)}: {e.get('label') or ''} ({e['html']})" for e in reader.pages)
            lines.append(f"{reader.address} ({roles}): {pages}")
        for withheld in reader.withheld:
            lines.append(f"{reader.address} ({roles}): not sent: {withheld.label}: {withheld.reason}")
    for withheld in plan.unread:
        lines.append(f"nobody: {withheld.label}: {withheld.reason}")
    return lines


def send_all(
    plan: DeliveryPlan,
    smtp_url: str,
    *,
    retries: int = 2,
    delays: tuple[float, ...] = (2.0, 10.0),
    env: Mapping[str, str] | None = None,
    netrc_file=None,
    timeout: float = TIMEOUT,
) -> list[Delivery]:
    """Send each reader with pages their message, skipping those the send log
    says were sent these same pages (see the module doc)."""
    from salesnb.run.mail import MessageTooLarge, build_message, page_subject

    target = parse_smtp_url(smtp_url)
    credentials = smtp_credentials(target, env, netrc_file)
    secret = credentials[1] if credentials else None
    log_path = plan.batch_dir / SEND_LOG
    deliveries: list[Delivery] = []
    with batch_lock(plan.batch_dir):  # no batch rewrites the pages while they are sent
        log = _read_log(log_path)
        mailer = _Mailer(target, credentials, timeout)
        unreachable: str | None = None
        try:
            for reader in plan.readers:
                if not reader.pages:
                    continue
                key = plan.pages_key(reader)
                logged = log.get(reader.address.casefold())
                if isinstance(logged, dict) and logged.get("pages") == key:
                    deliveries.append(Delivery(reader, "already sent"))
                    continue
                if unreachable:
                    deliveries.append(Delivery(reader, "not sent", unreachable))
                    continue
                try:
                    subject = page_subject(reader.main, plan.period)
                    if len(reader.pages) > 1:
                        subject += f" (+{len(reader.pages) - 1} attached)"
                    message = build_message(plan.files(reader), to=reader.address, sender=plan.sender, subject=subject)
                except MessageTooLarge as exc:
                    deliveries.append(Delivery(reader, "failed", str(exc)))
                    continue
                delivery = Delivery(reader, "failed", left_out=message.left_out)
                for attempt in range(retries + 1):
                    delivery.attempts = attempt + 1
                    try:
                        mailer.send(message.email)
                    except smtplib.SMTPRecipientsRefused as exc:
                        delivery.error = f"the server refused the address: {_refusal(exc)}"
                        break
                    except (smtplib.SMTPException, OSError) as exc:
                        mailer.close()
                        delivery.error = _mask(_describe_error(exc, target), secret)
                        if attempt < retries:
                            time.sleep(delays[min(attempt, len(delays) - 1)] if delays else 0)
                        continue
                    delivery.status, delivery.error = "sent", None
                    log[reader.address.casefold()] = {
                        "address": reader.address,
                        "pages": key,
                        "files": [e["html"] for e in reader.pages],
                        "sent_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                        "message_id": message.email["Message-ID"],
                    }
                    _write_log(log_path, log)
                    break
                if delivery.status == "failed" and mailer.connect_failed:  # the server is down: stop trying
                    unreachable = "the mail server could not be reached"
                deliveries.append(delivery)
        finally:
            mailer.close()
    return deliveries


def write_folders(plan: DeliveryPlan, out) -> list[Path]:
    """One folder per reader under ``out`` with only their pages and an index
    of their own (see the module doc); returns the folders written."""
    from salesnb.run.outputs import check_output_folder

    out_dir = check_output_folder(Path(out).expanduser(), inputs=[plan.batch_dir], manifest=READERS_FILE)
    if out_dir == plan.batch_dir or plan.batch_dir in out_dir.parents:
        raise OutputError(f"--folders {out_dir} is inside the batch folder; choose a folder outside {plan.batch_dir}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        previous = {r.get("reader") for r in _read_json(out_dir / READERS_FILE).get("reports", []) if isinstance(r, dict)}
        written: dict[str, list[str]] = {}
        paths = []
        for reader in plan.readers:
            if not reader.pages:
                continue
            name = reader.address.casefold()
            staging = out_dir / f".{name}.new"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            files = []
            for entry, source in plan.files(reader):
                relative = "queue.html" if entry is INDEX_ENTRY else entry["html"]
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                files.append((entry, relative))
            (staging / "index.html").write_text(_reader_index(reader, files, plan.period), encoding="utf-8")
            final = out_dir / name
            old = out_dir / f".{name}.old"
            shutil.rmtree(old, ignore_errors=True)
            if final.exists():
                final.rename(old)
            staging.rename(final)
            shutil.rmtree(old, ignore_errors=True)
            written[name] = [relative for _, relative in files]
            paths.append(final)
        for name in previous - set(written):  # a reader who is gone: their folder goes too
            if isinstance(name, str) and "/" not in name and name not in ("", ".", "..") and (out_dir / name).is_dir():
                shutil.rmtree(out_dir / name, ignore_errors=True)
        from salesnb.run.plan import salesnb_version

        listing = {
            "salesnb_version": salesnb_version(),  # marks OUT as salesnb's (see run.outputs.check_output_folder)
            "batch": str(plan.batch_dir),
            "period": plan.period,
            "reports": [{"reader": name, "files": files} for name, files in written.items()],
        }
        atomic.write_json(out_dir / READERS_FILE, listing)
    except OSError as exc:
        raise OutputError(f"cannot write the reader folders in {out_dir}: {exc.strerror or exc}") from None
    return paths


# -- helpers -----------------------------------------------------------------------


class _Mailer:
    """One SMTP connection, opened on first use and again after a failure."""

    def __init__(self, target: SmtpTarget, credentials, timeout: float):
        self.target, self.credentials, self.timeout = target, credentials, timeout
        self.smtp: smtplib.SMTP | None = None
        self.ever_connected = False
        self.connect_failed = False

    def send(self, email) -> None:
        if self.smtp is None:
            self.connect_failed = False
            try:
                self.smtp = self._connect()
            except (OSError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected):
                self.connect_failed = True
                raise
            self.ever_connected = True
        self.smtp.send_message(email)

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.target.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(self.target.host, self.target.port, timeout=self.timeout, context=context)
            encrypted = True
        else:
            smtp = smtplib.SMTP(self.target.host, self.target.port, timeout=self.timeout)
            smtp.ehlo()
            encrypted = smtp.has_extn("starttls")
            if encrypted:
                smtp.starttls(context=context)
                smtp.ehlo()
        if self.credentials:
            if not encrypted:
                smtp.close()
                raise InputError(
                    f"{self.target.shown} offers no encryption (no STARTTLS): salesnb will not send the password "
                    "in clear text; use smtps:// or a server with STARTTLS"
                )
            try:
                smtp.login(*self.credentials)
            except smtplib.SMTPAuthenticationError:  # the same login fails for every message: stop now
                smtp.close()
                raise InputError(
                    f"the mail server {self.target.shown} refused the login: check {USER_ENV}/{PASSWORD_ENV} "
                    f"or the netrc entry for {self.target.host}"
                ) from None
        return smtp

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None


def _table_contacts(manifest: dict, recipients: Recipients, batch_dir: Path) -> dict:
    """The contacts in the reps table of the recipients file's source, else of the batch's."""
    source = recipients.source or manifest.get("source")
    mapping = recipients.mapping if recipients.source else manifest.get("mapping")
    if not source:
        return {}
    if "***" in str(source) and not recipients.source:
        raise InputError(
            "the batch's source URL is shown with its password masked; name the source in the recipients file "
            "(source: ...), with the password in the driver's own environment or password file"
        )
    from salesnb.io.loading import load

    return contacts_from_reps(load(source, mapping=mapping).reps)


def _reader_index(reader: Reader, files: list[tuple[dict, str]], period: str | None) -> str:
    items = "\n".join(
        f'<li><a href="{html.escape(relative, quote=True)}">{html.escape(kind_name(entry))}: '
        f"{html.escape(str(entry.get('label') or ''))}</a></li>"
        for entry, relative in files
    )
    title = f"Your salesnb reports{', ' + html.escape(period) if period else ''}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{title}</title></head>\n<body style="font-family: sans-serif; margin: 2em">\n'
        f"<h1>{title}</h1>\n<p>For {html.escape(reader.address)}.</p>\n<ul>\n{items}\n</ul>\n</body></html>\n"
    )


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_log(path: Path) -> dict:
    sent = _read_json(path).get("sent", {})
    return sent if isinstance(sent, dict) else {}


def _write_log(path: Path, log: dict) -> None:
    try:
        atomic.write_json(path, {"sent": log})
    except OSError as exc:
        raise OutputError(
            f"cannot write the send log {path}: {exc.strerror or exc}; the messages sent so far were sent"
        ) from None


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _describe_error(exc: BaseException, target: SmtpTarget) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot reach the mail server {target.shown}: connection refused (is it running, and is the port right?)"
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"the mail server {target.shown} did not answer in time"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the mail server {target.shown} refused the login (check {USER_ENV}/{PASSWORD_ENV} or ~/.netrc)"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the mail server {target.shown} answered {exc.smtp_code}: {_decode(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"the mail server {target.shown} closed the connection"
    return f"{target.shown}: {type(exc).__name__}: {exc}"


def _refusal(exc: smtplib.SMTPRecipientsRefused) -> str:
    return "; ".join(f"{address}: {code} {_decode(text)}" for address, (code, text) in exc.recipients.items())


def _decode(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _mask(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text
