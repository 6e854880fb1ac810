"""A local SendGrid for tests: Prism on SendGrid's own (patched) spec, behind a recording proxy.

Use as a pytest plugin (``pytest_plugins = ["tests.sendgrid_mock"]``) or import its fixtures.

- ``prism`` (session): Prism 5.14.2 from ``node_modules`` (``npm ci``) on a free loopback port,
  polled until ready, stopped at the end. Skips with the reason when Prism or the spec is absent.
- ``sendgrid`` (per test): a ``MockProxy`` in front of Prism. It records every request (parsed JSON
  body, Prism's status, the ``sl-violations`` header), can force ``Prefer: code=429/503/400`` on
  chosen requests, drop the answer after Prism accepted (an answer lost on the way back), and call
  a hook at each request (the crash test kills the sender there). After the test it asserts that
  no request broke the spec: every request the project makes must be valid.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "tests" / "sendgrid" / "tsg_newsletter.patched.yaml"  # vendored: see its README
PRISM = REPO / "node_modules" / ".bin" / "prism"
API_KEY = "SG.test-key-never-printed-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Prism:
    url: str
    process: subprocess.Popen[bytes]


def start_prism(port: int | None = None, timeout: float = 30.0) -> Prism:
    """Start Prism on the spec and wait until it answers; the caller stops it (``stop_prism``)."""
    port = port or free_port()
    node = shutil.which("node")
    if node is None or not PRISM.exists():
        raise FileNotFoundError(f"Prism is not installed ({PRISM}); run 'npm ci' in the repository")
    if not SPEC.exists():
        raise FileNotFoundError(f"{SPEC} is absent: restore tests/sendgrid/ from the repository")
    process = subprocess.Popen(
        [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Prism exited with {process.returncode} before it was ready")
        try:
            request = urllib.request.Request(
                f"{url}/v3/mail/batch/ready", headers={"Authorization": "Bearer SG.test"}
            )
            with urllib.request.urlopen(request, timeout=1) as r:
                if r.status == 200:
                    return Prism(url, process)
        except OSError:
            time.sleep(0.1)
    stop_prism(Prism(url, process))
    raise RuntimeError(f"Prism did not answer within {timeout} s")


def stop_prism(prism: Prism) -> None:
    prism.process.terminate()
    try:
        prism.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        prism.process.kill()
        prism.process.wait()


@dataclass
class Recorded:
    """One request as the proxy saw it."""

    index: int
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or None
    status: int = 0  # Prism's answer (0: never forwarded)
    violations: str | None = None
    fault: str | None = None
    answered: bool = False  # the answer reached the client

    @property
    def recipients(self) -> list[str]:
        if not isinstance(self.body, dict):
            return []
        return [t["email"] for p in self.body.get("personalizations", []) for t in p.get("to", [])]


# A fault: given a recorded request (before forwarding), say what to do with it:
# None (forward it), "429"/"503"/"400" (forward with Prefer: code=...), "drop" (forward, then close
# the connection without answering), "refuse" (close at once, never forwarded).
Fault = Callable[[Recorded], str | None]
Hook = Callable[[Recorded, str], None]  # (request, "received" | "answered-by-prism")


@dataclass
class MockProxy:
    prism_url: str
    records: list[Recorded] = field(default_factory=list)
    fault: Fault | None = None
    hook: Hook | None = None
    retry_after: str | None = None  # added to forced 429s
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.records.clear()
        self.fault = None
        self.hook = None
        self.retry_after = None

    @property
    def mail_sends(self) -> list[Recorded]:
        return [r for r in self.records if r.path == "/v3/mail/send"]

    def accepted_by_prism(self) -> list[Recorded]:
        """Mail sends that Prism answered 202: what SendGrid would deliver."""
        return [r for r in self.mail_sends if r.status == 202]

    def violations(self) -> list[str]:
        return [f"{r.method} {r.path}: {r.violations}" for r in self.records if r.violations]


def _handler(proxy: MockProxy) -> type[BaseHTTPRequestHandler]:
    host, _, port = proxy.prism_url.removeprefix("http://").partition(":")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            with proxy.lock:
                rec = Recorded(
                    len(proxy.records), self.command, self.path.split("?")[0], dict(self.headers), body
                )
                proxy.records.append(rec)
            if proxy.hook:
                proxy.hook(rec, "received")
            rec.fault = proxy.fault(rec) if proxy.fault else None
            if rec.fault == "refuse":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            if rec.fault in ("429", "503", "400"):
                headers["Prefer"] = f"code={rec.fault}"
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            try:
                conn.request(self.command, self.path, body=raw or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                rec.status = response.status
                rec.violations = response.getheader("sl-violations")
                out_headers = [
                    (k, v)
                    for k, v in response.getheaders()
                    if k.lower() not in ("transfer-encoding", "connection", "content-length")
                ]
            finally:
                conn.close()
            if proxy.hook:
                proxy.hook(rec, "answered-by-prism")
            if rec.fault == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(rec.status)
            for k, v in out_headers:
                self.send_header(k, v)
            if rec.fault == "429" and proxy.retry_after:
                self.send_header("Retry-After", proxy.retry_after)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            rec.answered = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    return Handler


@dataclass
class RunningProxy:
    proxy: MockProxy
    server: ThreadingHTTPServer
    thread: threading.Thread


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout tests, killed senders) breaks the pipe on our answer: that
        # is the point of those tests, not an error, and it must not land in a test's captured output.
        pass


def start_proxy(prism_url: str) -> RunningProxy:
    proxy = MockProxy(prism_url)
    server = _QuietServer(("127.0.0.1", 0), _handler(proxy))
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return RunningProxy(proxy, server, thread)


@pytest.fixture(scope="session")
def prism() -> Iterator[Prism]:
    if os.environ.get("SENDGRID_MOCK_URL"):  # started by .ci/run: use it as it is
        yield Prism(os.environ["SENDGRID_MOCK_URL"], subprocess.Popen(["true"]))
        return
    try:
        running = start_prism()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    try:
        yield running
    finally:
        stop_prism(running)


@pytest.fixture(scope="session")
def _proxy(prism: Prism) -> Iterator[RunningProxy]:
    running = start_proxy(prism.url)
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()


@pytest.fixture
def sendgrid(_proxy: RunningProxy) -> Iterator[MockProxy]:
    """The recording, fault-injecting proxy in front of Prism; fails the test on any spec violation."""
    proxy = _proxy.proxy
    proxy.reset()
    yield proxy
    violations = proxy.violations()
    proxy.reset()
    assert not violations, "requests that break SendGrid's spec:\n" + "\n".join(violations)
