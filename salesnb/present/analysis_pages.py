"""The analyst's pages, reps named: :func:`forecast_report` (forecasts against results),
:func:`quality_report` (every data-quality flag, with :data:`QUALITY_ADVICE` on
what to fix) and :func:`training_report` (a training programme's effect).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from salesnb.analysis.periods import Period, data_span, parse_period
from salesnb.io.dataset import Dataset
from salesnb.present.page_text import blank_to_none, is_blank, rep_labels, use_currency
from salesnb.present.tables import batch_table, data_checks

__all__ = [
    "QUALITY_ADVICE",
    "ForecastReport",
    "QualityReport",
    "forecast_report",
    "quality_report",
    "training_report",
    "warm_tables",
]

QUALITY_ADVICE = {
    "padded_activity": (
        "log each contact against the customer or opportunity it was about, on the day it "
        "happened; contacts logged in bulk at month end say nothing about the work done."
    ),
    "stale_pipeline": (
        "update or close these deals: record the latest contact and next step, move the expected close date, or mark them lost."
    ),
    "pushed_close_dates": (
        "review these deals with the rep: what has to happen before each can close, and set a close date "
        "the next step supports, or mark the deal lost."
    ),
    "bulk_updates": (
        "update each deal's stage and close date in the CRM when it moves; until then read stage stays "
        "and pushes for this rep as dates of typing, not of the work."
    ),
    "small_sample": "read these rates as rough; compare over a longer period before drawing conclusions.",
    "closed_before_created": "correct the created or closed date in the CRM.",
    "missing_required": "fill in the missing value in the source.",
    "orphan_rep": "add the rep to the reps table, or correct the rep_id on the row.",
    "duplicate_id": "give every row its own ID, or remove the repeated row.",
    "quarantined": (
        "fix the rows listed by `salesnb validate SOURCE --quarantine-out bad.csv` and reload; "
        "until then they are left out of every figure."
    ),
}
"""Flag -> what to fix, in plain words (loader findings carry their own ``Fix:`` hint)."""


@dataclass
class ForecastReport:
    """Forecast accuracy per rep and period, and who is consistently off.

    ``accuracy``: every forecast up to the period's end (rep_id, label,
    period, period_start, forecast_amount, actual, forecast_error_pct);
    ``bias``: :func:`salesnb.analysis.forecasts.forecast_bias` over the same
    forecasts, with ``label``; ``period_table``: the period's
    forecast_amount, revenue_won and forecast_error_pct per rep.
    """

    period: Period
    accuracy: pd.DataFrame
    bias: pd.DataFrame
    period_table: pd.DataFrame
    notes: list = field(default_factory=list)


def forecast_report(ds: Dataset, *, period, as_of=None) -> ForecastReport:
    """Forecasts against results, from the start of the data to the end of ``period``."""
    from salesnb.analysis.forecasts import forecast_accuracy, forecast_bias
    from salesnb.analysis.metrics import metrics_table

    as_of = blank_to_none(as_of)
    use_currency(ds)
    span = parse_period(period, as_of=as_of)
    history = Period.between(min(data_span(ds).start, span.start), span.end)
    labels = rep_labels(ds)
    accuracy = forecast_accuracy(ds, period=history)
    bias = forecast_bias(ds, period=history)
    notes = list(accuracy.attrs.get("notes", []))
    accuracy = accuracy.assign(label=accuracy["rep_id"].map(labels))
    bias = bias.assign(label=bias["rep_id"].map(labels))
    table = batch_table(metrics_table, ds, by="rep", period=span, as_of=as_of)
    period_table = table[["rep_id", "name", "forecast_amount", "revenue_won", "forecast_error_pct"]].assign(
        label=table["rep_id"].map(labels)
    )
    return ForecastReport(period=span, accuracy=accuracy, bias=bias, period_table=period_table, notes=notes)


@dataclass
class QualityReport:
    """Every data-quality flag, per rep and per table, with what to fix.

    ``flags``: :func:`salesnb.analysis.quality.quality_flags` with ``label`` and
    ``advice``; ``by_rep``: rows flagged per rep and flag (wide);
    ``quarantine``: rows set aside per table and flag; ``problems``: the
    loader's located problems (file, line, column, value, message, hint);
    ``kept``: rows kept per table.
    """

    period: Period
    flags: pd.DataFrame
    by_rep: pd.DataFrame
    quarantine: pd.DataFrame
    problems: pd.DataFrame
    kept: pd.DataFrame


def quality_report(ds: Dataset, *, period, as_of=None) -> QualityReport:
    """The data behind the figures: flags per rep and table, quarantine and problems."""

    as_of = blank_to_none(as_of)
    use_currency(ds)
    span = parse_period(period, as_of=as_of)
    labels = rep_labels(ds)
    flags = _quality_flags(ds, span, as_of)
    flags = flags.assign(
        label=flags["rep_id"].map(lambda r: labels.get(r, r) if r is not None else "whole source"),
        advice=flags["flag"].map(lambda f: QUALITY_ADVICE.get(f, "see the detail and correct the source.")),
    )
    per_rep = flags[flags["rep_id"].notna()]
    if per_rep.empty:
        by_rep = pd.DataFrame(columns=["label"])
    else:
        by_rep = per_rep.pivot_table(index="label", columns="flag", values="rows", aggfunc="sum", fill_value=0, observed=True)
        by_rep = by_rep.reset_index()
        by_rep.columns.name = None
    quarantine = _quarantine_counts(ds.quarantine)
    problems = pd.DataFrame(
        [p.to_dict() for p in ds.problems],
        columns=["table", "file", "line", "column", "value", "message", "hint", "flag", "severity", "unit", "source_column"],
    )
    # the column as the user's file names it (a mapping.yml rename), for the reader to find it
    problems["file_column"] = problems["source_column"].where(problems["source_column"].notna(), problems["column"])
    kept = pd.DataFrame(
        {
            "table": list(ds.tables),
            "rows": [len(f) for f in ds.tables.values()],
            "file": [ds.files.get(name, "") for name in ds.tables],
        }
    )
    return QualityReport(period=span, flags=flags, by_rep=by_rep, quarantine=quarantine, problems=problems, kept=kept)


def _quarantine_counts(quarantine) -> pd.DataFrame:
    columns = ["table", "flag", "rows"]
    if quarantine is None or len(quarantine) == 0:
        return pd.DataFrame(columns=columns)
    rows = []
    for table, flags in zip(quarantine["table"], quarantine["flags"].fillna("")):
        for flag in str(flags).split(";") if flags else ["(no flag)"]:
            rows.append({"table": table, "flag": flag or "(no flag)"})
    return pd.DataFrame(rows).groupby(["table", "flag"]).size().rename("rows").reset_index()


def _quality_flags(ds: Dataset, span: Period, as_of) -> pd.DataFrame:
    """The period's data checks, the one batch-wide table the data-quality page reads."""
    return batch_table(data_checks, ds, period=span, as_of=as_of)


def warm_tables(ds: Dataset, *, period, as_of=None, rep_id: str | None = None) -> None:
    """Compute the one batch-wide table the data-quality page asks for (the data
    checks, and the metrics by rep they rest on), with its arguments, so that under
    the runner's memo the page inherits it: the runner makes it before handing out
    the page, ahead of the other pages' tables. ``rep_id`` is not used (the signature
    is the one :func:`salesnb.run.warmup.warm_batch_tables` calls)."""
    as_of = blank_to_none(as_of)
    _quality_flags(ds, parse_period(period, as_of=as_of), as_of)


def training_report(ds: Dataset, *, program: str, metric: str = "win_rate", period=None, as_of=None) -> dict:
    """:func:`salesnb.analysis.training.training_effect` on the data up to the end of
    ``period`` (default: all of it), with ``treated_labels`` and
    ``control_labels`` (reps named, for the manager). Without a training
    table the effect is None and ``warning`` says which table would enable it."""
    from salesnb.analysis.training import training_effect

    as_of = blank_to_none(as_of)
    use_currency(ds)
    end = parse_period(period, as_of=as_of).end if not is_blank(period) else None
    if ds.training is None:  # say which table would enable it, and carry on
        return {
            "program": program,
            "metric": metric,
            "effect": None,
            "ci_low": None,
            "ci_high": None,
            "treated": [],
            "control": [],
            "method": "",
            "means": {},
            "excluded": [],
            "warning": Dataset.missing("training"),
            "notes": [],
            "treated_labels": [],
            "control_labels": [],
        }
    result = training_effect(ds, program=program, metric=metric, as_of=end)
    labels = rep_labels(ds)
    result["treated_labels"] = [labels.get(r, r) for r in result["treated"]]
    result["control_labels"] = [labels.get(r, r) for r in result["control"]]
    return result
