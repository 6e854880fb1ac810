"""Issues and the send ledger: what went out, to whom, in which request of which attempt.

``Ledger`` is the repository; its parts by concern: ``sent`` (the sent issues and their items),
``claims`` (the requests: claims and outcomes), ``attempts`` (SendGrid batches and recalls); here the
ledger itself: the audience loaded for a send, the sync of the ledger with it, and its preview."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from pipeline.domain.models import DeliveryState, SubscriberStatus
from pipeline.infra.store.attempts import Attempts
from pipeline.infra.store.claims import Claims
from pipeline.infra.store.engine import Database
from pipeline.infra.store.sent import SentIssues
from pipeline.infra.store.values import _utc, chunks

PENDING, IN_FLIGHT, FAILED, SKIPPED = (DeliveryState.PENDING, DeliveryState.IN_FLIGHT, DeliveryState.FAILED,
                                        DeliveryState.SKIPPED)  # fmt: skip


class Ledger(SentIssues, Claims, Attempts):
    db: Database

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
