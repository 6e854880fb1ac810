"""The options both web services (``serve`` and ``studio``) share: how long a client may take, and
how many may be connected at once (``pipeline.infra.web.Limits``; docs/audience.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from pipeline.domain.i18n import _
from pipeline.infra.web import Limits

DEFAULTS = Limits()


def _seconds_option(flag: str, default: float, help: str) -> Callable[..., Any]:
    """A time limit in seconds, from a tenth of a second to an hour."""
    return click.option(
        flag,
        type=click.FloatRange(0.1, 3600),
        default=default,
        show_default=True,
        metavar="SECONDS",
        help=help,
    )


def limit_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --header-timeout, --body-timeout and --max-connections; the command gets ``limits``."""
    options = [
        _seconds_option(
            "--header-timeout",
            DEFAULTS.header_timeout,
            _("Close a connection whose request headers are not complete after this long."),
        ),
        _seconds_option(
            "--body-timeout",
            DEFAULTS.body_timeout,
            _("Answer 408 and close when a request body is not complete this long after its headers."),
        ),
        click.option(
            "--max-connections",
            type=click.IntRange(1, 100_000),
            default=DEFAULTS.max_connections,
            show_default=True,
            help=_("Answer 503 to a new connection while this many are open."),
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def limits_from(header_timeout: float, body_timeout: float, max_connections: int) -> Limits:
    return Limits(header_timeout=header_timeout, body_timeout=body_timeout, max_connections=max_connections)
