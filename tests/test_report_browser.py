"""The report page in a real headless Chromium: every chart and table is there and drawn,
nothing is fetched, a phone can read it (tables in labelled boxes a keyboard scrolls, chart labels of
12 px and more as drawn), axis numbers never overlap, the CSV files are links, and it prints. The
phone and desktop checks run on the small fixture's report and on the demo's (all 13 charts)."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="module", params=["fixture", "demo"])
def any_page(request: pytest.FixtureRequest, page_path: Path, demo_built: Path) -> Path:
    """The small fixture's report, and the demo's: monitoring and clicks too, 13 charts."""
    if request.param == "fixture":
        return page_path
    return demo_built / "build" / "report" / "index.html"


def test_every_chart_and_table_is_drawn(page_path: Path, browser: Browser) -> None:
    page = browser.open(page_path, width=1000)
    charts = page.evaluate(
        """() => [...document.querySelectorAll('figure.chart')].map(f => {
            const svg = [...f.querySelectorAll('svg[role=img]')].find(s => s.getClientRects().length);
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


# Every table at a width: how wide it is against the box it sits in, and that box's role, name and tab stop.
TABLES_JS = """() => [...document.querySelectorAll('table')].map(t => {
    const box = t.closest('.wrap'), style = box ? getComputedStyle(box) : null;
    const names = (box?.getAttribute('aria-labelledby') ?? '').split(' ').filter(Boolean);
    return {id: t.id, table: t.getBoundingClientRect().width, box: box ? box.clientWidth : null,
            right: box ? box.getBoundingClientRect().right : t.getBoundingClientRect().right,
            scrolls: style ? ['auto', 'scroll'].includes(style.overflowX) : false,
            role: box?.getAttribute('role') ?? null, tab: box ? box.tabIndex : null,
            name: (box?.getAttribute('aria-label') ?? names.map(i => document.getElementById(i)?.textContent ?? '')
                   .join(' ')).trim(),
            smallest: Math.min(...[...t.querySelectorAll('th, td, caption')]
                                   .map(c => parseFloat(getComputedStyle(c).fontSize)))};
})"""


def test_on_a_phone_every_table_fits_or_scrolls_in_its_own_labelled_box(
    any_page: Path, browser: Browser
) -> None:
    page = browser.open(any_page, width=375)
    tables = page.evaluate(TABLES_JS)
    assert len(tables) >= 10
    wide = [t for t in tables if t["table"] > t["box"] + 1]
    assert wide  # the partner table has 7 columns: it cannot fit in 343 px
    for t in tables:
        assert t["right"] <= 375, t  # no table, and no box, runs off the screen
        assert t["smallest"] >= 12, t  # text a phone reads
        # In its own box: a region with a name, reached by Tab; a wide table scrolls inside it.
        assert t["role"] == "region" and t["tab"] == 0 and len(t["name"]) > 5, t
        assert t["scrolls"], t
    # The keyboard scrolls it: the box takes focus, and the arrow key moves the table sideways.
    first = wide[0]["id"]
    box = page._page.locator(f"#{first}").locator("xpath=..")
    box.focus()
    assert page.evaluate("id => document.activeElement === document.getElementById(id).parentElement", first)
    page._page.keyboard.press("ArrowRight")
    page._page.wait_for_function(
        f"document.getElementById({first!r}).parentElement.scrollLeft > 0", timeout=5000
    )


# Every drawn text of the chart drawings on show: its size as rendered (the font size times the
# drawing's scale), and each axis' labels as boxes on the screen.
CHART_TEXT_JS = """() => [...document.querySelectorAll('figure.chart svg[role=img]')]
    .filter(svg => svg.getClientRects().length).map(svg => {
        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim() && t.getClientRects().length);
        return {id: svg.id, figure: svg.closest('figure').id,
                smallest: Math.min(...texts.map(t => parseFloat(getComputedStyle(t).fontSize) * scale)),
                axes: [...svg.querySelectorAll('g.axis')].map(a => [...a.querySelectorAll('text')]
                    .filter(t => t.textContent.trim()).map(t => {
                        const r = t.getBoundingClientRect();
                        return [t.textContent, r.left, r.top, r.right, r.bottom];
                    }))};
    })"""


def overlaps(axis: list[list[Any]]) -> list[tuple[str, str]]:
    """The pairs of labels on one axis whose boxes overlap (by more than half a pixel)."""
    found = []
    for i, (a, left, top, right, bottom) in enumerate(axis):
        for b, left2, top2, right2, bottom2 in axis[i + 1 :]:
            if left < right2 - 0.5 and left2 < right - 0.5 and top < bottom2 - 0.5 and top2 < bottom - 0.5:
                found.append((a, b))
    return found


@pytest.mark.parametrize("width", [375, 1280])
def test_chart_labels_are_12_px_or_more_and_axis_labels_never_overlap(
    any_page: Path, browser: Browser, width: int
) -> None:
    page = browser.open(any_page, width=width)
    charts = page.evaluate(CHART_TEXT_JS)
    figures = page.evaluate("document.querySelectorAll('figure.chart').length")
    assert figures >= 7 and len(charts) == figures  # one drawing of each chart on show
    assert {c["id"]: round(c["smallest"], 1) for c in charts if c["smallest"] < 12} == {}
    assert {c["id"]: overlaps(axis) for c in charts for axis in c["axes"] if overlaps(axis)} == {}
    narrow = width < 800
    assert all(c["id"].endswith("-smal") == narrow for c in charts), [c["id"] for c in charts]
    assert sum(len(axis) for c in charts for axis in c["axes"]) > 20  # there are axis labels to check


def test_the_csv_files_it_names_are_links_to_them(any_page: Path, browser: Browser) -> None:
    page = browser.open(any_page, width=1280)
    links = page.evaluate(
        "[...document.querySelectorAll('footer a')].map(a => [a.getAttribute('href'), a.textContent, a.href])"
    )
    written = sorted(p.name for p in any_page.parent.glob("*.csv"))
    assert len(written) >= 9  # summary, months, sectors, provinces, themes, kinds, partners, silent, new
    assert [href for href, _, _ in links] == written  # every file, in order, by its own name
    assert all(text == href for href, text, _ in links)
    # Each resolves, from where the page is, to the file beside it.
    assert all(Path(url.removeprefix("file://")) == any_page.parent / href for href, _, url in links)


@pytest.mark.parametrize("width", [375, 1280])
def test_axe_finds_nothing_serious_on_a_phone_or_a_desktop(
    any_page: Path, browser: Browser, width: int
) -> None:
    page = browser.open(any_page, width=width)
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
