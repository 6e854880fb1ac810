""" "Voortgang op de toezeggingen": the partners' progress files counted in the period."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from pipeline.domain.config import Config, Term
from pipeline.domain.monitoring import BrokenFile, Monitoring, Progress, Reach, activity_id, counts_in
from pipeline.report.model import (
    UNKNOWN,
    ActivityRow,
    MonitoringPart,
    MonitoringTotals,
    PartnerRow,
    PledgeRow,
    ReachRow,
    identity,
    province_terms,
)


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


def monitoring_part(
    config: Config,
    monitoring: Monitoring,
    start: dt.date,
    end: dt.date,
    contributions: Sequence[PartnerRow],
    appeared: Mapping[str, list[str]],
) -> MonitoringPart:
    """The progress files whose period counts in ``start``..``end``, in every view."""
    tax = config.taxonomy
    counted = [r for r in monitoring.reports if counts_in(r.period, start, end)]
    counted.sort(key=lambda r: (r.partner, r.period))
    activities = {r.path: _activity_rows(config, r, appeared) for r in counted}
    everything = [a for r in counted for a in activities[r.path]]
    # A file with errors whose year touches the period: named, so that nobody thinks it counted.
    broken = [b for b in monitoring.broken if b.year is None or start.year <= b.year <= end.year]
    rows = _pledge_rows(config, counted, activities, broken, contributions, end)
    sector_of = {p.id: p.sector for p in config.partners.values()}
    return MonitoringPart(
        totals=_totals(counted, rows, everything),
        periods=tuple(str(p) for p in sorted({r.period for r in counted})),
        themes=_reach_rows(tax.themes, ((a.theme_ids[0], a) for a in everything)),
        horizons=_reach_rows(tax.horizons, ((a.horizon_id, a) for a in everything)) if tax.horizons else (),
        sectors=_reach_rows(tax.sectors, ((sector_of.get(a.partner), a) for a in everything)),
        provinces=_reach_rows(province_terms(config), ((a.province_id, a) for a in everything)),
        partners=tuple(rows),
        missing=tuple(r for r in rows if r.asked and not r.reported),
        not_counted=tuple(b.path for b in broken),
    )  # fmt: skip


def _activity_rows(
    config: Config, progress: Progress, appeared: Mapping[str, list[str]]
) -> list[ActivityRow]:
    """The activities of one counted progress file, with the titles the page shows."""
    tax = config.taxonomy
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


def _pledge_rows(
    config: Config,
    counted: Sequence[Progress],
    activities: Mapping[str, list[ActivityRow]],
    broken: Sequence[BrokenFile],
    contributions: Sequence[PartnerRow],
    end: dt.date,
) -> list[PledgeRow]:
    """The partners asked to report in the period, or that reported anyway, by name."""
    tax = config.taxonomy
    newsletter = {r.id: r for r in contributions}
    rows = []
    for p in config.partners.values():
        own = [r for r in counted if r.partner == p.id]
        if p.pledge is None and not own:
            continue
        acts = tuple(a for r in own for a in activities[r.path])
        contributed = newsletter.get(p.id)
        rows.append(
            PledgeRow(
                **identity(p, tax),
                pledge=p.pledge.text if p.pledge else None,
                pledge_themes=tax.themes.titles(p.pledge.themes) if p.pledge else (),
                pledge_horizon=tax.horizons.title(p.pledge.horizon) if p.pledge else None,
                since=p.pledge.since if p.pledge else None,
                asked=p.pledge is not None and p.pledge.expects(end),
                periods=tuple(str(r.period) for r in sorted(own, key=lambda r: r.period)),
                activities=acts,
                reach=_reach(acts),
                ervaringsdeskundigen=sum(a.ervaringsdeskundigen for a in acts),
                items=contributed.items if contributed else 0,
                featured=contributed.featured if contributed else 0,
                not_counted=tuple(b.path for b in broken if b.partner == p.id),
            )
        )
    rows.sort(key=lambda r: (r.name.casefold(), r.id))
    return [r for r in rows if r.asked or r.reported]


def _reach(activities: Iterable[ActivityRow]) -> Reach:
    reach = Reach()
    for a in activities:
        reach += a.reach
    return reach


def _totals(
    counted: Sequence[Progress], rows: Sequence[PledgeRow], everything: Sequence[ActivityRow]
) -> MonitoringTotals:
    return MonitoringTotals(
        files=len(counted),
        partners=len(rows),
        reported=sum(r.reported for r in rows),
        activities=len(everything),
        reach=_reach(everything),
        ervaringsdeskundigen=sum(a.ervaringsdeskundigen for a in everything),
        featured=sum(a.featured for a in everything),
    )
