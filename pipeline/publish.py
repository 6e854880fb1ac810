"""Publish: the web archive of sent issues, with an Atom feed, theme and partner pages and a sitemap.

Only what went to the list is published (``sent_issues`` in the state database). The order:

1. read the sent issues and the items they carried into plain values (``ArchivedIssue``,
   ``Story``, ``Listing``), newest first;
2. make each issue's sent web page safe for the public (``public_page``: no per-recipient
   tokens, no address that is not public) and lay out the other pages with the templates in
   ``templates/site/`` (the instance's first, then the package's, as render does);
3. write the Atom feed and the sitemap with ElementTree, which escapes everything;
4. write the files that changed, each atomically, and remove the ones an earlier publish made
   that are gone now.

Everything is derived from the issue ids and the send times, never from the clock, so
publishing again after a new send adds that issue (and its stories to their theme and partner
pages, the index, the feed and the sitemap) and leaves every other file byte-identical: feed
readers do not show old issues as new, and a copy to a static host uploads only what changed.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.domain import dutch
from pipeline.domain.config import Config
from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _, ngettext
from pipeline.domain.issues import ISSUE_ID_RE
from pipeline.domain.models import Item
from pipeline.domain.tokens import TOKENS
from pipeline.infra.files import atomic_write
from pipeline.infra.store import SentIssue, SentPlacement, Store
from pipeline.infra.templating import environment, render_template
from pipeline.portal.images import archive_files as portal_images

ATOM_NS = "http://www.w3.org/2005/Atom"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
THEMES, PARTNERS = "thema", "partner"
FEED, SITEMAP, INDEX = "feed.xml", "sitemap.xml", "index.html"
# Lists the files a publish wrote, so that the next one removes only its own stale files and
# never what the user keeps beside them (a CNAME, an .htaccess).
MANIFEST = ".published"
# An issue page lives at ARCHIVE/ISSUE/ (render's "view in browser" link), so an issue id may
# not take a name the site itself uses.
RESERVED = frozenset({THEMES, PARTNERS, FEED, SITEMAP, INDEX, MANIFEST})
SUMMARY_CHARS = 280


class PublishError(PipelineError):
    "The archive cannot be built as asked (an issue id that clashes with the site's own files)."


# -- the values the pages show -------------------------------------------------------------------


@dataclass(frozen=True)
class ArchivedIssue:
    """One sent issue as the archive shows it."""

    id: str
    subject: str
    preheader: str
    sent_at: dt.datetime  # when the send started, in UTC: the date shown and the feed's `updated`
    date_text: str  # "10 december 2026", in the instance's time zone
    date_iso: str  # "2026-12-10"
    path: str  # relative to the site: "2026-12/index.html"
    url: str  # absolute, under archive_url: "https://.../archief/2026-12/"


@dataclass(frozen=True)
class Link:
    title: str
    path: str  # relative to the site's root


@dataclass(frozen=True)
class Story:
    """A story that appeared in the newsletter, with the issues it appeared in (newest first)."""

    id: str
    title: str
    url: str
    summary: str  # plain text, shortened at a word
    partner: Link | None
    source: str | None  # the source's name when it is not a partner (a research institute)
    kind_title: str | None
    themes: tuple[Link, ...]
    issues: tuple[ArchivedIssue, ...]


@dataclass(frozen=True)
class Listing:
    """A theme or partner page: its stories, newest issue first."""

    kind: str  # THEMES or PARTNERS
    id: str
    title: str
    description: str | None
    website: str | None
    path: str
    stories: tuple[Story, ...]

    @property
    def updated(self) -> dt.datetime:
        return max(i.sent_at for s in self.stories for i in s.issues)


@dataclass(frozen=True)
class Site:
    """The whole archive in memory: path relative to the site -> bytes, and what was removed."""

    files: Mapping[str, bytes]
    issues: tuple[ArchivedIssue, ...]  # newest first
    themes: tuple[Listing, ...]
    partners: tuple[Listing, ...]
    redactions: tuple[str, ...]  # "2026-12: removed 1 per-recipient link from the web page" (a warning)


@dataclass(frozen=True)
class Written:
    changed: tuple[Path, ...]  # new or different files, written atomically
    unchanged: int
    removed: tuple[Path, ...]


# -- personal parts ------------------------------------------------------------------------------

# SendGrid substitution tags (<%asm_group_unsubscribe_raw_url%> and the like), raw or escaped,
# render's inert stand-ins for them, and the name placeholder.
_TAG = re.compile(r"(?:<|&lt;|&#60;|&#x3c;)%[\w.-]{1,64}%(?:>|&gt;|&#62;|&#x3e;)", re.I)
_STANDIN = re.compile(r"https?://nl-token\.invalid/[^\s\"'<>]*|nl-token-name")

_ANCHOR = re.compile(r"<a\b[^>]*?\bhref\s*=\s*(\"[^\"]*\"|'[^']*')[^>]*>.*?</a\s*>", re.S | re.I)
# An address, also percent-encoded inside a link ("?email=jan%40example.nl", a tracking link).
_EMAIL = re.compile(r"[A-Za-z0-9._+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.([A-Za-z]{2,})")
# "logo@2x.png" is an image, not an address.
_FILE_ENDINGS = frozenset({"png", "jpg", "jpeg", "gif", "webp", "svg", "avif"})
REDACTED = "[adres verwijderd]"


def _has_token(text: str) -> bool:
    text = html.unescape(text)
    return any(t in text for t in TOKENS) or bool(_TAG.search(text) or _STANDIN.search(text))


def _strip_tokens(text: str) -> tuple[str, int]:
    count = 0
    for token in TOKENS:
        count += text.count(token)
        text = text.replace(token, "")
    for pattern in (_TAG, _STANDIN):
        text, n = pattern.subn("", text)
        count += n
    return text, count


def public_addresses(config: Config, items: Iterable[Item]) -> frozenset[str]:
    """Addresses that may appear on a public page: the newsletter's own, and those in the stories
    themselves (a partner's published contact). Anything else could be a subscriber's."""
    s = config.settings
    found = {a for a in (s.from_email, s.reply_to) if a}
    for item in items:
        for text in (item.url, item.title, item.summary_html, item.summary_text):
            found.update(m.group(0) for m in _EMAIL.finditer(html.unescape(text)))
    return frozenset(a.replace("%40", "@").lower() for a in found)


def public_page(page: str, allowed: frozenset[str]) -> tuple[str, list[str]]:
    """The sent web page without per-recipient parts; returns it and what was removed.

    Render's web page holds none of these; this is the second lock on the door. A link to a
    token (unsubscribe, preferences) goes with its text; a bare token goes; an address that is
    not public goes, with its mailto link.
    """
    removed: list[str] = []

    def anchor(m: re.Match[str]) -> str:
        href = html.unescape(m.group(1)[1:-1])
        if _has_token(href):
            removed.append("a per-recipient link")
            return ""
        if href.lower().startswith("mailto:"):
            address = href[7:].split("?")[0].strip().lower()
            if address and address not in allowed:
                removed.append("an e-mail address")
                return REDACTED
        return m.group(0)

    page = _ANCHOR.sub(anchor, page)
    page, n = _strip_tokens(page)
    removed.extend(["a per-recipient token"] * n)

    def address(m: re.Match[str]) -> str:
        found = m.group(0)
        after_slash = m.string[m.start() - 1 : m.start()] == "/"  # a path segment, not an address
        if after_slash or m.group(1).lower() in _FILE_ENDINGS or found.replace("%40", "@").lower() in allowed:
            return found
        removed.append("an e-mail address")
        return REDACTED

    page = _EMAIL.sub(address, page)
    return page, removed


def _counted(what: str, n: int) -> str:
    """``n`` of one kind of part ``public_page`` removed, in words ("2 e-mail addresses")."""
    if what == "a per-recipient link":
        return ngettext("{n} per-recipient link", "{n} per-recipient links", n).format(n=n)
    if what == "a per-recipient token":
        return ngettext("{n} per-recipient token", "{n} per-recipient tokens", n).format(n=n)
    return ngettext("{n} e-mail address", "{n} e-mail addresses", n).format(n=n)


def _summarise(removed: list[str]) -> str:
    counts: dict[str, int] = {}
    for what in removed:
        counts[what] = counts.get(what, 0) + 1
    return ", ".join(_counted(what, n) for what, n in counts.items())


# -- reading what was sent -----------------------------------------------------------------------


def _shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return f"{cut} …"


def archived_issues(config: Config, rows: Iterable[SentIssue], now: dt.datetime) -> list[ArchivedIssue]:
    """The sent issues whose send had started by ``now``, newest first."""
    s = config.settings
    out = []
    for row in rows:
        issue_id = row.id
        if not ISSUE_ID_RE.match(issue_id):
            # The id names a folder; one that could climb out of the site is refused outright.
            raise PublishError(
                _(
                    "the state database holds a sent issue with the id {issue!r}, which cannot name a page"
                ).format(issue=issue_id),
                _("issue ids are letters, digits, '.', '-' and '_'; check how this row got into sent_issues"),
            )
        if issue_id in RESERVED:
            raise PublishError(
                _("issue '{issue}' cannot be published: {url} is the archive's own").format(
                    issue=issue_id, url=s.issue_url(issue_id)
                ),
                _("the archive keeps {names} for itself; name issues by date (2026-12) from now on").format(
                    names=", ".join(sorted(RESERVED))
                ),
            )
        sent_at = row.sent_at.astimezone(dt.UTC)
        if sent_at > now:
            continue  # SendGrid still holds it (and it can still be recalled): not public yet
        local = sent_at.astimezone(s.timezone).date()
        out.append(
            ArchivedIssue(
                id=issue_id,
                subject=_strip_tokens(row.subject)[0].strip(" ,") or issue_id,
                preheader=_strip_tokens(row.preheader)[0].strip(),
                sent_at=sent_at,
                date_text=dutch.date(local, weekday=False),
                date_iso=local.isoformat(),
                path=f"{issue_id}/{INDEX}",
                url=s.issue_url(issue_id),
            )
        )
    return sorted(out, key=lambda i: (i.sent_at, i.id), reverse=True)


def _listings(
    config: Config,
    issues: list[ArchivedIssue],
    placements: Sequence[SentPlacement],
    items: Mapping[str, Item],
) -> tuple[tuple[Listing, ...], tuple[Listing, ...]]:
    """Theme and partner pages, for every theme and partner with a story in a published issue."""
    tax = config.taxonomy
    by_id = {i.id: i for i in issues}
    order = {i.id: n for n, i in enumerate(issues)}  # 0 = newest
    appeared: dict[str, list[tuple[int, int, ArchivedIssue]]] = {}
    for row in placements:
        issue = by_id.get(row.issue)
        if issue is not None and row.item in items:
            appeared.setdefault(row.item, []).append((order[issue.id], row.position, issue))

    def partner_link(pid: str | None) -> Link | None:
        if pid and pid in config.partners:
            return Link(config.partners[pid].name, f"{PARTNERS}/{pid}/{INDEX}")
        return None

    stories = []
    for item_id, seen in appeared.items():
        item = items[item_id]
        seen.sort(key=lambda s: (s[0], s[1]))
        kind = tax.kinds.get(item.kind) if item.kind else None
        stories.append(
            (
                (seen[0][0], seen[0][1]),  # newest issue first, then the issue's own order
                Story(
                    id=item.id,
                    title=item.title,
                    url=item.url,
                    # A feed that repeats the title as its summary says nothing new.
                    summary="" if item.summary_text.strip() == item.title else _shorten(item.summary_text),
                    partner=partner_link(item.partner),
                    source=config.sources[item.source].name if item.source in config.sources else None,
                    kind_title=kind.title if kind else None,
                    themes=tuple(
                        Link(tax.themes[t].title, f"{THEMES}/{t}/{INDEX}")
                        for t in item.themes
                        if t in tax.themes
                    ),
                    issues=tuple(s[2] for s in seen),
                ),
                item,
            )
        )
    stories.sort(key=lambda s: s[0])

    themes = []
    for tid, term in tax.themes.items():
        found = tuple(story for _key, story, item in stories if tid in item.themes)
        if found:
            themes.append(
                Listing(THEMES, tid, term.title, term.description, None,
                        f"{THEMES}/{tid}/{INDEX}", found)
            )  # fmt: skip
    partners = []
    for pid, partner in sorted(config.partners.items(), key=lambda p: p[1].name.lower()):
        found = tuple(story for _key, story, item in stories if item.partner == pid)
        if found:
            sector = tax.sectors.title(partner.sector, partner.sector)
            where = tax.provinces.title(partner.province, "")
            partners.append(
                Listing(PARTNERS, pid, partner.name, " · ".join(x for x in (sector, where) if x),
                        partner.website, f"{PARTNERS}/{pid}/{INDEX}", found)
            )  # fmt: skip
    return tuple(themes), tuple(partners)


# -- the feed and the sitemap --------------------------------------------------------------------

# Characters XML 1.0 does not allow at all; a feed that held one would not parse.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("", text)


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(root: ET.Element) -> bytes:
    ET.indent(root)
    # Written by hand: ElementTree's own declaration uses single quotes and varies by version.
    declaration = b'<?xml version="1.0" encoding="utf-8"?>\n'
    return declaration + ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


def atom_feed(config: Config, issues: list[ArchivedIssue], now: dt.datetime) -> bytes:
    """An Atom feed with one entry per issue. Ids are the issues' archive URLs and `updated` is
    the send time, so an entry never changes once published."""
    s = config.settings

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, tag, attrs)
        if text is not None:
            el.text = _xml_text(text)
        return el

    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": s.language})
    sub(feed, "id", s.archive_url)
    sub(feed, "title", s.title)
    sub(feed, "subtitle", f"Alle verstuurde nieuwsbrieven van {s.title}")
    # The newest issue's time, not the clock: publishing again without a new issue changes nothing.
    sub(feed, "updated", _stamp(issues[0].sent_at if issues else now))
    sub(feed, "link", rel="self", type="application/atom+xml", href=f"{s.archive_url}{FEED}")
    sub(feed, "link", rel="alternate", type="text/html", href=s.archive_url)
    author = sub(feed, "author")
    sub(author, "name", s.from_name or s.title)
    for issue in issues:
        entry = sub(feed, "entry")
        sub(entry, "id", issue.url)
        sub(entry, "title", issue.subject)
        sub(entry, "published", _stamp(issue.sent_at))
        sub(entry, "updated", _stamp(issue.sent_at))
        sub(entry, "link", rel="alternate", type="text/html", href=issue.url)
        sub(entry, "summary", issue.preheader or issue.subject)
    return _xml(feed)


def sitemap(config: Config, site: list[tuple[str, dt.datetime]]) -> bytes:
    """sitemap.xml: (path relative to the site, when it last changed) for every page."""
    root = ET.Element("urlset", {"xmlns": SITEMAP_NS})
    for path, updated in site:
        url = ET.SubElement(root, "url")
        ET.SubElement(url, "loc").text = config.settings.archive_url + path.removesuffix(INDEX)
        ET.SubElement(url, "lastmod").text = updated.astimezone(config.settings.timezone).date().isoformat()
    return _xml(root)


# -- the whole site ------------------------------------------------------------------------------


def build_site(config: Config, store: Store, *, now: dt.datetime | None = None) -> Site:
    """Every file of the archive, in memory; reads the state database, writes nothing."""
    now = now or dt.datetime.now(dt.UTC)
    rows = store.sent_issues()
    issues = archived_issues(config, rows, now)
    published = {i.id for i in issues}
    placements = [r for r in store.sent_items() if r.issue in published]
    items = store.get_items({r.item for r in placements})
    themes, partners = _listings(config, issues, placements, items)
    env = environment(config.root / "templates")
    s = config.settings

    def page(template: str, up: str, **context: object) -> bytes:
        text = render_template(
            env, f"site/{template}", config.root, site=s, up=up, feed=FEED, themes_count=len(themes),
            partners_count=len(partners), **context,
        )  # fmt: skip
        return text.encode("utf-8")

    files: dict[str, bytes] = {}
    redactions = []
    by_issue: dict[str, list[Item]] = {}
    for r in placements:
        if r.item in items:
            by_issue.setdefault(r.issue, []).append(items[r.item])
    sent = {r.id: r.web_html for r in rows}
    for issue in issues:
        allowed = public_addresses(config, by_issue.get(issue.id, []))
        web, removed = public_page(sent[issue.id], allowed)
        if removed:
            redactions.append(
                _("{issue}: removed {parts} from the web page").format(
                    issue=issue.id, parts=_summarise(removed)
                )
            )
        files[issue.path] = web.encode("utf-8")

    files[INDEX] = page("index.html", "", issues=issues)
    lastmod: list[tuple[str, dt.datetime]] = [(INDEX, issues[0].sent_at if issues else now)]
    lastmod += [(i.path, i.sent_at) for i in issues]
    for kind, listings, title in ((THEMES, themes, "Thema's"), (PARTNERS, partners, "Partners")):
        if not listings:
            continue
        overview = f"{kind}/{INDEX}"
        files[overview] = page("overview.html", "../", kind=kind, title=title, listings=listings)
        lastmod.append((overview, max(listing.updated for listing in listings)))
        for listing in listings:
            files[listing.path] = page("listing.html", "../../", listing=listing)
            lastmod.append((listing.path, listing.updated))
    files.update(portal_images(config, [i for group in by_issue.values() for i in group]))
    files[FEED] = atom_feed(config, issues, now)
    files[SITEMAP] = sitemap(config, lastmod)
    return Site(files, tuple(issues), themes, partners, tuple(redactions))


def write_site(site: Site, out: Path) -> Written:
    """Write the files that differ from what is in ``out`` (each atomically); remove the files an
    earlier publish wrote that the site no longer has. Other files in ``out`` are left alone."""
    changed, unchanged = [], 0
    for rel, data in sorted(site.files.items()):
        path = out / rel
        try:
            same = path.read_bytes() == data
        except OSError:
            same = False
        if same:
            unchanged += 1  # untouched, mtime included: a sync to the host skips it
            continue
        atomic_write(path, data)
        changed.append(path)
    removed = []
    manifest = out / MANIFEST
    before = manifest.read_text(encoding="utf-8").splitlines() if manifest.exists() else []
    for rel in before:
        path = out / rel
        if rel and rel not in site.files and ".." not in Path(rel).parts and path.is_file():
            path.unlink()
            removed.append(path)
            _remove_empty_parents(path.parent, out)
    listing = "".join(f"{rel}\n" for rel in sorted(site.files))
    if before != listing.splitlines():
        atomic_write(manifest, listing)
    return Written(tuple(changed), unchanged, tuple(removed))


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

    ``now`` limits the archive to issues whose send had started by then (default: the clock).
    Files whose content is unchanged are not rewritten, so the list is empty when nothing new
    was sent since the last publish.
    """
    site = build_site(config, store, now=now)
    return list(write_site(site, out if out is not None else site_folder(config)).changed)
