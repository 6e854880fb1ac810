"""Items and sources: what collect found, and each source's fetch state."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from pipeline.domain.models import Item
from pipeline.infra.store.engine import Database, Row
from pipeline.infra.store.values import (
    KnownItem,
    SourceState,
    _dt,
    _source_state,
    _utc,
    _when,
    item_from_json,
    item_to_json,
)

_COLUMNS = "url, source, partner, kind, published, first_seen, updated, origin, guid, content_hash, data, id"
_COLUMN_LIST = _COLUMNS.split(", ")
_INSERT = f"INSERT INTO items ({_COLUMNS}) VALUES ({', '.join(['?'] * 12)})"
_HELD_AT_MOST = 250  # item writes ItemWrites holds before it sends them
_UPDATE = (
    "UPDATE items SET url=?, source=?, partner=?, kind=?, published=?, first_seen=?,"
    " updated=?, origin=?, guid=?, content_hash=?, data=? WHERE id=?"
)


def _values(
    item: Item, content_hash: str, now: dt.datetime, first_seen: dt.datetime | None = None
) -> tuple[Any, ...]:
    """The columns of ``_INSERT`` and ``_UPDATE``, in their order; ``first_seen``, when given, in
    place of the item's own (not set: ``now``)."""
    first = first_seen or item.first_seen or now
    return (
        item.url, item.source, item.partner, item.kind, _utc(item.published),
        _utc(first), _utc(now), item.origin, item.guid, content_hash, item_to_json(item, first_seen),
        item.id,
    )  # fmt: skip


class Items:
    db: Database

    # -- items ------------------------------------------------------------------------------
    def get_item(self, item_id: str) -> Item | None:
        row = self.db.execute("SELECT data FROM items WHERE id = ?", (item_id,)).fetchone()
        return item_from_json(row["data"]) if row else None

    def _rows_by_id(self, columns: str, ids: Iterable[str]) -> Iterator[Row]:
        """The items rows with these ids, 500 at a time (SQLite's limit on parameters is near)."""
        ids = list(ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            yield from self.db.execute(f"SELECT {columns} FROM items WHERE id IN ({marks})", chunk)

    def get_items(self, ids: Iterable[str]) -> dict[str, Item]:
        items = (item_from_json(row["data"]) for row in self._rows_by_id("data", ids))
        return {item.id: item for item in items}

    def items(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        partner: str | None = None,
        theme: str | None = None,
        kind: str | None = None,
        source: str | None = None,
        limit: int | None = None,
        exclude_origin: str | None = None,
    ) -> list[Item]:
        """Items, newest first, filtered by any of the arguments (``exclude_origin``: all but that origin)."""
        conditions = (
            ("origin != ?", exclude_origin),
            ("published >= ?", _utc(since) if since else None),
            ("published < ?", _utc(until) if until else None),
            ("partner = ?", partner),
            ("kind = ?", kind),
            ("source = ?", source),
            ("id IN (SELECT item FROM item_themes WHERE theme = ?)", theme),
        )
        asked = [(condition, value) for condition, value in conditions if value]  # None and "" filter nothing
        where = [condition for condition, value in asked]
        args = [value for condition, value in asked]
        sql = "SELECT data FROM items"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY published DESC, id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [item_from_json(row["data"]) for row in self.db.execute(sql, args)]

    def put_item(self, item: Item, content_hash: str, now: dt.datetime) -> str:
        """Insert or update an item; return 'new', 'updated', 'unchanged', or 'conflict' when its URL
        is another item's (nothing is written). Call inside a transaction."""
        return self.put_items([(item, content_hash)], now)[0]

    def put_items(self, items: Sequence[tuple[Item, str]], now: dt.datetime) -> list[str]:
        """``put_item`` of each (item, content hash) in turn, with the same outcomes, in a few
        statements for them all (see ``ItemWrites``). Call inside a transaction."""
        writes = ItemWrites(self.db)
        outcomes = writes.put_items(items, now)
        writes.send()
        return outcomes

    def item_writes(self, first_seen: dt.datetime | None = None) -> ItemWrites:
        """Collect's writes of a batch of sources, decided together and sent at once (``ItemWrites``);
        a new item without a date it was first seen, first seen at ``first_seen``."""
        return ItemWrites(self.db, first_seen)

    # -- per-source fetch state ---------------------------------------------------------------
    def source_state(self, source_id: str) -> SourceState | None:
        row = self.db.execute("SELECT * FROM sources WHERE id = ?", (source_id,)).fetchone()
        return _source_state(row) if row else None

    def source_states(self) -> dict[str, SourceState]:
        return {row["id"]: _source_state(row) for row in self.db.execute("SELECT * FROM sources")}

    def save_source_state(self, source_id: str, **fields: Any) -> None:
        """Upsert the named columns of one source's row. Call inside a transaction."""
        self.db.execute(_upsert_source(tuple(fields)), [source_id, *fields.values()])


@lru_cache(maxsize=16)
def _upsert_source(columns: tuple[str, ...]) -> str:
    """The statement that upserts these columns of a source's row (its id the first argument)."""
    marks = ",".join("?" * (len(columns) + 1))
    updates = ",".join(f"{c}=excluded.{c}" for c in columns)
    insert = f"INSERT INTO sources (id,{','.join(columns)}) VALUES ({marks})"
    return f"{insert} ON CONFLICT(id) DO UPDATE SET {updates}"


# An items row as collect's decisions see it (``ItemWrites.rows``), by position.
_URL, _ORIGIN, _SOURCE, _GUID, _PUBLISHED, _FIRST_SEEN, _HASH = range(7)
_READ = "SELECT id, url, origin, source, guid, published, first_seen, content_hash FROM items WHERE "
# The rows with any of these ids or links, and every row with a guid of these sources: one statement
# (on SQLite each list a JSON array, so that no list meets its limit on parameters).
_READ_AHEAD = {
    "sqlite": _READ + "id IN (SELECT value FROM json_each(?)) OR url IN (SELECT value FROM json_each(?))"
    " OR (source IN (SELECT value FROM json_each(?)) AND guid IS NOT NULL) ORDER BY first_seen DESC",
    "postgresql": _READ + "id = ANY(?::text[]) OR url = ANY(?::text[])"
    " OR (source = ANY(?::text[]) AND guid IS NOT NULL) ORDER BY first_seen DESC",
}


class ItemWrites:
    """Writes of items and sources' states decided together and sent at once: collect's writes of a
    batch of sources in a few statements, rather than several an item and a round trip each.

    ``known_items``, ``item_ids_by_guid`` and ``put_items`` answer exactly as the database would at
    that point of one transaction in which every earlier ``put_items`` had been written: from rows
    read ahead (``read_ahead``, one statement for a whole batch) and kept as the writes so far leave
    them. What was not read ahead is read when asked; a row a held write touched is never read again
    (the held copy is the current one). The writes (``put_items``, ``save_source_state``) are held,
    and ``send`` sends them in their order: on PostgreSQL new items by COPY and the rest in one
    pipeline, a round trip each (and sooner when many items are held). Use inside one transaction,
    and send before it ends.
    """

    def __init__(self, db: Database, first_seen: dt.datetime | None = None) -> None:
        self.db = db
        self.first_seen = first_seen  # of a new item that does not say (None: as it says)
        self.rows: dict[str, list[Any]] = {}  # id -> [url, origin, source, guid, published, first_seen, hash]
        self.owners: dict[str, str] = {}  # url -> the id of the row that has it
        self.guids: dict[str, dict[str, None]] = {}  # source -> the ids of its rows with a guid
        self.read_ids: set[str] = set()
        self.read_urls: set[str] = set()
        self.read_sources: set[str] = set()
        # In order: one item's new link may be another's old one.
        self.writes: list[tuple[str, tuple[Any, ...]]] = []
        self.rewritten: dict[str, None] = {}  # updated items, whose themes are replaced
        self.themes: dict[str, tuple[str, ...]] = {}  # the last written version's, when an item comes twice
        self.states: list[tuple[str, list[Any]]] = []

    # -- reads --------------------------------------------------------------------------------
    def read_ahead(self, items: Iterable[Item]) -> None:
        """Read at once every row deciding on these items can look at: those with their ids or links,
        and every row with a guid of their sources."""
        items = list(items)
        self._read({i.id for i in items}, {i.url for i in items}, {i.source for i in items if i.guid})

    def _read(self, ids: Iterable[str] = (), urls: Iterable[str] = (), sources: Iterable[str] = ()) -> None:
        # Only what is not known yet: a row held here is current, a link held here has its row here
        # (it was read, or its item's write was decided after reading it), a source read is complete.
        ids = sorted(set(ids) - self.rows.keys() - self.read_ids)
        urls = sorted(set(urls) - self.owners.keys() - self.read_urls)
        sources = sorted(set(sources) - self.read_sources)
        if not (ids or urls or sources):
            return
        self.read_ids.update(ids)
        self.read_urls.update(urls)
        self.read_sources.update(sources)
        lists: tuple[Any, ...] = (ids, urls, sources)
        if not self.db.postgres:
            lists = tuple(json.dumps(some) for some in lists)
        for r in self.db.execute(_READ_AHEAD[self.db.kind], lists):
            if r["id"] not in self.rows:  # else held: newer than the database's
                row = [r["url"], r["origin"], r["source"], r["guid"], r["published"], r["first_seen"]]
                self._hold(r["id"], [*row, r["content_hash"]])

    def _hold(self, item_id: str, row: list[Any]) -> None:
        """Keep an item's row as it now is (read, or as a held write leaves it)."""
        old = self.rows.get(item_id)
        if old is not None:
            if self.owners.get(old[_URL]) == item_id:
                del self.owners[old[_URL]]
            self.guids.get(old[_SOURCE], {}).pop(item_id, None)
        self.rows[item_id] = row
        self.owners[row[_URL]] = item_id
        if row[_GUID] is not None:
            self.guids.setdefault(row[_SOURCE], {})[item_id] = None

    def known_items(self, ids: Iterable[str]) -> dict[str, KnownItem]:
        """Origin, source, guid and dates of the given items that exist (for deduplication)."""
        ids = list(ids)
        self._read(ids=ids)
        found = ((i, self.rows.get(i)) for i in ids)
        return {
            i: KnownItem(i, r[_ORIGIN], r[_SOURCE], r[_GUID], _when(r[_PUBLISHED]), _when(r[_FIRST_SEEN]))
            for i, r in found
            if r is not None
        }

    def item_ids_by_guid(self, source: str) -> dict[str, str]:
        """guid -> item id for one source's items: an entry whose link changed keeps its item. Of two
        items with one guid, the one first seen earlier."""
        self._read(sources=[source])
        ids = sorted(self.guids.get(source, ()), key=lambda i: self.rows[i][_FIRST_SEEN], reverse=True)
        return {self.rows[i][_GUID]: i for i in ids}

    # -- writes -------------------------------------------------------------------------------
    def put_items(self, items: Sequence[tuple[Item, str]], now: dt.datetime) -> list[str]:
        """Insert or update each (item, content hash) in turn; return for each 'new', 'updated',
        'unchanged', or 'conflict' when its URL is another item's (nothing is written: both stay as
        they were, and the batch goes on)."""
        self._read(ids=[i.id for i, _ in items], urls=[i.url for i, _ in items])
        outcomes: list[str] = []
        for item, content_hash in items:
            row = self.rows.get(item.id)
            if row and row[_HASH] == content_hash:
                outcomes.append("unchanged")
                continue
            # An item keeps the date it was first seen; a new one without it is first seen now.
            first_seen = _dt(row[_FIRST_SEEN]) if row else item.first_seen or self.first_seen
            if self.owners.get(item.url, item.id) != item.id:
                outcomes.append("conflict")  # its new link is already another item's
                continue
            values = _values(item, content_hash, now, None if first_seen == item.first_seen else first_seen)
            self.writes.append((_UPDATE if row else _INSERT, values))
            if row:
                self.rewritten[item.id] = None
            self.themes[item.id] = tuple(item.themes)
            published, first = values[4], values[5]
            self._hold(
                item.id, [item.url, item.origin, item.source, item.guid, published, first, content_hash]
            )
            outcomes.append("updated" if row else "new")
        if len(self.writes) >= _HELD_AT_MOST:
            self.send()  # in the same transaction: the items held (their JSON) stay few
        return outcomes

    def save_source_state(self, source_id: str, **fields: Any) -> None:
        """Upsert the named columns of one source's row."""
        self.states.append((_upsert_source(tuple(fields)), [source_id, *fields.values()]))

    def send(self) -> None:
        """Write what is held, in order: the items (on PostgreSQL new ones by COPY), then their themes and
        the sources' states in one pipeline. Call inside the transaction the reads were made in."""
        writes, self.writes = self.writes, []
        states, self.states = self.states, []
        for sql, group in itertools.groupby(writes, key=lambda w: w[0]):
            values = [args for _, args in group]
            if sql == _INSERT and self.db.postgres:
                # New items by COPY, a stream of rows formatted by the driver's C code: an INSERT from
                # arrays (unnest) had each value put into its array by a Python call (61 ms of CPU for
                # 6,000 items rather than 41, and 0.22 s of the server's time rather than 0.18). COPY
                # cannot run in a pipeline.
                self.db.copy("items", _COLUMN_LIST, values)
            else:
                self.db.executemany(sql, values)
        with self.db.pipeline():
            self._send_themes()
            for upsert, same in itertools.groupby(states, key=lambda s: s[0]):
                self.db.executemany(upsert, [args for _, args in same])

    def _send_themes(self) -> None:
        """The written items' themes: an updated item's replaced by its last written version's."""
        rewritten, self.rewritten = list(self.rewritten), {}
        themes, self.themes = self.themes, {}
        pairs = [(item_id, theme) for item_id, some in themes.items() for theme in some]
        if not self.db.postgres:
            self.db.executemany("DELETE FROM item_themes WHERE item = ?", [(i,) for i in rewritten])
            self.db.executemany(
                "INSERT INTO item_themes (item, theme) VALUES (?, ?) ON CONFLICT DO NOTHING", pairs
            )
            return
        if rewritten:
            self.db.execute("DELETE FROM item_themes WHERE item = ANY(?)", (rewritten,))
        if pairs:
            self.db.execute(
                "INSERT INTO item_themes (item, theme) SELECT * FROM unnest(?::text[], ?::text[])"
                " ON CONFLICT DO NOTHING",
                ([i for i, _ in pairs], [t for _, t in pairs]),
            )
