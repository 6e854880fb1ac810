"""The per-recipient parts of an email, and how they are filled where SendGrid does not fill them.

SendGrid replaces the ``asm_*`` tags itself (subscription management, with the unsubscribe group
set); the name is a personalization substitution. The outbox, test sends and the editors' preview
in ``build/`` replace all of them with working values: the name (or "lezer"), and a mailto:
unsubscribe to the reply-to address. ``list_headers`` gives the List-Unsubscribe and List-Id
headers of the issue's mail (the list send and test copies; no other mail carries them), in one
place for the SendGrid send, the outbox and the bulk-sender check.

Once the list lives in the state database, every list mail carries the reader's own links
(``PersonalLinks``): ``/voorkeuren?t=TOKEN`` for her preferences and ``/voorkeuren/afmelden?t=TOKEN``
to unsubscribe, in both parts and in List-Unsubscribe (RFC 8058 one-click). The token is an HMAC of
her address with the service's key (no login; a new key makes every old link stop working).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from pipeline.domain.config import Settings

TOKEN_NAME = "%naam%"
TOKEN_UNSUBSCRIBE = "<%asm_group_unsubscribe_raw_url%>"
TOKEN_PREFERENCES = "<%asm_preferences_raw_url%>"
TOKENS = (TOKEN_NAME, TOKEN_UNSUBSCRIBE, TOKEN_PREFERENCES)
DEFAULT_NAME = "lezer"  # "Beste lezer," when a subscriber has no name in the list
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's List-Unsubscribe-Post value
# The reader's own links, filled per recipient (SendGrid substitutions, like the name).
TOKEN_MY_PREFERENCES = "%voorkeuren_link%"
TOKEN_MY_UNSUBSCRIBE = "%afmelden_link%"
PREFERENCES_PATH = "/voorkeuren"
UNSUBSCRIBE_PATH = "/voorkeuren/afmelden"


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str | None = None


def unsubscribe_mailto(settings: Settings, issue_id: str) -> str:
    """A working unsubscribe without SendGrid: a mail to the editors, who remove the address."""
    return f"mailto:{settings.reply_to or settings.from_email}?subject={quote(f'afmelden {issue_id}')}"


def list_id(settings: Settings) -> str:
    """The list's List-Id (RFC 2919): the title, and ``LABEL.HOST`` from the title and the host of
    ``archive_url``: ``"Nieuwsbrief (demo)" <nieuwsbrief-demo.nieuwsbrief.example.org>``.

    Readers' mail filters key on it, so it changes only when the title or the archive's host does.
    """
    plain = unicodedata.normalize("NFKD", settings.title).encode("ascii", "ignore").decode("ascii")
    label = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:60].strip("-") or "nieuwsbrief"
    host = urlsplit(settings.archive_url).hostname or settings.from_email.rpartition("@")[2]
    return email.utils.formataddr((settings.title, f"{label}.{host}"))


def list_headers(settings: Settings, issue_id: str, *, test: bool = False) -> dict[str, str]:
    """The list headers of a message of ``issue_id``: List-Unsubscribe (RFC 2369; one-click: RFC
    8058) and List-Id (RFC 2919).

    A list send names SendGrid's one-click address of the unsubscribe group first (the asm tag,
    which SendGrid fills per recipient; Gmail and Yahoo require one-click for bulk senders since
    2024), then a mailto to the editors as a fallback, with ``List-Unsubscribe-Post``. A test send
    names only the mailto: test readers are on no list, so there is nothing to unsubscribe from;
    it carries the List-Id, as the copy of the list's mail that it is.
    """
    mailto = f"<{unsubscribe_mailto(settings, issue_id)}>"
    if test:
        return {"List-Unsubscribe": mailto, "List-Id": list_id(settings)}
    return {
        "List-Unsubscribe": f"<{TOKEN_UNSUBSCRIBE}>, {mailto}",
        "List-Unsubscribe-Post": ONE_CLICK,
        "List-Id": list_id(settings),
    }


def personalise(text: str, recipient: Recipient, settings: Settings, issue_id: str) -> str:
    """Replace every per-recipient token with a working value (outbox, test sends, the preview)."""
    unsubscribe = unsubscribe_mailto(settings, issue_id)
    return (
        text.replace(TOKEN_NAME, recipient.name or DEFAULT_NAME)
        .replace(TOKEN_UNSUBSCRIBE, unsubscribe)
        .replace(TOKEN_PREFERENCES, unsubscribe)
    )


def link_token(key: bytes, email: str) -> str:
    """The reader's link token: an HMAC-SHA256 of her (lower-cased) address with the service's key,
    in URL-safe Base64 (43 characters); nothing in it reveals the address."""
    mac = hmac.new(key, b"voorkeuren\0" + email.strip().lower().encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    """What the database keeps to find a token's subscriber (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(key: bytes, email: str, token: str) -> bool:
    """Whether ``token`` is ``email``'s with ``key``, compared in constant time."""
    return hmac.compare_digest(link_token(key, email).encode("ascii"), token.encode("utf-8", "replace"))


@dataclass(frozen=True)
class PersonalLinks:
    """The reader's own links in a list mail, from the service's key and its public address."""

    key: bytes
    base_url: str

    def preferences(self, email: str) -> str:
        return f"{self.base_url.rstrip('/')}{PREFERENCES_PATH}?t={link_token(self.key, email)}"

    def unsubscribe(self, email: str) -> str:
        return f"{self.base_url.rstrip('/')}{UNSUBSCRIBE_PATH}?t={link_token(self.key, email)}"

    def content(self, text: str) -> str:
        """A list mail's part with the footer's unsubscribe and preferences links made personal."""
        return text.replace(TOKEN_UNSUBSCRIBE, TOKEN_MY_UNSUBSCRIBE).replace(
            TOKEN_PREFERENCES, TOKEN_MY_PREFERENCES
        )

    def substitutions(self, email: str) -> dict[str, str]:
        return {TOKEN_MY_PREFERENCES: self.preferences(email), TOKEN_MY_UNSUBSCRIBE: self.unsubscribe(email)}

    def headers(self, email: str, settings: Settings, issue_id: str) -> dict[str, str]:
        """The recipient's List-Unsubscribe: her own one-click https link, then the mailto."""
        mailto = unsubscribe_mailto(settings, issue_id)
        return {"List-Unsubscribe": f"<{self.unsubscribe(email)}>, <{mailto}>"}

    def apply(self, body: dict[str, Any], settings: Settings, issue_id: str) -> dict[str, Any]:
        """A list request (``mail_body``'s) with each recipient's own links: in both parts and in
        her List-Unsubscribe (a personalization's headers; SendGrid takes them per recipient)."""
        body["content"] = [{**c, "value": self.content(c["value"])} for c in body["content"]]
        for p in body["personalizations"]:
            address = p["to"][0]["email"]
            p["substitutions"] = {**p.get("substitutions", {}), **self.substitutions(address)}
            p["headers"] = {**p.get("headers", {}), **self.headers(address, settings, issue_id)}
        return body
