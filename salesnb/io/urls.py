"""Credentials in a database URL, hidden wherever the URL is shown.

A source given as a URL (``postgresql://ann:secret@host/db``,
``sqlite:///sales.sqlite?password=...``) is shown in messages, pages, the
manifest and JSON outputs only through :func:`mask_url`; free text that may
quote it (a driver's error, a traceback, a notebook) only through
:func:`mask_text`. Both work from the URL's parts, parsed the way
SQLAlchemy parses a URL to connect: the password of the user info and the
value of every sensitive query key (``password``, ``pass``, ``pwd``,
``token``, ``secret``, ``key``, and names containing them such as
``api_key`` or ``sslpassword``) become ``***``. A URL that cannot be
parsed keeps only its scheme and host: its user info and query are hidden
whole.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote, unquote_plus

MASK = "***"

#: Query keys whose value is a secret (compared case-insensitively; a key
#: containing one of these, e.g. ``api_key`` or ``sslpassword``, is one too).
SENSITIVE_KEYS = ("password", "passwd", "pass", "pwd", "token", "secret", "key", "credential")

# SQLAlchemy's own grammar of a URL (sqlalchemy.engine.url._parse_url, 2.x),
# so the parts hidden are the parts the driver is given; spans come from it.
_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X | re.S,
)
# Where a URL may start in free text (each candidate is then parsed).
# A URL's end: not the punctuation of the sentence around it ("...?password=x: cannot connect").
_URL_START = re.compile(r"[A-Za-z][\w+.\-]*://(?:[^\s'\"<>`]*[^\s'\"<>`.,;:!?)\]])?")
# An ODBC-style connection string inside a query value: "...;PWD=secret;..."
_ASSIGNMENT = re.compile(r"(?:^|[;&\s])([\w.\-]+)\s*=", re.S)

_remembered: list[str] = []  # source URLs opened in this process (see remember)
_REMEMBER_AT_MOST = 32


def is_url(text) -> bool:
    return "://" in str(text)


def sensitive(key: str) -> bool:
    """Whether a query key's value is a secret (``password``, ``api_key``, ``Token``...)."""
    folded = unquote_plus(str(key)).strip().casefold()
    return any(word in folded for word in SENSITIVE_KEYS)


def mask_url(text) -> str:
    """``text`` with the credentials of the URL it is hidden: the password
    of the user info and the value of every sensitive query key become
    ``***``; everything else is kept as written. A local path (no ``://``)
    is returned as it is; a URL that cannot be parsed keeps its scheme and
    host only (``scheme://***@host/db?***``)."""
    text = str(text)
    if not is_url(text):
        return text
    spans = _secret_spans(text)
    if spans is None:
        return _mask_unparsed(text)
    out, end = [], 0
    for start, stop in spans:
        out.append(text[end:start])
        out.append(MASK)
        end = stop
    out.append(text[end:])
    return "".join(out)


def url_secrets(text) -> list[str]:
    """Every secret in the URL ``text``, as written and as decoded (longest
    first): the password, the values of sensitive query keys; for a URL that
    cannot be parsed, its whole user info and query."""
    text = str(text)
    if not is_url(text):
        return []
    spans = _secret_spans(text)
    if spans is None:
        raw = _unparsed_secrets(text)
    else:
        raw = [text[start:stop] for start, stop in spans]
    found = set()
    for secret in raw:
        for form in (secret, unquote(secret), unquote_plus(secret)):
            if form:
                found.update({form, json.dumps(form)[1:-1], repr(form)[1:-1]})
    found.update(_sqlalchemy_secrets(text))
    return sorted(found, key=len, reverse=True)


def mask_text(text, *urls) -> str:
    """Free text (an error message, a traceback, a notebook) with every
    secret of ``urls`` and of the source URLs opened in this process
    hidden, and any other URL in it masked by :func:`mask_url`."""
    text = str(text)
    known = [str(u) for u in urls if u is not None and is_url(u)] + _remembered
    for url in dict.fromkeys(known):
        if url in text:
            text = text.replace(url, mask_url(url))
        for secret in url_secrets(url):
            if secret not in MASK:  # "*" would grow the mask forever
                text = text.replace(secret, MASK)
    if "://" in text:
        text = _URL_START.sub(lambda m: mask_url(m.group(0)), text)
    return text


def remember(url) -> None:
    """Note a source URL opened in this process, so that :func:`mask_text`
    hides its secrets even where a message quotes them alone (a driver's
    "password authentication failed for ..."), not inside the URL."""
    url = str(url)
    if is_url(url) and url_secrets(url) and url not in _remembered:
        _remembered.append(url)
        del _remembered[:-_REMEMBER_AT_MOST]


def _secret_spans(text: str) -> list[tuple[int, int]] | None:
    """The (start, stop) of every secret in a URL, in order; None when the
    URL does not parse (SQLAlchemy would refuse it too)."""
    match = _URL.fullmatch(text)
    if match is None:
        return None
    port = match.group("port")
    if port and not port.isdigit():
        return None
    spans = []
    if match.group("password") is not None:
        start, stop = match.span("password")
        host = match.group("ipv4host") or ""
        if "@" in host:  # "ann:p@ss@host": the password ran on past its first '@'
            stop = match.start("ipv4host") + host.rindex("@")
        spans.append((start, stop))
    if match.group("query") is not None:
        offset = match.start("query")
        for part in re.finditer(r"[^&]+", match.group("query")):
            key, sep, value = part.group(0).partition("=")
            if sep and value and (sensitive(key) or _holds_secret(value)):
                spans.append((offset + part.start() + len(key) + 1, offset + part.end()))
    return spans


def _holds_secret(value: str) -> bool:
    """A query value that is itself a connection string holding a password
    (``odbc_connect=DRIVER=...;PWD=secret``)."""
    decoded = unquote_plus(value)
    return any(sensitive(key) for key in _ASSIGNMENT.findall(decoded))


def _unparsed_parts(text: str) -> list[tuple[str, bool]]:
    """A URL that does not parse, cut into (piece, is_secret): the scheme,
    the user info (up to the last '@'), the host, a port that is not a
    number (perhaps a password with no host: ``user:secret``), the path
    and the query. Secrets are hidden whole, however they are written."""
    scheme, _, rest = text.partition("://")
    parts = [(scheme + "://", False)]
    if "@" in rest:
        userinfo, _, rest = rest.rpartition("@")
        parts += [(userinfo, True), ("@", False)]
    rest, mark, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    host, colon, port = authority.partition(":")
    parts += [(host, False), (colon, False), (port, not port.isdigit()), (slash + path, False)]
    if mark:
        parts += [("?", False), (query, True)]
    return parts


def _mask_unparsed(text: str) -> str:
    return "".join(MASK if secret and piece else piece for piece, secret in _unparsed_parts(text))


def _unparsed_secrets(text: str) -> list[str]:
    found = [piece for piece, secret in _unparsed_parts(text) if secret and piece]
    userinfo = found[0] if "@" in text.partition("://")[2] else ""
    if ":" in userinfo:  # "ann:secret": the password alone, as a driver may quote it
        found.append(userinfo.partition(":")[2])
    return found


def _sqlalchemy_secrets(text: str) -> set[str]:
    """The password and sensitive query values as SQLAlchemy reads the URL
    (a second opinion: whatever the driver is given is hidden)."""
    try:
        from sqlalchemy.engine import make_url

        url = make_url(text)
    except Exception:  # not a URL SQLAlchemy reads (ArgumentError, ValueError for a bad port)
        return set()
    found = {url.password} if url.password else set()
    for key, value in url.query.items():
        for one in value if isinstance(value, tuple) else (value,):
            if one and (sensitive(key) or _holds_secret(one)):
                found.add(one)
    return {str(s) for s in found}
