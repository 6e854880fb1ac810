"""collect's HTTP/1.1 client against servers that answer byte by byte as a test writes them.

The feed server in feedserver.py is a well-behaved ``http.server``; these answers are the ones it
never gives: chunked bodies, bodies ended by closing, interim answers, kept connections the server
drops, and every way an answer can be broken or too big. Each goes through ``fetch_all``, so the
reason is checked as an editor reads it.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from pipeline.infra import http1
from pipeline.infra.fetch import Fetched, Fetcher, Limits, Request, fetch_all

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Nieuws</title></channel></rss>'
LIMITS = Limits(timeout=5, retries=0, allow_private_addresses=True, max_bytes=100_000)

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Seen"], Awaitable[None]]


@dataclass
class Seen:
    "What the server saw: every request's head and how many connections were made."

    heads: list[bytes] = field(default_factory=list)
    connections: int = 0


def fixed(*answers: bytes, close: bool = False) -> Reply:
    """Answers each request on a connection with the next of ``answers`` (the last one repeats)."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        n = 0
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            seen.heads.append(head)
            writer.write(answers[min(n, len(answers) - 1)])
            await writer.drain()
            n += 1
            if close:
                writer.close()
                return

    return reply


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serving(
    handle: Handler, requests: Callable[[int], list[Request]], limits: Limits = LIMITS, **server: Any
) -> list[Fetched]:
    """Serves ``handle`` on a free port of 127.0.0.1 while ``requests(port)`` are fetched."""
    listening = await asyncio.start_server(handle, "127.0.0.1", 0, **server)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        return await fetch_all(requests(port), limits)


def counting(reply: Reply, seen: Seen) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        try:
            await reply(reader, writer, seen)
        finally:
            writer.close()

    return handle


async def fetch_from(reply: Reply, path: str = "/feed", **request: str) -> tuple[Fetched, Seen]:
    seen = Seen()
    (result,) = await serving(
        counting(reply, seen), lambda port: [Request("s", f"http://127.0.0.1:{port}{path}", **request)]
    )
    return result, seen


def run(reply: Reply, path: str = "/feed", **request: str) -> tuple[Fetched, Seen]:
    return asyncio.run(fetch_from(reply, path, **request))


def ok(body: bytes, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def chunked(*pieces: bytes, trailer: bytes = b"") -> bytes:
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for piece in pieces:
        out += f"{len(piece):x};ext=1\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"


# -- bodies as servers frame them ---------------------------------------------------------------------
def test_a_chunked_body_with_extensions_and_a_trailer():
    result, _ = run(fixed(chunked(FEED[:10], FEED[10:], trailer=b"X-Check: 1\r\n")))
    assert (result.status, result.body) == ("fetched", FEED)


def test_a_body_ended_by_closing_the_connection():
    result, _ = run(fixed(b"HTTP/1.0 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n" + FEED, close=True))
    assert (result.status, result.body, result.content_type) == ("fetched", FEED, "application/rss+xml")


def test_an_interim_answer_before_the_real_one():
    result, _ = run(fixed(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(FEED)))
    assert (result.status, result.body) == ("fetched", FEED)


@pytest.mark.parametrize(
    ("encoding", "packed"),
    [
        ("gzip", gzip.compress(FEED)),
        ("deflate", zlib.compress(FEED)),
        ("deflate", zlib.compress(FEED)[2:-4]),  # raw deflate, as some servers send it
        ("identity", FEED),
    ],
    ids=["gzip", "zlib-deflate", "raw-deflate", "identity"],
)
def test_compressed_bodies_are_undone(encoding: str, packed: bytes):
    result, seen = run(fixed(ok(packed, f"Content-Encoding: {encoding}")))
    assert (result.status, result.body) == ("fetched", FEED)
    assert b"\r\nAccept-Encoding: gzip, deflate\r\n" in seen.heads[0]


def test_a_request_says_who_asks_and_where():
    _, seen = run(fixed(ok(FEED)), path="/nieuws feed/é?x=1", etag='"v1"', last_modified="Mon, 23 Nov 2026")
    head = seen.heads[0].decode("latin-1")
    assert head.startswith("GET /nieuws%20feed/%C3%A9?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert '\r\nIf-None-Match: "v1"\r\n' in head
    assert "\r\nIf-Modified-Since: Mon, 23 Nov 2026\r\n" in head
    assert "\r\nUser-Agent: newsletter-pipeline/" in head


def test_a_stored_validator_cannot_add_a_header():
    _, seen = run(fixed(ok(FEED)), etag='"v1"\r\nX-Injected: yes')
    assert b"X-Injected" not in seen.heads[0]
    assert b"If-None-Match" not in seen.heads[0]


# -- connections kept and lost ------------------------------------------------------------------------
ONE_AT_A_TIME = Limits(timeout=5, retries=0, allow_private_addresses=True, per_host=1)


def test_a_kept_connection_serves_the_next_request():
    seen = Seen()
    results = asyncio.run(
        serving(
            counting(fixed(ok(FEED)), seen),
            lambda port: [Request(k, f"http://127.0.0.1:{port}/feed?{k}") for k in "abc"],
            ONE_AT_A_TIME,
        )
    )
    assert [r.status for r in results] == ["fetched"] * 3
    assert (len(seen.heads), seen.connections) == (3, 1)


def test_a_kept_connection_the_server_dropped_is_replaced_without_a_failure():
    seen = Seen()

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        if seen.connections > 1:
            await fixed(ok(FEED))(reader, writer, seen)
            return
        seen.heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(ok(FEED))
        await writer.drain()
        # The kept connection's next request: read, then closed unanswered (as an idle timeout does).
        await reader.readuntil(b"\r\n\r\n")

    results = asyncio.run(
        serving(
            counting(answer_once, seen),
            lambda port: [Request(k, f"http://127.0.0.1:{port}/feed") for k in "ab"],
            ONE_AT_A_TIME,
        )
    )
    assert [(r.status, r.attempts) for r in results] == [("fetched", 1), ("fetched", 1)]
    assert seen.connections == 2


# -- broken and hostile answers: a failure with a reason, never an exception ----------------------------
GZIP_BOMB = gzip.compress(b"<" * 20_000_000)  # 20 MB unpacked from ~20 KB


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n", "the connection broke off (not an HTTP/1.1 answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" + FEED, "the connection broke off (the body ended"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n", "the connection broke off (Content-Length is not a number"),
        (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", "the connection broke off (a header line longer than 64 KiB)"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n", "the connection broke off (more than 100 header lines)"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "the connection broke off (a broken header line"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "the connection broke off (a broken chunk size"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n", "larger than the limit of 0.1 MB (newsletter.collect.max_bytes)"),
        (ok(GZIP_BOMB, "Content-Encoding: gzip"), "larger than the limit of 0.1 MB (newsletter.collect.max_bytes)"),
        (chunked(*[b"x" * 60_000] * 3), "larger than the limit of 0.1 MB (newsletter.collect.max_bytes)"),
        (ok(b"not gzip at all", "Content-Encoding: gzip"), "the server sent a broken compressed (gzip/deflate) body"),
        (b"HTTP/1.1 302 Found\r\nLocation: ftp://files.example.nl/feed\r\nContent-Length: 0\r\n\r\n", "a redirect led to an address that is not http(s)"),
        (b"HTTP/1.1 302 Found\r\nLocation: /feed\r\nContent-Length: 0\r\n\r\n", "more than 5 redirects (a redirect loop?): check the address"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", "HTTP 204 No Content: expected 200 with a feed"),
        (b"", "the connection broke off (the server closed the connection without an answer)"),
        (b"HTTP/1.1 \xb200 OK\r\n\r\n", "the connection broke off (not an HTTP/1.1 answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n", "the connection broke off (Content-Length is not a number"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+4\r\nabcd\r\n0\r\n\r\n", "the connection broke off (a broken chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "the connection broke off (a transfer coding this client does not read"),
        (ok(gzip.compress(FEED)[:-10], "Content-Encoding: gzip"), "the server sent a broken compressed (gzip/deflate) body"),
        (b"HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gzip.compress(FEED * 20)[:60], "the server sent a broken compressed (gzip/deflate) body"),
        (b"HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gzip.compress(FEED) + b"x" * 150_000, "larger than the limit of 0.1 MB (newsletter.collect.max_bytes)"),
        (b"HTTP/1.1 302 Found\r\nLocation: http://[zz/\r\nContent-Length: 0\r\n\r\n", "a redirect led to an address that is not http(s)"),
        (b"HTTP/1.1 302 Found\r\nLocation: http://a..b/\r\nContent-Length: 0\r\n\r\n", "cannot connect ("),
    ],
    ids=["not-http", "short-body", "bad-length", "long-header", "many-headers", "bad-header", "bad-chunk",
         "declared-too-big", "gzip-bomb", "chunked-too-big", "bad-gzip", "redirect-to-ftp", "redirect-loop",
         "no-content", "closed", "status-not-ascii-digits", "length-not-ascii-digits", "chunk-size-with-sign",
         "transfer-gzip", "gzip-cut", "gzip-cut-by-closing", "endless-tail-after-gzip", "redirect-unreadable",
         "redirect-idna-refused"],
)  # fmt: skip
def test_a_broken_answer_is_a_failure_with_its_reason(answer: bytes, reason: str):
    result, _ = run(fixed(answer, close=not answer.startswith(b"HTTP/1.1 302")))
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith(reason), result.error


def test_a_redirect_loop_stops_after_five_redirects():
    result, seen = run(fixed(b"HTTP/1.1 302 Found\r\nLocation: /feed\r\nContent-Length: 0\r\n\r\n"))
    assert result.error == "more than 5 redirects (a redirect loop?): check the address"
    assert len(seen.heads) == 6  # the request and five redirects followed


def test_an_error_with_a_long_body_does_not_read_it_all():
    huge = b"HTTP/1.1 503 Busy\r\nContent-Length: 50000000\r\n\r\n" + b"x" * 100_000
    result, _ = run(fixed(huge))
    assert result.error == "HTTP 503 Busy: the server failed"


def test_a_redirect_keeps_the_path_and_drops_a_login_for_another_host():
    async def scenario() -> tuple[Fetched, Seen, Seen]:
        there, here = Seen(), Seen()
        other = await asyncio.start_server(counting(fixed(ok(FEED)), there), "127.0.0.2", 0)
        other_port = other.sockets[0].getsockname()[1]
        moved = f"HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.2:{other_port}/nieuw\r\nContent-Length: 0\r\n\r\n"
        async with other:
            (result,) = await serving(
                counting(fixed(moved.encode()), here),
                lambda port: [Request("s", f"http://partner:geheim@127.0.0.1:{port}/oud")],
            )
        return result, here, there

    result, here, there = asyncio.run(scenario())
    assert result.status == "fetched"
    assert result.permanent_redirect == result.final_url
    assert result.final_url is not None and result.final_url.endswith("/nieuw")
    assert b"\r\nAuthorization: Basic cGFydG5lcjpnZWhlaW0=\r\n" in here.heads[0]  # partner:geheim
    assert b"Authorization" not in there.heads[0]


def test_a_login_in_the_address_goes_along_to_the_same_host_only():
    seen = Seen()
    moved = b"HTTP/1.1 302 Found\r\nLocation: /nieuw\r\nContent-Length: 0\r\n\r\n"
    (result,) = asyncio.run(
        serving(
            counting(fixed(moved, ok(FEED)), seen),
            lambda port: [Request("s", f"http://partner:geheim@127.0.0.1:{port}/oud")],
        )
    )
    assert result.status == "fetched"
    assert [h.count(b"\r\nAuthorization: Basic cGFydG5lcjpnZWhlaW0=\r\n") for h in seen.heads] == [1, 1]
    assert result.final_url is not None and "geheim" not in result.final_url


def test_a_login_never_reaches_the_address_relative_links_resolve_against():
    (result,) = asyncio.run(
        serving(
            counting(fixed(ok(FEED)), Seen()),
            lambda port: [Request("s", f"http://partner:geheim@127.0.0.1:{port}/feed")],
        )
    )
    assert result.final_url is not None and result.final_url.startswith("http://127.0.0.1:")
    assert result.final_url.endswith("/feed")


def test_an_address_without_a_host_is_a_clear_failure():
    with pytest.raises(http1.BadAddress):
        asyncio.run(http1.Client(_never_connect, {}, 5).get("http:///feed", {}, 1000))
    (result,) = asyncio.run(fetch_all([Request("s", "http:///feed")], LIMITS))
    assert result.error == "not a valid web address; check the address in sources.yaml"


async def _never_connect(origin: http1.Origin) -> http1.Streams:
    raise AssertionError(f"connected to {origin}")


# -- TLS: the certificate is checked, for the host's name -----------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (its PEM file, its key's)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "feeds.test")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365 * 30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(folder / "cert.pem"), str(folder / "key.pem")


async def fetch_over_tls(certificate: tuple[str, str]) -> Fetched:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    (result,) = await serving(
        counting(fixed(ok(FEED)), Seen()),
        lambda port: [Request("s", f"https://127.0.0.1:{port}/feed")],
        ssl=context,
    )
    return result


def test_a_certificate_nobody_vouches_for_is_refused(certificate: tuple[str, str]):
    result = asyncio.run(fetch_over_tls(certificate))
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith("cannot connect (")
    assert "CERTIFICATE_VERIFY_FAILED" in result.error


def test_a_trusted_certificate_carries_the_feed(
    certificate: tuple[str, str], monkeypatch: pytest.MonkeyPatch
):
    import ssl

    from pipeline.infra import fetch

    trusted = ssl.create_default_context(cafile=certificate[0])
    monkeypatch.setattr(fetch._Connector, "tls", lambda self: trusted)
    result = asyncio.run(fetch_over_tls(certificate))
    assert (result.status, result.body) == ("fetched", FEED)


def test_idle_connections_are_few_however_many_hosts(monkeypatch: pytest.MonkeyPatch):
    """Each host's kept connection is closed once MAX_IDLE others are kept (the oldest first), not at
    the end of the run: a run over as many hosts as cron's limit of open files would fail."""
    monkeypatch.setattr(http1, "MAX_IDLE", 2)

    async def scenario() -> tuple[list[Fetched], list[int]]:
        open_now: set[int] = set()

        def server(n: int) -> Handler:
            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                open_now.add(n)
                try:
                    await fixed(ok(FEED))(reader, writer, Seen())
                finally:
                    open_now.discard(n)

            return handle

        servers = [await asyncio.start_server(server(n), "127.0.0.1", 0) for n in range(5)]
        ports = [s.sockets[0].getsockname()[1] for s in servers]
        fetcher = Fetcher(Limits(timeout=5, retries=0, allow_private_addresses=True, concurrency=1))
        requests = [Request(str(n), f"http://127.0.0.1:{port}/feed") for n, port in enumerate(ports)]
        results = [f async for f in fetcher.fetch_each(requests)]
        await asyncio.sleep(0.2)  # the servers see the closed connections
        still_open = sorted(open_now)
        await fetcher.aclose()
        for s in servers:
            s.close()
        return results, still_open

    results, still_open = asyncio.run(scenario())
    assert [r.status for r in results] == ["fetched"] * 5
    assert still_open == [3, 4]  # the two kept last


# -- answers a server must not give, found by attacking the client ---------------------------------------
@pytest.mark.parametrize(
    "address", ["http://[::1/feed", "http://127.0.0.1:0/feed"], ids=["bracket", "port-0"]
)
def test_an_address_that_cannot_be_read_is_a_failure_not_a_crash(address: str):
    results = asyncio.run(fetch_all([Request("a", address), Request("b", "http://[::1")], LIMITS))
    assert [r.error for r in results] == ["not a valid web address; check the address in sources.yaml"] * 2


@pytest.mark.parametrize(
    "first",
    [
        ok(b"AAAA") + ok(b"EVIL"),
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\n\r\nEVIL",
        b"HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\nEVIL",
    ],
    ids=["bytes-after-the-body", "304-with-a-body", "204-with-a-body"],
)
def test_bytes_no_request_asked_for_never_answer_the_next_one(first: bytes):
    """A server that sends more than its answer does not get its connection used again: the extra bytes
    would be read as the answer to the host's next feed."""
    seen = Seen()
    results = asyncio.run(
        serving(
            counting(fixed(first), seen),
            lambda port: [Request(k, f"http://127.0.0.1:{port}/feed?{k}", etag='"v"') for k in "ab"],
            ONE_AT_A_TIME,
        )
    )
    assert b"EVIL" not in b"".join(r.body for r in results)
    assert (len(seen.heads), seen.connections) == (2, 2)  # each feed asked once, on a connection of its own


def test_a_reason_phrase_reaches_the_report_short_and_printable():
    answer = b"HTTP/1.1 404 \x1b]0;pwned\x07" + b"x" * 60_000 + b"\r\nContent-Length: 0\r\n\r\n"
    result, _ = run(fixed(answer))
    assert result.error is not None
    assert result.error.startswith("HTTP 404 ]0;pwnedxxx") and result.error.endswith(
        ": no feed at this address; check the address in sources.yaml"
    )
    assert len(result.error) < 200


def test_gzip_of_several_members_is_read_whole_even_split_inside_the_magic():
    second = gzip.compress(FEED[40:])
    body = gzip.compress(FEED[:40]) + second
    one, _ = run(fixed(ok(body, "Content-Encoding: gzip")))
    split = len(body) - len(second) + 1  # the next member's first byte in one chunk, the rest in the next
    two, _ = run(
        fixed(chunked(body[:split], body[split:]).replace(b"OK\r\n", b"OK\r\nContent-Encoding: gzip\r\n", 1))
    )
    assert (one.body, two.body) == (FEED, FEED)


@pytest.mark.parametrize("packed", [zlib.compress(FEED), zlib.compress(FEED)[2:-4]], ids=["zlib", "raw"])
def test_deflate_arriving_a_byte_at_a_time(packed: bytes):
    answer = chunked(*(bytes([b]) for b in packed)).replace(
        b"OK\r\n", b"OK\r\nContent-Encoding: deflate\r\n", 1
    )
    result, _ = run(fixed(answer))
    assert (result.status, result.body) == ("fetched", FEED)
