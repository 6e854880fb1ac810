"""Audience: who gets the newsletter, with their consent on record, and what comes back from SendGrid.

- Sign-up with double opt-in (``signup``, ``confirm``): a reader fills in the form; the answer is
  the same whether the address is new, pending or subscribed already; a confirmation mail with a
  single-use link (only its sha256 is kept; valid ``newsletter.signup.link_days``, 7) makes them a
  subscriber, with the consent on record: when, through which form, which version of the text.
  Until the link is used nothing about a known address changes: the form's details wait with the
  token, so nobody can undo someone's unsubscribe (or rename her) by typing her address.
- An existing list brought in with its legal basis (``import_list``; it never brings back anyone
  who left: unsubscribed, bounced, complained, invalid), and the active subscribers written out
  (``export_rows``). When the list lives in the state database, sends go to its active
  subscribers; an instance that only has the CSV keeps sending to the CSV.
- SendGrid's signed Event Webhook (``verify``, ``read_events``, ``apply_events``): bounces, dropped
  addresses, spam reports and unsubscribes make the subscriber inactive at once (on record in the
  consent history, like every change of status); processed and delivered settle a delivery the
  ledger had left unknown; clicks are kept per issue and link for the report. Each event is kept
  once, however often SendGrid sends it; one about someone who asked to be forgotten is kept
  without her address.

The web front of all this is ``pipeline.audience.service``. Addresses are never printed or logged.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.domain.config import Config
from pipeline.domain.errors import PipelineError, Problem
from pipeline.domain.i18n import _
from pipeline.domain.models import SubscriberStatus
from pipeline.infra.sendgrid import mail_body, send_or_raise
from pipeline.infra.store import Event, Person, Store
from pipeline.infra.subscribers import is_email, read_subscribers
from pipeline.infra.templating import environment, render_template

FORM = "aanmelden"  # the service's own form; the snippet on a partner site sends its own name
TOKEN_BYTES = 32
WEBHOOK_TOLERANCE = (
    300  # seconds: an older (or later) timestamp is refused, so a recorded call cannot be replayed
)
SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"
MAX_EVENTS = 5000  # SendGrid posts events in batches; far more in one call is not SendGrid
FIELD_MAX = {"email": 254, "name": 100, "organisation": 150, "province": 40, "form": 40}
# What each event does to the subscriber: (status, the reason when SendGrid gives none).
INACTIVATING = {
    "bounce": (SubscriberStatus.BOUNCED, "bounced"),
    "dropped": (SubscriberStatus.INVALID, "dropped by SendGrid"),
    "spamreport": (SubscriberStatus.COMPLAINED, "reported the newsletter as spam"),
    "unsubscribe": (SubscriberStatus.UNSUBSCRIBED, "unsubscribed"),
    "group_unsubscribe": (SubscriberStatus.UNSUBSCRIBED, "unsubscribed from the newsletter"),
}
SETTLING = ("processed", "delivered")


class WebhookRefused(PipelineError):
    "A call to the webhook that is not SendGrid's, or not now: nothing of it is stored."

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message, _("check SENDGRID_WEBHOOK_PUBLIC_KEY against the key SendGrid shows"))
        self.status = status


# -- the form -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Form:
    """What a sign-up form sent, read and checked; ``errors`` by field, for the form shown again."""

    person: Person | None
    values: Mapping[str, str]
    errors: Mapping[str, str] = field(default_factory=dict)
    bot: bool = False  # the hidden field was filled in: answered like anyone, and nothing happens


def read_form(config: Config, fields: Mapping[str, str]) -> Form:
    """The sign-up form's fields: ``email`` (required), optional ``name``, ``organisation``,
    ``province`` (an id from the taxonomy), ``form`` (which form); ``website`` is a honeypot."""
    values = {
        k: " ".join(str(fields.get(k, "")).split())
        for k in ("email", "name", "organisation", "province", "form")
    }
    errors: dict[str, str] = {}
    for key, limit in FIELD_MAX.items():
        if len(values[key]) > limit:
            errors[key] = f"Dit veld is te lang (hoogstens {limit} tekens)."
    email = values["email"].lower()
    if not email:
        errors["email"] = "Vul je e-mailadres in."
    elif "email" not in errors and (not is_email(email) or mailable(email) is None):
        errors["email"] = "Dit is geen geldig e-mailadres. Controleer het, bijvoorbeeld naam@voorbeeld.nl."
    else:
        email = mailable(email) or email
    province = values["province"]
    if province and province not in config.taxonomy.provinces:
        errors["province"] = "Kies een provincie uit de lijst."
    bot = bool(str(fields.get("website", "")).strip())
    if errors:
        return Form(None, values, errors, bot)
    person = Person(
        email,
        values["name"] or None,
        values["organisation"] or None,
        province or None,
        values["form"] or FORM,
        config.settings.signup.consent_version,
    )
    return Form(person, values, {}, bot)


# The characters of an address's part before the @ without quotes (RFC 5322's atext, and the dot):
# no space, no control character, nothing a mail header could be split at.
_ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~."


def mailable(email: str) -> str | None:
    """The address as a mail can go to it, or None: the part before the @ in plain ASCII (a look-alike
    letter such as a Cyrillic 'а' or a full-width 'ａ' is refused: no mail server takes it, and it would
    pass for someone else's address), at most 64 characters of RFC 5322's atext (no space, no control
    character, no quoted form) and without an empty dot-part; the domain
    in its ASCII form (``bücher.de`` as ``xn--bcher-kva.de``), at most 253 characters, each part 1 to
    63 characters that neither starts nor ends with a hyphen."""
    local, _at, domain = email.rpartition("@")
    if not local.isascii() or not 0 < len(local) <= 64 or "" in local.split(".") or local.strip(_ATEXT):
        return None
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = domain.split(".")
    if len(domain) > 253 or any(not 0 < len(x) <= 63 or x[0] == "-" or x[-1] == "-" for x in labels):
        return None
    return f"{local}@{domain}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Signup:
    """What a sign-up did; the reader is told the same in every case."""

    before: str  # new, pending, active, or the status of someone who had left the list
    token: str | None  # the confirmation link's token; None: nothing is mailed


def signup(config: Config, store: Store, person: Person, now: dt.datetime) -> Signup:
    """Record a sign-up and make its confirmation token (none for an active subscriber, or when this
    address asked too often today: ``per_address_per_day``)."""
    limit = config.settings.signup.per_address_per_day
    if store.recent_signups(person.email, now - dt.timedelta(days=1)) >= limit:
        existing = store.subscriber(person.email)
        return Signup(existing.status if existing else "new", None)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires = now + dt.timedelta(days=config.settings.signup.link_days)
    before = store.signup(person, hash_token(token), expires, now)
    return Signup(before, None if before == "active" else token)


def confirmation_mail(
    config: Config, email: str, token: str, base_url: str, env: Mapping[str, str], now: dt.datetime
) -> None:
    """The mail with the confirmation link, at once: through SendGrid (transactional: no unsubscribe
    group, no batch) or into ``outbox/aanmelden/``. Raises when SendGrid refuses it."""
    s = config.settings
    link = f"{base_url.rstrip('/')}/bevestig?token={token}"
    subject = f"Bevestig je aanmelding voor {s.title}"
    env_t = environment(config.root / "templates")
    text = render_template(env_t, "signup/mail.txt", config.root, link=link, settings=s)
    page = render_template(env_t, "signup/mail.html", config.root, link=link, settings=s)
    body = mail_body(
        from_email=s.from_email, from_name=s.from_name, reply_to=s.reply_to, subject=subject, text=text,
        html=page, recipients=[(email, None)], categories=["aanmelding"], custom_args={"kind": "signup"},
    )  # fmt: skip
    name = f"bevestig-{now:%Y%m%dT%H%M%S}-{hash_token(token)[:8]}"
    refused = _("the confirmation mail was not accepted: {reason}"), _("see SendGrid's message")
    send_or_raise(body, s.sendgrid.region, env, config.root / "outbox", FORM, name, refused)


def confirm(store: Store, token: str, now: dt.datetime) -> str:
    """'confirmed', 'used', 'expired' or 'unknown' (the reader sees a page for each)."""
    if not token or len(token) > 200:
        return "unknown"
    outcome, _email = store.confirm(hash_token(token), now)
    return outcome


# -- an existing list ---------------------------------------------------------------------------------
def import_list(
    config: Config, store: Store, path: Path, basis: str, now: dt.datetime
) -> tuple[dict[str, int], list[Problem]]:
    """Bring in a CSV list (``email`` and optional ``name``, ``organisation``, ``province``) as active
    subscribers with the legal basis ``basis``; returns counts and the rows that were left out."""
    basis = " ".join(basis.split())
    if not basis:
        raise PipelineError(
            _("an import needs its legal basis"),
            _("give --basis, e.g. --basis 'toestemming via het oude formulier (2024)'"),
        )
    reader = read_subscribers(path, config.root)
    people = [
        Person(
            row.email,
            row.name,
            row.organisation,
            row.province if row.province in config.taxonomy.provinces else None,
            f"import:{path.name}",
        )
        for row in reader
    ]
    counts = store.import_subscribers(people, basis, f"import:{path.name}", now)
    counts["rows left out"] = len(reader.problems)
    return counts, list(reader.problems)


EXPORT_FIELDS = ("email", "name", "organisation", "province", "since", "basis")


def export_rows(store: Store, tz: dt.tzinfo) -> Iterator[dict[str, str]]:
    for s in store.active_subscribers():
        since = s.since.astimezone(tz).isoformat(timespec="seconds") if s.since else ""
        yield {
            "email": s.email, "name": s.name or "", "organisation": s.organisation or "",
            "province": s.province or "", "since": since, "basis": s.basis or "",
        }  # fmt: skip


# -- SendGrid's Event Webhook ------------------------------------------------------------------------
def verify(public_key: str | None, payload: bytes, headers: Mapping[str, str], now: float) -> None:
    """Refuse a webhook call that SendGrid did not sign with the account's key, or that is not fresh.

    ``public_key`` is the verification key SendGrid shows (base64 DER); the signature covers the
    timestamp and the body, byte for byte (SendGrid's own verifier, from the ``sendgrid`` package).
    """
    if not public_key:
        raise WebhookRefused(
            _("the webhook has no key to check signatures with (SENDGRID_WEBHOOK_PUBLIC_KEY)"), 503
        )
    signature = headers.get(SIGNATURE_HEADER, "")
    stamp = headers.get(TIMESTAMP_HEADER, "")
    if not signature or not stamp:
        raise WebhookRefused(_("the call is not signed"), 401)
    try:
        at = int(stamp)
    except ValueError:
        raise WebhookRefused(_("the call's timestamp is not a number"), 401) from None
    if abs(now - at) > WEBHOOK_TOLERANCE:
        raise WebhookRefused(_("the call's timestamp is not within 5 minutes of now"), 403)
    from cryptography.exceptions import UnsupportedAlgorithm
    from sendgrid.helpers.eventwebhook import EventWebhook

    hook = EventWebhook()
    try:
        key = hook.convert_public_key_to_ecdsa(public_key.strip())
        base64.b64decode(signature, validate=True)
        ok = hook.verify_signature(payload.decode("utf-8"), signature, stamp, key)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, UnsupportedAlgorithm):
        ok = False
    if not ok:
        raise WebhookRefused(_("the signature does not match"), 403)


def _text(value: Any, limit: int = 2000) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def read_events(payload: bytes) -> list[Event]:
    """The events of one webhook call; refuses what is not SendGrid's JSON array of events (400).

    An event without an id or type is left out; so is an unknown type's effect (it is kept)."""
    try:
        data = json.loads(payload)
    except ValueError:  # UnicodeDecodeError is one
        raise WebhookRefused(_("the body is not JSON"), 400) from None
    except RecursionError:  # SendGrid's events are three levels deep; this is thousands
        raise WebhookRefused(_("the body is nested too deeply to be SendGrid's events"), 400) from None
    if not isinstance(data, list) or len(data) > MAX_EVENTS:
        raise WebhookRefused(_("the body is not a list of SendGrid events"), 400)
    events = []
    for raw in data:
        if not isinstance(raw, dict):
            continue
        event_id, kind = _text(raw.get("sg_event_id"), 200), _text(raw.get("event"), 40)
        stamp = raw.get("timestamp")
        if not event_id or not kind or not isinstance(stamp, int | float) or isinstance(stamp, bool):
            continue
        try:
            at = dt.datetime.fromtimestamp(stamp, dt.UTC)
        except (OverflowError, OSError, ValueError):
            continue
        email = _text(raw.get("email"), 254)
        reason = _text(raw.get("reason")) or _text(raw.get("response")) or _text(raw.get("type"), 100)
        events.append(
            Event(
                event_id,
                kind,
                email.strip().lower() if email else None,
                at,
                # A test send carries the issue's id too; its clicks are not the list's readers.
                None if raw.get("test") == "1" else _text(raw.get("issue"), 64),
                _text(raw.get("batch"), 200),
                _text(raw.get("request"), 20),
                _text(raw.get("url")),
                reason,
            )
        )
    return events


@dataclass(frozen=True)
class Applied:
    stored: int  # new events
    repeated: int  # events stored before (SendGrid sends again until it gets a 2xx)
    inactivated: int  # subscribers who get no more mail
    settled: int  # ledger entries that were unknown and now are accepted


def apply_events(store: Store, events: Sequence[Event], now: dt.datetime) -> Applied:
    """Keep the events of one call and do what each asks, in one transaction (all of it or none:
    SendGrid sends the call again when the answer is not a 2xx)."""
    with store.transaction():
        return _apply(store, events, now)


def _apply(store: Store, events: Sequence[Event], now: dt.datetime) -> Applied:
    stored = repeated = inactivated = settled = 0
    forgotten: dict[str, bool] = {}  # per address in this call: did she ask to be forgotten?
    for event in events:
        if event.email is not None:
            if event.email not in forgotten:
                forgotten[event.email] = store.forgotten(event.email)
            if forgotten[event.email]:  # a late event about her: kept for the counts, without her address
                event = dataclasses.replace(event, email=None)
        if not store.store_event(event, now):
            repeated += 1
            continue
        stored += 1
        if event.email is None:
            continue
        if event.type in INACTIVATING:
            status, default = INACTIVATING[event.type]
            inactivated += store.deactivate(
                event.email, status, event.reason or default, now, via=f"webhook: {event.type}"
            )
        elif event.type in SETTLING and event.issue:
            settled += store.settle_unknown(event.issue, event.email, now)
    return Applied(stored, repeated, inactivated, settled)
