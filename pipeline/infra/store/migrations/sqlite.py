"""SQLite's migrations from 1, as released: an old state file upgrades in place through them.
Append only; never edit a migration that has been released."""

from pipeline.infra.store.migrations.shared import ITEM_INDEXES_AND_THEMES, PORTAL_12, REQUEST_SPAN, SHARED_8

# SQLite's migrations: (version, what, SQL).
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
        );"""
        + ITEM_INDEXES_AND_THEMES
        + """
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
    (
        8,
        "portable: consent records numbered, counters for request numbers, sign-up limits shared",
        """
        -- The consent history in the order it was written, by an id of its own rather than SQLite's
        -- rowid (the ids are the rowids, so nothing moves). The triggers go with the old table.
        CREATE TABLE consents_new (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            form TEXT,
            text_version TEXT,
            basis TEXT,
            status TEXT,
            via TEXT,
            reason TEXT
        );
        INSERT INTO consents_new (id, email, at, action, form, text_version, basis, status, via, reason)
            SELECT rowid, email, at, action, form, text_version, basis, status, via, reason FROM consents;
        DROP TABLE consents;
        ALTER TABLE consents_new RENAME TO consents;
        CREATE INDEX consents_email ON consents(email, at);
        CREATE TRIGGER consents_never_updated BEFORE UPDATE ON consents
            BEGIN SELECT RAISE(ABORT, 'consent records are append-only'); END;
        CREATE TRIGGER consents_never_deleted BEFORE DELETE ON consents
            BEGIN SELECT RAISE(ABORT, 'consent records are append-only'); END;
        """
        + SHARED_8,
    ),
    (
        9,
        "readers: their chosen provinces and themes, a pause, and the suppressions of the forgotten",
        """
        -- What a reader chose on her preferences page: province and theme ids, comma-separated,
        -- '' for everything (the default). The sign-up form's single 'province' stays as she gave it.
        ALTER TABLE subscribers ADD COLUMN provinces TEXT NOT NULL DEFAULT '';
        ALTER TABLE subscribers ADD COLUMN themes TEXT NOT NULL DEFAULT '';
        -- No issue until this moment (ISO 8601 in UTC); NULL when not paused.
        ALTER TABLE subscribers ADD COLUMN paused_until TEXT;
        -- After 'vergeet mij': only a keyed hash of the address, so that no import or sign-up
        -- brings her back without a new confirmation.
        CREATE TABLE suppressions (
            address_hash TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        -- The service's own secrets, made on first use: 'links' signs the personal links in every
        -- mail (a new one makes every old link stop working); 'forget' keys the hashes above.
        CREATE TABLE keys (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        -- The sha256 of the subscriber's personal link token: how a link finds its subscriber.
        ALTER TABLE subscribers ADD COLUMN link_hash TEXT;
        CREATE UNIQUE INDEX subscribers_link ON subscribers(link_hash);
        -- The consent history stays append-only, with one exception: an erasure ('vergeet mij')
        -- replaces the address of each record by 'vergeten:' and its keyed hash, and nothing else.
        DROP TRIGGER consents_never_updated;
        CREATE TRIGGER consents_never_updated BEFORE UPDATE ON consents
            WHEN NOT (NEW.email LIKE 'vergeten:%' AND OLD.email NOT LIKE 'vergeten:%'
                AND NEW.id = OLD.id AND NEW.at IS OLD.at AND NEW.action IS OLD.action
                AND NEW.form IS OLD.form AND NEW.text_version IS OLD.text_version
                AND NEW.basis IS OLD.basis AND NEW.status IS OLD.status AND NEW.via IS OLD.via
                AND NEW.reason IS OLD.reason)
            BEGIN SELECT RAISE(ABORT, 'consent records are append-only'); END;
        """,
    ),
    (
        10,
        "deliver: editions of one issue (each reader's delivery names its edition; each edition's content)",
        """
        -- The edition a reader gets (pipeline.domain.editions: e.g. 'provinces=overijssel'; '' for
        -- the issue as it is). A request carries one edition: claims take the pending rows of one.
        ALTER TABLE deliveries ADD COLUMN edition TEXT NOT NULL DEFAULT '';
        -- The exact content of each edition of a sent issue besides the issue as it is (sent_issues),
        -- kept before sending starts, like sent_issues: a resumed send renders nothing.
        CREATE TABLE sent_editions (
            issue TEXT NOT NULL REFERENCES sent_issues(id),
            edition TEXT NOT NULL,
            label TEXT NOT NULL,            -- as the editors read it: "Overijssel, thema Onderwijs"
            html TEXT NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (issue, edition)
        );
        """,
    ),
    (
        11,
        "deliver: each request keeps the span of the ledger it took (its first and last seq)",
        REQUEST_SPAN,
    ),
    (
        12,
        "the partner portal: sign-in links, sessions, and the saves the editors are told about",
        PORTAL_12.format(id="id INTEGER PRIMARY KEY"),
    ),
    # PostgreSQL's foreign key of item_themes became statement triggers; SQLite's stays (it checks a row
    # against the index and takes no lock), so there is nothing to change here.
    (13, "items: a theme's reference to its item (nothing to change in SQLite)", ""),
]
