""" "Wat lezers deden": the clicks on the issues sent in the period, per story, partner and link."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from pipeline.domain.config import Config
from pipeline.domain.models import Item
from pipeline.domain.urls import canonical_url, same_page
from pipeline.infra.store import SentIssue, Store
from pipeline.report.model import (
    ClicksPart,
    EditionClicks,
    IssueClicks,
    LinkClicks,
    PartnerClicks,
    PartnerRow,
    StoryClicks,
)


def _link(config: Config, url: str) -> tuple[str, str]:
    """A link that is no story, as the page shows it: (host and path, what it is when known).

    The query goes: a link can carry a reader's own token (SendGrid's unsubscribe page does), and
    the report is mailed around."""
    canonical = canonical_url(url)
    if canonical is None:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        return (f"{scheme}:" if scheme else "(geen webadres)"), ("E-mail" if scheme == "mailto" else "")
    parts = urlsplit(canonical)
    link = parts.netloc + parts.path
    archive = same_page(config.settings.archive_url) or ""
    if (same_page(canonical) or "").startswith(archive):
        return link, "Webversie of archief"
    if parts.netloc.endswith("sendgrid.net") or "/asm/" in parts.path:
        return link, "Afmelden of voorkeuren"
    for p in config.partners.values():
        site = canonical_url(p.website or "")
        if site and urlsplit(site).netloc == parts.netloc:
            return link, f"Website van {p.name}"
    return link, ""


def clicks_part(
    config: Config,
    store: Store,
    issues: Sequence[SentIssue],
    contributions: Sequence[PartnerRow],
    others: Sequence[Item],
    appeared: Mapping[str, list[str]],
) -> ClicksPart:
    """What readers did with the issues sent in the period: clicks per story, partner and link."""
    wanted = {i.id for i in issues}
    placements: dict[str, list[str]] = defaultdict(list)
    for placed in store.sent_items():
        if placed.issue in wanted:
            placements[placed.issue].append(placed.item)  # in position order
    items = store.get_items({i for ids in placements.values() for i in ids})
    counts: dict[str, list[Hit]] = defaultdict(list)
    for c in store.click_counts(wanted):
        counts[c.issue].append((c.url, c.email, c.clicks))

    readers: set[str] = set()
    links = _OtherLinks(config)
    issue_rows = []
    for issue in issues:
        own = [items[i] for i in placements.get(issue.id, []) if i in items]
        row, issue_readers = _issue_clicks(config, issue, own, counts.get(issue.id, []), links)
        readers |= issue_readers
        issue_rows.append(replace(row, editions=_editions(store, issue.id)))
    everything = [s for i in issue_rows for s in i.stories]
    return ClicksPart(
        issues=tuple(issue_rows),
        partners=_partner_clicks(config, items, everything, contributions, others, appeared),
        links=links.rows(),
        clickers=len(readers),
        clicks=sum(i.clicks for i in issue_rows),
        story_clicks=sum(s.clicks for s in everything),
    )


def _editions(store: Store, issue_id: str) -> tuple[EditionClicks, ...]:
    """The editions of an issue with editions (none for another): readers and clicks, most readers
    first. Labels are Dutch, like the rest of the report."""
    kept = store.sent_editions(issue_id)
    if not kept:
        return ()
    readers = store.edition_counts(issue_id)
    clicked = store.edition_clicks(issue_id)
    rows = [
        EditionClicks(
            key,
            kept[key][0] if key in kept else "iedereen zonder keuze",
            n,
            *clicked.get(key, (0, 0)),
        )
        for key, n in readers.items()
    ]
    rows.sort(key=lambda r: (-r.readers, r.key))
    return tuple(rows)


Hit = tuple[str, str | None, int]  # a link clicked in an issue: (url, the reader's address, clicks)


class _OtherLinks:
    """The clicked links that are no story, over the period's issues: their readers and clicks."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.readers: dict[str, set[str]] = defaultdict(set)
        self.clicks: Counter[str] = Counter()
        self.labels: dict[str, str] = {}

    def add(self, url: str, people: set[str], n: int) -> None:
        link, label = _link(self.config, url)
        self.labels[link] = label
        self.readers[link] |= people
        self.clicks[link] += n

    def rows(self) -> tuple[LinkClicks, ...]:
        """Most clicked first."""
        rows = [LinkClicks(k, self.labels[k], len(self.readers[k]), self.clicks[k]) for k in self.clicks]
        rows.sort(key=lambda r: (-r.clicks, -r.clickers, r.link))
        return tuple(rows)


def _issue_clicks(
    config: Config, issue: SentIssue, own: Sequence[Item], hits: Sequence[Hit], links: _OtherLinks
) -> tuple[IssueClicks, set[str]]:
    """One issue's stories by unique clickers, and the readers who clicked any of its links; the
    clicks on other links go to ``links``."""
    # Matched as pages: the clicked link without UTM or tracking, http or https, is the story.
    story_of = {same_page(item.url): item.id for item in own if same_page(item.url)}
    story_readers: dict[str, set[str]] = defaultdict(set)
    story_clicks: Counter[str] = Counter()
    issue_readers: set[str] = set()
    other_readers: set[str] = set()
    other_clicks = 0
    for url, email, n in hits:
        page = same_page(url)
        item_id = story_of.get(page) if page else None
        people = {email} if email else set()
        issue_readers |= people
        if item_id:
            story_readers[item_id] |= people
            story_clicks[item_id] += n
        else:
            links.add(url, people, n)
            other_readers |= people
            other_clicks += n
    stories = [
        StoryClicks(
            issue=issue.id,
            position=position,
            item=item.id,
            title=item.title,
            url=item.url,
            partner=item.partner,
            source=_source_name(config, item),
            clickers=len(story_readers[item.id]),
            clicks=story_clicks[item.id],
        )
        for position, item in enumerate(own)
    ]
    stories.sort(key=lambda s: (-s.clickers, -s.clicks, s.position))
    row = IssueClicks(
        id=issue.id,
        subject=issue.subject,
        sent_on=issue.sent_at.astimezone(config.settings.timezone).date(),
        stories=tuple(stories),
        clickers=len(issue_readers),
        clicks=sum(n for _url, _story, n in hits),
        other_clickers=len(other_readers),
        other_clicks=other_clicks,
    )
    return row, issue_readers


def _partner_clicks(
    config: Config,
    items: Mapping[str, Item],
    everything: Sequence[StoryClicks],
    contributions: Sequence[PartnerRow],
    others: Sequence[Item],
    appeared: Mapping[str, list[str]],
) -> tuple[PartnerClicks, ...]:
    """Each partner (or other source) with stories in the period's issues, most readers first."""
    contributed = {r.id: r for r in contributions}
    by_source: dict[str, list[Item]] = defaultdict(list)
    for item in others:
        by_source[item.source].append(item)
    groups: dict[tuple[bool, str], list[StoryClicks]] = defaultdict(list)
    for s in everything:
        item = items[s.item]
        groups[(True, item.partner) if item.partner else (False, item.source)].append(s)
    partner_rows = []
    for (is_partner, key), own_stories in groups.items():
        if is_partner:
            mine_row = contributed.get(key)
            name = mine_row.name if mine_row else key
            made, featured = (mine_row.items, mine_row.featured) if mine_row else (0, 0)
        else:
            name = config.sources[key].name if key in config.sources else key
            mine = by_source.get(key, [])
            made, featured = len(mine), sum(1 for i in mine if i.id in appeared)
        partner_rows.append(
            PartnerClicks(
                id=key,
                name=name,
                partner=is_partner,
                items=made,
                featured=featured,
                stories=len(own_stories),
                clickers=sum(s.clickers for s in own_stories),
                clicks=sum(s.clicks for s in own_stories),
            )
        )
    partner_rows.sort(key=lambda r: (-r.clickers, -r.clicks, not r.partner, r.name.casefold(), r.id))
    return tuple(partner_rows)


def _source_name(config: Config, item: Item) -> str:
    """Who a story is from: its partner's name, or the other source's (its id when neither is known)."""
    if item.partner:
        p = config.partners.get(item.partner)
        return p.name if p else item.partner
    s = config.sources.get(item.source)
    return s.name if s else item.source
