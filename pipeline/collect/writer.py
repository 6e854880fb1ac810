"""Writing what collect found: items deduplicated against the store, with each source's state, in batches."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from pipeline.collect.feeds import ParsedFeed, SourceDefaults, content_hash
from pipeline.collect.results import SourceResult
from pipeline.domain.config import SubmissionSource
from pipeline.domain.i18n import _
from pipeline.domain.models import Item
from pipeline.domain.monitoring import ORIGIN as MONITORING
from pipeline.infra.fetch import Fetched
from pipeline.infra.store import ItemWrites, KnownItem, Store

# How long parsed sources wait to be written together (each commit is an fsync). A batch is written
# in a thread while the next one gathers, so short batches cost the event loop nothing and leave
# little to write once the last feed is parsed: 300 feeds, cold, in process, medians of 5: collect
# 1.67 -> 1.54 s on SQLite and 1.84 -> 1.65 s on PostgreSQL (1 s batches, written in the event loop).
BATCH_SECONDS = 0.25
# Items waiting while a batch is written: beyond this the event loop waits for the writer, so that a
# database slower than the parse workers does not make memory grow with the number of feeds (3,000
# feeds cold on PostgreSQL peaked at 229 MB without it, against 68 MB at 1,000 on SQLite).
MAX_WAITING_ITEMS = 2_000


@dataclass(frozen=True)
class Job:
    """One thing to fetch: a feed, or a partner's remote YAML submission."""

    id: str
    url: str  # as fetched: http(s), or an absolute local path
    shown_url: str  # as written in sources.yaml
    defaults: SourceDefaults
    submission: SubmissionSource | None = None


@dataclass
class Pending:
    job: Job
    fetched: Fetched
    body_hash: str | None = None
    parsed: ParsedFeed | None = None
    items: tuple[Item, ...] = ()
    reason: str | None = None
    warnings: tuple[str, ...] = ()


def _unstored(e: Exception) -> str:
    why = f"{type(e).__name__}: {e}"
    return _(
        "its items could not be stored ({error}); the other sources' were, and it is read again next run"
    ).format(error=why)


class Writer:
    """Writes results in batches: one transaction per batch, items and source state together.

    A batch's writes are decided together and sent at once (the store's ``ItemWrites``): every row
    the decisions can look at is read in one statement, and the writes are sent together (on
    PostgreSQL a round trip for the read and a few for every 250 items written, rather than about five
    a source). The decisions are those of writing the sources one after another: each source's reads
    see the earlier sources' writes.

    Batches are written in a thread of their own, one at a time, in order (``add``); ``wait`` (and
    ``flush``, which writes what is left) waits for it. ``on_result`` is called in that thread for
    the sources it writes. Nothing else uses the store meanwhile.

    When a batch fails (a damaged row, a full disk, a trigger), it is rolled back and each of its
    sources is written in a transaction of its own, so that one source's failed write never loses
    another source's items; the failing one is reported failed, with the reason.
    """

    def __init__(self, store: Store, now: dt.datetime, on_result: Callable[[SourceResult], None]) -> None:
        self.store = store
        self.now = now
        self.on_result = on_result
        self.sent = store.sent_item_ids()
        self.pending: list[Pending] = []
        self.results: list[SourceResult] = []
        self.last_flush = time.monotonic()
        self.behind: threading.Thread | None = None  # writing a batch while the sources go on
        self.waiting = 0  # items in ``pending``
        self.error: BaseException | None = None  # what stopped it, raised by ``wait``

    def add(self, p: Pending) -> None:
        """Add a source's result. ``BATCH_SECONDS`` after the last batch the pending ones are written
        as a batch in the background (a thread: the database works while the event loop goes on
        fetching and handing bodies to the parse workers), one batch at a time and in order; while
        one is written, the next grows, up to ``MAX_WAITING_ITEMS``: then this waits for the writer."""
        self.pending.append(p)
        self.waiting += len(p.items)
        full = self.waiting >= MAX_WAITING_ITEMS
        if full or time.monotonic() - self.last_flush >= BATCH_SECONDS:
            if not full and self.behind is not None and self.behind.is_alive():
                return
            self.wait()  # the writer is a batch behind: the sources wait for it (memory stays flat)
            self.waiting = 0
            self.last_flush = time.monotonic()
            batch, self.pending = self.pending, []
            self.behind = threading.Thread(target=self._write_behind, args=(batch,), name="collect-writer")
            self.behind.start()

    def _write_behind(self, batch: list[Pending]) -> None:
        try:
            self._flush(batch)
        except BaseException as e:  # raised in the main thread by ``wait``
            self.error = e

    def wait(self) -> None:
        """Wait for the batch written in the background (before anything else uses the store, and
        before it closes); raise what stopped it."""
        if self.behind is not None:
            self.behind.join()
            self.behind = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def flush(self) -> None:
        """Write every pending result now (after the batch written in the background)."""
        self.wait()
        self.last_flush = time.monotonic()
        batch, self.pending, self.waiting = self.pending, [], 0
        self._flush(batch)

    def _flush(self, batch: list[Pending]) -> None:
        if not batch:
            return
        try:
            with self.store.transaction():
                done = self._write_batch(batch)
        except Exception:  # any kind of failure: find the source it belongs to
            done = [self._write_alone(p) for p in batch]
        for r in done:
            self.results.append(r)
            self.on_result(r)

    def write_local(self, source: str, shown: str, items: list[Item]) -> None:
        """Write the items of a local source (submissions, progress files) in a transaction of
        their own; a failed write is reported, as for feeds, and the other sources still collected."""
        self.wait()
        try:
            with self.store.transaction():
                writes = self.store.item_writes(self.now)
                writes.read_ahead(items)
                new, updated = self.write_items(items, writes)
                writes.send()
        except Exception as e:
            result = SourceResult(source, shown, "failed", _unstored(e), items=len(items))
        else:
            status = "fetched" if new or updated else "unchanged"
            result = SourceResult(source, shown, status, None, new, updated, len(items))
        self.results.append(result)
        self.on_result(result)

    def _write_batch(self, batch: list[Pending]) -> list[SourceResult]:
        """Write these sources, in this order (inside a transaction)."""
        writes = self.store.item_writes(self.now)
        writes.read_ahead(item for p in batch if not p.reason for item in p.items)
        done = [self._write(p, writes) for p in batch]
        writes.send()
        return done

    def _write_alone(self, p: Pending) -> SourceResult:
        try:
            with self.store.transaction():
                return self._write_batch([p])[0]
        except Exception as e:
            reason = _unstored(e)
            self.failed_state(p.job.id, p.job.shown_url, reason)
            return SourceResult(p.job.id, p.job.shown_url, "failed", reason)

    def failed_state(self, source: str, url: str, reason: str) -> None:
        """Record the failure for the editors (best effort: the database may be what fails)."""
        now = self.now.astimezone(dt.UTC).isoformat(timespec="seconds")
        try:
            with self.store.transaction():
                self.store.save_source_state(
                    source, url=url, last_fetched=now, last_status="failed", last_error=reason
                )
        except Exception:
            pass

    def write_items(self, items: Iterable[Item], writes: ItemWrites) -> tuple[int, int]:
        """Store items through ``writes``; return (new, updated)."""
        items = list(items)
        existing = writes.known_items(i.id for i in items)
        guids: dict[str, dict[str, str]] = {}
        new = updated = 0
        # Items decided on are written together, before anything that must see them: a read of the
        # store, or an item with their id.
        run: dict[str, Item] = {}

        def write() -> None:
            nonlocal new, updated
            outcomes = writes.put_items([(i, content_hash(i)) for i in run.values()], self.now)
            for item, outcome in zip(run.values(), outcomes, strict=True):
                if outcome == "conflict":
                    continue
                new += outcome == "new"
                updated += outcome == "updated"
                existing[item.id] = KnownItem(
                    item.id, item.origin, item.source, item.guid, item.published, item.first_seen or self.now
                )
            run.clear()

        for item in items:
            if item.id in run:
                write()
            found = existing.get(item.id)
            if found is None and item.origin == "feed" and item.guid:
                # Same guid within a source, but the link changed: still the same story.
                if item.source not in guids:
                    write()
                    guids[item.source] = writes.item_ids_by_guid(item.source)
                earlier = guids[item.source].get(item.guid)
                if earlier:
                    item = replace(item, id=earlier)
                    write()
                    found = writes.known_items([earlier]).get(earlier)
            if found:
                if item.origin == "feed" and found.origin == "submission":
                    continue  # the partner's own YAML wins over its feed
                if item.origin == MONITORING and found.origin != MONITORING:
                    continue  # a story with this activity's link: the story is the item
                if item.origin == MONITORING:
                    item = replace(item, published=found.published)  # dated when first collected
                if item.id in self.sent:
                    continue  # it went out in an issue: keep it exactly as it was sent
                if "date-missing" in item.flags or "date-clamped" in item.flags:
                    item = replace(item, published=found.published)  # keep the date it was first given
            run[item.id] = item  # without a date it was first seen: now (the store's item_writes)
        write()
        return new, updated

    def _write(self, p: Pending, writes: ItemWrites) -> SourceResult:
        job, f = p.job, p.fetched
        now = self.now.astimezone(dt.UTC).isoformat(timespec="seconds")
        state: dict[str, Any] = {"url": job.shown_url, "last_fetched": now}
        status = "failed" if p.reason else f.status
        new = updated = 0
        if status == "failed":
            state.update(last_status="failed", last_error=p.reason)
        else:
            if p.items:
                new, updated = self.write_items(p.items, writes)
            state.update(
                etag=f.etag, last_modified=f.last_modified, last_ok=now, last_status=status, last_error=None
            )
            if p.body_hash:
                state.update(body_hash=p.body_hash, items_seen=len(p.items))
        state["permanent_redirect"] = f.permanent_redirect
        writes.save_source_state(job.id, **state)
        return SourceResult(
            job.id,
            job.shown_url,
            status,
            p.reason,
            new,
            updated,
            len(p.items),
            p.warnings,
            f.permanent_redirect,
        )
