"""The reader's own page (``/voorkeuren?t=TOKEN``), reached through the personal link in every list mail.

No login: the token is an HMAC of her address with the service's key (``pipeline.domain.tokens``),
checked in constant time. With it she sees what is kept about her and can:

- choose provinces and themes from the taxonomy (none ticked: everything);
- pause for 1 to 6 months (the send skips her until then), or end the pause;
- unsubscribe (a page to confirm, then one to undo it); the one-click POST of RFC 8058 to the same
  address (``List-Unsubscribe=One-Click``) unsubscribes at once, without a page;
- download her data as JSON (``/voorkeuren/gegevens``);
- be forgotten (``/voorkeuren/vergeten``): her personal data removed from every table, a keyed hash
  kept so that no import brings her back (only her own confirmed sign-up does).

A wrong or old token gets a page that says how to get a new link: by mail, with the same answer for
any address typed in. No page reached without a valid token shows an address. An unsubscribe (and
its undo) is passed on to SendGrid's unsubscribe group, when there is an API key and a group.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pipeline.domain.config import Config
from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _
from pipeline.domain.models import SubscriberStatus
from pipeline.domain.tokens import PREFERENCES_PATH, UNSUBSCRIBE_PATH, PersonalLinks
from pipeline.infra.sendgrid import SendGridAPI, mail_body, send_or_raise
from pipeline.infra.store import Reader, Store
from pipeline.infra.web import client_of, form

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger("newsletter.serve")
PAUSE_MONTHS = range(1, 7)
LINK_MAILS_PER_DAY = 3  # new-link mails one address may get a day
DAY = dt.timedelta(days=1)
OUTBOX_FOLDERS = {"welcome": "welkom", "link": "nieuwe-link"}  # where the outbox keeps these mails


def pause_end(now: dt.datetime, months: int) -> dt.datetime:
    """``months`` calendar months after ``now`` (the 31st becomes the month's last day), at midnight UTC."""
    month = now.month - 1 + months
    year, month = now.year + month // 12, month % 12 + 1
    for day in range(now.day, 27, -1):
        try:
            return dt.datetime(year, month, day, tzinfo=dt.UTC)
        except ValueError:
            continue
    return dt.datetime(year, month, min(now.day, 28), tzinfo=dt.UTC)


# RFC 8058 says a mail client SHOULD post multipart/form-data (and MAY post a URL-encoded form).
_ONE_CLICK_PART = re.compile(
    rb'content-disposition:[ \t]*form-data;[ \t]*name="?List-Unsubscribe"?[^\r\n]*\r?\n'
    rb"(?:[^\r\n]+\r?\n)*\r?\nOne-Click\r?\n",
    re.IGNORECASE,
)


def is_one_click(content_type: str, body: bytes, fields: Mapping[str, str]) -> bool:
    """Whether a POST is RFC 8058's one-click unsubscribe: ``List-Unsubscribe=One-Click`` in the body,
    URL-encoded or as a multipart/form-data part."""
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        return _ONE_CLICK_PART.search(body) is not None
    return fields.get("List-Unsubscribe") == "One-Click"


def read_choices(config: Config, fields: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """The ticked provinces and themes (fields ``provincie-ID`` and ``thema-ID``), taxonomy ids only,
    in the taxonomy's order; all of a list ticked is the same as none: everything."""
    tax = config.taxonomy
    provinces = [p for p in tax.provinces if fields.get(f"provincie-{p}")]
    themes = [t for t in tax.themes if fields.get(f"thema-{t}")]
    return (
        [] if len(provinces) == len(tax.provinces) else provinces,
        [] if len(themes) == len(tax.themes) else themes,
    )


def _mail(config: Config, env: Mapping[str, str], to: str, subject: str, name: str, **context: Any) -> None:
    """One transactional mail from ``signup/NAME.html`` and ``.txt``, at once (SendGrid or the outbox)."""
    from pipeline.infra.templating import environment, render_template

    s = config.settings
    env_t = environment(config.root / "templates")
    text = render_template(env_t, f"signup/{name}.txt", config.root, settings=s, **context)
    page = render_template(env_t, f"signup/{name}.html", config.root, settings=s, **context)
    body = mail_body(
        from_email=s.from_email, from_name=s.from_name, reply_to=s.reply_to, subject=subject, text=text,
        html=page, recipients=[(to, None)], categories=[name], custom_args={"kind": name},
    )  # fmt: skip
    stamp = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}"
    folder = OUTBOX_FOLDERS[name]  # beside aanmelden/, which holds only confirmations
    refused = _("the mail was not accepted: {reason}"), _("see SendGrid's message")
    send_or_raise(body, s.sendgrid.region, env, config.root / "outbox", folder, f"{name}-{stamp}", refused)


def welcome_mail(
    config: Config, store: Store, email: str, links: PersonalLinks, env: Mapping[str, str]
) -> None:
    """The welcome after a confirmation: the latest issue's web link and her preferences link."""
    s = config.settings
    sent = store.sent_issues()
    latest = s.issue_url(sent[-1].id) if sent else None
    _mail(
        config, env, email, f"Welkom bij {s.title}", "welcome",
        latest=latest, preferences=links.preferences(email), archive=s.archive_url,
    )  # fmt: skip


def group_sync(config: Config, env: Mapping[str, str], email: str, *, unsubscribed: bool) -> None:
    """Tell SendGrid's unsubscribe group what the reader did at home (without a key or group: nothing)."""
    group = config.settings.sendgrid.unsubscribe_group
    api = SendGridAPI.from_env(config.settings.sendgrid.region, env)
    if api is None or group is None:
        return
    try:
        api.suppress(group, email) if unsubscribed else api.unsuppress(group, email)
    except PipelineError as e:
        log.warning(_("SendGrid's unsubscribe group was not updated: {reason}").format(reason=e.message))


class PreferencePages:
    """The routes under ``/voorkeuren``, inside the public service (``_Service`` gives the pages, the
    store, the writer's lock, the clock and the rate limit)."""

    def __init__(self, service: Any) -> None:
        self.s = service
        self.config: Config = service.config
        self.clock: Callable[[], dt.datetime] = service.clock

    def routes(self) -> list[Any]:
        from starlette.routing import Route

        return [
            Route(PREFERENCES_PATH, self.show, methods=["GET"]),
            Route(PREFERENCES_PATH, self.save, methods=["POST"]),
            Route(f"{PREFERENCES_PATH}/pauze", self.pause, methods=["POST"]),
            Route(f"{PREFERENCES_PATH}/gegevens", self.data, methods=["GET"]),
            Route(UNSUBSCRIBE_PATH, self.unsubscribe_page, methods=["GET"]),
            Route(UNSUBSCRIBE_PATH, self.unsubscribe, methods=["POST"]),
            Route(f"{PREFERENCES_PATH}/terug", self.undo, methods=["POST"]),
            Route(f"{PREFERENCES_PATH}/vergeten", self.forget_page, methods=["GET"]),
            Route(f"{PREFERENCES_PATH}/vergeten", self.forget, methods=["POST"]),
            Route(f"{PREFERENCES_PATH}/nieuwe-link", self.new_link, methods=["POST"]),
        ]

    # -- helpers ----------------------------------------------------------------------------------
    def links(self, store: Store) -> PersonalLinks:
        return PersonalLinks(store.link_key(), self.s.public_url)

    async def _reader(self, request: Request, fields: Mapping[str, str] | None = None) -> Reader | None:
        from starlette.concurrency import run_in_threadpool

        token = (fields or {}).get("t") or request.query_params.get("t", "")

        def find() -> Reader | None:
            with self.s.writing, self.s.store() as store:
                return store.reader(token)

        return await run_in_threadpool(find)

    def page(self, name: str, heading: str, status: int = 200, **context: Any) -> Response:
        from starlette.responses import HTMLResponse

        from pipeline.infra.templating import render_template

        config = self.config
        text = render_template(
            self.s.pages.env, f"preferences/{name}", config.root, settings=config.settings, heading=heading,
            **context,
        )  # fmt: skip
        return HTMLResponse(text, status_code=status)

    def wrong_link(self) -> Response:
        return self.page("wrong.html", "Deze link werkt niet meer", 403)

    def back(self, reader: Reader, token: str, done: str) -> Response:
        from starlette.responses import RedirectResponse

        return RedirectResponse(f"{PREFERENCES_PATH}?t={token}&klaar={done}#klaar", status_code=303)

    async def _write(self, work: Callable[[Store], Any]) -> Any:
        from starlette.concurrency import run_in_threadpool

        def run() -> Any:
            with self.s.writing, self.s.store() as store:
                return work(store)

        return await run_in_threadpool(run)

    # -- the page and its forms ---------------------------------------------------------------------
    async def show(self, request: Request) -> Response:
        reader = await self._reader(request)
        if reader is None:
            return self.wrong_link()
        tax = self.config.taxonomy
        return self.page(
            "page.html", "Je voorkeuren", reader=reader, token=request.query_params["t"],
            provinces=list(tax.provinces.values()), themes=list(tax.themes.values()),
            province_title=tax.provinces.title(reader.province, reader.province),
            done=request.query_params.get("klaar", ""), now=self.clock(), months=list(PAUSE_MONTHS),
            active=reader.status == SubscriberStatus.ACTIVE,
        )  # fmt: skip

    async def save(self, request: Request) -> Response:
        fields = await form(request)
        reader = await self._reader(request, fields)
        if reader is None:
            return self.wrong_link()
        provinces, themes = read_choices(self.config, fields)
        await self._write(lambda store: store.set_choices(reader.email, provinces, themes, self.clock()))
        return self.back(reader, fields["t"], "bewaard")

    async def pause(self, request: Request) -> Response:
        fields = await form(request)
        reader = await self._reader(request, fields)
        if reader is None:
            return self.wrong_link()
        months = fields.get("maanden", "")
        now = self.clock()
        if months == "0":
            until = None
        elif months in {str(m) for m in PAUSE_MONTHS}:  # never int() of what came: it may be 5000 digits
            until = pause_end(now, int(months))
        else:
            return self.page(
                "wrong.html", "Kies een pauze van 1 tot 6 maanden", 400, pause=True, token=fields["t"]
            )
        await self._write(lambda store: store.pause(reader.email, until, now))
        return self.back(reader, fields["t"], "gepauzeerd" if until else "hervat")

    async def data(self, request: Request) -> Response:
        from starlette.responses import Response

        reader = await self._reader(request)
        if reader is None:
            return self.wrong_link()
        found = await self._write(lambda store: store.personal_data(reader.email))
        body = json.dumps(found, ensure_ascii=False, indent=2, default=str)
        disposition = {"content-disposition": 'attachment; filename="mijn-gegevens.json"'}
        return Response(body, media_type="application/json", headers=disposition)

    # -- unsubscribe, undo, forget ---------------------------------------------------------------------
    async def unsubscribe_page(self, request: Request) -> Response:
        reader = await self._reader(request)
        if reader is None:
            return self.wrong_link()
        return self.page("unsubscribe.html", "Afmelden", token=request.query_params["t"], reader=reader)

    async def unsubscribe(self, request: Request) -> Response:
        """The confirm page's button, or the one-click POST of RFC 8058 (the token in the address,
        ``List-Unsubscribe=One-Click`` in the body): unsubscribed at once."""
        from starlette.background import BackgroundTask
        from starlette.responses import PlainTextResponse

        fields = await form(request)
        one_click = is_one_click(request.headers.get("content-type", ""), await request.body(), fields)
        reader = await self._reader(request, {} if one_click else fields)
        if reader is None:
            return PlainTextResponse("Deze link werkt niet meer.", 403) if one_click else self.wrong_link()
        now = self.clock()
        done = await self._write(
            lambda store: store.deactivate(
                reader.email, SubscriberStatus.UNSUBSCRIBED, "unsubscribed on the preferences page", now,
                via=f"afgemeld via {UNSUBSCRIBE_PATH}" + (" (one-click)" if one_click else ""),
            )
        )  # fmt: skip
        answer = (
            PlainTextResponse("Je bent afgemeld.")
            if one_click
            else self.page("unsubscribed.html", "Je bent afgemeld", token=fields.get("t", ""))
        )
        if done:
            answer.background = BackgroundTask(
                group_sync, self.config, self.s.env, reader.email, unsubscribed=True
            )
        return answer

    async def undo(self, request: Request) -> Response:
        from starlette.background import BackgroundTask

        fields = await form(request)
        reader = await self._reader(request, fields)
        if reader is None:
            return self.wrong_link()
        done = await self._write(lambda store: store.resubscribe(reader.email, self.clock()))
        answer = self.back(reader, fields["t"], "terug")
        if done:
            answer.background = BackgroundTask(
                group_sync, self.config, self.s.env, reader.email, unsubscribed=False
            )
        return answer

    async def forget_page(self, request: Request) -> Response:
        reader = await self._reader(request)
        if reader is None:
            return self.wrong_link()
        return self.page("forget.html", "Vergeet mij", token=request.query_params["t"])

    async def forget(self, request: Request) -> Response:
        fields = await form(request)
        reader = await self._reader(request, fields)
        if reader is None:
            return self.wrong_link()
        if fields.get("zeker") != "ja":
            return self.page("forget.html", "Vergeet mij", 400, token=fields["t"], unsure=True)
        await self._write(lambda store: store.erase(reader.email, self.clock()))
        return self.page("forgotten.html", "We zijn je vergeten")

    # -- a new link, by mail -----------------------------------------------------------------------
    async def new_link(self, request: Request) -> Response:
        """The same answer for any address; a mail with the link only to a subscriber, within limits."""
        from starlette.background import BackgroundTask

        from pipeline.audience import mailable

        fields = await form(request)
        email = mailable(" ".join(fields.get("email", "").split()).lower()[:254])
        answer = self.page("link-sent.html", "Kijk in je mailbox")
        if email is None:
            return self.page("wrong.html", "Deze link werkt niet meer", 400, bad_address=True)
        client = client_of(request.scope, request.headers)

        def work() -> None:
            now = self.clock()
            with self.s.writing, self.s.store() as store:
                if not store.allow(
                    f"link:{client}", self.config.settings.signup.per_client_per_hour, DAY / 24, now
                ):
                    return
                reader = store.reader_by_email(email)
                if reader is None or not store.allow(
                    f"link:{store.address_hash(email)}", LINK_MAILS_PER_DAY, DAY, now
                ):
                    return
                links = self.links(store)
            try:
                _mail(
                    self.config, self.s.env, email, f"Je link voor {self.config.settings.title}", "link",
                    preferences=links.preferences(email),
                )  # fmt: skip
            except PipelineError as e:
                log.warning(_("a mail with a new link was not sent: {reason}").format(reason=e.message))

        answer.background = BackgroundTask(work)  # the answer first, whatever the address
        return answer
