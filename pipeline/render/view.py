"""The view: the issue as the three templates receive it (plain typed values, every rule about what may
be shown applied in Python): the stories by section, the featured one, an edition's own and the rest,
the partners who joined since the last issue."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipeline.domain import dutch
from pipeline.domain.archive import event_calendar_url
from pipeline.domain.config import Config, Logo
from pipeline.domain.editions import Choice, Part, arrange, issue_tags
from pipeline.domain.errors import InputInvalid, Problem
from pipeline.domain.i18n import _
from pipeline.domain.issues import Entry, Issue
from pipeline.domain.markup import markdown_to_html, plain_title
from pipeline.domain.models import Image, Item
from pipeline.render.text import add_utm, fragment_text

NEW_PARTNER_DAYS = 62  # without a previous issue: partners who joined in about the last two months


@dataclass(frozen=True)
class Story:
    """One entry as the templates show it: every rule (overrides, image consent) already applied."""

    id: str | None
    section: str
    title: str  # plain text; the templates escape it
    url: str
    summary_html: str  # sanitised
    summary_text: str
    source: str | None  # the partner's or source's name
    kind: str | None
    kind_title: str | None
    image: Image | None  # only with consent and alt text
    when: str | None  # Dutch date and time, for events
    location: str | None
    ervaringsdeskundigen: bool = False
    themes: tuple[str, ...] = ()  # theme titles
    calendar: str | None = None  # an event's .ics in the archive ("zet in je agenda"), once published


@dataclass(frozen=True)
class Block:
    """A section of the issue with the stories it shows (the featured one excluded)."""

    id: str
    title: str
    description: str | None
    stories: tuple[Story, ...]
    is_agenda: bool = False
    # An edition (pipeline.domain.editions): ``stories`` are the reader's own, ``more`` the rest,
    # folded under "Meer uit het land" (empty with 'rest: omit', and in the issue as it is).
    more: tuple[Story, ...] = ()
    personalised: bool = False


@dataclass(frozen=True)
class NewPartner:
    name: str
    sector: str
    province: str
    website: str | None
    joined: dt.date


@dataclass(frozen=True)
class View:
    """Everything the three templates show. Personal parts are stand-ins (see ``_STANDINS`` in
    ``pipeline.render``)."""

    issue_id: str
    newsletter: str
    subject: str
    preheader: str
    date: dt.date | None  # None: no send_at and an id that names no month
    date_text: str  # "donderdag 10 december 2026", or ""
    intro_html: str
    intro_text: str
    featured: Story | None
    featured_title: str  # the featured section's title ("Uitgelicht")
    sections: tuple[Block, ...]
    new_partners: tuple[NewPartner, ...]
    postal_address: str
    reply_to: str | None
    archive_url: str
    web_url: str  # this issue in the archive ("view in browser")
    token_name: str = "nl-token-name"
    unsubscribe_url: str = "https://nl-token.invalid/unsubscribe"
    preferences_url: str = "https://nl-token.invalid/preferences"
    logo: Logo | None = None  # newsletter.logo: the image above the title in the header


def issue_date(issue: Issue, tz: dt.tzinfo) -> dt.date | None:
    """The date the issue goes out: ``send_at``, else the first of the month its id names (2026-12)."""
    if issue.send_at is not None:
        return issue.send_at.astimezone(tz).date()
    m = re.match(r"^(\d{4})-(\d{2})\b", issue.id)
    if m and 1 <= int(m.group(2)) <= 12:
        return dt.date(int(m.group(1)), int(m.group(2)), 1)
    return None


def _shown_image(image: Image | None) -> Image | None:
    return image if image is not None and image.shown else None


# Images inside a feed's summary carry no consent and often no alt text: never shown.
_IMG = re.compile(r"<img\b[^>]*>", re.I)


def _story(config: Config, section: str, entry: Entry, item: Item | None, tag: Callable[[str], str]) -> Story:
    tz = config.settings.timezone
    tax = config.taxonomy
    if entry.summary is not None:
        summary_html = markdown_to_html(entry.summary)
    elif item is not None:
        summary_html = _IMG.sub("", item.summary_html)
    else:
        summary_html = ""
    partner_id = entry.partner or (item.partner if item else None)
    source = None
    if partner_id and partner_id in config.partners:
        source = config.partners[partner_id].name
    elif item is not None and item.source in config.sources:
        source = config.sources[item.source].name
    kind = item.kind if item else None
    when = location = None
    if item is not None and item.starts is not None:
        when = dutch.span(item.starts, item.ends, tz)
        location = item.location
    return Story(
        id=item.id if item else None,
        section=section,
        title=plain_title(entry.title) if entry.title else (item.title if item else ""),
        url=entry.url or (item.url if item else ""),
        summary_html=summary_html,
        summary_text=fragment_text(summary_html, tag),  # links kept, unlike item.summary_text
        source=source,
        kind=kind,
        kind_title=tax.kinds.title(kind),
        image=_shown_image(entry.image or (item.image if item else None)),
        when=when,
        location=location,
        ervaringsdeskundigen=bool(item and item.ervaringsdeskundigen),
        themes=tax.themes.titles(item.themes if item else ()),
        calendar=event_calendar_url(config.settings.archive_url, item.id) if when and item else None,
    )


def new_partners(config: Config, on: dt.date | None, previous: dt.date | None) -> tuple[NewPartner, ...]:
    """Partners who joined after the previous issue (or in the last 62 days), up to the issue's date."""
    if on is None:
        return ()
    since = previous if previous is not None else on - dt.timedelta(days=NEW_PARTNER_DAYS)
    tax = config.taxonomy
    found = [
        NewPartner(
            p.name,
            tax.sectors.title(p.sector, p.sector) or p.sector,
            tax.provinces.title(p.province, p.province) or p.province,
            p.website,
            p.joined,
        )
        for p in config.partners.values()
        if p.joined is not None and since < p.joined <= on
    ]
    return tuple(sorted(found, key=lambda p: (p.joined, p.name)))


def all_stories(config: Config, issue: Issue, items: Mapping[str, Item]) -> dict[str, list[Story]]:
    """Every entry as the templates show it, by section (once for all editions of an issue)."""

    def tag(url: str) -> str:
        return add_utm(url, config.settings.utm, issue.id)

    return {
        section.id: [
            _story(config, section.id, e, items.get(e.item) if e.item else None, tag) for e in section.items
        ]
        for section in issue.sections
    }


def _blocks(
    config: Config, issue: Issue, stories: Mapping[str, list[Story]], parts: Mapping[str, Part] | None
) -> tuple[Story | None, str, tuple[Block, ...]]:
    """(the featured story, its section's title, the other sections), each section as ``parts``
    arranges it for one edition (None: the issue as it is)."""
    featured: Story | None = None
    featured_title = ""
    blocks = []
    for section in issue.sections:
        term = config.taxonomy.sections.get(section.id)
        shown = list(stories[section.id])
        more: list[Story] = []
        part = parts.get(section.id) if parts is not None else None
        if part is not None and part.personalised:
            shown, more = [shown[i] for i in part.own], [shown[i] for i in part.more]
        if term is not None and term.featured and shown and featured is None:
            featured, shown = shown[0], shown[1:]
            featured_title = term.title
        if shown or more:
            blocks.append(
                Block(
                    section.id,
                    term.title if term else section.id,
                    term.description if term else None,
                    tuple(shown),
                    is_agenda=bool(term and term.is_agenda),
                    more=tuple(more),
                    personalised=bool(part and part.personalised),
                )
            )
    return featured, featured_title, tuple(blocks)


def build_view(
    config: Config,
    issue: Issue,
    items: Mapping[str, Item],
    previous_issue_date: dt.date | dt.datetime | None = None,
    *,
    choice: Choice | None = None,
    stories: Mapping[str, list[Story]] | None = None,
) -> View:
    """The issue as the templates see it (for a reader with ``choice``: her edition); an entry whose
    item is missing is an error with its line."""
    s = config.settings
    missing = [
        Problem(issue.path, e.line, _(
            "item '{item}' is not in the state database; run 'newsletter collect', or remove the entry"
            " (or give it title, summary and url)").format(item=e.item))
        for _section, e in issue.entries() if e.item and e.item not in items
    ]  # fmt: skip
    if missing:
        raise InputInvalid(missing)
    previous: dt.date | None = previous_issue_date
    if isinstance(previous_issue_date, dt.datetime):
        p = previous_issue_date
        previous = p.astimezone(s.timezone).date() if p.tzinfo else p.date()
    on = issue_date(issue, s.timezone)

    def tag(url: str) -> str:
        return add_utm(url, s.utm, issue.id)

    stories = stories or all_stories(config, issue, items)
    parts = arrange(issue, issue_tags(config, issue, items), choice) if choice is not None else None
    featured, featured_title, blocks = _blocks(config, issue, stories, parts)
    intro_html = markdown_to_html(issue.intro or "")
    newsletter = s.title
    date_text = dutch.date(on) if on else ""
    return View(
        issue_id=issue.id,
        newsletter=newsletter,
        subject=issue.subject or (f"{newsletter}, {dutch.month(on)}" if on else newsletter),
        preheader=issue.preheader or "",
        date=on,
        date_text=date_text,
        intro_html=intro_html,
        intro_text=fragment_text(intro_html, tag),
        featured=featured,
        featured_title=featured_title,
        sections=blocks,
        new_partners=new_partners(config, on, previous),
        postal_address=s.postal_address,
        reply_to=s.reply_to,
        archive_url=s.archive_url,
        web_url=s.issue_url(issue.id),
        logo=s.logo,
    )
