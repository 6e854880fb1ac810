"""`newsletter send`: test sends, dry runs and the list send. Counts only, never an address."""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Any

import click

from pipeline.cli.base import EXIT_FAILED, Context, helptext, main, pass_ctx
from pipeline.core.errors import Problem
from pipeline.core.i18n import _, ngettext
from pipeline.core.models import DeliveryState as S
from pipeline.deliver import Plan, Report


def _problems(problems: tuple[Problem, ...], limit: int = 20) -> None:
    for p in problems[:limit]:
        click.echo(str(p), err=True)
    if len(problems) > limit:
        click.echo(f"... and {len(problems) - limit} more row(s) like these", err=True)


class _Bar:
    """A progress bar on a terminal; silent otherwise (cron, pipes, tests)."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty() or total == 0:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="Sending", file=sys.stderr, show_pos=True)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _print_plan(p: Plan, tz: dt.tzinfo, errors: int, shown: str) -> None:
    """The plan; first whether the real send would send at all (``errors``: check's, in ``shown``)."""
    c = p.counts
    click.echo(f"Plan for issue {p.issue_id} (dry run: nothing is sent)")
    if p.refused is not None:
        click.echo(f"  would send:      no, it would be refused: {p.refused.message}")
        if errors:
            click.echo(
                f"  fix:             correct the {errors} error(s) in {shown} (newsletter check"
                f" {p.issue_id}), then run 'newsletter approve {p.issue_id} --by NAME'"
            )
        elif p.refused.hint:
            click.echo(f"  fix:             {p.refused.hint}")
    elif p.completed and not p.to_send:
        click.echo(
            "  would send:      nothing: it went to the whole list before; new subscribers do not get it"
        )
    else:
        click.echo("  would send:      yes")
    click.echo(f"  to:              {p.destination}")
    click.echo(f"  subscriber rows: {p.list.rows}")
    click.echo(f"    invalid:       {p.list.invalid}" + (" (lines listed above)" if p.list.invalid else ""))
    click.echo(f"    duplicates:    {p.list.duplicates}")
    click.echo(
        "  suppressions:    "
        + ("read from SendGrid" if p.list.suppressions_read else "not read (outbox: no SendGrid account)")
    )
    reasons = ", ".join(f"{why}: {n}" for why, n in sorted(p.skipped.items()))
    click.echo(f"  skipped:         {c[S.SKIPPED]}" + (f" ({reasons})" if reasons else ""))
    if c[S.ACCEPTED] or c[S.UNKNOWN]:
        click.echo(f"  sent before:     accepted {c[S.ACCEPTED]}, unknown {c[S.UNKNOWN]}")
    if c[S.IN_FLIGHT]:
        click.echo(
            f"  in doubt:        {c[S.IN_FLIGHT]} (a send stopped with a request whose answer was lost;"
            " the next send cancels that batch and sends them again)"
        )
    if c[S.UNKNOWN] and not p.resend_unknown:
        click.echo("                   (unknown ones are not resent without --resend-unknown)")
    if p.send_at is None or p.deadline is None:  # refused: nothing goes out, at no time
        click.echo("  to send now:     none (the send would be refused; see 'would send' above)")
        return
    send_at, until = p.send_at.astimezone(tz), p.deadline.astimezone(tz)
    click.echo(f"  to send now:     {p.to_send} in {p.requests} request(s)")
    click.echo(f"  batch:           {p.batch_id or 'a new SendGrid batch'}")
    click.echo(f"  goes out at:     {send_at:%Y-%m-%d %H:%M %Z} (SendGrid holds it until then)")
    click.echo(f"  recall until:    {until:%Y-%m-%d %H:%M %Z} (newsletter cancel {p.issue_id})")


def _print_report(r: Report, tz: dt.tzinfo) -> None:
    c = r.counts
    if r.newly_unknown:
        click.echo(
            f"Warning: {r.newly_unknown} subscriber(s) were in a request whose answer was lost, and its"
            " batch could no longer be cancelled; their delivery is unknown.",
            err=True,
        )
    if r.resent_unknown:
        click.echo(
            f"Warning: resending to {r.resent_unknown} subscriber(s) whose delivery was unknown;"
            " some may get the issue twice.",
            err=True,
        )
    click.echo(
        f"Issue {r.issue_id} to {r.destination}: accepted {c[S.ACCEPTED]}, skipped {c[S.SKIPPED]},"
        f" failed {c[S.FAILED]}, unknown {c[S.UNKNOWN]}, pending {c[S.PENDING]}"
        f" ({r.sent_now} sent in this run, {r.requests} request(s))"
    )
    if r.unknown_batches:
        batches = ", ".join(str(b) for b in r.unknown_batches[:10])
        click.echo(
            f"Unknown: batch(es) {batches}: the answer to the request was lost, so SendGrid may or may not"
            " have them. Check SendGrid's activity (custom argument 'batch'), then resend them only if"
            f" they did not go out: newsletter send {r.issue_id} --resend-unknown",
            err=True,
        )
    if r.repaired:
        click.echo(
            f"{r.repaired} batch(es) with a lost answer were cancelled at SendGrid and their subscribers"
            " sent again: nobody gets it twice."
        )
    if r.completed and r.send_at and r.deadline:
        click.echo(
            f"Goes out at {r.send_at.astimezone(tz):%Y-%m-%d %H:%M %Z}; until"
            f" {r.deadline.astimezone(tz):%H:%M}, 'newsletter cancel {r.issue_id}' recalls it."
        )
    if r.completed:
        click.echo("Every subscriber has been served; running send again sends nothing more.")


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
@click.option("--to", "to", multiple=True, metavar="ADDR", help="Send a test copy to ADDR only (repeatable).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan: first whether the send would go at all (and why not), then who gets it, who is"
    " skipped and why. Sends nothing; exits 1 when the send would be refused.",
)
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="Also resend to subscribers whose earlier request's answer was lost (they may get it twice).",
)
@pass_ctx
def send(ctx: Context, issue: str, to: tuple[str, ...], dry_run: bool, resend_unknown: bool) -> None:
    """Send ISSUE: a test copy, the plan, or the approved issue to every subscriber."""
    if to and dry_run:
        # A test send has no plan; ignoring --dry-run here would mail the test readers after all.
        raise click.UsageError(
            "--dry-run plans the list send and cannot be combined with --to; drop one of them"
        )
    # Imported here: rendering and SendGrid are loaded only by the command that sends.
    from pipeline import deliver, render
    from pipeline import run as workflow
    from pipeline.core.issues import load_issue
    from pipeline.core.store import Store

    config = ctx.config
    issue_obj = load_issue(config, issue)
    if to:
        transport = deliver.open_transport(config, os.environ)
        with Store(config.settings.state) as store:
            prepared = render.prepare(config, store, issue_obj)
        test = deliver.send_test(config, prepared.rendered, to, transport)
        if not test.accepted:
            click.echo(f"Error: the test send was not accepted: {test.reason}", err=True)
            sys.exit(EXIT_FAILED)
        click.echo(
            f"Test copy of {test.issue_id} (subject marked [TEST]) to {test.recipients} address(es)"
            f" via {test.destination}."
        )
        return
    if dry_run:
        # Exits as the real send would: 1 when it would be refused (the plan says why, and the fix).
        transport = deliver.open_transport(config, os.environ)
        errors = 0
        with Store(config.settings.state) as store:
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
        click.echo(f"Error: the send stopped: {result.stopped}", err=True)
        click.echo(f"Fix: fix the cause, then run 'newsletter send {issue}' again to continue", err=True)
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
    from pipeline.core.issues import load_issue

    config = ctx.config
    done = workflow.recall(config, load_issue(config, issue), env=os.environ)
    tz = config.settings.timezone
    click.echo(
        f"Recalled issue {done.issue_id}: {done.batches} batch(es) cancelled at {done.destination}, so the"
        f" {done.recipients} subscriber(s) it was held for do not get it (it would have gone out at"
        f" {done.send_at.astimezone(tz):%Y-%m-%d %H:%M %Z})."
    )
    click.echo(f"Next: fix it, then 'newsletter approve {done.issue_id} --by NAME' and send it again.")


def _log(level: str, event: str, message: str, fields: object) -> None:
    if level in ("warning", "error"):
        click.echo(f"{level}: {message}", err=True)
