"""`newsletter render ISSUE`: the email, its text part and the web page into build/ISSUE/."""

from __future__ import annotations

import click

from pipeline.cli.base import Context, helptext, main, pass_ctx
from pipeline.domain.errors import display_path
from pipeline.domain.i18n import _


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KB"


@main.command(
    help=helptext(
        _("""Render an issue: build/ISSUE/email.html, email.txt and web.html.

Uses the items in the state database (run 'newsletter collect' first) and the templates in
templates/, falling back to the package's defaults. Open the files in a browser to see the
newsletter as subscribers will; the email still holds the per-recipient placeholders.

Example:
  newsletter render 2026-12""")
    ),
)
@click.argument("issue_id", metavar="ISSUE")
@pass_ctx
def render(ctx: Context, issue_id: str) -> None:
    """Render an issue: build/ISSUE/email.html, email.txt and web.html."""
    # Imported here: Jinja2 and MJML are loaded only by the command that needs them, so that
    # every other command starts faster.
    from pipeline.infra.instance import load_issue
    from pipeline.render import GMAIL_CLIP_BYTES, GMAIL_WARN_BYTES, build

    config = ctx.config
    issue = load_issue(config, issue_id)
    prepared, paths = build(config, issue)
    width = max(len(display_path(p, config.root)) for p in paths)
    for path in paths:
        click.echo(f"{display_path(path, config.root):<{width}}  {_size(path.stat().st_size):>9}")
    html_size = len(prepared.rendered.html.encode("utf-8"))
    if html_size >= GMAIL_WARN_BYTES:
        click.echo(
            _(
                "Warning: email.html is {size}; Gmail clips messages over {limit} and hides the rest,"
                " the unsubscribe link included. Move stories to runners_up or shorten summaries."
            ).format(size=_size(html_size), limit=_size(GMAIL_CLIP_BYTES)),
            err=True,
        )
    click.echo(_("Subject: {subject}").format(subject=prepared.rendered.subject))
