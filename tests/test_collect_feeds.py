"""feeds: bytes to normalised items. Canonical URLs, ids, dates, images, themes, hostile markup, JSON Feed."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.collect.feeds import (
    FIND_AT_MOST,
    NotAFeed,
    SourceDefaults,
    ThemeRules,
    canonical_url,
    item_id_for_url,
    parse_feed,
)
from pipeline.domain.models import Item

DATA = Path(__file__).parent / "data" / "feeds"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
DEFAULTS = SourceDefaults("gemeente-zwolle", "gemeente-zwolle", "story", ("meedoen",), ("overijssel",))
RULES = ThemeRules.from_keywords({"onderwijs": ["school", "leerplicht"], "wonen": ["huur"]})


# What this test holds safe in a stored summary, written here (not read from pipeline.domain.markup), so
# that widening the sanitiser's allow-list fails the test. tests/test_markup.py has the exact outputs.
SAFE_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "em", "i", "li", "ol", "p", "pre", "q",
    "s", "small", "strong", "sub", "sup", "u", "ul", "h3", "h4", "img",
}  # fmt: skip
SAFE_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}, "abbr": {"title"}}


class _Unsafe(HTMLParser):
    """Collects every way an HTML fragment could run code or load something it should not."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SAFE_TAGS:
            self.found.append(f"tag <{tag}>")
        for name, value in attrs:
            # lang and title are allowed on every tag (ammonia's generic attributes); rel is added.
            if name.startswith("on") or name not in SAFE_ATTRIBUTES.get(tag, set()) | {
                "rel",
                "lang",
                "title",
            }:
                self.found.append(f"attribute {name} on <{tag}>")
            if name in ("href", "src") and not (value or "").lower().startswith(
                ("http://", "https://", "mailto:")
            ):
                self.found.append(f"{name}={value!r}")

    def handle_comment(self, data: str) -> None:
        self.found.append(f"comment {data[:40]!r}")

    def handle_decl(self, decl: str) -> None:
        self.found.append(f"declaration {decl[:40]!r}")


def unsafe_parts(item: Item) -> list[str]:
    """Everything unsafe in a stored item; empty when it is clean."""
    checker = _Unsafe()
    checker.feed(item.summary_html)
    checker.close()
    found = checker.found
    lowered = item.summary_html.lower()
    for marker in ("<script", "<iframe", "<style", "<!--", "<form", "<object", "<embed", "<svg"):
        if marker in lowered:
            found.append(f"{marker} in summary_html")
    if "<" in item.title and ">" in item.title:
        found.append(f"markup in title {item.title!r}")
    for url in (item.url, item.image.url if item.image else "https://x"):
        if not url.startswith(("http://", "https://")):
            found.append(f"url {url!r}")
    return found


def parse(body: bytes | str, url: str = "https://www.zwolle.example.nl/feed.rss", **kw: object) -> list[Item]:
    data = body.encode() if isinstance(body, str) else body
    return list(parse_feed(data, url, DEFAULTS, RULES, NOW, **kw).items)  # type: ignore[arg-type]


def rss(*items: str, extra: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        f"<channel><title>Nieuws</title><link>https://www.zwolle.example.nl/</link>{extra}"
        + "".join(f"<item>{i}</item>" for i in items)
        + "</channel></rss>"
    )


def test_canonical_url_removes_tracking_and_lowercases_the_host():
    assert canonical_url(
        "https://WWW.Zwolle.Example.NL/nieuws/fietsplan?utm_source=rss&fbclid=abc&id=3#top"
    ) == ("https://www.zwolle.example.nl/nieuws/fietsplan?id=3")
    assert canonical_url("/nieuws/x?gclid=1", "https://www.zwolle.example.nl/feed") == (
        "https://www.zwolle.example.nl/nieuws/x"
    )
    assert canonical_url("HTTPS://example.nl:443") == "https://example.nl/"
    assert canonical_url("javascript:alert(1)") is None
    assert canonical_url("mailto:a@example.nl") is None
    assert canonical_url("http://[broken") is None


def test_http_and_https_of_one_page_are_one_item():
    assert item_id_for_url("http://example.nl/a") == item_id_for_url("https://example.nl/a")
    assert item_id_for_url("https://example.nl/a") != item_id_for_url("https://example.nl/b")
    assert len(item_id_for_url("https://example.nl/a")) == 12


def test_an_entry_becomes_an_item_with_the_sources_defaults_and_keyword_themes():
    (item,) = parse(
        rss(
            "<title>Ontbijt op school</title><link>/nieuws/ontbijt?utm_medium=rss</link><guid>n-1</guid>"
            "<pubDate>Mon, 23 Nov 2026 08:30:00 +0100</pubDate>"
            "<description>&lt;p&gt;Lees &lt;a href='/plan'&gt;het plan&lt;/a&gt;.&lt;/p&gt;"
            "&lt;img src='/media/o.jpg' alt='Ontbijt'&gt;</description>"
        )
    )
    assert item.url == "https://www.zwolle.example.nl/nieuws/ontbijt"
    assert item.id == item_id_for_url(item.url)
    assert item.title == "Ontbijt op school"
    assert item.published == dt.datetime(2026, 11, 23, 7, 30, tzinfo=dt.UTC)
    assert item.summary_html == (
        '<p>Lees <a href="https://www.zwolle.example.nl/plan" rel="noopener noreferrer">het plan</a>.</p>'
        '<img src="https://www.zwolle.example.nl/media/o.jpg" alt="Ontbijt">'
    )
    assert item.summary_text == "Lees het plan."
    assert item.image is not None and item.image.url == "https://www.zwolle.example.nl/media/o.jpg"
    assert item.image.alt == "Ontbijt"
    assert (item.source, item.partner, item.kind, item.provinces) == (
        "gemeente-zwolle", "gemeente-zwolle", "story", ("overijssel",),
    )  # fmt: skip
    assert item.themes == ("meedoen", "onderwijs")
    assert item.guid == "https://www.zwolle.example.nl/n-1"  # an RSS guid is a permalink unless it says not
    assert item.flags == ()


def test_images_from_enclosure_media_content_and_thumbnail_in_that_order():
    items = parse(
        rss(
            '<title>a</title><link>https://x.nl/a</link><enclosure url="https://x.nl/a.jpg" type="image/jpeg"'
            ' length="1"/><media:thumbnail url="https://x.nl/t.jpg"/>',
            '<title>b</title><link>https://x.nl/b</link><media:content url="/b.png" medium="image"/>',
            '<title>c</title><link>https://x.nl/c</link><media:thumbnail url="https://x.nl/c.jpg"/>',
            '<title>d</title><link>https://x.nl/d</link><enclosure url="https://x.nl/d.mp3" type="audio/mpeg"'
            ' length="1"/>',
        )
    )
    assert [i.image.url if i.image else None for i in items] == [
        "https://x.nl/a.jpg", "https://www.zwolle.example.nl/b.png", "https://x.nl/c.jpg", None,
    ]  # fmt: skip


def test_missing_and_far_future_dates_are_flagged():
    missing, future, fine = parse(
        rss(
            "<title>geen datum</title><link>https://x.nl/1</link>",
            "<title>toekomst</title><link>https://x.nl/2</link><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate>",
            "<title>morgen</title><link>https://x.nl/3</link><pubDate>Fri, 27 Nov 2026 09:00:00 GMT</pubDate>",
        )
    )
    assert (missing.published, missing.flags) == (NOW, ("date-missing",))
    assert (future.published, future.flags) == (NOW, ("date-clamped",))
    assert fine.flags == ()


def test_entries_without_a_link_are_skipped_and_counted():
    parsed = parse_feed(
        rss("<title>zonder link</title>", "<title>met</title><guid>https://x.nl/g</guid>").encode(),
        "https://x.nl/feed", DEFAULTS, RULES, NOW,
    )  # fmt: skip
    assert [i.url for i in parsed.items] == ["https://x.nl/g"]
    assert parsed.warnings == ("1 entry without a link skipped",)


def test_hostile_markup_never_survives():
    (item,) = parse((DATA / "hostile.rss").read_bytes(), "https://hostile.example.nl/feed")
    assert unsafe_parts(item) == []
    assert item.title == "Titel met dubbel markup"
    assert (
        '<a href="https://hostile.example.nl/relatief" rel="noopener noreferrer">relatief</a>'
        in item.summary_html
    )
    assert "alert(12)" in item.summary_text  # text that looks like a tag stays text, escaped in HTML
    assert "&lt;script&gt;alert(12)&lt;/script&gt;" in item.summary_html


def test_addresses_urllib_cannot_split_lose_the_link_not_the_feed(capfd: pytest.CaptureFixture[str]):
    items = parse(rss(
        "<title>A</title><link>https://www.zwolle.example.nl/a</link>"
        "<description>&lt;a href=\"//[x\"&gt;kapot&lt;/a&gt; en heel</description>",
        '<title>B</title><link>https://www.zwolle.example.nl/b</link><enclosure url="http://[x/b.jpg" type="image/jpeg"/>',
        "<title>C</title><link>http://[x/c</link>",
    ))  # fmt: skip
    assert [(i.title, i.summary_text, i.image) for i in items] == [
        ("A", "kapot en heel", None),
        ("B", "", None),
    ]
    assert capfd.readouterr().err == ""  # nh3 prints what a link rewriter raises; nothing may be raised


def test_raw_gzip_bytes_without_a_header_are_read():
    body = gzip.compress(rss("<title>Ingepakt</title><link>https://x.nl/z</link>").encode())
    assert [i.title for i in parse(body)] == ["Ingepakt"]


def test_wrong_and_missing_charsets():
    latin1 = rss("<title>Café ’s avonds</title><link>https://x.nl/c</link>").replace("utf-8", "iso-8859-1")
    (item,) = parse(latin1.encode("latin-1", errors="replace"))
    assert item.title.startswith("Caf")
    no_decl = rss("<title>Ërg mooi</title><link>https://x.nl/e</link>").split("?>", 1)[1]
    (item,) = parse(no_decl.encode("latin-1"), content_type="application/rss+xml")
    assert item.title.endswith("rg mooi")


def test_json_feed():
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Kennis",
        "home_page_url": "https://www.kenniscentrum.example.nl/",
        "items": [
            {"id": "1", "url": "/onderzoek/a?utm_source=x", "title": "Blog &#8211; huur", "content_html":
             "<p onclick='x()'>Tekst <script>alert(1)</script></p>", "date_published": "2026-11-16T10:00:00+01:00",
             "image": "/a.png"},
            {"id": "2", "url": "https://www.kenniscentrum.example.nl/b", "content_text": "Alleen <tekst>"},
        ],
    }  # fmt: skip
    a, b = parse(json.dumps(feed), "https://www.kenniscentrum.example.nl/feed.json")
    assert a.url == "https://www.kenniscentrum.example.nl/onderzoek/a"
    assert a.title == "Blog – huur"
    assert a.summary_html == "<p>Tekst </p>"
    assert a.published == dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)
    assert a.image is not None and a.image.url == "https://www.kenniscentrum.example.nl/a.png"
    assert a.themes == ("meedoen", "wonen")
    assert b.summary_html == "<p>Alleen &lt;tekst&gt;</p>"
    assert b.title == "Alleen"  # no title: the summary's start, and anything tag-like never goes in a title
    assert b.flags == ("date-missing",)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not a feed: the response is empty"),
        (b"<!DOCTYPE html><html><head><title>Home</title></head><body>Hallo</body></html>",
         "not a feed: got an HTML page"),
        (b'{"rss": {"channel": {}}}', "not a feed: JSON without a JSON Feed 'version'"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": [', "not a feed: broken JSON (Expecting value: "
         "line 1 column 57 (char 56))"),
        (b"\x1f\x8bnonsense", "broken gzip data (Error -3 while decompressing data: unknown compression method)"),
    ],
)  # fmt: skip
def test_what_is_not_a_feed_says_why(body: bytes, reason: str):
    with pytest.raises(NotAFeed) as e:
        parse(body)
    assert str(e.value) == reason


def test_a_bozo_feed_with_entries_is_used_with_a_warning():
    broken = rss("<title>Goed</title><link>https://x.nl/g</link>").replace("</channel></rss>", "<oeps>")
    parsed = parse_feed(broken.encode(), "https://x.nl/feed", DEFAULTS, RULES, NOW)
    assert [i.title for i in parsed.items] == ["Goed"]
    assert len(parsed.warnings) == 1
    assert parsed.warnings[0].startswith("the feed is not well-formed (")
    assert parsed.warnings[0].endswith("); its entries were used")


# Up to FIND_AT_MOST keywords are looked for one by one, more as one pattern: every rule is tested both
# ways, the second with keywords added that never match (theme "zzz", last in the taxonomy).
NEVER = {"zzz": [f"zzz{n}" for n in range(FIND_AT_MOST)]}


@pytest.mark.parametrize("padding", [{}, NEVER], ids=["few keywords", "many keywords"])
def test_keyword_themes_where_keywords_start_with_each_other(padding: dict[str, list[str]]):
    """One keyword that starts another (school, schoolspullen; werk, werkende armen) gives both themes
    where the longer one stands; a keyword inside a word, or split by punctuation, gives none."""
    rules = ThemeRules.from_keywords(
        {
            "meedoen": ["Schoolspullen", "sport"],
            "onderwijs": ["school"],
            "werk": ["werk"],
            "armoede": ["werkende armen", "arm"],
            "leeg": ["", "  "],
            **padding,
        }
    )
    assert (rules.matcher is not None) == bool(padding)
    assert rules.themes_for("Gratis SCHOOLSPULLEN voor elk kind") == ("meedoen", "onderwijs")
    assert rules.themes_for("Een schoolplein") == ("onderwijs",)
    assert rules.themes_for("Steeds meer werkende armen.") == ("werk", "armoede")
    assert rules.themes_for("Huiswerk en sportschool, warm") == ("meedoen",)
    assert rules.themes_for("school-spullen") == ("onderwijs",)
    assert rules.themes_for("") == ()
    assert ThemeRules.from_keywords({}).themes_for("school") == ()


@pytest.mark.parametrize("padding", [{}, NEVER], ids=["few keywords", "many keywords"])
def test_a_keyword_starts_a_word_after_any_character_that_is_not_a_letter_digit_or_underscore(
    padding: dict[str, list[str]],
):
    """Where a word starts: after a space, punctuation or a line break, and at the very start; not after a
    letter (any script), a digit or '_'. The first place a keyword stands inside a word must not hide a
    later place where it starts one."""
    rules = ThemeRules.from_keywords({"onderwijs": ["school"], "werk": ["werkende armen"], **padding})
    assert rules.themes_for("school") == ("onderwijs",)
    for text in ("(school)", "basis-school", "x\nschool", "«school»", "2e school", "sportschool en school"):
        assert rules.themes_for(text) == ("onderwijs",), text
    for text in ("basis_school", "éschool", "2school", "ßschool", "sportschool", "schoo l"):
        assert rules.themes_for(text) == (), text
    assert rules.themes_for("Werkende  armen") == ()  # two spaces: not the keyword
    assert rules.themes_for("thuiswerkende armen, werkende armen") == ("werk",)
