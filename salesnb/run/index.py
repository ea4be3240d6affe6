"""The batch's index page (DIR/index.html): every report with its status."""

from __future__ import annotations

from salesnb.run.plan import KINDS

__all__ = ["render_index"]


def render_index(manifest: dict) -> str:
    """The batch's index page: every report with its status; every value escaped."""
    import jinja2

    from salesnb.present.render import TEMPLATES

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    order = {kind: i for i, kind in enumerate(KINDS)}
    rows = sorted(manifest["reports"], key=lambda r: (order.get(r["kind"], 99), (r["label"] or "").casefold()))
    return env.get_template("index.html.j2").render(
        manifest=manifest,
        rows=rows,
        kinds={kind: name for kind, (name, _, _) in KINDS.items()},
        css=(TEMPLATES / "salesnb_report" / "report.css").read_text(encoding="utf-8"),
    )
