"""The reader's own page, as she reaches it: a list mail from the real outbox, its personal link, a real
`newsletter serve` on loopback, the state database on disk (and PostgreSQL for the erasure). The demo
runs once for the module (an issue sent, subscribers imported, clicks stored); each test takes its
own reader, so that none depends on another's order."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from conftest import newsletter
from sendgrid_mock import API_KEY, MockProxy
from servers import Service, running_serve
from test_serve import SIGNER, webhook

from pipeline.audience.preferences import pause_end
from pipeline.deliver import open_transport
from pipeline.domain.models import Rendered
from pipeline.domain.tokens import link_token
from pipeline.infra.instance import load_config
from pipeline.infra.store import Person, Store

BASE = "http://127.0.0.1:8080"  # the demo has no public_url: links start where serve would listen


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prefs") / "demo"
    done = newsletter(folder, "demo", str(folder), timeout=300)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture(scope="module")
def service(demo: Path) -> Iterator[Service]:
    with running_serve(demo, env={"SENDGRID_WEBHOOK_PUBLIC_KEY": SIGNER.public_key}) as s:
        yield s


@pytest.fixture
def http(service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.base, timeout=30, follow_redirects=False) as c:
        yield c


def state(root: Path) -> Store:
    return Store(load_config(root).settings.state)


def token_of(root: Path, address: str) -> str:
    with state(root) as store:
        return link_token(store.link_key(), address)


def row(root: Path, address: str) -> sqlite3.Row | None:
    with closing(sqlite3.connect(root / "state" / "newsletter.sqlite3")) as c:
        c.row_factory = sqlite3.Row
        return c.execute("SELECT * FROM subscribers WHERE email = ?", (address,)).fetchone()  # type: ignore[no-any-return]


def audience(root: Path, now: dt.datetime) -> set[str]:
    """Who the send would mail at ``now``: the send's own selection of the list."""
    with state(root) as store:
        store.load_active_audience((), now)
        return {r[0] for r in store.db.execute("SELECT email FROM audience")}


def list_mail(root: Path, address: str, name: str) -> EmailMessage:
    """The demo's issue as the list send writes it for one reader into the outbox (the real transport)."""
    config = load_config(root)
    with state(root) as store:
        sent = store.sent_issue("2026-12")
    assert sent is not None
    rendered = Rendered(sent.id, sent.subject, sent.preheader, sent.html, sent.text, sent.web_html)
    batch = f"ob{abs(hash(address)) % 10**8:08d}"
    result = open_transport(config, {}).send(
        rendered, [(address, name)], config.settings, request=1, test=False, send_at=None, batch_id=batch
    )
    assert result.answer.value == "accepted"
    path = root / "outbox" / "2026-12" / f"{batch}-00001-0001.eml"
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def test_a_list_mail_carries_her_own_link_in_both_parts_and_her_one_click_address_in_its_header(
    demo: Path, http: httpx.Client
) -> None:
    message = list_mail(demo, "carla@example.org", "Carla")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    token = token_of(demo, "carla@example.org")
    assert f"{BASE}/voorkeuren?t={token}" in text and f"{BASE}/voorkeuren/afmelden?t={token}" in text
    assert f'href="{BASE}/voorkeuren?t={token}"' in html
    assert f'href="{BASE}/voorkeuren/afmelden?t={token}"' in html
    assert "asm_" not in text + html  # no SendGrid group page any more
    assert str(message["List-Unsubscribe"]) == (
        f"<{BASE}/voorkeuren/afmelden?t={token}>, <mailto:redactie@example.org?subject=afmelden%202026-12>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    page = http.get(f"/voorkeuren?t={token}")
    assert page.status_code == 200
    assert "<h1>Je voorkeuren</h1>" in page.text and "carla@example.org" in page.text
    assert "Noord-Brabant" in page.text  # the province she gave
    # Another reader's link shows her, and nobody else.
    daan = http.get(f"/voorkeuren?t={token_of(demo, 'daan.bakker@example.org')}")
    assert "daan.bakker@example.org" in daan.text and "carla" not in daan.text


def test_she_chooses_overijssel_and_onderwijs_and_the_page_keeps_it(demo: Path, http: httpx.Client) -> None:
    token = token_of(demo, "daan.bakker@example.org")
    saved = http.post("/voorkeuren", data={"t": token, "provincie-overijssel": "1", "thema-onderwijs": "1",
                                           "provincie-nergens": "1"})  # fmt: skip
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/voorkeuren?t={token}&klaar=bewaard#klaar"
    found = row(demo, "daan.bakker@example.org")
    assert found is not None and (found["provinces"], found["themes"]) == ("overijssel", "onderwijs")
    page = http.get(saved.headers["location"])
    assert "Je keuze is bewaard." in page.text
    assert page.text.count(" checked>") == 2
    assert 'name="provincie-overijssel" value="1" checked' in page.text
    assert 'name="thema-onderwijs" value="1" checked' in page.text
    # Every province ticked is the same as none: everything.
    provinces = {f"provincie-{p}": "1" for p in load_config(demo).taxonomy.provinces}
    http.post("/voorkeuren", data={"t": token, **provinces, "thema-onderwijs": "1"})
    found = row(demo, "daan.bakker@example.org")
    assert found is not None and (found["provinces"], found["themes"]) == ("", "onderwijs")


def test_one_click_unsubscribes_at_once_the_send_skips_her_and_she_can_undo_it(
    demo: Path, http: httpx.Client
) -> None:
    address = "user1@example.com"
    token = token_of(demo, address)
    now = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
    assert address in audience(demo, now)
    # Following the link (a GET, as a mail scanner does) only shows a button.
    assert "Meld me af" in http.get(f"/voorkeuren/afmelden?t={token}").text
    assert row(demo, address)["status"] == "active"  # type: ignore[index]

    one_click = http.post(f"/voorkeuren/afmelden?t={token}", content=b"List-Unsubscribe=One-Click",
                          headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert (one_click.status_code, one_click.text) == (200, "Je bent afgemeld.")
    assert row(demo, address)["status"] == "unsubscribed"  # type: ignore[index]
    assert address not in audience(demo, now)
    with closing(sqlite3.connect(demo / "state" / "newsletter.sqlite3")) as c:
        last = c.execute(
            "SELECT action, status, via FROM consents WHERE email = ? ORDER BY id DESC", (address,)
        )
        assert last.fetchone() == (
            "withdraw",
            "unsubscribed",
            "afgemeld via /voorkeuren/afmelden (one-click)",
        )

    undone = http.post("/voorkeuren/terug", data={"t": token})
    assert undone.status_code == 303 and row(demo, address)["status"] == "active"  # type: ignore[index]
    # RFC 8058's preferred form: multipart/form-data, as Gmail posts it.
    multipart = http.post(f"/voorkeuren/afmelden?t={token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert (multipart.status_code, multipart.text) == (200, "Je bent afgemeld.")
    assert row(demo, address)["status"] == "unsubscribed"  # type: ignore[index]
    undone = http.post("/voorkeuren/terug", data={"t": token})
    assert undone.status_code == 303
    assert "Je bent weer aangemeld." in http.get(undone.headers["location"]).text
    assert address in audience(demo, now)


def test_a_pause_keeps_her_out_of_sends_until_it_ends(demo: Path, http: httpx.Client) -> None:
    assert pause_end(dt.datetime(2026, 12, 31, 15, tzinfo=dt.UTC), 2) == dt.datetime(
        2027, 2, 28, tzinfo=dt.UTC
    )
    assert pause_end(dt.datetime(2026, 8, 7, tzinfo=dt.UTC), 6) == dt.datetime(2027, 2, 7, tzinfo=dt.UTC)
    address = "lezer@example.org"
    token = token_of(demo, address)
    assert http.post("/voorkeuren/pauze", data={"t": token, "maanden": "7"}).status_code == 400
    assert http.post("/voorkeuren/pauze", data={"t": token, "maanden": "2"}).status_code == 303
    found = row(demo, address)
    assert found is not None and found["paused_until"]
    until = dt.datetime.fromisoformat(found["paused_until"])
    assert 58 <= (until - dt.datetime.now(dt.UTC)).days <= 62
    assert address not in audience(demo, until - dt.timedelta(days=1))
    assert address in audience(demo, until)
    assert http.post("/voorkeuren/pauze", data={"t": token, "maanden": "0"}).status_code == 303
    assert row(demo, address)["paused_until"] is None  # type: ignore[index]


def test_her_data_downloads_as_json_with_her_consent_and_her_clicks(demo: Path, http: httpx.Client) -> None:
    got = http.get(f"/voorkeuren/gegevens?t={token_of(demo, 'carla@example.org')}")
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    assert got.headers["content-disposition"] == 'attachment; filename="mijn-gegevens.json"'
    data = json.loads(got.text)
    assert data["subscriber"]["email"] == "carla@example.org"
    assert data["subscriber"]["organisation"] == "Stichting Leergeld Brabant"
    assert "link_hash" not in data["subscriber"]
    assert [c["action"] for c in data["consents"]] == ["import"]
    clicks = sorted(e["url"].split("?")[0] for e in data["events"] if e["type"] == "click")
    assert clicks == [
        "https://www.jgz-fryslan.example.nl/nieuws/babyspullen-pilot",
        "https://www.rotterdam.example.nl/leerplicht/training-armoede",
        "https://www.zwolle.example.nl/nieuws/ontbijt-op-school",
    ]
    assert [d["issue"] for d in data["deliveries"]] == ["2026-12"]


def mails_to(folder: Path, address: str, timeout: float = 20) -> list[str]:
    """The plain-text parts of the mails to ``address`` in an outbox folder, once there is one
    (mails go out after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for path in sorted(folder.glob("*.eml")) if folder.exists() else ():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == address:
                found.append(message.get_body(("plain",)).get_content())
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def confirmation_token(root: Path, address: str) -> str:
    [text] = mails_to(root / "outbox" / "aanmelden", address)
    found = re.search(r"/bevestig\?token=([\w-]+)", text)
    assert found, text
    return found.group(1)


def dump(root: Path) -> str:
    with closing(sqlite3.connect(root / "state" / "newsletter.sqlite3")) as c:
        return "\n".join(c.iterdump()).lower()


def test_forget_me_leaves_her_address_nowhere_and_an_old_list_does_not_bring_her_back(
    demo: Path, http: httpx.Client
) -> None:
    address = "anna.devries@example.org"
    token = token_of(demo, address)
    assert dump(demo).count(address) > 5  # subscriber, consent, ledger, clicks: she is everywhere
    unsure = http.post("/voorkeuren/vergeten", data={"t": token})  # the box not ticked
    assert unsure.status_code == 400 and "Vink het vakje aan" in unsure.text
    assert row(demo, address) is not None

    gone = http.post("/voorkeuren/vergeten", data={"t": token, "zeker": "ja"})
    assert gone.status_code == 200 and "Je gegevens zijn gewist." in gone.text and "@" not in gone.text
    assert address not in dump(demo) and "anna" not in dump(demo)
    with closing(sqlite3.connect(demo / "state" / "newsletter.sqlite3")) as c:
        assert c.execute("SELECT count(*), min(reason) FROM suppressions").fetchone() == (
            1,
            "erased on request",
        )
        kept = c.execute("SELECT action FROM consents WHERE email LIKE 'vergeten:%' ORDER BY id").fetchall()
        assert [k[0] for k in kept] == ["import", "erase"]  # the proof of consent stays, without her
    assert http.get(f"/voorkeuren?t={token}").status_code == 403  # her link is dead
    # SendGrid's late click on an old mail is kept for the counts, without her.
    click = {"sg_event_id": "late-click", "event": "click", "email": address, "timestamp": int(time.time()),
             "issue": "2026-12", "url": "https://www.zwolle.example.nl/nieuws/fietsplan"}  # fmt: skip
    assert webhook(http, [click]).json() == {"stored": 1, "repeated": 0}
    assert address not in dump(demo) and "late-click" in dump(demo)

    again = newsletter(demo, "subscribers", "import", str(demo / "subscribers.csv"), "--basis", "oude lijst")
    assert again.returncode == 0, again.stderr
    assert row(demo, address) is None and address not in dump(demo)
    export = newsletter(demo, "subscribers", "export").stdout
    assert address not in export and "carla@example.org" in export

    # Her own sign-up, confirmed, brings her back (and lifts the suppression).
    http.post("/aanmelden", data={"email": address}, headers={"x-forwarded-for": "198.51.100.9"})
    confirm = confirmation_token(demo, address)
    assert "Je bent aangemeld" in http.post("/bevestig", data={"token": confirm}).text
    assert row(demo, address)["status"] == "active"  # type: ignore[index]
    with closing(sqlite3.connect(demo / "state" / "newsletter.sqlite3")) as c:
        assert c.execute("SELECT count(*) FROM suppressions").fetchone() == (0,)


def test_a_wrong_or_old_link_says_how_to_get_a_new_one_and_tells_nobody_who_is_on_the_list(
    demo: Path, http: httpx.Client, service: Service
) -> None:
    token = token_of(demo, "daan.bakker@example.org")
    for bad in ("", "nonsense", token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 5000):
        page = http.get("/voorkeuren", params={"t": bad})
        assert page.status_code == 403, bad
        assert "Vraag een nieuwe link aan" in page.text and "@example" not in page.text
    for path in ("/voorkeuren/gegevens", "/voorkeuren/afmelden", "/voorkeuren/vergeten"):
        assert http.get(path, params={"t": "nonsense"}).status_code == 403

    answers = [http.post("/voorkeuren/nieuwe-link", data={"email": a}) for a in
               ("daan.bakker@example.org", "niemand@example.org")]  # fmt: skip
    assert answers[0].text == answers[1].text and answers[0].status_code == 200
    folder = demo / "outbox" / "nieuwe-link"
    deadline = time.monotonic() + 20
    while not list(folder.glob("*.eml")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the other address had its turn too
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in folder.glob("*.eml")
    ]
    assert [m["To"] for m in mails] == ["daan.bakker@example.org"]
    # Mails from the service link to where it is reached (newsletter.signup.public_url, else where it listens).
    assert f"{service.base}/voorkeuren?t={token}" in mails[0].get_body(("plain",)).get_content()

    # A new key: every old link stops working, and the new one works.
    rotated = newsletter(demo, "subscribers", "new-link-key")
    assert rotated.returncode == 0 and "no longer work" in rotated.stdout
    assert http.get(f"/voorkeuren?t={token}").status_code == 403
    fresh = token_of(demo, "daan.bakker@example.org")
    assert fresh != token and http.get(f"/voorkeuren?t={fresh}").status_code == 200


def test_attacks_on_the_page_change_nothing(demo: Path, http: httpx.Client) -> None:
    address = "carla@example.org"
    token = token_of(demo, address)
    before = dict(row(demo, address))  # type: ignore[arg-type]
    # A forged cross-site form without her token, or with someone else's made-up one.
    assert http.post("/voorkeuren", data={"provincie-utrecht": "1"}).status_code == 403
    assert http.post("/voorkeuren", data={"t": "A" * 43, "provincie-utrecht": "1"}).status_code == 403
    one_click = http.post("/voorkeuren/afmelden?t=" + "A" * 43, content=b"List-Unsubscribe=One-Click",
                          headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert one_click.status_code == 403
    assert http.post("/voorkeuren/vergeten", data={"t": "x", "zeker": "ja"}).status_code == 403
    assert http.post("/voorkeuren/pauze", data={"t": token, "maanden": "-1"}).status_code == 400
    assert http.post("/voorkeuren/pauze", data={"t": token, "maanden": "9" * 5000}).status_code == 400
    assert http.request("PUT", f"/voorkeuren?t={token}").status_code == 405
    assert http.post("/voorkeuren", content=b"t=" + b"a" * 70_000).status_code == 413
    assert http.post("/voorkeuren/nieuwe-link", data={"email": "geen adres"}).status_code == 400
    assert dict(row(demo, address)) == before  # type: ignore[arg-type]


def test_a_used_or_unknown_confirmation_link_says_so_at_once_and_a_welcome_follows_a_confirmation(
    demo: Path, http: httpx.Client, service: Service
) -> None:
    unknown = http.get("/bevestig?token=" + "b" * 43)
    assert (
        unknown.status_code == 400
        and "Deze link werkt niet." in unknown.text
        and "<button" not in unknown.text
    )
    address = "nieuw@example.org"
    http.post("/aanmelden", data={"email": address}, headers={"x-forwarded-for": "198.51.100.77"})
    token = confirmation_token(demo, address)
    assert "<button" in http.get(f"/bevestig?token={token}").text
    done = http.post("/bevestig", data={"token": token})
    assert done.status_code == 200
    assert 'href="https://nieuwsbrief.example.org/archief/"' in done.text and "@" not in done.text
    used = http.get(f"/bevestig?token={token}")
    assert "Deze link is al gebruikt." in used.text and "<button" not in used.text

    mails_to(demo / "outbox" / "welkom", address)  # waits for it
    [welcome] = [
        m for m in (email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                    for p in (demo / "outbox" / "welkom").glob("*.eml")) if m["To"] == address
    ]  # fmt: skip
    assert welcome["Subject"] == "Welkom bij Nieuwsbrief Samen tegen Kinderarmoede (demo)"
    own = f"{service.base}/voorkeuren?t={token_of(demo, address)}"
    for part in ("plain", "html"):
        body = welcome.get_body((part,)).get_content()
        assert "https://nieuwsbrief.example.org/archief/2026-12/" in body and own in body
    assert "background:#1d4e89" in welcome.get_body(("html",)).get_content()  # the theme's brand colour
    assert http.get(own.removeprefix(service.base)).status_code == 200


def test_subscribers_counts_readers_per_province_and_theme(demo_root: Path) -> None:
    imported = newsletter(
        demo_root, "subscribers", "import", str(demo_root / "subscribers.csv"), "--basis", "test"
    )
    assert imported.returncode == 0, imported.stderr
    now = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    with state(demo_root) as store:
        store.set_choices("anna.devries@example.org", ["overijssel", "utrecht"], ["onderwijs"], now)
        store.set_choices("carla@example.org", ["overijssel"], [], now)
    shown = newsletter(demo_root, "subscribers", env={"NEWSLETTER_LANG": "nl"})
    assert shown.returncode == 0, shown.stderr
    # Five on the list, all active: Anna chose Overijssel and Utrecht and the theme onderwijs, Carla
    # Overijssel; the other three chose nothing, which is everything.
    assert shown.stdout.split("\n\n")[1:] == [
        "Actief, per provincie:\n"
        "  alles                                3\n"
        "  Overijssel                           2\n"
        "  Utrecht                              1",
        "Actief, per thema:\n"
        "  alles                                4\n"
        "  Onderwijs                            1\n",
    ]


def test_an_unsubscribe_at_home_reaches_sendgrids_group_and_its_undo_too(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    imported = newsletter(
        demo_root, "subscribers", "import", str(demo_root / "subscribers.csv"), "--basis", "test"
    )
    assert imported.returncode == 0, imported.stderr
    env = {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": sendgrid.url}
    token = token_of(demo_root, "carla@example.org")
    with running_serve(demo_root, env=env) as s, httpx.Client(base_url=s.base, timeout=30) as http:
        done = http.post(f"/voorkeuren/afmelden?t={token}", content=b"List-Unsubscribe=One-Click",
                         headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert done.status_code == 200
        http.post("/voorkeuren/terug", data={"t": token})
        deadline = time.monotonic() + 20
        while len(sendgrid.records) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    calls = [(r.method, r.path, r.body, r.status) for r in sendgrid.records]
    assert calls == [
        ("POST", "/v3/asm/groups/4242/suppressions", {"recipient_emails": ["carla@example.org"]}, 201),
        ("DELETE", "/v3/asm/groups/4242/suppressions/carla@example.org", None, 204),
    ]


# -- erasure on both engines: the whole database dumped and searched ------------------------------------
def test_erasure_is_real_on_both_engines(engine: str, tmp_path: Path) -> None:
    import os

    target = os.environ.get("NEWSLETTER_DATABASE_URL") or tmp_path / "state.sqlite3"
    now = dt.datetime(2026, 12, 7, 10, tzinfo=dt.UTC)
    address, other = "vera@example.org", "wim@example.org"
    with Store(target) as store:
        store.import_subscribers([Person(address, "Vera", "Gemeente", "utrecht", "import:a.csv"),
                                  Person(other, "Wim", None, None, "import:a.csv")], "oude lijst", "import:a.csv", now)  # fmt: skip
        store.signup(Person(address, "Vera", None, None, "aanmelden", "2026-1"), "h" * 64, now, now)
        with store.db.transaction() as db:
            db.execute(
                "INSERT INTO events (id, type, email, at, issue, url, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    "e1",
                    "click",
                    address,
                    now.isoformat(),
                    "2026-12",
                    "https://example.org/x",
                    now.isoformat(),
                ),
            )
            db.execute(
                "INSERT INTO deliveries (issue, email, seq, name, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                ("2026-12", address, 1, "Vera", "accepted", now.isoformat()),
            )
        store.link_key()
        store.erase(address, now)
        assert store.reader_by_email(address) is None and store.reader_by_email(other) is not None
        assert int(store.db.scalar("SELECT count(*) FROM deliveries")) == 1  # the count of the send stays
        # The history stays append-only: only an address becoming 'vergeten:...' passes, nothing else.
        for sql in (
            "UPDATE consents SET via = 'x'",
            "DELETE FROM consents",
            f"UPDATE consents SET email = 'vergeten:x', via = 'y' WHERE email = '{other}'",
            "UPDATE consents SET email = 'vergeten:y' WHERE email LIKE 'vergeten:%'",  # once forgotten, for good
        ):
            with pytest.raises(Exception, match="append-only"), store.db.transaction() as db:
                db.execute(sql)
        counts = store.import_subscribers([Person(address, "Vera", None, None, "import:a.csv")], "oude lijst",
                                          "import:a.csv", now)  # fmt: skip
        assert counts["added"] == 0 and counts["kept inactive"] == 1
    if engine == "sqlite":
        with closing(sqlite3.connect(target)) as c:
            text = "\n".join(c.iterdump())
    else:
        from postgres import _bin

        pg_dump = _bin("pg_dump")
        assert pg_dump
        text = subprocess.run(
            [pg_dump, "--data-only", str(target)], capture_output=True, text=True, check=True
        ).stdout
        assert other in text  # the dump has the data: her absence means something
    assert "vera" not in text.lower() and other in text


def test_a_link_is_checked_against_the_key_in_constant_time_not_only_found_by_its_hash(
    tmp_path: Path,
) -> None:
    now = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    with Store(tmp_path / "state.sqlite3") as store:
        store.import_subscribers(
            [Person("vera@example.org", None, None, None, "import:a.csv")], "b", "a", now
        )
        token = link_token(store.link_key(), "vera@example.org")
        assert len(token) == 43 and "vera" not in token
        found = store.reader(token)
        assert found is not None and found.email == "vera@example.org"
        # The key replaced by hand (the row removed): the stored hash still finds her, the key refuses.
        with store.db.transaction() as db:
            db.execute("DELETE FROM keys WHERE name = 'links'")
        assert store.reader(token) is None


def test_the_brand_logo_heads_the_issue_and_the_sign_up_mails_and_a_wrong_one_is_named(
    demo_root: Path,
) -> None:
    import dataclasses

    from test_render import PREVIOUS_ISSUE, fixture_issue, fixture_items

    from pipeline.audience import confirmation_mail
    from pipeline.domain.config import Logo
    from pipeline.render import render_issue

    config = load_config(demo_root)
    logo = Logo("https://nieuwsbrief.example.org/logo.png", "Samen tegen Kinderarmoede", 200)
    config = dataclasses.replace(config, settings=dataclasses.replace(config.settings, logo=logo))
    rendered = render_issue(
        config, fixture_issue(config), fixture_items(), previous_issue_date=PREVIOUS_ISSUE
    )
    assert re.search(r'<img alt="Samen tegen Kinderarmoede"[^>]* src="https://nieuwsbrief.example.org/logo.png"',
                     rendered.html)  # fmt: skip
    confirmation_mail(
        config, "an@example.org", "t" * 43, "https://nieuwsbrief.example.org", {}, dt.datetime.now(dt.UTC)
    )
    [path] = (demo_root / "outbox" / "aanmelden").glob("*.eml")
    html = (
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        .get_body(("html",))
        .get_content()
    )
    assert (
        '<img src="https://nieuwsbrief.example.org/logo.png" alt="Samen tegen Kinderarmoede" width="200"'
        in html
    )
    assert "background:#1d4e89" in html  # the theme's colours

    sources = demo_root / "sources.yaml"
    text = sources.read_text().replace(
        "  postal_address:", "  logo: {url: http://example.org/l.png}\n  postal_address:", 1
    )
    sources.write_text(text)
    checked = newsletter(demo_root, "validate", "sources.yaml")
    assert checked.returncode != 0
    assert checked.stderr.splitlines()[:2] == [
        "sources.yaml:10: 'alt' is missing; 'logo' needs it",
        "sources.yaml:10: a logo in a mail must come from an https:// address",
    ]


def test_a_list_request_with_her_own_links_is_valid_for_sendgrid(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    from test_render import render_fixture

    imported = newsletter(
        demo_root, "subscribers", "import", str(demo_root / "subscribers.csv"), "--basis", "t"
    )
    assert imported.returncode == 0, imported.stderr
    config = load_config(demo_root)
    transport = open_transport(config, {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": sendgrid.url})
    result = transport.send(render_fixture(), [("carla@example.org", None)], config.settings, request=1,
                            test=False, send_at=None, batch_id=None)  # fmt: skip
    assert result.answer.value == "accepted"
    [request] = sendgrid.mail_sends
    token = token_of(demo_root, "carla@example.org")
    [p] = request.body["personalizations"]
    assert p["substitutions"]["%voorkeuren_link%"] == f"{BASE}/voorkeuren?t={token}"
    assert p["headers"] == {"List-Unsubscribe": f"<{BASE}/voorkeuren/afmelden?t={token}>, "
                            "<mailto:redactie@example.org?subject=afmelden%202026-12>"}  # fmt: skip
    html = request.body["content"][1]["value"]
    assert "%voorkeuren_link%" in html and "%afmelden_link%" in html and "asm_" not in html
    assert request.status == 202 and not request.violations  # Prism: valid against SendGrid's spec


def test_the_readers_store_on_both_engines(engine: str, tmp_path: Path) -> None:
    import os

    from pipeline.domain.models import SubscriberStatus

    target = os.environ.get("NEWSLETTER_DATABASE_URL") or tmp_path / "state.sqlite3"
    now = dt.datetime(2026, 12, 7, 10, tzinfo=dt.UTC)
    people = [Person(a, None, None, p, "import:a.csv") for a, p in
              (("vera@example.org", "utrecht"), ("wim@example.org", None), ("xan@example.org", None))]  # fmt: skip
    with Store(target) as store:
        store.import_subscribers(people, "oude lijst", "import:a.csv", now)
        key = store.link_key()
        vera = store.reader(link_token(key, "vera@example.org"))
        assert vera is not None and (vera.email, vera.provinces, vera.themes) == ("vera@example.org", (), ())
        assert store.reader(link_token(b"another key", "vera@example.org")) is None
        store.set_choices("vera@example.org", ["overijssel", "utrecht"], ["onderwijs"], now)
        store.set_choices("wim@example.org", ["overijssel"], [], now)
        store.pause("wim@example.org", dt.datetime(2027, 2, 7, tzinfo=dt.UTC), now)
        provinces, themes = store.choice_counts()
        assert (dict(provinces), dict(themes)) == (
            {"overijssel": 2, "utrecht": 1, "": 1},
            {"onderwijs": 1, "": 2},
        )
        store.load_active_audience((), now)
        assert {r[0] for r in store.db.execute("SELECT email FROM audience")} == {
            "vera@example.org",
            "xan@example.org",
        }
        assert store.deactivate("xan@example.org", SubscriberStatus.UNSUBSCRIBED, "test", now)
        assert store.resubscribe("xan@example.org", now) and not store.resubscribe("xan@example.org", now)
        data = store.personal_data("vera@example.org")
        assert (
            data["subscriber"]["provinces"] == "overijssel,utrecht" and "link_hash" not in data["subscriber"]
        )
        assert [c["action"] for c in store.personal_data("xan@example.org")["consents"]] == [
            "import",
            "withdraw",
            "confirm",
        ]
        assert store.new_link_key() == 3
        assert store.reader(link_token(key, "vera@example.org")) is None
        assert store.reader(link_token(store.link_key(), "vera@example.org")) is not None
