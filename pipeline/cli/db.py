"""`newsletter db`: upgrade, copy and check the state database."""

from __future__ import annotations

import click

from pipeline.cli.base import EXIT_FAILED, Context, helptext, main, pass_ctx
from pipeline.domain.i18n import _, ngettext
from pipeline.infra.store import maintenance
from pipeline.infra.store.engine import masked


@main.group(
    help=helptext(
        _("""Upgrade, copy or check the state database (newsletter.state: a SQLite file or a PostgreSQL URL).

NEWSLETTER_DATABASE_URL, when set, names the database instead of sources.yaml.

Examples:
  newsletter db upgrade
  newsletter db copy --to postgresql://newsletter@db.example.org/newsletter
  newsletter db check""")
    )
)
def db() -> None:
    """The group of the database's commands (the help is above, translated)."""


@db.command(
    help=helptext(
        _("""Bring the state database to this release's schema, and print the version before and after.

Every command does this by itself when it opens the database; run it by hand after an upgrade of
the pipeline, to see it done (and to do it once, before cron and the web service start again).""")
    )
)
@pass_ctx
def upgrade(ctx: Context) -> None:
    """Run the migrations the database lacks (the help is above, translated)."""
    target = ctx.config.settings.database
    before, after = maintenance.upgrade(target)
    if before == after:
        click.echo(
            _("The state database {target} is at schema {version}: nothing to do.").format(
                target=masked(target), version=after
            )
        )
    else:
        click.echo(
            _("Upgraded the state database {target} from schema {before} to {after}.").format(
                target=masked(target), before=before, after=after
            )
        )


@db.command(
    name="copy",
    help=helptext(
        _("""Copy every table of the state database into another one, e.g. from SQLite to PostgreSQL.

The target must be new and empty (it gets this release's schema); the rows go in one
transaction, and each table's rows are counted on both sides before it commits. Stop cron and
the web service first, then point newsletter.state (or NEWSLETTER_DATABASE_URL) at the target.

Example:
  createdb newsletter
  newsletter db copy --to postgresql://newsletter@localhost/newsletter""")
    ),
)
@click.option(
    "--to",
    "target",
    required=True,
    help=_("The database to copy into: a postgresql:// URL (or a new SQLite file's path)."),
)
@pass_ctx
def copy_(ctx: Context, target: str) -> None:
    """Copy every table into a new, empty database (the help is above, translated)."""
    source = ctx.config.settings.database
    copied = maintenance.copy(source, target)
    for c in copied:
        click.echo(f"  {c.table:<18} {c.rows:>9}")
    rows = sum(c.rows for c in copied)
    click.echo(
        ngettext(
            "Copied {n} row of {tables} tables from {source} to {target}; the counts match.",
            "Copied {n} rows of {tables} tables from {source} to {target}; the counts match.",
            rows,
        ).format(n=rows, tables=len(copied), source=masked(source), target=masked(target))
    )
    click.echo(_("Next: point newsletter.state (or NEWSLETTER_DATABASE_URL) at the new database."))


@db.command(
    help=helptext(
        _("""Check the state database: its integrity, its schema, the send ledger and the consent history.

The consent history's guards (the triggers that keep it append-only) are checked too.
Prints each problem with its fix and exits 1 when there is any; 0 and one line when all is well.""")
    )
)
@pass_ctx
def check(ctx: Context) -> None:
    """Check the database (the help is above, translated)."""
    target = ctx.config.settings.database
    problems = maintenance.check(target)
    if not problems:
        click.echo(_("OK: the state database {target} is sound.").format(target=masked(target)))
        return
    for problem in problems:
        click.echo(_("Error: {message}").format(message=problem), err=True)
    click.echo(
        ngettext(
            "The state database {target} has {n} problem.",
            "The state database {target} has {n} problems.",
            len(problems),
        ).format(target=masked(target), n=len(problems)),
        err=True,
    )
    raise SystemExit(EXIT_FAILED)
