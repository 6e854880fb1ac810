"""`newsletter report`: the partner activity report ("Partners in beeld")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipeline.cli.base import Context, helptext, main, out_option, pass_ctx
from pipeline.domain.errors import display_path
from pipeline.domain.i18n import _, ngettext
from pipeline.infra.store import Store
from pipeline.report import build_report, default_period, summary_lines, write_report


@main.command(
    help=helptext(
        _("""Write the partner activity report: build/report/index.html and CSV files.

One self-contained page (opens offline, prints on A4) with the headline numbers, the
call list of partners silent for more than report.silent_months months, new partners,
charts and tables by month, sector, province, theme, kind and horizon, and every partner.
With pledges or progress files (monitoring/): whom the partners reached, by theme, horizon,
sector and province, each pledge beside what the partner did, the partners that did not
report, and their own words. A progress file counts when the middle of its period (a year,
or a half year) falls in the report's period. With SendGrid's events coming in (newsletter
serve): what readers did, clicks per story and per partner on the issues sent in the period
(opens are not counted: mail apps open mail by themselves).
Without dates it covers the last twelve months (this month and the eleven before it).

Examples:
  newsletter report
  newsletter report --from 2026-01-01 --to 2026-12-31 --out /tmp/jaarverslag""")
    ),
)
@click.option(
    "--from",
    "start",
    type=click.DateTime(["%Y-%m-%d"]),
    help=_("First day, included (default: the first of the month eleven months before --to)."),
)
@click.option(
    "--to", "end", type=click.DateTime(["%Y-%m-%d"]), help=_("Last day, included (default: today).")
)
@out_option(_("Folder for index.html and the CSV files (default: build/report in the instance)."))
@pass_ctx
def report(ctx: Context, start: dt.datetime | None, end: dt.datetime | None, out: Path | None) -> None:
    """Write the partner activity report: build/report/index.html and CSV files."""
    config = ctx.config
    today = dt.datetime.now(config.settings.timezone).date()
    default_start, default_end = default_period(end.date() if end else today)
    first = start.date() if start else default_start
    last = end.date() if end else default_end
    if first > last:
        raise click.BadParameter(
            _("{first} is after --to {last}; swap them").format(first=first, last=last), param_hint="--from"
        )
    with Store(config.settings.database) as store:
        built = build_report(config, store, start=first, end=last)
    folder = out if out is not None else ctx.root / "build" / "report"
    written = write_report(config, built, folder)
    page = display_path(written[0], ctx.root)
    csvs = len(written) - 1
    wrote = ngettext(
        "Wrote {page} and {n} CSV file ({first} to {last}).",
        "Wrote {page} and {n} CSV files ({first} to {last}).",
        csvs,
    )
    click.echo(wrote.format(page=page, n=csvs, first=first, last=last))
    for line in summary_lines(built):
        click.echo(line)
