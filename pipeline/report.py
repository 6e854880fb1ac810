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
  ``report.silent_months`` months before the end of the period.
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

import pygal
from markupsafe import Markup
from pygal.style import Style

from pipeline.core import dutch
from pipeline.core.config import PROVINCES, Config, Term
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_write
from pipeline.core.models import Item
from pipeline.core.store import Store
from pipeline.core.templating import environment, render_template

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


def build_report(config: Config, store: Store, *, start: dt.date, end: dt.date) -> Report:
    """Work out every number of the report for ``start``..``end`` (both days included)."""
    if start > end:
        raise ReportError(
            f"the period starts ({start}) after it ends ({end})", "swap --from and --to, or leave one out"
        )
    tz = config.settings.timezone
    since = dt.datetime.combine(start, dt.time(), tz)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz)
    items = store.items(since=since, until=until)

    # Which sent issues each item appeared in, in send order.
    sent = store.sent_issues()
    order = {row.id: i for i, row in enumerate(sent)}
    appeared: dict[str, list[str]] = defaultdict(list)
    for row in store.sent_items():
        appeared[row.item].append(row.issue)
    for issues in appeared.values():
        issues.sort(key=lambda i: order.get(i, len(order)))
    issues_sent = sum(1 for row in sent if since <= row.sent_at < until)

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
        latest = store.items(partner=p.id, until=until, limit=1)
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
    """The headline numbers and the call list in English, for the command and the demo to print."""
    t = report.totals
    lines = [
        f"  {t.partner_items} items from {t.active_partners} of {t.partners} partners "
        f"({t.other_items} from other sources); {t.featured} featured in sent issues; "
        f"{t.issues_sent} issue{'s' if t.issues_sent != 1 else ''} sent in the period",
    ]
    names = ", ".join(r.name for r in report.silent)
    lines.append(
        f"  Call list (silent for more than {report.silent_after} months): {len(report.silent)}"
        + (f": {names}" if names else "")
    )
    if report.new:
        lines.append(f"  New partners: {', '.join(r.name for r in report.new)}")
    return lines


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


def _share_chart(report: Report) -> Chart:
    t = report.totals
    chart = pygal.Pie(height=300, width=460, inner_radius=0.55, legend_at_bottom=True, **COMMON)
    if t.partner_items:
        chart.add("Met ervaringsdeskundigen", t.ervaringsdeskundigen)
        chart.add("Zonder (of niet vermeld)", t.partner_items - t.ervaringsdeskundigen)
    text = (
        f"{t.ervaringsdeskundigen} van de {t.partner_items} bijdragen "
        f"({percent(t.ervaringsdeskundigen_share)}) met ervaringsdeskundigen."
    )
    return _inline(chart, "ervaringsdeskundigen", "Bijdragen met ervaringsdeskundigen", text)


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
    return out


# -- writing it: one HTML page and the CSV files, from the same Report -----------------------------


def number(n: int) -> str:
    """Dutch thousands: 12.345."""
    return f"{n:,}".replace(",", ".")


def percent(share: float) -> str:
    """Dutch percentages, whole numbers: 33%."""
    return f"{round(share * 100)}%"


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


def csv_files(report: Report) -> dict[str, str]:
    """File name -> CSV text. Plain RFC 4180 CSV (comma, CRLF); written with a UTF-8 byte order
    mark so that Excel shows ë and â right."""
    t = report.totals
    summary = [
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
    return files


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
        csv_names=sorted(csv_files(report)),
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
