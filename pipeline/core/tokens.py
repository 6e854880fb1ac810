"""The per-recipient parts of an email, and how they are filled where SendGrid does not fill them.

SendGrid replaces the ``asm_*`` tags itself (subscription management, with the unsubscribe group
set); the name is a personalization substitution. The outbox, test sends and the editors' preview
in ``build/`` replace all of them with working values: the name (or "lezer"), and a mailto:
unsubscribe to the reply-to address. ``list_headers`` gives the List-Unsubscribe headers every
message carries, in one place for the SendGrid send, the outbox and the bulk-sender check.
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


def list_headers(settings: Settings, issue_id: str, *, test: bool = False) -> dict[str, str]:
    """The List-Unsubscribe headers of a message of ``issue_id`` (RFC 2369; one-click: RFC 8058).

    A list send names SendGrid's one-click address of the unsubscribe group first (the asm tag,
    which SendGrid fills per recipient; Gmail and Yahoo require one-click for bulk senders since
    2024), then a mailto to the editors as a fallback, with ``List-Unsubscribe-Post``. A test send
    names only the mailto: test readers are on no list, so there is nothing to unsubscribe from.
    """
    mailto = f"<{unsubscribe_mailto(settings, issue_id)}>"
    if test:
        return {"List-Unsubscribe": mailto}
    return {"List-Unsubscribe": f"<{TOKEN_UNSUBSCRIBE}>, {mailto}", "List-Unsubscribe-Post": ONE_CLICK}


def personalise(text: str, recipient: Recipient, settings: Settings, issue_id: str) -> str:
    """Replace every per-recipient token with a working value (outbox, test sends, the preview)."""
    unsubscribe = unsubscribe_mailto(settings, issue_id)
    return (
        text.replace(TOKEN_NAME, recipient.name or DEFAULT_NAME)
        .replace(TOKEN_UNSUBSCRIBE, unsubscribe)
        .replace(TOKEN_PREFERENCES, unsubscribe)
    )
