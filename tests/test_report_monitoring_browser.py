"""The report's monitoring in a real headless Chromium: every new chart and table is there and drawn,
axe-core finds nothing serious on a phone or a desktop, the partners' words are text, and on a
desktop the new tables fit without scrolling."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import Browser
from test_report import report_page
from test_report_monitoring import PARTNERS, fill, write_monitoring

pytestmark = pytest.mark.browser

NEW_CHARTS = [
    "bereik-themas",
    "bereik-horizons",
    "bereik-sectoren",
    "bereik-provincies",
    "voortgang-ervaringsdeskundigen",
]
# table id -> body rows: 2 not reported, 3 themes, 3 horizons + "not given", 3 sectors, 13 provinces,
# 2 rows of ervaringsdeskundigen, 5 partners with a pledge or progress.
NEW_TABLES = {
    "tabel-nog-geen-voortgang": 2, "tabel-bereik-themas": 3, "tabel-bereik-horizons": 4, "tabel-bereik-sectoren": 3,
    "tabel-bereik-provincies": 13, "tabel-voortgang-ervaringsdeskundigen": 2, "tabel-toezeggingen": 5,
}  # fmt: skip


@pytest.fixture(scope="module")
def page_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report_page(tmp_path_factory.mktemp("report"), fill, partners=PARTNERS, files=write_monitoring)


def test_every_new_chart_and_table_is_drawn(page_path: Path, browser: Browser) -> None:
    page = browser.open(page_path, width=1280)
    charts = page.evaluate(
        """() => [...document.querySelectorAll('figure.chart')].map(f => {
            const svg = f.querySelector('svg[role=img]');
            const box = svg.getBoundingClientRect();
            const ids = svg.getAttribute('aria-labelledby').split(' ');
            return {id: f.id, width: box.width, height: box.height,
                    named: ids.every(i => document.getElementById(i)?.textContent.trim().length > 0),
                    bars: svg.querySelectorAll('rect.rect, path.slice').length,
                    caption: f.querySelector('figcaption').textContent.trim()};
        })"""
    )
    ids = [c["id"] for c in charts]
    assert ids[:5] == [f"grafiek-{c}" for c in NEW_CHARTS]  # before the newsletter's charts
    assert len(ids) == 12
    for c in charts[:5]:
        assert c["width"] > 300 and c["height"] > 150, c
        assert c["named"] and c["bars"] >= 2 and c["caption"], c
    tables = dict(
        page.evaluate("[...document.querySelectorAll('table')].map(t => [t.id, t.tBodies[0].rows.length])")
    )
    assert {k: tables[k] for k in NEW_TABLES} == NEW_TABLES
    totals = page.evaluate(
        """[...document.querySelectorAll('table[id^=tabel-bereik] tfoot td')].map(td => td.textContent.trim())"""
    )
    assert totals == ["6", "1.700", "1.275", "38", "3"] * 4  # every view adds up to the same totals
    assert page.evaluate("document.querySelectorAll('article.partner').length") == 5
    assert page.evaluate("document.querySelectorAll('#voortgang .headline dd').length") == 7


def test_the_partners_words_are_text(page_path: Path, browser: Browser) -> None:
    page = browser.open(page_path, width=1280)
    assert page.evaluate("document.scripts.length") == 0
    quote = page.evaluate("document.querySelector('#partner-zonder blockquote').textContent.trim()")
    assert quote == '=HYPERLINK("https://x.example") <script>alert(1)</script> & meer'


@pytest.mark.parametrize("width", [375, 1280])
def test_axe_finds_nothing_serious_and_it_fits(
    page_path: Path, browser: Browser, width: int, tmp_path: Path
) -> None:
    page = browser.open(page_path, width=width)
    assert page.horizontal_overflow() == 0
    assert page.axe() == []
    if width == 1280:
        # On a desktop the new tables fit the column: nothing to scroll sideways.
        wide = page.evaluate(
            """[...document.querySelectorAll('.wrap')].filter(w => w.querySelector('table[id^=tabel-bereik],'
                + ' #tabel-toezeggingen, #tabel-nog-geen-voortgang')).filter(w => w.scrollWidth > w.clientWidth)
                .map(w => w.querySelector('table').id)"""
        )
        assert wide == []
    page.screenshot(tmp_path / f"report-{width}.png")
