"""The documentation a user reads holds together in a clone (issue #15).

Every relative Markdown link in the README, ``docs/`` and the other READMEs
resolves to a file of the repository (and an anchor to a heading of it); no
link leaves the repository; the README stays short and links the data
contract, whose copy lives in ``docs/contract.md``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS, ROOT / "data" / "README.md", ROOT / "tests" / "bad_inputs" / "README.md", ROOT / "reports" / "README.md"]

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:, file:, ...


def _prose(text: str) -> str:
    """The text without code blocks and code spans, where brackets are not links."""
    return CODE.sub("", FENCE.sub("", text))


def _links(page: Path) -> list[str]:
    text = _prose(page.read_text(encoding="utf-8"))
    return INLINE_LINK.findall(text) + REFERENCE_LINK.findall(text)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", FENCE.sub("", page.read_text(encoding="utf-8")), re.M)
    anchors, seen = set(), {}
    for heading in headings:
        slug = _slug(heading)
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _relative_links():
    for page in PAGES:
        for target in _links(page):
            if not EXTERNAL.match(target):
                yield pytest.param(page, target, id=f"{page.relative_to(ROOT)}->{target}")


def test_the_pages_exist_and_hold_links():
    missing = [str(page.relative_to(ROOT)) for page in PAGES if not page.is_file()]
    assert not missing, missing
    assert (ROOT / "docs" / "contract.md") in DOCS
    assert len(list(_relative_links())) > 20


@pytest.mark.parametrize(("page", "target"), list(_relative_links()))
def test_relative_link_resolves_inside_the_repository(page: Path, target: str):
    path, _, anchor = target.partition("#")
    resolved = (page.parent / unquote(path)).resolve() if path else page
    assert resolved.is_relative_to(ROOT), f"{page.relative_to(ROOT)}: {target} points outside the repository"
    assert resolved.exists(), f"{page.relative_to(ROOT)}: {target} does not exist"
    if anchor and resolved.suffix == ".md":
        assert anchor in _anchors(resolved), (
            f"{page.relative_to(ROOT)}: {target}: no heading #{anchor} in {resolved.relative_to(ROOT)}"
        )


def test_no_page_refers_to_the_contract_outside_the_repository():
    for page in PAGES:
        assert "shared/data-contract.md" not in page.read_text(encoding="utf-8"), page.relative_to(ROOT)


def test_readme_and_every_doc_link_the_contract():
    for page in [README, *DOCS]:
        if page.name == "contract.md":
            continue
        targets = {target.partition("#")[0] for target in _links(page)}
        assert {"docs/contract.md", "contract.md"} & targets, f"{page.relative_to(ROOT)} does not link the data contract"


def test_readme_stays_short():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < 300, f"README.md has {lines} lines: move the detail into docs/"


def test_slug_matches_github():
    assert (
        _slug("Command line (machine-readable outputs are part of the contract)")
        == "command-line-machine-readable-outputs-are-part-of-the-contract"
    )
    assert _slug("Expectations (`expectations.yml`)") == "expectations-expectationsyml"
    assert _slug("Metrics, diagnosis and the other analyses") == "metrics-diagnosis-and-the-other-analyses"
