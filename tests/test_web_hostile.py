"""The two web services as an attacker meets them: a real `newsletter serve` and a real `newsletter
studio` on loopback, sent the classic bad requests on every route — a correctly signed webhook body
nested 50,000 levels deep, invalid UTF-8, bodies over the limit, wrong content types, repeated and
huge form fields, bad percent-encoding, very long URLs and headers, unknown methods, HEAD and
OPTIONS, broken HTTP. Each gets a 4xx (or the route's documented answer), never a 500, and nothing
of it leaves a traceback in the process's output.

And slow clients: connections that never finish their headers, or drip their body, are cut off
after the deadlines (set short here), while a reader is served meanwhile."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import write_issue
from servers import Service, Studio, running_serve, running_studio

from pipeline.audience.signing import EventSigner
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store

SIGNER = EventSigner.new()
FORM = "application/x-www-form-urlencoded"
DEEP_ARRAY = b"[" * 50_000 + b"]" * 50_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000

# (what, content type or None, body): each to every route that takes a body.
BAD_BODIES: list[tuple[str, str | None, bytes]] = [
    ("deep JSON array", "application/json", DEEP_ARRAY),
    ("deep JSON object", "application/json", DEEP_OBJECT),
    ("deep JSON as a form", FORM, DEEP_ARRAY),
    ("invalid UTF-8", FORM, b"email=\xff\xfe%40x.nl&name=\xc3\x28&token=\x80&issue=\xed\xa0\x80&value=\xff"),
    ("bad percent-encoding", FORM, b"email=%zz%&token=%E0%A4%A&issue=%ff%fe%&value=%&op=%u0041"),
    ("null bytes", FORM, b"email=a%00b%40c.nl&token=%00&issue=%00&value=%00&op=field&field=%00"),
    ("more fields than allowed", FORM, b"&".join([b"email=a%40b.nl", b"token=x", b"issue=2027-01"] * 100)),
    ("repeated fields", FORM, b"&".join([b"op=field", b"field=subject", b"value=", b"token=", b"email="] * 30)),
    ("huge field within the limit", FORM, b"email=" + b"x" * 60_000 + b"&value=" + b"y" * 2_000),
    ("field names only", FORM, b"&&&=&==&%3D%3D=%26"),
    ("JSON instead of a form", "application/json", b'{"email": "a@b.nl", "token": [1], "issue": {}}'),
    ("multipart", "multipart/form-data; boundary=zz",
     b'--zz\r\nContent-Disposition: form-data; name="email"\r\n\r\na@b.nl\r\n--zz--\r\n'),
    ("broken multipart", "multipart/form-data", b"--\r\n\r\n--"),
    ("plain text", "text/plain", b"hallo"),
    ("no content type", None, b"\x00\x01\x02\xff"),
    ("odd charset", f"{FORM}; charset=ebcdic", b"email=a"),
    ("garbage content type", "\x7f;;;=;", b"email=a"),
]  # fmt: skip
BEYOND_THE_LIMIT = b"email=" + b"x" * 1_100_000  # beyond every route's limit (the webhook's: 1 MB)


def raw(base: str, request: bytes, timeout: float = 15) -> tuple[int, bytes]:
    """Send ``request`` as bytes and read the answer until the server closes: (status, answer);
    status 0 when the server closed without an answer."""
    parts = urlsplit(base)
    assert parts.hostname == "127.0.0.1"  # loopback only
    chunks = []
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as s:
        try:
            s.sendall(request)
            while data := s.recv(65536):
                chunks.append(data)
        except (ConnectionResetError, BrokenPipeError):
            pass
    answer = b"".join(chunks)
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    return (int(m.group(1)) if m else 0), answer


def raw_requests(path: str, post_path: str) -> list[tuple[str, bytes, set[int]]]:
    """Broken or odd HTTP, each with the answers it may get."""
    end = b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n"
    p, post = path.encode(), post_path.encode()
    return [
        ("unknown method", b"BREW " + p + b" HTTP/1.1\r\n" + end, {405}),
        ("OPTIONS", b"OPTIONS " + p + b" HTTP/1.1\r\n" + end, {405}),
        ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\n" + end, {404}),
        ("a method of control characters", b"G\x01T " + p + b" HTTP/1.1\r\n" + end, {400}),
        ("a non-ASCII method", b"G\xc3\xa9T " + p + b" HTTP/1.1\r\n" + end, {400}),
        ("a NUL in the path", b"GET /\x00 HTTP/1.1\r\n" + end, {400}),
        ("non-ASCII bytes in the path", b"GET /\xff\xfe HTTP/1.1\r\n" + end, {400}),
        ("bad percent-encoding in the path", b"GET /%zz%ff%fe%00%c0%af%2e%2e%2f HTTP/1.1\r\n" + end, {404}),
        ("bad percent-encoding in the query", b"GET " + p + b"?token=%ff%fe%zz&back=%&next=%00 HTTP/1.1\r\n" + end,
         {200, 303, 400}),
        ("a long path", b"GET /" + b"a" * 8_000 + b" HTTP/1.1\r\n" + end, {404}),
        ("a very long URL", b"GET " + p + b"?" + b"q" * 40_000 + b" HTTP/1.1\r\n" + end, {431}),
        ("a very long header", b"GET " + p + b" HTTP/1.1\r\nX-Long: " + b"v" * 40_000 + b"\r\n" + end, {431}),
        ("many headers", b"GET " + p + b" HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(2000)) + end,
         {431}),
        ("a header without a colon", b"GET " + p + b" HTTP/1.1\r\nNo colon here\r\n" + end, {400}),
        ("no Host", b"GET " + p + b" HTTP/1.1\r\nConnection: close\r\n\r\n", {400}),
        ("HTTP/2 in an HTTP/1 line", b"GET " + p + b" HTTP/2.0\r\n" + end, {200, 303, 400, 505}),  # h11: as 1.1
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n", {400}),
        ("a content length that is not a number", b"POST " + post + b" HTTP/1.1\r\nContent-Length: abc\r\n" + end,
         {400}),
        ("a negative content length", b"POST " + post + b" HTTP/1.1\r\nContent-Length: -1\r\n" + end, {400}),
        ("two content lengths", b"POST " + post + b" HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
         + end + b"ab", {400}),
        ("a broken chunked body", b"POST " + post + b" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" + end
         + b"zz\r\nab\r\n0\r\n\r\n", {400, 403}),
        ("an unknown transfer encoding", b"POST " + post + b" HTTP/1.1\r\nTransfer-Encoding: gzip\r\n" + end,
         {400, 501}),
        ("a huge declared body", b"POST " + post + b" HTTP/1.1\r\nContent-Type: " + FORM.encode()
         + b"\r\nContent-Length: 99999999999\r\n" + end, {403, 413}),
        ("a WebSocket upgrade", b"GET " + p + b" HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + end,
         {200, 303, 400, 404}),
        ("a garbage cookie", b"GET " + p + b" HTTP/1.1\r\nCookie: ;;=;=\x7f;newsletter_session=\xff\r\n" + end,
         {200, 303}),
    ]  # fmt: skip


def quiet(process_output: str, printed: list[str]) -> list[str]:
    """The lines of a process's output (past the lines it printed at the start) that betray a
    failure: a traceback, an exception, a 500."""
    lines = [line for line in process_output.splitlines() if line not in printed]
    return [line for line in lines if re.search(r"Traceback|Exception|\b500\b|Internal Server Error", line)]


def output_of(service: Studio) -> str:
    service.process.wait(10)
    assert service.process.stdout is not None
    return "\n".join(service.printed) + "\n" + service.process.stdout.read() + service.errors()


@contextmanager
def serving(root: Path, *args: str) -> Iterator[Service]:
    with running_serve(root, *args, env={"SENDGRID_WEBHOOK_PUBLIC_KEY": SIGNER.public_key}) as s:
        yield s


def test_serve_answers_every_bad_request_with_a_4xx_and_logs_no_traceback(demo_root: Path) -> None:
    answers: list[tuple[str, int, set[int]]] = []

    def expect(what: str, status: int, allowed: set[int]) -> None:
        answers.append((what, status, allowed))

    now = int(time.time())
    with (
        serving(demo_root) as serve,
        httpx.Client(base_url=serve.base, timeout=30, follow_redirects=False) as http,
    ):
        # The fault: a correctly signed body nested 50,000 levels deep.
        deep = http.post("/webhooks/sendgrid", content=DEEP_ARRAY, headers=SIGNER.headers(DEEP_ARRAY, now))
        assert deep.status_code == 400, deep.text
        assert deep.json() == {"error": "the body is nested too deeply to be SendGrid's events"}
        for route in ("/aanmelden", "/bevestig", "/webhooks/sendgrid", "/", "/healthz", "/aanmelden.css"):
            for what, kind, body in BAD_BODIES:
                headers = {"content-type": kind} if kind else {}
                answer = http.post(route, content=body, headers=headers)
                expect(f"POST {route}: {what}", answer.status_code, {400, 401, 405, 413, 415})
                if route == "/webhooks/sendgrid":  # the same, signed: past the signature to the parser
                    signed = {**SIGNER.headers(body, now), **headers}
                    if kind is None:
                        del signed["content-type"]
                    answer = http.post(route, content=body, headers=signed)
                    expect(f"POST {route} signed: {what}", answer.status_code, {400, 413, 415})
            big = http.post(route, content=BEYOND_THE_LIMIT, headers={"content-type": FORM})
            expect(f"POST {route}: beyond the limit", big.status_code, {405, 413})
        for path in ("/", "/aanmelden", "/aanmelden/formulier", "/bevestig", "/healthz", "/aanmelden.css"):
            for method, allowed in (("HEAD", {200, 303, 400}), ("OPTIONS", {405}), ("PUT", {405}),
                                    ("DELETE", {405}), ("PATCH", {405})):  # fmt: skip
                expect(f"{method} {path}", http.request(method, path).status_code, allowed)
        for path, allowed in [
            ("/bevestig?token=%ff%fe%zz", {400}),  # an unknown link says so at once, with no button
            ("/bevestig?token=" + "x" * 5000, {400}),
            ("/aanmelden/formulier?raw=%ff%00", {200}),
            ("/webhooks/sendgrid", {405}),
            ("/aanmelden/../../etc/passwd", {404}),
            ("/aanmelden.css/%2e%2e", {404}),
        ]:
            expect(f"GET {path}", http.get(path).status_code, allowed)
        for what, request, allowed in raw_requests("/aanmelden", "/aanmelden"):
            expect(f"raw {what}", raw(serve.base, request)[0], allowed)
        # After all of it the service still serves.
        assert http.get("/aanmelden").status_code == 200
        assert http.get("/healthz").text == "ok"
    wrong = [
        f"{what}: {status}, not {sorted(allowed)}"
        for what, status, allowed in answers
        if status not in allowed
    ]
    assert not wrong, "\n".join(wrong)
    assert quiet(output_of(serve), serve.printed) == []
    assert not (demo_root / "outbox" / "aanmelden").exists()  # no sign-up was taken, no mail went out
    with Store(load_config(demo_root).settings.state) as store:
        assert store.db.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_the_portal_and_the_readers_pages_answer_every_bad_request_with_a_4xx_and_log_no_traceback(
    demo_root: Path,
) -> None:
    """The partner portal and the reader's own page, attacked without a session or a link: no answer is
    a 5xx, nothing is logged as a failure, no mail goes out and no partner file is written."""
    posts = [
        "/partners/", "/partners/inloggen", "/partners/uitloggen", "/partners/tips", "/partners/intrekken",
        "/partners/verhalen", "/partners/voortgang", "/voorkeuren", "/voorkeuren/pauze",
        "/voorkeuren/afmelden", "/voorkeuren/terug", "/voorkeuren/vergeten", "/voorkeuren/nieuwe-link",
    ]  # fmt: skip
    gets = [
        "/partners/verhalen/nieuw", "/partners/verhalen/..%2f..%2fsources", "/partners/verhalen/%00",
        "/partners/beeld/..%2f..%2fsources.yaml", "/partners/beeld/x.jpg", "/partners/voortgang/../../etc",
        "/partners/voortgang/99999999999999999999", "/partners/inloggen?token=%ff%fe",
        "/partners/inloggen?token=" + "x" * 5000, "/voorkeuren?t=%ff%00", "/voorkeuren/gegevens?t=" + "x" * 5000,
        "/voorkeuren/afmelden", "/voorkeuren/vergeten?t[]=1",
    ]  # fmt: skip
    wrong: list[str] = []
    before = sorted(
        p.relative_to(demo_root) for p in demo_root.rglob("*") if p.is_file() and "state" not in p.parts
    )
    with (
        serving(demo_root) as serve,
        httpx.Client(base_url=serve.base, timeout=30, follow_redirects=False) as http,
    ):
        for route in posts:
            for what, kind, body in BAD_BODIES:
                answer = http.post(route, content=body, headers={"content-type": kind} if kind else {})
                if not 400 <= answer.status_code < 500:
                    wrong.append(f"POST {route}: {what}: {answer.status_code}")
            big = http.post(route, content=BEYOND_THE_LIMIT, headers={"content-type": FORM})
            if big.status_code not in (403, 405, 413, 429):  # the story form takes 10 MB: refused by CSRF
                wrong.append(f"POST {route}: beyond the limit: {big.status_code}")
        for path in gets:
            answer = http.get(path)
            if answer.status_code >= 500 or (
                path.startswith("/partners/verhalen") and answer.status_code == 200
            ):
                wrong.append(f"GET {path}: {answer.status_code}")
            if "Traceback" in answer.text:
                wrong.append(f"GET {path}: a traceback in the page")
        assert http.get("/healthz").text == "ok"
    assert not wrong, "\n".join(wrong)
    assert quiet(output_of(serve), serve.printed) == []
    assert (
        not (demo_root / "outbox" / "partners").exists()
        and not (demo_root / "outbox" / "nieuwe-link").exists()
    )
    after = sorted(
        p.relative_to(demo_root) for p in demo_root.rglob("*") if p.is_file() and "state" not in p.parts
    )
    assert after == before  # no submission, progress file or image written


def test_studio_answers_every_bad_request_with_a_4xx_and_logs_no_traceback(demo_root: Path) -> None:
    issue_file = write_issue(demo_root, "2026-12")
    before = issue_file.read_bytes()
    answers: list[tuple[str, int, set[int]]] = []

    def expect(what: str, status: int, allowed: set[int]) -> None:
        answers.append((what, status, allowed))

    with (
        running_studio(demo_root, "2026-12") as studio,
        httpx.Client(base_url=studio.base, timeout=30, follow_redirects=False) as http,
    ):
        page = http.get("/issue/2026-12").text
        m = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert m
        token = {"x-csrf-token": m.group(1)}  # past the CSRF check, to the handlers themselves
        routes = {
            "/draft": {400},
            "/issue/2026-12/edit": {409},
            "/issue/2026-12/approve": {409},
            "/issue/2026-12/test": {400},
            "/issue/2026-12/markdown": {200},  # the preview of any text, as typed
            "/issue/2026-12": {405},
            "/issue/2026-12/source": {405},
            "/issue/..%2f..%2fsources/edit": {404},  # the %2f is a / to the router: no such route
            "/static/studio.css": {405},
            "/": {405},
        }
        for route, allowed in routes.items():
            for what, kind, body in BAD_BODIES:
                headers = {**token, **({"content-type": kind} if kind else {})}
                answer = http.post(route, content=body, headers=headers)  # a page: back to it, with a note
                expect(f"POST {route}: {what}", answer.status_code, (allowed | {303, 400, 413}) - {409})
                json_answer = http.post(
                    route, content=body, headers={**headers, "accept": "application/json"}
                )
                expect(f"POST {route} (JSON): {what}", json_answer.status_code, allowed | {400, 413})
                no_token = http.post(route, content=body, headers={k: v for k, v in headers.items() if k != "x-csrf-token"})  # fmt: skip
                expect(f"POST {route} without a token: {what}", no_token.status_code, {403, 413})
            big = http.post(route, content=BEYOND_THE_LIMIT, headers={**token, "content-type": FORM})
            expect(f"POST {route}: beyond the limit", big.status_code, {413})
        gets = [
            "/",
            "/issue/2026-12",
            "/issue/2026-12/source",
            "/issue/2026-12/preview/email",
            "/static/studio.js",
        ]
        for path in gets:
            for method, allowed in (("HEAD", {200}), ("OPTIONS", {405}), ("PUT", {403, 405}),
                                    ("DELETE", {403, 405}), ("BREW", {405})):  # fmt: skip
                expect(f"{method} {path}", http.request(method, path, headers=token).status_code, allowed)
        for path, allowed in [
            ("/issue/%ff%fe", {404}),
            ("/issue/2026-12/preview/%00", {404}),
            ("/issue/2026-12/preview/..%2f..%2fsources.yaml", {404}),
            ("/issue/2026-12?back=%ff&section=%zz&note=%00" + "x" * 4000, {200}),
            ("/issue/2026-12/source?x[]=1&x[]=2", {200}),
            ("/static/..%2f..%2fapp.py", {404}),
            ("/login", {404}),
        ]:
            expect(f"GET {path}", http.get(path).status_code, allowed)
        elsewhere = http.get("/issue/2026-12", headers={"host": "evil.example"})
        expect("GET from another host name", elsewhere.status_code, {421})
        for what, request, allowed in raw_requests("/issue/2026-12", "/issue/2026-12/edit"):
            expect(f"raw {what}", raw(studio.base, request)[0], allowed | {403})
        assert http.get("/issue/2026-12").status_code == 200  # still serving
    wrong = [
        f"{what}: {status}, not {sorted(allowed)}"
        for what, status, allowed in answers
        if status not in allowed
    ]
    assert not wrong, "\n".join(wrong)
    assert quiet(output_of(studio), studio.printed) == []
    assert issue_file.read_bytes() == before  # nothing was changed, nothing drafted
    assert sorted(p.name for p in issue_file.parent.glob("*.yaml")) == ["2026-12.yaml"]


# -- slow clients -------------------------------------------------------------------------------------
def connect(base: str) -> socket.socket:
    parts = urlsplit(base)
    assert parts.hostname == "127.0.0.1"  # loopback only
    return socket.create_connection((parts.hostname, parts.port or 80), timeout=15)


def until_closed(s: socket.socket, deadline: float) -> tuple[bytes, float | None]:
    """What the server sent until it closed the connection, and when it closed it (monotonic);
    None when it was still open at ``deadline``."""
    chunks = []
    while (left := deadline - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return b"".join(chunks), time.monotonic()
        if not data:
            return b"".join(chunks), time.monotonic()
        chunks.append(data)
    return b"".join(chunks), None


@pytest.mark.slow
def test_slow_clients_are_cut_off_while_a_reader_is_served(demo_root: Path) -> None:
    header_timeout, body_timeout = 1.5, 2.5
    args = ("--header-timeout", str(header_timeout), "--body-timeout", str(body_timeout))
    with serving(demo_root, *args) as serve:
        opened = time.monotonic()
        partial = [connect(serve.base) for _ in range(300)]  # a request line, half a header, then nothing
        for s in partial:
            s.sendall(b"GET /aanmelden HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        silent = [connect(serve.base) for _ in range(50)]  # connected, and not a byte
        drip = connect(serve.base)  # a sign-up whose name comes a byte at a time, after a whole address
        start = b"email=drip%40example.org&name="
        drip.sendall(
            f"POST /aanmelden HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
            f"Content-Length: {len(start) + 970}\r\n\r\n".encode()
            + start
        )
        headers_sent = time.monotonic()

        def dribble() -> None:
            for byte in b"x" * 970:
                time.sleep(0.2)
                try:
                    drip.send(bytes([byte]))
                except OSError:
                    return

        threading.Thread(target=dribble, daemon=True).start()

        # Meanwhile, a reader is served at once.
        asked = time.monotonic()
        reader = httpx.get(f"{serve.base}/aanmelden", timeout=10)
        assert reader.status_code == 200 and "Aanmelden" in reader.text
        assert time.monotonic() - asked < 2

        deadline = opened + header_timeout + 8
        for s in partial:
            answer, closed = until_closed(s, deadline)
            assert closed is not None, "a client without its headers is still connected"
            assert closed - opened >= header_timeout - 0.2  # not before its time
            assert answer.startswith(b"HTTP/1.1 408 ") or answer == b""
            s.close()
        for s in silent:
            answer, closed = until_closed(s, deadline)
            assert closed is not None and answer == b""  # nothing asked, nothing answered
            s.close()
        answer, closed = until_closed(drip, headers_sent + body_timeout + 8)
        drip.close()
        assert closed is not None and answer.startswith(b"HTTP/1.1 408 "), answer
        assert body_timeout - 0.2 <= closed - headers_sent < body_timeout + 8
        assert httpx.get(f"{serve.base}/healthz", timeout=10).text == "ok"
    assert not (demo_root / "outbox" / "aanmelden").exists()  # no part of the dripped sign-up was taken
    assert quiet(output_of(serve), serve.printed) == []


@pytest.mark.slow
def test_beyond_the_connection_cap_a_new_client_is_answered_503_and_the_cap_frees_up(demo_root: Path) -> None:
    with serving(demo_root, "--header-timeout", "1.5", "--max-connections", "20") as serve:
        idle = [connect(serve.base) for _ in range(20)]
        time.sleep(0.3)  # the server has taken them all
        over = connect(serve.base)
        answer, closed = until_closed(over, time.monotonic() + 5)
        assert answer.startswith(b"HTTP/1.1 503 ") and b"retry-after: 10" in answer.lower()
        assert closed is not None
        for s in idle:  # cut off after the header timeout: room again
            assert until_closed(s, time.monotonic() + 8)[1] is not None
            s.close()
        assert httpx.get(f"{serve.base}/aanmelden", timeout=10).status_code == 200
    output = output_of(serve)
    assert output.count("more than 20 connections at once") == 1
    assert quiet(output, serve.printed) == []
