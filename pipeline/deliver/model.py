"""The values of a send: the errors, SendGrid's time limits, and what a send, a plan, a test and a
recall report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipeline.domain.approval import deadline
from pipeline.domain.errors import PipelineError, Problem
from pipeline.domain.models import DeliveryState

CANCEL_SAFETY = dt.timedelta(seconds=30)  # a cancel starts at least this long before that limit
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


# -- results ------------------------------------------------------------------------------------
class _Deadline:
    """A send handed to SendGrid for ``send_at``: SendGrid still cancels it until ``deadline``."""

    send_at: dt.datetime | None

    @property
    def deadline(self) -> dt.datetime | None:
        return deadline(self.send_at) if self.send_at else None


@dataclass(frozen=True)
class ListCheck:
    """The subscriber list as read now: counts only, never an address."""

    rows: int
    invalid: int
    duplicates: int
    problems: tuple[Problem, ...]
    suppressions_read: bool


@dataclass(frozen=True)
class Plan(_Deadline):
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


@dataclass(frozen=True)
class Report(_Deadline):
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
