"""The studio's pages and actions, on the shared web layer (``pipeline.infra.web``).

GET pages only read (a ``Workspace`` snapshot); every POST is one action through the curate
stage, deliver's test send or curate's approval, then a redirect back to the page with a note
of what happened (or, for a script that asks for JSON, the note as JSON). How things are shown is
``views``, the edit forms' changes ``edits``, and the live refresh of the open pages ``live``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Mount, Route

from pipeline.curate import edit
from pipeline.domain import dutch, i18n
from pipeline.domain.editions import Choice, from_key, personalised
from pipeline.domain.errors import InputInvalid, NotFound, PipelineError
from pipeline.domain.i18n import _, ngettext
from pipeline.domain.markup import markdown_to_html
from pipeline.domain.models import STATE_LABELS
from pipeline.infra import web
from pipeline.studio.edits import FIELD_NAMES, entry_change, fields_change
from pipeline.studio.live import Live
from pipeline.studio.views import DIMENSIONS, candidates, day, lineup, number, when
from pipeline.studio.workspace import GMAIL_CLIP_BYTES, Note, Snapshot, Workspace

HERE = Path(__file__).resolve().parent
# An email or web page preview: its own inline styles and remote images, no script, no forms,
# inside a sandbox (links open in a new tab).
PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; font-src https: data:;"
    " frame-ancestors 'self'; form-action 'none'; base-uri 'none';"
    " sandbox allow-popups allow-popups-to-escape-sandbox"
)
FILTERS = ("theme", "partner", "kind", "province", "q")
ENGLISH_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ENGLISH_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


# -- the app ----------------------------------------------------------------------------------------
class Studio:
    """The routes, bound to one Workspace; ``asgi`` is what uvicorn serves."""

    def __init__(self, ws: Workspace, *, password: str | None = None) -> None:
        self.ws = ws
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        i18n.install(self.templates)
        self.templates.filters["when"] = self._when
        self.templates.filters["day"] = day
        self.templates.filters["number"] = number
        self.templates.filters["kb"] = lambda n: number(n / 1024, 1)
        self.live = Live(ws)
        self.app, self.asgi = web.create_app(
            self.routes(),
            password=password,
            lifespan=self.live.lifespan,
            error_css="/static/studio.css",
            title=_("Newsletter studio: sign in"),
        )

    def _when(self, value: dt.datetime | None, fmt: str | None = None) -> str:
        """``when`` in the instance's zone; ``fmt``: a clock time (``%H:%M:%S``), alike in every language."""
        if value is None:
            return ""
        tz = self.ws.config.settings.timezone
        return value.astimezone(tz).strftime(fmt) if fmt else when(value, tz)

    def _moment(self, value: dt.datetime | None) -> str | None:
        """A send time in full (``donderdag 10 december 2026, 9.00 uur``), beside the date field."""
        return i18n.datetime(value.astimezone(self.ws.config.settings.timezone)) if value else None

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.index),
            Route("/favicon.ico", self.favicon),
            Route("/events", self.index_events),
            Route("/draft", self.draft, methods=["POST"]),
            Route("/issue/{issue_id}", self.page),
            Route("/issue/{issue_id}/events", self.events),
            Route("/issue/{issue_id}/preview/{part}", self.preview),
            Route("/issue/{issue_id}/source", self.source),
            Route("/issue/{issue_id}/edit", self.edit, methods=["POST"]),
            Route("/issue/{issue_id}/approve", self.approve, methods=["POST"]),
            Route("/issue/{issue_id}/test", self.test_send, methods=["POST"]),
            Route("/issue/{issue_id}/markdown", self.markdown, methods=["POST"]),
            Mount("/static", web.static_files(str(HERE / "static")), name="static"),
        ]

    async def events(self, request: Request) -> Response:
        issue_id = request.path_params["issue_id"]
        self.ws.path(issue_id)
        return await self.live.stream(request, lambda: self.ws.snapshot(issue_id).version)

    async def index_events(self, request: Request) -> Response:
        return await self.live.stream(request, lambda: repr([(i.id, i.state) for i in self.ws.issues()]))

    # -- pages -----------------------------------------------------------------------------------------
    def _render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        note = self.ws.notes.pop(request.query_params.get("note", ""), None)
        html = self.templates.get_template(name).render(
            csrf=request.state.csrf_token,
            lang=i18n.language(),
            note=note,
            labels=STATE_LABELS,
            config=self.ws.config,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def favicon(self, request: Request) -> Response:
        """The icon browsers ask for on their own (the pages link the same SVG under /static)."""
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    def index(self, request: Request) -> Response:
        return self._render(
            request,
            "index.html",
            issues=self.ws.issues(),
            partner_files=self.ws.partner_files(),
            title=_("Issues"),
            suggestion=self.ws.clock().astimezone(self.ws.config.settings.timezone).strftime("%Y-%m"),
        )

    def page(self, request: Request) -> Response:
        issue_id = request.path_params["issue_id"]
        try:
            snap = self.ws.snapshot(issue_id)
        except NotFound as e:
            return self._render(
                request,
                "missing.html",
                404,
                title=_("No such issue"),
                message=e.message,
                issue_id=None,
                hint=e.hint,
            )
        if not snap.exists:
            return self._render(
                request,
                "missing.html",
                404,
                title=_("Issue {issue}").format(issue=issue_id),
                issue_id=issue_id,
                message=_("no issue '{issue}': {path} does not exist").format(
                    issue=issue_id, path=snap.shown
                ),
                hint=None,
            )
        filters = {k: request.query_params.get(k, "")[:200] for k in FILTERS}
        shown = snap if snap.issue is not None else snap.last_good
        entries = lineup(self.ws, shown) if shown is not None and shown.issue is not None else []
        shown_candidates, matching = candidates(self.ws, shown or snap, filters)
        c = self.ws.config
        return self._render(
            request,
            "issue.html",
            title=_("Issue {issue}").format(issue=issue_id),
            snap=snap,
            shown=shown,
            lineup=entries,
            candidates=shown_candidates,
            matching=matching,
            filters=filters,
            query=_query(filters),
            gmail=GMAIL_CLIP_BYTES,
            sections=[(s.id, s.title) for s in c.taxonomy.sections.values()],
            send_at_value=self._when(shown.issue.send_at, "%Y-%m-%dT%H:%M") if shown and shown.issue else "",
            send_at_shown=self._moment(shown.issue.send_at) if shown and shown.issue else None,
            weekdays=dutch.WEEKDAYS if i18n.language() == "nl" else ENGLISH_WEEKDAYS,
            months=dutch.MONTHS if i18n.language() == "nl" else ENGLISH_MONTHS,
            intro_html=markdown_to_html(shown.issue.intro or "") if shown and shown.issue else "",
            tz=c.settings.timezone.key,
            partners=sorted(c.partners.values(), key=lambda p: p.name),
            dimensions=DIMENSIONS,
            view_as=self._view_as(request, shown),
        )

    def _view_as(self, request: Request, shown: Snapshot | None) -> dict[str, Any] | None:
        """ "Bekijk als": the choice asked for in the query (``?province=overijssel&theme=onderwijs``;
        unknown ids are left out), for an issue with personalised sections; None for another."""
        if shown is None or shown.issue is None or not personalised(shown.issue):
            return None
        tax = self.ws.config.taxonomy
        choice = Choice(
            frozenset(p for p in request.query_params.getlist("province")[:20] if p in tax.provinces),
            frozenset(t for t in request.query_params.getlist("theme")[:20] if t in tax.themes),
        )
        found = self.ws.edition_preview(shown, choice) if choice.key else None
        key = found[0] if found else ""
        return {
            "choice": choice,
            "label": choice.label(tax),
            "key": key,
            "changes": bool(key),
            "asked": bool(choice.key),
            "provinces": [(t.id, t.title) for t in tax.provinces.values()],
            "themes": [(t.id, t.title) for t in tax.themes.values()],
            "query": urlencode({"als": key}) if key else "",
            "text": found[1].text if found and key else None,
        }

    def preview(self, request: Request) -> Response:
        issue_id, part = request.path_params["issue_id"], request.path_params["part"]
        snap = self.ws.snapshot(issue_id)
        shown = snap if snap.preview is not None else snap.last_good
        if part not in ("email", "web", "text") or shown is None or shown.preview is None:
            return web.error_response(request, 404, _("there is no preview of this issue now"))
        preview = shown.preview
        asked = request.query_params.get("als", "")[:500]
        if asked and part != "web":  # an edition's email ("bekijk als"); the web page is the whole issue
            choice = from_key(asked)
            tax = self.ws.config.taxonomy
            known = choice.provinces <= tax.provinces.keys() and choice.themes <= tax.themes.keys()
            found = self.ws.edition_preview(shown, choice) if known and choice.key == asked else None
            if found is None or found[0] != asked:  # an edition of this issue, named as the program names it
                return web.error_response(request, 404, _("there is no such edition of this issue"))
            preview = found[1]
        headers = {"content-security-policy": PREVIEW_CSP}
        if part == "text":
            return PlainTextResponse(preview.text, headers=headers)
        html = preview.html if part == "email" else preview.web_html
        # Links open in a new tab: inside the frame they would leave the studio.
        html = re.sub(r"(<head[^>]*>)", r'\1<base target="_blank">', html, count=1, flags=re.I)
        return HTMLResponse(html, headers=headers)

    def source(self, request: Request) -> Response:
        issue_id = request.path_params["issue_id"]
        snap = self.ws.snapshot(issue_id)
        if snap.text is None:
            return web.error_response(
                request, 404, _("{path} cannot be shown").format(path=snap.shown), _("open it in your editor")
            )
        lines = snap.text.splitlines()
        marked = {p.line: p for p in snap.problems if p.line}
        return self._render(request, "source.html", title=snap.shown, snap=snap, lines=lines, marked=marked)

    # -- actions ---------------------------------------------------------------------------------------
    def _done(
        self, request: Request, note: Note, where: str, anchor: str = "", status: int = 200
    ) -> Response:
        if web.wants_json(request.headers):
            data = {"ok": note.ok, "message": note.message, "fix": note.hint, "problems": list(note.problems)}
            return JSONResponse(data, status_code=status if note.ok else max(status, 400))
        query = {"note": self.ws.add_note(note)}
        back = web.parse_form(request.query_params.get("back", ""))
        query.update({k: v[:200] for k, v in back.items() if k in FILTERS and v})
        target = f"{where}?{urlencode(query)}"
        return RedirectResponse(target + (f"#{anchor}" if anchor else ""), status_code=303)

    @staticmethod
    def _failure(e: PipelineError) -> Note:
        if isinstance(e, InputInvalid):
            problems = tuple(str(p) for p in e.problems)
            errors = sum(p.is_error for p in e.problems)
            message = ngettext(
                "{n} problem; nothing was changed.", "{n} problems; nothing was changed.", errors
            ).format(n=errors)
            return Note(False, message, None, problems)
        return Note(False, e.message, e.hint)

    async def draft(self, request: Request) -> Response:
        form = await web.form(request)
        issue_id = form.get("issue", "").strip()
        try:
            result = self.ws.draft(issue_id)
        except PipelineError as e:
            return self._done(request, self._failure(e), "/", status=400)
        shown = self.ws.shown(issue_id)
        lines = result.unplaced_lines(self.ws.config)
        drafted = ngettext(
            "Drafted {path} from {n} candidate.", "Drafted {path} from {n} candidates.", result.candidates
        ).format(path=shown, n=result.candidates)
        note = Note(True, drafted, None, tuple(lines))
        return self._done(request, note, f"/issue/{issue_id}")

    async def _issue_form(self, request: Request) -> tuple[str, dict[str, str], str]:
        """The issue a form is posted to, the form's fields, and the issue's page to go back to."""
        issue_id = request.path_params["issue_id"]
        return issue_id, await web.form(request), f"/issue/{issue_id}"

    async def edit(self, request: Request) -> Response:
        issue_id, form, where = await self._issue_form(request)
        try:
            shown = self.ws.shown(issue_id)
            if form.get("op") == "fields":
                make, changed = fields_change(self.ws, form, shown)
                anchor = "fields"
            else:
                make, message, anchor = entry_change(self.ws, form, shown)
            written = self.ws.change(issue_id, form.get("version", ""), make)
        except PipelineError as e:
            return self._done(request, self._failure(e), where, form.get("anchor", ""), status=409)
        if form.get("op") == "fields":
            names = ", ".join(_(FIELD_NAMES[k]) for k in changed)
            message = (
                _("Saved: {names}.").format(names=names)
                if changed
                else _("Nothing to save: the fields are as in the file.")
            )
        return self._done(request, Note(True, message, version=written), where, anchor)

    async def approve(self, request: Request) -> Response:
        issue_id, form, where = await self._issue_form(request)
        try:
            shown = self.ws.shown(issue_id)
            approval = self.ws.approve(
                issue_id, form.get("version", ""), form.get("fingerprint", ""), form.get("by", "")
            )
        except InputInvalid as e:
            errors = sum(p.is_error for p in e.problems)
            note = Note(
                False,
                # The same words as 'newsletter approve' (pipeline/cli/curate.py).
                ngettext(
                    "not approved: {n} error in {path}.", "not approved: {n} errors in {path}.", errors
                ).format(n=errors, path=shown),
                _("correct them (newsletter check {issue}), then approve again.").format(issue=issue_id),
                tuple(str(p) for p in e.problems),
            )
            return self._done(request, note, where, "actions", status=409)
        except PipelineError as e:
            return self._done(request, self._failure(e), where, "actions", status=409)
        message = _("Approved {path} by {name} at {when} ({fingerprint}).").format(
            path=shown,
            name=approval.by,
            when=self._when(approval.at),
            fingerprint=approval.fingerprint[:19],
        )
        return self._done(request, Note(True, message), where, "actions")

    async def test_send(self, request: Request) -> Response:
        issue_id, form, where = await self._issue_form(request)
        try:
            test = self.ws.test_send(issue_id, form.get("to", "").strip())
        except PipelineError as e:
            return self._done(request, self._failure(e), where, "actions", status=400)
        if not test.accepted:
            return self._done(
                request,
                Note(False, _("the test send was not accepted: {reason}").format(reason=test.reason)),
                where,
                "actions",
                status=502,
            )
        message = ngettext(
            "Test copy of {issue} (subject marked [TEST]) to {n} address via {destination}.",
            "Test copy of {issue} (subject marked [TEST]) to {n} addresses via {destination}.",
            test.recipients,
        ).format(issue=test.issue_id, n=test.recipients, destination=test.destination)
        return self._done(request, Note(True, message), where, "actions")

    async def markdown(self, request: Request) -> Response:
        form = await web.form(request)
        return HTMLResponse(markdown_to_html(form.get("value", "")[: edit.FIELDS["intro"]]))


def _query(filters: dict[str, str]) -> str:
    return urlencode({k: v for k, v in filters.items() if v})
