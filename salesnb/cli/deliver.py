"""``salesnb deliver``: each reader gets their own pages of a batch, by mail or in a folder of their own."""

from __future__ import annotations

import click

from salesnb.cli.group import cli

__all__ = ["deliver", "deliver_batch", "check_delivery_file"]


@cli.command("deliver")
@click.argument("batch_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option(
    "--smtp", "smtp", default=None, metavar="URL", help="smtp://host:port or smtps://host:port (no password: see below)."
)
@click.option(
    "--folders", "folders", default=None, metavar="OUT", help="Write one folder per reader under OUT instead of mailing."
)
@click.option("--recipients", default=None, metavar="FILE", help="recipients.yml: reps' and managers' addresses, analysts.")
@click.option("--dry-run", is_flag=True, help="Print who would get which pages; send and write nothing.")
@click.pass_context
def deliver(ctx, batch_dir, smtp, folders, recipients, dry_run):
    """Send each reader of the batch in DIR their own pages, and only those.

    A rep gets their own report; a manager the team page and their reps'
    reports (the data-quality page, which names every rep, only when they
    manage every rep); an analyst the index. Addresses come
    from the reps table's email and manager_email columns and from
    --recipients. The SMTP password comes from SALESNB_SMTP_USER /
    SALESNB_SMTP_PASSWORD or ~/.netrc, never from the command line. A rerun
    sends only what was not sent (DIR/deliveries.json). Exits 1 if any
    message could not be sent.
    """
    ctx.exit(deliver_batch(batch_dir, smtp=smtp, folders=folders, recipients=recipients, dry_run=dry_run))


def deliver_batch(batch_dir, *, smtp=None, folders=None, recipients=None, dry_run=False) -> int:
    """Deliver the batch in ``batch_dir`` and print what happened; returns the exit code."""
    from salesnb.run.deliver import describe_plan, parse_smtp_url, plan_delivery, send_all, write_folders
    from salesnb.run.recipients import read_recipients

    read = read_recipients(recipients) if recipients is not None else None
    smtp = smtp or (read.smtp if read and not folders else None)
    folders = folders or (read.folders if read and not smtp else None)
    if bool(smtp) == bool(folders):
        raise click.UsageError(
            "give one of --smtp URL and --folders OUT" + (" (or smtp: / folders: in the recipients file)" if recipients else "")
        )
    if smtp:
        parse_smtp_url(smtp)  # a bad URL or a password in it: refused before anything else
    plan = plan_delivery(batch_dir, recipients=read)
    with_pages = [r for r in plan.readers if r.pages]
    if dry_run:
        for line in describe_plan(plan):
            click.echo(_printable(line))
        how = f"by mail from {plan.sender}" if smtp else f"as folders in {folders}"
        click.echo(
            f"dry run: {len(with_pages)} reader{'s' if len(with_pages) != 1 else ''} would get their pages {how}; nothing was sent"
        )
        return 0
    for line in describe_plan(plan):
        if ": not sent: " in line or line.startswith("nobody: "):
            click.echo(_printable(line), err=True)
    if folders:
        written = write_folders(plan, folders)
        click.echo(f"{len(written)} reader folder{'s' if len(written) != 1 else ''} written in {folders}")
        return 0
    deliveries = send_all(plan, smtp)
    failed = [d for d in deliveries if d.status in ("failed", "not sent")]
    for d in deliveries:
        pages = len(d.reader.pages)
        if d.status == "sent":
            note = f" (left out, too large: {', '.join(d.left_out)})" if d.left_out else ""
            click.echo(f"sent: {d.reader.address}: {pages} page{'s' if pages != 1 else ''}{note}")
        elif d.status == "already sent":
            click.echo(f"already sent: {d.reader.address}")
        else:
            tries = f" after {d.attempts} attempts" if d.attempts > 1 else ""
            click.echo(_printable(f"{d.status}: {d.reader.address}: {d.error}{tries}"), err=True)
    counts = {status: sum(d.status == status for d in deliveries) for status in ("sent", "already sent")}
    summary = f"{counts['sent']} sent, {counts['already sent']} already sent, {len(failed)} not sent"
    if failed:
        summary += f"; rerun the same command to send the {len(failed)} not sent (the send log skips the others)"
    click.echo(summary, err=bool(failed))
    return 1 if failed else 0


def check_delivery_file(path) -> None:
    """A recipients file for ``--deliver``: readable, naming where to deliver (smtp: or folders:)."""
    from salesnb.run.deliver import parse_smtp_url
    from salesnb.run.recipients import read_recipients

    read = read_recipients(path)
    if bool(read.smtp) == bool(read.folders):
        raise click.UsageError(f"--deliver {path}: the file must name one of smtp: URL and folders: OUT")
    if read.smtp:
        parse_smtp_url(read.smtp)


def _printable(text) -> str:
    """Data shown on a terminal: control characters (escape sequences) as visible escapes."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))
