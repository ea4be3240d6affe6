"""Executed notebook -> one self-contained, safe HTML page.

:func:`notebook_to_html` renders with salesnb's own nbconvert template
(``salesnb/templates/salesnb_report``): outputs only, no input cells and no
prompts, charts embedded as base64 images, no script and no request to the
network (the page opens offline, and its Content-Security-Policy forbids
both even if some markup slipped through).

Values that come from data are escaped twice over: the notebooks' helpers
escape what they build, and this module passes every HTML or Markdown
output through :func:`safe_html`, an allow-list sanitizer, so a rep named
``<script>alert(1)</script>`` reaches the page as text. Text outputs are
escaped by nbconvert's ``ansi2html``.

The exporter is built once per process (:func:`html_exporter`) and reused.
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["TEMPLATES", "TEMPLATE_NAME", "html_exporter", "notebook_to_html", "safe_html"]

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAME = "salesnb_report"

# Output types a static report shows, best first. JavaScript and widget views
# are left out on purpose: such outputs fall back to their text form.
DISPLAY_PRIORITY = [
    "text/html",
    "text/markdown",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/latex",
    "text/plain",
]

# Cells a notebook author tags to keep out of the rendered report.
REMOVE_CELL_TAGS = ("remove-cell", "remove_cell", "hide")
REMOVE_OUTPUT_TAGS = ("remove-output", "remove_output", "hide-output")

_TAGS = frozenset(
    """a abbr b blockquote br caption cite code col colgroup dd del details div dl dt em
    figcaption figure h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp small
    span strong style sub summary sup table tbody td tfoot th thead tr u ul var""".split()
)
_CELL_ATTRS = ["colspan", "rowspan", "scope", "headers", "valign", "align"]
_COMMON_ATTRS = ["class", "id", "title", "lang", "dir", "align", "style"]
_LINK_PREFIXES = ("http://", "https://", "mailto:", "#")
_IMAGE_PREFIXES = ("data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/webp;", "data:image/svg+xml;")


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in _COMMON_ATTRS:
        return True
    if tag == "a":
        if name == "href":
            return value.strip().lower().startswith(_LINK_PREFIXES)
        return name in ("title", "rel")
    if tag == "img":
        if name == "src":  # embedded images only: no request leaves the page
            return value.strip().lower().startswith(_IMAGE_PREFIXES)
        return name in ("alt", "width", "height")
    if tag in ("td", "th"):
        return name in _CELL_ATTRS
    if tag in ("table", "col", "colgroup"):
        return name in ("border", "cellpadding", "cellspacing", "span", "width")
    if tag == "ol":
        return name in ("start", "type", "reversed")
    return False


@functools.lru_cache(maxsize=1)
def _cleaner():
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    return bleach.Cleaner(
        tags=_TAGS,
        attributes=_allowed_attribute,
        protocols={"http", "https", "mailto", "data"},
        strip=False,  # a disallowed tag is shown as text, not dropped
        strip_comments=True,
        css_sanitizer=CSSSanitizer(),
    )


def safe_html(markup) -> str:
    """``markup`` with everything that could run or fetch removed.

    Tables, text formatting, headings, lists, embedded (``data:``) images
    and ``<style>`` blocks are kept; ``<script>``, ``<iframe>``, forms and
    any other tag not on the allow-list come out as visible, escaped text;
    event handlers, ``javascript:`` links and external images are dropped.
    """
    if markup is None:
        return ""
    if isinstance(markup, (list, tuple)):  # nbformat may split text into lines
        markup = "".join(markup)
    return _clean(str(markup))


@functools.lru_cache(maxsize=1024)
def _clean(markup: str) -> str:
    """The sanitizer is a pure function of the text; a batch's reports repeat
    much of theirs (the notebook's prose, the same notes and headings)."""
    return _cleaner().clean(markup)


@functools.lru_cache(maxsize=1)
def html_exporter():
    """The configured nbconvert ``HTMLExporter``, built once per process."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.template_name = TEMPLATE_NAME
    config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES)]
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    config.HTMLExporter.exclude_anchor_links = True
    config.HTMLExporter.embed_images = True  # markdown attachments become data: URIs
    config.HTMLExporter.optimistic_validation = True  # validate once, after every preprocessor, not after each
    config.NbConvertBase.display_data_priority = DISPLAY_PRIORITY
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_CELL_TAGS)
    config.TagRemovePreprocessor.remove_all_outputs_tags = set(REMOVE_OUTPUT_TAGS)
    exporter = HTMLExporter(config=config)
    exporter.register_filter("safe_html", safe_html)
    return exporter


def notebook_to_html(nb, *, title: str, subtitle: str = "", warning: str = "") -> str:
    """Render executed notebook ``nb`` (a NotebookNode) as a report page.

    ``title`` becomes the page title and heading, ``subtitle`` the line
    under it (period, date of the data), ``warning`` a warning above it
    (old data); all are escaped.
    """
    if not isinstance(title, str) or not title.strip():
        raise ValueError("a report needs a non-empty title")
    resources = {"salesnb": {"title": title, "subtitle": subtitle or "", "warning": warning or ""}}
    body, _ = html_exporter().from_notebook_node(nb, resources=resources)
    return body
