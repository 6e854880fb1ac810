"""The kennisbank: every story, research item, tool and event that went out in an issue, as plain
values (``Story``), and the pages that list them: per theme, per province and per partner
(``Listing``), newest first, research and policy ("wat we weten") apart from what partners do.

A partner gets its page whether or not a story of it went out: the page shows its pledge, and a
progress activity without a link of its own links there (see ``pipeline.domain.archive``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipeline.domain import dutch
from pipeline.domain.archive import PARTNERS, PROVINCES, THEMES, event_calendar_path, partner_page_url
from pipeline.domain.config import Config
from pipeline.domain.models import Item
from pipeline.infra.store import SentPlacement
from pipeline.publish.archive import INDEX, ArchivedIssue, shorten

# What "wat we weten" holds on a theme or province page; every other kind is "wat partners doen".
KNOWLEDGE_KINDS = frozenset({"research", "policy"})


@dataclass(frozen=True)
class Link:
    title: str
    path: str  # relative to the site's root; "" where there is no page


@dataclass(frozen=True)
class Story:
    """An item that appeared in the newsletter, with the issues it appeared in (newest first)."""

    id: str
    title: str
    url: str
    summary: str  # plain text, shortened at a word
    partner: Link | None
    source: str | None  # the source's name when it is not a partner (a research institute)
    kind: str | None
    kind_title: str | None
    sector: str | None  # the partner's sector (title)
    themes: tuple[Link, ...]
    provinces: tuple[Link, ...]  # the item's own, else its partner's
    issues: tuple[ArchivedIssue, ...]
    starts: dt.datetime | None = None
    ends: dt.datetime | None = None
    location: str | None = None
    when: str | None = None  # "donderdag 10 december 2026, 19.30-21.30 uur"
    calendar: str | None = None  # an event's .ics, relative to the site's root
    image: str | None = None  # its photo's address, when it may be shown (alt text and consent)
    anchor: str | None = None  # a progress activity's fragment on its partner's page (its link)

    @property
    def knowledge(self) -> bool:
        return self.kind in KNOWLEDGE_KINDS


@dataclass(frozen=True)
class Pledge:
    text: str
    themes: tuple[Link, ...]
    horizon: str | None
    since: str | None  # "1 januari 2026"


@dataclass(frozen=True)
class Listing:
    """A theme, province or partner page: its stories, newest issue first."""

    kind: str  # THEMES, PROVINCES or PARTNERS
    id: str
    title: str
    description: str | None
    website: str | None
    path: str
    stories: tuple[Story, ...]
    pledge: Pledge | None = None

    @property
    def known(self) -> tuple[Story, ...]:
        """Research and policy: "wat we weten"."""
        return tuple(s for s in self.stories if s.knowledge)

    @property
    def done(self) -> tuple[Story, ...]:
        """Everything else: "wat partners doen"."""
        return tuple(s for s in self.stories if not s.knowledge)

    def updated(self, default: dt.datetime) -> dt.datetime:
        return max((i.sent_at for s in self.stories for i in s.issues), default=default)


@dataclass(frozen=True)
class Kennisbank:
    stories: tuple[Story, ...]  # newest issue first, then the issue's own order
    themes: tuple[Listing, ...]
    provinces: tuple[Listing, ...]
    partners: tuple[Listing, ...]


def _page(kind: str, id: str) -> str:
    return f"{kind}/{id}/{INDEX}"


def _story(config: Config, item: Item, issues: tuple[ArchivedIssue, ...]) -> Story:
    tax = config.taxonomy
    partner = config.partners.get(item.partner) if item.partner else None
    kind = tax.kinds.get(item.kind) if item.kind else None
    provinces = item.provinces or ((partner.province,) if partner and partner.province else ())
    tz = config.settings.timezone
    return Story(
        id=item.id,
        title=item.title,
        url=item.url,
        # A feed that repeats the title as its summary says nothing new.
        summary="" if item.summary_text.strip() == item.title else shorten(item.summary_text),
        partner=Link(partner.name, _page(PARTNERS, partner.id)) if partner else None,
        source=config.sources[item.source].name if item.source in config.sources else None,
        kind=item.kind,
        kind_title=kind.title if kind else None,
        sector=tax.sectors.title(partner.sector, partner.sector) if partner else None,
        themes=tuple(Link(tax.themes[t].title, _page(THEMES, t)) for t in item.themes if t in tax.themes),
        provinces=tuple(
            Link(tax.provinces[p].title, _page(PROVINCES, p)) for p in provinces if p in tax.provinces
        ),
        issues=issues,
        starts=item.starts,
        ends=item.ends,
        location=item.location,
        when=dutch.span(item.starts, item.ends, tz) if item.starts else None,
        calendar=event_calendar_path(item.id) if item.starts else None,
        image=item.image.url if item.image is not None and item.image.shown else None,
        anchor=_anchor(config, item),
    )


def _anchor(config: Config, item: Item) -> str | None:
    """The fragment of an item whose link is its partner's page here (a progress activity)."""
    if item.partner and "#" in item.url:
        page, fragment = item.url.split("#", 1)
        if page == partner_page_url(config.settings.archive_url, item.partner):
            return fragment
    return None


def stories(
    config: Config,
    issues: Sequence[ArchivedIssue],
    placements: Iterable[SentPlacement],
    items: Mapping[str, Item],
) -> tuple[Story, ...]:
    """Every item that went out in a published issue, newest issue first, then the issue's order."""
    by_id = {i.id: i for i in issues}
    order = {i.id: n for n, i in enumerate(issues)}  # 0 = newest
    appeared: dict[str, list[tuple[int, int, ArchivedIssue]]] = {}
    for row in placements:
        issue = by_id.get(row.issue)
        if issue is not None and row.item in items:
            appeared.setdefault(row.item, []).append((order[issue.id], row.position, issue))
    found = []
    for item_id, seen in appeared.items():
        seen.sort(key=lambda s: (s[0], s[1]))
        found.append(((seen[0][0], seen[0][1]), _story(config, items[item_id], tuple(s[2] for s in seen))))
    found.sort(key=lambda s: s[0])
    return tuple(story for _key, story in found)


def _pledge(config: Config, partner_id: str, pages: frozenset[str]) -> Pledge | None:
    """The partner's pledge; its themes link to their pages where the kennisbank has one."""
    pledge = config.partners[partner_id].pledge
    if pledge is None:
        return None
    tax = config.taxonomy
    return Pledge(
        text=pledge.text,
        themes=tuple(
            Link(tax.themes[t].title, _page(THEMES, t) if t in pages else "")
            for t in pledge.themes
            if t in tax.themes
        ),
        horizon=tax.horizons.title(pledge.horizon) if pledge.horizon else None,
        since=dutch.date(pledge.since, weekday=False) if pledge.since else None,
    )


def kennisbank(config: Config, shared: tuple[Story, ...]) -> Kennisbank:
    """The theme and province pages (those with a story) and a page for every partner."""
    tax = config.taxonomy
    by_theme: dict[str, list[Story]] = {}
    by_province: dict[str, list[Story]] = {}
    by_partner: dict[str, list[Story]] = {}
    for story in shared:
        for link in story.themes:
            by_theme.setdefault(link.path.split("/")[1], []).append(story)
        for link in story.provinces:
            by_province.setdefault(link.path.split("/")[1], []).append(story)
        if story.partner:
            by_partner.setdefault(story.partner.path.split("/")[1], []).append(story)
    themes = tuple(
        Listing(THEMES, tid, term.title, term.description, None, _page(THEMES, tid), tuple(by_theme[tid]))
        for tid, term in tax.themes.items()
        if tid in by_theme
    )
    provinces = tuple(
        Listing(PROVINCES, pid, term.title, term.description, None, _page(PROVINCES, pid),
                tuple(by_province[pid]))
        for pid, term in tax.provinces.items()
        if pid in by_province
    )  # fmt: skip
    pages = frozenset(by_theme)
    partners = []
    for pid, partner in sorted(config.partners.items(), key=lambda p: p[1].name.lower()):
        sector = tax.sectors.title(partner.sector, partner.sector)
        where = tax.provinces.title(partner.province, "")
        partners.append(
            Listing(PARTNERS, pid, partner.name, " · ".join(x for x in (sector, where) if x), partner.website,
                    _page(PARTNERS, pid), tuple(by_partner.get(pid, ())), _pledge(config, pid, pages))
        )  # fmt: skip
    return Kennisbank(shared, themes, provinces, tuple(partners))
