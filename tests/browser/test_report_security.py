"""Markup and script in the data are shown as text, and never run.

A four-rep source is generated with salesnb.io.sample.generate, then every
free-text value (rep IDs and names, territories, teams, customer names and
types, acquisition methods, stages, activity types, training programs) gets
one of conftest.PAYLOADS appended: a <script>, an <img onerror>, an attribute
break-out into <svg onload>, an <iframe srcdoc> and a Markdown javascript:
link. The whole batch is rendered and index.html and every report are
opened in Chromium twice:

- as shipped, with the pages' Content-Security-Policy in force: no request
  but the page itself, no CSP violation in the console (one would mean
  injected markup reached the page and was only stopped by the policy);
- with the CSP switched off (Playwright's bypass_csp), to prove the escaping
  alone holds: no window.__pwned, no dialog, no <script>, <iframe> or event
  handler attribute, no javascript: URL anywhere in the DOM.

And the reader sees the names as written: the literal "<script>" is in the
page text.
"""

from __future__ import annotations

import pytest
from browsing import opened, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def pages(out, manifest):
    return [out / "index.html", *(out / r["html"] for r in manifest["reports"] if r.get("html"))]


def test_every_report_of_the_hostile_source_renders(hostile_batch):
    out, manifest, mapping = hostile_batch
    statuses = {r["id"]: (r["status"], r["error"]) for r in manifest["reports"]}
    # 4 reps, 2 teams, data quality, the forecast review and the training program's page
    assert manifest["counts"] == {"ok": 9, "failed": 0, "skipped": 0}, statuses
    assert all((out / r["html"]).is_file() for r in manifest["reports"])
    assert len(mapping["rep"]) == 4 and len(mapping["territory"]) == 4


@pytest.mark.parametrize("csp", ["enforced", "bypassed"])
def test_no_script_from_the_data_runs(browser, hostile_batch, csp):
    out, manifest, _ = hostile_batch
    for path in pages(out, manifest):
        with opened(browser, path, bypass_csp=csp == "bypassed") as visit:
            visit.page.wait_for_timeout(100)  # let any injected handler fire
            facts = visit.facts()
            where = path.relative_to(out)
            assert not facts["pwned"], f"script from the data ran in {where}"
            assert visit.dialogs == [], f"{where} opened dialogs: {visit.dialogs}"
            assert visit.page_errors == [], f"{where} raised: {visit.page_errors}"
            assert visit.requests == [visit.page.url], f"{where} requested more than itself: {visit.requests}"
            assert visit.off_machine() == []
            assert facts["scripts"] == 0 and facts["frames"] == 0, f"{where} holds injected elements"
            assert facts["handlers"] == [], f"{where} holds event-handler attributes: {facts['handlers']}"
            assert facts["javascriptUrls"] == 0, f"{where} holds javascript: URLs"
            assert len(visit.page.frames) == 1
            if csp == "enforced":
                assert visit.console_errors == [], f"{where}: {visit.console_errors}"
                assert "default-src 'none'" in facts["csp"]


def test_markup_in_the_data_is_shown_as_text(browser, hostile_batch, screenshots):
    out, manifest, mapping = hostile_batch
    texts = {}
    for path in pages(out, manifest):
        with opened(browser, path) as visit:
            texts[path.relative_to(out).as_posix()] = visit.page.inner_text("body")
            if path.name == "index.html" or path.parent.name == "reps" and "r03" in path.name:
                screenshot(visit.page, screenshots, f"hostile-{path.stem.split('-')[0]}")  # hostile-index, hostile-r03
    index = texts["index.html"]
    for rep_id, name in zip(mapping["rep"].values(), mapping["rep name"].values()):
        assert f"{name} ({rep_id})" in index  # e.g. "Chloe Patel <script>window.__pwned=1</script> (R03 <script>...)"
    for team in mapping["team"].values():
        assert team in index
    assert "<script>window.__pwned=1</script>" in index and 'onerror="window.__pwned=1"' in index

    for report in manifest["reports"]:
        text = texts[report["html"]]
        assert report["title"] in text  # the page's h1: the title as data wrote it
        if report["kind"] == "rep_coaching":
            rep_id = report["key"]
            assert rep_id in mapping["rep"].values() and rep_id in text

    everything = "\n".join(texts.values())
    shown = {kind: [v for v in values.values() if v in everything] for kind, values in mapping.items()}
    for kind in ("rep", "rep name", "territory", "team", "customer type", "method"):
        assert shown[kind], f"no {kind} is shown in any report"
        assert len(shown[kind]) == len(mapping[kind]), f"some {kind} values are not shown as text: {mapping[kind]}"
