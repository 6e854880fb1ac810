"""What went out to the list: the sent issues, their editions and items, as kept before the send."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pipeline.domain.models import DeliveryState, Placement, Rendered
from pipeline.infra.store.engine import Database
from pipeline.infra.store.values import _SENT, SentIssue, SentPlacement, _sent_issue, _utc

PENDING, IN_FLIGHT, FAILED, SKIPPED = (DeliveryState.PENDING, DeliveryState.IN_FLIGHT, DeliveryState.FAILED,
                                        DeliveryState.SKIPPED)  # fmt: skip


class SentIssues:
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
