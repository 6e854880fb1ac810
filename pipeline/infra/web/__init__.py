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

``Guard`` (``guard``) is the pure ASGI middleware that does all of this; ``create_app`` puts it around
a Starlette app; ``serve`` (``server``) binds the socket (a free port for 0), reports the address and
runs uvicorn until Ctrl-C, with the ``Limits`` on every connection. ``hosts`` is who may connect,
``errors`` the answers without a stack trace, ``asgi`` the plumbing; this module is the entry every
service imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipeline.infra.web.asgi import parse_form
from pipeline.infra.web.errors import error_response, exception_handlers, wants_json
from pipeline.infra.web.guard import CSP, CSRF_FIELD, MAX_BODY, Guard
from pipeline.infra.web.hosts import DEFAULT_HOST, ExposureRefused, check_exposure, client_of, is_loopback
from pipeline.infra.web.server import Limits, address, bind, serve

if TYPE_CHECKING:  # Starlette and uvicorn are imported by the commands that serve
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import BaseRoute


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

    app = Starlette(routes=list(routes), exception_handlers=exception_handlers(public), lifespan=lifespan)
    guard = Guard(
        app, password=password, max_body=max_body, csp=csp, error_css=error_css, title=title, public=public,
        body_limits=body_limits,
    )  # fmt: skip
    return app, guard


def static_files(directory: str) -> Any:
    """The service's own assets (CSS, JavaScript), served from the package, never from elsewhere."""
    from starlette.staticfiles import StaticFiles

    return StaticFiles(directory=directory)


__all__ = [
    "CSRF_FIELD",
    "DEFAULT_HOST",
    "ExposureRefused",
    "Guard",
    "Limits",
    "address",
    "bind",
    "check_exposure",
    "client_of",
    "create_app",
    "error_response",
    "form",
    "is_loopback",
    "parse_form",
    "serve",
    "static_files",
    "wants_json",
]
