"""`newsletter publish`: the web archive of sent issues, with an Atom feed and a sitemap."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.base import Context, helptext, main, now_option, out_option, pass_ctx
from pipeline.domain.errors import NotFound, display_path
from pipeline.domain.i18n import _, ngettext
from pipeline.infra.store import Store, has_state
from pipeline.publish import FEED, INDEX, build_site, site_folder, write_site


@main.command(
    help=helptext(
        _("""Build the web archive of sent issues: build/site/ with an Atom feed and a sitemap.

An index of every issue sent to the list (newest first), each issue's web page as it was
sent (nothing personal), a page per theme, province and partner listing what appeared in
the newsletter, a search (zoeken/, with a Pagefind index), an agenda with .ics files,
feed.xml and sitemap.xml. Links are relative, and absolute ones use
newsletter.archive_url, so the folder can be copied to any static host, sub-path included.
Only files whose content changed are written: publishing after a new send adds that issue
and leaves the rest untouched.

Examples:
  newsletter publish
  newsletter publish --out /var/www/nieuwsbrief/archief""")
    ),
)
@out_option(_("Folder for the site (default: build/site in the instance)."))
@now_option
@pass_ctx
def publish(ctx: Context, out: Path | None, now_text: str | None) -> None:
    """Build the web archive of sent issues: build/site/ with an Atom feed and a sitemap."""
    config = ctx.config
    state = config.settings.state
    if not has_state(config.settings):
        raise NotFound(
            _("no state database at {path}: nothing has been sent yet").format(
                path=display_path(state, ctx.root)
            ),
            _("the archive holds sent issues only; send one first ('newsletter send ISSUE'), then publish"),
        )
    folder = out if out is not None else site_folder(config)
    with Store(config.settings.database) as store:
        site = build_site(config, store, now=ctx.now(now_text), out=folder)
    for line in site.redactions:
        click.echo(
            _("Warning: {problem}; check the issue's web.html template").format(problem=line), err=True
        )
    written = write_site(site, folder)
    shown = display_path(folder, ctx.root)
    issues = ngettext("{n} issue", "{n} issues", len(site.issues)).format(n=len(site.issues))
    files = ngettext("{n} file written", "{n} files written", len(written.changed)).format(
        n=len(written.changed)
    )
    if written.removed:
        published = _(
            "Published {issues}, {themes} theme, {provinces} province and {partners} partner pages"
            " to {folder}/: {files}, {unchanged} unchanged, {removed} removed."
        )
    else:
        published = _(
            "Published {issues}, {themes} theme, {provinces} province and {partners} partner pages"
            " to {folder}/: {files}, {unchanged} unchanged."
        )
    click.echo(
        published.format(
            issues=issues, themes=len(site.themes), provinces=len(site.provinces),
            partners=len(site.partners), folder=shown, files=files,
            unchanged=written.unchanged, removed=len(written.removed),
        )
    )  # fmt: skip
    for path in written.changed:
        click.echo(f"  {display_path(path, ctx.root)}")
    click.echo(
        _("Open {page}; feed: {feed}").format(
            page=display_path(folder / INDEX, ctx.root), feed=f"{config.settings.archive_url}{FEED}"
        )
    )
