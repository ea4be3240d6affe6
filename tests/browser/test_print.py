"""A rep's coaching report printed for the one-to-one (issue #14 item 9): Chromium
prints the rendered sample report to PDF on A4 and on Letter; every chart lands
whole on one page, and the report fits a handful of pages.

How a cut is seen without a PDF library: Chromium writes each page's images in
that page's /XObject resources, so a chart split across a page break would be
listed on both pages. The print-media screenshot lands in reports/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from browsing import opened, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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
    assert charts == 7  # the funnel, three trends, the stages, value against cost, forecasts
    assert 3 <= len(pages) <= 9, f"{len(pages)} {paper} pages"
    drawn = [image for page in pages for image in page]
    assert len(set(drawn)) == charts, "every chart is printed"
    assert len(drawn) == len(set(drawn)), f"a chart is cut across two pages: {pages}"
    assert headings and set(headings) == {"avoid"}  # a section's heading never sits alone at a page's foot
    assert inside == "avoid"
