"""A feed body in, normalised items out: RSS, Atom and RDF through feedparser (plain RSS 2.0 through its
fast path, xmlfeed.py), JSON Feed by hand.

Everything here is a pure function of its arguments (no I/O, no database), so that collect can
run it in worker processes and the tests can feed it any bytes. Every entry becomes an ``Item``
with a canonical URL and a stable id, a plain-text title, a sanitised summary (``markup``), a
time-zone aware date, an image, and the source's defaults plus keyword themes.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import operator
import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ParamSpec
from urllib.parse import urljoin

from pipeline.domain.i18n import _, ngettext
from pipeline.domain.markup import clean_html, plain_title, text_of_clean_html
from pipeline.domain.models import Image, Item
from pipeline.domain.urls import canonical_url, image_ext, join

MAX_SUMMARY_CHARS = 50_000  # a summary, not a book: the rest of a 400 kB article is cut before sanitising
FUTURE_SLACK = dt.timedelta(days=1)  # a date further ahead than this is a publisher's mistake
P = ParamSpec("P")


_HASHED_FIELDS = operator.attrgetter(*(f.name for f in fields(Item) if f.name != "first_seen"))


class NotAFeed(ValueError):
    "The body cannot be read as a feed; the message says what it is instead."


@dataclass(frozen=True)
class SourceDefaults:
    """What a source gives each of its items unless the entry says otherwise."""

    source: str
    partner: str | None = None
    kind: str | None = None
    themes: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedFeed:
    items: tuple[Item, ...]
    warnings: tuple[str, ...] = ()
    skipped: int = 0  # entries without a usable link
    title: str | None = None


@dataclass(frozen=True)
class Entry:
    """An entry before normalisation, the same for every feed format."""

    link: str | None
    guid: str | None
    title: str  # may hold markup and entities
    summary: str  # untrusted HTML
    base: str  # for relative links in the summary
    published: dt.datetime | None
    images: tuple[tuple[str, str | None], ...] = ()  # (url, alt) candidates, best first
    categories: tuple[str, ...] = ()


FIND_AT_MOST = 40  # keywords looked for one by one with str.find; more are one pattern (a trie)


@dataclass(frozen=True)
class ThemeRules:
    """Keyword rules from ``sources.yaml``: an item whose title or summary holds a keyword gets the theme.

    A keyword matches at the start of a word, so 'fiets' finds 'fietsplan' (Dutch compounds);
    keywords with spaces or punctuation ('werkende armen') match where a word starts, too: after a
    character that is not a word character (``\\W``), or at the start. Up to ``FIND_AT_MOST`` keywords,
    each is looked for with ``str.find`` (a search in C: 0.5 us for 2 kB); more keywords are one
    regular expression (a trie), tried once at each place a word starts, whose time does not grow with
    their number: the longest keyword found there stands for every keyword it starts with.
    """

    themes: tuple[str, ...] = ()  # in the taxonomy's order
    prefixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # one-word keyword -> themes
    phrases: tuple[tuple[str, re.Pattern[str]], ...] = ()  # (theme, pattern) of keywords with spaces
    words: tuple[tuple[str, frozenset[str]], ...] = ()  # every keyword (lower case) with its themes
    # with more than FIND_AT_MOST keywords: the one pattern of them all, and for each keyword the themes
    # of it and of every keyword it starts with
    matcher: re.Pattern[str] | None = None
    closure: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_keywords(cls, keywords: Mapping[str, Iterable[str]]) -> ThemeRules:
        prefixes: dict[str, list[str]] = {}
        phrases = []
        owners: dict[str, set[str]] = {}
        for theme, words in keywords.items():
            cleaned = [w.strip().lower() for w in words if isinstance(w, str) and w.strip()]
            for word in cleaned:
                owners.setdefault(word, set()).add(theme)
                if _WORD.fullmatch(word):
                    prefixes.setdefault(word, []).append(theme)
                else:
                    phrases.append((theme, re.compile(rf"(?<!\w){re.escape(word)}")))
        pairs = tuple((word, frozenset(themes)) for word, themes in owners.items())
        matcher: re.Pattern[str] | None = None
        closure: dict[str, frozenset[str]] = {}
        if len(owners) > FIND_AT_MOST:
            closure = {
                word: frozenset(
                    t for other, themes in owners.items() if word.startswith(other) for t in themes
                )
                for word in owners
            }
            # After a non-word character (themes_for puts one in front of the text), the longest keyword
            # that starts there: the keywords as a trie, each branch tried longest first.
            matcher = re.compile(rf"\W(?=({_trie(owners)}))")
        return cls(
            tuple(keywords),
            {k: tuple(v) for k, v in prefixes.items()},
            tuple(phrases),
            pairs,
            matcher,
            closure,
        )

    def themes_for(self, text: str) -> tuple[str, ...]:
        found: set[str] = set()
        text = "\n" + text.lower()  # a keyword at the very start has a non-word character before it
        if self.matcher is not None:
            for word in set(self.matcher.findall(text)):
                found |= self.closure[word]
        else:
            for word, themes in self.words:
                if themes <= found:
                    continue
                at = text.find(word)
                while at > 0:
                    before = text[at - 1]  # \W: not alphanumeric (str.isalnum is re's \w) and not '_'
                    if not (before.isalnum() or before == "_"):
                        found |= themes
                        break
                    at = text.find(word, at + 1)
        return tuple(t for t in self.themes if t in found)


_WORD = re.compile(r"\w+")


def _trie(words: Iterable[str]) -> str:
    """One regular expression of the words, as a trie ('werk', 'werkgever' -> 'werk(?:gever)?'): at each
    place a word could start, one character chooses the branch instead of trying every word."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def pattern(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body  # greedy: the longer word first

    return pattern(root)


# -- URLs and ids (the canonical URL is pipeline.domain.urls', shared with curate's link check) ------
def item_id_for_url(url: str) -> str:
    """A stable 12-character id; http and https addresses of the same page get the same id."""
    key = url.split("://", 1)[-1]
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def content_hash(item: Item) -> str:
    """Of everything an item says, except when it was first seen: tells 'updated' from 'unchanged'."""
    # repr of the fields (strings, tuples, datetimes, Image): deterministic, and cheaper than JSON.
    said = _HASHED_FIELDS(item)  # the fields' values as one tuple
    return hashlib.sha256(repr(said).encode()).hexdigest()


# -- bytes to entries -----------------------------------------------------------------------------
def ungzip(body: bytes, max_bytes: int) -> bytes:
    """Bytes that start with the gzip magic but came without a Content-Encoding header, unpacked."""
    if body[:2] != b"\x1f\x8b":
        return body
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(body, max_bytes + 1)
    except zlib.error as e:
        raise NotAFeed(_("broken gzip data ({error})").format(error=e)) from None
    if len(out) > max_bytes:
        raise NotAFeed(
            _("the unpacked gzip body is larger than the limit of {n:,} bytes").format(n=max_bytes)
        )
    return out


def _looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:300]


def _utc(t: Any) -> dt.datetime | None:
    try:
        return dt.datetime(t[0], t[1], t[2], t[3], t[4], t[5], tzinfo=dt.UTC) if t else None
    except (TypeError, ValueError, OverflowError):
        return None


@functools.cache
def _feedparser() -> Any:
    """feedparser, imported on first use (a run where every feed is unchanged parses nothing), with its
    link joining remembered: for every element it joins the base address with itself (43,000 urljoins
    for 300 feeds of 20 entries, an eighth of parsing). Both functions depend on their arguments only."""
    import feedparser
    import feedparser.mixin

    from pipeline.collect import dates

    dates.install()  # no date from the machine's clock
    mixin: Any = feedparser.mixin
    for name in ("make_safe_absolute_uri", "_urljoin"):
        function = getattr(mixin, name)
        if not hasattr(function, "cache_info"):
            setattr(mixin, name, functools.lru_cache(maxsize=4096)(function))
    return feedparser


def _fp_entries(body: bytes, url: str, content_type: str | None) -> tuple[list[Entry], list[str], str | None]:
    remote = url.startswith(("http://", "https://"))
    headers = {"content-location": url} if remote else {}
    if content_type:
        headers["content-type"] = content_type
    # feedparser's own sanitiser and link resolver are switched off: markup.clean_html does both
    # with an allow-list, and doing it once is twice as fast.
    feedparser = _feedparser()
    d = feedparser.parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    warnings: list[str] = []
    if not d.entries:
        if _looks_like_html(body) or ((content_type or "").startswith("text/html") and not d.get("version")):
            raise NotAFeed(_("not a feed: got an HTML page"))
        if d.get("bozo"):
            raise NotAFeed(_("not a feed: {problem}").format(problem=_reason(d.get("bozo_exception"))))
        if not d.get("version"):
            raise NotAFeed(_("not a feed: no RSS, Atom or JSON Feed found"))
        return [], warnings, d.feed.get("title")
    # feedparser's "bozo" reasons that say nothing about the entries: a missing or overridden charset.
    harmless = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
    if d.get("bozo") and not isinstance(d.get("bozo_exception"), harmless):
        warnings.append(
            _("the feed is not well-formed ({problem}); its entries were used").format(
                problem=_reason(d.get("bozo_exception"))
            )
        )
    # Relative links resolve against the feed's address (xml:base first); for a local file, against
    # the site the feed names in its <link>.
    site = d.feed.get("link") if not remote else None
    entries = []
    for e in d.entries:
        summary_detail = e.get("summary_detail") or {}
        content = e.get("content") or []
        detail = summary_detail if summary_detail.get("value") else (content[0] if content else {})
        base = detail.get("base") or (e.get("title_detail") or {}).get("base") or site or url
        images: list[tuple[str, str | None]] = []
        for enc in e.get("enclosures") or []:
            if (enc.get("type") or "").startswith("image/") or image_ext(enc.get("href")):
                images.append((enc.get("href") or "", None))
        for m in e.get("media_content") or []:
            if (
                m.get("medium") == "image"
                or (m.get("type") or "").startswith("image/")
                or image_ext(m.get("url"))
            ):
                images.append((m.get("url") or "", None))
        for m in e.get("media_thumbnail") or []:
            images.append((m.get("url") or "", None))
        title = e.get("title") or ""
        if (e.get("title_detail") or {}).get("type") == "text/plain":
            # Plain text as the feed meant it: keep '<' literally, plain_title must not see a tag.
            title = title.replace("&", "&amp;").replace("<", "&lt;")
        link = e.get("link")
        guid = e.get("id") or None
        entries.append(
            Entry(
                link=link,
                guid=guid,
                title=title,
                summary=(detail.get("value") or "")[:MAX_SUMMARY_CHARS],
                base=base,
                # dict.get: feedparser's own get() maps one date to the other with a DeprecationWarning.
                published=_utc(dict.get(e, "published_parsed")) or _utc(dict.get(e, "updated_parsed")),
                images=tuple(images),
                categories=tuple(t.get("term") or "" for t in e.get("tags") or [] if isinstance(t, dict)),
            )
        )
    return entries, warnings, d.feed.get("title")


def _reason(exc: object) -> str:
    text = (str(exc).strip().splitlines() or [""])[0] if exc else ""
    text = text or _("unreadable")
    return text[:200]


def _json_date(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        d = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=dt.UTC)


def _json_entries(body: bytes, url: str) -> tuple[list[Entry], list[str], str | None]:
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise NotAFeed(_("not a feed: broken JSON ({error})").format(error=str(e)[:120])) from None
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise NotAFeed(_("not a feed: JSON without a JSON Feed 'version'"))
    items = doc.get("items")
    if not isinstance(items, list):
        raise NotAFeed(_("not a feed: a JSON Feed without 'items'"))
    base = _str(doc.get("home_page_url")) or _str(doc.get("feed_url")) or url
    base = urljoin(url, base)
    entries = []
    for it in items:
        if not isinstance(it, dict):
            continue
        html_text = _str(it.get("content_html")) or _str(it.get("summary"))
        if not html_text and _str(it.get("content_text")):
            text = _str(it.get("content_text"))
            html_text = "".join(
                "<p>" + p.replace("&", "&amp;").replace("<", "&lt;") + "</p>" for p in text.split("\n\n")
            )
        images = [(_str(it.get(k)), None) for k in ("image", "banner_image") if _str(it.get(k))]
        for a in it.get("attachments") or []:
            if isinstance(a, dict) and _str(a.get("mime_type")).startswith("image/"):
                images.append((_str(a.get("url")), None))
        entries.append(
            Entry(
                link=_str(it.get("url")) or _str(it.get("external_url")) or None,
                guid=_str(it.get("id")) or None,
                title=_str(it.get("title")),
                summary=html_text[:MAX_SUMMARY_CHARS],
                base=base,
                published=_json_date(it.get("date_published")) or _json_date(it.get("date_modified")),
                images=tuple(images),
                categories=tuple(t for t in it.get("tags") or [] if isinstance(t, str)),
            )
        )
    return entries, [], _str(doc.get("title")) or None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def read_entries(
    body: bytes, url: str, content_type: str | None = None, max_bytes: int = 10_000_000
) -> tuple[list[Entry], list[str], str | None]:
    """Entries, warnings and the feed's title; raises NotAFeed with the reason."""
    body = ungzip(body, max_bytes)
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise NotAFeed(_("not a feed: the response is empty"))
    if stripped[:1] in (b"{", b"[") or (content_type or "").split(";")[0].strip().endswith("json"):
        return _json_entries(body, url)
    from pipeline.collect.xmlfeed import rss_entries  # on first use: a run where nothing changed needs none

    fast = rss_entries(body, url, content_type)
    if fast is not None:  # plain RSS 2.0, read as feedparser reads it (xmlfeed.py); or feedparser itself
        found, title = fast
        entries = [Entry(a, b, c, d[:MAX_SUMMARY_CHARS], e, f, g, h) for a, b, c, d, e, f, g, h in found]
        return entries, [], title
    return _fp_entries(body, url, content_type)


# -- entries to items -----------------------------------------------------------------------------
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r"""\bsrc\s*=\s*["']([^"']+)["']""")
_ALT = re.compile(r"""\balt\s*=\s*["']([^"']*)["']""")


def _first_img(html_text: str) -> tuple[str, str | None] | None:
    """The first image's src and alt in sanitised HTML (clean_html's: its tags are in lower case)."""
    m = _IMG.search(html_text) if "<img" in html_text else None
    if not m:
        return None
    src = _SRC.search(m.group(0))
    alt = _ALT.search(m.group(0))
    if not src:
        return None
    return src.group(1), (plain_title(alt.group(1)) or None) if alt else None


def entry_to_item(entry: Entry, defaults: SourceDefaults, rules: ThemeRules, now: dt.datetime) -> Item | None:
    """One entry normalised; None when it has no usable link (a newsletter item must link somewhere)."""
    url = canonical_url(entry.link, entry.base) if entry.link and entry.link.strip() else None
    if url is None and entry.guid and entry.guid.startswith(("http://", "https://")):
        url = canonical_url(entry.guid)
    if url is None:
        return None
    summary_html = clean_html(entry.summary, entry.base)
    summary_text = text_of_clean_html(summary_html)
    title = plain_title(entry.title) or plain_title(summary_text[:80]) or url
    image = None
    for src, alt in (*entry.images, *filter(None, [_first_img(summary_html)])):
        try:
            absolute = join(entry.base, src.strip())
        except ValueError:  # "http://[bad": no image
            continue
        # An http(s) address with a host (canonical_url(src, base), which strips only src, not the joined
        # address); its canonical form is not kept: tracking parameters are harmless on an image, but
        # signed image URLs need every one.
        if canonical_url(absolute) if absolute == absolute.strip() else canonical_url(src, entry.base):
            image = Image(absolute, alt or None, None)
            break
    flags: list[str] = []
    published = entry.published
    if published is None:
        published, flags = now, ["date-missing"]
    elif published > now + FUTURE_SLACK:
        published, flags = now, ["date-clamped"]
    keyword_themes = rules.themes_for(f"{title}\n{summary_text}")
    themes = tuple(dict.fromkeys((*defaults.themes, *keyword_themes)))
    return Item(
        id=item_id_for_url(url),
        url=url,
        title=title[:300],
        summary_html=summary_html,
        summary_text=summary_text,
        published=published,
        source=defaults.source,
        partner=defaults.partner,
        kind=defaults.kind,
        themes=themes,
        provinces=defaults.provinces,
        image=image,
        origin="feed",
        guid=(entry.guid or None) and entry.guid[:500],
        flags=tuple(flags),
    )


def parse_feed(
    body: bytes,
    url: str,
    defaults: SourceDefaults,
    rules: ThemeRules,
    now: dt.datetime,
    content_type: str | None = None,
    max_bytes: int = 10_000_000,
) -> ParsedFeed:
    """A fetched body as items. Raises NotAFeed when there is nothing to read."""
    entries, warnings, title = read_entries(body, url, content_type, max_bytes)
    items: dict[str, Item] = {}
    skipped = 0
    for entry in entries:
        item = entry_to_item(entry, defaults, rules, now)
        if item is None:
            skipped += 1
        elif item.id not in items:  # the same link twice in one feed: the first (newest) wins
            items[item.id] = item
    if skipped:
        warnings.append(
            ngettext(
                "{n} entry without a link skipped", "{n} entries without a link skipped", skipped
            ).format(n=skipped)
        )
    return ParsedFeed(tuple(items.values()), tuple(warnings), skipped, plain_title(title or "") or None)


def _reason_instead(parse: Callable[P, ParsedFeed]) -> Callable[P, ParsedFeed | str]:
    """``parse`` for a worker process: the reason as a string instead of an exception.

    feedparser is robust but not perfect; an unexpected error in one feed must not stop the run.
    """

    def safe_parse(*args: P.args, **kwargs: P.kwargs) -> ParsedFeed | str:
        try:
            return parse(*args, **kwargs)
        except NotAFeed as e:
            return str(e)
        except Exception as e:
            return _("could not read the feed ({error})").format(error=f"{type(e).__name__}: {str(e)[:200]}")

    safe_parse.__qualname__ = "safe_parse"  # the process pool pickles it by this module-level name
    return safe_parse


safe_parse = _reason_instead(parse_feed)
