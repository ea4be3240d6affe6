"""The manager's queue (issue #14 item 6): whom to coach first, on what, and what it is worth.

:func:`manager_queue` is pure: the reps' diagnoses, their metrics, the
data-quality flags and last period's diagnoses in, one row per rep out,
sorted by ``stake`` (the revenue closing the focus gap to the peer median
would have brought in; largest first, reps without one last). A rep with
no focus reads "no gap" when every factor was judged and none falls short,
"too little data" when some factor could not be judged. :func:`queue_for`
gathers those inputs from a dataset (the team page and the batch index
both call it); :func:`team_findings` lists the gaps a whole team shares.

The diagnosis keys added by issue #14 (``focus_strength``, ``cause``,
``not_judged``, ``stake``, ``team_finding``, ``flags``, evidence ``judged``)
are read with ``.get``: a diagnosis without them still makes a queue.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from salesnb.analysis.labels import factor_name, fmt, fmt_unit, is_missing
from salesnb.present.progress import LOWER_IS_BETTER, since_last

__all__ = [
    "QUEUE_COLUMNS",
    "QUEUE_FLAGS",
    "manager_queue",
    "queue_for",
    "queue_rows",
    "team_findings",
    "rep_forecast_bias",
]

QUEUE_COLUMNS = [
    "rep_id",
    "label",
    "status",
    "focus",
    "focus_strength",
    "focus_text",
    "cause",
    "metric",
    "gap_pct",
    "gap_text",
    "stake",
    "attainment",
    "flags",
    "flags_text",
    "improved",
    "since_text",
]
"""The queue's columns. ``status``: ``focus``, ``no_gap`` or ``too_little_data``;
``flags``: the words of :data:`QUEUE_FLAGS` (and a forecast bias) that apply."""

QUEUE_FLAGS = {
    "padded_activity": "padding",
    "stale_pipeline": "stalled deals",
    "small_sample": "small sample",
}
"""Data-quality flag -> its word in the queue (a forecast bias is added by :func:`rep_forecast_bias`)."""


def manager_queue(
    diagnoses: Iterable[Mapping],
    metrics: pd.DataFrame | None = None,
    flags: pd.DataFrame | None = None,
    previous: Iterable[Mapping] | None = None,
    *,
    bias: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    kind: str | None = "quarter",
) -> pd.DataFrame:
    """One row per diagnosed rep, sorted by stake (largest first; None last).

    Parameters
    ----------
    diagnoses : list of dict
        :func:`salesnb.analysis.diagnosis.diagnose` for the period, one per rep.
    metrics : DataFrame, optional
        ``metrics_table(by="rep")`` rows: ``attainment``, and ``label`` or ``name`` for the rep's name.
    flags : DataFrame, optional
        :func:`salesnb.analysis.quality.quality_flags` (``flag``, ``rep_id``);
        a diagnosis's own ``flags`` are added.
    previous : list of dict, optional
        The reps' diagnoses for the previous period (:func:`salesnb.present.progress.previous_diagnoses`).
    bias : mapping, optional
        rep_id -> a forecast-bias flag in words (:func:`rep_forecast_bias`).
    labels : mapping, optional
        rep_id -> how the rep is named (default: from ``metrics``, else the rep_id).
    kind : str
        The period's kind, for the "since last period" words.

    Returns
    -------
    DataFrame
        :data:`QUEUE_COLUMNS`. Ties in stake keep reps with a focus before
        those without, the larger gap first, then by name.
    """
    diagnoses = list(diagnoses)
    names = _names(metrics, labels)
    attainment = _column(metrics, "attainment")
    own_flags = _flag_words(flags)
    before = {str(d["rep_id"]): d for d in previous or []}
    bias = dict(bias or {})
    rows = []
    for d in diagnoses:
        rep = str(d["rep_id"])
        focus = d.get("focus")
        top = _focus_evidence(d)
        status = "focus" if focus else ("too_little_data" if _too_little_data(d) else "no_gap")
        words = list(own_flags.get(rep, []))
        for name in d.get("flags") or []:
            word = QUEUE_FLAGS.get(name)
            if word and word not in words:
                words.append(word)
        if bias.get(rep):
            words.append(bias[rep])
        moved = since_last(before.get(rep), d, kind=kind)
        stake = d.get("stake")
        gap = top.get("gap_pct") if top else None
        rows.append(
            {
                "rep_id": rep,
                "label": names.get(rep, rep),
                "status": status,
                "focus": focus,
                "focus_strength": d.get("focus_strength"),
                "focus_text": _focus_text(focus, d.get("focus_strength"), status),
                "cause": d.get("cause"),
                "metric": top.get("metric") if top else None,
                "gap_pct": None if is_missing(gap) else float(gap),
                "gap_text": _gap_text(focus, gap),
                "stake": None if is_missing(stake) else float(stake),
                "attainment": attainment.get(rep),
                "flags": words,
                "flags_text": ", ".join(words),
                "improved": None if moved is None else moved["improved"],
                "since_text": _since_text(moved),
            }
        )
    rows.sort(key=_order)
    return pd.DataFrame(rows, columns=QUEUE_COLUMNS)


def _order(row: dict):
    stake = row["stake"]
    gap = row["gap_pct"]
    size = abs(gap) if gap is not None else -1.0
    rank = {"focus": 0, "too_little_data": 1, "no_gap": 2}[row["status"]]
    return (stake is None, -(stake or 0.0), rank, -size, row["label"].casefold())


def _names(metrics, labels) -> dict:
    if labels:
        return {str(k): str(v) for k, v in labels.items()}
    if metrics is None or "rep_id" not in metrics:
        return {}
    if "label" in metrics:
        return dict(zip(metrics["rep_id"].astype(str), metrics["label"].astype(str)))
    if "name" in metrics:
        from salesnb.present.page_text import rep_label

        return {str(r): rep_label(r, n) for r, n in zip(metrics["rep_id"], metrics["name"])}
    return {}


def _column(metrics, column: str) -> dict:
    if metrics is None or column not in metrics or "rep_id" not in metrics:
        return {}
    return {str(r): (None if is_missing(v) else float(v)) for r, v in zip(metrics["rep_id"], metrics[column])}


def _flag_words(flags) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if flags is None or len(flags) == 0:
        return out
    for flag, rep in zip(flags["flag"], flags["rep_id"]):
        word = QUEUE_FLAGS.get(flag)
        if word is None or is_missing(rep):
            continue
        words = out.setdefault(str(rep), [])
        if word not in words:
            words.append(word)
    return out


def _focus_evidence(d: Mapping) -> Mapping | None:
    focus = d.get("focus")
    if not focus:
        return None
    for e in d.get("evidence") or []:
        if e.get("factor") == focus:
            return e
    return None


def _too_little_data(d: Mapping) -> bool:
    """No focus because something could not be judged (not because nothing falls short)."""
    if d.get("not_judged"):
        return True
    evidence = d.get("evidence") or []
    if not evidence:
        return True
    for e in evidence:
        judged = e.get("judged")
        if judged is None:  # a diagnosis from before `judged`: a factor with no gap or on few deals was not judged
            judged = not is_missing(e.get("gap_pct")) and not e.get("small_sample")
        if not judged:
            return True
    return False


def _focus_text(focus, strength, status) -> str:
    if focus:
        return factor_name(focus) + (" (tentative)" if strength == "tentative" else "")
    return "too little data" if status == "too_little_data" else "no gap"


def _gap_text(focus, gap) -> str:
    if not focus or is_missing(gap):
        return ""
    size = fmt_unit("pct", gap, signed=False)
    if focus in LOWER_IS_BETTER:
        return f"{size} slower" if gap > 0 else f"{size} faster"
    return f"{size} below" if gap < 0 else f"{size} above"


def _since_text(moved: Mapping | None) -> str:
    if not moved:
        return ""
    factor = factor_name(moved["previous_focus"]).lower()
    if moved["improved"] is None:
        return f"no figure ({factor})"
    change = "" if moved["change_pct"] is None else " " + fmt_unit("pct", moved["change_pct"])
    return f"{'yes' if moved['improved'] else 'no'} ({factor}{change})"


def team_findings(diagnoses: Iterable[Mapping]) -> list[dict]:
    """The gaps a whole team shares (each diagnosis's ``team_finding``), once each, largest gap first."""
    seen, out = set(), []
    for d in diagnoses:
        finding = d.get("team_finding")
        if not finding or not finding.get("text"):
            continue
        key = (finding.get("team"), finding.get("factor"))
        if key in seen:
            continue
        seen.add(key)
        # the manager reads the team's name and figures, not the words a rep's page says
        out.append({**finding, "text": finding.get("manager_text") or finding["text"]})
    return sorted(out, key=lambda f: -abs(f.get("gap_pct") or 0.0))


def queue_rows(queue: pd.DataFrame) -> list[dict]:
    """The queue as JSON-ready rows (NaN -> None), as the batch manifest keeps it."""
    rows = []
    for record in queue.to_dict("records"):
        rows.append({k: (None if _nan(v) else v) for k, v in record.items()})
    return rows


def _nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def rep_forecast_bias(ds, *, period, as_of=None, reps=None) -> dict[str, str]:
    """rep_id -> a forecast bias in words for the queue's flags, from every
    forecast period ending by ``period``'s end: a consistent bias
    (:func:`salesnb.analysis.forecasts.forecast_bias`) reads "over-forecasts +50%";
    fewer periods than the rule needs, all erring the same way by at least
    its margin, read "over-forecast 2 of 2, +50%". Reps with neither are left out;
    ``reps``: only theirs looked at (a batch of a few named reps).
    The one seam to :mod:`salesnb.analysis.forecasts` for the queue."""
    from salesnb.analysis.forecasts import BIAS_MIN_MEDIAN_PCT, forecast_bias
    from salesnb.analysis.periods import Period, parse_period

    if getattr(ds, "forecasts", None) is None:
        return {}
    span = parse_period(period, as_of=as_of)
    table = forecast_bias(ds, period=Period.between(pd.Timestamp("1900-01-01"), span.end), reps=reps)
    out = {}
    for row in table.itertuples(index=False):
        median = row.median_error_pct
        if row.periods == 0 or is_missing(median):
            continue
        over = median > 0
        amount = fmt("forecast_error_pct", median)
        if row.bias in ("over", "under"):
            out[str(row.rep_id)] = f"{row.bias}-forecasts {amount}"
        elif abs(median) >= BIAS_MIN_MEDIAN_PCT and (row.share_over if over else row.share_under) == 1.0:
            out[str(row.rep_id)] = f"{'over' if over else 'under'}-forecast {row.periods} of {row.periods}, {amount}"
    return out


def queue_for(
    ds,
    *,
    period,
    as_of=None,
    rep_ids: Iterable[str] | None = None,
    labels: Mapping | None = None,
    everyone: bool = True,
):
    """The manager's queue for ``rep_ids`` (default: every rep) in ``period``, and
    the team findings among them: ``(queue, findings)``. Batch-wide tables go
    through :func:`salesnb.present.tables.batch_table`. ``everyone=False``
    diagnoses only ``rep_ids`` (a batch of a few named reps), not every rep
    (whose diagnoses a batch of every rep's pages reads)."""
    from salesnb.analysis.metrics import metrics_table
    from salesnb.analysis.periods import parse_period
    from salesnb.present.progress import previous_diagnoses
    from salesnb.present.tables import batch_table, data_checks, diagnoses_of, rep_diagnoses

    span = parse_period(period, as_of=as_of)
    few = rep_ids is not None and not everyone
    if few:
        diagnoses = diagnoses_of(ds, rep_ids, period=span, as_of=as_of)
    else:
        diagnoses = batch_table(rep_diagnoses, ds, period=span, as_of=as_of)
    if rep_ids is not None:
        wanted = {str(r) for r in rep_ids}
        diagnoses = [d for d in diagnoses if str(d["rep_id"]) in wanted]
    metrics = batch_table(metrics_table, ds, by="rep", period=span, as_of=as_of)
    flags = batch_table(data_checks, ds, period=span, as_of=as_of)
    queue = manager_queue(
        diagnoses,
        metrics,
        flags,
        previous_diagnoses(ds, period=span, as_of=as_of, reps=list(rep_ids) if few else None),
        bias=rep_forecast_bias(ds, period=span, as_of=as_of, reps=list(rep_ids) if few else None),
        labels=labels,
        kind=span.kind,
    )
    return queue, team_findings(diagnoses)
