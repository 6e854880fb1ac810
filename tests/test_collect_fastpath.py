"""The fast path in front of feedparser (pipeline/collect/xmlfeed.py): taken for plain RSS 2.0 such as
partners write, with exactly the entries feedparser's path gives; declined for anything unusual, and then
the entries are feedparser's; never a way to expand an entity.

The reference is feedparser's own path (``feeds._fp_entries``), which the fast path must equal; the hand
written expectations say what that path gives for the quirks the fast path copies.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from realistic_feeds import feed
from test_collect_corpus import CORPUS, corpus_files

from pipeline.collect import feeds, xmlfeed
from pipeline.collect.feeds import Entry, SourceDefaults, ThemeRules, read_entries, safe_parse
from pipeline.domain.urls import PLAIN_ABSOLUTE, join

URL = "https://partner.example.nl/feeds/nieuws.rss"
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[1]


def rss(
    items: str, channel: str = "<title>Partner</title>", root: str = '<rss version="2.0"', head: str = ""
):
    declaration = '<?xml version="1.0" encoding="utf-8"?>'
    return f"{declaration}{head}{root}><channel>{channel}{items}</channel></rss>".encode()


def by_feedparser(
    body: bytes, url: str = URL, content_type: str | None = None
) -> tuple[list[Entry], str | None]:
    entries, _warnings, title = feeds._fp_entries(body, url, content_type)
    return entries, title


def fast(
    body: bytes, url: str = URL, content_type: str | None = None
) -> tuple[list[Entry], str | None] | None:
    found = xmlfeed.rss_entries(body, url, content_type)
    if found is None:
        return None
    return [Entry(*e[:3], e[3][: feeds.MAX_SUMMARY_CHARS], *e[4:]) for e in found[0]], found[1]


# -- taken, and the same as feedparser --------------------------------------------------------------
@pytest.mark.parametrize("n", range(12))
def test_the_realistic_feeds_take_the_fast_path_with_feedparsers_entries(n: int):
    body, url = feed(n), f"https://partner{n}.example.nl/feed.rss"
    for content_type in (None, "application/rss+xml; charset=utf-8", "text/xml; charset=utf-8"):
        taken = fast(body, url, content_type)
        assert taken is not None, "a realistic partner feed must not fall back to feedparser"
        assert taken == by_feedparser(body, url, content_type)
        assert len(taken[0]) == 20 and taken[1] == f"Partner {n}"


def test_collecting_plain_rss_does_not_even_import_feedparser():
    """The speed is real: a worker that parses partners' feeds never loads feedparser (60 ms an import)."""
    code = (
        "import sys, datetime as dt\n"
        "from realistic_feeds import feed\n"
        "from pipeline.collect.feeds import parse_feed, SourceDefaults, ThemeRules\n"
        "now = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)\n"
        "for n in range(3):\n"
        "    r = parse_feed(feed(n), f'https://p{n}.example.nl/f.rss', SourceDefaults('s'), ThemeRules(), now)\n"
        "    assert len(r.items) == 20\n"
        "print('feedparser' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
        env={"PYTHONPATH": f"{REPO}:{REPO / 'tests'}", "PATH": "/usr/bin:/bin"}, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "False"


WORDPRESS = (
    b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    b' xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    b' xmlns:atom="http://www.w3.org/2005/Atom" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'
    b' xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel><title>Stichting Meedoen</title>'
    b'<atom:link href="https://meedoen.example.nl/feed/" rel="self" type="application/rss+xml" />'
    b"<link>https://meedoen.example.nl</link><description>Nieuws</description>"
    b"<lastBuildDate>Tue, 24 Nov 2026 09:12:44 +0000</lastBuildDate><language>nl-NL</language>"
    b"<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>1</sy:updateFrequency>"
    b"<generator>https://wordpress.org/?v=6.7</generator><image><url>https://meedoen.example.nl/logo.png</url>"
    b"<title>Stichting Meedoen</title><link>https://meedoen.example.nl</link><width>32</width><height>32</height>"
    b'</image><site xmlns="com-wordpress:feed-additions:1">1234</site>'
    b"<item><title>Schoolspullen voor iedereen</title>"
    b"<link>https://meedoen.example.nl/2026/11/schoolspullen/</link>"
    b"<comments>https://meedoen.example.nl/2026/11/schoolspullen/#respond</comments>"
    b"<dc:creator><![CDATA[Redactie]]></dc:creator><pubDate>Tue, 24 Nov 2026 09:12:44 +0000</pubDate>"
    b"<category><![CDATA[Nieuws]]></category><category><![CDATA[Onderwijs]]></category>"
    b'<guid isPermaLink="false">https://meedoen.example.nl/?p=812</guid>'
    b"<description><![CDATA[<p>Elk kind een rugzak.</p>]]></description>"
    b"<content:encoded><![CDATA[<p>Elk kind een rugzak. <img src='/wp-content/uploads/tas.jpg' alt='Tas'></p>]]>"
    b"</content:encoded><wfw:commentRss>https://meedoen.example.nl/2026/11/schoolspullen/feed/</wfw:commentRss>"
    b'<slash:comments>0</slash:comments><post-id xmlns="com-wordpress:feed-additions:1">812</post-id></item>'
    b"</channel></rss>"
)


def test_a_wordpress_feed_takes_the_fast_path():
    """WordPress's feed, the one partners' sites most often publish, with everything WordPress puts in it."""
    taken = fast(WORDPRESS)
    assert taken is not None
    assert taken == by_feedparser(WORDPRESS)
    assert taken[0] == [
        Entry(
            link="https://meedoen.example.nl/2026/11/schoolspullen/",
            guid="https://meedoen.example.nl/?p=812",
            title="Schoolspullen voor iedereen",
            summary="<p>Elk kind een rugzak.</p>",
            base=URL,
            published=dt.datetime(2026, 11, 24, 9, 12, 44, tzinfo=dt.UTC),
            categories=("Nieuws", "Onderwijs"),
        )
    ]


QUIRKS = rss(
    "<item><title>A &amp; B &lt; C</title><guid>/nieuws/1</guid><pubDate>Wed, 25 Nov 2026 23:30:00 -0130</pubDate>"
    "<category domain='https://tax.example.nl'>Wonen</category><category>Wonen</category><category>Wonen</category>"
    "<enclosure url='https://cdn.example.nl/a.mp3' type='audio/mpeg' length='1'/>"
    "<enclosure url='https://cdn.example.nl/b' type='Image/JPEG' length='1'/>"
    "<media:thumbnail xmlns:media='http://search.yahoo.com/mrss/' url='https://cdn.example.nl/t.png'/>"
    "<description>&lt;p&gt;Caf\u00c3\u00a9 &#147;&lt;/p&gt;</description></item>"
    "<item><title><![CDATA[<b>Vet</b> nieuws]]></title><link> /nieuws/2?x=1&amp;amp;y=2 </link>"
    "<guid isPermaLink='false'>tag:partner,2026:2</guid><dc:date xmlns:dc='http://purl.org/dc/elements/1.1/'>"
    "2026-11-20T08:00:00+01:00</dc:date><content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
    "<![CDATA[<p>lang</p>]]></content:encoded><description></description></item>"
    "<item><title>Geen link, caf\u00c3\u00a9</title><guid isPermaLink='false'>x</guid><pubDate>gisteren</pubDate></item>"
)


def test_the_fast_path_copies_feedparsers_quirks():
    """Each value as feedparser gives it, written out by hand: a guid is the link when there is no <link>
    (resolved like it), a plain-text title keeps '<' as text, a date in another zone in UTC, categories
    merged, an enclosure an image by its type, UTF-8 read as Latin-1 repaired, C1 controls as cp1252."""
    taken = fast(QUIRKS)
    assert taken is not None
    first, second, third = taken[0]
    assert first == Entry(
        link="https://partner.example.nl/nieuws/1",
        guid="https://partner.example.nl/nieuws/1",
        title="A &amp; B &lt; C",
        summary="<p>Caf\u00c3\u00a9 \u201c</p>",  # U+0093 is no Latin-1 read from UTF-8: no repair here
        base=URL,
        published=dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC),
        images=(("https://cdn.example.nl/b", None), ("https://cdn.example.nl/t.png", None)),
        categories=("Wonen", "Wonen"),  # the second: a tag without a domain; the third: the same again
    )
    assert second == Entry(
        link="https://partner.example.nl/nieuws/2?x=1&y=2",
        guid="tag:partner,2026:2",
        title="<b>Vet</b> nieuws",
        summary="<p>lang</p>",
        base=URL,
        published=dt.datetime(2026, 11, 20, 7, 0, tzinfo=dt.UTC),
    )
    assert third == Entry(
        link=None, guid="x", title="Geen link, caf\u00e9", summary="", base=URL, published=None
    )
    assert taken == by_feedparser(QUIRKS)


def test_the_fast_path_reads_the_encoding_as_feedparser_does():
    """Without a Content-Type, a body without an encoding declaration is Latin-1 to feedparser; served
    as text/xml without a charset, US-ASCII (and UTF-8 bytes then fall back)."""
    body = (
        '<rss version="2.0"><channel><item><title>Caf\u00e9</title><link>https://p.example.nl/1</link></item>'
    )
    body = (body + "</channel></rss>").encode()
    latin = fast(body)
    assert latin is not None and latin[0][0].title == "Caf\u00e9"  # repaired as feedparser repairs it
    assert latin == by_feedparser(body)
    assert fast(body, content_type="text/xml") is None
    assert read_entries(body, URL, "text/xml")[0] == by_feedparser(body, content_type="text/xml")[0]


# -- declined, and then feedparser's --------------------------------------------------------------
ITEM = "<item><title>T</title><link>https://p.example.nl/1</link><description>D</description></item>"
DECLINED = {
    "doctype": rss(ITEM, head='<!DOCTYPE rss [<!ENTITY x "y">]>'),
    "rdf": (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        b'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>R</title></channel>'
        b'<item rdf:about="https://p.example.nl/1"><title>T</title><link>https://p.example.nl/1</link></item>'
        b"</rdf:RDF>"
    ),
    "atom": (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><title>T</title>'
        b'<link href="https://p.example.nl/1"/><id>1</id></entry></feed>'
    ),
    "rss 0.91 default namespace": rss(
        ITEM, root='<rss version="2.0" xmlns="http://backend.userland.com/rss2"'
    ),
    "broken": rss(ITEM.replace("</title>", "")),
    "undefined entity": rss(ITEM.replace("<title>T", "<title>T&nbsp;")),
    "unknown encoding": rss(ITEM).replace(b"utf-8", b"x-unknown"),
    "latin-1 bytes declared utf-8": rss(ITEM.replace("<title>T", "<title>Caf\xe9")).replace(
        b"Caf\xc3\xa9", b"Caf\xe9"
    ),
    "utf-16": rss(ITEM).decode().replace("utf-8", "utf-16").encode("utf-16"),
    "xml:base": rss(ITEM.replace("<item>", '<item xml:base="https://elders.example.nl/">')),
    "markup in a title": rss(ITEM.replace("<title>T", "<title>T <b>vet</b>")),
    "unknown element": rss(ITEM.replace("<title>", "<source url='x'>S</source><title>")),
    "two titles": rss(ITEM.replace("<title>T</title>", "<title>T</title><title>U</title>")),
    "atom:link in an item": rss(
        ITEM.replace(
            "<title>", '<atom:link xmlns:atom="http://www.w3.org/2005/Atom" href="https://a.nl/"/><title>'
        )
    ),
    "typed description": rss(ITEM.replace("<description>", '<description type="text">')),
    "text before the XML": b"\n \n" + rss(ITEM),
    "no items": rss(""),
}


@pytest.mark.parametrize("kind", DECLINED)
def test_unusual_feeds_are_declined_and_read_by_feedparser(kind: str):
    body = DECLINED[kind]
    assert fast(body) is None
    if kind in ("broken", "undefined entity", "no items"):
        return  # read_entries warns or raises for these exactly as before (the golden comparison says so)
    entries, _warnings, title = read_entries(body, URL)
    assert (entries, title) == by_feedparser(body)


def test_a_local_file_is_left_to_feedparser():
    assert fast(rss(ITEM), "feeds/partner.rss") is None


@pytest.mark.parametrize(
    "hostile",
    [
        '<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
        '<!DOCTYPE rss [<!ENTITY d SYSTEM "file:///etc/passwd">]>',
    ],
)
def test_entities_never_reach_the_fast_path(hostile: str):
    """Billion laughs and XXE: the fast path declines any DOCTYPE, also one hidden in UTF-7 (feedparser then
    reads the feed as it always did)."""
    body = rss(ITEM.replace("<description>D", "<description>&d;"), head=hostile)
    assert fast(body) is None
    utf7 = body.decode().replace("utf-8", "utf-7").encode("utf-7")
    assert fast(utf7, content_type="application/rss+xml; charset=utf-7") is None
    assert read_entries(body, URL)[0] == by_feedparser(body)[0]  # feedparser's, as before this path
    result = safe_parse(body, URL, SourceDefaults("s"), ThemeRules(), NOW)
    assert "root:" not in ("" if isinstance(result, str) else "".join(i.summary_text for i in result.items))


# -- the parts copied from feedparser, against feedparser --------------------------------------------
DATES = [
    "Wed, 25 Nov 2026 10:00:00 +0100", "wed, 25 nov 2026 10:00:00 GMT", "Wednesday, 1 November 2026 10:00 UT",
    "Mon, 31 Feb 2026 10:00:00 +0000", "Mon, 29 Feb 2028 23:59:59 -0930", "Sun, 01 Jan 0001 00:00:00 +0100",
    "Fri, 31 Dec 9999 23:59:59 -0100", "Tue, 10 Nov 2026 25:00:00 +0000", "Tue, 10 Nov 2026 10:00:60 +0000",
    "Tue, 10 Nov 2026 10:00:00 Z", "Tue, 10 Nov 2026 10:00:00 UTC", "Tue, 10 Nov 2026 10:00:00 EST",
    "Tue,  10  Nov  2026  10:00:00  +0000", "10 Nov 2026 10:00:00 +0000", "2026-11-10T10:00:00+01:00",
    "Tue, 10 Nov 26 10:00:00 +0000", "Tue, 10 Nov 2026", "",
]  # fmt: skip


def test_dates_are_read_as_feedparser_reads_them():
    from feedparser.datetimes import _parse_date

    for value in DATES:
        assert xmlfeed._date(value) == feeds._utc(_parse_date(value)), value


def test_the_text_clean_ups_are_feedparsers():
    from feedparser.html import _cp1252
    from feedparser.urls import _urljoin, make_safe_absolute_uri

    assert _cp1252 == xmlfeed._CP1252
    for base in (URL, "https://p.example.nl", "http://p.example.nl/a/b/?q#f", "https://p.example.nl/a/../b"):
        assert xmlfeed._element_base(base) == make_safe_absolute_uri(base, base) or base
        for link in ("/x", "x/../y", "https:///p.example.nl/z", "http://[bad", "https://p.example.nl/ok?a=1"):
            assert xmlfeed._urljoin(base, link) == _urljoin(base, link)


PLAIN = [
    "https://p.example.nl",
    "http://p.example.nl:8080/a/b.jpg?x=1&y=%20",
    "https://a-b.c/~x/(y)!*'/z?q?r",
]
NOT_PLAIN = [
    "https://p.example.nl/a?", "https://p.example.nl/a#f", "https://p.example.nl/a;p", "HTTPS://p.example.nl/",
    "https://p.example.nl/a b", "https://[::1]/", "https://user@p.example.nl/", "https:///p", "/relative",
    "https://p.example.nl/\u00e9", "https://p.example.nl/a\tb", "https://p.example.nl/a\\b",
]  # fmt: skip


def test_plain_absolute_addresses_are_what_urljoin_leaves_alone():
    for url in PLAIN:
        assert PLAIN_ABSOLUTE.fullmatch(url), url
        for base in (URL, "http://elders.example.nl/x/", "ftp://f.example.nl/", "relative/"):
            assert urllib.parse.urljoin(base, url) == url == join(base, url)
    for url in NOT_PLAIN:
        assert not PLAIN_ABSOLUTE.fullmatch(url), url
        assert join(URL, url) == urllib.parse.urljoin(URL, url) if "[" not in url else True


@pytest.mark.slow
def test_every_corpus_file_the_fast_path_takes_gives_feedparsers_entries():
    taken = 0
    for path in corpus_files():
        body, url = path.read_bytes(), "https://corpus.example.nl/feeds/" + path.name
        found = fast(body, url)
        if found is not None:
            taken += 1
            assert found == by_feedparser(body, url), str(path.relative_to(CORPUS))
    assert taken >= 200  # RSS 2.0 files of the real feeds and of feedparser's own tests


def test_the_declared_encoding_is_found_as_feedparsers_expression_finds_it():
    """xmlfeed finds it without the regular expression's backtracking; the same answer on 20,000 first
    lines made of the pieces that matter (quotes, '?>', 'encoding=' twice, a newline)."""
    import random

    pieces = [b"<?", b"xml", b" ", b"encoding=", b"'", b'"', b"utf-8", b"?>", b"\n", b"a", b"<", b"=", b"enc"]
    rng = random.Random(24)
    for _ in range(20_000):
        data = (b"<?" if rng.random() < 0.5 else b"") + b"".join(rng.choices(pieces, k=rng.randint(0, 12)))
        match = xmlfeed._XML_PI_ENCODING.match(data.split(b"\n", 1)[0])
        assert xmlfeed._declared_encoding(data) == (match.group(1) if match else None), data


def test_the_canonical_form_of_a_plain_address_is_urllibs():
    """canonical_url reads a plain address without urllib; on 20,000 addresses made of the parts that
    matter (ports, dots and capitals in the host, tracking and empty parameters, escapes) the answer is the
    one urllib's way gives."""
    import random

    from pipeline.domain import urls

    hosts = ["p.example.nl", "P.Example.NL.", "...", "a-b.c", "x"]
    ports = ["", ":0", ":80", ":443", ":0443", ":8080", ":65535", ":65536", ":99999"]
    paths = ["", "/", "/a/b.jpg", "/A/./../c", "/~x/(y)!*'", "/a%20b", "/a:b@c"]
    queries = [
        "",
        "?",
        "?a=1",
        "?utm_source=rss",
        "?a=1&utm_medium=x&b=",
        "?a",
        "?a=1&&b=2",
        "?a+b=c",
        "?a=%41",
    ]
    queries += ["?fbclid=1", "?UTM_Campaign=z&z=9", "?q=a?b", "?a=1&a=2", "?a=b=c", "?x.y~z-_=v.~-_"]
    rng = random.Random(24)
    for _ in range(20_000):
        scheme = rng.choice(["http", "https"])
        url = f"{scheme}://{rng.choice(hosts)}{rng.choice(ports)}{rng.choice(paths)}{rng.choice(queries)}"
        assert urls.canonical_url(url) == urls._canonical(url), url
        assert urls.canonical_url(url, URL) == urls._canonical(urllib.parse.urljoin(URL, url)), url


def test_joining_is_urljoin():
    """urls.join skips urljoin for plain absolute addresses, plain paths from the root and plain relative
    paths; on 40,000 references made of the parts that matter ('.', '..', '//', '?', '#', ';', ':',
    spaces), against bases with such paths, it answers as urljoin."""
    import random

    bases = [
        "https://p.example.nl",
        "https://P.Example.nl:8443/a/b?x=1",
        "http://h/a/",
        URL,
        "ftp://x/y",
        "https://p.nl/a b",
        "http://h/a//b/c",
        "http://h:8080/a/./b/../c/",
        "https://p.nl/x/..",
        "https://p.nl/x/.",
        "https://p.nl?q=1",
        "https://p.nl/",
    ]
    parts = ["/", "a", ".", "..", "/.", "//", "?", "q=1", "#", ";", "b.jpg", "%20", " ", "~", ":", "x:y"]
    rng = random.Random(24)
    for _ in range(40_000):
        url = ("/" if rng.random() < 0.5 else "") + "".join(rng.choices(parts, k=rng.randint(0, 7)))
        base = rng.choice(bases)
        assert join(base, url) == urllib.parse.urljoin(base, url), (base, url)
    assert join(URL, "/media/1.jpg?w=640") == "https://partner.example.nl/media/1.jpg?w=640"
    assert join(URL, "../wijk/3") == "https://partner.example.nl/wijk/3"


def test_an_unexpected_error_in_one_feed_becomes_its_reason(monkeypatch: pytest.MonkeyPatch):
    """A worker parses with ``safe_parse``: an error nobody foresaw becomes that source's reason (type and
    message, cut at 200 characters), not an exception that ends the run; a feed that is no feed keeps its
    own reason."""

    def broken(*args: object) -> None:
        raise RuntimeError("x" * 300)

    monkeypatch.setattr(feeds, "entry_to_item", broken)
    result = safe_parse(rss(ITEM), URL, SourceDefaults("s"), ThemeRules(), NOW)
    assert result == "could not read the feed (RuntimeError: " + "x" * 200 + ")"
    not_a_feed = safe_parse(b"just text", URL, SourceDefaults("s"), ThemeRules(), NOW)
    assert isinstance(not_a_feed, str) and not_a_feed.startswith("not a feed: ")
