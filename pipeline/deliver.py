"""Deliver: send an issue to every subscriber exactly once, recall it, or send a test copy.

A list send is never sent "at once". Every send attempt is one SendGrid batch (``batch_id``) whose
mail SendGrid holds until a ``send_at`` at least the hold time ahead (``newsletter.delivery``,
30 minutes by default) or the issue's own send_at when that is later. Until 10 minutes before that
moment, cancelling the batch discards all of its mail; that is what repairs a kill and what
``newsletter cancel`` (recall) does. The order of a list send, and why:

1. Take the issue's send lock (``pipeline.infra.locking``): two senders could each claim the same
   subscribers. A killed sender leaves no lock behind.
2. Settle what an earlier run left in doubt: a request whose answer was lost (the process was
   killed, or the request timed out) may or may not have reached SendGrid. While its attempt can
   still be cancelled, the attempt is cancelled and confirmed, and everyone in it (the accepted
   ones too, their mail is discarded with the batch) is pending again for a new attempt. Only when
   the cancel window has passed do they stay "unknown", reported and never resent silently.
3. Read the subscriber list and SendGrid's suppressions and bring the ledger in line: new
   subscribers pending, suppressed ones skipped with the reason. On the first run this happens in
   the same transaction that keeps the exact content sent (``record_sent_issue``).
4. An attempt is recorded (batch id, send_at) before its first request. Per request of at most
   1000: commit "in flight", make the request, commit the outcome; nothing is "accepted" unless
   SendGrid answered 202. A lost answer leaves the request in doubt and the send goes on.
5. When nobody is pending and the attempt holds a request in doubt, the process waits until that
   request can no longer be on its way to SendGrid, then cancels the attempt (one cancel, however
   many requests were in doubt) and sends its subscribers again in a new attempt.
6. When nobody is pending, in doubt or failed, the issue is handed over ("scheduled"); it goes out
   at send_at, and cancels whose send_at has passed are removed at SendGrid, never earlier (a cancel
   deleted early sends the batch after all).

SendGrid does not document whether a cancel also catches a request that reaches it after the
cancel. Step 5 never relies on it: it cancels only after every request of the batch has arrived
or can no longer arrive.

Without ``SENDGRID_API_KEY`` the same steps write ``.eml`` files to ``outbox/ISSUE/``, and a
cancelled attempt's files are moved aside to ``outbox/ISSUE/cancelled/BATCH/``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.domain import i18n
from pipeline.domain.config import Config, Settings
from pipeline.domain.errors import PipelineError, Problem
from pipeline.domain.i18n import N_, _
from pipeline.domain.issues import Issue, Prepared
from pipeline.domain.models import AttemptState, DeliveryState, IssueState, Rendered, RequestState
from pipeline.domain.tokens import (
    DEFAULT_NAME,
    TOKEN_NAME,
    Recipient,
    list_headers,
    personalise,
    unsubscribe_mailto,
)
from pipeline.infra.approval import approval_state, mark_sent
from pipeline.infra.locking import job_lock
from pipeline.infra.outbox import Outbox
from pipeline.infra.sendgrid import (
    MAX_RECIPIENTS,
    MAX_SCHEDULE,
    Answer,
    CancelLimit,
    RequestInvalid,
    RetryPolicy,
    SendGridAPI,
    SendResult,
    mail_body,
)
from pipeline.infra.store import Attempt, Store
from pipeline.infra.subscribers import is_email, read_subscribers
from pipeline.infra.templating import environment, render_template

BATCH = MAX_RECIPIENTS
# Requests in flight at once: enough to overlap building one request with SendGrid's answer to the
# previous one; more buys little and widens what a kill can leave in doubt.
CONCURRENCY = 2
TEST_PREFIX = "[TEST] "
CANCEL_LIMIT = dt.timedelta(minutes=10)  # SendGrid cancels a batch no later than this before its send_at
CANCEL_SAFETY = dt.timedelta(seconds=30)  # a cancel starts at least this long before that limit
SENDGRID_CANCELS = 10  # cancelled or paused batches SendGrid keeps at a time, per account
MAX_REPAIRS = 3  # attempts one run cancels before it stops (each cancel counts against SendGrid's 10)
# An open attempt takes more requests while at least this much of its hold is left; later, the rest
# of the list goes in a new attempt, so that a kill can still be repaired before its deadline.
REUSE_GRACE = dt.timedelta(minutes=5)
# The ledger's states as reports list them, in this order.
REPORTED = (
    DeliveryState.ACCEPTED, DeliveryState.SKIPPED, DeliveryState.FAILED, DeliveryState.UNKNOWN,
    DeliveryState.PENDING,
)  # fmt: skip
Progress = Callable[[int, int], None]  # (sent in this run, to send in this run)
Clock = Callable[[], dt.datetime]  # the time now, aware (the demo and cron's --now pass their own)
Notice = Callable[[str], None]  # a line for the person (or log) watching the send


class NotApproved(PipelineError):
    "The issue is not approved, or changed after approval; only an approved issue goes to the list."


class SendStopped(PipelineError):
    "SendGrid refused a request or could not be reached; the ledger says who got the issue."


class NotRecallable(PipelineError):
    "The issue cannot be recalled: it was not handed over, went out, or is past SendGrid's deadline."


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def deadline(send_at: dt.datetime) -> dt.datetime:
    """The last moment SendGrid still cancels mail that goes out at ``send_at``."""
    return send_at - CANCEL_LIMIT


# -- where messages go ----------------------------------------------------------------------------
class Transport(Protocol):
    destination: str

    @property
    def requests(self) -> int: ...

    @property
    def in_flight_at_most(self) -> float:
        """Seconds after a request started when it can no longer be on its way."""
        ...

    def suppressions(self, group: int | None) -> Iterator[tuple[str, str]] | None: ...

    def send(
        self,
        rendered: Rendered,
        recipients: list[tuple[str, str | None]],
        settings: Settings,
        *,
        request: int,
        test: bool,
        send_at: dt.datetime | None,
        batch_id: str | None,
    ) -> SendResult: ...

    def create_batch(self, issue_id: str) -> str: ...

    def cancel_batch(self, issue_id: str, batch_id: str) -> None: ...

    def cancel_status(self, issue_id: str, batch_id: str) -> str | None: ...

    def cancelled_batches(self) -> list[str]: ...

    def forget_cancel(self, issue_id: str, batch_id: str) -> None: ...


def _list_body(
    rendered: Rendered,
    recipients: list[tuple[str, str | None]],
    settings: Settings,
    *,
    request: int,
    send_at: dt.datetime | None,
    batch_id: str | None,
) -> dict[str, object]:
    """A list request: SendGrid fills each recipient's name and the group's unsubscribe links."""
    issue = rendered.issue_id
    custom = {"issue": issue, "request": str(request)}
    if batch_id:
        custom["batch"] = batch_id  # the event webhook ties events back to the ledger by these
    return mail_body(
        from_email=settings.from_email,
        from_name=settings.from_name,
        reply_to=settings.reply_to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        recipients=recipients,
        substitutions=lambda name: {TOKEN_NAME: name or DEFAULT_NAME},
        categories=[*settings.categories, f"issue-{issue}"],
        custom_args=custom,
        headers=list_headers(settings, issue),  # the one-click unsubscribe Gmail and Yahoo ask for
        group=settings.unsubscribe_group,
        send_at=int(send_at.timestamp()) if send_at else None,
        batch_id=batch_id,
    )


def _test_body(
    rendered: Rendered, recipients: list[tuple[str, str | None]], settings: Settings
) -> dict[str, object]:
    """A test copy: test readers are not on the list, so no unsubscribe group, and working links
    instead of the tokens SendGrid would fill for list members; sent at once."""
    issue = rendered.issue_id

    def fill(text: str) -> str:
        return personalise(text, Recipient(""), settings, issue)

    return mail_body(
        from_email=settings.from_email,
        from_name=settings.from_name,
        reply_to=settings.reply_to,
        subject=TEST_PREFIX + fill(rendered.subject),
        text=fill(rendered.text),
        html=fill(rendered.html),
        recipients=recipients,
        categories=[*settings.categories, f"issue-{issue}", "test"],
        custom_args={"issue": issue, "test": "1"},
        headers=list_headers(settings, issue, test=True),
    )


class SendGridTransport:
    """Mail send through SendGrid, batches and their cancels."""

    def __init__(self, api: SendGridAPI) -> None:
        self.api = api
        self.destination = f"SendGrid ({api.host})"

    @property
    def requests(self) -> int:
        return self.api.requests

    @property
    def in_flight_at_most(self) -> float:
        return self.api.policy.in_flight_at_most

    def suppressions(self, group: int | None) -> Iterator[tuple[str, str]]:
        return self.api.suppressions(group)

    def send(
        self,
        rendered: Rendered,
        recipients: list[tuple[str, str | None]],
        settings: Settings,
        *,
        request: int,
        test: bool,
        send_at: dt.datetime | None,
        batch_id: str | None,
    ) -> SendResult:
        if test:
            return self.api.send(_test_body(rendered, recipients, settings))
        body = _list_body(rendered, recipients, settings, request=request, send_at=send_at, batch_id=batch_id)
        return self.api.send(body)

    def create_batch(self, issue_id: str) -> str:
        return self.api.create_batch()

    def cancel_batch(self, issue_id: str, batch_id: str) -> None:
        self.api.cancel_batch(batch_id)

    def cancel_status(self, issue_id: str, batch_id: str) -> str | None:
        return self.api.cancel_status(batch_id)

    def cancelled_batches(self) -> list[str]:
        return self.api.cancelled_batches()

    def forget_cancel(self, issue_id: str, batch_id: str) -> None:
        self.api.forget_cancel(batch_id)


class OutboxTransport:
    """The outbox: every message a file, named after its batch. There are no suppressions to read
    (there is no account); a cancelled batch's files are moved aside, as SendGrid discards its mail."""

    def __init__(self, outbox: Outbox, display: str) -> None:
        self.outbox = outbox
        self.destination = display

    @property
    def requests(self) -> int:
        return self.outbox.requests

    in_flight_at_most = 0.0  # a file is written, or it is not

    def suppressions(self, group: int | None) -> None:
        return None

    def send(
        self,
        rendered: Rendered,
        recipients: list[tuple[str, str | None]],
        settings: Settings,
        *,
        request: int,
        test: bool,
        send_at: dt.datetime | None,
        batch_id: str | None,
    ) -> SendResult:
        # The very request a SendGrid send makes, written as the messages it gives its recipients.
        if test:
            name = f"test-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
            body = _test_body(rendered, recipients, settings)
        else:
            name = f"{batch_id}-{request:05d}"
            body = _list_body(
                rendered, recipients, settings, request=request, send_at=send_at, batch_id=batch_id
            )
        folder = self.outbox.folder(rendered.issue_id, test)
        self.outbox.deliver(body, folder, name, unsubscribe=unsubscribe_mailto(settings, rendered.issue_id))
        return SendResult(Answer.ACCEPTED, message_id=f"outbox-{name}")

    def _cancelled(self, issue_id: str, batch_id: str) -> Path:
        return self.outbox.folder(issue_id) / "cancelled" / batch_id

    def create_batch(self, issue_id: str) -> str:
        return f"ob{uuid.uuid4().hex[:10]}"

    def cancel_batch(self, issue_id: str, batch_id: str) -> None:
        aside = self._cancelled(issue_id, batch_id)
        aside.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.outbox.folder(issue_id).glob(f"{batch_id}-*.eml")):
            os.replace(path, aside / path.name)

    def cancel_status(self, issue_id: str, batch_id: str) -> str | None:
        return "cancel" if self._cancelled(issue_id, batch_id).is_dir() else None

    def cancelled_batches(self) -> list[str]:
        return []  # no account, no limit

    def forget_cancel(self, issue_id: str, batch_id: str) -> None:
        pass  # the files stay aside, as the record of what was not sent


def open_transport(config: Config, env: Mapping[str, str] | None = None, **api_options: object) -> Transport:
    """SendGrid when ``SENDGRID_API_KEY`` is set, else the outbox under the instance root."""
    s = config.settings
    api_options.setdefault("policy", RetryPolicy(timeout=s.sendgrid_timeout, settle=s.sendgrid_settle))
    api = SendGridAPI.from_env(s.sendgrid_region, env, **api_options)
    if api is not None:
        return SendGridTransport(api)
    return OutboxTransport(Outbox(config.root / "outbox"), "outbox/")


@contextmanager
def send_lock(config: Config, issue_id: str) -> Iterator[None]:
    """The one-send-at-a-time lock for an issue (``newsletter run`` and ``cancel`` take it too)."""
    with job_lock(config.settings, "send", issue_id):
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
    send_at: dt.datetime | None  # when SendGrid would send it; None when the send would be refused
    batch_id: str | None  # the open attempt's batch that would take it; None: a new batch
    resend_unknown: bool
    completed: bool  # the issue was sent to the whole list before
    in_doubt: int  # subscribers in requests whose answer was lost, to be settled first
    # Why the real send would refuse the issue (not approved, changed, recalled ...), with the fix;
    # None when it would send. Checked first: the rest of the plan holds only if it would send.
    refused: PipelineError | None = None

    @property
    def to_send(self) -> int:
        unknown = self.counts[DeliveryState.UNKNOWN] if self.resend_unknown else 0
        return self.counts[DeliveryState.PENDING] + unknown

    @property
    def deadline(self) -> dt.datetime | None:
        return deadline(self.send_at) if self.send_at else None


@dataclass(frozen=True)
class Report:
    """How a list send ended."""

    issue_id: str
    destination: str
    counts: Mapping[DeliveryState, int]
    list: ListCheck | None
    requests: int  # HTTP requests (or outbox batches) in this run, retries included
    sent_now: int  # subscribers accepted in this run
    unknown_batches: tuple[int, ...]  # requests in doubt for good: their attempt can no longer be cancelled
    completed: bool
    stopped: str | None = None  # why the send stopped early: SendGrid's own message
    newly_unknown: int = 0  # in doubt, found too late to cancel
    resent_unknown: int = 0
    finished_now: bool = False  # this run served the last subscriber (the editors get the report)
    send_at: dt.datetime | None = None  # when SendGrid sends the last attempt's mail
    repaired: int = 0  # attempts cancelled in this run to settle a request in doubt
    batch_id: str | None = None  # the last attempt's batch

    @property
    def deadline(self) -> dt.datetime | None:
        return deadline(self.send_at) if self.send_at else None


@dataclass(frozen=True)
class TestReport:
    issue_id: str
    destination: str
    recipients: int
    accepted: bool
    reason: str | None = None


@dataclass(frozen=True)
class RecallReport:
    issue_id: str
    destination: str
    recipients: int  # subscribers SendGrid held it for
    send_at: dt.datetime  # when it would have gone out
    batches: int


# -- reading the list -----------------------------------------------------------------------------
def _load_audience(config: Config, store: Store, transport: Transport) -> ListCheck:
    """Everyone who should get the issue, and everyone who must not (SendGrid's suppressions).

    The list is the state database's active subscribers once it has any (sign-ups, imports);
    before that the CSV named by ``newsletter.subscribers``, as it always was.
    """
    suppressions = transport.suppressions(config.settings.unsubscribe_group)
    if store.has_subscribers():
        active = store.load_active_audience(suppressions or ())
        return ListCheck(active, 0, 0, (), suppressions is not None)
    reader = read_subscribers(config.settings.subscribers, config.root)
    duplicates = store.load_audience(reader.pairs(), suppressions or ())
    return ListCheck(
        reader.rows, len(reader.problems), duplicates, tuple(reader.problems), suppressions is not None
    )


def schedule(config: Config, issue_send_at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When a new attempt's mail goes out: the hold time from now, or the issue's send_at when that is
    later (to the minute); refused when SendGrid could not hold it that long."""
    held = now + config.settings.hold
    held = (held + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)  # a whole minute, after the hold
    when = max(held, issue_send_at) if issue_send_at is not None else held
    if (when - now).total_seconds() > MAX_SCHEDULE:
        raise PipelineError(
            _(
                "the issue is scheduled for {when}, more than 72 hours ahead; "
                "SendGrid cannot hold it that long"
            ).format(when=f"{when:%Y-%m-%d %H:%M %Z}"),
            _(
                "send it within 72 hours of send_at, or let 'newsletter run' "
                "(cron) hand it over when it is due"
            ),
        )
    return when


# -- batches: cancelling, and removing old cancels -----------------------------------------------------
def _cancel(store: Store, transport: Transport, attempt: Attempt, reason: str, clock: Clock) -> None:
    """Cancel one attempt at SendGrid and confirm it; then everyone it held is pending again.

    The intent is committed first, so a kill at any point is finished by the next run. Raises
    ``CancelLimit`` (SendGrid holds 10 cancels) or ``SendStopped`` when SendGrid does not confirm.
    """
    if attempt.state != AttemptState.CANCELLING:
        if len(transport.cancelled_batches()) >= SENDGRID_CANCELS:
            raise CancelLimit(
                _(
                    "SendGrid holds {n} cancelled or paused batches already, its limit, so batch {batch} of "
                    "issue {issue} cannot be cancelled; nothing more is sent"
                ).format(n=SENDGRID_CANCELS, batch=attempt.batch_id, issue=attempt.issue),
                _(
                    "remove old cancels or pauses in SendGrid, or wait until their send times pass (the next"
                    " run removes this pipeline's own), then run the send again"
                ),
            )
        store.mark_cancelling(attempt.issue, attempt.attempt, reason, clock())
    transport.cancel_batch(attempt.issue, attempt.batch_id)
    status = transport.cancel_status(attempt.issue, attempt.batch_id)
    if status != "cancel":
        if status == "pause":
            why = _(
                "SendGrid paused batch {batch} of issue {issue}, but did not cancel it; nothing more is sent"
            )
        else:
            why = _(
                "SendGrid does not show batch {batch} of issue {issue} as cancelled; nothing more is sent"
            )
        raise SendStopped(
            why.format(batch=attempt.batch_id, issue=attempt.issue),
            _(
                "run the send again to retry the cancel; its mail goes out at {when} unless it is cancelled"
            ).format(when=f"{attempt.send_at:%Y-%m-%d %H:%M %Z}"),
        )
    store.cancelled(attempt.issue, attempt.attempt, clock())


def clear_old_cancels(store: Store, transport: Transport, now: dt.datetime) -> int:
    """Remove at SendGrid the cancels of attempts whose send_at has passed: they count against its
    limit of 10. Never earlier: a cancel removed before send_at sends the batch after all."""
    cleared = 0
    for a in store.attempts():
        if a.state == AttemptState.CANCELLED and a.send_at + dt.timedelta(minutes=1) < now:
            transport.forget_cancel(a.issue, a.batch_id)
            store.cleared(a.issue, a.attempt)
            cleared += 1
    return cleared


def _in_doubt(store: Store, attempt: Attempt) -> list[int]:
    """Requests of ``attempt`` whose answer is not known (started_at, as Unix times)."""
    found = store.delivery_batches(attempt.issue, RequestState.IN_FLIGHT, attempt=attempt.attempt)
    return [int(r.started_at.timestamp()) for r in found]


def _settle(
    store: Store,
    transport: Transport,
    attempt: Attempt,
    clock: Clock,
    sleep: Callable[[float], None],
    notice: Notice,
) -> tuple[bool, int]:
    """Settle an attempt that holds requests in doubt (or a cancel not yet confirmed).

    Returns (cancelled, subscribers now unknown for good). While the attempt can still be cancelled,
    wait until its requests can no longer be on their way, then cancel it; after its deadline, its
    requests in doubt are unknown.
    """
    started = _in_doubt(store, attempt)
    if not started and attempt.state != AttemptState.CANCELLING:
        return False, 0
    settled_at = max(started, default=0) + transport.in_flight_at_most
    wait_for = settled_at - clock().timestamp()
    latest = deadline(attempt.send_at) - CANCEL_SAFETY
    if clock() + dt.timedelta(seconds=max(wait_for, 0)) >= latest:
        reason = _(
            "the answer was lost and batch {batch} could no longer be cancelled (SendGrid sends it at {when})"
        ).format(batch=attempt.batch_id, when=f"{attempt.send_at:%Y-%m-%d %H:%M %Z}")
        return False, store.close_attempt(attempt.issue, attempt.attempt, reason, clock())
    if wait_for > 0:
        notice(
            _(
                "waiting {seconds} s until a request whose answer was lost can no longer reach SendGrid, "
                "then cancelling batch {batch} and sending its subscribers again"
            ).format(seconds=math.ceil(wait_for), batch=attempt.batch_id)
        )
        sleep(wait_for)
    _cancel(store, transport, attempt, _("a request's answer was lost"), clock)
    return True, 0


# -- the things a user can do -------------------------------------------------------------------------
def send_test(
    config: Config, rendered: Rendered, addresses: Sequence[str], transport: Transport
) -> TestReport:
    """A copy with a marked subject to ``addresses`` only (a draft too), sent at once; records nothing."""
    unique: dict[str, None] = {}
    for address in addresses:
        if not is_email(address):
            raise PipelineError(
                _("--to: '{address}' is not an email address").format(address=address),
                _("give a full address, e.g. --to redactie@example.nl"),
            )
        unique.setdefault(address.strip().lower())
    if len(unique) > BATCH:
        raise PipelineError(
            _("--to names {n} addresses; a test goes to at most {most}").format(n=len(unique), most=BATCH)
        )
    result = transport.send(
        rendered,
        [(a, None) for a in unique],
        config.settings,
        request=0,
        test=True,
        send_at=None,
        batch_id=None,
    )
    return TestReport(
        rendered.issue_id, transport.destination, len(unique), result.answer == Answer.ACCEPTED, result.reason
    )


def _usable(config: Config, attempt: Attempt | None, now: dt.datetime) -> Attempt | None:
    """The open attempt a send may add requests to, or None when a new one is needed."""
    if attempt is None or attempt.state != AttemptState.OPEN:
        return None
    left = attempt.send_at - now
    return attempt if left >= config.settings.hold - REUSE_GRACE else None


def plan(
    config: Config,
    store: Store,
    issue: Issue,
    transport: Transport,
    *,
    send_at: dt.datetime | None = None,
    resend_unknown: bool = False,
    now: dt.datetime | None = None,
) -> Plan:
    """What ``send_list`` would do now, computed on the real ledger and rolled back: sends nothing.

    ``refused`` says first whether it would send at all (``refusal``); the counts after it are what
    a send would do once that is fixed, and a refused send has no time it goes out.
    """
    issue_id = issue.id
    now = now or utc_now()
    refused = refusal(config, store, issue, transport)
    sent = store.sent_issue(issue_id)
    completed = bool(sent and sent.completed)
    current = store.current_attempt(issue_id)
    reuse = _usable(config, current, now) if current is not None and not _in_doubt(store, current) else None
    when: dt.datetime | None = None  # no time at which a refused send goes out
    if refused is None:
        when = reuse.send_at if reuse is not None else schedule(config, send_at, now)
    check = _load_audience(config, store, transport)
    counts, skipped = store.preview_ledger(issue_id, now, add_new=not completed)
    to_send = counts[DeliveryState.PENDING] + (counts[DeliveryState.UNKNOWN] if resend_unknown else 0)
    return Plan(
        issue_id, transport.destination, check, counts, skipped, math.ceil(to_send / BATCH), when,
        reuse.batch_id if reuse else None, resend_unknown, completed, counts[DeliveryState.IN_FLIGHT],
        refused,
    )  # fmt: skip


def refusal(
    config: Config, store: Store, issue: Issue, transport: Transport, fingerprint: str | None = None
) -> PipelineError | None:
    """Why a list send of ``issue`` would be refused now, with the fix; None when it may go.

    Only an approved issue that has not changed since (``fingerprint``: the caller's, when it has
    one) goes to the list; a send that has started goes on whatever the file says now. The one
    check for ``send_list`` and its dry run (``plan``), so that the two never disagree.
    """
    issue_id = issue.id
    sent = store.sent_issue(issue_id)
    state = approval_state(config, store, issue, fingerprint)
    if state in (IssueState.DRAFT, IssueState.CHANGED, IssueState.RECALLED):
        why = {
            IssueState.DRAFT: _(
                "issue {issue} is not approved; only an approved, unchanged issue goes to the list"
            ),
            IssueState.CHANGED: _(
                "issue {issue} changed after it was approved; only an "
                "approved, unchanged issue goes to the list"
            ),
            IssueState.RECALLED: _(
                "issue {issue} was recalled, and is not approved again; only "
                "an approved, unchanged issue goes "
                "to the list"
            ),
        }[state]
        return NotApproved(
            why.format(issue=issue_id),
            _("check it, then run 'newsletter approve {issue} --by NAME' (test it with --to ADDR)").format(
                issue=issue_id
            ),
        )
    if state == IssueState.SENT and sent is None:
        return NotApproved(
            _("issue {issue} says 'status: sent', but the state database has no record of it").format(
                issue=issue_id
            ),
            _("check that sources.yaml points at the right state database; it is never sent twice"),
        )
    if isinstance(transport, SendGridTransport) and config.settings.unsubscribe_group is None:
        # Without a group SendGrid fills no unsubscribe link: the list would get mail it cannot leave.
        return PipelineError(
            _(
                "sources.yaml has no SendGrid unsubscribe group, so messages "
                "would carry no working unsubscribe"
            ),
            _(
                "create an unsubscribe group in SendGrid and set "
                "newsletter.sendgrid.unsubscribe_group to its id"
            ),
        )
    return None


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
    sleep: Callable[[float], None] = time.sleep,
    notice: Notice | None = None,
    batch_size: int = BATCH,
    concurrency: int = CONCURRENCY,
) -> Report:
    """Hand the approved ``issue`` to SendGrid for every subscriber not yet served, held until
    ``send_at`` (or the hold time from now, when that is later); safe to rerun after any stop.

    Call it holding ``send_lock``. ``prepared`` (``pipeline.render.prepare``) is needed only when
    the send starts: a resumed send sends the content kept when it started, and renders nothing.
    Refuses a draft, a changed or a recalled issue (``NotApproved``).
    """
    issue_id = issue.id
    tell = notice or (lambda line: None)
    sent = store.sent_issue(issue_id)
    refused = refusal(config, store, issue, transport, prepared.fingerprint if prepared else None)
    if refused is not None:
        raise refused
    if sent is None and prepared is None:
        raise ValueError("a send that starts needs the prepared issue (pipeline.render.prepare)")
    now = clock()
    schedule(config, send_at, now)  # refuses, before anything happens, what SendGrid could not hold
    requests_before = transport.requests
    clear_old_cancels(store, transport, now)

    newly_unknown, repaired, done, resent = 0, 0, 0, 0
    stopped: str | None = None
    check: ListCheck | None = None
    # A cancel that a kill interrupted is finished before anything else: its batch must not go out.
    current = store.current_attempt(issue_id)
    if current is not None and current.state == AttemptState.CANCELLING:
        try:
            cancelled, newly_unknown = _settle(store, transport, current, clock, sleep, tell)
        except (CancelLimit, SendStopped) as e:
            return _report(store, issue_id, transport, requests_before, None, 0, stopped=e.message)
        repaired += cancelled
    sent = store.sent_issue(issue_id)
    completed = bool(sent and sent.completed)

    def finished_file() -> None:
        # status: sent in the issue file; also on a later run, as a kill may come between the writes.
        if issue.status != "sent":
            mark_sent(config, issue_id)

    if completed and not resend_unknown:
        # Handed over to the whole list before: nothing to read, nothing to send (a new subscriber
        # does not get an old issue). The file's status may still need its write.
        finished_file()
        return _report(store, issue_id, transport, requests_before, None, 0, newly_unknown=newly_unknown)
    check = _load_audience(config, store, transport)
    with store.transaction():
        if prepared is not None and sent is None:
            store.record_sent_issue(prepared.rendered, prepared.fingerprint, prepared.placements, now)
        store.sync_ledger(issue_id, now, add_new=not completed)
        resent = store.unknown_to_pending(issue_id, now) if resend_unknown else 0
    kept = store.sent_issue(issue_id)
    assert kept is not None
    content = kept.rendered

    # Send everyone pending in the open attempt (a new one when there is none, or it is too close to
    # its send_at to take more); then settle the attempt: one cancel for all of its requests in doubt,
    # however many kills and lost answers it saw, and everyone in it goes again in a new attempt.
    while True:
        try:
            attempt = store.current_attempt(issue_id)
            total = store.delivery_counts(issue_id)[DeliveryState.PENDING]
            if total:
                target = _usable(config, attempt, clock())
                if target is None:
                    if attempt is not None:  # it can take no more: settle it before a new one starts
                        cancelled, unknown = _settle(store, transport, attempt, clock, sleep, tell)
                        repaired, newly_unknown = repaired + cancelled, newly_unknown + unknown
                        total = store.delivery_counts(issue_id)[DeliveryState.PENDING]
                    when = schedule(config, send_at, clock())
                    target = store.record_attempt(issue_id, transport.create_batch(issue_id), when, clock())
                attempt = target
                accepted, stopped = _requests(
                    config, store, content, transport, target, clock=clock, progress=progress,
                    batch_size=batch_size, concurrency=concurrency, total=total,
                )  # fmt: skip
                done += accepted
                if stopped:
                    break
            if attempt is None:
                break
            cancelled, unknown = _settle(store, transport, attempt, clock, sleep, tell)
        except (CancelLimit, SendStopped) as e:
            stopped = e.message
            break
        repaired, newly_unknown = repaired + cancelled, newly_unknown + unknown
        if not cancelled:
            break
        done = 0  # the cancel discarded what the attempt had accepted; everyone in it goes again
        if repaired >= MAX_REPAIRS:
            stopped = _(
                "{n} batches lost an answer in this run and were cancelled; the send stops here so as not to "
                "use up SendGrid's cancels (at most 10 at a time)"
            ).format(n=repaired)
            break

    counts = store.delivery_counts(issue_id)
    finished = not stopped and all(
        counts[s] == 0 for s in (DeliveryState.PENDING, DeliveryState.IN_FLIGHT, DeliveryState.FAILED)
    )
    if finished:
        if not completed:
            with store.transaction():
                store.complete_sent_issue(issue_id, clock())
        finished_file()
    return _report(
        store,
        issue_id,
        transport,
        requests_before,
        check,
        done,
        stopped=stopped,
        newly_unknown=newly_unknown,
        resent=resent,
        finished_now=finished and not completed,
        repaired=repaired,
    )


def _requests(
    config: Config,
    store: Store,
    content: Rendered,
    transport: Transport,
    attempt: Attempt,
    *,
    clock: Clock,
    progress: Progress | None,
    batch_size: int,
    concurrency: int,
    total: int,
) -> tuple[int, str | None]:
    """Every pending subscriber in requests of ``attempt``; (accepted in this call, why it stopped)."""
    issue_id = attempt.issue
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
        except (
            Exception
        ) as e:  # a fault of ours mid-request: SendGrid may have it; settled like a lost answer
            reason = _("the request failed inside the pipeline ({error})").format(
                error=f"{type(e).__name__}: {e}"
            )
            store.finish_batch(issue_id, batch, DeliveryState.IN_FLIGHT, at, reason=reason)
            return
        if result.answer == Answer.ACCEPTED:
            store.finish_batch(issue_id, batch, DeliveryState.ACCEPTED, at, message_id=result.message_id)
            done += size
        elif result.answer == Answer.UNKNOWN:  # in doubt: settled (cancelled) once the attempt is sent
            store.finish_batch(issue_id, batch, DeliveryState.IN_FLIGHT, at, reason=result.reason)
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
                    batch, recipients = store.claim_batch(issue_id, batch_size, clock(), attempt.attempt)
                    if not recipients:
                        more = False
                        break
                    future = pool.submit(
                        transport.send, content, recipients, config.settings, request=batch, test=False,
                        send_at=attempt.send_at, batch_id=attempt.batch_id,
                    )  # fmt: skip
                    running[future] = (batch, len(recipients))
                if not running:
                    break
                ready, _waiting = wait(running, return_when=FIRST_COMPLETED)
                for future in ready:
                    record(*running.pop(future), future)
        except KeyboardInterrupt:
            # Ctrl-C: let the requests under way finish and record them, so that they are not in doubt.
            for future in list(running):
                record(*running.pop(future), future)
            raise
    return done, stopped


def _report(
    store: Store,
    issue_id: str,
    transport: Transport,
    requests_before: int,
    check: ListCheck | None,
    done: int,
    *,
    stopped: str | None = None,
    newly_unknown: int = 0,
    resent: int = 0,
    finished_now: bool = False,
    repaired: int = 0,
) -> Report:
    counts = store.delivery_counts(issue_id)
    sent = store.sent_issue(issue_id)
    unknown = tuple(b.batch for b in store.delivery_batches(issue_id, RequestState.UNKNOWN))
    held = [a for a in store.attempts(issue_id) if a.state == AttemptState.OPEN]
    last = held[-1] if held else None
    return Report(
        issue_id, transport.destination, counts, check, transport.requests - requests_before, done, unknown,
        bool(sent and sent.completed), stopped, newly_unknown, resent, finished_now,
        last.send_at if last else None, repaired, last.batch_id if last else None,
    )  # fmt: skip


def recall(
    config: Config, store: Store, issue: Issue, transport: Transport, *, clock: Clock = utc_now
) -> RecallReport:
    """``newsletter cancel``: cancel every batch SendGrid holds for ``issue`` and confirm each, so that
    nobody gets it; the send is forgotten, the recall kept on record, and the approval no longer holds.

    Call it holding ``send_lock``. Changes nothing and raises ``NotRecallable`` when the issue was
    not handed over, went out, or is past SendGrid's deadline (10 minutes before it goes out).
    """
    now = clock()
    sent = store.sent_issue(issue.id)
    held = [a for a in store.attempts(issue.id) if a.state in (AttemptState.OPEN, AttemptState.CANCELLING)]
    if sent is None or not held:
        raise NotRecallable(
            _("issue {issue} was not handed to {destination}; there is nothing to recall").format(
                issue=issue.id, destination=transport.destination
            ),
            _("run 'newsletter status' to see where it stands"),
        )
    first = min(a.send_at for a in held)
    tz = config.settings.timezone
    if first <= now:
        raise NotRecallable(
            _("issue {issue} went out at {when}; it cannot be recalled").format(
                issue=issue.id, when=f"{first.astimezone(tz):%Y-%m-%d %H:%M %Z}"
            ),
            _("send a correction in the next issue, or a short follow-up mail"),
        )
    if now >= deadline(first) - CANCEL_SAFETY:
        raise NotRecallable(
            _(
                "too late: issue {issue} goes out at {when} and SendGrid "
                "recalls mail no later than 10 minutes "
                "before ({until}); it is {now}"
            ).format(
                issue=issue.id,
                when=f"{first.astimezone(tz):%H:%M}",
                until=f"{deadline(first).astimezone(tz):%H:%M}",
                now=f"{now.astimezone(tz):%H:%M}",
            ),
            _("nothing was changed; send a correction in the next issue if needed"),
        )
    recipients = store.delivery_counts(issue.id)[DeliveryState.ACCEPTED]
    for attempt in held:
        _cancel(store, transport, attempt, _("recalled by the editors"), clock)
    store.recall(issue.id, clock(), recipients)
    return RecallReport(issue.id, transport.destination, recipients, first, len(held))


# -- telling the editors ----------------------------------------------------------------------------
# The ledger's states as the editors' report names them, in REPORTED's order (translated where used).
STATE_LABELS = {
    DeliveryState.ACCEPTED: N_("sent"),
    DeliveryState.SKIPPED: N_("skipped"),
    DeliveryState.FAILED: N_("failed"),
    DeliveryState.UNKNOWN: N_("unknown"),
    DeliveryState.PENDING: N_("not sent yet"),
}


def report_mail(config: Config, report: Report) -> tuple[str, str, str]:
    """The delivery report for the editors, in the instance's language (``newsletter.language``):
    (subject, text, HTML), from the templates ``deliver/report.txt`` and ``deliver/report.html``.
    Counts, times and request numbers, never an address."""
    s = config.settings
    tz = s.timezone
    with i18n.using(s.language):
        context = {
            "issue_id": report.issue_id,
            "destination": report.destination,
            "rows": [(_(STATE_LABELS[state]), report.counts[state]) for state in REPORTED],
            "goes_out": i18n.datetime(report.send_at.astimezone(tz)) if report.send_at else None,
            "until": i18n.time(report.deadline.astimezone(tz)) if report.deadline else None,
            "unknown": [str(b) for b in report.unknown_batches],
            "stopped": report.stopped,
            "settings": s,
        }
        env = environment(config.root / "templates")
        text = render_template(env, "deliver/report.txt", config.root, **context)
        page = render_template(env, "deliver/report.html", config.root, **context)
        subject = _("Delivery report {issue}: {n} sent").format(
            issue=report.issue_id, n=report.counts[DeliveryState.ACCEPTED]
        )
    return subject, text, page


def notify_editors(config: Config, report: Report, env: Mapping[str, str] | None = None) -> None:
    """Mail the delivery report to the editors (``newsletter.editors``), through SendGrid or the outbox."""
    editors = [e.lower() for e in config.settings.editors]
    if not editors:
        return
    env = os.environ if env is None else env
    s = config.settings
    subject, text, page = report_mail(config, report)
    body = mail_body(
        from_email=s.from_email, from_name=s.from_name, reply_to=None, subject=subject, text=text,
        html=page, recipients=[(e, None) for e in editors],
        categories=["delivery-report"], custom_args={"issue": report.issue_id},
    )  # fmt: skip
    api = SendGridAPI.from_env(s.sendgrid_region, env)
    if api is None:  # the same request, written as the messages it gives
        outbox = Outbox(config.root / "outbox")
        name = f"report-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
        outbox.deliver(body, outbox.folder(report.issue_id) / "report", name)
        return
    result = api.send(body)
    if result.answer != Answer.ACCEPTED:
        raise SendStopped(
            _("the delivery report was not accepted: {reason}").format(reason=result.reason),
            _("see the counts above"),
        )
