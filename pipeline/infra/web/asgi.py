"""The ASGI plumbing the web layer stands on: the types, a request's headers, cookies and body (within
a limit), a body given to the app again, short answers and redirects, and URL-encoded forms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_FIELDS = 200


class ClientGone(Exception):
    "The client went away before its body arrived in full: there is nobody left to answer."


def headers_of(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def cookies(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in headers_of(scope).get("cookie", "").split(";"):
        name, _sep, value = raw.strip().partition("=")
        if name:
            out[name] = value
    return out


async def read_body(receive: Receive, limit: int, headers: Mapping[str, str]) -> bytes | None:
    """The whole body, or None when it is over ``limit`` (whatever Content-Length claims); raises
    ClientGone when the client went away (or was cut off) before it was complete."""
    declared = headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone  # never a part of a body to the app
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def respond(
    send: Send, status: int, body: bytes, kind: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    start = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


async def redirect(send: Send, location: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    await respond(
        send, 303, b"", "text/plain", [(b"location", location.encode("latin-1", "replace")), *headers]
    )


def parse_form(body: bytes | str) -> dict[str, str]:
    """A URL-encoded form (or query string) as a dict; the last value of a repeated field wins.

    Undecodable bytes and more than MAX_FIELDS fields give an empty form: the request was not made
    by the service's own pages, and each handler then refuses what is missing.
    """
    try:
        text = body.decode("utf-8", "strict") if isinstance(body, bytes) else body
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS)
    except ValueError:  # UnicodeDecodeError is one
        return {}
    return dict(pairs)
