"""Benchmark: publish a five-year archive (60 issues, 3,000 stories, 200 events) cold and again with
nothing new, and the search in chromium on a mid-range phone profile (CPU throttled 4x).

    .venv/bin/python bench/bench_publish.py [--runs 3] [--no-browser]

Targets (issue 27): <= 5 s cold (Pagefind's indexing included), <= 1 s with nothing new; the search
loads <= 300 KB before its first results and shows them within 300 ms. Prints medians (the machine
may be shared) and the search index's size. The issues' web pages are small stand-ins (render's
own time is bench_render's); everything else is the real publish on a temporary SQLite state.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from pipeline.domain.models import Item, Rendered  # noqa: E402
from pipeline.infra.instance import load_config  # noqa: E402
from pipeline.infra.store import Store  # noqa: E402
from pipeline.publish import build_site, write_site  # noqa: E402

DEMO = REPO / "pipeline" / "demo_instance"
WORDS = [
    "kinderen", "armoede", "school", "fiets", "laptop", "ontbijt", "schulden", "gemeente", "ouders", "sport",
    "gezondheid", "wonen", "huur", "energie", "werk", "signaleren", "leerkracht", "gesprek", "geld", "jeugd",
    "zorg", "toeslagen", "buurt", "vakantie",
]  # fmt: skip
# The summaries' words: 2,000 made-up Dutch-looking ones, so that a word of a title ("fiets", in one
# title in 24) finds about as many stories as a real archive would, not every one.
SYLLABLES = (
    "ka", "lo", "me", "ri", "tu", "ver", "ge", "be", "ont", "aan", "hui", "schoo", "ler", "den", "sten",
    "wij", "kin", "der", "ar", "moe", "de", "zorg", "jeugd", "buur", "tel", "ling", "plan", "werk",
    "geld", "toe", "slag", "reis", "week", "dag", "sport", "club", "boek", "taal", "huis", "raad",
)  # fmt: skip
VOCABULARY = [a + b + c for a in SYLLABLES[:20] for b in SYLLABLES[20:30] for c in SYLLABLES[30:40]][:2000]
START = dt.datetime(2021, 1, 8, 8, 0, tzinfo=dt.UTC)
NOW = START + dt.timedelta(days=1830)  # after the 60th issue, before its events


def fill(config_root: Path) -> None:
    config = load_config(config_root)
    partners = sorted(config.partners)
    themes = list(config.taxonomy.themes)
    kinds = ("story", "story", "research", "tool", "policy")
    with Store(config.settings.state) as store:
        n = 0
        for month in range(60):
            sent = START + dt.timedelta(days=30.4 * month)
            issue = f"{sent:%Y-%m}"
            placed = []
            with store.transaction():
                for _k in range(54):
                    if n >= 3200:
                        break
                    event = n % 16 == 0 and n // 16 < 200
                    words = " ".join(VOCABULARY[(n * 7919 + j * 104729) % len(VOCABULARY)] for j in range(40))
                    starts = sent + dt.timedelta(days=20, hours=10) if event else None
                    title = f"{WORDS[n % len(WORDS)].capitalize()} in verhaal {n}"
                    item = Item(
                        id=f"i{n:05d}", url=f"https://www.example.nl/verhalen/{n}", title=title,
                        summary_html=f"<p>{words}</p>", summary_text=words,
                        published=sent - dt.timedelta(days=3),
                        source="submissions:x", partner=partners[n % len(partners)],
                        kind="event" if event else kinds[n % len(kinds)], themes=(themes[n % len(themes)],),
                        starts=starts, ends=starts + dt.timedelta(hours=2) if starts else None,
                        location="Zwolle" if event else None,
                    )  # fmt: skip
                    store.put_item(item, item.id, sent)
                    placed.append(("agenda" if event else "partners", item.id))
                    n += 1
                web = (
                    f'<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>{issue}</title>'
                    f"</head><body><main><h1>{issue}</h1></main></body></html>"
                )
                store.record_sent_issue(
                    Rendered(issue, f"Nummer {issue}", "", "", "", web), "fp", placed, sent
                )
    print(f"archive: 60 issues, {n} items, 200 of them events")


def cpu() -> float:
    """CPU seconds of this process and its finished children (Pagefind): what a shared machine's
    load does not inflate, unlike the wall clock."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def timed(config_root: Path, out: Path) -> tuple[float, float, int, bool]:
    """Wall and CPU seconds of one publish as the command does it (config, state, build, write)."""
    t, c = time.perf_counter(), cpu()
    config = load_config(config_root)
    with Store(config.settings.state) as store:
        site = build_site(config, store, now=NOW, out=out)
    written = write_site(site, out)
    return time.perf_counter() - t, cpu() - c, len(written.changed), written.indexed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "instance"
        shutil.copytree(DEMO, root)
        fill(root)
        cold, again, cold_cpu, again_cpu = [], [], [], []
        for run in range(args.runs):
            out = Path(tmp) / f"site{run}" / "archief"
            seconds, used, files, indexed = timed(root, out)
            cold.append(seconds)
            cold_cpu.append(used)
            seconds2, used2, files2, indexed2 = timed(root, out)
            again.append(seconds2)
            again_cpu.append(used2)
            assert indexed and not indexed2 and files2 == 0, (indexed, indexed2, files2)
        bundle = out / "pagefind"
        size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
        count = sum(1 for p in bundle.rglob("*") if p.is_file())
        print("| publish | wall, median | wall, each run | CPU, median | target |\n|---|---|---|---|---|")
        for name, wall, used, target in ((f"cold ({files} files)", cold, cold_cpu, "<= 5 s"),
                                         ("nothing new (0 files)", again, again_cpu, "<= 1 s")):  # fmt: skip
            runs = ", ".join(f"{w:.2f}" for w in wall)
            wall_s, cpu_s = statistics.median(wall), statistics.median(used)
            print(f"| {name} | {wall_s:.2f} s | {runs} | {cpu_s:.2f} s | {target} |")
        print(f"search index: {count} files, {size / 1e6:.1f} MB on disk in pagefind/")
        if not args.no_browser:
            browse(out.parent)


def body_size(request: Any) -> int:
    """A finished request's body size; 0 for one still arriving when the page closed."""
    try:
        return int(request.sizes()["responseBodySize"])
    except Exception:  # the page closed under it: it came after the results
        return 0


def browse(served: Path) -> None:
    from browser import Browser, chromium_path, serve

    executable = chromium_path()
    if executable is None:
        print("no chromium: the search was not measured")
        return
    browser = Browser(executable)
    try:
        with serve(served) as base:
            rows = []
            for _ in range(5):
                sizes: list[int] = []
                page = browser.open("about:blank", width=375)
                pw = page._page
                cdp = pw.context.new_cdp_session(pw)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
                # Every response, the worker's (Pagefind's WebAssembly) included.
                pw.on("requestfinished", lambda r, sizes=sizes: sizes.append(body_size(r)))
                pw.goto(f"{base}/archief/zoeken/index.html", wait_until="load")
                pw.fill("#q", "fiets")
                t0 = page.evaluate("performance.now()")
                pw.press("#q", "Enter")
                pw.wait_for_function("performance.getEntriesByName('zoeken:resultaten').length > 0")
                t1 = page.evaluate("performance.getEntriesByName('zoeken:resultaten')[0].startTime")
                rows.append((t1 - t0, sum(sizes), len(sizes), t1))
                page.close()
            ms = statistics.median(r[0] for r in rows)
            kb = statistics.median(r[1] for r in rows) / 1000
            since_load = statistics.median(r[3] for r in rows)
            each = ", ".join(f"{r[0]:.0f}" for r in rows)
            print(f"search 'fiets' at 375 px, CPU 4x slower: first results {ms:.0f} ms after Enter")
            print(f"  (median of 5: {each}), {since_load:.0f} ms after the page started loading;")
            print(f"  {kb:.0f} KB loaded in all ({rows[0][2]} requests, the page included)")
    finally:
        browser.close()


if __name__ == "__main__":
    main()
