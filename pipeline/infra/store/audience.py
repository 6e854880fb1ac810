"""The audience: subscribers, their consent (append-only), sign-up tokens and limits; the readers'
own choices (provinces, themes, a pause), their personal links' key, and erasure ('vergeet mij')."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.domain.models import SubscriberStatus
from pipeline.domain.tokens import link_token, token_hash, token_matches
from pipeline.infra.store.engine import Database
from pipeline.infra.store.values import (
    IMPORTABLE,
    VIA_CONFIRM,
    VIA_IMPORT,
    VIA_SIGNUP,
    Consent,
    Person,
    Subscriber,
    _dt,
    _subscriber,
    _utc,
    _when,
)

ACTIVE, PENDING = SubscriberStatus.ACTIVE, SubscriberStatus.PENDING
UNSUBSCRIBED = SubscriberStatus.UNSUBSCRIBED
FORGOTTEN = "vergeten:"  # an erased address's place in the consent history and the ledger: + its hash
VIA_PREFERENCES = "via /voorkeuren"
LINKS_KEY, FORGET_KEY = "links", "forget"


@dataclass(frozen=True)
class Reader:
    """A subscriber as her preferences page shows her: what we keep, and what she chose."""

    email: str
    name: str | None
    organisation: str | None
    province: str | None
    status: str
    provinces: tuple[str, ...]  # () is everything
    themes: tuple[str, ...]
    paused_until: dt.datetime | None
    since: dt.datetime | None
    basis: str | None
    source: str


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(x for x in (value or "").split(",") if x)


def _reader(row: Any) -> Reader:
    return Reader(
        row["email"], row["name"], row["organisation"], row["province"], row["status"],
        _ids(row["provinces"]), _ids(row["themes"]), _dt(row["paused_until"]), _dt(row["since"]),
        row["basis"], row["source"],
    )  # fmt: skip


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
            # Her own confirmation brings back someone who asked to be forgotten.
            db.execute("DELETE FROM suppressions WHERE address_hash = ?", (self.address_hash(row["email"]),))
        return "confirmed", row["email"]

    def token_state(self, token_hash: str, now: dt.datetime) -> str:
        """What a confirmation link would do, without using it: 'valid', 'used', 'expired' or 'unknown'."""
        row = self.db.execute(
            "SELECT used_at, expires_at FROM signup_tokens WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        if row is None:
            return "unknown"
        if row["used_at"]:
            return "used"
        return "expired" if _when(row["expires_at"]) <= now else "valid"

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
        whatever happened since (a sign-up she never confirmed changes nothing), and so does someone
        who asked to be forgotten (her keyed hash in ``suppressions``); returns counts."""
        at = _utc(now)
        counts = {"added": 0, "updated": 0, "already active": 0, "kept inactive": 0}
        with self.db.transaction() as db:
            for p in people:
                row = db.execute("SELECT status FROM subscribers WHERE email = ?", (p.email,)).fetchone()
                if row is not None and row["status"] not in IMPORTABLE:  # left the list (INACTIVE)
                    counts["kept inactive"] += 1
                    continue
                if row is None and self.forgotten(p.email):  # asked to be forgotten: only she brings her back
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
        status: str | None,
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

    # -- the readers' own page: links, choices, pause, unsubscribe, their data, erasure ---------------
    def _key(self, name: str) -> bytes:
        """The service's secret ``name``, made (32 random bytes) on first use."""
        row = self.db.execute("SELECT value FROM keys WHERE name = ?", (name,)).fetchone()
        if row is None:
            with self.db.transaction() as db:
                db.execute(
                    "INSERT INTO keys (name, value, created_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (name) DO NOTHING",
                    (name, secrets.token_hex(32), _utc(dt.datetime.now(dt.UTC))),
                )
            row = self.db.execute("SELECT value FROM keys WHERE name = ?", (name,)).fetchone()
        return bytes.fromhex(row["value"])

    def link_key(self) -> bytes:
        """The key of the personal links; every subscriber's link is findable with it afterwards."""
        key = self._key(LINKS_KEY)
        sql = "SELECT email FROM subscribers WHERE link_hash IS NULL"
        missing = [(token_hash(link_token(key, r["email"])), r["email"]) for r in self.db.execute(sql)]
        if missing:
            with self.db.transaction() as db:
                db.executemany("UPDATE subscribers SET link_hash = ? WHERE email = ?", missing)
        return key

    def new_link_key(self) -> int:
        """A new key for the personal links: every link in a mail sent before stops working; returns
        the number of subscribers whose link changed."""
        with self.db.transaction() as db:
            db.execute("DELETE FROM keys WHERE name = ?", (LINKS_KEY,))
            db.execute("UPDATE subscribers SET link_hash = NULL")
        self.link_key()
        return int(self.db.scalar("SELECT count(*) FROM subscribers"))

    def address_hash(self, email: str) -> str:
        """The keyed hash of an address, all that is kept of someone forgotten (``suppressions``)."""
        key = self._key(FORGET_KEY)
        return hmac.new(key, email.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()

    def forgotten(self, email: str) -> bool:
        sql = "SELECT 1 FROM suppressions WHERE address_hash = ?"
        return self.db.execute(sql, (self.address_hash(email),)).fetchone() is not None

    def reader(self, token: str) -> Reader | None:
        """The subscriber whose personal link carries ``token``, or None (a wrong, old or forged
        link); the token is checked against her address in constant time."""
        if not token or len(token) > 100:
            return None
        key = self.link_key()
        row = self.db.execute(
            "SELECT * FROM subscribers WHERE link_hash = ?", (token_hash(token),)
        ).fetchone()
        if row is None or not token_matches(key, row["email"], token):
            return None
        return _reader(row)

    def reader_by_email(self, email: str) -> Reader | None:
        row = self.db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
        return _reader(row) if row else None

    def set_choices(
        self, email: str, provinces: Iterable[str], themes: Iterable[str], now: dt.datetime
    ) -> None:
        """Her provinces and themes (ids; none: everything)."""
        with self.db.transaction() as db:
            db.execute(
                "UPDATE subscribers SET provinces = ?, themes = ?, updated_at = ? WHERE email = ?",
                (",".join(provinces), ",".join(themes), _utc(now), email),
            )

    def pause(self, email: str, until: dt.datetime | None, now: dt.datetime) -> None:
        """No issue until ``until`` (None: the pause ends now)."""
        with self.db.transaction() as db:
            db.execute(
                "UPDATE subscribers SET paused_until = ?, updated_at = ? WHERE email = ?",
                (_utc(until) if until else None, _utc(now), email),
            )

    def resubscribe(self, email: str, now: dt.datetime) -> bool:
        """Undo her own unsubscribe (from her personal link): active again, on record."""
        at = _utc(now)
        with self.db.transaction() as db:
            changed = db.execute(
                f"UPDATE subscribers SET status = '{ACTIVE}', reason = NULL, updated_at = ?"
                f" WHERE email = ? AND status = '{UNSUBSCRIBED}'",
                (at, email),
            ).rowcount
            if changed:
                self._record(email, at, "confirm", ACTIVE, f"afmelden ongedaan gemaakt {VIA_PREFERENCES}")
        return bool(changed)

    def personal_data(self, email: str) -> dict[str, Any]:
        """Everything kept about ``email`` (AVG article 15): her row, her consent history, SendGrid's
        events about her (clicks included) and the issues sent to her."""
        row = self.db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
        subscriber = {k: row[k] for k in row.keys() if k != "link_hash"}  # noqa: SIM118 (a row iterates its values) if row else None
        consents = [
            {"at": _utc(c.at), "action": c.action, "status": c.status, "via": c.via, "form": c.form,
             "text_version": c.text_version, "basis": c.basis, "reason": c.reason}
            for c in self.consents(email)
        ]  # fmt: skip
        sql = "SELECT type, at, issue, url, reason FROM events WHERE email = ? ORDER BY at, id"
        events = [
            {k: r[k] for k in ("type", "at", "issue", "url", "reason")}
            for r in self.db.execute(sql, (email,))
        ]
        sql = "SELECT issue, state, updated_at FROM deliveries WHERE email = ? ORDER BY issue"
        sent = [{k: r[k] for k in ("issue", "state", "updated_at")} for r in self.db.execute(sql, (email,))]
        return {"subscriber": subscriber, "consents": consents, "events": events, "deliveries": sent}

    def erase(self, email: str, now: dt.datetime) -> None:
        """'Vergeet mij': her personal data removed from every table, in one transaction. What stays
        is her keyed hash: in ``suppressions`` (no import brings her back; her own confirmation
        does), and in place of her address in the consent history (the records stay, as the proof
        of consent and withdrawal the AVG asks to keep; the schema lets only this change them) and
        in the delivery ledger (the counts of past sends stay right). Her events keep no address."""
        at, forgotten = _utc(now), FORGOTTEN + self.address_hash(email)
        with self.db.transaction() as db:
            db.execute("UPDATE consents SET email = ? WHERE email = ?", (forgotten, email))
            self._record(forgotten, at, "erase", None, f"vergeet mij {VIA_PREFERENCES}")
            db.execute("DELETE FROM subscribers WHERE email = ?", (email,))
            db.execute("DELETE FROM signup_tokens WHERE email = ?", (email,))
            db.execute("UPDATE deliveries SET email = ?, name = NULL WHERE email = ?", (forgotten, email))
            db.execute("UPDATE events SET email = NULL WHERE email = ?", (email,))
            db.execute(
                "INSERT INTO suppressions (address_hash, at, reason) VALUES (?, ?, ?)"
                " ON CONFLICT (address_hash) DO NOTHING",
                (forgotten.removeprefix(FORGOTTEN), at, "erased on request"),
            )

    def choice_counts(self) -> tuple[Counter[str], Counter[str]]:
        """How many active subscribers chose each province and each theme ('' : everything)."""
        provinces: Counter[str] = Counter()
        themes: Counter[str] = Counter()
        for r in self.db.execute(f"SELECT provinces, themes FROM subscribers WHERE status = '{ACTIVE}'"):
            provinces.update(_ids(r["provinces"]) or ("",))
            themes.update(_ids(r["themes"]) or ("",))
        return provinces, themes
