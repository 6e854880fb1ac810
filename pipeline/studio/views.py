"""How the studio shows things: numbers, moments and dates in the reader's language, an issue's
entries (``EntryView``) section by section, and the candidates with their filters (``CandidateView``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pipeline.curate import ranking
from pipeline.domain import dutch, i18n
from pipeline.domain.i18n import N_, _
from pipeline.domain.issues import Entry
from pipeline.domain.models import Item
from pipeline.studio.workspace import Snapshot, Workspace

CANDIDATES_SHOWN = 40
# The balance's tables: (caption, the first column's header), by dimension id (translated where used).
DIMENSIONS = {
    "sectors": (N_("Sectors"), N_("Sector")),
    "provinces": (N_("Provinces"), N_("Province")),
    "themes": (N_("Themes"), N_("Theme")),
    "kinds": (N_("Kinds"), N_("Kind")),
    "horizons": (N_("Horizons"), N_("Horizon")),
}
ENGLISH_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ENGLISH_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def number(value: float, digits: int | None = None) -> str:
    """A number as the reader's language writes it: ``1.234`` and ``12,5`` in Dutch, ``1,234`` and
    ``12.5`` in English (``digits``: that many decimals; else as many as it has)."""
    text = f"{value:,.{digits}f}" if digits is not None else f"{value:,g}" if value % 1 else f"{int(value):,}"
    if i18n.language() == "nl":
        return text.translate(str.maketrans(",.", ".,"))
    return text


def when(value: dt.datetime, tz: Any) -> str:
    """A moment in the studio's tables and notes: ``10 december 2026, 9.00 uur`` in Dutch,
    ``2026-12-10 09:00`` otherwise (``value`` shown in ``tz``)."""
    local = value.astimezone(tz)
    if i18n.language() == "nl":
        return f"{dutch.date(local, weekday=False)}, {dutch.time(local)}"
    return f"{local:%Y-%m-%d %H:%M}"


def day(value: dt.date) -> str:
    """A date: ``10 december 2026`` in Dutch, ``2026-12-10`` otherwise."""
    return dutch.date(value, weekday=False) if i18n.language() == "nl" else value.isoformat()


# -- how an entry and a candidate are shown ----------------------------------------------------------
@dataclass(frozen=True)
class EntryView:
    list: str
    index: int
    label: str  # what the form sends as 'expect'
    title: str
    summary: str
    own_title: str
    own_summary: str
    meta: str
    url: str | None
    item: str | None
    line: int
    missing: bool  # refers to an item the state database does not have


@dataclass(frozen=True)
class CandidateView:
    id: str
    title: str
    meta: str
    summary: str
    url: str
    where: str | None  # where it is in the issue already
    sections: tuple[tuple[str, str], ...]  # (id, title) of the sections that take it, best first


def _meta(ws: Workspace, item: Item | None, partner: str | None = None) -> str:
    c = ws.config
    if item is None:
        p = c.partners.get(partner or "")
        return p.name if p else _("announcement")
    p = c.partners.get(item.partner or "")
    src = c.sources.get(item.source)
    parts = [p.name if p else src.name if src else item.source]
    parts.append(day(item.published.astimezone(c.settings.timezone).date()))
    kind = c.taxonomy.kinds.title(item.kind)
    if kind:
        parts.append(kind)
    if item.starts is not None:
        parts.append(dutch.span(item.starts, item.ends, c.settings.timezone))
    if item.ervaringsdeskundigen:
        parts.append(_("with people with lived experience"))
    return " · ".join(parts)


def entry_view(ws: Workspace, which: str, index: int, e: Entry, items: dict[str, Item]) -> EntryView:
    item = items.get(e.item) if e.item else None
    return EntryView(
        which,
        index,
        e.item or e.title or e.url or "?",
        e.title or (item.title if item else "") or e.item or "?",
        e.summary or (item.summary_text if item else "") or "",
        e.title or "",
        e.summary or "",
        _meta(ws, item, e.partner),
        e.url or (item.url if item else None),
        e.item,
        e.line,
        bool(e.item) and item is None,
    )


def lineup(ws: Workspace, snap: Snapshot) -> list[dict[str, Any]]:
    assert snap.issue is not None
    items = dict(snap.items)
    missing = [
        e.item
        for s in snap.issue.sections
        for e in (*s.items, *s.runners_up)
        if e.item and e.item not in items
    ]
    if missing:
        with ws._lock:
            items.update(ws.store.get_items(missing))
    out = []
    for s in snap.issue.sections:
        term = ws.config.taxonomy.sections.get(s.id)
        out.append(
            {
                "id": s.id,
                "title": term.title if term else s.id,
                "limit": term.limit if term else None,
                "picked": [entry_view(ws, "items", i, e, items) for i, e in enumerate(s.items)],
                "runners_up": [entry_view(ws, "runners_up", i, e, items) for i, e in enumerate(s.runners_up)],
            }
        )
    return out


def in_issue(snap: Snapshot) -> dict[str, str]:
    where: dict[str, str] = {}
    if snap.issue is not None:
        for s in snap.issue.sections:
            for place, entries in (
                (N_("{section} (items)"), s.items),
                (N_("{section} (runners-up)"), s.runners_up),
            ):
                for e in entries:
                    if e.item:
                        where.setdefault(e.item, _(place).format(section=s.id))
    return where


def candidates(ws: Workspace, snap: Snapshot, f: dict[str, str]) -> tuple[list[CandidateView], int]:
    where = in_issue(snap)
    sections = list(ws.config.taxonomy.sections.values())
    present = {s.id for s in snap.issue.sections} if snap.issue else set()
    q = f.get("q", "").strip().lower()
    found = []
    for c in snap.candidates:
        i = c.item
        if f.get("theme") and f["theme"] not in i.themes:
            continue
        if f.get("partner") and c.who != f["partner"]:
            continue
        if f.get("kind") and i.kind != f["kind"]:
            continue
        if f.get("province") and f["province"] not in c.provinces:
            continue
        if q and q not in f"{i.title} {i.summary_text} {i.id}".lower():
            continue
        found.append(c)
    views = []
    for c in found[:CANDIDATES_SHOWN]:
        home = ranking.home(ws.config, c)
        fitting = [s for s in sections if s.takes(c.item.kind) and s.id in present] or [
            s for s in sections if s.id in present
        ]
        fitting.sort(key=lambda s: s.id != home)
        views.append(
            CandidateView(
                c.item.id,
                c.item.title,
                _("{meta} · {points} points").format(meta=_meta(ws, c.item), points=number(c.points)),
                c.item.summary_text[:240],
                c.item.url,
                where.get(c.item.id),
                tuple((s.id, s.title) for s in fitting),
            )
        )
    return views, len(found)
