"""The approval rules (``pipeline.domain.approval``) applied to what the outside holds: the templates
on disk, the items and the list sends in the state database, and the issue file's ``status``."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping

import jinja2
from jinja2 import meta

from pipeline.domain import approval
from pipeline.domain.config import Config
from pipeline.domain.errors import display_path
from pipeline.domain.issues import Issue, issue_path
from pipeline.domain.models import IssueState, Item
from pipeline.infra.instance import write_program_fields
from pipeline.infra.store import Store
from pipeline.infra.templating import environment


def template_sources(config: Config) -> dict[str, str | None]:
    """sha256 of each template the issue is rendered with, by name: the instance's ``templates/``
    where it has the file, else the package's; the templates they import or include as well.

    A missing template counts as missing (null); one that does not parse counts by its text alone
    (rendering it names the line).
    """
    env = environment(config.root / "templates")
    assert env.loader is not None  # the environment always has its loaders
    found: dict[str, str | None] = {}
    todo = list(approval.ISSUE_TEMPLATES)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        try:
            source = env.loader.get_source(env, name)[0]
        except jinja2.TemplateNotFound:
            found[name] = None
            continue
        found[name] = hashlib.sha256(source.encode("utf-8")).hexdigest()
        try:
            todo.extend(ref for ref in meta.find_referenced_templates(env.parse(source)) if ref)
        except jinja2.TemplateSyntaxError:
            continue
    return found


def fingerprint(config: Config, issue: Issue, items: Mapping[str, Item]) -> str:
    """The fingerprint of the content to be sent (``pipeline.domain.approval.content_fingerprint``),
    with the templates as they are now."""
    return approval.content_fingerprint(config, issue, items, template_sources(config))


def issue_items(store: Store, issue: Issue) -> dict[str, Item]:
    """The items an issue refers to that the state database has."""
    return store.get_items(e.item for _, e in issue.entries() if e.item)


def approval_state(
    config: Config, store: Store, issue: Issue, current: str | None = None, now: dt.datetime | None = None
) -> IssueState:
    """Where ``issue`` stands. ``current`` is its fingerprint when the caller has it already."""
    sent = store.sent_issue(issue.id)
    recalled = store.recalls(issue.id) if sent is None else []  # a sent issue's state needs no more

    def now_current() -> str:
        return current if current is not None else fingerprint(config, issue, issue_items(store, issue))

    last_recall = recalled[-1].recalled_at if recalled else None
    return approval.state(issue, sent, last_recall, now_current, now)


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
