"""The report's "Wat lezers deden" in a real headless Chromium: its chart and tables are there and
drawn, axe-core finds nothing serious on a phone or a desktop, the tables that scroll are regions a
keyboard reaches, and a phone scrolls only inside them."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import Browser
from test_report import report_page
from test_report_clicks import fill

pytestmark = pytest.mark.browser

# table id -> body rows: 4 partners or sources, the three issues' stories, 4 other links.
NEW_TABLES = {
    "tabel-klikken-partners": 4, "tabel-klikken-2026-02": 2, "tabel-klikken-2026-05": 3,
    "tabel-klikken-2026-12": 1, "tabel-andere-links": 4,
}  # fmt: skip


@pytest.fixture(scope="module")
def page_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report_page(tmp_path_factory.mktemp("report"), fill)


def test_the_chart_and_the_tables_are_drawn(page_path: Path, browser: Browser) -> None:
    page = browser.open(page_path, width=1280)
    chart = page.evaluate(
        """() => {
            const f = document.querySelector('#lezers figure.chart');
            const svg = f.querySelector('svg[role=img]');
            const box = svg.getBoundingClientRect();
            const ids = svg.getAttribute('aria-labelledby').split(' ');
            return {id: f.id, width: box.width, height: box.height,
                    named: ids.every(i => document.getElementById(i)?.textContent.trim().length > 0),
                    bars: svg.querySelectorAll('rect.rect').length,
                    caption: f.querySelector('figcaption').textContent.trim()};
        }"""
    )
    assert chart["id"] == "grafiek-klikken-partners"
    assert chart["width"] > 300 and chart["height"] > 150, chart
    assert chart["named"] and chart["bars"] == 6, chart  # 3 partners or sources with clicks, 2 bars each
    assert chart["caption"].startswith("Lezers die klikten, per partner of bron: Gemeente Zwolle: 4 lezers")
    tables = dict(
        page.evaluate(
            "[...document.querySelectorAll('#lezers table')].map(t => [t.id, t.tBodies[0].rows.length])"
        )
    )
    assert tables == NEW_TABLES
    cells = page.evaluate(
        """[...document.querySelectorAll('#tabel-klikken-2026-02 tr')].map(r =>
            [...r.cells].map(c => c.textContent.trim()))"""
    )
    assert cells == [
        ["Verhaal", "Partner of bron", "Lezers die klikten", "Klikken"],
        ["Verhaal a1", "Gemeente Zwolle", "2", "4"],
        ["Verhaal b1", "GGD Fryslân", "1", "1"],
        ["Andere links (webversie, websites)", "2", "3"],
        ["Alle links, elke lezer één keer", "3", "8"],
    ]
    assert page.evaluate("document.querySelectorAll('#lezers .headline dd').length") == 4
    column = page.evaluate(
        """[...document.querySelectorAll('#tabel-partners tbody tr')].map(r =>
            [r.cells[0].textContent.trim(), r.cells[r.cells.length - 1].textContent.trim()])"""
    )
    assert ["Gemeente Zwolle", "4"] in column and ["GGD Fryslân", "2"] in column


@pytest.mark.parametrize("width", [375, 1280])
def test_axe_finds_nothing_serious_and_a_phone_scrolls_only_inside_tables(
    page_path: Path, browser: Browser, width: int, tmp_path: Path
) -> None:
    page = browser.open(page_path, width=width)
    assert page.horizontal_overflow() == 0
    assert page.axe() == []
    regions = page.evaluate(
        """[...document.querySelectorAll('#lezers .wrap')].map(w => [w.tabIndex,
            document.getElementById(w.getAttribute('aria-labelledby'))?.tagName])"""
    )
    assert len(regions) == len(NEW_TABLES) and all(r == [0, "CAPTION"] for r in regions)
    page.screenshot(tmp_path / f"clicks-{width}.png")
