"""The links of an issue: their hygiene (sent before, shared, plain http, tracking parameters) and,
with ``check --links``, whether each answers."""

from __future__ import annotations

import re
from html import unescape
from typing import TYPE_CHECKING, Any

from pipeline.domain.errors import Problem
from pipeline.domain.i18n import _
from pipeline.domain.issues import Entry, Issue
from pipeline.domain.models import Image, Item
from pipeline.domain.urls import same_page, tracking_params
from pipeline.infra.store import Store

if TYPE_CHECKING:
    import httpx


LINK_TIMEOUT = 10.0  # seconds per link for 'check --links'
LINK_CONCURRENCY = 8  # links checked at once


def image_of(entry: Entry, item: Item | None) -> tuple[Image | None, bool]:
    """The entry's image and whether the editor wrote it (else it is the item's own)."""
    if entry.image is not None:
        return entry.image, True
    return (item.image if item else None), False


# -- links: hygiene --------------------------------------------------------------------------------------
_SUMMARY_HREF = re.compile(r'<a\b[^>]*\bhref="([^"]+)"', re.I)
_MARKDOWN_URL = re.compile(r"https?://[^\s)<>\]\"']+")


def _outgoing(
    issue: Issue, entries: list[tuple[Any, Entry]], items: dict[str, Item]
) -> list[tuple[str, int]]:
    """Every link a reader can click, with its line: the intro's, each entry's own and those inside
    the summaries that go out (the partner's, or the editor's override)."""
    found = [
        (m.group(0).rstrip(".,;:"), issue.line("intro")) for m in _MARKDOWN_URL.finditer(issue.intro or "")
    ]
    for _line, e in entries:
        item = items.get(e.item) if e.item else None
        url = e.url or (item.url if item else None)
        if url:
            found.append((url, e.line))
        if e.summary is not None:
            found += [(m.group(0).rstrip(".,;:"), e.line) for m in _MARKDOWN_URL.finditer(e.summary)]
        elif item is not None:
            found += [(unescape(m.group(1)), e.line) for m in _SUMMARY_HREF.finditer(item.summary_html)]
    return found


def link_hygiene(
    store: Store,
    issue: Issue,
    entries: list[tuple[Any, Entry]],
    items: dict[str, Item],
    earlier: dict[str, str],
) -> list[Problem]:
    """Warnings for links that went out before, that two entries share, that are plain http, or that
    carry the partner's tracking parameters."""
    out: list[Problem] = []

    def warn(line: int, message: str) -> None:
        out.append(Problem(issue.path, line, message, "warning"))

    # Pages sent before, by what was sent: the items of earlier issues.
    before: dict[str, tuple[str, str]] = {}
    sent_items = store.get_items(earlier)
    for item_id, issue_id in earlier.items():
        sent = sent_items.get(item_id)
        key = same_page(sent.url) if sent else None
        if sent and key:
            before.setdefault(key, (issue_id, sent.title))
    first_use: dict[str, tuple[int, str | None]] = {}
    for _line, e in entries:
        item = items.get(e.item) if e.item else None
        url = e.url or (item.url if item else None)
        key = same_page(url) if url else None
        if not url or not key:
            continue
        if key in before and e.item not in earlier:  # an item sent before is an error already
            issue_id, title = before[key]
            message = _(
                "link {url} also went out in issue {issue} ('{title}'); readers saw it then: "
                "remove the entry, or link to what is new"
            )
            warn(e.line, message.format(url=url, issue=issue_id, title=title))
        if key in first_use and (not e.item or first_use[key][1] != e.item):  # one item twice: an error
            message = _(
                "link {url} is also the link of the entry on line {line}; readers would get the "
                "same page twice: keep one of them"
            )
            warn(e.line, message.format(url=url, line=first_use[key][0]))
        first_use.setdefault(key, (e.line, e.item))
    reported: set[tuple[str, int]] = set()
    for url, line in _outgoing(issue, entries, items):
        if (url, line) in reported:
            continue
        reported.add((url, line))
        if url.lower().startswith("http://"):
            warn(line, _("link {url} is plain http://; write https:// if the site has it (mail apps and "
                         "browsers warn readers about http)").format(url=url))  # fmt: skip
        params = tracking_params(url)
        if params:
            warn(line, _("link {url} carries tracking parameters ({params}); remove them, the newsletter "
                         "adds its own").format(url=url, params=", ".join(params)))  # fmt: skip
    return out


def issue_links(issue: Issue, entries: list[tuple[Any, Entry]], items: dict[str, Item]) -> dict[str, int]:
    """Every link that goes out, with the line of its first use."""
    found: dict[str, int] = {}
    for m in re.finditer(r"https?://[^\s)<>\]\"']+", issue.intro or ""):
        found.setdefault(m.group(0).rstrip(".,;:"), issue.line("intro"))
    for _line, e in entries:
        item = items.get(e.item) if e.item else None
        url = e.url or (item.url if item else None)
        if url:
            found.setdefault(url, e.line)
        image, _own = image_of(e, item)
        if image is not None and image.consent and image.alt:
            found.setdefault(image.url, e.line)
    return found


def check_links(
    issue: Issue, links: dict[str, int], *, timeout: float = LINK_TIMEOUT, concurrency: int = LINK_CONCURRENCY
) -> list[Problem]:
    """An error for each link that does not answer with success (HEAD, else GET) within ``timeout`` s."""
    import asyncio

    return asyncio.run(_check_links(issue, links, timeout, concurrency))


async def _check_links(
    issue: Issue, links: dict[str, int], timeout: float, concurrency: int
) -> list[Problem]:
    import asyncio

    import httpx  # imported here: only 'check --links' talks HTTP

    gate = asyncio.Semaphore(concurrency)
    headers = {"User-Agent": "newsletter-pipeline link check"}

    async def one(client: httpx.AsyncClient, url: str, line: int) -> Problem | None:
        async with gate:
            try:
                answer = await asyncio.wait_for(_probe(client, url), timeout)
            except (TimeoutError, httpx.TimeoutException):
                why = _("link {url} did not answer within {seconds} s; correct the address or remove it")
                return Problem(issue.path, line, why.format(url=url, seconds=f"{timeout:g}"))
            except httpx.HTTPError as e:
                why = _("link {url} cannot be reached ({error}); correct the address or remove it")
                return Problem(issue.path, line, why.format(url=url, error=type(e).__name__))
            if answer < 400:
                return None
            status = f"{answer} {httpx.codes.get_reason_phrase(answer)}".rstrip()
            why = _("link {url} answers {status}; correct the address or remove it")
            return Problem(issue.path, line, why.format(url=url, status=status))

    async with httpx.AsyncClient(follow_redirects=True, timeout=timeout, headers=headers) as client:
        found = await asyncio.gather(*(one(client, u, line) for u, line in links.items()))
    return [p for p in found if p]


async def _probe(client: httpx.AsyncClient, url: str) -> int:
    import httpx

    # HEAD is cheap, but some servers refuse or mishandle it: any failure gets one GET.
    try:
        head = await client.head(url)
        if head.status_code < 400:
            return head.status_code
    except httpx.TimeoutException:
        raise
    except httpx.HTTPError:
        pass
    async with client.stream("GET", url) as response:
        return response.status_code
