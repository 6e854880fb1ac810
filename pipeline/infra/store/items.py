"""Items and sources: what collect found, and each source's fetch state."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
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
_INSERT = f"INSERT INTO items ({_COLUMNS}) VALUES ({', '.join(['?'] * 12)})"
# PostgreSQL: many new items in one statement, a text array a column (every column is TEXT). Sent in
# binary (psycopg's %b placeholders): in text an array's every quote is escaped, one Python call each
# (the items' JSON is full of quotes: that escaping was half of collect's CPU time on PostgreSQL).
_INSERT_MANY = f"INSERT INTO items ({_COLUMNS}) SELECT * FROM unnest({', '.join(['%b::text[]'] * 12)})"
_UPDATE = (
    "UPDATE items SET url=?, source=?, partner=?, kind=?, published=?, first_seen=?,"
    " updated=?, origin=?, guid=?, content_hash=?, data=? WHERE id=?"
)


def _values(item: Item, content_hash: str, now: dt.datetime) -> tuple[Any, ...]:
    """The columns of ``_INSERT`` and ``_UPDATE``, in their order."""
    return (
        item.url, item.source, item.partner, item.kind, _utc(item.published),
        _utc(item.first_seen or now), _utc(now), item.origin, item.guid, content_hash, item_to_json(item),
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
        # The item's own row and any other item with its URL, in one statement.
        row = taken = None
        for found in self.db.execute(
            "SELECT id, content_hash, first_seen FROM items WHERE id = ? OR url = ?", (item.id, item.url)
        ):
            if found["id"] == item.id:
                row = found
            else:
                taken = found["id"]
        if row and row["content_hash"] == content_hash:
            return "unchanged"
        if row:
            first_seen = _dt(row["first_seen"])
            if item.first_seen != first_seen:
                item = replace(item, first_seen=first_seen)
        if taken is not None:
            # Its new link is already another item's (two entries swapped links): both stay as they
            # were, and the caller's transaction goes on.
            return "conflict"
        self.db.execute(_UPDATE if row else _INSERT, _values(item, content_hash, now))
        if row:
            self.db.execute("DELETE FROM item_themes WHERE item = ?", (item.id,))
        self.db.executemany(
            "INSERT INTO item_themes (item, theme) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(item.id, t) for t in item.themes],
        )
        return "updated" if row else "new"

    def put_items(self, items: Sequence[tuple[Item, str]], now: dt.datetime) -> list[str]:
        """``put_item`` of each (item, content hash) in turn, with the same outcomes. On PostgreSQL in
        a few round trips for them all, rather than four an item: the rows they touch are read at
        once, the outcomes decided here, and the writes sent in order in one pipeline. Call inside a
        transaction."""
        if not self.db.postgres:
            return [self.put_item(item, content_hash, now) for item, content_hash in items]
        if not items:
            return []
        # id -> (content hash, first seen, url) and url -> id, kept as the writes below leave them.
        rows: dict[str, tuple[str, str, str]] = {}
        owners: dict[str, str] = {}
        for r in self.db.execute(
            "SELECT id, content_hash, first_seen, url FROM items WHERE id = ANY(?) OR url = ANY(?)",
            (list({item.id for item, _ in items}), list({item.url for item, _ in items})),
        ):
            rows[r["id"]] = (r["content_hash"], r["first_seen"], r["url"])
            owners[r["url"]] = r["id"]
        outcomes: list[str] = []
        writes: list[tuple[str, tuple[Any, ...]]] = []  # in order: one item's new link may be another's old
        rewritten: list[str] = []
        themes: dict[str, tuple[str, ...]] = {}  # the last version's, when an item comes twice
        for item, content_hash in items:
            row = rows.get(item.id)
            if row and row[0] == content_hash:
                outcomes.append("unchanged")
                continue
            if row:
                first_seen = _dt(row[1])
                if item.first_seen != first_seen:
                    item = replace(item, first_seen=first_seen)
            if owners.get(item.url, item.id) != item.id:
                outcomes.append("conflict")  # as in put_item: nothing written
                continue
            writes.append((_UPDATE if row else _INSERT, _values(item, content_hash, now)))
            if row:
                rewritten.append(item.id)
                if owners.get(row[2]) == item.id:
                    del owners[row[2]]
            themes[item.id] = tuple(item.themes)
            owners[item.url] = item.id
            rows[item.id] = (content_hash, _utc(item.first_seen or now), item.url)
            outcomes.append("updated" if row else "new")
        with self.db.pipeline():
            for sql, group in itertools.groupby(writes, key=lambda w: w[0]):
                values = [args for _, args in group]
                if sql == _INSERT:  # new items as one statement: a bind an item cost more than the insert
                    columns = [list(column) for column in zip(*values, strict=True)]
                    self.db.raw.execute(_INSERT_MANY, columns)
                else:
                    self.db.executemany(sql, values)
            if rewritten:
                self.db.execute("DELETE FROM item_themes WHERE item = ANY(?)", (rewritten,))
            pairs = [(item_id, theme) for item_id, some in themes.items() for theme in some]
            if pairs:
                self.db.execute(
                    "INSERT INTO item_themes (item, theme) SELECT * FROM unnest(?::text[], ?::text[])"
                    " ON CONFLICT DO NOTHING",
                    ([i for i, _ in pairs], [t for _, t in pairs]),
                )
        return outcomes

    def known_items(self, ids: Iterable[str]) -> dict[str, KnownItem]:
        """Origin, source, guid and dates of the given items that exist (for deduplication)."""
        rows = self._rows_by_id("id, origin, source, guid, published, first_seen", ids)
        return {
            r["id"]: KnownItem(
                r["id"], r["origin"], r["source"], r["guid"], _when(r["published"]), _when(r["first_seen"])
            )
            for r in rows
        }

    def item_ids_by_guid(self, source: str) -> dict[str, str]:
        """guid -> item id for one source's items: an entry whose link changed keeps its item."""
        sql = "SELECT guid, id FROM items WHERE source = ? AND guid IS NOT NULL ORDER BY first_seen DESC"
        return {row["guid"]: row["id"] for row in self.db.execute(sql, (source,))}

    # -- per-source fetch state ---------------------------------------------------------------
    def source_state(self, source_id: str) -> SourceState | None:
        row = self.db.execute("SELECT * FROM sources WHERE id = ?", (source_id,)).fetchone()
        return _source_state(row) if row else None

    def source_states(self) -> dict[str, SourceState]:
        return {row["id"]: _source_state(row) for row in self.db.execute("SELECT * FROM sources")}

    def save_source_state(self, source_id: str, **fields: Any) -> None:
        """Upsert the named columns of one source's row. Call inside a transaction."""
        cols = ["id", *fields]
        marks = ",".join("?" * len(cols))
        updates = ",".join(f"{c}=excluded.{c}" for c in fields)
        sql = f"INSERT INTO sources ({','.join(cols)}) VALUES ({marks})"
        self.db.execute(f"{sql} ON CONFLICT(id) DO UPDATE SET {updates}", [source_id, *fields.values()])
