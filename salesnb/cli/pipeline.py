"""``salesnb pipeline``: per stage, how deals moved in a period (the deal history).

For each rep (or team) and stage, in the order deals move through the
stages: ``entered`` (history rows entering the stage in the period),
``days_median`` (median finished stay begun in the period) and
``open_stays`` (stays still running at the period's end); see
:mod:`salesnb.analysis.history`. ``--format json`` is the contract's shape.
"""

from __future__ import annotations

import click

from salesnb.cli.group import cli, source_options


@cli.command()
@source_options
@click.option(
    "--period", required=True, metavar="P", help="2025, 2025-Q2, 2025-06, 2025-01-15..2025-03-31, last-quarter, ytd ..."
)
@click.option("--by", type=click.Choice(["rep", "team"]), default="rep", show_default=True, help="One block per rep or team.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def pipeline(source: str, period: str, by: str, fmt: str, mapping: str | None, expectations: str | None, as_of) -> None:
    """Stage by stage: deals entered, the median days they stayed, and the stays still open.

    Needs the opportunity_history table. A stay still running at the
    period's end is counted in open_stays, not in the median.
    """
    from salesnb.analysis.history import pipeline_stages
    from salesnb.analysis.periods import parse_period
    from salesnb.errors import InputError
    from salesnb.io.loading import load

    dataset = load(source, mapping=mapping, expectations=expectations)
    if dataset.opportunity_history is None:
        raise InputError(dataset.missing("opportunity_history"))
    span = parse_period(period, as_of=as_of)
    table = pipeline_stages(dataset, period=span, by=by)
    if fmt == "json":
        from salesnb.io.exports import to_json

        table = table.assign(days_median=table["days_median"].round(1))
        click.echo(to_json(table.astype("object").to_dict("records")))
        return
    click.echo(_as_text(table, span))


def _as_text(table, span) -> str:
    import pandas as pd

    shown = table.assign(
        days_median=[("" if pd.isna(v) else f"{v:,.1f}") for v in table["days_median"]],
    )
    header = f"Pipeline by stage, {span.label} ({span.start.date()} to {span.end.date()})"
    return header + "\n" + (shown.to_string(index=False) if len(shown) else "(no stage entered)")
