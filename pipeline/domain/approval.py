"""Approval bound to the exact content to be sent, and where each issue stands.

An editor's approval records the fingerprint of what subscribers would get: the editor's fields
(no comments, no program-owned keys, no runners-up), every item the issue shows, as it is in
the state database, the templates the issue is rendered with and the sender's settings (from,
reply-to, the newsletter's title and postal address), and for an issue with personalised sections
what each of their entries is about (the provinces and themes that decide every edition). Any later
change to one of them makes the issue "changed since approval", and deliver sends only an approved,
unchanged issue.

The fingerprint is computed from the values themselves, field by field (``item_content``), never
from how the store keeps them: a change of storage format must not turn every approved issue into
"changed".

No I/O here: the templates' digests and the sent state come in as values
(``pipeline.infra.approval`` reads them from the templates and the state database).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any, Protocol

from pipeline.domain.config import Config
from pipeline.domain.editions import issue_tags, personalised, tags_content
from pipeline.domain.issues import Entry, Issue
from pipeline.domain.models import IssueState, Item

CANCEL_LIMIT = dt.timedelta(minutes=10)  # SendGrid cancels a batch no later than this before its send_at


def deadline(send_at: dt.datetime) -> dt.datetime:
    """The last moment SendGrid still cancels (recalls) mail that goes out at ``send_at``. Reckoned in UTC:
    a local 03:05 on the night the clocks go forward, less 10 minutes, is 01:55 winter time, not 02:55."""
    return send_at.astimezone(dt.UTC) - CANCEL_LIMIT


# The templates an issue is rendered with (pipeline.render); what they import or include is followed.
ISSUE_TEMPLATES = ("email.mjml", "email.txt", "web.html")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def item_content(item: Item) -> dict[str, Any]:
    """What an item says, as plain JSON values: everything but when it was first collected."""
    image = item.image
    return {
        "id": item.id,
        "url": item.url,
        "title": item.title,
        "summary_html": item.summary_html,
        "summary_text": item.summary_text,
        "published": _iso(item.published),
        "source": item.source,
        "partner": item.partner,
        "kind": item.kind,
        "themes": list(item.themes),
        "provinces": list(item.provinces),
        "image": {"url": image.url, "alt": image.alt, "consent": image.consent} if image else None,
        "starts": _iso(item.starts),
        "ends": _iso(item.ends),
        "location": item.location,
        "ervaringsdeskundigen": item.ervaringsdeskundigen,
        "horizon": item.horizon,
        "origin": item.origin,
        "guid": item.guid,
        "flags": list(item.flags),
    }


def _entry_content(e: Entry) -> dict[str, Any]:
    data = asdict(e)
    del data["line"]  # moving lines (a comment added above) changes nothing that is sent
    return data


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sender(config: Config) -> dict[str, Any]:
    """The settings every reader sees in an issue: who it is from, where replies go, the footer."""
    s = config.settings
    return {
        "from": {"name": s.from_name, "email": s.from_email},
        "reply_to": s.reply_to,
        "title": s.title,
        "postal_address": s.postal_address,
    }


def content_fingerprint(
    config: Config, issue: Issue, items: Mapping[str, Item], templates: Mapping[str, str | None]
) -> str:
    """sha256 over the content to be sent: the editor's fields, every item the issue shows, the
    templates it is rendered with (``templates``: each one's sha256 by name, None for a missing one)
    and the sender's settings (``sender``).

    ``items`` holds the issue's items as they are in the state database now; a missing one counts
    as missing (null), so that collecting it later changes the fingerprint.
    """
    ids = sorted({e.item for _, e in issue.entries() if e.item})
    content: dict[str, Any] = {
        "id": issue.id,
        "subject": issue.subject,
        "preheader": issue.preheader,
        "intro": issue.intro,
        "send_at": issue.send_at.astimezone(dt.UTC).isoformat() if issue.send_at else None,
        "sections": [
            {"section": s.id, "items": [_entry_content(e) for e in s.items]} for s in issue.sections
        ],
        "items": {i: item_content(items[i]) if i in items else None for i in ids},
        "templates": dict(templates),
        "sender": sender(config),
    }
    if personalised(issue):
        # Every edition (pipeline.domain.editions) follows from the issue, its items, the templates and
        # what each personalised entry is about; the last is added here (a partner's province is in
        # sources.yaml), so that no edition can change without the approval going stale. An issue
        # without editions keeps the fingerprint it had before editions existed.
        content["editions"] = tags_content(issue, issue_tags(config, issue, items))
    raw = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + _sha256(raw)


class Sent(Protocol):
    """What the state of an issue reads of its list send in the state database."""

    @property
    def completed(self) -> bool: ...

    @property
    def goes_out(self) -> dt.datetime | None: ...


def state(
    issue: Issue,
    sent: Sent | None,
    last_recall: dt.datetime | None,
    current: Callable[[], str],
    now: dt.datetime | None = None,
) -> IssueState:
    """Where ``issue`` stands, given its list send (None: none), when it was last recalled (None:
    never) and ``current``, which gives its fingerprint now (asked only when the approval matters)."""
    if sent:
        if not sent.completed:
            return IssueState.SENDING
        if sent.goes_out is not None and sent.goes_out > (now or dt.datetime.now(dt.UTC)):
            return IssueState.SCHEDULED
        return IssueState.SENT
    # A recall is in the state database (and the file): only an approval given after it holds.
    if last_recall is not None and (issue.approval is None or issue.approval.at <= last_recall):
        return IssueState.RECALLED
    if issue.status == "sent":
        return IssueState.SENT
    if issue.approval is None or issue.status != "approved":
        return IssueState.DRAFT
    return IssueState.APPROVED if issue.approval.fingerprint == current() else IssueState.CHANGED
