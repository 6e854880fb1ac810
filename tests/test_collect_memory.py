"""Collecting many feeds holds a bounded number of bodies: the fetcher starts no more requests than its
window while the caller has not taken their results (issue 24: memory flat from 300 to 3,000 feeds)."""

from __future__ import annotations

import asyncio

from feedserver import FeedServer

from pipeline.infra.fetch import Fetcher, Limits, Request, fetch_all


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
