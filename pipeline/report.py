"""Report ("Partners in beeld"): what partners contributed in a period, for the coordinator.

The order is fixed: ``build_report`` reads the config and the state database and works out every
number once, into a frozen ``Report``; ``write_report`` lays that one value out as a single
self-contained HTML page (inline SVG charts, no scripts, nothing fetched) and as CSV files. Both
outputs are written from the same ``Report``, so the page and the spreadsheets cannot disagree.

What counts (docs/report.md says the same for users):
- an item is in the period when its ``published`` date, in the instance's time zone, is;
- "featured" means the item appeared in an issue sent to the list (at any time up to now);
- breakdowns (sector, province, theme, kind, horizon, ervaringsdeskundigen) count partners' items;
  items from other sources (research institutes) appear only in the monthly totals;
- a partner is silent when their last item (or, with none, the day they joined) is more than
  ``report.silent_months`` months before the end of the period;
- the monitoring (partners' progress on their pledge, ``monitoring/``) counts a progress file when
  the middle day of its period falls in the report's period (``pipeline.domain.monitoring``), and
  counts each activity once in every view (its first theme, its horizon, its partner's sector, its
  province), so that every view adds up to the same totals. Activities are not contributions to
  the newsletter: the candidates collect makes of them stay out of the counts above;
- what readers did: the clicks on the issues sent in the period (SendGrid's click events, kept by
  the event webhook), whenever they came, so that reports that follow each other count each click
  once. A click belongs to a story when its link, without utm_* and tracking parameters, is the
  story's URL; the rest (the web version, a partner's website) are "other links". A partner's
  readers are the unique clickers of each of its stories, added up. Opens are not counted: mail
  apps open mail by themselves (Apple's Mail Privacy Protection), so an open says nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pygal
from markupsafe import Markup
from pygal.style import Style

from pipeline.domain import dutch
from pipeline.domain.config import PROVINCES, Config, Term
from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _, ngettext
from pipeline.domain.models import Item
from pipeline.domain.monitoring import ORIGIN as MONITORING
from pipeline.domain.monitoring import Monitoring, Progress, Reach, activity_id, counts_in
from pipeline.domain.urls import canonical_url, same_page
from pipeline.infra.files import atomic_write, spreadsheet_safe
from pipeline.infra.instance import read_monitoring
from pipeline.infra.store import SentIssue, Store
from pipeline.infra.templating import environment, render_template

UNKNOWN = "onbekend"  # the id of the "not given" bucket in every breakdown


class ReportError(PipelineError):
    "The report cannot be made for the requested period."


# -- the report's numbers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """One row of a breakdown: how many partner items carry this sector, theme, kind, ..."""

    id: str
    title: str
    items: int
    featured: int


@dataclass(frozen=True)
class Month:
    first_day: dt.date
    partner_items: int
    other_items: int
    featured: int  # of this month's items (partners' and others'), how many were in a sent issue

    @property
    def collected(self) -> int:
        return self.partner_items + self.other_items

    @property
    def title(self) -> str:
        return dutch.month(self.first_day)


@dataclass(frozen=True)
class PartnerRow:
    id: str
    name: str
    sector: str  # the sector's title
    province: str  # the province's title
    website: str | None
    joined: dt.date | None
    items: int  # published in the period
    featured: int  # of those, in a sent issue
    last_contribution: dt.date | None  # the latest item up to the period's end, however old
    issues: tuple[str, ...]  # ids of the sent issues the period's items appeared in, in send order
    registered: bool = True  # False: items carry a partner id that sources.yaml no longer lists
    silent: bool = False  # on the call list
    quiet_months: int | None = None  # whole months since the last item (or joining); None: no date


@dataclass(frozen=True)
class Totals:
    partner_items: int
    other_items: int
    featured: int  # partner items in a sent issue
    issues_sent: int  # issues sent to the list within the period
    partners: int  # partners in the registry
    active_partners: int  # partners with at least one item in the period
    ervaringsdeskundigen: int  # partner items with people with lived experience involved

    @property
    def ervaringsdeskundigen_share(self) -> float:
        return self.ervaringsdeskundigen / self.partner_items if self.partner_items else 0.0


@dataclass(frozen=True)
class ReachRow:
    """One row of a monitoring view: the activities counted under one theme, horizon, sector or province."""

    id: str
    title: str
    activities: int
    children: int
    families: int
    professionals: int
    ervaringsdeskundigen: int  # of those activities, with people with lived experience


@dataclass(frozen=True)
class ActivityRow:
    """One activity of a counted progress file, with the titles the page shows."""

    partner: str
    partner_name: str
    period: str  # 2026, 2026-H1
    period_title: str  # "2026", "eerste helft 2026"
    title: str
    summary: str
    effects: str | None  # in the partner's own words: shown as text, never as markup
    theme_ids: tuple[str, ...]  # the first is where the views count it
    themes: tuple[str, ...]  # titles
    horizon_id: str | None
    horizon: str | None  # title
    province_id: str
    province: str  # title
    reach: Reach
    ervaringsdeskundigen: bool
    url: str | None
    featured: bool  # its candidate appeared in an issue sent to the list
    path: str


@dataclass(frozen=True)
class PledgeRow:
    """A partner with a pledge, or with progress counted: what it promised beside what it did."""

    id: str
    name: str
    sector: str  # titles
    province: str
    website: str | None
    pledge: str | None
    pledge_themes: tuple[str, ...]  # titles
    pledge_horizon: str | None
    since: dt.date | None
    asked: bool  # its pledge asks for a report in this period (it started on or before the end)
    periods: tuple[str, ...]  # the periods of its counted files
    activities: tuple[ActivityRow, ...]
    reach: Reach
    ervaringsdeskundigen: int
    items: int  # its contributions to the newsletter in the period (as under "Alle partners")
    featured: int
    not_counted: tuple[str, ...]  # its progress files with errors

    @property
    def reported(self) -> bool:
        return bool(self.periods)


@dataclass(frozen=True)
class MonitoringTotals:
    files: int  # progress files counted
    partners: int  # asked to report, or reported anyway
    reported: int
    activities: int
    reach: Reach
    ervaringsdeskundigen: int  # activities with people with lived experience
    featured: int  # activities featured in a sent issue

    @property
    def ervaringsdeskundigen_share(self) -> float:
        return self.ervaringsdeskundigen / self.activities if self.activities else 0.0


@dataclass(frozen=True)
class MonitoringPart:
    """ "Voortgang op de toezeggingen": the partners' progress files counted in the period."""

    totals: MonitoringTotals
    periods: tuple[str, ...]  # the periods of the counted files, in order
    themes: tuple[ReachRow, ...]
    horizons: tuple[ReachRow, ...]  # empty when the taxonomy has no horizons
    sectors: tuple[ReachRow, ...]
    provinces: tuple[ReachRow, ...]
    partners: tuple[PledgeRow, ...]  # by name
    missing: tuple[PledgeRow, ...]  # asked and not reported: the second call list, by name
    not_counted: tuple[str, ...]  # progress files with errors, not counted


@dataclass(frozen=True)
class StoryClicks:
    """One story of a sent issue: how many readers clicked it, and how often."""

    issue: str
    position: int  # in the issue, from 0
    item: str
    title: str
    url: str
    partner: str | None  # the partner's id; None: another source's story
    source: str  # the partner's name, or the other source's
    clickers: int  # unique readers
    clicks: int


@dataclass(frozen=True)
class IssueClicks:
    """One issue sent in the period, its stories by unique clickers (most first)."""

    id: str
    subject: str
    sent_on: dt.date  # in the instance's time zone
    stories: tuple[StoryClicks, ...]
    clickers: int  # unique readers who clicked any link of the issue
    clicks: int  # every click, on stories and other links
    other_clickers: int  # unique readers who clicked a link that is no story
    other_clicks: int


@dataclass(frozen=True)
class PartnerClicks:
    """A partner (or another source) with stories in the period's issues: read beside contributed."""

    id: str
    name: str
    partner: bool  # False: another source (a research institute's feed)
    items: int  # contributed in the period (as under "Alle partners")
    featured: int
    stories: int  # its stories in the issues sent in the period
    clickers: int  # the unique clickers of each of those stories, added up
    clicks: int


@dataclass(frozen=True)
class LinkClicks:
    """A clicked link that is no story of its issue (the web version, a partner's website, ...)."""

    link: str  # host and path: no query, which may carry a reader's token
    label: str  # what it is, when known ("Webversie of archief"), else ""
    clickers: int  # unique readers over the period's issues
    clicks: int


@dataclass(frozen=True)
class ClicksPart:
    """ "Wat lezers deden": the clicks on the issues sent in the period."""

    issues: tuple[IssueClicks, ...]  # in send order
    partners: tuple[PartnerClicks, ...]  # most readers first
    links: tuple[LinkClicks, ...]  # the other links, most clicked first
    clickers: int  # unique readers who clicked anything in the period's issues: the headline
    clicks: int
    story_clicks: int

    @property
    def other_clicks(self) -> int:
        return self.clicks - self.story_clicks

    @property
    def stories(self) -> int:
        return sum(len(i.stories) for i in self.issues)

    @property
    def stories_clicked(self) -> int:
        return sum(1 for i in self.issues for s in i.stories if s.clicks)


@dataclass(frozen=True)
class Report:
    title: str
    start: dt.date  # inclusive
    end: dt.date  # inclusive
    silent_after: int  # report.silent_months
    totals: Totals
    months: tuple[Month, ...]
    sectors: tuple[Count, ...]
    provinces: tuple[Count, ...]  # the twelve, landelijk, then any other id found
    themes: tuple[Count, ...]
    kinds: tuple[Count, ...]
    horizons: tuple[Count, ...]  # empty when the taxonomy has no horizons
    partners: tuple[PartnerRow, ...]  # every partner, by name
    silent: tuple[PartnerRow, ...]  # the call list, longest silent first
    new: tuple[PartnerRow, ...]  # joined within the period, newest first
    monitoring: MonitoringPart | None = None  # None: no partner has a pledge and no progress file exists
    clicks: ClicksPart | None = None  # None: no click event ever came in (no event webhook yet)

    def partner_clickers(self, partner_id: str) -> int:
        """A partner's readers in the period (its stories' unique clickers added up); 0 without clicks."""
        for row in self.clicks.partners if self.clicks else ():
            if row.partner and row.id == partner_id:
                return row.clickers
        return 0


# -- building it ----------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (or earlier), clamped to the month's last day (31 → 30)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, d)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def months_between(earlier: dt.date, later: dt.date) -> int:
    """Whole months from ``earlier`` to ``later`` (0 when less than a month)."""
    n = (later.year - earlier.year) * 12 + later.month - earlier.month
    return n - 1 if later.day < earlier.day else n


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last twelve months: the whole eleven before this one, and this month up to today.

    Whole calendar months make the monthly chart's bars comparable; only the last one is partial.
    """
    return add_months(today.replace(day=1), -11), today


def _ordered(terms: Mapping[str, Term], counts: Counter[str], featured: Counter[str]) -> tuple[Count, ...]:
    """Every taxonomy term in the taxonomy's order (zero rows too: a gap is news), then ids the
    taxonomy no longer has, then the "not given" bucket when it is not empty."""
    rows = [Count(t.id, t.title, counts[t.id], featured[t.id]) for t in terms.values()]
    extra = sorted(k for k in counts if k not in terms and k != UNKNOWN)
    rows += [Count(k, k, counts[k], featured[k]) for k in extra]
    if counts[UNKNOWN]:
        rows.append(Count(UNKNOWN, "Niet aangegeven", counts[UNKNOWN], featured[UNKNOWN]))
    return tuple(rows)


def _provinces(config: Config) -> dict[str, Term]:
    # The twelve in the order people know them, then landelijk, whatever order sources.yaml uses.
    terms = config.taxonomy.provinces
    ordered = {p: terms[p] for p in (*PROVINCES, "landelijk") if p in terms}
    ordered.update({k: v for k, v in terms.items() if k not in ordered})
    return ordered


def build_report(
    config: Config, store: Store, *, start: dt.date, end: dt.date, monitoring: Monitoring | None = None
) -> Report:
    """Work out every number of the report for ``start``..``end`` (both days included).

    ``monitoring``: the progress files, checked (default: read from the instance's ``monitoring/``).
    """
    if start > end:
        raise ReportError(
            _("the period starts ({start}) after it ends ({end})").format(start=start, end=end),
            _("swap --from and --to, or leave one out"),
        )
    tz = config.settings.timezone
    since = dt.datetime.combine(start, dt.time(), tz)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz)
    # Progress activities are candidates, not contributions: the monitoring counts them itself.
    items = store.items(since=since, until=until, exclude_origin=MONITORING)

    # Which sent issues each item appeared in, in send order.
    sent = store.sent_issues()
    order = {row.id: i for i, row in enumerate(sent)}
    appeared: dict[str, list[str]] = defaultdict(list)
    for row in store.sent_items():
        appeared[row.item].append(row.issue)
    for issues in appeared.values():
        issues.sort(key=lambda i: order.get(i, len(order)))
    sent_in_period = [row for row in sent if since <= row.sent_at < until]
    issues_sent = len(sent_in_period)

    partners = config.partners
    partner_items = [i for i in items if i.partner]
    other = [i for i in items if not i.partner]

    def count(keys_of: Iterable[tuple[Item, Iterable[str]]]) -> tuple[Counter[str], Counter[str]]:
        counts: Counter[str] = Counter()
        featured: Counter[str] = Counter()
        for item, keys in keys_of:
            for key in set(keys) or {UNKNOWN}:
                counts[key] += 1
                featured[key] += item.id in appeared
        return counts, featured

    def sector(item: Item) -> list[str]:
        p = partners.get(item.partner or "")
        return [p.sector] if p else []

    def provinces(item: Item) -> Iterable[str]:
        # Where the work happens; a story that does not say counts where its partner is.
        if item.provinces:
            return item.provinces
        p = partners.get(item.partner or "")
        return [p.province] if p else []

    tax = config.taxonomy
    sectors = _ordered(tax.sectors, *count((i, sector(i)) for i in partner_items))
    province_rows = _ordered(_provinces(config), *count((i, provinces(i)) for i in partner_items))
    themes = _ordered(tax.themes, *count((i, i.themes) for i in partner_items))
    kinds = _ordered(tax.kinds, *count((i, [i.kind] if i.kind else []) for i in partner_items))
    horizons = (
        _ordered(tax.horizons, *count((i, [i.horizon] if i.horizon else []) for i in partner_items))
        if tax.horizons
        else ()
    )

    months = _months(start, end, items, appeared, tz)
    rows = _partner_rows(config, store, partner_items, appeared, end, until)
    # Never heard from first (longest a member first), then the longest silent: the order in which
    # the coordinator should call.
    silent = sorted(
        (r for r in rows if r.silent),
        key=lambda r: (
            r.last_contribution is not None,
            r.last_contribution or r.joined or dt.date.min,
            r.name.casefold(),
        ),
    )
    joined = [r for r in rows if r.joined and start <= r.joined <= end]
    new = sorted(joined, key=lambda r: (r.joined or start, r.name), reverse=True)
    totals = Totals(
        partner_items=len(partner_items),
        other_items=len(other),
        featured=sum(1 for i in partner_items if i.id in appeared),
        issues_sent=issues_sent,
        partners=len(partners),
        active_partners=sum(1 for r in rows if r.registered and r.items),
        ervaringsdeskundigen=sum(1 for i in partner_items if i.ervaringsdeskundigen),
    )
    if monitoring is None:
        monitoring = read_monitoring(config)
    part = None
    if monitoring.checked or any(p.pledge for p in partners.values()):
        part = _monitoring(config, monitoring, start, end, rows, appeared)
    clicks = _clicks(config, store, sent_in_period, rows, other, appeared) if store.has_clicks() else None
    return Report(
        title=config.settings.title,
        start=start,
        end=end,
        silent_after=config.settings.silent_months,
        totals=totals,
        months=months,
        sectors=sectors,
        provinces=province_rows,
        themes=themes,
        kinds=kinds,
        horizons=horizons,
        partners=tuple(rows),
        silent=tuple(silent),
        new=tuple(new),
        monitoring=part,
        clicks=clicks,
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


def _clicks(
    config: Config,
    store: Store,
    issues: Sequence[SentIssue],
    contributions: Sequence[PartnerRow],
    others: Sequence[Item],
    appeared: Mapping[str, list[str]],
) -> ClicksPart:
    """What readers did with the issues sent in the period: clicks per story, partner and link."""
    tz = config.settings.timezone
    wanted = {i.id for i in issues}
    placements: dict[str, list[str]] = defaultdict(list)
    for placed in store.sent_items():
        if placed.issue in wanted:
            placements[placed.issue].append(placed.item)  # in position order
    items = store.get_items({i for ids in placements.values() for i in ids})
    counts: dict[str, list[tuple[str, str | None, int]]] = defaultdict(list)
    for c in store.click_counts(wanted):
        counts[c.issue].append((c.url, c.email, c.clicks))

    readers: set[str] = set()
    link_readers: dict[str, set[str]] = defaultdict(set)
    link_clicks: Counter[str] = Counter()
    labels: dict[str, str] = {}
    issue_rows = []
    for issue in issues:
        own = [items[i] for i in placements.get(issue.id, []) if i in items]
        # Matched as pages: the clicked link without UTM or tracking, http or https, is the story.
        story_of = {same_page(item.url): item.id for item in own if same_page(item.url)}
        story_readers: dict[str, set[str]] = defaultdict(set)
        story_clicks: Counter[str] = Counter()
        issue_readers: set[str] = set()
        other_readers: set[str] = set()
        other_clicks = 0
        for url, email, n in counts.get(issue.id, []):
            page = same_page(url)
            item_id = story_of.get(page) if page else None
            people = {email} if email else set()
            issue_readers |= people
            if item_id:
                story_readers[item_id] |= people
                story_clicks[item_id] += n
            else:
                link, label = _link(config, url)
                labels[link] = label
                link_readers[link] |= people
                link_clicks[link] += n
                other_readers |= people
                other_clicks += n
        readers |= issue_readers
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
        issue_rows.append(
            IssueClicks(
                id=issue.id,
                subject=issue.subject,
                sent_on=issue.sent_at.astimezone(tz).date(),
                stories=tuple(stories),
                clickers=len(issue_readers),
                clicks=sum(n for _url, _story, n in counts.get(issue.id, [])),
                other_clickers=len(other_readers),
                other_clicks=other_clicks,
            )
        )

    everything = [s for i in issue_rows for s in i.stories]
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
    links = [LinkClicks(k, labels[k], len(link_readers[k]), link_clicks[k]) for k in link_clicks]
    links.sort(key=lambda r: (-r.clicks, -r.clickers, r.link))
    return ClicksPart(
        issues=tuple(issue_rows),
        partners=tuple(partner_rows),
        links=tuple(links),
        clickers=len(readers),
        clicks=sum(i.clicks for i in issue_rows),
        story_clicks=sum(s.clicks for s in everything),
    )


def _source_name(config: Config, item: Item) -> str:
    """Who a story is from: its partner's name, or the other source's (its id when neither is known)."""
    if item.partner:
        p = config.partners.get(item.partner)
        return p.name if p else item.partner
    s = config.sources.get(item.source)
    return s.name if s else item.source


def _reach_rows(
    terms: Mapping[str, Term], counted: Iterable[tuple[str | None, ActivityRow]]
) -> tuple[ReachRow, ...]:
    """Every term in order (zero rows too), then ids no longer in the taxonomy, then "not given":
    each activity in exactly one row, so that the rows add up to the totals."""
    by_key: dict[str, list[ActivityRow]] = defaultdict(list)
    for key, a in counted:
        by_key[key or UNKNOWN].append(a)

    def row(key: str, title: str) -> ReachRow:
        own = by_key.get(key, [])
        return ReachRow(
            key, title, len(own), sum(a.reach.children for a in own), sum(a.reach.families for a in own),
            sum(a.reach.professionals for a in own), sum(a.ervaringsdeskundigen for a in own),
        )  # fmt: skip

    rows = [row(t.id, t.title) for t in terms.values()]
    rows += [row(k, k) for k in sorted(by_key) if k not in terms and k != UNKNOWN]
    if by_key.get(UNKNOWN):
        rows.append(row(UNKNOWN, "Niet aangegeven"))
    return tuple(rows)


def _monitoring(
    config: Config,
    monitoring: Monitoring,
    start: dt.date,
    end: dt.date,
    contributions: Sequence[PartnerRow],
    appeared: Mapping[str, list[str]],
) -> MonitoringPart:
    tax = config.taxonomy
    counted = [r for r in monitoring.reports if counts_in(r.period, start, end)]
    counted.sort(key=lambda r: (r.partner, r.period))

    def activity_rows(progress: Progress) -> list[ActivityRow]:
        name = config.partners[progress.partner].name
        return [
            ActivityRow(
                partner=progress.partner,
                partner_name=name,
                period=str(progress.period),
                period_title=progress.period.title,
                title=a.title,
                summary=a.summary,
                effects=a.effects,
                theme_ids=a.themes,
                themes=tax.themes.titles(a.themes),
                horizon_id=a.horizon,
                horizon=tax.horizons.title(a.horizon),
                province_id=a.province,
                province=tax.provinces.title(a.province, a.province) or a.province,
                reach=a.reach,
                ervaringsdeskundigen=a.ervaringsdeskundigen,
                url=a.url,
                featured=activity_id(progress.partner, progress.period, a.title) in appeared,
                path=progress.path,
            )
            for a in progress.activities
        ]

    activities = {r.path: activity_rows(r) for r in counted}
    everything = [a for r in counted for a in activities[r.path]]
    # A file with errors whose year touches the period: named, so that nobody thinks it counted.
    broken = [b for b in monitoring.broken if b.year is None or start.year <= b.year <= end.year]
    newsletter = {r.id: r for r in contributions}
    rows = []
    for p in config.partners.values():
        own = [r for r in counted if r.partner == p.id]
        if p.pledge is None and not own:
            continue
        acts = tuple(a for r in own for a in activities[r.path])
        reach = Reach()
        for a in acts:
            reach += a.reach
        contributed = newsletter.get(p.id)
        rows.append(
            PledgeRow(
                id=p.id,
                name=p.name,
                sector=tax.sectors.title(p.sector, p.sector) or p.sector,
                province=tax.provinces.title(p.province, p.province) or p.province,
                website=p.website,
                pledge=p.pledge.text if p.pledge else None,
                pledge_themes=tax.themes.titles(p.pledge.themes) if p.pledge else (),
                pledge_horizon=tax.horizons.title(p.pledge.horizon) if p.pledge else None,
                since=p.pledge.since if p.pledge else None,
                asked=p.pledge is not None and p.pledge.expects(end),
                periods=tuple(str(r.period) for r in sorted(own, key=lambda r: r.period)),
                activities=acts,
                reach=reach,
                ervaringsdeskundigen=sum(a.ervaringsdeskundigen for a in acts),
                items=contributed.items if contributed else 0,
                featured=contributed.featured if contributed else 0,
                not_counted=tuple(b.path for b in broken if b.partner == p.id),
            )
        )
    rows.sort(key=lambda r: (r.name.casefold(), r.id))
    rows = [r for r in rows if r.asked or r.reported]
    reach = Reach()
    for a in everything:
        reach += a.reach
    totals = MonitoringTotals(
        files=len(counted),
        partners=len(rows),
        reported=sum(r.reported for r in rows),
        activities=len(everything),
        reach=reach,
        ervaringsdeskundigen=sum(a.ervaringsdeskundigen for a in everything),
        featured=sum(a.featured for a in everything),
    )
    sector_of = {p.id: p.sector for p in config.partners.values()}
    return MonitoringPart(
        totals=totals,
        periods=tuple(str(p) for p in sorted({r.period for r in counted})),
        themes=_reach_rows(tax.themes, ((a.theme_ids[0], a) for a in everything)),
        horizons=_reach_rows(tax.horizons, ((a.horizon_id, a) for a in everything)) if tax.horizons else (),
        sectors=_reach_rows(tax.sectors, ((sector_of.get(a.partner), a) for a in everything)),
        provinces=_reach_rows(_provinces(config), ((a.province_id, a) for a in everything)),
        partners=tuple(rows),
        missing=tuple(r for r in rows if r.asked and not r.reported),
        not_counted=tuple(b.path for b in broken),
    )  # fmt: skip


def _months(
    start: dt.date, end: dt.date, items: Sequence[Item], appeared: Mapping[str, list[str]], tz: dt.tzinfo
) -> tuple[Month, ...]:
    partner: Counter[dt.date] = Counter()
    other: Counter[dt.date] = Counter()
    featured: Counter[dt.date] = Counter()
    for item in items:
        month = item.published.astimezone(tz).date().replace(day=1)
        (partner if item.partner else other)[month] += 1
        featured[month] += item.id in appeared
    out = []
    month = start.replace(day=1)
    while month <= end:
        out.append(Month(month, partner[month], other[month], featured[month]))
        month = add_months(month, 1)
    return tuple(out)


def _partner_rows(
    config: Config,
    store: Store,
    items: Sequence[Item],
    appeared: Mapping[str, list[str]],
    end: dt.date,
    until: dt.datetime,
) -> list[PartnerRow]:
    tz = config.settings.timezone
    tax = config.taxonomy
    cutoff = add_months(end, -config.settings.silent_months)
    by_partner: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_partner[item.partner or ""].append(item)

    def issues_of(own: Sequence[Item]) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for item in sorted(own, key=lambda i: i.published):
            seen.update(dict.fromkeys(appeared.get(item.id, ())))
        return tuple(seen)

    rows = []
    for p in config.partners.values():
        own = by_partner.get(p.id, [])
        # The last item may be older than the period: one indexed query per partner, newest only.
        latest = store.items(partner=p.id, until=until, limit=1, exclude_origin=MONITORING)
        last = latest[0].published.astimezone(tz).date() if latest else None
        # A partner who joined recently and has not written yet is not silent: count from joining.
        sign_of_life = last or p.joined
        rows.append(
            PartnerRow(
                id=p.id,
                name=p.name,
                sector=tax.sectors.title(p.sector, p.sector) or p.sector,
                province=tax.provinces.title(p.province, p.province) or p.province,
                website=p.website,
                joined=p.joined,
                items=len(own),
                featured=sum(1 for i in own if i.id in appeared),
                last_contribution=last,
                issues=issues_of(own),
                silent=sign_of_life is None or sign_of_life < cutoff,
                quiet_months=months_between(sign_of_life, end) if sign_of_life else None,
            )
        )
    # Items whose partner left the registry still count; they get a row of their own.
    for pid in sorted(k for k in by_partner if k and k not in config.partners):
        own = by_partner[pid]
        rows.append(
            PartnerRow(
                id=pid,
                name=pid,
                sector=UNKNOWN,
                province=UNKNOWN,
                website=None,
                joined=None,
                items=len(own),
                featured=sum(1 for i in own if i.id in appeared),
                last_contribution=max(i.published.astimezone(tz).date() for i in own),
                issues=issues_of(own),
                registered=False,
            )
        )
    rows.sort(key=lambda r: (r.name.casefold(), r.id))
    return rows


def summary_lines(report: Report) -> list[str]:
    """The headline numbers and the call list in the terminal's language, for the command and the
    demo to print (each line indented by two spaces)."""
    t = report.totals
    items = ngettext("{n} item", "{n} items", t.partner_items).format(n=t.partner_items)
    partners = ngettext("{active} of {n} partner", "{active} of {n} partners", t.partners).format(
        active=t.active_partners, n=t.partners
    )
    issues = ngettext("{n} issue sent in the period", "{n} issues sent in the period", t.issues_sent).format(
        n=t.issues_sent
    )
    lines = [
        _(
            "{items} from {partners} ({other} from other sources); {featured} featured in sent issues;"
            " {issues}"
        ).format(items=items, partners=partners, other=t.other_items, featured=t.featured, issues=issues)
    ]
    names = ", ".join(r.name for r in report.silent)
    months = report.silent_after
    if names:
        call = ngettext(
            "Call list (silent for more than {months} month): {n}: {names}",
            "Call list (silent for more than {months} months): {n}: {names}",
            months,
        )
    else:
        call = ngettext(
            "Call list (silent for more than {months} month): {n}",
            "Call list (silent for more than {months} months): {n}",
            months,
        )
    lines.append(call.format(months=months, n=len(report.silent), names=names))
    if report.new:
        lines.append(_("New partners: {names}").format(names=", ".join(r.name for r in report.new)))
    m = report.monitoring
    if m is not None:
        mt = m.totals
        # NOTE: the count is of the partners who reported (the verb agrees with it in Dutch).
        reported = ngettext(
            "{reported} of {n} partners reported {activities}",
            "{reported} of {n} partners reported {activities}",
            mt.reported,
        ).format(
            reported=mt.reported,
            n=mt.partners,
            activities=ngettext("{n} activity", "{n} activities", mt.activities).format(n=mt.activities),
        )
        progress = _(
            "{reported}, reaching {children} children, {families} families and {professionals} professionals;"
            " {n} with ervaringsdeskundigen ({share})"
        ).format(
            reported=reported,
            children=mt.reach.children,
            families=mt.reach.families,
            professionals=mt.reach.professionals,
            n=mt.ervaringsdeskundigen,
            share=percent(mt.ervaringsdeskundigen_share),
        )
        if m.periods:
            lines.append(
                _("Progress on pledges (counted: {periods}): {progress}").format(
                    periods=", ".join(m.periods), progress=progress
                )
            )
        else:
            lines.append(
                _("Progress on pledges (no progress file counts in the period): {progress}").format(
                    progress=progress
                )
            )
        names = ", ".join(r.name for r in m.missing)
        if names:
            lines.append(_("No progress reported yet: {n}: {names}").format(n=len(m.missing), names=names))
        else:
            lines.append(_("No progress reported yet: {n}").format(n=len(m.missing)))
        if m.not_counted:
            lines.append(
                _("Not counted, with errors (run 'newsletter validate'): {files}").format(
                    files=", ".join(m.not_counted)
                )
            )
    c = report.clicks
    if c is not None:
        clicks = ngettext(
            "{n} reader clicked; {clicks} on {stories}, {other} on other links",
            "{n} readers clicked; {clicks} on {stories}, {other} on other links",
            c.clickers,
        ).format(
            n=c.clickers,
            clicks=ngettext("{n} click", "{n} clicks", c.story_clicks).format(n=c.story_clicks),
            stories=ngettext("{clicked} of {n} story", "{clicked} of {n} stories", c.stories).format(
                clicked=c.stories_clicked, n=c.stories
            ),
            other=c.other_clicks,
        )
        sent = ngettext(
            "the {n} issue sent in the period", "the {n} issues sent in the period", t.issues_sent
        ).format(n=t.issues_sent)
        top = next((r for r in c.partners if r.clickers), None)
        if top:
            readers = ngettext("{n} reader", "{n} readers", top.clickers).format(n=top.clickers)
            lines.append(
                _("Clicks (on {issues}): {clicks}; most read: {name} ({readers})").format(
                    issues=sent, clicks=clicks, name=top.name, readers=readers
                )
            )
        else:
            lines.append(_("Clicks (on {issues}): {clicks}").format(issues=sent, clicks=clicks))
    return [f"  {line}" for line in lines]


# -- charts: pygal, rendered to SVG that goes inline into the page ---------------------------------

# Dark enough to read when printed in black and white; the two series differ in lightness too.
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#222222",
    foreground_strong="#111111",
    foreground_subtle="#777777",
    colors=("#1f5a8a", "#e58a2e", "#5b9e4d", "#9b4f96", "#c0392b", "#7f8c8d"),
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    value_font_size=12,
    legend_font_size=13,
    no_data_font_size=20,
)
COMMON = {
    "style": STYLE,
    "js": [],  # no scripts: the page opens offline and a report needs no tooltips
    "disable_xml_declaration": True,
    "no_data_text": "Geen gegevens",
    "print_values": True,
    "print_zeroes": False,  # a row of "0" labels hides the bars that matter
    "show_y_guides": False,
    "margin": 8,
}


@dataclass(frozen=True)
class Chart:
    """One chart: its SVG and the text alternative that says what it shows."""

    id: str
    title: str
    description: str
    svg: Markup


def _inline(chart: pygal.graph.graph.Graph, chart_id: str, title: str, description: str) -> Chart:
    svg = chart.render(is_unicode=True)
    # Scripts and comments go (the comment carries the render date, which would make every
    # build differ); pygal's random id becomes a stable one so that two builds are identical.
    svg = re.sub(r"<script.*?</script>", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    found = re.search(r'id="(chart-[0-9a-f-]{36})"', svg)
    if found:
        svg = svg.replace(found.group(1), f"chart-{chart_id}")
    labelled = f'role="img" aria-labelledby="chart-{chart_id}-title chart-{chart_id}-desc"'
    head, rest = svg.split(">", 1)
    svg = (
        f"{head.replace('<svg ', f'<svg {labelled} ', 1)}>"
        f'<title id="chart-{chart_id}-title">{html.escape(title)}</title>'
        f'<desc id="chart-{chart_id}-desc">{html.escape(description)}</desc>{rest}'
    )
    return Chart(chart_id, title, description, Markup(svg))


def _listing(rows: Sequence[Count]) -> str:
    """ "Gemeenten 5, Onderwijs 3 en Welzijn 1; niets uit Zeeland" for a screen reader."""
    given = sorted((r for r in rows if r.items), key=lambda r: -r.items)
    none = [r.title for r in rows if not r.items]
    parts = [f"{r.title} {r.items}" for r in given]
    text = _and(parts) if parts else "nog geen bijdragen"
    if none and parts:
        text += f"; geen bijdragen: {_and(none)}"
    return text + "."


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " en " + words[-1]


def _bars(chart_id: str, title: str, rows: Sequence[Count]) -> Chart:
    # Horizontal bars: long Dutch labels stay readable; pygal draws the first label at the
    # bottom, so the rows go in reversed to read top-down in the taxonomy's order.
    chart = pygal.HorizontalBar(height=70 + 32 * max(len(rows), 2), width=760, show_legend=False, **COMMON)
    chart.x_labels = [r.title for r in reversed(rows)]
    chart.add("Bijdragen", [r.items for r in reversed(rows)])
    return _inline(chart, chart_id, title, f"{title}: {_listing(rows)}")


def _month_label(month: dt.date) -> str:
    return f"{dutch.MONTHS[month.month - 1][:3]} {month.year}"


def _months_chart(report: Report) -> Chart:
    chart = pygal.Bar(height=360, width=760, legend_at_bottom=True, x_label_rotation=-30, **COMMON)
    chart.x_labels = [_month_label(m.first_day) for m in report.months]
    chart.add("Verzameld", [m.collected for m in report.months])
    chart.add("Uitgelicht in een verzonden nieuwsbrief", [m.featured for m in report.months])
    collected = sum(m.collected for m in report.months)
    featured = sum(m.featured for m in report.months)
    busiest = max(report.months, key=lambda m: m.collected)
    text = f"Verzameld en uitgelicht per maand: in totaal {collected} verzameld, {featured} uitgelicht"
    if busiest.collected:
        text += f"; de drukste maand was {busiest.title} met {busiest.collected}"
    text += ". " + "; ".join(f"{m.title}: {m.collected} en {m.featured}" for m in report.months) + "."
    return _inline(chart, "maanden", "Items per maand", text)


def _with_ervaringsdeskundigen(
    chart_id: str, title: str, noun: str, part: int, whole: int, share: float
) -> Chart:
    """A ring of the ``part`` of ``whole`` contributions or activities with ervaringsdeskundigen."""
    chart = pygal.Pie(height=300, width=460, inner_radius=0.55, legend_at_bottom=True, **COMMON)
    if whole:
        chart.add("Met ervaringsdeskundigen", part)
        chart.add("Zonder (of niet vermeld)", whole - part)
    text = f"{number(part)} van de {number(whole)} {noun} ({percent(share)}) met ervaringsdeskundigen."
    return _inline(chart, chart_id, title, text)


def _share_chart(report: Report) -> Chart:
    t = report.totals
    return _with_ervaringsdeskundigen(
        "ervaringsdeskundigen", "Bijdragen met ervaringsdeskundigen", "bijdragen",
        t.ervaringsdeskundigen, t.partner_items, t.ervaringsdeskundigen_share,
    )  # fmt: skip


REACH_SERIES = (("children", "Kinderen"), ("families", "Gezinnen"), ("professionals", "Professionals"))


def _reach_words(r: ReachRow) -> str:
    return (
        f"{number(r.children)} kinderen, {number(r.families)} gezinnen en {number(r.professionals)} "
        f"professionals ({number(r.activities)} activiteit{'en' if r.activities != 1 else ''})"
    )


def _whole(value: float) -> str:
    """A chart's numbers, on the bars and along the axis, in Dutch: 1.200."""
    return number(round(value))


def _legend_bars(rows: int, *, per_row: int) -> pygal.HorizontalBar:
    """Horizontal bars, a few series per row with a legend below, Dutch numbers on the bars."""
    return pygal.HorizontalBar(
        height=110 + per_row * max(rows, 2), width=760, legend_at_bottom=True, formatter=_whole,
        value_formatter=_whole, truncate_label=-1, **COMMON,
    )  # fmt: skip


def _reach_bars(chart_id: str, title: str, rows: Sequence[ReachRow]) -> Chart:
    """Three bars per row (children, families, professionals), Dutch numbers on the bars."""
    chart = _legend_bars(len(rows), per_row=58)
    chart.x_labels = [r.title for r in reversed(rows)]
    for key, label in REACH_SERIES:
        chart.add(label, [getattr(r, key) for r in reversed(rows)])
    given = [f"{r.title}: {_reach_words(r)}" for r in rows if r.activities]
    none = [r.title for r in rows if not r.activities]
    text = f"{title}: " + ("; ".join(given) if given else "nog geen activiteiten")
    if none and given:
        text += f"; geen activiteiten: {_and(none)}"
    return _inline(chart, chart_id, title, text + ".")


def _activities_share_chart(m: MonitoringPart) -> Chart:
    t = m.totals
    return _with_ervaringsdeskundigen(
        "voortgang-ervaringsdeskundigen", "Activiteiten met ervaringsdeskundigen", "activiteiten",
        t.ervaringsdeskundigen, t.activities, t.ervaringsdeskundigen_share,
    )  # fmt: skip


CLICK_CHART_ROWS = 10  # the chart shows the most read; the table below it has every row


def _readers(n: int) -> str:
    return f"{number(n)} {'lezer' if n == 1 else 'lezers'}"


def _clicks_word(n: int) -> str:
    return f"{number(n)} {'klik' if n == 1 else 'klikken'}"


def clicks_chart(c: ClicksPart) -> Chart:
    """The most read partners and sources: readers (unique per story, added up) and clicks."""
    rows = [r for r in c.partners if r.clicks][:CLICK_CHART_ROWS]
    chart = _legend_bars(len(rows), per_row=44)
    chart.x_labels = [r.name for r in reversed(rows)]
    chart.add("Lezers die klikten", [r.clickers for r in reversed(rows)])
    chart.add("Klikken", [r.clicks for r in reversed(rows)])
    title = "Lezers die klikten, per partner of bron"
    if rows:
        text = title
        if sum(1 for r in c.partners if r.clicks) > len(rows):
            text += f", de {len(rows)} meest gelezen (de tabel heeft ze allemaal)"
        text += ": " + "; ".join(f"{r.name}: {_readers(r.clickers)}, {_clicks_word(r.clicks)}" for r in rows)
    else:
        text = f"{title}: nog geen klikken op verhalen uit nieuwsbrieven van deze periode"
    return _inline(chart, "klikken-partners", title, text + ".")


def monitoring_charts(m: MonitoringPart) -> dict[str, Chart]:
    out = {
        "themas": _reach_bars("bereik-themas", "Bereik per thema", m.themes),
        "sectoren": _reach_bars("bereik-sectoren", "Bereik per sector", m.sectors),
        "provincies": _reach_bars("bereik-provincies", "Bereik per provincie", m.provinces),
        "ervaringsdeskundigen": _activities_share_chart(m),
    }
    if m.horizons:
        out["horizons"] = _reach_bars("bereik-horizons", "Bereik per horizon", m.horizons)
    return out


def charts(report: Report) -> dict[str, Chart]:
    out = {
        "maanden": _months_chart(report),
        "sectoren": _bars("sectoren", "Bijdragen per sector", report.sectors),
        "provincies": _bars("provincies", "Bijdragen per provincie", report.provinces),
        "themas": _bars("themas", "Bijdragen per thema", report.themes),
        "soorten": _bars("soorten", "Bijdragen per soort", report.kinds),
        "ervaringsdeskundigen": _share_chart(report),
    }
    if report.horizons:
        out["horizons"] = _bars("horizons", "Bijdragen per horizon", report.horizons)
    if report.clicks is not None:
        out["klikken"] = clicks_chart(report.clicks)
    return out


# -- writing it: one HTML page and the CSV files, from the same Report -----------------------------


def number(n: int) -> str:
    """Dutch thousands: 12.345."""
    return f"{n:,}".replace(",", ".")


def percent(share: float) -> str:
    """Dutch percentages, whole numbers, halves rounded up as people do (5 of 8: 63%, not 62%)."""
    return f"{int(share * 100 + 0.5)}%"


def _date(value: dt.date | None) -> str:
    return dutch.date(value, weekday=False) if value else ""


def _csv(rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def _count_rows(key: str, rows: Sequence[Count]) -> list[Sequence[object]]:
    return [(key, "naam", "bijdragen", "uitgelicht"), *((r.id, r.title, r.items, r.featured) for r in rows)]


def _partner_csv(rows: Sequence[PartnerRow]) -> list[Sequence[object]]:
    header = (
        "partner", "naam", "sector", "provincie", "lid_sinds", "bijdragen", "uitgelicht",
        "laatste_bijdrage", "nieuwsbrieven", "stil", "maanden_stil", "website",
    )  # fmt: skip
    return [header, *(_partner_fields(r) for r in rows)]


def _partner_fields(r: PartnerRow) -> Sequence[object]:
    quiet = "" if r.quiet_months is None else r.quiet_months
    return (
        r.id, r.name, r.sector, r.province, r.joined or "", r.items, r.featured, r.last_contribution or "",
        " ".join(r.issues), "ja" if r.silent else "nee", quiet, r.website or "",
    )  # fmt: skip


def _reach_csv(key: str, rows: Sequence[ReachRow]) -> list[Sequence[object]]:
    header = (
        key,
        "naam",
        "activiteiten",
        "kinderen",
        "gezinnen",
        "professionals",
        "met_ervaringsdeskundigen",
    )
    return [
        header,
        *((r.id, r.title, r.activities, r.children, r.families, r.professionals, r.ervaringsdeskundigen)
          for r in rows),
    ]  # fmt: skip


def _pledge_csv(rows: Sequence[PledgeRow]) -> list[Sequence[object]]:
    header = (
        "partner", "naam", "sector", "provincie", "toezegging", "toezegging_themas", "toezegging_horizon",
        "toezegging_sinds", "gevraagd", "periodes", "activiteiten", "kinderen", "gezinnen", "professionals",
        "met_ervaringsdeskundigen", "bijdragen", "uitgelicht", "niet_geteld",
    )  # fmt: skip
    return [
        header,
        *((r.id, r.name, r.sector, r.province, spreadsheet_safe(r.pledge), "; ".join(r.pledge_themes),
           r.pledge_horizon or "", r.since or "", "ja" if r.asked else "nee", " ".join(r.periods),
           len(r.activities), r.reach.children, r.reach.families, r.reach.professionals,
           r.ervaringsdeskundigen, r.items, r.featured, " ".join(r.not_counted))
          for r in rows),
    ]  # fmt: skip


def _activity_csv(rows: Sequence[PledgeRow]) -> list[Sequence[object]]:
    header = (
        "partner", "naam", "periode", "titel", "samenvatting", "themas", "horizon", "provincie", "kinderen",
        "gezinnen", "professionals", "ervaringsdeskundigen", "effecten", "url", "uitgelicht", "bestand",
    )  # fmt: skip
    return [
        header,
        *((a.partner, a.partner_name, a.period, spreadsheet_safe(a.title), spreadsheet_safe(a.summary),
           " ".join(a.theme_ids),
           a.horizon_id or "", a.province_id, a.reach.children, a.reach.families, a.reach.professionals,
           "ja" if a.ervaringsdeskundigen else "nee", spreadsheet_safe(a.effects), a.url or "",
           "ja" if a.featured else "nee", a.path)
          for r in rows for a in r.activities),
    ]  # fmt: skip


def _monitoring_csv(m: MonitoringPart) -> dict[str, str]:
    files = {
        "monitoring_themes.csv": _csv(_reach_csv("thema", m.themes)),
        "monitoring_sectors.csv": _csv(_reach_csv("sector", m.sectors)),
        "monitoring_provinces.csv": _csv(_reach_csv("provincie", m.provinces)),
        "monitoring_partners.csv": _csv(_pledge_csv(m.partners)),
        "monitoring_missing.csv": _csv(_pledge_csv(m.missing)),
        "monitoring_activities.csv": _csv(_activity_csv(m.partners)),
    }
    if m.horizons:
        files["monitoring_horizons.csv"] = _csv(_reach_csv("horizon", m.horizons))
    return files


def _clicks_csv(c: ClicksPart) -> dict[str, str]:
    stories = [
        ("nieuwsbrief", "verzonden", "positie", "item", "titel", "partner", "bron", "url", "klikkers",
         "klikken"),
        *((s.issue, i.sent_on, s.position + 1, s.item, spreadsheet_safe(s.title), s.partner or "",
           spreadsheet_safe(s.source), s.url, s.clickers, s.clicks)
          for i in c.issues for s in i.stories),
    ]  # fmt: skip
    partners = [
        ("partner", "naam", "soort", "bijdragen", "uitgelicht", "verhalen", "klikkers", "klikken"),
        *((r.id, spreadsheet_safe(r.name), "partner" if r.partner else "andere bron", r.items, r.featured,
           r.stories, r.clickers, r.clicks)
          for r in c.partners),
    ]  # fmt: skip
    links: list[Sequence[object]] = [("link", "wat", "klikkers", "klikken")]
    links += [(r.link, r.label, r.clickers, r.clicks) for r in c.links]
    return {
        "clicks_stories.csv": _csv(stories),
        "clicks_partners.csv": _csv(partners),
        "clicks_links.csv": _csv(links),
    }


def csv_files(report: Report) -> dict[str, str]:
    """File name -> CSV text. Plain RFC 4180 CSV (comma, CRLF); written with a UTF-8 byte order
    mark so that Excel shows ë and â right."""
    t = report.totals
    summary: list[tuple[str, object]] = [
        ("meting", "waarde"),
        ("van", report.start),
        ("tot_en_met", report.end),
        ("bijdragen_partners", t.partner_items),
        ("items_andere_bronnen", t.other_items),
        ("uitgelicht", t.featured),
        ("nieuwsbrieven_verzonden", t.issues_sent),
        ("partners", t.partners),
        ("actieve_partners", t.active_partners),
        ("met_ervaringsdeskundigen", t.ervaringsdeskundigen),
        ("aandeel_ervaringsdeskundigen", f"{t.ervaringsdeskundigen_share:.4f}"),
        ("stille_partners", len(report.silent)),
        ("nieuwe_partners", len(report.new)),
        ("stil_na_maanden", report.silent_after),
    ]
    m = report.monitoring
    if m is not None:
        mt = m.totals
        summary += [
            ("voortgang_periodes", " ".join(m.periods)),
            ("voortgang_bestanden", mt.files),
            ("voortgang_partners", mt.partners),
            ("voortgang_gerapporteerd", mt.reported),
            ("voortgang_nog_niet", len(m.missing)),
            ("activiteiten", mt.activities),
            ("kinderen", mt.reach.children),
            ("gezinnen", mt.reach.families),
            ("professionals", mt.reach.professionals),
            ("activiteiten_met_ervaringsdeskundigen", mt.ervaringsdeskundigen),
            ("aandeel_activiteiten_met_ervaringsdeskundigen", f"{mt.ervaringsdeskundigen_share:.4f}"),
            ("activiteiten_uitgelicht", mt.featured),
            ("voortgang_niet_geteld", len(m.not_counted)),
        ]
    c = report.clicks
    if c is not None:
        summary += [
            ("lezers_die_klikten", c.clickers),
            ("klikken", c.clicks),
            ("klikken_op_verhalen", c.story_clicks),
            ("klikken_op_andere_links", c.other_clicks),
            ("verhalen_verstuurd", c.stories),
            ("verhalen_aangeklikt", c.stories_clicked),
        ]
    months = [
        ("maand", "van_partners", "andere_bronnen", "verzameld", "uitgelicht"),
        *((m.first_day.strftime("%Y-%m"), m.partner_items, m.other_items, m.collected, m.featured)
          for m in report.months),
    ]  # fmt: skip
    files = {
        "summary.csv": _csv(summary),
        "months.csv": _csv(months),
        "sectors.csv": _csv(_count_rows("sector", report.sectors)),
        "provinces.csv": _csv(_count_rows("provincie", report.provinces)),
        "themes.csv": _csv(_count_rows("thema", report.themes)),
        "kinds.csv": _csv(_count_rows("soort", report.kinds)),
        "partners.csv": _csv(_partner_csv(report.partners)),
        "silent.csv": _csv(_partner_csv(report.silent)),
        "new.csv": _csv(_partner_csv(report.new)),
    }
    if report.horizons:
        files["horizons.csv"] = _csv(_count_rows("horizon", report.horizons))
    if m is not None:
        files.update(_monitoring_csv(m))
    if c is not None:
        files.update(_clicks_csv(c))
    return files


LINK_ROWS = 10  # the page shows the most clicked other links; clicks_links.csv has them all


def render_html(config: Config, report: Report) -> str:
    # The stages' one environment (instance templates first, errors with their line); an overlay
    # so that the report's filters stay out of the cached one the email and the archive use.
    env = environment(config.root / "templates").overlay()
    env.filters = {**env.filters, "number": number, "percent": percent, "date": _date, "month": dutch.month}
    return render_template(
        env,
        "report/index.html.j2",
        config.root,
        report=report,
        t=report.totals,
        charts=charts(report),
        m=report.monitoring,
        mcharts=monitoring_charts(report.monitoring) if report.monitoring else {},
        csv_names=sorted(csv_files(report)),
        c=report.clicks,
        link_rows=LINK_ROWS,
    )


def write_report(config: Config, report: Report, out: Path) -> list[Path]:
    """Write ``out/index.html`` and ``out/*.csv``; return the paths written, the page first."""
    page = out / "index.html"
    atomic_write(page, render_html(config, report))
    written = [page]
    for name, text in csv_files(report).items():
        atomic_write(out / name, text, encoding="utf-8-sig")
        written.append(out / name)
    return written
