"""The signed-in pages: my contributions, a story (new, edit, withdraw), an image, progress.

Each page is ``@signed_in`` (a form post starts with ``_posted``, which also checks its CSRF
token): without a session a page sends the visitor to sign in and a form post is refused; the partner
is the session's. A story id is looked up in that partner's own folder only, so another partner's id
(or any path trick) is a 404.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pipeline.domain.errors import display_path
from pipeline.domain.i18n import _, using
from pipeline.infra.store import PortalSession
from pipeline.portal import contributions, forms, images, progress, repo, signin, stories

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from pipeline.portal.app import Portal

    SignedInPage = Callable[["Views", Request, str, PortalSession], Awaitable[Response]]


def signed_in(page: SignedInPage) -> Callable[[Views, Request], Awaitable[Response]]:
    """A page for a signed-in partner, given the session's cookie and partner; without a session the
    visitor is sent to sign in."""

    @functools.wraps(page)
    async def route(self: Views, request: Request) -> Response:
        found = await self.p.session(request)
        if found is None:
            return self._to_signin()
        return await page(self, request, *found)

    return route


class Views:
    def __init__(self, portal: Portal) -> None:
        self.p = portal
        self.config = portal.config

    # -- helpers ------------------------------------------------------------------------------------
    async def _posted(self, request: Request) -> tuple[str, PortalSession, forms.Form] | None:
        """The session and the form of a post; None without a session or without the session's CSRF
        token (the caller refuses it; the body is not read without a session)."""
        found = await self.p.session(request)
        if found is None:
            return None
        cookie, who = found
        form_in = await self.p.posted_form(request, cookie)
        return None if form_in is None else (cookie, who, form_in)

    def _to_signin(self) -> Response:
        from starlette.responses import RedirectResponse

        return RedirectResponse("/partners/", status_code=303)

    def _not_found(self, cookie: str, who: PortalSession) -> Response:
        return self._page("broken.html", "Niet gevonden", 404, cookie, who, reason="notfound")

    def _page(
        self, name: str, heading: str, status: int, cookie: str, who: PortalSession, **context: Any
    ) -> Any:
        partner = self.config.partners.get(who.partner)
        return self.p.pages.page(
            name, heading, status, signed_in=partner, csrf=signin.csrf_token(cookie), **context
        )

    def _story_page(
        self, cookie: str, who: PortalSession, form: stories.StoryForm, story_id: str, loaded: str,
        status: int = 200, errors: dict[str, list[str]] | None = None,
        warnings: dict[str, list[str]] | None = None, note: str | None = None,
    ) -> Any:  # fmt: skip
        tax = self.config.taxonomy
        kinds = [k for k in tax.kinds.values() if k.id not in stories.HIDDEN_KINDS]
        heading = "Verhaal aanpassen" if story_id else "Nieuw verhaal"
        return self._page(
            "story.html", heading, status, cookie, who, form=form, story_id=story_id, loaded=loaded,
            errors=errors or {}, warnings=warnings or {}, note=note, kinds=kinds,
            themes=list(tax.themes.values()), provinces=list(tax.provinces.values()),
            partner_province=self.config.partners[who.partner].province,
        )  # fmt: skip

    # -- my contributions ---------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        found = await self.p.session(request)
        if found is None:
            return self.p.signin_page(request)
        cookie, who = found

        def work() -> contributions.Overview:
            with self.p.store() as store:
                return contributions.overview(self.config, store, who.partner, self.p.clock())

        overview = await self.p.in_thread(work)
        return self._page("home.html", "Mijn bijdragen", 200, cookie, who, overview=overview,
                          saved=request.query_params.get("ingetrokken"))  # fmt: skip

    # -- a story ------------------------------------------------------------------------------------
    @signed_in
    async def new_story(self, request: Request, cookie: str, who: PortalSession) -> Response:
        return self._story_page(cookie, who, stories.StoryForm(values={"kind": "story"}), "", "")

    @signed_in
    async def edit_story(self, request: Request, cookie: str, who: PortalSession) -> Response:
        story_id = request.path_params["story_id"]
        found = stories.load(self.config, who.partner, story_id)
        if found is None:
            return self._not_found(cookie, who)
        data, sub = found
        base = stories.image_base(self.config, who.partner)
        if sub is None:
            return self._page("handwork.html", "Dit verhaal is met de hand aangepast", 200, cookie, who,
                              story_id=story_id)  # fmt: skip
        form = stories.from_submission(sub, base, self.config.settings.timezone)
        shown = self._shown(who.partner, story_id)
        now = self.p.clock()
        # validate's checks (YAML, the B1 rules) take CPU: in a thread, so that the loop answers others.
        checked = await self.p.in_thread(lambda: stories.check(self.config, data.decode(), shown, now, form))
        note = {"1": "saved", "2": "conflict"}.get(request.query_params.get("opgeslagen", ""))
        issue = contributions.locked_in(self.config, self.p.store, sub)
        return self._story_page(
            cookie,
            who,
            form,
            story_id,
            stories.digest(data),
            warnings=checked.warnings,
            note="locked:" + issue if issue else note,
        )

    def _shown(self, partner: str, story_id: str) -> str:
        return display_path(stories.folder(self.config, partner) / f"{story_id}.yaml", self.config.root)

    async def save_story(self, request: Request) -> Response:
        from starlette.responses import RedirectResponse

        posted = await self._posted(request)
        if posted is None:
            return self.p.forbidden(request)
        cookie, who, form_in = posted
        story_id, loaded = form_in.get("id"), form_in.get("loaded")
        if story_id:
            found = stories.load(self.config, who.partner, story_id)
            if found is None or found[1] is None:
                return self._not_found(cookie, who)
            if contributions.locked_in(self.config, self.p.store, found[1]):
                return self._page("broken.html", "Dit verhaal staat al in een nummer", 409, cookie, who,
                                  reason="locked")  # fmt: skip
        form = stories.read_form(form_in.fields, self.config)
        errors: dict[str, list[str]] = {}
        upload = form_in.files.get("image")
        if form_in.get("remove_image") == "yes":
            form = dataclasses.replace(form, image=None, alt="", consent="")
        elif upload is not None:
            try:
                name = await self.p.in_thread(
                    lambda: images.store(upload[1], stories.media_folder(self.config, who.partner))
                )
                form = dataclasses.replace(form, image=name)
            except images.ImageRefused as e:
                with using("nl"):
                    errors["image"] = [f"{_(e.message)} {_(e.hint or '')}".strip()]
        if form.image and not (stories.media_folder(self.config, who.partner) / form.image).is_file():
            form = dataclasses.replace(form, image=None)  # only an image this partner uploaded
        now = self.p.clock()
        base = stories.image_base(self.config, who.partner)
        shown = self._shown(who.partner, story_id or "nieuw")
        text = stories.to_yaml(form, who.partner, base, shown)
        checked = await self.p.in_thread(lambda: stories.check(self.config, text, shown, now, form))
        for key, messages in checked.errors.items():
            errors.setdefault(key, []).extend(messages)
        if errors:
            return self._story_page(cookie, who, form, story_id, loaded, 400, errors, checked.warnings)

        def work() -> tuple[str, bool]:
            with self.p.writing:
                return self._write(who, form, story_id, loaded, base, now)

        saved_id, conflict = await self.p.writes(work)
        return RedirectResponse(
            f"/partners/verhalen/{saved_id}?opgeslagen={'2' if conflict else '1'}", status_code=303
        )

    def _write(
        self, who: PortalSession, form: stories.StoryForm, story_id: str, loaded: str, base: str,
        now: dt.datetime,
    ) -> tuple[str, bool]:  # fmt: skip
        """Write the story (under the writer's lock); never over a file changed since the form was
        loaded: then the partner's version goes into a new file beside it. Returns the id, and
        whether it was such a conflict."""
        conflict = False
        action = "changed"
        if story_id:
            path = stories.story_path(self.config, who.partner, story_id)
            if path is None or stories.digest(path.read_bytes()) != loaded:
                conflict = True
                story_id = ""
        if not story_id:
            story_id = stories.new_id(
                self.config, who.partner, form, now.astimezone(self.config.settings.timezone).date()
            )
            action = "changed" if conflict else "new"
        path = stories.folder(self.config, who.partner) / f"{story_id}.yaml"
        shown = display_path(path, self.config.root)
        # The text that was checked, with its own path in the comment that names it (nothing else differs).
        stories.write(path, stories.to_yaml(form, who.partner, base, shown))
        with self.p.store() as store:
            store.add_portal_save(who.partner, shown, action, now)
        repo.commit(self.config, [path], who, f"{'Nieuw' if action == 'new' else 'Aangepast'}: {shown}")
        return story_id, conflict

    async def tips(self, request: Request) -> Response:
        """The B1 tips on a title and summary as the partner types (portaal.js), as JSON."""
        from starlette.responses import JSONResponse

        posted = await self._posted(request)
        if posted is None:
            return JSONResponse({}, status_code=403)
        _, who, form_in = posted
        form = stories.read_form(form_in.fields, self.config)
        text = stories.to_yaml(form, who.partner, "", "tips")
        now = self.p.clock()
        checked = await self.p.in_thread(lambda: stories.check(self.config, text, "tips", now, form))
        return JSONResponse({key: checked.warnings.get(key, []) for key in ("title", "summary")})

    async def withdraw_story(self, request: Request) -> Response:
        from starlette.responses import RedirectResponse

        posted = await self._posted(request)
        if posted is None:
            return self.p.forbidden(request)
        cookie, who, form_in = posted
        story_id = form_in.get("id")
        found = stories.load(self.config, who.partner, story_id)
        if found is None:
            return self._not_found(cookie, who)
        if found[1] is not None and contributions.locked_in(self.config, self.p.store, found[1]):
            return self._page("broken.html", "Dit verhaal staat al in een nummer", 409, cookie, who,
                              reason="locked")  # fmt: skip

        def work() -> None:
            now = self.p.clock()
            with self.p.writing:
                target = stories.withdraw(self.config, who.partner, story_id, now)
                shown = self._shown(who.partner, story_id)
                with self.p.store() as store:
                    store.add_portal_save(who.partner, shown, "withdrawn", now)
                if target is not None:
                    gone = stories.folder(self.config, who.partner) / f"{story_id}.yaml"
                    repo.commit(self.config, [target, gone], who, f"Ingetrokken: {shown}")

        await self.p.writes(work)
        return RedirectResponse("/partners/?ingetrokken=1", status_code=303)

    @signed_in
    async def image(self, request: Request, cookie: str, who: PortalSession) -> Response:
        from starlette.responses import FileResponse

        name = request.path_params["name"]
        path = stories.media_folder(self.config, who.partner) / name
        if not stories.IMAGE_RE.match(name) or not path.is_file():
            return self._not_found(cookie, who)
        kind = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}[name.rsplit(".", 1)[1]]
        return FileResponse(path, media_type=kind, headers={"cache-control": "private, max-age=3600"})

    # -- progress -----------------------------------------------------------------------------------
    @signed_in
    async def progress_form(self, request: Request, cookie: str, who: PortalSession) -> Response:
        year = progress.year_of(request.path_params["year"], self.p.clock())
        if year is None:
            return self._not_found(cookie, who)
        form, loaded = progress.prefilled(self.config, who.partner, year)
        if form is None:
            return self._page("handwork.html", "Dit bestand is met de hand aangepast", 200, cookie, who)
        note = {"1": "saved", "2": "conflict"}.get(request.query_params.get("opgeslagen", ""))
        return self._progress_page(cookie, who, year, form, loaded, note=note)

    def _progress_page(
        self, cookie: str, who: PortalSession, year: int, form: progress.ProgressForm, loaded: str,
        status: int = 200, errors: dict[str, list[str]] | None = None, note: str | None = None,
    ) -> Any:  # fmt: skip
        tax = self.config.taxonomy
        return self._page(
            "progress.html", f"Voortgang {year}", status, cookie, who, year=year, form=form, loaded=loaded,
            errors=errors or {}, note=note, themes=list(tax.themes.values()),
            horizons=list(tax.horizons.values()),
        )  # fmt: skip

    async def save_progress(self, request: Request) -> Response:
        from starlette.responses import RedirectResponse

        posted = await self._posted(request)
        if posted is None:
            return self.p.forbidden(request)
        cookie, who, form_in = posted
        year = progress.year_of(form_in.get("year"), self.p.clock())
        if year is None:
            return self._not_found(cookie, who)
        form = progress.read_form(form_in.fields)
        loaded = form_in.get("loaded")
        text = progress.to_yaml(self.config, who.partner, year, form)
        errors = progress.check(self.config, who.partner, year, text)
        if errors:
            return self._progress_page(cookie, who, year, form, loaded, 400, errors)

        def work() -> bool:
            with self.p.writing:
                return progress.save(self.config, who, year, text, loaded, self.p.store, self.p.clock())

        conflict = await self.p.writes(work)
        return RedirectResponse(
            f"/partners/voortgang/{year}?opgeslagen={'2' if conflict else '1'}", status_code=303
        )
