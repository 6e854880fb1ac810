"""The rendered email and web page in headless Chromium: no horizontal scrolling on a phone,
alt text on every image. Screenshots land in the test's tmp folder (kept by pytest for a while).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import browser_or_skip
from test_render import big_issue, demo_config, render_fixture

from pipeline.render import render_issue

pytestmark = pytest.mark.browser

CASES = [("email.html", 320), ("email.html", 375), ("email.html", 600), ("web.html", 320), ("web.html", 375)]


def test_fits_the_screen_and_every_image_has_alt(tmp_path: Path) -> None:
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
    with browser_or_skip() as browser:
        for label in ("fixture", "big"):
            for name, width in CASES:
                page = browser.open(files[label, name], width=width)
                where = f"{label}/{name} at {width}px"
                assert page.horizontal_overflow() <= 0, f"{where} scrolls sideways"
                assert page.evaluate("document.documentElement.lang") == "nl"
                images = page.evaluate("document.images.length")
                assert images >= 1, where  # the featured story's image is there ...
                assert page.images_without_alt() == [], where  # ... and every image has alt text
                shot = page.screenshot(tmp_path / "shots" / f"{label}-{name}-{width}.png")
                assert shot.stat().st_size > 5_000
                page.close()


def test_the_email_is_600px_wide_on_a_desktop(tmp_path: Path) -> None:
    path = tmp_path / "email.html"
    path.write_text(render_fixture().html, encoding="utf-8")
    with browser_or_skip() as browser:
        page = browser.open(path, width=800)
        # MRML ignores width in mj-attributes; on mj-body itself it holds (see the template).
        width = page.evaluate(
            "Math.max(...[...document.querySelectorAll('body div')].map(d => d.getBoundingClientRect().width)"
            ".filter(w => w < 800))"
        )
        assert width == 600
        assert page.horizontal_overflow() <= 0
