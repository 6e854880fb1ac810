"""The small typed values that pass between stages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from pipeline.domain.i18n import N_


@dataclass(frozen=True)
class Image:
    """An image of a story. The rule, the same in validate, check and render: an image is shown only
    with consent (people, children above all, appear only when everyone recognisable agreed) and
    with alt text (else a screen reader cannot tell what it shows), from an http(s) address. A
    story whose image breaks the rule stays; only the image goes."""

    url: str
    alt: str | None = None
    consent: bool | None = None  # True only when everyone recognisable (children above all) agreed

    def missing(self) -> tuple[str, ...]:
        """What keeps it from being shown: "alt text", "consent", or both."""
        gaps = () if (self.alt or "").strip() else ("alt text",)
        return gaps + (() if self.consent is True else ("consent",))

    @property
    def shown(self) -> bool:
        return not self.missing() and self.url.lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class Contact:
    """Who to ask about a story. Never published, never rendered."""

    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Submission:
    """A partner's story, as written in one YAML file and checked."""

    path: str
    partner: str
    title: str
    summary: str
    url: str
    kind: str
    themes: tuple[str, ...]
    provinces: tuple[str, ...]
    published: dt.datetime
    starts: dt.datetime | None = None
    ends: dt.datetime | None = None
    location: str | None = None
    image: Image | None = None
    ervaringsdeskundigen: bool = False
    horizon: str | None = None
    contact: Contact | None = None


@dataclass(frozen=True)
class Item:
    """One story, research item or event in the state database, from a feed or a submission.

    ``id`` is stable: derived from the canonical URL (or, without a link, from the source and
    the entry's guid), so collecting again never makes a second item for the same story.
    """

    id: str
    url: str  # canonical: tracking parameters removed, host lower-cased
    title: str  # plain text
    summary_html: str  # sanitised HTML
    summary_text: str  # plain text
    published: dt.datetime  # time-zone aware
    source: str  # the FeedSource id, or "submissions:<partner>"
    partner: str | None = None
    kind: str | None = None
    themes: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    image: Image | None = None
    starts: dt.datetime | None = None
    ends: dt.datetime | None = None
    location: str | None = None
    ervaringsdeskundigen: bool = False
    horizon: str | None = None
    origin: str = "feed"  # "feed" or "submission"
    guid: str | None = None
    first_seen: dt.datetime | None = None
    flags: tuple[str, ...] = field(default=())  # e.g. "date-missing", "date-clamped"


@dataclass(frozen=True)
class Rendered:
    """An issue rendered: what deliver sends and publish archives."""

    issue_id: str
    subject: str
    preheader: str
    html: str  # the email's HTML, with the per-recipient tokens (pipeline.domain.tokens)
    text: str  # the plain-text part, with the same placeholders
    web_html: str  # the standalone web page: no placeholders, nothing personal


class IssueState(StrEnum):
    """Where an issue stands: its file's approval against the state database's record of sending."""

    DRAFT = "draft"
    APPROVED = "approved"
    CHANGED = "changed"  # approved, then edited (or an item it shows changed): needs a new approval
    SENDING = "sending"  # the send to the list started and is not complete
    SCHEDULED = "scheduled"  # every subscriber handed to SendGrid, which sends at send_at (recallable)
    SENT = "sent"
    RECALLED = "recalled"  # cancelled at SendGrid before it went out: approve it again to send it


# How people are shown an issue's state (status, the studio), "invalid" for a file that cannot be read;
# marked for the catalog, translated where shown: _(STATE_LABELS[state]).
STATE_LABELS = {
    "draft": N_("draft"),
    "approved": N_("approved"),
    "changed": N_("changed since approval"),
    "sending": N_("sending"),
    "scheduled": N_("scheduled at SendGrid"),
    "sent": N_("sent"),
    "recalled": N_("recalled"),
    "invalid": N_("invalid"),
}


class SubscriberStatus(StrEnum):
    """Where a subscriber stands on the list (``subscribers.status``, and the status a consent record
    left them in). Only a confirmed sign-up brings back someone who left (the last four)."""

    PENDING = "pending"  # signed up through the form, not confirmed yet
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"  # reported the newsletter as spam
    INVALID = "invalid"  # dropped by SendGrid: the address cannot get mail


class ReminderState(StrEnum):
    """How a progress reminder to a partner went (``reminders.state``)."""

    SENDING = "sending"  # written before the request
    SENT = "sent"  # SendGrid took it (its message id), or the outbox wrote it
    FAILED = "failed"  # refused, or never taken: it did not go
    UNKNOWN = "unknown"  # the answer was lost (or a killed run left it sending): it may have gone


class DeliveryState(StrEnum):
    """One subscriber's state in the delivery ledger of one issue (in the order reports list them)."""

    ACCEPTED = "accepted"  # SendGrid answered 202 (or the outbox wrote the file)
    SKIPPED = "skipped"  # suppressed, or no longer in the list (with the reason)
    FAILED = "failed"  # SendGrid refused the request: they never got it, and are pending again next run
    UNKNOWN = "unknown"  # the answer was lost: SendGrid may or may not have it
    PENDING = "pending"
    IN_FLIGHT = "in_flight"  # in a request whose answer has not been recorded yet


class RequestState(StrEnum):
    """One request (up to 1000 subscribers) of a list send, in the ledger."""

    IN_FLIGHT = "in_flight"  # under way, or its answer was lost: in doubt until its attempt is settled
    ACCEPTED = "accepted"
    FAILED = "failed"
    UNKNOWN = "unknown"  # in doubt, and its attempt can no longer be cancelled
    CANCELLED = "cancelled"  # its attempt was cancelled at SendGrid: nothing of it goes out


class AttemptState(StrEnum):
    """One send attempt: a SendGrid batch (batch_id) whose mail SendGrid holds until its send_at."""

    OPEN = "open"  # mail is handed over in this batch; SendGrid sends it at send_at
    CANCELLING = "cancelling"  # a cancel was asked for and is not confirmed yet
    CANCELLED = "cancelled"  # confirmed: none of its mail goes out; SendGrid keeps the cancel until send_at
    CLEARED = "cleared"  # cancelled, and the cancel removed at SendGrid after send_at (frees its limit of 10)


Placement = tuple[str, str]  # (section id, item id): where an item stands in an issue, in order
