"""The sign-up as a reader does it, in Debian's chromium against a real `newsletter serve`: the
form, the mail in the outbox, the link, the button, and the subscriber in the export. Every page
fits a phone and a desktop and axe-core finds nothing serious, with and without JavaScript."""

from __future__ import annotations

import email
import email.policy
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import Browser, axe_violations
from conftest import newsletter
from servers import Service, running_serve

pytestmark = pytest.mark.browser
WAIT = 10_000  # ms: a bound, not a target


@pytest.fixture
def service(demo_root: Path) -> Iterator[Service]:
    with running_serve(demo_root) as s:
        yield s


def the_link(root: Path) -> str:
    deadline = time.monotonic() + 30
    outbox = root / "outbox" / "aanmelden"
    while not (outbox.exists() and any(outbox.glob("*.eml"))):
        assert time.monotonic() < deadline, "no confirmation mail in the outbox within 30 s"
        time.sleep(0.05)
    [path] = outbox.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "An de Vries <an@example.org>" or message["To"] == "an@example.org"
    html = message.get_body(("html",)).get_content()
    found = re.search(r'href="([^"]+/bevestig\?token=[^"]+)"', html)
    assert found, html
    return found.group(1)


def test_a_reader_signs_up_follows_the_link_and_is_on_the_list(
    service: Service, demo_root: Path, browser: Browser
) -> None:
    page: Any = browser.open(f"{service.base}/aanmelden", width=375)._page
    page.get_by_label("E-mailadres").fill("An@Example.org")
    page.get_by_label("Naam (niet verplicht)").fill("An de Vries")
    page.get_by_label("Organisatie (niet verplicht)").fill("Gemeente Zwolle")
    page.get_by_label("Provincie (niet verplicht)").select_option(label="Overijssel")
    page.get_by_role("button", name="Aanmelden").click()
    page.get_by_role("heading", name="Kijk in je mailbox").wait_for(timeout=WAIT)

    page.goto(the_link(demo_root))
    assert page.get_by_role("heading").inner_text() == "Bevestig je aanmelding"
    assert newsletter(demo_root, "subscribers").stdout.split() == ["pending", "1", "total", "1"]  # not yet
    page.get_by_role("button", name="Bevestig mijn aanmelding").click()
    page.get_by_role("heading", name="Je bent aangemeld").wait_for(timeout=WAIT)
    page.close()

    export = newsletter(demo_root, "subscribers", "export").stdout.splitlines()
    assert export[0] == "email,name,organisation,province,since,basis"
    assert len(export) == 2 and export[1].startswith("an@example.org,An de Vries,Gemeente Zwolle,overijssel,")
    assert export[1].endswith(",consent")


def test_a_mistake_is_shown_beside_the_field_and_read_out(service: Service, browser: Browser) -> None:
    page: Any = browser.open(f"{service.base}/aanmelden", width=1280)._page
    page.get_by_label("E-mailadres").fill("an@")
    page.get_by_role("button", name="Aanmelden").click()
    page.get_by_role("alert").wait_for(timeout=WAIT)
    field = page.get_by_label("E-mailadres")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.input_value() == "an@"  # what they typed stays
    described = field.get_attribute("aria-describedby")
    assert "Dit is geen geldig e-mailadres" in page.locator(f"#{described}").inner_text()
    assert axe_violations(page) == []
    page.close()


def test_every_page_fits_a_phone_and_a_desktop_and_passes_axe(
    service: Service, demo_root: Path, browser: Browser, tmp_path: Path
) -> None:
    newsletter_title = "Aanmelden voor"
    pages = {
        "form": "/aanmelden",
        "snippet": "/aanmelden/formulier",
        "confirm": "/bevestig?token=" + "x" * 43,
        "broken": "/bevestig",
    }
    for width in (375, 1280):
        for name, path in pages.items():
            page: Any = browser.open(f"{service.base}{path}", width=width)._page
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (name, width, overflow)
            found = axe_violations(page, ("minor", "moderate", "serious", "critical"))
            assert found == [], (name, width, json.dumps(found))
            page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=True)
            page.close()
    form: Any = browser.open(f"{service.base}/aanmelden", width=1280)._page
    assert form.title().startswith(newsletter_title)
    assert form.locator("input[name=website]").is_hidden() or form.evaluate(
        "document.querySelector('.trap').getBoundingClientRect().right < 0"
    )  # the honeypot is out of sight
    form.close()


def test_the_form_works_without_javascript(service: Service, demo_root: Path, browser: Browser) -> None:
    context = browser._browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{service.base}/aanmelden")
        page.get_by_label("E-mailadres").fill("an@example.org")
        page.get_by_role("button", name="Aanmelden").click()
        page.get_by_role("heading", name="Kijk in je mailbox").wait_for(timeout=WAIT)
        page.goto(the_link(demo_root))
        page.get_by_role("button", name="Bevestig mijn aanmelding").click()
        page.get_by_role("heading", name="Je bent aangemeld").wait_for(timeout=WAIT)
    finally:
        context.close()
    assert newsletter(demo_root, "subscribers").stdout.split() == ["active", "1", "total", "1"]
