"""The ``salesnb`` click group and the option callbacks its commands share.

The command modules import :data:`cli` from here and register on it;
``salesnb.cli`` imports them, so the arrows run one way. Errors raised on
purpose (:class:`SalesnbError`) become a message on stderr and exit 1;
click's usage errors exit 2.
"""

from __future__ import annotations

import click


class _Group(click.Group):
    """A group that turns salesnb's own errors into messages, not tracebacks."""

    def invoke(self, ctx: click.Context):
        from salesnb.errors import SalesnbError

        try:
            return super().invoke(ctx)
        except SalesnbError as exc:
            click.echo(f"error: {_masked(exc)}", err=True)
            ctx.exit(1)
        except BrokenPipeError:  # output piped into `head`: not an error
            ctx.exit(0)
        except (OSError, ImportError) as exc:  # unreadable file, missing optional dependency
            click.echo(f"error: {_masked(exc)}", err=True)
            ctx.exit(1)


def _masked(exc: BaseException) -> str:
    """An error's message with the secrets of a database URL hidden (salesnb.io.urls)."""
    from salesnb.io.urls import mask_text

    return mask_text(str(exc))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="salesnb")
def cli() -> None:
    """salesnb: coaching reports from sales data.

    SOURCE is a folder of CSV, Parquet or Excel files named after the
    contract tables, a SQLite or DuckDB file, or a SQLAlchemy URL.
    """


def parse_as_of(ctx, param, value):
    """Click callback for ``--as-of``: an ISO date, or wrong usage (exit 2)."""
    if value is None:
        return None
    import datetime as dt

    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-06-30") from None


def expectations_option(command):
    """``--expectations FILE``: the targets for a source that has none beside
    it (a database), or other targets than the ones beside the data."""
    return click.option(
        "--expectations",
        "expectations",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        default=None,
        help="expectations.yml with the targets (quota, norms); default: the one beside the data. "
        "A database source needs it for quota, attainment and coverage.",
    )(command)


def source_options(command):
    """The SOURCE argument and the options of every command that reads a
    source: ``--mapping``, ``--expectations`` and ``--as-of``."""
    command = click.option(
        "--as-of",
        "as_of",
        callback=parse_as_of,
        metavar="DATE",
        help="Day that relative periods (last-quarter, ytd...) count back from; default today.",
    )(command)
    command = click.option(
        "--mapping", type=click.Path(dir_okay=False), help="mapping.yml for a CRM export (default: the one beside the data)"
    )(command)
    command = expectations_option(command)
    return click.argument("source")(command)
