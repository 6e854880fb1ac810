"""Web addresses: the canonical form that identifies a story, and the tracking parameters in a link.

Collect uses ``canonical_url`` to make one item of the same story reached through two links; curate's
check uses ``tracking_params`` and the canonical form to find links that carry a partner's tracking,
or that went out before.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that only say where a click came from; two links that differ in these are the
# same story. utm_* are matched by prefix.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
     "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "wt_mc", "at_medium",
     "at_campaign"}
)  # fmt: skip


def is_tracking(name: str) -> bool:
    """Whether a query parameter only says where a click came from (utm_*, fbclid, ...)."""
    key = name.lower()
    return key.startswith("utm_") or key in TRACKING_PARAMS


def tracking_params(url: str) -> list[str]:
    """The tracking parameters in ``url``, in their order (empty for an address that cannot be read)."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return []
    return list(dict.fromkeys(k for k, _ in parse_qsl(query, keep_blank_values=True) if is_tracking(k)))


# An absolute http(s) address of plain ASCII (no fragment, parameters, empty query, spaces or escapes
# urllib would drop or change): urljoin(any base, it) is itself, so joining it can be skipped.
_URL_CHARS = r"A-Za-z0-9\-._~!$&'()*+,=:@%/"
PLAIN_ABSOLUTE = re.compile(
    rf"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[{_URL_CHARS}]*)?(?:\?[{_URL_CHARS}?]+)?"
)


# A plain path from the root ('/media/1.jpg?w=640'), without '.' or '..' segments; and a plain base's origin.
_ROOTED_PATH = re.compile(rf"/(?![/.])(?:[{_URL_CHARS.replace('/', '')}]|/(?!\.))*(?:\?[{_URL_CHARS}?]+)?")
_ORIGIN = re.compile(r"https?://[^/?]+")


# A plain relative path ('../wijk/3', 'a/./b?c=1'): no scheme (no ':'), no fragment, not from the root; a
# plain base in parts (its origin and its path).
_PATH_CHARS = _URL_CHARS.replace(":", "")
_RELATIVE_PATH = re.compile(rf"(?!/)[{_PATH_CHARS}]+(?:\?[{_URL_CHARS}?]+)?")
_PLAIN_BASE = re.compile(rf"(https?://[A-Za-z0-9.-]+(?::[0-9]+)?)(/[{_URL_CHARS}]*)?(?:\?[{_URL_CHARS}?]+)?")


def join(base: str | None, url: str) -> str:
    """``urljoin(base, url)``, without its work when ``url`` is already plain and absolute, a plain path
    from the root of a plain base (then it is the base's origin and the path), or a plain relative path
    against a plain base (urljoin's own steps, without its parsing; tests/test_urls.py compares them)."""
    if not base or PLAIN_ABSOLUTE.fullmatch(url):
        return url
    if url[:1] == "/":
        if _ROOTED_PATH.fullmatch(url) and PLAIN_ABSOLUTE.fullmatch(base):
            return _ORIGIN.match(base).group() + url  # type: ignore[union-attr]
    elif _RELATIVE_PATH.fullmatch(url) and (parts := _PLAIN_BASE.fullmatch(base)):
        return _join_relative(parts[1], parts[2] or "", url)
    return urljoin(base, url)


def _join_relative(origin: str, base_path: str, url: str) -> str:
    """urljoin's resolution of a relative path (Python 3.11's urllib.parse.urljoin, step by step)."""
    path, _, query = url.partition("?")
    segments = base_path.split("/")
    if segments[-1] != "":
        del segments[-1]
    segments += path.split("/")
    segments[1:-1] = filter(None, segments[1:-1])  # urljoin drops empty segments in between
    resolved: list[str] = []
    for segment in segments:
        if segment == "..":
            if resolved:
                resolved.pop()
        elif segment != ".":
            resolved.append(segment)
    if segments[-1] in (".", ".."):
        resolved.append("")
    joined = "/".join(resolved) or "/"
    if joined[:1] != "/":
        joined = "/" + joined
    return origin + joined + ("?" + query if query else "")


def canonical_url(url: str, base: str | None = None) -> str | None:
    """The URL that identifies a story: absolute http(s), host lower-cased, no fragment, no tracking.

    Returns None for anything that is not an http(s) address.
    """
    url = (url or "").strip()
    try:  # a feed's "http://[host" makes urllib raise; that link is no address, not a failed feed
        url = join(base, url)
    except ValueError:
        return None
    plain = _PLAIN_PARTS.fullmatch(url)
    if plain and (plain["query"] is None or _PLAIN_QUERY.fullmatch(plain["query"])):
        return _canonical_plain(plain)
    return _canonical(url)


# A plain absolute address in parts, and a query of name=value pairs that parse_qsl and urlencode give
# back unchanged (only the characters quote_plus leaves alone).
_PLAIN_PARTS = re.compile(
    rf"(?P<scheme>https?)://(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>[0-9]+))?(?P<path>/[{_URL_CHARS}]*)?"
    rf"(?:\?(?P<query>[{_URL_CHARS}?]+))?"
)
_PAIR = r"[A-Za-z0-9_.~-]+=[A-Za-z0-9_.~-]*"
_PLAIN_QUERY = re.compile(rf"{_PAIR}(?:&{_PAIR})*")


def _canonical_plain(parts: re.Match[str]) -> str | None:
    """``_canonical`` of a plain address, without urllib: the same string (tests/test_collect_fastpath.py
    compares the two on every kind of plain address)."""
    host = parts["host"].lower().rstrip(".")
    port = int(parts["port"]) if parts["port"] is not None else None
    if not host or (port is not None and port > 65535):
        return None
    scheme = parts["scheme"]
    netloc = f"{host}:{port}" if port and port != {"http": 80, "https": 443}[scheme] else host
    query = parts["query"]
    if query:
        query = "&".join(pair for pair in query.split("&") if not is_tracking(pair.split("=", 1)[0]))
    return f"{scheme}://{netloc}{parts['path'] or '/'}" + (f"?{query}" if query else "")


def _canonical(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return None
    netloc = host.lower()
    if port and port != {"http": 80, "https": 443}[scheme]:
        netloc += f":{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k)]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


def image_ext(url: str | None) -> bool:
    """Whether a URL's path ends like an image file's."""
    try:
        return bool(url) and urlsplit(url or "").path.lower().endswith(IMAGE_EXTENSIONS)
    except ValueError:  # "http://[bad": not an image we could show
        return False


def same_page(url: str) -> str | None:
    """A key for "the same page": the canonical URL without its scheme (http and https are one page)."""
    canonical = canonical_url(url)
    return canonical.split("://", 1)[1] if canonical else None
