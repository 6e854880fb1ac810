"""The audience stage without the web: the form, double opt-in, consent records, import and export,
and SendGrid's events (signed, checked, stored once, applied). The service around it:
test_serve.py; in a browser: test_serve_browser.py."""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import io
import json
from pathlib import Path

import pytest
from conftest import Cli, Sent, seed

from pipeline import audience
from pipeline.audience.signing import EventSigner, events_body
from pipeline.domain.config import Config
from pipeline.domain.models import DeliveryState
from pipeline.infra.instance import load_config
from pipeline.infra.store import Event, Person, Store

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def config(demo_root: Path) -> Config:
    return load_config(demo_root)


@pytest.fixture
def store(config: Config) -> Store:
    with Store(config.settings.state) as s:
        yield s


def person(address: str = "lezer@example.org", **kw: str) -> Person:
    return Person(address, form="aanmelden", text_version="2026-1", **kw)


# -- the form -----------------------------------------------------------------------------------------
def test_form_takes_the_fields_and_cleans_them(config: Config) -> None:
    read = audience.read_form(
        config,
        {
            "email": "  Lezer@Example.ORG ",
            "name": "An  de\tVries",
            "organisation": "GGD",
            "province": "utrecht",
        },
    )
    assert read.person == Person(
        "lezer@example.org",
        "An de Vries",
        "GGD",
        "utrecht",
        "aanmelden",
        config.settings.signup.consent_version,
    )
    assert not read.bot and not read.errors


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({}, "email", "Vul je e-mailadres in."),
        ({"email": "lezer@"}, "email", "Dit is geen geldig e-mailadres"),
        ({"email": "a@b.nl", "province": "atlantis"}, "province", "Kies een provincie uit de lijst."),
        ({"email": "a@b.nl", "name": "x" * 101}, "name", "te lang (hoogstens 100 tekens)"),
        ({"email": "a" * 250 + "@b.nl"}, "email", "te lang (hoogstens 254 tekens)"),
    ],
)
def test_a_wrong_field_is_named_with_what_to_do(
    config: Config, fields: dict[str, str], field: str, message: str
) -> None:
    read = audience.read_form(config, fields)
    assert read.person is None
    assert message in read.errors[field]


def test_the_hidden_field_gives_a_robot_away(config: Config) -> None:
    read = audience.read_form(config, {"email": "robot@example.org", "website": "https://spam.example"})
    assert read.bot and read.person is not None


# -- double opt-in ------------------------------------------------------------------------------------
def test_a_sign_up_is_pending_until_the_link_is_followed_and_then_consent_is_on_record(
    config: Config, store: Store
) -> None:
    done = audience.signup(config, store, person(name="Lezer"), NOW)
    assert done.before == "new" and done.token
    assert store.subscriber("lezer@example.org").status == "pending"
    assert list(store.active_subscribers()) == []
    # Only the token's hash is kept: the database alone cannot confirm anyone.
    raw = store.db.execute("SELECT token_hash FROM signup_tokens").fetchall()
    assert [r[0] for r in raw] == [audience.hash_token(done.token)] and done.token not in raw[0][0]

    assert audience.confirm(store, done.token, NOW + dt.timedelta(hours=2)) == "confirmed"
    s = store.subscriber("lezer@example.org")
    assert (s.status, s.basis, s.name) == ("active", "consent", "Lezer")
    records = store.consents("lezer@example.org")
    assert [(r.action, r.status) for r in records] == [("signup", "pending"), ("confirm", "active")]
    assert (records[-1].form, records[-1].text_version) == ("aanmelden", "2026-1")  # which form, text


def test_a_link_works_once_and_for_seven_days(config: Config, store: Store) -> None:
    first = audience.signup(config, store, person(), NOW)
    assert config.settings.signup.link_days == 7
    assert audience.confirm(store, first.token, NOW + dt.timedelta(days=7, minutes=1)) == "expired"
    assert store.subscriber("lezer@example.org").status == "pending"

    second = audience.signup(config, store, person(), NOW + dt.timedelta(days=8))
    assert second.before == "pending"
    assert audience.confirm(store, second.token, NOW + dt.timedelta(days=8, hours=1)) == "confirmed"
    assert audience.confirm(store, second.token, NOW + dt.timedelta(days=8, hours=2)) == "used"
    assert audience.confirm(store, "not-a-token", NOW) == "unknown"
    assert audience.confirm(store, "", NOW) == "unknown"
    assert audience.confirm(store, "x" * 5000, NOW) == "unknown"


def test_an_active_subscriber_gets_no_new_link_and_an_address_is_limited_per_day(
    config: Config, store: Store
) -> None:
    limit = config.settings.signup.per_address_per_day
    tokens = [
        audience.signup(config, store, person(), NOW + dt.timedelta(minutes=i)).token
        for i in range(limit + 2)
    ]
    assert all(tokens[:limit]) and tokens[limit:] == [None, None]  # someone mailing a stranger over and over
    assert audience.signup(
        config, store, person(), NOW + dt.timedelta(days=1, minutes=5)
    ).token  # the next day
    assert audience.confirm(store, tokens[0], NOW + dt.timedelta(hours=1)) == "confirmed"
    again = audience.signup(config, store, person(), NOW + dt.timedelta(days=2))
    assert (again.before, again.token) == ("active", None)


def test_the_confirmation_mail_lands_in_the_outbox_without_a_key(config: Config, store: Store) -> None:
    done = audience.signup(config, store, person(), NOW)
    audience.confirmation_mail(
        config, "lezer@example.org", done.token, "https://nieuwsbrief.example/", {}, NOW
    )
    [path] = (config.root / "outbox" / "aanmelden").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "lezer@example.org"
    assert message["Subject"].strip() == f"Bevestig je aanmelding voor {config.settings.title}"
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_content()
    text = text.replace("\r\n", "\n")
    assert f"https://nieuwsbrief.example/bevestig?token={done.token}\n" in text
    assert "De link werkt 7 dagen en één keer." in text
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_content()
    assert f'href="https://nieuwsbrief.example/bevestig?token={done.token}"' in html


def test_an_instance_template_changes_the_confirmation_mail(config: Config, store: Store) -> None:
    (config.root / "templates" / "signup").mkdir(parents=True)
    (config.root / "templates" / "signup" / "mail.txt").write_text("Klik: {{ link }}\n", encoding="utf-8")
    audience.confirmation_mail(config, "lezer@example.org", "abc", "https://n.example", {}, NOW)
    [path] = (config.root / "outbox" / "aanmelden").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_content()
    assert text.replace("\r\n", "\n") == "Klik: https://n.example/bevestig?token=abc\n"


# -- an existing list, and the list written out ------------------------------------------------------
def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("email,name,organisation,province\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_import_brings_a_list_in_with_its_basis_and_export_writes_the_active_ones(
    cli: Cli, demo_root: Path, config: Config
) -> None:
    csv_file = write_csv(
        demo_root / "oud.csv",
        [
            'Oud@Example.org,Oud Lid,=HYPERLINK("x"),utrecht',
            "nog@example.org,,,",
            "kapot,,,",
            "oud@example.org,,,",
        ],
    )
    with Store(config.settings.state) as store:
        store.deactivate("nog@example.org", "unsubscribed", "unsubscribed", NOW)  # not on the list: no-op
        audience.signup(config, store, person("weg@example.org"), NOW)
        store.deactivate("weg@example.org", "unsubscribed", "unsubscribed", NOW)
    write_csv(demo_root / "weg.csv", ["weg@example.org,,,"])

    result = cli(
        "subscribers", "import", str(csv_file), "--basis", "toestemming via het oude formulier (2024)"
    )
    assert result.exit_code == 0, result.output
    assert (
        "Imported: added 2, updated 0, already active 1, kept inactive 0, rows left out 1." in result.output
    )
    assert "oud.csv:4" in result.output  # the row that is no address, named with its line
    again = cli("subscribers", "import", str(demo_root / "weg.csv"), "--basis", "oude lijst")
    assert "kept inactive 1" in again.output  # someone who left stays gone

    counts = cli("subscribers")
    assert counts.output.split() == ["active", "2", "unsubscribed", "1", "total", "3"]
    export = cli("subscribers", "export")
    rows = list(csv.DictReader(io.StringIO(export.output)))
    assert [r["email"] for r in rows] == ["nog@example.org", "oud@example.org"]  # by since, then address
    rows.reverse()
    assert rows[0]["basis"] == "toestemming via het oude formulier (2024)"
    assert rows[0]["organisation"] == '\'=HYPERLINK("x")'  # shown as text by a spreadsheet, never run
    assert rows[0]["province"] == "utrecht"
    since = dt.datetime.fromisoformat(
        rows[0]["since"]
    )  # in the instance's zone: +01:00 in winter, +02:00 in summer
    assert since.utcoffset() == since.astimezone(config.settings.timezone).utcoffset() != dt.timedelta(0)
    with Store(config.settings.state) as store:
        first = store.consents("oud@example.org")[0]
        assert (first.action, first.status, first.via, first.form, first.text_version, first.basis) == (
            "import",
            "active",
            "import",
            "import:oud.csv",
            None,
            "toestemming via het oude formulier (2024)",
        )


def test_import_without_a_basis_or_a_file_says_what_to_do(cli: Cli, demo_root: Path) -> None:
    missing = cli("subscribers", "import", str(demo_root / "niet-er.csv"), "--basis", "x")
    assert missing.exit_code != 0 and "niet-er.csv" in missing.output
    no_basis = cli("subscribers", "import", str(demo_root / "subscribers.csv"))
    assert no_basis.exit_code == 2 and "--basis" in no_basis.output
    empty = cli("subscribers", "import", str(demo_root / "subscribers.csv"), "--basis", "  ")
    assert empty.exit_code != 0 and "an import needs its legal basis" in empty.output


def test_without_subscribers_in_the_database_the_counts_point_at_the_csv(cli: Cli) -> None:
    result = cli("subscribers")
    assert result.exit_code == 0
    assert "No subscribers in the state database; sends use the CSV list" in result.output


def test_a_send_goes_to_the_active_subscribers_of_the_database_once_it_has_any(
    cli: Cli, demo_root: Path
) -> None:
    from conftest import write_issue

    write_issue(demo_root)
    assert cli("approve", "2026-12", "--by", "Redactie").exit_code == 0
    csv_file = write_csv(demo_root / "leden.csv", ["een@example.org,Een,,", "twee@example.org,,,"])
    assert cli("subscribers", "import", str(csv_file), "--basis", "leden").exit_code == 0
    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        store.deactivate("twee@example.org", "bounced", "550 no such user", NOW)
    result = cli("send", "2026-12")
    assert result.exit_code == 0, result.output
    sent = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["To"]
        for p in (demo_root / "outbox" / "2026-12").glob("*.eml")
    ]
    assert sent == ["Een <een@example.org>"]  # not the 7 of subscribers.csv, not the bounced one


# -- SendGrid's events --------------------------------------------------------------------------------
def event(kind: str, address: str | None, event_id: str, **kw: object) -> dict[str, object]:
    return {"sg_event_id": event_id, "event": kind, "email": address, "timestamp": int(NOW.timestamp()), **kw}


def test_a_signed_call_is_accepted_and_anything_else_refused_with_its_status() -> None:
    signer = EventSigner.new()
    body = events_body([event("click", "a@example.org", "e1")])
    now = int(NOW.timestamp())
    audience.verify(signer.public_key, body, signer.headers(body, now), now)  # SendGrid's own verifier agrees

    def refused(key: str | None, payload: bytes, headers: dict[str, str], at: float = now) -> tuple[int, str]:
        with pytest.raises(audience.WebhookRefused) as e:
            audience.verify(key, payload, headers, at)
        return e.value.status, e.value.message

    good = signer.headers(body, now)
    assert refused(signer.public_key, body, {}) == (401, "the call is not signed")
    assert refused(signer.public_key, body + b" ", good)[0] == 403  # one byte changed
    assert refused(EventSigner.new().public_key, body, good)[0] == 403  # another account's key
    assert refused(signer.public_key, body, {**good, audience.TIMESTAMP_HEADER: str(now + 1)})[0] == 403
    assert refused(signer.public_key, body, good, now + 301) == (
        403,
        "the call's timestamp is not within 5 minutes of now",
    )
    assert refused(signer.public_key, body, {**good, audience.SIGNATURE_HEADER: "!!not base64"})[0] == 403
    assert refused(signer.public_key, body, {**good, audience.TIMESTAMP_HEADER: "gisteren"})[0] == 401
    assert refused("bm90IGEga2V5", body, good)[0] == 403  # a key that is not one
    assert refused(None, body, good)[0] == 503  # not set up: SendGrid retries until it is


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b'{"event": "click"}', b'"a string"', json.dumps([{}] * 5001).encode(), b"\xff\xfe"],
)
def test_a_body_that_is_not_a_list_of_events_is_refused(payload: bytes) -> None:
    with pytest.raises(audience.WebhookRefused) as e:
        audience.read_events(payload)
    assert e.value.status == 400


def test_events_without_an_id_type_or_time_are_left_out_and_unknown_ones_kept() -> None:
    body = events_body(
        [
            event("click", "A@Example.org", "e1", url="https://www.example.org/x", issue="2026-12"),
            {"event": "click", "timestamp": 1},  # no id
            {"sg_event_id": "e2", "timestamp": 1},  # no type
            {"sg_event_id": "e3", "event": "open", "timestamp": "gisteren"},
            {"sg_event_id": "e4", "event": "open", "timestamp": 10**20},  # beyond any calendar
            "not an event",
            event("group_resubscribe_v9", "b@example.org", "e5"),
            event(
                "click",
                "editor@example.org",
                "e6",
                url="https://www.example.org/x",
                issue="2026-12",
                test="1",
            ),
        ]
    )
    events = audience.read_events(body)
    assert [(e.id, e.type, e.email) for e in events] == [
        ("e1", "click", "a@example.org"),
        ("e5", "group_resubscribe_v9", "b@example.org"),
        ("e6", "click", "editor@example.org"),
    ]
    assert events[0].issue == "2026-12" and events[0].url == "https://www.example.org/x"
    assert events[2].issue is None  # a test send's click: kept, never counted for the issue


def test_a_bounce_makes_a_subscriber_inactive_at_once_and_a_repeat_is_stored_once(
    config: Config, store: Store
) -> None:
    for address in ("a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org"):
        store.import_subscribers([Person(address)], "leden", "import:test", NOW)
    events = audience.read_events(
        events_body(
            [
                event("bounce", "a@example.org", "e1", reason="550 5.1.1 user unknown"),
                event("dropped", "b@example.org", "e2", reason="Invalid"),
                event("spamreport", "c@example.org", "e3"),
                event("group_unsubscribe", "d@example.org", "e4", asm_group_id=1),
                event("delivered", "e@example.org", "e5"),
                event("bounce", "nobody@example.org", "e6"),  # not on the list: stored, changes nothing
            ]
        )
    )
    first = audience.apply_events(store, events, NOW)
    assert (first.stored, first.repeated, first.inactivated) == (6, 0, 4)
    again = audience.apply_events(store, events, NOW + dt.timedelta(minutes=5))  # SendGrid retries
    assert (again.stored, again.repeated, again.inactivated) == (0, 6, 0)
    assert store.db.execute("SELECT count(*) FROM events").fetchone()[0] == 6
    status = {
        s: (store.subscriber(s).status, store.subscriber(s).reason)
        for s in ("a@example.org", "b@example.org", "c@example.org", "d@example.org")
    }
    assert status == {
        "a@example.org": ("bounced", "550 5.1.1 user unknown"),
        "b@example.org": ("invalid", "Invalid"),
        "c@example.org": ("complained", "reported the newsletter as spam"),
        "d@example.org": ("unsubscribed", "unsubscribed from the newsletter"),
    }
    assert [s.email for s in store.active_subscribers()] == ["e@example.org"]
    last = store.consents("a@example.org")[-1]
    assert (last.action, last.status, last.via, last.reason) == (
        "withdraw",
        "bounced",
        "webhook: bounce",
        "550 5.1.1 user unknown",
    )


def test_processed_events_settle_a_delivery_the_ledger_left_unknown(store: Store) -> None:
    seed(store, sent=[Sent("2026-12", NOW)])
    store.load_audience([(f"s{i}@example.org", None) for i in range(10)], [])
    with store.transaction():
        store.sync_ledger("2026-12", NOW)
    batch, recipients = store.claim_batch("2026-12", 10, NOW)
    store.finish_batch("2026-12", batch, DeliveryState.UNKNOWN, NOW, reason="the answer was lost")
    assert store.delivery_counts("2026-12")["unknown"] == 10

    events = [
        Event(f"p{i}", "processed", address, NOW, issue="2026-12")
        for i, (address, _name) in enumerate(recipients[:7])
    ] + [Event("other", "processed", "s9@example.org", NOW, issue="2026-11")]  # another issue's
    applied = audience.apply_events(store, events, NOW)
    assert applied.settled == 7
    counts = store.delivery_counts("2026-12")
    assert (counts["accepted"], counts["unknown"]) == (7, 3)


def test_clicks_are_kept_per_issue_link_and_reader(store: Store) -> None:
    from pipeline.infra.store import ClickCount

    seed(store, sent=[Sent("2026-12", NOW)])
    url = "https://www.example.org/verhaal"
    events = [
        Event("c1", "click", "a@example.org", NOW, issue="2026-12", url=url),
        Event("c2", "click", "a@example.org", NOW, issue="2026-12", url=url),
        Event("c3", "click", "b@example.org", NOW, issue="2026-12", url=url),
        Event("c4", "click", "b@example.org", NOW, issue=None, url=url),  # a test send's: not counted
        Event(
            "c5", "click", "c@example.org", NOW - dt.timedelta(hours=1), issue="2026-12", url=url
        ),  # before
    ]
    audience.apply_events(store, events, NOW)
    assert store.click_counts(["2026-12"]) == [
        ClickCount("2026-12", url, "a@example.org", 2),
        ClickCount("2026-12", url, "b@example.org", 1),
    ]


def test_wrong_signup_settings_are_named_with_their_line(cli: Cli, demo_root: Path) -> None:
    sources = demo_root / "sources.yaml"
    text = sources.read_text(encoding="utf-8").replace(
        "  language: nl\n",
        "  language: nl\n  signup:\n    public_url: nieuwsbrief\n    link_days: nul\n    consent_text: Ja graag.\n",
    )
    sources.write_text(text, encoding="utf-8")
    result = cli("validate")
    assert result.exit_code == 1
    assert (
        "sources.yaml:14: 'nieuwsbrief' is not a web address; write it in full, starting with https://"
        in result.output
    )
    assert "sources.yaml:15: 'link_days' should be a whole number, not 'nul'" in result.output
    assert "sources.yaml:13: warning: a consent text of your own needs its 'consent_version'" in result.output
