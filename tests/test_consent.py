"""Consent that only its owner can give back: run as a reader, an attacker and an editor would.

A real `newsletter serve` on loopback, SendGrid's webhook calls signed with a key pair made here,
`newsletter subscribers import` and `export` as separate processes, and what is kept read straight
from the state database with sqlite3. Whoever left the list (unsubscribed, bounced, complained,
dropped) stays gone until she herself follows a confirmation link; a sign-up in her name by
someone else changes nothing about her, and every change of her status is on record.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import newsletter
from servers import Service, running_serve
from test_serve import SIGNER, client, sign_up, webhook

from pipeline import audience
from pipeline.infra.store import MIGRATIONS, Store

ANNA = "anna@example.org"
PUBLIC = "aangemeld via /aanmelden"
CONFIRMED = "bevestigd via /bevestig"


# The tests with a service run on both engines; on PostgreSQL they are slow (a database each).
BOTH_ENGINES = pytest.mark.parametrize(
    "engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], indirect=True
)


@pytest.fixture
def service(demo_root: Path, engine: str) -> Iterator[Service]:
    with running_serve(demo_root, env={"SENDGRID_WEBHOOK_PUBLIC_KEY": SIGNER.public_key}) as s:
        yield s


class _Row(tuple[Any, ...]):
    """A PostgreSQL row that answers to a column's name too, like sqlite3.Row."""

    names: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        return tuple.__getitem__(self, self.names[key] if isinstance(key, str) else key)


class _Postgres:
    """psycopg with sqlite3's '?' placeholders, enough for the queries below."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

        def rows(cursor: Any) -> Any:
            kind = type(
                "Row", (_Row,), {"names": {c.name: i for i, c in enumerate(cursor.description or ())}}
            )
            return kind

        self.conn.row_factory = rows

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s"), args)

    def close(self) -> None:
        self.conn.close()


@contextmanager
def db(root: Path) -> Iterator[Any]:
    """The state database, read (and written) with sqlite3 or psycopg alone, not through the
    pipeline's Store: PostgreSQL when the test runs on it (NEWSLETTER_DATABASE_URL)."""
    url = os.environ.get("NEWSLETTER_DATABASE_URL")
    connection: Any
    if url:
        connection = _Postgres(url)
    else:
        connection = sqlite3.connect(root / "state" / "newsletter.sqlite3")
        connection.row_factory = sqlite3.Row
    try:
        yield connection
    finally:
        connection.close()


def subscriber(root: Path, address: str) -> tuple[str, str | None, str | None, str | None, str | None]:
    with db(root) as c:
        row = c.execute(
            "SELECT status, reason, name, organisation, province FROM subscribers WHERE email = ?", (address,)
        ).fetchone()
    return tuple(row)


def history(root: Path, address: str) -> list[tuple[str, str, str]]:
    """(action, status after it, how) of every consent record of one address, in the order written."""
    with db(root) as c:
        rows = c.execute(
            "SELECT action, status, via FROM consents WHERE email = ? ORDER BY id", (address,)
        ).fetchall()
    return [tuple(r) for r in rows]


def tokens(root: Path) -> set[tuple[str, str]]:
    """(address, token) of every confirmation mail in the outbox."""
    found = set()
    for path in (root / "outbox" / "aanmelden").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        token = re.search(r"/bevestig\?token=([A-Za-z0-9_-]+)", message.get_body(("plain",)).get_content())
        assert token, path
        found.add((str(message["To"]), token.group(1)))
    return found


def new_token(root: Path, known: set[tuple[str, str]], address: str, timeout: float = 30) -> str:
    """The token of the confirmation mail to ``address`` that was not among ``known``. The mail goes
    out after the sign-up is written, so once it is there the database has the sign-up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [t for a, t in tokens(root) - known if a == address]
        if fresh:
            [token] = fresh
            return token
        time.sleep(0.05)
    raise AssertionError(f"no new confirmation mail to {address} within {timeout} s")


def event(kind: str, address: str, event_id: str, **extra: object) -> dict[str, object]:
    return {"sg_event_id": event_id, "event": kind, "email": address, "timestamp": int(time.time()), **extra}


def import_list(root: Path, rows: list[str], name: str = "oudelijst.csv") -> str:
    path = root / name
    path.write_text("email,name,organisation,province\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = newsletter(
        root, "subscribers", "import", str(path), "--basis", "toestemming oud formulier (2024)"
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def exported(root: Path) -> list[str]:
    result = newsletter(root, "subscribers", "export")
    assert result.returncode == 0, result.stderr
    return sorted(line.split(",")[0] for line in result.stdout.splitlines()[1:])


@BOTH_ENGINES
def test_a_sign_up_in_the_name_of_someone_who_unsubscribed_changes_nothing_and_no_import_brings_her_back(
    service: Service, demo_root: Path
) -> None:
    with client(service) as http:
        # Anna signs up and confirms: she is on the list with her consent.
        sign_up(http, ANNA, 1, name="Anna de Vries", organisation="GGD Utrecht", province="utrecht")
        first = new_token(demo_root, set(), ANNA)
        assert http.post("/bevestig", data={"token": first}).status_code == 200
        assert subscriber(demo_root, ANNA) == ("active", None, "Anna de Vries", "GGD Utrecht", "utrecht")

        # She unsubscribes (the link in the issue; SendGrid tells the webhook).
        assert webhook(http, [event("unsubscribe", ANNA, "u1")]).json() == {"stored": 1, "repeated": 0}
        left = ("unsubscribed", "unsubscribed", "Anna de Vries", "GGD Utrecht", "utrecht")
        assert subscriber(demo_root, ANNA) == left

        # Someone else types her address with a name and organisation of their own.
        known = tokens(demo_root)
        forged = sign_up(http, ANNA, 2, name="Mallory", organisation="Nep BV", province="zeeland")
        unknown = sign_up(http, "nieuw@example.org", 3, name="Mallory", organisation="Nep BV")
        assert forged.status_code == unknown.status_code == 200
        assert forged.text == unknown.text  # nobody learns that she was on the list
        forged_token = new_token(demo_root, known, ANNA)  # the link goes to her mailbox only
        assert subscriber(demo_root, ANNA) == left  # nothing about her changed

        # The editor brings in the old list, Anna on it.
        report = import_list(
            demo_root, [f"{ANNA},Anna de Vries,GGD Utrecht,utrecht", "piet@example.org,Piet,,"]
        )
        assert "kept inactive 1" in report and "added 1" in report
        assert subscriber(demo_root, ANNA) == left
        assert exported(demo_root) == ["piet@example.org"]

        # Anna herself signs up again, with her new organisation, and follows the link.
        known = tokens(demo_root)
        sign_up(http, ANNA, 4, name="Anna de Vries", organisation="RIVM")
        own = new_token(demo_root, known, ANNA)
        assert subscriber(demo_root, ANNA) == left  # not before she confirms
        assert http.post("/bevestig", data={"token": own}).status_code == 200
    assert subscriber(demo_root, ANNA) == ("active", None, "Anna de Vries", "RIVM", "utrecht")
    assert exported(demo_root) == [ANNA, "piet@example.org"]
    with db(demo_root) as c:  # the forged sign-up's details wait, unused, with its link
        waiting = c.execute(
            "SELECT name, organisation, province, used_at FROM signup_tokens WHERE token_hash = ?",
            (hashlib.sha256(forged_token.encode()).hexdigest(),),
        ).fetchone()
    assert tuple(waiting) == ("Mallory", "Nep BV", "zeeland", None)

    # Every change of her status is on record, with how it came about; the forged sign-up and her
    # own are on record too, without changing her status.
    assert history(demo_root, ANNA) == [
        ("signup", "pending", PUBLIC),
        ("confirm", "active", CONFIRMED),
        ("withdraw", "unsubscribed", "webhook: unsubscribe"),
        ("signup", "unsubscribed", PUBLIC),
        ("signup", "unsubscribed", PUBLIC),
        ("confirm", "active", CONFIRMED),
    ]
    with db(demo_root) as c:
        confirms = c.execute(
            "SELECT at, basis, form, text_version FROM consents WHERE email = ? AND action = 'confirm'"
            " ORDER BY id",
            (ANNA,),
        ).fetchall()
        since = c.execute("SELECT since, basis FROM subscribers WHERE email = ?", (ANNA,)).fetchone()
    assert len(confirms) == 2 and confirms[1]["at"] >= confirms[0]["at"]  # a new consent, not the old one
    assert [tuple(r)[1:] for r in confirms] == [("consent", "aanmelden", "1")] * 2
    assert (since["since"], since["basis"]) == (confirms[1]["at"], "consent")  # active since she came back


@BOTH_ENGINES
def test_the_consent_history_cannot_be_rewritten(service: Service, demo_root: Path) -> None:
    with client(service) as http:
        sign_up(http, ANNA, 1)
        new_token(demo_root, set(), ANNA)
    with db(demo_root) as c:
        for sql in ("UPDATE consents SET action = 'confirm'", "DELETE FROM consents"):
            with pytest.raises(Exception, match="consent records are append-only"):
                c.execute(sql)
    assert history(demo_root, ANNA) == [("signup", "pending", PUBLIC)]


@BOTH_ENGINES
@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("bounce", "bounced"),
        ("spamreport", "complained"),
        ("dropped", "invalid"),
        ("group_unsubscribe", "unsubscribed"),
    ],
)
def test_an_import_never_brings_back_someone_sendgrid_took_off_the_list(
    service: Service, demo_root: Path, kind: str, status: str
) -> None:
    rows = [f"{ANNA},Anna de Vries,GGD Utrecht,utrecht", "piet@example.org,Piet,,"]
    assert "added 2" in import_list(demo_root, rows)
    with client(service) as http:
        answer = webhook(http, [event(kind, ANNA, "e1", reason="SendGrid's reason")])
        assert answer.json() == {"stored": 1, "repeated": 0}
        assert subscriber(demo_root, ANNA) == (
            status,
            "SendGrid's reason",
            "Anna de Vries",
            "GGD Utrecht",
            "utrecht",
        )
        sign_up(http, ANNA, 2, name="Mallory", organisation="Nep BV")  # in between: never confirmed
        new_token(demo_root, set(), ANNA)
    assert "kept inactive 1" in import_list(demo_root, rows, "nog-eens.csv")
    assert subscriber(demo_root, ANNA) == (
        status,
        "SendGrid's reason",
        "Anna de Vries",
        "GGD Utrecht",
        "utrecht",
    )
    assert exported(demo_root) == ["piet@example.org"]
    assert history(demo_root, ANNA) == [
        ("import", "active", "import"),
        ("withdraw", status, f"webhook: {kind}"),
        ("signup", status, PUBLIC),
    ]


# -- a state database of the previous release (schema 6) ------------------------------------------------
SCHEMA_6_ROWS = """
INSERT INTO subscribers VALUES
  ('anna@example.org', 'Mallory', 'Nep BV', NULL, 'pending', NULL, 'consent', 'aanmelden',
   '2026-10-01T09:00:00+00:00', '2026-10-01T08:00:00+00:00', '2026-11-03T10:00:00+00:00'),
  ('bram@example.org', 'Bram', NULL, NULL, 'bounced', '550 no such user', 'leden', 'import:leden.csv',
   '2026-10-01T09:00:00+00:00', '2026-10-01T09:00:00+00:00', '2026-11-02T10:00:00+00:00'),
  ('carla@example.org', 'Carla', NULL, NULL, 'active', NULL, 'leden', 'import:leden.csv',
   '2026-10-01T09:00:00+00:00', '2026-10-01T09:00:00+00:00', '2026-10-01T09:00:00+00:00'),
  ('dirk@example.org', NULL, NULL, NULL, 'pending', NULL, NULL, 'aanmelden',
   NULL, '2026-11-04T09:00:00+00:00', '2026-11-04T09:00:00+00:00');
INSERT INTO consents VALUES
  ('anna@example.org', '2026-10-01T08:00:00+00:00', 'signup', 'aanmelden', '1', NULL),
  ('anna@example.org', '2026-10-01T09:00:00+00:00', 'confirm', 'aanmelden', '1', 'consent'),
  ('bram@example.org', '2026-10-01T09:00:00+00:00', 'import', 'import:leden.csv', NULL, 'leden'),
  ('carla@example.org', '2026-10-01T09:00:00+00:00', 'import', 'import:leden.csv', NULL, 'leden'),
  ('anna@example.org', '2026-11-01T10:00:00+00:00', 'withdraw', NULL, NULL, 'unsubscribed'),
  ('bram@example.org', '2026-11-02T10:00:00+00:00', 'withdraw', NULL, NULL, '550 no such user'),
  ('anna@example.org', '2026-11-03T10:00:00+00:00', 'signup', 'aanmelden', '1', NULL),
  ('dirk@example.org', '2026-11-04T09:00:00+00:00', 'signup', 'aanmelden', '1', NULL);
INSERT INTO events (id, type, email, at, received_at) VALUES
  ('u1', 'unsubscribe', 'anna@example.org', '2026-11-01T10:00:00+00:00', '2026-11-01T10:00:01+00:00'),
  ('b1', 'bounce', 'bram@example.org', '2026-11-02T10:00:00+00:00', '2026-11-02T10:00:01+00:00');
"""


def test_a_schema_6_database_upgrades_and_whoever_its_sign_up_set_back_to_pending_has_left_again(
    demo_root: Path,
) -> None:
    # The previous release's database, as its sign-up left it: Anna unsubscribed, then someone signed
    # her up as Mallory, which set her to pending; Dirk's link (schema 6: no details) is still open.
    path = demo_root / "state" / "newsletter.sqlite3"
    path.parent.mkdir(exist_ok=True)
    with closing(sqlite3.connect(path)) as c:
        for _version, _what, sql in sorted(MIGRATIONS)[:6]:
            c.executescript(sql)
        c.executescript(SCHEMA_6_ROWS)
        c.execute(
            "INSERT INTO signup_tokens VALUES (?, 'dirk@example.org', 'aanmelden', '1',"
            " '2026-11-04T09:00:00+00:00', '2099-01-01T00:00:00+00:00', NULL)",
            (hashlib.sha256(b"dirks-link").hexdigest(),),
        )
        c.execute("PRAGMA user_version = 6")
        c.commit()

    report = import_list(demo_root, ["anna@example.org,,,", "bram@example.org,,,", "carla@example.org,,,"])
    assert "kept inactive 2" in report and "already active 1" in report
    assert exported(demo_root) == ["carla@example.org"]
    with db(demo_root) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 13
        anna = c.execute("SELECT status, reason FROM subscribers WHERE email = 'anna@example.org'").fetchone()
        withdrawals = c.execute(
            "SELECT email, status, via, reason, basis FROM consents WHERE action = 'withdraw' ORDER BY rowid"
        ).fetchall()
    assert tuple(anna) == ("unsubscribed", "unsubscribed")
    assert [tuple(r) for r in withdrawals] == [
        ("anna@example.org", None, "webhook", "unsubscribed", None),  # schema 6 kept the reason in basis
        ("bram@example.org", None, "webhook", "550 no such user", None),
        ("anna@example.org", "unsubscribed", "hersteld bij schema 7: vertrokken en niet opnieuw bevestigd",
         "unsubscribed", None),
    ]  # fmt: skip
    assert history(demo_root, "carla@example.org") == [
        ("import", "active", "import"),
        ("import", "active", "import"),
    ]

    # Dirk's link from before the upgrade still works.
    with Store(path) as store:
        assert audience.confirm(store, "dirks-link", dt.datetime(2026, 11, 5, tzinfo=dt.UTC)) == "confirmed"
    assert subscriber(demo_root, "dirk@example.org") == ("active", None, None, None, None)
    assert history(demo_root, "dirk@example.org")[-1] == ("confirm", "active", CONFIRMED)
