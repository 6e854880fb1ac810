"""A real local HTTP server for tests (and the benchmark): feeds, with the ways servers misbehave.

    with FeedServer() as server:
        server.route("/feed.rss", body, etag='"v1"', last_modified="Wed, 18 Nov 2026 10:00:00 GMT")
        server.route("/slow", body, delay=5)
        server.route("/old", status=301, location="/feed.rss")
        server.route("/endless", endless=True)
        url = server.url("/feed.rss")
        ...
        assert server.hits("/feed.rss") == 2
        assert server.requests[-1].headers["If-None-Match"] == '"v1"'

Loopback only (127.0.0.1 by default, any 127.x.y.z works on Linux for "other hosts"). HTTP/1.1
with keep-alive, one thread per connection. Conditional requests are answered with 304 when the
request's If-None-Match or If-Modified-Since matches the route.
"""

from __future__ import annotations

import gzip as gzip_mod
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str | None = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0  # seconds before the answer
    location: str | None = None  # for 3xx
    endless: bool = False  # a body that never ends (until the client hangs up)
    drip: float = 0.0  # seconds between 1-byte chunks: slow but never idle long enough for a read timeout
    encoding: str | None = None  # "gzip" or "deflate": compress the body and say so
    fail_first: int = 0  # answer the first N requests with 503 (to test retries)
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass

    def setup(self) -> None:  # a new connection
        super().setup()
        with self.server.owner.lock:
            self.server.owner.connections += 1

    def do_GET(self) -> None:  # the http.server naming
        owner = self.server.owner
        with owner.lock:
            owner.active += 1
            owner.most_at_once = max(owner.most_at_once, owner.active)
        try:
            self._answer(owner)
        finally:
            with owner.lock:
                owner.active -= 1

    def _answer(self, owner: FeedServer) -> None:
        path = self.path.split("?", 1)[0]
        with owner.lock:
            owner.requests.append(Seen("GET", self.path, dict(self.headers.items())))
            route = owner.routes.get(path)
            if route is not None:
                route.hits += 1
        if route is None:
            self._send(404, b"not found", "text/plain")
            return
        if route.delay:
            time.sleep(route.delay)
        if route.hits <= route.fail_first:
            self._send(503, b"try again", "text/plain")
            return
        if route.status in (301, 302, 303, 307, 308):
            self._send(route.status, b"", None, {"Location": route.location or "/"})
            return
        if route.status != 200:
            self._send(route.status, route.body, route.content_type, route.headers)
            return
        if (route.etag and self.headers.get("If-None-Match") == route.etag) or (
            route.last_modified
            and not route.etag
            and self.headers.get("If-Modified-Since") == route.last_modified
        ):
            self._send(304, b"", None, self._validators(route))
            return
        if route.endless:
            self._endless(route)
            return
        if route.drip:
            self._drip(route)
            return
        body, extra = route.body, self._validators(route)
        if route.encoding == "gzip":
            body, extra["Content-Encoding"] = gzip_mod.compress(body), "gzip"
        elif route.encoding == "deflate":
            body, extra["Content-Encoding"] = zlib.compress(body), "deflate"
        self._send(200, body, route.content_type, {**extra, **route.headers})

    def _validators(self, route: Route) -> dict[str, str]:
        out = {}
        if route.etag:
            out["ETag"] = route.etag
        if route.last_modified:
            out["Last-Modified"] = route.last_modified
        return out

    def _send(
        self, status: int, body: bytes, ctype: str | None, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _endless(self, route: Route) -> None:
        self.send_response(200)
        self.send_header("Content-Type", route.content_type or "application/rss+xml")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"<item><title>x</title></item>" * 2000
        try:
            for _ in range(100_000):  # ~6 GB at most: "endless" for any sane cap
                self.wfile.write(chunk)
        except OSError:
            pass
        self.close_connection = True

    def _drip(self, route: Route) -> None:
        self.send_response(200)
        self.send_header("Content-Type", route.content_type or "application/rss+xml")
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        try:
            for i in range(len(route.body)):
                self.wfile.write(route.body[i : i + 1])
                self.wfile.flush()
                time.sleep(route.drip)
        except OSError:
            pass
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a test must not wait for a deliberately slow handler to finish
    request_queue_size = 256
    owner: FeedServer


class FeedServer:
    """A local HTTP server in a background thread; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self.active = 0  # requests being answered now
        self.most_at_once = 0  # the most that were ever answered at the same time
        self.connections = 0  # connections accepted (keep-alive serves several requests on one)
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> FeedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, body: bytes | str = b"", **options: Any) -> str:
        """Serve ``body`` at ``path`` (see ``Route`` for the options); returns the full URL."""
        data = body.encode() if isinstance(body, str) else body
        with self.lock:
            self.routes[path] = Route(body=data, **options)
        return self.url(path)

    def hits(self, path: str) -> int:
        route = self.routes.get(path)
        return route.hits if route else 0
