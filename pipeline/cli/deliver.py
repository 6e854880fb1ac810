"""`newsletter send`: test sends, dry runs and the list send. Counts only, never an address."""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Any

import click

from pipeline.cli.base import EXIT_FAILED, Context, helptext, log_line, main, pass_ctx
from pipeline.deliver import Plan, Report
from pipeline.domain.errors import Problem
from pipeline.domain.i18n import N_, _, ngettext
from pipeline.domain.models import DeliveryState as S


def _problems(problems: tuple[Problem, ...], limit: int = 20) -> None:
    for p in problems[:limit]:
        click.echo(str(p), err=True)
    if len(problems) > limit:
        more = len(problems) - limit
        click.echo(
            ngettext("... and {n} more row like these", "... and {n} more rows like these", more).format(
                n=more
            ),
            err=True,
        )


class _Bar:
    """A progress bar on a terminal; silent otherwise (cron, pipes, tests)."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty() or total == 0:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=_("Sending"), file=sys.stderr, show_pos=True)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _print_plan(p: Plan, tz: dt.tzinfo, errors: int, shown: str) -> None:
    """The plan; first whether the real send would send at all (``errors``: check's, in ``shown``)."""
    c = p.counts

    def row(label: str, value: object) -> None:
        """One line of the plan: the label (translated) in a column, then the value."""
        click.echo(f"  {_(label) + ':':<17}{value}")

    click.echo(_("Plan for issue {issue} (dry run: nothing is sent)").format(issue=p.issue_id))
    if p.refused is not None:
        row(N_("would send"), _("no, it would be refused: {reason}").format(reason=p.refused.message))
        if errors:
            fix = ngettext(
                "correct the {n} error in {path} (newsletter check {issue}), then run"
                " 'newsletter approve {issue} --by NAME'",
                "correct the {n} errors in {path} (newsletter check {issue}), then run"
                " 'newsletter approve {issue} --by NAME'",
                errors,
            )
            row(N_("fix"), fix.format(n=errors, path=shown, issue=p.issue_id))
        elif p.refused.hint:
            row(N_("fix"), p.refused.hint)
    elif p.completed and not p.to_send:
        row(N_("would send"), _("nothing: it went to the whole list before; new subscribers do not get it"))
    else:
        row(N_("would send"), _("yes"))
    row(N_("to"), p.destination)
    row(N_("subscriber rows"), p.list.rows)
    invalid = f"{p.list.invalid}" + (" " + _("(lines listed above)") if p.list.invalid else "")
    row("  " + _("invalid"), invalid)
    row("  " + _("duplicates"), p.list.duplicates)
    row(
        N_("suppressions"),
        _("read from SendGrid") if p.list.suppressions_read else _("not read (outbox: no SendGrid account)"),
    )
    reasons = ", ".join(f"{why}: {n}" for why, n in sorted(p.skipped.items()))
    row(N_("skipped"), f"{c[S.SKIPPED]}" + (f" ({reasons})" if reasons else ""))
    if c[S.ACCEPTED] or c[S.UNKNOWN]:
        row(N_("sent before"), _("accepted {accepted}, unknown {unknown}").format(
            accepted=c[S.ACCEPTED], unknown=c[S.UNKNOWN]))  # fmt: skip
    if c[S.IN_FLIGHT]:
        row(
            N_("in doubt"),
            _(
                "{n} (a send stopped with a request whose answer was lost;"
                " the next send cancels that batch and sends them again)"
            ).format(n=c[S.IN_FLIGHT]),
        )
    if c[S.UNKNOWN] and not p.resend_unknown:
        click.echo(" " * 19 + _("(unknown ones are not resent without --resend-unknown)"))
    if p.send_at is None or p.deadline is None:  # refused: nothing goes out, at no time
        row(N_("to send now"), _("none (the send would be refused; see 'would send' above)"))
        return
    send_at, until = p.send_at.astimezone(tz), p.deadline.astimezone(tz)
    requests = ngettext("{to_send} in {n} request", "{to_send} in {n} requests", p.requests)
    row(N_("to send now"), requests.format(to_send=p.to_send, n=p.requests))
    row(N_("batch"), p.batch_id or _("a new SendGrid batch"))
    row(
        N_("goes out at"),
        _("{time} (SendGrid holds it until then)").format(time=f"{send_at:%Y-%m-%d %H:%M %Z}"),
    )
    row(
        N_("recall until"),
        _("{time} (newsletter cancel {issue})").format(time=f"{until:%Y-%m-%d %H:%M %Z}", issue=p.issue_id),
    )


def _print_report(r: Report, tz: dt.tzinfo) -> None:
    c = r.counts
    if r.newly_unknown:
        click.echo(
            ngettext(
                "Warning: {n} subscriber was in a request whose answer was lost, and its"
                " batch could no longer be cancelled; their delivery is unknown.",
                "Warning: {n} subscribers were in a request whose answer was lost, and its"
                " batch could no longer be cancelled; their delivery is unknown.",
                r.newly_unknown,
            ).format(n=r.newly_unknown),
            err=True,
        )
    if r.resent_unknown:
        click.echo(
            ngettext(
                "Warning: resending to {n} subscriber whose delivery was unknown;"
                " they may get the issue twice.",
                "Warning: resending to {n} subscribers whose delivery was unknown;"
                " some may get the issue twice.",
                r.resent_unknown,
            ).format(n=r.resent_unknown),
            err=True,
        )
    requests = ngettext("{n} request", "{n} requests", r.requests).format(n=r.requests)
    click.echo(
        _(
            "Issue {issue} to {destination}: accepted {accepted}, skipped {skipped}, failed {failed},"
            " unknown {unknown}, pending {pending} ({sent} sent in this run, {requests})"
        ).format(
            issue=r.issue_id, destination=r.destination, accepted=c[S.ACCEPTED], skipped=c[S.SKIPPED],
            failed=c[S.FAILED], unknown=c[S.UNKNOWN], pending=c[S.PENDING], sent=r.sent_now,
            requests=requests,
        )
    )  # fmt: skip
    if r.unknown_batches:
        batches = ", ".join(str(b) for b in r.unknown_batches[:10])
        click.echo(
            ngettext(
                "Unknown: batch {batches}: the answer to the request was lost, so SendGrid may or may not"
                " have them. Check SendGrid's activity (custom argument 'batch'), then resend them only if"
                " they did not go out: newsletter send {issue} --resend-unknown",
                "Unknown: batches {batches}: the answer to the request was lost, so SendGrid may or may not"
                " have them. Check SendGrid's activity (custom argument 'batch'), then resend them only if"
                " they did not go out: newsletter send {issue} --resend-unknown",
                len(r.unknown_batches),
            ).format(batches=batches, issue=r.issue_id),
            err=True,
        )
    if r.repaired:
        click.echo(
            ngettext(
                "{n} batch with a lost answer was cancelled at SendGrid and its subscribers"
                " sent again: nobody gets it twice.",
                "{n} batches with a lost answer were cancelled at SendGrid and their subscribers"
                " sent again: nobody gets it twice.",
                r.repaired,
            ).format(n=r.repaired)
        )
    if r.completed and r.send_at and r.deadline:
        click.echo(
            _("Goes out at {time}; until {deadline}, 'newsletter cancel {issue}' recalls it.").format(
                time=f"{r.send_at.astimezone(tz):%Y-%m-%d %H:%M %Z}",
                deadline=f"{r.deadline.astimezone(tz):%H:%M}",
                issue=r.issue_id,
            )
        )
    if r.completed:
        click.echo(_("Every subscriber has been served; running send again sends nothing more."))


@main.command(
    "send",
    help=helptext(
        _("""Send ISSUE: a test copy (--to), the plan (--dry-run), or the approved issue to every subscriber.

With SENDGRID_API_KEY set the mail goes through SendGrid (SENDGRID_HOST overrides the address);
without it, one .eml file per message is written to outbox/ISSUE/. A list send that stopped
(killed, rate-limited, refused) continues where it left off: run it again.

Examples:
  newsletter send 2026-12 --to redactie@example.nl    # a test copy, for a draft too
  newsletter send 2026-12 --dry-run                   # the plan
  newsletter send 2026-12                             # the list, once per subscriber""")
    ),
)
@click.argument("issue")
@click.option(
    "--to", "to", multiple=True, metavar="ADDR", help=_("Send a test copy to ADDR only (repeatable).")
)
@click.option(
    "--dry-run",
    is_flag=True,
    help=_(
        "Print the plan: first whether the send would go at all (and why not), then who gets it, who is"
        " skipped and why. Sends nothing; exits 1 when the send would be refused."
    ),
)
@click.option(
    "--resend-unknown",
    is_flag=True,
    help=_("Also resend to subscribers whose earlier request's answer was lost (they may get it twice)."),
)
@pass_ctx
def send(ctx: Context, issue: str, to: tuple[str, ...], dry_run: bool, resend_unknown: bool) -> None:
    """Send ISSUE: a test copy, the plan, or the approved issue to every subscriber."""
    if to and dry_run:
        # A test send has no plan; ignoring --dry-run here would mail the test readers after all.
        raise click.UsageError(
            _("--dry-run plans the list send and cannot be combined with --to; drop one of them")
        )
    # Imported here: rendering and SendGrid are loaded only by the command that sends.
    from pipeline import deliver, render
    from pipeline import run as workflow
    from pipeline.infra.instance import load_issue
    from pipeline.infra.store import Store

    config = ctx.config
    issue_obj = load_issue(config, issue)
    if to:
        transport = deliver.open_transport(config, os.environ)
        with Store(config.settings.database) as store:
            prepared = render.prepare(config, store, issue_obj)
        test = deliver.send_test(config, prepared.rendered, to, transport)
        if not test.accepted:
            click.echo(
                _("Error: the test send was not accepted: {reason}").format(reason=test.reason), err=True
            )
            sys.exit(EXIT_FAILED)
        click.echo(
            ngettext(
                "Test copy of {issue} (subject marked [TEST]) to {n} address via {destination}.",
                "Test copy of {issue} (subject marked [TEST]) to {n} addresses via {destination}.",
                test.recipients,
            ).format(issue=test.issue_id, n=test.recipients, destination=test.destination)
        )
        return
    if dry_run:
        # Exits as the real send would: 1 when it would be refused (the plan says why, and the fix).
        transport = deliver.open_transport(config, os.environ)
        errors = 0
        with Store(config.settings.database) as store:
            plan = deliver.plan(
                config, store, issue_obj, transport, send_at=issue_obj.send_at, resend_unknown=resend_unknown
            )
            if isinstance(plan.refused, deliver.NotApproved):  # approve refuses an issue with errors
                errors = sum(p.is_error for p in workflow.check(config, store, issue)[1])
        _problems(plan.list.problems)
        _print_plan(plan, config.settings.timezone, errors, issue_obj.path)
        if plan.refused is not None:
            sys.exit(EXIT_FAILED)
        return
    bar = _Bar()
    try:
        result = workflow.send(
            config, issue_obj, env=os.environ, send_at=issue_obj.send_at, resend_unknown=resend_unknown,
            progress=bar, log=_log,
        )  # fmt: skip
    finally:
        bar.close()
    if result.list:
        _problems(result.list.problems)
    _print_report(result, config.settings.timezone)
    if result.stopped:
        click.echo(_("Error: the send stopped: {reason}").format(reason=result.stopped), err=True)
        click.echo(
            _("Fix: fix the cause, then run 'newsletter send {issue}' again to continue").format(issue=issue),
            err=True,
        )
        sys.exit(EXIT_FAILED)
    if result.unknown_batches:
        sys.exit(EXIT_FAILED)


@main.command(
    "cancel",
    help=helptext(
        _("""Recall ISSUE: SendGrid discards the mail it holds for it, so nobody gets it.

Works until 10 minutes before the issue goes out (the time 'newsletter send' and 'status'
show). Afterwards the approval no longer holds: fix the issue, approve it again and send it.
Too late (it went out, or it is within SendGrid's 10 minutes) it says so and changes nothing.

Example:
  newsletter cancel 2026-12""")
    ),
)
@click.argument("issue")
@pass_ctx
def cancel(ctx: Context, issue: str) -> None:
    """Recall ISSUE: SendGrid discards the mail it holds for it, so nobody gets it."""
    from pipeline import run as workflow
    from pipeline.infra.instance import load_issue

    config = ctx.config
    done = workflow.recall(config, load_issue(config, issue), env=os.environ)
    tz = config.settings.timezone
    click.echo(
        _(
            "Recalled issue {issue}: {batches} cancelled at {destination}, so {subscribers} do not get it"
            " (it would have gone out at {time})."
        ).format(
            issue=done.issue_id,
            batches=ngettext("{n} batch", "{n} batches", done.batches).format(n=done.batches),
            destination=done.destination,
            subscribers=ngettext(
                "the {n} subscriber it was held for", "the {n} subscribers it was held for", done.recipients
            ).format(n=done.recipients),
            time=f"{done.send_at.astimezone(tz):%Y-%m-%d %H:%M %Z}",
        )
    )
    click.echo(
        _("Next: fix it, then 'newsletter approve {issue} --by NAME' and send it again.").format(
            issue=done.issue_id
        )
    )


def _log(level: str, event: str, message: str, fields: object) -> None:
    if level in ("warning", "error"):
        click.echo(log_line(level, message), err=True)
