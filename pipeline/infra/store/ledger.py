"""Issues and the send ledger: what went out, to whom, in which request of which attempt."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from pipeline.domain.models import (
    AttemptState,
    DeliveryState,
    Placement,
    Rendered,
    RequestState,
    SubscriberStatus,
)
from pipeline.infra.store.engine import Database
from pipeline.infra.store.values import (
    _SENT,
    Attempt,
    DeliveryBatch,
    Recall,
    SentIssue,
    SentPlacement,
    _attempt,
    _batch,
    _dt,
    _sent_issue,
    _utc,
    _when,
    chunks,
)


class _NothingPending(Exception):
    "Nobody is pending: the claim's transaction is rolled back (its request number unused)."


PENDING, IN_FLIGHT, FAILED, SKIPPED = (DeliveryState.PENDING, DeliveryState.IN_FLIGHT, DeliveryState.FAILED,
                                        DeliveryState.SKIPPED)  # fmt: skip


# A claim: the next ``size`` pending rows of an issue, in ``seq`` order, put in flight; only rows
# still pending change, so a row is never claimed twice. Each request keeps its span of the ledger
# (its first and last seq), which its outcome finds its rows by. SQLite (one writer at a time) picks
# them in a materialized subquery, by its index on (issue, state, seq). A claim takes the rows of one
# edition only (``edition = ?``): a request carries one edition's content.
_CLAIM = (
    f"WITH picked AS MATERIALIZED (SELECT seq FROM deliveries WHERE issue = ?"
    f" AND state = '{PENDING}' AND edition = ? ORDER BY seq LIMIT ?)"
    f" UPDATE deliveries SET state = '{IN_FLIGHT}', batch = ?, updated_at = ?"
    f" WHERE issue = ? AND state = '{PENDING}' AND seq IN (SELECT seq FROM picked)"
    " RETURNING seq, email, name"
)
# PostgreSQL indexes the ledger by (issue, seq) only, so that a claim and an outcome are HOT updates
# (schema 11). A claim looks for pending rows after the span of the issue's last request (``after``,
# a hint: rows still pending before it, put back by a cancel or an unsent request, are found by a
# second look from the start once none are left after it). It locks them ``FOR UPDATE SKIP LOCKED``
# (a second sender takes the next ones, never the same) and updates them by their row address
# (``ctid``), as an array computed once: a TID scan whatever the planner knows. The address of a row
# locked here cannot change before the commit; a row changed since the pick has another address,
# so it is passed over even without the check on its state. The request's row is written by the
# same statement (one round trip less), only when someone was claimed.
_AFTER_LAST = (
    "coalesce((SELECT last_seq FROM delivery_batches WHERE issue = ? AND last_seq IS NOT NULL"
    " ORDER BY batch DESC LIMIT 1), 0)"
)
_CLAIM_PG = (
    f"WITH claimed AS (UPDATE deliveries SET state = '{IN_FLIGHT}', batch = ?, updated_at = ?"
    " WHERE ctid = ANY(ARRAY(SELECT ctid FROM deliveries WHERE issue = ? AND seq > {after}"
    f" AND edition = ? AND state = '{PENDING}' ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED))"
    f" AND state = '{PENDING}'"
    " RETURNING seq, email, name),"
    " request AS (INSERT INTO delivery_batches"
    " (issue, batch, state, recipients, started_at, attempt, first_seq, last_seq)"
    f" SELECT ?, ?, '{RequestState.IN_FLIGHT}', count(*), ?, ?, min(seq), max(seq) FROM claimed"
    " HAVING count(*) > 0)"
    " SELECT seq, email, name FROM claimed"
)
# A request's rows on PostgreSQL: those in its span (all of the issue for a request from before
# schema 11) that it holds in flight.
_SPAN_PG = (
    " FROM b WHERE deliveries.issue = ? AND deliveries.seq >= coalesce(b.first_seq, 0)"
    " AND deliveries.seq <= coalesce(b.last_seq, 9223372036854775807)"
    f" AND deliveries.batch = ? AND deliveries.state = '{IN_FLIGHT}'"
)
# A request's outcome on PostgreSQL: the request's row and its ledger rows in one statement, which
# commits by itself (one round trip rather than four).
_FINISH_PG = (
    "WITH b AS (UPDATE delivery_batches SET state = ?, message_id = ?, reason = ?, finished_at = ?"
    " WHERE issue = ? AND batch = ? RETURNING first_seq, last_seq)"
    " UPDATE deliveries SET state = ?, message_id = ?, reason = ?, updated_at = ?" + _SPAN_PG
)
_UNCLAIM_PG = (
    "WITH b AS (DELETE FROM delivery_batches WHERE issue = ? AND batch = ? RETURNING first_seq, last_seq)"
    f" UPDATE deliveries SET state = '{PENDING}', batch = NULL, updated_at = ?" + _SPAN_PG
)


class Ledger:
    db: Database

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
            "INSERT INTO sent_items (issue, item, section, position) VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
            [(rendered.issue_id, item, section, i) for i, (section, item) in enumerate(items)],
        )

    def record_sent_editions(self, issue_id: str, editions: Iterable[tuple[str, str, Rendered]]) -> None:
        """Keep each edition's content (key, label, rendered) besides the issue as it is; call inside
        the transaction of ``record_sent_issue``. Idempotent."""
        self.db.executemany(
            "INSERT INTO sent_editions (issue, edition, label, html, text) VALUES (?,?,?,?,?)"
            " ON CONFLICT DO NOTHING",
            [(issue_id, key, label, r.html, r.text) for key, label, r in editions],
        )

    def sent_editions(self, issue_id: str) -> dict[str, tuple[str, str, str]]:
        """The kept editions of a sent issue: key -> (label, html, text); the issue as it is is not here."""
        rows = self.db.execute(
            "SELECT edition, label, html, text FROM sent_editions WHERE issue = ? ORDER BY edition",
            (issue_id,),
        )
        return {str(r[0]): (str(r[1]), str(r[2]), str(r[3])) for r in rows}

    def edition_counts(self, issue_id: str) -> dict[str, int]:
        """How many readers of an issue got (or get) each edition (skipped ones left out)."""
        rows = self.db.execute(
            f"SELECT edition, count(*) FROM deliveries WHERE issue = ? AND state <> '{SKIPPED}'"
            " GROUP BY edition",
            (issue_id,),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def edition_clicks(self, issue_id: str) -> dict[str, tuple[int, int]]:
        """Per edition of a sent issue: (readers who clicked, clicks), from SendGrid's click events
        since the list send started (a test send's clicks carry the same issue id, and come before)."""
        rows = self.db.execute(
            "SELECT d.edition, count(DISTINCT e.email), count(*) FROM events e"
            " JOIN sent_issues s ON s.id = e.issue"
            " JOIN deliveries d ON d.issue = e.issue AND d.email = e.email"
            " WHERE e.issue = ? AND e.type = 'click' AND e.url IS NOT NULL AND e.at >= s.started_at"
            " GROUP BY d.edition",
            (issue_id,),
        )
        return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}

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
        sql = (
            f"SELECT reason, count(*) FROM deliveries WHERE issue = ? AND state = '{SKIPPED}' GROUP BY reason"
        )
        return {row[0]: int(row[1]) for row in self.db.execute(sql, (issue_id,))}

    def load_audience(
        self, subscribers: Iterable[tuple[str, str | None]], suppressed: Iterable[tuple[str, str]]
    ) -> int:
        """Fill the TEMP tables with (email, name) and (email, reason); return the duplicates dropped.

        Addresses must be lower-cased already. The first row of an address wins.
        """
        db = self._empty_audience()
        rows = 0
        if db.postgres:
            rows = self._copy_audience(subscribers)
        else:
            for chunk in chunks(subscribers, 5000):
                numbered = [(rows + i, email, name) for i, (email, name) in enumerate(chunk)]
                rows += len(chunk)
                db.executemany(
                    "INSERT INTO audience (n, email, name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", numbered
                )
        added = int(db.scalar("SELECT count(*) FROM audience"))
        self._load_suppressed(suppressed)
        return rows - added

    def _copy_audience(self, subscribers: Iterable[tuple[str, str | None]]) -> int:
        # PostgreSQL: one COPY into a table without a key, then the first row of each address into the
        # audience (an INSERT per row, even 5000 to a round trip, took four times SQLite's time).
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS audience_in (n BIGINT, email TEXT, name TEXT)")
        db.execute("TRUNCATE audience_in")
        numbered = ((n, email, name) for n, (email, name) in enumerate(subscribers))
        rows = db.copy("audience_in", ("n", "email", "name"), numbered)
        db.execute(
            "INSERT INTO audience (n, email, name)"
            " SELECT DISTINCT ON (email) n, email, name FROM audience_in ORDER BY email, n"
        )
        db.execute("TRUNCATE audience_in")
        return rows

    def load_active_audience(
        self, suppressed: Iterable[tuple[str, str]], now: dt.datetime | None = None, *, choices: bool = False
    ) -> int:
        """``load_audience`` of the active subscribers kept here, inside the database (memory stays
        flat however long the list), but for those who paused beyond ``now``; returns how many.

        ``choices``: each reader's edition starts as her choice as the columns hold it
        (``provinces|themes``), for ``audience_choices`` and ``set_audience_editions`` to name.
        """
        db = self._empty_audience()
        edition = "provinces || '|' || themes" if choices else "''"
        rows = db.execute(
            "INSERT INTO audience (n, email, name, edition)"
            f" SELECT row_number() OVER (ORDER BY since, email), email, name, {edition} FROM subscribers"
            f" WHERE status = '{SubscriberStatus.ACTIVE}' AND (paused_until IS NULL OR paused_until <= ?)",
            (_utc(now or dt.datetime.now(dt.UTC)),),
        ).rowcount
        self._load_suppressed(suppressed)
        return int(rows)

    def audience_choices(self) -> list[str]:
        """The distinct editions of the audience loaded (after ``load_active_audience(choices=True)``:
        the raw choices ``provinces|themes``), a handful however long the list."""
        return [str(r[0]) for r in self.db.execute("SELECT DISTINCT edition FROM audience ORDER BY edition")]

    def set_audience_editions(self, editions: dict[str, str]) -> None:
        """Rename the audience's editions (a raw choice to its edition's key): one pass over the
        audience, however long the list and however many choices."""
        db = self.db
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS edition_map (raw TEXT PRIMARY KEY, edition TEXT NOT NULL)"
        )
        db.execute("DELETE FROM edition_map")
        db.executemany("INSERT INTO edition_map (raw, edition) VALUES (?, ?)", list(editions.items()))
        db.execute(
            "UPDATE audience SET edition ="
            " (SELECT m.edition FROM edition_map m WHERE m.raw = audience.edition)"
            " WHERE edition IN (SELECT raw FROM edition_map)"
        )

    def _empty_audience(self) -> Database:
        # No transaction here: TEMP tables (this connection's own) lock nothing in the shared
        # database, and the suppressions come from the network, which must not hold up other writers.
        db = self.db
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS audience"
            " (n BIGINT, email TEXT PRIMARY KEY, name TEXT, edition TEXT NOT NULL DEFAULT '')"
        )
        db.execute("CREATE TEMP TABLE IF NOT EXISTS suppressed (email TEXT PRIMARY KEY, reason TEXT)")
        db.execute("DELETE FROM audience")
        db.execute("DELETE FROM suppressed")
        return db

    def _load_suppressed(self, suppressed: Iterable[tuple[str, str]]) -> None:
        for chunk in chunks(suppressed, 5000):
            self.db.executemany(
                "INSERT INTO suppressed (email, reason) VALUES (?, ?) ON CONFLICT DO NOTHING", chunk
            )

    def sync_ledger(self, issue_id: str, now: dt.datetime, *, add_new: bool = True) -> None:
        """Bring the ledger in line with the audience just loaded. Call inside a transaction.

        New subscribers become pending, with their edition, numbered edition by edition (so that the
        claims of one edition find its rows together); a row keeps the edition it was given. Pending ones
        now suppressed, or no longer in the list, are
        skipped with the reason; failed ones (SendGrid refused them, so they never got it) are pending
        again. Accepted, unknown and skipped rows are never touched: that is what keeps a resumed
        send from mailing anyone twice. ``add_new=False`` once the send has completed: a subscriber
        who joined later does not get an old issue.
        """
        for i, (sql, args) in enumerate(self._sync_statements(issue_id, now, add_new=add_new)):
            added = self.db.execute(sql, args).rowcount
            if i == 0 and add_new and added > 0 and self.db.postgres:
                # Statistics for the rows just added, before anything picks among them: without them
                # the planner took the claims' index range for a handful of rows and sorted every
                # pending one on disk for each request (60 ms a claim rather than 4).
                self.db.execute("ANALYZE deliveries (issue, seq, state, edition)")

    def _sync_statements(
        self, issue_id: str, now: dt.datetime, *, add_new: bool
    ) -> list[tuple[str, tuple[Any, ...]]]:
        at = _utc(now)
        out: list[tuple[str, tuple[Any, ...]]] = []
        if add_new:
            out.append((
                f"INSERT INTO deliveries (issue, email, seq, name, state, updated_at, edition)"
                f" SELECT ?, a.email, (SELECT coalesce(max(seq), 0) FROM deliveries WHERE issue = ?)"
                f" + row_number() OVER (ORDER BY a.edition, a.n), a.name, '{PENDING}', ?, a.edition"
                " FROM audience a WHERE NOT EXISTS"
                " (SELECT 1 FROM deliveries d WHERE d.issue = ? AND d.email = a.email)",
                (issue_id, issue_id, at, issue_id),
            ))  # fmt: skip
        out.append((
            f"UPDATE deliveries SET state = '{PENDING}', batch = NULL, reason = NULL, updated_at = ?"
            f" WHERE issue = ? AND state = '{FAILED}'",
            (at, issue_id),
        ))  # fmt: skip
        out.append((
            f"UPDATE deliveries SET state = '{SKIPPED}', updated_at = ?,"
            " reason = (SELECT s.reason FROM suppressed s WHERE s.email = deliveries.email)"
            f" WHERE issue = ? AND state = '{PENDING}' AND email IN (SELECT email FROM suppressed)",
            (at, issue_id),
        ))  # fmt: skip
        out.append((
            f"UPDATE deliveries SET state = '{SKIPPED}', reason = ?, updated_at = ?"
            f" WHERE issue = ? AND state = '{PENDING}' AND email NOT IN (SELECT email FROM audience)",
            ("no longer in the subscriber list", at, issue_id),
        ))  # fmt: skip
        return out

    def preview_ledger(
        self, issue_id: str, now: dt.datetime, *, add_new: bool = True
    ) -> tuple[dict[DeliveryState, int], dict[str, int]]:
        """(counts, skip reasons) as ``sync_ledger`` would leave them, without changing anything:
        counted from the ledger and the audience loaded, nothing written."""
        counts = self.delivery_counts(issue_id)
        reasons = self.skip_reasons(issue_id)
        at = (issue_id,)
        new = 0
        if add_new:
            new = int(self.db.scalar(
                "SELECT count(*) FROM audience a WHERE NOT EXISTS"
                " (SELECT 1 FROM deliveries d WHERE d.issue = ? AND d.email = a.email)", at,
            ))  # fmt: skip
        # Pending after the sync, before the skips: the pending and failed rows, and the new ones.
        pending = self.db.execute(
            f"SELECT d.email IN (SELECT email FROM audience), s.reason FROM deliveries d"
            f" LEFT JOIN suppressed s ON s.email = d.email"
            f" WHERE d.issue = ? AND d.state IN ('{PENDING}', '{FAILED}')",
            at,
        ).fetchall()
        gone = "no longer in the subscriber list"
        counts[DeliveryState.PENDING] = 0
        counts[DeliveryState.FAILED] = 0
        for listed, reason in pending:
            if reason is not None:
                key = str(reason)
            elif not listed:
                key = gone
            else:
                counts[DeliveryState.PENDING] += 1
                continue
            counts[DeliveryState.SKIPPED] += 1
            reasons[key] = reasons.get(key, 0) + 1
        if new:
            fresh = self.db.execute(
                "SELECT s.reason, count(*) FROM audience a LEFT JOIN suppressed s ON s.email = a.email"
                " WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.issue = ? AND d.email = a.email)"
                " GROUP BY s.reason",
                at,
            ).fetchall()
            for reason, n in fresh:
                if reason is None:
                    counts[DeliveryState.PENDING] += int(n)
                else:
                    counts[DeliveryState.SKIPPED] += int(n)
                    reasons[str(reason)] = reasons.get(str(reason), 0) + int(n)
        return counts, reasons

    def unknown_to_pending(self, issue_id: str, now: dt.datetime) -> int:
        """The editor asked to resend the requests whose answer was lost. Call inside a transaction."""
        return int(
            self.db.execute(
                f"UPDATE deliveries SET state = '{PENDING}', batch = NULL, reason = NULL, updated_at = ?"
                f" WHERE issue = ? AND state = '{DeliveryState.UNKNOWN}'",
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
        with self.db.transaction() as db:
            number = (
                1
                + db.execute(
                    "SELECT coalesce(max(attempt), 0) FROM send_attempts WHERE issue = ?", (issue_id,)
                ).fetchone()[0]
            )
            db.execute(
                "INSERT INTO send_attempts (issue, attempt, batch_id, send_at, state, created_at)"
                f" VALUES (?, ?, ?, ?, '{AttemptState.OPEN}', ?)",
                (issue_id, number, batch_id, _utc(send_at), _utc(now)),
            )
        found = self.db.execute(
            "SELECT * FROM send_attempts WHERE issue = ? AND attempt = ?", (issue_id, number)
        ).fetchone()
        return _attempt(found)

    def mark_cancelling(self, issue_id: str, attempt: int, reason: str, now: dt.datetime) -> None:
        """Before a cancel is asked for: a kill between the two leaves the intent on record."""
        with self.db.transaction() as db:
            db.execute(
                f"UPDATE send_attempts SET state = '{AttemptState.CANCELLING}', reason = ?, cancelled_at = ?"
                " WHERE issue = ? AND attempt = ?"
                f" AND state IN ('{AttemptState.OPEN}', '{AttemptState.CANCELLING}')",
                (reason, _utc(now), issue_id, attempt),
            )

    def cancelled(self, issue_id: str, attempt: int, now: dt.datetime) -> int:
        """SendGrid confirmed the cancel: none of the attempt's mail goes out, so everyone it held
        (accepted or in doubt) is pending again, in one transaction. Returns how many."""
        at = _utc(now)
        with self.db.transaction() as db:
            n = db.execute(
                f"UPDATE deliveries SET state = '{PENDING}', batch = NULL, message_id = NULL, reason = NULL,"
                f" updated_at = ? WHERE issue = ? AND state IN ('{IN_FLIGHT}', '{DeliveryState.ACCEPTED}',"
                f" '{DeliveryState.UNKNOWN}')"
                " AND batch IN (SELECT batch FROM delivery_batches WHERE issue = ? AND attempt = ?)",
                (at, issue_id, issue_id, attempt),
            ).rowcount
            db.execute(
                f"UPDATE delivery_batches SET state = '{RequestState.CANCELLED}',"
                " finished_at = coalesce(finished_at, ?)"
                " WHERE issue = ? AND attempt = ?",
                (at, issue_id, attempt),
            )
            db.execute(
                f"UPDATE send_attempts SET state = '{AttemptState.CANCELLED}', cancelled_at = ?"
                " WHERE issue = ? AND attempt = ?",
                (at, issue_id, attempt),
            )
            db.execute("UPDATE sent_issues SET completed_at = NULL WHERE id = ?", (issue_id,))
        return int(n)

    def close_attempt(self, issue_id: str, attempt: int, reason: str, now: dt.datetime) -> int:
        """The attempt can no longer be cancelled: requests still in doubt are unknown for good."""
        at = _utc(now)
        with self.db.transaction() as db:
            n = db.execute(
                f"UPDATE deliveries SET state = '{DeliveryState.UNKNOWN}', reason = ?, updated_at = ?"
                f" WHERE issue = ? AND state = '{IN_FLIGHT}' AND batch IN"
                " (SELECT batch FROM delivery_batches WHERE issue = ? AND attempt = ?)",
                (reason, at, issue_id, issue_id, attempt),
            ).rowcount
            db.execute(
                f"UPDATE delivery_batches SET state = '{RequestState.UNKNOWN}', finished_at = ?, reason = ?"
                f" WHERE issue = ? AND attempt = ? AND state = '{RequestState.IN_FLIGHT}'",
                (at, reason, issue_id, attempt),
            )
            db.execute(
                f"UPDATE send_attempts SET state = '{AttemptState.OPEN}'"
                f" WHERE issue = ? AND attempt = ? AND state = '{AttemptState.CANCELLING}'",
                (issue_id, attempt),
            )
        return int(n)

    def cleared(self, issue_id: str, attempt: int) -> None:
        """The cancel was removed at SendGrid after the attempt's send_at (nothing more to do with it)."""
        with self.db.transaction() as db:
            db.execute(
                f"UPDATE send_attempts SET state = '{AttemptState.CLEARED}'"
                f" WHERE issue = ? AND attempt = ? AND state = '{AttemptState.CANCELLED}'",
                (issue_id, attempt),
            )

    def recall(self, issue_id: str, now: dt.datetime, held: int) -> None:
        """The issue was cancelled at SendGrid before it went out: its send is forgotten (nobody got it)
        and a recall kept on record, with ``held``: how many subscribers it had been handed over for."""
        at = _utc(now)
        with self.db.transaction() as db:
            last = db.execute(
                "SELECT max(send_at) FROM send_attempts WHERE issue = ?", (issue_id,)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO recalls (issue, recalled_at, recipients, send_at) VALUES (?, ?, ?, ?)",
                (issue_id, at, held, last),
            )
            forget = (("deliveries", "issue"), ("delivery_batches", "issue"), ("sent_items", "issue"),
                      ("sent_editions", "issue"), ("sent_issues", "id"))  # fmt: skip
            for table, key in forget:
                db.execute(f"DELETE FROM {table} WHERE {key} = ?", (issue_id,))
            db.execute("DELETE FROM counters WHERE name = ?", (f"batch:{issue_id}",))

    def recalls(self, issue_id: str) -> list[Recall]:
        rows = self.db.execute("SELECT * FROM recalls WHERE issue = ? ORDER BY recalled_at", (issue_id,))
        return [
            Recall(r["issue"], _when(r["recalled_at"]), int(r["recipients"]), _dt(r["send_at"])) for r in rows
        ]

    # -- requests ---------------------------------------------------------------------------------
    def next_edition(self, issue_id: str) -> str | None:
        """The edition of the first pending subscriber (in ``seq`` order), None when nobody is pending.

        ``sync_ledger`` numbers the subscribers edition by edition, so the pending rows of one edition
        come together, and the claims of that edition find them first.
        """
        sql = f"SELECT edition FROM deliveries WHERE issue = ? AND seq > {{after}} AND state = '{PENDING}'"
        # PostgreSQL's ledger has no index on state (claims are HOT updates): it looks after the last
        # request's span first, as a claim does, rather than over every row already sent.
        looks = ((_AFTER_LAST, (issue_id,)), ("0", ())) if self.db.postgres else (("0", ()),)
        for after, hint in looks:
            row = self.db.execute(
                sql.format(after=after) + " ORDER BY seq LIMIT 1", (issue_id, *hint)
            ).fetchone()
            if row is not None:
                return str(row[0])
        return None

    def claim_batch(
        self, issue_id: str, size: int, now: dt.datetime, attempt: int | None = None, edition: str = ""
    ) -> tuple[int, list[tuple[str, str | None]]]:
        """Mark the next ``size`` pending subscribers of ``edition`` in flight, as a new request of
        ``attempt``; commit before the request. Returns (request number, [(email, name)]); an empty
        list when nobody of that edition is pending. A request carries one edition's content.

        Safe with two senders at once, also on two hosts: the request number comes from a counter
        row locked until the commit, and only rows still pending change (on PostgreSQL the rows are
        picked ``FOR UPDATE SKIP LOCKED``, so a second sender takes the next ones, never the same).
        """
        at = _utc(now)
        try:
            with self.db.transaction() as db:
                batch = int(db.scalar(
                    "INSERT INTO counters (name, value) VALUES (?, 1)"
                    " ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
                    (f"batch:{issue_id}",),
                ))  # fmt: skip
                if db.postgres:
                    rows = self._claim_pg(issue_id, edition, batch, size, at, attempt)
                else:
                    rows = db.execute(_CLAIM, (issue_id, edition, size, batch, at, issue_id)).fetchall()
                    if rows:
                        seqs = [int(r[0]) for r in rows]
                        db.execute(
                            "INSERT INTO delivery_batches"
                            " (issue, batch, state, recipients, started_at, attempt, first_seq, last_seq)"
                            f" VALUES (?, ?, '{RequestState.IN_FLIGHT}', ?, ?, ?, ?, ?)",
                            (issue_id, batch, len(rows), at, attempt, min(seqs), max(seqs)),
                        )
                if not rows:
                    raise _NothingPending
        except _NothingPending:
            return 0, []
        rows.sort(key=lambda r: int(r[0]))
        return batch, [(r[1], r[2]) for r in rows]

    def _claim_pg(
        self, issue_id: str, edition: str, batch: int, size: int, at: str, attempt: int | None
    ) -> list[Any]:
        """Claim after the last request's span; when nobody is pending there, from the start."""
        for after, hint in ((_AFTER_LAST, (issue_id,)), ("0", ())):
            args = (batch, at, issue_id, *hint, edition, size, issue_id, batch, at, attempt)
            rows = self.db.execute(_CLAIM_PG.format(after=after), args).fetchall()
            if rows:
                return rows
        return []

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
        if self.db.postgres:
            if state == DeliveryState.PENDING:
                self.db.execute(_UNCLAIM_PG, (issue_id, batch, at, issue_id, batch))
            else:
                finished = at if state != DeliveryState.IN_FLIGHT else None
                outcome = (state, message_id, reason)
                self.db.execute(
                    _FINISH_PG, (*outcome, finished, issue_id, batch, *outcome, at, issue_id, batch)
                )
            return
        with self.db.transaction() as db:
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

    def delivery_states(self, issue_id: str) -> dict[str, str]:
        """email -> state for one issue (tests and small lists only: it holds the whole list)."""
        sql = "SELECT email, state FROM deliveries WHERE issue = ?"
        return {r[0]: r[1] for r in self.db.execute(sql, (issue_id,))}
