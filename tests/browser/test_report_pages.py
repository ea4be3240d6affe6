"""The HTML reports, opened offline in Chromium as a rep or a manager would.

The bundled sample is rendered once (R01 and R02's coaching reports, team
Alpha's overview, the data-quality report). Each page is opened from
``file://`` with every network request aborted and recorded: none is made,
the page shows its title and headings, and every chart is a loaded image.
R02 is the planted prospecting rep (salesnb.io.sample.PLANTED), so the focus
section names prospecting: 36 new opportunities against a team median of 63,
shown as 60 (the mean of the middle peers: 63 is one colleague's own figure).
Full-page screenshots land in reports/screenshots/.
"""

from __future__ import annotations

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
