"""Commands of the collect stage: ``collect`` (sources into the state database) and ``items``."""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import TYPE_CHECKING, Any

import click

from pipeline.cli.base import (
    EXIT_PARTIAL,
    Context,
    helptext,
    main,
    now_option,
    pass_ctx,
)
from pipeline.domain.errors import NotFound
from pipeline.domain.i18n import N_, _, ngettext
from pipeline.domain.models import Item
from pipeline.infra.files import spreadsheet_safe
from pipeline.infra.store import Store, has_state

if TYPE_CHECKING:
    from pipeline.collect import SourceResult, Summary


def print_summary(summary: Summary, echo: Any = click.echo) -> None:
    """Failures, moved feeds and warnings on stderr; the summary line on stdout."""
    for p in summary.problems:
        echo(str(p), err=True)
    for r in summary.results:
        for w in r.warnings:
            echo(_("warning: {source}: {message}").format(source=r.source, message=w), err=True)
        if r.moved_to:
            moved = _(
                "moved: {source}: {url} -> {new} (permanent redirect; put the new address in sources.yaml)"
            )
            echo(moved.format(source=r.source, url=r.url, new=r.moved_to), err=True)
    for r in summary.failed:
        echo(
            _("failed: {source} ({url}): {reason}").format(source=r.source, url=r.url, reason=r.reason),
            err=True,
        )
    echo(_("Collected {summary}.").format(summary=summary.line()))


@main.command(
    help=helptext(
        _('''Fetch every feed and submission into the state database.

The activities in the partners' progress files (monitoring/) become candidates too.

Sources that did not change since the last run are not downloaded again. Exit status 3 when
some sources failed (each is listed with its address and the reason); the others are stored.

Examples:
  newsletter collect
  newsletter collect --source gemeente-zwolle     # "why is my story missing?"''')
    ),
)
@click.option("--source", "only", metavar="ID", help=_("Collect only this source (a feed id, 'submissions', "
              "'submissions:PARTNER', 'monitoring' or 'monitoring:PARTNER')."))  # fmt: skip
@now_option
@pass_ctx
def collect(ctx: Context, only: str | None, now_text: str | None) -> None:
    """Fetch every feed and submission into the state database."""
    # Imported here: feedparser and httpx only for the command that fetches ('items' reads the store).
    from pipeline.collect import collect as run_collect
    from pipeline.collect import planned_sources

    config = ctx.config
    now = ctx.now(now_text)
    total = planned_sources(config, only)
    with Store(config.settings.database) as store:
        if sys.stderr.isatty() and total > 1:
            with click.progressbar(length=total, label=_("Collecting"), file=sys.stderr) as bar:

                def advance(result: SourceResult) -> None:
                    bar.update(1)

                summary = run_collect(config, store, only=only, on_result=advance, now=now)
        else:
            summary = run_collect(config, store, only=only, now=now)
    print_summary(summary)
    if summary.partial:
        raise SystemExit(EXIT_PARTIAL)


def item_row(item: Item, tz: Any) -> dict[str, Any]:
    return {
        "id": item.id,
        "published": item.published.astimezone(tz).isoformat(timespec="minutes"),
        "partner": item.partner or "",
        "source": item.source,
        "kind": item.kind or "",
        "themes": " ".join(item.themes),
        "title": item.title,
        "url": item.url,
        "origin": item.origin,
        "flags": " ".join(item.flags),
    }


@main.command(
    help=helptext(
        _("""List collected items, newest first.

The id in the first column is what an issue file refers to (item: ID).

Examples:
  newsletter items --since 2026-11-01 --theme meedoen
  newsletter items --partner gemeente-zwolle --format json""")
    ),
)
@click.option("--since", metavar="DATE", help=_("Only items published on or after this date (2026-11-01)."))
@click.option("--partner", metavar="ID", help=_("Only this partner's items."))
@click.option("--theme", metavar="ID", help=_("Only items with this theme."))
@click.option("--kind", metavar="K", help=_("Only items of this kind (story, research, event, ...)."))
@click.option("--limit", type=click.IntRange(min=1), help=_("At most this many (newest first)."))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help=_("A table to read, or JSON or CSV (English keys) for other programs."),
)
@pass_ctx
def items(
    ctx: Context,
    since: str | None,
    partner: str | None,
    theme: str | None,
    kind: str | None,
    limit: int | None,
    fmt: str,
) -> None:
    """List collected items, newest first."""
    config = ctx.config
    tz = config.settings.timezone
    for value, known, unknown in (
        (partner, config.partners, N_("unknown partner '{value}'")),
        (theme, config.taxonomy.themes, N_("unknown theme '{value}'")),
        (kind, config.taxonomy.kinds, N_("unknown kind '{value}'")),
    ):
        if value is not None and value not in known:
            raise NotFound(
                _(unknown).format(value=value), _("use one of: {known}").format(known=", ".join(known))
            )
    start = ctx.since(since)
    if not has_state(config.settings):
        raise NotFound(_("nothing collected yet (no state database)"), _("run 'newsletter collect' first"))
    with Store(config.settings.database) as store:
        found = store.items(since=start, partner=partner, theme=theme, kind=kind, limit=limit)
    rows = [item_row(i, tz) for i in found]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=_CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({**r, "title": spreadsheet_safe(r["title"])} for r in rows)
        click.echo(out.getvalue(), nl=False)
    else:
        _table(rows)


_CSV_FIELDS = ["id", "published", "partner", "source", "kind", "themes", "title", "url", "origin", "flags"]


def _table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo(_("No items."), err=True)
        return
    width = 60
    header = (_("ID"), _("DATE"), _("PARTNER/SOURCE"), _("KIND"), _("TITLE"))
    click.echo(f"{header[0]:<12}  {header[1]:<10}  {header[2]:<22}  {header[3]:<8}  {header[4]}")
    for r in rows:
        who = (r["partner"] or r["source"])[:22]
        title = r["title"] if len(r["title"]) <= width else r["title"][: width - 1] + "…"
        click.echo(f"{r['id']:<12}  {r['published'][:10]:<10}  {who:<22}  {r['kind'][:8]:<8}  {title}")
    click.echo(ngettext("{n} item.", "{n} items.", len(rows)).format(n=len(rows)), err=True)
