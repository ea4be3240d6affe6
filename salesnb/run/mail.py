"""One reader's message: their pages as an email that reads well in real mail clients.

Mail clients strip ``<style>`` sheets and block ``data:`` images, so
:func:`build_message` turns the main page into:

- ``text/html`` with its CSS inlined into ``style`` attributes (css-inline)
  and each embedded chart moved into an image part of its own, referenced by
  ``cid:`` (one part per distinct image);
- a ``text/plain`` alternative: the page's text;
- the full page attached as it is (it opens offline in a browser), and each
  of the reader's other pages attached.

A message stays under :data:`MAX_BYTES` (5 MB): the attachments that do not
fit are left out, largest first, and the text says which
(:attr:`Message.left_out`); a main page that alone is too large is a
:class:`MessageTooLarge`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html.parser import HTMLParser
from pathlib import Path

from salesnb.errors import InputError

__all__ = ["MAX_BYTES", "Message", "MessageTooLarge", "build_message", "inline_css", "html_to_text", "page_subject"]

MAX_BYTES = 5 * 1024 * 1024

_DATA_IMAGE = re.compile(r"""(src\s*=\s*)(["'])data:image/(png|jpeg|gif|svg\+xml);base64,([A-Za-z0-9+/=\s]+)\2""", re.I)


class MessageTooLarge(InputError):
    """A reader's main page alone is over the size limit of one message."""


@dataclass
class Message:
    """A built message and what did not fit in it."""

    email: EmailMessage
    size: int
    left_out: list[str] = field(default_factory=list)


def inline_css(html: str) -> str:
    """``html`` with its style sheets applied as ``style`` attributes (and the ``<style>`` blocks removed)."""
    try:
        import css_inline
    except ImportError:
        raise ImportError("sending mail needs css-inline: pip install 'salesnb[mail]'") from None
    return css_inline.inline(html)


def html_to_text(html: str) -> str:
    """The readable text of a page: no style, script or markup; a line per block."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def page_subject(entry: dict, period: str | None) -> str:
    """A subject for a page: its title (``Coaching report: Ava Martin (R01), 2025``), on one line."""
    from salesnb.run.recipients import kind_name

    text = str(entry.get("title") or f"{kind_name(entry)}: {entry.get('label') or ''}")
    if period and period not in text:
        text = f"{text}, {period}"
    return _one_line(text)


def build_message(
    pages: list[tuple[dict, Path]],
    *,
    to: str,
    sender: str,
    subject: str,
    max_bytes: int = MAX_BYTES,
) -> Message:
    """The message for one reader: ``pages`` are (manifest entry, file) pairs,
    the main page first (see the module doc)."""
    if not pages:
        raise InputError(f"no page to send to {to}")
    main_entry, main_file = pages[0]
    main_html = main_file.read_text(encoding="utf-8")
    mail_html, images = _cid_images(inline_css(main_html))
    text = html_to_text(main_html)
    attachments = [(main_file.name, main_file.read_bytes())]
    attachments += [(_attachment_name(entry, file), file.read_bytes()) for entry, file in pages[1:]]
    names = _unique([name for name, _ in attachments])
    attachments = [(name, data) for name, (_, data) in zip(names, attachments)]

    left_out: list[str] = []
    while True:
        email = _assemble(to, sender, subject, text, mail_html, images, attachments, left_out)
        size = len(email.as_bytes())
        if size <= max_bytes:
            return Message(email, size, left_out)
        if not attachments:
            raise MessageTooLarge(
                f"the page {main_entry.get('label')!s} alone makes a message of {size / 1e6:.1f} MB, over the "
                f"{max_bytes / 1e6:.1f} MB limit; share it with --folders instead"
            )
        largest = max(range(len(attachments)), key=lambda i: len(attachments[i][1]))
        left_out.append(attachments.pop(largest)[0])


def _assemble(to, sender, subject, text, mail_html, images, attachments, left_out) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = subject
    email["From"] = sender
    email["To"] = to
    email["Date"] = formatdate(localtime=True)
    email["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    note = ""
    if attachments:
        note += "\n\nAttached: " + ", ".join(name for name, _ in attachments) + "."
    if left_out:
        note += "\nLeft out (the message would be over 5 MB): " + ", ".join(left_out) + "; ask for them by another way."
    email.set_content(text + note, subtype="plain", charset="utf-8")
    email.add_alternative(mail_html, subtype="html", charset="utf-8")
    html_part = email.get_payload()[1]
    for cid, (subtype, data) in images.items():
        html_part.add_related(data, maintype="image", subtype=subtype, cid=f"<{cid}>", disposition="inline")
    for name, data in attachments:
        email.add_attachment(data, maintype="text", subtype="html", filename=name)
    return email


def _cid_images(html: str) -> tuple[str, dict[str, tuple[str, bytes]]]:
    """``html`` with every ``data:`` image replaced by ``cid:`` and the images, by content id."""
    images: dict[str, tuple[str, bytes]] = {}

    def replace(match: re.Match) -> str:
        subtype = match.group(3).lower()
        try:
            data = base64.b64decode(re.sub(r"\s+", "", match.group(4)), validate=True)
        except (binascii.Error, ValueError):
            return match.group(0)
        cid = f"img-{hashlib.sha256(data).hexdigest()[:16]}@salesnb"
        images.setdefault(cid, (subtype, data))
        return f"{match.group(1)}{match.group(2)}cid:{cid}{match.group(2)}"

    return _DATA_IMAGE.sub(replace, html), images


def _attachment_name(entry: dict, file: Path) -> str:
    """``reps/r01-....html`` -> ``r01-....html``; the index -> ``index.html``."""
    return file.name


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        stem, dot, ext = name.rpartition(".")
        out.append(name if count == 0 else f"{stem}-{count + 1}{dot}{ext}")
    return out


def _one_line(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()[:200]


class _TextParser(HTMLParser):
    _SKIP = {"style", "script", "head", "title"}
    _BLOCK = {
        "p",
        "div",
        "br",
        "tr",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "table",
        "ul",
        "ol",
        "figure",
        "header",
    }

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("  ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self._skipping:
                self.parts.append(f"[chart: {alt}]")

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)
