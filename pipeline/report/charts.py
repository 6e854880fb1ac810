"""The charts: pygal, rendered to SVG that goes inline into the page, each drawn twice (wide for a
desktop and print, narrow with larger text for a phone) and with a text alternative."""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pygal
from markupsafe import Markup
from pygal.style import Style

from pipeline.report.formats import number, percent
from pipeline.report.model import (
    ClicksPart,
    Count,
    MonitoringPart,
    ReachRow,
    Report,
    WithLivedExperience,
)

# -- charts: pygal, rendered to SVG that goes inline into the page ---------------------------------

# Dark enough to read when printed in black and white; the two series differ in lightness too.
COLOURS = ("#1f5a8a", "#e58a2e", "#5b9e4d", "#9b4f96", "#c0392b", "#7f8c8d")
FONTS = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"


def _style(text: int) -> Style:
    """The charts' look, with ``text`` as the size of the labels in the drawing's own pixels."""
    return Style(
        background="white", plot_background="white", foreground="#222222", foreground_strong="#111111",
        foreground_subtle="#777777", colors=COLOURS, font_family=FONTS, label_font_size=text,
        major_label_font_size=text, value_font_size=text, legend_font_size=text, no_data_font_size=20,
    )  # fmt: skip


@dataclass(frozen=True)
class Size:
    """One of the two drawings of every chart. The page scales a drawing to the width it has, and
    its text with it: the wide one (760 px) is for a desktop and print, the narrow one (360 px,
    larger text) for a phone, where 343 px of a 375 px screen still show its labels at 12+ px."""

    suffix: str  # after the chart's id, so that the two drawings' ids differ
    width: int
    style: Style
    row: float  # the height of a bar chart's row, relative to the wide drawing's
    ticks: int  # at most this many numbers along a value axis, so that they never overlap


WIDE = Size("", 760, _style(13), 1.0, 8)
NARROW = Size("-smal", 360, _style(14), 1.25, 4)
SIZES = (WIDE, NARROW)

COMMON = {
    "js": [],  # no scripts: the page opens offline and a report needs no tooltips
    "disable_xml_declaration": True,
    "no_data_text": "Geen gegevens",
    "print_values": True,
    "print_zeroes": False,  # a row of "0" labels hides the bars that matter
    "show_y_guides": False,
    "margin": 8,
}


def _options(size: Size, **options: object) -> dict[str, object]:
    # A legend is never cut short ("Uitgelicht in e…"); on the narrow drawing, one entry a line.
    legend = {"truncate_legend": -1, "legend_at_bottom_columns": 1 if size is NARROW else None}
    return {**COMMON, **legend, "style": size.style, "width": size.width, **options}


@dataclass(frozen=True)
class Chart:
    """One chart: its two drawings (wide and narrow; the page shows one of them) and the text
    alternative that says what it shows."""

    id: str
    title: str
    description: str
    svg: Markup
    narrow: Markup


def ticks(top: float, most: int) -> list[int]:
    """Whole numbers from 0 past ``top`` in a round step (1, 2 or 5 times a power of ten), at most
    ``most`` + 1 of them: a value axis with few enough numbers that they never overlap.

    >>> ticks(1450, 4)
    [0, 500, 1000, 1500]
    """
    step = 1
    while math.ceil(top / step) > most:
        step = _next_step(step)
    return [step * i for i in range(max(math.ceil(top / step), 1) + 1)]


def _next_step(step: int) -> int:
    """1, 2, 5, 10, 20, 50, ...: the next round step."""
    return step * 5 // 2 if str(step)[0] == "2" else step * 2


def _svg(chart: pygal.graph.graph.Graph, chart_id: str, title: str, description: str) -> Markup:
    svg = chart.render(is_unicode=True)
    # Scripts and comments go (the comment carries the render date, which would make every
    # build differ); pygal's random id becomes a stable one so that two builds are identical.
    svg = re.sub(r"<script.*?</script>", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    found = re.search(r'id="(chart-[0-9a-f-]{36})"', svg)
    if found:
        svg = svg.replace(found.group(1), f"chart-{chart_id}")
    # The legend's ids are the same in every chart (a page must not repeat an id), and a value's
    # text-anchor "left" is no SVG value (browsers ignore it): the middle of its pie slice.
    svg = re.sub(r'id="activate-serie-(\d+)"', rf'id="chart-{chart_id}-serie-\1"', svg)
    svg = svg.replace('text-anchor="left"', 'text-anchor="middle"')
    labelled = f'role="img" aria-labelledby="chart-{chart_id}-title chart-{chart_id}-desc"'
    head, rest = svg.split(">", 1)
    return Markup(
        f"{head.replace('<svg ', f'<svg {labelled} ', 1)}>"
        f'<title id="chart-{chart_id}-title">{html.escape(title)}</title>'
        f'<desc id="chart-{chart_id}-desc">{html.escape(description)}</desc>{rest}'
    )


def _inline(
    draw: Callable[[Size], pygal.graph.graph.Graph], chart_id: str, title: str, description: str
) -> Chart:
    """The chart drawn at both sizes (``draw`` makes the pygal chart for one)."""
    wide, narrow = (_svg(draw(s), f"{chart_id}{s.suffix}", title, description) for s in SIZES)
    return Chart(chart_id, title, description, wide, narrow)


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


def _cut(size: Size, label: str) -> str:
    """A bar's label, on the narrow drawing cut short ("Ervaringskennis…"), so that the bars keep
    room on a phone; the table below the chart, and its text alternative, have it whole."""
    return label if size is WIDE or len(label) <= 16 else label[:15].rstrip() + "…"


def _value_axis(size: Size, values: Sequence[int], *, across: bool = True) -> dict[str, object]:
    """Round numbers along the value axis, few enough for the drawing's width not to overlap. The
    narrow drawing of horizontal bars (``across``) has none: the numbers are on the bars, and its
    few pixels go to the labels."""
    labels = ticks(max(values, default=0), size.ticks)
    return {"y_labels": labels, "range": (0, labels[-1]), "show_x_labels": not (across and size is NARROW)}


def _bars(chart_id: str, title: str, rows: Sequence[Count]) -> Chart:
    # Horizontal bars: long Dutch labels stay readable; pygal draws the first label at the
    # bottom, so the rows go in reversed to read top-down in the taxonomy's order.
    def draw(size: Size) -> pygal.HorizontalBar:
        height = round((70 + 32 * max(len(rows), 2)) * size.row)
        values = [r.items for r in reversed(rows)]
        chart = pygal.HorizontalBar(
            **_options(size, height=height, show_legend=False, **_value_axis(size, values))
        )
        chart.x_labels = [_cut(size, r.title) for r in reversed(rows)]
        chart.add("Bijdragen", values)
        return chart

    return _inline(draw, chart_id, title, f"{title}: {_listing(rows)}")


MONTHS_SHORT = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def _month_label(month: dt.date) -> str:
    """ "mrt 2026": the month as Dutch abbreviates it (not "maa")."""
    return f"{MONTHS_SHORT[month.month - 1]} {month.year}"


def _months_chart(report: Report) -> Chart:
    def draw(size: Size) -> pygal.Bar:
        # A month's label ("sep 2026") slanted takes ~40 px across, upright one line's height:
        # upright when the months are too close for slanted labels not to touch.
        slot = (size.width - 80) / max(len(report.months), 1)
        collected = [m.collected for m in report.months]
        chart = pygal.Bar(
            **_options(size, height=380, legend_at_bottom=True, x_label_rotation=-60 if slot >= 45 else -90,
                       **_value_axis(size, collected, across=False))
        )  # fmt: skip
        chart.x_labels = [_month_label(m.first_day) for m in report.months]
        if slot < 18:  # more than ~40 months: every second (third, ...) month's label
            chart.x_labels_major_every = math.ceil(18 / slot)
            chart.show_minor_x_labels = False
        chart.add("Verzameld", collected)
        chart.add("Uitgelicht in een verzonden nieuwsbrief", [m.featured for m in report.months])
        return chart

    collected = sum(m.collected for m in report.months)
    featured = sum(m.featured for m in report.months)
    busiest = max(report.months, key=lambda m: m.collected)
    text = f"Verzameld en uitgelicht per maand: in totaal {collected} verzameld, {featured} uitgelicht"
    if busiest.collected:
        text += f"; de drukste maand was {busiest.title} met {busiest.collected}"
    text += ". " + "; ".join(f"{m.title}: {m.collected} en {m.featured}" for m in report.months) + "."
    return _inline(draw, "maanden", "Items per maand", text)


def _with_ervaringsdeskundigen(chart_id: str, title: str, noun: str, t: WithLivedExperience) -> Chart:
    """A ring of the contributions or activities (``noun``) with ervaringsdeskundigen in the whole."""
    part, whole, share = t.ervaringsdeskundigen, t.whole, t.ervaringsdeskundigen_share

    def draw(size: Size) -> pygal.Pie:
        chart = pygal.Pie(**_options(size, height=300, width=min(size.width, 460), inner_radius=0.55,
                                     legend_at_bottom=True))  # fmt: skip
        if whole:
            chart.add("Met ervaringsdeskundigen", part)
            chart.add("Zonder (of niet vermeld)", whole - part)
        return chart

    text = f"{number(part)} van de {number(whole)} {noun} ({percent(share)}) met ervaringsdeskundigen."
    return _inline(draw, chart_id, title, text)


REACH_SERIES = (("children", "Kinderen"), ("families", "Gezinnen"), ("professionals", "Professionals"))


def _reach_words(r: ReachRow) -> str:
    return (
        f"{number(r.children)} kinderen, {number(r.families)} gezinnen en {number(r.professionals)} "
        f"professionals ({number(r.activities)} activiteit{'en' if r.activities != 1 else ''})"
    )


def _whole(value: float) -> str:
    """A chart's numbers, on the bars and along the axis, in Dutch: 1.200."""
    return number(round(value))


def _legend_bars(
    size: Size, labels: Sequence[str], series: Sequence[tuple[str, list[int]]], *, per_row: int
) -> pygal.HorizontalBar:
    """Horizontal bars, a few series per row with a legend below, Dutch numbers on the bars."""
    height = round((110 + per_row * max(len(labels), 2)) * size.row)
    chart = pygal.HorizontalBar(
        **_options(size, height=height, legend_at_bottom=True,
                   formatter=_whole, value_formatter=_whole, truncate_label=-1,
                   **_value_axis(size, [v for _, values in series for v in values])),
    )  # fmt: skip
    chart.x_labels = [_cut(size, label) for label in labels]
    for label, values in series:
        chart.add(label, values)
    return chart


def _reach_bars(chart_id: str, title: str, rows: Sequence[ReachRow]) -> Chart:
    """Three bars per row (children, families, professionals), Dutch numbers on the bars."""
    labels = [r.title for r in reversed(rows)]
    series = [(label, [getattr(r, key) for r in reversed(rows)]) for key, label in REACH_SERIES]
    given = [f"{r.title}: {_reach_words(r)}" for r in rows if r.activities]
    none = [r.title for r in rows if not r.activities]
    text = f"{title}: " + ("; ".join(given) if given else "nog geen activiteiten")
    if none and given:
        text += f"; geen activiteiten: {_and(none)}"
    return _inline(lambda size: _legend_bars(size, labels, series, per_row=58), chart_id, title, text + ".")


CLICK_CHART_ROWS = 10  # the chart shows the most read; the table below it has every row


def _readers(n: int) -> str:
    return f"{number(n)} {'lezer' if n == 1 else 'lezers'}"


def _clicks_word(n: int) -> str:
    return f"{number(n)} {'klik' if n == 1 else 'klikken'}"


def clicks_chart(c: ClicksPart) -> Chart:
    """The most read partners and sources: readers (unique per story, added up) and clicks."""
    rows = [r for r in c.partners if r.clicks][:CLICK_CHART_ROWS]
    labels = [r.name for r in reversed(rows)]
    series = [
        ("Lezers die klikten", [r.clickers for r in reversed(rows)]),
        ("Klikken", [r.clicks for r in reversed(rows)]),
    ]
    title = "Lezers die klikten, per partner of bron"
    if rows:
        text = title
        if sum(1 for r in c.partners if r.clicks) > len(rows):
            text += f", de {len(rows)} meest gelezen (de tabel heeft ze allemaal)"
        text += ": " + "; ".join(f"{r.name}: {_readers(r.clickers)}, {_clicks_word(r.clicks)}" for r in rows)
    else:
        text = f"{title}: nog geen klikken op verhalen uit nieuwsbrieven van deze periode"
    return _inline(lambda size: _legend_bars(size, labels, series, per_row=44), "klikken-partners", title,
                   text + ".")  # fmt: skip


def monitoring_charts(m: MonitoringPart) -> dict[str, Chart]:
    out = {
        b.chart: _reach_bars(f"bereik-{b.chart}", f"Bereik per {b.column}", rows)
        for b, rows in m.breakdowns()
    }
    out["ervaringsdeskundigen"] = _with_ervaringsdeskundigen(
        "voortgang-ervaringsdeskundigen", "Activiteiten met ervaringsdeskundigen", "activiteiten", m.totals
    )
    return out


def charts(report: Report) -> dict[str, Chart]:
    out = {"maanden": _months_chart(report)}
    for b, rows in report.breakdowns():
        out[b.chart] = _bars(b.chart, f"Bijdragen per {b.column}", rows)
    out["ervaringsdeskundigen"] = _with_ervaringsdeskundigen(
        "ervaringsdeskundigen", "Bijdragen met ervaringsdeskundigen", "bijdragen", report.totals
    )
    if report.clicks is not None:
        out["klikken"] = clicks_chart(report.clicks)
    return out
