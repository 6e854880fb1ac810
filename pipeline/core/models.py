"""The small typed values that pass between stages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Image:
    url: str
    alt: str | None = None
    consent: bool | None = None  # True only when everyone recognisable (children above all) agreed


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
    html: str  # the email's HTML, with the per-recipient tokens (pipeline.core.tokens)
    text: str  # the plain-text part, with the same placeholders
    web_html: str  # the standalone web page: no placeholders, nothing personal
