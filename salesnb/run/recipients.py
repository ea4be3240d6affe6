"""Who reads what: the one rule that decides which pages of a batch each reader gets.

:func:`readers_for` is a pure function of the batch's report entries (its
``manifest.json``) and the reps' contacts; :func:`read_recipients` reads a
``recipients.yml``; :func:`contacts_from_reps` reads the ``email``,
``manager_email`` and ``team`` columns of a reps table. The rules:

- a **rep** (their ``email``) gets their own report, nothing else;
- a **manager** gets, for each team they manage, the team page and the
  reports of the team's reps; the data-quality page only if they manage
  every rep of the batch (it lists every rep's flags). A manager is named
  per team in ``recipients.yml`` (``managers: {North: nora@example.com}``:
  every rep of the team) or per rep in the ``manager_email`` column (that
  rep's report and their team's page);
- an **analyst** (``analysts:`` in ``recipients.yml``) gets the index and
  the batch-wide analysis pages (data quality, forecast review, training);
- a page that failed or was not rendered in the batch goes to nobody (the
  reader who would have got it is told in the dry run and the send summary);
- one address with several roles gets one message with all their pages;
  addresses are compared case-insensitively.

``recipients.yml``::

    from: reports@example.com            # the sender (default: $SALESNB_MAIL_FROM, else salesnb@<this host>)
    reps:                                # rep_id: address (beats the reps table's email column)
      R01: ava@example.com
      R02: {email: ben@example.com, team: North, manager_email: nora@example.com}
    managers:                            # team: address, or a list of them
      North: nora@example.com
    analysts: [ana@example.com]
    source: /data/crm                    # where the reps table is (default: the batch's source)
    mapping: /data/crm/mapping.yml
    smtp: smtp://mail.example.com:587    # where `salesnb report --deliver` sends (or folders: /srv/readers)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from salesnb.errors import DataError, InputError, Problem

__all__ = [
    "RepContact",
    "Reader",
    "Recipients",
    "Withheld",
    "ANALYSIS_KINDS",
    "INDEX_ENTRY",
    "check_address",
    "kind_name",
    "read_recipients",
    "contacts_from_reps",
    "merge_contacts",
    "readers_for",
]

#: The batch-wide analysis pages an analyst gets beside the index.
ANALYSIS_KINDS = ("data_quality", "forecast_review", "training_effect")
#: The batch's index as a page a reader can get.
INDEX_ENTRY = {
    "kind": "index",
    "key": None,
    "label": "every rep by stake, the batch's index",
    "html": "index.html",
    "status": "ok",
}

# An address salesnb sends to and names a folder after: no space, comma, angle bracket,
# slash or line break (nothing that could add a recipient, a header or a path).
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)
_KEYS = ("from", "reps", "managers", "analysts", "source", "mapping", "smtp", "folders")


@dataclass(frozen=True)
class RepContact:
    """One rep's delivery data: ``email`` and ``manager_email`` may be None."""

    rep_id: str
    team: str | None = None
    email: str | None = None
    manager_email: str | None = None


@dataclass(frozen=True)
class Withheld:
    """A page a reader would get that is not sent: ``reason`` says why."""

    label: str
    reason: str


@dataclass
class Reader:
    """One address and what it receives: ``pages`` (manifest entries, the main
    page first), ``roles`` (``rep R01``, ``manager of North``, ``analyst``)
    and ``withheld`` (pages due to them that the batch did not render)."""

    address: str
    roles: list[str] = field(default_factory=list)
    pages: list[dict] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)

    @property
    def main(self) -> dict | None:
        return self.pages[0] if self.pages else None


@dataclass
class Recipients:
    """A ``recipients.yml``, read: contacts per rep, managers per team, analysts."""

    path: str | None = None
    sender: str | None = None
    reps: dict[str, RepContact] = field(default_factory=dict)
    managers: dict[str, list[str]] = field(default_factory=dict)
    analysts: list[str] = field(default_factory=list)
    source: str | None = None
    mapping: str | None = None
    smtp: str | None = None
    folders: str | None = None


def check_address(address, *, where: str) -> str:
    """``address`` stripped, or :class:`InputError` saying ``where`` it was written."""
    text = str(address).strip()
    if not _ADDRESS.match(text):
        raise InputError(f"{where}: {text!r} is not an email address; write one address such as ann@example.com")
    return text


def read_recipients(path) -> Recipients:
    """Read ``recipients.yml`` (see the module doc); a mistake is a
    :class:`DataError` naming the file and line."""
    from salesnb.io.yamlfile import read_yaml

    path = Path(path)
    try:
        parsed = read_yaml(path, table="recipients", flag="bad_recipients")
    except FileNotFoundError:
        raise InputError(f"no recipients file at {path}; write one (see docs/sharing.md)") from None
    data = parsed.data if parsed.data is not None else {}

    def fail(keys, message, hint):
        raise DataError(Problem("recipients", str(path), parsed.line(*keys), None, None, message, hint, flag="bad_recipients"))

    if not isinstance(data, dict):
        fail((), f"{path.name} must be a mapping of {', '.join(_KEYS)}", "start with `reps:` or `managers:`")
    for key in data:
        if key not in _KEYS:
            fail((key,), f"unknown key {key!r} in {path.name}", f"use one of {', '.join(_KEYS)}")

    def address(value, keys):
        if not isinstance(value, str) or not _ADDRESS.match(value.strip()):
            fail(keys, f"{value!r} is not an email address", "write one address such as ann@example.com")
        return value.strip()

    def addresses(value, keys):
        items = value if isinstance(value, list) else [value]
        return [address(item, (*keys, i) if isinstance(value, list) else keys) for i, item in enumerate(items)]

    result = Recipients(path=str(path))
    for key in ("source", "mapping", "smtp", "folders"):
        if data.get(key) is not None:
            if not isinstance(data[key], str):
                fail((key,), f"{key} must be text", f"write {key}: followed by a path or URL")
            setattr(result, key, data[key])
    if data.get("from") is not None:
        result.sender = address(data["from"], ("from",))
    reps = data.get("reps") or {}
    if not isinstance(reps, dict):
        fail(("reps",), "reps must map each rep_id to an address", "write  R01: ava@example.com")
    for rep_id, value in reps.items():
        keys = ("reps", rep_id)
        if isinstance(value, dict):
            unknown = set(value) - {"email", "team", "manager_email"}
            if unknown:
                fail(keys, f"unknown key {sorted(unknown)[0]!r} for rep {rep_id}", "use email, team and manager_email")
            result.reps[str(rep_id)] = RepContact(
                str(rep_id),
                team=str(value["team"]) if value.get("team") is not None else None,
                email=address(value["email"], (*keys, "email")) if value.get("email") is not None else None,
                manager_email=address(value["manager_email"], (*keys, "manager_email"))
                if value.get("manager_email") is not None
                else None,
            )
        else:
            result.reps[str(rep_id)] = RepContact(str(rep_id), email=address(value, keys))
    managers = data.get("managers") or {}
    if not isinstance(managers, dict):
        fail(("managers",), "managers must map each team to an address", "write  North: nora@example.com")
    result.managers = {str(team): addresses(value, ("managers", team)) for team, value in managers.items()}
    result.analysts = addresses(data.get("analysts") or [], ("analysts",))
    return result


def contacts_from_reps(reps) -> dict[str, RepContact]:
    """The delivery data of a loaded reps table (columns ``rep_id``, ``team``,
    ``email``, ``manager_email``; any may be blank)."""
    contacts = {}
    for row in reps.to_dict("records"):
        rep_id = str(row["rep_id"])

        email, manager = _text(row.get("email")), _text(row.get("manager_email"))
        contacts[rep_id] = RepContact(
            rep_id,
            team=_text(row.get("team")),
            email=check_address(email, where=f"reps table, rep {rep_id}, column email") if email else None,
            manager_email=check_address(manager, where=f"reps table, rep {rep_id}, column manager_email") if manager else None,
        )
    return contacts


def merge_contacts(table: Mapping[str, RepContact], overrides: Mapping[str, RepContact]) -> dict[str, RepContact]:
    """The reps table's contacts with ``recipients.yml``'s written over them, field by field."""
    merged = dict(table)
    for rep_id, own in overrides.items():
        base = merged.get(rep_id, RepContact(rep_id))
        merged[rep_id] = RepContact(
            rep_id,
            team=own.team if own.team is not None else base.team,
            email=own.email if own.email is not None else base.email,
            manager_email=own.manager_email if own.manager_email is not None else base.manager_email,
        )
    return merged


def readers_for(
    reports: Iterable[dict],
    contacts: Mapping[str, RepContact],
    *,
    managers: Mapping[str, Iterable[str]] = (),
    analysts: Iterable[str] = (),
) -> tuple[list[Reader], list[Withheld]]:
    """Who reads which page of a batch (the rules: module doc).

    ``reports`` are the manifest's entries (``kind``, ``key``, ``label``,
    ``html``, ``status``); ``contacts`` each rep's team and addresses;
    ``managers`` maps a team to its managers' addresses; ``analysts`` get
    the index. Returns the readers, sorted by address, and the rep reports
    that go to nobody (no address for the rep nor a manager).
    """
    entries = [r for r in reports if isinstance(r, dict)]
    analysts = list(analysts)
    rep_pages = {str(r["key"]): r for r in entries if r.get("kind") == "rep_coaching" and r.get("key") is not None}
    team_pages = {_fold(r["key"]): r for r in entries if r.get("kind") == "team_overview" and r.get("key") is not None}
    quality = [r for r in entries if r.get("kind") == "data_quality"]
    analysis = [r for r in entries if r.get("kind") in ANALYSIS_KINDS]
    managers = dict(managers) if not isinstance(managers, tuple) else {}
    team_managers = {_fold(team): list(addresses) for team, addresses in managers.items()}

    readers: dict[str, Reader] = {}

    def reader(address: str, role: str) -> Reader:
        found = readers.setdefault(address.casefold(), Reader(address))
        if role not in found.roles:
            found.roles.append(role)
        return found

    def give(target: Reader, entry: dict) -> None:
        if entry.get("status") != "ok" or not entry.get("html"):
            why = "it failed in the batch" if entry.get("status") == "failed" else "the batch did not render it"
            withheld = Withheld(_label(entry), why)
            if withheld not in target.withheld:
                target.withheld.append(withheld)
            return
        if any(p is entry or p.get("html") == entry.get("html") for p in target.pages):
            return
        target.pages.append(entry)  # in order at the end (_ordered)

    unread: list[Withheld] = []
    managed: dict[str, set[str]] = {}  # manager's address (folded) -> the reps they manage
    for rep_id, entry in rep_pages.items():
        contact = contacts.get(rep_id, RepContact(rep_id))
        team_key = _fold(contact.team) if contact.team else None
        bosses = list(team_managers.get(team_key, [])) if team_key else []
        if contact.manager_email and contact.manager_email.casefold() not in {b.casefold() for b in bosses}:
            bosses.append(contact.manager_email)
        if contact.email:
            give(reader(contact.email, f"rep {rep_id}"), entry)
        for boss in bosses:
            team_name = team_pages[team_key].get("key") if team_key in team_pages else contact.team
            manager = reader(boss, f"manager of {team_name}" if team_name else f"manager of {rep_id}")
            if team_key in team_pages:
                give(manager, team_pages[team_key])
            give(manager, entry)
            managed.setdefault(boss.casefold(), set()).add(rep_id)
        if not contact.email and not bosses and entry.get("status") == "ok":
            unread.append(Withheld(_label(entry), "no address for the rep or a manager"))
    for team_key, addresses in team_managers.items():  # a team page whose team has no rep report in the batch
        if team_key in team_pages:
            for boss in addresses:
                give(reader(boss, f"manager of {team_pages[team_key].get('key')}"), team_pages[team_key])
    for key, found in readers.items():
        if any(role.startswith("manager") for role in found.roles):
            for entry in quality:  # it lists every rep's flags: only for a manager of every rep in the batch
                if managed.get(key, set()) >= set(rep_pages):
                    give(found, entry)
                elif key not in {a.casefold() for a in analysts}:  # an analyst gets it anyway
                    found.withheld.append(
                        Withheld(
                            _label(entry), "it names reps outside their team (their own reps' data checks are in the team page)"
                        )
                    )
    for address in analysts:
        analyst = reader(address, "analyst")
        give(analyst, INDEX_ENTRY)
        for entry in analysis:
            give(analyst, entry)
    for found in readers.values():
        found.pages = _ordered(found.pages)
    return sorted(readers.values(), key=lambda r: r.address.casefold()), unread


_MAIN_ORDER = {"index": 0, "team_overview": 1, "rep_coaching": 2}
_REST_ORDER = {"team_overview": 0, "rep_coaching": 1, "data_quality": 2, "forecast_review": 3, "training_effect": 4}


def _ordered(pages: list[dict]) -> list[dict]:
    """The main page first (the index, else a team page, else the rep's own
    report), then team pages, rep reports (by label), the analysis pages."""
    if not pages:
        return pages
    main = min(pages, key=lambda p: (_MAIN_ORDER.get(p.get("kind"), 9), pages.index(p)))
    rest = [p for p in pages if p is not main]
    rest.sort(key=lambda p: (_REST_ORDER.get(p.get("kind"), 9), str(p.get("label") or "")))
    return [main, *rest]


_KIND_NAMES = {
    "index": "Queue",
    "rep_coaching": "Coaching report",
    "team_overview": "Team overview",
    "data_quality": "Data quality",
    "forecast_review": "Forecast review",
    "training_effect": "Training effect",
}


def kind_name(entry: dict) -> str:
    """What a page is, in words: ``Coaching report``, ``Team overview``..."""
    return _KIND_NAMES.get(entry.get("kind"), str(entry.get("kind")))


def _text(value) -> str | None:
    """A cell as stripped text; None when blank or missing (NaN included)."""
    return None if value is None or value != value or str(value).strip() == "" else str(value).strip()


def _label(entry: dict) -> str:
    """A rep's report by the rep (``Ann Lee (R01)``), another page by what it is (``Data quality: all reps``)."""
    label = str(entry.get("label") or entry.get("key") or "")
    return label if entry.get("kind") == "rep_coaching" else f"{kind_name(entry)}: {label}".rstrip(": ")


def _fold(team) -> str:
    return str(team).strip().casefold()
