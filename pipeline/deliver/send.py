"""The list send with its ledger (the steps are in ``pipeline.deliver``'s docstring), its dry run
(``plan``), the one refusal check both use, and test sends."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass

from pipeline.deliver.cancels import clear_old_cancels, in_doubt, settle
from pipeline.deliver.model import (
    Clock,
    ListCheck,
    NotApproved,
    Notice,
    Plan,
    Progress,
    Report,
    SendStopped,
    TestReport,
    utc_now,
)
from pipeline.deliver.transport import SendGridTransport, Transport
from pipeline.domain.config import Config
from pipeline.domain.editions import BASE, from_key, issue_tags, keys_in_use, personalised
from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _
from pipeline.domain.issues import Issue, Prepared
from pipeline.domain.models import AttemptState, DeliveryState, IssueState, Rendered, RequestState
from pipeline.infra.approval import approval_state, issue_items, mark_sent
from pipeline.infra.locking import job_lock
from pipeline.infra.sendgrid import (
    MAX_RECIPIENTS,
    MAX_SCHEDULE,
    Answer,
    CancelLimit,
    RequestInvalid,
    SendResult,
)
from pipeline.infra.store import Attempt, Store
from pipeline.infra.subscribers import is_email, read_subscribers

BATCH = MAX_RECIPIENTS
# Requests in flight at once: enough to overlap building one request with SendGrid's answer to the
# previous one; more buys little and widens what a kill can leave in doubt.
CONCURRENCY = 2
MAX_REPAIRS = 3  # attempts one run cancels before it stops (each cancel counts against SendGrid's 10)
# An open attempt takes more requests while at least this much of its hold is left; later, the rest
# of the list goes in a new attempt, so that a kill can still be repaired before its deadline.
REUSE_GRACE = dt.timedelta(minutes=5)


@contextmanager
def send_lock(config: Config, issue_id: str) -> Iterator[None]:
    """The one-send-at-a-time lock for an issue (``newsletter run`` and ``cancel`` take it too)."""
    with job_lock(config.settings, "send", issue_id):
        yield


# -- reading the list -----------------------------------------------------------------------------
def _load_audience(
    config: Config,
    store: Store,
    transport: Transport,
    now: dt.datetime | None = None,
    *,
    choices: bool = False,
) -> ListCheck:
    """Everyone who should get the issue, and everyone who must not (SendGrid's suppressions).

    The list is the state database's active subscribers once it has any (sign-ups, imports), but
    for those who paused beyond ``now``; before that the CSV named by ``newsletter.subscribers``, as
    it always was (a CSV carries no choices: everyone gets the issue as it is). ``choices``: the
    readers' choices come along, for ``_editions`` to name each one's edition.
    """
    suppressions = transport.suppressions(config.settings.sendgrid.unsubscribe_group)
    if store.has_subscribers():
        active = store.load_active_audience(suppressions or (), now, choices=choices)
        return ListCheck(active, 0, 0, (), suppressions is not None)
    reader = read_subscribers(config.settings.subscribers, config.root)
    duplicates = store.load_audience(reader.pairs(), suppressions or ())
    return ListCheck(
        reader.rows, len(reader.problems), duplicates, tuple(reader.problems), suppressions is not None
    )


def schedule(config: Config, issue_send_at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When a new attempt's mail goes out: the hold time from now, or the issue's send_at when that is
    later (to the minute); refused when SendGrid could not hold it that long."""
    held = now + config.settings.delivery.hold
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
    return attempt if left >= config.settings.delivery.hold - REUSE_GRACE else None


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
    reuse = _usable(config, current, now) if current is not None and not in_doubt(store, current) else None
    when: dt.datetime | None = None  # no time at which a refused send goes out
    if refused is None:
        when = reuse.send_at if reuse is not None else schedule(config, send_at, now)
    check = _load_audience(config, store, transport, now)
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
    if isinstance(transport, SendGridTransport) and config.settings.sendgrid.unsubscribe_group is None:
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

    tally = _Tally()
    # A cancel that a kill interrupted is finished before anything else: its batch must not go out.
    current = store.current_attempt(issue_id)
    if current is not None and current.state == AttemptState.CANCELLING:
        try:
            cancelled, tally.newly_unknown = settle(store, transport, current, clock, sleep, tell)
        except (CancelLimit, SendStopped) as e:
            return _report(store, issue_id, transport, requests_before, None, 0, stopped=e.message)
        tally.repaired += cancelled
    sent = store.sent_issue(issue_id)
    completed = bool(sent and sent.completed)
    if completed and not resend_unknown:
        # Handed over to the whole list before: nothing to read, nothing to send (a new subscriber
        # does not get an old issue). The file's status may still need its write.
        _finished_file(config, issue)
        return _report(
            store, issue_id, transport, requests_before, None, 0, newly_unknown=tally.newly_unknown
        )
    check = _load_audience(config, store, transport, now, choices=personalised(issue))
    editions = _editions(config, store, issue, prepared if sent is None else None)
    resent = _start_ledger(store, issue_id, prepared if sent is None else None, editions, now,
                           add_new=not completed, resend_unknown=resend_unknown)  # fmt: skip
    kept = store.sent_issue(issue_id)
    assert kept is not None
    _send_attempts(
        config, store, kept.rendered, transport, issue_id, tally, send_at=send_at, clock=clock, sleep=sleep,
        notice=tell, progress=progress, batch_size=batch_size, concurrency=concurrency,
    )  # fmt: skip
    finished = _finish(config, store, issue, tally, completed, clock)
    return _report(
        store,
        issue_id,
        transport,
        requests_before,
        check,
        tally.done,
        stopped=tally.stopped,
        newly_unknown=tally.newly_unknown,
        resent=resent,
        finished_now=finished and not completed,
        repaired=tally.repaired,
    )


def _start_ledger(
    store: Store,
    issue_id: str,
    starting: Prepared | None,
    editions: Iterable[tuple[str, str, Rendered]],
    now: dt.datetime,
    *,
    add_new: bool,
    resend_unknown: bool,
) -> int:
    """In one transaction: the issue's content kept when the send starts (``starting``), the list's
    new subscribers into the ledger (``add_new``) and, with ``resend_unknown``, those in doubt pending
    again; returns how many of those."""
    with store.transaction():
        if starting is not None:
            store.record_sent_issue(starting.rendered, starting.fingerprint, starting.placements, now)
            store.record_sent_editions(issue_id, editions)
        store.sync_ledger(issue_id, now, add_new=add_new)
        return store.unknown_to_pending(issue_id, now) if resend_unknown else 0


def _editions(
    config: Config, store: Store, issue: Issue, prepared: Prepared | None
) -> list[tuple[str, str, Rendered]]:
    """Name each reader's edition in the audience just loaded (``pipeline.domain.editions``), and
    render the editions in use when the send starts (``prepared``): once per edition, not per reader.

    Returns what the start keeps (key, label, content). A resumed send renders nothing: a reader new
    to the ledger gets an edition kept when the send started, or the issue as it is.
    """
    if not personalised(issue):
        return []
    raw = store.audience_choices()
    if prepared is not None and prepared.editions is not None:
        tags = issue_tags(config, prepared.issue, prepared.items)
        keys = keys_in_use(prepared.issue, tags, raw)
        rendered = prepared.editions(set(keys.values()))
        store.set_audience_editions(keys)
        return [
            (key, from_key(key).label(config.taxonomy), content)
            for key, content in sorted(rendered.items())
            if key != BASE
        ]
    kept = store.sent_editions(issue.id)
    keys = keys_in_use(issue, issue_tags(config, issue, issue_items(store, issue)), raw)
    store.set_audience_editions({r: k if k in kept else BASE for r, k in keys.items()})
    return []


def _contents(store: Store, issue_id: str, base: Rendered) -> dict[str, Rendered]:
    """The content of each kept edition, by key (``BASE``: the issue as it is)."""
    out = {BASE: base}
    for key, (_label, html, text) in store.sent_editions(issue_id).items():
        out[key] = Rendered(base.issue_id, base.subject, base.preheader, html, text, base.web_html)
    return out


@dataclass
class _Tally:
    """What one ``send_list`` run did so far (it changes as the run goes on)."""

    done: int = 0  # subscribers accepted in this run (and not discarded by a cancel since)
    repaired: int = 0  # attempts cancelled to settle a request in doubt
    newly_unknown: int = 0  # in doubt, found too late to cancel
    stopped: str | None = None  # why the send stopped early


def _finished_file(config: Config, issue: Issue) -> None:
    # status: sent in the issue file; also on a later run, as a kill may come between the writes.
    if issue.status != "sent":
        mark_sent(config, issue.id)


def _send_attempts(
    config: Config,
    store: Store,
    content: Rendered,
    transport: Transport,
    issue_id: str,
    tally: _Tally,
    *,
    send_at: dt.datetime | None,
    clock: Clock,
    sleep: Callable[[float], None],
    notice: Notice,
    progress: Progress | None,
    batch_size: int,
    concurrency: int,
) -> None:
    """Send everyone pending in the open attempt (a new one when there is none, or it is too close to
    its send_at to take more); then settle the attempt: one cancel for all of its requests in doubt,
    however many kills and lost answers it saw, and everyone in it goes again in a new attempt."""
    while True:
        try:
            attempt = store.current_attempt(issue_id)
            total = store.delivery_counts(issue_id)[DeliveryState.PENDING]
            if total:
                target = _usable(config, attempt, clock())
                if target is None:
                    if attempt is not None:  # it can take no more: settle it before a new one starts
                        cancelled, unknown = settle(store, transport, attempt, clock, sleep, notice)
                        tally.repaired, tally.newly_unknown = (
                            tally.repaired + cancelled,
                            tally.newly_unknown + unknown,
                        )
                        total = store.delivery_counts(issue_id)[DeliveryState.PENDING]
                    when = schedule(config, send_at, clock())
                    target = store.record_attempt(issue_id, transport.create_batch(issue_id), when, clock())
                attempt = target
                accepted, tally.stopped = _requests(
                    config, store, content, transport, target, clock=clock, progress=progress,
                    batch_size=batch_size, concurrency=concurrency, total=total,
                )  # fmt: skip
                tally.done += accepted
                if tally.stopped:
                    return
            if attempt is None:
                return
            cancelled, unknown = settle(store, transport, attempt, clock, sleep, notice)
        except (CancelLimit, SendStopped) as e:
            tally.stopped = e.message
            return
        tally.repaired, tally.newly_unknown = tally.repaired + cancelled, tally.newly_unknown + unknown
        if not cancelled:
            return
        tally.done = 0  # the cancel discarded what the attempt had accepted; everyone in it goes again
        if tally.repaired >= MAX_REPAIRS:
            tally.stopped = _(
                "{n} batches lost an answer in this run and were cancelled; the send stops here so as not to "
                "use up SendGrid's cancels (at most 10 at a time)"
            ).format(n=tally.repaired)
            return


def _finish(config: Config, store: Store, issue: Issue, tally: _Tally, completed: bool, clock: Clock) -> bool:
    """Hand the issue over when nobody is pending, in flight or failed; True when it was."""
    counts = store.delivery_counts(issue.id)
    finished = not tally.stopped and all(
        counts[s] == 0 for s in (DeliveryState.PENDING, DeliveryState.IN_FLIGHT, DeliveryState.FAILED)
    )
    if finished:
        if not completed:
            with store.transaction():
                store.complete_sent_issue(issue.id, clock())
        _finished_file(config, issue)
    return finished


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
    editions = _contents(store, issue_id, content)
    if progress:
        progress(0, total)

    def record(batch: int, size: int, future: Future[SendResult]) -> None:
        """Commit one request's outcome: the ledger's 'after'."""
        nonlocal done, stopped
        accepted, reason = _settle(store, issue_id, batch, future, clock())
        done += size if accepted else 0
        stopped = stopped or reason
        if progress:
            progress(done, total)

    # Requests run in worker threads, a few at a time; every ledger write stays in this thread.
    running: dict[Future[SendResult], tuple[int, int]] = {}
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="send") as pool:
        try:
            more = True
            while True:
                while more and stopped is None and len(running) < concurrency:
                    # One edition per request: the next pending reader's, and the readers after her
                    # in the same edition (the ledger numbers them edition by edition).
                    edition = store.next_edition(issue_id)
                    batch, recipients = (0, []) if edition is None else store.claim_batch(
                        issue_id, batch_size, clock(), attempt.attempt, edition
                    )  # fmt: skip
                    if not recipients:
                        more = False
                        break
                    future = pool.submit(
                        transport.send, editions.get(edition or BASE, content), recipients, config.settings,
                        request=batch, test=False, send_at=attempt.send_at, batch_id=attempt.batch_id,
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


def _settle(
    store: Store, issue_id: str, batch: int, future: Future[SendResult], at: dt.datetime
) -> tuple[bool, str | None]:
    """Write one request's outcome into the ledger; (accepted, why the send must stop, if it must)."""
    try:
        result = future.result()
    except RequestInvalid as e:  # refused by our own checks: nothing left this machine
        store.finish_batch(issue_id, batch, DeliveryState.PENDING, at)
        return False, e.message
    except Exception as e:  # a fault of ours mid-request: SendGrid may have it; settled like a lost answer
        reason = _("the request failed inside the pipeline ({error})").format(
            error=f"{type(e).__name__}: {e}"
        )
        store.finish_batch(issue_id, batch, DeliveryState.IN_FLIGHT, at, reason=reason)
        return False, None
    if result.answer == Answer.ACCEPTED:
        store.finish_batch(issue_id, batch, DeliveryState.ACCEPTED, at, message_id=result.message_id)
        return True, None
    if result.answer == Answer.UNKNOWN:  # in doubt: settled (cancelled) once the attempt is sent
        store.finish_batch(issue_id, batch, DeliveryState.IN_FLIGHT, at, reason=result.reason)
        return False, None
    if result.answer == Answer.REFUSED:
        store.finish_batch(issue_id, batch, DeliveryState.FAILED, at, reason=result.reason)
        return False, result.reason
    # Not sent: SendGrid took nothing; those subscribers are simply still pending.
    store.finish_batch(issue_id, batch, DeliveryState.PENDING, at)
    return False, result.reason


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
