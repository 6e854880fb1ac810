"""Send attempts (SendGrid batches held until their send_at): recorded, cancelled, closed, cleared;
and the recalls of issues cancelled before they went out."""

from __future__ import annotations

import datetime as dt

from pipeline.domain.models import AttemptState, DeliveryState, RequestState
from pipeline.infra.store.engine import Database
from pipeline.infra.store.values import Attempt, Recall, _attempt, _dt, _utc, _when

PENDING, IN_FLIGHT, FAILED, SKIPPED = (DeliveryState.PENDING, DeliveryState.IN_FLIGHT, DeliveryState.FAILED,
                                        DeliveryState.SKIPPED)  # fmt: skip


class Attempts:
    db: Database

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
