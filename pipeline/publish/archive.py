"""The archive's parts that come straight from what was sent: the sent issues (``ArchivedIssue``),
each issue's web page made safe for the public (``public_page``: no per-recipient tokens, no
address that is not public), the Atom feed and the sitemap (ElementTree, which escapes everything).

Everything is derived from the issue ids and the send times, never from the clock, so an entry
never changes once published: feed readers do not show old issues as new.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.domain import dutch
from pipeline.domain.archive import AGENDA, CALENDAR, PARTNERS, PROVINCES, SEARCH, THEMES
from pipeline.domain.config import Config
from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _, ngettext
from pipeline.domain.issues import ISSUE_ID_RE
from pipeline.domain.models import Item
from pipeline.domain.tokens import TOKENS
from pipeline.infra.store import SentIssue

ATOM_NS = "http://www.w3.org/2005/Atom"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
FEED, SITEMAP, INDEX = "feed.xml", "sitemap.xml", "index.html"
SEARCH_BUNDLE = "pagefind"  # the search index (Pagefind's files)
# Lists the files a publish wrote, so that the next one removes only its own stale files and
# never what the user keeps beside them (a CNAME, an .htaccess).
MANIFEST = ".published"
# An issue page lives at ARCHIVE/ISSUE/ (render's "view in browser" link), so an issue id may
# not take a name the site itself uses.
RESERVED = frozenset(
    {THEMES, PROVINCES, PARTNERS, AGENDA, SEARCH, CALENDAR, SEARCH_BUNDLE, FEED, SITEMAP, INDEX, MANIFEST}
)
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


def strip_tokens(text: str) -> tuple[str, int]:
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
    page, n = strip_tokens(page)
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


def summarise(removed: list[str]) -> str:
    counts: dict[str, int] = {}
    for what in removed:
        counts[what] = counts.get(what, 0) + 1
    return ", ".join(_counted(what, n) for what, n in counts.items())


# -- reading what was sent -----------------------------------------------------------------------


def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
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
                subject=strip_tokens(row.subject)[0].strip(" ,") or issue_id,
                preheader=strip_tokens(row.preheader)[0].strip(),
                sent_at=sent_at,
                date_text=dutch.date(local, weekday=False),
                date_iso=local.isoformat(),
                path=f"{issue_id}/{INDEX}",
                url=s.issue_url(issue_id),
            )
        )
    return sorted(out, key=lambda i: (i.sent_at, i.id), reverse=True)


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
