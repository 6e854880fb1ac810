"""A small HTTP/1.1 client for collect's GET requests, on asyncio's streams.

Only what fetching feeds needs: GET with a few headers, keep-alive connections per origin, bodies
framed by Content-Length, chunked or the end of the connection, gzip and deflate undone with a cap on
the decoded size (a small gzip that unpacks to gigabytes stops at the cap), and redirects followed.
Where to connect is the caller's: ``connect`` opens a stream to an origin (``pipeline.infra.fetch``
resolves the host, refuses internal addresses and connects to a checked one). Timeouts are the
caller's too: it bounds each source with one deadline.

Why not httpx, which collect used before: a request cost ~1 ms of CPU there (h11's parser, the
connection pool's bookkeeping, the models), three times what the network side of a whole feed costs
here, and importing it took a tenth of collect's start-up. httpx still serves ``check --links``.

Every problem is one of the exceptions below, with a short English reason for the log; the caller
turns them into an editor's words.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
NO_BODY = frozenset({204, 304})
MAX_HEADERS = 100  # header lines in one answer
MAX_REASON = 100  # characters of a status line's reason phrase kept
DRAIN = 65_536  # bytes of an error's or a redirect's body read to keep the connection; more: it is closed
KEEPALIVE = 5.0  # seconds an idle connection is kept
# Idle connections kept at most, over all hosts: a run of feeds on as many hosts would otherwise keep a
# socket per host open to its end (cron's limit of open files is often 1,024). The oldest goes first.
MAX_IDLE = 256  # as many as requests at once by default: a busy round keeps its connections
CHUNK = 65_536
# What may stay as it is in a request target; anything else (spaces, non-ASCII) is percent-encoded.
_TARGET_SAFE = "/?#[]@!$&'()*+,;=:%~-._"


class HTTPProblem(Exception):
    "Anything that went wrong with one request; the subclass says what."


class ConnectFailed(HTTPProblem):
    "No connection to the server (refused, unreachable, a TLS handshake that failed)."


class BrokenOff(HTTPProblem):
    "The connection broke, or the server did not speak HTTP/1.1 as it should."


class BadEncoding(HTTPProblem):
    "A compressed body that does not decompress."


class TooLarge(HTTPProblem):
    "The body (decoded) is larger than the cap."


class TooManyRedirects(HTTPProblem):
    pass


class NotHTTP(HTTPProblem):
    "A redirect to an address that is not http(s), or not a valid one."


class BadAddress(HTTPProblem):
    "The address asked for is not a valid http(s) address."


@dataclass(frozen=True)
class Origin:
    scheme: str  # "http" or "https"
    host: str  # lower case, without brackets for IPv6
    port: int


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Connect = Callable[[Origin], Awaitable[Streams]]


@dataclass(frozen=True)
class Hop:
    "One redirect on the way: its status, the address that answered it and where it led."

    status: int
    url: str
    location: str


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: dict[str, str]  # names in lower case; a repeated header's values joined with ", "
    url: str  # the address that answered, after redirects
    body: bytes  # decoded; empty for 204/304 (and for an error's body larger than DRAIN)
    history: tuple[Hop, ...] = ()


@dataclass
class _Target:
    origin: Origin
    path: str  # the request target: path and query, percent-encoded
    host_header: str
    authorization: str | None


def target(url: str) -> _Target:
    """What a request to ``url`` needs, or ``NotHTTP`` when it is not an http(s) address."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise NotHTTP(f"not an http(s) address: {url[:200]}")
        port = parts.port if parts.port is not None else DEFAULT_PORTS[scheme]
        host = parts.hostname if parts.hostname.isascii() else parts.hostname.encode("idna").decode("ascii")
    except (ValueError, UnicodeError) as e:  # "http://[::1/", a port of letters, a label of 64 characters
        raise NotHTTP(f"not a valid address ({e}): {url[:200]}") from None
    if port == 0:
        raise NotHTTP(f"port 0: {url[:200]}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if not path.isascii() or not path.isprintable() or " " in path:
        path = quote(path, safe=_TARGET_SAFE)
    shown = f"[{host}]" if ":" in host else host
    if port != DEFAULT_PORTS[scheme]:
        shown += f":{port}"
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return _Target(Origin(scheme, host, port), path, shown, authorization)


class _Connection:
    def __init__(self, origin: Origin, streams: Streams) -> None:
        self.origin = origin
        self.reader, self.writer = streams
        self.idle_since = time.monotonic()

    def usable(self, now: float) -> bool:
        """Kept not too long, still open, and silent: bytes that came while it was idle answer nothing."""
        return (
            now - self.idle_since < KEEPALIVE
            and not self.reader.at_eof()
            and not self.writer.is_closing()
            and not _buffered(self.reader)
        )

    def close(self) -> None:
        self.writer.close()


class Client:
    """GET requests with keep-alive per origin; one client for a run, closed with ``aclose``."""

    def __init__(self, connect: Connect, headers: dict[str, str], max_redirects: int) -> None:
        self.connect = connect
        self.headers = headers  # sent with every request
        self.max_redirects = max_redirects
        self._idle: dict[Origin, list[_Connection]] = {}  # the origin kept last comes last
        self._idle_count = 0

    async def aclose(self) -> None:
        idle, self._idle, self._idle_count = self._idle, {}, 0
        for connections in idle.values():
            for c in connections:
                c.close()

    async def get(self, url: str, headers: dict[str, str], cap: int) -> Answer:
        """GET ``url``, following redirects; the body of a 200 is read whole (at most ``cap`` bytes
        decoded, else ``TooLarge``)."""
        try:
            t = target(url)
        except NotHTTP as e:
            raise BadAddress(str(e)) from None
        # A login in the address goes along to the same origin only, and never into an address
        # this returns (the base for an item's relative links).
        origin, login = t.origin, t.authorization
        url = _without_login(url)
        history: list[Hop] = []
        while True:
            answer = await self._one(url, t, headers, cap, login if t.origin == origin else None)
            location = answer.headers.get("location")
            if answer.status not in (301, 302, 303, 307, 308) or location is None:
                return Answer(answer.status, answer.reason, answer.headers, url, answer.body, tuple(history))
            if len(history) >= self.max_redirects:
                raise TooManyRedirects(f"more than {self.max_redirects} redirects")
            try:
                following = _without_login(urljoin(url, _as_text(location.strip())))
            except ValueError as e:  # "http://[zz/"
                raise NotHTTP(f"a redirect to an address that cannot be read ({e})") from None
            history.append(Hop(answer.status, url, following))
            url, t = following, target(following)

    async def _one(
        self, url: str, t: _Target, headers: dict[str, str], cap: int, authorization: str | None
    ) -> Answer:
        request = _request(t, {**self.headers, **headers}, authorization)
        connection, reused = await self._connection(t.origin)
        try:
            try:
                status, reason, answer_headers, keep = await self._send(connection, request)
            except BrokenOff:
                if not reused:
                    raise
                # A kept connection the server closed meanwhile: once more on a new one.
                connection.close()
                connection, _ = await self._connection(t.origin, fresh=True)
                status, reason, answer_headers, keep = await self._send(connection, request)
            body, keep = await self._body(connection, status, answer_headers, keep, cap)
        except BaseException:
            connection.close()
            raise
        if keep:
            connection.idle_since = time.monotonic()
            self._keep(connection)
        else:
            connection.close()
        return Answer(status, reason, answer_headers, url, body)

    def _keep(self, connection: _Connection) -> None:
        kept = self._idle.pop(connection.origin, [])
        kept.append(connection)
        self._idle[connection.origin] = kept  # last: the origin kept most recently
        self._idle_count += 1
        if self._idle_count > MAX_IDLE:
            oldest = next(iter(self._idle))
            self._take(oldest, 0).close()

    def _take(self, origin: Origin, at: int = -1) -> _Connection:
        kept = self._idle[origin]
        connection = kept.pop(at)
        if not kept:
            del self._idle[origin]
        self._idle_count -= 1
        return connection

    async def _connection(self, origin: Origin, fresh: bool = False) -> tuple[_Connection, bool]:
        now = time.monotonic()
        while origin in self._idle and not fresh:
            connection = self._take(origin)
            if connection.usable(now):
                return connection, True
            connection.close()
        try:
            streams = await self.connect(origin)
        except HTTPProblem:
            raise
        except OSError as e:  # refused, unreachable, TLS (ssl.SSLError is an OSError)
            raise ConnectFailed(_reason(e)) from None
        return _Connection(origin, streams), False

    async def _send(self, connection: _Connection, request: bytes) -> tuple[int, str, dict[str, str], bool]:
        connection.writer.write(request)
        try:
            await connection.writer.drain()
            status, reason, headers, version = await _head(connection.reader)
            while 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
                status, reason, headers, version = await _head(connection.reader)
        except (OSError, asyncio.IncompleteReadError) as e:
            raise BrokenOff(_reason(e)) from None
        tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        keep = "close" not in tokens and (version == "HTTP/1.1" or "keep-alive" in tokens)
        return status, reason, headers, keep

    async def _body(
        self, connection: _Connection, status: int, headers: dict[str, str], keep: bool, cap: int
    ) -> tuple[bytes, bool]:
        """The body, decoded, and whether the connection can serve another request."""
        declared = headers.get("content-length")
        chunked = _chunked_coding(headers.get("transfer-encoding"))
        if status in NO_BODY:
            # No body, whatever the headers say; one that promises a body anyway is not trusted again.
            return b"", keep and not chunked and (declared or "0").strip() == "0"
        limit = cap if status == 200 else DRAIN
        length = None
        if declared is not None and not chunked:
            if not _digits(declared.strip()):
                raise BrokenOff(f"Content-Length is not a number: {declared[:40]!r}")
            length = int(declared)
            if length > limit:
                if status == 200:
                    raise TooLarge(f"Content-Length {length}")
                return b"", False  # an error's long body: not read, the connection not kept
        if chunked:
            raw = _chunked(connection.reader)
        elif length is not None:
            raw = _counted(connection.reader, length)
        else:
            raw, keep = _until_closed(connection.reader), False
        decoder = _Decoder(headers.get("content-encoding", ""), limit)
        try:
            async for piece in raw:
                decoder.feed(piece)
            decoder.finish()
        except TooLarge:
            if status == 200:
                raise
            return b"", False
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            raise BrokenOff(_reason(e)) from None
        # Bytes after the body are not an answer to anything asked: the connection is not used again.
        return decoder.result(), keep and not _buffered(connection.reader)


def _request(t: _Target, headers: dict[str, str], authorization: str | None) -> bytes:
    lines = [f"GET {t.path} HTTP/1.1", f"Host: {t.host_header}"]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            continue  # a stored validator with a line break: never let it end the header
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


async def _head(reader: asyncio.StreamReader) -> tuple[int, str, dict[str, str], str]:
    """The status line and the headers of one answer."""
    try:
        line = await reader.readline()
    except ValueError:  # longer than the reader's limit (64 KiB)
        raise BrokenOff("a status line longer than 64 KiB") from None
    if not line:
        raise BrokenOff("the server closed the connection without an answer")
    version, _, rest = line.decode("latin-1").strip().partition(" ")
    code, _, reason = rest.partition(" ")
    if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not _digits(code):
        raise BrokenOff(f"not an HTTP/1.1 answer: {line[:60]!r}")
    # The reason goes into a failure's message, the log and the report: printable, and short.
    reason = "".join(c for c in reason[:MAX_REASON] if c.isprintable())
    headers: dict[str, str] = {}
    for _n in range(MAX_HEADERS + 1):
        try:
            line = await reader.readline()
        except ValueError:
            raise BrokenOff("a header line longer than 64 KiB") from None
        if line in (b"\r\n", b"\n"):
            return int(code), reason.strip(), headers, version
        if not line.endswith(b"\n"):
            raise BrokenOff("the answer's headers were cut off")
        name, colon, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if not colon or not name or " " in name:
            raise BrokenOff(f"a broken header line: {line[:60]!r}")
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    raise BrokenOff(f"more than {MAX_HEADERS} header lines")


async def _counted(reader: asyncio.StreamReader, length: int) -> AsyncIterator[bytes]:
    while length > 0:
        piece = await reader.read(min(length, CHUNK))
        if not piece:
            raise BrokenOff(f"the body ended {length} bytes early")
        length -= len(piece)
        yield piece


async def _chunked(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while True:
        line = await reader.readline()
        digits = line.split(b";", 1)[0].strip(b" \t\r\n")
        if not _HEX.fullmatch(digits):  # 1 to 16 hex digits: no sign, no "0x", no "_"
            raise BrokenOff(f"a broken chunk size: {line[:40]!r}")
        size = int(digits, 16)
        if size == 0:
            for _n in range(MAX_HEADERS + 1):  # the trailer, up to its empty line
                if (await reader.readline()) in (b"\r\n", b"\n"):
                    return
            raise BrokenOff("a chunked body without its end")
        async for piece in _counted(reader, size):
            yield piece
        if (await reader.readline()) not in (b"\r\n", b"\n"):
            raise BrokenOff("a chunk without its line end")


async def _until_closed(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while piece := await reader.read(CHUNK):
        yield piece


_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


def _digits(text: str) -> bool:
    "Only ASCII digits ('²'.isdigit() is true, and int() refuses it)."
    return text.isascii() and text.isdigit()


def _chunked_coding(value: str | None) -> bool:
    """Whether the body is chunked; a transfer coding this client does not undo (gzip, chunked) is refused."""
    codings = [c.strip().lower() for c in (value or "").split(",") if c.strip()]
    if codings in ([], ["identity"]):
        return False
    if codings == ["chunked"]:
        return True
    raise BrokenOff(f"a transfer coding this client does not read: {(value or '')[:40]!r}")


def _buffered(reader: asyncio.StreamReader) -> bool:
    "Whether bytes wait in the reader (asyncio has no public way to ask)."
    return bool(getattr(reader, "_buffer", b""))


GZIP_MAGIC = b"\x1f\x8b"


class _Decoder:
    """Undoes ``Content-Encoding`` (gzip, deflate; identity and unknown ones are left as they are)
    while counting the decoded bytes against ``limit``. A compressed stream must end: one cut off
    (a connection closed early, a body without its trailer) is a ``BadEncoding``, not a shorter feed."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []
        names = [e.strip().lower() for e in encoding.split(",") if e.strip()]
        names = [n for n in names if n in ("gzip", "x-gzip", "deflate")]
        if len(names) > 1:
            raise BadEncoding(f"more than one compression: {encoding[:60]}")
        self.kind = names[0] if names else None
        self._z: zlib._Decompress | None = None
        self._start = b""  # deflate's first byte, until its second says zlib or raw
        self._fed = False
        self._after_end = 0  # bytes after the compressed stream's end: ignored, but counted
        self._tail = b""  # the start of what may be gzip's next member
        if self.kind in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> None:
        if self.kind is None:
            self._keep(data)
            return
        if not data:
            return
        self._fed = True
        if self._z is None:  # deflate: zlib-wrapped by the standard, raw from some servers
            data, self._start = self._start + data, b""
            if len(data) < 2:
                self._start = data
                return
            wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0  # a zlib header
            self._z = zlib.decompressobj() if wrapped else zlib.decompressobj(-zlib.MAX_WBITS)
        self._inflate(data)

    def _inflate(self, data: bytes) -> None:
        assert self._z is not None
        while data:
            if self._z.eof:
                # After the stream's end: gzip's next member (RFC 1952 allows several), or bytes that are
                # ignored but counted, so that an endless tail cannot fill the memory.
                data, self._tail = self._tail + data, b""
                if self.kind != "deflate" and data[:2] == GZIP_MAGIC:
                    self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                elif self.kind != "deflate" and GZIP_MAGIC.startswith(data):
                    self._tail = data  # half of the next member's magic: wait for the rest
                    return
                else:
                    self._after_end += len(data)
                    if self._after_end > self.limit:
                        raise TooLarge(f"more than {self.limit} bytes after the compressed body")
                    return
            try:
                self._keep(self._z.decompress(data, self.limit - self.size + 1))
            except zlib.error as e:
                raise BadEncoding(str(e)) from None
            data = self._z.unused_data if self._z.eof else b""

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge(f"more than {self.limit} bytes")
        self.parts.append(data)

    def finish(self) -> None:
        if self._start:  # a deflate body of one byte
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            self._inflate(self._start)
        if self._z is None or not self._fed:
            return
        try:
            self._keep(self._z.flush())
        except zlib.error as e:
            raise BadEncoding(str(e)) from None
        if not self._z.eof:
            raise BadEncoding("the compressed body was cut off before its end")

    def result(self) -> bytes:
        return b"".join(self.parts)


def _without_login(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _as_text(header: str) -> str:
    "A header value read as Latin-1, as the UTF-8 it usually is (a Location with é)."
    try:
        return header.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return header


def _reason(e: BaseException) -> str:
    if isinstance(e, asyncio.IncompleteReadError):
        return "the connection closed in the middle of an answer"
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:160]
