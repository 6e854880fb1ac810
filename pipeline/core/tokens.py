"""The per-recipient parts of an email, and how they are filled where SendGrid does not fill them.

SendGrid replaces the ``asm_*`` tags itself (subscription management, with the unsubscribe group
set); the name is a personalization substitution. The outbox, test sends and the editors' preview
in ``build/`` replace all of them with working values: the name (or "lezer"), and a mailto:
unsubscribe to the reply-to address.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from pipeline.core.config import Settings

TOKEN_NAME = "%naam%"
TOKEN_UNSUBSCRIBE = "<%asm_group_unsubscribe_raw_url%>"
TOKEN_PREFERENCES = "<%asm_preferences_raw_url%>"
TOKENS = (TOKEN_NAME, TOKEN_UNSUBSCRIBE, TOKEN_PREFERENCES)
DEFAULT_NAME = "lezer"  # "Beste lezer," when a subscriber has no name in the list
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's List-Unsubscribe-Post value


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str | None = None


def unsubscribe_mailto(settings: Settings, issue_id: str) -> str:
    """A working unsubscribe without SendGrid: a mail to the editors, who remove the address."""
    return f"mailto:{settings.reply_to or settings.from_email}?subject={quote(f'afmelden {issue_id}')}"


def personalise(text: str, recipient: Recipient, settings: Settings, issue_id: str) -> str:
    """Replace every per-recipient token with a working value (outbox, test sends, the preview)."""
    unsubscribe = unsubscribe_mailto(settings, issue_id)
    return (
        text.replace(TOKEN_NAME, recipient.name or DEFAULT_NAME)
        .replace(TOKEN_UNSUBSCRIBE, unsubscribe)
        .replace(TOKEN_PREFERENCES, unsubscribe)
    )
