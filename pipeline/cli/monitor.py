"""`newsletter monitor`: the partners' progress on their pledge (reminders for a period)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from pipeline.cli.base import EXIT_FAILED, Context, helptext, main, pass_ctx
from pipeline.domain.i18n import _, ngettext
from pipeline.domain.monitoring import PERIOD_HELP, Period

if TYPE_CHECKING:
    from pipeline.monitor import Plan


def _period(ctx: click.Context, param: click.Parameter, value: str) -> Period:
    period = Period.parse(value)
    if period is None:
        raise click.BadParameter(_("'{value}' is not {example}").format(value=value, example=_(PERIOD_HELP)))
    return period


@main.group(
    help=helptext(
        _("""Partners' progress on their pledge: reminders to those that have not reported.

Each partner writes its progress for a year or a half year in monitoring/YEAR/PARTNER.yaml
(see docs/formats.md); 'newsletter validate' checks it and 'newsletter report' counts it.

Example:
  newsletter monitor remind 2026 --dry-run""")
    ),
)
def monitor() -> None:
    """Partners' progress on their pledge: reminders to those that have not reported."""


@monitor.command(
    help=helptext(
        _("""Remind each partner that has not reported its progress for PERIOD (2026, 2026-H1, 2026-H2).

One friendly reminder in Dutch to the partner's monitoring_contact in sources.yaml, with its
progress file attached, filled in as far as sources.yaml knows: partners whose pledge asks
for the period (since on or before its end) and whose progress files do not cover it. Through
SendGrid when SENDGRID_API_KEY is set, else to outbox/monitor-PERIOD/. Never to the
subscriber list. Each reminder is recorded, so a second run mails nobody twice (--again asks
for a second reminder). Partners are named, addresses never printed.

Examples:
  newsletter monitor remind 2026 --dry-run
  newsletter monitor remind 2026
  newsletter monitor remind 2026-H2 --again""")
    ),
)
@click.argument("period", callback=_period, metavar="PERIOD")
@click.option(
    "--dry-run", is_flag=True, help=_("List who would get a reminder, and why the others not; send nothing.")
)
@click.option(
    "--again",
    is_flag=True,
    help=_(
        "Also remind partners reminded for this period before (a second reminder), and those whose "
        "reminder may have gone (its answer was lost)."
    ),
)
@pass_ctx
def remind(ctx: Context, period: Period, dry_run: bool, again: bool) -> None:
    """Remind each partner that has not reported its progress for PERIOD."""
    from pipeline import monitor as stage
    from pipeline.infra.store import Store

    config = ctx.config
    with Store(config.settings.database) as store:
        if dry_run:
            the_plan = stage.plan(config, store, period, again=again)
        else:
            result = stage.remind(config, store, period, again=again)
            the_plan = result.plan
    due = the_plan.due
    if dry_run:
        click.echo(
            _("Reminders for {period} would go through {destination}:").format(
                period=period, destination=the_plan.destination
            )
        )
        for d in due:
            if d.broken:
                line = _("  would remind: {name} ({partner}), for {period}; its file {files} has errors")
            else:
                line = _("  would remind: {name} ({partner}), for {period}")
            click.echo(
                line.format(name=d.name, partner=d.partner, period=d.asks_for, files=", ".join(d.broken))
            )
        _others(the_plan, config.settings.timezone)
        would = ngettext(
            "{n} reminder would be sent; nothing was sent.",
            "{n} reminders would be sent; nothing was sent.",
            len(due),
        )
        click.echo(would.format(n=len(due)))
        return
    if result.lost:
        click.echo(
            ngettext(
                "warning: {n} reminder of an earlier run that ended early may or may not have gone;"
                " it is not sent again without --again",
                "warning: {n} reminders of an earlier run that ended early may or may not have gone;"
                " they are not sent again without --again",
                result.lost,
            ).format(n=result.lost),
            err=True,
        )
    sent = result.with_state("sent")
    names = "; ".join(o.name for o in sent)
    if names:
        reminded = ngettext(
            "Reminded {n} partner for {period} through {destination}: {names}.",
            "Reminded {n} partners for {period} through {destination}: {names}.",
            len(sent),
        )
    else:
        reminded = ngettext(
            "Reminded {n} partner for {period} through {destination}.",
            "Reminded {n} partners for {period} through {destination}.",
            len(sent),
        )
    click.echo(reminded.format(n=len(sent), period=period, destination=the_plan.destination, names=names))
    _others(the_plan, config.settings.timezone)
    for o in result.with_state("unknown"):
        click.echo(
            _("unknown: {name} ({partner}): {reason}; it may have gone (--again sends it again)").format(
                name=o.name, partner=o.partner, reason=o.reason
            ),
            err=True,
        )
    failed = result.with_state("failed")
    for o in failed:
        click.echo(
            _("failed: {name} ({partner}): {reason}").format(name=o.name, partner=o.partner, reason=o.reason),
            err=True,
        )
    if failed:
        click.echo(_("Error: some reminders were not sent; run the command again to retry them."), err=True)
        raise SystemExit(EXIT_FAILED)


def _others(the_plan: Plan, tz: dt.tzinfo) -> None:
    """The partners asked to report that get no reminder, grouped by why."""
    from pipeline import monitor as stage

    groups = (
        (stage.REPORTED, _("reported")),
        (stage.REMINDED, _("reminded before (--again to remind them once more)")),
        (stage.UNKNOWN, _("a reminder may have gone, its answer was lost (--again sends another)")),
        (stage.NO_CONTACT, _("no monitoring_contact in sources.yaml, so nobody to remind")),
    )
    for status, what in groups:
        found = the_plan.with_status(status)
        if not found:
            continue
        if status == stage.REMINDED:
            names = "; ".join(
                f"{d.name} ({d.previous.at.astimezone(tz):%Y-%m-%d})" if d.previous else d.name for d in found
            )
        else:
            names = "; ".join(d.name for d in found)
        click.echo(f"  {what}: {names}")
