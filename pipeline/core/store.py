"""The state database: everything the pipeline remembers between runs, behind one module.

SQLite in WAL mode, one file (``state/newsletter.sqlite3`` by default). Each stage owns some
tables, created by the numbered migrations below, applied in order inside a transaction and
recorded in ``PRAGMA user_version``. A database from a newer version is refused rather than
guessed at. Nothing else in the pipeline writes SQL for another stage's tables; a team that
runs the pipeline from several places can replace this module with a shared database.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pipeline.core.errors import StateError
from pipeline.core.models import AttemptState, DeliveryState, Image, Item, Placement, Rendered, RequestState

# Migrations: (version, what, SQL). Append only; never edit one that has been released.
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "collect: items and per-source fetch state",
        """
        CREATE TABLE items (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            source TEXT NOT NULL,
            partner TEXT,
            kind TEXT,
            published TEXT NOT NULL,        -- ISO 8601 in UTC, sortable
            first_seen TEXT NOT NULL,
            updated TEXT NOT NULL,
            origin TEXT NOT NULL,           -- 'feed' or 'submission'
            guid TEXT,
            content_hash TEXT NOT NULL,     -- of the normalised item, to tell 'updated' from 'unchanged'
            data TEXT NOT NULL              -- the whole Item as JSON
        );
        CREATE UNIQUE INDEX items_url ON items(url);
        CREATE INDEX items_published ON items(published);
        CREATE INDEX items_partner ON items(partner, published);
        CREATE INDEX items_source_guid ON items(source, guid);
        CREATE TABLE item_themes (
            item TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            theme TEXT NOT NULL,
            PRIMARY KEY (item, theme)
        );
        CREATE INDEX item_themes_theme ON item_themes(theme);
        CREATE TABLE sources (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,                 -- sha256 of the last body parsed
            last_fetched TEXT,
            last_ok TEXT,
            last_status TEXT,               -- 'fetched', 'unchanged' or 'failed'
            last_error TEXT,
            permanent_redirect TEXT,        -- where a 301/308 pointed, for the editors
            items_seen INTEGER NOT NULL DEFAULT 0
        );
        """,
    ),
    (
        2,
        "deliver/curate/publish/report: what went out to the list",
        """
        -- One row per issue sent to the list, written (with the exact content) before the first
        -- request of the send, so that the archive shows what subscribers received.
        CREATE TABLE sent_issues (
            id TEXT PRIMARY KEY,
            subject TEXT NOT NULL,
            preheader TEXT,
            fingerprint TEXT NOT NULL,
            started_at TEXT NOT NULL,
            completed_at TEXT,
            html TEXT NOT NULL,
            text TEXT NOT NULL,
            web_html TEXT NOT NULL
        );
        -- The items each sent issue carried, in order: never candidates again, and the report's
        -- "featured" counts.
        CREATE TABLE sent_items (
            issue TEXT NOT NULL REFERENCES sent_issues(id),
            item TEXT NOT NULL,
            section TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (issue, item)
        );
        CREATE INDEX sent_items_item ON sent_items(item);
        """,
    ),
    (
        3,
        "deliver: the delivery ledger, per issue and subscriber",
        """
        -- One row per issue and subscriber, written before and after every request, so that a
        -- killed send resumes without mailing anyone twice. state: pending, in_flight (with its
        -- batch), accepted (with message_id), failed (with reason), unknown (the answer was lost)
        -- or skipped (with reason: unsubscribed, bounced, ...).
        CREATE TABLE deliveries (
            issue TEXT NOT NULL,
            email TEXT NOT NULL,            -- lower-cased; never printed or logged
            seq INTEGER NOT NULL,           -- order of sending, stable across resumes
            name TEXT,
            state TEXT NOT NULL,
            batch INTEGER,
            message_id TEXT,
            reason TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (issue, email)
        );
        -- The only index besides the key: every query picks rows by state (in_flight rows by their
        -- batch among few), and each extra index would double the cost of moving 1000 rows a batch.
        CREATE INDEX deliveries_state ON deliveries(issue, state, seq);
        -- One row per request: what the ledger knows about it, for the report after a run.
        CREATE TABLE delivery_batches (
            issue TEXT NOT NULL,
            batch INTEGER NOT NULL,
            state TEXT NOT NULL,            -- in_flight, accepted, failed, unknown
            recipients INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            message_id TEXT,
            reason TEXT,
            PRIMARY KEY (issue, batch)
        );
        """,
    ),
    (
        4,
        "deliver: send attempts held at SendGrid (batch_id, send_at), requests tied to them, recalls",
        """
        -- One row per send attempt: a SendGrid batch whose mail SendGrid holds until send_at. Written
        -- before the attempt's first request; a kill is repaired by cancelling the whole attempt.
        CREATE TABLE send_attempts (
            issue TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            batch_id TEXT NOT NULL,
            send_at TEXT NOT NULL,          -- when SendGrid sends the attempt's mail (UTC)
            state TEXT NOT NULL,            -- open, cancelling, cancelled, cleared
            created_at TEXT NOT NULL,
            cancelled_at TEXT,
            reason TEXT,                    -- why it was cancelled: a repair, or a recall
            PRIMARY KEY (issue, attempt)
        );
        ALTER TABLE delivery_batches ADD COLUMN attempt INTEGER;
        -- Issues recalled before they went out; their ledger rows are removed, this row stays.
        CREATE TABLE recalls (
            issue TEXT NOT NULL,
            recalled_at TEXT NOT NULL,
            recipients INTEGER NOT NULL,
            send_at TEXT
        );
        """,
    ),
    (
        5,
        "monitor: the progress reminders sent to partners' monitoring contacts",
        """
        -- One row per reminder, written before its request ('sending') and after it: 'sent' (with
        -- SendGrid's message id, or the outbox file) or 'failed' (with the reason; it never went).
        -- A row a killed run left 'sending' becomes 'unknown': the mail may have gone, so it is
        -- resent only when the coordinator asks (--again). No address is kept: the partner is.
        CREATE TABLE reminders (
            period TEXT NOT NULL,           -- 2026, 2026-H1, 2026-H2: what the run was for
            partner TEXT NOT NULL,
            seq INTEGER NOT NULL,           -- 1 for the first reminder of the period, 2 after --again, ...
            state TEXT NOT NULL,            -- sending, sent, failed, unknown
            via TEXT NOT NULL,              -- sendgrid or outbox
            at TEXT NOT NULL,
            message_id TEXT,
            reason TEXT,
            PRIMARY KEY (period, partner, seq)
        );
        """,
    ),
    (
        6,
        "audience: subscribers with their consent, sign-up tokens, SendGrid's events",
        """
        -- The subscriber list, when it lives here (sign-ups, or 'newsletter subscribers import').
        -- Personal data: never printed or logged, only counted; exported on request.
        CREATE TABLE subscribers (
            email TEXT PRIMARY KEY,         -- lower-cased
            name TEXT,
            organisation TEXT,
            province TEXT,
            status TEXT NOT NULL,           -- pending, active, unsubscribed, bounced, complained, invalid
            reason TEXT,                    -- why it is not active (SendGrid's event, in its words)
            basis TEXT,                     -- the legal basis: consent (a confirmed sign-up), or an import's
            source TEXT NOT NULL,           -- the form it came through, or the imported file
            since TEXT,                     -- active since
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX subscribers_status ON subscribers(status);
        -- Consent on record: every sign-up, confirmation, import and withdrawal, kept.
        CREATE TABLE consents (
            email TEXT NOT NULL,
            at TEXT NOT NULL,
            action TEXT NOT NULL,           -- signup, confirm, import, withdraw
            form TEXT,                      -- which form (or file)
            text_version TEXT,              -- which version of the consent text the reader saw
            basis TEXT
        );
        CREATE INDEX consents_email ON consents(email, at);
        -- Confirmation links: only the sha256 of a token is kept; single use; they expire.
        CREATE TABLE signup_tokens (
            token_hash TEXT PRIMARY KEY,
            email TEXT NOT NULL,
            form TEXT,
            text_version TEXT,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        );
        CREATE INDEX signup_tokens_email ON signup_tokens(email);
        -- SendGrid's Event Webhook: each event once (by its sg_event_id), however often it is sent.
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            email TEXT,
            at TEXT NOT NULL,
            issue TEXT,
            batch TEXT,
            request TEXT,
            url TEXT,
            reason TEXT,
            received_at TEXT NOT NULL
        );
        CREATE INDEX events_issue ON events(issue, type);
        """,
    ),
    (
        7,
        "audience: a sign-up's details wait with its token; each status change on record, append-only",
        """
        -- What a sign-up form sent waits with its token: nothing unconfirmed touches the subscriber.
        ALTER TABLE signup_tokens ADD COLUMN name TEXT;
        ALTER TABLE signup_tokens ADD COLUMN organisation TEXT;
        ALTER TABLE signup_tokens ADD COLUMN province TEXT;
        -- Each consent record says what the subscriber's status is after it, how it came about
        -- ('aangemeld via /aanmelden', 'bevestigd via /bevestig', 'import', 'webhook: bounce', ...)
        -- and, for a withdrawal, SendGrid's reason (schema 6 kept that reason in basis).
        ALTER TABLE consents ADD COLUMN status TEXT;
        ALTER TABLE consents ADD COLUMN via TEXT;
        ALTER TABLE consents ADD COLUMN reason TEXT;
        UPDATE consents SET reason = basis, basis = NULL WHERE action = 'withdraw';
        UPDATE consents SET via = CASE action WHEN 'signup' THEN 'aangemeld via /aanmelden'
            WHEN 'confirm' THEN 'bevestigd via /bevestig' WHEN 'import' THEN 'import' ELSE 'webhook' END;
        UPDATE consents SET status = CASE action WHEN 'signup' THEN 'pending' ELSE 'active' END
            WHERE action IN ('signup', 'confirm', 'import');
        -- Schema 6's sign-up set someone who had left back to 'pending' before any confirmation, and
        -- an import then made her active. Only a confirmation brings anyone back: whoever has a
        -- withdrawal with no confirmation after it is inactive again, with a record saying so.
        CREATE TEMP TABLE left_before AS
            SELECT s.email AS email, w.reason AS reason, coalesce(
                (SELECT CASE e.type WHEN 'bounce' THEN 'bounced' WHEN 'dropped' THEN 'invalid'
                    WHEN 'spamreport' THEN 'complained' ELSE 'unsubscribed' END
                 FROM events e WHERE e.email = s.email
                 AND e.type IN ('bounce', 'dropped', 'spamreport', 'unsubscribe', 'group_unsubscribe')
                 ORDER BY e.at DESC, e.rowid DESC LIMIT 1),
                'unsubscribed') AS status
            FROM subscribers s JOIN consents w ON w.rowid =
                (SELECT max(rowid) FROM consents WHERE email = s.email AND action = 'withdraw')
            WHERE s.status NOT IN ('unsubscribed', 'bounced', 'complained', 'invalid')
            AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.email = s.email AND c.action = 'confirm'
                            AND c.rowid > w.rowid);
        INSERT INTO consents (email, at, action, status, via, reason)
            SELECT email, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'), 'withdraw', status,
            'hersteld bij schema 7: vertrokken en niet opnieuw bevestigd', reason FROM temp.left_before;
        UPDATE subscribers SET
            status = (SELECT l.status FROM temp.left_before l WHERE l.email = subscribers.email),
            reason = (SELECT l.reason FROM temp.left_before l WHERE l.email = subscribers.email),
            updated_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')
            WHERE email IN (SELECT email FROM temp.left_before);
        DROP TABLE temp.left_before;
        -- The history is append-only: a record is never changed or removed.
        CREATE TRIGGER consents_never_updated BEFORE UPDATE ON consents
            BEGIN SELECT RAISE(ABORT, 'consent records are append-only'); END;
        CREATE TRIGGER consents_never_deleted BEFORE DELETE ON consents
            BEGIN SELECT RAISE(ABORT, 'consent records are append-only'); END;
        """,
    ),
]


# -- what the store returns: small frozen values, times already parsed (aware, UTC) -------------
@dataclass(frozen=True)
class SentIssue:
    """An issue that went (or is going) to the list, with the exact content it was sent with."""

    id: str
    subject: str
    preheader: str
    fingerprint: str
    started_at: dt.datetime
    completed_at: dt.datetime | None
    html: str
    text: str
    web_html: str
    goes_out: dt.datetime | None = None  # when SendGrid sends its mail (the last held batch's send_at)

    @property
    def completed(self) -> bool:
        return self.completed_at is not None

    @property
    def sent_at(self) -> dt.datetime:
        """When it went (or goes) out to the list: SendGrid's send time, else when the send started."""
        return self.goes_out or self.started_at

    @property
    def rendered(self) -> Rendered:
        return Rendered(self.id, self.subject, self.preheader, self.html, self.text, self.web_html)


@dataclass(frozen=True)
class SentPlacement:
    """One item of a sent issue, in its section, at its position."""

    issue: str
    item: str
    section: str
    position: int


@dataclass(frozen=True)
class SourceState:
    """What the last collect run knows about one source (for conditional requests and the editors)."""

    id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None  # the server's own text, sent back as If-Modified-Since
    body_hash: str | None = None
    last_fetched: dt.datetime | None = None
    last_ok: dt.datetime | None = None
    last_status: str | None = None  # 'fetched', 'unchanged' or 'failed'
    last_error: str | None = None
    permanent_redirect: str | None = None
    items_seen: int = 0


@dataclass(frozen=True)
class KnownItem:
    """What deduplication needs to know about an item that is already stored."""

    id: str
    origin: str
    source: str
    guid: str | None
    published: dt.datetime
    first_seen: dt.datetime


@dataclass(frozen=True)
class DeliveryBatch:
    """One request of a list send, as the ledger knows it."""

    issue: str
    batch: int  # the request's number within the issue's send
    state: RequestState
    recipients: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    message_id: str | None
    reason: str | None
    attempt: int | None  # the send attempt (SendGrid batch) it went into


@dataclass(frozen=True)
class Attempt:
    """One send attempt: a SendGrid batch, and when SendGrid sends its mail."""

    issue: str
    attempt: int
    batch_id: str
    send_at: dt.datetime
    state: AttemptState
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    reason: str | None

    def deadline(self, margin: dt.timedelta) -> dt.datetime:
        """The last moment a cancel of this attempt is still sure to work."""
        return self.send_at - margin


# Who left the list: only a confirmed sign-up (``confirm``) brings them back, never an import.
INACTIVE = ("unsubscribed", "bounced", "complained", "invalid")
# The statuses an import may make active; any other (INACTIVE, or one this version does not know)
# is kept as it is.
IMPORTABLE = ("pending", "active")
# How a consent record came about (its ``via``); the webhook's are 'webhook: <SendGrid's event>'.
VIA_SIGNUP = "aangemeld via /aanmelden"
VIA_CONFIRM = "bevestigd via /bevestig"
VIA_IMPORT = "import"


@dataclass(frozen=True)
class Person:
    """Someone on (or joining) the list, as a form or an import gives them; ``email`` lower-cased."""

    email: str
    name: str | None = None
    organisation: str | None = None
    province: str | None = None
    form: str = "aanmelden"  # the form it came through (or the file it was imported from)
    text_version: str | None = None  # the consent text the reader saw


@dataclass(frozen=True)
class Subscriber:
    email: str
    name: str | None
    organisation: str | None
    province: str | None
    status: str
    reason: str | None
    basis: str | None
    source: str
    since: dt.datetime | None


@dataclass(frozen=True)
class Consent:
    """One record of a subscriber's consent history (append-only): a sign-up, a confirmation, an
    import or a withdrawal, with the status it left the subscriber in and how it came about."""

    at: dt.datetime
    action: str  # signup, confirm, import, withdraw
    status: str | None  # the subscriber's status after it (None: a record from before schema 7)
    via: str | None  # 'aangemeld via /aanmelden', 'bevestigd via /bevestig', 'import', 'webhook: bounce', ...
    form: str | None  # which form, or which imported file
    text_version: str | None  # which version of the consent text the reader saw
    basis: str | None  # the legal basis: 'consent', or an import's
    reason: str | None  # why someone left (SendGrid's words)


@dataclass(frozen=True)
class Event:
    """One of SendGrid's events, as the webhook delivers it."""

    id: str  # sg_event_id
    type: str  # processed, delivered, bounce, dropped, spamreport, unsubscribe, click, ...
    email: str | None
    at: dt.datetime
    issue: str | None = None
    batch: str | None = None
    request: str | None = None
    url: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ClickCount:
    """How often one reader clicked one link of one issue sent to the list (the report's unit)."""

    issue: str
    url: str  # the link as clicked: the story's URL with the UTM parameters render added
    email: str | None  # None: SendGrid's event named nobody (counted as clicks, not as a reader)
    clicks: int


@dataclass(frozen=True)
class Recall:
    issue: str
    recalled_at: dt.datetime
    recipients: int
    send_at: dt.datetime | None


@dataclass(frozen=True)
class Reminder:
    """The last progress reminder to one partner for one period."""

    period: str
    partner: str
    seq: int
    state: str  # sending, sent, failed, unknown
    via: str  # sendgrid or outbox
    at: dt.datetime
    message_id: str | None
    reason: str | None


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _dt(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _sent_issue(row: sqlite3.Row) -> SentIssue:
    return SentIssue(
        row["id"], row["subject"], row["preheader"] or "", row["fingerprint"], _when(row["started_at"]),
        _dt(row["completed_at"]), row["html"], row["text"], row["web_html"], _dt(row["goes_out"]),
    )  # fmt: skip


# A sent issue with when it goes out: the latest send_at of its batches SendGrid holds.
_SENT = (
    "SELECT s.*, (SELECT max(a.send_at) FROM send_attempts a WHERE a.issue = s.id AND a.state = 'open')"
    " AS goes_out FROM sent_issues s"
)


def _source_state(row: sqlite3.Row) -> SourceState:
    return SourceState(
        row["id"], row["url"], row["etag"], row["last_modified"], row["body_hash"], _dt(row["last_fetched"]),
        _dt(row["last_ok"]), row["last_status"], row["last_error"], row["permanent_redirect"],
        int(row["items_seen"] or 0),
    )  # fmt: skip


def _batch(row: sqlite3.Row) -> DeliveryBatch:
    return DeliveryBatch(
        row["issue"], int(row["batch"]), RequestState(row["state"]), int(row["recipients"]),
        _when(row["started_at"]), _dt(row["finished_at"]), row["message_id"], row["reason"], row["attempt"],
    )  # fmt: skip


def _subscriber(row: sqlite3.Row) -> Subscriber:
    return Subscriber(
        row["email"], row["name"], row["organisation"], row["province"], row["status"], row["reason"],
        row["basis"], row["source"], _dt(row["since"]),
    )  # fmt: skip


def _attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(
        row["issue"], int(row["attempt"]), row["batch_id"], _when(row["send_at"]), AttemptState(row["state"]),
        _when(row["created_at"]), _dt(row["cancelled_at"]), row["reason"],
    )  # fmt: skip


_ITEM_FIELDS = tuple(f.name for f in fields(Item))


def item_to_json(item: Item) -> str:
    # Field by field rather than dataclasses.asdict, whose deep copies made this the slowest step
    # of collecting 6,000 items.
    data: dict[str, Any] = {name: getattr(item, name) for name in _ITEM_FIELDS}
    for key in ("published", "starts", "ends", "first_seen"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    if item.image is not None:
        data["image"] = {"url": item.image.url, "alt": item.image.alt, "consent": item.image.consent}
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def item_from_json(text: str) -> Item:
    data: dict[str, Any] = json.loads(text)
    for key in ("published", "starts", "ends", "first_seen"):
        data[key] = _dt(data.get(key))
    for key in ("themes", "provinces", "flags"):
        data[key] = tuple(data.get(key) or ())
    if data.get("image"):
        data["image"] = Image(**data["image"])
    return Item(**data)


class Store:
    """An open state database. Use as a context manager, or call ``close``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are explicit (see ``transaction``).
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # a sent-mail record must survive a power cut
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA busy_timeout=30000")
            self._migrate()
        except (sqlite3.DatabaseError, OSError) as e:
            raise _damaged(path, e) from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        self.close()
        # Any SQL can meet a damaged page or a foreign table; the user gets the file and the fix,
        # not a traceback from deep inside a stage.
        if isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.IntegrityError):
            raise _damaged(self.path, error) from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; rolled back on any error, so a crash leaves no half-write.

        Inside another transaction it is part of that one (its COMMIT covers both)."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    def _migrate(self) -> None:
        current = self.db.execute("PRAGMA user_version").fetchone()[0]
        latest = max(v for v, _, _ in MIGRATIONS)
        if current > latest:
            raise StateError(
                f"the state database {self.path} is from a newer version of the pipeline (schema {current})",
                "upgrade the pipeline (pip install -U newsletter-pipeline)",
            )
        for version, _what, sql in sorted(MIGRATIONS):
            if version <= current:
                continue
            with self.transaction() as db:
                for statement in sql.split(";\n"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {version}")

    # -- items ------------------------------------------------------------------------------
    def get_item(self, item_id: str) -> Item | None:
        row = self.db.execute("SELECT data FROM items WHERE id = ?", (item_id,)).fetchone()
        return item_from_json(row["data"]) if row else None

    def _rows_by_id(self, columns: str, ids: Iterable[str]) -> Iterator[sqlite3.Row]:
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
        where, args = [], []
        if exclude_origin:
            where.append("origin != ?")
            args.append(exclude_origin)
        if since:
            where.append("published >= ?")
            args.append(_utc(since))
        if until:
            where.append("published < ?")
            args.append(_utc(until))
        if partner:
            where.append("partner = ?")
            args.append(partner)
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if source:
            where.append("source = ?")
            args.append(source)
        if theme:
            where.append("id IN (SELECT item FROM item_themes WHERE theme = ?)")
            args.append(theme)
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
        try:
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
        except sqlite3.IntegrityError as e:
            if "items.url" not in str(e):
                raise
            # Its new link is already another item's (two entries swapped links): both stay as they
            # were. Only this statement is undone; the caller's transaction goes on.
            return "conflict"
        if row:
            self.db.execute("DELETE FROM item_themes WHERE item = ?", (item.id,))
        self.db.executemany(
            "INSERT OR IGNORE INTO item_themes (item, theme) VALUES (?, ?)",
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

    # -- what went out to the list (sent_issues, sent_items) ----------------------------------
    def record_sent_issue(
        self,
        rendered: Rendered,
        fingerprint: str,
        items: Iterable[Placement],
        now: dt.datetime,
    ) -> None:
        """Keep the exact content of an issue and its (section, item id) list, before sending starts.

        Idempotent: a second call for the same issue (a resumed send) changes nothing. Call inside a
        transaction.
        """
        exists = self.db.execute("SELECT 1 FROM sent_issues WHERE id = ?", (rendered.issue_id,)).fetchone()
        if exists:
            return
        self.db.execute(
            "INSERT INTO sent_issues (id, subject, preheader, fingerprint, started_at, html, text, web_html)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (rendered.issue_id, rendered.subject, rendered.preheader, fingerprint, _utc(now),
             rendered.html, rendered.text, rendered.web_html),
        )  # fmt: skip
        self.db.executemany(
            "INSERT OR IGNORE INTO sent_items (issue, item, section, position) VALUES (?,?,?,?)",
            [(rendered.issue_id, item, section, i) for i, (section, item) in enumerate(items)],
        )

    def complete_sent_issue(self, issue_id: str, now: dt.datetime) -> None:
        self.db.execute(
            "UPDATE sent_issues SET completed_at = ? WHERE id = ? AND completed_at IS NULL",
            (_utc(now), issue_id),
        )

    def sent_issue(self, issue_id: str) -> SentIssue | None:
        row = self.db.execute(f"{_SENT} WHERE s.id = ?", (issue_id,)).fetchone()
        return _sent_issue(row) if row else None

    def sent_issues(self) -> list[SentIssue]:
        """Every issue that went to the list, oldest first."""
        return [_sent_issue(r) for r in self.db.execute(f"{_SENT} ORDER BY s.started_at, s.id")]

    def sent_item_ids(self) -> set[str]:
        """Every item that appeared in an issue sent to the list."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT item FROM sent_items")}

    def sent_items(self, issue_id: str | None = None) -> list[SentPlacement]:
        """Every item of the sent issues (or of one), in issue and position order."""
        sql = "SELECT issue, item, section, position FROM sent_items"
        args: tuple[str, ...] = ()
        if issue_id:
            sql += " WHERE issue = ?"
            args = (issue_id,)
        rows = self.db.execute(sql + " ORDER BY issue, position", args)
        return [SentPlacement(r["issue"], r["item"], r["section"], int(r["position"])) for r in rows]

    # -- the delivery ledger (deliver) ------------------------------------------------------------
    # A send reads the subscriber list and the suppressions into two TEMP tables (this connection
    # only, on disk, so memory does not grow with the list), then ``sync_ledger`` turns them into
    # ledger rows. Every subscriber moves pending -> in_flight -> accepted | failed | unknown, and
    # each move is committed before (in_flight) and after (the outcome) its request.
    LOST = "the sending process ended before the answer came"

    def delivery_counts(self, issue_id: str) -> dict[DeliveryState, int]:
        """How many subscribers of an issue are in each ledger state (every state present, 0 if none)."""
        counts = dict.fromkeys(DeliveryState, 0)
        for row in self.db.execute(
            "SELECT state, count(*) FROM deliveries WHERE issue = ? GROUP BY state", (issue_id,)
        ):
            counts[DeliveryState(row[0])] = int(row[1])
        return counts

    def skip_reasons(self, issue_id: str) -> dict[str, int]:
        """Skipped subscribers of an issue, counted by reason."""
        sql = "SELECT reason, count(*) FROM deliveries WHERE issue = ? AND state = 'skipped' GROUP BY reason"
        return {row[0]: int(row[1]) for row in self.db.execute(sql, (issue_id,))}

    def load_audience(
        self, subscribers: Iterable[tuple[str, str | None]], suppressed: Iterable[tuple[str, str]]
    ) -> int:
        """Fill the TEMP tables with (email, name) and (email, reason); return the duplicates dropped.

        Addresses must be lower-cased already. The first row of an address wins.
        """
        db = self._empty_audience()
        rows = 0
        before = db.total_changes
        for chunk in _chunks(subscribers, 5000):
            rows += len(chunk)
            db.executemany("INSERT OR IGNORE INTO temp.audience (email, name) VALUES (?, ?)", chunk)
        added = db.total_changes - before
        self._load_suppressed(suppressed)
        return rows - added

    def load_active_audience(self, suppressed: Iterable[tuple[str, str]]) -> int:
        """``load_audience`` of the active subscribers kept here, inside SQLite (memory stays flat
        however long the list); returns how many there are."""
        db = self._empty_audience()
        rows = db.execute(
            "INSERT INTO temp.audience (email, name) SELECT email, name FROM subscribers"
            " WHERE status = 'active' ORDER BY since, email"
        ).rowcount
        self._load_suppressed(suppressed)
        return int(rows)

    def _empty_audience(self) -> sqlite3.Connection:
        # No transaction here: TEMP tables lock nothing in the shared database, and the suppressions
        # come from the network, which must not hold up other writers.
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS audience (email TEXT PRIMARY KEY, name TEXT)")
        db.execute("CREATE TEMP TABLE IF NOT EXISTS suppressed (email TEXT PRIMARY KEY, reason TEXT)")
        db.execute("DELETE FROM temp.audience")
        db.execute("DELETE FROM temp.suppressed")
        return db

    def _load_suppressed(self, suppressed: Iterable[tuple[str, str]]) -> None:
        for chunk in _chunks(suppressed, 5000):
            self.db.executemany("INSERT OR IGNORE INTO temp.suppressed (email, reason) VALUES (?, ?)", chunk)

    def sync_ledger(self, issue_id: str, now: dt.datetime, *, add_new: bool = True) -> None:
        """Bring the ledger in line with the audience just loaded. Call inside a transaction.

        New subscribers become pending; pending ones now suppressed, or no longer in the list, are
        skipped with the reason; failed ones (SendGrid refused them, so they never got it) are pending
        again. Accepted, unknown and skipped rows are never touched: that is what keeps a resumed
        send from mailing anyone twice. ``add_new=False`` once the send has completed: a subscriber
        who joined later does not get an old issue.
        """
        at = _utc(now)
        start = self.db.execute(
            "SELECT coalesce(max(seq), 0) FROM deliveries WHERE issue = ?", (issue_id,)
        ).fetchone()[0]
        if add_new:
            self.db.execute(
                "INSERT INTO deliveries (issue, email, seq, name, state, updated_at)"
                " SELECT ?, a.email, ? + row_number() OVER (ORDER BY a.rowid), a.name, 'pending', ?"
                " FROM temp.audience a WHERE NOT EXISTS"
                " (SELECT 1 FROM deliveries d WHERE d.issue = ? AND d.email = a.email)",
                (issue_id, start, at, issue_id),
            )
        self.db.execute(
            "UPDATE deliveries SET state = 'pending', batch = NULL, reason = NULL, updated_at = ?"
            " WHERE issue = ? AND state = 'failed'",
            (at, issue_id),
        )
        self.db.execute(
            "UPDATE deliveries SET state = 'skipped', updated_at = ?,"
            " reason = (SELECT s.reason FROM temp.suppressed s WHERE s.email = deliveries.email)"
            " WHERE issue = ? AND state = 'pending' AND email IN (SELECT email FROM temp.suppressed)",
            (at, issue_id),
        )
        self.db.execute(
            "UPDATE deliveries SET state = 'skipped', reason = ?, updated_at = ?"
            " WHERE issue = ? AND state = 'pending' AND email NOT IN (SELECT email FROM temp.audience)",
            ("no longer in the subscriber list", at, issue_id),
        )

    def preview_ledger(
        self, issue_id: str, now: dt.datetime, *, add_new: bool = True
    ) -> tuple[dict[DeliveryState, int], dict[str, int]]:
        """(counts, skip reasons) as ``sync_ledger`` would leave them, without keeping any change."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.sync_ledger(issue_id, now, add_new=add_new)
            return self.delivery_counts(issue_id), self.skip_reasons(issue_id)
        finally:
            self.db.execute("ROLLBACK")

    def unknown_to_pending(self, issue_id: str, now: dt.datetime) -> int:
        """The editor asked to resend the requests whose answer was lost. Call inside a transaction."""
        return int(
            self.db.execute(
                "UPDATE deliveries SET state = 'pending', batch = NULL, reason = NULL, updated_at = ?"
                " WHERE issue = ? AND state = 'unknown'",
                (_utc(now), issue_id),
            ).rowcount
        )

    # -- send attempts: SendGrid batches held until their send_at -------------------------------------
    def attempts(self, issue_id: str | None = None) -> list[Attempt]:
        """The send attempts of an issue (or of every issue), oldest first."""
        sql, args = "SELECT * FROM send_attempts", []
        if issue_id is not None:
            sql, args = sql + " WHERE issue = ?", [issue_id]
        return [_attempt(r) for r in self.db.execute(sql + " ORDER BY issue, attempt", args)]

    def current_attempt(self, issue_id: str) -> Attempt | None:
        """The attempt a send goes on with: the last one, when it is open or being cancelled."""
        row = self.db.execute(
            "SELECT * FROM send_attempts WHERE issue = ? ORDER BY attempt DESC LIMIT 1", (issue_id,)
        ).fetchone()
        if row is None or row["state"] not in (AttemptState.OPEN, AttemptState.CANCELLING):
            return None
        return _attempt(row)

    def record_attempt(self, issue_id: str, batch_id: str, send_at: dt.datetime, now: dt.datetime) -> Attempt:
        """A new attempt, committed before its first request (so a kill leaves it on record)."""
        with self.transaction() as db:
            number = (
                1
                + db.execute(
                    "SELECT coalesce(max(attempt), 0) FROM send_attempts WHERE issue = ?", (issue_id,)
                ).fetchone()[0]
            )
            db.execute(
                "INSERT INTO send_attempts (issue, attempt, batch_id, send_at, state, created_at)"
                " VALUES (?, ?, ?, ?, 'open', ?)",
                (issue_id, number, batch_id, _utc(send_at), _utc(now)),
            )
        found = self.db.execute(
            "SELECT * FROM send_attempts WHERE issue = ? AND attempt = ?", (issue_id, number)
        ).fetchone()
        return _attempt(found)

    def mark_cancelling(self, issue_id: str, attempt: int, reason: str, now: dt.datetime) -> None:
        """Before a cancel is asked for: a kill between the two leaves the intent on record."""
        with self.transaction() as db:
            db.execute(
                "UPDATE send_attempts SET state = 'cancelling', reason = ?, cancelled_at = ?"
                " WHERE issue = ? AND attempt = ? AND state IN ('open', 'cancelling')",
                (reason, _utc(now), issue_id, attempt),
            )

    def cancelled(self, issue_id: str, attempt: int, now: dt.datetime) -> int:
        """SendGrid confirmed the cancel: none of the attempt's mail goes out, so everyone it held
        (accepted or in doubt) is pending again, in one transaction. Returns how many."""
        at = _utc(now)
        with self.transaction() as db:
            n = db.execute(
                "UPDATE deliveries SET state = 'pending', batch = NULL, message_id = NULL, reason = NULL,"
                " updated_at = ? WHERE issue = ? AND state IN ('in_flight', 'accepted', 'unknown')"
                " AND batch IN (SELECT batch FROM delivery_batches WHERE issue = ? AND attempt = ?)",
                (at, issue_id, issue_id, attempt),
            ).rowcount
            db.execute(
                "UPDATE delivery_batches SET state = 'cancelled', finished_at = coalesce(finished_at, ?)"
                " WHERE issue = ? AND attempt = ?",
                (at, issue_id, attempt),
            )
            db.execute(
                "UPDATE send_attempts SET state = 'cancelled', cancelled_at = ?"
                " WHERE issue = ? AND attempt = ?",
                (at, issue_id, attempt),
            )
            db.execute("UPDATE sent_issues SET completed_at = NULL WHERE id = ?", (issue_id,))
        return int(n)

    def close_attempt(self, issue_id: str, attempt: int, reason: str, now: dt.datetime) -> int:
        """The attempt can no longer be cancelled: requests still in doubt are unknown for good."""
        at = _utc(now)
        with self.transaction() as db:
            n = db.execute(
                "UPDATE deliveries SET state = 'unknown', reason = ?, updated_at = ? WHERE issue = ?"
                " AND state = 'in_flight' AND batch IN"
                " (SELECT batch FROM delivery_batches WHERE issue = ? AND attempt = ?)",
                (reason, at, issue_id, issue_id, attempt),
            ).rowcount
            db.execute(
                "UPDATE delivery_batches SET state = 'unknown', finished_at = ?, reason = ?"
                " WHERE issue = ? AND attempt = ? AND state = 'in_flight'",
                (at, reason, issue_id, attempt),
            )
            db.execute(
                "UPDATE send_attempts SET state = 'open'"
                " WHERE issue = ? AND attempt = ? AND state = 'cancelling'",
                (issue_id, attempt),
            )
        return int(n)

    def cleared(self, issue_id: str, attempt: int) -> None:
        """The cancel was removed at SendGrid after the attempt's send_at (nothing more to do with it)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE send_attempts SET state = 'cleared'"
                " WHERE issue = ? AND attempt = ? AND state = 'cancelled'",
                (issue_id, attempt),
            )

    def recall(self, issue_id: str, now: dt.datetime, held: int) -> None:
        """The issue was cancelled at SendGrid before it went out: its send is forgotten (nobody got it)
        and a recall kept on record, with ``held``: how many subscribers it had been handed over for."""
        at = _utc(now)
        with self.transaction() as db:
            last = db.execute(
                "SELECT max(send_at) FROM send_attempts WHERE issue = ?", (issue_id,)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO recalls (issue, recalled_at, recipients, send_at) VALUES (?, ?, ?, ?)",
                (issue_id, at, held, last),
            )
            forget = (("deliveries", "issue"), ("delivery_batches", "issue"), ("sent_items", "issue"),
                      ("sent_issues", "id"))  # fmt: skip
            for table, key in forget:
                db.execute(f"DELETE FROM {table} WHERE {key} = ?", (issue_id,))

    def recalls(self, issue_id: str) -> list[Recall]:
        rows = self.db.execute("SELECT * FROM recalls WHERE issue = ? ORDER BY recalled_at", (issue_id,))
        return [
            Recall(r["issue"], _when(r["recalled_at"]), int(r["recipients"]), _dt(r["send_at"])) for r in rows
        ]

    # -- requests ---------------------------------------------------------------------------------
    def claim_batch(
        self, issue_id: str, size: int, now: dt.datetime, attempt: int | None = None
    ) -> tuple[int, list[tuple[str, str | None]]]:
        """Mark the next ``size`` pending subscribers in flight, as a new request of ``attempt``;
        commit before the request. Returns (request number, [(email, name)]); an empty list when
        nobody is pending.
        """
        at = _utc(now)
        with self.transaction() as db:
            rows = db.execute(
                "SELECT seq, email, name FROM deliveries WHERE issue = ? AND state = 'pending'"
                " ORDER BY seq LIMIT ?",
                (issue_id, size),
            ).fetchall()
            if not rows:
                return 0, []
            batch = (
                1
                + db.execute(
                    "SELECT coalesce(max(batch), 0) FROM delivery_batches WHERE issue = ?", (issue_id,)
                ).fetchone()[0]
            )
            db.execute(
                "UPDATE deliveries SET state = 'in_flight', batch = ?, updated_at = ?"
                " WHERE issue = ? AND state = 'pending' AND seq <= ?",
                (batch, at, issue_id, rows[-1]["seq"]),
            )
            db.execute(
                "INSERT INTO delivery_batches (issue, batch, state, recipients, started_at, attempt)"
                " VALUES (?, ?, 'in_flight', ?, ?, ?)",
                (issue_id, batch, len(rows), at, attempt),
            )
        return batch, [(r["email"], r["name"]) for r in rows]

    def finish_batch(
        self,
        issue_id: str,
        batch: int,
        state: DeliveryState,
        now: dt.datetime,
        *,
        message_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Record a request's outcome: accepted, failed or unknown; or pending when nothing was sent.

        ``in_flight`` keeps it in doubt (the answer was lost) for its attempt's repair to settle.
        """
        at = _utc(now)
        with self.transaction() as db:
            if state == DeliveryState.PENDING:  # retries exhausted before SendGrid took it: never claimed
                db.execute(
                    "UPDATE deliveries SET state = 'pending', batch = NULL, updated_at = ?"
                    " WHERE issue = ? AND batch = ? AND state = 'in_flight'",
                    (at, issue_id, batch),
                )
                db.execute("DELETE FROM delivery_batches WHERE issue = ? AND batch = ?", (issue_id, batch))
                return
            db.execute(
                "UPDATE deliveries SET state = ?, message_id = ?, reason = ?, updated_at = ?"
                " WHERE issue = ? AND batch = ? AND state = 'in_flight'",
                (state, message_id, reason, at, issue_id, batch),
            )
            db.execute(
                "UPDATE delivery_batches SET state = ?, message_id = ?, reason = ?, finished_at = ?"
                " WHERE issue = ? AND batch = ?",
                (
                    state,
                    message_id,
                    reason,
                    at if state != DeliveryState.IN_FLIGHT else None,
                    issue_id,
                    batch,
                ),
            )

    def delivery_batches(
        self, issue_id: str, state: RequestState | None = None, *, attempt: int | None = None
    ) -> list[DeliveryBatch]:
        """The requests of a send, in order; only those in ``state`` (and of ``attempt``) when given."""
        sql = "SELECT * FROM delivery_batches WHERE issue = ?"
        args: list[object] = [issue_id]
        if state:
            sql += " AND state = ?"
            args.append(state)
        if attempt is not None:
            sql += " AND attempt = ?"
            args.append(attempt)
        return [_batch(r) for r in self.db.execute(sql + " ORDER BY batch", args)]

    # -- progress reminders (monitor) ---------------------------------------------------------------
    def reminders(self, period: str) -> dict[str, Reminder]:
        """partner -> its latest reminder for ``period``."""
        sql = "SELECT * FROM reminders WHERE period = ? ORDER BY partner, seq"
        out = {}
        for r in self.db.execute(sql, (period,)):
            out[r["partner"]] = Reminder(
                r["period"], r["partner"], int(r["seq"]), r["state"], r["via"], _when(r["at"]),
                r["message_id"], r["reason"],
            )  # fmt: skip
        return out

    def start_reminder(self, period: str, partner: str, via: str, now: dt.datetime) -> int:
        """Record a reminder as 'sending', committed before the request; return its number."""
        with self.transaction() as db:
            seq = (
                1
                + db.execute(
                    "SELECT coalesce(max(seq), 0) FROM reminders WHERE period = ? AND partner = ?",
                    (period, partner),
                ).fetchone()[0]
            )
            db.execute(
                "INSERT INTO reminders (period, partner, seq, state, via, at)"
                " VALUES (?, ?, ?, 'sending', ?, ?)",
                (period, partner, seq, via, _utc(now)),
            )
        return int(seq)

    def finish_reminder(
        self,
        period: str,
        partner: str,
        seq: int,
        state: str,
        now: dt.datetime,
        *,
        message_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Record how a reminder ended: 'sent' or 'failed' (or 'unknown': the answer was lost)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE reminders SET state = ?, at = ?, message_id = ?, reason = ?"
                " WHERE period = ? AND partner = ? AND seq = ?",
                (state, _utc(now), message_id, reason, period, partner, seq),
            )

    def reminders_left_sending(self, period: str, now: dt.datetime) -> int:
        """Reminders a killed run left 'sending' become 'unknown'. Call under the period's lock."""
        with self.transaction() as db:
            return int(
                db.execute(
                    "UPDATE reminders SET state = 'unknown', at = ?, reason = ?"
                    " WHERE period = ? AND state = 'sending'",
                    (_utc(now), self.LOST, period),
                ).rowcount
            )

    def delivery_states(self, issue_id: str) -> dict[str, str]:
        """email -> state for one issue (tests and small lists only: it holds the whole list)."""
        sql = "SELECT email, state FROM deliveries WHERE issue = ?"
        return {r[0]: r[1] for r in self.db.execute(sql, (issue_id,))}

    # -- the audience: subscribers, consent, sign-up tokens, SendGrid's events (audience) ------------
    def has_subscribers(self) -> bool:
        """Whether the list lives here (any sign-up or import); else sends read the CSV of old."""
        return self.db.execute("SELECT 1 FROM subscribers LIMIT 1").fetchone() is not None

    def subscriber(self, email: str) -> Subscriber | None:
        row = self.db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
        return _subscriber(row) if row else None

    def subscriber_counts(self) -> dict[str, int]:
        sql = "SELECT status, count(*) FROM subscribers GROUP BY status ORDER BY status"
        return {r[0]: int(r[1]) for r in self.db.execute(sql)}

    def active_subscribers(self) -> Iterator[Subscriber]:
        """The active subscribers, in the order they became active (a stream: the list can be long)."""
        for row in self.db.execute("SELECT * FROM subscribers WHERE status = 'active' ORDER BY since, email"):
            yield _subscriber(row)

    def signup(self, person: Person, token_hash: str, expires: dt.datetime, now: dt.datetime) -> str:
        """Record a sign-up through a form and its confirmation token; return the subscriber's status
        before it ('new', 'pending', 'active', or the status of someone who left the list).

        Nothing about an existing subscriber changes (status, reason, name, organisation, province):
        anyone can type any address. The details the form sent wait with the token and count only
        when the link is used (``confirm``). A new address is added as 'pending', without details.
        An active subscriber gets no token. The sign-up is on record either way."""
        at = _utc(now)
        with self.transaction() as db:
            row = db.execute("SELECT status FROM subscribers WHERE email = ?", (person.email,)).fetchone()
            before = row["status"] if row else "new"
            if before == "active":
                return before
            if row is None:
                db.execute(
                    "INSERT INTO subscribers (email, status, source, created_at, updated_at)"
                    " VALUES (?, 'pending', ?, ?, ?)",
                    (person.email, person.form, at, at),
                )
            db.execute(
                "INSERT INTO signup_tokens (token_hash, email, form, text_version, created_at, expires_at,"
                " name, organisation, province) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (token_hash, person.email, person.form, person.text_version, at, _utc(expires),
                 person.name, person.organisation, person.province),
            )  # fmt: skip
            self._record(
                person.email, at, "signup", "pending" if row is None else before, VIA_SIGNUP,
                form=person.form, text_version=person.text_version,
            )  # fmt: skip
        return str(before)

    def confirm(self, token_hash: str, now: dt.datetime) -> tuple[str, str | None]:
        """Use a confirmation token: ('confirmed' | 'used' | 'expired' | 'unknown', the address or None).

        Confirmed, the subscriber is active with consent as the basis, with the name, organisation
        and province of that sign-up (where it gave them), also after having left the list: this is
        a new consent, on record with when, through which form, which version of the consent text.
        """
        at = _utc(now)
        with self.transaction() as db:
            row = db.execute("SELECT * FROM signup_tokens WHERE token_hash = ?", (token_hash,)).fetchone()
            if row is None:
                return "unknown", None
            if row["used_at"]:
                return "used", row["email"]
            if _when(row["expires_at"]) <= now:
                return "expired", row["email"]
            db.execute("UPDATE signup_tokens SET used_at = ? WHERE token_hash = ?", (at, token_hash))
            db.execute(
                "INSERT INTO subscribers (email, name, organisation, province, status, basis, source, since,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, 'active', 'consent', ?, ?, ?, ?)"
                " ON CONFLICT(email) DO UPDATE SET name = coalesce(excluded.name, name),"
                " organisation = coalesce(excluded.organisation, organisation),"
                " province = coalesce(excluded.province, province),"
                " since = CASE status WHEN 'active' THEN coalesce(since, excluded.since)"
                " ELSE excluded.since END,"
                " status = 'active', reason = NULL, basis = 'consent', source = excluded.source,"
                " updated_at = excluded.updated_at",
                (row["email"], row["name"], row["organisation"], row["province"], row["form"] or "aanmelden",
                 at, at, at),
            )  # fmt: skip
            self._record(
                row["email"], at, "confirm", "active", VIA_CONFIRM,
                form=row["form"], text_version=row["text_version"], basis="consent",
            )  # fmt: skip
        return "confirmed", row["email"]

    def recent_signups(self, email: str, since: dt.datetime) -> int:
        """Confirmation mails asked for one address since ``since`` (a limit per address)."""
        sql = "SELECT count(*) FROM signup_tokens WHERE email = ? AND created_at >= ?"
        return int(self.db.execute(sql, (email, _utc(since))).fetchone()[0])

    def import_subscribers(
        self, people: Iterable[Person], basis: str, source: str, now: dt.datetime
    ) -> dict[str, int]:
        """An existing list brought in as active, with its legal basis. Someone who left the list
        (``INACTIVE``: unsubscribed, bounced, complained, dropped as invalid) stays as they are,
        whatever happened since (a sign-up she never confirmed changes nothing); returns counts."""
        at = _utc(now)
        counts = {"added": 0, "updated": 0, "already active": 0, "kept inactive": 0}
        with self.transaction() as db:
            for p in people:
                row = db.execute("SELECT status FROM subscribers WHERE email = ?", (p.email,)).fetchone()
                if row is not None and row["status"] not in IMPORTABLE:  # left the list (INACTIVE)
                    counts["kept inactive"] += 1
                    continue
                if row is None:
                    db.execute(
                        "INSERT INTO subscribers (email, name, organisation, province, status, basis, source,"
                        " since, created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)",
                        (p.email, p.name, p.organisation, p.province, basis, source, at, at, at),
                    )
                    counts["added"] += 1
                else:
                    counts["already active" if row["status"] == "active" else "updated"] += 1
                    db.execute(
                        "UPDATE subscribers SET name = coalesce(?, name),"
                        " organisation = coalesce(?, organisation), province = coalesce(?, province),"
                        " status = 'active', basis = coalesce(basis, ?), since = coalesce(since, ?),"
                        " updated_at = ? WHERE email = ?",
                        (p.name, p.organisation, p.province, basis, at, at, p.email),
                    )
                self._record(p.email, at, "import", "active", VIA_IMPORT, form=source, basis=basis)
        return counts

    def consents(self, email: str) -> list[Consent]:
        """The consent history of one address, oldest first: what the AVG asks to show."""
        sql = (
            "SELECT at, action, status, via, form, text_version, basis, reason FROM consents"
            " WHERE email = ? ORDER BY rowid"
        )
        return [
            Consent(_when(r["at"]), r["action"], r["status"], r["via"], r["form"], r["text_version"],
                    r["basis"], r["reason"])
            for r in self.db.execute(sql, (email,))
        ]  # fmt: skip

    def _record(
        self,
        email: str,
        at: str,
        action: str,
        status: str,
        via: str,
        *,
        form: str | None = None,
        text_version: str | None = None,
        basis: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Append one consent record (the table takes no other change). Call inside a transaction."""
        self.db.execute(
            "INSERT INTO consents (email, at, action, status, via, form, text_version, basis, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (email, at, action, status, via, form, text_version, basis, reason),
        )

    def store_event(self, event: Event, now: dt.datetime) -> bool:
        """Keep one of SendGrid's events; False when it was stored before (SendGrid sends again)."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO events (id, type, email, at, issue, batch, request, url, reason,"
                " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event.id, event.type, event.email, _utc(event.at), event.issue, event.batch, event.request,
                 event.url, event.reason, _utc(now)),
            )  # fmt: skip
            return bool(cursor.rowcount)

    def deactivate(
        self, email: str, status: str, reason: str, now: dt.datetime, *, via: str = "webhook"
    ) -> bool:
        """A bounce, a spam report or an unsubscribe: the subscriber gets no more mail, at once; the
        change is on record with ``via`` (e.g. 'webhook: unsubscribe') and the reason."""
        at = _utc(now)
        with self.transaction() as db:
            changed = db.execute(
                "UPDATE subscribers SET status = ?, reason = ?, updated_at = ?"
                " WHERE email = ? AND status != ?",
                (status, reason, at, email, status),
            ).rowcount
            if changed:
                self._record(email, at, "withdraw", status, via, reason=reason)
        return bool(changed)

    def settle_unknown(self, issue_id: str, email: str, now: dt.datetime) -> bool:
        """SendGrid says it took the mail for one subscriber whose request's answer was lost: accepted."""
        with self.transaction() as db:
            return bool(
                db.execute(
                    "UPDATE deliveries SET state = 'accepted', reason = 'settled by SendGrid''s event',"
                    " updated_at = ? WHERE issue = ? AND email = ? AND state = 'unknown'",
                    (_utc(now), issue_id, email),
                ).rowcount
            )

    def has_clicks(self) -> bool:
        """Whether any click event came in at all (no: the instance has no event webhook yet)."""
        return self.db.execute("SELECT 1 FROM events WHERE type = 'click' LIMIT 1").fetchone() is not None

    def click_counts(self, issue_ids: Iterable[str]) -> list[ClickCount]:
        """Clicks per issue, link and reader, for the issues sent to the list among ``issue_ids``.

        Only clicks from the moment the issue's list send started: a test send carries the same
        issue id, and its readers (the editors) clicked before the list got it."""
        ids = list(dict.fromkeys(issue_ids))
        out: list[ClickCount] = []
        for chunk in _chunks(ids, 500):
            marks = ", ".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT e.issue, e.url, e.email, count(*) FROM events e JOIN sent_issues s ON s.id = e.issue"
                f" WHERE e.type = 'click' AND e.url IS NOT NULL AND e.issue IN ({marks})"
                " AND e.at >= s.started_at"
                " GROUP BY e.issue, e.url, e.email ORDER BY e.issue, e.url, e.email",
                chunk,
            )
            out += [ClickCount(r[0], r[1], r[2], int(r[3])) for r in rows]
        return out


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _damaged(path: Path, error: Exception) -> StateError:
    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
        return StateError(f"the state database {path} is locked: {error}", "wait for the other run to finish")
    return StateError(
        f"cannot use the state database {path}: {error}",
        "check the path in sources.yaml (newsletter.state); if the file is damaged or not this pipeline's,"
        " move it aside and restore a backup (or collect afresh into a new one)",
    )
