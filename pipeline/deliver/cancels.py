"""Batches: cancelling an attempt and confirming it, settling requests in doubt, removing old cancels."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from pipeline.deliver.model import CANCEL_SAFETY, Clock, Notice, SendStopped, deadline
from pipeline.deliver.transport import Transport
from pipeline.domain.i18n import _
from pipeline.domain.models import AttemptState, RequestState
from pipeline.infra.sendgrid import CancelLimit
from pipeline.infra.store import Attempt, Store

SENDGRID_CANCELS = 10  # cancelled or paused batches SendGrid keeps at a time, per account


# -- batches: cancelling, and removing old cancels -----------------------------------------------------
def cancel_attempt(store: Store, transport: Transport, attempt: Attempt, reason: str, clock: Clock) -> None:
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


def in_doubt(store: Store, attempt: Attempt) -> list[int]:
    """Requests of ``attempt`` whose answer is not known (started_at, as Unix times)."""
    found = store.delivery_batches(attempt.issue, RequestState.IN_FLIGHT, attempt=attempt.attempt)
    return [int(r.started_at.timestamp()) for r in found]


def settle(
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
    started = in_doubt(store, attempt)
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
    cancel_attempt(store, transport, attempt, _("a request's answer was lost"), clock)
    return True, 0
