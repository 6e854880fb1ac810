"""The order of the stages, written down once: how one issue goes out, and what cron does.

The stages (``collect``, ``curate``, ``render``, ``deliver``, ``publish``, ``report``) never import
each other; this module, ``pipeline.demo`` and the command line combine them. A month:

1. ``collect``  feeds and submissions into the state database (cron, every run);
2. ``curate``   an editor drafts ``issues/ID.yaml``, edits it, checks and approves it;
3. ``render``   ``prepare`` turns the issue and its items into the email, text and web page, and
   the fingerprint the approval is bound to, once per send;
4. ``deliver``  the list send (``send``, below): exactly once per subscriber, resumable;
5. ``publish`` and ``report`` read what was sent; they are separate commands (and cron lines), so
   that a broken archive or report template can never stop a send.

Every 15 minutes cron runs ``run``: collect, then for every issue file:

- sent or scheduled -> nothing (quietly): SendGrid holds a scheduled issue until its send_at;
- sending           -> finish it: a previous run was killed half-way; the ledger knows who is left,
  and a request whose answer was lost is settled by cancelling its batch while SendGrid still can;
- approved and due  -> prepare it once (the build folder, for the editors) and hand it to SendGrid,
  held until its send_at: "due" is ``newsletter.delivery.schedule_ahead_minutes`` (60) before it, so
  an issue for 09:00 goes out at 09:00 and can be recalled (``newsletter cancel``) until 08:50;
- approved, not due -> nothing; the log says when it will go;
- recalled          -> never sent until approved again;
- draft or changed  -> never sent; when its send_at has come, the log says why it was skipped.

A collect that fails in any way is logged and the run goes on to send what is due (exit 3): a
broken feed, a full disk or a damaged row must never hold back an issue. The whole run holds one
lock (``state/locks/run.lock``): a second run that starts while one is busy exits at once. The
kernel drops the lock when a process dies, so a killed run never blocks the next.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline import curate, deliver, render
from pipeline.domain import bulk
from pipeline.domain.config import Config
from pipeline.domain.errors import InputInvalid, PipelineError, Problem
from pipeline.domain.i18n import N_, _, ngettext
from pipeline.domain.issues import Issue
from pipeline.domain.models import DeliveryState, IssueState
from pipeline.domain.tokens import list_headers
from pipeline.infra.approval import approval_state, mark_recalled
from pipeline.infra.instance import check_issue_file
from pipeline.infra.locking import job_lock
from pipeline.infra.store import Store

if TYPE_CHECKING:
    from pipeline.collect import Summary

# Why an issue whose send_at has come is not sent, by its state (None: any other).
SKIPPED: dict[IssueState | None, str] = {
    IssueState.DRAFT: N_(
        "issue {issue}: send_at {time} has come, but it is a draft: not sent;"
        " run 'newsletter check {issue}' and 'newsletter approve {issue} --by NAME'"
    ),
    IssueState.CHANGED: N_(
        "issue {issue}: send_at {time} has come, but it changed after it was approved: not sent;"
        " run 'newsletter check {issue}' and 'newsletter approve {issue} --by NAME'"
    ),
    IssueState.RECALLED: N_(
        "issue {issue}: send_at {time} has come, but it was recalled and not approved again: not sent;"
        " run 'newsletter check {issue}' and 'newsletter approve {issue} --by NAME'"
    ),
    None: N_(
        "issue {issue}: send_at {time} has come, but it is not approved: not sent;"
        " run 'newsletter check {issue}' and 'newsletter approve {issue} --by NAME'"
    ),
}
ACTIONS = {"sent": N_("issue {issue}: sent"), "resumed": N_("issue {issue}: resumed")}

# (level, event, message, fields): the CLI turns these into lines or JSON.
Log = Callable[[str, str, str, Mapping[str, Any]], None]


def _quiet(level: str, event: str, message: str, fields: Mapping[str, Any]) -> None:
    pass


def clock_from(start: dt.datetime) -> deliver.Clock:
    """A clock that reads ``start`` now and runs on in real time (cron's --now, the demo's date), in UTC:
    from a local start, 02:55 + 10 minutes on the night the clocks go back was 03:05, an hour too late."""
    origin, start = time.monotonic(), start.astimezone(dt.UTC)
    return lambda: start + dt.timedelta(seconds=time.monotonic() - origin)


# -- one issue, checked -------------------------------------------------------------------------------
def check(
    config: Config, store: Store, issue_id: str, *, links: bool = False
) -> tuple[Issue | None, list[Problem]]:
    """What ``newsletter check`` (and the studio) reports for an issue: the file's structure,
    curate's checks against the state database (and, with ``links``, every link), and what Gmail
    and Yahoo ask of the message as render makes it and deliver sends it, sorted by line.
    """
    issue, problems = curate.check_issue(config, store, issue_id, links=links)
    if issue is not None:
        problems = sorted(
            [*problems, *_bulk_sender(config, store, issue)], key=lambda p: (p.path, p.line or 0)
        )
    return issue, problems


def _bulk_sender(config: Config, store: Store, issue: Issue) -> list[Problem]:
    """The bulk-sender rules on the rendered message, with the headers of a list send."""
    lines = {key: issue.line(key) for key in ("subject", "preheader")}
    try:
        rendered = render.prepare(config, store, issue).rendered
    except InputInvalid:  # an item missing from the database: curate names it; the fields still count
        return bulk.check_fields(issue.subject, issue.preheader, path=issue.path, lines=lines)
    except PipelineError as e:  # a template that does not render: what 'newsletter render' would say
        fields = bulk.check_fields(issue.subject, issue.preheader, path=issue.path, lines=lines)
        return [Problem(issue.path, None, _("the issue does not render: {error}").format(error=e)), *fields]
    headers = list_headers(config.settings, issue.id)
    return bulk.check_message(rendered, config.settings, headers, path=issue.path, lines=lines)


# -- one issue to the list --------------------------------------------------------------------------
def send(
    config: Config,
    issue: Issue,
    *,
    env: Mapping[str, str],
    send_at: dt.datetime | None = None,
    resend_unknown: bool = False,
    progress: deliver.Progress | None = None,
    clock: deliver.Clock | None = None,
    log: Log = _quiet,
) -> deliver.Report:
    """The list send of one issue, as ``newsletter send`` and cron both do it.

    A new send is prepared once (render, fingerprint) and its build folder written, for the
    editors' copy of what went out; a resumed send renders nothing: it sends the content kept
    when it started. When this run serves the last subscriber, the editors get the delivery report.
    """
    transport = deliver.open_transport(config, env, clock=clock)

    def notice(line: str) -> None:
        log(
            "warning",
            "send-notice",
            _("issue {issue}: {notice}").format(issue=issue.id, notice=line),
            {"issue": issue.id},
        )

    with Store(config.settings.database) as store, deliver.send_lock(config, issue.id):
        started = store.sent_issue(issue.id) is not None
        prepared = None if started else render.prepare(config, store, issue)
        report = deliver.send_list(
            config, store, issue, transport, prepared=prepared, send_at=send_at,
            resend_unknown=resend_unknown, progress=progress, clock=clock or deliver.utc_now,
            notice=notice,
        )  # fmt: skip
    if prepared is not None:
        render.write_build(config, prepared.rendered)  # the editors' copy of what went out
    if report.finished_now and config.settings.editors:
        try:
            deliver.notify_editors(config, report, env=env)
        except PipelineError as e:
            log(
                "warning",
                "report-mail-failed",
                _("issue {issue}: the delivery report was not mailed: {reason}").format(
                    issue=issue.id, reason=e
                ),
                {"issue": issue.id},
            )
    return report


def recall(config: Config, issue: Issue, *, env: Mapping[str, str]) -> deliver.RecallReport:
    """``newsletter cancel``: recall the issue at SendGrid and mark its file; the approval no longer holds."""
    transport = deliver.open_transport(config, env)
    with Store(config.settings.database) as store, deliver.send_lock(config, issue.id):
        done = deliver.recall(config, store, issue, transport)
    mark_recalled(config, issue.id)
    return done


# -- cron ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IssueOutcome:
    issue_id: str
    action: str  # "sent", "resumed" or "failed"
    reason: str
    counts: Mapping[DeliveryState, int] = field(default_factory=dict)
    completed: bool = False
    send_at: dt.datetime | None = None  # when SendGrid sends it (in the instance's time zone)


@dataclass(frozen=True)
class RunResult:
    collect: Summary | None
    issues: tuple[IssueOutcome, ...]
    collect_failed: str | None = None  # why collect as a whole did not run to its end

    @property
    def failed(self) -> list[IssueOutcome]:
        """Sends that stopped, or left subscribers unknown (the editors must look): exit status 1."""
        return [o for o in self.issues if o.action == "failed" or o.counts.get(DeliveryState.UNKNOWN)]

    @property
    def partial(self) -> bool:
        return bool(self.collect_failed or (self.collect and self.collect.partial))

    def line(self) -> str:
        """The one summary line cron mails when all is well."""
        if self.collect_failed:
            parts = [_("collect failed: {reason}").format(reason=self.collect_failed)]
        else:
            parts = [self.collect.line() if self.collect else _("collect: skipped")]
        sent = [o for o in self.issues if o.action in ("sent", "resumed")]
        for o in sent:
            c = o.counts
            if o.completed and o.send_at is not None:
                state = _("complete, goes out {time}").format(time=f"{o.send_at:%Y-%m-%d %H:%M %Z}")
            else:
                state = _("complete") if o.completed else _("not complete")
            parts.append(
                _(
                    "issue {issue}: {accepted} accepted, {skipped} skipped, {failed} failed,"
                    " {unknown} unknown ({state})"
                ).format(
                    issue=o.issue_id, accepted=c.get(DeliveryState.ACCEPTED, 0),
                    skipped=c.get(DeliveryState.SKIPPED, 0), failed=c.get(DeliveryState.FAILED, 0),
                    unknown=c.get(DeliveryState.UNKNOWN, 0), state=state,
                )
            )  # fmt: skip
        if not sent:
            parts.append(_("nothing to send"))
        return "; ".join(parts)


def run_lock(config: Config) -> Any:
    return job_lock(config.settings, "run")


def _issues(config: Config, log: Log) -> list[Issue]:
    found = []
    for path in sorted((config.root / "issues").glob("*.yaml")):
        shown = f"issues/{path.name}"
        issue, problems = check_issue_file(path, config, shown)
        if issue is None:
            first = next((p for p in problems if p.is_error), None)
            log(
                "error",
                "issue-invalid",
                _("{problem}: not sent; run 'newsletter validate {path}'").format(
                    problem=first or shown, path=shown
                ),
                {"issue": path.stem},
            )
            continue
        found.append(issue)
    return found


def due_issues(config: Config, store: Store, now: dt.datetime, log: Log) -> list[tuple[Issue, IssueState]]:
    """The issues to send now, each with its state (approved or sending); logs the others."""
    # In UTC: two times in the instance's own zone are compared, and minutes added, on the wall clock. On
    # the night the clocks go forward, 01:42 + 60 minutes was 02:42, before a send_at of 03:25 (01:25 UTC).
    now = now.astimezone(dt.UTC)
    out: list[tuple[Issue, IssueState]] = []
    for issue in _issues(config, log):
        state = approval_state(config, store, issue, now=now)
        fields = {"issue": issue.id, "state": str(state)}
        # Handed to SendGrid ahead of its send_at, which holds it until that minute.
        due = issue.send_at is not None and issue.send_at <= now + config.settings.delivery.schedule_ahead
        when = f"{issue.send_at:%Y-%m-%d %H:%M %Z}" if issue.send_at else ""
        if state in (IssueState.SENT, IssueState.SCHEDULED):
            continue
        if state == IssueState.SENDING or (state == IssueState.APPROVED and due):
            out.append((issue, state))
        elif state == IssueState.APPROVED:
            if issue.send_at is None:
                why = _("issue {issue}: approved, but it has no send_at; add one").format(issue=issue.id)
            else:
                ahead = config.settings.delivery.schedule_ahead
                handover = (issue.send_at.astimezone(dt.UTC) - ahead).astimezone(issue.send_at.tzinfo)
                why = _(
                    "issue {issue}: approved; goes out {time}, handed to SendGrid from {handover}"
                ).format(issue=issue.id, time=when, handover=f"{handover:%H:%M}")
            log("info", "issue-waiting", why, fields)
        elif due and issue.send_at is not None and issue.send_at <= now:
            skipped = _(SKIPPED.get(state, SKIPPED[None]))
            log("warning", "issue-skipped", skipped.format(issue=issue.id, time=when), fields)
    return out


def _collect(config: Config, store: Store, now: dt.datetime, log: Log) -> Summary:
    from pipeline.collect import collect  # imported here: feedparser and httpx only when collecting

    summary = collect(config, store, now=now)
    for r in summary.failed:
        log(
            "error",
            "source-failed",
            _("{source} ({url}): {reason}").format(source=r.source, url=r.url, reason=r.reason),
            {"source": r.source},
        )
    for r in summary.results:
        if r.moved_to:
            log(
                "warning",
                "source-moved",
                _("{source}: {url} moved permanently to {new}; put the new address in sources.yaml").format(
                    source=r.source, url=r.url, new=r.moved_to
                ),
                {"source": r.source},
            )
    for p in summary.bad_files:
        log("error", "submission-invalid", str(p), {"path": p.path})
    return summary


@contextmanager
def _guarded(log: Log) -> Iterator[list[str]]:
    """Catch any failure of collect: log it, and let the run go on to send (the reason is yielded)."""
    failure: list[str] = []
    try:
        yield failure
    except Exception as e:  # any kind: collect must never hold back an issue that is due
        reason = e.message if isinstance(e, PipelineError) else f"{type(e).__name__}: {e}"
        failure.append(reason)
        log(
            "error",
            "collect-failed",
            _("collect failed, sending goes on: {reason}").format(reason=reason),
            {},
        )


def run(config: Config, *, now: dt.datetime, env: Mapping[str, str], log: Log) -> RunResult:
    """Collect, then send every approved issue that is due, and finish any half-done send.

    Raises ``pipeline.infra.locking.Busy`` when another run holds the lock.
    """
    now = now.astimezone(dt.UTC)  # cron's now may be in the instance's zone: reckoned in UTC from here
    clock = clock_from(now)
    with run_lock(config):
        summary = None
        with _guarded(log) as failure, Store(config.settings.database) as store:
            summary = _collect(config, store, now, log)
        with Store(config.settings.database) as store:
            due = due_issues(config, store, now, log)
        outcomes = []
        for issue, state in due:
            try:
                report = send(config, issue, env=env, send_at=issue.send_at, clock=clock, log=log)
            except (PipelineError, InputInvalid) as e:
                outcome = IssueOutcome(issue.id, "failed", str(e))
            else:
                action = "resumed" if state == IssueState.SENDING else "sent"
                if report.stopped:
                    action = "failed"
                goes = report.send_at.astimezone(config.settings.timezone) if report.send_at else None
                outcome = IssueOutcome(
                    issue.id, action, report.stopped or "", dict(report.counts), report.completed, goes
                )
            if outcome.action == "failed":
                failed = _("issue {issue}: {reason}").format(issue=issue.id, reason=outcome.reason)
                log("error", "send-failed", failed, {"issue": issue.id})
            elif outcome.counts.get(DeliveryState.UNKNOWN):
                log(
                    "error",
                    "send-unknown",
                    ngettext(
                        "issue {issue}: {n} subscriber is unknown: a request's answer was lost after"
                        " SendGrid's cancel deadline; check SendGrid's activity, then 'newsletter send"
                        " {issue} --resend-unknown' if they did not get it",
                        "issue {issue}: {n} subscribers are unknown: a request's answer was lost after"
                        " SendGrid's cancel deadline; check SendGrid's activity, then 'newsletter send"
                        " {issue} --resend-unknown' if they did not get it",
                        outcome.counts[DeliveryState.UNKNOWN],
                    ).format(issue=issue.id, n=outcome.counts[DeliveryState.UNKNOWN]),
                    {"issue": issue.id},
                )
            else:
                log(
                    "info",
                    "issue-sent",
                    _(ACTIONS[outcome.action]).format(issue=issue.id),
                    {"issue": issue.id, **{str(k): v for k, v in outcome.counts.items()}},
                )
            outcomes.append(outcome)
        _tell_editors(config, now, env, log)
        return RunResult(summary, tuple(outcomes), failure[0] if failure else None)


def _tell_editors(config: Config, now: dt.datetime, env: Mapping[str, str], log: Log) -> None:
    """Once a day, the partner files saved in the portal, to the editors (a failure is logged)."""
    from pipeline.portal import digest

    try:
        with Store(config.settings.database) as store:
            told = digest.tell_editors(config, store, env, now)
    except PipelineError as e:
        log("error", "portal-digest-failed", e.message, {})
        return
    if told:
        message = ngettext(
            "the editors were told of {n} partner file saved in the portal",
            "the editors were told of {n} partner files saved in the portal",
            told,
        )
        log("info", "portal-digest", message.format(n=told), {"files": told})
