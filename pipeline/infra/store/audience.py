"""The audience: subscribers, their consent (append-only), sign-up tokens and limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from pipeline.domain.models import SubscriberStatus
from pipeline.infra.store.engine import Database
from pipeline.infra.store.values import (
    IMPORTABLE,
    VIA_CONFIRM,
    VIA_IMPORT,
    VIA_SIGNUP,
    Consent,
    Person,
    Subscriber,
    _subscriber,
    _utc,
    _when,
)

ACTIVE, PENDING = SubscriberStatus.ACTIVE, SubscriberStatus.PENDING


class Audience:
    db: Database

    # -- the audience: subscribers, consent, sign-up tokens, SendGrid's events (audience) ------------
    def has_subscribers(self) -> bool:
        """Whether the list lives here (any sign-up or import); else sends read the CSV of old."""
        return self.db.execute("SELECT 1 FROM subscribers LIMIT 1").fetchone() is not None

    def subscriber(self, email: str) -> Subscriber | None:
        row = self.db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
        return _subscriber(row) if row else None

    def subscriber_counts(self) -> dict[str, int]:
        sql = "SELECT status, count(*) FROM subscribers GROUP BY status ORDER BY status"
        return {r[0]: int(r[1]) for r in self.db.execute(sql)}

    def active_subscribers(self) -> Iterator[Subscriber]:
        """The active subscribers, in the order they became active (a stream: the list can be long)."""
        sql = f"SELECT * FROM subscribers WHERE status = '{ACTIVE}' ORDER BY since, email"
        for row in self.db.execute(sql):
            yield _subscriber(row)

    def signup(self, person: Person, token_hash: str, expires: dt.datetime, now: dt.datetime) -> str:
        """Record a sign-up through a form and its confirmation token; return the subscriber's status
        before it ('new', 'pending', 'active', or the status of someone who left the list).

        Nothing about an existing subscriber changes (status, reason, name, organisation, province):
        anyone can type any address. The details the form sent wait with the token and count only
        when the link is used (``confirm``). A new address is added as 'pending', without details.
        An active subscriber gets no token. The sign-up is on record either way."""
        at = _utc(now)
        with self.db.transaction() as db:
            row = db.execute("SELECT status FROM subscribers WHERE email = ?", (person.email,)).fetchone()
            before = row["status"] if row else "new"
            if before == ACTIVE:
                return before
            if row is None:
                db.execute(
                    "INSERT INTO subscribers (email, status, source, created_at, updated_at)"
                    f" VALUES (?, '{PENDING}', ?, ?, ?)",
                    (person.email, person.form, at, at),
                )
            db.execute(
                "INSERT INTO signup_tokens (token_hash, email, form, text_version, created_at, expires_at,"
                " name, organisation, province) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (token_hash, person.email, person.form, person.text_version, at, _utc(expires),
                 person.name, person.organisation, person.province),
            )  # fmt: skip
            self._record(
                person.email, at, "signup", PENDING if row is None else before, VIA_SIGNUP,
                form=person.form, text_version=person.text_version,
            )  # fmt: skip
        return str(before)

    def confirm(self, token_hash: str, now: dt.datetime) -> tuple[str, str | None]:
        """Use a confirmation token: ('confirmed' | 'used' | 'expired' | 'unknown', the address or None).

        Confirmed, the subscriber is active with consent as the basis, with the name, organisation
        and province of that sign-up (where it gave them), also after having left the list: this is
        a new consent, on record with when, through which form, which version of the consent text.
        """
        at = _utc(now)
        with self.db.transaction() as db:
            row = db.execute("SELECT * FROM signup_tokens WHERE token_hash = ?", (token_hash,)).fetchone()
            if row is None:
                return "unknown", None
            if row["used_at"]:
                return "used", row["email"]
            if _when(row["expires_at"]) <= now:
                return "expired", row["email"]
            db.execute("UPDATE signup_tokens SET used_at = ? WHERE token_hash = ?", (at, token_hash))
            db.execute(
                "INSERT INTO subscribers (email, name, organisation, province, status, basis, source, since,"
                f" created_at, updated_at) VALUES (?, ?, ?, ?, '{ACTIVE}', 'consent', ?, ?, ?, ?)"
                " ON CONFLICT(email) DO UPDATE SET name = coalesce(excluded.name, subscribers.name),"
                " organisation = coalesce(excluded.organisation, subscribers.organisation),"
                " province = coalesce(excluded.province, subscribers.province),"
                f" since = CASE subscribers.status WHEN '{ACTIVE}'"
                " THEN coalesce(subscribers.since, excluded.since)"
                " ELSE excluded.since END,"
                f" status = '{ACTIVE}', reason = NULL, basis = 'consent', source = excluded.source,"
                " updated_at = excluded.updated_at",
                (row["email"], row["name"], row["organisation"], row["province"], row["form"] or "aanmelden",
                 at, at, at),
            )  # fmt: skip
            self._record(
                row["email"], at, "confirm", ACTIVE, VIA_CONFIRM,
                form=row["form"], text_version=row["text_version"], basis="consent",
            )  # fmt: skip
        return "confirmed", row["email"]

    def allow(self, key: str, limit: int, window: dt.timedelta, now: dt.datetime) -> bool:
        """Count one more event for ``key`` (a client's sign-up) unless it had ``limit`` in the last
        ``window``. Kept in the database, so that every web host counts the same events; the key's
        row is locked until the commit, so two hosts at once count one after the other."""
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO rate_keys (key) VALUES (?) ON CONFLICT (key) DO UPDATE SET key = excluded.key",
                (key,),
            )
            db.execute("DELETE FROM rate_hits WHERE key = ? AND at < ?", (key, _utc(now - window)))
            if int(db.scalar("SELECT count(*) FROM rate_hits WHERE key = ?", (key,))) >= limit:
                return False
            db.execute("INSERT INTO rate_hits (key, at) VALUES (?, ?)", (key, _utc(now)))
        return True

    def recent_signups(self, email: str, since: dt.datetime) -> int:
        """Confirmation mails asked for one address since ``since`` (a limit per address)."""
        sql = "SELECT count(*) FROM signup_tokens WHERE email = ? AND created_at >= ?"
        return int(self.db.execute(sql, (email, _utc(since))).fetchone()[0])

    def import_subscribers(
        self, people: Iterable[Person], basis: str, source: str, now: dt.datetime
    ) -> dict[str, int]:
        """An existing list brought in as active, with its legal basis. Someone who left the list
        (``INACTIVE``: unsubscribed, bounced, complained, dropped as invalid) stays as they are,
        whatever happened since (a sign-up she never confirmed changes nothing); returns counts."""
        at = _utc(now)
        counts = {"added": 0, "updated": 0, "already active": 0, "kept inactive": 0}
        with self.db.transaction() as db:
            for p in people:
                row = db.execute("SELECT status FROM subscribers WHERE email = ?", (p.email,)).fetchone()
                if row is not None and row["status"] not in IMPORTABLE:  # left the list (INACTIVE)
                    counts["kept inactive"] += 1
                    continue
                if row is None:
                    db.execute(
                        "INSERT INTO subscribers (email, name, organisation, province, status, basis, source,"
                        f" since, created_at, updated_at) VALUES (?, ?, ?, ?, '{ACTIVE}', ?, ?, ?, ?, ?)",
                        (p.email, p.name, p.organisation, p.province, basis, source, at, at, at),
                    )
                    counts["added"] += 1
                else:
                    counts["already active" if row["status"] == ACTIVE else "updated"] += 1
                    db.execute(
                        "UPDATE subscribers SET name = coalesce(?, name),"
                        " organisation = coalesce(?, organisation), province = coalesce(?, province),"
                        f" status = '{ACTIVE}', basis = coalesce(basis, ?), since = coalesce(since, ?),"
                        " updated_at = ? WHERE email = ?",
                        (p.name, p.organisation, p.province, basis, at, at, p.email),
                    )
                self._record(p.email, at, "import", ACTIVE, VIA_IMPORT, form=source, basis=basis)
        return counts

    def consents(self, email: str) -> list[Consent]:
        """The consent history of one address, oldest first: what the AVG asks to show."""
        sql = (
            "SELECT at, action, status, via, form, text_version, basis, reason FROM consents"
            " WHERE email = ? ORDER BY id"
        )
        return [
            Consent(_when(r["at"]), r["action"], r["status"], r["via"], r["form"], r["text_version"],
                    r["basis"], r["reason"])
            for r in self.db.execute(sql, (email,))
        ]  # fmt: skip

    def _record(
        self,
        email: str,
        at: str,
        action: str,
        status: str,
        via: str,
        *,
        form: str | None = None,
        text_version: str | None = None,
        basis: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Append one consent record (the table takes no other change). Call inside a transaction."""
        self.db.execute(
            "INSERT INTO consents (email, at, action, status, via, form, text_version, basis, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (email, at, action, status, via, form, text_version, basis, reason),
        )

    def deactivate(
        self, email: str, status: SubscriberStatus, reason: str, now: dt.datetime, *, via: str = "webhook"
    ) -> bool:
        """A bounce, a spam report or an unsubscribe: the subscriber gets no more mail, at once; the
        change is on record with ``via`` (e.g. 'webhook: unsubscribe') and the reason."""
        at = _utc(now)
        with self.db.transaction() as db:
            changed = db.execute(
                "UPDATE subscribers SET status = ?, reason = ?, updated_at = ?"
                " WHERE email = ? AND status != ?",
                (status, reason, at, email, status),
            ).rowcount
            if changed:
                self._record(email, at, "withdraw", status, via, reason=reason)
        return bool(changed)
