"""Which reps a diagnosis is about: a rep asked for by id (known, or set
aside by the loader), and how much of a period each rep was employed
(``active_share``, from ``reps.hire_date``), so a new hire is judged on pace.

:mod:`salesnb.analysis.diagnosis` re-exports these; the rest of its rules
live there.
"""

from __future__ import annotations

import pandas as pd

from salesnb.errors import InputError

__all__ = ["active_share", "require_rep", "set_aside_rep", "with_active_share"]


def require_rep(ds, rep: str) -> None:
    """Raise :class:`InputError` naming ``rep`` and a few known reps when
    ``rep`` is not in the reps table."""
    known = [str(r) for r in ds.reps["rep_id"].dropna()]
    if rep in known:
        return
    aside = set_aside_rep(ds, rep)
    if aside is not None:
        raise InputError(aside)
    close = [r for r in known if r.casefold() == str(rep).casefold()]
    shown = close or known[:8]
    more = "" if close or len(known) <= 8 else f" (and {len(known) - 8} more)"
    hint = "did you mean" if close else "known reps"
    raise InputError(f"no rep {rep!r} in the reps table; {hint}: {', '.join(shown)}{more}")


def set_aside_rep(ds, rep: str) -> str | None:
    """The message for a rep asked for by id whose own row the loader set
    aside (where, why, what to do), or None when no quarantined reps row
    holds that rep_id. Saying "no such rep" would be wrong: it is in the data."""
    import json

    quarantine = getattr(ds, "quarantine", None)
    if quarantine is None or quarantine.empty:
        return None
    for row in quarantine[quarantine["table"] == "reps"].itertuples(index=False):
        try:
            record = json.loads(row.record)
        except (TypeError, ValueError):
            continue
        if str(record.get("rep_id") or "").strip() == rep:
            located = [
                p for p in getattr(ds, "problems", []) or [] if p.table == "reps" and p.file == row.file and p.line == row.line
            ]
            unit = located[0].unit if located else "line"
            where = f"{row.file}, {unit} {row.line}" if pd.notna(row.line) else str(row.file)
            return (
                f"rep {rep!r} is in the data, but its row was set aside: {where}: {row.problems}; "
                f"fix that row (run `salesnb validate` to see every problem) and run again"
            )
    return None


def active_share(reps: pd.DataFrame, span) -> pd.Series:
    """Share of ``span`` (a :class:`~salesnb.analysis.periods.Period`) each rep was
    employed, by ``rep_id``: 1.0 when hired before it starts or the hire
    date is unknown, 0.0 when hired after it ends. Days count inclusively,
    so a rep hired on 2025-07-01 has 184/365 of 2025."""
    if reps is None or "hire_date" not in reps.columns:
        return pd.Series(dtype="float64")
    frame = reps.drop_duplicates("rep_id")
    hired = pd.to_datetime(frame["hire_date"], errors="coerce")
    days = (span.end - span.start).days + 1
    worked = (span.end - hired.clip(lower=span.start)).dt.days + 1
    share = (worked / days).clip(lower=0.0, upper=1.0).where(hired.notna(), 1.0)
    return pd.Series(share.to_numpy(dtype="float64"), index=frame["rep_id"].astype(str).to_numpy())


def with_active_share(rep_metrics: pd.DataFrame, reps: pd.DataFrame, span) -> pd.DataFrame:
    """``rep_metrics`` with the column ``active_share`` (:func:`active_share`
    of each rep in ``span``, 1.0 when unknown), as :func:`diagnose_table`
    needs it to compare prospecting paces."""
    share = active_share(reps, span)
    return rep_metrics.assign(active_share=rep_metrics["rep_id"].map(share).fillna(1.0).to_numpy())
