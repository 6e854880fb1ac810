"""Answers without a stack trace: an error as a short page for people or JSON for scripts, in the
reader's language, the app's exception handlers, and the one log line of a request that failed."""

from __future__ import annotations

import html
import json
import logging
import sysconfig
import traceback
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import N_, _, language
from pipeline.infra.web.asgi import Scope

if TYPE_CHECKING:  # Starlette is imported by the commands that serve
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger("newsletter.web")

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


def exception_handlers(public: bool) -> dict[Any, Callable[..., Any]]:
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
