"""The manifest's entry for a report that was not rendered this time: skipped
(no notebook, an interrupted batch), unchanged since the last rendering, or
lost with its worker. Rendered reports get theirs from :mod:`salesnb.run.execute`."""

from __future__ import annotations

from pathlib import Path

from salesnb.run.execute import describe
from salesnb.run.plan import ReportJob, utc_now

__all__ = ["UNCHANGED", "is_unchanged", "unchanged_entry", "skipped_entry", "crashed_entry"]

UNCHANGED = "unchanged"
"""The ``reason`` of a report skipped because nothing it reads changed."""


def is_unchanged(job: ReportJob, previous: dict | None) -> bool:
    """The last rendering of this report had the same inputs, and its page is there."""
    if not previous or not job.input_key or previous.get("input_key") != job.input_key:
        return False
    rendered = previous.get("status") == "ok" or (previous.get("status") == "skipped" and previous.get("reason") == UNCHANGED)
    html = previous.get("html")
    return rendered and isinstance(html, str) and html == job.html and (Path(job.out_dir) / html).is_file()


def unchanged_entry(job: ReportJob, previous: dict) -> dict:
    """The previous entry, kept with its page, marked skipped as unchanged."""
    entry = {k: v for k, v in previous.items() if k != "earlier_run"}
    fields = _not_run(status="skipped", reason=UNCHANGED)
    del fields["html"]  # the page rendered last time stays
    fields["rendered_at"] = previous.get("rendered_at") or previous.get("ended")
    entry.update(job.entry(), **fields)
    return entry


def skipped_entry(job: ReportJob, reason: str) -> dict:
    return {**job.entry(), **_not_run(status="skipped", reason=reason)}


def crashed_entry(job: ReportJob, exc: BaseException) -> dict:
    """The entry for a job whose worker died before it could answer."""
    return {**job.entry(), **_not_run(status="failed", reason=None), **describe(exc), "engine": job.engine, "worker": None}


def _not_run(*, status: str, reason: str | None) -> dict:
    now = utc_now()
    return dict(
        html=None,
        status=status,
        reason=reason,
        error=None,
        error_detail=None,
        failed_notebook=None,
        started=now,
        ended=now,
        rendered_at=None,
        seconds=0.0,
    )
