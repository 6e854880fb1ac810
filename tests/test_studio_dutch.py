"""The studio in Dutch (NEWSLETTER_LANG=nl), read in Debian's chromium: its labels, notes, dates and
numbers as a Dutch editor reads them, lang="nl" on every page, the send time in words beside the date
field (which follows the browser's language, not the page's), and no serious axe finding at 375 and
1280 px. The expected texts are written here by hand, not taken from the catalog."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import Browser, axe_violations
from conftest import newsletter
from servers import Studio, running_studio

pytestmark = pytest.mark.browser

WAIT = 10_000  # ms: a bound
DUTCH = {"NEWSLETTER_LANG": "nl"}


@pytest.fixture
def studio(demo_root: Path) -> Iterator[Studio]:
    """The demo, collected and drafted, in a studio that speaks Dutch."""
    assert newsletter(demo_root, "collect").returncode == 0
    result = newsletter(demo_root, "draft", "2026-12", "--since", "2026-11-01")
    assert result.returncode == 0, result.stderr
    with running_studio(demo_root, "2026-12", env=DUTCH) as s:
        yield s


def open_page(browser: Browser, url: str, width: int = 1280) -> Any:
    return browser.open(url, width=width, height=900)._page


def note(page: Any) -> str:
    """The note of the action just done (swapped into the page by its script)."""
    page.wait_for_function(
        "() => { const n = document.getElementById('note'); return n && !n.dataset.read; }", timeout=WAIT
    )
    text = " ".join(page.locator("#note").inner_text().split())
    page.evaluate("document.getElementById('note').dataset.read = '1'")
    return text


def test_the_studio_reads_dutch(studio: Studio, browser: Browser) -> None:
    page = open_page(browser, studio.url)
    assert page.title() == "Nieuwsbrief 2026-12 · Nieuwsbriefstudio"
    assert page.evaluate("document.documentElement.lang") == "nl"
    assert page.locator("h1").inner_text().startswith("Nieuwsbrief 2026-12 concept")
    assert page.locator("#fields-heading").inner_text() == "Onderwerp, preheader, inleiding, verzendtijd"
    assert page.locator("label[for=f-send_at]").inner_text() == "Verzendtijd (Europe/Amsterdam)"
    assert page.locator("#save-fields").inner_text() == "Opslaan"
    assert page.locator("#lineup-heading").inner_text() == "Indeling"
    assert page.locator("#section-partners h4").inner_text().startswith("Reserves (")
    entry = page.locator("#section-partners li[data-item='f2f16c55bb0a']")
    laptops = "1.200 opgeknapte laptops voor leerlingen"
    for button in ("Omhoog", "Omlaag", "Naar reserves", "Verplaatsen", "Weghalen"):
        # The button's name: its word, then (for a screen reader) the entry's title.
        named = entry.get_by_role("button", name=re.compile(rf"^{button}\W+{re.escape(laptops)}$"))
        assert named.count() == 1, button
    assert entry.locator("summary").inner_text() == "Eigen titel en samenvatting"
    runner = page.locator("#section-partners ol.runners_up li.entry").first
    assert runner.locator("button[value=promote]").inner_text().startswith("Naar berichten\n")
    assert page.locator("#balance-heading").inner_text() == "Balans"
    assert page.locator("#balance caption").all_inner_texts()[:2] == ["Sectoren", "Provincies"]
    headers = page.locator("#balance table").first.locator("thead th").all_inner_texts()
    assert headers == ["Sector", "Deze nieuwsbrief", "Partners"]
    assert page.locator("label[for=filter-theme]").inner_text() == "Thema"
    assert page.locator("#filter-kind option").first.inner_text() == "alle"
    assert page.locator("nav a").first.inner_text() == "Alle nieuwsbrieven"
    # A number in Dutch: a decimal comma in the size of the email.
    size = page.locator(".size").inner_text()
    assert re.fullmatch(r"E-mail: \d+,\d KB HTML\. Gmail kort berichten boven 102 KB in\.", size), size
    # A date in Dutch: the best candidate's line.
    assert page.locator("ol.candidates li .meta").first.inner_text() == (
        "Samen tegen Kinderarmoede · 7 december 2026 · Voortgang · met ervaringsdeskundigen · 100 punten"
    )

    # The send time: the field is the browser's (mm/dd/yyyy in an English chromium), the line below it
    # reads the value in Dutch, as it is typed and once it is saved.
    hint = page.locator("#f-send_at-now")
    assert hint.inner_text() == "Nu: nog geen verzendtijd"
    page.fill("#f-send_at", "2026-12-10T09:00")
    assert hint.inner_text() == "Nu: donderdag 10 december 2026, 9.00 uur"
    page.click("#save-fields")
    assert note(page) == "Opgeslagen: verzendtijd."
    assert page.locator("#f-send_at-now").inner_text() == "Nu: donderdag 10 december 2026, 9.00 uur"

    # A move, and its note.
    page.select_option("#move-partners-items-1", "kennis:items")
    entry.get_by_role("button", name=re.compile("^Verplaatsen")).click()
    assert note(page) == "Het bericht staat nu in kennis (berichten)."
    page.locator("#section-partners li[data-item='a59cbd015e94']").get_by_role(
        "button", name=re.compile("^Verplaatsen")
    ).click()
    assert note(page) == "Niets verplaatst: het bericht staat daar al."

    # The list of issues: the send time as a Dutch date.
    index = open_page(browser, f"{studio.base}/")
    assert index.title() == "Nieuwsbrieven · Nieuwsbriefstudio"
    row = index.locator("table.issues tbody tr").filter(has_text="2026-12")
    assert row.locator("td").all_inner_texts()[:3] == ["2026-12", "concept", "10 december 2026, 9.00 uur"]
    assert index.get_by_role("button", name="Concept maken").count() == 1


def test_every_page_says_it_is_dutch_and_passes_axe(studio: Studio, browser: Browser, tmp_path: Path) -> None:
    pages = {
        "index": f"{studio.base}/",
        "issue": studio.url,
        "source": f"{studio.url}/source",
        "missing": f"{studio.base}/issue/2027-01",
    }
    for name, url in pages.items():
        assert httpx.get(url).text.startswith('<!doctype html>\n<html lang="nl">'), name
    missing = httpx.get(pages["missing"]).text
    assert (
        "<p><strong>Fout:</strong> er is geen nieuwsbrief &#39;2027-01&#39;: issues/2027-01.yaml bestaat niet</p>"
        in missing
    )
    assert '<button type="submit">Concept maken voor 2027-01</button>' in missing
    for width in (375, 1280):
        for name, url in pages.items():
            page = open_page(browser, url, width)
            assert page.evaluate("document.documentElement.lang") == "nl"
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, (
                name,
                width,
            )
            found = axe_violations(page)
            assert found == [], (name, width, json.dumps(found))
            page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=True)
            page.close()


def test_the_sign_in_page_is_dutch(demo_root: Path) -> None:
    env = {**DUTCH, "NEWSLETTER_STUDIO_PASSWORD": "lang genoeg wachtwoord"}
    with running_studio(demo_root, env=env) as studio:
        login = httpx.get(f"{studio.base}/login").text
    assert "<title>Nieuwsbriefstudio: inloggen</title>" in login
    assert "<h1>Nieuwsbriefstudio: inloggen</h1>" in login


def test_a_refused_save_is_told_in_dutch(studio: Studio) -> None:
    with httpx.Client() as c:
        page = c.get(studio.url).text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        answer = c.post(
            f"{studio.url}/edit",
            data={"op": "fields", "subject": "Nieuws", "version": "sha256:" + "0" * 64, "csrf_token": token},
            headers={"Accept": "application/json"},
        )
    assert answer.status_code == 409
    assert answer.json() == {
        "ok": False,
        "message": "issues/2026-12.yaml is veranderd sinds de pagina werd geladen (opgeslagen in een editor "
        "of in een ander venster); je wijziging is niet opgeslagen",
        "fix": "de pagina laat nu de nieuwe versie zien: doe je wijziging daar opnieuw",
        "problems": [],
    }
