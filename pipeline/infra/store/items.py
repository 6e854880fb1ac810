"""Items and sources: what collect found, and each source's fetch state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
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
        row = self.db.execute(
            "SELECT content_hash, first_seen FROM items WHERE id = ?", (item.id,)
        ).fetchone()
        if row and row["content_hash"] == content_hash:
            return "unchanged"
        if row:
            first_seen = _dt(row["first_seen"])
            if item.first_seen != first_seen:
                item = replace(item, first_seen=first_seen)
        data = item_to_json(item)
        values = (
            item.url, item.source, item.partner, item.kind, _utc(item.published),
            _utc(item.first_seen or now), _utc(now), item.origin, item.guid, content_hash, data, item.id,
        )  # fmt: skip
        taken = self.db.scalar("SELECT id FROM items WHERE url = ? AND id != ?", (item.url, item.id))
        if taken is not None:
            # Its new link is already another item's (two entries swapped links): both stay as they
            # were, and the caller's transaction goes on.
            return "conflict"
        if row:
            self.db.execute(
                "UPDATE items SET url=?, source=?, partner=?, kind=?, published=?, first_seen=?,"
                " updated=?, origin=?, guid=?, content_hash=?, data=? WHERE id=?",
                values,
            )
        else:
            self.db.execute(
                "INSERT INTO items (url, source, partner, kind, published, first_seen, updated, origin,"
                " guid, content_hash, data, id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                values,
            )
        if row:
            self.db.execute("DELETE FROM item_themes WHERE item = ?", (item.id,))
        self.db.executemany(
            "INSERT INTO item_themes (item, theme) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(item.id, t) for t in item.themes],
        )
        return "updated" if row else "new"

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
