"""The archive in headless Chromium, served under a sub-path (/archief/) from a loopback server:
the index at 375 and 1280 px, then a link followed to an issue and to a theme page. No sideways
scrolling, alt text on every image, headings in order, a working skip link, AA contrast for all
text, nothing fetched from elsewhere. Screenshots land in the test's tmp folder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from pathlib import Path

import pytest
from browser import Browser, Page, png, serve
from test_publish import ITEMS, OCT, rendered, send

from pipeline.domain.models import Image
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store
from pipeline.publish import publish

pytestmark = pytest.mark.browser

# Every text node's colour against the first opaque background behind it (WCAG 2 relative
# luminance); large text (24 px, or 18.66 px bold) needs 3:1, the rest 4.5:1.
CONTRAST = """() => {
  const lum = c => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => {
      v = v / 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const opaque = c => { const m = c.match(/[\\d.]+/g); return m && (m.length < 4 || +m[3] === 1); };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || !el.offsetParent) continue;
    if (el.closest('.skip')) continue;  // off-screen until focused; then it has its own colours
    const style = getComputedStyle(el);
    let bg = null;
    for (let e = el; e && !bg; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (opaque(c)) bg = c;
    }
    const [a, b] = [lum(style.color), lum(bg || 'rgb(255, 255, 255)')];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < need) bad.push(`${el.tagName} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return bad;
}"""

HEADINGS = "[...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1])"


def check(page: Page, where: str, base: str) -> None:
    assert page.horizontal_overflow() <= 0, f"{where} scrolls sideways"
    assert page.images_without_alt() == [], where
    assert page.evaluate("document.documentElement.lang") == "nl", where
    levels = page.evaluate(HEADINGS)
    assert levels[0] == 1 and levels.count(1) == 1, f"{where}: one h1, first: {levels}"
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), f"{where}: {levels}"
    # Every image loaded (from the loopback server: nothing else is allowed).
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)"), where
    fetched = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith(base) for url in fetched), f"{where} fetched {fetched}"


def check_archive_page(page: Page, where: str, base: str) -> None:
    """What the archive's own pages promise beyond the issue pages (which are render's)."""
    check(page, where, base)
    assert page.evaluate("document.scripts.length") == 0, where
    skip = page.evaluate(
        "(() => { const a = document.querySelector('a[href]');"
        " return [a.className, a.getAttribute('href'), !!document.querySelector(a.getAttribute('href'))]; })()"
    )
    assert skip == ["skip", "#inhoud", True], f"{where}: the first link skips to the content"
    assert page.evaluate(CONTRAST) == [], f"{where}: text below AA contrast"


def test_archive_in_a_browser_under_a_sub_path(browser: Browser, demo_root: Path, tmp_path: Path) -> None:
    served = tmp_path / "www"
    site = served / "archief"
    site.mkdir(parents=True)
    config = load_config(demo_root)
    with serve(served) as base, Store(config.settings.state) as store:
        # The featured story has a 1200 px photo (with consent and alt text) from the same server.
        (served / "foto.png").write_bytes(png(1200, 600))
        photo = Image(f"{base}/foto.png", alt="Kinderen op nieuwe fietsen bij het stadhuis", consent=True)
        items = {**ITEMS, "fiets": dataclasses.replace(ITEMS["fiets"], image=photo)}
        with store.transaction():
            for it in items.values():
                store.put_item(it, f"{it.id}-photo", OCT)
        placed = [("uitgelicht", "fiets"), ("partners", "laptop"), ("kennis", "onderzoek")]
        made, _ = rendered(config, "2026-10", items, placed)
        with store.transaction():
            store.record_sent_issue(made, "fingerprint", placed, OCT)
        send(store, config, "2026-11")
        publish(config, store, out=site, now=OCT + dt.timedelta(days=60))

        for width in (375, 1280):
            index = browser.open(f"{base}/archief/index.html", width=width)
            check_archive_page(index, f"index at {width}px", base)
            shot = index.screenshot(tmp_path / "shots" / f"index-{width}.png")
            assert shot.stat().st_size > 5_000
            subjects = index.evaluate("[...document.querySelectorAll('main ol h2')].map(h => h.textContent)")
            assert subjects == ["Ontbijt & signaleren", "Fietsen, laptops en stress"]

            # Follow the older issue's link: the web page as it was sent, with its photo scaled down.
            href = index.evaluate("document.querySelectorAll('main ol a')[1].href")
            assert href == f"{base}/archief/2026-10/index.html"
            issue = browser.open(href, width=width)
            check(issue, f"issue at {width}px", base)
            assert issue.evaluate("document.images.length") == 1
            assert issue.evaluate("document.images[0].getBoundingClientRect().right") <= width
            issue.close()

            # Follow the navigation to the themes, then to one theme, and from it back to an issue.
            themes = browser.open(index.evaluate("document.querySelector('nav a[href$=\"thema/index.html\"]').href"),
                                  width=width)  # fmt: skip
            check_archive_page(themes, f"themes at {width}px", base)
            href = themes.evaluate(
                "[...document.querySelectorAll('main a')].find(a => a.textContent === 'Meedoen').href"
            )
            assert href == f"{base}/archief/thema/meedoen/index.html"
            meedoen = browser.open(href, width=width)
            check_archive_page(meedoen, f"theme page at {width}px", base)
            meedoen.screenshot(tmp_path / "shots" / f"meedoen-{width}.png")
            stories = meedoen.evaluate(
                "[...document.querySelectorAll('main article h3')].map(h => h.textContent)"
            )
            assert stories == ["Een fiets voor elk kind in Zwolle", "Laptops & schoolspullen <opgeknapt>"]
            back = meedoen.evaluate("[...document.querySelectorAll('main article a')].map(a => a.href)")
            assert f"{base}/archief/2026-10/index.html" in back
            for page in (index, themes, meedoen):
                page.close()
