"""The partner portal in Debian's chromium, as a partner uses it and as an attacker tries it, against
one real `newsletter serve` for the module: the link from the outbox, the button, a story with two
mistakes shown at their fields, a photo, the progress form; another partner's story, a used link,
a forged form from another site, an oversized and a fake image. Every screen at 375 and 1280 px,
with axe-core finding nothing serious or critical, and a screenshot of each (PORTAL_SCREENSHOTS: a
folder to keep them in)."""

from __future__ import annotations

import email
import email.policy
import io
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import Browser, axe_violations, serve
from conftest import DEMO
from servers import Service, running_serve
from test_portal import add_contacts

pytestmark = pytest.mark.browser
WAIT = 10_000  # ms: a bound, not a target
ZWOLLE = "communicatie@zwolle.example.org"
LAPTOP = "verhalen@laptopfabriek.example.org"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("portal-browser") / "demo"
    shutil.copytree(DEMO, target)
    add_contacts(target, (ZWOLLE,), (LAPTOP,))
    return target


@pytest.fixture(scope="module")
def service(root: Path) -> Iterator[Service]:
    with running_serve(root, "--now", "2026-12-07 10:00") as s:
        yield s


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kept = os.environ.get("PORTAL_SCREENSHOTS")
    return Path(kept) if kept else tmp_path_factory.mktemp("screens")


def links_to(root: Path, address: str) -> set[str]:
    found = set()
    for path in (root / "outbox" / "partners").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            html = message.get_body(("html",)).get_content()
            link = re.search(r'href="([^"]+/partners/inloggen\?token=[^"]+)"', html)
            assert link, html
            found.add(link.group(1))
    return found


def look(page: Any, shots: Path, name: str) -> None:
    """The screen at 375 and at 1280 px: no serious axe finding, no sideways scrolling; a screenshot of each."""
    # Nothing needs JavaScript: the one script (the story form's live B1 tips) only adds to the page.
    assert page.eval_on_selector_all("script", "s => s.map(e => e.getAttribute('src'))") in (
        [],
        ["/partners/portaal.js"],
    )
    t0 = time.monotonic()
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        assert axe_violations(page) == [], (name, width)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (name, width, overflow)
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    print("LOOK", name, round(time.monotonic() - t0, 2))


def sign_in(page: Any, root: Path, address: str, shots: Path | None = None) -> str:
    """Ask for a link, open it from the outbox, press the button; returns the link."""
    page.goto(page.url.split("/partners")[0] + "/partners/")
    if shots:
        look(page, shots, "01-inloggen")
    before = links_to(root, address)
    page.get_by_label("E-mailadres").fill(address)
    page.get_by_role("button", name="Stuur mij een link").click()
    page.get_by_role("heading", name="Kijk in je mailbox").wait_for(timeout=WAIT)
    if shots:
        look(page, shots, "02-kijk-in-je-mailbox")
    deadline = time.monotonic() + 10
    while not (new := links_to(root, address) - before):
        assert time.monotonic() < deadline, "no sign-in mail"
        time.sleep(0.05)
    link = new.pop()
    page.goto(link)
    if shots:
        look(page, shots, "03-knop")
    page.get_by_role("button", name="Inloggen").click()
    page.get_by_role("heading", name="Mijn bijdragen").wait_for(timeout=WAIT)
    return link


def gps_photo() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (1800, 1200), (240, 160, 40))
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 30.0, 15.0), 3: "E", 4: (6.0, 5.0, 40.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_a_partner_submits_a_story_with_a_photo_and_reports_progress(
    service: Service, root: Path, browser: Browser, shots: Path
) -> None:
    page: Any = browser.open(f"{service.base}/partners/", width=375)._page
    sign_in(page, root, ZWOLLE, shots)
    look(page, shots, "04-mijn-bijdragen-leeg")
    with page.expect_navigation():  # and its load: the tips' script (deferred) listens from then on
        page.get_by_role("link", name="Nieuw verhaal insturen").click()
    page.get_by_label("title: de kop").fill("Elk kind een zwemdiploma")
    summary = page.get_by_label("summary: waar gaat het over?")
    summary.fill(
        "Alle kinderen uit gezinnen die van een laag inkomen rond moeten komen kunnen in de gemeente Zwolle"
        " vanaf volgend jaar zonder kosten leren zwemmen bij een zwembad in de buurt van hun eigen school."
    )
    page.locator("#summary-live").filter(has_text="Tip:").wait_for(timeout=WAIT)  # live, before saving
    summary.fill(
        "Kinderen uit gezinnen met weinig geld leren gratis zwemmen. Ouders hoeven niets aan te vragen."
    )
    page.get_by_label("url: waar lezers meer lezen").fill("zwolle.example.nl/zwemmen")
    page.get_by_label("published: de datum van het verhaal").fill("2026-12-02")
    look(page, shots, "05-nieuw-verhaal")
    page.get_by_role("button", name="Verhaal insturen").click()
    page.locator(".error-summary").wait_for(timeout=WAIT)
    url = page.get_by_label("url: waar lezers meer lezen")
    assert url.get_attribute("aria-invalid") == "true"
    assert "geen volledig webadres" in page.locator("#" + url.get_attribute("aria-describedby")).inner_text()
    assert (
        "voeg 'themes' toe: een inzending heeft dat veld nodig" in page.locator("#themes-error").inner_text()
    )
    assert page.locator(".error-summary li").all_inner_texts() == ["url", "themes"]
    look(page, shots, "06-twee-fouten")

    url.fill("https://www.zwolle.example.nl/zwemmen")
    page.get_by_label("Meedoen").check()
    page.get_by_label("Foto (JPEG, PNG of WebP, hoogstens 10 MB)").set_input_files(
        files=[{"name": "zwembad.jpg", "mimeType": "image/jpeg", "buffer": gps_photo()}]
    )
    page.get_by_label("alt: wat staat er op de foto?").fill(
        "Kinderen met een zwemdiploma aan de rand van het bad"
    )
    page.get_by_label("Nee, of hun ouders gaven toestemming", exact=False).check()
    page.get_by_role("button", name="Verhaal insturen").click()
    page.get_by_role("status").wait_for(timeout=WAIT)
    assert "Opgeslagen" in page.get_by_role("status").inner_text()
    # The status shows before the photo has loaded (under load, by a few ms): wait for it to load or fail.
    page.wait_for_function("() => document.querySelector('img.preview')?.complete", timeout=WAIT)
    assert page.locator("img.preview").evaluate("i => i.naturalWidth") == 1200
    look(page, shots, "07-opgeslagen-met-foto")
    saved = root / "submissions" / "gemeente-zwolle" / "2026-12-02-elk-kind-een-zwemdiploma.yaml"
    assert "title: Elk kind een zwemdiploma" in saved.read_text(encoding="utf-8")

    page.goto(f"{service.base}/partners/")
    assert "Elk kind een zwemdiploma" in page.locator("table").inner_text()
    look(page, shots, "08-mijn-bijdragen")

    page.goto(f"{service.base}/partners/voortgang/2027")
    assert page.get_by_label("title: naam van de activiteit").first.input_value() == "Kinderfietsenplan"
    look(page, shots, "09-voortgang")
    page.locator("#a0_children").fill("150")
    page.get_by_role("button", name="Voortgang opslaan").click()
    page.get_by_role("status").wait_for(timeout=WAIT)
    look(page, shots, "10-voortgang-opgeslagen")
    assert "reach: {children: 150}" in (root / "monitoring" / "2027" / "gemeente-zwolle.yaml").read_text(
        encoding="utf-8"
    )
    page.close()


def test_an_attacker_gets_nothing(service: Service, root: Path, browser: Browser, shots: Path) -> None:
    zwolle: Any = browser.open(f"{service.base}/partners/", width=375)._page
    link = sign_in(zwolle, root, ZWOLLE)
    zwolle.get_by_role("link", name="Nieuw verhaal insturen").click()
    zwolle.get_by_label("title: de kop").fill("Alleen van Zwolle")
    zwolle.get_by_label("summary: waar gaat het over?").fill("Een verhaal dat alleen Zwolle mag zien.")
    zwolle.get_by_label("url: waar lezers meer lezen").fill("https://www.zwolle.example.nl/alleen")
    zwolle.get_by_label("Meedoen").check()
    zwolle.get_by_label("published: de datum van het verhaal").fill("2026-12-03")
    zwolle.get_by_role("button", name="Verhaal insturen").click()
    zwolle.get_by_role("status").wait_for(timeout=WAIT)
    story = zwolle.url.split("/partners/verhalen/")[1].split("?")[0]

    used: Any = browser.open(link, width=375)._page  # the link again, in another browser
    used.get_by_role("button", name="Inloggen").click()
    used.get_by_role("heading", name="Deze link werkt niet").wait_for(timeout=WAIT)
    assert "al gebruikt" in used.locator("main").inner_text()
    look(used, shots, "11-link-al-gebruikt")
    used.close()

    laptop: Any = browser.open(f"{service.base}/partners/", width=375)._page
    sign_in(laptop, root, LAPTOP)
    answer = laptop.goto(f"{service.base}/partners/verhalen/{story}")
    assert answer.status == 404
    look(laptop, shots, "12-niet-gevonden")

    laptop.goto(f"{service.base}/partners/verhalen/nieuw")
    laptop.get_by_label("Foto (JPEG, PNG of WebP, hoogstens 10 MB)").set_input_files(
        files=[{"name": "foto.jpg", "mimeType": "image/jpeg", "buffer": b"GIF89a" + b"nep" * 300}]
    )
    laptop.get_by_role("button", name="Verhaal insturen").click()
    laptop.locator("#image-error").wait_for(timeout=WAIT)
    assert "geen foto die we kunnen lezen" in laptop.locator("#image-error").inner_text()
    big = root.parent / "groot.jpg"  # from disk: chromium reads it itself (a buffer crawls over the protocol)
    big.write_bytes(b"\xff" * (11 * 1024 * 1024 + 1))
    laptop.get_by_label("Foto (JPEG, PNG of WebP, hoogstens 10 MB)").set_input_files(big)
    with laptop.expect_response(lambda r: r.url.endswith("/partners/verhalen")) as response:
        laptop.get_by_role("button", name="Verhaal insturen").click()
    assert response.value.status == 413
    laptop.close()

    # A page on another site that posts a story in the signed-in partner's browser.
    site = root.parent / "evil"
    site.mkdir(exist_ok=True)
    (site / "index.html").write_text(
        f'<!doctype html><html lang="en"><body><form id="f" method="post" action="{service.base}/partners/verhalen">'
        '<input name="title" value="Vervalst"><input name="url" value="https://evil.example/">'
        '<input name="csrf_token" value="0000"></form>'
        "<script>document.getElementById('f').submit()</script></body></html>",
        encoding="utf-8",
    )
    with serve(site) as evil:
        with zwolle.expect_response(lambda r: r.url.endswith("/partners/verhalen")) as forged:
            zwolle.goto(evil.replace("127.0.0.1", "localhost") + "/index.html")
        assert forged.value.status == 403
    assert not any(
        "Vervalst" in p.read_text(encoding="utf-8") for p in (root / "submissions").rglob("*.yaml")
    )
    zwolle.close()
