"""Benchmark: collect N feeds of 20 realistic items from a local server that answers after 100 ms.

    /work/main/.venv/bin/python bench/bench_collect.py [--feeds 300,1000,3000] [--runs 3]
        [--engines sqlite,postgresql] [--code /path/to/another/checkout] [--serial] [--profile]

The feeds are tests/realistic_feeds.py's: ~2 KB of HTML an item (paragraphs, relative links, a list, an
image). The server runs in its own process and listens on 50 loopback addresses (127.0.0.1 to
127.0.0.50): partners' feeds live on many hosts, and the per-host bound should work as in production.

For each number of feeds, in one run and interleaved (the machine's load hits every phase alike):
- the floor: raw asyncio, every GET at once (and every conditional GET, answered 304), no parsing;
- the fetch layer alone (``fetch_all``, no parsing);
- ``newsletter collect`` as cron runs it (a new process) into an empty database (cold) and again when
  every feed answers 304 (warm), on each engine (SQLite; PostgreSQL in a throwaway cluster, a fresh
  database a run), with the CPU time of all its processes (its parse workers included) and its peak
  memory (the largest of its processes; started from a small launcher, see ``LAUNCHER``). The empty
  database gets its schema first (as the first collect makes it; the "schema" column): that is once per
  instance, and on PostgreSQL it was a tenth of a second of every cold figure;
- the start-up of the command (Python, the CLI and ``pipeline.collect`` imported).

``--code`` adds another checkout (e.g. the code before a change, from ``git archive``) measured the same
way in the same run, side by side. Prints medians, the goals of issue 24 and the ratios.
``--profile`` instead collects the feeds once, cold, in this process with parsing in it too, and
prints the top of the profile.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import json
import multiprocessing
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parents[1]
# This checkout's pipeline, not the one the virtualenv was installed from (another worktree's).
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from feedserver import FeedServer  # noqa: E402
from postgres import throwaway_cluster  # noqa: E402
from realistic_feeds import feed  # noqa: E402

from pipeline.infra.fetch import Limits, Request, fetch_all  # noqa: E402

HOSTS = 50
DELAY = 0.1
# The goals of issue 24 (at 300 feeds; at 3,000: cold <= 15 s, warm <= 3 s).
PYCACHE = tempfile.mkdtemp(prefix="bench-collect-pycache-")
GOALS = {"cold": 2.0, "warm": 0.6, "cpu": 8.0, "peak": 150.0, "startup": 0.2, "floor": 5.0, "pg": 1.2}


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


def instance(root: Path, urls: list[str]) -> Path:
    config = yaml.safe_load((REPO / "pipeline" / "demo_instance" / "sources.yaml").read_text())
    config["partners"] = [{k: v for k, v in p.items() if k != "feeds"} for p in config["partners"]]
    config["sources"] = [
        {"id": f"f{n:04d}", "name": f"Feed {n}", "url": u, "kind": "story"} for n, u in enumerate(urls)
    ]
    config["submissions"] = []
    # The feed servers are on loopback, an internal address that collect refuses by default.
    config["newsletter"]["collect"] = {"timeout": 30, "allow_private_addresses": True}
    root.mkdir(parents=True)
    (root / "sources.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return root


# -- the floor: raw asyncio, no library, no parsing ----------------------------------------------
async def _raw_get(url: str, etag: str | None) -> int:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    extra = f"If-None-Match: {etag}\r\n" if etag else ""
    writer.write(
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}Connection: close\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = await reader.readexactly(length) if length else b""
    writer.close()
    return len(body)


def timed_floor(urls: list[str], conditional: bool) -> float:
    async def all_at_once() -> list[int]:
        return await asyncio.gather(
            *(_raw_get(u, f'"v{n}"' if conditional else None) for n, u in enumerate(urls))
        )

    started = time.perf_counter()
    sizes = asyncio.run(all_at_once())
    assert all(sizes) != conditional, "the floor's requests were not answered as expected"
    return time.perf_counter() - started


def timed_fetch(urls: list[str], limits: Limits) -> float:
    started = time.perf_counter()
    results = asyncio.run(fetch_all([Request(u, u) for u in urls], limits))
    assert all(r.status == "fetched" for r in results), {r.error for r in results}
    return time.perf_counter() - started


# -- the command, with the CPU time and peak memory of its process tree ---------------------------
def command_env(code: Path, env: dict[str, str] | None) -> dict[str, str]:
    """With a bytecode cache, as an installed package has: in a cache of the bench's own (the checkouts
    stay clean), and written even where the environment says ``PYTHONDONTWRITEBYTECODE`` (this machine's
    does). Without it every command compiled the standard library and its dependencies again: ~0.9 s."""
    out = {**os.environ, **(env or {}), "PYTHONPATH": str(code), "PYTHONPYCACHEPREFIX": PYCACHE}
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    return out


def warm_up(code: Path, urls: list[str], base: Path) -> None:
    """One untimed collect of a few feeds, so the cache holds all a collect and its workers import."""
    root = instance(base / f"warm-up-{code.name}", urls[:4])
    timed_command(code, ["-m", "pipeline", "--root", str(root), "collect", "--now", "2026-11-26"])


# The command is started by this small launcher, not by the benchmark itself: Linux gives a process's
# ru_maxrss the high-water mark of the memory it was started from (exec keeps the larger of the two), so
# a command started from the benchmark reported the benchmark's own peak, which grows with the number of
# feeds (fetch_all holds every body): 63/97/176 MB at 300/1,000/3,000 feeds were the benchmark's, not
# collect's. The launcher is a bare Python of ~10 MB: that is the least a command can report.
LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
print(json.dumps([wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status)]))
"""


# The schema of a new database, made as the first collect makes it (``db upgrade`` wants one that exists).
SCHEMA = """
import sys
from pathlib import Path
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store
with Store(load_config(Path(sys.argv[1])).settings.database):
    pass
"""


def timed_command(
    code: Path, args: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (the process and every process it waited for) and peak memory in MB (the
    largest of them) of ``python -m pipeline ARGS`` run from checkout ``code``."""
    with tempfile.TemporaryFile() as err:
        out = subprocess.run(
            [sys.executable, "-c", LAUNCHER, *args],
            stdout=subprocess.PIPE,
            stderr=err,
            env=command_env(code, env),
            cwd=code,
            check=True,
        )
        wall, cpu, maxrss, returncode = json.loads(out.stdout)
        if returncode == 3:  # some sources failed (timeouts on an overloaded machine): say so, go on
            print(f"note: {' '.join(args[-4:])} reported failed sources (exit 3)", file=sys.stderr)
        elif returncode != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(args)} failed ({returncode}): {err.read().decode()[-2000:]}")
    return wall, cpu, maxrss / 1024


def measure_size(
    urls: list[str],
    base: Path,
    runs: int,
    codes: list[Path],
    engines: list[str],
    new_database: Callable[[], str],
) -> dict[str, Any]:
    out: dict[str, Any] = {"floor": [], "floor304": [], "fetch": []}
    for run in range(runs):
        out["floor"].append(timed_floor(urls, conditional=False))
        out["floor304"].append(timed_floor(urls, conditional=True))
        out["fetch"].append(timed_fetch(urls, Limits(allow_private_addresses=True)))
        for code in codes:
            for engine in engines:
                env = {"NEWSLETTER_DATABASE_URL": new_database()} if engine == "postgresql" else {}
                root = instance(base / f"{len(urls)}-{run}-{code.name}-{engine}", urls)
                command = ["-m", "pipeline", "--root", str(root), "collect", "--now", "2026-11-26"]
                # The schema is made first, and timed apart: once per instance, not per collect.
                schema = timed_command(code, ["-c", SCHEMA, str(root)], env)
                cold = timed_command(code, command, env)
                warm = timed_command(code, command, env)
                row = out.setdefault(
                    (code.name, engine), dict(cold=[], cpu=[], peak=[], warm=[], wcpu=[], schema=[])
                )
                row["schema"].append(schema[0])
                row["cold"].append(cold[0])
                row["cpu"].append(cold[1])
                row["peak"].append(cold[2])
                row["warm"].append(warm[0])
                row["wcpu"].append(warm[1])
    return out


def startup(code: Path, runs: int) -> float:
    return statistics.median(
        timed_command(code, ["-c", "import pipeline.cli, pipeline.collect"])[0] for _ in range(max(runs, 5))
    )


def report(feeds: int, result: dict[str, Any], codes: list[Path], engines: list[str], runs: int) -> None:
    med = statistics.median
    floor, floor304, fetch = med(result["floor"]), med(result["floor304"]), med(result["fetch"])
    print(f"\n{feeds} feeds x 20 items, medians of {runs} run(s)")
    print(f"  floor (raw asyncio, all GETs at once): {floor:.2f} s cold, {floor304:.2f} s all 304")
    print(f"  fetch layer alone (fetch_all, no parsing): {fetch:.2f} s = {fetch / floor:.1f}x the floor")
    head = f"  {'checkout':<16}{'engine':<12}{'cold':>8}{'x floor':>9}{'CPU/feed':>10}{'peak':>9}{'warm':>8}"
    print(head + f"{'warm CPU':>10}{'schema':>9}")
    for code in codes:
        for engine in engines:
            row = result[(code.name, engine)]
            cold = med(row["cold"])
            print(
                f"  {code.name:<16}{engine:<12}{cold:>7.2f}s{cold / floor:>8.1f}x"
                f"{med(row['cpu']) / feeds * 1000:>8.1f}ms{max(row['peak']):>6.0f} MB"
                f"{med(row['warm']):>7.2f}s{med(row['wcpu']):>9.2f}s{med(row['schema']):>8.2f}s"
            )
        if len(engines) == 2:
            lite, pg = result[(code.name, "sqlite")], result[(code.name, "postgresql")]
            print(
                f"  {code.name:<16}{'PG/SQLite':<12}{med(pg['cold']) / med(lite['cold']):>7.2f}x"
                f"{'':>9}{'':>10}{'':>9}{med(pg['warm']) / med(lite['warm']):>7.2f}x"
            )


def profile(urls: list[str], base: Path, workers: bool) -> None:
    """One cold collect in this process, parsing here too unless ``workers``: the top of the profile of
    this process's CPU time."""
    import pipeline.collect as collect_module
    from pipeline.infra.instance import load_config
    from pipeline.infra.store import Store

    if not workers:
        collect_module.POOL_THRESHOLD = 10**9  # type: ignore[attr-defined]
    config = load_config(instance(base / "profile", urls))
    with Store(config.settings.database) as store:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        summary = collect_module.collect(config, store, now=dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC))
        profiler.disable()
    print(summary.line())
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--feeds", default="300", help="numbers of feeds, comma-separated: 300,1000,3000")
    parser.add_argument("--engines", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument(
        "--code", action="append", default=[], help="another checkout to measure side by side"
    )
    parser.add_argument("--serial", action="store_true", help="also fetch one at a time (feeds x 0.1 s)")
    parser.add_argument(
        "--profile",
        choices=["all", "main"],
        help="profile one cold collect in this process: all (parsing here too) or main (parsing in workers)",
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.feeds.split(",")]
    engines = args.engines.split(",")
    codes = [Path(c).resolve() for c in args.code] + [REPO]
    ctx = multiprocessing.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve, args=(max(sizes), queue, stop), daemon=True)
    server.start()
    urls: list[str] = queue.get(timeout=300)
    results = {}
    try:
        with ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            cluster = stack.enter_context(throwaway_cluster()) if "postgresql" in engines else None
            new_database = cluster.new_database if cluster else str
            if args.profile:  # on the first engine given
                if engines[0] == "postgresql":
                    os.environ["NEWSLETTER_DATABASE_URL"] = new_database()
                profile(urls[: sizes[0]], tmp, workers=args.profile == "main")
                return
            for code in codes:
                warm_up(code, urls, tmp)
            starts = {code.name: startup(code, args.runs) for code in codes}
            for n in sizes:
                results[n] = measure_size(urls[:n], tmp, args.runs, codes, engines, new_database)
            serial = (
                timed_fetch(urls[: sizes[0]], Limits(concurrency=1, per_host=1, allow_private_addresses=True))
                if args.serial
                else None
            )
    finally:
        stop.set()
        server.join(timeout=10)
    when = f"{dt.datetime.now():%Y-%m-%d %H:%M}"
    print(f"collect benchmark, {when}: {HOSTS} loopback hosts, {DELAY * 1000:.0f} ms an answer")
    print(
        f"goals (issue 24) at 300 feeds: cold <= {GOALS['cold']} s and <= {GOALS['floor']:.0f}x the floor, "
        f"<= {GOALS['cpu']:.0f} ms CPU a feed, warm <= {GOALS['warm']} s, start-up <= {GOALS['startup']} s; "
        f"at 3,000: cold <= 15 s, warm <= 3 s; peak <= {GOALS['peak']:.0f} MB; "
        f"PostgreSQL <= {GOALS['pg']}x SQLite"
    )
    print(
        "start-up (python, the CLI and pipeline.collect imported): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in starts.items())
    )
    for n, result in results.items():
        report(n, result, codes, engines, args.runs)
    if serial is not None:
        print(f"\nfetch only, one at a time: {serial:.2f} s ({sizes[0]} feeds)")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
