"""The server: a bound socket (a free port for 0), its address, and uvicorn serving an app until
Ctrl-C with the ``Limits`` on every connection (``pipeline.infra.connections``)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, replace

from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _
from pipeline.infra.web.asgi import ASGIApp
from pipeline.infra.web.errors import log


@dataclass(frozen=True)
class Limits:
    """How long a client may take, and how many may be connected at once (see docs/audience.md).

    A client that has not sent its request's headers ``header_timeout`` seconds after it connected
    (or after it started the next request on a kept-alive connection) is cut off; so is one whose
    body has not arrived in full ``body_timeout`` seconds after its headers (answered 408 when no
    answer was started). Beyond ``max_connections`` open connections, a new one is answered 503 and
    closed at once. ``max_header_bytes``: the request line and headers together.
    """

    header_timeout: float = 10.0
    body_timeout: float = 30.0  # a 1 MB webhook batch at 35 KB/s; SendGrid sends far faster
    max_connections: int = 2000  # a few KB each; the open-file limit is raised to fit (serve)
    keep_alive: int = 5  # seconds: an idle kept-alive connection is closed after this
    max_header_bytes: int = 16 * 1024


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise PipelineError(
            _("cannot listen on {host}:{port}: {reason}").format(
                host=host, port=port, reason=e.strerror or e
            ),
            _("choose another port with --port, or leave it out for a free one"),
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def address(sock: socket.socket) -> str:
    """The base URL a browser opens for a bound socket (no trailing slash)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


RESERVED_FILES = 100  # open files beside the connections: the database, templates, the watcher, logs


def _open_files(wanted: int) -> int:
    """Raise this process's limit on open files to ``wanted`` where the hard limit allows; the limit."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


def serve(app: ASGIApp, sock: socket.socket, limits: Limits = Limits()) -> None:
    """Serve ``app`` on the bound ``sock`` until Ctrl-C (or SIGTERM); quiet unless something fails.

    Every connection keeps ``limits`` (pipeline.infra.connections: uvicorn itself has no deadline
    for a request's headers or body); the limit on open files is raised to fit
    ``limits.max_connections``, or the cap lowered to fit the limit (said in the log), so that
    accepting a connection never fails for want of a file descriptor."""
    import uvicorn

    from pipeline.infra.connections import protocol

    files = _open_files(limits.max_connections + RESERVED_FILES)
    if files < limits.max_connections + RESERVED_FILES:
        fit = max(files - RESERVED_FILES, 16)
        log.warning(
            _(
                "the system allows {files} open files, so at most {fit} connections at once (not {wanted});"
                " raise LimitNOFILE (systemd) or ulimit -n"
            ).format(files=files, fit=fit, wanted=limits.max_connections)
        )
        limits = replace(limits, max_connections=fit)
    config = uvicorn.Config(
        app,
        http=protocol(limits),
        ws="none",
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=limits.keep_alive,
        h11_max_incomplete_event_size=limits.max_header_bytes,
    )
    uvicorn.Server(config).run(sockets=[sock])
