"""A local SendGrid for tests: Prism on SendGrid's own (patched) spec, behind a stateful recording proxy.

Use as a pytest plugin (``pytest_plugins = ["tests.sendgrid_mock"]``) or import its fixtures.

- ``prism`` (session): Prism 5.14.2 from ``node_modules`` (``npm ci``) on a free loopback port,
  polled until ready, stopped at the end. Skips with the reason when Prism or the spec is absent.
- ``sendgrid`` (per test): a ``MockProxy`` in front of Prism. It records every request (parsed JSON
  body, Prism's status, the ``sl-violations`` header), can force ``Prefer: code=429/503/400`` on
  chosen requests, drop the answer after Prism accepted (an answer lost on the way back), and call
  a hook at three moments of each request (the crash test kills the sender there, or delays the
  answer past the client's timeout). After the test it asserts that
  no request broke the spec: every request the project makes must be valid.

Prism keeps no state, so the proxy keeps SendGrid's for the calls whose answers depend on it
(``SendGridState``): batch ids (each POST /v3/mail/batch gets a new one), the mail held in each batch
with its send_at, cancels and pauses with the time they were asked for, the 10-minute rule and the
limit of 10 cancelled or paused batches. A cancel discards the batch's mail that arrived before it,
and only when asked for at least 10 minutes before send_at; mail that arrives after the cancel is NOT
discarded (SendGrid does not say, so the fake takes the case that would hurt). ``received()`` tells
a test who would get what. Time is the proxy's ``clock`` (Unix seconds), which a test can move.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
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


@dataclass
class Held:
    """Mail SendGrid accepted: its recipients, when it goes out, when it arrived."""

    recipients: list[str]
    send_at: float
    arrived: float
    batch: str | None


@dataclass
class Batch:
    id: str
    status: str | None = None  # "cancel" or "pause"
    status_at: float | None = None  # when it was asked for
    removed_at: float | None = None  # when the status was deleted again
    mail: list[Held] = field(default_factory=list)

    @property
    def held(self) -> bool:
        """A cancel or pause is on it now (it counts against the limit of 10)."""
        return self.status is not None and self.removed_at is None

    def discards(self, held: Held) -> bool:
        """Whether SendGrid throws this mail away: cancelled (not paused) in time, before it arrived,
        and the cancel still there when the mail is due."""
        if self.status != "cancel" or self.status_at is None:
            return False
        in_time = self.status_at <= held.send_at - 600  # SendGrid: "no later than 10 minutes before"
        kept = self.removed_at is None or self.removed_at >= held.send_at
        return in_time and kept and held.arrived <= self.status_at


CANCEL_LIMIT = 10
ERR_EXISTS = "a status for this batch id exists, try PATCH to update the status"
ERR_LIMIT = "max limit reached"
ERR_BATCH = "invalid batch id"


@dataclass
class SendGridState:
    """What SendGrid itself would remember, for the calls Prism cannot answer faithfully."""

    clock: Callable[[], float] = time.time
    batches: dict[str, Batch] = field(default_factory=dict)
    immediate: list[Held] = field(default_factory=list)  # mail without a batch (test sends, reports)
    counter: int = 0

    def new_batch(self) -> str:
        self.counter += 1
        batch = f"batch{self.counter:04d}x{os.getpid()}"
        self.batches[batch] = Batch(batch)
        return batch

    def held_statuses(self) -> list[Batch]:
        return [b for b in self.batches.values() if b.held]

    def received(self, batch: str | None = None) -> Counter[str]:
        """Who gets mail (each address, how many times), whatever the clock says now."""
        got: Counter[str] = Counter()
        for held in self.immediate:
            if batch is None:
                got.update(held.recipients)
        for b in self.batches.values():
            if batch is not None and b.id != batch:
                continue
            for held in b.mail:
                if not b.discards(held):
                    got.update(held.recipients)
        return got


# A fault: given a recorded request (before forwarding), say what to do with it:
# None (forward it), "429"/"503"/"400" (forward with Prefer: code=...), "drop" (forward, then close
# the connection without answering), "refuse" (close at once, never forwarded).
Fault = Callable[[Recorded], str | None]
# (request, moment): "received" (before forwarding), "answered-by-prism" (SendGrid has it, the client
# has no answer yet), "answered" (the answer was written to the client).
Hook = Callable[[Recorded, str], None]


@dataclass
class MockProxy:
    prism_url: str
    records: list[Recorded] = field(default_factory=list)
    fault: Fault | None = None
    hook: Hook | None = None
    retry_after: str | None = None  # added to forced 429s
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    state: SendGridState = field(default_factory=SendGridState)

    def reset(self) -> None:
        with self.lock:
            self.records.clear()
        self.fault = None
        self.hook = None
        self.retry_after = None
        self.state = SendGridState()

    def received(self) -> Counter[str]:
        """Who would get mail from this test's sends, after every held batch's send time."""
        with self.lock:
            return self.state.received()

    def answer(self, rec: Recorded) -> tuple[int, Any] | None:
        """SendGrid's own answer where it depends on state (Prism has validated the request first);
        None: Prism's answer stands. Mail that Prism accepted is recorded here."""
        st, method, path, body = self.state, rec.method, rec.path, rec.body
        if rec.status >= 400 or rec.fault in ("429", "503", "400"):
            return None
        with self.lock:
            now = st.clock()
            if method == "POST" and path == "/v3/mail/batch":
                return 201, {"batch_id": st.new_batch()}
            if method == "POST" and path == "/v3/mail/send" and isinstance(body, dict):
                batch_id = body.get("batch_id")
                send_at = float(body.get("send_at") or now)
                if send_at > now + 72 * 3600:
                    return 400, {
                        "errors": [{"field": "send_at", "message": "send_at is more than 72 hours ahead"}]
                    }
                held = Held(rec.recipients, send_at, now, batch_id)
                if batch_id is None:
                    st.immediate.append(held)
                elif batch_id in st.batches:
                    st.batches[batch_id].mail.append(held)
                else:
                    return 400, {"errors": [{"field": "batch_id", "message": ERR_BATCH}]}
                return None  # Prism's 202, with its X-Message-Id
            if path == "/v3/user/scheduled_sends" and method == "POST" and isinstance(body, dict):
                batch = st.batches.get(str(body.get("batch_id")))
                if batch is None:
                    return 400, {"errors": [{"field": "batch_id", "message": ERR_BATCH}]}
                if batch.held:
                    return 400, {"errors": [{"field": None, "message": ERR_EXISTS}]}
                if len(st.held_statuses()) >= CANCEL_LIMIT:
                    return 400, {"errors": [{"field": None, "message": ERR_LIMIT}]}
                batch.status, batch.status_at, batch.removed_at = str(body.get("status")), now, None
                return 201, {"batch_id": batch.id, "status": batch.status}
            if path == "/v3/user/scheduled_sends" and method == "GET":
                return 200, [{"batch_id": b.id, "status": b.status} for b in st.held_statuses()]
            if path.startswith("/v3/user/scheduled_sends/"):
                batch = st.batches.get(path.rsplit("/", 1)[1])
                if method == "GET":
                    found = batch is not None and batch.held
                    return 200, [{"batch_id": batch.id, "status": batch.status}] if found and batch else []
                if method == "DELETE":
                    if batch is None or not batch.held:
                        return 404, {"errors": [{"field": None, "message": "not found"}]}
                    batch.removed_at = now
                    return 204, None
        return None

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
            own = proxy.answer(rec)
            if own is not None:
                rec.status, answer = own
                data = json.dumps(answer).encode() if answer is not None else b""
                out_headers = [("Content-Type", "application/json")] if answer is not None else []
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
            self.wfile.flush()
            rec.answered = True
            if proxy.hook:
                proxy.hook(rec, "answered")

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


class SimTime:
    """One clock for the sender and the fake SendGrid that moves only when someone waits on it: a
    test passes ``now``/``sleep`` to the send and ``timestamp`` to ``MockProxy.state.clock``, and the
    hold time, the cancel deadline and a request's settle time all pass without waiting."""

    def __init__(self, start: float | None = None) -> None:
        self.t = time.time() if start is None else start
        self.slept: list[float] = []

    def timestamp(self) -> float:
        return self.t

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.t, dt.UTC)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds
