"""The sanitiser against hostile markup: each input with the exact safe output, written by hand.

Nothing here is read from pipeline.domain.markup's allow-list: widening it (a ``style`` on ``<p>``, an
``<iframe>``, a ``data:`` link) must fail these tests, not pass along with them.
"""

from __future__ import annotations

import pytest

from pipeline.domain.markup import clean_html, markdown_to_html, plain_text

BASE = "https://www.zwolle.example.nl/nieuws/item"  # the page a feed entry links to
REL = 'rel="noopener noreferrer"'

HOSTILE: dict[str, tuple[str, str]] = {
    # code: removed with its content
    "script": ("<p>Hoi<script>alert(1)</script></p>", "<p>Hoi</p>"),
    "script with src": ('<p>a</p><script src="https://evil.example/x.js"></script>', "<p>a</p>"),
    "style element": ("<style>p{color:red}</style><p>Tekst</p>", "<p>Tekst</p>"),
    "nested script trick": ("<scr<script>ipt>alert(1)</script>", "ipt&gt;alert(1)"),
    "noscript, math, template": (
        "<math><mi>x</mi></math><noscript><img src=x onerror=alert(1)></noscript><template><p>t</p></template>",
        "",
    ),
    # event handlers and style attributes
    "event handlers on p": ('<p onclick="steal()" onmouseover="x()">Klik</p>', "<p>Klik</p>"),
    "onerror on img": (
        '<img src="a.jpg" onerror="alert(1)" alt="foto">',
        '<img src="https://www.zwolle.example.nl/nieuws/a.jpg" alt="foto">',
    ),
    "style attribute on p": ('<p style="color:red">a</p>', "<p>a</p>"),
    "style, class and id on img": (
        '<img src="https://x.nl/a.jpg" width="10" height="12" style="border:0" class="c" id="i" alt="a">',
        '<img src="https://x.nl/a.jpg" width="10" height="12" alt="a">',
    ),
    "dir on p": ('<p title="t" lang="nl" dir="rtl">a</p>', '<p title="t" lang="nl">a</p>'),
    "ping and formaction": (
        '<p>a<a href="x" formaction="javascript:alert(1)" ping="https://evil.example/">b</a></p>',
        f'<p>a<a href="https://www.zwolle.example.nl/nieuws/x" {REL}>b</a></p>',
    ),
    # link schemes, plain and obfuscated: the link goes, its text stays
    "javascript:": ('<a href="javascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
    "JaVaScRiPt:": ('<a href="JaVaScRiPt:alert(1)">x</a>', f"<a {REL}>x</a>"),
    "jav&#x09;ascript:": ('<a href="jav&#x09;ascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
    "&#106;avascript:": ('<a href="&#106;avascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
    "java newline script:": ('<a href="java\nscript:alert(1)">x</a>', f"<a {REL}>x</a>"),
    "leading spaces": ('<a href="  javascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
    "data: link": (
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
        f"<a {REL}>x</a>",
    ),
    "vbscript:": ('<a href="vbscript:msgbox(1)">x</a>', f"<a {REL}>x</a>"),
    "data: image": ('<img src="data:image/png;base64,AAAA" alt="x">', '<img alt="x">'),
    "javascript: image, unquoted": ("<IMG SRC=javascript:alert(1)>", "<img>"),
    "unsplittable address": ('<a href="http://[bad">x</a>', f"<a {REL}>x</a>"),
    # embedded content and page-level elements
    "iframe": ('<iframe src="https://evil.example/"></iframe><p>na</p>', "<p>na</p>"),
    "form": ('<form action="https://evil.example/"><input name="pw"><button>Go</button></form>', "Go"),
    "object and embed": ('<object data="x.swf"><param name="a" value="b"></object><embed src="x.swf">', ""),
    "svg with onload": ('<svg onload="alert(1)"><circle r="1"/></svg><p>na</p>', "<p>na</p>"),
    "comment": ("<!-- geheim --><p>a</p>", "<p>a</p>"),
    "meta refresh": ('<meta http-equiv="refresh" content="0;url=https://evil.example/"><p>a</p>', "<p>a</p>"),
    "link stylesheet": ('<link rel="stylesheet" href="https://evil.example/s.css"><p>a</p>', "<p>a</p>"),
    "base href": (
        '<base href="https://evil.example/"><a href="/x">x</a>',
        f'<a href="https://www.zwolle.example.nl/x" {REL}>x</a>',
    ),
    # links that stay: made absolute, never able to reach back to the page that opened them
    "target=_blank": (
        '<a href="https://x.nl/" target="_blank">x</a>',
        f'<a href="https://x.nl/" {REL}>x</a>',
    ),
    "rel=opener": ('<a href="https://x.nl/" rel="opener">x</a>', f'<a href="https://x.nl/" {REL}>x</a>'),
    "root-relative": (
        '<a href="/plan">plan</a>',
        f'<a href="https://www.zwolle.example.nl/plan" {REL}>plan</a>',
    ),
    "dot-dot relative": (
        '<a href="../plan">plan</a>',
        f'<a href="https://www.zwolle.example.nl/plan" {REL}>plan</a>',
    ),
    "protocol-relative": (
        '<a href="//evil.example/x">x</a>',
        f'<a href="https://evil.example/x" {REL}>x</a>',
    ),
    "mailto": (
        '<a href="mailto:redactie@example.nl">mail</a>',
        f'<a href="mailto:redactie@example.nl" {REL}>mail</a>',
    ),
    "title on a link": (
        '<a href="https://x.nl/" title="t">x</a>',
        f'<a href="https://x.nl/" title="t" {REL}>x</a>',
    ),
    # escaped characters in a link made absolute stay escaped; a title that looks like a link stays a title
    "ampersand and quote in a relative link": (
        '<a href="/p?a=1&amp;b=&quot;2&quot;&amp;c=&lt;3&gt;" title="x">x</a>',
        f'<a href="https://www.zwolle.example.nl/p?a=1&amp;b=&quot;2&quot;&amp;c=&lt;3&gt;" title="x" {REL}>x</a>',
    ),
    "title holding an href": (
        """<a title=' href="/x" ' href='y'>x</a>""",
        f'<a title=" href=&quot;/x&quot; " href="https://www.zwolle.example.nl/nieuws/y" {REL}>x</a>',
    ),
    "href as text": ('<p> href="/x"</p>', '<p> href="/x"</p>'),
    # a refused link goes, and (as ammonia removes an attribute) the last attribute takes its place
    "mailto image": (
        '<img src="mailto:a@b.nl" alt="x" width="5" height="6">',
        '<img height="6" alt="x" width="5">',
    ),
    "unsplittable relative address": (
        '<a href="//[bad" title="t" lang="nl">x</a>',
        f'<a {REL} title="t" lang="nl">x</a>',
    ),
    # structure that is not ours: the tags go, the text stays
    "div": ('<div class="x"><p>ok</p></div>', "<p>ok</p>"),
    "h1, and h3 kept": ("<h1>Kop</h1><h3>Kop3</h3>", "Kop<h3>Kop3</h3>"),
    "table": ("<table><tr><td>cel</td></tr></table>", "cel"),
    "unclosed p": ("<p>a", "<p>a</p>"),
    "escaped text stays text": (
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
    ),
    "allowed inline markup": (
        "<p><strong>vet</strong>, <em>schuin</em>, <code>x</code></p><ul><li>een</li></ul>",
        "<p><strong>vet</strong>, <em>schuin</em>, <code>x</code></p><ul><li>een</li></ul>",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_markup_becomes_exactly_this(name: str) -> None:
    given, safe = HOSTILE[name]
    assert clean_html(given, BASE) == safe


def test_without_a_base_a_relative_link_is_dropped_not_kept_relative() -> None:
    assert (
        clean_html('<a href="/plan">plan</a><img src="a.jpg" alt="a">') == f'<a {REL}>plan</a><img alt="a">'
    )


MARKDOWN = {
    "raw html is text": ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"),
    "javascript: link is text": ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>\n"),
    "relative link made absolute": (
        "[plan](/plan)",
        f'<p><a href="https://www.zwolle.example.nl/plan" {REL}>plan</a></p>\n',
    ),
    "no images": ("![foto](https://x.nl/a.png)", f'<p>!<a href="https://x.nl/a.png" {REL}>foto</a></p>\n'),
    "emphasis and a link": (
        "**vet** en [link](https://x.nl/a)",
        f'<p><strong>vet</strong> en <a href="https://x.nl/a" {REL}>link</a></p>\n',
    ),
}


@pytest.mark.parametrize("name", list(MARKDOWN))
def test_markdown_from_editors_becomes_exactly_this(name: str) -> None:
    given, safe = MARKDOWN[name]
    assert markdown_to_html(given, BASE) == safe


def test_plain_text_drops_code_with_its_content() -> None:
    assert plain_text("<p>Hoi<script>alert(1)</script></p><style>p{}</style><p>daar</p>") == "Hoi daar"


# Text without markup: plain_text decodes it without the sanitiser where both read it alike, and leaves the
# rest to the sanitiser (HTML's rules for a reference without ';', a control, a BOM). Written by hand from
# the HTML standard's character references.
PLAIN: dict[str, str] = {
    "Foto 1 &amp; uitleg": "Foto 1 & uitleg",
    "Foto 1 & uitleg": "Foto 1 & uitleg",
    "Zwolle&#8217;s plan": "Zwolle\u2019s plan",
    "Zwolle&#x2019;s plan": "Zwolle\u2019s plan",
    "a &lt;b&gt; c &quot;d&quot; &apos;e&apos;": "a <b> c \"d\" 'e'",
    "  twee\n\tregels  ": "twee regels",
    "x &nbsp;y": "x y",
    "R&amp;D&": "R&D&",
    "emoji &#128512;": "emoji \U0001f600",
    # the sanitiser's reading, not html.unescape's
    "AT&T": "AT&T",
    "&copy 2026": "\u00a9 2026",  # a legacy reference without ';' is still one in text
    "&notit; nu": "\u00acit; nu",
    "&#1;x": "\x01x",  # html.unescape drops a control; HTML keeps it
    "&#xFFFF;x": "\uffffx",  # and a noncharacter
    "&#x80; &#0; &#x110000;": "\u20ac \ufffd \ufffd",
    "\ufeffTitel": "Titel",  # a byte order mark at the start goes
    "een\r\ntwee": "een twee",
}


@pytest.mark.parametrize("text", PLAIN)
def test_plain_text_of_text_without_markup(text: str) -> None:
    assert plain_text(text) == PLAIN[text]


def test_links_are_made_absolute_as_nh3s_attribute_filter_made_them() -> None:
    """clean_html makes links absolute on nh3's output instead of through its attribute_filter (a Python call
    for every attribute); on thousands of generated fragments (every kind of address, escaped characters,
    attributes around and after the link, refused links) it gives what the filter gave."""
    import random

    import nh3

    from pipeline.domain import markup

    base: list[str | None] = [None]

    def absolute(element: str, attribute: str, value: str) -> str | None:
        return markup._link(base[0], attribute, value) if attribute in ("href", "src") else value

    reference = nh3.Cleaner(
        tags=markup.ALLOWED_TAGS,
        attributes=markup.ALLOWED_ATTRIBUTES,
        url_schemes=markup.URL_SCHEMES,
        attribute_filter=absolute,
        link_rel="noopener noreferrer",
        strip_comments=True,
        clean_content_tags={"script", "style", "template", "noscript", "iframe", "object", "svg", "math"},
    ).clean
    bases = [None, "", BASE, "http://127.0.0.1:8000/a/b/feed.rss", "https://h.nl/a?q=1#f", "http://[bad/"]
    values = [
        "", " x ", "/a", "../b", "./c?d=1", "//cdn.nl/i.jpg", "https://x.nl/a?b=1&c=2", "http://x.nl/a b",
        "javascript:alert(1)", " JaVaScRiPt:x", "mailto:a@b.nl", "data:image/png;base64,AA", "http://[bad",
        "//[bad", "?q=1", "#f", "a&amp;b", "a&b", "a&quot;b", "a\xa0b", "&nbsp;x", "a<b>c", ' href="/x"',
        "https://x.nl/\u00e9", "HTTPS://X.NL/", "http://x.nl:80/", "http:x", "ftp://x/", "%20", "/\\evil",
        "https://x.nl/a?", "tel:1", "http://x.nl/a/../b", "///x", "\tjava\nscript:x",
    ]  # fmt: skip
    names = ["href", "src", "title", "alt", "width", "lang", "rel", "onclick", "HREF"]
    texts = ["tekst", "a &amp; b", "<", ' src="/x"']
    rng = random.Random(24)
    for _ in range(3000):
        parts = []
        for _ in range(rng.randint(1, 4)):
            tag = rng.choice(["a", "img", "abbr", "p", "IMG"])
            attributes = "".join(
                f" {rng.choice(names)}='{rng.choice(values)}{rng.choice(values)}'"
                for _ in range(rng.randint(0, 5))
            )
            parts.append(f"<{tag}{attributes}>{rng.choice(texts)}</{tag}>")
        fragment = "".join(parts)
        base[0] = rng.choice(bases)
        assert clean_html(fragment, base[0]) == reference(fragment), (fragment, base[0])
