""" "My contributions": a partner's stories (where each stands: sent in, in which issue, readers'
clicks), its pledge beside what it reported, and what is still due."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.domain.config import Config
from pipeline.domain.models import Submission
from pipeline.domain.urls import canonical_url
from pipeline.infra.instance import check_issue_file, read_monitoring
from pipeline.infra.store import Store
from pipeline.portal import stories

LOCKED = ("approved", "sent")  # a story in such an issue is the editors' now


@dataclass(frozen=True)
class Story:
    id: str
    title: str
    published: str
    issue: str | None  # the issue it is in (any status)
    status: str | None  # that issue's status
    clicks: int
    ok: bool  # False: changed by hand and has a mistake now


@dataclass(frozen=True)
class Overview:
    stories: list[Story] = field(default_factory=list)
    pledge: str | None = None
    reported: list[str] = field(default_factory=list)  # the periods reported, e.g. "2025", "2026-H1"
    due: list[int] = field(default_factory=list)  # years still without a progress file
    withdrawn: int = 0


def _issues(config: Config) -> dict[str, tuple[str, str]]:
    """item id -> (issue id, status) over the instance's issue files (the latest issue wins)."""
    out: dict[str, tuple[str, str]] = {}
    for path in sorted((config.root / "issues").glob("*.yaml")):
        issue, _problems = check_issue_file(path, config, path.name)
        if issue is None:
            continue
        for _section, item in issue.placements():
            out[item] = (issue.id, issue.status)
    return out


def locked_in(config: Config, open_store: Callable[[], Store], sub: Submission) -> str | None:
    """The approved (or sent) issue the story is in, or None: then the partner may still change it."""
    url = canonical_url(sub.url) or sub.url
    with open_store() as store:
        ids = store.item_ids_by_url([url])
    if url not in ids:
        return None
    found = _issues(config).get(ids[url])
    return found[0] if found and found[1] in LOCKED else None


def overview(config: Config, store: Store, partner: str, now: dt.datetime) -> Overview:
    subs: list[tuple[str, bytes, Submission | None]] = []
    for story_id in stories.story_ids(config, partner):
        found = stories.load(config, partner, story_id)
        if found is not None:
            subs.append((story_id, *found))
    urls = {sid: canonical_url(sub.url) or sub.url for sid, _data, sub in subs if sub is not None}
    ids = store.item_ids_by_url(list(urls.values()))
    placed = _issues(config)
    sent = [issue for issue, status in placed.values() if status == "sent"]
    clicks: dict[str, int] = {}
    for count in store.click_counts(sent):
        url = canonical_url(count.url) or count.url
        clicks[url] = clicks.get(url, 0) + count.clicks
    out = []
    tz = config.settings.timezone
    for sid, _data, sub in subs:
        if sub is None:
            out.append(Story(sid, sid, "", None, None, 0, False))
            continue
        url = urls[sid]
        issue, status = placed.get(ids.get(url, ""), (None, None))
        out.append(
            Story(
                sid,
                sub.title,
                f"{sub.published.astimezone(tz):%Y-%m-%d}",
                issue,
                status,
                clicks.get(url, 0),
                True,
            )
        )
    monitoring = read_monitoring(config)
    reported = sorted(str(p) for p in monitoring.reported(partner))
    this_year = now.astimezone(tz).year
    years_done = {p.year for p in monitoring.reported(partner)}
    due = [y for y in (this_year - 1, this_year) if y not in years_done]
    p = config.partners[partner]
    withdrawn_folder = stories.folder(config, partner) / stories.WITHDRAWN
    withdrawn = len(list(withdrawn_folder.glob("*.yaml"))) if withdrawn_folder.is_dir() else 0
    return Overview(out, p.pledge.text if p.pledge else None, reported, due, withdrawn)
