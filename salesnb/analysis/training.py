"""Did a training program change a metric? Difference in differences over reps.

For each trained rep the metric is measured over a window before the
program starts and an equal window after it ends; untrained reps are
measured over the same-length windows around the program's first session.
The effect is the trained reps' average change minus the untrained reps'
average change, so a market-wide swing that moved everybody cancels out.
The 95 % interval comes from a bootstrap that resamples reps with
replacement within each group.

Who counts: *trained* reps have a row for the program (their earliest
start and latest end are used); *untrained* reps are every other rep of the
reps table (reps trained only in other programs included). A rep hired
after their before-window began, or with no value of the metric in one of
the windows (e.g. no closed deal, so no win rate), is left out and listed in
``excluded`` with the reason. Metrics come from
:func:`salesnb.analysis.metrics.metrics_table` for each window; nothing is
recomputed here.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from salesnb.errors import InputError
from salesnb.io.dataset import Dataset

__all__ = ["MAX_WINDOW_DAYS", "MIN_GROUP_REPS", "training_effect"]

MAX_WINDOW_DAYS = 365
"""The default window: the longest equal span the data allows before the
first start and after the last end of the program, capped at 12 months."""

MIN_GROUP_REPS = 5
"""Fewer reps than this in either group and the result carries a warning."""

_DAY = pd.Timedelta(days=1)


def training_effect(
    ds: Dataset, *, program: str, metric: str = "win_rate", window=None, n_boot: int = 2000, seed: int = 0, as_of=None
) -> dict:
    """Estimate a training program's effect on ``metric``.

    Parameters
    ----------
    ds : Dataset
        Needs a ``training`` table.
    program : str
        Program name as in ``training.program`` (case-insensitive).
    metric : str
        Any numeric column of ``metrics_table`` (default ``win_rate``).
    window : int, str or Timedelta, optional
        Length of each before/after window: days (``180``), ``"26W"``,
        ``"6 months"``. Default: the longest equal span the data holds on
        both sides of the program, capped at :data:`MAX_WINDOW_DAYS`.
    n_boot, seed : int
        Bootstrap resamples and the seed of ``numpy.random.default_rng``.
    as_of : date-like, optional
        End of the data considered (default: the latest date in the data).

    Returns
    -------
    dict
        ``program``, ``metric``, ``effect``, ``ci_low``, ``ci_high``,
        ``treated``, ``control`` (rep_ids used), ``method``; and
        ``n_treated``, ``n_control``, ``before`` / ``after`` (the control
        windows, ISO dates), ``window_days``, ``treated_windows`` (per rep),
        ``means`` (group means before and after), ``excluded`` (reps left
        out, with the reason), ``warning`` (None or plain words) and
        ``notes``. Values that cannot be computed are None.
    """
    training = ds.training
    if training is None:
        raise InputError(Dataset.missing("training"))
    rows, name = _program_rows(training, program)
    starts = rows.groupby("rep_id", observed=True)["start_date"].min()
    ends = rows.assign(end=rows["end_date"].fillna(rows["start_date"])).groupby("rep_id", observed=True)["end"].max()
    first_start = starts.min()
    first_end = ends[starts[starts == first_start].index].min()

    data_start, data_end = _data_span(ds, as_of)
    offset, window_label, window_days = _window(window, first_start, ends.max(), data_start, data_end)

    known_reps = [str(r) for r in ds.reps["rep_id"].dropna()]
    treated_ids = [r for r in starts.index if r in known_reps]
    control_ids = [r for r in known_reps if r not in set(starts.index)]
    excluded = [{"rep_id": r, "reason": "not in the reps table"} for r in starts.index if r not in known_reps]

    cache: dict[tuple, pd.DataFrame] = {}
    values = {}
    windows = {}
    for rep in treated_ids:
        before = (starts[rep] - offset, starts[rep] - _DAY)
        after = (ends[rep] + _DAY, ends[rep] + offset)
        windows[rep] = (before, after)
    control_before = (first_start - offset, first_start - _DAY)
    control_after = (first_end + _DAY, first_end + offset)
    for rep in control_ids:
        windows[rep] = (control_before, control_after)

    hire = ds.reps.set_index("rep_id")["hire_date"] if "hire_date" in ds.reps else None
    for rep, (before, after) in windows.items():
        if hire is not None and rep in hire.index and pd.notna(hire[rep]) and hire[rep] > before[0]:
            excluded.append({"rep_id": rep, "reason": f"hired {hire[rep]:%Y-%m-%d}, after the before-window began"})
            continue
        pair = [_metric_for(ds, cache, window_range, rep, metric, as_of) for window_range in (before, after)]
        if any(v is None for v in pair):
            excluded.append({"rep_id": rep, "reason": f"no {metric} in the {'before' if pair[0] is None else 'after'} window"})
            continue
        values[rep] = pair

    treated = [r for r in treated_ids if r in values]
    control = [r for r in control_ids if r in values]
    t = np.array([values[r] for r in treated], dtype=float).reshape(-1, 2)
    c = np.array([values[r] for r in control], dtype=float).reshape(-1, 2)

    effect = ci_low = ci_high = None
    if len(t) and len(c):
        t_diff, c_diff = t[:, 1] - t[:, 0], c[:, 1] - c[:, 0]
        effect = float(t_diff.mean() - c_diff.mean())
        ci_low, ci_high = _bootstrap(t_diff, c_diff, n_boot=n_boot, seed=seed)

    notes = []
    if effect is not None and ci_low <= 0 <= ci_high:
        notes.append("The interval includes zero: the data cannot tell this effect from no effect.")
    if window is not None and (first_start - offset < data_start or ends.max() + offset > data_end):
        notes.append(
            f"The {window_label} window reaches beyond the data ({data_start:%Y-%m-%d} to {data_end:%Y-%m-%d}); "
            "the missing part counts as no activity."
        )
    return {
        "program": name,
        "metric": metric,
        "effect": effect,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "treated": treated,
        "control": control,
        "method": (
            f"difference in differences: each trained rep's {metric} over the {window_label} before the "
            f"program starts vs the {window_label} after it ends, minus the same change for untrained reps "
            f"over the windows around the program's first session ({first_start:%Y-%m-%d}); 95% percentile "
            f"bootstrap interval, resampling reps within each group ({n_boot} resamples, seed {seed})"
        ),
        "n_treated": len(treated),
        "n_control": len(control),
        "before": _iso_range(control_before),
        "after": _iso_range(control_after),
        "window_days": window_days,
        "treated_windows": {r: {"before": _iso_range(windows[r][0]), "after": _iso_range(windows[r][1])} for r in treated},
        "means": {
            "treated_before": _mean(t[:, 0]),
            "treated_after": _mean(t[:, 1]),
            "control_before": _mean(c[:, 0]),
            "control_after": _mean(c[:, 1]),
        },
        "excluded": excluded,
        "warning": _warning(len(treated), len(control)),
        "notes": notes,
    }


def _program_rows(training: pd.DataFrame, program: str) -> tuple[pd.DataFrame, str]:
    names = training["program"].dropna().astype(str)
    wanted = str(program).strip().casefold()
    match = names.str.strip().str.casefold() == wanted
    if not match.any():
        known = sorted(set(names.str.strip()), key=str.casefold)
        listed = ", ".join(known) if known else "none (the training table is empty)"
        raise InputError(f"no training program {program!r}; known programs: {listed}")
    rows = training.loc[match.reindex(training.index, fill_value=False)]
    rows = rows[rows["rep_id"].notna() & rows["start_date"].notna()]
    return rows, str(names[match].iloc[0]).strip()


def _data_span(ds: Dataset, as_of) -> tuple[pd.Timestamp, pd.Timestamp]:
    from salesnb.analysis.periods import data_span

    span = data_span(ds)
    end = pd.Timestamp(as_of).normalize() if as_of is not None else span.end
    return span.start, end


def _window(window, first_start, last_end, data_start, data_end):
    """The window as an offset to add to dates, its label and its length in days."""
    if window is None:
        before = (first_start - data_start).days
        after = (data_end - last_end).days
        days = min(before, after, MAX_WINDOW_DAYS)
        if days < 1:
            side = "before the program starts" if before < 1 else "after the program ends"
            raise InputError(
                f"no data {side} (data spans {data_start:%Y-%m-%d} to {data_end:%Y-%m-%d}); "
                "a before/after comparison needs both sides"
            )
        return pd.Timedelta(days=days), f"{days} days", days
    if isinstance(window, (int, float)) and not isinstance(window, bool):
        days = int(window)
    elif isinstance(window, pd.Timedelta):
        days = window.days
    elif isinstance(window, str):
        found = re.fullmatch(r"\s*(\d+)\s*(m|months?)\s*", window, flags=re.IGNORECASE)
        if found:
            months = int(found.group(1))
            if months < 1:
                raise InputError(f"window must be at least one month, not {window!r}")
            offset = pd.DateOffset(months=months)
            return offset, f"{months} months", int(((first_start + offset) - first_start).days)
        try:
            days = pd.Timedelta(window).days
        except ValueError:
            raise InputError(f"window {window!r} is not a length of time; pass days (180), '26W' or '6 months'") from None
    else:
        raise InputError(f"window must be days, a Timedelta or text such as '6 months', not {window!r}")
    if days < 1:
        raise InputError(f"window must be at least one day, not {window!r}")
    return pd.Timedelta(days=days), f"{days} days", days


def _metric_for(ds, cache, window_range, rep, metric, as_of):
    from salesnb.analysis.metrics import metrics_table
    from salesnb.analysis.periods import Period

    key = (window_range[0], window_range[1])
    if key not in cache:
        span = Period.between(window_range[0], window_range[1])
        table = metrics_table(ds, by="rep", period=span, as_of=as_of)
        if metric not in table.columns or not pd.api.types.is_numeric_dtype(table[metric]) or table[metric].dtype == bool:
            numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c]) and table[c].dtype != bool]
            raise InputError(f"{metric!r} is not a metric; choose one of: {', '.join(numeric)}")
        cache[key] = table.set_index("rep_id")
    table = cache[key]
    if rep not in table.index:
        return None
    value = table.at[rep, metric]
    return None if value is None or pd.isna(value) else float(value)


def _bootstrap(t_diff: np.ndarray, c_diff: np.ndarray, *, n_boot: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    t_idx = rng.integers(0, len(t_diff), size=(n_boot, len(t_diff)))
    c_idx = rng.integers(0, len(c_diff), size=(n_boot, len(c_diff)))
    effects = t_diff[t_idx].mean(axis=1) - c_diff[c_idx].mean(axis=1)
    low, high = np.percentile(effects, [2.5, 97.5])
    return float(low), float(high)


def _mean(values: np.ndarray):
    return float(values.mean()) if len(values) else None


def _iso_range(window_range) -> dict:
    return {"start": f"{window_range[0]:%Y-%m-%d}", "end": f"{window_range[1]:%Y-%m-%d}"}


def _warning(n_treated: int, n_control: int) -> str | None:
    if n_treated == 0 or n_control == 0:
        missing = "trained" if n_treated == 0 else "untrained"
        return f"No {missing} reps with the metric in both windows: there is nothing to compare, so no effect is given."
    small = [f"{n} {label} reps" for n, label in ((n_treated, "trained"), (n_control, "untrained")) if n < MIN_GROUP_REPS]
    if not small:
        return None
    return (
        f"Only {' and '.join(small)}: groups this small make the estimate fragile (one rep can swing it). "
        "Read the interval, not the single number, and treat it as a hint rather than proof."
    )
