"""The public service (``newsletter serve``): sign-up with double opt-in, and SendGrid's Event Webhook.

- ``GET /aanmelden``: the sign-up form (email; name, organisation and province optional);
- ``POST /aanmelden``: a sign-up, always answered "kijk in je mailbox", whether the address is new,
  waiting or subscribed;
- ``GET /aanmelden/formulier``: the HTML to paste into the alliance's own site (``?raw=1``: only it);
- ``GET /bevestig?token=...``: the confirmation link's page, with one button (a mail scanner that
  follows links confirms nothing);
- ``POST /bevestig``: the confirmation: the reader is a subscriber, with the consent on record,
  and a welcome mail follows (a used, expired or unknown link says so already on the GET);
- ``POST /webhooks/sendgrid``: SendGrid's signed events (bounces, unsubscribes, clicks ...);
- ``/voorkeuren...``: the reader's own page by her personal link (``pipeline.audience.preferences``);
- ``GET /healthz``: ``ok``, for the web server or a monitor;
- ``/partners/``: the partner portal (``pipeline.portal``, docs/portal.md).

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
from typing import TYPE_CHECKING, Any

from pipeline import audience
from pipeline.audience.preferences import PreferencePages
from pipeline.domain.config import Config
from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _
from pipeline.domain.tokens import PersonalLinks
from pipeline.infra.store import Store
from pipeline.infra.templating import environment, render_template
from pipeline.infra.web import client_of, create_app, form

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

MAX_BODY = 64 * 1024  # a sign-up is a few hundred bytes
# SendGrid posts its events in batches of up to 768 KB (or every 30 seconds); a larger body is not
# SendGrid's, and is refused before it is read in full.
WEBHOOK_MAX_BODY = 1024 * 1024
WEBHOOK = "/webhooks/sendgrid"
log = logging.getLogger("newsletter.serve")


HOUR = dt.timedelta(hours=1)  # the window of the sign-ups per client


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
    from pipeline.portal.app import BODY_LIMITS, Portal

    service = _Service(config, address=address, env=os.environ if env is None else env, clock=clock)
    portal = Portal(
        config, public_url=service.public_url, env=service.env, clock=clock, writing=service.writing
    )
    _app, guard = create_app(
        [*service.routes(), *portal.routes()], max_body=MAX_BODY, public=True,
        body_limits={WEBHOOK: WEBHOOK_MAX_BODY, **BODY_LIMITS},
    )  # fmt: skip
    return guard


class _Service:
    """The service's requests, each a method, over one instance, one clock and one writer's lock."""

    def __init__(
        self, config: Config, *, address: str, env: Mapping[str, str], clock: Callable[[], dt.datetime]
    ) -> None:
        self.config = config
        self.env = env
        self.clock = clock
        self.pages = Pages(config)
        # Rendered once; a broken template stops the start, not a request.
        self.style = self.pages.text("style.css")
        self.pages.form({}, {}, audience.FORM, 200)
        self.public_url = (config.settings.signup.public_url or address).rstrip("/")
        # One writer at a time in this process: SQLite allows one anyway, and its busy handler sleeps
        # (up to 100 ms a time) where a lock hands over at once. Other processes (cron's run) still
        # wait on SQLite's own lock.
        self.writing = threading.Lock()

    def routes(self) -> list[Any]:
        from starlette.routing import Route

        return [
            Route("/", self.home),
            Route("/aanmelden", self.show_form, methods=["GET"]),
            Route("/aanmelden", self.sign_up, methods=["POST"]),
            Route("/aanmelden/formulier", self.snippet, methods=["GET"]),
            Route("/aanmelden.css", self.css, methods=["GET"]),
            Route("/bevestig", self.confirm_page, methods=["GET"]),
            Route("/bevestig", self.confirm, methods=["POST"]),
            Route(WEBHOOK, self.webhook, methods=["POST"]),
            Route("/healthz", self.health, methods=["GET"]),
            *PreferencePages(self).routes(),  # /voorkeuren: the reader's own page (issue 26)
        ]

    def store(self) -> Store:
        return Store(self.config.settings.database)

    def allowed(self, client: str) -> bool:
        # Counted in the state database: every web host sharing it counts the same sign-ups.
        s = self.config.settings
        with self.writing, self.store() as store:
            return store.allow(f"signup:{client}", s.signup.per_client_per_hour, HOUR, self.clock())

    def show_form(self, request: Request) -> Response:
        return self.pages.form({}, {}, audience.FORM, 200)

    def mail(self, email: str, token: str, link_base: str) -> None:
        try:
            audience.confirmation_mail(self.config, email, token, link_base, self.env, self.clock())
        except PipelineError as e:  # the reader was answered already; the editors see this in the log
            log.warning(_("a confirmation mail was not sent: {reason}").format(reason=e.message))

    async def sign_up(self, request: Request) -> Response:
        from starlette.background import BackgroundTask
        from starlette.concurrency import run_in_threadpool

        fields = await form(request)
        read = audience.read_form(self.config, fields)
        if read.person is None:
            return self.pages.form(read.values, read.errors, read.values.get("form") or audience.FORM, 400)
        thanks = self.pages.page("thanks.html", "Kijk in je mailbox")
        client = client_of(request.scope, request.headers)
        if read.bot or not await run_in_threadpool(self.allowed, client):
            return thanks  # the same answer: a robot or a flood learns nothing
        person = read.person

        def work() -> None:
            with self.writing, self.store() as store:
                done = audience.signup(self.config, store, person, self.clock())
            if done.token:
                self.mail(person.email, done.token, self.public_url)

        # The answer goes first; the database and the mail after it, whatever the address's state.
        thanks.background = BackgroundTask(work)
        return thanks

    def snippet(self, request: Request) -> Response:
        from starlette.responses import PlainTextResponse

        code = self.pages.site_form(f"{self.public_url}/aanmelden")
        if request.query_params.get("raw"):
            return PlainTextResponse(code)
        return self.pages.page("snippet.html", "Het aanmeldformulier op je eigen site", code=code)

    async def confirm_page(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        token = request.query_params.get("token", "")
        if not token or len(token) > 200:
            return self.pages.page("broken.html", "Deze link werkt niet", 400, reason="incomplete")

        def state() -> str:  # a used, expired or unknown link says so at once, before any button
            with self.store() as store:
                return store.token_state(audience.hash_token(token), self.clock())

        found = await run_in_threadpool(state)
        if found != "valid":
            return self.pages.page("broken.html", "Deze link werkt niet", 400, reason=found)
        return self.pages.page("confirm.html", "Bevestig je aanmelding", token=token)

    async def confirm(self, request: Request) -> Response:
        from starlette.background import BackgroundTask
        from starlette.concurrency import run_in_threadpool

        token = (await form(request)).get("token", "")

        def work() -> tuple[str, str | None]:
            if not token or len(token) > 200:
                return "unknown", None
            with self.writing, self.store() as store:
                return store.confirm(audience.hash_token(token), self.clock())

        outcome, email = await run_in_threadpool(work)
        if outcome == "confirmed" and email:
            # Her preferences link is in the welcome mail: a page must not hold what only her mailbox may.
            page = self.pages.page(
                "confirmed.html", "Je bent aangemeld", archive=self.config.settings.archive_url
            )
            page.background = BackgroundTask(self.welcome, email)
            return page
        return self.pages.page("broken.html", "Deze link werkt niet", 400, reason=outcome)

    def welcome(self, email: str) -> None:
        """The welcome mail, after the answer (the page does not wait for the mail)."""
        from pipeline.audience.preferences import welcome_mail

        try:
            with self.writing, self.store() as store:
                links = PersonalLinks(store.link_key(), self.public_url)
                welcome_mail(self.config, store, email, links, self.env)
        except PipelineError as e:  # she was answered already; the editors see this in the log
            log.warning(_("a welcome mail was not sent: {reason}").format(reason=e.message))

    async def webhook(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return JSONResponse({"error": _("send application/json")}, status_code=415)
        payload = await request.body()
        key = self.env.get("SENDGRID_WEBHOOK_PUBLIC_KEY")
        try:
            audience.verify(key, payload, request.headers, self.clock().timestamp())
            events = audience.read_events(payload)
        except audience.WebhookRefused as e:
            log.warning(_("a webhook call was refused: {reason}").format(reason=e.message))
            return JSONResponse({"error": e.message}, status_code=e.status)

        def work() -> audience.Applied:
            with self.writing, self.store() as store:
                return audience.apply_events(store, events, self.clock())

        done = await run_in_threadpool(work)
        return JSONResponse({"stored": done.stored, "repeated": done.repeated})

    def css(self, request: Request) -> Response:
        from starlette.responses import Response

        cache = {"cache-control": "max-age=3600"}
        return Response(self.style, media_type="text/css", headers=cache)

    def health(self, request: Request) -> Response:
        from starlette.responses import PlainTextResponse

        return PlainTextResponse("ok")

    def home(self, request: Request) -> Response:
        from starlette.responses import RedirectResponse

        return RedirectResponse("/aanmelden", status_code=303)
