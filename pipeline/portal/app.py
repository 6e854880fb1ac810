"""The portal's routes under ``/partners/``, mounted in ``newsletter serve`` (docs/portal.md).

Every request is untrusted. A page that shows or changes a partner's files needs a session (the
cookie, whose sha256 the store knows); the partner comes from the session, never from the request;
a story id is looked up in that partner's own folder (another partner's id is a 404). Every form
carries a CSRF token (a session's: derived from its cookie; before signing in: the value of a
cookie of its own, sent back in the form), and a request from another site is refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pipeline.domain.config import Config
from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _
from pipeline.infra.store import PortalSession, Store
from pipeline.infra.templating import environment, render_template
from pipeline.infra.web import client_of
from pipeline.portal import forms, signin
from pipeline.portal.pages import Pages

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

PREFIX = "/partners"
SESSION_COOKIE = "newsletter_partner"
FORM_COOKIE = "newsletter_partner_form"  # the CSRF value of the forms before signing in
STORY_POST = f"{PREFIX}/verhalen"
PROGRESS_POST = f"{PREFIX}/voortgang"
UPLOAD_MAX_BODY = 11 * 1024 * 1024  # an image of 10 MB and the story's fields
BODY_LIMITS = {STORY_POST: UPLOAD_MAX_BODY}
log = logging.getLogger("newsletter.portal")


class Portal:
    """The portal's requests over one instance, one clock and the service's writer's lock."""

    def __init__(
        self,
        config: Config,
        *,
        public_url: str,
        env: Mapping[str, str],
        clock: Callable[[], dt.datetime],
        writing: threading.Lock,
    ) -> None:
        self.config = config
        self.env = env
        self.clock = clock
        self.writing = writing
        self.gate = asyncio.Lock()
        self.public_url = public_url.rstrip("/")
        self.secure = self.public_url.startswith("https://")
        self.pages = Pages(config)
        templates = environment(config.root / "templates")
        self.style = render_template(templates, "portal/style.css", config.root)
        self.script = render_template(templates, "portal/portaal.js", config.root)

    def routes(self) -> list[Any]:
        from starlette.routing import Route

        from pipeline.portal import views

        v = views.Views(self)
        return [
            Route(f"{PREFIX}", self.to_home, methods=["GET"]),
            Route(f"{PREFIX}/", v.home, methods=["GET"]),
            Route(f"{PREFIX}/", self.ask_link, methods=["POST"]),
            Route(f"{PREFIX}/inloggen", self.button_page, methods=["GET"]),
            Route(f"{PREFIX}/inloggen", self.sign_in, methods=["POST"]),
            Route(f"{PREFIX}/uitloggen", self.sign_out, methods=["POST"]),
            Route(f"{PREFIX}/portaal.css", self.css, methods=["GET"]),
            Route(f"{PREFIX}/portaal.js", self.js, methods=["GET"]),
            Route(f"{PREFIX}/tips", v.tips, methods=["POST"]),
            Route(f"{PREFIX}/verhalen/nieuw", v.new_story, methods=["GET"]),
            Route(f"{PREFIX}/verhalen/{{story_id}}", v.edit_story, methods=["GET"]),
            Route(STORY_POST, v.save_story, methods=["POST"]),
            Route(f"{PREFIX}/intrekken", v.withdraw_story, methods=["POST"]),
            Route(f"{PREFIX}/beeld/{{name}}", v.image, methods=["GET"]),
            Route(f"{PREFIX}/voortgang/{{year}}", v.progress_form, methods=["GET"]),
            Route(PROGRESS_POST, v.save_progress, methods=["POST"]),
        ]

    # -- the store, the session, CSRF -------------------------------------------------------------------
    def store(self) -> Store:
        return Store(self.config.settings.database)

    async def in_thread(self, work: Callable[[], Any]) -> Any:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(work)

    async def writes(self, work: Callable[[], Any]) -> Any:
        """``work`` (which takes the writer's lock) in a thread, one at a time: the writes queue
        here, on the event loop, and leave the thread pool to the reads (a burst of saves would
        otherwise hold every thread waiting on the lock, and a page view would wait behind them)."""
        async with self.gate:
            return await self.in_thread(work)

    async def session(self, request: Request) -> tuple[str, PortalSession] | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None

        def work() -> PortalSession | None:
            with self.store() as store:
                return signin.session_of(store, cookie, self.clock())

        who = await self.in_thread(work)
        return (cookie, who) if who else None

    def other_site(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        host = request.headers.get("host", "")
        if origin and origin != "null" and origin.split("://", 1)[-1] != host:
            return True
        return request.headers.get("sec-fetch-site") == "cross-site"

    def csrf_ok(self, request: Request, sent: str, session_cookie: str | None) -> bool:
        """The form's token: the session's, or (before signing in) the form cookie's value."""
        if self.other_site(request) or not sent:
            return False
        if session_cookie:
            expected = signin.csrf_token(session_cookie)
        else:
            expected = request.cookies.get(FORM_COOKIE, "")
        return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())

    async def posted_form(self, request: Request, session_cookie: str | None) -> forms.Form | None:
        """A post's form, or None when its CSRF token is not right (the caller refuses the post)."""
        form = forms.read(request.headers.get("content-type", ""), await request.body())
        return form if self.csrf_ok(request, form.get("csrf_token"), session_cookie) else None

    def forbidden(self, request: Request) -> Response:
        return self.pages.page(
            "broken.html", "Dit formulier is verlopen", 403, reason="csrf", request=request
        )

    def form_cookie(self, request: Request) -> str:
        """The CSRF value of the forms before signing in (a new one when the browser has none)."""
        return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)

    def cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path=f"{PREFIX}/", httponly=True, samesite="lax", secure=self.secure
        )

    # -- signing in ---------------------------------------------------------------------------------
    async def to_home(self, request: Request) -> Response:
        from starlette.responses import RedirectResponse

        return RedirectResponse(f"{PREFIX}/", status_code=308)

    def signin_page(
        self, request: Request, status: int = 200, error: str | None = None, email: str = ""
    ) -> Any:
        return self.form_page(
            request, "signin.html", "Inloggen voor partners", status, error=error, email=email
        )

    def form_page(self, request: Request, name: str, heading: str, status: int = 200, **context: Any) -> Any:
        """A page with a form before signing in, and the cookie its CSRF token is checked against."""
        token = self.form_cookie(request)
        page = self.pages.page(name, heading, status, form_token=token, **context)
        self.cookie(page, FORM_COOKIE, token, 3600 * 24)
        return page

    async def ask_link(self, request: Request) -> Response:
        from starlette.background import BackgroundTask

        form = await self.posted_form(request, None)
        if form is None:
            return self.forbidden(request)
        email = form.get("email").strip()
        if not signin_address_ok(email):
            return self.signin_page(request, 400, "Vul je e-mailadres in, zoals naam@organisatie.nl.", email)
        client = client_of(request.scope, request.headers)
        sent = self.pages.page("sent.html", "Kijk in je mailbox", minutes=signin.LINK_MINUTES)

        now = self.clock()

        def store_link() -> str | None:
            with self.writing, self.store() as store, store.transaction():  # one commit
                return signin.request_link(self.config, store, email, client, now)

        def mail(token: str) -> None:
            try:
                signin.link_mail(self.config, email, token, self.public_url, self.env, now)
            except PipelineError as e:  # the partner was answered already; the editors see the log
                log.warning(_("a sign-in mail was not sent: {reason}").format(reason=e.message))

        async def work() -> None:
            token = await self.writes(store_link)
            if token:
                await self.in_thread(lambda: mail(token))

        # The answer goes first, the same for every address; the store and the mail after it.
        sent.background = BackgroundTask(work)
        return sent

    async def button_page(self, request: Request) -> Response:
        token = request.query_params.get("token", "")
        if not token or len(token) > 200:
            return self.pages.page(
                "broken.html", "Deze link werkt niet", 400, reason="unknown", request=request
            )
        return self.form_page(request, "button.html", "Inloggen", token=token)

    async def sign_in(self, request: Request) -> Response:
        from starlette.responses import RedirectResponse

        form = await self.posted_form(request, None)
        if form is None:
            return self.forbidden(request)
        client = client_of(request.scope, request.headers)

        def work() -> tuple[str, str | None]:
            now = self.clock()
            with self.writing, self.store() as store, store.transaction():  # one commit, not three
                if not store.allow(f"portal:client:{client}", signin.REQUESTS_PER_CLIENT, signin.HOUR, now):
                    return "busy", None
                return signin.use_link(store, form.get("token"), now)

        outcome, session = await self.writes(work)
        if outcome == "busy":
            return self.pages.page("broken.html", "Even wachten", 429, reason="busy", request=request)
        if session is None:
            return self.pages.page(
                "broken.html", "Deze link werkt niet", 400, reason=outcome, request=request
            )
        done = RedirectResponse(f"{PREFIX}/", status_code=303)
        self.cookie(done, SESSION_COOKIE, session, signin.SESSION_HOURS * 3600)
        return done

    async def sign_out(self, request: Request) -> Response:
        from starlette.responses import RedirectResponse

        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie or await self.posted_form(request, cookie) is None:
            return self.forbidden(request)

        def work() -> None:
            with self.writing, self.store() as store:
                store.end_portal_session(signin.hashed(cookie), self.clock())

        await self.writes(work)
        done = RedirectResponse(f"{PREFIX}/?uitgelogd=1", status_code=303)
        done.delete_cookie(
            SESSION_COOKIE, path=f"{PREFIX}/", httponly=True, samesite="lax", secure=self.secure
        )
        return done

    async def css(self, request: Request) -> Response:
        from starlette.responses import Response

        return Response(self.style, media_type="text/css", headers={"cache-control": "max-age=3600"})

    async def js(self, request: Request) -> Response:
        from starlette.responses import Response

        return Response(self.script, media_type="text/javascript", headers={"cache-control": "max-age=3600"})


def signin_address_ok(email: str) -> bool:
    return 3 <= len(email) <= 254 and "@" in email and " " not in email and "\n" not in email
