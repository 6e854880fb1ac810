"""The reader's own page as she uses it, in Debian's chromium against a real `newsletter serve`: without
JavaScript she chooses, pauses, unsubscribes and undoes it, and is forgotten; every page fits a phone
and a desktop and axe-core finds nothing. ``SCREENSHOTS=DIR`` keeps the screenshots there."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import Browser, axe_violations
from conftest import DEMO, newsletter
from servers import Service, running_serve
from test_preferences import confirmation_token, token_of

pytestmark = pytest.mark.browser
WAIT = 10_000  # ms: a bound, not a target


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prefs-browser") / "demo"
    shutil.copytree(DEMO, folder)
    done = newsletter(folder, "subscribers", "import", str(folder / "subscribers.csv"), "--basis", "demo")
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture(scope="module")
def service(root: Path) -> Iterator[Service]:
    with running_serve(root) as s:
        yield s


def no_js(browser: Browser, width: int = 375) -> Any:
    return browser._browser.new_context(java_script_enabled=False, viewport={"width": width, "height": 800})


def test_without_javascript_she_chooses_pauses_unsubscribes_undoes_it_and_is_forgotten(
    root: Path, service: Service, browser: Browser
) -> None:
    context = no_js(browser)
    try:
        page = context.new_page()
        page.goto(f"{service.base}/voorkeuren?t={token_of(root, 'daan.bakker@example.org')}")
        page.get_by_label("Overijssel").check()
        page.get_by_label("Onderwijs").check()
        page.get_by_role("button", name="Bewaar mijn keuze").click()
        page.get_by_role("status").wait_for(timeout=WAIT)
        assert (
            page.get_by_role("status").inner_text()
            == "Je keuze is bewaard. De volgende nieuwsbrief houdt er rekening mee."
        )
        assert page.get_by_label("Overijssel").is_checked() and not page.get_by_label("Utrecht").is_checked()

        page.get_by_label("Pauzeer de nieuwsbrief").select_option(label="3 maanden")
        page.get_by_role("button", name="Pauzeer").click()
        assert "Je pauze staat aan." in page.get_by_role("status").inner_text()

        page.get_by_role("link", name="Afmelden").click()
        page.get_by_role("button", name="Meld me af").click()
        page.get_by_role("heading", name="Je bent afgemeld").wait_for(timeout=WAIT)
        page.get_by_role("button", name="Meld me weer aan").click()
        assert page.get_by_role("status").inner_text() == "Je bent weer aangemeld. Fijn dat je blijft!"

        page.get_by_role("link", name="Vergeet mij: wis al mijn gegevens").click()
        page.get_by_label("Ja, wis al mijn gegevens").check()
        page.get_by_role("button", name="Vergeet mij").click()
        page.get_by_role("heading", name="We zijn je vergeten").wait_for(timeout=WAIT)
    finally:
        context.close()
    with closing(sqlite3.connect(root / "state" / "newsletter.sqlite3")) as c:
        assert "daan.bakker" not in "\n".join(c.iterdump()).lower()


def shots() -> Path | None:
    folder = os.environ.get("SCREENSHOTS")
    return Path(folder) if folder else None


def test_every_page_fits_a_phone_and_a_desktop_and_passes_axe(
    root: Path, service: Service, browser: Browser, tmp_path: Path
) -> None:
    carla = token_of(root, "carla@example.org")
    anna = token_of(root, "anna.devries@example.org")
    with httpx.Client(base_url=service.base) as http:  # a state for the pages that show one
        http.post("/voorkeuren", data={"t": carla, "provincie-noord-brabant": "1", "thema-meedoen": "1"})
        http.post("/voorkeuren/pauze", data={"t": carla, "maanden": "2"})
        http.post("/voorkeuren/afmelden", data={"t": anna})
    pages: dict[str, tuple[str, str | None]] = {
        "voorkeuren": (f"/voorkeuren?t={carla}&klaar=bewaard", None),
        "afgemeld-voorkeuren": (f"/voorkeuren?t={anna}", None),
        "afmelden": (f"/voorkeuren/afmelden?t={carla}", None),
        "afgemeld": (f"/voorkeuren/afmelden?t={carla}", "Meld me af"),
        "vergeten-vraag": (f"/voorkeuren/vergeten?t={carla}", None),
        "vergeten-niet-aangevinkt": (f"/voorkeuren/vergeten?t={carla}", "Vergeet mij"),
        "link-werkt-niet": ("/voorkeuren?t=oud", None),
        "nieuwe-link": ("/voorkeuren?t=oud", "Stuur me een nieuwe link"),
        "bevestig-gebruikt": ("/bevestig?token=" + "x" * 43, None),
    }
    keep = shots() or tmp_path
    for width in (375, 1280):
        for name, (path, button) in pages.items():
            page: Any = browser.open(f"{service.base}{path}", width=width)._page
            if name == "nieuwe-link":
                page.get_by_label("E-mailadres").fill("iemand@example.org")
            if button:
                page.get_by_role("button", name=button).click()
                page.wait_for_load_state()
            check(page, name, width, keep)
            if name == "afgemeld":  # undo, for the next width
                page.get_by_role("button", name="Meld me weer aan").click()
            page.close()
        # A sign-up confirmed: the page that says so, and a forgetting.
        address = f"lezer{width}@example.org"
        with httpx.Client(base_url=service.base) as http:
            http.post(
                "/aanmelden",
                data={"email": address},
                headers={"x-forwarded-for": f"198.51.100.{width % 250}"},
            )
        page = browser.open(
            f"{service.base}/bevestig?token={confirmation_token(root, address)}", width=width
        )._page
        page.get_by_role("button", name="Bevestig mijn aanmelding").click()
        page.get_by_role("heading", name="Je bent aangemeld").wait_for(timeout=WAIT)
        check(page, "aangemeld", width, keep)
        page.goto(f"{service.base}/voorkeuren/vergeten?t={token_of(root, address)}")
        page.get_by_label("Ja, wis al mijn gegevens").check()
        page.get_by_role("button", name="Vergeet mij").click()
        page.get_by_role("heading", name="We zijn je vergeten").wait_for(timeout=WAIT)
        check(page, "vergeten", width, keep)
        page.close()


def check(page: Any, name: str, width: int, keep: Path) -> None:
    assert page.evaluate("document.documentElement.lang") == "nl"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, (name, width, overflow)
    found = axe_violations(page, ("minor", "moderate", "serious", "critical"))
    assert found == [], (name, width, json.dumps(found))
    keep.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(keep / f"{name}-{width}.png"), full_page=True)
