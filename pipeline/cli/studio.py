"""`newsletter studio`: the editors' local web page for an issue (pipeline.studio)."""

from __future__ import annotations

import os
import socket
from typing import Any

import click

from pipeline.cli.base import Context, helptext, main, now_option, pass_ctx
from pipeline.cli.weblimits import limit_options, limits_from
from pipeline.domain.i18n import _
from pipeline.domain.models import STATE_LABELS


@main.command(
    help=helptext(
        _("""Serve the studio: preview, check and curate an issue in the browser, on its YAML file.

Prints the page's address and serves until Ctrl-C; it never opens a browser unless --open.
The page shows the email at 375 and 600 px, the text part and the web page, check's
problems and the issue's balance, and refreshes by itself when the file is saved in any
editor. Every change made on the page is written into issues/ISSUE.yaml the way an editor
would write it (comments and untouched lines stay byte for byte); a file that changed on
disk since the page loaded is never overwritten. Without ISSUE it lists the issues and
serves the list.

It listens on 127.0.0.1 only. To reach it from another computer, set a password first:
NEWSLETTER_STUDIO_PASSWORD=... newsletter studio 2026-12 --host 0.0.0.0

Examples:
  newsletter studio 2026-12
  newsletter studio 2026-12 --port 8765 --open
  newsletter studio""")
    ),
)
@click.argument("issue_id", metavar="[ISSUE]", required=False)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help=_("The port to listen on; 0 takes a free one."),
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help=_("The address to listen on. Another than loopback needs NEWSLETTER_STUDIO_PASSWORD."),
)
@click.option("--open", "open_browser", is_flag=True, help=_("Open the page in the default browser."))
@now_option
@limit_options
@pass_ctx
def studio(
    ctx: Context,
    issue_id: str | None,
    port: int,
    host: str,
    open_browser: bool,
    now_text: str | None,
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
) -> None:
    """Serve the studio: preview, check and curate an issue in the browser, on its YAML file."""
    from pipeline.domain.issues import ISSUE_ID_RE, issue_path
    from pipeline.infra import web
    from pipeline.studio import PASSWORD_VARIABLE

    password = os.environ.get(PASSWORD_VARIABLE) or None
    web.check_exposure(host, password, PASSWORD_VARIABLE)
    if issue_id is not None and not ISSUE_ID_RE.match(issue_id):
        raise click.UsageError(
            _("'{issue}' is not an issue id; use letters, digits, '.', '-' or '_' (e.g. 2026-12)").format(
                issue=issue_id
            )
        )
    config = ctx.config
    clock = None
    if now_text:
        from pipeline.run import clock_from

        clock = clock_from(ctx.now(now_text))
    from pipeline import studio as studio_app

    app: Any = studio_app.create(config, password=password, clock=clock)
    if issue_id is None:
        _list(ctx)
    elif not issue_path(ctx.root, issue_id).exists():
        click.echo(
            _("Note: issues/{issue}.yaml does not exist yet; the page offers to draft it.").format(
                issue=issue_id
            ),
            err=True,
        )
    sock = web.bind(host, port)
    base = web.address(sock)
    if not web.is_loopback(host) and host in ("0.0.0.0", "::"):
        base = base.replace(host if host != "::" else "[::]", socket.gethostname(), 1)
    url = f"{base}/issue/{issue_id}" if issue_id else f"{base}/"
    click.echo(_("Studio: {url}").format(url=url))
    if password:
        click.echo(_("Every page asks for the password in {variable}.").format(variable=PASSWORD_VARIABLE))
    click.echo(_("Serving until Ctrl-C."))
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        web.serve(app, sock, limits_from(header_timeout, body_timeout, max_connections))
    finally:
        sock.close()
    click.echo(_("Stopped."))


def _list(ctx: Context) -> None:

    from pipeline.curate import statuses
    from pipeline.infra.store import Store

    tz = ctx.config.settings.timezone
    with Store(ctx.config.settings.database) as store:
        rows = statuses(ctx.config, store)
    if not rows:
        click.echo(_("No issues yet; start one on the page, or with: newsletter draft 2026-12"))
        return
    click.echo(f"{_('ISSUE'):<12}  {_('STATE'):<23}  {_('SEND AT')}")
    for r in rows:
        state = str(r.state)
        when = r.send_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if r.send_at else "-"
        click.echo(f"{r.id:<12}  {_(STATE_LABELS.get(state, state)):<23}  {when}")
