"""Links and plain text: the settings' UTM parameters on outbound links (``add_utm``, and on every
link of compiled HTML), and sanitised HTML as readable text for the email's text part."""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pipeline.domain.markup import text_of_clean_html


def add_utm(url: str, utm: Mapping[str, str], issue_id: str) -> str:
    """``url`` with the settings' utm_* parameters, for outbound http(s) links that carry none yet."""
    if not utm:
        return url
    return _add_utm(url, tuple(utm.items()), issue_id)


@functools.lru_cache(maxsize=4096)  # the same links again in every edition of an issue
def _add_utm(url: str, utm: tuple[tuple[str, str], ...], issue_id: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc.endswith("nl-token.invalid"):
        return url
    if any(k.lower().startswith("utm_") for k, _value in parse_qsl(parts.query, keep_blank_values=True)):
        return url  # the partner tagged it themselves; theirs wins
    # Appended, not re-encoded: the partner's own query stays exactly as they wrote it.
    ours = urlencode([(f"utm_{k}", v.replace("{issue}", issue_id)) for k, v in utm if v])
    query = f"{parts.query}&{ours}" if parts.query else ours
    return urlunsplit(parts._replace(query=query))


_HREF = re.compile(r'href="([^"]*)"')


def tag_links(markup: str, utm: Mapping[str, str], issue_id: str) -> str:
    """UTM on every outbound link of compiled HTML (the templates' own and those inside summaries)."""

    def one(m: re.Match[str]) -> str:
        url = add_utm(html.unescape(m.group(1)), utm, issue_id)
        return f'href="{html.escape(url, quote=True)}"'

    return _HREF.sub(one, markup)


_LINK = re.compile(r'<a\b[^>]*\bhref="([^"]*)"[^>]*>(.*?)</a>', re.S | re.I)
_PARA_END = re.compile(r"</(p|h\d|blockquote|pre|ul|ol)>", re.I)
_ITEM = re.compile(r"<li\b[^>]*>", re.I)
_BREAK = re.compile(r"<br\s*/?>", re.I)


def fragment_text(fragment: str, tag: Callable[[str], str] = str) -> str:
    """Sanitised HTML as readable text: paragraphs kept, list items as "- ", links as "text (url)".

    ``tag`` rewrites each link (the email adds UTM parameters).
    """
    if not fragment:
        return ""

    def link(m: re.Match[str]) -> str:
        url, text = tag(html.unescape(m.group(1))), text_of_clean_html(m.group(2))
        shown = url.removeprefix("mailto:")
        return shown if text in (url, shown, "") else f"{text} ({shown})"

    # Newlines in HTML are spaces; only the elements below break lines.
    text = _LINK.sub(lambda m: html.escape(link(m), quote=False), fragment.replace("\n", " "))
    text = _PARA_END.sub("\n\n", text)
    text = _ITEM.sub("\n- ", text)
    text = _BREAK.sub("\n", text)
    paragraphs = []
    for block in text.split("\n\n"):
        lines = []
        for line in block.split("\n"):
            bullet = line.strip().startswith("- ")
            words = text_of_clean_html(line.strip()[2:] if bullet else line)
            if words:
                lines.append(f"- {words}" if bullet else words)
        if lines:
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)
