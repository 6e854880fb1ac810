"""The charts: pygal, rendered to SVG that goes inline into the page, each with a text alternative."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pygal
from markupsafe import Markup
from pygal.style import Style

from pipeline.domain import dutch
from pipeline.report.formats import number, percent
from pipeline.report.model import ClicksPart, Count, MonitoringPart, ReachRow, Report

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
