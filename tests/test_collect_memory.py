"""Collecting many feeds holds a bounded number of bodies: the fetcher starts no more requests than its
window while the caller has not taken their results, a result keeps its place (at most the concurrency)
until it is taken, and collect lets a body go once it is parsed (issue 24: memory flat from 300 to 3,000
feeds). And a warm run (every feed answers 304) keeps its connections open and starts no parse workers."""

from __future__ import annotations

import asyncio
import datetime as dt
import tracemalloc
from pathlib import Path

import yaml
from feedserver import FeedServer

import pipeline.collect
import pipeline.collect.writer
from pipeline.collect import collect
from pipeline.infra.fetch import Fetcher, Limits, Request, fetch_all
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store

DEMO = Path(__file__).resolve().parents[1] / "pipeline" / "demo_instance"


def test_a_slow_taker_holds_at_most_the_window_of_requests():
    with FeedServer() as server:
        urls = [server.route(f"/f{i}.rss", f"<rss>{i}</rss>", delay=0.05) for i in range(12)]

        async def take_slowly() -> list[str]:
            fetcher = Fetcher(Limits(concurrency=32, per_host=32, retries=0, allow_private_addresses=True))
            got = []
            try:
                async for f in fetcher.fetch_each([Request(u, u) for u in urls], window=3):
                    got.append(f.key)
                    await asyncio.sleep(0.15)  # parsing: slower than the server answers
            finally:
                await fetcher.aclose()
            return got

        got = asyncio.run(take_slowly())
        assert sorted(got) == sorted(urls)  # every one, each once
        # Never more than 3 answered at once, though 32 were allowed: the rest waited to be started.
        assert server.most_at_once == 3
        assert sum(server.hits(f"/f{i}.rss") for i in range(12)) == 12


def test_without_a_window_every_request_runs_at_once_up_to_the_concurrency():
    with FeedServer() as server:
        urls = [server.route(f"/f{i}.rss", f"<rss>{i}</rss>", delay=0.2) for i in range(12)]

        async def take() -> int:
            fetcher = Fetcher(Limits(concurrency=8, per_host=32, retries=0, allow_private_addresses=True))
            try:
                return len([f async for f in fetcher.fetch_each([Request(u, u) for u in urls])])
            finally:
                await fetcher.aclose()

        assert asyncio.run(take()) == 12
        assert server.most_at_once == 8


def test_an_answer_of_304_leaves_the_connection_open_for_the_hosts_next_feed():
    # A warm run is all 304s: each one used to close its connection (its empty body unread), so every
    # feed of a host paid for a new one.
    with FeedServer() as server:
        urls = [server.route(f"/f{i}.rss", f"<rss>{i}</rss>", etag=f'"v{i}"') for i in range(6)]
        requests = [Request(u, u, etag=f'"v{i}"') for i, u in enumerate(urls)]
        limits = Limits(concurrency=1, per_host=1, retries=0, allow_private_addresses=True)
        results = asyncio.run(fetch_all(requests, limits))
        assert [r.status for r in results] == ["unchanged"] * 6
        assert server.connections == 1


def test_a_slow_taker_holds_at_most_the_concurrency_of_results_whatever_the_window():
    with FeedServer() as server:
        urls = [server.route(f"/f{i}.rss", f"<rss>{i}</rss>") for i in range(12)]

        async def take_slowly() -> tuple[list[str], int]:
            fetcher = Fetcher(Limits(concurrency=3, per_host=32, retries=0, allow_private_addresses=True))
            got: list[str] = []
            most = 0
            try:
                async for f in fetcher.fetch_each([Request(u, u) for u in urls]):  # the window: 256
                    got.append(f.key)
                    await asyncio.sleep(0.05)  # parsing: slower than the server answers
                    # Asked for and not yet taken: answered and waiting, or being answered.
                    most = max(most, len(server.requests) - len(got))
            finally:
                await fetcher.aclose()
            return got, most

        got, most = asyncio.run(take_slowly())
        assert sorted(got) == sorted(urls)
        assert most == 3  # not 11: the answers wait in their places, and no more are asked for


def feed(n: int, padding: str) -> bytes:
    """One entry, and ``padding`` in a comment: a body as big as wanted that is still quick to parse."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Nieuws</title>'
        f"<link>https://www.example.nl/</link><!-- {padding} --><item><title>Bericht {n}</title>"
        f"<link>https://www.example.nl/nieuws/{n}</link><pubDate>Mon, 23 Nov 2026 08:30:00 +0100</pubDate>"
        "<description>Over het plan</description></item></channel></rss>"
    ).encode()


def instance(root: Path, urls: list[str]) -> Path:
    """The demo's settings, partners and taxonomy, with one source a URL."""
    config = yaml.safe_load((DEMO / "sources.yaml").read_text())
    config["partners"] = [{k: v for k, v in p.items() if k != "feeds"} for p in config["partners"]]
    config["sources"] = [
        {"id": f"f{n}", "name": f"Feed {n}", "url": u, "kind": "story"} for n, u in enumerate(urls)
    ]
    config["submissions"] = []
    root.mkdir()
    (root / "sources.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return root


def test_collect_lets_each_body_go_once_it_is_parsed(tmp_path: Path, monkeypatch):
    # 40 feeds of 400 kB: 16 MB in all. The writer holds every source's result until the end here (its
    # batch never fills up in time), so only bodies let go after parsing keep the peak low; with 4
    # requests at once and 2 bodies waiting for the parse workers, a few are alive at a time.
    monkeypatch.setattr(pipeline.collect.writer, "BATCH_SECONDS", 3600)
    monkeypatch.setattr(pipeline.collect, "PARSE_WINDOW", 2)
    with FeedServer() as server:
        urls = [server.route(f"/f{n}.rss", feed(n, "x" * 400_000)) for n in range(40)]
        loaded = load_config(instance(tmp_path / "instance", urls))
        limits = Limits(concurrency=4, per_host=4, timeout=20, retries=0, allow_private_addresses=True)
        with Store(loaded.settings.database) as store:
            tracemalloc.start()
            try:
                summary = collect(
                    loaded, store, now=dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC), limits=limits
                )
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert (summary.count("fetched"), summary.new) == (40, 40)
    assert peak < 8_000_000, f"{peak / 1e6:.1f} MB at the peak: bodies were held"


def test_a_warm_run_starts_no_parse_workers(tmp_path: Path, monkeypatch):
    # 20 feeds: enough for worker processes when there is something to parse; a warm run (every feed
    # answers 304) has nothing to parse, so it makes no pool (nor imports multiprocessing for one).
    with FeedServer() as server:
        urls = [server.route(f"/f{n}.rss", feed(n, ""), etag=f'"v{n}"') for n in range(20)]
        loaded = load_config(instance(tmp_path / "instance", urls))
        now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
        limits = Limits(timeout=20, retries=0, allow_private_addresses=True)
        started: list[int] = []
        real_pool = pipeline.collect._pool
        monkeypatch.setattr(pipeline.collect, "_pool", lambda n: started.append(n) or real_pool(n))
        with Store(loaded.settings.database) as store:
            cold = collect(loaded, store, now=now, limits=limits)
            warm = collect(loaded, store, now=now, limits=limits)
    assert (cold.count("fetched"), cold.new) == (20, 20)
    assert started == [20]  # the cold run, once
    assert warm.count("unchanged") == 20
