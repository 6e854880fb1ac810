"""The progress reminders sent to partners' monitoring contacts (monitor)."""

from __future__ import annotations

import datetime as dt

from pipeline.domain.models import ReminderState
from pipeline.infra.store.engine import Database
from pipeline.infra.store.values import Reminder, _utc, _when


class Reminders:
    db: Database
    LOST = "the sending process ended before the answer came"

    # -- progress reminders (monitor) ---------------------------------------------------------------
    def reminders(self, period: str) -> dict[str, Reminder]:
        """partner -> its latest reminder for ``period``."""
        sql = "SELECT * FROM reminders WHERE period = ? ORDER BY partner, seq"
        out = {}
        for r in self.db.execute(sql, (period,)):
            out[r["partner"]] = Reminder(
                r["period"], r["partner"], int(r["seq"]), ReminderState(r["state"]), r["via"], _when(r["at"]),
                r["message_id"], r["reason"],
            )  # fmt: skip
        return out

    def start_reminder(self, period: str, partner: str, via: str, now: dt.datetime) -> int:
        """Record a reminder as 'sending', committed before the request; return its number."""
        with self.db.transaction() as db:
            seq = (
                1
                + db.execute(
                    "SELECT coalesce(max(seq), 0) FROM reminders WHERE period = ? AND partner = ?",
                    (period, partner),
                ).fetchone()[0]
            )
            db.execute(
                "INSERT INTO reminders (period, partner, seq, state, via, at)"
                f" VALUES (?, ?, ?, '{ReminderState.SENDING}', ?, ?)",
                (period, partner, seq, via, _utc(now)),
            )
        return int(seq)

    def finish_reminder(
        self,
        period: str,
        partner: str,
        seq: int,
        state: ReminderState,
        now: dt.datetime,
        *,
        message_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Record how a reminder ended: 'sent' or 'failed' (or 'unknown': the answer was lost)."""
        with self.db.transaction() as db:
            db.execute(
                "UPDATE reminders SET state = ?, at = ?, message_id = ?, reason = ?"
                " WHERE period = ? AND partner = ? AND seq = ?",
                (state, _utc(now), message_id, reason, period, partner, seq),
            )

    def reminders_left_sending(self, period: str, now: dt.datetime) -> int:
        """Reminders a killed run left 'sending' become 'unknown'. Call under the period's lock."""
        with self.db.transaction() as db:
            return int(
                db.execute(
                    f"UPDATE reminders SET state = '{ReminderState.UNKNOWN}', at = ?, reason = ?"
                    f" WHERE period = ? AND state = '{ReminderState.SENDING}'",
                    (_utc(now), self.LOST, period),
                ).rowcount
            )
