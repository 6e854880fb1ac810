"""Deliver: send an issue to every subscriber exactly once, or a test copy to a few addresses.

The order of a list send, and why:

1. Take the issue's send lock (``pipeline.core.locking``): two senders could each claim the same
   subscribers. A killed sender leaves no lock behind.
2. Batches left "in flight" by a killed process become "unknown": their request may have reached
   SendGrid. They are reported, and resent only with ``resend_unknown`` (the editor's explicit word).
3. Read the subscriber list and SendGrid's suppressions, and bring the ledger in line: new
   subscribers pending, suppressed ones skipped with the reason. On the first run this happens in
   the same transaction that keeps the exact content sent (``record_sent_issue``), so a send that
   has started always has its content, and a resumed send sends that same content.
4. Per batch of at most 1000: commit "in flight", make the request, commit the outcome. Nothing is
   "accepted" unless SendGrid answered 202.
5. When nobody is pending, in flight or failed, the send is complete.

Without ``SENDGRID_API_KEY`` the same steps write ``.eml`` files to ``outbox/ISSUE/``.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.core.approval import approval_state, mark_sent
from pipeline.core.config import Config, Settings
from pipeline.core.errors import PipelineError, Problem
from pipeline.core.issues import Issue
from pipeline.core.locking import exclusive
from pipeline.core.models import DeliveryState, IssueState, Prepared, Rendered
from pipeline.core.outbox import Outbox
from pipeline.core.sendgrid import (
    MAX_RECIPIENTS,
    MAX_SCHEDULE,
    Answer,
    RequestInvalid,
    SendGridAPI,
    SendResult,
    mail_body,
)
from pipeline.core.store import Store
from pipeline.core.subscribers import is_email, read_subscribers
from pipeline.core.tokens import (
    DEFAULT_NAME,
    ONE_CLICK,
    TOKEN_NAME,
    TOKEN_UNSUBSCRIBE,
    Recipient,
    personalise,
    unsubscribe_mailto,
)

BATCH = MAX_RECIPIENTS
# Requests in flight at once: enough to overlap building one request with SendGrid's answer to the
# previous one; more buys little and widens what a kill can leave unknown.
CONCURRENCY = 2
TEST_PREFIX = "[TEST] "
# The ledger's states as reports list them, in this order.
REPORTED = (
    DeliveryState.ACCEPTED, DeliveryState.SKIPPED, DeliveryState.FAILED, DeliveryState.UNKNOWN,
    DeliveryState.PENDING,
)  # fmt: skip
Progress = Callable[[int, int], None]  # (sent in this run, to send in this run)
Clock = Callable[[], dt.datetime]  # the time now, aware (the demo and cron's --now pass their own)


class NotApproved(PipelineError):
    "The issue is not approved, or changed after approval; only an approved issue goes to the list."


class SendStopped(PipelineError):
    "SendGrid refused a request or could not be reached; the ledger says who got the issue."


# -- where messages go ----------------------------------------------------------------------------
class Transport(Protocol):
    destination: str

    @property
    def requests(self) -> int: ...

    def suppressions(self, group: int | None) -> Iterator[tuple[str, str]] | None: ...

    def send(
        self,
        rendered: Rendered,
        recipients: list[tuple[str, str | None]],
        settings: Settings,
        *,
        batch: int,
        test: bool,
        send_at: dt.datetime | None,
    ) -> SendResult: ...


class SendGridTransport:
    """Mail send through SendGrid; the list send carries the unsubscribe group, the test send does not."""

    def __init__(self, api: SendGridAPI) -> None:
        self.api = api
        self.destination = f"SendGrid ({api.host})"

    @property
    def requests(self) -> int:
        return self.api.requests

    def suppressions(self, group: int | None) -> Iterator[tuple[str, str]]:
        return self.api.suppressions(group)

    def send(
        self,
        rendered: Rendered,
        recipients: list[tuple[str, str | None]],
        settings: Settings,
        *,
        batch: int,
        test: bool,
        send_at: dt.datetime | None,
    ) -> SendResult:
        issue = rendered.issue_id
        categories = [*settings.categories, f"issue-{issue}"]
        if test:
            # Test readers are not on the list: no unsubscribe group, and working links instead of the
            # tokens SendGrid would fill for list members.
            def fill(text: str) -> str:
                return personalise(text, Recipient(""), settings, issue)

            body = mail_body(
                from_email=settings.from_email,
                from_name=settings.from_name,
                reply_to=settings.reply_to,
                subject=TEST_PREFIX + fill(rendered.subject),
                text=fill(rendered.text),
                html=fill(rendered.html),
                recipients=recipients,
                categories=[*categories, "test"],
                custom_args={"issue": issue, "test": "1"},
                headers={"List-Unsubscribe": f"<{unsubscribe_mailto(settings, issue)}>"},
            )
        else:
            body = mail_body(
                from_email=settings.from_email,
                from_name=settings.from_name,
                reply_to=settings.reply_to,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                recipients=recipients,
                substitutions=lambda name: {TOKEN_NAME: name or DEFAULT_NAME},
                categories=categories,
                custom_args={"issue": issue, "batch": str(batch)},
                headers={
                    # SendGrid fills the group's one-click URL (the asm tag); the mailto is a fallback.
                    "List-Unsubscribe": f"<{TOKEN_UNSUBSCRIBE}>, <{unsubscribe_mailto(settings, issue)}>",
                    "List-Unsubscribe-Post": ONE_CLICK,
                },
                group=settings.unsubscribe_group,
                send_at=int(send_at.timestamp()) if send_at else None,
            )
        return self.api.send(body)


class OutboxTransport:
    """The outbox: every message a file. No suppressions to read (there is no account)."""

    def __init__(self, outbox: Outbox, display: str) -> None:
        self.outbox = outbox
        self.destination = display

    @property
    def requests(self) -> int:
        return self.outbox.requests

    def suppressions(self, group: int | None) -> None:
        return None

    def send(
        self,
        rendered: Rendered,
        recipients: list[tuple[str, str | None]],
        settings: Settings,
        *,
        batch: int,
        test: bool,
        send_at: dt.datetime | None,
    ) -> SendResult:
        name = f"test-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}" if test else f"{batch:05d}"
        self.outbox.deliver(rendered, recipients, settings, name=name, test=test)
        return SendResult(Answer.ACCEPTED, message_id=f"outbox-{name}")


def open_transport(config: Config, env: Mapping[str, str] | None = None, **api_options: object) -> Transport:
    """SendGrid when ``SENDGRID_API_KEY`` is set, else the outbox under the instance root."""
    api = SendGridAPI.from_env(config.settings.sendgrid_region, env, **api_options)
    if api is not None:
        return SendGridTransport(api)
    return OutboxTransport(Outbox(config.root / "outbox"), "outbox/")


def _send_lock(config: Config, issue_id: str) -> Path:
    return config.settings.state.parent / "locks" / f"send-{issue_id}.lock"


@contextmanager
def send_lock(config: Config, issue_id: str) -> Iterator[None]:
    """The one-send-at-a-time lock for an issue (``newsletter run`` takes it too)."""
    with exclusive(_send_lock(config, issue_id), f"a send of issue {issue_id}"):
        yield


# -- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ListCheck:
    """The subscriber list as read now: counts only, never an address."""

    rows: int
    invalid: int
    duplicates: int
    problems: tuple[Problem, ...]
    suppressions_read: bool


@dataclass(frozen=True)
class Plan:
    """What a send would do now (``--dry-run``)."""

    issue_id: str
    destination: str
    list: ListCheck
    counts: Mapping[DeliveryState, int]  # the ledger as the send would start it
    skipped: Mapping[str, int]  # by reason
    requests: int
    send_at: dt.datetime | None  # None: at once
    resend_unknown: bool
    completed: bool  # the issue was sent to the whole list before

    @property
    def to_send(self) -> int:
        unknown = self.counts[DeliveryState.UNKNOWN] if self.resend_unknown else 0
        return self.counts[DeliveryState.PENDING] + unknown


@dataclass(frozen=True)
class Report:
    """How a list send ended."""

    issue_id: str
    destination: str
    counts: Mapping[DeliveryState, int]
    list: ListCheck | None
    requests: int  # HTTP requests (or outbox batches) in this run, retries included
    sent_now: int  # subscribers accepted in this run
    unknown_batches: tuple[int, ...]
    completed: bool
    stopped: str | None = None  # why the send stopped early: SendGrid's own message
    newly_unknown: int = 0  # found in flight from a killed run
    resent_unknown: int = 0
    finished_now: bool = False  # this run served the last subscriber (the editors get the report)


@dataclass(frozen=True)
class TestReport:
    issue_id: str
    destination: str
    recipients: int
    accepted: bool
    reason: str | None = None


# -- reading the list -----------------------------------------------------------------------------
def _load_audience(config: Config, store: Store, transport: Transport) -> ListCheck:
    reader = read_subscribers(config.settings.subscribers, config.root)
    subscribers = reader.pairs()
    suppressions = transport.suppressions(config.settings.unsubscribe_group)
    duplicates = store.load_audience(subscribers, suppressions or ())
    return ListCheck(
        reader.rows, len(reader.problems), duplicates, tuple(reader.problems), suppressions is not None
    )


def _schedule(send_at: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """The send_at to give SendGrid: None when due (or past); refuse what SendGrid would refuse."""
    if send_at is None or send_at <= now:
        return None
    if (send_at - now).total_seconds() > MAX_SCHEDULE:
        raise PipelineError(
            f"the issue is scheduled for {send_at:%Y-%m-%d %H:%M %Z}, more than 72 hours ahead;"
            " SendGrid cannot hold it that long",
            "send it within 72 hours of send_at, or let 'newsletter run' (cron) send it when it is due",
        )
    return send_at


def _check_settings(config: Config, transport: Transport) -> None:
    if isinstance(transport, SendGridTransport) and config.settings.unsubscribe_group is None:
        # Without a group SendGrid fills no unsubscribe link: the list would get mail it cannot leave.
        raise PipelineError(
            "sources.yaml has no SendGrid unsubscribe group, so messages would carry no working unsubscribe",
            "create an unsubscribe group in SendGrid and set newsletter.sendgrid.unsubscribe_group to its id",
        )


# -- the three things a user can do -------------------------------------------------------------------
def send_test(
    config: Config, rendered: Rendered, addresses: Sequence[str], transport: Transport
) -> TestReport:
    """A copy with a marked subject to ``addresses`` only (a draft too); records nothing."""
    unique: dict[str, None] = {}
    for address in addresses:
        if not is_email(address):
            raise PipelineError(
                f"--to: '{address}' is not an email address",
                "give a full address, e.g. --to redactie@example.nl",
            )
        unique.setdefault(address.strip().lower())
    if len(unique) > BATCH:
        raise PipelineError(f"--to names {len(unique)} addresses; a test goes to at most {BATCH}")
    result = transport.send(
        rendered, [(a, None) for a in unique], config.settings, batch=0, test=True, send_at=None
    )
    return TestReport(
        rendered.issue_id, transport.destination, len(unique), result.answer == Answer.ACCEPTED, result.reason
    )


def plan(
    config: Config,
    store: Store,
    issue_id: str,
    transport: Transport,
    *,
    send_at: dt.datetime | None = None,
    resend_unknown: bool = False,
    now: dt.datetime | None = None,
) -> Plan:
    """What ``send_to_list`` would do now, computed on the real ledger and rolled back: sends nothing."""
    now = now or dt.datetime.now(dt.UTC)
    schedule = _schedule(send_at, now)
    sent = store.sent_issue(issue_id)
    completed = bool(sent and sent.completed)
    check = _load_audience(config, store, transport)
    counts, skipped = store.preview_ledger(issue_id, now, add_new=not completed)
    to_send = counts[DeliveryState.PENDING] + (counts[DeliveryState.UNKNOWN] if resend_unknown else 0)
    return Plan(
        issue_id, transport.destination, check, counts, skipped, math.ceil(to_send / BATCH), schedule,
        resend_unknown, completed,
    )  # fmt: skip


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def send_list(
    config: Config,
    store: Store,
    issue: Issue,
    transport: Transport,
    *,
    prepared: Prepared | None,
    send_at: dt.datetime | None = None,
    resend_unknown: bool = False,
    progress: Progress | None = None,
    clock: Clock = utc_now,
    batch_size: int = BATCH,
    concurrency: int = CONCURRENCY,
) -> Report:
    """Send the approved ``issue`` to every subscriber not yet served; safe to rerun after any stop.

    Call it holding ``send_lock``. ``prepared`` (``pipeline.render.prepare``) is needed only when
    the send starts: a resumed send sends the content kept when it started, and renders nothing.
    Refuses a draft or a changed issue (``NotApproved``).
    """
    issue_id = issue.id
    sent = store.sent_issue(issue_id)
    state = approval_state(store, issue, prepared.fingerprint if prepared else None)
    if state in (IssueState.DRAFT, IssueState.CHANGED):
        why = "is not approved" if state == IssueState.DRAFT else "changed after it was approved"
        raise NotApproved(
            f"issue {issue_id} {why}; only an approved, unchanged issue goes to the list",
            f"check it, then run 'newsletter approve {issue_id} --by NAME' (test it with --to ADDR)",
        )
    if state == IssueState.SENT and sent is None:
        raise NotApproved(
            f"issue {issue_id} says 'status: sent', but the state database has no record of it",
            "check that sources.yaml points at the right state database; it is never sent twice",
        )
    if sent is None and prepared is None:
        raise ValueError("a send that starts needs the prepared issue (pipeline.render.prepare)")
    _check_settings(config, transport)
    now = clock()
    schedule = _schedule(send_at, now)
    # Under the lock, anything still in flight belongs to a process that died mid-request.
    newly_unknown = store.in_flight_to_unknown(issue_id, now)
    completed = bool(sent and sent.completed)

    def finished_file() -> None:
        # status: sent in the issue file; also on a later run, as a kill may come between the writes.
        if issue.status != "sent":
            mark_sent(config, issue_id)

    if completed and not resend_unknown:
        # Sent to the whole list before: nothing to read, nothing to send (a new subscriber does not
        # get an old issue). The file's status may still need its write, if a kill came between.
        finished_file()
        counts = store.delivery_counts(issue_id)
        unknown = tuple(b.batch for b in store.delivery_batches(issue_id, DeliveryState.UNKNOWN))
        return Report(issue_id, transport.destination, counts, None, 0, 0, unknown, True, None, newly_unknown)
    requests_before = transport.requests
    check = _load_audience(config, store, transport)
    with store.transaction():
        if prepared is not None and sent is None:
            store.record_sent_issue(prepared.rendered, prepared.fingerprint, prepared.placements, now)
        store.sync_ledger(issue_id, now, add_new=not completed)
        resent = store.unknown_to_pending(issue_id, now) if resend_unknown else 0
    kept = store.sent_issue(issue_id)
    assert kept is not None
    content = kept.rendered

    total = store.delivery_counts(issue_id)[DeliveryState.PENDING]
    done = 0
    stopped: str | None = None
    if progress:
        progress(0, total)

    def record(batch: int, size: int, future: Future[SendResult]) -> None:
        """Commit one request's outcome: the ledger's 'after'."""
        nonlocal done, stopped
        at = clock()
        try:
            result = future.result()
        except RequestInvalid as e:  # refused by our own checks: nothing left this machine
            store.finish_batch(issue_id, batch, DeliveryState.PENDING, at)
            stopped = stopped or e.message
            return
        except Exception as e:  # a fault of ours mid-request: whether SendGrid has it cannot be known
            reason = f"the request failed inside the pipeline ({type(e).__name__}: {e})"
            store.finish_batch(issue_id, batch, DeliveryState.UNKNOWN, at, reason=reason)
            stopped = stopped or reason
            return
        if result.answer == Answer.ACCEPTED:
            store.finish_batch(issue_id, batch, DeliveryState.ACCEPTED, at, message_id=result.message_id)
            done += size
        elif result.answer == Answer.UNKNOWN:
            store.finish_batch(issue_id, batch, DeliveryState.UNKNOWN, at, reason=result.reason)
        elif result.answer == Answer.REFUSED:
            store.finish_batch(issue_id, batch, DeliveryState.FAILED, at, reason=result.reason)
            stopped = stopped or result.reason
        else:  # not sent: SendGrid took nothing; those subscribers are simply still pending
            store.finish_batch(issue_id, batch, DeliveryState.PENDING, at)
            stopped = stopped or result.reason
        if progress:
            progress(done, total)

    # Requests run in worker threads, a few at a time; every ledger write stays in this thread.
    running: dict[Future[SendResult], tuple[int, int]] = {}
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="send") as pool:
        try:
            more = True
            while True:
                while more and stopped is None and len(running) < concurrency:
                    batch, recipients = store.claim_batch(issue_id, batch_size, clock())
                    if not recipients:
                        more = False
                        break
                    # A resumed send past its send_at goes at once; SendGrid refuses a send_at in the past.
                    when = _schedule(schedule, clock())
                    future = pool.submit(
                        transport.send,
                        content,
                        recipients,
                        config.settings,
                        batch=batch,
                        test=False,
                        send_at=when,
                    )
                    running[future] = (batch, len(recipients))
                if not running:
                    break
                ready, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in ready:
                    record(*running.pop(future), future)
        except KeyboardInterrupt:
            # Ctrl-C: let the requests under way finish and record them, so that they are not "unknown".
            for future in list(running):
                record(*running.pop(future), future)
            raise

    counts = store.delivery_counts(issue_id)
    finished = (
        counts[DeliveryState.PENDING] == counts[DeliveryState.IN_FLIGHT] == counts[DeliveryState.FAILED] == 0
    )
    if finished:
        if not completed:
            with store.transaction():
                store.complete_sent_issue(issue_id, clock())
        finished_file()
    unknown = tuple(b.batch for b in store.delivery_batches(issue_id, DeliveryState.UNKNOWN))
    return Report(
        issue_id, transport.destination, counts, check, transport.requests - requests_before, done, unknown,
        finished, stopped, newly_unknown, resent, finished_now=finished and not completed,
    )  # fmt: skip


# -- telling the editors ----------------------------------------------------------------------------
def report_text(report: Report) -> str:
    """The delivery report as plain text: counts and batch numbers, never an address."""
    c = report.counts
    lines = [f"Issue {report.issue_id} via {report.destination}", ""]
    lines += [f"{state}:".ljust(10) + str(c[state]) for state in REPORTED]
    if report.unknown_batches:
        lines += [
            "",
            f"Unknown batches: {', '.join(map(str, report.unknown_batches))}. The answer to these requests"
            " was lost; check SendGrid's activity (custom argument 'batch') before resending with"
            f" 'newsletter send {report.issue_id} --resend-unknown'.",
        ]
    if report.stopped:
        lines += ["", f"The send stopped: {report.stopped}"]
    return "\n".join(lines) + "\n"


def notify_editors(config: Config, report: Report, env: Mapping[str, str] | None = None) -> None:
    """Mail the delivery report to the editors (``newsletter.editors``), through SendGrid or the outbox."""
    editors = [e.lower() for e in config.settings.editors]
    if not editors:
        return
    env = os.environ if env is None else env
    s = config.settings
    subject = f"Verzendrapport {report.issue_id}: {report.counts[DeliveryState.ACCEPTED]} verstuurd"
    text = report_text(report)
    api = SendGridAPI.from_env(s.sendgrid_region, env)
    page = f"<pre>{html_lib.escape(text)}</pre>"
    if api is None:
        note = Rendered(report.issue_id, subject, "", page, text, "")
        Outbox(config.root / "outbox").deliver(
            note,
            [(e, None) for e in editors],
            s,
            name=f"report-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}",
            subfolder="report",
        )
        return
    body = mail_body(
        from_email=s.from_email, from_name=s.from_name, reply_to=None, subject=subject, text=text,
        html=page, recipients=[(e, None) for e in editors],
        categories=["delivery-report"], custom_args={"issue": report.issue_id},
    )  # fmt: skip
    result = api.send(body)
    if result.answer != Answer.ACCEPTED:
        raise SendStopped(f"the delivery report was not accepted: {result.reason}", "see the counts above")
