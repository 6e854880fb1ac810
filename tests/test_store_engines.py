"""The store on both engines: the same calls, the same answers, and the guarantees that two hosts
sharing one PostgreSQL rely on (claims never overlap, limits are shared, consent stays append-only)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from pathlib import Path

import pytest
from conftest import make_item
from postgres import Cluster

from pipeline.domain.models import DeliveryState
from pipeline.infra.instance import load_config
from pipeline.infra.locking import Busy, job_lock
from pipeline.infra.store import Person, Store, masked

NOW = dt.datetime(2026, 11, 4, 9, 0, tzinfo=dt.UTC)


def test_a_password_in_the_url_is_never_shown() -> None:
    assert (
        masked("postgresql://news:s3cret@db.example.org:5432/news")
        == "postgresql://news:***@db.example.org:5432/news"
    )
    assert masked("postgresql://news@db.example.org/news") == "postgresql://news@db.example.org/news"


def test_an_unreachable_database_is_named_without_its_password() -> None:
    from pipeline.domain.errors import StateError

    with pytest.raises(StateError) as e:
        Store("postgresql://news:s3cret@/news?host=/nonexistent&port=1")
    assert "s3cret" not in str(e.value.message) and "***" in e.value.message


def _audience(store: Store, n: int) -> None:
    store.load_audience([(f"r{i:04d}@example.org", None) for i in range(n)], [])
    with store.transaction():
        store.sync_ledger("2026-12", NOW)


def test_the_ledger_on_both_engines(demo_root: Path, engine: str) -> None:
    config = load_config(demo_root)
    assert config.settings.shared == (engine == "postgresql")
    with Store(config.settings.database) as store:
        store.load_audience([("a@example.org", "A"), ("b@example.org", None), ("a@example.org", "dup")],
                            [("b@example.org", "bounced")])  # fmt: skip
        counts, reasons = store.preview_ledger("2026-12", NOW)
        assert counts[DeliveryState.PENDING] == 1 and reasons == {"bounced": 1}
        assert store.delivery_counts("2026-12")[DeliveryState.PENDING] == 0  # the preview kept nothing
        with store.transaction():
            store.sync_ledger("2026-12", NOW)
        assert store.delivery_states("2026-12") == {"a@example.org": "pending", "b@example.org": "skipped"}
        assert store.claim_batch("2026-12", 10, NOW) == (1, [("a@example.org", "A")])
        assert store.claim_batch("2026-12", 10, NOW) == (0, [])
        store.finish_batch("2026-12", 1, DeliveryState.ACCEPTED, NOW, message_id="m1")
        assert store.delivery_counts("2026-12")[DeliveryState.ACCEPTED] == 1


def test_a_request_outcome_on_both_engines(demo_root: Path, engine: str) -> None:
    config = load_config(demo_root)
    later = NOW + dt.timedelta(minutes=5)
    with Store(config.settings.database) as store:
        _audience(store, 3)
        assert store.claim_batch("2026-12", 2, NOW, 1) == (
            1,
            [("r0000@example.org", None), ("r0001@example.org", None)],
        )
        assert store.claim_batch("2026-12", 2, NOW, 1) == (2, [("r0002@example.org", None)])
        (first, second) = store.delivery_batches("2026-12")
        assert (first.state, first.recipients, first.attempt, second.recipients) == ("in_flight", 2, 1, 1)
        store.finish_batch("2026-12", 1, DeliveryState.PENDING, later)  # never sent: both pending again
        store.finish_batch("2026-12", 2, DeliveryState.IN_FLIGHT, later, reason="no answer")  # in doubt
        (doubt,) = store.delivery_batches("2026-12")
        assert (doubt.batch, doubt.state, doubt.reason, doubt.finished_at) == (
            2,
            "in_flight",
            "no answer",
            None,
        )
        assert store.delivery_states("2026-12") == {
            "r0000@example.org": "pending", "r0001@example.org": "pending", "r0002@example.org": "in_flight"
        }  # fmt: skip
        assert store.claim_batch("2026-12", 5, NOW, 1) == (
            3,
            [("r0000@example.org", None), ("r0001@example.org", None)],
        )
        store.finish_batch("2026-12", 3, DeliveryState.ACCEPTED, later, message_id="m3")
        (_, done) = store.delivery_batches("2026-12")
        assert (done.batch, done.state, done.message_id, done.finished_at) == (3, "accepted", "m3", later)
        assert store.delivery_counts("2026-12")[DeliveryState.ACCEPTED] == 2


def test_subscribers_pending_again_before_the_last_request_are_claimed_and_settled_apart(
    demo_root: Path, engine: str
) -> None:
    # Four requests of two; SendGrid refused the first and the third, the second is in doubt, the
    # fourth accepted. A resumed send makes the refused ones pending again: they lie before the last
    # request, on both sides of the one in doubt. The next claim takes those four (and only those);
    # its outcome leaves the two in doubt as they are.
    config = load_config(demo_root)
    r = [f"r{i:04d}@example.org" for i in range(8)]
    with Store(config.settings.database) as store:
        _audience(store, 8)
        for _ in range(4):
            store.claim_batch("2026-12", 2, NOW, 1)
        store.finish_batch("2026-12", 1, DeliveryState.FAILED, NOW, reason="refused")
        store.finish_batch("2026-12", 2, DeliveryState.IN_FLIGHT, NOW, reason="no answer")
        store.finish_batch("2026-12", 3, DeliveryState.FAILED, NOW, reason="refused")
        store.finish_batch("2026-12", 4, DeliveryState.ACCEPTED, NOW, message_id="m4")
        store.load_audience([(e, None) for e in r], [])
        with store.transaction():
            store.sync_ledger("2026-12", NOW)
        assert store.claim_batch("2026-12", 10, NOW, 1) == (5, [(e, None) for e in (r[0], r[1], r[4], r[5])])
        assert store.claim_batch("2026-12", 10, NOW, 1) == (0, [])
        store.finish_batch("2026-12", 5, DeliveryState.ACCEPTED, NOW, message_id="m5")
        assert store.delivery_states("2026-12") == {
            r[0]: "accepted", r[1]: "accepted", r[2]: "in_flight", r[3]: "in_flight",
            r[4]: "accepted", r[5]: "accepted", r[6]: "accepted", r[7]: "accepted",
        }  # fmt: skip
        store.finish_batch("2026-12", 2, DeliveryState.ACCEPTED, NOW, message_id="m2")
        assert store.delivery_counts("2026-12")[DeliveryState.ACCEPTED] == 8


def test_two_senders_claiming_at_once_never_claim_the_same_subscriber(demo_root: Path, engine: str) -> None:
    config = load_config(demo_root)
    with Store(config.settings.database) as store:
        _audience(store, 2000)
    claimed: list[tuple[int, list[tuple[str, str | None]]]] = []
    lock = threading.Lock()

    errors: list[Exception] = []

    def sender() -> None:
        try:
            with Store(config.settings.database) as store:
                while True:
                    batch, rows = store.claim_batch("2026-12", 7, NOW)
                    if not rows:
                        return
                    with lock:
                        claimed.append((batch, rows))
        except Exception as e:  # a claim that failed (two took one request number) fails the test
            errors.append(e)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    emails = [e for _, rows in claimed for e, _ in rows]
    assert len(emails) == 2000 and len(set(emails)) == 2000
    assert max(len(rows) for _, rows in claimed) == 7  # a claim takes its size, no more
    batches = [b for b, _ in claimed]
    assert sorted(batches) == list(range(1, len(batches) + 1))  # each request number once


def test_a_claim_passes_over_the_subscribers_another_host_is_changing(postgres: Cluster) -> None:
    # Host B brings the ledger in line with a list that suppresses the first five, in a transaction
    # still open; host A's claim meanwhile neither waits for B nor takes one of those five.
    url = postgres.new_database()
    listed = [(f"r{i:04d}@example.org", None) for i in range(20)]
    with Store(url) as a, Store(url) as b:
        _audience(a, 20)
        a.db.execute("SET lock_timeout = '5s'")  # a claim that waited for B would fail, not hang
        b.load_audience(listed, [(email, "bounced") for email, _ in listed[:5]])
        with b.transaction():
            b.sync_ledger("2026-12", NOW)
            first = a.claim_batch("2026-12", 10, NOW)
        rest = a.claim_batch("2026-12", 10, NOW)
        assert a.claim_batch("2026-12", 10, NOW) == (0, [])
        assert first == (1, listed[5:15]) and rest == (2, listed[15:])
        assert a.skip_reasons("2026-12") == {"bounced": 5}


def test_items_put_together_end_as_put_one_by_one(demo_root: Path, engine: str) -> None:
    # put_items decides every outcome from one read on PostgreSQL: each case of put_item, in order,
    # with an item twice and a link another item has just left.
    config = load_config(demo_root)
    earlier = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    a = make_item("a", earlier, url="https://example.org/a", themes=("armoede",))
    b = make_item("b", earlier, url="https://example.org/b")
    moved = dataclasses.replace(
        a, url="https://example.org/c", title="Nieuw", themes=("sport",), first_seen=NOW
    )
    c = make_item("c", earlier, url="https://example.org/a")  # the link a just left
    d = make_item("d", earlier, url="https://example.org/b")  # b's link: refused
    with Store(config.settings.database) as store:
        with store.transaction():
            assert store.put_items([(a, "h1"), (b, "h1")], NOW) == ["new", "new"]
        with store.transaction():
            outcomes = store.put_items([(a, "h1"), (moved, "h2"), (c, "h1"), (d, "h1"), (b, "h1")], NOW)
        assert outcomes == ["unchanged", "updated", "new", "conflict", "unchanged"]
        assert store.put_items([], NOW) == []
        assert {i.id: i.url for i in store.items()} == {
            "a": "https://example.org/c", "b": "https://example.org/b", "c": "https://example.org/a"
        }  # fmt: skip
        kept = store.get_item("a")
        assert kept is not None and kept.title == "Nieuw" and kept.first_seen == earlier
        assert [i.id for i in store.items(theme="sport")] == ["a"] and store.items(theme="armoede") == []


def test_the_sign_up_limit_is_shared_by_every_connection(demo_root: Path, engine: str) -> None:
    config = load_config(demo_root)
    allowed = []

    def host() -> None:
        with Store(config.settings.database) as store:
            for _ in range(10):
                allowed.append(store.allow("signup:203.0.113.9", 12, dt.timedelta(hours=1), NOW))

    threads = [threading.Thread(target=host) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 12 and len(allowed) == 30
    with Store(config.settings.database) as store:  # an hour later the window has moved on
        assert store.allow("signup:203.0.113.9", 12, dt.timedelta(hours=1), NOW + dt.timedelta(hours=2))


def test_processes_opening_a_new_state_database_together_wait_for_each_other(tmp_path: Path) -> None:
    """The first open turns a new SQLite file to WAL; SQLite answers "locked" at once to the others
    there (no busy timeout), so `serve` and a cron job starting together on a fresh instance failed."""
    failures = []

    def opener(path: Path) -> None:
        try:
            with Store(path) as store:
                store.allow("signup:198.51.100.1", 100, dt.timedelta(hours=1), NOW)
        except Exception as e:  # any failure is the finding
            failures.append(repr(e))

    for trial in range(40):
        path = tmp_path / f"fresh{trial}" / "newsletter.sqlite3"
        threads = [threading.Thread(target=opener, args=(path,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []


def test_the_consent_history_is_append_only(demo_root: Path, engine: str) -> None:
    config = load_config(demo_root)
    with Store(config.settings.database) as store:
        store.signup(Person("a@example.org", None, None, None, "aanmelden", "1"), "hash", NOW, NOW)
        for sql in ("UPDATE consents SET status = 'active'", "DELETE FROM consents"):
            with (
                pytest.raises(Exception, match="consent records are append-only"),
                store.db.transaction() as db,
            ):
                db.execute(sql)
        assert [c.action for c in store.consents("a@example.org")] == ["signup"]


def test_a_job_lock_is_held_once_across_connections(demo_root: Path, engine: str) -> None:
    settings = load_config(demo_root).settings
    with job_lock(settings, "send", "2026-12"):
        with pytest.raises(Busy, match="already running"), job_lock(settings, "send", "2026-12"):
            pass
        with job_lock(settings, "send", "2027-01"):
            pass
    with job_lock(settings, "send", "2026-12"):
        pass


def test_every_item_filter_narrows_on_both_engines(demo_root: Path, engine: str) -> None:
    from conftest import make_item, seed

    day = dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC)
    a = make_item("a", day, partner="p1", themes=("armoede",))
    b = make_item("b", day + dt.timedelta(days=10), partner="p2", kind="event", themes=("onderwijs",))
    c = make_item("c", day + dt.timedelta(days=20), partner="p1", source="bron-c", origin="submission")
    config = load_config(demo_root)
    with Store(config.settings.database) as store:
        seed(store, [a, b, c])

        def ids(**filters: object) -> list[str]:
            return [i.id for i in store.items(**filters)]  # type: ignore[arg-type]

        assert ids() == ["c", "b", "a"]  # newest first
        assert ids(since=day + dt.timedelta(days=10)) == ["c", "b"]  # from, included
        assert ids(until=day + dt.timedelta(days=10)) == ["a"]  # up to, not included
        assert ids(partner="p1") == ["c", "a"]
        assert ids(kind="event") == ["b"]
        assert ids(source="bron-c") == ["c"]
        assert ids(theme="onderwijs") == ["b"]
        assert ids(exclude_origin="submission") == ["b", "a"]
        assert ids(partner="p1", kind="story", limit=1) == ["c"]  # filters combine
        assert ids(partner="", kind=None) == ["c", "b", "a"]  # empty: no filter
