"""Untrusted text and markup made safe: the one place that decides what HTML may pass.

Feeds, submissions and editors' Markdown all go through here before they reach an email or a
page. The allow-list sanitiser is nh3 (Rust's ammonia): no script, style, event handler,
iframe, form or comment survives, and only http(s) and mailto links do.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import nh3

from pipeline.domain.urls import PLAIN_ABSOLUTE, join

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "em", "i", "li", "ol", "p", "pre", "q",
    "s", "small", "strong", "sub", "sup", "u", "ul", "h3", "h4", "img",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}, "abbr": {"title"}}
URL_SCHEMES = {"http", "https", "mailto"}


@functools.cache
def _markdown() -> Any:
    """Markdown for summaries and intros: CommonMark without raw HTML (it is shown as text). Made on first
    use: a collect where no submission changed renders none."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")  # images in an intro would bypass the alt-text and consent rules
    return md


def _link(base_url: str | None, attribute: str, value: str) -> str | None:
    """An href or src made absolute, or None when it is not an http(s) or mailto address."""
    value = value.strip()
    try:
        value = join(base_url, value)
        if PLAIN_ABSOLUTE.fullmatch(value):
            return value  # http(s), as urlsplit would say
        scheme = urlsplit(value).scheme.lower()
    except ValueError:
        # "http://[bad": urllib raises, and nh3 would print the traceback and go on.
        return None
    if scheme not in URL_SCHEMES or (attribute == "src" and scheme == "mailto"):
        return None  # drops javascript:, data:, relative links that could not be resolved
    return value


@functools.cache
def _cleaner() -> Callable[[str], str]:
    """One sanitiser, built once: nh3.clean builds its allow-lists again on every call, which costs more
    than cleaning a title."""
    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
        # Remove these with their content, not only the tags: their text is code, not prose.
        clean_content_tags={"script", "style", "template", "noscript", "iframe", "object", "svg", "math"},
    ).clean


def clean_html(fragment: str, base_url: str | None = None) -> str:
    """Sanitise an HTML fragment; relative links are made absolute against ``base_url``."""
    if not fragment:
        return ""
    cleaned = _cleaner()(fragment)
    if ' href="' not in cleaned and ' src="' not in cleaned:
        return cleaned
    return _URL_TAG.sub(functools.partial(_absolute, base_url), cleaned)


# Links are made absolute after nh3, on its output, rather than by its attribute_filter (a Python call from
# Rust for every attribute). That output, serialised by html5ever, is regular: a start tag with attributes
# is '<name', then each attribute as ' name="value"' (in the value '&', '"', U+00A0, '<' and '>' escaped,
# nothing else), then '>'; no '<' stands anywhere else. An <a> or <img> holds at most one href or src.
_ATTRIBUTES = r'(?: [^ ="]+="[^"]*")*'
# An <a> or <img> whose href or src is not a plain absolute http(s) address (_link gives that back as it is)
_URL_TAG = re.compile(
    rf'<(?:a|img){_ATTRIBUTES}? (href|src)="(?!{PLAIN_ABSOLUTE.pattern}")([^"]*)"{_ATTRIBUTES}>'
)
_ATTRIBUTE = re.compile(r' ([^ ="]+)="([^"]*)"')


def _absolute(base_url: str | None, tag: re.Match[str]) -> str:
    """The tag with its href or src as nh3's attribute_filter set it to ``_link``'s answer; an address
    ``_link`` refuses is removed as ammonia removes it (the tag's last attribute takes its place)."""
    value = _serialised_link(base_url, tag[1], tag[2])
    text = tag[0]
    if value == tag[2]:
        return text
    if value is not None:
        return text[: tag.start(2) - tag.start()] + value + text[tag.end(2) - tag.start() :]
    pairs = _ATTRIBUTE.findall(text)
    at = next(i for i, (name, _) in enumerate(pairs) if name == tag[1])
    last = pairs.pop()  # Vec::swap_remove
    if at < len(pairs):
        pairs[at] = last
    return text[: text.index(" ")] + "".join(f' {name}="{value}"' for name, value in pairs) + ">"


@functools.lru_cache(maxsize=8192)
def _serialised_link(base_url: str | None, attribute: str, value: str) -> str | None:
    """``_link`` of an attribute's value as html5ever writes it (escaped), written the same way. Remembered:
    a feed's entries repeat their links (the site, the share buttons, the images' folder)."""
    raw = _unescape(value) if "&" in value else value
    link = _link(base_url, attribute, raw)
    return None if link is None else value if link == raw else _escape(link)


def _unescape(value: str) -> str:
    for escaped, char in _ESCAPED:
        value = value.replace(escaped, char)
    return value.replace("&amp;", "&")  # the last: "&amp;lt;" is "&lt;"


def _escape(value: str) -> str:
    value = value.replace("&", "&amp;")  # the first
    for escaped, char in _ESCAPED:
        value = value.replace(char, escaped)
    return value


_ESCAPED = (("&quot;", '"'), ("&nbsp;", "\xa0"), ("&lt;", "<"), ("&gt;", ">"))


def markdown_to_html(text: str, base_url: str | None = None) -> str:
    """A little Markdown (emphasis, links, lists) to safe HTML; raw HTML is shown as text."""
    return clean_html(_markdown().render(text or ""), base_url)


_TAG = re.compile(r"<[^>]*>")
_BLOCK = re.compile(r"</?(p|br|li|h\d|blockquote|div|tr)\b[^>]*>", re.I)


def plain_text(fragment: str) -> str:
    """Text of an HTML fragment: tags removed, entities decoded, whitespace collapsed."""
    if not fragment:
        return ""
    if "<" not in fragment:
        simple = _plain_text_without_markup(fragment)
        if simple is not None:
            return simple
    return text_of_clean_html(clean_html(fragment))  # removes script/style content before the tags go


# Text without markup that the sanitiser (html5ever's tokenizer) and html.unescape decode alike: no '<', no
# control character, and every '&' one of a few references ended by ';', or a '&' that starts none (before
# a space, a line break, another '&' or the end). Anything else goes through nh3 (html5ever reads a
# reference without its ';', a control or a noncharacter otherwise than html.unescape).
_NOT_SIMPLE = re.compile(
    r"[<\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff]"
    r"|&(?!(?:amp|lt|gt|quot|apos|nbsp);|#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[ \t\n&]|\Z)"
)
_NUMERIC_REFERENCE = re.compile(r"&#([xX]?)([0-9a-fA-F]+);")


def _plain_text_without_markup(text: str) -> str | None:
    """``plain_text`` of text without markup, without nh3: what html.unescape gives, whitespace collapsed
    (for text the sanitiser would only decode); None when the sanitiser could read it otherwise."""
    if _NOT_SIMPLE.search(text):
        return None
    if "&#" in text:
        for m in _NUMERIC_REFERENCE.finditer(text):
            n = int(m[2], 16 if m[1] else 10)
            # printable, not a surrogate or noncharacter, within Unicode: the same character in both
            printable = 0x20 <= n < 0x7F or 0xA0 <= n < 0xD800 or 0xE000 <= n < 0xFDD0 or n >= 0xFDF0
            if not printable or n > 0x10FFFF or n & 0xFFFE == 0xFFFE:
                return None
    return " ".join(html.unescape(text).split())


def text_of_clean_html(cleaned: str) -> str:
    """``plain_text`` for HTML that already came out of ``clean_html`` (skips sanitising it twice)."""
    if not cleaned:
        return ""
    text = _BLOCK.sub(" ", cleaned)
    text = html.unescape(_TAG.sub("", text))
    return " ".join(text.split())  # what _SPACE.sub(" ", text).strip() gives (the same whitespace), faster


def plain_title(text: str) -> str:
    """A title as plain text: any markup removed, entities decoded, whitespace collapsed.

    Feeds encode titles once, twice or not at all ("&amp;lt;b&amp;gt;"), so decoding repeats until
    nothing changes; whatever still looks like a tag after that is removed, never shown.
    """
    text = text or ""
    for _ in range(4):
        if "<" not in text and "&" not in text:
            break
        decoded = plain_text(text)
        if decoded == text:
            break
        text = decoded
    return " ".join(_TAG.sub("", text).split())
