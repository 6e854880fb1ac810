"""The report's values: frozen rows and parts, worked out once by ``compute`` and laid out by ``output``."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TypedDict, TypeVar

from pipeline.domain import dutch
from pipeline.domain.config import PROVINCES, Config, Partner, Taxonomy, Term
from pipeline.domain.errors import PipelineError
from pipeline.domain.monitoring import Reach

UNKNOWN = "onbekend"  # the id of the "not given" bucket in every breakdown


class ReportError(PipelineError):
    "The report cannot be made for the requested period."


# -- the report's numbers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Breakdown:
    """One way the report splits its numbers, as its chart and its CSV file name it."""

    chart: str  # the chart's id (and the page's key for it): Dutch, plural
    csv: str  # the CSV file's name without .csv (the monitoring part's with monitoring_ before it)
    column: str  # the CSV's first column, and the noun of the chart's title ("per sector")


BY_SECTOR = Breakdown("sectoren", "sectors", "sector")
BY_PROVINCE = Breakdown("provincies", "provinces", "provincie")
BY_THEME = Breakdown("themas", "themes", "thema")
BY_KIND = Breakdown("soorten", "kinds", "soort")
BY_HORIZON = Breakdown("horizons", "horizons", "horizon")

Row = TypeVar("Row")


def _breakdowns(
    found: tuple[tuple[Breakdown, tuple[Row, ...]], ...], horizons: tuple[Row, ...]
) -> tuple[tuple[Breakdown, tuple[Row, ...]], ...]:
    """The breakdowns with their rows; the horizons' only when the taxonomy has horizons."""
    return (*found, (BY_HORIZON, horizons)) if horizons else found


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


class Identity(TypedDict):
    """The fields a partner's row of the report (``PartnerRow``, ``PledgeRow``) opens with."""

    id: str
    name: str
    sector: str  # the sector's title
    province: str  # the province's title
    website: str | None


def identity(p: Partner, tax: Taxonomy) -> Identity:
    """A registered partner's id, name, website and the titles of its sector and province."""
    return Identity(
        id=p.id,
        name=p.name,
        sector=tax.sectors.title(p.sector, p.sector) or p.sector,
        province=tax.provinces.title(p.province, p.province) or p.province,
        website=p.website,
    )


def unregistered(partner_id: str) -> Identity:
    """A partner id that items carry but sources.yaml no longer lists: the id as its name, the
    sector and province unknown."""
    return Identity(id=partner_id, name=partner_id, sector=UNKNOWN, province=UNKNOWN, website=None)


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


class WithLivedExperience(ABC):
    """Totals that count, of a ``whole`` (partner items, or activities), the part with people with
    lived experience involved (``ervaringsdeskundigen``), and its share."""

    ervaringsdeskundigen: int

    @property
    @abstractmethod
    def whole(self) -> int: ...

    @property
    def ervaringsdeskundigen_share(self) -> float:
        return self.ervaringsdeskundigen / self.whole if self.whole else 0.0


@dataclass(frozen=True)
class Totals(WithLivedExperience):
    partner_items: int
    other_items: int
    featured: int  # partner items in a sent issue
    issues_sent: int  # issues sent to the list within the period
    partners: int  # partners in the registry
    active_partners: int  # partners with at least one item in the period
    ervaringsdeskundigen: int  # partner items with people with lived experience involved

    @property
    def whole(self) -> int:
        return self.partner_items


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
class MonitoringTotals(WithLivedExperience):
    files: int  # progress files counted
    partners: int  # asked to report, or reported anyway
    reported: int
    activities: int
    reach: Reach
    ervaringsdeskundigen: int  # activities with people with lived experience
    featured: int  # activities featured in a sent issue

    @property
    def whole(self) -> int:
        return self.activities


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

    def breakdowns(self) -> tuple[tuple[Breakdown, tuple[ReachRow, ...]], ...]:
        """Reach by theme, sector, province (and horizon), each with its chart's and CSV's names."""
        found = ((BY_THEME, self.themes), (BY_SECTOR, self.sectors), (BY_PROVINCE, self.provinces))
        return _breakdowns(found, self.horizons)


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
class EditionClicks:
    """One edition of a sent issue (pipeline.domain.editions): its readers and what they clicked."""

    key: str  # "" for the issue as it is
    label: str  # "Overijssel, thema Onderwijs"; "iedereen zonder keuze" for the issue as it is
    readers: int  # who got it (the skipped left out)
    clickers: int
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
    editions: tuple[EditionClicks, ...] = ()  # an issue with editions: each one, most readers first


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

    def breakdowns(self) -> tuple[tuple[Breakdown, tuple[Count, ...]], ...]:
        """Contributions by sector, province, theme, kind (and horizon), with their charts' and
        CSVs' names."""
        found = (
            (BY_SECTOR, self.sectors), (BY_PROVINCE, self.provinces), (BY_THEME, self.themes),
            (BY_KIND, self.kinds),
        )  # fmt: skip
        return _breakdowns(found, self.horizons)

    def partner_clickers(self, partner_id: str) -> int:
        """A partner's readers in the period (its stories' unique clickers added up); 0 without clicks."""
        for row in self.clicks.partners if self.clicks else ():
            if row.partner and row.id == partner_id:
                return row.clickers
        return 0


def province_terms(config: Config) -> dict[str, Term]:
    """The provinces in the order the report shows them: the twelve in the order people know them,
    then landelijk, then any other, whatever order sources.yaml uses."""
    terms = config.taxonomy.provinces
    ordered = {p: terms[p] for p in (*PROVINCES, "landelijk") if p in terms}
    ordered.update({k: v for k, v in terms.items() if k not in ordered})
    return ordered
