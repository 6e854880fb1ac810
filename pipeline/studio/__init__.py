"""The studio: editors preview and curate an issue in the browser, live, on the same YAML file.

``newsletter studio ISSUE`` serves it on 127.0.0.1 (``pipeline.cli.studio``). The parts:

- ``workspace``: one snapshot per issue file (check, render, state, candidates, balance), rebuilt
  once per change, and the writes, each through the curate stage (``pipeline.curate.edit``,
  ``approve``, ``draft``) or deliver's test send;
- ``app``: the pages and actions on the shared web layer (``pipeline.infra.web``: loopback or a
  password, CSRF, limits, headers), and the live refresh (watchfiles, server-sent events);
- ``templates/`` and ``static/``: server-rendered HTML, one stylesheet and one small script,
  nothing fetched from elsewhere.

The studio combines stages (curate, render, deliver, and run's check), so it sits above them,
beside ``pipeline.demo``, in the layers import-linter checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from pipeline.domain.config import Config

PASSWORD_VARIABLE = "NEWSLETTER_STUDIO_PASSWORD"


def create(
    config: Config,
    *,
    password: str | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    env: Mapping[str, str] | None = None,
) -> object:
    """The studio's ASGI app for the instance of ``config`` (what ``pipeline.infra.web.serve`` runs)."""
    from pipeline.studio.app import Studio
    from pipeline.studio.workspace import Workspace

    return Studio(Workspace(config, clock=clock, env=env), password=password).asgi
