"""The batch's index page (DIR/index.html): the manager's queue, failures, every other page.

It opens with the same triage table as a team report, for every rep of
the batch (the manifest's ``queue`` rows, sorted by stake), each row
linking to the rep's report; failed reports follow with their error; then
the team, data-quality, forecast and training pages. Build seconds stay in
the manifest.
"""

from __future__ import annotations

from salesnb.analysis.labels import fmt
from salesnb.analysis.wording import about
from salesnb.run.plan import KINDS

__all__ = ["render_index", "queue_entries"]


def queue_entries(manifest: dict) -> tuple[list[dict], set[str]]:
    """The index's queue rows: each manifest ``queue`` row with its words and
    money formatted and its rep's report entry (``report``: None when the
    batch has none); and the ids of the reports those rows link."""
    reports = {r.get("key"): r for r in manifest.get("reports", []) if r.get("kind") == "rep_coaching"}
    rows, linked = [], set()
    for q in manifest.get("queue") or []:
        report = reports.get(q.get("rep_id"))
        if report is not None:
            linked.add(report["id"])
        rows.append(
            {
                "label": q.get("label") or q.get("rep_id"),
                "focus": q.get("focus_text") or "",
                "cause": q.get("cause") or "",
                "gap": q.get("gap_text") or "",
                "stake": fmt("revenue_won", about(q.get("stake")), missing=""),
                "attainment": fmt("attainment", q.get("attainment"), missing=""),
                "flags": q.get("flags_text") or "",
                "since": q.get("since_text") or "",
                "report": report,
            }
        )
    return rows, linked


def render_index(manifest: dict) -> str:
    """The batch's index page; every value escaped."""
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
    queue, linked = queue_entries(manifest)
    failed = [r for r in rows if r["status"] == "failed"]
    others = [r for r in rows if r["id"] not in linked and r["status"] != "failed"]
    return env.get_template("index.html.j2").render(
        manifest=manifest,
        rows=others,
        failed=failed,
        queue=queue,
        findings=[f for f in manifest.get("team_findings") or [] if f.get("text")],
        kinds={kind: name for kind, (name, _, _) in KINDS.items()},
        css=(TEMPLATES / "salesnb_report" / "report.css").read_text(encoding="utf-8"),
    )
