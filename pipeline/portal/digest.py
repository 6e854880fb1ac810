"""The editors are told: once a day, ``newsletter run`` mails them the partner files saved in the
portal since the last such mail (new, changed, withdrawn, kept beside a changed file); the studio
lists the last two weeks' (``recent``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.domain.config import Config
from pipeline.domain.i18n import _
from pipeline.infra.sendgrid import mail_body, send_or_raise
from pipeline.infra.store import PortalSave, Store
from pipeline.infra.templating import environment, render_template

EVERY = dt.timedelta(hours=23)  # once a day, whichever hour cron runs at
OUTBOX = "redactie"
RECENT = dt.timedelta(days=14)
ACTIONS = {"new": "nieuw", "changed": "aangepast", "withdrawn": "ingetrokken", "conflict": "apart bewaard"}


@dataclass(frozen=True)
class Line:
    partner: str  # the partner's name
    path: str
    action: str  # in Dutch
    at: dt.datetime


def lines(config: Config, saves: list[PortalSave]) -> list[Line]:
    tz = config.settings.timezone
    out = []
    for s in saves:
        partner = config.partners.get(s.partner)
        out.append(
            Line(
                partner.name if partner else s.partner,
                s.path,
                ACTIONS.get(s.action, s.action),
                s.at.astimezone(tz),
            )
        )
    return out


def recent(config: Config, store: Store, now: dt.datetime) -> list[Line]:
    """The saves of the last two weeks, newest first (the studio's list)."""
    return list(reversed(lines(config, store.portal_saves(since=now - RECENT))))


def tell_editors(config: Config, store: Store, env: Mapping[str, str], now: dt.datetime) -> int:
    """Mail the editors the saves not told yet, unless a mail went less than a day ago; the number
    of saves told (0: nothing to tell, no editors, or not yet a day)."""
    last = store.last_portal_digest()
    if last is not None and now - last < EVERY:
        return 0
    saves = store.portal_saves(untold=True)
    s = config.settings
    if not saves or not s.editors:
        return 0
    told = lines(config, saves)
    env_t = environment(config.root / "templates")
    context = {"settings": s, "lines": told}
    files = f"{len(told)} {'bestand' if len(told) == 1 else 'bestanden'}"
    body = mail_body(
        from_email=s.from_email, from_name=s.from_name, reply_to=s.reply_to,
        subject=f"Partnerportaal: {files} nieuw of aangepast",
        text=render_template(env_t, "portal/editors.txt", config.root, **context),
        html=render_template(env_t, "portal/editors.html", config.root, **context),
        recipients=[(e, None) for e in s.editors], categories=["partnerportaal"],
        custom_args={"kind": "portal-digest"},
    )  # fmt: skip
    refused = (
        _("the mail to the editors about the partner portal was not accepted: {reason}"),
        _("see SendGrid's message; the next run tries again"),
    )
    name = f"portaal-{now:%Y%m%dT%H%M%S}"
    send_or_raise(body, s.sendgrid.region, env, config.root / "outbox", OUTBOX, name, refused)
    store.mark_portal_told([x.id for x in saves], now)
    return len(saves)
