"""`newsletter run`: the cron entry point, and the one place that writes down the order of the stages.

Every 15 minutes cron runs: collect, then for every issue file:

1. sent              -> nothing (quietly).
2. sending           -> finish it: a previous run was killed half-way; the ledger knows who is left.
3. approved and due  -> render (the build folder, for the editors) and send to the list.
4. approved, not due -> nothing; the log says when it will go.
5. draft or changed  -> never sent; when its send_at has come, the log says why it was skipped.

The whole run holds one lock (``state/locks/run.lock``): a second run that starts while one is busy
exits at once. The kernel drops the lock when a process dies, so a killed run never blocks the next.
Publishing the archive after a send is left to ``newsletter publish`` (a separate cron line or CI
job), so that a broken template for the archive can never stop a send.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline import collect as collect_stage
from pipeline import curate, deliver
from pipeline.core.config import Config
from pipeline.core.errors import InputInvalid, PipelineError
from pipeline.core.issues import Issue, check_issue_file
from pipeline.core.locking import exclusive
from pipeline.core.store import Store
from pipeline.render import previous_sent_date, render_issue, write_build

# (level, event, message, fields): the CLI turns these into lines or JSON.
Log = Callable[[str, str, str, Mapping[str, Any]], None]


@dataclass(frozen=True)
class IssueOutcome:
    issue_id: str
    action: str  # "sent", "resumed", "skipped", "waiting", "failed"
    reason: str
    counts: Mapping[str, int] = field(default_factory=dict)
    completed: bool = False


@dataclass(frozen=True)
class RunResult:
    collect: collect_stage.Summary | None
    issues: tuple[IssueOutcome, ...]

    @property
    def failed(self) -> list[IssueOutcome]:
        return [o for o in self.issues if o.action == "failed"]

    @property
    def partial(self) -> bool:
        return bool(self.collect and self.collect.partial)

    def line(self) -> str:
        """The one summary line cron mails when all is well."""
        parts = [self.collect.line() if self.collect else "collect: skipped"]
        sent = [o for o in self.issues if o.action in ("sent", "resumed")]
        for o in sent:
            c = o.counts
            state = "complete" if o.completed else "not complete"
            parts.append(
                f"issue {o.issue_id}: {c.get('accepted', 0)} accepted, {c.get('skipped', 0)} skipped, "
                f"{c.get('failed', 0)} failed, {c.get('unknown', 0)} unknown ({state})"
            )
        if not sent:
            parts.append("nothing to send")
        return "; ".join(parts)


def run_lock(config: Config) -> Any:
    return exclusive(config.settings.state.parent / "locks" / "run.lock", "another 'newsletter run'")


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
                f"{first or shown}: not sent; run 'newsletter validate {shown}'",
                {"issue": path.stem},
            )
            continue
        found.append(issue)
    return found


def due_issues(config: Config, store: Store, now: dt.datetime, log: Log) -> list[tuple[Issue, str]]:
    """The issues to send now, each with its state ('approved' or 'sending'); logs the others."""
    out = []
    for issue in _issues(config, log):
        state = curate.approval_state(config, store, issue)
        fields = {"issue": issue.id, "state": state}
        due = issue.send_at is not None and issue.send_at <= now
        when = f"{issue.send_at:%Y-%m-%d %H:%M %Z}" if issue.send_at else "no send_at"
        if state == "sent":
            continue
        if state == "sending" or (state == "approved" and due):
            out.append((issue, state))
        elif state == "approved":
            why = (
                "approved, but it has no send_at; add one"
                if issue.send_at is None
                else f"approved; due {when}"
            )
            log("info", "issue-waiting", f"issue {issue.id}: {why}", fields)
        elif due:
            why = "is a draft" if state == "draft" else "changed after it was approved"
            log(
                "warning",
                "issue-skipped",
                f"issue {issue.id}: send_at {when} has come, but it {why}: not sent; "
                f"run 'newsletter check {issue.id}' and 'newsletter approve {issue.id} --by NAME'",
                fields,
            )
    return out


def _send(config: Config, issue: Issue, state: str, env: Mapping[str, str], log: Log) -> IssueOutcome:
    with Store(config.settings.state) as store:
        if state == "approved" and store.sent_issue(issue.id) is None:
            # The editors' copy of what goes out, in build/ISSUE/ (the ledger keeps the exact one).
            ids = [e.item for _, e in issue.entries() if e.item]
            previous = previous_sent_date(store.sent_issues(), issue, config.settings.timezone)
            write_build(
                config, render_issue(config, issue, store.get_items(ids), previous_issue_date=previous)
            )
    report = deliver.send_issue(config, issue.id, env=env, immediately=True)
    assert isinstance(report, deliver.Report)
    action = "resumed" if state == "sending" else "sent"
    if report.stopped:
        return IssueOutcome(issue.id, "failed", report.stopped, dict(report.counts), report.completed)
    if report.completed and config.settings.editors:
        try:
            deliver.notify_editors(config, report, env=env)
        except PipelineError as e:
            log(
                "warning",
                "report-mail-failed",
                f"issue {issue.id}: the delivery report was not mailed: {e}",
                {"issue": issue.id},
            )
    return IssueOutcome(issue.id, action, "", dict(report.counts), report.completed)


def run(config: Config, *, now: dt.datetime, env: Mapping[str, str], log: Log) -> RunResult:
    """Collect, then send every approved issue that is due, and finish any half-done send.

    Raises ``pipeline.core.locking.Busy`` when another run holds the lock.
    """
    with run_lock(config):
        summary: collect_stage.Summary | None
        with Store(config.settings.state) as store:
            summary = collect_stage.collect(config, store, now=now.astimezone(dt.UTC))
            for r in summary.failed:
                log("error", "source-failed", f"{r.source} ({r.url}): {r.reason}", {"source": r.source})
            for r in summary.results:
                if r.moved_to:
                    log(
                        "warning",
                        "source-moved",
                        f"{r.source}: {r.url} moved permanently to {r.moved_to}; "
                        "put the new address in sources.yaml",
                        {"source": r.source},
                    )
            for p in summary.bad_files:
                log("error", "submission-invalid", str(p), {"path": p.path})
            due = due_issues(config, store, now, log)
        outcomes = []
        for issue, state in due:
            try:
                outcome = _send(config, issue, state, env, log)
            except (PipelineError, InputInvalid) as e:
                outcome = IssueOutcome(issue.id, "failed", str(e))
            if outcome.action == "failed":
                log("error", "send-failed", f"issue {issue.id}: {outcome.reason}", {"issue": issue.id})
            else:
                log(
                    "info",
                    "issue-sent",
                    f"issue {issue.id}: {outcome.action}",
                    {"issue": issue.id, **outcome.counts},
                )
            outcomes.append(outcome)
        return RunResult(summary, tuple(outcomes))
