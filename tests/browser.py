"""A small headless-Chromium helper for tests: load a file or URL at a viewport width, run
JavaScript, take a screenshot. Any stage's tests can use it:

    from browser import Browser, browser_or_skip

    with browser_or_skip() as b, serve(folder) as base_url:
        page = b.open(f"{base_url}/email.html", width=375)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(tmp_path / "375.png")

Playwright drives Debian's chromium (/usr/bin/chromium, or $CHROMIUM): Playwright's own browser
download is not used. Without either, ``browser_or_skip`` skips the test and says what to install.
Pages get no network except loopback and file: (so a test never reaches the internet; remote
images simply do not load).
"""

from __future__ import annotations

import functools
import os
import shutil
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
LOCAL_PREFIXES = ("file:", "data:", "about:", "http://127.0.0.1", "http://localhost", "http://[::1]")
AXE = (
    Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
)  # npm ci (package.json)


def chromium_path() -> str | None:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return found if found and Path(found).exists() else None


def chromium_or_skip() -> str:
    """The chromium executable, or a skip that says how to install it (CI fails on any skip)."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    return executable


def png(width: int, height: int) -> bytes:
    """A plain one-colour PNG of the given size, written by hand so tests need no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x1d\x4e\x89" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class Page:
    """One loaded page at a fixed viewport."""

    def __init__(self, page: Any) -> None:
        self._page = page

    def evaluate(self, script: str, arg: Any = None) -> Any:
        """Run JavaScript in the page (an expression or a function) and return its JSON result."""
        return self._page.evaluate(script, arg)

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._page.screenshot(path=str(path), full_page=full_page)
        return path

    def horizontal_overflow(self) -> int:
        """How many CSS pixels the page is wider than the viewport (0: no horizontal scrolling)."""
        return int(
            self.evaluate(
                "Math.max(document.documentElement.scrollWidth, document.body ? document.body.scrollWidth : 0)"
                " - window.innerWidth"
            )
        )

    def images_without_alt(self) -> list[str]:
        """The src of every <img> with no alt attribute (alt="" is fine: a decorative image)."""
        return list(self.evaluate("[...document.images].filter(i => !i.hasAttribute('alt')).map(i => i.src)"))

    def axe(self, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
        """What axe-core finds in the page as it is now, of these impacts (``axe_violations``)."""
        return axe_violations(self._page, impacts)

    def close(self) -> None:
        self._page.close()


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """What axe-core finds in a Playwright page as it is now, of these impacts: one entry per rule,
    with the elements it found (CSS selectors). An empty list: nothing of that weight.

    axe runs through ``evaluate``, which a page's Content-Security-Policy does not stop (a script
    tag would be refused, as it should be)."""
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed ({AXE}); run 'npm ci' in the repository")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    return list(
        page.evaluate(
            """async (impacts) => (await axe.run(document, {iframes: false, resultTypes: ['violations']}))
                .violations.filter(v => impacts.includes(v.impact))
                .map(v => ({id: v.id, impact: v.impact, help: v.help,
                            targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))""",
            list(impacts),
        )
    )


class Browser:
    """A headless chromium; open pages with ``open``. Use ``browser_or_skip`` in tests."""

    def __init__(self, executable: str) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)

    def open(self, target: str | Path, *, width: int, height: int = 800, javascript: bool = True) -> Page:
        page = self._browser.new_page(
            viewport={"width": width, "height": height}, java_script_enabled=javascript
        )
        # Keep tests off the internet: anything that is not local is refused.
        page.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(LOCAL_PREFIXES) else route.abort()
            ),
        )
        url = target.resolve().as_uri() if isinstance(target, Path) else target
        page.goto(url, wait_until="load")
        return Page(page)

    def close(self) -> None:
        self._browser.close()
        self._pw.stop()


@contextmanager
def browser_or_skip() -> Iterator[Browser]:
    """A browser for a test, or a skip that says what is missing (CI installs both)."""
    executable = chromium_or_skip()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    browser = Browser(executable)
    try:
        yield browser
    finally:
        browser.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on a free loopback port for the duration; yields the base URL (no slash)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
