"""The HTML reports, opened offline in Chromium as a rep or a manager would.

The bundled sample is rendered once (R01 and R02's coaching reports, team
Alpha's overview, the data-quality report). Each page is opened from
``file://`` with every network request aborted and recorded: none is made,
the page shows its title and headings, and every chart is a loaded image.
R02 is the planted prospecting rep (salesnb.io.sample.PLANTED), so the focus
section names prospecting: 36 new opportunities against a team median of 63,
shown as 60 (the mean of the middle peers: 63 is one colleague's own figure).
Full-page screenshots land in reports/screenshots/.

A rep's coaching report printed for the one-to-one (issue #14 item 9): Chromium
prints the rendered sample report to PDF on A4 and on Letter; every chart lands
whole on one page, and the report fits a handful of pages. How a cut is seen
without a PDF library: Chromium writes each page's images in that page's
/XObject resources, so a chart split across a page break would be listed on
both pages. The print-media screenshot lands in reports/screenshots/.

(Printing and viewing share one file, so that pytest-xdist's ``--dist
loadfile`` runs them on one worker and the sample is rendered once.)
"""

from __future__ import annotations

import re

import pytest
from browsing import opened, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def report_path(out, which: str):
    """``index``, ``data_quality``, ``reps/R01`` or ``teams/Alpha``: the HTML file in ``out``."""
    if "/" not in which:
        return out / f"{which}.html"
    folder, key = which.split("/")
    (path,) = (out / folder).glob(f"{key.lower()}-*.html")
    return path


def assert_self_contained(visit) -> dict:
    facts = visit.facts()
    assert visit.off_machine() == [], f"requests left the machine: {visit.off_machine()}"
    assert visit.requests == [visit.page.url], f"the page loaded more than itself: {visit.requests}"
    assert visit.console_errors == [] and visit.page_errors == [] and visit.dialogs == []
    assert facts["scripts"] == 0 and facts["handlers"] == [] and facts["frames"] == 0
    assert "default-src 'none'" in facts["csp"] and "img-src data:" in facts["csp"]
    broken = [img for img in facts["images"] if not (img["complete"] and img["width"] > 0)]
    assert broken == [], f"images that did not load: {broken}"
    return facts


def test_index_lists_the_batch_and_its_links_open_offline(browser, sample_batch, screenshots):
    with opened(browser, sample_batch / "index.html") as visit:
        page = visit.page
        assert page.title() == "Coaching reports, 2025"
        assert_self_contained(visit)
        text = page.inner_text("body")
        # two rep reports, team Alpha, data quality, the forecast review and the training page
        assert "6 ok" in text and "0 failed" in text
        for who in ("Ava Martin (R01)", "Ben Kowalski (R02)", "Alpha", "all reps"):
            assert who in text
        assert text.index("Whom to coach first") < text.index("Team and analysis pages")
        queue = page.locator("table.queue tbody tr").all_inner_texts()
        assert len(queue) == 2 and queue[0].startswith("Ben Kowalski (R02)")  # a stake before no gap
        assert page.locator("section.pages table.index tbody tr").count() == 4
        screenshot(page, screenshots, "sample-index")

        page.get_by_role("link", name="Ben Kowalski (R02)").click()
        page.wait_for_load_state("load")
        assert page.url.startswith("file://") and "/reps/r02-" in page.url
        assert page.title() == "Coaching report: Ben Kowalski (R02), 2025"
        assert visit.off_machine() == []


def test_rep_report_shows_the_focus_and_every_chart_offline(browser, sample_batch, screenshots):
    with opened(browser, report_path(sample_batch, "reps/R02")) as visit:
        page = visit.page
        assert page.title() == "Coaching report: Ben Kowalski (R02), 2025"
        assert page.locator("h1").inner_text() == "Coaching report: Ben Kowalski (R02), 2025"
        facts = assert_self_contained(visit)
        assert len(facts["images"]) >= 4 and all(img["src"].startswith("data:image/png") for img in facts["images"])
        headings = page.locator("h2").all_inner_texts()
        for heading in ("What is working", "The one thing to work on", "Questions for your next one-to-one"):
            assert heading in headings
        assert page.get_by_role("heading", name="The one thing to work on").is_visible()
        focus = page.locator(".salesnb-focus").first.inner_text()
        assert "Focus: prospecting" in focus and "36 new opportunities" in focus and "team median of 60" in focus
        for img in page.locator("img").all():  # every chart says what it shows, and is drawn at a readable size
            assert img.get_attribute("alt") not in (None, "", "chart")
            assert img.bounding_box()["width"] >= 300
        screenshot(page, screenshots, "sample-rep-R02")


@pytest.mark.parametrize(
    "which, title",
    [
        ("reps/R01", "Coaching report: Ava Martin (R01), 2025"),
        ("teams/Alpha", "Team overview: Alpha, 2025"),
        ("data_quality", "Data quality, 2025"),
    ],
)
def test_other_reports_open_offline(browser, sample_batch, screenshots, which, title):
    with opened(browser, report_path(sample_batch, which)) as visit:
        assert visit.page.title() == title
        facts = assert_self_contained(visit)
        assert facts["images"] or which == "data_quality"
        screenshot(visit.page, screenshots, f"sample-{which.replace('/', '-')}")


# -- printed ------------------------------------------------------------------------------------


def pdf_pages(pdf: bytes) -> list[set[str]]:
    """Per page of a Chromium PDF, the object numbers of the images drawn on it."""
    text = pdf.decode("latin-1")
    pages = re.finditer(r"\d+ 0 obj\s*<</Type /Page\b(?!s)(.*?)endobj", text, re.S)
    return [set(re.findall(r"/X\w+ (\d+) 0 R", page.group(1))) for page in pages]


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_a_rep_report_prints_with_every_chart_whole_on_one_page(browser, sample_batch, screenshots, paper):
    (path,) = (sample_batch / "reps").glob("r01-*.html")
    with opened(browser, path) as visit:
        charts = visit.page.locator("figure.chart img").count()
        pdf = visit.page.pdf(format=paper, print_background=True)
        visit.page.emulate_media(media="print")
        screenshot(visit.page, screenshots, f"print-rep-{paper.lower()}")
        headings = visit.page.evaluate(
            "[...document.querySelectorAll('h2')].map(h => getComputedStyle(h).breakAfter)"
        )  # fmt: skip
        inside = visit.page.evaluate("getComputedStyle(document.querySelector('figure.chart')).breakInside")
    pages = pdf_pages(pdf)
    assert charts == 5  # the funnel, the trends (one figure), the stages, value against cost, forecasts
    assert 3 <= len(pages) <= 9, f"{len(pages)} {paper} pages"
    drawn = [image for page in pages for image in page]
    assert len(set(drawn)) == charts, "every chart is printed"
    assert len(drawn) == len(set(drawn)), f"a chart is cut across two pages: {pages}"
    assert headings and set(headings) == {"avoid"}  # a section's heading never sits alone at a page's foot
    assert inside == "avoid"
