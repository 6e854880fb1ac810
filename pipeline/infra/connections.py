"""The web services' connections: deadlines for a request's headers and body, and a cap on how many.

uvicorn (on h11) waits for ever for a request's headers, and for a body that trickles in a byte at
a time: a thousand such clients would hold a thousand connections open for as long as they like
and keep readers out. ``protocol(limits)`` is uvicorn's own h11 protocol with ``web.Limits`` kept
on every connection:

- **Headers.** From the moment a connection is made (or the first byte of the next request on a
  kept-alive connection arrives), the request line and headers must be complete within
  ``header_timeout`` seconds; else the connection is closed (answered 408 if it sent anything).
  Together they are at most ``max_header_bytes`` (else 431), however they arrive (h11's own limit
  holds only for a head that arrives in pieces).
- **Body.** From the end of the headers, the body must be complete within ``body_timeout``
  seconds, whether the service reads it or not; else 408 when no answer has started, and the
  connection is closed. The app sees the client as gone (``http.disconnect``), never a part of a
  body.
- **How many.** Beyond ``max_connections`` open connections, a new one is answered 503 at once
  and closed (said once a minute in the log), so that the file descriptors last and the ones
  already open are served.

Only ``pipeline.infra.web.serve`` imports this module (it needs uvicorn and h11).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from pipeline.domain.i18n import _
from pipeline.infra.web import Limits

log = logging.getLogger("newsletter.web")
BUSY_LOG_EVERY = 60.0  # seconds between two log lines about refused connections
HEAD_END = re.compile(rb"\r?\n\r?\n")


def _answer(status: int, reason: str, text: str, extra: str = "") -> bytes:
    body = text.encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n"
    )
    return head.encode("ascii") + body


# Made when ``serve`` imports this module, after the command line chose the language.
HEADERS_LATE = _answer(408, "Request Timeout", _("The request's headers did not arrive in time.") + "\n")
HEADERS_LARGE = _answer(
    431, "Request Header Fields Too Large", _("The request's URL or headers are too long.") + "\n"
)
BUSY = _answer(
    503, "Service Unavailable", _("Too many connections; try again soon.") + "\n", "retry-after: 10\r\n"
)


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the headers and the body of every request, and a
    cap on the open connections (``limits``; set by ``protocol``)."""

    limits: ClassVar[Limits] = Limits()
    busy_said: ClassVar[float] = float("-inf")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline: asyncio.TimerHandle | None = None
        self.awaiting: str | None = None  # "headers" or "body": what the deadline is for

    # -- the protocol's events -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        if len(self.connections) > self.limits.max_connections:
            self._refuse()
            return
        self._expect("headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            if self.awaiting is None:
                self._expect("headers")  # the first bytes of the next request on a kept-alive connection
            if self._head_too_large(data):
                self._cancel()
                self.transport.write(HEADERS_LARGE)
                self.transport.close()
                return
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start the next (pipelined) request
        self._follow()

    def _unsupported_upgrade_warning(self) -> None:
        """An ``Upgrade`` header (the services have no WebSocket) is ignored, and not logged: anyone
        could fill the log with it."""

    def _head_too_large(self, data: bytes) -> bool:
        """Whether the request line and headers, with ``data``, are over ``max_header_bytes``."""
        buffered = self.conn.trailing_data[0]
        limit = self.limits.max_header_bytes
        if len(buffered) + len(data) <= limit:
            return False
        end = HEAD_END.search(buffered + data[: limit + 4])
        return end is None or end.end() > limit

    # -- the deadlines ---------------------------------------------------------------------------------
    def _follow(self) -> None:
        """Keep the deadline that fits where the client is in its request."""
        state = self.conn.their_state
        if state is h11.IDLE:
            return  # the headers' deadline (if any bytes came) or uvicorn's keep-alive timeout
        if state is h11.SEND_BODY:
            if self.awaiting != "body":
                self._expect("body")
            return
        self._cancel()  # the request is complete (or the connection done)

    def _expect(self, what: str) -> None:
        self._cancel()
        seconds = self.limits.header_timeout if what == "headers" else self.limits.body_timeout
        self.awaiting = what
        self.deadline = self.loop.call_later(seconds, self._late, what)

    def _cancel(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
        self.deadline, self.awaiting = None, None

    def _late(self, what: str) -> None:
        self.deadline, self.awaiting = None, None
        if self.transport.is_closing():
            return
        if what == "headers":
            if self.conn.trailing_data[0]:  # it sent a part of a request: say why it is cut off
                self.transport.write(HEADERS_LATE)
            self.transport.close()
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started and self.conn.our_state is h11.SEND_RESPONSE:
            text = (_("The request's body did not arrive in time.") + "\n").encode()
            start = h11.Response(
                status_code=408,
                reason=b"Request Timeout",
                headers=[
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(text)).encode()),
                    (b"connection", b"close"),
                ],
            )
            for event in (start, h11.Data(data=text), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event) or b"")
        if cycle is not None:
            cycle.disconnected = True  # the app's receive() says the client is gone; its answer is dropped
            cycle.message_event.set()
        self.transport.close()

    def _refuse(self) -> None:
        now = time.monotonic()
        if now - LimitedH11Protocol.busy_said >= BUSY_LOG_EVERY:
            LimitedH11Protocol.busy_said = now
            log.warning(
                _(
                    "more than {n} connections at once: new ones are answered 503 until some close"
                    " (--max-connections)"
                ).format(n=self.limits.max_connections)
            )
        self.transport.write(BUSY)
        self.transport.close()


def protocol(limits: Limits) -> type[asyncio.Protocol]:
    """The protocol class uvicorn makes for each connection, keeping ``limits``."""
    return type("LimitedH11Protocol", (LimitedH11Protocol,), {"limits": limits})
