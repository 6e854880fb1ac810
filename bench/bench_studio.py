"""Benchmark: the studio on a 25-item issue, as an editor meets it.

    .venv/bin/python bench/bench_studio.py

- first page: `newsletter studio` started as a command until its page answers (Python's start,
  the first check and render included);
- refresh: the issue file saved from outside until the new preview has loaded in the open page
  (chromium, Debian's): watchfiles sees the save, the snapshot is rebuilt (check and render), the
  page is told through server-sent events, fetches itself and swaps the preview, and the email's
  frame has loaded. Measured with the page's own clock (the frame's load event), which is the same
  wall clock as this script's on one machine;
- save from the page: the editor changes the subject and presses the header form's Save, until
  the new preview has loaded in the page (the script posts the form and swaps the answer in; without
  it, the browser would load the whole page again).

Targets (PRODUCT.md): refresh and save ≤ 300 ms (median), first page ≤ 1 s. Prints medians; the machine
may be shared, so quote them with `uptime`'s load.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from browser import Browser, chromium_path  # noqa: E402
from conftest import seed  # noqa: E402
from servers import running_studio  # noqa: E402
from test_render import big_issue  # noqa: E402

from pipeline.infra.instance import load_config  # noqa: E402
from pipeline.infra.store import Store  # noqa: E402


def instance(folder: Path) -> Path:
    """The demo instance with a 25-item issue (test_render.big_issue) in its file and database."""
    root = folder / "demo"
    shutil.copytree(REPO / "pipeline" / "demo_instance", root)
    config = load_config(root)
    issue, items = big_issue(config)
    with Store(config.settings.state) as store:
        seed(store, list(items.values()))
    lines = [
        'id: "2026-12"',
        f"subject: {issue.subject}",
        f"preheader: {issue.preheader}",
        f"intro: {issue.intro}",
        "send_at: 2026-12-10 09:00",
        "sections:",
    ]
    for s in issue.sections:
        lines += [f"  - section: {s.id}", "    items:"]
        lines += [f"      - item: {e.item}" for e in s.items]
    (root / "issues").mkdir(exist_ok=True)
    (root / "issues" / "2026-12.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def first_page(root: Path) -> float:
    start = time.monotonic()
    with running_studio(root, "2026-12") as studio:
        while True:
            try:
                if httpx.get(studio.url, timeout=5).status_code == 200:
                    return time.monotonic() - start
            except httpx.TransportError:
                time.sleep(0.005)


def refreshes(root: Path, runs: int, steps: list[list[float]]) -> list[float]:
    path = root / "issues" / "2026-12.yaml"
    original = path.read_text(encoding="utf-8")
    out = []
    browser = Browser(chromium_path() or "chromium")
    try:
        with running_studio(root, "2026-12") as studio:
            page = browser.open(studio.url, width=1280, height=900)._page
            # (the page's first load is not waited for: the first two saves below warm up, and each
            # waits for its own version; predicates are functions, since the page's CSP forbids eval)
            for i in range(runs + 2):
                text = original.replace("subject: ", f"subject: ({i}) ", 1).replace(
                    "      - item: uitgelicht-00\n",
                    f"      - item: uitgelicht-00\n        title: Nieuwe titel {i}\n",
                )
                version = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
                time.sleep(0.3)  # let the previous refresh settle: one save at a time, as an editor saves
                start = time.time()
                path.write_text(text, encoding="utf-8")
                page.wait_for_function("v => document.body.dataset.shown === v", arg=version, timeout=10_000)
                shown = page.evaluate("window.studioShownAt") / 1000
                trace = page.evaluate("window.studioTrace")
                if i >= 2:  # the first two warm the caches (Jinja, MJML, the page's own)
                    out.append(shown - start)
                    steps.append(
                        [
                            trace["event"] / 1000 - start,
                            (trace["fetched"] - trace["event"]) / 1000,
                            (trace["swapped"] - trace["fetched"]) / 1000,
                            shown - trace["swapped"] / 1000,
                        ]
                    )
    finally:
        browser.close()
    return out


def page_saves(root: Path, runs: int) -> list[float]:
    out = []
    browser = Browser(chromium_path() or "chromium")
    # Done when the page shows the saved version: its email frame loaded (the script's clock), or,
    # when the browser loaded a new page (no script, or an older studio), that page's load event.
    shown = (
        "([before, start]) => { const b = document.body.dataset; if (b.version === before) return null;"
        " if (b.shown === b.version) return window.studioShownAt;"
        " const nav = performance.getEntriesByType('navigation')[0];"
        " return performance.timeOrigin > start && nav && nav.loadEventEnd > 0"
        " ? performance.timeOrigin + nav.loadEventEnd : null; }"
    )
    try:
        with running_studio(root, "2026-12") as studio:
            page = browser.open(studio.url, width=1280, height=900)._page
            for i in range(runs + 2):
                time.sleep(0.3)
                page.wait_for_load_state("load")
                before = page.evaluate("() => document.body.dataset.version")
                page.fill("#f-subject", f"Onderwerp {i} van de maand")
                start = time.time()
                page.click("#save-fields")
                at = None
                while at is None:  # polled: without the script the page navigates, and a wait would break
                    try:
                        at = page.evaluate(shown, [before, start * 1000])
                    except Exception:  # the page is being replaced
                        at = None
                    if at is None:
                        if time.time() - start > 10:
                            raise AssertionError(f"save {i} did not show within 10 s")
                        time.sleep(0.005)
                if i >= 2:
                    out.append(at / 1000 - start)
    finally:
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="saves measured (default 15)")
    parser.add_argument("--starts", type=int, default=5, help="starts measured (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = instance(Path(tmp))
        starts = [first_page(root) for _ in range(args.starts)]
        steps: list[list[float]] = []
        saves = refreshes(root, args.runs, steps)
        own = page_saves(root, args.runs)
    rows = [
        ("refresh after a save (25 items)", statistics.median(saves), 0.300, len(saves)),
        ("save from the page (25 items)", statistics.median(own), 0.300, len(own)),
        ("first page after start", statistics.median(starts), 1.0, len(starts)),
    ]
    print(f"{'measure':<34} {'median':>9} {'target':>8} {'ratio':>6}  runs  (min-max)")
    for (name, value, target, n), data in zip(rows, (saves, own, starts), strict=True):
        print(
            f"{name:<34} {value * 1000:>6.0f} ms {target * 1000:>5.0f} ms {value / target:>6.2f}  {n:>4}"
            f"  ({min(data) * 1000:.0f}-{max(data) * 1000:.0f} ms)"
        )
    names = ("saved -> page told", "page fetched", "parts swapped", "email frame loaded")
    parts = ", ".join(
        f"{n} {statistics.median(s[i] for s in steps) * 1000:.0f} ms" for i, n in enumerate(names)
    )
    print(f"refresh, the median of each step: {parts}")


if __name__ == "__main__":
    main()
