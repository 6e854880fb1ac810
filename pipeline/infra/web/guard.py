"""The Guard: the pure ASGI middleware that keeps the web layer's rules for any app inside it (the
host, the password and its sessions, CSRF, the body's size, the security headers; see the package's
docstring)."""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from pipeline.domain.i18n import _, language
from pipeline.infra.web.asgi import (
    ASGIApp,
    ClientGone,
    Message,
    Receive,
    Scope,
    Send,
    cookies,
    headers_of,
    hostname,
    parse_form,
    read_body,
    redirect,
    replay,
    respond,
)
from pipeline.infra.web.errors import (
    SERVER_ERROR,
    SERVER_ERROR_HINT,
    error_body,
    failure_line,
    log,
    wants_json,
)
from pipeline.infra.web.hosts import is_loopback

MAX_BODY = 256 * 1024  # an issue's intro is at most 4,000 characters; nothing a form sends comes near
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = b"x-csrf-token"
SESSION_COOKIE = "newsletter_session"
SESSION_HOURS = 12
LOGIN_PATH = "/login"
LOGIN_TRIES = 5  # wrong passwords per client per minute before it must wait
# framed by another site. A response that needs another (an email preview) sets its own.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "SAMEORIGIN",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


@dataclass
class _Tries:
    failures: list[float] = field(default_factory=list)


class Guard:
    """Pure ASGI middleware that keeps the rules in the package docstring (``pipeline.infra.web``), for
    any app inside it.

    The app finds the CSRF token for its forms in ``request.state.csrf_token``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        password: str | None = None,
        max_body: int = MAX_BODY,
        csp: str = CSP,
        public_paths: Sequence[str] = ("/static/",),
        error_css: str = "",
        title: str | None = None,
        public: bool = False,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.public = public
        self.password = None if public else password
        self.max_body = max_body
        self.body_limits = dict(body_limits or {})  # a path that takes more (or less) than max_body
        self.csp = csp
        self.public_paths = tuple(public_paths)
        self.error_css = error_css
        self.title = title  # the sign-in page's title (None: "Sign in" in the reader's language)
        self.secret = secrets.token_bytes(32)
        self.sessions: dict[str, float] = {}  # session id -> expiry (monotonic)
        self.tries: dict[str, _Tries] = {}

    # -- tokens --------------------------------------------------------------------------------------
    def csrf_token(self, session: str | None) -> str:
        """The token the forms of one session carry (without a password: one per process)."""
        return hmac.new(self.secret, (session or "-").encode(), hashlib.sha256).hexdigest()

    def _session(self, scope: Scope) -> str | None:
        for name, value in cookies(scope).items():
            if name == SESSION_COOKIE and value in self.sessions:
                if self.sessions[value] > time.monotonic():
                    return value
                del self.sessions[value]
        return None

    # -- the ASGI entry point ------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        with_headers = self._with_headers(send)

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await with_headers(message)

        try:
            await self._serve(scope, receive, tracked)
        except ClientGone:
            return
        except Exception as exc:  # the last resort: one line in the log, a short page, no traceback
            log.error(failure_line(scope, exc))
            if not started:  # (the app's own handler has usually answered already)
                as_json = wants_json(headers_of(scope))
                await self._error(tracked, 500, _(SERVER_ERROR), as_json, _(SERVER_ERROR_HINT))

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = headers_of(scope)
        method = scope["method"].upper()
        path: str = scope.get("path", "/")
        as_json = wants_json(headers)
        if not self.public and not self.password and not is_loopback(hostname(headers.get("host", ""))):
            await self._error(
                send,
                421,
                _("this service answers only to 127.0.0.1 or localhost"),
                as_json,
                _("open the address the command printed"),
            )
            return
        body = b""
        if method in UNSAFE_METHODS:
            limit = self.body_limits.get(path, self.max_body)
            read = await read_body(receive, limit, headers)
            if read is None:
                await self._error(
                    send,
                    413,
                    _("the request is larger than {n} KB").format(n=limit // 1024),
                    as_json,
                    _("send less text at once"),
                )
                return
            body = read
        session = self._session(scope) if self.password else None
        if self.password and path == LOGIN_PATH:
            await self._login(scope, method, body, send, headers)
            return
        if self.password and session is None and not path.startswith(self.public_paths):
            if method == "GET" and not as_json:
                target = quote(
                    path + (f"?{scope['query_string'].decode()}" if scope.get("query_string") else "")
                )
                await redirect(send, f"{LOGIN_PATH}?next={target}")
            else:
                await self._error(
                    send,
                    401,
                    _("this service needs its password"),
                    as_json,
                    _("sign in at {path} first").format(path=LOGIN_PATH),
                )
            return
        token = self.csrf_token(session)
        if method in UNSAFE_METHODS and not self.public:
            why = self._csrf_problem(headers, body, token)
            if why:
                await self._error(send, 403, why, as_json, _("reload the page and try again"))
                return
        scope.setdefault("state", {})
        scope["state"]["csrf_token"] = token
        scope["state"]["error_css"] = self.error_css
        await self.app(scope, replay(body, receive) if method in UNSAFE_METHODS else receive, send)

    def _csrf_problem(self, headers: Mapping[str, str], body: bytes, token: str) -> str | None:
        origin = headers.get("origin")
        host = headers.get("host", "")
        if origin and origin != "null" and urlsplit(origin).netloc != host:
            return _("the request came from another site ({origin}); it was refused").format(origin=origin)
        if headers.get("sec-fetch-site") == "cross-site":
            return _("the request came from another site; it was refused")
        sent = headers.get(CSRF_HEADER.decode())
        if sent is None and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            sent = parse_form(body).get(CSRF_FIELD)
        if not sent:
            return _("the request carries no CSRF token; it was refused")
        if not hmac.compare_digest(sent.encode(), token.encode()):
            return _(
                "the request's CSRF token is not valid (the page is older than the server); it was refused"
            )
        return None

    def _with_headers(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _value in message.get("headers", [])}
                extra = [
                    (k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in have
                ]
                if b"content-security-policy" not in have:
                    extra.append((b"content-security-policy", self.csp.encode()))
                if b"cache-control" not in have:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        return wrapped

    async def _error(self, send: Send, status: int, message: str, as_json: bool, hint: str | None) -> None:
        body, kind = error_body(status, message, hint, as_json=as_json, css=self.error_css)
        await respond(send, status, body, kind)

    # -- the password -----------------------------------------------------------------------------
    async def _login(
        self, scope: Scope, method: str, body: bytes, send: Send, headers: Mapping[str, str]
    ) -> None:
        query = parse_form(scope.get("query_string", b""))
        target = _local_target(query.get("next", "/"))
        if method == "GET":
            await respond(send, 200, self._login_page(target, None), "text/html; charset=utf-8")
            return
        if method != "POST":
            await self._error(send, 405, _("use the sign-in form"), wants_json(headers), None)
            return
        form = parse_form(body)
        why = self._csrf_problem(headers, body, self.csrf_token(None))
        if why:
            await self._error(send, 403, why, wants_json(headers), _("reload the page and try again"))
            return
        client = (scope.get("client") or ("?", 0))[0]
        tries = self.tries.setdefault(client, _Tries())
        now = time.monotonic()
        tries.failures = [t for t in tries.failures if now - t < 60]
        if len(tries.failures) >= LOGIN_TRIES:
            await respond(
                send,
                429,
                self._login_page(target, _("Too many wrong passwords; wait a minute.")),
                "text/html; charset=utf-8",
            )
            return
        given = form.get("password", "")
        assert self.password is not None
        if not hmac.compare_digest(given.encode(), self.password.encode()):
            tries.failures.append(now)
            await respond(
                send,
                401,
                self._login_page(target, _("That is not the password.")),
                "text/html; charset=utf-8",
            )
            return
        session = secrets.token_urlsafe(32)
        self.sessions[session] = now + SESSION_HOURS * 3600
        cookie = (
            f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_HOURS * 3600}"
        )
        await redirect(send, target, [(b"set-cookie", cookie.encode())])

    def _login_page(self, target: str, problem: str | None) -> bytes:
        note = f'<p class="problem" role="alert">{html.escape(problem)}</p>' if problem else ""
        title = html.escape(self.title or _("Sign in"))
        label, button = html.escape(_("Password")), html.escape(_("Sign in"))
        return f"""<!doctype html>
<html lang="{language()}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="{html.escape(self.error_css)}"></head>
<body><main class="error-page"><h1>{title}</h1>{note}
<form method="post" action="{LOGIN_PATH}?next={html.escape(quote(target))}">
<input type="hidden" name="{CSRF_FIELD}" value="{self.csrf_token(None)}">
<label for="password">{label}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit">{button}</button></form></main></body></html>
""".encode()


def _local_target(target: str) -> str:
    """Only a path on this service (never another site) as where to go after signing in."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target
