"""PostgreSQL's migrations: the whole schema of version 8 at once (its first), then each later one, as
released. Append only; never edit a migration that has been released."""

from pipeline.infra.store.migrations.shared import ITEM_INDEXES_AND_THEMES, PORTAL_12, REQUEST_SPAN, SHARED_8

# PostgreSQL's schema at version 8, the first it has: the tables of SQLite's migrations 1 to 8.
# Times stay ISO 8601 text in UTC, as in SQLite, so that both engines sort and compare them alike.
POSTGRES: list[tuple[int, str, str]] = [
    (
        8,
        "the whole schema of version 8",
        """
        CREATE TABLE items (
            id TEXT PRIMARY KEY, url TEXT NOT NULL, source TEXT NOT NULL, partner TEXT, kind TEXT,
            published TEXT NOT NULL, first_seen TEXT NOT NULL, updated TEXT NOT NULL, origin TEXT NOT NULL,
            guid TEXT, content_hash TEXT NOT NULL, data TEXT NOT NULL
        );"""
        + ITEM_INDEXES_AND_THEMES
        + """
        CREATE TABLE sources (
            id TEXT PRIMARY KEY, url TEXT NOT NULL, etag TEXT, last_modified TEXT, body_hash TEXT,
            last_fetched TEXT, last_ok TEXT, last_status TEXT, last_error TEXT, permanent_redirect TEXT,
            items_seen INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE sent_issues (
            id TEXT PRIMARY KEY, subject TEXT NOT NULL, preheader TEXT, fingerprint TEXT NOT NULL,
            started_at TEXT NOT NULL, completed_at TEXT, html TEXT NOT NULL, text TEXT NOT NULL,
            web_html TEXT NOT NULL
        );
        CREATE TABLE sent_items (
            issue TEXT NOT NULL REFERENCES sent_issues(id), item TEXT NOT NULL, section TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (issue, item)
        );
        CREATE INDEX sent_items_item ON sent_items(item);
        CREATE TABLE deliveries (
            issue TEXT NOT NULL, email TEXT NOT NULL, seq BIGINT NOT NULL, name TEXT, state TEXT NOT NULL,
            batch INTEGER, message_id TEXT, reason TEXT, updated_at TEXT NOT NULL,
            PRIMARY KEY (issue, email)
        );
        CREATE INDEX deliveries_state ON deliveries(issue, state, seq);
        CREATE TABLE delivery_batches (
            issue TEXT NOT NULL, batch INTEGER NOT NULL, state TEXT NOT NULL, recipients INTEGER NOT NULL,
            started_at TEXT NOT NULL, finished_at TEXT, message_id TEXT, reason TEXT, attempt INTEGER,
            PRIMARY KEY (issue, batch)
        );
        CREATE TABLE send_attempts (
            issue TEXT NOT NULL, attempt INTEGER NOT NULL, batch_id TEXT NOT NULL, send_at TEXT NOT NULL,
            state TEXT NOT NULL, created_at TEXT NOT NULL, cancelled_at TEXT, reason TEXT,
            PRIMARY KEY (issue, attempt)
        );
        CREATE TABLE recalls (
            issue TEXT NOT NULL, recalled_at TEXT NOT NULL, recipients INTEGER NOT NULL, send_at TEXT
        );
        CREATE TABLE reminders (
            period TEXT NOT NULL, partner TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
            via TEXT NOT NULL, at TEXT NOT NULL, message_id TEXT, reason TEXT,
            PRIMARY KEY (period, partner, seq)
        );
        CREATE TABLE subscribers (
            email TEXT PRIMARY KEY, name TEXT, organisation TEXT, province TEXT, status TEXT NOT NULL,
            reason TEXT, basis TEXT, source TEXT NOT NULL, since TEXT, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX subscribers_status ON subscribers(status);
        CREATE TABLE consents (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            email TEXT NOT NULL, at TEXT NOT NULL, action TEXT NOT NULL, form TEXT, text_version TEXT,
            basis TEXT, status TEXT, via TEXT, reason TEXT
        );
        CREATE INDEX consents_email ON consents(email, at);
        CREATE TABLE signup_tokens (
            token_hash TEXT PRIMARY KEY, email TEXT NOT NULL, form TEXT, text_version TEXT,
            created_at TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT, name TEXT, organisation TEXT,
            province TEXT
        );
        CREATE INDEX signup_tokens_email ON signup_tokens(email);
        CREATE TABLE events (
            id TEXT PRIMARY KEY, type TEXT NOT NULL, email TEXT, at TEXT NOT NULL, issue TEXT, batch TEXT,
            request TEXT, url TEXT, reason TEXT, received_at TEXT NOT NULL
        );
        CREATE INDEX events_issue ON events(issue, type);
        -- The history is append-only: a record is never changed or removed (TRUNCATE included).
        CREATE FUNCTION consents_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'consent records are append-only'; END $$;
        CREATE TRIGGER consents_never_changed BEFORE UPDATE OR DELETE ON consents
            FOR EACH ROW EXECUTE FUNCTION consents_append_only();
        CREATE TRIGGER consents_never_truncated BEFORE TRUNCATE ON consents
            FOR EACH STATEMENT EXECUTE FUNCTION consents_append_only();
        """
        + SHARED_8,
    ),
    (
        9,
        "readers: their chosen provinces and themes, a pause, and the suppressions of the forgotten",
        """
        ALTER TABLE subscribers ADD COLUMN provinces TEXT NOT NULL DEFAULT '';
        ALTER TABLE subscribers ADD COLUMN themes TEXT NOT NULL DEFAULT '';
        ALTER TABLE subscribers ADD COLUMN paused_until TEXT;
        CREATE TABLE suppressions (address_hash TEXT PRIMARY KEY, at TEXT NOT NULL, reason TEXT NOT NULL);
        CREATE TABLE keys (name TEXT PRIMARY KEY, value TEXT NOT NULL, created_at TEXT NOT NULL);
        ALTER TABLE subscribers ADD COLUMN link_hash TEXT;
        CREATE UNIQUE INDEX subscribers_link ON subscribers(link_hash);
        -- Append-only, except that an erasure replaces the address by 'vergeten:' and its keyed hash.
        -- (The statements here are split at a semicolon that ends a line: none inside the function.)
        CREATE OR REPLACE FUNCTION consents_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND NEW.email LIKE 'vergeten:%' AND OLD.email NOT LIKE 'vergeten:%'
                    AND (to_jsonb(NEW) - 'email') = (to_jsonb(OLD) - 'email') THEN RETURN NEW; END IF; RAISE
                EXCEPTION 'consent records are append-only'; END $$;
        """,
    ),
    (
        10,
        "deliver: editions of one issue (each reader's delivery names its edition; each edition's content)",
        """
        ALTER TABLE deliveries ADD COLUMN edition TEXT NOT NULL DEFAULT '';
        CREATE TABLE sent_editions (
            issue TEXT NOT NULL REFERENCES sent_issues(id), edition TEXT NOT NULL, label TEXT NOT NULL,
            html TEXT NOT NULL, text TEXT NOT NULL,
            PRIMARY KEY (issue, edition)
        );
        """,
    ),
    (
        11,
        "deliver: claims and outcomes as HOT updates (the ledger indexed by seq only, room on its pages)",
        REQUEST_SPAN
        + """
        -- A claim and an outcome change state and batch only: with neither in an index and room on
        -- the page, PostgreSQL writes the new row version beside the old one and no index entry (a
        -- HOT update). Indexed by state, every claim and outcome added 1,000 entries to both
        -- indexes, and the claims' scans went over ever more dead ones (side by side on 100,000:
        -- claims 6.2 s rather than 2.0 s, outcomes 3.6 s rather than 0.6 s). Claims pick pending rows
        -- by seq from where the last request ended; outcomes find a request's rows by its span.
        DROP INDEX deliveries_state;
        CREATE INDEX deliveries_seq ON deliveries(issue, seq);
        ALTER TABLE deliveries SET (fillfactor = 50);
        """,
    ),
    (
        12,
        "the partner portal: sign-in links, sessions, and the saves the editors are told about",
        PORTAL_12.format(id="id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
    ),
    (
        13,
        "items: a theme's reference to its item checked a statement at a time; their JSON compressed by lz4",
        """
        -- The foreign key checked each theme row on its own and locked its item (FOR KEY SHARE): a
        -- cold collect of 300 feeds (18,000 theme rows) took 3.44 s with it and 2.81 s without (SQLite
        -- 2.70 s). These triggers keep its rule for whole statements: a theme row's item exists, an
        -- item keeps its id while themes refer to it, and a deleted item takes its themes along.
        -- Nothing deletes items, so the row lock the key took against a delete at the same time is
        -- not needed. (The statements are split at a semicolon that ends a line: none inside.)
        ALTER TABLE item_themes DROP CONSTRAINT item_themes_item_fkey;
        CREATE FUNCTION item_themes_have_items() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM new_rows n
                    WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.id = n.item))
                THEN RAISE foreign_key_violation
                    USING MESSAGE = 'a row of item_themes refers to a missing item'; END IF
                ; RETURN NULL; END $$;
        CREATE TRIGGER item_themes_inserted AFTER INSERT ON item_themes REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION item_themes_have_items();
        CREATE TRIGGER item_themes_updated AFTER UPDATE ON item_themes REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION item_themes_have_items();
        CREATE FUNCTION items_keep_their_themes() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    DELETE FROM item_themes t USING old_rows o WHERE t.item = o.id
                ; ELSIF EXISTS (SELECT 1 FROM old_rows o JOIN item_themes t ON t.item = o.id
                    WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.id = o.id))
                THEN RAISE foreign_key_violation
                    USING MESSAGE = 'an item with themes cannot change its id'; END IF
                ; RETURN NULL; END $$;
        CREATE TRIGGER items_deleted AFTER DELETE ON items REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION items_keep_their_themes();
        CREATE TRIGGER items_updated AFTER UPDATE ON items REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION items_keep_their_themes();
        -- An item's JSON (about 4 KB) is compressed when stored: with lz4 rather than pglz, where the
        -- server has it (PostgreSQL 14 and later, built with lz4, as Debian's is). Inserting the 6,000
        -- items of a cold collect took the server 0.23 s rather than 0.63 s.
        DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_settings
                WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))
            THEN EXECUTE 'ALTER TABLE items ALTER COLUMN data SET COMPRESSION lz4'
            ; END IF; END $$;
        """,
    ),
]
