"""Coaching commands: ``diagnose``, ``training-effect`` and ``quality``.

Text output is for people; ``--format json`` gives the contract's shapes
(NaN as null) for scripts.
"""

from __future__ import annotations

import click

from salesnb.cli.group import cli, source_options

_WIDTH = 96


def _format_option(command):
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)(command)


@cli.command()
@source_options
@click.option(
    "--period", required=True, metavar="P", help="2025, 2025-Q2, 2025-06, 2025-01-15..2025-03-31, last-quarter, ytd ..."
)
@click.option("--rep", metavar="R", help="Only this rep (benchmarked against the others all the same).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "brief"]),
    default="text",
    show_default=True,
    help="brief: one line per rep (focus, attainment, win rate) that fits an 80-column terminal.",
)
def diagnose(source, mapping, expectations, as_of, period, rep, fmt) -> None:
    """Name each rep's coaching focus for a period, strengths first.

    The focus is the one funnel factor furthest below the rep's peers:
    prospecting, conversion, deal_size or velocity (or none when the data
    is too thin or nothing falls short).
    """
    from salesnb.analysis.diagnosis import diagnose as run_diagnose
    from salesnb.analysis.periods import parse_period, require_data_in
    from salesnb.io.loading import load

    dataset = load(source, mapping=mapping, expectations=expectations)
    require_data_in(dataset, parse_period(period, as_of=as_of))  # "no data in 2031", not a diagnosis of zeros
    results = run_diagnose(dataset, period=period, rep=rep, as_of=as_of)
    if fmt == "json":
        click.echo(_to_json(results))
        return
    if fmt == "brief":
        from salesnb.analysis.metrics import metrics_table

        span = parse_period(period, as_of=as_of)
        table = metrics_table(dataset, by="rep", period=span, as_of=as_of).set_index("rep_id")
        click.echo(_brief_text(results, table, span.label))
        return
    flags = _rep_flags(dataset, period, as_of)
    click.echo("\n\n".join(_diagnosis_text(r, flags) for r in results) if results else "No reps to diagnose.")


@cli.command("training-effect")
@source_options
@click.option("--program", required=True, metavar="NAME", help="Training program, as named in the training table.")
@click.option("--metric", default="win_rate", show_default=True, help="Metric compared before and after.")
@_format_option
def training_effect(source, mapping, expectations, as_of, program, metric, fmt) -> None:
    """Estimate a training program's effect on a metric (difference in
    differences against untrained reps, with a 95% bootstrap interval)."""
    from salesnb.analysis.training import training_effect as run_training_effect
    from salesnb.io.loading import load

    dataset = load(source, mapping=mapping, expectations=expectations)
    result = run_training_effect(dataset, program=program, metric=metric, as_of=as_of)
    click.echo(_to_json(result) if fmt == "json" else _training_text(result))


@cli.command()
@source_options
@click.option("--period", metavar="P", help="Limit the checks to a period (default: all the data).")
@_format_option
def quality(source, mapping, expectations, as_of, period, fmt) -> None:
    """List data-quality flags: padded activity, stale pipeline, small
    samples and the rows the loader set aside."""
    from salesnb.analysis.quality import quality_flags
    from salesnb.io.loading import load

    dataset = load(source, mapping=mapping, expectations=expectations)
    flags = quality_flags(dataset, period=period, as_of=as_of)
    if fmt == "json":
        click.echo(_to_json(flags.to_dict(orient="records")))
        return
    click.echo(_quality_text(flags))


# -- output helpers ------------------------------------------------------------


def _to_json(value) -> str:
    from salesnb.io.exports import to_json

    return to_json(value)


def _wrap(text: str, indent: str = "  ", hanging: str = "") -> str:
    import textwrap

    return textwrap.fill(text, width=_WIDTH, initial_indent=indent, subsequent_indent=indent + hanging)


def _value(metric: str, value) -> str:
    """A figure by the label book's rule, days shortened to fit the evidence columns ("31 d")."""
    from salesnb.analysis.labels import fmt

    return fmt(metric, value).replace(" days", " d")


def _brief_text(results: list[dict], table, label: str) -> str:
    """One line per rep, at most 79 characters: rep, name, focus, attainment, win rate."""
    from salesnb.analysis.labels import fmt

    def cut(text, width: int) -> str:
        text = " ".join(str(text or "").split())
        return text if len(text) <= width else text[: width - 1] + "…"

    def figure(rep_id, metric) -> str:
        value = table[metric].get(rep_id) if rep_id in table.index and metric in table.columns else None
        return fmt(metric, value, missing="n/a")

    lines = [f"Coaching focus for {label} ({len(results)} rep{'s' if len(results) != 1 else ''})", ""]
    lines.append(f"{'rep':<10} {'name':<22} {'focus':<24} {'attainment':>10} {'win rate':>8}")
    for r in results:
        focus = r["focus"] or "none named"
        if r.get("focus_strength"):
            focus += f" ({r['focus_strength']})"
        lines.append(
            f"{cut(r['rep_id'], 10):<10} {cut(r.get('name'), 22):<22} {cut(focus, 24):<24} "
            f"{figure(r['rep_id'], 'attainment'):>10} {figure(r['rep_id'], 'win_rate'):>8}"
        )
    return "\n".join(lines) if results else "No reps to diagnose."


def _rep_flags(dataset, period, as_of):
    from salesnb.analysis.quality import quality_flags

    return quality_flags(dataset, period=period, as_of=as_of)


def _diagnosis_text(result: dict, flags) -> str:
    from salesnb.analysis.quality import quality_for_rep

    focus = result["focus"] or "none named"
    if result.get("focus_strength"):
        focus += f" ({result['focus_strength']}"
        focus += f", cause: {result['cause']})" if result.get("cause") else ")"
    if result.get("stake"):
        focus += f"  stake: {_value('revenue_won', result['stake'])}"
    lines = [f"{result['rep_id']}  {result['period']}  focus: {focus}", _wrap(result["summary"])]
    lines.append("  Evidence (peer = median of the " + ("team" if result.get("peer_group") == "team" else "other reps") + "):")
    for e in result["evidence"]:
        gap = "" if e["gap_pct"] is None else f"{e['gap_pct']:+.0f}%"
        small = "  small sample" if e["small_sample"] else ""
        small += "" if e.get("judged", True) else "  not judged"
        n = "" if e["n"] is None else f"n={e['n']}"
        lines.append(
            f"    {e['factor']:<12}{_value(e['metric'], e['rep_value']):>10}   peer {_value(e['metric'], e['peer_median']):>10}"
            f"  {gap:>6}  {n}{small}"
        )
    acts = [a["text"] for a in result.get("actions") or [] if a.get("text")]
    if acts:
        lines.append("  To work on:")
        lines += [_wrap(f"- {a}", "    ", "  ") for a in acts]
    if result.get("questions"):
        lines.append("  Questions for the next one-to-one:")
        lines += [_wrap(f"- {q}", "    ", "  ") for q in result["questions"]]
    notes = list(result.get("notes", []))
    own_flags = quality_for_rep(flags, result["rep_id"])
    # small samples are already explained by the diagnosis itself
    notes += [f"{row.flag}: {row.detail}" for row in own_flags.itertuples() if row.flag != "small_sample"]
    if notes:
        lines.append("  Notes:")
        lines += [_wrap(f"- {n}", "    ", "  ") for n in notes]
    return "\n".join(lines)


def _number_format(*values) -> str:
    """One format for figures shown side by side, chosen by their size."""
    largest = max((abs(v) for v in values if v is not None), default=0)
    return ",.0f" if largest >= 100 else ".1f" if largest >= 1 else ".3f"


def _plain(metric: str, value, fmt: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1%}" if metric.endswith("_rate") else format(value, fmt)


def _training_text(r: dict) -> str:
    metric = r["metric"]
    lines = [f"Training effect of {r['program']!r} on {metric}"]
    m = r.get("means", {})
    if r["effect"] is None:
        lines.append("  No effect can be estimated.")
    elif metric.endswith("_rate"):  # a change in a rate reads best in percentage points
        effect, low, high = (100 * r[k] for k in ("effect", "ci_low", "ci_high"))
        lines.append(f"  Effect: {effect:+.1f} percentage points (95% interval {low:+.1f} to {high:+.1f})")
    else:
        fmt = _number_format(r["effect"], r["ci_low"], r["ci_high"])
        lines.append(f"  Effect: {r['effect']:+{fmt}} (95% interval {r['ci_low']:+{fmt}} to {r['ci_high']:+{fmt}})")
    fmt = _number_format(*m.values())
    lines.append(
        f"  Trained reps ({r['n_treated']}): {_plain(metric, m.get('treated_before'), fmt)} before -> "
        f"{_plain(metric, m.get('treated_after'), fmt)} after   [{', '.join(r['treated'])}]"
    )
    lines.append(
        f"  Untrained reps ({r['n_control']}): {_plain(metric, m.get('control_before'), fmt)} before -> "
        f"{_plain(metric, m.get('control_after'), fmt)} after"
    )
    if r.get("before") and r.get("after"):
        lines.append(
            f"  Windows for untrained reps: {r['before']['start']}..{r['before']['end']} and "
            f"{r['after']['start']}..{r['after']['end']} ({r.get('window_days')} days each)"
        )
    if r.get("warning"):
        lines.append(_wrap(f"Warning: {r['warning']}", hanging="  "))
    for note in r.get("notes", []):
        lines.append(_wrap(f"Note: {note}", hanging="  "))
    excluded = r.get("excluded") or []
    if excluded:
        reasons = "; ".join(f"{e['rep_id']}: {e['reason']}" for e in excluded[:5]) + ("; ..." if len(excluded) > 5 else "")
        lines.append(_wrap(f"Left out: {len(excluded)} rep{'s' if len(excluded) != 1 else ''} ({reasons})", hanging="  "))
    lines.append(_wrap(f"Method: {r['method']}.", hanging="  "))
    return "\n".join(lines)


def _quality_text(flags) -> str:
    if flags.empty:
        return "No data-quality flags."
    rep_width = max([3] + [len(str(r)) for r in flags["rep_id"].dropna()])
    lines = [f"{'flag':<22}{'rep':<{rep_width + 2}}{'table':<15}{'rows':>6}  detail"]
    for row in flags.itertuples(index=False):
        rep = row.rep_id if row.rep_id is not None else "-"
        lines.append(f"{row.flag:<22}{rep:<{rep_width + 2}}{row.table:<15}{row.rows:>6}  {row.detail}")
    return "\n".join(lines)
