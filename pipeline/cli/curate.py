"""Commands of the curate stage: draft, check, approve, status."""

from __future__ import annotations

import click

from pipeline import curate
from pipeline.cli.base import (
    EXIT_FAILED,
    Context,
    count_errors,
    count_warnings,
    helptext,
    main,
    now_option,
    pass_ctx,
)
from pipeline.domain.approval import deadline
from pipeline.domain.editions import Choice, parse_view_as
from pipeline.domain.errors import InputInvalid, display_path
from pipeline.domain.i18n import N_, _, ngettext
from pipeline.domain.issues import Issue, issue_path
from pipeline.domain.models import STATE_LABELS
from pipeline.infra.instance import load_issue
from pipeline.infra.store import Store

# A delivery state and its count in the status's details ("accepted 120, pending 0").
DELIVERY_COUNTS = {
    "accepted": N_("accepted {n}"),
    "skipped": N_("skipped {n}"),
    "failed": N_("failed {n}"),
    "unknown": N_("unknown {n}"),
    "pending": N_("pending {n}"),
    "in_flight": N_("in flight {n}"),
}


def _counts(ctx: Context, issue_id: str) -> tuple[int, int]:
    issue = load_issue(ctx.config, issue_id)
    return len(issue.entries()), sum(len(s.runners_up) for s in issue.sections)


@main.command(
    help=helptext(
        _("""Write issues/ISSUE.yaml: ranked candidates in sections, runners-up below each.

The file's header explains the ranking and how to edit it. With --refresh, candidates that
arrived since are added as runners-up; every other line stays as you left it.

Examples:
  newsletter draft 2026-12
  newsletter draft 2026-12 --refresh""")
    ),
)
@click.argument("issue_id", metavar="ISSUE")
@click.option(
    "--since", metavar="DATE", help=_("Candidates published since DATE. Default: the last sent issue.")
)
@click.option("--refresh", is_flag=True, help=_("Add new candidates to an existing draft as runners-up."))
@now_option
@pass_ctx
def draft(ctx: Context, issue_id: str, since: str | None, refresh: bool, now_text: str | None) -> None:
    """Write issues/ISSUE.yaml: ranked candidates in sections, runners-up below each."""
    config = ctx.config
    start, now = ctx.since(since), ctx.now(now_text)
    with Store(config.settings.database) as store:
        before = _counts(ctx, issue_id)[1] if refresh and issue_path(ctx.root, issue_id).exists() else 0
        result = curate.draft(config, store, issue_id, since=start, refresh=refresh, now=now)
    items, runners = _counts(ctx, issue_id)
    shown = display_path(result.path, ctx.root)
    for line in result.unplaced_lines(config):
        click.echo(_("warning: {message}").format(message=line), err=True)
    if refresh:
        added = runners - before
        click.echo(
            ngettext(
                "Refreshed {path}: {n} new candidate added as a runner-up; your edits are unchanged.",
                "Refreshed {path}: {n} new candidates added as runners-up; your edits are unchanged.",
                added,
            ).format(path=shown, n=added)
        )
    else:
        sections = len(config.taxonomy.sections)
        click.echo(
            _("Drafted {path}: {items} in {sections}, {runners}.").format(
                path=shown,
                items=ngettext("{n} item", "{n} items", items).format(n=items),
                sections=ngettext("{n} section", "{n} sections", sections).format(n=sections),
                runners=ngettext("{n} runner-up", "{n} runners-up", runners).format(n=runners),
            )
        )
        click.echo(
            _("Next: edit it (its header says how), then run: newsletter check {issue}").format(
                issue=issue_id
            )
        )


def _edition(ctx: Context, store: Store, issue: Issue, choice: Choice) -> None:
    """``check --as``: the edition that ``choice`` gets, written to the build folder."""
    from pipeline import render

    key, paths = render.write_edition(ctx.config, render.prepare(ctx.config, store, issue), choice)
    label = choice.label(ctx.config.taxonomy)
    if key:
        shown = _("The edition for {choice}: {path}").format(
            choice=label, path=display_path(paths[0], ctx.root)
        )
    else:
        shown = _("{choice} changes nothing in this issue: the issue as it is, {path}").format(
            choice=label, path=display_path(paths[0], ctx.root)
        )
    click.echo(shown)


@main.command(
    help=helptext(
        _("""Check an issue: references, required fields, images, coverage, links, plain Dutch, what Gmail
and Yahoo ask of bulk senders, and with --links, whether every link answers.

Fix the errors (exit 1) before approving; warnings are for the editor to weigh. The B1
advice covers the subject, preheader, intro and your overrides, and each partner text that goes
out unchanged (docs/plain-language.md).

Example:
  newsletter check 2026-12 --links""")
    ),
)
@click.argument("issue_id", metavar="ISSUE")
@click.option("--links", is_flag=True, help=_("Also check that every link answers (HEAD, else GET)."))
@click.option(
    "--as",
    "view_as",
    metavar="CHOICE",
    help=_(
        "Also write the edition a reader with this choice gets, e.g. --as overijssel,onderwijs "
        "(provinces and themes), to build/ISSUE/als-.../"
    ),
)
@pass_ctx
def check(ctx: Context, issue_id: str, links: bool, view_as: str | None) -> None:
    """Check an issue: what check finds (the translated help is above)."""
    from pipeline import run  # the checks that combine stages live beside the order of the stages

    choice = parse_view_as(view_as, ctx.config.taxonomy) if view_as is not None else None
    with Store(ctx.config.settings.database) as store:
        issue, problems = run.check(ctx.config, store, issue_id, links=links)
        if choice is not None and issue is not None and not any(p.is_error for p in problems):
            _edition(ctx, store, issue, choice)
    for p in problems:
        click.echo(str(p), err=True)
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    shown = display_path(issue_path(ctx.root, issue_id), ctx.root)
    if errors:
        click.echo(
            _("Error: {errors}, {warnings} in {path}.").format(
                errors=count_errors(errors), warnings=count_warnings(warnings), path=shown
            ),
            err=True,
        )
        raise SystemExit(EXIT_FAILED)
    if warnings:
        ok = ngettext(
            "OK: {path} has no errors, {n} warning.", "OK: {path} has no errors, {n} warnings.", warnings
        )
        click.echo(ok.format(path=shown, n=warnings))
    else:
        click.echo(_("OK: {path} has no errors.").format(path=shown))


@main.command(
    help=helptext(
        _('''Approve an issue for the list, bound to its exact content; refused while check finds errors.

Any later edit of the file, or of an item it refers to, shows the issue as "changed since
approval", and it cannot go to the list until approved again.

Example:
  newsletter approve 2026-12 --by "Anna de Vries"''')
    ),
)
@click.argument("issue_id", metavar="ISSUE")
@click.option("--by", "by", required=True, metavar="NAME", help=_("Who approves (recorded in the file)."))
@pass_ctx
def approve(ctx: Context, issue_id: str, by: str) -> None:
    """Approve an issue for the list, bound to its exact content."""
    shown = display_path(issue_path(ctx.root, issue_id), ctx.root)
    try:
        with Store(ctx.config.settings.database) as store:
            approval = curate.approve(ctx.config, store, issue_id, by)
    except InputInvalid as e:
        for p in e.problems:
            click.echo(str(p), err=True)
        errors = sum(p.is_error for p in e.problems)
        # The same words as the studio's (pipeline/studio/app.py).
        refused = ngettext(
            "not approved: {n} error in {path}.", "not approved: {n} errors in {path}.", errors
        )
        fix = _("correct them (newsletter check {issue}), then approve again.").format(issue=issue_id)
        click.echo(_("Error: {message}").format(message=refused.format(n=errors, path=shown)), err=True)
        click.echo(_("Fix: {hint}").format(hint=fix), err=True)
        raise SystemExit(EXIT_FAILED) from None
    click.echo(
        _("Approved {path} by {name} at {time} ({fingerprint}).").format(
            path=shown,
            name=approval.by,
            time=f"{approval.at:%Y-%m-%d %H:%M}",
            fingerprint=approval.fingerprint[:19],
        )
    )


@main.command(
    help=helptext(
        _("""List every issue with its state and when it goes (or went) out.

States: draft, approved, changed since approval, sending, scheduled at SendGrid (handed over,
held until it goes out; 'newsletter cancel' recalls it until 10 minutes before), sent, recalled.

Example:
  newsletter status""")
    ),
)
@pass_ctx
def status(ctx: Context) -> None:
    """List every issue with its state and when it goes (or went) out."""
    tz = ctx.config.settings.timezone
    with Store(ctx.config.settings.database) as store:
        rows = curate.statuses(ctx.config, store)
    if not rows:
        click.echo(_("No issues yet; start one with: newsletter draft 2026-12"))
        return
    head = (_("ISSUE"), _("STATE"), _("SEND AT"), _("DETAILS"))
    click.echo(f"{head[0]:<12}  {head[1]:<23}  {head[2]:<16}  {head[3]}")
    for r in rows:
        when = r.send_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if r.send_at else "-"
        if r.counts is not None:
            details = ", ".join(
                _(DELIVERY_COUNTS.get(k, "{state} {n}")).format(state=k, n=v)
                for k, v in r.counts.items()
                if v or k in ("accepted", "pending")
            )
            if r.state == "scheduled" and r.send_at is not None:
                until = deadline(r.send_at).astimezone(tz)
                details += "; " + _("recall until {time}: newsletter cancel {issue}").format(
                    time=f"{until:%H:%M}", issue=r.id
                )
        elif r.state == "recalled":
            details = _("approve again to send it: newsletter approve {issue} --by NAME").format(issue=r.id)
        elif r.approval is not None:
            at = f"{r.approval.at.astimezone(tz):%Y-%m-%d %H:%M}"
            if r.state == "changed":
                details = _(
                    "approved by {name} at {time}; approve again: newsletter approve {issue} --by NAME"
                )
            else:
                details = _("approved by {name} at {time}")
            details = details.format(name=r.approval.by, time=at, issue=r.id)
        elif r.problem:
            details = r.problem
        else:
            details = ""
        click.echo(f"{r.id:<12}  {_(STATE_LABELS[r.state]):<23}  {when:<16}  {details}".rstrip())
