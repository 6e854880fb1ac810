"""Benchmark: collect 300 feeds of ~20 items from a local server that answers every request after 100 ms.

    /work/venv/bin/python bench/bench_collect.py [--runs 3] [--feeds 300] [--serial] [--engines sqlite]

Prints a table: cold collect (empty database), warm collect (every feed answers 304) in process
and as a command (a new process, as cron starts it), a concurrent
fetch alone, and (with --serial, ~30 s) the same fetch one request at a time, with medians, the
targets from PRODUCT.md and the ratios; then the peak memory of the process and its parse workers.

The server runs in its own process (so that its threads do not share our GIL) and listens on 50
loopback addresses (127.0.0.1 to 127.0.0.50, six feeds each): partners' feeds live on many hosts,
and the per-host bound should be measured as it works in production.

With both engines (the default) the collects run with the state in SQLite and in PostgreSQL (a
throwaway cluster started here, a fresh database per run), one table per engine, then the medians
side by side with their ratio; the goal is PostgreSQL <= 1.2x SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
# This checkout's pipeline, not the one the virtualenv was installed from (another worktree's).
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from feedserver import FeedServer  # noqa: E402
from postgres import throwaway_cluster  # noqa: E402

from pipeline.collect import collect  # noqa: E402
from pipeline.infra.fetch import Limits, Request, fetch_all  # noqa: E402
from pipeline.infra.instance import load_config  # noqa: E402
from pipeline.infra.store import Store  # noqa: E402

HOSTS = 50
DELAY = 0.1
COLD_TARGET, WARM_TARGET = 3.0, 1.0


def feed(n: int, items: int = 20) -> bytes:
    entries = "".join(
        f"<item><title>Partner {n}: verhaal {i} over meedoen en school</title>"
        f"<link>https://partner{n}.example.nl/nieuws/{i}?utm_source=rss</link>"
        f"<guid>https://partner{n}.example.nl/nieuws/{i}</guid>"
        f"<pubDate>Wed, {1 + i % 25:02d} Nov 2026 10:00:00 +0100</pubDate>"
        f"<description><![CDATA[<p>Kinderen in armoede doen mee met <a href='/sport'>sport</a> en krijgen "
        f"schoolspullen. {'Meer tekst over het plan en de aanpak. ' * 12}</p>"
        f"<img src='/media/{i}.jpg' alt='Foto {i}'>]]></description></item>"
        for i in range(items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Partner {n}</title>'
        f"<link>https://partner{n}.example.nl/</link>{entries}</channel></rss>"
    ).encode()


def serve(feeds: int, queue: multiprocessing.Queue, stop: multiprocessing.Event) -> None:  # type: ignore[type-arg]
    servers = [FeedServer(host=f"127.0.0.{h + 1}") for h in range(HOSTS)]
    urls = []
    for n in range(feeds):
        s = servers[n % HOSTS]
        urls.append(s.route(f"/feed{n}.rss", feed(n), etag=f'"v{n}"', delay=DELAY))
    for s in servers:
        s.start()
    queue.put(urls)
    stop.wait()
    for s in servers:
        s.stop()


def instance(root: Path, urls: list[str], concurrency: int) -> Path:
    config = yaml.safe_load((REPO / "pipeline" / "demo_instance" / "sources.yaml").read_text())
    config["partners"] = [{k: v for k, v in p.items() if k != "feeds"} for p in config["partners"]]
    config["sources"] = [
        {"id": f"f{n:03d}", "name": f"Feed {n}", "url": u, "kind": "story"} for n, u in enumerate(urls)
    ]
    config["submissions"] = []
    # The feed servers are on loopback, an internal address that collect refuses by default.
    config["newsletter"]["collect"] = {
        "timeout": 10,
        "concurrency": concurrency,
        "allow_private_addresses": True,
    }
    root.mkdir(parents=True)
    (root / "sources.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return root


def timed_collect(root: Path) -> tuple[float, str]:
    config = load_config(root)
    with Store(config.settings.database) as store:
        started = time.perf_counter()
        summary = collect(config, store)
        return time.perf_counter() - started, summary.line()


def timed_command(root: Path) -> float:
    """``newsletter collect`` as cron runs it: a new process, Python's start-up and imports included."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipeline", "--root", str(root), "collect"],
        check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    return time.perf_counter() - started


def timed_fetch(urls: list[str], limits: Limits) -> float:
    started = time.perf_counter()
    results = asyncio.run(fetch_all([Request(u, u) for u in urls], limits))
    assert all(r.status == "fetched" for r in results), {r.error for r in results}
    return time.perf_counter() - started


def measure(
    urls: list[str], base: Path, runs: int, concurrency: int, new_database: Callable[[], str] | None
) -> dict[str, Any]:
    """``runs`` cold and warm collects (and the command, and a fetch alone) on one engine: SQLite,
    or PostgreSQL when ``new_database`` gives a fresh database's URL for each run."""
    cold, warm, command, fetch = [], [], [], []
    lines = {}
    for run in range(runs):
        os.environ.pop("NEWSLETTER_DATABASE_URL", None)
        if new_database is not None:
            os.environ["NEWSLETTER_DATABASE_URL"] = new_database()
        root = instance(base / f"run{run}", urls, concurrency)
        seconds, lines["cold"] = timed_collect(root)
        cold.append(seconds)
        seconds, lines["warm"] = timed_collect(root)
        warm.append(seconds)
        command.append(timed_command(root))
        fetch.append(timed_fetch(urls, Limits(concurrency=concurrency, allow_private_addresses=True)))
    os.environ.pop("NEWSLETTER_DATABASE_URL", None)
    return {"cold": cold, "warm": warm, "command": command, "fetch": fetch, "lines": lines}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=Limits.concurrency,
        help="newsletter.collect.concurrency",
    )
    parser.add_argument(
        "--serial", action="store_true", help="also fetch one at a time (takes feeds x 0.1 s)"
    )
    parser.add_argument("--engines", default="sqlite,postgresql", help="sqlite, postgresql or both")
    args = parser.parse_args()
    engines = args.engines.split(",")
    ctx = multiprocessing.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve, args=(args.feeds, queue, stop), daemon=True)
    server.start()
    urls: list[str] = queue.get(timeout=60)
    results: dict[str, dict[str, Any]] = {}
    try:
        with ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            cluster = stack.enter_context(throwaway_cluster()) if "postgresql" in engines else None
            for engine in engines:
                new_database = cluster.new_database if engine == "postgresql" and cluster else None
                results[engine] = measure(urls, tmp / engine, args.runs, args.concurrency, new_database)
            serial = (
                timed_fetch(urls, Limits(concurrency=1, per_host=1, allow_private_addresses=True))
                if args.serial
                else None
            )
    finally:
        stop.set()
        server.join(timeout=10)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    when = f"{dt.datetime.now():%Y-%m-%d %H:%M}"
    print(f"collect benchmark: {args.feeds} feeds x 20 items, {HOSTS} loopback hosts, {DELAY * 1000:.0f} ms "
          f"per answer, concurrency {args.concurrency}, {args.runs} runs, {when}")  # fmt: skip
    phases = [
        ("cold collect (fetch, parse, store)", "cold", COLD_TARGET),
        ("warm collect (all 304)", "warm", WARM_TARGET),
        ("warm, as a command (with start-up)", "command", WARM_TARGET),
        ("fetch only, concurrent", "fetch", None),
    ]
    for engine, result in results.items():
        print(f"\n{engine}")
        print(f"{'phase':<34}{'median':>9}{'min':>9}{'max':>9}{'target':>9}{'ratio':>8}")
        for name, key, target in phases:
            values = result[key]
            med = statistics.median(values)
            ratio = f"{med / target:.2f}" if target else ""
            tgt = f"{target:.1f} s" if target else ""
            print(f"{name:<34}{med:>8.2f}s{min(values):>8.2f}s{max(values):>8.2f}s{tgt:>9}{ratio:>8}")
        print(f"last cold: {result['lines']['cold']}")
        print(f"last warm: {result['lines']['warm']}")
    if serial is not None:
        med = statistics.median(results[engines[0]]["fetch"])
        print(f"\n{'fetch only, one at a time':<34}{serial:>8.2f}s; {serial / med:.1f}x the concurrent fetch")
    if len(results) == 2:
        lite, pg = results["sqlite"], results["postgresql"]
        print("\nSQLite and PostgreSQL side by side (medians; goal: PostgreSQL <= 1.2x)")
        print(f"{'phase':<34}{'SQLite':>9}{'PostgreSQL':>12}{'ratio':>8}")
        for name, key, _ in phases[:3]:
            a, b = statistics.median(lite[key]), statistics.median(pg[key])
            print(f"{name:<34}{a:>8.2f}s{b:>11.2f}s{b / a:>7.2f}x")
    print(f"peak memory: {own:.0f} MB (collect process), {workers:.0f} MB (largest child process)")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
