"""The report page in a real headless Chromium: every chart and table is there and drawn,
nothing is fetched, a phone can read it, and it prints."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from browser import CHROMIUM_ARGS, Browser, chromium_or_skip
from test_report import fill, report_page

pytestmark = pytest.mark.browser

CHARTS = ["maanden", "sectoren", "provincies", "themas", "soorten", "horizons", "ervaringsdeskundigen"]
TABLES = [
    "bellijst", "nieuw", "maanden", "sectoren", "provincies", "themas", "soorten", "horizons",
    "ervaringsdeskundigen", "partners",
]  # fmt: skip


@pytest.fixture(scope="module")
def page_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report_page(tmp_path_factory.mktemp("report"), fill)


def test_every_chart_and_table_is_drawn(page_path: Path, browser: Browser) -> None:
    page = browser.open(page_path, width=1000)
    charts = page.evaluate(
        """() => [...document.querySelectorAll('figure.chart')].map(f => {
            const svg = f.querySelector('svg[role=img]');
            const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
            const ids = (svg ? svg.getAttribute('aria-labelledby') : '').split(' ');
            return {id: f.id, width: box.width, height: box.height,
                    named: ids.every(i => document.getElementById(i)?.textContent.trim().length > 0),
                    marks: svg ? svg.querySelectorAll('rect, path').length : 0,
                    caption: f.querySelector('figcaption')?.textContent.trim() ?? ''};
        })"""
    )
    assert [c["id"] for c in charts] == [f"grafiek-{c}" for c in CHARTS]
    for c in charts:
        assert c["width"] > 300 and c["height"] > 150, c
        assert c["named"] and c["marks"] > 2 and c["caption"], c
    tables = page.evaluate(
        "[...document.querySelectorAll('table')].map(t => [t.id, t.tBodies[0].rows.length])"
    )
    # 3 silent, 2 new, 12 months, 4 sectors, 14 provinces, 4 themes, 3 kinds, 4 horizons,
    # 2 rows of ervaringsdeskundigen, 7 partners.
    assert tables == [
        ["tabel-bellijst", 3], ["tabel-nieuw", 2], ["tabel-maanden", 12], ["tabel-sectoren", 4],
        ["tabel-provincies", 14], ["tabel-themas", 4], ["tabel-soorten", 3], ["tabel-horizons", 4],
        ["tabel-ervaringsdeskundigen", 2], ["tabel-partners", 7],
    ]  # fmt: skip
    assert [t[0] for t in tables] == [f"tabel-{t}" for t in TABLES]
    assert page.evaluate("document.querySelectorAll('.headline dd').length") == 7
    # Opened from disk, it asks for nothing: no fonts, images, styles or scripts.
    assert page.evaluate("performance.getEntriesByType('resource').length") == 0
    assert page.evaluate("document.documentElement.lang") == "nl"


def test_a_phone_scrolls_only_inside_the_wide_tables(page_path: Path, browser: Browser) -> None:
    page = browser.open(page_path, width=375)
    assert page.horizontal_overflow() == 0
    widths = page.evaluate("[...document.querySelectorAll('figure.chart svg')].map(s => s.clientWidth)")
    assert widths and max(widths) <= 375


@pytest.mark.parametrize("width", [375, 1280])
def test_axe_finds_nothing_serious_on_a_phone_or_a_desktop(
    page_path: Path, browser: Browser, width: int
) -> None:
    page = browser.open(page_path, width=width)
    assert page.axe() == []
    # The tables that scroll sideways on a phone are regions a keyboard reaches, named by their caption.
    regions = page.evaluate(
        """[...document.querySelectorAll('.wrap')].map(w => [w.tabIndex,
            document.getElementById(w.getAttribute('aria-labelledby'))?.tagName])"""
    )
    assert regions and all(r == [0, "CAPTION"] for r in regions)


def test_it_prints_on_a_few_a4_pages(page_path: Path, tmp_path: Path) -> None:
    executable = chromium_or_skip()
    pdf = tmp_path / "report.pdf"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                executable, "--headless", *CHROMIUM_ARGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
                f"--print-to-pdf={pdf}", page_path.as_uri(),
            ],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    assert 3 <= pages <= 10, pages
