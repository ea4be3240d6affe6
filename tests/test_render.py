"""salesnb.present.render: executed notebook -> one safe, self-contained HTML page.

These tests build executed notebooks in memory (no kernel), so they are
fast; tests/test_report.py renders notebooks that really ran.
"""

from __future__ import annotations

import base64
import html
import io
from html.parser import HTMLParser

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from salesnb.present.render import _clean, html_exporter, notebook_to_html, safe_html

HOSTILE = "<script>alert(1)</script>"
TINY_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()


def render(*outputs, source="x = 1  # SOURCE-MARKER-do-not-show", cells=(), title="Report", **kw):
    nb = new_notebook(cells=[*cells, new_code_cell(source, outputs=list(outputs), execution_count=7)])
    return notebook_to_html(nb, title=title, **kw)


def display(data, **metadata):
    return new_output("display_data", data=data, metadata=metadata)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def assert_offline_and_inert(page: str) -> None:
    """No script of any kind, no event handler, nothing fetched from the network."""
    parser = _Tags()
    parser.feed(page)
    for tag, attrs in parser.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed", "base", "form", "svg"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name == "src":
                assert value.startswith("data:image/"), (tag, value)
            if name == "href":
                assert tag == "a" and not value.strip().lower().startswith("javascript:"), (tag, value)
    lowered = page.lower()
    assert "@import" not in lowered and "@font-face" not in lowered and "url(" not in lowered


def test_outputs_only_no_input_no_prompts():
    page = render(new_output("stream", name="stdout", text="hello\n"))
    assert "hello" in page
    assert "SOURCE-MARKER" not in page
    assert "In&nbsp;[" not in page and "In [" not in page and "Out[" not in page


def test_markup_in_text_outputs_is_shown_as_text():
    page = render(
        new_output("stream", name="stdout", text=f"name: {HOSTILE}\n"),
        new_output("execute_result", data={"text/plain": f"'{HOSTILE}'"}, execution_count=7),
    )
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
    assert_offline_and_inert(page)


def test_escaped_html_output_stays_escaped():
    # what a notebook helper does: IPython.display.HTML of an escaped string
    from IPython.display import HTML

    shown = HTML(f"<p class='rep-name'>{html.escape(HOSTILE)}</p>")
    page = render(display({"text/html": shown._repr_html_(), "text/plain": repr(shown)}))
    assert '<p class="rep-name">&lt;script&gt;alert(1)&lt;/script&gt;</p>' in page
    assert_offline_and_inert(page)


def test_unescaped_markup_in_html_and_markdown_cannot_run():
    # a helper that forgot to escape must still not let data run as code
    page = render(
        display(
            {
                "text/html": f"<p>{HOSTILE}</p><img src=x onerror=alert(2)><a href='javascript:alert(3)'>x</a>"
                "<iframe src='https://evil.example'></iframe><img src='https://evil.example/t.png'>"
            }
        ),
        display({"text/markdown": f"**{HOSTILE}** [link](javascript:alert(4))"}),
        cells=[new_markdown_cell(f"# Title {HOSTILE}")],
    )
    assert_offline_and_inert(page)
    assert "&lt;script&gt;" in page  # shown as text, not silently dropped


def test_dataframe_output_keeps_its_table_and_escapes_cells():
    import pandas as pd

    frame = pd.DataFrame({"rep_id": ["R2"], "name": [HOSTILE]})
    page = render(display({"text/html": frame.to_html(), "text/plain": str(frame)}))
    assert "<table" in page and "<th>name</th>" in page
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page
    assert_offline_and_inert(page)


def test_images_are_embedded():
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>'
    page = render(
        display({"image/png": TINY_PNG, "text/plain": "<Figure>"}), display({"image/svg+xml": svg, "text/plain": "<Figure>"})
    )
    assert f'src="data:image/png;base64,{TINY_PNG}"' in page
    assert 'src="data:image/svg+xml;base64,' in page
    assert "<svg" not in page  # shown as an image, never inlined
    assert_offline_and_inert(page)


def test_page_forbids_scripts_and_network_and_is_titled():
    page = render(
        new_output("stream", name="stdout", text="x\n"),
        title=f"Coaching report: {HOSTILE}",
        subtitle="2026-Q1 (2026-01-01 to 2026-03-31)",
    )
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<title>Coaching report: &lt;script&gt;alert(1)&lt;/script&gt;</title>" in page
    assert "<h1>Coaching report: &lt;script&gt;alert(1)&lt;/script&gt;</h1>" in page
    assert "2026-Q1 (2026-01-01 to 2026-03-31)" in page
    assert_offline_and_inert(page)


def test_javascript_and_widget_outputs_fall_back_to_text():
    page = render(
        display({"application/javascript": "alert(5)", "text/plain": "js fallback"}),
        display(
            {
                "application/vnd.jupyter.widget-view+json": {"model_id": "m1", "version_major": 2, "version_minor": 0},
                "text/plain": "widget fallback",
            }
        ),
    )
    assert "alert(5)" not in page
    assert "js fallback" in page and "widget fallback" in page
    assert_offline_and_inert(page)


def test_stderr_and_tagged_cells_are_left_out():
    hidden = new_code_cell("y = 2", outputs=[new_output("stream", name="stdout", text="HIDDEN-CELL\n")])
    hidden.metadata["tags"] = ["remove-cell"]
    page = render(
        new_output("stream", name="stderr", text="FutureWarning: noise\n"),
        new_output("stream", name="stdout", text="kept\n"),
        cells=[hidden],
    )
    assert "kept" in page
    assert "FutureWarning" not in page and "HIDDEN-CELL" not in page


def test_template_overhead_is_small_and_charts_fit_the_budget():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = []
    for i in range(4):
        fig, ax = plt.subplots(figsize=(6, 3.5), dpi=80)
        ax.bar([f"rep {j}" for j in range(8)], [(j * 7 + i) % 11 + 1 for j in range(8)])
        ax.set_title(f"chart {i}")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        charts.append(display({"image/png": base64.b64encode(buffer.getvalue()).decode(), "text/plain": "<Figure>"}))
    page = render(*charts)
    images = sum(len(c["data"]["image/png"]) for c in charts)
    assert len(page.encode()) - images < 8_000  # the page itself: css and markup only
    assert len(page.encode()) < 200_000


def test_exporter_is_built_once_per_process():
    assert html_exporter() is html_exporter()


def test_safe_html_allow_list():
    assert safe_html(None) == ""
    assert safe_html(["<b>a", "</b>"]) == "<b>a</b>"
    cleaned = safe_html('<a href="https://example.com" onclick="x()">ok</a><a href="data:text/html,x">no</a>')
    assert 'href="https://example.com"' in cleaned and "onclick" not in cleaned and "data:text" not in cleaned
    assert 'src="data:image/png;base64,AAAA"' in safe_html('<img src="data:image/png;base64,AAAA" alt="c">')
    assert "<style>" in safe_html("<style>.dataframe td {color: red}</style>")
    assert "&lt;form" in safe_html("<form action='https://evil.example'><input></form>")


def test_sanitizing_is_remembered_and_validation_runs_once():
    """A batch renders the same prose hundreds of times: the sanitizer's answer
    is kept (it is a pure function of the text); nbconvert validates the
    notebook once after its preprocessors, not after each."""
    markup = "<p>Strengths first<script>alert(1)</script></p>"
    assert safe_html(markup) == safe_html(markup) and "<script>" not in safe_html(markup)
    hits = _clean.cache_info().hits
    safe_html(markup)
    assert _clean.cache_info().hits == hits + 1
    assert html_exporter().optimistic_validation
