"""collect's writes in batches (the store's ItemWrites), on both engines: a batch of sources decides as
writing them one after another would, each source seeing the earlier ones' writes; one source's failing
write loses no other source; the batch reads the items table once."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import make_item
from feedserver import FeedServer
from test_collect import FAST, instance, rss, run, stored

from pipeline.collect import collect
from pipeline.collect import writer as writer_module
from pipeline.collect.feeds import SourceDefaults, content_hash
from pipeline.collect.writer import Job, Pending, Writer
from pipeline.domain.models import Item
from pipeline.infra.fetch import Fetched
from pipeline.infra.instance import load_config
from pipeline.infra.store import ItemWrites, Store

EARLIER = dt.datetime(2026, 11, 2, 7, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
U1, U2 = "https://www.example.nl/nieuws/1", "https://www.example.nl/nieuws/2"


def database(tmp_path: Path, engine: str) -> str | Path:
    return os.environ["NEWSLETTER_DATABASE_URL"] if engine == "postgresql" else tmp_path / "state.sqlite3"


def story(item_id: str, url: str, source: str, guid: str, title: str) -> Item:
    item: Item = make_item(item_id, EARLIER, url=url, source=source, guid=guid, title=title, first_seen=None)
    return item


def pending(source: str, *items: Item) -> Pending:
    job = Job(source, f"https://{source}.example.nl/feed.rss", f"https://{source}.example.nl/feed.rss",
              SourceDefaults(source))  # fmt: skip
    return Pending(job, Fetched(source, job.url, "fetched"), items=items)


def write(store: Store, now: dt.datetime, *batches: list[Pending]) -> list[tuple[str, int, int]]:
    """Each batch in one flush (one transaction); every source's (id, new, updated)."""
    writer = Writer(store, now, lambda r: None)
    for batch in batches:
        writer.pending = list(batch)
        writer.flush()
    return [(r.source, r.new, r.updated) for r in writer.results]


def items_reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements that read the items table from now on."""
    seen: list[str] = []
    real = store.db.execute

    def execute(sql: str, args: Any = ()) -> Any:
        if sql.startswith("SELECT") and "FROM items" in sql:
            seen.append(sql)
        return real(sql, args)

    monkeypatch.setattr(store.db, "execute", execute)
    return seen


def rows(store: Store) -> list[tuple[str, str, str, str | None, str]]:
    return sorted((i.id, i.url, i.source, i.guid, i.title) for i in store.items())


@pytest.mark.parametrize("order", ["AB", "BA"])
def test_a_source_written_after_another_in_one_batch_sees_its_writes(
    tmp_path: Path, engine: str, order: str, monkeypatch: pytest.MonkeyPatch
):
    """B's story b1 (link U1, guid G) is stored. Then, in one batch: A's new entry links to U1 (so is item
    b1), and B's entry with guid G moved to U2. B's guid G names b1 only while b1 is B's."""
    a = pending("A", story("b1", U1, "A", "gA", "Overgenomen"))
    b = pending("B", story("b2", U2, "B", "G", "Verhuisd"))
    batch = [a, b] if order == "AB" else [b, a]
    with Store(database(tmp_path, engine)) as store:
        write(store, EARLIER, [pending("B", story("b1", U1, "B", "G", "Oud"))])
        reads = items_reads(store, monkeypatch)
        results = write(store, NOW, batch)
        assert len(reads) == 1  # the whole batch's reads of the items table in one statement
        after = rows(store)
    if order == "AB":
        # A takes b1 first: B's guid names no item of B's any more, so its entry is a new item.
        assert results == [("A", 0, 1), ("B", 1, 0)]
        assert after == [("b1", U1, "A", "gA", "Overgenomen"), ("b2", U2, "B", "G", "Verhuisd")]
    else:
        # B's entry is b1 through its guid and moves it to U2; A's entry (U1 is b1's id) then takes b1.
        assert results == [("B", 0, 1), ("A", 0, 1)]
        assert after == [("b1", U1, "A", "gA", "Overgenomen")]


def test_a_batch_ends_as_its_sources_written_one_transaction_each(
    tmp_path: Path, engine: str, request: pytest.FixtureRequest
):
    """Two sources in one batch sharing a link, an entry with another source's guid (guids are a
    source's own), an entry twice in a source: the same outcomes and rows as when each source is
    written in a transaction of its own, whose reads the database answers."""

    def sources() -> list[Pending]:
        return [
            pending("A", story("s", U1, "A", "a-1", "Van A"), story("a2", U2, "A", "a-2", "Tweede van A")),
            pending("B", story("s", U1, "B", "b-1", "Van B"), story("b3", U1 + "3", "B", "a-2", "Van B, 3")),
            pending(
                "C", story("c", U2 + "c", "C", "c-1", "Van C"), story("c", U2 + "c", "C", "c-1", "Weer C")
            ),
        ]

    stores = []
    for name, batches in (("together", [sources()]), ("alone", [[p] for p in sources()])):
        target = database(tmp_path / name, engine)
        if engine == "postgresql" and name == "alone":
            target = request.getfixturevalue("postgres").new_database()
        with Store(target) as store:
            results = write(store, NOW, *batches)
            stores.append((results, rows(store)))
    together, alone = stores
    assert together == alone
    assert together[0] == [("A", 2, 0), ("B", 1, 1), ("C", 1, 1)]
    assert together[1] == [
        ("a2", U2, "A", "a-2", "Tweede van A"),
        ("b3", U1 + "3", "B", "a-2", "Van B, 3"),
        ("c", U2 + "c", "C", "c-1", "Weer C"),
        ("s", U1, "B", "b-1", "Van B"),
    ]


BROKEN = {
    "sqlite": [
        "CREATE TRIGGER broken BEFORE INSERT ON items WHEN NEW.source = 'jgz-fryslan'"
        " BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION broken() RETURNS trigger LANGUAGE plpgsql AS"
        " 'BEGIN RAISE EXCEPTION ''disk I/O error''; END'",
        "CREATE TRIGGER broken BEFORE INSERT ON items FOR EACH ROW WHEN (NEW.source = 'jgz-fryslan')"
        " EXECUTE FUNCTION broken()",
    ],
}


def test_a_failing_write_of_one_source_loses_no_other_source_of_its_batch(
    tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch
):
    with FeedServer() as server:
        feeds = {
            "gemeente-zwolle": server.route("/z.rss", rss(("Fiets", "https://www.example.nl/fiets"))),
            "jgz-fryslan": server.route("/f.rss", rss(("Ontbijt", "https://www.example.nl/ontbijt"))),
            "leergeld-brabant": server.route("/l.rss", rss(("Laptop", "https://www.example.nl/laptop"),
                                                            ("Sport", "https://www.example.nl/sport"))),
        }  # fmt: skip
        root = instance(tmp_path, feeds)
        with stored(root) as store, store.transaction():
            for sql in BROKEN[engine]:
                store.db.execute(sql)
        monkeypatch.setattr(writer_module, "BATCH_SECONDS", 60.0)  # the three sources in one batch
        summary = run(root)
    assert sorted((r.source, r.status, r.new) for r in summary.results) == [
        ("gemeente-zwolle", "fetched", 1), ("jgz-fryslan", "failed", 0), ("leergeld-brabant", "fetched", 2),
    ]  # fmt: skip
    (failed,) = summary.failed
    assert failed.reason is not None and failed.reason.startswith("its items could not be stored (")
    assert "disk I/O error" in failed.reason
    with stored(root) as store:
        assert sorted((i.source, i.title) for i in store.items()) == [
            ("gemeente-zwolle", "Fiets"), ("leergeld-brabant", "Laptop"), ("leergeld-brabant", "Sport"),
        ]  # fmt: skip
        states = store.source_states()
    assert {s: states[s].last_status for s in states} == {
        "gemeente-zwolle": "fetched", "jgz-fryslan": "failed", "leergeld-brabant": "fetched",
    }  # fmt: skip


def entries(*items: tuple[str, str, str | None]) -> bytes:
    """An RSS feed of (title, description, pubDate or None) entries, each linking to /nieuws/<title>."""
    body = "".join(
        f"<item><title>{t}</title><link>https://www.example.nl/nieuws/{t}</link><description>{text}</description>"
        + (f"<pubDate>{date}</pubDate>" if date else "")
        + "</item>"
        for t, text, date in items
    )
    return f'<rss version="2.0"><channel><title>Nieuws</title><link>https://www.example.nl/</link>{body}</channel></rss>'.encode()


def test_a_changed_item_keeps_its_first_seen_date_and_an_undated_one_its_first_given_date(
    tmp_path: Path, engine: str
):
    """A feed read again: a changed item keeps the date it was first seen (in its row and its JSON), an
    entry without a date the date it was first given (so it is unchanged), and the stored hash is
    content_hash of the stored item (the one every writer stores)."""
    dated = "Mon, 23 Nov 2026 08:30:00 +0100"
    with FeedServer() as server:
        url = server.route(
            "/z.rss", entries(("Fiets", "Over fietsen", dated), ("Zonder", "Geen datum", None))
        )
        root = instance(tmp_path, {"gemeente-zwolle": url})
        config = load_config(root)
        with Store(config.settings.database) as store:
            first = collect(config, store, now=EARLIER, limits=FAST)
        server.route(
            "/z.rss",
            entries(
                ("Fiets", "Over fietsen, bijgewerkt", dated),
                ("Zonder", "Geen datum", None),
                ("Nieuw", "Nieuw", dated),
            ),
        )
        with Store(config.settings.database) as store:
            second = collect(config, store, now=NOW, limits=FAST)
    assert [(r.new, r.updated) for r in first.results] == [(2, 0)]
    assert [(r.new, r.updated) for r in second.results] == [(1, 1)]
    with stored(root) as store:
        items = {i.title: i for i in store.items()}
        hashes = dict(store.db.execute("SELECT id, content_hash FROM items").fetchall())
    assert (items["Fiets"].summary_text, items["Fiets"].first_seen) == ("Over fietsen, bijgewerkt", EARLIER)
    assert (items["Zonder"].published, items["Zonder"].first_seen, items["Zonder"].flags) == (
        EARLIER,
        EARLIER,
        ("date-missing",),
    )
    assert (items["Nieuw"].first_seen, items["Nieuw"].published) == (
        NOW,
        dt.datetime(2026, 11, 23, 7, 30, tzinfo=dt.UTC),
    )
    assert hashes == {i.id: content_hash(i) for i in items.values()}


def test_batches_written_in_the_background_lose_no_source(
    tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch
):
    """Every source's result handed to the writer's thread as soon as the batch before is written, each
    batch slow to write: each source reported once, every item and state stored, before collect returns."""
    monkeypatch.setattr(writer_module, "BATCH_SECONDS", 0.0)
    real = Writer._flush

    def slowly(self: Writer, batch: list[Pending]) -> None:
        if threading.current_thread().name == "collect-writer":
            time.sleep(0.1)  # the fetching goes on meanwhile, and ends before the last batch is written
        real(self, batch)

    monkeypatch.setattr(Writer, "_flush", slowly)
    with FeedServer() as server:
        feeds = {
            f"p{n}": server.route(
                f"/p{n}.rss", rss(*((f"S{n}-{k}", f"https://www.example.nl/{n}/{k}") for k in range(3)))
            )
            for n in range(8)
        }
        root = instance(tmp_path, feeds)
        threads: set[str] = set()
        config = load_config(root)
        with Store(config.settings.database) as store:
            summary = collect(
                config,
                store,
                now=NOW,
                limits=FAST,
                on_result=lambda r: threads.add(threading.current_thread().name),
            )
    assert sorted((r.source, r.status, r.new) for r in summary.results) == [
        (f"p{n}", "fetched", 3) for n in range(8)
    ]
    assert "collect-writer" in threads  # some were written in the background
    with stored(root) as store:
        assert len(store.items()) == 24
        assert sorted(store.source_states()) == [f"p{n}" for n in range(8)]


def test_a_crash_in_the_background_batch_stops_collect_and_loses_the_whole_batch(
    tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch
):
    """An interrupt while the writer's thread writes a batch reaches the caller, and the batch is rolled
    back whole: no source's items without its state."""
    monkeypatch.setattr(writer_module, "BATCH_SECONDS", 0.0)
    real = ItemWrites.send

    def crash_in_the_background(self: ItemWrites) -> None:
        real(self)
        if threading.current_thread().name == "collect-writer":
            raise KeyboardInterrupt

    monkeypatch.setattr(ItemWrites, "send", crash_in_the_background)
    with FeedServer() as server:
        feeds = {
            f"p{n}": server.route(f"/p{n}.rss", rss((f"S{n}", f"https://www.example.nl/{n}")))
            for n in range(3)
        }
        root = instance(tmp_path, feeds)
        with pytest.raises(KeyboardInterrupt):
            run(root)
    with stored(root) as store:
        states, items = store.source_states(), store.items()
    assert sorted(i.source for i in items) == sorted(states)  # every stored item's source has its state


def test_sources_wait_for_a_writer_a_batch_behind_so_memory_stays_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A database that is slower than the parse workers (here: another connection holds SQLite's write
    lock) makes the sources wait once MAX_WAITING_ITEMS are waiting, not pile up in memory."""
    import sqlite3

    monkeypatch.setattr(writer_module, "MAX_WAITING_ITEMS", 10)
    monkeypatch.setattr(writer_module, "BATCH_SECONDS", 0.0)
    path = tmp_path / "state.sqlite3"
    with Store(path) as store:
        writer = Writer(store, NOW, lambda r: None)
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the writer's thread waits for this lock
        added: list[int] = []  # items waiting after each add

        def add_all() -> None:
            for n in range(10):
                source = f"s{n}"
                batch = [story(f"{source}-{i}", f"https://www.example.nl/{source}/{i}", source, f"g{source}{i}",
                               f"Bericht {i}") for i in range(3)]  # fmt: skip
                writer.add(pending(source, *batch))
                added.append(writer.waiting)

        adder = threading.Thread(target=add_all)
        adder.start()
        time.sleep(0.5)
        seen_blocked = list(added)
        blocker.execute("ROLLBACK")  # first, so that the store is never closed under a waiting writer
        blocker.close()
        adder.join(timeout=30)
        writer.flush()
        # s0 went to the writer (blocked); s1-s3 wait (9 items); s4 makes 12 >= 10: it waits for the writer.
        assert seen_blocked == [0, 3, 6, 9]
        assert max(added) < 10 + 3
        assert len(store.items()) == 30
        assert sorted(r.source for r in writer.results) == sorted(f"s{n}" for n in range(10))
