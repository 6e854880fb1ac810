"""The web layer the pipeline's own web services stand on: Starlette apps served by uvicorn.

Nothing here knows what a service does (the studio today, the public sign-up service later); it
holds the rules every one of them keeps, in one place:

- **Who may connect.** ``check_exposure``: a service listens on loopback unless a password is
  set; any other address without one is refused before anything is bound. Without a password,
  only requests that name a loopback host are served (``Host: 127.0.0.1``), so that a web page
  elsewhere cannot reach the service through DNS rebinding.
- **The password.** With one, every page needs it: ``/login`` asks for it once and gives a
  session cookie (HttpOnly, SameSite=Strict), compared in constant time; repeated wrong tries from
  one client are slowed down.
- **CSRF.** Every request that can change something (POST, PUT, PATCH, DELETE) carries the
  service's token, in the form field ``csrf_token`` or the header ``X-CSRF-Token``; one without
  it, or from another origin, is refused (403) before the app sees it.
- **Untrusted requests.** Bodies over a limit are refused (413) whatever their Content-Length
  says; every response carries a Content-Security-Policy and the other security headers; errors
  are short pages (or JSON) without a stack trace, and a failure inside a handler is one line in
  the log (what failed, where), never a traceback.
- **Slow clients.** ``Limits``: a client must send its request's headers within ``header_timeout``
  seconds and its body within ``body_timeout`` (else 408 and the connection is closed), and at most
  ``max_connections`` are open at once (the next is answered 503 and closed); kept in
  ``pipeline.infra.connections``, under uvicorn.

A public service (``public=True``: the sign-up pages and SendGrid's webhook, behind the alliance's
web server) keeps the rules for untrusted requests but not the first three: it answers any host
name, has no password, and its forms carry no CSRF token (there is no session whose authority a
forged request could borrow; a sign-up is confirmed by mail, a webhook call by its signature).

``Guard`` is the pure ASGI middleware that does all of this; ``create_app`` puts it around a
Starlette app; ``serve`` binds the socket (a free port for 0), reports the address and runs
uvicorn until Ctrl-C, with the ``Limits`` on every connection.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import json
import logging
import secrets
import socket
import sysconfig
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit

from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import N_, _, language

if TYPE_CHECKING:  # Starlette and uvicorn are imported by the commands that serve
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_HOST = "127.0.0.1"
LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}
MAX_BODY = 256 * 1024  # an issue's intro is at most 4,000 characters; nothing a form sends comes near
MAX_FIELDS = 200
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = b"x-csrf-token"
SESSION_COOKIE = "newsletter_session"
SESSION_HOURS = 12
LOGIN_PATH = "/login"
LOGIN_TRIES = 5  # wrong passwords per client per minute before it must wait
SERVER_ERROR = N_("Something went wrong on the server; nothing was changed by this request.")
SERVER_ERROR_HINT = N_("see the terminal the service runs in for the cause")
# An error page's title after its number ("404 Not Found"), in the reader's language.
STATUS_TITLES = {
    400: N_("Bad Request"),
    401: N_("Unauthorized"),
    403: N_("Forbidden"),
    404: N_("Not Found"),
    405: N_("Method Not Allowed"),
    408: N_("Request Timeout"),
    409: N_("Conflict"),
    413: N_("Content Too Large"),
    415: N_("Unsupported Media Type"),
    421: N_("Misdirected Request"),
    429: N_("Too Many Requests"),
    500: N_("Internal Server Error"),
    503: N_("Service Unavailable"),
}
# What an error says when the handler gave no words of its own (the router's 404 and 405).
STATUS_MESSAGES = {
    404: N_("There is no page at this address."),
    405: N_("This address does not take this kind of request."),
}
# The default policy: the service's own scripts, styles and images, nothing from elsewhere, never
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
log = logging.getLogger("newsletter.web")


@dataclass(frozen=True)
class Limits:
    """How long a client may take, and how many may be connected at once (see docs/audience.md).

    A client that has not sent its request's headers ``header_timeout`` seconds after it connected
    (or after it started the next request on a kept-alive connection) is cut off; so is one whose
    body has not arrived in full ``body_timeout`` seconds after its headers (answered 408 when no
    answer was started). Beyond ``max_connections`` open connections, a new one is answered 503 and
    closed at once. ``max_header_bytes``: the request line and headers together.
    """

    header_timeout: float = 10.0
    body_timeout: float = 30.0  # a 1 MB webhook batch at 35 KB/s; SendGrid sends far faster
    max_connections: int = 2000  # a few KB each; the open-file limit is raised to fit (serve)
    keep_alive: int = 5  # seconds: an idle kept-alive connection is closed after this
    max_header_bytes: int = 16 * 1024


class ExposureRefused(PipelineError):
    "A service would listen beyond this computer without a password."

    exit_code = 2


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name, with or without brackets) is this computer only."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def client_of(scope: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The client's address: the peer, or, behind a web server on loopback, the one it forwarded."""
    peer = (scope.get("client") or ("?", 0))[0]
    forwarded = headers.get("x-forwarded-for", "")
    if forwarded and is_loopback(peer):
        return forwarded.split(",")[-1].strip() or peer
    return str(peer)


def check_exposure(host: str, password: str | None, password_variable: str) -> None:
    """Refuse a non-loopback ``host`` unless a password is set (in ``password_variable``)."""
    if is_loopback(host):
        return
    if not password:
        raise ExposureRefused(
            _(
                "--host {host} would let anyone who can reach this computer use the service, and no "
                "password is set"
            ).format(host=host),
            _(
                "leave out --host to use it on this computer only (127.0.0.1), or set {variable} "
                "to a long password first"
            ).format(variable=password_variable),
        )
    if len(password) < 12:
        raise ExposureRefused(
            _(
                "{variable} is {n} characters; a service reachable from the network needs a longer password"
            ).format(variable=password_variable, n=len(password)),
            _("set {variable} to at least 12 characters (a few words will do)").format(
                variable=password_variable
            ),
        )


# -- responses without a stack trace ----------------------------------------------------------------
ERROR_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="{css}"></head>
<body><main class="error-page"><h1>{title}</h1><p>{message}</p>{hint}
<p><a href="/">{back}</a></p></main>
</body></html>
"""


def wants_json(headers: Mapping[str, str]) -> bool:
    accept = headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_body(status: int, message: str, hint: str | None, *, as_json: bool, css: str) -> tuple[bytes, str]:
    """The body and content type of an error answer: JSON for scripts, a small page for people."""
    if as_json:
        data = {"error": message, **({"fix": hint} if hint else {})}
        return json.dumps(data, ensure_ascii=False).encode(), "application/json"
    if status in STATUS_TITLES:
        title = f"{status} {_(STATUS_TITLES[status])}"
    elif status in HTTPStatus._value2member_map_:
        title = f"{status} {HTTPStatus(status).phrase}"
    else:
        title = str(status)
    fix = _("Fix: {hint}").format(hint=html.escape(hint)) if hint else ""
    page = ERROR_PAGE.format(
        lang=language(),
        title=html.escape(title),
        message=html.escape(message),
        hint=f"<p class='hint'>{fix}</p>" if hint else "",
        back=html.escape(_("Back to the start")),
        css=html.escape(css),
    )
    return page.encode(), "text/html; charset=utf-8"


def error_response(request: Request, status: int, message: str, hint: str | None = None) -> Response:
    from starlette.responses import Response

    css = request.scope.get("state", {}).get("error_css", "")
    body, kind = error_body(status, message, hint, as_json=wants_json(request.headers), css=css)
    return Response(body, status_code=status, media_type=kind)


def _exception_handlers(public: bool) -> dict[Any, Callable[..., Any]]:
    """How an error inside a handler is answered. A PipelineError carries its message and fix for
    the editor at the studio (400); on a public service it is the server's own fault (a damaged
    state database, a file it cannot write) and its message may name server paths, so the
    visitor gets the plain 503 page and the log gets one line."""
    from starlette.exceptions import HTTPException

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        if not isinstance(exc.detail, str) or exc.detail == phrase:  # no words of the handler's own
            detail = _(STATUS_MESSAGES.get(status) or STATUS_TITLES.get(status) or phrase or str(status))
        else:
            detail = exc.detail
        return error_response(request, status, detail)

    async def pipeline_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PipelineError)
        if public:
            log.error(failure_line(request.scope, exc))
            return error_response(request, 503, _(SERVER_ERROR), _(SERVER_ERROR_HINT))
        return error_response(request, 400, exc.message, exc.hint)

    async def server_error(request: Request, exc: Exception) -> Response:
        # The page says nothing of the cause; the Guard logs one line of it (failure_line).
        return error_response(request, 500, _(SERVER_ERROR), _(SERVER_ERROR_HINT))

    return {HTTPException: http_error, PipelineError: pipeline_error, Exception: server_error}


def failure_line(scope: Scope, exc: BaseException) -> str:
    """One log line for a request that failed inside the service: the request's method and path, the
    exception's type and the line it came from (the innermost outside Python's own library and the
    installed packages); no traceback, and not the exception's text (it may hold what the client
    sent, such as an address)."""
    libraries = tuple(
        {
            sysconfig.get_path(k).replace("\\", "/") + "/"
            for k in ("stdlib", "platstdlib", "purelib", "platlib")
        }
    )
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [
        f
        for f in frames
        if "/pipeline/" in f.filename or not f.filename.replace("\\", "/").startswith(libraries)
    ] or frames
    method = str(scope.get("method", "?"))
    path = str(scope.get("path", "?"))[:100].encode("ascii", "backslashreplace").decode()
    error = type(exc).__name__
    if not ours:
        return _("error: {method} {path} failed: {error}").format(method=method, path=path, error=error)
    f = ours[-1]
    name = f.filename.replace("\\", "/")
    name = "pipeline/" + name.rsplit("/pipeline/", 1)[1] if "/pipeline/" in name else name
    return _("error: {method} {path} failed: {error} at {file}:{line} ({function})").format(
        method=method, path=path, error=error, file=name, line=f.lineno, function=f.name
    )


class _ClientGone(Exception):
    "The client went away before its body arrived in full: there is nobody left to answer."


# -- the guard: hosts, password, CSRF, body size, headers ---------------------------------------------
@dataclass
class _Tries:
    failures: list[float] = field(default_factory=list)


class Guard:
    """Pure ASGI middleware that keeps the rules in the module docstring, for any app inside it.

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
        for name, value in _cookies(scope).items():
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
        except _ClientGone:
            return
        except Exception as exc:  # the last resort: one line in the log, a short page, no traceback
            log.error(failure_line(scope, exc))
            if not started:  # (the app's own handler has usually answered already)
                as_json = wants_json(_headers(scope))
                await self._error(tracked, 500, _(SERVER_ERROR), as_json, _(SERVER_ERROR_HINT))

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        method = scope["method"].upper()
        path: str = scope.get("path", "/")
        as_json = wants_json(headers)
        if not self.public and not self.password and not is_loopback(_hostname(headers.get("host", ""))):
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
            read = await _read_body(receive, limit, headers)
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
                await _redirect(send, f"{LOGIN_PATH}?next={target}")
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
        await self.app(scope, _replay(body, receive) if method in UNSAFE_METHODS else receive, send)

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
        await _respond(send, status, body, kind)

    # -- the password -----------------------------------------------------------------------------
    async def _login(
        self, scope: Scope, method: str, body: bytes, send: Send, headers: Mapping[str, str]
    ) -> None:
        query = parse_form(scope.get("query_string", b""))
        target = _local_target(query.get("next", "/"))
        if method == "GET":
            await _respond(send, 200, self._login_page(target, None), "text/html; charset=utf-8")
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
            await _respond(
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
            await _respond(
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
        await _redirect(send, target, [(b"set-cookie", cookie.encode())])

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


# -- small ASGI helpers -----------------------------------------------------------------------------
def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _cookies(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in _headers(scope).get("cookie", "").split(";"):
        name, _sep, value = raw.strip().partition("=")
        if name:
            out[name] = value
    return out


def _local_target(target: str) -> str:
    """Only a path on this service (never another site) as where to go after signing in."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def _read_body(receive: Receive, limit: int, headers: Mapping[str, str]) -> bytes | None:
    """The whole body, or None when it is over ``limit`` (whatever Content-Length claims); raises
    _ClientGone when the client went away (or was cut off) before it was complete."""
    declared = headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone  # never a part of a body to the app
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def _respond(
    send: Send, status: int, body: bytes, kind: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    start = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    await _respond(
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


async def form(request: Request) -> dict[str, str]:
    """The request's URL-encoded form (the Guard has checked its size and CSRF token already)."""
    return parse_form(await request.body())


# -- the app and the server ---------------------------------------------------------------------------
def create_app(
    routes: Sequence[BaseRoute],
    *,
    password: str | None = None,
    lifespan: Any = None,
    max_body: int = MAX_BODY,
    csp: str = CSP,
    error_css: str = "",
    title: str | None = None,
    public: bool = False,
    body_limits: Mapping[str, int] | None = None,
) -> tuple[Starlette, Guard]:
    """A Starlette app with ``routes`` inside the Guard; returns both (the Guard serves the app)."""
    from starlette.applications import Starlette

    app = Starlette(routes=list(routes), exception_handlers=_exception_handlers(public), lifespan=lifespan)
    guard = Guard(
        app, password=password, max_body=max_body, csp=csp, error_css=error_css, title=title, public=public,
        body_limits=body_limits,
    )  # fmt: skip
    return app, guard


def static_files(directory: str) -> Any:
    """The service's own assets (CSS, JavaScript), served from the package, never from elsewhere."""
    from starlette.staticfiles import StaticFiles

    return StaticFiles(directory=directory)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise PipelineError(
            _("cannot listen on {host}:{port}: {reason}").format(
                host=host, port=port, reason=e.strerror or e
            ),
            _("choose another port with --port, or leave it out for a free one"),
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def address(sock: socket.socket) -> str:
    """The base URL a browser opens for a bound socket (no trailing slash)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


RESERVED_FILES = 100  # open files beside the connections: the database, templates, the watcher, logs


def _open_files(wanted: int) -> int:
    """Raise this process's limit on open files to ``wanted`` where the hard limit allows; the limit."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


def serve(app: ASGIApp, sock: socket.socket, limits: Limits = Limits()) -> None:
    """Serve ``app`` on the bound ``sock`` until Ctrl-C (or SIGTERM); quiet unless something fails.

    Every connection keeps ``limits`` (pipeline.infra.connections: uvicorn itself has no deadline
    for a request's headers or body); the limit on open files is raised to fit
    ``limits.max_connections``, or the cap lowered to fit the limit (said in the log), so that
    accepting a connection never fails for want of a file descriptor."""
    import uvicorn

    from pipeline.infra.connections import protocol

    files = _open_files(limits.max_connections + RESERVED_FILES)
    if files < limits.max_connections + RESERVED_FILES:
        fit = max(files - RESERVED_FILES, 16)
        log.warning(
            _(
                "the system allows {files} open files, so at most {fit} connections at once (not {wanted});"
                " raise LimitNOFILE (systemd) or ulimit -n"
            ).format(files=files, fit=fit, wanted=limits.max_connections)
        )
        limits = replace(limits, max_connections=fit)
    config = uvicorn.Config(
        app,
        http=protocol(limits),
        ws="none",
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=limits.keep_alive,
        h11_max_incomplete_event_size=limits.max_header_bytes,
    )
    uvicorn.Server(config).run(sockets=[sock])


__all__ = [
    "CSRF_FIELD",
    "DEFAULT_HOST",
    "ExposureRefused",
    "Guard",
    "Limits",
    "address",
    "bind",
    "check_exposure",
    "create_app",
    "error_response",
    "form",
    "is_loopback",
    "parse_form",
    "serve",
    "static_files",
]
