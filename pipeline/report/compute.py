"""The report's numbers: the period, the breakdowns, the partners and the call list (``build_report``)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from pipeline.domain.config import Config, Term
from pipeline.domain.i18n import _
from pipeline.domain.models import Item
from pipeline.domain.monitoring import ORIGIN as MONITORING
from pipeline.domain.monitoring import Monitoring
from pipeline.infra.instance import read_monitoring
from pipeline.infra.store import SentIssue, Store
from pipeline.report.clicks import clicks_part
from pipeline.report.model import (
    UNKNOWN,
    Count,
    Month,
    PartnerRow,
    Report,
    ReportError,
    Totals,
    identity,
    province_terms,
    unregistered,
)
from pipeline.report.monitoring import monitoring_part

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
    sent, appeared = _appearances(store)
    sent_in_period = [row for row in sent if since <= row.sent_at < until]
    partner_items = [i for i in items if i.partner]
    other = [i for i in items if not i.partner]
    sectors, province_rows, themes, kinds, horizons = _breakdowns(config, partner_items, appeared)
    rows = _partner_rows(config, store, partner_items, appeared, end, until)
    if monitoring is None:
        monitoring = read_monitoring(config)
    part = None
    if monitoring.checked or any(p.pledge for p in config.partners.values()):
        part = monitoring_part(config, monitoring, start, end, rows, appeared)
    clicks = clicks_part(config, store, sent_in_period, rows, other, appeared) if store.has_clicks() else None
    return Report(
        title=config.settings.title,
        start=start,
        end=end,
        silent_after=config.settings.report.silent_months,
        totals=_totals(config, partner_items, other, appeared, len(sent_in_period), rows),
        months=_months(start, end, items, appeared, tz),
        sectors=sectors,
        provinces=province_rows,
        themes=themes,
        kinds=kinds,
        horizons=horizons,
        partners=tuple(rows),
        silent=_call_list(rows),
        new=_new_partners(rows, start, end),
        monitoring=part,
        clicks=clicks,
    )


def _appearances(store: Store) -> tuple[list[SentIssue], dict[str, list[str]]]:
    """The issues sent to the list, and which of them each item appeared in, in send order."""
    sent = store.sent_issues()
    order = {row.id: i for i, row in enumerate(sent)}
    appeared: dict[str, list[str]] = defaultdict(list)
    for row in store.sent_items():
        appeared[row.item].append(row.issue)
    for issues in appeared.values():
        issues.sort(key=lambda i: order.get(i, len(order)))
    return sent, appeared


Breakdown = tuple[Count, ...]


def _breakdowns(
    config: Config, partner_items: Sequence[Item], appeared: Mapping[str, list[str]]
) -> tuple[Breakdown, Breakdown, Breakdown, Breakdown, Breakdown]:
    """The partners' items per sector, province, theme, kind and horizon (empty without horizons)."""
    partners = config.partners

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
    province_rows = _ordered(province_terms(config), *count((i, provinces(i)) for i in partner_items))
    themes = _ordered(tax.themes, *count((i, i.themes) for i in partner_items))
    kinds = _ordered(tax.kinds, *count((i, [i.kind] if i.kind else []) for i in partner_items))
    horizons = (
        _ordered(tax.horizons, *count((i, [i.horizon] if i.horizon else []) for i in partner_items))
        if tax.horizons
        else ()
    )
    return sectors, province_rows, themes, kinds, horizons


def _call_list(rows: Sequence[PartnerRow]) -> tuple[PartnerRow, ...]:
    """The silent partners. Never heard from first (longest a member first), then the longest
    silent: the order in which the coordinator should call."""
    silent = sorted(
        (r for r in rows if r.silent),
        key=lambda r: (
            r.last_contribution is not None,
            r.last_contribution or r.joined or dt.date.min,
            r.name.casefold(),
        ),
    )
    return tuple(silent)


def _new_partners(rows: Sequence[PartnerRow], start: dt.date, end: dt.date) -> tuple[PartnerRow, ...]:
    """The partners who joined within the period, newest first."""
    joined = [r for r in rows if r.joined and start <= r.joined <= end]
    return tuple(sorted(joined, key=lambda r: (r.joined or start, r.name), reverse=True))


def _totals(
    config: Config,
    partner_items: Sequence[Item],
    other: Sequence[Item],
    appeared: Mapping[str, list[str]],
    issues_sent: int,
    rows: Sequence[PartnerRow],
) -> Totals:
    return Totals(
        partner_items=len(partner_items),
        other_items=len(other),
        featured=sum(1 for i in partner_items if i.id in appeared),
        issues_sent=issues_sent,
        partners=len(config.partners),
        active_partners=sum(1 for r in rows if r.registered and r.items),
        ervaringsdeskundigen=sum(1 for i in partner_items if i.ervaringsdeskundigen),
    )


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
    cutoff = add_months(end, -config.settings.report.silent_months)
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
                **identity(p, tax),
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
                **unregistered(pid),
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
