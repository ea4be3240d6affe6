"""``salesnb metrics``: the contract's metrics table for a period.

``--format table`` is for people; ``csv`` (formula-safe text cells) and
``json`` (a list of objects, one per group, NaN as null) are for scripts.
Notes about missing tables and set-aside rows go to stderr for csv/json, so
the output stays machine-readable.
"""

from __future__ import annotations

import click

from salesnb.cli.group import cli, source_options

GROUPS = ("rep", "team", "territory", "customer_type", "acquisition_method", "market_tier")


def _period(ctx, param, value):
    """Reject a period that is none of the contract's forms before the data is
    read; like every other command, that is a bad input (exit 1), not bad usage."""
    if value is None:
        return None
    from salesnb.analysis.periods import parse_period

    parse_period(value, as_of="2000-01-01")  # the form only; relative periods are resolved later
    return value


@cli.command()
@source_options
@click.option(
    "--by",
    required=True,
    type=click.Choice(GROUPS),
    help="One row per rep, team, territory, customer type, acquisition method or market tier.",
)
@click.option(
    "--period",
    metavar="P",
    callback=_period,
    help="2025, 2025-Q2, 2025-06, 2025-01-15..2025-03-31, last-week, last-month, last-quarter, last-year or ytd. "
    "Default: the whole span of the data.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def metrics(source: str, by: str, period: str | None, fmt: str, mapping: str | None, expectations: str | None, as_of) -> None:
    """Every contract metric for a period, one row per group.

    Opportunities count deals created in the period; won, lost, win rate,
    revenue and cycle length count deals closed in it; the open pipeline
    is taken at its last day. A metric whose table is missing is left
    blank (null in JSON) and a note says which table would enable it.
    Without --period the whole span of the data is used.
    """
    from salesnb.analysis.metrics import blank_empty_period, metrics_table
    from salesnb.analysis.periods import data_span, no_data_in, parse_period
    from salesnb.io.loading import load
    from salesnb.io.urls import mask_url

    dataset = load(source, mapping=mapping, expectations=expectations)
    span = parse_period(period, as_of=as_of) if period is not None else data_span(dataset)
    table = metrics_table(dataset, by=by, period=span, as_of=as_of)
    notes = list(table.attrs.get("notes", []))
    empty = no_data_in(dataset, span)
    if empty:  # the rows stay (a script reads one per group), with the period's own figures null, not 0
        table = blank_empty_period(table)
        click.echo(f"note: {empty}: the period's counts, revenue and attainment are blank, not 0", err=True)
    if dataset.quarantined_rows:
        notes.append(
            f"{dataset.quarantined_rows} rows broke the contract and were set aside; "
            f"run `salesnb validate {mask_url(source)}` to see them."
        )
    if fmt == "table":
        click.echo(_as_text(table, span))
        for note in notes:
            click.echo(f"note: {note}")
        return
    from salesnb.analysis.labels import export_decimals
    from salesnb.io.exports import round_columns

    table = round_columns(table.assign(period=span.label), export_decimals(table.columns))  # no float noise
    click.echo(_as_json(table) if fmt == "json" else _as_csv(table), nl=fmt == "json")
    for note in notes:
        click.echo(f"note: {note}", err=True)


def _as_json(table) -> str:
    from salesnb.io.exports import to_json

    return to_json(table.astype("object").to_dict("records"))


def _as_csv(table) -> str:
    from salesnb.io.exports import to_csv_text

    return to_csv_text(table)


PERCENT = ("win_rate", "contact_close_rate", "attainment")
TWO_DECIMALS = ("contacts_per_opportunity", "pipeline_coverage", "value_cost_ratio")


def _as_text(table, span) -> str:
    import pandas as pd

    def cell(column, value):
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        if isinstance(value, (str, bool)) or not pd.api.types.is_number(value):
            return str(value)
        if column in PERCENT:
            return f"{value:.1%}"
        if column in TWO_DECIMALS:
            return f"{value:,.2f}"
        if float(value).is_integer() or abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:,.1f}"

    shown = pd.DataFrame({column: [cell(column, v) for v in table[column]] for column in table.columns})
    header = f"Metrics by {table.columns[0]} for {span.label} ({span.start.date()} to {span.end.date()})"
    return header + "\n" + shown.to_string(index=False)
