"""The rendered email and web page in headless Chromium: no horizontal scrolling on a phone,
alt text on every image. Screenshots land in the test's tmp folder (kept by pytest for a while).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from browser import Browser, png, serve
from test_render import big_issue, demo_config, fixture_issue, fixture_items, render_fixture

from pipeline.domain.models import Image
from pipeline.render import render_issue

pytestmark = pytest.mark.browser


CASES = [("email.html", 320), ("email.html", 375), ("email.html", 600), ("web.html", 320), ("web.html", 375)]


def test_fits_the_screen_and_every_image_has_alt(browser: Browser, tmp_path: Path) -> None:
    r = render_fixture()
    config = demo_config()
    big = render_issue(config, *big_issue(config))
    files = {}
    for label, rendered in (("fixture", r), ("big", big)):
        for name, text in (("email.html", rendered.html), ("web.html", rendered.web_html)):
            path = tmp_path / label / name
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            files[label, name] = path
    for label in ("fixture", "big"):
        for name, width in CASES:
            page = browser.open(files[label, name], width=width)
            where = f"{label}/{name} at {width}px"
            assert page.horizontal_overflow() <= 0, f"{where} scrolls sideways"
            assert page.evaluate("document.documentElement.lang") == "nl"
            images = page.evaluate("document.images.length")
            assert images >= 1, where  # the featured story's image is there ...
            assert page.images_without_alt() == [], where  # ... and every image has alt text
            if label == "fixture":  # full-page screenshots are slow; one set is enough to look at
                shot = page.screenshot(tmp_path / "shots" / f"{name}-{width}.png")
                assert shot.stat().st_size > 5_000
            page.close()


def test_the_email_is_600px_wide_on_a_desktop(browser: Browser, tmp_path: Path) -> None:
    path = tmp_path / "email.html"
    path.write_text(render_fixture().html, encoding="utf-8")
    page = browser.open(path, width=800)
    # MRML ignores width in mj-attributes; on mj-body itself it holds (see the template).
    width = page.evaluate(
        "Math.max(...[...document.querySelectorAll('body div')].map(d => d.getBoundingClientRect().width)"
        ".filter(w => w < 800))"
    )
    assert width == 600
    assert page.horizontal_overflow() <= 0


def test_a_large_featured_image_scales_to_the_screen(browser: Browser, tmp_path: Path) -> None:
    (tmp_path / "laptops.png").write_bytes(png(1200, 800))
    config = demo_config()
    with serve(tmp_path) as base:
        items = fixture_items()
        image = Image(f"{base}/laptops.png", "Stapels opgeknapte laptops op een werkbank", True)
        items["laptops"] = dataclasses.replace(items["laptops"], image=image)
        r = render_issue(config, fixture_issue(config), items)
        (tmp_path / "email.html").write_text(r.html, encoding="utf-8")
        (tmp_path / "web.html").write_text(r.web_html, encoding="utf-8")
        for name, width, most in [
            ("email.html", 375, 375 - 48),
            ("email.html", 600, 552),
            ("web.html", 375, 375 - 48),
        ]:
            page = browser.open(f"{base}/{name}", width=width)
            shown = page.evaluate(
                "[...document.images].map(i => ({loaded: i.complete && i.naturalWidth > 0,"
                " width: i.getBoundingClientRect().width, alt: i.alt}))"
            )
            assert len(shown) == 1, shown
            assert shown[0]["loaded"] and shown[0]["alt"].startswith("Stapels"), shown
            # The 1200 px image fills the column and no more: 552 px in a 600 px email, less on a phone.
            assert most - 2 <= shown[0]["width"] <= most, (name, width, shown)
            assert page.horizontal_overflow() <= 0
            page.screenshot(tmp_path / "shots" / f"image-{name}-{width}.png")
            page.close()
