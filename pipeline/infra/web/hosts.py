"""Who may connect: a service listens on loopback unless a password is set (``check_exposure``), and
the client's address, forwarded by a web server on loopback (``client_of``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _

DEFAULT_HOST = "127.0.0.1"
LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}


class ExposureRefused(PipelineError):
    "A service would listen beyond this computer without a password."

    exit_code = 2


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name, with or without brackets) is this computer only."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def client_of(scope: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The client's address: the peer, or, behind a web server on loopback, the one it forwarded."""
    peer = (scope.get("client") or ("?", 0))[0]
    forwarded = headers.get("x-forwarded-for", "")
    if forwarded and is_loopback(peer):
        return forwarded.split(",")[-1].strip() or peer
    return str(peer)


def check_exposure(host: str, password: str | None, password_variable: str) -> None:
    """Refuse a non-loopback ``host`` unless a password is set (in ``password_variable``)."""
    if is_loopback(host):
        return
    if not password:
        raise ExposureRefused(
            _(
                "--host {host} would let anyone who can reach this computer use the service, and no "
                "password is set"
            ).format(host=host),
            _(
                "leave out --host to use it on this computer only (127.0.0.1), or set {variable} "
                "to a long password first"
            ).format(variable=password_variable),
        )
    if len(password) < 12:
        raise ExposureRefused(
            _(
                "{variable} is {n} characters; a service reachable from the network needs a longer password"
            ).format(variable=password_variable, n=len(password)),
            _("set {variable} to at least 12 characters (a few words will do)").format(
                variable=password_variable
            ),
        )
