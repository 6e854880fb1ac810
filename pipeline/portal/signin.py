"""Signing in by mail: the link (single use, 30 minutes), its mail, and the sessions (8 hours).

Only the sha256 of a link's token and of a session's cookie is kept in the store: a copy of the
database signs in nobody. The CSRF token of a session's forms is derived from its cookie (an HMAC),
so every web host sharing the store accepts the same forms without keeping another secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import replace

from pipeline.domain.config import Config
from pipeline.domain.i18n import _
from pipeline.infra.sendgrid import mail_body, send_or_raise
from pipeline.infra.store import PortalSession, Store
from pipeline.infra.templating import environment, render_template

LINK_MINUTES = 30
SESSION_HOURS = 8
MAILS_PER_ADDRESS = 3  # sign-in mails per address per hour
REQUESTS_PER_CLIENT = 20  # sign-in requests per client per hour
HOUR = dt.timedelta(hours=1)
OUTBOX = "partners"


def hashed(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def partner_of(config: Config, email: str) -> str | None:
    """The partner an address signs in for, or None (case and spaces do not matter)."""
    wanted = email.strip().lower()
    for partner in config.partners.values():
        if wanted in partner.portal_addresses():
            return partner.id
    return None


def csrf_token(session: str) -> str:
    return hmac.new(session.encode(), b"portal-csrf", hashlib.sha256).hexdigest()


def request_link(config: Config, store: Store, email: str, client: str, now: dt.datetime) -> str | None:
    """A new sign-in link's token for a partner's address, or None: an unknown address, or over the
    limits (per client and per address, counted in the store so that every host counts them)."""
    if not store.allow(f"portal:client:{client}", REQUESTS_PER_CLIENT, HOUR, now):
        return None
    partner = partner_of(config, email)
    if partner is None:
        return None
    if not store.allow(f"portal:mail:{hashed(email.strip().lower())}", MAILS_PER_ADDRESS, HOUR, now):
        return None
    token = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(minutes=LINK_MINUTES)
    store.add_portal_token(hashed(token), partner, email.strip().lower(), now, expires)
    return token


def use_link(store: Store, token: str, now: dt.datetime) -> tuple[str, str | None]:
    """Press the button: ('ok', the new session's cookie) or ('used' | 'expired' | 'unknown', None)."""
    if not token or len(token) > 200:
        return "unknown", None
    outcome, who = store.use_portal_token(hashed(token), now)
    if who is None:
        return outcome, None
    session = secrets.token_urlsafe(32)
    store.start_portal_session(
        hashed(session), replace(who, expires=now + dt.timedelta(hours=SESSION_HOURS)), now
    )
    return "ok", session


def session_of(store: Store, cookie: str | None, now: dt.datetime) -> PortalSession | None:
    if not cookie or len(cookie) > 200:
        return None
    return store.portal_session(hashed(cookie), now)


def link_mail(
    config: Config, email: str, token: str, base_url: str, env: Mapping[str, str], now: dt.datetime
) -> None:
    """The mail with the sign-in link: through SendGrid, or into ``outbox/partners/``."""
    s = config.settings
    link = f"{base_url.rstrip('/')}/partners/inloggen?token={token}"
    partner = config.partners[partner_of(config, email) or ""]
    context = {"link": link, "settings": s, "partner": partner, "minutes": LINK_MINUTES}
    env_t = environment(config.root / "templates")
    text = render_template(env_t, "portal/mail.txt", config.root, **context)
    page = render_template(env_t, "portal/mail.html", config.root, **context)
    body = mail_body(
        from_email=s.from_email, from_name=s.from_name, reply_to=s.reply_to,
        subject=f"Je link voor het partnerportaal van {s.title}", text=text, html=page,
        recipients=[(email, None)], categories=["partnerportaal"], custom_args={"kind": "portal"},
    )  # fmt: skip
    name = f"inloggen-{now:%Y%m%dT%H%M%S}-{hashed(token)[:8]}"
    refused = _("the sign-in mail was not accepted: {reason}"), _("see SendGrid's message")
    send_or_raise(body, s.sendgrid.region, env, config.root / "outbox", OUTBOX, name, refused)
