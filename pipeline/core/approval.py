"""Approval bound to the exact content to be sent, and where each issue stands.

An editor's approval records the fingerprint of what subscribers would get: the editor's fields
(no comments, no program-owned keys, no runners-up), every item the issue shows, as it is in
the state database, the templates the issue is rendered with and the sender's settings (from,
reply-to, the newsletter's title and postal address). Any later change to one of them makes the
issue "changed since approval", and deliver sends only an approved, unchanged issue.

The fingerprint is computed from the values themselves, field by field (``item_content``), never
from how the store keeps them: a change of storage format must not turn every approved issue into
"changed".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import jinja2
from jinja2 import meta

from pipeline.core.config import Config
from pipeline.core.errors import display_path
from pipeline.core.issues import Entry, Issue, issue_path, write_program_fields
from pipeline.core.models import IssueState, Item
from pipeline.core.store import Store
from pipeline.core.templating import environment

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


def template_sources(config: Config) -> dict[str, str | None]:
    """sha256 of each template the issue is rendered with, by name: the instance's ``templates/``
    where it has the file, else the package's; the templates they import or include as well.

    A missing template counts as missing (null); one that does not parse counts by its text alone
    (rendering it names the line).
    """
    env = environment(config.root / "templates")
    assert env.loader is not None  # the environment always has its loaders
    found: dict[str, str | None] = {}
    todo = list(ISSUE_TEMPLATES)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        try:
            source = env.loader.get_source(env, name)[0]
        except jinja2.TemplateNotFound:
            found[name] = None
            continue
        found[name] = _sha256(source)
        try:
            todo.extend(ref for ref in meta.find_referenced_templates(env.parse(source)) if ref)
        except jinja2.TemplateSyntaxError:
            continue
    return found


def sender(config: Config) -> dict[str, Any]:
    """The settings every reader sees in an issue: who it is from, where replies go, the footer."""
    s = config.settings
    return {
        "from": {"name": s.from_name, "email": s.from_email},
        "reply_to": s.reply_to,
        "title": s.title,
        "postal_address": s.postal_address,
    }


def fingerprint(config: Config, issue: Issue, items: Mapping[str, Item]) -> str:
    """sha256 over the content to be sent: the editor's fields, every item the issue shows, the
    templates it is rendered with (``template_sources``) and the sender's settings (``sender``).

    ``items`` holds the issue's items as they are in the state database now; a missing one counts
    as missing (null), so that collecting it later changes the fingerprint.
    """
    ids = sorted({e.item for _, e in issue.entries() if e.item})
    content = {
        "id": issue.id,
        "subject": issue.subject,
        "preheader": issue.preheader,
        "intro": issue.intro,
        "send_at": issue.send_at.astimezone(dt.UTC).isoformat() if issue.send_at else None,
        "sections": [
            {"section": s.id, "items": [_entry_content(e) for e in s.items]} for s in issue.sections
        ],
        "items": {i: item_content(items[i]) if i in items else None for i in ids},
        "templates": template_sources(config),
        "sender": sender(config),
    }
    raw = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + _sha256(raw)


def issue_items(store: Store, issue: Issue) -> dict[str, Item]:
    """The items an issue refers to that the state database has."""
    return store.get_items(e.item for _, e in issue.entries() if e.item)


def approval_state(
    config: Config, store: Store, issue: Issue, current: str | None = None, now: dt.datetime | None = None
) -> IssueState:
    """Where ``issue`` stands. ``current`` is its fingerprint when the caller has it already."""
    sent = store.sent_issue(issue.id)
    if sent:
        if not sent.completed:
            return IssueState.SENDING
        if sent.goes_out is not None and sent.goes_out > (now or dt.datetime.now(dt.UTC)):
            return IssueState.SCHEDULED
        return IssueState.SENT
    # A recall is in the state database (and the file): only an approval given after it holds.
    recalled = store.recalls(issue.id)
    if recalled and (issue.approval is None or issue.approval.at <= recalled[-1].recalled_at):
        return IssueState.RECALLED
    if issue.status == "sent":
        return IssueState.SENT
    if issue.approval is None or issue.status != "approved":
        return IssueState.DRAFT
    if current is None:
        current = fingerprint(config, issue, issue_items(store, issue))
    return IssueState.APPROVED if issue.approval.fingerprint == current else IssueState.CHANGED


def mark_sent(config: Config, issue_id: str) -> None:
    """Set ``status: sent`` in the issue file (a program-owned field) once the list send completed."""
    path = issue_path(config.root, issue_id)
    if path.exists():
        write_program_fields(path, display_path(path, config.root), status="sent")


def mark_recalled(config: Config, issue_id: str) -> None:
    """Set ``status: recalled``: the approval (kept, for the record) no longer holds."""
    path = issue_path(config.root, issue_id)
    if path.exists():
        write_program_fields(path, display_path(path, config.root), status="recalled")
