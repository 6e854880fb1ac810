"""The send's requests: a claim of the next pending subscribers of an edition (safe with two
senders at once, also on two hosts), a request's outcome, and the requests of a send."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.domain.models import DeliveryState, RequestState
from pipeline.infra.store.engine import Database
from pipeline.infra.store.values import DeliveryBatch, _batch, _utc


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


class Claims:
    db: Database

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
