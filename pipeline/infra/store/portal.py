"""The partner portal's rows: sign-in links and sessions (only their sha256 is kept), and the saves
the editors are told about once a day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipeline.infra.store.engine import Database
from pipeline.infra.store.values import _utc, _when


@dataclass(frozen=True)
class PortalSession:
    """Who is signed in: the partner and the contact's address, until ``expires``."""

    partner: str
    email: str
    expires: dt.datetime


@dataclass(frozen=True)
class PortalSave:
    """One file a partner saved (or withdrew) in the portal."""

    id: int
    at: dt.datetime
    partner: str
    path: str
    action: str


class Portal:
    db: Database

    # -- sign-in links ------------------------------------------------------------------------------
    def add_portal_token(
        self, token_hash: str, partner: str, email: str, now: dt.datetime, expires: dt.datetime
    ) -> None:
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO portal_tokens (token_hash, partner, email, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (token_hash, partner, email, _utc(now), _utc(expires)),
            )

    def use_portal_token(self, token_hash: str, now: dt.datetime) -> tuple[str, PortalSession | None]:
        """Use a sign-in link once: ('ok', who), or ('used' | 'expired' | 'unknown', None). The row is
        marked used in the same statement that finds it, so two presses at once sign in one."""
        with self.db.transaction() as db:
            row = db.execute(
                "UPDATE portal_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL"
                " AND expires_at > ? RETURNING partner, email, expires_at",
                (_utc(now), token_hash, _utc(now)),
            ).fetchone()
            if row is not None:
                return "ok", PortalSession(row["partner"], row["email"], _when(row["expires_at"]))
            old = db.execute(
                "SELECT used_at FROM portal_tokens WHERE token_hash = ?", (token_hash,)
            ).fetchone()
        if old is None:
            return "unknown", None
        return ("used" if old["used_at"] else "expired"), None

    # -- sessions -----------------------------------------------------------------------------------
    def start_portal_session(self, session_hash: str, who: PortalSession, now: dt.datetime) -> None:
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO portal_sessions (session_hash, partner, email, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (session_hash, who.partner, who.email, _utc(now), _utc(who.expires)),
            )
            # Old rows go: sessions and links that ended more than a day ago.
            day = _utc(now - dt.timedelta(days=1))
            db.execute("DELETE FROM portal_sessions WHERE expires_at < ?", (day,))
            db.execute("DELETE FROM portal_tokens WHERE expires_at < ?", (day,))

    def portal_session(self, session_hash: str, now: dt.datetime) -> PortalSession | None:
        row = self.db.execute(
            "SELECT partner, email, expires_at FROM portal_sessions"
            " WHERE session_hash = ? AND ended_at IS NULL AND expires_at > ?",
            (session_hash, _utc(now)),
        ).fetchone()
        return PortalSession(row["partner"], row["email"], _when(row["expires_at"])) if row else None

    def end_portal_session(self, session_hash: str, now: dt.datetime) -> None:
        with self.db.transaction() as db:
            db.execute(
                "UPDATE portal_sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL",
                (_utc(now), session_hash),
            )

    # -- what the editors are told ------------------------------------------------------------------
    def add_portal_save(self, partner: str, path: str, action: str, now: dt.datetime) -> None:
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO portal_saves (at, partner, path, action) VALUES (?, ?, ?, ?)",
                (_utc(now), partner, path, action),
            )

    def portal_saves(self, *, untold: bool = False, since: dt.datetime | None = None) -> list[PortalSave]:
        """The saves (those not yet mailed to the editors, or those since ``since``), oldest first."""
        sql = "SELECT id, at, partner, path, action FROM portal_saves WHERE 1 = 1"
        args: list[object] = []
        if untold:
            sql += " AND told_at IS NULL"
        if since is not None:
            sql += " AND at >= ?"
            args.append(_utc(since))
        rows = self.db.execute(sql + " ORDER BY at, id", tuple(args))
        return [PortalSave(int(r["id"]), _when(r["at"]), r["partner"], r["path"], r["action"]) for r in rows]

    def last_portal_digest(self) -> dt.datetime | None:
        value = self.db.scalar("SELECT max(told_at) FROM portal_saves")
        return _when(value) if value else None

    def mark_portal_told(self, ids: list[int], now: dt.datetime) -> None:
        with self.db.transaction() as db:
            for i in ids:
                db.execute("UPDATE portal_saves SET told_at = ? WHERE id = ?", (_utc(now), i))

    # -- what the partner's page shows --------------------------------------------------------------
    def item_ids_by_url(self, urls: list[str]) -> dict[str, str]:
        """url -> the id of the collected item with that (canonical) url, for those collected."""
        out: dict[str, str] = {}
        for url in dict.fromkeys(urls):
            row = self.db.execute("SELECT id FROM items WHERE url = ?", (url,)).fetchone()
            if row is not None:
                out[url] = row["id"]
        return out
