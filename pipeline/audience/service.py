"""The public service (``newsletter serve``): sign-up with double opt-in, and SendGrid's Event Webhook.

- ``GET /aanmelden``: the sign-up form (email; name, organisation and province optional);
- ``POST /aanmelden``: a sign-up, always answered "kijk in je mailbox", whether the address is new,
  waiting or subscribed;
- ``GET /aanmelden/formulier``: the HTML to paste into the alliance's own site (``?raw=1``: only it);
- ``GET /bevestig?token=...``: the confirmation link's page, with one button (a mail scanner that
  follows links confirms nothing);
- ``POST /bevestig``: the confirmation: the reader is a subscriber, with the consent on record;
- ``POST /webhooks/sendgrid``: SendGrid's signed events (bounces, unsubscribes, clicks ...);
- ``GET /healthz``: ``ok``, for the web server or a monitor.

The pages come from the templates in ``signup/``, which an instance overrides in ``templates/``.
Every request is untrusted: bodies over 64 KB (the webhook's: 1 MB) are refused, fields are
checked and escaped, a wrong address gets the form again with the message (never a 500), the
hidden ``website`` field catches robots, sign-ups are limited per client and per address, and no
address ever reaches a log line. The confirmation mail goes out after the answer, so that the
answer takes as long for a known address as for a new one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from pipeline import audience
from pipeline.domain.config import Config
from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _
from pipeline.infra.store import Store
from pipeline.infra.templating import environment, render_template
from pipeline.infra.web import create_app, form, is_loopback

MAX_BODY = 64 * 1024  # a sign-up is a few hundred bytes
# SendGrid posts its events in batches of up to 768 KB (or every 30 seconds); a larger body is not
# SendGrid's, and is refused before it is read in full.
WEBHOOK_MAX_BODY = 1024 * 1024
WEBHOOK = "/webhooks/sendgrid"
log = logging.getLogger("newsletter.serve")


HOUR = dt.timedelta(hours=1)  # the window of the sign-ups per client


def client_of(scope: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The client's address: the peer, or, behind a web server on loopback, the one it forwarded."""
    peer = (scope.get("client") or ("?", 0))[0]
    forwarded = headers.get("x-forwarded-for", "")
    if forwarded and is_loopback(peer):
        return forwarded.split(",")[-1].strip() or peer
    return str(peer)


class Pages:
    """The service's pages and the confirmation mail's link, from the templates in ``signup/`` (an
    instance overrides them in its ``templates/``, like the newsletter's)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.env = environment(config.root / "templates")
        self.provinces = list(config.taxonomy.provinces.values())

    def text(self, name: str, **context: object) -> str:
        return render_template(
            self.env, f"signup/{name}", self.config.root, settings=self.config.settings, **context
        )

    def page(self, name: str, heading: str, status: int = 200, **context: object) -> Any:
        from starlette.responses import HTMLResponse

        return HTMLResponse(self.text(name, heading=heading, **context), status_code=status)

    def form(self, values: Mapping[str, str], errors: Mapping[str, str], form_id: str, status: int) -> Any:
        heading = f"Aanmelden voor {self.config.settings.title}"
        return self.page(
            "form.html", heading, status, values=values, errors=errors, form_id=form_id,
            provinces=self.provinces,
        )  # fmt: skip

    def site_form(self, action: str) -> str:
        return self.text(
            "site-form.html", action=action, values={}, errors={}, form_id="site", provinces=self.provinces
        )


def create(
    config: Config,
    *,
    address: str = "http://127.0.0.1:8080",
    env: Mapping[str, str] | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> Any:
    """The service's ASGI app (inside the web layer's guard, in its public mode).

    Links in the mails and the snippet start with ``newsletter.signup.public_url``, or else with
    ``address`` (where the service listens); never with the request's Host header, which anyone
    can set (a confirmation link to their own site would be theirs to send).
    """
    from starlette.background import BackgroundTask
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    env = os.environ if env is None else env
    s = config.settings
    pages = Pages(config)
    style = pages.text("style.css")  # rendered once; a broken template stops the start, not a request
    pages.form({}, {}, audience.FORM, 200)

    public_url = (s.signup.public_url or address).rstrip("/")
    # One writer at a time in this process: SQLite allows one anyway, and its busy handler sleeps
    # (up to 100 ms a time) where a lock hands over at once. Other processes (cron's run) still
    # wait on SQLite's own lock.
    writing = threading.Lock()

    def allowed(client: str) -> bool:
        # Counted in the state database: every web host sharing it counts the same sign-ups.
        with writing, Store(s.database) as store:
            return store.allow(f"signup:{client}", s.signup.per_client_per_hour, HOUR, clock())

    def show_form(request: Request) -> Response:
        return pages.form({}, {}, audience.FORM, 200)

    def mail(email: str, token: str, link_base: str) -> None:
        try:
            audience.confirmation_mail(config, email, token, link_base, env, clock())
        except PipelineError as e:  # the reader was answered already; the editors see this in the log
            log.warning(_("a confirmation mail was not sent: {reason}").format(reason=e.message))

    async def sign_up(request: Request) -> Response:
        fields = await form(request)
        read = audience.read_form(config, fields)
        if read.person is None:
            return pages.form(read.values, read.errors, read.values.get("form") or audience.FORM, 400)
        thanks = pages.page("thanks.html", "Kijk in je mailbox")
        client = client_of(request.scope, request.headers)
        if read.bot or not await run_in_threadpool(allowed, client):
            return thanks  # the same answer: a robot or a flood learns nothing
        person = read.person

        def work() -> None:
            with writing, Store(s.database) as store:
                done = audience.signup(config, store, person, clock())
            if done.token:
                mail(person.email, done.token, public_url)

        # The answer goes first; the database and the mail after it, whatever the address's state.
        thanks.background = BackgroundTask(work)
        return thanks

    def snippet(request: Request) -> Response:
        code = pages.site_form(f"{public_url}/aanmelden")
        if request.query_params.get("raw"):
            return PlainTextResponse(code)
        return pages.page("snippet.html", "Het aanmeldformulier op je eigen site", code=code)

    def confirm_page(request: Request) -> Response:
        token = request.query_params.get("token", "")
        if not token or len(token) > 200:
            return pages.page("broken.html", "Deze link werkt niet", 400, reason="incomplete")
        return pages.page("confirm.html", "Bevestig je aanmelding", token=token)

    async def confirm(request: Request) -> Response:
        token = (await form(request)).get("token", "")

        def work() -> str:
            with writing, Store(s.database) as store:
                return audience.confirm(store, token, clock())

        outcome = await run_in_threadpool(work)
        if outcome == "confirmed":
            return pages.page("welcome.html", "Je bent aangemeld")
        return pages.page("broken.html", "Deze link werkt niet", 400, reason=outcome)

    async def webhook(request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return JSONResponse({"error": _("send application/json")}, status_code=415)
        payload = await request.body()
        key = env.get("SENDGRID_WEBHOOK_PUBLIC_KEY")
        try:
            audience.verify(key, payload, request.headers, clock().timestamp())
            events = audience.read_events(payload)
        except audience.WebhookRefused as e:
            log.warning(_("a webhook call was refused: {reason}").format(reason=e.message))
            return JSONResponse({"error": e.message}, status_code=e.status)

        def work() -> audience.Applied:
            with writing, Store(s.database) as store:
                return audience.apply_events(store, events, clock())

        done = await run_in_threadpool(work)
        return JSONResponse({"stored": done.stored, "repeated": done.repeated})

    def css(request: Request) -> Response:
        cache = {"cache-control": "max-age=3600"}
        return Response(style, media_type="text/css", headers=cache)

    def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    def home(request: Request) -> Response:
        from starlette.responses import RedirectResponse

        return RedirectResponse("/aanmelden", status_code=303)

    routes = [
        Route("/", home),
        Route("/aanmelden", show_form, methods=["GET"]),
        Route("/aanmelden", sign_up, methods=["POST"]),
        Route("/aanmelden/formulier", snippet, methods=["GET"]),
        Route("/aanmelden.css", css, methods=["GET"]),
        Route("/bevestig", confirm_page, methods=["GET"]),
        Route("/bevestig", confirm, methods=["POST"]),
        Route(WEBHOOK, webhook, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    _app, guard = create_app(routes, max_body=MAX_BODY, public=True, body_limits={WEBHOOK: WEBHOOK_MAX_BODY})
    return guard
