"""Open a page in Playwright and keep what it did: every request, dialog,
console error and uncaught script error.

``with opened(browser, url) as visit:`` gives a :class:`Visit` in a fresh
context. Requests to the network (http, https, ws, ftp) are aborted before
they leave and listed in ``Visit.blocked``, and the context's proxy
(:data:`NO_NETWORK`) leads nowhere should one slip past; :func:`off_machine`
lists every request that was not a local file or an inline ``data:`` URL.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

NETWORK = re.compile(r"^(https?|wss?|ftp)://", re.IGNORECASE)
LOCAL_SCHEMES = ("file:", "data:", "about:")
NO_NETWORK = {"server": "http://127.0.0.1:9", "bypass": "127.0.0.1,localhost"}
"""A context proxy that leads nowhere (the discard port on loopback): a request
for any other host fails on this machine instead of leaving it."""

PAGE_FACTS = """() => ({
    pwned: typeof window.__pwned !== 'undefined',
    scripts: document.querySelectorAll('script').length,
    frames: document.querySelectorAll('iframe, frame, object, embed').length,
    handlers: [...document.querySelectorAll('*')].flatMap(
        el => [...el.attributes].filter(a => a.name.toLowerCase().startsWith('on')).map(a => el.tagName + ' ' + a.name)),
    javascriptUrls: [...document.querySelectorAll('[href], [src], [action], [formaction]')].filter(
        el => ['href', 'src', 'action', 'formaction'].some(
            a => (el.getAttribute(a) || '').trim().toLowerCase().startsWith('javascript:'))).length,
    csp: (document.querySelector('meta[http-equiv="Content-Security-Policy"]') || {}).content || null,
    images: [...document.images].map(img => ({complete: img.complete, width: img.naturalWidth,
                                              src: img.src.slice(0, 30)})),
})"""
"""JavaScript run in the page: what a successful injection would leave behind."""


@dataclass
class Visit:
    page: object
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def facts(self) -> dict:
        return self.page.evaluate(PAGE_FACTS)

    def off_machine(self) -> list[str]:
        return off_machine(self.requests + self.blocked)


def off_machine(urls) -> list[str]:
    """The URLs that are neither a local file nor inline data."""
    return [u for u in urls if not u.lower().startswith(LOCAL_SCHEMES)]


def block_network(context, blocked: list[str], *, allow=None) -> None:
    """Abort every network request of ``context`` (except URLs matching
    ``allow``, a compiled regex, which are not intercepted at all) and list
    it in ``blocked``."""

    def leaves(url: str) -> bool:
        return bool(NETWORK.match(url)) and not (allow is not None and allow.match(url))

    def handle(route):
        blocked.append(route.request.url)
        route.abort()

    context.route(leaves, handle)


def watch(page, visit: Visit) -> Visit:
    page.on("request", lambda request: visit.requests.append(request.url))
    page.on("dialog", lambda dialog: (visit.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: message.type == "error" and visit.console_errors.append(message.text))
    page.on("pageerror", lambda error: visit.page_errors.append(str(error)))
    return visit


@contextmanager
def opened(browser, target: str | Path, **context_options):
    """Open ``target`` (a URL or a local file) in a fresh context of
    ``browser`` with the network blocked; yield the :class:`Visit`."""
    url = target.resolve().as_uri() if isinstance(target, Path) else target
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, "proxy": NO_NETWORK, **context_options})
    try:
        page = context.new_page()
        seen = watch(page, Visit(page))
        block_network(context, seen.blocked)
        page.goto(url, wait_until="load")
        yield seen
    finally:
        context.close()


def screenshot(page, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
