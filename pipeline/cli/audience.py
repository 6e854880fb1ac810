"""Commands of the audience: the public service (``serve``) and the subscriber list (``subscribers``)."""

from __future__ import annotations

import csv
import datetime as dt
import os
import sys
from pathlib import Path

import click

from pipeline.cli.base import EXIT_FAILED, Context, helptext, main, now_option, pass_ctx
from pipeline.cli.weblimits import limit_options, limits_from
from pipeline.domain.i18n import N_, _
from pipeline.infra.files import spreadsheet_safe
from pipeline.infra.store import Store

# How the subscriber statuses and import's counts are shown (the database's own words are English).
SUBSCRIBER_STATUS = {
    "active": N_("active"),
    "pending": N_("pending"),
    "unsubscribed": N_("unsubscribed"),
    "bounced": N_("bounced"),
    "complained": N_("complained"),
    "invalid": N_("invalid"),
}
IMPORT_COUNTS = {
    "added": N_("added {n}"),
    "updated": N_("updated {n}"),
    "already active": N_("already active {n}"),
    "kept inactive": N_("kept inactive {n}"),
    "rows left out": N_("rows left out {n}"),
}


@main.command(
    help=helptext(
        _("""The public service: sign-up with double opt-in and SendGrid's signed event webhook.

Readers sign up at /aanmelden (and confirm through the link in the mail, /bevestig) and
choose what they read, pause, unsubscribe or are forgotten at /voorkeuren (the personal link
in every mail); the alliance's site can embed the form from /aanmelden/formulier; SendGrid posts its events to
/webhooks/sendgrid, checked with SENDGRID_WEBHOOK_PUBLIC_KEY (the key SendGrid shows under
Mail Settings, Signed Event Webhook). Run it behind the web server (docs/audience.md); it logs
no address. A client that is slow to send its request is cut off (--header-timeout,
--body-timeout), and at most --max-connections are open at once.

Example:
  newsletter serve --port 8080""")
    ),
)
@click.option("--host", default="127.0.0.1", show_default=True, help=_("The address to listen on."))
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help=_("0: a free port.")
)
@limit_options
@now_option
@pass_ctx
def serve(
    ctx: Context,
    host: str,
    port: int,
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
    now_text: str | None,
) -> None:
    """The public service: sign-up with double opt-in and SendGrid's signed event webhook."""
    from pipeline.audience.service import create
    from pipeline.infra import web

    config = ctx.config
    with Store(config.settings.database):
        pass  # the state database exists and is migrated before the first request
    sock = web.bind(host, port)
    here = web.address(sock)
    if now_text:  # the tests' and the bench's clock: starts at --now and runs on
        from pipeline.run import clock_from

        app = create(config, address=here, clock=clock_from(ctx.now(now_text)))
    else:
        app = create(config, address=here)
    click.echo(
        _("Serving {address}/aanmelden (the webhook: /webhooks/sendgrid); Ctrl-C stops it.").format(
            address=here
        )
    )
    if not config.settings.signup.public_url:
        click.echo(
            _(
                "note: the links in confirmation mails start with {address}; behind a web server, set"
                " newsletter.signup.public_url in sources.yaml to the address readers use"
            ).format(address=here),
            err=True,
        )
    if not os.environ.get("SENDGRID_WEBHOOK_PUBLIC_KEY"):
        click.echo(
            _(
                "note: SENDGRID_WEBHOOK_PUBLIC_KEY is not set, so the webhook refuses every call (503);"
                " copy the verification key from SendGrid (Settings, Mail Settings, Signed Event Webhook)"
            ),
            err=True,
        )
    sys.stdout.flush()
    web.serve(app, sock, limits_from(header_timeout, body_timeout, max_connections))


@main.group(
    invoke_without_command=True,
    help=helptext(
        _("""The subscriber list in the state database: counts by status, import of a CSV, export.

Sends go to the active subscribers here once there are any; before that, to the CSV named
by newsletter.subscribers in sources.yaml. Addresses are never printed, except by export.

Examples:
  newsletter subscribers
  newsletter subscribers import oude-lijst.csv --basis "toestemming via het oude formulier (2024)"
  newsletter subscribers export > actief.csv""")
    ),
)
@click.pass_context
def subscribers(click_ctx: click.Context) -> None:
    """The subscriber list in the state database: counts by status, import of a CSV, export."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    with Store(ctx.config.settings.database) as store:
        counts = store.subscriber_counts()
        provinces, themes = store.choice_counts()
    if not counts:
        click.echo(
            _("No subscribers in the state database; sends use the CSV list (newsletter.subscribers).")
        )
        return
    for status, n in sorted(counts.items(), key=lambda kv: (kv[0] != "active", kv[0])):
        label = _(SUBSCRIBER_STATUS[status]) if status in SUBSCRIBER_STATUS else status
        click.echo(f"{label:<14} {n:>7}")
    click.echo(f"{_('total'):<14} {sum(counts.values()):>7}")
    if (set(provinces) | set(themes)) - {""}:  # once anyone chose; before, the counts above say it all
        tax = ctx.config.taxonomy
        for heading, chosen, terms in ((_("Active, by province"), provinces, tax.provinces),
                                       (_("Active, by theme"), themes, tax.themes)):  # fmt: skip
            click.echo(f"\n{heading}:")
            for term_id in ["", *terms, *sorted(set(chosen) - {"", *terms})]:
                if chosen[term_id]:
                    label = (terms.title(term_id) or term_id) if term_id else _("everything")
                    click.echo(f"  {label:<30} {chosen[term_id]:>7}")


@subscribers.command(
    "import",
    help=helptext(
        _('''Bring in an existing list (a CSV with email; name, organisation, province optional) as active.

Someone who left the list (unsubscribed, bounced, complained, dropped as invalid) stays as
they are, also after a sign-up she has not confirmed; only her own confirmation brings her back.

Example:
  newsletter subscribers import leden.csv --basis "gerechtvaardigd belang: partners van de alliantie"''')
    ),
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--basis", required=True, metavar="TEXT", help=_("The legal basis these people are on the list by.")
)
@pass_ctx
def import_command(ctx: Context, file: Path, basis: str) -> None:
    """Bring in an existing list (a CSV) as active subscribers."""
    from pipeline.audience import import_list

    with Store(ctx.config.settings.database) as store:
        counts, problems = import_list(ctx.config, store, file, basis, dt.datetime.now(dt.UTC))
    for p in problems:
        click.echo(str(p), err=True)
    parts = ", ".join(
        _(IMPORT_COUNTS[k]).format(n=v) if k in IMPORT_COUNTS else f"{k} {v}" for k, v in counts.items()
    )
    click.echo(_("Imported: {counts}.").format(counts=parts))
    if problems and not (counts["added"] or counts["updated"] or counts["already active"]):
        raise SystemExit(EXIT_FAILED)


@subscribers.command(
    "export",
    help=helptext(
        _("""Write the active subscribers as CSV to standard output (email, name, organisation, province,
since, basis). Personal data: keep the file out of git.

Example:
  newsletter subscribers export > actief.csv""")
    ),
)
@pass_ctx
def export_command(ctx: Context) -> None:
    """Write the active subscribers as CSV to standard output."""
    from pipeline.audience import EXPORT_FIELDS, export_rows

    # Row by row to standard output: the list can be long.
    writer = csv.DictWriter(sys.stdout, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    with Store(ctx.config.settings.database) as store:
        for row in export_rows(store, ctx.config.settings.timezone):
            writer.writerow(
                {k: spreadsheet_safe(v) if k in ("name", "organisation") else v for k, v in row.items()}
            )


@subscribers.command(
    "new-link-key",
    help=helptext(
        _("""Make a new key for the readers' personal links: every link in a mail sent before stops working.

A reader with an old link is told how to get a new one by mail. Use it when a link may have been
passed on; the next issue carries the new links.

Example:
  newsletter subscribers new-link-key""")
    ),
)
@pass_ctx
def new_link_key_command(ctx: Context) -> None:
    """Make a new key for the readers' personal links."""
    with Store(ctx.config.settings.database) as store:
        n = store.new_link_key()
    click.echo(
        _("New key for the personal links: the old links of {n} subscriber(s) no longer work.").format(n=n)
    )
