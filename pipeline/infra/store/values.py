"""What the store takes and returns: small frozen values, times already parsed (aware, UTC)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pipeline.domain.models import (
    AttemptState,
    Image,
    Item,
    ReminderState,
    Rendered,
    RequestState,
    SubscriberStatus,
)
from pipeline.infra.store.engine import Row


@dataclass(frozen=True)
class SentIssue:
    """An issue that went (or is going) to the list, with the exact content it was sent with."""

    id: str
    subject: str
    preheader: str
    fingerprint: str
    started_at: dt.datetime
    completed_at: dt.datetime | None
    html: str
    text: str
    web_html: str
    goes_out: dt.datetime | None = None  # when SendGrid sends its mail (the last held batch's send_at)

    @property
    def completed(self) -> bool:
        return self.completed_at is not None

    @property
    def sent_at(self) -> dt.datetime:
        """When it went (or goes) out to the list: SendGrid's send time, else when the send started."""
        return self.goes_out or self.started_at

    @property
    def rendered(self) -> Rendered:
        return Rendered(self.id, self.subject, self.preheader, self.html, self.text, self.web_html)


@dataclass(frozen=True)
class SentPlacement:
    """One item of a sent issue, in its section, at its position."""

    issue: str
    item: str
    section: str
    position: int


@dataclass(frozen=True)
class SourceState:
    """What the last collect run knows about one source (for conditional requests and the editors)."""

    id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None  # the server's own text, sent back as If-Modified-Since
    body_hash: str | None = None
    last_fetched: dt.datetime | None = None
    last_ok: dt.datetime | None = None
    last_status: str | None = None  # 'fetched', 'unchanged' or 'failed'
    last_error: str | None = None
    permanent_redirect: str | None = None
    items_seen: int = 0


@dataclass(frozen=True)
class KnownItem:
    """What deduplication needs to know about an item that is already stored."""

    id: str
    origin: str
    source: str
    guid: str | None
    published: dt.datetime
    first_seen: dt.datetime


@dataclass(frozen=True)
class DeliveryBatch:
    """One request of a list send, as the ledger knows it."""

    issue: str
    batch: int  # the request's number within the issue's send
    state: RequestState
    recipients: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    message_id: str | None
    reason: str | None
    attempt: int | None  # the send attempt (SendGrid batch) it went into


@dataclass(frozen=True)
class Attempt:
    """One send attempt: a SendGrid batch, and when SendGrid sends its mail."""

    issue: str
    attempt: int
    batch_id: str
    send_at: dt.datetime
    state: AttemptState
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    reason: str | None

    def deadline(self, margin: dt.timedelta) -> dt.datetime:
        """The last moment a cancel of this attempt is still sure to work."""
        return self.send_at - margin


# Who left the list: only a confirmed sign-up (``confirm``) brings them back, never an import.
INACTIVE = (
    SubscriberStatus.UNSUBSCRIBED,
    SubscriberStatus.BOUNCED,
    SubscriberStatus.COMPLAINED,
    SubscriberStatus.INVALID,
)
# The statuses an import may make active; any other (INACTIVE, or one this version does not know)
# is kept as it is.
IMPORTABLE = (SubscriberStatus.PENDING, SubscriberStatus.ACTIVE)
# How a consent record came about (its ``via``); the webhook's are 'webhook: <SendGrid's event>'.
VIA_SIGNUP = "aangemeld via /aanmelden"
VIA_CONFIRM = "bevestigd via /bevestig"
VIA_IMPORT = "import"


@dataclass(frozen=True)
class Person:
    """Someone on (or joining) the list, as a form or an import gives them; ``email`` lower-cased."""

    email: str
    name: str | None = None
    organisation: str | None = None
    province: str | None = None
    form: str = "aanmelden"  # the form it came through (or the file it was imported from)
    text_version: str | None = None  # the consent text the reader saw


@dataclass(frozen=True)
class Subscriber:
    email: str
    name: str | None
    organisation: str | None
    province: str | None
    status: str
    reason: str | None
    basis: str | None
    source: str
    since: dt.datetime | None


@dataclass(frozen=True)
class Consent:
    """One record of a subscriber's consent history (append-only): a sign-up, a confirmation, an
    import or a withdrawal, with the status it left the subscriber in and how it came about."""

    at: dt.datetime
    action: str  # signup, confirm, import, withdraw
    status: str | None  # the subscriber's status after it (None: a record from before schema 7)
    via: str | None  # 'aangemeld via /aanmelden', 'bevestigd via /bevestig', 'import', 'webhook: bounce', ...
    form: str | None  # which form, or which imported file
    text_version: str | None  # which version of the consent text the reader saw
    basis: str | None  # the legal basis: 'consent', or an import's
    reason: str | None  # why someone left (SendGrid's words)


@dataclass(frozen=True)
class Event:
    """One of SendGrid's events, as the webhook delivers it."""

    id: str  # sg_event_id
    type: str  # processed, delivered, bounce, dropped, spamreport, unsubscribe, click, ...
    email: str | None
    at: dt.datetime
    issue: str | None = None
    batch: str | None = None
    request: str | None = None
    url: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ClickCount:
    """How often one reader clicked one link of one issue sent to the list (the report's unit)."""

    issue: str
    url: str  # the link as clicked: the story's URL with the UTM parameters render added
    email: str | None  # None: SendGrid's event named nobody (counted as clicks, not as a reader)
    clicks: int


@dataclass(frozen=True)
class Recall:
    issue: str
    recalled_at: dt.datetime
    recipients: int
    send_at: dt.datetime | None


@dataclass(frozen=True)
class Reminder:
    """The last progress reminder to one partner for one period."""

    period: str
    partner: str
    seq: int
    state: ReminderState
    via: str  # sendgrid or outbox
    at: dt.datetime
    message_id: str | None
    reason: str | None


@lru_cache(maxsize=256)
def _utc(value: dt.datetime) -> str:
    # Remembered (collect stores the run's time and a few dates thousands of times): the text
    # depends only on the instant, which is what equal times share.
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _dt(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _sent_issue(row: Row) -> SentIssue:
    return SentIssue(
        row["id"], row["subject"], row["preheader"] or "", row["fingerprint"], _when(row["started_at"]),
        _dt(row["completed_at"]), row["html"], row["text"], row["web_html"], _dt(row["goes_out"]),
    )  # fmt: skip


# A sent issue with when it goes out: the latest send_at of its batches SendGrid holds.
_SENT = (
    "SELECT s.*, (SELECT max(a.send_at) FROM send_attempts a WHERE a.issue = s.id"
    f" AND a.state = '{AttemptState.OPEN}')"
    " AS goes_out FROM sent_issues s"
)


def _source_state(row: Row) -> SourceState:
    return SourceState(
        row["id"], row["url"], row["etag"], row["last_modified"], row["body_hash"], _dt(row["last_fetched"]),
        _dt(row["last_ok"]), row["last_status"], row["last_error"], row["permanent_redirect"],
        int(row["items_seen"] or 0),
    )  # fmt: skip


def _batch(row: Row) -> DeliveryBatch:
    return DeliveryBatch(
        row["issue"], int(row["batch"]), RequestState(row["state"]), int(row["recipients"]),
        _when(row["started_at"]), _dt(row["finished_at"]), row["message_id"], row["reason"], row["attempt"],
    )  # fmt: skip


def _subscriber(row: Row) -> Subscriber:
    return Subscriber(
        row["email"], row["name"], row["organisation"], row["province"], row["status"], row["reason"],
        row["basis"], row["source"], _dt(row["since"]),
    )  # fmt: skip


def _attempt(row: Row) -> Attempt:
    return Attempt(
        row["issue"], int(row["attempt"]), row["batch_id"], _when(row["send_at"]), AttemptState(row["state"]),
        _when(row["created_at"]), _dt(row["cancelled_at"]), row["reason"],
    )  # fmt: skip


def item_to_json(item: Item, first_seen: dt.datetime | None = None) -> str:
    """The item as the store keeps it; ``first_seen``, when given, in place of the item's own."""
    # A copy of the fields (an Item has no slots: its __dict__ is its fields) rather than
    # dataclasses.asdict, whose deep copies made this the slowest step of collecting 6,000 items.
    data: dict[str, Any] = dict(item.__dict__)
    if first_seen is not None:
        data["first_seen"] = first_seen
    for key in ("published", "starts", "ends", "first_seen"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    if item.image is not None:
        data["image"] = {"url": item.image.url, "alt": item.image.alt, "consent": item.image.consent}
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def item_from_json(text: str) -> Item:
    data: dict[str, Any] = json.loads(text)
    for key in ("published", "starts", "ends", "first_seen"):
        data[key] = _dt(data.get(key))
    for key in ("themes", "provinces", "flags"):
        data[key] = tuple(data.get(key) or ())
    if data.get("image"):
        data["image"] = Image(**data["image"])
    return Item(**data)


def chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
