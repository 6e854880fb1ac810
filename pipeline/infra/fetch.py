"""The only module that fetches feeds and remote submissions, politely and within limits.

Through ``http1`` (a small HTTP/1.1 client on asyncio's streams): many sources at once (a bound
overall and per host), a deadline per source, a cap on the body while it streams (gzip bombs
included), redirects followed with the permanent ones reported, conditional requests (ETag,
Last-Modified) and a bounded retry with backoff for what is worth retrying (timeouts, connection
errors, 429, 5xx).
A local path is read from disk with the same size cap, so the demo and tests need no server:
only a regular file inside the instance (never a device, FIFO or folder, never a link out of it).

No internal address is fetched (unless ``newsletter.collect.allow_private_addresses``): every host,
the first and each redirect's, is resolved once per run, every address it resolves to is checked
(loopback, private, link-local with the cloud metadata, multicast, reserved: refused), and the
connection is made to the checked address, so DNS rebinding between check and connect cannot win.

A failure is a value (``Fetched.status == "failed"`` with a plain reason), never an exception:
one bad source must not stop the others.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pipeline import USER_AGENT
from pipeline.domain.config import Limits
from pipeline.domain.i18n import N_, _
from pipeline.infra import http1, retry
from pipeline.infra.files import (
    NotReadable,
    TooLarge,
    check_regular,
    leads_outside,
    lexically_inside,
    outside_reason,
    read_regular,
)

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
PERMANENT_REDIRECTS = frozenset({301, 308})
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 10.0  # seconds: a server asking for longer than this is treated as down for this run

# Why a request failed, in the words an editor understands, with what to do about it.
# Marked N_: translated where they are used.
STATUS_REASONS = {
    401: N_("the feed needs a login; ask the partner for a public address"),
    403: N_("the server refuses the pipeline; ask the partner to allow it"),
    404: N_("no feed at this address; check the address in sources.yaml"),
    410: N_("the feed was removed; remove it from sources.yaml"),
    429: N_("the server asks us to slow down; it will be tried again next run"),
}
SERVER_FAILED = N_("the server failed")
INVALID_ADDRESS = N_("not a valid web address; check the address in sources.yaml")


@dataclass(frozen=True)
class Request:
    key: str  # the caller's name for it (a source id)
    url: str  # http(s) address, or a local file path
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    key: str
    url: str
    status: str  # "fetched", "unchanged" (304) or "failed"
    body: bytes = b""
    final_url: str | None = None  # after redirects: the base for relative links
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    permanent_redirect: str | None = None  # where a 301/308 pointed: the address to put in sources.yaml
    error: str | None = None
    attempts: int = 1
    seconds: float = 0.0


class _Failure(Exception):
    "One attempt failed; ``retry`` says whether another attempt could help."

    def __init__(self, reason: str, retry: bool = False, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.wait = wait


# -- which addresses may be fetched ----------------------------------------------------------------
ALLOW_SETTING = "newsletter.collect.allow_private_addresses"
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # an IPv4 address behind a NAT64 gateway


class AddressRefused(Exception):
    "An address collect does not connect to; the message says which, why and how to allow it."


def internal_kind(address: str) -> str | None:
    """What kind of internal address ``address`` is ("a loopback address"), or None when it is public.
    The words are English (marked N_): translate them with ``_()`` where they are shown.

    IPv4 inside IPv6 (``::ffff:127.0.0.1``, 6to4, NAT64) is judged by the IPv4 address it carries.
    """
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        carried = ip.ipv4_mapped or ip.sixtofour
        if carried is None and ip in _NAT64:
            carried = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        ip = carried or ip
    if ip.is_loopback:
        return N_("a loopback address")
    if ip.is_unspecified:
        return N_("an unspecified address")
    if ip.is_link_local:
        return N_("a link-local address (where cloud servers keep their metadata)")
    if ip.is_multicast:
        return N_("a multicast address")
    if any(ip in net for net in _PRIVATE):
        return N_("a private address")
    if ip in _SHARED:
        return N_("a shared (carrier-grade NAT) address")
    if ip.is_reserved or not ip.is_global:
        return N_("a reserved address, not on the public internet")
    return None


async def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to, IPv4 and IPv6, in the resolver's order (an address as is)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:  # UnicodeError: a name IDNA refuses ("a..b", a label of 64)
        raise http1.ConnectFailed(str(e)) from None  # reported as "cannot connect (...)", retried
    return list(dict.fromkeys(str(info[4][0]) for info in found))


async def open_stream(address: str, port: int, tls: ssl.SSLContext | None, host: str) -> http1.Streams:
    """A connection to ``address`` (already checked), with TLS for ``host`` when ``tls`` is given."""
    return await asyncio.open_connection(address, port, ssl=tls, server_hostname=host if tls else None)


class _Connector:
    """Opens the HTTP client's connections, only to checked addresses.

    Each host is resolved once per run (the cache also spares a DNS look-up per connection), every
    address it resolves to is checked, and the connection goes to a checked address by number, while
    the Host header and TLS (SNI and the certificate check) keep the host's name.
    """

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._addresses: dict[str, list[str]] = {}
        self._resolving: dict[str, asyncio.Lock] = {}
        self._tls: ssl.SSLContext | None = None

    async def addresses(self, host: str) -> list[str]:
        async with self._resolving.setdefault(host, asyncio.Lock()):
            if host not in self._addresses:
                self._addresses[host] = await resolve(host)
        return self._addresses[host]

    def check(self, host: str, addresses: list[str]) -> None:
        if self.allow_private:
            return
        for address in addresses:
            kind = internal_kind(address)
            if kind is not None:
                if host == address:
                    message = _(
                        "{host} is {kind}: collect refuses internal addresses; set {setting}: true in "
                        "sources.yaml for an intranet feed"
                    )
                else:
                    message = _(
                        "{host} resolves to {address}, {kind}: collect refuses internal addresses; "
                        "set {setting}: true in sources.yaml for an intranet feed"
                    )
                raise AddressRefused(
                    message.format(host=host, address=address, kind=_(kind), setting=ALLOW_SETTING)
                )

    def tls(self) -> ssl.SSLContext:
        "One TLS context for the run, made when the first https feed needs it (loading the CAs costs ~20 ms)."
        if self._tls is None:
            import certifi

            self._tls = ssl.create_default_context(cafile=certifi.where())
        return self._tls

    async def __call__(self, origin: http1.Origin) -> http1.Streams:
        addresses = await self.addresses(origin.host)
        self.check(origin.host, addresses)
        tls = self.tls() if origin.scheme == "https" else None
        failure: Exception = http1.ConnectFailed(_("no address for {host}").format(host=origin.host))
        for address in addresses:
            try:
                return await open_stream(address, origin.port, tls, origin.host)
            except OSError as e:  # refused, unreachable; a failed TLS handshake (ssl.SSLError)
                failure = e  # the last one, made a ConnectFailed with its reason by the client
        raise failure


def is_remote(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _megabytes(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


def _timed_out(seconds: float) -> str:
    return _("timed out after {seconds}").format(seconds=_seconds(seconds))


class Fetcher:
    """One HTTP client for a run; ``fetch_each`` yields results as they finish."""

    def __init__(self, limits: Limits, local_root: Path | None = None) -> None:
        """``local_root``: a local path must lie inside it (the instance); None reads any path."""
        self.limits = limits
        self.local_root = local_root
        self._all = asyncio.Semaphore(limits.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._client = http1.Client(
            _Connector(limits.allow_private_addresses),
            {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "gzip, deflate"},
            MAX_REDIRECTS,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch_each(
        self, requests: Iterable[Request], window: int | None = None, held: int | None = None
    ) -> AsyncIterator[Fetched]:
        """Fetch every request concurrently; yield each result as soon as it is there.

        A result keeps its place until the caller takes it: at most ``held`` requests (default: the
        concurrency) are being fetched or waiting to be taken, so a caller that takes results more
        slowly than they come (parsing) holds at most that many bodies, however many requests there
        are. A request takes its place once its host's turn has come, so requests waiting for a busy
        host leave the places to other hosts. At most ``window`` requests (default: four times the
        concurrency, at least 256) are started and not yet taken: the tasks waiting for their turn.
        """
        window = window or max(4 * self.limits.concurrency, 256)
        places = asyncio.Semaphore(held or self.limits.concurrency)
        todo = iter(requests)
        finished: asyncio.Queue[asyncio.Task[Fetched]] = asyncio.Queue()
        running: set[asyncio.Task[Fetched]] = set()
        taken = 0
        started = 0
        try:
            while True:
                while started - taken < window and (request := next(todo, None)) is not None:
                    task = asyncio.create_task(self.fetch(request, places))
                    task.add_done_callback(finished.put_nowait)
                    running.add(task)
                    started += 1
                if taken == started:
                    return
                done = await finished.get()
                taken += 1
                running.discard(done)
                places.release()
                yield done.result()
        finally:
            for task in running:
                task.cancel()

    async def fetch(self, request: Request, places: asyncio.Semaphore | None = None) -> Fetched:
        """One source, within its deadline; never raises for a network or server problem.

        ``places``: one is taken before the source is read (``fetch_each`` gives it back when its
        caller takes the result)."""
        started = time.monotonic()
        if not is_remote(request.url):
            if places is not None:
                await places.acquire()
            return self._read_local(request, time.monotonic())
        try:
            host = (urlsplit(request.url).hostname or "").lower()
        except ValueError:  # "http://[::1/"
            if places is not None:
                await places.acquire()
            return self._failed(request, _(INVALID_ADDRESS), started, 1)
        per_host = self._hosts.setdefault(host, asyncio.Semaphore(self.limits.per_host))
        attempts = 0
        # The deadline starts once the source has its turn: waiting in line is not its fault.
        async with self._all, per_host:
            if places is not None:
                await places.acquire()
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.limits.timeout):
                    while True:
                        attempts += 1
                        try:
                            return await self._attempt(request, started, attempts)
                        except _Failure as f:
                            if not f.retry or attempts > self.limits.retries:
                                raise
                            pause = (
                                f.wait if f.wait is not None else self.limits.backoff * 2 ** (attempts - 1)
                            )
                            await asyncio.sleep(min(pause, MAX_RETRY_AFTER))
            except TimeoutError:
                reason = _timed_out(self.limits.timeout)
                return self._failed(request, reason, started, attempts)
            except _Failure as f:
                reason = f.reason
                if attempts > 1:
                    reason = _("{reason} (tried {n} times)").format(reason=f.reason, n=attempts)
                return self._failed(request, reason, started, attempts)

    def _failed(self, request: Request, reason: str, started: float, attempts: int) -> Fetched:
        return Fetched(
            request.key, request.url, "failed", error=reason, attempts=attempts,
            seconds=time.monotonic() - started,
        )  # fmt: skip

    async def _attempt(self, request: Request, started: float, attempts: int) -> Fetched:
        headers = {}
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        try:
            answer = await self._client.get(request.url, headers, self.limits.max_bytes)
        except AddressRefused as e:
            raise _Failure(str(e)) from None
        except http1.TooLarge:
            raise _Failure(self._too_big()) from None
        except http1.TooManyRedirects:
            raise _Failure(
                _("more than {n} redirects (a redirect loop?): check the address").format(n=MAX_REDIRECTS)
            ) from None
        except http1.BadEncoding:
            raise _Failure(_("the server sent a broken compressed (gzip/deflate) body")) from None
        except http1.ConnectFailed as e:
            raise _Failure(_("cannot connect ({error})").format(error=e), retry=True) from None
        except http1.BrokenOff as e:
            raise _Failure(_("the connection broke off ({error})").format(error=e), retry=True) from None
        except http1.NotHTTP:
            raise _Failure(_("a redirect led to an address that is not http(s)")) from None
        except http1.BadAddress:
            raise _Failure(_(INVALID_ADDRESS)) from None
        moved = _permanent_redirect(answer.history)
        status = answer.status
        if status == 304:
            return Fetched(
                request.key, request.url, "unchanged", final_url=answer.url,
                etag=answer.headers.get("etag") or request.etag,
                last_modified=answer.headers.get("last-modified") or request.last_modified,
                permanent_redirect=moved, attempts=attempts, seconds=time.monotonic() - started,
            )  # fmt: skip
        if status >= 400:
            reason = f"HTTP {status} {answer.reason}".rstrip()
            hint = STATUS_REASONS.get(status) or (SERVER_FAILED if status >= 500 else None)
            raise _Failure(
                f"{reason}: {_(hint)}" if hint else reason,
                retry=status in RETRY_STATUS,
                wait=retry.retry_after(answer.headers.get("retry-after")),
            )
        if status != 200:
            raise _Failure(
                _("HTTP {code} {phrase}: expected 200 with a feed").format(code=status, phrase=answer.reason)
            )
        return Fetched(
            request.key, request.url, "fetched", body=answer.body, final_url=answer.url,
            content_type=answer.headers.get("content-type"), etag=answer.headers.get("etag"),
            last_modified=answer.headers.get("last-modified"), permanent_redirect=moved,
            attempts=attempts, seconds=time.monotonic() - started,
        )  # fmt: skip

    def _too_big(self) -> str:
        return _("larger than the limit of {size} (newsletter.collect.max_bytes)").format(
            size=_megabytes(self.limits.max_bytes)
        )

    def _read_local(self, request: Request, started: float) -> Fetched:
        path = Path(request.url)
        try:
            check_regular(path)  # first: /dev/zero is a device before it is outside the instance
            if self.local_root is not None:
                if not lexically_inside(path, self.local_root):
                    reason = _(
                        "is outside the instance: only regular files inside the instance are read; "
                        "copy the feed into the instance"
                    )
                    return self._failed(request, reason, started, 1)
                real = leads_outside(path, self.local_root)
                if real is not None:
                    return self._failed(request, outside_reason(real), started, 1)
            body = read_regular(path, self.limits.max_bytes)
        except FileNotFoundError:
            return self._failed(request, _("no such file; check the path in sources.yaml"), started, 1)
        except TooLarge:
            return self._failed(request, self._too_big(), started, 1)
        except NotReadable as e:
            reason = _(
                "{problem}: only regular files inside the instance are read; check the path in sources.yaml"
            ).format(problem=e)
            return self._failed(request, reason, started, 1)
        except OSError as e:
            return self._failed(
                request, _("cannot read the file ({error})").format(error=e.strerror), started, 1
            )
        # No final_url: links in a local file resolve against the feed's own <link>, not file://.
        return Fetched(request.key, request.url, "fetched", body=body, seconds=time.monotonic() - started)


def _permanent_redirect(history: tuple[http1.Hop, ...]) -> str | None:
    """The last address a chain of permanent redirects led to, when the chain started with one."""
    moved = None
    for hop in history:
        if hop.status not in PERMANENT_REDIRECTS:
            break
        moved = hop.location
    return moved


async def fetch_all(
    requests: Iterable[Request], limits: Limits, local_root: Path | None = None
) -> list[Fetched]:
    """Every request fetched (for callers that want the lot at once, like the tests)."""
    fetcher = Fetcher(limits, local_root)
    try:
        return [f async for f in fetcher.fetch_each(requests)]
    finally:
        await fetcher.aclose()
