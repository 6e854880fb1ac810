"""Ranking candidates for an issue: points per item, then a greedy line-up that spreads the picks.

An editor must be able to predict (and overrule) every choice, so the rules are few, use round
numbers, and are written into the drafted file's header comment (``explanation``) from the same
constants the code uses. Pure: no database, no clock; ``pipeline.curate`` passes both in.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipeline.domain.config import NATIONWIDE, Config, SectionTerm, submission_source
from pipeline.domain.i18n import _
from pipeline.domain.models import Item

RECENCY_POINTS = 100  # an item published today
HALF_LIFE_DAYS = 14  # ... halving every two weeks
EVENT_HALF_LIFE_DAYS = 30  # events: by how soon they start, halving every month
PRIORITY_POINTS = 10  # per level of 'priority' in sources.yaml (partner or feed)
SAME_PARTNER, SAME_SECTOR, SAME_PROVINCE, SHARED_THEME = 25, 10, 10, 5  # spread: minus per earlier pick
PARTNER_CAP = 2  # items of one partner (or source) in one issue
RUNNERS_UP_MAX = 8  # per section, so that the file stays readable with 300 partners


@dataclass(frozen=True)
class Candidate:
    """An item with what ranking needs to know about it."""

    item: Item
    points: float  # recency and priority; the spread is applied while picking
    who: str  # partner id, or "source:<id>" for a source that is not a partner: the cap counts these
    sector: str | None
    provinces: tuple[str, ...]


@dataclass(frozen=True)
class SectionLineup:
    section: str
    items: tuple[Candidate, ...]
    runners_up: tuple[Candidate, ...]


def explanation(config: Config) -> list[str]:
    """The ranking rules in plain words, for the drafted file's header comment (in the current
    language: each message a bullet, broken into lines where it has a line break)."""
    bullets = [
        _("How the candidates were ranked (pipeline/ranking.py):"),
        _(
            "- Candidates: items published since the last sent issue, and events that have not started yet.\n"
            "  An item that went out in an earlier issue is never a candidate again."
        ),
        _(
            "- Recency: {points} points when published today, halving every {days} days;\n"
            "  events by how soon they start, halving every {event_days} days."
        ).format(points=RECENCY_POINTS, days=HALF_LIFE_DAYS, event_days=EVENT_HALF_LIFE_DAYS),
        _(
            "- Priority: {points} points more per level of 'priority' in sources.yaml (partner or feed)."
        ).format(points=PRIORITY_POINTS),
        _(
            "- Kinds: a section takes only the kinds listed in its 'kinds' "
            "in sources.yaml; featured sections\n"
            "  are filled first, then the others in order, each up to its 'limit' (default {limit})."
        ).format(limit=SectionTerm.limit),
        _(
            "- Spread: every pick lowers the points of the rest: -{partner} for the same partner,\n"
            "  -{sector} for the same sector, -{province} for the same province (not '{nationwide}'),"
            " -{theme} for a shared theme."
        ).format(
            partner=SAME_PARTNER,
            sector=SAME_SECTOR,
            province=SAME_PROVINCE,
            nationwide=NATIONWIDE,
            theme=SHARED_THEME,
        ),
        _("- Cap: at most {n} items from one partner or source in the issue.").format(n=PARTNER_CAP),
        _("- Runners-up: up to {n} of the rest per section, best first.").format(n=RUNNERS_UP_MAX),
        _("- Order: items go out in the order they were picked; events with a date in the order they start."),
    ]
    return [line for bullet in bullets for line in bullet.split("\n")]


def _sources_priority(config: Config) -> dict[str, int]:
    prio = {f.id: f.priority for f in config.feeds()}
    for p in config.partners.values():
        prio[submission_source(p.id)] = p.priority
    return prio


def who(config: Config, item: Item) -> str:
    """Whom the cap (PARTNER_CAP) counts an item for: its partner's id, or "source:<id>" for a source
    that is not a partner."""
    partner = config.partners.get(item.partner or "")
    return partner.id if partner else f"source:{item.source}"


def candidate(config: Config, item: Item, now: dt.datetime, priority: Mapping[str, int]) -> Candidate:
    partner = config.partners.get(item.partner or "")
    if item.starts is not None:
        days = max((item.starts - now).total_seconds() / 86400, 0)
        recency = RECENCY_POINTS * 0.5 ** (days / EVENT_HALF_LIFE_DAYS)
    else:
        days = max((now - item.published).total_seconds() / 86400, 0)
        recency = RECENCY_POINTS * 0.5 ** (days / HALF_LIFE_DAYS)
    level = priority.get(item.source, partner.priority if partner else 0)
    return Candidate(
        item,
        round(recency + PRIORITY_POINTS * level, 1),
        who(config, item),
        partner.sector if partner else None,
        item.provinces or ((partner.province,) if partner else ()),
    )


def candidates(config: Config, items: Iterable[Item], now: dt.datetime) -> list[Candidate]:
    """Every item as a candidate, best first (ties: newer first, then by id, so drafts are stable)."""
    priority = _sources_priority(config)
    out = [candidate(config, i, now, priority) for i in items]
    return sorted(out, key=lambda c: (-c.points, -c.item.published.timestamp(), c.item.id))


def _fits(section: SectionTerm, c: Candidate) -> bool:
    return section.takes(c.item.kind)


def unplaced(config: Config, ranked: Sequence[Candidate]) -> dict[str | None, list[str]]:
    """Candidates whose kind no section takes: kind (None: the item has none) -> their sources."""
    sections = list(config.taxonomy.sections.values())
    out: dict[str | None, list[str]] = {}
    for c in ranked:
        if not any(_fits(s, c) for s in sections):
            out.setdefault(c.item.kind, []).append(c.item.source)
    return out


def home(config: Config, c: Candidate) -> str | None:
    """The section a runner-up is listed under: the first non-featured section that takes its kind."""
    fitting = [s for s in config.taxonomy.sections.values() if _fits(s, c)]
    plain = [s for s in fitting if not s.featured]
    chosen = (plain or fitting)[:1]
    return chosen[0].id if chosen else None


def _spread(c: Candidate, picked: Sequence[Candidate]) -> float:
    penalty = 0
    for p in picked:
        penalty += SAME_PARTNER if p.who == c.who else 0
        penalty += SAME_SECTOR if c.sector and p.sector == c.sector else 0
        shared = set(c.provinces) & set(p.provinces) - {NATIONWIDE}
        penalty += SAME_PROVINCE if shared else 0
        penalty += SHARED_THEME if set(c.item.themes) & set(p.item.themes) else 0
    return c.points - penalty


def lineup(config: Config, ranked: Sequence[Candidate]) -> list[SectionLineup]:
    """Sections in taxonomy order, each with its picks and runners-up."""
    sections = list(config.taxonomy.sections.values())
    order = sorted(sections, key=lambda s: not s.featured)  # stable: featured first
    picked: list[Candidate] = []
    taken: set[str] = set()
    per_partner: Counter[str] = Counter()
    chosen: dict[str, list[Candidate]] = {s.id: [] for s in sections}
    for section in order:
        for _round in range(section.limit):
            pool = [
                c for c in ranked
                if _fits(section, c) and c.item.id not in taken and per_partner[c.who] < PARTNER_CAP
            ]  # fmt: skip
            if not pool:
                break
            best = max(pool, key=lambda c: _spread(c, picked))  # max keeps the first of equals: ranked order
            picked.append(best)
            taken.add(best.item.id)
            per_partner[best.who] += 1
            chosen[section.id].append(best)
    runners: dict[str, list[Candidate]] = {s.id: [] for s in sections}
    for c in ranked:
        where = home(config, c)
        if c.item.id not in taken and where and len(runners[where]) < RUNNERS_UP_MAX:
            runners[where].append(c)
    out = []
    for s in sections:
        items = chosen[s.id]
        if items and all(c.item.starts for c in items):
            items = sorted(items, key=lambda c: (c.item.starts, c.item.id))
        out.append(SectionLineup(s.id, tuple(items), tuple(runners[s.id])))
    return out
