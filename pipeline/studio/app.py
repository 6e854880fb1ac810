"""The studio's pages and actions, on the shared web layer (``pipeline.infra.web``).

GET pages only read (a ``Workspace`` snapshot); every POST is one action through the curate
stage, deliver's test send or curate's approval, then a redirect back to the page with a note
of what happened (or, for a script that asks for JSON, the note as JSON). A watcher
(watchfiles, on ``issues/`` and ``templates/``) rebuilds the snapshot of a file that changed and
tells the open pages through server-sent events; their script fetches the page again and swaps
the parts that changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
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
    StreamingResponse,
)
from starlette.routing import BaseRoute, Mount, Route

from pipeline.curate import edit, ranking
from pipeline.curate import entry_lines as draft_entry_lines
from pipeline.domain import dutch, i18n
from pipeline.domain.editions import Choice, from_key, personalised
from pipeline.domain.errors import InputInvalid, NotFound, PipelineError
from pipeline.domain.i18n import N_, _, ngettext
from pipeline.domain.issues import ISSUE_ID_RE, Entry
from pipeline.domain.markup import markdown_to_html
from pipeline.domain.models import STATE_LABELS, Item
from pipeline.infra import web
from pipeline.studio.workspace import GMAIL_CLIP_BYTES, Note, Snapshot, Workspace

HERE = Path(__file__).resolve().parent
CANDIDATES_SHOWN = 40
# An email or web page preview: its own inline styles and remote images, no script, no forms,
# inside a sandbox (links open in a new tab).
PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; font-src https: data:;"
    " frame-ancestors 'self'; form-action 'none'; base-uri 'none';"
    " sandbox allow-popups allow-popups-to-escape-sandbox"
)
FILTERS = ("theme", "partner", "kind", "province", "q")
# The header form's fields as a note names them (translated where used).
FIELD_NAMES = {
    "subject": N_("subject"),
    "preheader": N_("preheader"),
    "intro": N_("intro"),
    "send_at": N_("send time"),
}
# The balance's tables: (caption, the first column's header), by dimension id (translated where used).
DIMENSIONS = {
    "sectors": (N_("Sectors"), N_("Sector")),
    "provinces": (N_("Provinces"), N_("Province")),
    "themes": (N_("Themes"), N_("Theme")),
    "kinds": (N_("Kinds"), N_("Kind")),
    "horizons": (N_("Horizons"), N_("Horizon")),
}
ENGLISH_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ENGLISH_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def number(value: float, digits: int | None = None) -> str:
    """A number as the reader's language writes it: ``1.234`` and ``12,5`` in Dutch, ``1,234`` and
    ``12.5`` in English (``digits``: that many decimals; else as many as it has)."""
    text = f"{value:,.{digits}f}" if digits is not None else f"{value:,g}" if value % 1 else f"{int(value):,}"
    if i18n.language() == "nl":
        return text.translate(str.maketrans(",.", ".,"))
    return text


def when(value: dt.datetime, tz: Any) -> str:
    """A moment in the studio's tables and notes: ``10 december 2026, 9.00 uur`` in Dutch,
    ``2026-12-10 09:00`` otherwise (``value`` shown in ``tz``)."""
    local = value.astimezone(tz)
    if i18n.language() == "nl":
        return f"{dutch.date(local, weekday=False)}, {dutch.time(local)}"
    return f"{local:%Y-%m-%d %H:%M}"


def day(value: dt.date) -> str:
    """A date: ``10 december 2026`` in Dutch, ``2026-12-10`` otherwise."""
    return dutch.date(value, weekday=False) if i18n.language() == "nl" else value.isoformat()


# -- how an entry and a candidate are shown ----------------------------------------------------------
@dataclass(frozen=True)
class EntryView:
    list: str
    index: int
    label: str  # what the form sends as 'expect'
    title: str
    summary: str
    own_title: str
    own_summary: str
    meta: str
    url: str | None
    item: str | None
    line: int
    missing: bool  # refers to an item the state database does not have


@dataclass(frozen=True)
class CandidateView:
    id: str
    title: str
    meta: str
    summary: str
    url: str
    where: str | None  # where it is in the issue already
    sections: tuple[tuple[str, str], ...]  # (id, title) of the sections that take it, best first


def _meta(ws: Workspace, item: Item | None, partner: str | None = None) -> str:
    c = ws.config
    if item is None:
        p = c.partners.get(partner or "")
        return p.name if p else _("announcement")
    p = c.partners.get(item.partner or "")
    src = c.sources.get(item.source)
    parts = [p.name if p else src.name if src else item.source]
    parts.append(day(item.published.astimezone(c.settings.timezone).date()))
    kind = c.taxonomy.kinds.title(item.kind)
    if kind:
        parts.append(kind)
    if item.starts is not None:
        parts.append(dutch.span(item.starts, item.ends, c.settings.timezone))
    if item.ervaringsdeskundigen:
        parts.append(_("with people with lived experience"))
    return " · ".join(parts)


def _entry_view(ws: Workspace, which: str, index: int, e: Entry, items: dict[str, Item]) -> EntryView:
    item = items.get(e.item) if e.item else None
    return EntryView(
        which,
        index,
        e.item or e.title or e.url or "?",
        e.title or (item.title if item else "") or e.item or "?",
        e.summary or (item.summary_text if item else "") or "",
        e.title or "",
        e.summary or "",
        _meta(ws, item, e.partner),
        e.url or (item.url if item else None),
        e.item,
        e.line,
        bool(e.item) and item is None,
    )


def _lineup(ws: Workspace, snap: Snapshot) -> list[dict[str, Any]]:
    assert snap.issue is not None
    items = dict(snap.items)
    missing = [
        e.item
        for s in snap.issue.sections
        for e in (*s.items, *s.runners_up)
        if e.item and e.item not in items
    ]
    if missing:
        with ws._lock:
            items.update(ws.store.get_items(missing))
    out = []
    for s in snap.issue.sections:
        term = ws.config.taxonomy.sections.get(s.id)
        out.append(
            {
                "id": s.id,
                "title": term.title if term else s.id,
                "limit": term.limit if term else None,
                "picked": [_entry_view(ws, "items", i, e, items) for i, e in enumerate(s.items)],
                "runners_up": [
                    _entry_view(ws, "runners_up", i, e, items) for i, e in enumerate(s.runners_up)
                ],
            }
        )
    return out


def _in_issue(snap: Snapshot) -> dict[str, str]:
    where: dict[str, str] = {}
    if snap.issue is not None:
        for s in snap.issue.sections:
            for place, entries in (
                (N_("{section} (items)"), s.items),
                (N_("{section} (runners-up)"), s.runners_up),
            ):
                for e in entries:
                    if e.item:
                        where.setdefault(e.item, _(place).format(section=s.id))
    return where


def _candidates(ws: Workspace, snap: Snapshot, f: dict[str, str]) -> tuple[list[CandidateView], int]:
    where = _in_issue(snap)
    sections = list(ws.config.taxonomy.sections.values())
    present = {s.id for s in snap.issue.sections} if snap.issue else set()
    q = f.get("q", "").strip().lower()
    found = []
    for c in snap.candidates:
        i = c.item
        if f.get("theme") and f["theme"] not in i.themes:
            continue
        if f.get("partner") and c.who != f["partner"]:
            continue
        if f.get("kind") and i.kind != f["kind"]:
            continue
        if f.get("province") and f["province"] not in c.provinces:
            continue
        if q and q not in f"{i.title} {i.summary_text} {i.id}".lower():
            continue
        found.append(c)
    views = []
    for c in found[:CANDIDATES_SHOWN]:
        home = ranking.home(ws.config, c)
        fitting = [s for s in sections if s.takes(c.item.kind) and s.id in present] or [
            s for s in sections if s.id in present
        ]
        fitting.sort(key=lambda s: s.id != home)
        views.append(
            CandidateView(
                c.item.id,
                c.item.title,
                _("{meta} · {points} points").format(meta=_meta(ws, c.item), points=number(c.points)),
                c.item.summary_text[:240],
                c.item.url,
                where.get(c.item.id),
                tuple((s.id, s.title) for s in fitting),
            )
        )
    return views, len(found)


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
        self.generation = 0
        self.changed: asyncio.Condition | None = None
        self.stop: asyncio.Event | None = None
        self.app, self.asgi = web.create_app(
            self.routes(),
            password=password,
            lifespan=self.lifespan,
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

    # -- live refresh ----------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        self.changed = asyncio.Condition()
        self.stop = asyncio.Event()
        tasks = [asyncio.create_task(self._watch()), asyncio.create_task(self._tick())]
        try:
            yield
        finally:
            self.stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.ws.close()

    async def _changed(self, issue_ids: set[str] | None) -> None:
        """Rebuild the snapshots that changed (off the event loop), then wake the open pages."""
        import anyio

        cached = list(self.ws._cache) if issue_ids is None else [i for i in issue_ids if ISSUE_ID_RE.match(i)]
        for issue_id in cached:
            with contextlib.suppress(PipelineError):
                await anyio.to_thread.run_sync(self.ws.snapshot, issue_id)
        assert self.changed is not None
        async with self.changed:
            self.generation += 1
            self.changed.notify_all()

    async def _watch(self) -> None:
        from watchfiles import awatch

        assert self.stop is not None
        issues, templates = self.ws.root / "issues", self.ws.root / "templates"
        while not self.stop.is_set():
            paths = [p for p in (issues, templates) if p.is_dir()]
            if not paths:
                await asyncio.sleep(0.5)
                continue
            async for changes in awatch(
                *paths, stop_event=self.stop, debounce=200, step=10, rust_timeout=500, yield_on_timeout=True
            ):
                if not changes:
                    if any(not p.is_dir() for p in paths) or (templates.is_dir() and templates not in paths):
                        break  # a watched folder went or came: watch again
                    continue
                ids: set[str] | None = set()
                for _kind, name in changes:
                    p = Path(name)
                    if p.parent == issues and p.suffix == ".yaml":
                        assert ids is not None
                        ids.add(p.stem)
                    elif templates in p.parents:
                        ids = None
                        break
                if ids is None or ids:
                    await self._changed(ids)

    async def _tick(self) -> None:
        """Once a second: a collect (the state database) or sources.yaml changed what pages show."""
        import anyio

        assert self.stop is not None
        last = None
        while not self.stop.is_set():
            try:
                key = await anyio.to_thread.run_sync(
                    lambda: (self.ws.data_version(), self.ws._settings_key())
                )
            except PipelineError:
                key = None
            if last is not None and key != last:
                await self._changed(None)
            last = key
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 1.0)

    async def _stream(self, request: Request, current: Callable[[], Any]) -> Response:
        import anyio

        async def events() -> AsyncIterator[str]:
            yield "retry: 1000\n\n"
            sent = None
            while True:
                value = await anyio.to_thread.run_sync(current)
                if value != sent:
                    yield f"event: version\ndata: {value}\n\n"
                    sent = value
                assert self.changed is not None
                async with self.changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.changed.wait(), 15)
                if await request.is_disconnected():
                    return
                yield ": still here\n\n"

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def events(self, request: Request) -> Response:
        issue_id = request.path_params["issue_id"]
        self.ws.path(issue_id)
        return await self._stream(request, lambda: self.ws.snapshot(issue_id).version)

    async def index_events(self, request: Request) -> Response:
        return await self._stream(request, lambda: repr([(i.id, i.state) for i in self.ws.issues()]))

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
        lineup = _lineup(self.ws, shown) if shown is not None and shown.issue is not None else []
        candidates, matching = _candidates(self.ws, shown or snap, filters)
        c = self.ws.config
        return self._render(
            request,
            "issue.html",
            title=_("Issue {issue}").format(issue=issue_id),
            snap=snap,
            shown=shown,
            lineup=lineup,
            candidates=candidates,
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
                make, changed = self._fields(form, shown)
                anchor = "fields"
            else:
                make, message, anchor = self._edit(form, shown)
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

    def _fields(self, f: dict[str, str], shown: str) -> tuple[Callable[[str], str], list[str]]:
        """The header form's change (only the fields that differ from the file), and the list that
        holds the keys it changed once it is made."""
        values = {k: f[k] for k in edit.FIELDS if k in f}
        tz = self.ws.config.settings.timezone
        changed: list[str] = []

        def make(t: str) -> str:
            new, keys = edit.set_fields(t, shown, values, tz=tz)
            changed[:] = keys
            return new

        return make, changed

    def _edit(self, f: dict[str, str], shown: str) -> tuple[Callable[[str], str], str, str]:
        """The change a form asks for, what to say when it is done, and where on the page to go back to."""
        op = f.get("op", "")
        tz = self.ws.config.settings.timezone
        if op == "field":
            key = f.get("field", "")
            return (
                (lambda t: edit.set_field(t, shown, key, f.get("value"), tz=tz)),
                _("Saved: {names}.").format(names=_(FIELD_NAMES.get(key, key))),
                "fields",
            )
        section = f.get("section", "")
        which = f.get("list", "items")
        expect = f.get("expect") or None
        if op == "add":
            item_id = f.get("item", "")
            found = next((c for c in self.ws.candidates(self.ws.clock()) if c.item.id == item_id), None)
            if found is None:
                raise edit.EditRefused(
                    _("item '{item}' is not a candidate now").format(item=item_id), _("reload the page")
                )
            lines = draft_entry_lines(self.ws.config, found)
            return (
                (lambda t: edit.add_entry(t, shown, section, lines, list=which)),
                _("Added '{title}' to {section}.").format(title=found.item.title, section=section),
                f"section-{section}",
            )
        index = _int(f.get("index"))
        place = edit.Place(section, which, index)
        if op == "remove":
            return (
                (lambda t: edit.remove_entry(t, shown, place, expect=expect)),
                _("Removed the entry."),
                f"section-{section}",
            )
        if op in ("up", "down"):
            to = index - 1 if op == "up" else index + 1
            return (
                (lambda t: edit.move_entry(t, shown, place, section, which, max(to, 0), expect=expect)),
                _("Moved the entry."),
                f"section-{section}",
            )
        if op == "move":
            target, _sep, to_list = f.get("to", "").partition(":")
            to_list = to_list or "items"
            if (target, to_list) == (section, which):  # the menu starts at the entry's own place
                return (lambda t: t), _("Nothing moved: the entry is there already."), f"section-{section}"
            return (
                (lambda t: edit.move_entry(t, shown, place, target, to_list, None, expect=expect)),
                (
                    _("Moved the entry to {section} (items).")
                    if to_list == "items"
                    else _("Moved the entry to {section} (runners-up).")
                ).format(section=target),
                f"section-{target}",
            )
        if op == "promote":
            return (
                (lambda t: edit.move_entry(t, shown, place, section, "items", None, expect=expect)),
                _("Promoted the runner-up into the items."),
                f"section-{section}",
            )
        if op == "demote":
            return (
                (lambda t: edit.move_entry(t, shown, place, section, "runners_up", 0, expect=expect)),
                _("Moved the entry to the runners-up."),
                f"section-{section}",
            )
        if op == "text":

            def make(t: str) -> str:
                t = edit.set_entry_text(t, shown, place, "title", f.get("title"), expect=expect)
                return edit.set_entry_text(t, shown, place, "summary", f.get("summary"), expect=expect)

            return make, _("Saved the entry's own text."), f"section-{section}"
        raise edit.EditRefused(_("unknown action '{op}'").format(op=op), _("use the page's buttons"))

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


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise edit.EditRefused(_("the form sent no entry number"), _("use the page's buttons")) from None


def _query(filters: dict[str, str]) -> str:
    return urlencode({k: v for k, v in filters.items() if v})
