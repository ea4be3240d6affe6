"""Commands about the data source itself: ``validate`` and ``sample``."""

from __future__ import annotations

import click

from salesnb.cli.group import cli, expectations_option

MAX_PROBLEMS_SHOWN = 50


@cli.command()
@click.argument("source")
@click.option(
    "--mapping",
    "mapping",
    type=click.Path(dir_okay=False),
    help="mapping.yml for a CRM export (default: the one beside the data)",
)
@click.option("--strict", is_flag=True, help="Any problem is fatal (exit 1) instead of setting bad rows aside.")
@click.option(
    "--quarantine-out",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write the set-aside rows to this CSV file (never one of the source's own files).",
)
@click.option("--all", "show_all", is_flag=True, help=f"List every problem (default: the first {MAX_PROBLEMS_SHOWN}).")
@expectations_option
def validate(
    source: str, mapping: str | None, strict: bool, quarantine_out: str | None, show_all: bool, expectations: str | None
) -> None:
    """Check SOURCE against the data contract and summarise it.

    Prints the tables found (rows, date span), the reps, the rows set aside
    and every problem with its file, line, column and a fix. Exit 0 when the
    source is usable (bad rows are set aside and counted), 1 with --strict
    when there is any problem, or when the source cannot be read at all.
    """
    from salesnb.analysis.summary import describe
    from salesnb.io.loading import load
    from salesnb.run.outputs import check_output_file, source_inputs

    if quarantine_out:  # refused before the (maybe long) load; again below with the files the loader read
        check_output_file(
            quarantine_out, inputs=source_inputs(source, mapping=mapping, expectations=expectations), option="--quarantine-out"
        )
    dataset = load(source, mapping, strict=strict, expectations=expectations)
    click.echo(describe(dataset))
    click.echo(_latest_record(dataset))
    for table, file in _outside_files(dataset):
        click.echo(f"Read from outside the source folder: {table} from {file} (an absolute path in the mapping)")
    shown = dataset.problems if show_all else dataset.problems[:MAX_PROBLEMS_SHOWN]
    if shown:
        click.echo(f"\nProblems ({len(dataset.problems)}):")
        for problem in shown:
            click.echo(f"  [{problem.severity}] {problem}")
        if len(shown) < len(dataset.problems):
            click.echo(f"  ... {len(dataset.problems) - len(shown)} more (use --all, or --quarantine-out FILE)")
    for note in dataset.notes:
        click.echo(f"note: {note}")
    if quarantine_out:
        from salesnb.atomic import write_text
        from salesnb.io.exports import to_csv_text

        target = check_output_file(
            quarantine_out,
            option="--quarantine-out",
            inputs=source_inputs(source, mapping=mapping, expectations=expectations, files=dataset.inputs),
        )
        write_text(target, to_csv_text(dataset.quarantine))
        click.echo(f"\nwrote {dataset.quarantined_rows} set-aside rows to {quarantine_out}")


def _latest_record(dataset) -> str:
    """The data's last date, so an old export is seen before a report is run on it."""
    from salesnb.analysis.periods import DEFAULT_STALE_AFTER, last_date

    latest = last_date(dataset)
    if latest is None:
        return "Data runs to: no dated records"
    return (
        f"Data runs to {latest.date().isoformat()} (the latest opportunity, deal closed, activity or order)\n"
        f"  a report warns when that is over {DEFAULT_STALE_AFTER} days before its period ends (--stale-after)"
    )


def _outside_files(dataset) -> list[tuple[str, str]]:
    """(table, file) for each table of a folder source read from a file
    outside the folder (a mapping's absolute ``file:``)."""
    from pathlib import Path

    folder = Path(dataset.source)
    if not folder.is_dir():
        return []
    inside = folder.resolve()
    return [
        (table, file)
        for table, file in dataset.files.items()
        if Path(file).is_file() and inside not in Path(file).resolve().parents
    ]


@cli.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--seed", default=7, show_default=True, help="Random seed: the same seed gives the same files.")
@click.option("--reps", "n_reps", default=12, show_default=True, help="Number of reps (the first 12 carry the planted profiles).")
@click.option("--months", default=24, show_default=True, help="Months of history ending at --end.")
@click.option("--end", default="2025-12-31", show_default=True, help="Last day of the generated history.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option(
    "--force",
    is_flag=True,
    help="Write into OUT even though it holds files: the sample's table files and expectations.yml there are replaced.",
)
def sample(out: str, seed: int, n_reps: int, months: int, end: str, fmt: str, force: bool) -> None:
    """Write a deterministic sample data source to OUT (see data/README.md).

    OUT must be missing or empty, unless --force: a folder of your own data
    (reps.csv, opportunities.csv...) is never overwritten by accident."""
    from pathlib import Path

    from salesnb.errors import OutputError
    from salesnb.io.sample import generate

    folder = Path(out)
    if folder.is_dir() and not force and any(folder.iterdir()):
        raise OutputError(
            f"{out} is not empty: the sample would replace the table files and expectations.yml there. "
            "Pass a new or empty folder, or add --force to regenerate a sample in place"
        )

    rows = generate(out, seed=seed, reps=n_reps, months=months, end=end, fmt=fmt)
    for table, count in rows.items():
        click.echo(f"{table:<14}{count:>12,} rows")
    click.echo(f"wrote {out}")
