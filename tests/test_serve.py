"""`newsletter serve` as it runs behind the alliance's web server: a real process on a free port,
real HTTP, the state database on disk, the confirmation mails in the outbox, SendGrid's webhook
calls signed with a key pair made here. Every request is someone else's: nothing they send may
crash the service, store what was not signed, or leak an address."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import newsletter
from postgres import Cluster
from servers import Service, running_serve

from pipeline.audience import SIGNATURE_HEADER
from pipeline.audience.signing import EventSigner, events_body
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store

SIGNER = EventSigner.new()


@pytest.fixture
def service(demo_root: Path) -> Iterator[Service]:
    with running_serve(demo_root, env={"SENDGRID_WEBHOOK_PUBLIC_KEY": SIGNER.public_key}) as s:
        yield s


def client(service: Service) -> httpx.Client:
    return httpx.Client(base_url=service.base, timeout=30, follow_redirects=False)


def sign_up(http: httpx.Client, address: str, reader: int = 0, **fields: str) -> httpx.Response:
    # Behind the web server every reader has their own address, forwarded to the service.
    forwarded = {"x-forwarded-for": f"198.51.100.{reader % 250 + 1}"}
    return http.post("/aanmelden", data={"email": address, **fields}, headers=forwarded)


def confirmation_mails(root: Path, expected: int, timeout: float = 30) -> dict[str, str]:
    """address -> token of the confirmation mails in the outbox, once ``expected`` of them are there
    (the mail goes out after the answer), or when ``timeout`` has passed."""
    outbox = root / "outbox" / "aanmelden"
    deadline = time.monotonic() + timeout
    while (len(list(outbox.glob("*.eml"))) if outbox.exists() else 0) < expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    found = {}
    for path in outbox.glob("*.eml") if outbox.exists() else ():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        token = re.search(r"/bevestig\?token=([A-Za-z0-9_-]+)", message.get_body(("plain",)).get_content())
        assert token, path
        found[message["To"]] = token.group(1)
    return found


def webhook(
    http: httpx.Client,
    events: list[dict[str, object]],
    *,
    at: int | None = None,
    signer: EventSigner = SIGNER,
) -> httpx.Response:
    body = events_body(events)
    return http.post("/webhooks/sendgrid", content=body, headers=signer.headers(body, at or int(time.time())))


def bounce(address: str, event_id: str) -> dict[str, object]:
    return {"sg_event_id": event_id, "event": "bounce", "email": address, "timestamp": int(time.time()),
            "reason": "550 5.1.1 The email account that you tried to reach does not exist"}  # fmt: skip


def active(root: Path) -> list[str]:
    export = newsletter(root, "subscribers", "export")
    assert export.returncode == 0, export.stderr
    return sorted(line.split(",")[0] for line in export.stdout.splitlines()[1:])


def stored_events(root: Path) -> int:
    with Store(load_config(root).settings.state) as store:
        return int(store.db.execute("SELECT count(*) FROM events").fetchone()[0])


def test_thirty_sign_ups_twenty_confirmed_one_bounced_and_a_forged_call_changes_nothing(
    service: Service, demo_root: Path
) -> None:
    addresses = [f"lezer{i:02d}@example.org" for i in range(30)]
    with client(service) as http:
        for i, address in enumerate(addresses):
            answer = sign_up(http, address, i, name=f"Lezer {i}", province="utrecht")
            assert answer.status_code == 200 and "Kijk in je mailbox" in answer.text
        tokens = confirmation_mails(demo_root, 30)
        assert sorted(tokens) == addresses
        confirmed = addresses[:20]
        for address in confirmed:
            page = http.get(f"/bevestig?token={tokens[address]}")  # what the link opens: a button
            assert page.status_code == 200 and "Bevestig mijn aanmelding" in page.text
            done = http.post("/bevestig", data={"token": tokens[address]})
            assert done.status_code == 200 and "Je bent aangemeld" in done.text
        assert active(demo_root) == confirmed

        assert webhook(http, [bounce(confirmed[3], "b1")]).json() == {"stored": 1, "repeated": 0}
        assert active(demo_root) == [a for a in confirmed if a != confirmed[3]]  # 19

        before = stored_events(demo_root)
        body = events_body([bounce(confirmed[4], "forged")])
        unsigned = http.post("/webhooks/sendgrid", content=body, headers={"content-type": "application/json"})
        assert unsigned.status_code == 401
        assert stored_events(demo_root) == before and len(active(demo_root)) == 19
        assert http.get("/healthz").text == "ok"  # still up after all of it
    counts = newsletter(demo_root, "subscribers")
    assert counts.stdout.split() == ["active", "19", "bounced", "1", "pending", "10", "total", "30"]


def test_the_answer_is_the_same_whether_the_address_is_new_pending_or_subscribed(
    service: Service, demo_root: Path
) -> None:
    with client(service) as http:
        new = sign_up(http, "een@example.org")
        token = confirmation_mails(demo_root, 1)["een@example.org"]
        pending = sign_up(http, "een@example.org")
        assert http.post("/bevestig", data={"token": token}).status_code == 200
        subscribed = sign_up(http, "een@example.org")
    assert new.status_code == pending.status_code == subscribed.status_code == 200
    assert new.text == pending.text == subscribed.text  # nobody learns who is on the list
    outbox = demo_root / "outbox" / "aanmelden"
    deadline = time.monotonic() + 10
    while len(list(outbox.glob("*.eml"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the subscriber's sign-up has had its turn too
    assert len(list(outbox.glob("*.eml"))) == 2  # new and pending got a link; the subscriber none


def test_a_wrong_address_gets_the_form_again_with_what_to_fix(service: Service) -> None:
    with client(service) as http:
        answer = sign_up(http, "lezer@@example", name="<script>alert(1)</script>", province="utrecht")
    assert answer.status_code == 400
    assert 'role="alert"' in answer.text and "Dit is geen geldig e-mailadres" in answer.text
    assert 'aria-invalid="true"' in answer.text and 'value="lezer@@example"' in answer.text
    assert "<script>alert(1)</script>" not in answer.text and "&lt;script&gt;" in answer.text  # escaped
    assert '<option value="utrecht" selected>' in answer.text  # what they chose stays chosen


def test_a_robot_and_a_flood_get_the_same_answer_and_no_mail(service: Service, demo_root: Path) -> None:
    with client(service) as http:
        robot = sign_up(http, "robot@example.org", 1, website="https://spam.example")
        flood = [sign_up(http, f"flood{i}@example.org", 2).status_code for i in range(25)]
    assert robot.status_code == 200 and "Kijk in je mailbox" in robot.text
    assert flood == [200] * 25
    mails = confirmation_mails(demo_root, 21, timeout=3)
    assert "robot@example.org" not in mails
    assert len(mails) == 20  # newsletter.signup.per_client_per_hour: 20 from one client


def test_a_link_works_once(service: Service, demo_root: Path) -> None:
    with client(service) as http:
        sign_up(http, "een@example.org")
        token = confirmation_mails(demo_root, 1)["een@example.org"]
        assert http.post("/bevestig", data={"token": token}).status_code == 200
        again = http.post("/bevestig", data={"token": token})
        assert again.status_code == 400 and "Deze link is al gebruikt" in again.text
        wrong = http.post("/bevestig", data={"token": token[:-2] + "xx"})
        assert wrong.status_code == 400 and "Deze link werkt niet" in wrong.text
        cut = http.get("/bevestig")
        assert cut.status_code == 400 and "Meld je opnieuw aan" in cut.text


def test_links_in_mails_never_come_from_the_requests_host(service: Service, demo_root: Path) -> None:
    with client(service) as http:
        http.post("/aanmelden", data={"email": "een@example.org"}, headers={"host": "evil.example"})
        snippet = http.get("/aanmelden/formulier?raw=1", headers={"host": "evil.example"})
    assert confirmation_mails(demo_root, 1)
    [path] = (demo_root / "outbox" / "aanmelden").glob("*.eml")
    assert "evil.example" not in path.read_text(encoding="utf-8")
    assert (
        f"{service.base}/bevestig?token="
        in email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        .get_body(("plain",))
        .get_content()
    )
    assert "evil.example" not in snippet.text and f'action="{service.base}/aanmelden"' in snippet.text


def test_the_snippet_for_a_partner_site_posts_to_the_service_without_javascript(service: Service) -> None:
    with client(service) as http:
        page = http.get("/aanmelden/formulier")
        raw = http.get("/aanmelden/formulier?raw=1")
    assert page.status_code == raw.status_code == 200
    assert raw.text.startswith(f'<form method="post" action="{service.base}/aanmelden" lang="nl">')
    assert 'name="email"' in raw.text and 'name="website"' in raw.text and "<script" not in raw.text
    assert "&lt;form method=&#34;post&#34;" in page.text or "&lt;form method=&quot;post&quot;" in page.text


def test_webhook_calls_that_are_not_sendgrids_or_not_now_are_refused_and_nothing_is_stored(
    service: Service, demo_root: Path
) -> None:
    now = int(time.time())
    with client(service) as http:
        signed = webhook(http, [bounce("a@example.org", "e1")])
        replayed = http.post(
            "/webhooks/sendgrid", content=events_body([bounce("a@example.org", "e1")]),
            headers=SIGNER.headers(events_body([bounce("a@example.org", "e1")]), now),
        )  # fmt: skip
        assert (signed.status_code, replayed.status_code) == (200, 200)
        assert replayed.json() == {"stored": 0, "repeated": 1}  # SendGrid's retry: stored once
        stored = stored_events(demo_root)

        other_key = webhook(http, [bounce("b@example.org", "e2")], signer=EventSigner.new())
        too_old = webhook(http, [bounce("b@example.org", "e3")], at=now - 301)
        too_new = webhook(http, [bounce("b@example.org", "e5")], at=now + 3600)  # an hour ahead
        just_ahead = webhook(http, [bounce("b@example.org", "e6")], at=now + 400)
        body = events_body([bounce("b@example.org", "e4")])
        tampered = http.post(
            "/webhooks/sendgrid",
            content=body.replace(b"b@example", b"c@example"),
            headers=SIGNER.headers(body, now),
        )
        no_stamp = http.post(
            "/webhooks/sendgrid", content=body,
            headers={"content-type": "application/json", SIGNATURE_HEADER: SIGNER.headers(body, now)[SIGNATURE_HEADER]},
        )  # fmt: skip
    assert (other_key.status_code, too_old.status_code, tampered.status_code, no_stamp.status_code) == (
        403,
        403,
        403,
        401,
    )
    assert (too_new.status_code, just_ahead.status_code) == (403, 403)  # a call from the future is no fresher
    for answer in (too_old, too_new, just_ahead):
        assert answer.json()["error"] == "the call's timestamp is not within 5 minutes of now"
    assert stored_events(demo_root) == stored


def test_bad_bodies_get_their_status_and_the_service_stays_up(service: Service, demo_root: Path) -> None:
    now = int(time.time())
    with client(service) as http:
        broken = b'[{"sg_event_id": "x", "event": "bounce"'
        malformed = http.post("/webhooks/sendgrid", content=broken, headers=SIGNER.headers(broken, now))
        not_json = http.post(
            "/webhooks/sendgrid",
            content=b"email=a@b.nl",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        huge = b"[" + b'{"sg_event_id":"x","event":"click","timestamp":1},' * 40_000 + b"{}]"  # 2 MB
        too_big = http.post("/webhooks/sendgrid", content=huge, headers=SIGNER.headers(huge, now))
        big_form = http.post("/aanmelden", data={"email": "a@b.nl", "name": "x" * 70_000})
        unknown = webhook(http, [{"sg_event_id": "u1", "event": "group_resubscribe_v9", "email": "a@b.nl", "timestamp": now},
                                 {"no": "id"}, [1, 2], "tekst", None])  # fmt: skip
        binary = http.post(
            "/aanmelden",
            content=b"\xff\xfe\x00garbage",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        get_hook = http.get("/webhooks/sendgrid")
        assert http.get("/healthz").text == "ok"
    assert (malformed.status_code, not_json.status_code) == (400, 415)
    assert len(huge) > 2_000_000 and too_big.status_code == 413 and big_form.status_code == 413
    assert unknown.status_code == 200 and unknown.json() == {"stored": 1, "repeated": 0}  # kept, no effect
    assert binary.status_code == 400 and "Vul je e-mailadres in" in binary.text
    assert get_hook.status_code == 405
    assert stored_events(demo_root) == 1


def test_a_batch_as_large_as_sendgrid_posts_is_taken_in_one_transaction(
    service: Service, demo_root: Path
) -> None:
    now = int(time.time())
    events = [
        {"sg_event_id": f"d{i}", "event": "delivered", "email": f"s{i}@example.org", "timestamp": now,
         "smtp-id": f"<{i}@example.org>", "sg_message_id": f"m{i}.filter0001", "response": "250 OK",
         "category": ["nieuwsbrief"], "issue": "2026-12"}
        for i in range(3300)
    ]  # fmt: skip
    assert 700_000 < len(events_body(events)) < 1024 * 1024  # SendGrid's batches go up to 768 KB
    with client(service) as http:
        answer = webhook(http, events)
    assert answer.status_code == 200 and answer.json() == {"stored": 3300, "repeated": 0}


def test_no_address_reaches_the_services_output(demo_root: Path) -> None:
    with (
        running_serve(demo_root, env={"SENDGRID_WEBHOOK_PUBLIC_KEY": SIGNER.public_key}) as service,
        client(service) as http,
    ):
        sign_up(http, "geheim@example.org")
        sign_up(http, "ook-geheim@@example.org")
        webhook(http, [bounce("geheim@example.org", "b1")], at=int(time.time()) - 1000)  # refused: logged
        http.post("/webhooks/sendgrid", content=b"[", headers={"content-type": "application/json"})
        confirmation_mails(demo_root, 1)
    service.process.wait(10)
    output = "\n".join(service.printed) + service.process.stdout.read() + service.errors()
    assert "a webhook call was refused: the call's timestamp is not within 5 minutes of now" in output
    assert "geheim" not in output and "@example.org" not in output


def test_without_a_key_the_webhook_refuses_everything_and_says_how_to_set_it_up(demo_root: Path) -> None:
    with running_serve(demo_root) as service, client(service) as http:
        answer = webhook(http, [bounce("a@example.org", "b1")])
        home = http.get("/")
    service.process.wait(10)
    assert answer.status_code == 503 and "SENDGRID_WEBHOOK_PUBLIC_KEY" in answer.json()["error"]
    assert home.status_code == 303 and home.headers["location"] == "/aanmelden"
    assert "SENDGRID_WEBHOOK_PUBLIC_KEY is not set" in service.errors()
    assert stored_events(demo_root) == 0


def test_a_broken_sign_up_template_stops_the_start_with_its_file_and_line(demo_root: Path) -> None:
    (demo_root / "templates" / "signup").mkdir(parents=True)
    (demo_root / "templates" / "signup" / "form.html").write_text(
        "{% extends 'signup/base.html' %}\n{% block body %}\n{{ oops(}}\n", encoding="utf-8"
    )
    result = newsletter(demo_root, "serve", "--port", "0", timeout=30)
    assert result.returncode != 0
    assert "templates/signup/form.html:3" in result.stderr


def test_serve_explains_its_options(demo_root: Path) -> None:
    result = newsletter(demo_root, "serve", "--port", "99999")
    assert result.returncode == 2 and "99999" in result.stderr


def sign_up_in_parallel(service: Service | list[Service], addresses: list[str], clients: int) -> list[float]:
    """Sign ``addresses`` up from ``clients`` concurrent connections (as the web server in front
    forwards many readers); returns each request's latency in seconds. With several services (two
    hosts behind a load balancer) the clients take turns: client k talks to service k mod n."""
    from concurrent.futures import ThreadPoolExecutor

    services = service if isinstance(service, list) else [service]

    def one_client(k: int) -> list[float]:
        took = []
        with client(services[k % len(services)]) as http:
            for i in range(k, len(addresses), clients):
                start = time.perf_counter()
                answer = sign_up(http, addresses[i], i)
                took.append(time.perf_counter() - start)
                assert answer.status_code == 200, answer.text
        return took

    with ThreadPoolExecutor(clients) as pool:
        return [t for part in pool.map(one_client, range(clients)) for t in part]


def confirm_in_parallel(service: Service | list[Service], tokens: list[str], clients: int) -> list[float]:
    from concurrent.futures import ThreadPoolExecutor

    services = service if isinstance(service, list) else [service]

    def one_client(k: int) -> list[float]:
        took = []
        with client(services[k % len(services)]) as http:
            for token in tokens[k::clients]:
                start = time.perf_counter()
                answer = http.post("/bevestig", data={"token": token})
                took.append(time.perf_counter() - start)
                assert answer.status_code == 200 and "Je bent aangemeld" in answer.text
        return took

    with ThreadPoolExecutor(clients) as pool:
        return [t for part in pool.map(one_client, range(clients)) for t in part]


@pytest.mark.slow
def test_a_thousand_sign_ups_from_twenty_clients_at_once_none_lost_none_doubled(
    service: Service, demo_root: Path
) -> None:
    addresses = [f"lezer{i:04d}@example.org" for i in range(1000)]
    took = sign_up_in_parallel(service, addresses, 20)
    assert len(took) == 1000
    tokens = confirmation_mails(demo_root, 1000, timeout=120)
    assert sorted(tokens) == addresses  # every one got its mail
    assert len(list((demo_root / "outbox" / "aanmelden").glob("*.eml"))) == 1000  # and only one
    with Store(load_config(demo_root).settings.state) as store:
        assert store.subscriber_counts() == {"pending": 1000}
        assert store.db.execute("SELECT count(*), count(DISTINCT email) FROM signup_tokens").fetchone()[
            :
        ] == (1000, 1000)
    confirm_in_parallel(service, [tokens[a] for a in addresses], 20)
    assert active(demo_root) == addresses


@pytest.mark.slow
def test_two_services_on_one_postgresql_take_a_thousand_sign_ups_none_lost_none_doubled_the_limit_shared(
    demo_root: Path, postgres: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two hosts: two copies of the instance (each its own outbox), one PostgreSQL behind both.
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", postgres.new_database())
    second = demo_root.parent / "host-b"
    shutil.copytree(demo_root, second)
    hosts = [demo_root, second]
    key = {"SENDGRID_WEBHOOK_PUBLIC_KEY": SIGNER.public_key}
    with running_serve(demo_root, env=key) as a, running_serve(second, env=key) as b:
        addresses = [f"lezer{i:04d}@example.org" for i in range(1000)]
        assert len(sign_up_in_parallel([a, b], addresses, 20)) == 1000
        mails = [confirmation_mails(root, 500, timeout=120) for root in hosts]
        assert len(mails[0]) + len(mails[1]) == 1000  # one mail each, from one host or the other
        tokens = {**mails[0], **mails[1]}
        assert sorted(tokens) == addresses  # every one got its mail
        with Store(load_config(demo_root).settings.database) as store:
            assert store.subscriber_counts() == {"pending": 1000}
            assert tuple(
                store.db.execute("SELECT count(*), count(DISTINCT email) FROM signup_tokens").fetchone()
            ) == (1000, 1000)
        confirm_in_parallel([a, b], [tokens[x] for x in addresses], 20)
        assert active(demo_root) == addresses

        # One client floods both hosts in turn: 20 an hour from it in all, not 20 per host.
        flooder = {"x-forwarded-for": "203.0.113.9"}
        with client(a) as one, client(b) as other:
            flood = [
                (one if i % 2 else other).post(
                    "/aanmelden", data={"email": f"flood{i}@example.org"}, headers=flooder
                )
                for i in range(30)
            ]
        assert [answer.status_code for answer in flood] == [200] * 30
        time.sleep(1)  # the mails go out after the answers
        flooded = [
            t for root in hosts for t in confirmation_mails(root, 0, timeout=0) if t.startswith("flood")
        ]
    assert len(flooded) == 20  # newsletter.signup.per_client_per_hour, shared by the two hosts
