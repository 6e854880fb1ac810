"""SQL that the migrations of both engines add alike: the items' indexes and themes (in the first
migration of each), and migrations 8, 11 and 12. Released: append only."""

# The items' indexes and their themes: in SQLite's migration 1 and PostgreSQL's 8, after the items.
ITEM_INDEXES_AND_THEMES = """
        CREATE UNIQUE INDEX items_url ON items(url);
        CREATE INDEX items_published ON items(published);
        CREATE INDEX items_partner ON items(partner, published);
        CREATE INDEX items_source_guid ON items(source, guid);
        CREATE TABLE item_themes (
            item TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            theme TEXT NOT NULL,
            PRIMARY KEY (item, theme)
        );
        CREATE INDEX item_themes_theme ON item_themes(theme);"""

# What migration 8 adds on both engines.
SHARED_8 = """
        -- Numbers handed out one at a time, also to two hosts at once (a request's number per issue):
        -- an upsert that locks its row until the transaction ends.
        CREATE TABLE counters (
            name TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        );
        INSERT INTO counters (name, value)
            SELECT 'batch:' || issue, max(batch) FROM delivery_batches GROUP BY issue;
        -- Sign-ups per client, kept here so that every web host counts the same ones.
        CREATE TABLE rate_keys (
            key TEXT PRIMARY KEY
        );
        CREATE TABLE rate_hits (
            key TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX rate_hits_key ON rate_hits(key, at);
"""

# What migration 11 adds on both engines: where a request's rows lie in the ledger, so that its
# outcome finds them by seq (PostgreSQL has no index on state or batch from then on).
REQUEST_SPAN = """
        ALTER TABLE delivery_batches ADD COLUMN first_seq INTEGER;
        ALTER TABLE delivery_batches ADD COLUMN last_seq INTEGER;
"""

# What migration 12 adds on both engines (the partner portal): sign-in links and sessions, only
# their sha256 kept, and the saves the editors are told about.
PORTAL_12 = """
        CREATE TABLE portal_tokens (
            token_hash TEXT PRIMARY KEY,
            partner TEXT NOT NULL,
            email TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        );
        CREATE TABLE portal_sessions (
            session_hash TEXT PRIMARY KEY,
            partner TEXT NOT NULL,
            email TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ended_at TEXT
        );
        CREATE TABLE portal_saves (
            {id},
            at TEXT NOT NULL,
            partner TEXT NOT NULL,
            path TEXT NOT NULL,
            action TEXT NOT NULL,
            told_at TEXT
        );
        CREATE INDEX portal_saves_told ON portal_saves(told_at, at)
"""
