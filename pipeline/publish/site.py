"""The whole archive: every page built in memory (``build_site``), then written where it changed
(``write_site``). See the package's docstring for the order and docs/publish.md for the folder."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pipeline.domain.archive import AGENDA, CALENDAR, PARTNERS, PROVINCES, SEARCH, THEMES, signup_url
from pipeline.domain.config import Config
from pipeline.domain.errors import WriteFailed
from pipeline.domain.i18n import _
from pipeline.domain.models import Item
from pipeline.infra.files import WRITE_FIX, atomic_write
from pipeline.infra.store import SentIssue, SentPlacement, Store
from pipeline.infra.templating import environment, render_template
from pipeline.portal.images import archive_files as portal_images
from pipeline.publish import agenda as calendar
from pipeline.publish import search
from pipeline.publish.archive import (
    FEED,
    INDEX,
    MANIFEST,
    SEARCH_BUNDLE,
    SITEMAP,
    ArchivedIssue,
    archived_issues,
    atom_feed,
    public_addresses,
    public_page,
    sitemap,
    summarise,
)
from pipeline.publish.knowledge import Listing, Story, kennisbank, stories

DESCRIPTION_CHARS = 200


@dataclass(frozen=True)
class Site:
    """The whole archive in memory: path relative to the site -> bytes, and what was removed."""

    files: Mapping[str, bytes]
    issues: tuple[ArchivedIssue, ...]  # newest first
    themes: tuple[Listing, ...]
    provinces: tuple[Listing, ...]
    partners: tuple[Listing, ...]
    events: calendar.Agenda
    redactions: tuple[str, ...]  # "2026-12: removed 1 per-recipient link from the web page" (a warning)
    records: Mapping[str, str] = field(default_factory=dict)  # the search's records (search.records)
    digest: str = ""  # of everything the site is made of (inputs_digest)
    skipped: bool = False  # the same as the last publish in the folder: nothing rendered


@dataclass(frozen=True)
class Written:
    changed: tuple[Path, ...]  # new or different files, written atomically
    unchanged: int
    removed: tuple[Path, ...]
    indexed: bool = False  # the search index was built anew


@dataclass(frozen=True)
class Meta:
    """What a page says about itself to search engines and link previews."""

    title: str
    description: str
    path: str  # relative to the site's root
    image: str | None = None


def head_tags(config: Config, meta: Meta) -> str:
    """The description, canonical link, feed link, Open Graph and Twitter card tags of a page."""
    s = config.settings
    e = html.escape
    url = s.archive_url + meta.path.removesuffix(INDEX)
    description = meta.description[:DESCRIPTION_CHARS] or s.title
    tags = [
        f'<meta name="description" content="{e(description)}">',
        f'<link rel="canonical" href="{e(url)}">',
        f'<link rel="alternate" type="application/atom+xml" title="{e(s.title)}"'
        f' href="{e(s.archive_url + FEED)}">',
        '<meta property="og:type" content="website">',
        '<meta property="og:locale" content="nl_NL">',
        f'<meta property="og:site_name" content="{e(s.title)}">',
        f'<meta property="og:title" content="{e(meta.title)}">',
        f'<meta property="og:description" content="{e(description)}">',
        f'<meta property="og:url" content="{e(url)}">',
    ]
    if meta.image:
        tags.append(f'<meta property="og:image" content="{e(meta.image)}">')
        tags.append('<meta name="twitter:card" content="summary_large_image">')
        tags.append(f'<meta name="twitter:image" content="{e(meta.image)}">')
    else:
        tags.append('<meta name="twitter:card" content="summary">')
    tags.append(f'<meta name="twitter:title" content="{e(meta.title)}">')
    tags.append(f'<meta name="twitter:description" content="{e(description)}">')
    return "\n".join(tags) + "\n"


def _issue_page(config: Config, page: str, issue: ArchivedIssue, image: str | None) -> str:
    """The sent web page with the archive's head tags and a way on: the archive, search, sign-up."""
    meta = Meta(issue.subject, issue.preheader or issue.subject, issue.path, image)
    tags = head_tags(config, meta)
    if 'name="description"' in page:
        tags = tags.split("\n", 1)[1]  # render's own description (the preheader) stays
    head = page.lower().find("</head>")
    if head >= 0:
        page = page[:head] + tags + page[head:]
    s = config.settings
    signup = html.escape(signup_url(s.signup.public_url, s.archive_url))
    nav = (
        '<nav aria-label="Archief"'
        ' style="max-width:40rem;margin:0 auto;padding:1rem 1.5rem;font-size:.875rem">'
        '<a href="../index.html">Alle nieuwsbrieven</a> · <a href="../zoeken/index.html">Zoeken</a> · '
        f'<a href="../agenda/index.html">Agenda</a> · <a href="{signup}">Aanmelden voor de nieuwsbrief</a>'
        "</nav>\n"
    )
    body = page.lower().rfind("</body>")
    return page[:body] + nav + page[body:] if body >= 0 else page + nav


def _issue_pages(
    config: Config, issues: list[ArchivedIssue], rows: Mapping[str, str], by_issue: Mapping[str, list[Item]]
) -> tuple[dict[str, bytes], list[str]]:
    files, redactions = {}, []
    for issue in issues:
        items = by_issue.get(issue.id, [])
        web, removed = public_page(rows[issue.id], public_addresses(config, items))
        if removed:
            redactions.append(
                _("{issue}: removed {parts} from the web page").format(
                    issue=issue.id, parts=summarise(removed)
                )
            )
        image = next((i.image.url for i in items if i.image is not None and i.image.shown), None)
        files[issue.path] = _issue_page(config, web, issue, image).encode("utf-8")
    return files, redactions


def build_site(
    config: Config, store: Store, *, now: dt.datetime | None = None, out: Path | None = None
) -> Site:
    """Every file of the archive, in memory; reads the state database, writes nothing.

    With ``out``, the folder of an earlier publish: when everything the site is made of (the sent
    issues and items, the settings, the templates, this code, which events are still to come) is
    the same as then and its files are all there, nothing is rendered and ``Site.files`` is empty
    (``Site.skipped``); ``write_site`` then leaves the folder as it is."""
    now = now or dt.datetime.now(dt.UTC)
    rows = store.sent_issues()
    issues = archived_issues(config, rows, now)
    published = {i.id for i in issues}
    placements = [r for r in store.sent_items() if r.issue in published]
    items = store.get_items({r.item for r in placements})
    shared = stories(config, issues, placements, items)
    kb = kennisbank(config, shared)
    events = calendar.agenda(shared, now)
    digest = inputs_digest(config, [r for r in rows if r.id in published], placements, items, events)
    if out is not None and _published_digest(out) == digest:
        return Site({}, tuple(issues), kb.themes, kb.provinces, kb.partners, events, (), {}, digest, True)
    by_issue: dict[str, list[Item]] = {}
    for r in placements:
        if r.item in items:
            by_issue.setdefault(r.issue, []).append(items[r.item])
    files, redactions = _issue_pages(config, issues, {r.id: r.web_html for r in rows}, by_issue)
    newest = issues[0].sent_at if issues else now
    pages = _Pages(config, kb.themes, kb.provinces, kb.partners, shared, events)
    lastmod = pages.render(files, issues, newest)
    files.update(calendar.calendars(config, events))
    files.update(portal_images(config, [i for group in by_issue.values() for i in group]))
    files[FEED] = atom_feed(config, issues, now)
    files[SITEMAP] = sitemap(config, lastmod)
    return Site(files, tuple(issues), kb.themes, kb.provinces, kb.partners, events, tuple(redactions),
                search.records(shared), digest)  # fmt: skip


_CODE = Path(__file__).resolve().parent
_TEMPLATES = _CODE.parent / "templates"


def inputs_digest(
    config: Config,
    rows: Sequence[SentIssue],
    placements: Sequence[SentPlacement],
    items: Mapping[str, Item],
    events: calendar.Agenda,
) -> str:
    """A digest of everything the site is made of: publish's own code and templates (the package's
    and the instance's), the settings, the sent issues, their items and which events are to come."""
    h = hashlib.sha256()
    sources = [*sorted(_CODE.glob("*.py")), _TEMPLATES / "theme.j2", *sorted((_TEMPLATES / "site").glob("*"))]
    own = config.root / "templates"
    if own.is_dir():
        sources += sorted(p for p in own.rglob("*") if p.is_file())
    for path in sources:
        h.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(repr((config.settings, config.taxonomy, config.partners, config.sources)).encode())
    for row in rows:
        h.update(repr((row.id, row.sent_at, row.subject, row.preheader)).encode())
        h.update(hashlib.sha256(row.web_html.encode()).digest())
    h.update(repr([(p.issue, p.item, p.section, p.position) for p in placements]).encode())
    for item_id in sorted(items):
        h.update(repr(items[item_id]).encode())
    h.update(repr([s.id for s in events.upcoming]).encode())
    return h.hexdigest()


def _published_digest(out: Path) -> str | None:
    """The inputs' digest of the publish that made ``out``, if every file it wrote is still there."""
    try:
        lines = (out / MANIFEST).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    if not lines or not lines[0].startswith(_DIGEST_LINE):
        return None
    if not all((out / rel).is_file() for rel in lines[1:]):
        return None
    return lines[0].removeprefix(_DIGEST_LINE)


_DIGEST_LINE = "# inputs sha256 "


class _Pages:
    """The archive's own pages, rendered with templates/site/ (the instance's first)."""

    def __init__(
        self, config: Config, themes: tuple[Listing, ...], provinces: tuple[Listing, ...],
        partners: tuple[Listing, ...], shared: tuple[Story, ...], events: calendar.Agenda,
    ) -> None:  # fmt: skip
        self.config, self.themes, self.provinces, self.partners = config, themes, provinces, partners
        self.shared, self.events = shared, events
        self.env = environment(config.root / "templates")
        s = config.settings
        self.signup = signup_url(s.signup.public_url, s.archive_url)
        self._stories: dict[tuple[str, str, int, str | None], str] = {}
        self._macro: Any = None

    def story(self, s: Story, up: str, level: int = 2, own: str | None = None) -> Markup:
        """A story as site/macros.html lays it out, rendered once however many pages show it
        (a theme's and a province's page show the same ones)."""
        key = (s.id, up, level, own)
        if key not in self._stories:
            if self._macro is None:
                self._macro = self.env.get_template("site/macros.html").module.story  # type: ignore[attr-defined]
            self._stories[key] = str(self._macro(s, up, level, own))
        return Markup(self._stories[key])

    def page(self, template: str, meta: Meta, **context: object) -> bytes:
        up = "../" * meta.path.count("/")
        text = render_template(
            self.env, f"site/{template}", self.config.root, site=self.config.settings, up=up, feed=FEED,
            themes_count=len(self.themes), provinces_count=len(self.provinces),
            partners_count=len(self.partners), signup=self.signup, head=head_tags(self.config, meta),
            story=self.story,
            **context,
        )  # fmt: skip
        return text.encode("utf-8")

    def render(
        self, files: dict[str, bytes], issues: list[ArchivedIssue], newest: dt.datetime
    ) -> list[tuple[str, dt.datetime]]:
        """Write every page into ``files``; return (path, last change) for the sitemap."""
        title = self.config.settings.title
        files[INDEX] = self.page(
            "index.html",
            Meta(f"Archief · {title}", f"Alle verstuurde nieuwsbrieven van {title}.", INDEX),
            issues=issues,
        )
        lastmod = [(INDEX, newest), *((i.path, i.sent_at) for i in issues)]
        search_page = f"{SEARCH}/{INDEX}"
        files[search_page] = self.page(
            "zoeken.html",
            Meta(f"Zoeken · {title}", f"Zoek in alles wat {title} deelde.", search_page),
            filters=_filters(self.shared),
            stories_count=len(self.shared),
        )
        agenda_page = f"{AGENDA}/{INDEX}"
        files[agenda_page] = self.page(
            "agenda.html",
            Meta(f"Agenda · {title}", f"Bijeenkomsten uit {title}.", agenda_page),
            events=self.events,
            calendar=CALENDAR,
        )
        lastmod += [(search_page, newest), (agenda_page, newest)]
        kinds = ((THEMES, self.themes, "Thema's"), (PROVINCES, self.provinces, "Provincies"),
                 (PARTNERS, self.partners, "Partners"))  # fmt: skip
        for kind, listings, heading in kinds:
            if not listings:
                continue
            overview = f"{kind}/{INDEX}"
            files[overview] = self.page(
                "overview.html",
                Meta(f"{heading} · {title}", f"{heading} in {title}.", overview),
                kind=kind,
                title=heading,
                listings=listings,
            )
            lastmod.append((overview, max(listing.updated(newest) for listing in listings)))
            for listing in listings:
                text = listing.description or (listing.pledge.text if listing.pledge else "")
                image = next((s.image for s in listing.stories if s.image), None)
                files[listing.path] = self.page(
                    "listing.html",
                    Meta(f"{listing.title} · {title}", text or listing.title, listing.path, image),
                    listing=listing,
                )
                lastmod.append((listing.path, listing.updated(newest)))
        return lastmod


def _filters(shared: tuple[Story, ...]) -> dict[str, list[str]]:
    """The values each search filter offers, from what was shared (alphabetical; years newest first)."""
    found: dict[str, dict[str, None]] = {name: {} for name in search.FILTERS}
    for story in shared:
        for t in story.themes:
            found["thema"][t.title] = None
        for p in story.provinces:
            found["provincie"][p.title] = None
        if story.sector:
            found["sector"][story.sector] = None
        if story.kind_title:
            found["soort"][story.kind_title] = None
        found["jaar"][story.issues[-1].date_iso[:4]] = None
    out = {name: sorted(values, key=str.lower) for name, values in found.items()}
    out["jaar"].reverse()
    return out


def write_site(site: Site, out: Path) -> Written:
    """Write the files that differ from what is in ``out`` (each atomically); remove the files an
    earlier publish wrote that the site no longer has. Other files in ``out`` are left alone.

    The search index is built only when its records changed since the last publish."""
    manifest = out / MANIFEST
    old = manifest.read_text(encoding="utf-8").splitlines() if manifest.exists() else []
    before = [rel for rel in old if not rel.startswith("#")]
    if site.skipped:
        return Written((), len(before), (), False)
    files = dict(site.files)
    digest = search.digest(site.records)
    kept = [rel for rel in before if rel.startswith(f"{SEARCH_BUNDLE}/") and rel != search.DIGEST]
    try:
        same = (out / search.DIGEST).read_text(encoding="utf-8") == digest
    except OSError:
        same = False
    indexed = not (same and kept and all((out / rel).is_file() for rel in kept))
    changed: list[Path] = []
    if indexed and not (out / SEARCH_BUNDLE).exists():
        # The first index: Pagefind writes it into the site itself (no copy of 3,000 files to compare).
        changed = search.index(site.records, out / SEARCH_BUNDLE)
        kept = [p.relative_to(out).as_posix() for p in changed]
    elif indexed:
        kept = []
        files.update(search.bundle_files(site.records))
    files[search.DIGEST] = digest.encode("utf-8")
    unchanged = len(kept) - len(changed)
    for rel, data in sorted(files.items()):
        path = out / rel
        try:
            same = path.read_bytes() == data
        except OSError:
            same = False
        if same:
            unchanged += 1  # untouched, mtime included: a sync to the host skips it
            continue
        _put(path, data)
        changed.append(path)
    listed = set(files) | set(kept)
    removed = []
    for rel in before:
        path = out / rel
        if rel and rel not in listed and ".." not in Path(rel).parts and path.is_file():
            path.unlink()
            removed.append(path)
            _remove_empty_parents(path.parent, out)
    lines = [_DIGEST_LINE + site.digest] if site.digest else []
    lines += sorted(listed)
    if old != lines:
        atomic_write(manifest, "".join(f"{line}\n" for line in lines))
    return Written(tuple(changed), unchanged, tuple(removed), indexed)


def _put(path: Path, data: bytes) -> None:
    """Write beside ``path`` and rename over it: a reader (or a sync to the host) never sees half a
    file. Not fsynced, unlike the state's files: the site is made again by publishing again, and
    thousands of fsyncs would take most of a cold publish."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:
        raise WriteFailed(
            _("cannot write {path}: {error}").format(path=path, error=e.strerror or e), _(WRITE_FIX)
        ) from None


def _remove_empty_parents(folder: Path, out: Path) -> None:
    while folder != out and folder.is_dir() and not any(folder.iterdir()):
        os.rmdir(folder)
        folder = folder.parent


def site_folder(config: Config) -> Path:
    return config.root / "build" / "site"


def publish(
    config: Config, store: Store, *, out: Path | None = None, now: dt.datetime | None = None
) -> list[Path]:
    """Build the archive into ``out`` (default ``build/site/``); return the files written.

    ``now`` limits the archive to issues whose send had started by then (default: the clock) and
    splits the agenda into upcoming and past events. Files whose content is unchanged are not
    rewritten, so the list is empty when nothing new was sent since the last publish.
    """
    folder = out if out is not None else site_folder(config)
    return list(write_site(build_site(config, store, now=now, out=folder), folder).changed)
