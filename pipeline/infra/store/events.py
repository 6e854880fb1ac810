"""SendGrid's events, and the clicks they count."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pipeline.domain.models import DeliveryState
from pipeline.infra.store.engine import Database
from pipeline.infra.store.values import ClickCount, Event, _utc, chunks


class Events:
    db: Database

    def store_event(self, event: Event, now: dt.datetime) -> bool:
        """Keep one of SendGrid's events; False when it was stored before (SendGrid sends again)."""
        with self.db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO events (id, type, email, at, issue, batch, request, url, reason,"
                " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (event.id, event.type, event.email, _utc(event.at), event.issue, event.batch, event.request,
                 event.url, event.reason, _utc(now)),
            )  # fmt: skip
            return bool(cursor.rowcount)

    def settle_unknown(self, issue_id: str, email: str, now: dt.datetime) -> bool:
        """SendGrid says it took the mail for one subscriber whose request's answer was lost: accepted."""
        with self.db.transaction() as db:
            return bool(
                db.execute(
                    f"UPDATE deliveries SET state = '{DeliveryState.ACCEPTED}',"
                    " reason = 'settled by SendGrid''s event', updated_at = ?"
                    f" WHERE issue = ? AND email = ? AND state = '{DeliveryState.UNKNOWN}'",
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
        for chunk in chunks(ids, 500):
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
