"""The kennisbank in headless Chromium, served under /archief/ from a loopback server: typing a word
from a sent story into the search finds it, filters narrow it, results link to the story's source
and to its issue; from the folder (file://, where browsers do not let a page load Pagefind's index)
the search page says so. axe finds nothing serious at 375 and 1280 px on the search, the agenda, a
theme page and a partner page. Screenshots land in the test's tmp folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser import Browser, Page, serve
from test_kennisbank import site  # noqa: F401  (the module's published site)

from pipeline.domain.config import Config

pytestmark = pytest.mark.browser


def search(page: Page, word: str, **filters: str) -> list[dict[str, Any]]:
    pw = page._page
    for name, value in filters.items():
        pw.select_option(f"#f-{name}", value)
    pw.fill("#q", word)
    pw.press("#q", "Enter")
    pw.wait_for_function("document.getElementById('status').textContent.includes('gevonden')")
    return list(
        page.evaluate(
            "[...document.querySelectorAll('#resultaten article')].map(a => ({title: a.querySelector('h2').textContent,"
            " links: [...a.querySelectorAll('a')].map(l => l.href)}))"
        )
    )


def test_the_search_finds_a_story_and_filters_narrow_it(
    browser: Browser,
    site: tuple[Config, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    _config, out = site
    with serve(out.parent) as base:
        for width in (375, 1280):
            page = browser.open(f"{base}/archief/zoeken/index.html", width=width)
            found = search(page, "fiets")
            assert [r["title"] for r in found] == ["Een fiets voor elk kind in Zwolle"]
            assert found[0]["links"][0] == "https://www.example.nl/verhalen/fiets"
            assert f"{base}/archief/2026-10/index.html" in found[0]["links"]
            assert page.horizontal_overflow() <= 0
            assert page.axe() == [], f"search at {width}px"
            page.screenshot(tmp_path / f"zoeken-{width}.png")
            page.close()
        # Dutch stemming: "scholen" finds "school"; a filter narrows what a word found.
        page = browser.open(f"{base}/archief/zoeken/index.html", width=1280)
        both = {r["title"] for r in search(page, "school")}
        assert {"Ontbijt op school in Fryslân", "Online sessie: signaleren op school"} <= both
        page.close()
        page = browser.open(f"{base}/archief/zoeken/index.html", width=1280)
        narrowed = [r["title"] for r in search(page, "school", thema="Gezondheid")]
        assert narrowed == ["Ontbijt op school in Fryslân"]
        assert page.evaluate("location.search") == "?q=school&thema=Gezondheid"
        page.close()
        # Filters alone (no word): every story of that kind.
        page = browser.open(f"{base}/archief/zoeken/index.html?soort=Bijeenkomst", width=1280)
        page._page.wait_for_function("document.getElementById('status').textContent.includes('gevonden')")
        titles = page.evaluate("[...document.querySelectorAll('#resultaten h2')].map(h => h.textContent)")
        assert sorted(titles) == [
            "Online sessie: signaleren op school",
            "Publieksacademie over armoede in Zwolle",
        ]
        page.close()

        for rel, name in (("agenda/index.html", "agenda"), ("thema/onderwijs/index.html", "thema"),
                          ("partner/laptopfabriek/index.html", "partner")):  # fmt: skip
            for width in (375, 1280):
                page = browser.open(f"{base}/archief/{rel}", width=width)
                assert page.axe() == [], f"{rel} at {width}px"
                assert page.horizontal_overflow() <= 0, f"{rel} at {width}px"
                page.screenshot(tmp_path / f"{name}-{width}.png")
                page.close()


def test_from_the_folder_the_search_page_says_it_needs_a_server(
    browser: Browser,
    site: tuple[Config, Path],  # noqa: F811
) -> None:
    _config, out = site
    page = browser.open(out / "zoeken" / "index.html", width=375)
    assert page.evaluate("document.getElementById('lokaal').hidden") is False
    assert "werkt alleen als de site op een webserver staat" in page.evaluate("document.body.textContent")
    assert page.axe() == []
    # The pages it points to work from the folder.
    assert page.evaluate("document.querySelector('#lokaal a').href").endswith("/thema/index.html")
    page.close()
