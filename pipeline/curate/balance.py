"""The balance of an issue while it is curated: who and what it shows, against what the network has.

For sectors and provinces the comparison is the partner registry (how the network is made up);
for themes, kinds, horizons and ervaringsdeskundigen it is the candidates (what partners offered
since the last issue). Partners who have not been featured for ``report.silent_months`` months,
or never, are listed with how many candidates they have now, so that an editor can act on it.
Pure apart from the reads from the state database; the studio shows it beside the preview.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipeline.curate.ranking import Candidate
from pipeline.domain.config import NATIONWIDE, Config, Terms
from pipeline.domain.issues import Issue
from pipeline.domain.models import Item
from pipeline.infra.store import Store

NOT_GIVEN = ""  # the row of items without a horizon (or kind)


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    issue: int  # entries of this issue
    network: int  # partners in the registry, or candidates


@dataclass(frozen=True)
class Dimension:
    id: str  # "sectors", "provinces", ...
    title: str
    against: str  # what ``network`` counts: "partners" or "candidates"
    issue_total: int
    network_total: int
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Quiet:
    """A partner not featured for a long time (``last`` None: never)."""

    id: str
    name: str
    sector: str
    last: dt.date | None
    candidates: int


@dataclass(frozen=True)
class Balance:
    entries: int
    dimensions: tuple[Dimension, ...]
    lived: int  # entries with ervaringsdeskundigen
    lived_candidates: int
    candidates: int
    quiet: tuple[Quiet, ...]
    silent_months: int


def _rows(
    terms: Terms, issue: Counter[str], network: Counter[str], extra: Iterable[str] = ()
) -> tuple[Row, ...]:
    ids = [t for t in terms if issue[t] or network[t]]
    ids += [k for k in extra if (issue[k] or network[k]) and k not in ids]
    return tuple(Row(i, terms.title(i, i) or "not given", issue[i], network[i]) for i in ids)


def _places(config: Config, item: Item | None, partner: str | None) -> set[str]:
    p = config.partners.get(partner or "")
    return set((item.provinces if item else ()) or ((p.province,) if p else ()))


def balance(
    config: Config,
    store: Store,
    issue: Issue,
    items: Mapping[str, Item],
    candidates: Sequence[Candidate],
    now: dt.datetime,
) -> Balance:
    """The issue's balance; ``items`` are its items, ``candidates`` what could go in it."""
    tax = config.taxonomy
    sectors, provinces, themes, kinds, horizons = (Counter[str]() for _ in range(5))
    lived = 0
    in_issue: set[str] = set()
    entries = issue.entries()
    for _s, e in entries:
        item = items.get(e.item) if e.item else None
        pid = (item.partner if item else None) or e.partner
        partner = config.partners.get(pid or "")
        if partner:
            sectors[partner.sector] += 1
            in_issue.add(partner.id)
        provinces.update(_places(config, item, pid))
        if item:
            themes.update(set(item.themes))
            kinds[item.kind or NOT_GIVEN] += 1
            horizons[item.horizon or NOT_GIVEN] += 1
            lived += item.ervaringsdeskundigen
    net_sectors = Counter(p.sector for p in config.partners.values())
    net_provinces = Counter(p.province for p in config.partners.values())
    c_themes, c_kinds, c_horizons = Counter[str](), Counter[str](), Counter[str]()
    for c in candidates:
        c_themes.update(set(c.item.themes))
        c_kinds[c.item.kind or NOT_GIVEN] += 1
        c_horizons[c.item.horizon or NOT_GIVEN] += 1
    n, m, k = len(entries), len(config.partners), len(candidates)
    dims = (
        Dimension("sectors", "Sectors", "partners", n, m, _rows(tax.sectors, sectors, net_sectors)),
        Dimension(
            "provinces",
            "Provinces",
            "partners",
            n,
            m,
            _rows(tax.provinces, provinces, net_provinces, (NATIONWIDE,)),
        ),
        Dimension("themes", "Themes", "candidates", n, k, _rows(tax.themes, themes, c_themes)),
        Dimension("kinds", "Kinds", "candidates", n, k, _rows(tax.kinds, kinds, c_kinds, (NOT_GIVEN,))),
        Dimension(
            "horizons",
            "Horizons",
            "candidates",
            n,
            k,
            _rows(tax.horizons, horizons, c_horizons, (NOT_GIVEN,)),
        ),
    )
    return Balance(
        n,
        dims,
        lived,
        sum(c.item.ervaringsdeskundigen for c in candidates),
        k,
        quiet_partners(config, store, candidates, now, exclude=in_issue),
        config.settings.report.silent_months,
    )


def quiet_partners(
    config: Config, store: Store, candidates: Sequence[Candidate], now: dt.datetime, *, exclude: set[str]
) -> tuple[Quiet, ...]:
    """Partners not in a sent issue for ``silent_months`` months (or never), longest first."""
    tz = config.settings.timezone
    started = {s.id: s.started_at.astimezone(tz).date() for s in store.sent_issues()}
    placements = store.sent_items()
    sent_items = store.get_items({p.item for p in placements})
    last: dict[str, dt.date] = {}
    for p in placements:
        item = sent_items.get(p.item)
        if item and item.partner and p.issue in started:
            last[item.partner] = max(last.get(item.partner, started[p.issue]), started[p.issue])
    offered = Counter(c.who for c in candidates)
    months = config.settings.report.silent_months
    cutoff = (now.astimezone(tz) - dt.timedelta(days=round(months * 30.44))).date()
    out = [
        Quiet(p.id, p.name, p.sector, last.get(p.id), offered[p.id])
        for p in config.partners.values()
        if p.id not in exclude and (last.get(p.id) is None or last[p.id] < cutoff)
    ]
    return tuple(
        sorted(out, key=lambda q: (q.last is not None, q.last or dt.date.min, -q.candidates, q.name))
    )
