"""The email in dark mode, in Debian's chromium with the reader's dark setting emulated (what Apple
Mail and iOS do with ``prefers-color-scheme``): every text and link stays readable, by the contrast
of the colours as rendered (WCAG AA: 4.5:1), and Outlook.com's marks (``data-ogsc``/``data-ogsb``)
bring the same dark colours. The demo's email: stories, events, the footer's muted links."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser import Browser

pytestmark = pytest.mark.browser

# Each element that shows text of its own: its colour and the first background behind it that is
# not transparent (walking up), as rendered; and the size of its text.
COLOURS_JS = """() => {
    const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
    const behind = el => {
        for (let e = el; e; e = e.parentElement) {
            const c = rgb(getComputedStyle(e).backgroundColor);
            if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
        }
        return null;
    };
    return [...document.body.querySelectorAll('*')].filter(el => el.getClientRects().length
            && getComputedStyle(el).visibility !== 'hidden' && parseFloat(getComputedStyle(el).opacity) > 0
            && [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
        .map(el => ({tag: el.tagName, text: el.textContent.trim().slice(0, 40),
                     colour: rgb(getComputedStyle(el).color).slice(0, 3), behind: behind(el)}));
}"""


def luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def unreadable(page: Any) -> list[tuple[str, str, float]]:
    """The texts under 4.5:1 against what is behind them (none: every one readable)."""
    shown = page.evaluate(COLOURS_JS)
    assert len(shown) > 30 and sum(1 for e in shown if e["tag"] == "A") >= 5  # stories, links, footer
    return [(e["tag"], e["text"], round(contrast(e["colour"], e["behind"]), 2)) for e in shown
            if e["behind"] is None or contrast(e["colour"], e["behind"]) < 4.5]  # fmt: skip


@pytest.fixture(scope="module")
def email(demo_built: Path) -> Path:
    return demo_built / "build" / "2026-12" / "email.html"


def background(page: Any, selector: str) -> str:
    return str(page.evaluate(f"getComputedStyle(document.querySelector({selector!r})).backgroundColor"))


def test_it_says_it_has_a_light_and_a_dark_look(email: Path) -> None:
    html = email.read_text(encoding="utf-8")
    head = html[: html.index("</head>")]
    assert '<meta name="color-scheme" content="light dark"' in head
    assert '<meta name="supported-color-schemes" content="light dark"' in head
    assert "@media (prefers-color-scheme: dark)" in head and "[data-ogsc] .nl-text" in head


@pytest.mark.parametrize("width", [375, 600])
def test_in_dark_mode_every_text_and_link_is_readable(email: Path, browser: Browser, width: int) -> None:
    page = browser.open(email, width=width)
    page._page.emulate_media(color_scheme="dark")
    # The theme's dark colours (theme.j2), written here by hand: the page and the cards went dark.
    assert background(page, "body") == "rgb(18, 20, 23)"
    assert background(page, ".nl-part:nth-of-type(2)") == "rgb(28, 32, 38)"
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.nl-text a[href]')).color")
        == "rgb(140, 184, 245)"
    )
    assert unreadable(page) == []


def test_in_light_mode_it_is_as_before(email: Path, browser: Browser) -> None:
    page = browser.open(email, width=600)
    page._page.emulate_media(color_scheme="light")
    assert background(page, "body") == "rgb(238, 241, 245)"  # theme.page
    assert background(page, ".nl-part:nth-of-type(2)") == "rgb(255, 255, 255)"  # theme.card
    assert unreadable(page) == []


def test_outlook_coms_dark_marks_bring_the_same_dark_colours(email: Path, browser: Browser) -> None:
    """Outlook.com in dark mode darkens the page itself and marks the elements it changed with
    data-ogsc (a colour) and data-ogsb (a background); here the marks are set on the body by hand,
    in light mode, so that only the email's [data-ogsc]/[data-ogsb] rules can make it dark."""
    page = browser.open(email, width=600)
    page._page.emulate_media(color_scheme="light")
    page.evaluate(
        "document.body.setAttribute('data-ogsc', ''); document.body.setAttribute('data-ogsb', '');"
        "document.body.style.backgroundColor = 'rgb(18, 20, 23)';"  # Outlook.com's own dark page
        "document.querySelector('div[role=article]').style.backgroundColor = 'transparent';"
    )
    assert background(page, ".nl-part:nth-of-type(2)") == "rgb(28, 32, 38)"
    assert unreadable(page) == []
