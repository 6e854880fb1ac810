"""The studio's "bekijk als" in chromium: an editor views the edition a reader with a choice gets,
without JavaScript, at 375 and 1280 px, axe-clean; and the preview route refuses editions that do not
exist (made-up ids, keys not as the program writes them, a huge parameter)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import Browser, axe_violations
from conftest import DEMO, newsletter
from servers import Studio, running_studio
from test_editions import edit_drafted

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """The demo, collected and drafted, with the agenda by province and kennis by theme."""
    root = tmp_path_factory.mktemp("editions") / "demo"
    shutil.copytree(DEMO, root)
    assert newsletter(root, "collect").returncode == 0
    assert newsletter(root, "draft", "2026-12", "--since", "2026-11-01").returncode == 0
    edit_drafted(root)
    with running_studio(root, "2026-12", env={"NEWSLETTER_LANG": "nl"}) as s:
        yield s


def agenda_of(html: str) -> str:
    return html[html.index(">Agenda<") :]


def test_an_editor_views_the_overijssel_edition_without_javascript(
    studio: Studio, browser: Browser, tmp_path: Path
) -> None:
    for width in (375, 1280):
        page: Any = browser.open(studio.url, width=width, height=900, javascript=False)._page
        page.locator(".view-as summary").click()
        page.get_by_label("Overijssel").check()
        page.get_by_label("Onderwijs").check()
        page.get_by_role("button", name="Bekijk deze editie").click()
        page.wait_for_load_state("load")
        assert (
            page.locator(".view-as-shown").inner_text()
            == "Je bekijkt de editie voor: Overijssel, thema Onderwijs."
        )
        assert "province=overijssel" in page.url and "theme=onderwijs" in page.url
        chosen = page.url
        # Both frames show her edition: the Zwolle event first, the rest folded.
        frames = page.locator("iframe[title^='De e-mail op']")
        assert frames.count() == 2
        for i in range(2):
            src = frames.nth(i).get_attribute("src")
            assert src is not None and src.endswith("&als=provinces%3Doverijssel%3Bthemes%3Donderwijs")
            agenda = agenda_of(httpx.get(studio.base + src).text)
            assert agenda.index("Publieksacademie Kinderarmoede in Zwolle") < agenda.index(
                "Meer uit het land"
            )
        page.close()
        # axe runs as a script: on the same page with JavaScript (the studio's own script on).
        page = browser.open(chosen, width=width, height=900)._page
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, width
        found = axe_violations(page)
        assert found == [], (width, json.dumps(found))
        page.screenshot(path=str(tmp_path / f"bekijk-als-{width}.png"), full_page=True)
        page.close()


def test_a_choice_that_changes_nothing_says_so_and_shows_the_issue_as_it_is(studio: Studio) -> None:
    page = httpx.get(studio.url, params={"province": "utrecht"}).text
    assert "Utrecht verandert niets aan deze nieuwsbrief" in page
    assert "&amp;als=" not in page
    whole = httpx.get(f"{studio.url}/preview/email").text
    assert "Meer uit het land" not in whole
    agenda = agenda_of(whole)
    assert agenda.index("Inloopavond") < agenda.index("Publieksacademie Kinderarmoede in Zwolle")


@pytest.mark.parametrize(
    "als",
    [
        "provinces=mars",  # no such province
        "provinces=overijssel,overijssel",  # not as the program writes a key
        "themes=onderwijs;provinces=overijssel",  # the order the program never writes
        "provinces=utrecht",  # a real province that changes nothing: no edition of this issue
        "x" * 20_000,  # huge
        "provinces=<script>alert(1)</script>",
    ],
)
def test_the_preview_refuses_an_edition_that_does_not_exist(studio: Studio, als: str) -> None:
    answer = httpx.get(f"{studio.url}/preview/email", params={"als": als})
    assert answer.status_code in (404, 414, 431), als[:40]  # 431: the request line itself is refused
    assert "<script>alert" not in answer.text
    forged = httpx.post(f"{studio.url}/preview/email", params={"als": "provinces=overijssel"})
    assert forged.status_code in (403, 405)  # no CSRF token: refused before the route, which is GET only


def test_unknown_ids_in_the_choice_are_left_out(studio: Studio) -> None:
    page = httpx.get(studio.url, params={"province": ["overijssel", "<b>mars</b>"], "theme": "x" * 5000}).text
    shown = page[page.index('class="view-as-shown"') :]
    assert shown[: shown.index("</p>")].endswith(">Je bekijkt de editie voor: Overijssel.")
    assert "<b>mars</b>" not in page  # the page's own return addresses keep the query, encoded
